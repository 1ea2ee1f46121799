//! The audit's pool check: a short burst of concurrent GETs, each client its own
//! connection, judged by what a pool too small for it causes (503s, other 5xx,
//! timeouts), never by latency alone.
//!
//! The GET is one the target really serves: `--burst-path`, or by default the hottest
//! GET of the scenario in use (its highest weight; the first of equals), and when the
//! organization lacks an id that one needs, the next. Its placeholders are filled as a
//! load's virtual users fill them ([`crate::load::fill`], ids learned from the same
//! list endpoints, [`crate::load::DISCOVERY`]), each client with its own pick.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use reqwest::StatusCode;
use serde_json::Value;

use super::http::{Session, describe};
use super::{Burst, Check, CheckId, thousands};
use crate::load::scenario::{self, Method, Scenario, Template};

/// One request the burst can send.
#[derive(Debug, Clone)]
pub struct BurstTarget {
    /// Its path: origin-relative (checked as a scenario's paths are), placeholders
    /// parsed.
    pub path: Template,
    /// Sends the login's bearer token (a scenario request's `auth`).
    pub auth: bool,
}

/// What the burst may send: the first of `candidates` that this organization's ids can
/// fill in.
#[derive(Debug, Clone)]
pub struct BurstRequest {
    /// One for `--burst-path`; the scenario's GETs by weight, heaviest first.
    pub candidates: Vec<BurstTarget>,
    /// Where they come from, for the evidence: `--burst-path`, or `scenario api-load`.
    pub origin: String,
}

impl BurstRequest {
    /// `--burst-path PATH`, checked as a scenario's paths are: relative to --url with
    /// one leading `/`, known placeholders only.
    pub fn path(text: &str) -> Result<BurstRequest, String> {
        if let Err(why) = scenario::origin_relative(text) {
            return Err(format!(
                "--burst-path `{}` {why}: give a path relative to --url with one leading `/` \
                 (e.g. /api/v1/buildings), so that the login token goes to no other host",
                text.escape_debug()
            ));
        }
        let path = Template::parse(text)
            .map_err(|(m, _)| format!("--burst-path `{}`: {m}", text.escape_debug()))?;
        Ok(BurstRequest {
            candidates: vec![BurstTarget { path, auth: true }],
            origin: "--burst-path".into(),
        })
    }

    /// The GETs of `scenario`, heaviest first (file order among equals).
    pub fn scenario(scenario: &Scenario) -> BurstRequest {
        let mut gets: Vec<&scenario::RequestSpec> = scenario
            .requests
            .iter()
            .filter(|r| r.method == Method::Get)
            .collect();
        gets.sort_by_key(|r| std::cmp::Reverse(r.weight));
        BurstRequest {
            candidates: gets
                .into_iter()
                .map(|r| BurstTarget {
                    path: r.path.clone(),
                    auth: r.auth,
                })
                .collect(),
            origin: format!("scenario {}", scenario.name),
        }
    }
}

/// Seed of the first client's random picks; client `n` draws from `SEED + n`, so that
/// an audit repeated on the same data sends the same requests.
const SEED: u64 = 0x0061_7564_6974;

impl Session {
    /// The pool under a burst: `burst.clients` clients send the first request of
    /// `request` whose placeholders this organization can fill, for `burst.duration`,
    /// each as soon as its previous answer is in.
    pub async fn burst(&self, burst: Burst, request: &BurstRequest) -> Check {
        let id = CheckId::PoolBurst;
        if request.candidates.is_empty() {
            return Check::not_checked(
                id,
                format!("{} has no GET to send: give --burst-path", request.origin),
            );
        }
        let (learned, why_none) = self.learn(&request.candidates).await;
        let base = match reqwest::Url::parse(self.base()) {
            Ok(u) => u,
            Err(e) => return Check::not_checked(id, e.to_string()),
        };
        let mut skipped = Vec::new();
        for (rank, target) in request.candidates.iter().enumerate() {
            let filled: Result<Vec<String>, &str> = (0..burst.clients)
                .map(|n| crate::load::fill(&target.path, &learned, n + 1, SEED + n as u64))
                .collect();
            let paths = match filled {
                Ok(p) => p,
                Err(missing) => {
                    skipped.push(format!(
                        "GET {} needs a {missing}: {}",
                        target.path.text,
                        why_none.get(missing).map_or("none learned", String::as_str)
                    ));
                    continue;
                }
            };
            let Some(urls) = paths
                .iter()
                .map(|p| crate::load::join_same_origin(&base, p))
                .collect::<Option<Vec<_>>>()
            else {
                return Check::not_checked(
                    id,
                    format!(
                        "GET {}: filled in, it leaves {} (the login token goes to no other host)",
                        target.path.text,
                        self.base()
                    ),
                );
            };
            let shown = match (request.origin.as_str(), rank) {
                ("--burst-path", _) => format!("{} (--burst-path)", target.path.text),
                (origin, 0) => format!("{} (the hottest GET of {origin})", target.path.text),
                (origin, _) => format!(
                    "{} (the hottest GET of {origin} that can be filled in: {})",
                    target.path.text,
                    skipped.join("; ")
                ),
            };
            let token = target.auth.then_some(self.token());
            return match run_burst(&urls, &shown, token, burst, self.timeout()).await {
                Ok(outcome) => outcome.check(),
                Err(e) => Check::not_checked(id, e),
            };
        }
        Check::not_checked(
            id,
            format!(
                "no GET of {} can be filled in for this organization: {}",
                request.origin,
                skipped.join("; ")
            ),
        )
    }

