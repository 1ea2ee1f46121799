//! Durations as people write them (`250ms`, `30s`, `2m`, `1h30m`, `1day`, or a bare
//! number of seconds), parsed by humantime and bounded, for flags, scenario files and
//! plan strings. A leaf module: the parsers of every stage import it, none imports
//! `cli`.

use std::time::Duration;

/// The longest duration accepted anywhere (a soak run of a month is already a lot).
pub const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 3600);

/// Parses a duration up to [`MAX_DURATION`]; 0 is allowed.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration (e.g. 500ms, 30s, 2m, 1h)".into());
    }
    let too_long = || format!("`{text}`: too long, at most 30 days");
    let d = if text.bytes().all(|b| b.is_ascii_digit()) {
        Duration::from_secs(text.parse::<u64>().map_err(|_| too_long())?)
    } else {
        humantime::parse_duration(text).map_err(|e| match e {
            humantime::DurationError::NumberOverflow => too_long(),
            _ => format!("`{text}` is not a duration (e.g. 500ms, 30s, 2m, 1h30m)"),
        })?
    };
    if d > MAX_DURATION {
        return Err(too_long());
    }
    Ok(d)
}

/// [`parse_duration`], more than 0.
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("`{text}`: must be more than 0")),
        d => Ok(d),
    }
}

/// [`parse_duration`] in whole seconds (goose's resolution); 0 allowed.
pub fn parse_whole_seconds(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.subsec_nanos() != 0 {
        return Err(format!("`{text}`: use whole seconds (goose's resolution)"));
    }
    Ok(d)
}

/// [`parse_whole_seconds`], at least 1 s.
pub fn parse_positive_whole_seconds(text: &str) -> Result<Duration, String> {
    match parse_whole_seconds(text)? {
        d if d.is_zero() => Err(format!("`{text}`: must be at least 1s")),
        d => Ok(d),
    }
}

/// A latency in microseconds, in the unit that reads best.
pub fn format_us(us: f64) -> String {
    if us >= 1e6 {
        format!("{:.2}s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2}ms", us / 1e3)
    } else {
        format!("{us:.0}µs")
    }
}

/// Grams in the unit that reads best: `0.120 g`, `1.18 µg`.
pub fn format_grams(g: f64) -> String {
    if g == 0.0 || g >= 0.1 {
        format!("{g:.3} g")
    } else if g >= 1e-4 {
        format!("{:.3} mg", g * 1e3)
    } else {
        format!("{:.3} µg", g * 1e6)
    }
}

/// Rounds to three decimals, as run.json's rates and seconds are written.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_within_bounds() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("30days"), Ok(MAX_DURATION));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for bad in ["", "s", "soon", "3 parsecs", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        for huge in [
            "18446744073709551615s1s",
            "18446744073709551615s",
            "307445734561825861m",
            "18446744073709551616",
            "31days",
        ] {
            let e = parse_duration(huge).unwrap_err();
            assert!(e.contains("at most 30 days"), "{huge}: {e}");
        }
        assert!(parse_positive_duration("0s").is_err());
        assert!(parse_whole_seconds("1500ms").is_err());
        assert!(parse_positive_whole_seconds("0").is_err());
        assert_eq!(
            parse_positive_whole_seconds("2m"),
            Ok(Duration::from_secs(120))
        );
    }
}
