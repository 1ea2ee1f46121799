//! A run's own verdict: whether its figures describe a working target. A run fails when
//! its error rate is over `--max-error-rate`, when the target went down, when the
//! database was unavailable, when most users never logged in, or when nothing
//! succeeded; the reasons are sentences that the terminal, `report` and `gate` show
//! first. Warnings say what bounds the figures without failing the run (a load
//! generator at its limit, a rate limiter's 429s).

use crate::report::run::{RunReport, RunVerdict, describe_kinds};

/// The generator is the bottleneck when its CPU averages this share of what its threads
/// can use.
const GENERATOR_BUSY: f64 = 0.9;

/// Judges a run (its counts, logins, outages and resources) against `max_error_rate`
/// (a fraction).
pub fn judge(run: &RunReport, max_error_rate: f64) -> RunVerdict {
    let mut reasons = Vec::new();
    let mut hints = Vec::new();
    let host = &run.target.host;
    if run.host_down {
        let refused = run.totals.transport_errors.connect;
        reasons.push(format!(
            "{host} stopped accepting connections during the run{} ({refused} refused); check \
             that the server is up",
            run.host_down_at_s
                .map_or(String::new(), |t| format!(" (last answer at {t:.1} s)"))
        ));
    }
    if let Some(o) = &run.database_unavailable {
        reasons.push(format!(
            "the database was unavailable from {:.1} s{} ({})",
            o.from_s,
            o.until_s
                .map_or(" to the end of the run".to_string(), |u| format!(
                    " to {u:.1} s"
                )),
            o.detail
        ));
    }
    if let Some(l) = &run.logins
        && run.vus > 0
        && l.users_logged_in * 2 < run.vus as u64
    {
        let failures: Vec<(String, u64)> =
            l.failures.iter().map(|(k, n)| (k.clone(), *n)).collect();
        reasons.push(format!(
            "{} of {} users never logged in ({} of {} logins failed: {})",
            run.vus as u64 - l.users_logged_in.min(run.vus as u64),
            run.vus,
            l.attempts - l.successes.min(l.attempts),
            l.attempts,
            describe_kinds(&failures)
        ));
    }
    let tried = run.totals.requests + run.skipped_requests;
    let rate = crate::report::run::error_rate(
        run.totals.requests,
        run.totals.errors,
        run.skipped_requests,
    );
    let ok = run.totals.requests - run.totals.errors.min(run.totals.requests);
    if tried == 0 {
        reasons.push("no request was sent in the steady state".into());
    } else if ok == 0 {
        reasons.push(format!(
            "no request succeeded in the steady state ({tried} tried: {})",
            describe_kinds(&run.failure_kinds())
        ));
    } else if rate > max_error_rate {
        reasons.push(format!(
            "{:.1}% of requests failed, over the {}% allowed by --max-error-rate ({} of {}: {})",
            rate * 100.0,
            trim(max_error_rate * 100.0),
            run.totals.errors + run.skipped_requests,
            tried,
            describe_kinds(&run.failure_kinds())
        ));
    }
    if let Some(n) = run
        .logins
        .as_ref()
        .and_then(|l| l.failures.get("429"))
        .filter(|n| **n > 0)
    {
        hints.push(format!(
            "POST /api/v1/auth/login answered 429 Too Many Requests {n} times: the target's login \
             rate limiter refused the users (KoproGo: raise LOGIN_RATE_LIMIT_MAX and \
             LOGIN_RATE_LIMIT_WINDOW_SECS, 5 logins per IP per 900 s by default)"
        ));
    }
    if let Some(n) = run.totals.status_codes.get("429").filter(|n| **n > 0) {
        hints.push(format!(
            "{n} requests answered 429 Too Many Requests: the target's rate limiter (KoproGo: \
             ENABLE_RATE_LIMITING=false turns its general limiter off)"
        ));
    }
    if let Some(n) = run.totals.status_codes.get("503").filter(|n| **n > 0) {
        hints.push(format!(
            "{n} requests answered 503 Service Unavailable: the target could not serve them \
             (its database unreachable or its pool exhausted)"
        ));
    }
    let failed = !reasons.is_empty();
    let mut warnings = Vec::new();
    if failed {
        reasons.extend(hints);
    } else {
        warnings.extend(hints);
    }
    warnings.extend(generator_bound(run));
    RunVerdict {
        failed,
        reasons,
        warnings,
        max_error_rate,
    }
}

