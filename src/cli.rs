//! Command-line interface: raw clap arguments. `commands` resolves them into validated
//! options before any I/O.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::server::ServerArgs;
use crate::units::{parse_positive_duration, parse_positive_whole_seconds, parse_whole_seconds};

/// Performance tuning and load testing for KoproGo (Actix-web + sqlx + PostgreSQL).
///
/// Without --database-url, commands that need a database start a throwaway embedded
/// PostgreSQL cluster (Debian packages postgresql and postgresql-contrib) and remove it
/// when they end, also on error and Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "koprogo-perf", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Everything in one command: embedded PostgreSQL, seeded data, the reference server,
    /// a load run, the tables and run.json; then everything stopped and removed.
    #[command(after_help = EXIT_CODES)]
    Demo(DemoArgs),
    /// Run the bundled reference API server (a faithful imitation of KoproGo's backend).
    Serve(ServeArgs),
    /// Load a KoproGo API with goose and record HDR latency histograms. Without --host,
    /// starts the embedded PostgreSQL and the reference server in-process.
    // The in-process server always listens on a free loopback port.
    #[command(mut_arg("bind", |a| a.hide(true)), after_help = EXIT_CODES)]
    Load(LoadArgs),
    /// Create the reference schema and fill it with deterministic KoproGo-like data, or
    /// create the same data on a running KoproGo through its API (--host).
    Seed(SeedArgs),
    /// Apply the tuning guide's PostgreSQL settings and indexes: a diff first (default),
    /// --apply (rollback file, ALTER SYSTEM, reload/restart, indexes built concurrently,
    /// verification), --rollback FILE.
    #[command(
        after_help = "Exit codes: 0 done (or nothing to change); 1 the profile, the database or \
a change failed (nothing is applied when the profile is invalid); 2 invalid flags."
    )]
    TuneDb(TuneDbArgs),
    /// Show a run: terminal tables, Markdown (for a pull request; appended to
    /// $GITHUB_STEP_SUMMARY when set), JSON, or one self-contained HTML page with charts;
    /// with --baseline, the change of every metric.
    #[command(after_help = REPORT_EXIT_CODES)]
    Report(ReportArgs),
    /// The CI performance gate: thresholds on a run, and regression against a baseline
    /// decided statistically (Mann–Whitney U over several runs per side, or a tolerance
    /// for single runs).
    #[command(after_help = GATE_EXIT_CODES)]
    Gate(GateArgs),
    /// Prove what each optimization is worth: the same scenario on the same seeded data
    /// against several arms (baseline, tuned, or baseline plus one optimization), run
    /// after run in alternation, each on a fresh copy of the data; experiment.json with
    /// every arm's figures and ratios to baseline, run.json for every run.
    #[command(
        mut_arg("scale", |a| a.default_value("100")),
        after_help = EXPERIMENT_HELP
    )]
    Experiment(ExperimentArgs),
    /// Combine runs of one scenario made at the same time by several load machines into
    /// one run directory: histograms added exactly, counts and rates summed, series aligned
    /// by wall clock.
    #[command(
        after_help = "Exit codes: 0 merged; 1 the runs cannot be merged (different scenarios, \
not at the same time, unreadable, --out taken): nothing is written; 2 invalid flags, one run only, --out a file."
    )]
    Merge(MergeArgs),
    /// Check a running KoproGo (or the reference server) and its database for the tuning
    /// guide's quick wins, or (--frontend) a built or served front end for its bundles,
    /// images and caching headers; each check with pass/fail and the evidence. Read-only:
    /// it changes nothing.
    #[command(after_help = AUDIT_HELP)]
    Audit(AuditArgs),
    /// Write a load scenario from an OpenAPI 3 document (KoproGo's, at
    /// /api-docs/openapi.json): its GET routes a syndic may call, path parameters
    /// filled with the ids each virtual user learns after login, weights to edit.
    #[command(after_help = SCENARIO_HELP)]
    Scenario(ScenarioArgs),
}

const SCENARIO_HELP: &str = "Which routes: every GET but deprecated ones, those with a path \
segment admin or superadmin, those tagged with a tag holding \"admin\", those whose 403, \
summary or description says \"SuperAdmin only\", and --exclude-tag / \
--exclude-path. {building_id}, {unit_id}, {owner_id} and {organization_id} (a parameter of \
that name, or {id} after buildings/, units/, owners/, organizations/) are learned after \
login; another id cannot be, and its route is written commented out with why; any other \
parameter takes the document's example, enum or default. The header says how many routes \
were found, covered, commented out and skipped.

Exit codes: 0 written; 1 the document could not be fetched (connection refused, timeout); \
2 bad input: not an OpenAPI 3 JSON document, a URL that answers an error, no route to \
cover, --out taken (nothing is written).";

