//! Test plans (`--plan`): a run as steps, each reaching a number of users (goose's test
//! plan) or an arrival rate (our schedule) over its duration, or a preset following
//! KoproGo's load-test scripts (`koprogo.md`): warmup, light, medium, heavy, soak,
//! spike, each with its expectations as default thresholds.
//!
//! A step that keeps the level of the one before holds it: its requests are steady
//! state and count in the totals. Steps that change the level are ramps (up or down),
//! reported apart.

use std::fmt;
use std::time::Duration;

/// What a step reaches.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Level {
    /// Concurrent users (closed loop).
    Users(usize),
    /// Requests per second (constant-rate mode).
    Rate(f64),
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Level::Users(n) => write!(f, "{n} users"),
            Level::Rate(r) => write!(f, "{r}/s"),
        }
    }
}

/// One step: reach `level` (linearly from the previous one) over `duration`.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub level: Level,
    pub duration: Duration,
}

/// A whole plan.
#[derive(Debug, Clone, PartialEq)]
pub struct TestPlan {
    /// The preset's name, or `custom`.
    pub name: String,
    pub steps: Vec<Step>,
    /// The preset's expectations (threshold expressions, as in targets.toml).
    pub thresholds: Vec<String>,
    /// The scenario the preset is meant for, when not the default (warmup: health).
    pub scenario: Option<&'static str>,
}

/// A step's phase: its kind and level.
#[derive(Debug, Clone, PartialEq)]
pub struct PhaseSpec {
    pub name: String,
    pub steady: bool,
    pub start: Duration,
    pub duration: Duration,
    pub level: Level,
}

/// The presets' names, for help and errors.
pub const PRESETS: [&str; 6] = ["warmup", "light", "medium", "heavy", "soak", "spike"];

impl TestPlan {
    /// Parses `--plan`: a preset name, or steps `LEVEL,DURATION;…` where LEVEL is a
    /// number of users (`50`) or a rate (`500/s`) and DURATION as for --duration
    /// (`30s`, `2m`). `ramp` is the ramp before each preset's holds; `hold` replaces
    /// the presets' hold durations (--duration).
    pub fn parse(text: &str, ramp: Duration, hold: Option<Duration>) -> Result<TestPlan, String> {
        let text = text.trim();
        if let Some(plan) = preset(text, ramp, hold) {
            return Ok(plan);
        }
        if !text.contains(',') {
            return Err(format!(
                "--plan `{text}`: not a preset ({}) nor steps like \"10,30s;50,1m;0,10s\" or \"100/s,30s;500/s,1m\"",
                PRESETS.join(", ")
            ));
        }
        if hold.is_some() {
            return Err(
                "--duration applies to a preset plan; write the durations in the steps instead"
                    .into(),
            );
        }
        let mut steps = Vec::new();
        for (i, part) in text
            .split(';')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .enumerate()
        {
            let bad = |why: String| format!("--plan step {} `{part}`: {why}", i + 1);
            let (level, duration) = part
                .split_once(',')
                .ok_or_else(|| bad("expected LEVEL,DURATION (e.g. 50,30s or 500/s,1m)".into()))?;
            let level = match level.trim().strip_suffix("/s") {
                Some(rate) => match rate.trim().parse::<f64>() {
                    Ok(r) if r.is_finite() && r >= 0.0 => Level::Rate(r),
                    _ => {
                        return Err(bad(format!(
                            "`{level}` is not a rate (requests per second)"
                        )));
                    }
                },
                None => Level::Users(
                    level
                        .trim()
                        .parse::<usize>()
                        .map_err(|_| bad(format!("`{level}` is not a number of users")))?,
                ),
            };
            let duration = crate::units::parse_whole_seconds(duration.trim()).map_err(bad)?;
            if duration.is_zero() {
                return Err(bad("a step lasts at least 1s".into()));
            }
            steps.push(Step { level, duration });
        }
        if steps.is_empty() {
            return Err("--plan has no steps".into());
        }
        let rates = steps
            .iter()
            .filter(|s| matches!(s.level, Level::Rate(_)))
            .count();
        if rates != 0 && rates != steps.len() {
            return Err("--plan mixes users and rates: give all steps as users (50) or all as rates (500/s)".into());
        }
        if !steps.iter().any(|s| match s.level {
            Level::Users(n) => n > 0,
            Level::Rate(r) => r > 0.0,
        }) {
            return Err("--plan never has a user or a request: give a step a level above 0".into());
        }
        Ok(TestPlan {
            name: "custom".into(),
            steps,
            thresholds: Vec::new(),
            scenario: None,
        })
    }