/// Why the figures are bounded by the load generator rather than the target, if they
/// are: its CPU near what its threads can use, or in rate mode sends more than 10 ms late.
pub fn generator_bound(run: &RunReport) -> Option<String> {
    if let Some(rate) = &run.rate {
        let sent = run.totals.requests + rate.missed;
        if sent > 0 && (rate.late + rate.missed) * 100 >= sent {
            return Some(format!(
                "the figures are bounded by the load generator, not the target: {} of {} sends went \
                 out more than 10 ms late and {} slots were missed (raise --vus, or load from \
                 more machines and `merge`)",
                rate.late, sent, rate.missed
            ));
        }
    }
    let r = run.resources.as_ref()?;
    let g = &r.generator;
    // The generator's runtime has a worker thread per CPU.
    let threads = r.machine.cpus.max(1) as f64;
    (g.measured && g.cpu_pct_mean >= GENERATOR_BUSY * 100.0 * threads).then(|| {
        format!(
            "the figures are bounded by the load generator, not the target: its CPU averaged \
             {:.0}% for {} threads (100% = one core); load from more machines and `merge`",
            g.cpu_pct_mean, threads
        )
    })
}

fn trim(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The verdict's first line: `run FAILED: …` or none.
pub fn headline(verdict: &RunVerdict) -> Option<String> {
    verdict
        .failed
        .then(|| format!("run FAILED: {}", verdict.reasons.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> RunReport {
        serde_json::from_str::<RunReport>(include_str!("../../tests/fixtures/report/run/run.json"))
            .unwrap()
            .with_totals_counted()
    }

    #[test]
    fn a_clean_run_passes_and_each_failure_says_why() {
        let run = fixture();
        let v = judge(&run, 0.01);
        assert!(!v.failed, "{v:?}");
        assert!(v.warnings.is_empty(), "{v:?}");

        let mut down = run.clone();
        down.host_down = true;
        down.host_down_at_s = Some(6.2);
        let v = judge(&down, 0.01);
        assert!(v.failed);
        assert!(
            v.reasons[0]
                .contains("stopped accepting connections during the run (last answer at 6.2 s)"),
            "{v:?}"
        );

        let mut errors = run.clone();
        errors.endpoints[0].errors = 400;
        errors.endpoints[0].status_codes.insert("429".into(), 400);
        errors.totals.errors = 400;
        let errors = errors.with_totals_counted();
        let v = judge(&errors, 0.01);
        assert!(v.failed);
        assert!(
            v.reasons[0].contains("over the 1% allowed by --max-error-rate"),
            "{v:?}"
        );
        assert!(v.reasons[0].contains("429 ×400"), "{v:?}");
        assert!(v.reasons[1].contains("ENABLE_RATE_LIMITING"), "{v:?}");
        // The same counts under a looser limit: not failed, the 429s still said.
        let v = judge(&errors, 0.05);
        assert!(!v.failed, "{v:?}");
        assert!(v.warnings[0].contains("ENABLE_RATE_LIMITING"), "{v:?}");

        let mut db = run.clone();
        db.database_unavailable = Some(crate::report::run::Outage {
            from_s: 3.1,
            until_s: None,
            detail: "connection refused".into(),
        });
        let v = judge(&db, 0.01);
        assert_eq!(
            v.reasons[0],
            "the database was unavailable from 3.1 s to the end of the run (connection refused)"
        );
    }

    #[test]
    fn a_busy_generator_or_late_sends_bound_the_figures() {
        let mut run = fixture();
        let r = run.resources.as_mut().unwrap();
        r.generator.cpu_pct_mean = 0.95 * 100.0 * r.machine.cpus as f64;
        let v = judge(&run, 0.01);
        assert!(!v.failed);
        assert!(
            v.warnings[0].starts_with("the figures are bounded by the load generator"),
            "{v:?}"
        );
        let mut rate = fixture();
        rate.rate = Some(crate::report::run::RateInfo {
            requested: 3000.0,
            achieved: 2289.5,
            missed: 0,
            late: rate.totals.requests / 50,
        });
        let v = judge(&rate, 0.01);
        assert!(v.warnings[0].contains("more than 10 ms late"), "{v:?}");
        rate.rate.as_mut().unwrap().late = 3;
        assert!(judge(&rate, 0.01).warnings.is_empty());
    }
}