const AUDIT_HELP: &str = "The checks:
  gzip               an authenticated list of 1 KiB or more (GET /api/v1/accounts, else
                     /api/v1/buildings) asked with Accept-Encoding: gzip comes back with
                     Content-Encoding: gzip
  caching headers    GET /api/v1/accounts and GET /api/v1/buildings/{id} carry an ETag
                     (or Last-Modified) and Cache-Control, and the same request made
                     conditional (If-None-Match / If-Modified-Since) is answered 304
  keep-alive         two requests to GET /api/v1/health on one TCP connection are both
                     answered and the first does not say Connection: close (http:// only)
  pool under burst   --burst concurrent clients send one GET the target serves for
                     --burst-duration: no 503, no other 5xx, no request over --timeout.
                     The GET is --burst-path, or the hottest GET (highest weight) of
                     --scenario, its placeholders filled as load fills them
  pg_stat_statements in shared_preload_libraries, and the extension created in the
                     database
  foreign keys       every foreign key has a valid, non-partial index that leads with
                     its columns; the evidence also names duplicate and prefix indexes
                     (with sizes) and counts those never scanned since the statistics
                     were reset
  guide's indexes    the guide's two indexes (idx_expenses_building_status and
                     idx_unit_owners_unit_active, as profile koprogo-vps defines them)
                     are served: by an index of that name or any other with the same
                     table, leading keys in order, condition and method (named)
  settings           every setting of --profile is in effect (tune-db's diff); a setting
                     saved but waiting for a restart counts as differing

The four database checks need --database-url (or DATABASE_URL); without it they are
\"not checked\". The application's own role will do: PostgreSQL hides
shared_preload_libraries from roles that are neither superuser nor members of
pg_read_all_settings, so with such a role that one setting is \"not checked: needs
pg_read_all_settings or superuser\" (pg_stat_statements is then asked through its own
view); the catalogs are readable by any role. A failed check names the tune-db command
that fixes it only when tune-db's plan for --profile would (with --fk-indexes or
--skip-invalid when needed). The audit only reads: HTTP GETs and one login; on the
database, SELECTs on a read-only session (default_transaction_read_only). Passwords,
tokens and the database password are never printed.

