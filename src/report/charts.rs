//! The HTML report's charts, drawn by plotters into SVG text (the browser lays out the
//! text, so no font is needed here): the latency percentile spectrum on HdrHistogram's
//! log axis, req/s and p99 over time, CPU and memory over time, the heap over time, and
//! the CO2 breakdown.
//! A baseline, when given, is drawn dashed on the same axes.

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::measure::carbon::Carbon;
use crate::measure::resources::{ProcessStats, Resources};
use crate::report::run::{RunReport, SeriesPoint};

const SIZE: (u32, u32) = (900, 380);
const FONT: &str = "sans-serif";
/// This run.
const RUN: RGBColor = RGBColor(31, 119, 180);
/// The baseline.
const BASE: RGBColor = RGBColor(214, 39, 40);
/// A second quantity of this run (p99 next to req/s, Postgres next to the server).
const SECOND: RGBColor = RGBColor(44, 160, 44);
const THIRD: RGBColor = RGBColor(255, 127, 14);

fn fail<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("drawing a chart: {e:?}")
}

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// Draws on a fresh white SVG canvas and returns the SVG text.
fn svg(draw: impl FnOnce(&Area) -> anyhow::Result<()>) -> anyhow::Result<String> {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(fail)?;
        draw(&root)?;
        root.present().map_err(fail)?;
    }
    Ok(out)
}

fn nice_max(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        1.0
    } else {
        v * 1.1
    }
}

fn number_label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .into()
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .into()
    }
}

/// Labels of a log axis at 1, 2 and 5 of each decade; blank elsewhere.
fn log_label(v: f64) -> String {
    let mantissa = v / 10f64.powf(v.log10().floor());
    if [1.0, 2.0, 5.0, 10.0]
        .iter()
        .any(|m| (mantissa - m).abs() < 1e-6)
    {
        number_label(v)
    } else {
        String::new()
    }
}

/// One latency distribution to draw.
pub struct Curve<'a> {
    pub label: String,
    pub histogram: &'a Histogram<u64>,
    /// Drawn dashed, in the baseline's colour.
    pub baseline: bool,
}

/// Points (1/(1−q), latency in ms) of a histogram recorded in microseconds, as
/// HdrHistogram's plotter draws them; the maximum sits at the last request's percentile.
fn spectrum_points(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut points: Vec<(f64, f64)> = h
        .iter_quantiles(5)
        .filter(|v| v.quantile_iterated_to() < 1.0)
        .map(|v| {
            (
                1.0 / (1.0 - v.quantile_iterated_to()),
                h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0,
            )
        })
        .collect();
    let last_x = (h.len() as f64).max(points.last().map_or(1.0, |p| p.0));
    points.push((last_x, h.max() as f64 / 1000.0));
    points
}

/// `90%`, `99%`, `99.9%` for 10, 100, 1000 on the 1/(1−q) axis; blank between decades.
fn percentile_label(x: f64) -> String {
    let decades = x.log10();
    if (decades - decades.round()).abs() > 1e-6 {
        return String::new();
    }
    let k = decades.round() as i32;
    let pct = 100.0 * (1.0 - 1.0 / x);
    format!("{pct:.*}%", (k - 2).max(0) as usize)
}

/// The latency percentile spectrum: x is the percentile on a log scale of 1/(1−q), y the
/// latency in ms. `None` when every histogram is empty.
pub fn spectrum(curves: &[Curve]) -> anyhow::Result<Option<String>> {
    let lines: Vec<(&Curve, Vec<(f64, f64)>)> = curves
        .iter()
        .map(|c| (c, spectrum_points(c.histogram)))
        .filter(|(_, p)| !p.is_empty())
        .collect();
    if lines.is_empty() {
        return Ok(None);
    }
    let x_data = lines
        .iter()
        .flat_map(|(_, p)| p.iter().map(|q| q.0))
        .fold(10.0, f64::max);
    let decades = x_data.log10().ceil().max(2.0) as u32;
    let x_max = 10f64.powi(decades as i32);
    // A log latency axis: the body (a few ms) and the tail (hundreds) both stay readable.
    let ys = || lines.iter().flat_map(|(_, p)| p.iter().map(|q| q.1));
    let y_max = ys().fold(0.0, f64::max).max(0.001) * 1.6;
    let y_min = ys()
        .filter(|y| *y > 0.0)
        .fold(f64::INFINITY, f64::min)
        .min(y_max / 10.0)
        / 1.3;
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Latency by percentile", (FONT, 20))
            .margin(14)
            .margin_right(40)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d((1f64..x_max).log_scale(), (y_min..y_max).log_scale())
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_labels(decades as usize + 1)
            .x_label_formatter(&|x| percentile_label(*x))
            .x_desc("percentile (log scale of 1/(1-q))")
            .y_desc("latency (ms, log scale)")
            .max_light_lines(1)
            .y_labels(40)
            .y_label_formatter(&|y| log_label(*y))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(fail)?;
        for (curve, points) in &lines {
            let color = if curve.baseline { BASE } else { RUN };
            let style = color.stroke_width(2);
            let drawn = if curve.baseline {
                chart.draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))
            } else {
                chart.draw_series(LineSeries::new(points.clone(), style))
            }
            .map_err(fail)?;
            drawn.label(curve.label.as_str()).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(fail)?;
        Ok(())
    })
    .map(Some)
}

