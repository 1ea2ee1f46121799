//! The statistics the gate decides with: a one-sided Mann–Whitney U test (exact, ties
//! included) and medians. Mann–Whitney compares two small samples of per-run figures
//! without assuming they are normal, which run-to-run latency percentiles are not.
//! And the confidence intervals of `experiment`'s ratios to baseline.

/// One-sided Mann–Whitney U test: the probability, were `x` and `y` drawn from one
/// distribution, of `y` ranking at least as high above `x` as observed. Small when `y`
/// tends to be larger than `x`.
///
/// Exact: the permutation distribution of the rank sum is counted over every split of
/// the pooled values (mid-ranks for ties), by dynamic programming on doubled rank sums.
/// Returns 1.0 when either sample is empty.
pub fn mann_whitney_greater(x: &[f64], y: &[f64]) -> f64 {
    let (nx, ny) = (x.len(), y.len());
    if nx == 0 || ny == 0 {
        return 1.0;
    }
    let n = nx + ny;
    // Doubled mid-ranks (integers) of the pooled sample; y's are the last ny.
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| pooled[a].total_cmp(&pooled[b]));
    let mut rank2 = vec![0usize; n];
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && pooled[order[j + 1]] == pooled[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their mean; doubled: (i+1)+(j+1).
        for &k in &order[i..=j] {
            rank2[k] = i + j + 2;
        }
        i = j + 1;
    }
    let observed: usize = rank2[nx..].iter().sum();
    // counts[k][s]: subsets of size k whose doubled rank sum is s.
    let max_sum = n * (n + 1);
    let mut counts = vec![vec![0f64; max_sum + 1]; ny + 1];
    counts[0][0] = 1.0;
    for &r in &rank2 {
        for k in (1..=ny).rev() {
            let (lower, upper) = counts.split_at_mut(k);
            let (from, to) = (&lower[k - 1], &mut upper[0]);
            for s in (r..=max_sum).rev() {
                to[s] += from[s - r];
            }
        }
    }
    let total: f64 = counts[ny].iter().sum();
    let at_least: f64 = counts[ny][observed..].iter().sum();
    (at_least / total).min(1.0)
}

/// The smallest p-value [`mann_whitney_greater`] can give for samples of these sizes
/// (complete separation, no ties): 1 / C(nx + ny, nx). When it exceeds the significance
/// level, the test can never find a change and the gate falls back to a tolerance.
pub fn smallest_p(nx: usize, ny: usize) -> f64 {
    if nx == 0 || ny == 0 {
        return 1.0;
    }
    let mut c = 1f64;
    for i in 0..nx.min(ny) {
        c = c * (nx + ny - i) as f64 / (i + 1) as f64;
    }
    1.0 / c
}

/// The median (mean of the middle two for an even count); 0 for an empty slice.
pub fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Student's t at 0.975 (two-sided 95 %) for 1 to 30 degrees of freedom.
const T_975: [f64; 30] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
    2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
    2.052, 2.048, 2.045, 2.042,
];

/// The two-sided 95 % quantile of Student's t with `df` degrees of freedom (the normal
/// quantile beyond the table, which is within 2 % of t from 31 on).
pub fn t_975(df: usize) -> f64 {
    match df {
        0 => f64::INFINITY,
        1..=30 => T_975[df - 1],
        _ => 1.96 + 2.4 / df as f64,
    }
}