With --frontend DIR|URL (instead of --url) it audits a front end: a built directory
(Astro's or Vite's dist/) or a served one, whose pages are crawled from the URL through
same-site links (up to --max-pages). Every JavaScript and CSS file is measured raw,
gzipped (level 9) and brotli-compressed (quality 11); each page's first load (scripts,
module preloads, Astro islands hydrated on load, idle or only, their static imports;
stylesheets and their @imports) is set against what it loads lazily (dynamic import(),
islands hydrated on visibility or media); every JPEG and PNG is encoded as WebP (quality
80, sharp's default) to measure what it would save. The budgets (--budgets, TOML) are
compared on gzip sizes unless they say otherwise. The checks:
  file budgets       every file within its [[file]] limit (size-limit's model)
  page budgets       every page's first load within its [[page]] budget: script,
                     stylesheet, document, total (Lighthouse's budgets)
  code splitting     no page loads more than code_splitting.initial_js of JavaScript up
                     front while loading nothing lazily
  WebP images        no JPEG or PNG that WebP would shrink by images.min_webp_saving is
                     left without a WebP (next to it, or in a <picture>)
  <picture> w/ WebP  every <img> of a JPEG or PNG sits in a <picture> with a <source
                     type=\"image/webp\"> (or AVIF)
  broken references  every file the pages, modules and stylesheets reference exists,
                     every module parses
  compression        (URL) text files of 1 KiB or more come with Content-Encoding gzip or
                     br to Accept-Encoding: gzip, br
  caching headers    (URL) files with a content hash in their name (Vite's name.HASH.js)
                     have Cache-Control max-age of at least caching.fingerprinted_max_age
                     (a year) and immutable; files without one are not cached like that
  ETag               (URL) every file has an ETag, and If-None-Match is answered 304
--html FILE writes one self-contained page: the checks, a treemap of the bundles (the
bundle visualizer's view), the pages, files, images and headers.

Exit codes: 0 every check passed; 1 at least one check failed; 2 nothing failed but
something could not be checked (no --database-url, an https URL for keep-alive), or the
audit could not run at all (host unreachable, login refused, database unreachable,
invalid flags or budgets).

Examples:
  koprogo-perf audit --url http://127.0.0.1:8080 --database-url postgres://…
  koprogo-perf audit --url https://api.example.be --logins-file logins.txt --format json \\
    --out audit.json
  koprogo-perf audit --frontend frontend/dist --html frontend.html
  koprogo-perf audit --frontend http://127.0.0.1:4321/ --budgets my-budgets.toml --format json";

const REPORT_EXIT_CODES: &str = "Exit codes: 0 written; 1 the output could not be written; 2 invalid \
flags, or a run or baseline that cannot be read.";

const GATE_EXIT_CODES: &str = "Exit codes: 0 every check holds; 1 a threshold or a regression check \
failed (the failed checks and by how much are printed); 2 invalid flags or input (an unreadable run \
or baseline, a malformed thresholds file, nothing to check) or a --runs run that failed; 130 \
interrupted by Ctrl-C.

Examples:
  koprogo-perf gate reports/run --thresholds profiles/targets.toml
  koprogo-perf gate reports/run --baseline reports/baseline --thresholds ci.toml --junit gate.xml
  koprogo-perf gate --runs 5 --baseline reports/baseline -- demo --duration 10s --vus 20";

const EXIT_CODES: &str = "Exit codes: 0 the run completed (whatever the targets say); 1 it could \
not run, or the host stopped answering (the report of what was measured is still written); 2 invalid \
input (flags, the scenario, --out a file or an existing run without --force): nothing is run; 130 \
interrupted by Ctrl-C (report written, marked interrupted).";

const EXPERIMENT_HELP: &str = "Arms: baseline (the tuning guide's \"before\": every server switch \
off, pool 10, untuned database), tuned (every switch on, pool 20, the --profile's PostgreSQL settings \
and indexes), or baseline plus one optimization: pool20, no_pool_ping, account_cache, \
parallel_queries, gzip, http_cache_headers, pg_settings (the profile's settings), indexes (the \
profile's indexes); or tuned without one of those, e.g. tuned-gzip (what a switch is worth once \
the others have moved the bottleneck). Baseline is always run: every ratio is to it. Defaults: --scale 100, 100 users, \
--duration 30s per run, --repeat 3.

How: one embedded PostgreSQL cluster, the data seeded once into a template database (and a copy with \
the profile's indexes); each run gets a fresh copy (CREATE DATABASE ... TEMPLATE), a restarted cluster \
with its arm's settings, and its own server process. Runs go round by round, every arm in turn \
(A B A B ...), so that drift of a shared machine falls on every arm alike; with --repeat 2 or more \
the ratios get 95 % confidence intervals over the rounds.

Output (OUT: --out, default reports/experiment-<UTC timestamp>): OUT/experiment.json, OUT/report.html, \
OUT/runs/NN-ARM/run.json; `koprogo-perf report OUT` \
shows it again (table, markdown, json, html).

Exit codes: 0 every run completed; 1 a run or the setup failed (the runs before it are written); 2 \
invalid flags; 130 interrupted by Ctrl-C (what ran is written).

Examples:
  koprogo-perf experiment
  koprogo-perf experiment --arms baseline,tuned --scale 100 --duration 20s --repeat 1
  koprogo-perf experiment --each --duration 20s --repeat 3 --out reports/each
  koprogo-perf experiment --arms indexes,tuned,tuned-gzip,tuned-parallel_queries";

/// `experiment`.
#[derive(Debug, Args)]
pub struct ExperimentArgs {
    /// Arms to compare, comma-separated (see below); baseline is added when missing.
    #[arg(long, value_delimiter = ',', default_value = "baseline,tuned")]
    pub arms: Vec<String>,
    /// Every arm: baseline, baseline plus each optimization alone, then tuned.
    #[arg(long, conflicts_with = "arms")]
    pub each: bool,
    /// Runs per arm, in rounds.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// The tune-db profile of the arms that tune the database (tuned, pg_settings,
    /// indexes): koprogo-vps, auto, or a profile TOML file.
    #[arg(long, default_value = "koprogo-vps")]
    pub profile: String,
    #[command(flatten)]
    pub external: ExternalStackArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub scale: ScaleArgs,
}

/// `experiment --host`: a running KoproGo and its database instead of the embedded stack.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "External stack (a running KoproGo)")]
pub struct ExternalStackArgs {
    /// Experiment on a running KoproGo (e.g. http://127.0.0.1:8080) instead of the
    /// embedded stack. Only the database's arms apply there (baseline, pg_settings,
    /// indexes, tuned = both): each run's arm is applied through tune-db on
    /// --database-url before the run and rolled back after it; --scale is not used
    /// (seed the target first: seed --host).
    #[arg(long, value_name = "URL", requires = "database_url")]
    pub host: Option<String>,
    /// With --host: the PostgreSQL URL of its database, as a superuser (the arms run
    /// ALTER SYSTEM and CREATE INDEX CONCURRENTLY). Its password is never printed.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// With --host: credentials EMAIL:PASSWORD, repeatable (or KOPROGO_PERF_LOGINS).
    // Kept as text until the command resolves it: clap would echo a rejected value.
    #[arg(long = "login", value_name = "EMAIL:PASSWORD", requires = "host")]
    pub logins: Vec<String>,
    /// With --host: a logins file, e.g. the one seed --host wrote.
    #[arg(long, value_name = "FILE", requires = "host")]
    pub logins_file: Option<PathBuf>,
    /// With --host: the shell command that restarts its PostgreSQL, for the settings
    /// that need a restart (shared_buffers, …), as tune-db's --restart-cmd. Without
    /// it, an arm whose settings need a restart is refused before any run.
    #[arg(long, value_name = "CMD", requires = "host")]
    pub restart_cmd: Option<String>,
    /// With --host: what happens to the rows a writing scenario creates. `refuse`
    /// (the default): a scenario that writes is refused — use a read-only one.
    /// `delete`: after each run, the rows it created are deleted (the rows of each
    /// table the scenario POSTs to, e.g. expenses, whose created_at is after the run's
    /// start: only on a target nobody else writes to). `keep`: they stay, later runs
    /// read more data; the alternation spreads it over every arm alike, and the growth
    /// is reported.
    #[arg(long, value_enum, default_value_t = crate::engine::external::WritesPolicy::Refuse, requires = "host")]
    pub writes: crate::engine::external::WritesPolicy,
    /// With --host on this machine: the server's pid, for its CPU and memory.
    #[arg(long, value_name = "PID", requires = "host")]
    pub server_pid: Option<u32>,
    /// With --host on this machine: the postmaster's pid.
    #[arg(long, value_name = "PID", requires = "host")]
    pub postgres_pid: Option<u32>,
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL. Without it, a throwaway embedded cluster is started.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Leave the embedded cluster running when the command ends, and print its URL and
    /// how to stop it.
    #[arg(long)]
    pub keep_db: bool,
}

/// Seed data size and randomness.
#[derive(Debug, Clone, Args)]
pub struct ScaleArgs {
    /// Data scale: 1 is KoproGo's realistic seed (3 organizations, 23 buildings, 190
    /// units, 1,150 expenses); N multiplies the organizations.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub scale: u32,
    /// Seed of the data generator: the same number gives the same data.
    #[arg(long, default_value_t = 42)]
    pub rng_seed: u64,
}

impl ScaleArgs {
    /// The data a local stack seeds.
    pub fn resolve(&self) -> crate::engine::stack::Scale {
        crate::engine::stack::Scale {
            scale: self.scale,
            rng_seed: self.rng_seed,
        }
    }
}

/// `seed`.
#[derive(Debug, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub scale: ScaleArgs,
    /// Replace existing data (TRUNCATE every reference table first).
    #[arg(long)]
    pub reset: bool,
    /// Seed a running KoproGo through its own API instead of a database (e.g.
    /// http://127.0.0.1:8080): the same data set, created as its superadmin (--admin);
    /// a second run finishes what an interrupted one left and creates nothing twice.
    /// --database-url is not used then.
    #[arg(long, value_name = "URL", conflicts_with_all = ["reset", "keep_db"], help_heading = "Through KoproGo's API")]
    pub host: Option<String>,
    /// With --host: KoproGo's superadmin, EMAIL:PASSWORD (or KOPROGO_PERF_ADMIN, which
    /// other users cannot see in the process list). Never printed.
    // Kept as text until the command resolves it: clap would echo a rejected value.
    #[arg(
        long,
        value_name = "EMAIL:PASSWORD",
        env = "KOPROGO_PERF_ADMIN",
        hide_env_values = true,
        help_heading = "Through KoproGo's API"
    )]
    pub admin: Option<String>,
    /// With --host: the file the created logins go to, mode 0600, one EMAIL:PASSWORD a
    /// line (the syndics; other roles commented out), which load, audit and experiment
    /// take as --logins-file; a resumed run reads its passwords back from it.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "koprogo-logins.txt",
        help_heading = "Through KoproGo's API"
    )]
    pub logins_out: PathBuf,
    /// With --host: requests in flight at most.
    #[arg(long, value_name = "N", default_value_t = 16,
          value_parser = clap::value_parser!(u32).range(1..=256), help_heading = "Through KoproGo's API")]
    pub concurrency: u32,
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub scale: ScaleArgs,
    #[command(flatten)]
    pub server: ServerArgs,
    /// Internal: started by `load`/`demo` as a separate process (so that its CPU, memory
    /// and flamegraph are its own); exits when its parent does.
    #[arg(long, hide = true)]
    pub child: bool,
    /// How serve says it listens: `sentence` (the URL, the database and a login to
    /// try, for a person) or `json` (one line, `{"serving":"127.0.0.1:PORT"}`, for a
    /// program that started it).
    #[arg(long, value_enum, default_value = "sentence")]
    pub announce: Announce,
    /// Internal, with --child: where the built-in CPU sampler writes its stacks when the
    /// parent signals (SIGUSR1 starts it, SIGUSR2 stops it and writes).
    #[arg(long, hide = true, requires = "child")]
    pub profile_to: Option<PathBuf>,
}

