//! Live progress of a run on stderr: a bar with elapsed/total, the last second's
//! req/s, the p99 of the last five seconds and the errors so far when stderr is a
//! terminal; a plain line every 10 s otherwise (CI logs); nothing with `--quiet`.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::time::Duration;

use hdrhistogram::Histogram;
use hdrhistogram::serialization::Deserializer;
use indicatif::{ProgressBar, ProgressStyle};

use super::IntervalRecord;

/// How many seconds the live p99 covers.
const P99_WINDOW: usize = 5;
/// Seconds between plain progress lines.
const PLAIN_EVERY: u64 = 10;

/// Where progress goes.
pub struct Progress {
    bar: Option<ProgressBar>,
    plain: bool,
    total: Duration,
    recent: VecDeque<Histogram<u64>>,
    errors: u64,
    last_plain: u64,
    deserializer: Deserializer,
}

impl Progress {
    /// Progress of a run expected to last `total`; `quiet` shows nothing.
    pub fn new(total: Duration, quiet: bool) -> Progress {
        let interactive = !quiet && std::io::stderr().is_terminal();
        let bar = interactive.then(|| {
            let bar = ProgressBar::new(total.as_secs().max(1));
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} s  {msg}")
                    .expect("the template is valid"),
            );
            bar
        });
        Progress {
            bar,
            plain: !quiet && !interactive,
            total,
            recent: VecDeque::new(),
            errors: 0,
            last_plain: 0,
            deserializer: Deserializer::new(),
        }
    }

    /// Takes in one closed interval that ends `elapsed` into the run.
    pub fn update(&mut self, elapsed: Duration, interval: &IntervalRecord) {
        if self.bar.is_none() && !self.plain {
            return;
        }
        self.errors += interval.errors;
        if let Ok(h) = self
            .deserializer
            .deserialize::<u64, _>(&mut interval.all.as_slice())
        {
            self.recent.push_back(h);
            if self.recent.len() > P99_WINDOW {
                self.recent.pop_front();
            }
        }
        let mut merged = crate::latency::new_histogram();
        for h in &self.recent {
            let _ = merged.add(h);
        }
        let p99 = if merged.is_empty() {
            "-".to_string()
        } else {
            crate::units::format_us(merged.value_at_quantile(0.99) as f64)
        };
        let rps = interval.requests as f64 / interval.length.as_secs_f64().max(1e-3);
        let message = format!(
            "{rps:.0} req/s, p99 {p99} (last {P99_WINDOW} s), {} errors, {}",
            self.errors,
            interval.phase.replace('_', "-")
        );
        let secs = elapsed.as_secs();
        match &self.bar {
            Some(bar) => {
                bar.set_position(secs.min(bar.length().unwrap_or(secs)));
                bar.set_message(message);
            }
            None => {
                if secs >= self.last_plain + PLAIN_EVERY {
                    self.last_plain = secs - secs % PLAIN_EVERY;
                    eprintln!("progress: {secs}/{} s, {message}", self.total.as_secs());
                }
            }
        }
    }
}

impl Drop for Progress {
    /// Removes the bar (the final tables follow).
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