/// req/s (left axis) and p99 (right axis) per second over the run, the baseline dashed;
/// seconds outside the steady state are shaded. `None` without a time series.
pub fn over_time(
    run: &[SeriesPoint],
    baseline: Option<&[SeriesPoint]>,
) -> anyhow::Result<Option<String>> {
    if run.is_empty() {
        return Ok(None);
    }
    let all = || run.iter().chain(baseline.unwrap_or_default());
    let t_max = all().map(|p| p.t + 1).max().unwrap_or(1) as f64;
    // Headroom above the lines for the legend.
    let rps_max = nice_max(all().map(|p| p.rps).fold(0.0, f64::max)) * 1.3;
    let p99_max = nice_max(all().map(|p| p.p99_us as f64 / 1000.0).fold(0.0, f64::max)) * 1.3;
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Throughput and p99 over time", (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .right_y_label_area_size(64)
            .build_cartesian_2d(0f64..t_max, 0f64..rps_max)
            .map_err(fail)?
            .set_secondary_coord(0f64..t_max, 0f64..p99_max);
        chart
            .configure_mesh()
            .x_desc("seconds since the start (shaded: outside the steady state)")
            .y_desc("req/s")
            .max_light_lines(2)
            .x_label_formatter(&|x| number_label(*x))
            .y_label_formatter(&|y| number_label(*y))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(fail)?;
        chart
            .configure_secondary_axes()
            .y_desc("p99 (ms)")
            .y_label_formatter(&|y| number_label(*y))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(fail)?;
        chart
            .draw_series(run.iter().filter(|p| p.phase != "steady").map(|p| {
                Rectangle::new(
                    [(p.t as f64, 0.0), (p.t as f64 + 1.0, rps_max)],
                    BLACK.mix(0.06).filled(),
                )
            }))
            .map_err(fail)?;
        let at = |p: &SeriesPoint| p.t as f64 + 0.5;
        chart
            .draw_series(LineSeries::new(
                run.iter().map(|p| (at(p), p.rps)),
                RUN.stroke_width(2),
            ))
            .map_err(fail)?
            .label("req/s")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RUN.stroke_width(2)));
        chart
            .draw_secondary_series(LineSeries::new(
                run.iter().map(|p| (at(p), p.p99_us as f64 / 1000.0)),
                SECOND.stroke_width(2),
            ))
            .map_err(fail)?
            .label("p99 (right axis)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], SECOND.stroke_width(2)));
        if let Some(base) = baseline.filter(|b| !b.is_empty()) {
            chart
                .draw_series(DashedLineSeries::new(
                    base.iter().map(|p| (at(p), p.rps)),
                    8,
                    5,
                    BASE.stroke_width(2),
                ))
                .map_err(fail)?
                .label("baseline req/s")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BASE.stroke_width(2)));
            chart
                .draw_secondary_series(DashedLineSeries::new(
                    base.iter().map(|p| (at(p), p.p99_us as f64 / 1000.0)),
                    3,
                    4,
                    BASE.stroke_width(2),
                ))
                .map_err(fail)?
                .label("baseline p99 (right axis)")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BASE.stroke_width(1)));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(fail)?;
        Ok(())
    })
    .map(Some)
}

/// A named line: its colour, dashed or not, its points.
type Line = (String, RGBColor, bool, Vec<(f64, f64)>);

/// What a resources chart shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    /// CPU %, 100 = one core.
    Cpu,
    /// Resident memory, MB.
    Memory,
}