/// Options shared by `load` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Concurrent virtual users (goose users).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100000))]
    pub vus: u64,
    /// Constant-rate mode: requests per second across all users, each sent at its
    /// scheduled time and timed from it (coordinated-omission correction, as wrk2);
    /// --vus is then the maximum concurrency. Without it, each user sends as soon as
    /// its previous response is in (closed loop).
    #[arg(long, value_parser = parse_rate)]
    pub rate: Option<f64>,
    /// Steady-state duration, after the ramp-up: e.g. 30s, 2m, 1h (whole seconds, 1s to
    /// 30 days).
    #[arg(long, value_parser = parse_positive_whole_seconds)]
    pub duration: Option<Duration>,
    /// Users are started evenly over this period; its requests are not in the statistics.
    #[arg(long, default_value = "5s", value_parser = parse_whole_seconds)]
    pub ramp_up: Duration,
    /// Scenario name (api-load, admin-load, realistic, authenticated-realistic,
    /// buildings-list, health) or path to a scenario TOML file.
    /// [default: api-load, or the --plan preset's own]
    #[arg(long)]
    pub scenario: Option<String>,
    /// A test plan: a preset following KoproGo's load-test scripts — warmup (5 users,
    /// 30 s, health), light (10 users, 2 min), medium (50, 5 min), heavy (100, 3 min),
    /// soak (25, 30 min), spike (10 → 50 → 200 → 50 → 10 users, 30 s each) — with their
    /// expectations as the run's thresholds; --ramp-up is each level's ramp and
    /// --duration replaces the holds' length. Or steps `LEVEL,DURATION;…`, each reaching
    /// a number of users (`10,5s;10,1m;0,5s`) or a rate (`100/s,10s;500/s,1m`) from the
    /// previous one; a step that keeps the level is steady state, the others are ramps.
    #[arg(long, conflicts_with = "rate")]
    pub plan: Option<String>,
    /// Output directory for run.json and latency.hgrm [default: reports/<UTC timestamp>/,
    /// never shared by two runs]; refused when it already holds a run, unless --force.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Replace the run already in --out (its run.json, histograms, report.html and
    /// flamegraph are removed first; for an experiment, its runs/ too).
    #[arg(long)]
    pub force: bool,
    /// Per-request timeout (whole seconds, at least 1s); also bounds the check that the
    /// host answers before the run.
    #[arg(long, default_value = "30s", value_parser = parse_positive_whole_seconds)]
    pub timeout: Duration,
    /// The run fails (exit 1) when more than this share of its requests failed or were
    /// not sent: a percentage (`1%`, `0.5%`) or a fraction (`0.01`).
    #[arg(long, default_value = "1%", value_parser = parse_error_rate)]
    pub max_error_rate: f64,
    /// Sample the server's CPU during the steady state and write flamegraph.svg.
    #[arg(long)]
    pub flamegraph: bool,
    /// What samples the server for --flamegraph: `perf` (`$PERF` or perf on the PATH),
    /// `builtin` (a sampler inside the bundled reference server), or `auto`: perf when
    /// it can run, else the built-in sampler for the bundled server.
    #[arg(long, value_enum, default_value_t = Profiler::Auto, requires = "flamegraph")]
    pub profiler: Profiler,
    /// Statements to report from pg_stat_statements, by total time.
    #[arg(long, default_value_t = 10)]
    pub pgss_top: usize,
    /// Reset pg_stat_statements before the run instead of diffing snapshots (needs the
    /// right to; resets the counters for every database of the server).
    #[arg(long)]
    pub pgss_reset: bool,
    /// Grid for CO2 per request: a region of profiles/carbon.toml (FR, BE, EU, …) or a
    /// number of g CO2/kWh.
    #[arg(long, default_value = "BE")]
    pub region: String,
    /// No live progress on stderr (it is shown on a terminal, and as a line every 10 s
    /// otherwise).
    #[arg(long, short)]
    pub quiet: bool,
    /// Internal: the koprogo-perf binary that runs the reference server as its own
    /// process [default: this executable].
    #[arg(long, hide = true)]
    pub server_bin: Option<PathBuf>,
}