    /// `NAME: LEVEL,SECONDS;…` for run.json.
    pub fn describe(&self) -> String {
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| match s.level {
                Level::Users(n) => format!("{n},{}s", s.duration.as_secs()),
                Level::Rate(r) => format!("{r}/s,{}s", s.duration.as_secs()),
            })
            .collect();
        format!("{}: {}", self.name, steps.join(";"))
    }

    /// True when the steps are arrival rates.
    pub fn is_rate(&self) -> bool {
        matches!(self.steps.first().map(|s| s.level), Some(Level::Rate(_)))
    }

    /// The highest number of users (or, for a rate plan, `None`).
    pub fn max_users(&self) -> Option<usize> {
        self.steps
            .iter()
            .map(|s| match s.level {
                Level::Users(n) => Some(n),
                Level::Rate(_) => None,
            })
            .max()
            .flatten()
    }

    /// The plan's length.
    pub fn total(&self) -> Duration {
        self.steps.iter().map(|s| s.duration).sum()
    }

    /// The phases, in order: holds are steady, changes are ramps.
    pub fn phases(&self) -> Vec<PhaseSpec> {
        let mut previous = match self.steps.first().map(|s| s.level) {
            Some(Level::Rate(_)) => Level::Rate(0.0),
            _ => Level::Users(0),
        };
        let mut start = Duration::ZERO;
        self.steps
            .iter()
            .map(|step| {
                let (kind, steady) = match (previous, step.level) {
                    (a, b) if a == b => ("steady", true),
                    (Level::Users(a), Level::Users(b)) if b > a => ("ramp_up", false),
                    (Level::Rate(a), Level::Rate(b)) if b > a => ("ramp_up", false),
                    _ => ("ramp_down", false),
                };
                let phase = PhaseSpec {
                    name: format!("{kind} {}", step.level),
                    steady,
                    start,
                    duration: step.duration,
                    level: step.level,
                };
                previous = step.level;
                start += step.duration;
                phase
            })
            .collect()
    }

    /// goose's `--test-plan` for a users plan: `users,seconds;…`.
    pub fn goose_test_plan(&self) -> Option<String> {
        (!self.is_rate()).then(|| {
            self.steps
                .iter()
                .map(|s| match s.level {
                    Level::Users(n) => format!("{n},{}", s.duration.as_secs()),
                    Level::Rate(_) => unreachable!("a users plan"),
                })
                .collect::<Vec<_>>()
                .join(";")
        })
    }

    /// A rate plan's curve (`(offset, rate)` at each step's end, from 0 at the start).
    pub fn rate_points(&self) -> Option<Vec<(Duration, f64)>> {
        self.is_rate().then(|| {
            let mut points = vec![(Duration::ZERO, 0.0)];
            let mut at = Duration::ZERO;
            for s in &self.steps {
                at += s.duration;
                if let Level::Rate(r) = s.level {
                    points.push((at, r));
                }
            }
            points
        })
    }
}