/// CPU or memory of the server, Postgres and the generator over the run, the baseline's
/// server dashed. `None` when nothing was sampled.
pub fn resources(
    run: &Resources,
    baseline: Option<&Resources>,
    kind: ResourceKind,
) -> anyhow::Result<Option<String>> {
    let value = |s: &crate::measure::resources::Sample| match kind {
        ResourceKind::Cpu => s.cpu_pct,
        ResourceKind::Memory => s.rss_bytes as f64 / 1e6,
    };
    let measured = |p: &ProcessStats| p.measured && !p.series.is_empty();
    let mut lines: Vec<Line> = [
        ("server", &run.server, RUN),
        ("postgres", &run.postgres, SECOND),
        ("generator", &run.generator, THIRD),
    ]
    .into_iter()
    .filter(|(_, p, _)| measured(p))
    .map(|(name, p, color)| {
        let points = p.series.iter().map(|s| (s.t_s, value(s))).collect();
        (name.to_string(), color, false, points)
    })
    .collect();
    if lines.is_empty() {
        return Ok(None);
    }
    if let Some(b) = baseline.filter(|b| measured(&b.server)) {
        let points = b.server.series.iter().map(|s| (s.t_s, value(s))).collect();
        lines.push(("baseline server".into(), BASE, true, points));
    }
    let t_max = nice_max(
        lines
            .iter()
            .flat_map(|l| l.3.iter().map(|p| p.0))
            .fold(0.0, f64::max),
    ) / 1.1;
    // Headroom above the lines for the legend.
    let y_max = nice_max(
        lines
            .iter()
            .flat_map(|l| l.3.iter().map(|p| p.1))
            .fold(0.0, f64::max),
    ) * 1.35;
    let (caption, y_desc) = match kind {
        ResourceKind::Cpu => ("CPU over time", "CPU % (100 = one core)"),
        ResourceKind::Memory => ("Memory over time", "resident memory (MB)"),
    };
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption(caption, (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..t_max.max(1.0), 0f64..y_max)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_desc("seconds since sampling began")
            .y_desc(y_desc)
            .max_light_lines(2)
            .x_label_formatter(&|x| number_label(*x))
            .y_label_formatter(&|y| number_label(*y))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(fail)?;
        for (name, color, dashed, points) in &lines {
            let color = *color;
            let style = color.stroke_width(2);
            let drawn = if *dashed {
                chart.draw_series(DashedLineSeries::new(points.clone(), 8, 5, style))
            } else {
                chart.draw_series(LineSeries::new(points.clone(), style))
            }
            .map_err(fail)?;
            drawn.label(name.as_str()).legend(move |(x, y)| {
                PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
            });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(fail)?;
        Ok(())
    })
    .map(Some)
}

/// The server's heap over the run (the highest of each second) with the steady state's
/// peak marked, on the heap's own scale; the server's RSS and `target` (bytes; the
/// guide's memory figure, dashed) share it when they are within three times the heap's
/// highest (otherwise the heap would be a flat line at the bottom: the table beside the
/// chart has them). `None` without a heap series.
pub fn heap(run: &RunReport, target: Option<f64>) -> anyhow::Result<Option<String>> {
    let Some(heap) = run.heap.as_ref().filter(|h| !h.series.is_empty()) else {
        return Ok(None);
    };
    let mb = |b: u64| b as f64 / 1e6;
    let heap_points: Vec<(f64, f64)> = heap
        .series
        .iter()
        .map(|p| (p.t as f64 + 0.5, mb(p.heap_bytes)))
        .collect();
    let heap_max = heap_points.iter().map(|p| p.1).fold(0.0, f64::max);
    let within = |v: f64| v <= heap_max * 3.0;
    let rss_points: Vec<(f64, f64)> = run
        .resources
        .as_ref()
        .filter(|r| r.server.measured && within(mb(r.server.peak_rss_bytes)))
        .map(|r| {
            r.server
                .series
                .iter()
                .map(|s| (s.t_s, mb(s.rss_bytes)))
                .collect()
        })
        .unwrap_or_default();
    let t_max = heap_points
        .iter()
        .chain(&rss_points)
        .map(|p| p.0 + 0.5)
        .fold(1.0, f64::max);
    let data_max = heap_points
        .iter()
        .chain(&rss_points)
        .map(|p| p.1)
        .fold(0.0, f64::max);
    let target_mb = target.map(|t| t / 1e6).filter(|t| within(*t));
    // Headroom above the lines for the legend.
    let y_max = nice_max(data_max.max(target_mb.unwrap_or(0.0))) * 1.35;
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("Heap over time", (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..t_max, 0f64..y_max)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .x_desc("seconds since the start (shaded: outside the steady state)")
            .y_desc("MB")
            .max_light_lines(2)
            .x_label_formatter(&|x| number_label(*x))
            .y_label_formatter(&|y| number_label(*y))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(fail)?;
        chart
            .draw_series(run.series.iter().filter(|p| p.phase != "steady").map(|p| {
                Rectangle::new(
                    [(p.t as f64, 0.0), (p.t as f64 + 1.0, y_max)],
                    BLACK.mix(0.06).filled(),
                )
            }))
            .map_err(fail)?;
        chart
            .draw_series(LineSeries::new(heap_points.clone(), RUN.stroke_width(2)))
            .map_err(fail)?
            .label("heap (highest of each second)")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], RUN.stroke_width(2)));
        if !rss_points.is_empty() {
            chart
                .draw_series(LineSeries::new(rss_points.clone(), SECOND.stroke_width(2)))
                .map_err(fail)?
                .label("server RSS")
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], SECOND.stroke_width(2)));
        }
        if let Some(t) = target_mb {
            chart
                .draw_series(DashedLineSeries::new(
                    [(0.0, t), (t_max, t)],
                    8,
                    5,
                    BASE.stroke_width(2),
                ))
                .map_err(fail)?
                .label(format!("target: {t:.0} MB"))
                .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BASE.stroke_width(2)));
        }
        let peak = (heap.peak_at_s, mb(heap.peak_bytes));
        chart
            .draw_series([Circle::new(peak, 5, THIRD.filled())])
            .map_err(fail)?
            .label(format!(
                "steady-state peak: {:.2} MB at {:.1} s",
                peak.1, peak.0
            ))
            .legend(|(x, y)| Circle::new((x + 10, y), 5, THIRD.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(fail)?;
        Ok(())
    })
    .map(Some)
}

