//! The measured-run engine: runs a plan against a target with its probes and returns
//! the run report whole. It sits above the stages it drives (`load`, `measure`, `pg`,
//! `server`) and below `commands`, which only resolve arguments, call it and print.

pub mod build;
pub mod experiment;
pub mod external;
pub mod measure;
pub mod process;
pub mod stack;

pub use build::RunContext;
pub use measure::{Probe, RunPlan, attach_heap, measure};
pub use stack::LocalStack;

/// Load's interval records go through `report::hlog` and back: a test of the seam the
/// engine joins.
#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use crate::load::{Recorder, TransportError};
    use crate::report::hlog::{Log, parse};

    #[test]
    fn the_interval_log_parses_back_into_the_same_histograms() {
        let names = vec![
            "GET /api/v1/health".to_string(),
            "POST /api/v1/units".to_string(),
        ];
        let recorder = Recorder::new(names.clone());
        let t0 = recorder.t0();
        let mut all = crate::latency::new_histogram();
        let mut units = crate::latency::new_histogram();
        for second in 0..3u64 {
            for k in 0..50u64 {
                let latency = Duration::from_micros(100 + k * 37 + second * 5_000);
                let index = (k % 2) as usize;
                let at = t0 + Duration::from_millis(second * 1000 + k);
                let outcome = if k == 7 {
                    Err(TransportError::Timeout)
                } else {
                    Ok(200)
                };
                recorder.record(index, at, latency, outcome);
                // The interval histograms hold the successful responses only.
                if outcome.is_err() {
                    continue;
                }
                all.record(latency.as_micros() as u64).unwrap();
                if index == 1 {
                    units.record(latency.as_micros() as u64).unwrap();
                }
            }
            recorder.flush(t0 + Duration::from_secs(second + 1));
        }
        let intervals = recorder.intervals();
        assert_eq!(intervals.len(), 3);
        assert!(intervals.iter().all(|i| i.requests == 50 && i.errors == 1));

        let started = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let text = Log::of_intervals(started, &names, &intervals)
            .unwrap()
            .render()
            .unwrap();
        assert!(text.contains("#[StartTime: 1800000000.000"), "{text}");
        let (start, entries) = parse(&text).unwrap();
        assert_eq!(start, Some(Duration::from_secs(1_800_000_000)));
        let mut back_all = crate::latency::new_histogram();
        let mut back_units = crate::latency::new_histogram();
        for e in &entries {
            match e.tag.as_deref() {
                None => back_all.add(&e.histogram).unwrap(),
                Some("POST_/api/v1/units") => back_units.add(&e.histogram).unwrap(),
                Some("GET_/api/v1/health") => {}
                Some(other) => panic!("unexpected tag {other}"),
            }
        }
        assert_eq!(back_all, all);
        assert_eq!(back_units, units);
        // Interval starts follow the flushes, one second apart.
        let starts: Vec<u64> = entries
            .iter()
            .filter(|e| e.tag.is_none())
            .map(|e| e.start.as_secs_f64().round() as u64)
            .collect();
        assert_eq!(starts, vec![0, 1, 2]);
        assert!(parse("Tag=x,not,a,log\n").is_err());
    }
}
