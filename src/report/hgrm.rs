//! HdrHistogram's percentile-distribution text (`.hgrm`), the format that
//! HdrHistogram's plotter and wrk2 print, so a run can be plotted with the usual tools.

use std::fmt::Write;

use hdrhistogram::Histogram;

/// Renders `h` (recorded in microseconds) with values divided by `scale` (1000 → ms),
/// five steps per halving of the distance to 100 %, as `outputPercentileDistribution`.
pub fn percentile_distribution(h: &Histogram<u64>, scale: f64) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    if !h.is_empty() {
        let mut total = 0u64;
        for v in h.iter_quantiles(5) {
            total += v.count_since_last_iteration();
            let value = h.highest_equivalent(v.value_iterated_to()) as f64 / scale;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:>12.3} {q:>14.12} {:>10} {:>14.2}",
                    total,
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value:>12.3} {q:>14.12} {total:>10}");
            }
        }
    }
    let mean = if h.is_empty() { 0.0 } else { h.mean() / scale };
    let stdev = if h.is_empty() { 0.0 } else { h.stdev() / scale };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:>12.3}, StdDeviation   = {stdev:>12.3}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {:>12.3}, Total count    = {:>12}]",
        h.max() as f64 / scale,
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        (2u64 * 10u64.pow(u32::from(h.sigfig()))).next_power_of_two()
    );
    out
}
