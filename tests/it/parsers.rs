//! Property tests of every parser of user input (scenario, profile, thresholds, carbon
//! model, plan and duration strings, logins, the redaction): whatever the text, no
//! panic, and every refusal is an error value of one line. Inputs are arbitrary strings
//! and the shipped files with a piece replaced by arbitrary text, which reaches the
//! checks behind the TOML parser.

use std::time::Duration;

use koprogo_perf::load::plan::TestPlan;
use proptest::prelude::*;

const SCENARIO: &str = include_str!("../../scenarios/api-load.toml");
const PROFILE: &str = include_str!("../../profiles/koprogo-vps.toml");
const THRESHOLDS: &str = include_str!("../../profiles/targets.toml");
const CARBON: &str = include_str!("../../profiles/carbon.toml");

fn config() -> ProptestConfig {
    ProptestConfig {
        // PROPTEST_CASES=10000 for a longer hunt.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(200),
        // No regression files written into the source tree.
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// `text` with the characters from `at` (a fraction of its length) for `len` characters
/// replaced by `with`.
fn splice(text: &str, at: f64, len: usize, with: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let start = ((chars.len() as f64) * at) as usize;
    let start = start.min(chars.len());
    let end = (start + len).min(chars.len());
    chars[..start]
        .iter()
        .chain(with.chars().collect::<Vec<_>>().iter())
        .chain(chars[end..].iter())
        .collect()
}

/// A refusal is one line.
fn one_line<T, E: std::fmt::Display>(result: Result<T, E>) -> Result<(), TestCaseError> {
    if let Err(e) = result {
        let text = e.to_string();
        prop_assert!(!text.contains('\n'), "two lines: {text}");
        prop_assert!(!text.is_empty());
    }
    Ok(())
}

/// Arbitrary text, or a shipped file with a piece replaced.
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,200}",
        (
            0.0..1.0f64,
            0usize..40,
            "[ -~\\n\\t\\\\\"'{}\\[\\]=:#/]{0,40}"
        )
            .prop_map(move |(at, len, with)| splice(base, at, len, &with)),
    ]
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn scenario_files_never_panic(text in mutated(SCENARIO)) {
        one_line(koprogo_perf::load::scenario::parse(&text, "s.toml", "s"))?;
    }

    #[test]
    fn profile_files_never_panic(text in mutated(PROFILE)) {
        one_line(koprogo_perf::tune::profile::parse(&text, "p.toml", "p"))?;
    }

    #[test]
    fn threshold_files_and_expressions_never_panic(
        text in mutated(THRESHOLDS),
        expr in "[ -~µ%]{0,40}",
    ) {
        one_line(koprogo_perf::report::targets::parse_file(&text, "t.toml"))?;
        one_line(koprogo_perf::report::targets::parse(&expr))?;
    }

    #[test]
    fn carbon_models_and_regions_never_panic(text in mutated(CARBON), region in ".{0,20}") {
        one_line(koprogo_perf::measure::carbon::Model::parse(&text, "c.toml"))?;
        one_line(region.parse::<koprogo_perf::measure::carbon::Region>())?;
    }

    #[test]
    fn plans_never_panic(
        text in prop_oneof![
            ".{0,60}",
            "([0-9]{1,25}(/s)?,[0-9]{1,25}(ms|s|m|h|d|days)?;?){1,4}",
        ],
        hold in proptest::option::of(0u64..1_000_000),
    ) {
        one_line(TestPlan::parse(&text, Duration::from_secs(5), hold.map(Duration::from_secs)))?;
    }

    #[test]
    fn durations_never_panic_and_stay_bounded(
        text in prop_oneof![".{0,30}", "([0-9]{1,25}(ns|us|ms|s|m|h|d|w|M|y|days) ?){1,4}"],
    ) {
        match koprogo_perf::units::parse_duration(&text) {
            Ok(d) => prop_assert!(d <= koprogo_perf::units::MAX_DURATION),
            Err(e) => prop_assert!(!e.contains('\n'), "{e}"),
        }
    }

    #[test]
    fn logins_never_panic_nor_echo_a_password(
        text in ".{0,80}",
        password in "[a-zA-Z0-9 ,#=?]{8,20}",
    ) {
        one_line(koprogo_perf::load::parse_logins(&text))?;
        one_line(koprogo_perf::load::parse_logins_file(&text, "f"))?;
        // A line with no colon at all is refused without being shown.
        let line = password.replace(':', "");
        if let Err(e) = koprogo_perf::load::parse_logins_file(&line, "f") {
            prop_assert!(!e.contains(line.trim()) || line.trim().len() < 3, "{e}");
        }
    }

    #[test]
    fn redaction_never_panics_and_hides_url_passwords(
        text in ".{0,80}",
        password in "[a-zA-Z0-9!$&'()*+,;=?/#:@ ]{1,20}",
    ) {
        let _ = koprogo_perf::redact::redact(&text);
        let url = format!("postgres://app:zq{password}@db:5432/k");
        let shown = koprogo_perf::redact::redact(&url);
        prop_assert!(!shown.contains(&format!("zq{password}")), "{shown}");
        prop_assert!(shown.starts_with("postgres://app:***@"), "{shown}");
        let kv = format!("host=db password='zq{}' dbname=k", password.replace('\'', ""));
        let shown = koprogo_perf::redact::redact(&kv);
        prop_assert!(!shown.contains("zq"), "{shown}");
    }
}