    /// The ids the candidates' placeholders need, learned from the list endpoints a
    /// load's users learn them from; with, for each one that came back empty, why.
    async fn learn(
        &self,
        candidates: &[BurstTarget],
    ) -> (crate::load::Learned, HashMap<&'static str, String>) {
        let mut learned = crate::load::Learned::default();
        let mut why_none = HashMap::new();
        for (placeholder, path) in crate::load::DISCOVERY {
            if !candidates.iter().any(|c| c.path.uses(placeholder)) {
                continue;
            }
            let name = match placeholder {
                crate::load::Placeholder::BuildingId => "building_id",
                crate::load::Placeholder::UnitId => "unit_id",
                _ => "owner_id",
            };
            let ids = match self.get(&format!("/{path}")).send().await {
                Ok(r) if r.status().is_success() => {
                    match r
                        .json::<Value>()
                        .await
                        .ok()
                        .as_ref()
                        .and_then(crate::load::ids_of)
                    {
                        Some(ids) if ids.is_empty() => {
                            why_none.insert(name, format!("GET /{path} lists none"));
                            ids
                        }
                        Some(ids) => ids,
                        None => {
                            why_none
                                .insert(name, format!("GET /{path} is not a list of data[].id"));
                            Vec::new()
                        }
                    }
                }
                Ok(r) => {
                    why_none.insert(
                        name,
                        format!("GET /{path} answered HTTP {}", r.status().as_u16()),
                    );
                    Vec::new()
                }
                Err(e) => {
                    why_none.insert(name, format!("GET /{path}: {}", describe(&e)));
                    Vec::new()
                }
            };
            match placeholder {
                crate::load::Placeholder::BuildingId => learned.buildings = ids,
                crate::load::Placeholder::UnitId => learned.units = ids,
                _ => learned.owners = ids,
            }
        }
        (learned, why_none)
    }
}

/// What a burst met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurstOutcome {
    /// The GET sent, as the evidence names it: its path template and where it comes
    /// from.
    pub path: String,
    pub clients: usize,
    pub duration: Duration,
    /// The per-request timeout: slower requests count as timed out.
    pub timeout: Duration,
    pub requests: u64,
    /// 2xx and 3xx.
    pub ok: u64,
    /// 503: no pooled connection in time (the reference server's and sqlx's answer).
    pub unavailable: u64,
    /// Other 5xx.
    pub server_errors: u64,
    /// 4xx (not judged: an expired token, a rate limiter).
    pub client_errors: u64,
    /// No answer within `timeout`.
    pub timeouts: u64,
    /// Connection refused, reset, or another transport error.
    pub transport_errors: u64,
    /// Of the answered requests.
    pub p99: Duration,
    pub max: Duration,
}

