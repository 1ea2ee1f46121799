//! `report --format html`: one self-contained page (styles inline, charts as inline SVG,
//! the flamegraph as a data URI; nothing fetched from the network), laid out by the
//! minijinja template `templates/report.html` around the report's sections.

use std::path::Path;

use base64::Engine;
use serde::Serialize;

use crate::report::charts::{self, Curve, ResourceKind};
use crate::report::run::RunReport;
use crate::report::sections::{Grid, Section};
use crate::units::format_us;

const TEMPLATE: &str = include_str!("../../templates/report.html");

/// A baseline to draw next to the run.
pub struct Baseline<'a> {
    pub run: &'a RunReport,
    pub label: &'a str,
}

#[derive(Serialize)]
struct Page {
    title: String,
    subtitle: String,
    cards: Vec<Card>,
    /// The run failed: why, above everything else.
    failed: Option<String>,
    warnings: Vec<String>,
    blocks: Vec<Block>,
    footer: String,
}

#[derive(Serialize)]
struct Card {
    label: &'static str,
    value: String,
}

#[derive(Serialize)]
struct Block {
    id: &'static str,
    title: String,
    note: Option<String>,
    grid: Option<Grid>,
    charts: Vec<Chart>,
    /// A data URI.
    image: Option<String>,
}

#[derive(Serialize)]
struct Chart {
    title: &'static str,
    svg: Option<String>,
    /// Why there is no chart.
    missing: Option<String>,
}

impl Chart {
    fn new(title: &'static str, svg: Option<String>, missing: &str) -> Chart {
        let missing = svg.is_none().then(|| missing.to_string());
        Chart {
            title,
            svg,
            missing,
        }
    }
}

/// Renders the page. `run_dir` is where the run's flamegraph is looked for.
pub fn render(
    run: &RunReport,
    sections: Vec<Section>,
    baseline: Option<Baseline>,
    run_dir: &Path,
) -> anyhow::Result<String> {
    let mut curves = vec![Curve {
        label: "this run".into(),
        histogram: &run.histogram,
        baseline: false,
    }];
    if let Some(b) = &baseline {
        curves.push(Curve {
            label: format!("baseline: {}", b.label),
            histogram: &b.run.histogram,
            baseline: true,
        });
    }
    let mut latency_charts = Some(vec![
        Chart::new(
            "Latency by percentile",
            charts::spectrum(&curves)?,
            "no request completed",
        ),
        Chart::new(
            "Throughput and p99 over time",
            charts::over_time(
                &run.series,
                baseline.as_ref().map(|b| b.run.series.as_slice()),
            )?,
            "no time series in this run (run.json `series` is empty)",
        ),
    ]);

    let mut blocks = Vec::new();
    // The verdict and warnings are the page's banners, not sections.
    for s in sections
        .into_iter()
        .filter(|s| !matches!(s.id, "verdict" | "warning"))
    {
        let mut block = Block {
            id: s.id,
            title: s.title,
            note: s.note,
            grid: s.grid,
            charts: Vec::new(),
            image: None,
        };
        charts_of(&mut block, run, baseline.as_ref(), run_dir)?;
        let after_targets = block.id == "targets";
        blocks.push(block);
        if after_targets {
            blocks.push(Block {
                id: "latency",
                title: "Latency and throughput".into(),
                note: Some(match &baseline {
                    Some(b) => format!("solid: this run; dashed: the baseline ({})", b.label),
                    None => {
                        "the percentile axis is logarithmic: each step right is ten times rarer"
                            .into()
                    }
                }),
                grid: None,
                charts: latency_charts.take().unwrap_or_default(),
                image: None,
            });
        }
    }

    let mut warnings = Vec::new();
    if run.interrupted {
        warnings.push("Interrupted by Ctrl-C: the numbers cover only what was measured.".into());
    }
    let verdict = run.effective_verdict();
    warnings.extend(verdict.warnings.iter().cloned());
    let page = Page {
        title: format!(
            "koprogo-perf: {} against {}",
            run.scenario.name, run.target.host
        ),
        subtitle: format!(
            "{} users, {:.1} s steady state after {:.0} s ramp-up, started {}",
            run.vus, run.duration_s, run.ramp_up_s, run.started_at
        ),
        cards: run_cards(run),
        failed: crate::report::verdict::headline(&verdict),
        warnings,
        blocks,
        footer: format!("{}; scenario source {}", run.tool, run.scenario.source),
    };
    render_page(&page)
}

