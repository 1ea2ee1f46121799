//! Constant-rate (open-model) runs: the schedule of intended send times, wrk2's method
//! on goose's users.
//!
//! One schedule serves all users: a free user claims the next slot, sleeps until its
//! time, and sends; the request's latency then counts from the slot's time, so a server
//! stall shows up in full (coordinated-omission correction) instead of silencing the
//! users that wait on it. `--vus` is the maximum concurrency: when every user is busy
//! at a slot's time, the slot is taken late by the next user to free up (counted as
//! `late`, its wait included in its latency), and the slots still unsent when the
//! steady state ends are `missed` (k6's dropped iterations).

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A send later than this after its slot counts as late (timer granularity and
/// scheduling noise stay under it).
pub const LATE_AFTER: Duration = Duration::from_millis(10);

/// Requested rate over time: linear between `(offset, rate)` points (offsets from the
/// schedule's start), constant after the last. One point is a constant rate.
#[derive(Debug, Clone, PartialEq)]
pub struct RateCurve {
    points: Vec<(Duration, f64)>,
}

impl RateCurve {
    /// A constant rate (requests per second, > 0).
    pub fn constant(rate: f64) -> Self {
        RateCurve {
            points: vec![(Duration::ZERO, rate)],
        }
    }

    /// Linear between the points (sorted by offset, rates ≥ 0, at least one > 0).
    pub fn from_points(points: Vec<(Duration, f64)>) -> Self {
        debug_assert!(points.windows(2).all(|w| w[0].0 <= w[1].0));
        RateCurve { points }
    }

    /// The rate at `offset`.
    pub fn at(&self, offset: Duration) -> f64 {
        let p = &self.points;
        match p.iter().position(|(t, _)| *t > offset) {
            None => p.last().map_or(0.0, |x| x.1),
            Some(0) => p[0].1,
            Some(i) => {
                let (t0, r0) = p[i - 1];
                let (t1, r1) = p[i];
                let span = (t1 - t0).as_secs_f64();
                if span <= 0.0 {
                    r1
                } else {
                    r0 + (r1 - r0) * (offset - t0).as_secs_f64() / span
                }
            }
        }
    }

    /// The rate of the last point (the steady rate of a constant curve).
    pub fn last(&self) -> f64 {
        self.points.last().map_or(0.0, |x| x.1)
    }
}

/// The slots of one run.
#[derive(Debug)]
pub struct Schedule {
    curve: RateCurve,
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    start: Instant,
    next: Instant,
    /// Steady state: late sends and missed slots count between these.
    counting_from: Option<Instant>,
    late: u64,
    claimed: u64,
}

/// Below this rate a slot waits as if the rate were this (a ramp from 0 must start).
const MIN_RATE: f64 = 0.5;

impl Schedule {
    /// A schedule starting at `start`.
    pub fn new(curve: RateCurve, start: Instant) -> Self {
        Schedule {
            curve,
            state: Mutex::new(State {
                start,
                next: start,
                counting_from: None,
                late: 0,
                claimed: 0,
            }),
        }
    }

    /// Starts counting at `at` (the steady state begins): the slots the ramp-up left
    /// unsent are dropped, and late sends count from now on. Slots already claimed
    /// past `at` stay (they belong to the steady state). The rate curve keeps its clock.
    pub fn restart(&self, at: Instant) {
        let mut s = lock(&self.state);
        s.next = s.next.max(at);
        s.counting_from = Some(at);
        s.late = 0;
        s.claimed = 0;
    }

    fn step(&self, start: Instant, slot: Instant) -> Duration {
        let rate = self
            .curve
            .at(slot.saturating_duration_since(start))
            .max(MIN_RATE);
        Duration::from_secs_f64(1.0 / rate)
    }

    /// Takes the next slot for a user free at `now`: its intended send time.
    pub fn claim(&self, now: Instant) -> Instant {
        let mut s = lock(&self.state);
        let slot = s.next;
        s.next = slot + self.step(s.start, slot);
        if s.counting_from.is_some_and(|from| slot >= from) {
            s.claimed += 1;
            if now > slot + LATE_AFTER {
                s.late += 1;
            }
        }
        slot
    }

    /// Sends that went out later than [`LATE_AFTER`] after their slot, since the
    /// steady state began.
    pub fn late(&self) -> u64 {
        lock(&self.state).late
    }

    /// Slots of the steady state before `until` that no user claimed.
    pub fn missed(&self, until: Instant) -> u64 {
        let s = lock(&self.state);
        let mut slot = s.next;
        let mut missed = 0u64;
        // Bounded: a run of an hour at a million requests per second.
        while slot < until && missed < 4_000_000_000 {
            missed += 1;
            slot += self.step(s.start, slot);
        }
        missed
    }

    /// The requested rate at `at`.
    pub fn rate_at(&self, at: Instant) -> f64 {
        let s = lock(&self.state);
        self.curve.at(at.saturating_duration_since(s.start))
    }

    /// The curve's final rate.
    pub fn final_rate(&self) -> f64 {
        self.curve.last()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_evenly_spaced_at_a_constant_rate() {
        let t0 = Instant::now();
        let s = Schedule::new(RateCurve::constant(100.0), t0);
        let slots: Vec<Instant> = (0..5).map(|_| s.claim(t0)).collect();
        for (k, slot) in slots.iter().enumerate() {
            let expected = t0 + Duration::from_millis(10 * k as u64);
            let diff = slot.saturating_duration_since(expected)
                + expected.saturating_duration_since(*slot);
            assert!(diff < Duration::from_micros(5), "{k}: {diff:?}");
        }
    }

    #[test]
    fn late_and_missed_count_only_in_the_steady_state() {
        let t0 = Instant::now();
        let s = Schedule::new(RateCurve::constant(10.0), t0);
        // Ramp-up: claimed late, not counted.
        s.claim(t0 + Duration::from_secs(5));
        let steady = t0 + Duration::from_secs(1);
        s.restart(steady);
        // One on time, then one claimed 300 ms after its slot (100 ms).
        s.claim(steady);
        s.claim(steady + Duration::from_millis(400));
        assert_eq!(s.late(), 1);
        // Slots at 200, 300, …, 900 ms were never claimed before 1 s: 8 missed.
        assert_eq!(s.missed(steady + Duration::from_secs(1)), 8);
    }

    #[test]
    fn a_rate_curve_interpolates_between_its_points() {
        let c = RateCurve::from_points(vec![
            (Duration::ZERO, 100.0),
            (Duration::from_secs(10), 300.0),
            (Duration::from_secs(20), 300.0),
        ]);
        assert_eq!(c.at(Duration::ZERO), 100.0);
        assert_eq!(c.at(Duration::from_secs(5)), 200.0);
        assert_eq!(c.at(Duration::from_secs(15)), 300.0);
        assert_eq!(c.at(Duration::from_secs(99)), 300.0);
        assert_eq!(RateCurve::constant(7.0).at(Duration::from_secs(3)), 7.0);
    }
}