/// The confidence interval of the ratio of which `ratios` are independent estimates
/// (one per round of an experiment): a t interval on their logarithms, taken back, so
/// that it stays positive and treats ×2 and ×½ alike. None with fewer than two ratios
/// or a non-positive one. Only `confidence` 0.95 is tabulated.
pub fn ratio_interval(ratios: &[f64], confidence: f64) -> Option<[f64; 2]> {
    debug_assert!((confidence - 0.95).abs() < 1e-9, "only 95 % is tabulated");
    if ratios.len() < 2 || ratios.iter().any(|r| !(r.is_finite() && *r > 0.0)) {
        return None;
    }
    let logs: Vec<f64> = ratios.iter().map(|r| r.ln()).collect();
    let n = logs.len() as f64;
    let mean = logs.iter().sum::<f64>() / n;
    let var = logs.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / (n - 1.0);
    let half = t_975(logs.len() - 1) * (var / n).sqrt();
    Some([(mean - half).exp(), (mean + half).exp()])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// U of y over x, counted pair by pair (ties count one half).
    fn u(x: &[f64], y: &[f64]) -> f64 {
        let mut u = 0.0;
        for a in x {
            for b in y {
                u += if b > a {
                    1.0
                } else if b == a {
                    0.5
                } else {
                    0.0
                };
            }
        }
        u
    }

    /// The same p-value by listing every split of the pooled values.
    fn brute_force(x: &[f64], y: &[f64]) -> f64 {
        let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
        let n = pooled.len();
        let observed = u(x, y);
        let (mut total, mut hits) = (0u32, 0u32);
        for mask in 0u32..(1 << n) {
            if mask.count_ones() as usize != y.len() {
                continue;
            }
            let (ys, xs): (Vec<_>, Vec<_>) = (0..n).partition(|i| mask & (1 << i) != 0);
            let ys: Vec<f64> = ys.iter().map(|&i| pooled[i]).collect();
            let xs: Vec<f64> = xs.iter().map(|&i| pooled[i]).collect();
            total += 1;
            if u(&xs, &ys) >= observed - 1e-9 {
                hits += 1;
            }
        }
        f64::from(hits) / f64::from(total)
    }

    #[test]
    fn hand_computed_cases() {
        // Complete separation of 3 and 3: 1 split in C(6,3) = 20.
        assert!((mann_whitney_greater(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]) - 0.05).abs() < 1e-12);
        // x = 1 2 4, y = 3 5 6: U = 8; U >= 8 for U = 9 and one U = 8 split → 2/20.
        assert!((mann_whitney_greater(&[1.0, 2.0, 4.0], &[3.0, 5.0, 6.0]) - 0.1).abs() < 1e-12);
        // The other direction: y below x every time, so p = 1.
        assert!((mann_whitney_greater(&[4.0, 5.0, 6.0], &[1.0, 2.0, 3.0]) - 1.0).abs() < 1e-12);
        // Identical samples: all ties, nothing to see.
        assert_eq!(mann_whitney_greater(&[7.0; 4], &[7.0; 4]), 1.0);
        assert_eq!(smallest_p(3, 3), 0.05);
        assert!((smallest_p(1, 5) - 1.0 / 6.0).abs() < 1e-12);
        assert!(smallest_p(5, 5) < 0.01);
    }

    #[test]
    fn agrees_with_listing_every_split_ties_included() {
        let cases: [(&[f64], &[f64]); 4] = [
            (&[1.0, 2.0, 2.0, 3.0], &[2.0, 3.0, 4.0, 4.0]),
            (&[10.0, 12.0, 11.0], &[10.0, 13.0, 14.0, 12.0, 15.0]),
            (&[5.0, 5.0, 6.0, 7.0, 8.0], &[5.0, 6.0, 6.0]),
            (&[3.0, 1.0, 4.0, 1.0, 5.0], &[9.0, 2.0, 6.0, 5.0, 3.0]),
        ];
        for (x, y) in cases {
            let exact = mann_whitney_greater(x, y);
            let listed = brute_force(x, y);
            assert!(
                (exact - listed).abs() < 1e-12,
                "{x:?} {y:?}: {exact} vs {listed}"
            );
        }
    }

    #[test]
    fn ratio_intervals_are_t_intervals_on_logarithms() {
        // logs ln 2 and ln 8: mean ln 4, standard error ln 2, t(1) = 12.706.
        let [lo, hi] = ratio_interval(&[2.0, 8.0], 0.95).unwrap();
        let half = 12.706 * 2f64.ln();
        assert!((lo - (4f64.ln() - half).exp()).abs() < 1e-9, "{lo}");
        assert!((hi - (4f64.ln() + half).exp()).abs() < 1e-6, "{hi}");
        // Identical ratios: no spread.
        let [lo, hi] = ratio_interval(&[3.0, 3.0, 3.0], 0.95).unwrap();
        assert!((lo - 3.0).abs() < 1e-12 && (hi - 3.0).abs() < 1e-12);
        // Symmetric in the logarithm: ×2 and ×½ around 1.
        let [lo, hi] = ratio_interval(&[0.5, 2.0, 1.0], 0.95).unwrap();
        assert!((lo * hi - 1.0).abs() < 1e-9);
        assert!(ratio_interval(&[2.0], 0.95).is_none());
        assert!(ratio_interval(&[2.0, 0.0], 0.95).is_none());
        assert_eq!(t_975(2), 4.303);
        assert!(t_975(1000) > 1.96 && t_975(1000) < 1.97);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