/// The charts (or image) a section's block shows beside its grid.
fn charts_of(
    block: &mut Block,
    run: &RunReport,
    baseline: Option<&Baseline>,
    run_dir: &Path,
) -> anyhow::Result<()> {
    let base_resources = baseline.and_then(|b| b.run.resources.as_ref());
    match block.id {
        "resources" => {
            if let Some(r) = &run.resources {
                block.charts = vec![
                    Chart::new(
                        "CPU over time",
                        charts::resources(r, base_resources, ResourceKind::Cpu)?,
                        "no process was sampled",
                    ),
                    Chart::new(
                        "Memory over time",
                        charts::resources(r, base_resources, ResourceKind::Memory)?,
                        "no process was sampled",
                    ),
                ];
            }
        }
        "carbon" => {
            if let Some(c) = &run.carbon {
                let base = baseline.and_then(|b| b.run.carbon.as_ref());
                block.charts = vec![Chart::new(
                    "CO2 per request",
                    Some(charts::carbon(c, base)?),
                    "",
                )];
            }
        }
        "flamegraph" => {
            block.image = run.flamegraph.as_deref().and_then(|file| {
                let what = "the server's CPU during the steady state";
                picture(run_dir, file, what, &mut block.note)
            })
        }
        "heap" => {
            let target = crate::report::targets::guide_targets()
                .ok()
                .and_then(|t| {
                    t.into_iter()
                        .find(|t| t.metric == crate::report::targets::Metric::ServerHeap)
                })
                .map(|t| t.bound);
            block.charts = vec![Chart::new(
                "Heap over time",
                charts::heap(run, target)?,
                "no heap series in this run",
            )];
            if let Some(note) = &mut block.note {
                note.push_str(
                    "; the chart is on the heap's scale, with RSS and the target only when \
                     they are within three times its highest",
                );
            }
        }
        "heap_sites" => {
            let file = run.heap.as_ref().and_then(|h| h.flamegraph.as_deref());
            if let Some(file) = file {
                let sites = block.note.take();
                let what = "below, the heap at its steady-state peak by allocation stack \
                            (widths in bytes)";
                block.image = picture(run_dir, file, what, &mut block.note);
                block.note = match (sites, block.note.take()) {
                    (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                    (a, b) => a.or(b),
                };
            }
        }
        _ => {}
    }
    Ok(())
}

/// A page of several runs compared (an experiment): what it says above its sections.
pub struct ComparisonPage {
    pub title: String,
    pub subtitle: String,
    /// `(label, value)` figures shown as cards.
    pub cards: Vec<(&'static str, String)>,
    pub warnings: Vec<String>,
    pub footer: String,
}

/// A comparison's page: its sections, with the latency spectrum of every arm (all of
/// an arm's requests together; baseline dashed) after the section `arms`.
pub fn comparison(
    head: ComparisonPage,
    sections: Vec<Section>,
    histograms: &[(String, hdrhistogram::Histogram<u64>)],
) -> anyhow::Result<String> {
    let curves: Vec<Curve> = histograms
        .iter()
        .map(|(name, h)| Curve {
            label: name.clone(),
            histogram: h,
            baseline: name == "baseline",
        })
        .collect();
    let mut blocks = Vec::new();
    for s in sections {
        let charts = if s.id == "arms" {
            vec![Chart::new(
                "Latency by percentile, per arm",
                charts::spectrum(&curves)?,
                "the runs' run.json files were not found next to experiment.json",
            )]
        } else {
            Vec::new()
        };
        blocks.push(Block {
            id: s.id,
            title: s.title,
            note: s.note,
            grid: s.grid,
            charts,
            image: None,
        });
    }
    let page = Page {
        title: head.title,
        subtitle: head.subtitle,
        cards: head
            .cards
            .into_iter()
            .map(|(label, value)| Card { label, value })
            .collect(),
        failed: None,
        warnings: head.warnings,
        blocks,
        footer: head.footer,
    };
    render_page(&page)
}

/// The figures at the top of a run's page.
fn run_cards(run: &RunReport) -> Vec<Card> {
    let error_rate = run.totals.error_rate;
    vec![
        Card {
            label: "requests",
            value: run.totals.requests.to_string(),
        },
        Card {
            label: "req/s",
            value: format!("{:.1}", run.totals.rps),
        },
        Card {
            label: "p50",
            value: format_us(run.totals.latency_us.p50 as f64),
        },
        Card {
            label: "p99",
            value: format_us(run.totals.latency_us.p99 as f64),
        },
        Card {
            label: "errors",
            value: format!("{} ({:.2}%)", run.totals.errors, error_rate * 100.0),
        },
        Card {
            label: "targets",
            value: targets_card(run),
        },
    ]
}

fn render_page(page: &Page) -> anyhow::Result<String> {
    let mut env = minijinja::Environment::new();
    env.add_template("report.html", TEMPLATE)?;
    Ok(env
        .get_template("report.html")?
        .render(minijinja::value::Serde(page))?)
}

fn targets_card(run: &RunReport) -> String {
    let met = run.targets.iter().filter(|t| t.pass == Some(true)).count();
    let checked = run.targets.iter().filter(|t| t.pass.is_some()).count();
    if run.targets.is_empty() {
        "none".into()
    } else {
        format!("{met} of {checked} met")
    }
}

/// A flamegraph of the run directory as a data URI (the note says what it shows), or a
/// note on why it cannot be shown.
fn picture(run_dir: &Path, file: &str, what: &str, note: &mut Option<String>) -> Option<String> {
    let path = run_dir.join(file);
    match std::fs::read(&path) {
        Ok(bytes) => {
            *note = Some(format!(
                "{what} (a picture; open {} for the interactive version)",
                path.display()
            ));
            Some(format!(
                "data:image/svg+xml;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            ))
        }
        Err(e) => {
            *note = Some(format!("{} cannot be read: {e}", path.display()));
            None
        }
    }
}
