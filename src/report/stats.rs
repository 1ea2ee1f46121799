//! The statistics the gate decides with: a one-sided Mann–Whitney U test (exact, ties
//! included) and medians. Mann–Whitney compares two small samples of per-run figures
//! without assuming they are normal, which run-to-run latency percentiles are not.

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
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