pub use crate::measure::Profiler;

fn parse_error_rate(text: &str) -> Result<f64, String> {
    let (number, scale) = match text.trim().strip_suffix('%') {
        Some(n) => (n, 0.01),
        None => (text.trim(), 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && (0.0..=1.0).contains(&(x * scale)) => Ok(x * scale),
        _ => Err(format!(
            "`{text}` is not an error rate: give a percentage from 0% to 100% (e.g. 1%) or a fraction (0.01)"
        )),
    }
}

fn parse_rate(text: &str) -> Result<f64, String> {
    match text.trim_end_matches("/s").parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 10_000_000.0 => Ok(r),
        _ => Err(format!(
            "`{text}` is not a rate: give requests per second, e.g. 500 (more than 0)"
        )),
    }
}

/// `load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Base URL of a running KoproGo API (e.g. http://127.0.0.1:8080). Without it, the
    /// embedded PostgreSQL and the seeded reference server are started in-process.
    #[arg(long)]
    pub host: Option<String>,
    /// With --host: credentials EMAIL:PASSWORD, repeatable; users are spread over them.
    /// Without --login and --logins-file, read from KOPROGO_PERF_LOGINS (separated by
    /// commas or spaces). Never printed.
    // Kept as text until the command resolves it: clap would echo a rejected value,
    // password included.
    #[arg(long = "login", value_name = "EMAIL:PASSWORD")]
    pub logins: Vec<String>,
    /// With --host: a file of credentials, one EMAIL:PASSWORD a line (the password is
    /// everything after the first colon: any character; blank lines and # comments
    /// skipped). Unlike --login, not visible to other users in the process list.
    #[arg(long, value_name = "FILE")]
    pub logins_file: Option<PathBuf>,
    /// With --host on this machine: the server's pid, for its CPU, memory and flamegraph.
    #[arg(long, value_name = "PID")]
    pub server_pid: Option<u32>,
    /// With --host on this machine: the postmaster's pid (its backends are found).
    #[arg(long, value_name = "PID")]
    pub postgres_pid: Option<u32>,
    /// With --host: start the server under test with this command (split as a shell
    /// would, run without one, in the tool's environment), wait until --host answers,
    /// load it, and stop it at the end (SIGINT, then SIGTERM and SIGKILL to its process
    /// group), whatever happens. Its CPU, memory, flamegraph and --heap-profile are then
    /// measured as the reference server's. E.g. --server-cmd
    /// "./target/release/koprogo-api".
    #[arg(
        long,
        value_name = "\"CMD ARGS\"",
        requires = "host",
        conflicts_with = "server_pid"
    )]
    pub server_cmd: Option<String>,
    /// With --server-cmd: how long the command's server may take to answer on --host.
    #[arg(long, default_value = "120s", value_parser = parse_positive_whole_seconds, requires = "server_cmd")]
    pub server_start_timeout: Duration,
    #[command(flatten)]
    pub heap: HeapArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub scale: ScaleArgs,
    #[command(flatten, next_help_heading = "Reference server (without --host)")]
    pub server: ServerArgs,
}