impl BurstOutcome {
    /// Fails on any 503, other 5xx, timeout or transport error.
    ///
    /// Why this is the pool's check: a pool too small for the burst makes requests
    /// wait for a connection. With the guide's settings (acquire_timeout 3 s) a
    /// request that waits too long is answered 503; with sqlx's default 30 s (the
    /// guide's "before") it just hangs, which a client sees as a timeout — hence the
    /// 3 s default of `--timeout`, the guide's own bound. Latency alone is not judged:
    /// from outside, a queue on the pool cannot be told from a busy CPU. On the
    /// reference server at scale 1 the queries are so short that a pool of 10 keeps up
    /// with 200 clients: both presets usually pass; a slow query (the expense query
    /// without its index at scale 100) or a locked table is what exhausts it.
    pub fn check(&self) -> Check {
        let id = CheckId::PoolBurst;
        let head = format!(
            "{} clients × {:.0} s on GET {}: {} requests",
            self.clients,
            self.duration.as_secs_f64(),
            self.path,
            thousands(self.requests)
        );
        if self.requests == 0 {
            return Check::not_checked(id, format!("{head} sent"));
        }
        let counts = format!(
            "{} ok, {} × 503, {} other 5xx, {} timed out (> {} s), {} connection errors{}",
            thousands(self.ok),
            thousands(self.unavailable),
            thousands(self.server_errors),
            thousands(self.timeouts),
            self.timeout.as_secs_f64(),
            thousands(self.transport_errors),
            if self.client_errors > 0 {
                format!(", {} × 4xx", thousands(self.client_errors))
            } else {
                String::new()
            }
        );
        let latency = if self.ok + self.unavailable + self.server_errors + self.client_errors > 0 {
            format!("; p99 {}, max {}", millis(self.p99), millis(self.max))
        } else {
            String::new()
        };
        let evidence = format!("{head}: {counts}{latency}");
        let failed = self.unavailable + self.server_errors + self.timeouts + self.transport_errors;
        if failed > 0 {
            Check::fail(id, evidence)
        } else if self.ok == 0 {
            Check::not_checked(id, format!("{evidence} (no request succeeded)"))
        } else {
            Check::pass(id, evidence)
        }
    }
}

fn millis(d: Duration) -> String {
    format!("{} ms", thousands(d.as_millis() as u64))
}

/// One client's counts and latencies.
struct Tally {
    counts: [u64; 6],
    latencies: Histogram<u64>,
}

const OK: usize = 0;
const UNAVAILABLE: usize = 1;
const SERVER_ERROR: usize = 2;
const CLIENT_ERROR: usize = 3;
const TIMEOUT: usize = 4;
const TRANSPORT: usize = 5;