/// KoproGo's load-test presets: users held for a time after a ramp of `ramp`, with
/// each script's expectations as thresholds.
fn preset(name: &str, ramp: Duration, hold: Option<Duration>) -> Option<TestPlan> {
    let secs = Duration::from_secs;
    let (levels, hold_default, thresholds, scenario): (&[usize], Duration, &[&str], _) = match name
    {
        "warmup" => (&[5], secs(30), &["error_rate < 1%"], Some("health")),
        "light" => (&[10], secs(120), &["p99 < 50ms", "rps > 100"], None),
        "medium" => (&[50], secs(300), &["p99 < 100ms", "rps > 500"], None),
        "heavy" => (&[100], secs(180), &["error_rate < 5%", "p99 < 200ms"], None),
        "soak" => (&[25], secs(1800), &["error_rate < 1%"], None),
        "spike" => (
            &[10, 50, 200, 50, 10],
            secs(30),
            &["error_rate < 10%"],
            None,
        ),
        _ => return None,
    };
    let hold = hold.unwrap_or(hold_default);
    let ramp = ramp.max(secs(1));
    let mut steps = Vec::new();
    for &users in levels {
        steps.push(Step {
            level: Level::Users(users),
            duration: ramp,
        });
        steps.push(Step {
            level: Level::Users(users),
            duration: hold,
        });
    }
    Some(TestPlan {
        name: name.to_string(),
        steps,
        thresholds: thresholds.iter().map(|s| s.to_string()).collect(),
        scenario,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn steps_parse_into_ramps_and_holds() {
        let p = TestPlan::parse("10,5s; 10,30s; 50,10s; 50,1m; 0,5s", S(5), None).unwrap();
        let phases = p.phases();
        let names: Vec<&str> = phases.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ramp_up 10 users",
                "steady 10 users",
                "ramp_up 50 users",
                "steady 50 users",
                "ramp_down 0 users"
            ]
        );
        assert_eq!(phases[3].start, S(45));
        assert_eq!(p.total(), S(110));
        assert_eq!(p.max_users(), Some(50));
        assert_eq!(p.goose_test_plan().unwrap(), "10,5;10,30;50,10;50,60;0,5");
        assert!(p.rate_points().is_none());
    }

    #[test]
    fn rate_steps_make_a_curve_from_zero() {
        let p = TestPlan::parse("100/s,10s;100/s,20s;300/s,10s", S(5), None).unwrap();
        assert!(p.is_rate());
        assert_eq!(
            p.rate_points().unwrap(),
            vec![(S(0), 0.0), (S(10), 100.0), (S(30), 100.0), (S(40), 300.0)]
        );
        assert_eq!(p.phases()[1].name, "steady 100/s");
        assert!(p.phases()[1].steady);
        assert!(p.goose_test_plan().is_none());
    }

    #[test]
    fn presets_follow_koprogos_scripts() {
        let spike = TestPlan::parse("spike", S(5), Some(S(20))).unwrap();
        let holds: Vec<Level> = spike
            .phases()
            .iter()
            .filter(|p| p.steady)
            .map(|p| p.level)
            .collect();
        let users = [10, 50, 200, 50, 10].map(Level::Users);
        assert_eq!(holds, users);
        assert_eq!(spike.total(), S(5 * 25));
        let light = TestPlan::parse("light", S(5), None).unwrap();
        assert_eq!(light.thresholds, ["p99 < 50ms", "rps > 100"]);
        assert_eq!(light.total(), S(125));
        assert_eq!(
            TestPlan::parse("warmup", S(5), None).unwrap().scenario,
            Some("health")
        );
    }

    #[test]
    fn bad_plans_are_refused_with_the_step() {
        for (text, needle) in [
            ("lite", "not a preset"),
            ("10,5s;x,10s", "step 2 `x,10s`"),
            ("10,0s", "at least 1s"),
            ("10,5s;100/s,5s", "mixes users and rates"),
            ("0,5s", "above 0"),
        ] {
            let e = TestPlan::parse(text, S(5), None).unwrap_err();
            assert!(e.contains(needle), "{text}: {e}");
        }
        assert!(
            TestPlan::parse("10,5s", S(5), Some(S(9)))
                .unwrap_err()
                .contains("--duration")
        );
    }
}