/// `--heap-profile`, for the runs that start their server (`load`, `demo`).
#[derive(Debug, Clone, Args)]
pub struct HeapArgs {
    /// Record the server's heap with heaptrack ($HEAPTRACK or heaptrack on the PATH;
    /// Debian's heaptrack package): the heap over time, its peak during the steady state
    /// and the allocation sites holding memory then, in run.json `heap`, the report and
    /// heap-flamegraph.svg. For the reference server, or with --host the one --server-cmd
    /// starts. It slows the server (every allocation is recorded): its req/s and latency
    /// are not those of an unprofiled run (README, "What a run costs").
    #[arg(long)]
    pub heap_profile: bool,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub heap: HeapArgs,
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub scale: ScaleArgs,
}

/// `tune-db`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("mode").args(["dry_run", "apply", "rollback"]))]
pub struct TuneDbArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    /// Profile: koprogo-vps (the guide's settings and indexes), auto (PGTune's rules for
    /// this machine, see --memory …), or a path to a profile TOML file.
    #[arg(long, default_value = "koprogo-vps")]
    pub profile: String,
    /// Show the diff and change nothing (the default).
    #[arg(long)]
    pub dry_run: bool,
    /// Apply: save a rollback file, ALTER SYSTEM, reload (restart the embedded cluster
    /// or run --restart-cmd when needed), build the indexes, verify.
    #[arg(long)]
    pub apply: bool,
    /// Restore the settings saved in a rollback file and drop the indexes that apply
    /// created.
    #[arg(long, value_name = "FILE")]
    pub rollback: Option<PathBuf>,
    /// Command that restarts an external PostgreSQL when a setting needs it (e.g.
    /// "systemctl restart postgresql").
    #[arg(long, value_name = "CMD")]
    pub restart_cmd: Option<String>,
    /// Also EXPLAIN (ANALYZE, BUFFERS) the guide's hot queries, written for the schema
    /// present; a query that fails is shown with its error (always done around the
    /// index builds of --apply).
    #[arg(long)]
    pub explain: bool,
    /// Skip the profile's indexes that cannot exist on this database (no such table or
    /// column, a condition PostgreSQL rejects), saying so, instead of refusing the
    /// whole profile.
    #[arg(long)]
    pub skip_invalid: bool,
    /// Also build a btree index (concurrently, named idx_<table>_<columns>) for every
    /// foreign key that no valid, non-partial index leads with.
    #[arg(long)]
    pub fk_indexes: bool,
    /// Index advice from the workload: the top statements by total time (of --from's
    /// run, or the live pg_stat_statements), candidates from their generic plans, scored
    /// with hypothetical indexes (hypopg) as planner cost saved × calls less an estimate
    /// of the write cost. Changes nothing; --out writes the advised indexes as a profile.
    #[arg(long, conflicts_with_all = ["apply", "rollback"])]
    pub advise: bool,
    /// --advise: the run directory (or run.json) whose pg_stat_statements delta to use
    /// [default: the live view].
    #[arg(long, value_name = "RUN_DIR", requires = "advise")]
    pub from: Option<PathBuf>,
    /// --advise: write the advised indexes here as a profile (tune-db --apply --profile
    /// FILE, experiment --profile FILE).
    #[arg(long, value_name = "FILE", requires = "advise")]
    pub out: Option<PathBuf>,
    /// --advise: how many statements to take, by total time.
    #[arg(long, default_value = "20", requires = "advise")]
    pub top: usize,
    /// auto profile: RAM to size for (e.g. 1GB) [default: this machine's].
    #[arg(long)]
    pub memory: Option<String>,
    /// auto profile: CPUs to size for [default: this machine's].
    #[arg(long)]
    pub cpus: Option<u32>,
    /// auto profile: max_connections to size work_mem for [default: by workload].
    #[arg(long)]
    pub connections: Option<u32>,
    /// auto profile: storage kind.
    #[arg(long, value_enum, default_value = "ssd")]
    pub storage: crate::tune::profile::Storage,
    /// auto profile: workload kind.
    #[arg(long, value_enum, default_value = "web")]
    pub workload: crate::tune::profile::Workload,
}