/// Sends the burst: `burst.clients` tasks, each its own connection and its own URL of
/// `urls` (in turn), each sending as soon as its previous answer is in, until
/// `burst.duration` is over; with `token` as bearer when given. `shown` is what the
/// evidence calls the request. Lasts at most `duration + timeout`. The tasks are
/// aborted if the future is dropped (Ctrl-C).
pub async fn run_burst(
    urls: &[reqwest::Url],
    shown: &str,
    token: Option<&str>,
    burst: Burst,
    timeout: Duration,
) -> Result<BurstOutcome, String> {
    if urls.is_empty() {
        return Err("no request to send".into());
    }
    let client = reqwest::Client::builder()
        .no_gzip()
        .timeout(timeout)
        .pool_max_idle_per_host(burst.clients)
        .build()
        .map_err(|e| describe(&e))?;
    let deadline = Instant::now() + burst.duration;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..burst.clients {
        let client = client.clone();
        let url = urls[n % urls.len()].clone();
        let token = token.map(str::to_string);
        tasks.spawn(async move {
            let mut tally = Tally {
                counts: [0; 6],
                latencies: crate::latency::new_histogram(),
            };
            while Instant::now() < deadline {
                let began = Instant::now();
                let mut request = client.get(url.clone());
                if let Some(token) = &token {
                    request = request.bearer_auth(token);
                }
                let result = match request.send().await {
                    Ok(response) => {
                        let status = response.status();
                        response.bytes().await.map(|_| status)
                    }
                    Err(e) => Err(e),
                };
                let kind = match result {
                    Ok(s) if s == StatusCode::SERVICE_UNAVAILABLE => UNAVAILABLE,
                    Ok(s) if s.is_server_error() => SERVER_ERROR,
                    Ok(s) if s.is_client_error() => CLIENT_ERROR,
                    Ok(_) => OK,
                    Err(e) if e.is_timeout() => TIMEOUT,
                    Err(_) => TRANSPORT,
                };
                tally.counts[kind] += 1;
                if kind != TIMEOUT && kind != TRANSPORT {
                    let micros = began.elapsed().as_micros().clamp(1, 3_600_000_000) as u64;
                    let _ = tally.latencies.record(micros);
                }
                if kind == TRANSPORT {
                    // A refused connection fails at once: do not spin on it.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            tally
        });
    }
    let mut total = Tally {
        counts: [0; 6],
        latencies: crate::latency::new_histogram(),
    };
    while let Some(joined) = tasks.join_next().await {
        let tally = joined.map_err(|e| format!("a burst client failed: {e}"))?;
        for (t, c) in total.counts.iter_mut().zip(tally.counts) {
            *t += c;
        }
        let _ = total.latencies.add(&tally.latencies);
    }
    let us = |v: u64| Duration::from_micros(v);
    Ok(BurstOutcome {
        path: shown.to_string(),
        clients: burst.clients,
        duration: burst.duration,
        timeout,
        requests: total.counts.iter().sum(),
        ok: total.counts[OK],
        unavailable: total.counts[UNAVAILABLE],
        server_errors: total.counts[SERVER_ERROR],
        client_errors: total.counts[CLIENT_ERROR],
        timeouts: total.counts[TIMEOUT],
        transport_errors: total.counts[TRANSPORT],
        p99: us(total.latencies.value_at_quantile(0.99)),
        max: us(total.latencies.max()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Status;

    #[test]
    fn the_burst_path_is_checked_as_a_scenarios_paths_are() {
        let ok = BurstRequest::path("/api/v1/buildings/{building_id}/units").unwrap();
        assert_eq!(ok.origin, "--burst-path");
        assert!(ok.candidates[0].auth);
        assert!(
            ok.candidates[0]
                .path
                .uses(crate::load::Placeholder::BuildingId)
        );
        for (bad, says) in [
            ("//evil.example/x", "starts with `//`"),
            ("api/v1/x", "does not start with `/`"),
            ("/a b", "holds whitespace"),
            ("/a/{nope}", "unknown placeholder `{nope}`"),
        ] {
            let e = BurstRequest::path(bad).unwrap_err();
            assert!(
                e.starts_with(&format!("--burst-path `{bad}`")) && e.contains(says),
                "{e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn the_scenarios_gets_go_heaviest_first() {
        let text = "name = \"mix\"\n\
            [[request]]\nmethod = \"GET\"\npath = \"/a\"\nweight = 3\n\
            [[request]]\nmethod = \"POST\"\npath = \"/b\"\nweight = 50\nbody = '{{}}'\n\
            [[request]]\nmethod = \"GET\"\npath = \"/c\"\nweight = 7\nauth = false\n\
            [[request]]\nmethod = \"GET\"\npath = \"/d\"\nweight = 7\n";
        let s = scenario::parse(text, "mix.toml", "mix").unwrap();
        let r = BurstRequest::scenario(&s);
        let order: Vec<(&str, bool)> = r
            .candidates
            .iter()
            .map(|c| (c.path.text.as_str(), c.auth))
            .collect();
        assert_eq!(order, [("/c", false), ("/d", true), ("/a", true)]);
        assert_eq!(r.origin, "scenario mix");
    }

    fn outcome() -> BurstOutcome {
        BurstOutcome {
            path: "/api/v1/buildings".into(),
            clients: 200,
            duration: Duration::from_secs(3),
            timeout: Duration::from_secs(3),
            requests: 4321,
            ok: 4321,
            unavailable: 0,
            server_errors: 0,
            client_errors: 0,
            timeouts: 0,
            transport_errors: 0,
            p99: Duration::from_millis(152),
            max: Duration::from_millis(1310),
        }
    }

    #[test]
    fn a_burst_fails_on_503_5xx_timeouts_and_connection_errors() {
        let pass = outcome().check();
        assert_eq!(pass.status, Status::Pass);
        assert_eq!(
            pass.evidence,
            "200 clients × 3 s on GET /api/v1/buildings: 4,321 requests: 4,321 ok, 0 × 503, \
             0 other 5xx, 0 timed out (> 3 s), 0 connection errors; p99 152 ms, max 1,310 ms"
        );
        for field in 0..4 {
            let mut o = outcome();
            match field {
                0 => o.unavailable = 1,
                1 => o.server_errors = 1,
                2 => o.timeouts = 1,
                _ => o.transport_errors = 1,
            }
            assert_eq!(o.check().status, Status::Fail, "{field}");
        }
        let mut refused = outcome();
        refused.ok = 0;
        refused.client_errors = 4321;
        let check = refused.check();
        assert_eq!(check.status, Status::NotChecked);
        assert!(check.evidence.contains("4,321 × 4xx"), "{}", check.evidence);
        let mut none = outcome();
        none.requests = 0;
        assert_eq!(none.check().status, Status::NotChecked);
    }
}