/// CO2 per request by part (µg), this run's bars next to the baseline's.
pub fn carbon(run: &Carbon, baseline: Option<&Carbon>) -> anyhow::Result<String> {
    let parts = |c: &Carbon| {
        let b = &c.breakdown_g_per_request;
        [b.cpu, b.memory, b.network, b.embodied].map(|g| g * 1e6)
    };
    const NAMES: [&str; 4] = ["cpu", "memory", "network", "embodied"];
    let values = parts(run);
    let base = baseline.map(parts);
    let y_max = nice_max(
        values
            .iter()
            .chain(base.iter().flatten())
            .fold(0.0f64, |a, b| a.max(*b)),
    ) * 1.15;
    svg(|root| {
        let mut chart = ChartBuilder::on(root)
            .caption("CO2 per request, by part", (FONT, 20))
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..4f64, 0f64..y_max)
            .map_err(fail)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(9)
            .x_label_formatter(&|x| {
                let i = (x - 0.5).round();
                if (x - 0.5 - i).abs() < 1e-6 && (0.0..4.0).contains(&i) {
                    NAMES[i as usize].to_string()
                } else {
                    String::new()
                }
            })
            .y_desc("µg CO2e per request")
            .max_light_lines(2)
            .y_label_formatter(&|y| number_label(*y))
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 14))
            .draw()
            .map_err(fail)?;
        let width = if base.is_some() { 0.35 } else { 0.6 };
        let left = |i: usize, second: bool| {
            i as f64 + 0.5 - if base.is_some() { 0.37 } else { 0.3 }
                + if second { 0.39 } else { 0.0 }
        };
        chart
            .draw_series(values.iter().enumerate().map(|(i, v)| {
                Rectangle::new(
                    [(left(i, false), 0.0), (left(i, false) + width, *v)],
                    RUN.filled(),
                )
            }))
            .map_err(fail)?
            .label(format!("this run ({})", run.region))
            .legend(|(x, y)| Rectangle::new([(x, y - 6), (x + 14, y + 6)], RUN.filled()));
        if let (Some(base), Some(b)) = (base, baseline) {
            chart
                .draw_series(base.iter().enumerate().map(|(i, v)| {
                    Rectangle::new(
                        [(left(i, true), 0.0), (left(i, true) + width, *v)],
                        BASE.mix(0.8).filled(),
                    )
                }))
                .map_err(fail)?
                .label(format!("baseline ({})", b.region))
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], BASE.mix(0.8).filled())
                });
        }
        chart
            .draw_series(values.iter().enumerate().map(|(i, v)| {
                Text::new(
                    format!("{v:.3}"),
                    (left(i, false), *v + y_max * 0.08),
                    (FONT, 13).into_font(),
                )
            }))
            .map_err(fail)?;
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .draw()
            .map_err(fail)?;
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_labels() {
        assert_eq!(percentile_label(1.0), "0%");
        assert_eq!(percentile_label(10.0), "90%");
        assert_eq!(percentile_label(100.0), "99%");
        assert_eq!(percentile_label(1000.0), "99.9%");
        assert_eq!(percentile_label(100_000.0), "99.999%");
        assert_eq!(percentile_label(20.0), "");
    }
}