/// `serve --announce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Announce {
    Sentence,
    Json,
}

/// Output of `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    Table,
    Markdown,
    Json,
    Html,
}

/// `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A run directory or its run.json; a directory of several runs is pooled
    /// [default: the newest run under reports/].
    pub run: Option<PathBuf>,
    /// A run (directory or run.json), or a directory of runs (pooled), to compare with.
    #[arg(long, value_name = "RUN|DIR")]
    pub baseline: Option<PathBuf>,
    /// table (terminal), markdown (GitHub), json (the run, or the run with the
    /// comparison), html (one self-contained page with charts).
    #[arg(long, value_enum, default_value = "table")]
    pub format: ReportFormat,
    /// Write to this file instead of standard output [default for html:
    /// report.html in the run's directory].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// Output of `gate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GateFormat {
    Table,
    Markdown,
    Json,
}

/// `gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// The run to judge: a run directory, its run.json, or a directory of several runs
    /// [default: the newest run under reports/; not with --runs].
    pub run: Option<PathBuf>,
    /// TOML file with a `thresholds` array, e.g. ["p99 < 5ms", "error_rate < 1%",
    /// "p95 <= 50ms for GET /api/v1/buildings"] (profiles/targets.toml is one).
    #[arg(long, value_name = "FILE")]
    pub thresholds: Option<PathBuf>,
    /// A run, or a directory of several runs, to check for regressions against.
    #[arg(long, value_name = "RUN|DIR")]
    pub baseline: Option<PathBuf>,
    /// Make the candidate runs now: run the load N times (the `demo` or `load` command
    /// line after `--`, `demo` by default), each into DIR/run-K (DIR: that command's
    /// --out, default reports/gate-<timestamp>).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: Option<u32>,
    /// Significance level of the regression test.
    #[arg(long, default_value = "0.05", value_parser = parse_alpha)]
    pub alpha: f64,
    /// Smallest change that counts as a regression, in % of the baseline's median.
    #[arg(long, value_name = "PCT", default_value = "5", value_parser = parse_percent)]
    pub min_effect: f64,
    /// With a single run on either side (no significance test possible): the change in
    /// % that fails. 300 means four times slower.
    #[arg(long, value_name = "PCT", default_value = "10", value_parser = parse_percent)]
    pub tolerance: f64,
    /// The figures compared with the baseline, comma-separated.
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "rps,p50,p90,p95,p99,p999",
        value_parser = ["rps", "p50", "p90", "p95", "p99", "p999"]
    )]
    pub metrics: Vec<String>,
    /// Also write the checks as JUnit XML (one test case per check).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// How to print the checks (Markdown is also appended to $GITHUB_STEP_SUMMARY when
    /// that is set).
    #[arg(long, value_enum, default_value = "table")]
    pub format: GateFormat,
    /// Write the checks to this file instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// With --runs: the command line of each run (`demo …` or `load …`).
    #[arg(last = true, value_name = "LOAD COMMAND")]
    pub load: Vec<String>,
}

/// `5`, `5%` or `0.5` → the fraction (0.05, 0.05, 0.005).
fn parse_percent(text: &str) -> Result<f64, String> {
    let n: f64 = text
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{text}` is not a percentage (e.g. 5 or 5%)"))?;
    if !(n.is_finite() && n >= 0.0) {
        return Err(format!("`{text}`: a percentage is 0 or more"));
    }
    Ok(n / 100.0)
}

fn parse_alpha(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(a) if a > 0.0 && a < 1.0 => Ok(a),
        _ => Err(format!(
            "`{text}`: a significance level between 0 and 1, e.g. 0.05"
        )),
    }
}

/// `merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Run directories written by `load` (run.json, and latency.hlog when present), at
    /// least two.
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// Directory for the merged run.json, latency.hgrm and latency.hlog.
    #[arg(long)]
    pub out: PathBuf,
    /// Replace the run in --out when it already holds one.
    #[arg(long)]
    pub force: bool,
}

/// `scenario`.
#[derive(Debug, Args)]
pub struct ScenarioArgs {
    /// The OpenAPI 3 document (JSON): an http(s) URL (e.g.
    /// http://127.0.0.1:8080/api-docs/openapi.json, fetched without credentials) or a
    /// file.
    #[arg(long, value_name = "URL|FILE")]
    pub from_openapi: String,
    /// Where to write the scenario TOML (give it to load --scenario). Default: standard
    /// output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Replace --out when it exists.
    #[arg(long)]
    pub force: bool,
    /// Prefix of the documented paths that do not start with it ("/" for none).
    /// [default: the path of the document's first server URL, else /api/v1, the scope
    /// KoproGo's document is relative to]
    #[arg(long, value_name = "PATH")]
    pub base_path: Option<String>,
    /// Leave out the routes with this tag (case-insensitive; repeatable).
    #[arg(long, value_name = "TAG")]
    pub exclude_tag: Vec<String>,
    /// Leave out the routes under this path prefix, base path included (e.g.
    /// /api/v1/gdpr; repeatable).
    #[arg(long, value_name = "PREFIX")]
    pub exclude_path: Vec<String>,
}

/// Output of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuditFormat {
    Table,
    Json,
}

/// `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Base URL of the KoproGo API to check, without /api/v1 (e.g. http://127.0.0.1:8080).
    #[arg(
        long,
        required_unless_present = "frontend",
        conflicts_with = "frontend"
    )]
    pub url: Option<String>,
    /// Audit a front end instead of the API: its built directory (e.g. frontend/dist) or
    /// the URL of its first page (e.g. http://127.0.0.1:4321/).
    #[arg(long, value_name = "DIR|URL")]
    pub frontend: Option<String>,
    /// With --frontend: the budgets, a TOML file or a shipped name (see
    /// profiles/frontend-budgets.toml).
    #[arg(long, value_name = "FILE", default_value = "frontend-budgets")]
    pub budgets: String,
    /// With --frontend: also write the HTML report with the bundles' treemap to this file.
    #[arg(long, value_name = "FILE", requires = "frontend")]
    pub html: Option<PathBuf>,
    /// With --frontend URL: the most pages the crawl visits.
    #[arg(long, value_name = "N", default_value_t = 100, requires = "frontend",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_pages: u32,
    /// PostgreSQL URL of the API's database, for the four database checks (read-only;
    /// the application's own role will do, a superuser or pg_read_all_settings member
    /// also sees shared_preload_libraries). Without it they are not checked.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Credentials EMAIL:PASSWORD for the authenticated checks (the first one is used).
    /// Without --login and --logins-file, read from KOPROGO_PERF_LOGINS. Never printed.
    /// [default: the reference seed's first demo login]
    // Kept as text until the command resolves it: clap would echo a rejected value,
    // password included.
    #[arg(
        long = "login",
        value_name = "EMAIL:PASSWORD",
        conflicts_with = "frontend"
    )]
    pub logins: Vec<String>,
    /// A file of credentials, one EMAIL:PASSWORD a line (the password is everything after
    /// the first colon; blank lines and # comments skipped); the first one is used.
    #[arg(long, value_name = "FILE", conflicts_with = "frontend")]
    pub logins_file: Option<PathBuf>,
    /// The settings to compare with: koprogo-vps (the guide's), auto (PGTune's rules for
    /// this machine) or a profile TOML file.
    #[arg(long, default_value = "koprogo-vps", conflicts_with = "frontend")]
    pub profile: String,
    /// The scenario whose hottest GET (highest weight, the first of equals) the burst
    /// sends when --burst-path is not given: a name (api-load, health, buildings-list)
    /// or a scenario TOML file.
    #[arg(long, default_value = "api-load", conflicts_with_all = ["burst_path", "frontend"])]
    pub scenario: String,
    /// The GET the burst sends, relative to --url (e.g. /api/v1/buildings); scenario
    /// placeholders such as {building_id} are filled as load fills them.
    #[arg(long, value_name = "PATH", conflicts_with = "frontend")]
    pub burst_path: Option<String>,
    /// Concurrent clients of the pool check's burst.
    #[arg(long, value_name = "N", default_value_t = 200, conflicts_with = "frontend",
          value_parser = clap::value_parser!(u32).range(1..=2000))]
    pub burst: u32,
    /// How long the burst lasts (at most 60 s).
    #[arg(long, default_value = "3s", value_parser = parse_burst_duration,
          conflicts_with = "frontend")]
    pub burst_duration: Duration,
    /// Per-request timeout; in the burst, a request slower than this fails the check
    /// (3 s is the guide's pool acquire timeout).
    #[arg(long, default_value = "3s", value_parser = parse_positive_duration)]
    pub timeout: Duration,
    /// How to print the checks.
    #[arg(long, value_enum, default_value_t = AuditFormat::Table)]
    pub format: AuditFormat,
    /// Also write the checks as JSON to this file (e.g. audit.json).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn parse_burst_duration(text: &str) -> Result<Duration, String> {
    match parse_positive_duration(text)? {
        d if d > Duration::from_secs(60) => Err(format!(
            "`{text}`: a burst is short, at most 60s (use `load` for longer runs)"
        )),
        d => Ok(d),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed_and_rejects_bad_flags() {
        Cli::command().debug_assert();
        assert!(Cli::try_parse_from(["koprogo-perf", "load", "--vus", "0"]).is_err());
        assert!(Cli::try_parse_from(["koprogo-perf", "load", "--duration", "soon"]).is_err());
        assert!(Cli::try_parse_from(["koprogo-perf", "demo", "--scale", "0"]).is_err());
        let cli = Cli::try_parse_from(["koprogo-perf", "demo", "--duration", "10s", "--vus", "20"])
            .unwrap();
        match cli.command {
            Command::Demo(d) => {
                assert_eq!(d.run.duration, Some(Duration::from_secs(10)));
                assert_eq!(d.run.vus, 20);
            }
            other => panic!("parsed as {other:?}"),
        }
    }
}
