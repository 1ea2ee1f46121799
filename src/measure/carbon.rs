//! CO2 per request: what one request of a run cost in energy and emissions, by the
//! Green Software Foundation's SCI with Cloud Carbon Footprint's coefficients.
//!
//! The model's constants live in `profiles/carbon.toml`, each with its source; [`Model`]
//! is that file checked once. [`compute`] turns what a run measured ([`Inputs`]) into a
//! [`Carbon`] section for run.json:
//!
//! ```text
//! u        = (server + Postgres CPU-s) / (wall_s × vCPUs), clamped to [0, 1]
//! W(u)     = min_watts + u × (max_watts − min_watts)             per vCPU
//! cpu      = CPU-s × W(u) / 3600 / 1000 × PUE                     kWh
//! memory   = (server + Postgres mean RSS) / 1e9 × W/GB × wall_s / 3600 / 1000 × PUE
//! network  = bytes / 1e9 × kWh/GB (× PUE when applies_to_network, as CCF does)
//! embodied = CPU-s / 3600 × server g / lifespan h / host vCPUs    g
//! g/request = ((cpu + memory + network) × grid g/kWh + embodied) / requests
//! ```
//!
//! The load generator's CPU is not charged: it stands in for the users' browsers. For
//! comparison, [`Carbon::koprogo_method_g_per_request`] is what KoproGo's published
//! method (network bytes / 1000 × 0.006 g/KB) gives for the same run. Every number
//! used goes into [`Carbon::inputs`], so anyone can recompute the figure by hand.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::diagnostic::{line_of, one_line, toml_error};

/// The model shipped with the tool, used when `./profiles/carbon.toml` is absent.
pub const BUILTIN: &str = include_str!("../../profiles/carbon.toml");

/// Where [`Model::load`] looks first, relative to the working directory.
pub const LOCAL_PATH: &str = "profiles/carbon.toml";

/// Name of the built-in model in messages and in [`CarbonInputs::model_source`].
const BUILTIN_SOURCE: &str = "builtin:carbon";

const SECONDS_PER_HOUR: f64 = 3600.0;
const WH_PER_KWH: f64 = 1000.0;
const BYTES_PER_GB: f64 = 1e9;
const BYTES_PER_KB: f64 = 1000.0;
const G_PER_KG: f64 = 1000.0;

/// A carbon model, region or input that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CarbonError {
    #[error("cannot read carbon model {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// Malformed TOML, a missing or unknown key, a value out of range.
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
    /// Several of the above, in file order.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<CarbonError>),
    /// `--region` that is neither a name nor a usable number.
    #[error("region `{region}`: {problem}")]
    BadRegion { region: String, problem: String },
    /// A region name the model does not list.
    #[error(
        "unknown region `{name}`: use one of {} or a grid intensity in g CO2e/kWh (e.g. 80)",
        known.join(", ")
    )]
    UnknownRegion { name: String, known: Vec<String> },
    /// Measurements that give no per-request figure (no request, no time, …).
    #[error("cannot compute CO2 per request: {0}")]
    Inputs(String),
}

/// The model's constants, checked: every number finite and in range. Build it with
/// [`Model::load`] or [`Model::parse`].
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Where it came from: a path, or `builtin:carbon`.
    source: String,
    provider: String,
    cpu_min_watts: f64,
    cpu_max_watts: f64,
    memory_watts_per_gb: f64,
    network_kwh_per_gb: f64,
    pue: f64,
    pue_applies_to_network: bool,
    /// In file order, as spelled in the file.
    regions: Vec<(String, f64)>,
    embodied_server_kg_co2e: f64,
    embodied_lifespan_hours: f64,
    embodied_host_vcpus: u32,
    koprogo_g_per_kb: f64,
}

impl Model {
    /// `./profiles/carbon.toml` when present (so edits take effect without a rebuild),
    /// else the copy built into the binary.
    pub fn load() -> Result<Model, CarbonError> {
        let local = Path::new(LOCAL_PATH);
        if local.is_file() {
            let text = std::fs::read_to_string(local).map_err(|source| CarbonError::Read {
                path: LOCAL_PATH.to_string(),
                source,
            })?;
            return Model::parse(&text, LOCAL_PATH);
        }
        Model::parse(BUILTIN, BUILTIN_SOURCE)
    }

    /// Checks model text; `file` names it in errors, which give its line. Reports every
    /// problem found, not only the first.
    pub fn parse(text: &str, file: &str) -> Result<Model, CarbonError> {
        let invalid = |offset: usize, message: String| CarbonError::Invalid {
            file: file.to_string(),
            line: line_of(text, offset),
            message: one_line(&message),
        };
        let raw: RawModel = toml::from_str(text).map_err(|e| {
            let (offset, message) = toml_error(&e);
            invalid(offset, message)
        })?;
        let mut errors = Vec::new();
        // A number that must be finite and at least `min`.
        let mut at_least = |value: &Spanned<f64>, min: f64, what: &str| -> f64 {
            let v = *value.get_ref();
            if !v.is_finite() || v < min {
                errors.push(invalid(
                    value.span().start,
                    format!("{what} = {v}: must be a number ≥ {min}"),
                ));
            }
            v
        };

        let cpu_min_watts = at_least(&raw.cpu.min_watts, 0.0, "cpu.min_watts");
        let cpu_max_watts = at_least(&raw.cpu.max_watts, cpu_min_watts, "cpu.max_watts");
        let memory_watts_per_gb = at_least(&raw.memory.watts_per_gb, 0.0, "memory.watts_per_gb");
        let network_kwh_per_gb = at_least(&raw.network.kwh_per_gb, 0.0, "network.kwh_per_gb");
        // A PUE below 1 would mean the facility uses less than its IT equipment.
        let pue = at_least(&raw.pue.factor, 1.0, "pue.factor");
        let koprogo_g_per_kb = at_least(&raw.koprogo.g_per_kb, 0.0, "koprogo.g_per_kb");
        let (embodied_server_kg_co2e, embodied_lifespan_hours, host_vcpus) = match &raw.embodied {
            Some(e) => (
                at_least(&e.server_kg_co2e, 0.0, "embodied.server_kg_co2e"),
                at_least(
                    &e.lifespan_hours,
                    f64::MIN_POSITIVE,
                    "embodied.lifespan_hours",
                ),
                Some(&e.host_vcpus),
            ),
            None => (0.0, 1.0, None),
        };
        let mut regions: Vec<(usize, String, f64)> = Vec::new();
        for (name, intensity) in raw.regions.get_ref() {
            let what = format!("regions.{}", name.get_ref());
            let v = at_least(intensity, 0.0, &what);
            regions.push((name.span().start, name.get_ref().clone(), v));
        }
        let embodied_host_vcpus = match host_vcpus {
            None => 1,
            Some(n) => match u32::try_from(*n.get_ref()) {
                Ok(n) if n >= 1 => n,
                _ => {
                    errors.push(invalid(
                        n.span().start,
                        format!("embodied.host_vcpus = {}: must be ≥ 1", n.get_ref()),
                    ));
                    1
                }
            },
        };

        regions.sort_by_key(|(at, _, _)| *at);
        for (i, (at, name, _)) in regions.iter().enumerate() {
            if !is_region_name(name) {
                errors.push(invalid(
                    *at,
                    format!("region `{name}`: letters, digits, `_` and `-` only"),
                ));
            } else if regions[..i]
                .iter()
                .any(|(_, other, _)| other.eq_ignore_ascii_case(name))
            {
                errors.push(invalid(
                    *at,
                    format!("region `{name}` listed twice (names are case-insensitive)"),
                ));
            }
        }
        if regions.is_empty() {
            errors.push(invalid(
                raw.regions.span().start,
                "[regions] lists no region".into(),
            ));
        }

        if !errors.is_empty() {
            errors.sort_by_key(|e| match e {
                CarbonError::Invalid { line, .. } => *line,
                _ => 0,
            });
            return Err(if errors.len() == 1 {
                errors.remove(0)
            } else {
                CarbonError::Many(errors)
            });
        }
        Ok(Model {
            source: file.to_string(),
            provider: raw.cpu.provider,
            cpu_min_watts,
            cpu_max_watts,
            memory_watts_per_gb,
            network_kwh_per_gb,
            pue,
            pue_applies_to_network: raw.pue.applies_to_network,
            regions: regions.into_iter().map(|(_, n, v)| (n, v)).collect(),
            embodied_server_kg_co2e,
            embodied_lifespan_hours,
            embodied_host_vcpus,
            koprogo_g_per_kb,
        })
    }

    /// Where the constants came from: a path, or `builtin:carbon`.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The region names the model lists, in file order.
    pub fn region_names(&self) -> Vec<&str> {
        self.regions.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The region's name (as the file spells it, or `custom`) and its grid intensity
    /// in g CO2e/kWh. Call it before a run, so that a mistyped `--region` fails fast.
    pub fn grid(&self, region: &Region) -> Result<(String, f64), CarbonError> {
        match region {
            Region::Custom(g) => Ok(("custom".to_string(), *g)),
            Region::Named(name) => self
                .regions
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(n, g)| (n.clone(), *g))
                .ok_or_else(|| CarbonError::UnknownRegion {
                    name: name.clone(),
                    known: self.regions.iter().map(|(n, _)| n.clone()).collect(),
                }),
        }
    }

    /// Embodied grams per vCPU-hour: server g / lifespan h / host vCPUs.
    pub fn embodied_g_per_cpu_hour(&self) -> f64 {
        self.embodied_server_kg_co2e * G_PER_KG
            / self.embodied_lifespan_hours
            / f64::from(self.embodied_host_vcpus)
    }
}

/// `--region`: a name from the model (FR, BE, EU, …, case-insensitive) or a number of
/// g CO2e/kWh. Parsing checks the form only; [`Model::grid`] checks the name.
#[derive(Debug, Clone, PartialEq)]
pub enum Region {
    /// Upper-cased.
    Named(String),
    /// Grid intensity in g CO2e/kWh, finite and ≥ 0.
    Custom(f64),
}

impl FromStr for Region {
    type Err = CarbonError;

    fn from_str(s: &str) -> Result<Region, CarbonError> {
        let s = s.trim();
        let bad = |problem: &str| CarbonError::BadRegion {
            region: s.to_string(),
            problem: problem.to_string(),
        };
        if s.is_empty() {
            return Err(bad("give a region name (e.g. FR) or g CO2e/kWh (e.g. 80)"));
        }
        let numeric = s.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c));
        if numeric {
            return match s.parse::<f64>() {
                Ok(g) if g.is_finite() && g >= 0.0 => Ok(Region::Custom(g)),
                Ok(_) => Err(bad("a grid intensity must be a finite number ≥ 0 g/kWh")),
                Err(_) => Err(bad("not a number of g CO2e/kWh")),
            };
        }
        if !is_region_name(s) {
            return Err(bad(
                "a region name has letters, digits, `_` and `-` only (or give g CO2e/kWh)",
            ));
        }
        Ok(Region::Named(s.to_ascii_uppercase()))
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Region::Named(name) => f.write_str(name),
            Region::Custom(g) => write!(f, "{g}"),
        }
    }
}

/// What a run measured, over its steady state (after ramp-up).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// Requests completed in the steady state (the functional unit R).
    pub requests: u64,
    /// Steady-state wall seconds.
    pub wall_s: f64,
    /// The machine's vCPUs.
    pub cpus: usize,
    /// The server's CPU-seconds; `None` when not measured (external target, no pid).
    pub server_cpu_s: Option<f64>,
    /// Postgres' CPU-seconds (postmaster and all backends); `None` when not measured.
    pub postgres_cpu_s: Option<f64>,
    /// The server's mean RSS; `None` when not measured.
    pub server_mean_rss_bytes: Option<u64>,
    /// Postgres' mean RSS (all its processes together); `None` when not measured.
    pub postgres_mean_rss_bytes: Option<u64>,
    /// Request + response bytes on the wire, as measured by the generator.
    pub network_bytes: u64,
}

/// run.json `carbon`: one request's energy and emissions, with every number used.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Carbon {
    /// The `--region` used: a name from the model, or `custom`.
    pub region: String,
    /// Grid carbon intensity, g CO2e/kWh.
    pub grid_g_per_kwh: f64,
    /// g CO2e per request: the sum of `breakdown_g_per_request`.
    pub g_per_request: f64,
    /// g CO2e per request, by part.
    pub breakdown_g_per_request: Breakdown,
    /// kWh per request, PUE included (CPU, memory and network; embodied is not energy).
    pub energy_kwh_per_request: f64,
    /// Every number the figure was computed from, constants included.
    pub inputs: CarbonInputs,
    /// g CO2e per request by KoproGo's published method (network bytes / 1000 × g/KB),
    /// for comparison.
    pub koprogo_method_g_per_request: f64,
    /// What was not measured (and counted as 0) or had to be adjusted; `None` when the
    /// figure is complete.
    pub note: Option<String>,
}

/// g CO2e per request, by part.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Breakdown {
    /// Server + Postgres CPU energy × grid.
    pub cpu: f64,
    /// Server + Postgres memory energy × grid.
    pub memory: f64,
    /// Network energy × grid.
    pub network: f64,
    /// Manufacturing emissions charged to the CPU-seconds used.
    pub embodied: f64,
}

impl Breakdown {
    /// The four parts added up.
    pub fn total(&self) -> f64 {
        self.cpu + self.memory + self.network + self.embodied
    }
}

/// run.json `carbon.inputs`: the measurements and constants of one computation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CarbonInputs {
    /// Where the constants came from: a path, or `builtin:carbon`.
    pub model_source: String,
    /// Requests completed in the steady state.
    pub requests: u64,
    /// Steady-state wall seconds.
    pub wall_s: f64,
    /// The machine's vCPUs.
    pub cpus: usize,
    /// The server's CPU-seconds (`null`: not measured, counted as 0).
    pub server_cpu_s: Option<f64>,
    /// Postgres' CPU-seconds (`null`: not measured, counted as 0).
    pub postgres_cpu_s: Option<f64>,
    /// Server + Postgres CPU-seconds charged (the generator's are not).
    pub charged_cpu_s: f64,
    /// charged_cpu_s / (wall_s × cpus), clamped to [0, 1].
    pub utilisation: f64,
    /// Whose CCF coefficients: AWS, GCP, Azure.
    pub provider: String,
    /// Watts per vCPU when idle.
    pub cpu_min_watts: f64,
    /// Watts per vCPU at full load.
    pub cpu_max_watts: f64,
    /// min + utilisation × (max − min).
    pub cpu_watts_per_vcpu: f64,
    /// The server's mean RSS (`null`: not measured, counted as 0).
    pub server_mean_rss_bytes: Option<u64>,
    /// Postgres' mean RSS (`null`: not measured, counted as 0).
    pub postgres_mean_rss_bytes: Option<u64>,
    /// Server + Postgres mean RSS in GB (10^9 bytes).
    pub memory_gb: f64,
    /// Watts per GB of memory.
    pub memory_watts_per_gb: f64,
    /// Request + response bytes on the wire.
    pub network_bytes: u64,
    /// kWh per GB (10^9 bytes) transferred.
    pub network_kwh_per_gb: f64,
    /// Power Usage Effectiveness, applied to CPU and memory energy.
    pub pue: f64,
    /// Whether the PUE also multiplies network energy (CCF's choice).
    pub pue_applies_to_network: bool,
    /// Manufacturing emissions of one server, kg CO2e.
    pub embodied_server_kg_co2e: f64,
    /// The server's lifespan over which they are amortised, hours.
    pub embodied_lifespan_hours: f64,
    /// vCPUs sharing one server's embodied emissions.
    pub embodied_host_vcpus: u32,
    /// server_kg × 1000 / lifespan_hours / host_vcpus, g per vCPU-hour.
    pub embodied_g_per_cpu_hour: f64,
    /// KoproGo's network factor, g per KB (1000 bytes).
    pub koprogo_g_per_kb: f64,
}

/// One request's energy and emissions; see the module header for the arithmetic.
/// Missing server or Postgres measurements are counted as 0 and named in
/// [`Carbon::note`]; the generator's CPU is never charged.
pub fn compute(model: &Model, region: &Region, inputs: &Inputs) -> Result<Carbon, CarbonError> {
    let (region, grid) = model.grid(region)?;
    check_inputs(inputs)?;

    let mut missing = Vec::new();
    let mut measured = |value: Option<f64>, what: &str| {
        value.unwrap_or_else(|| {
            missing.push(what.to_string());
            0.0
        })
    };
    let charged_cpu_s = measured(inputs.server_cpu_s, "server CPU")
        + measured(inputs.postgres_cpu_s, "Postgres CPU");
    let mut rss = |value: Option<u64>, what: &str| {
        value.map(|b| b as f64).unwrap_or_else(|| {
            missing.push(what.to_string());
            0.0
        })
    };
    let rss_bytes = rss(inputs.server_mean_rss_bytes, "server memory")
        + rss(inputs.postgres_mean_rss_bytes, "Postgres memory");

    let capacity_s = inputs.wall_s * inputs.cpus as f64;
    let raw_utilisation = charged_cpu_s / capacity_s;
    let utilisation = raw_utilisation.clamp(0.0, 1.0);
    let watts = model.cpu_min_watts + utilisation * (model.cpu_max_watts - model.cpu_min_watts);
    let memory_gb = rss_bytes / BYTES_PER_GB;
    let network_pue = if model.pue_applies_to_network {
        model.pue
    } else {
        1.0
    };

    let cpu_kwh = charged_cpu_s * watts / SECONDS_PER_HOUR / WH_PER_KWH * model.pue;
    let memory_kwh =
        memory_gb * model.memory_watts_per_gb * inputs.wall_s / SECONDS_PER_HOUR / WH_PER_KWH
            * model.pue;
    let network_kwh =
        inputs.network_bytes as f64 / BYTES_PER_GB * model.network_kwh_per_gb * network_pue;
    let embodied_g_per_cpu_hour = model.embodied_g_per_cpu_hour();
    let embodied_g = charged_cpu_s / SECONDS_PER_HOUR * embodied_g_per_cpu_hour;

    let requests = inputs.requests as f64;
    let breakdown = Breakdown {
        cpu: cpu_kwh * grid / requests,
        memory: memory_kwh * grid / requests,
        network: network_kwh * grid / requests,
        embodied: embodied_g / requests,
    };

    let mut notes = Vec::new();
    if !missing.is_empty() {
        notes.push(format!(
            "not measured, counted as 0: {} (the figure is a lower bound)",
            missing.join(", ")
        ));
    }
    if raw_utilisation > 1.0 {
        notes.push(format!(
            "server + Postgres used {charged_cpu_s:.2} CPU-s in {:.1} s on {} vCPUs \
             (utilisation {raw_utilisation:.3}): utilisation clamped to 1",
            inputs.wall_s, inputs.cpus
        ));
    }
    if inputs.network_bytes == 0 {
        notes.push("no network bytes measured: network counted as 0".into());
    }

    Ok(Carbon {
        region,
        grid_g_per_kwh: grid,
        g_per_request: breakdown.total(),
        breakdown_g_per_request: breakdown,
        energy_kwh_per_request: (cpu_kwh + memory_kwh + network_kwh) / requests,
        koprogo_method_g_per_request: inputs.network_bytes as f64 / BYTES_PER_KB
            * model.koprogo_g_per_kb
            / requests,
        note: (!notes.is_empty()).then(|| notes.join("; ")),
        inputs: CarbonInputs {
            model_source: model.source.clone(),
            requests: inputs.requests,
            wall_s: inputs.wall_s,
            cpus: inputs.cpus,
            server_cpu_s: inputs.server_cpu_s,
            postgres_cpu_s: inputs.postgres_cpu_s,
            charged_cpu_s,
            utilisation,
            provider: model.provider.clone(),
            cpu_min_watts: model.cpu_min_watts,
            cpu_max_watts: model.cpu_max_watts,
            cpu_watts_per_vcpu: watts,
            server_mean_rss_bytes: inputs.server_mean_rss_bytes,
            postgres_mean_rss_bytes: inputs.postgres_mean_rss_bytes,
            memory_gb,
            memory_watts_per_gb: model.memory_watts_per_gb,
            network_bytes: inputs.network_bytes,
            network_kwh_per_gb: model.network_kwh_per_gb,
            pue: model.pue,
            pue_applies_to_network: model.pue_applies_to_network,
            embodied_server_kg_co2e: model.embodied_server_kg_co2e,
            embodied_lifespan_hours: model.embodied_lifespan_hours,
            embodied_host_vcpus: model.embodied_host_vcpus,
            embodied_g_per_cpu_hour,
            koprogo_g_per_kb: model.koprogo_g_per_kb,
        },
    })
}

/// Rejects measurements that give no meaningful per-request figure.
fn check_inputs(inputs: &Inputs) -> Result<(), CarbonError> {
    let fail = |m: String| Err(CarbonError::Inputs(m));
    if inputs.requests == 0 {
        return fail("no request completed".into());
    }
    if !(inputs.wall_s.is_finite() && inputs.wall_s > 0.0) {
        return fail(format!("wall time {} s: must be > 0", inputs.wall_s));
    }
    if inputs.cpus == 0 {
        return fail("the machine's vCPU count is 0".into());
    }
    for (value, what) in [
        (inputs.server_cpu_s, "server CPU-seconds"),
        (inputs.postgres_cpu_s, "Postgres CPU-seconds"),
    ] {
        if let Some(v) = value
            && !(v.is_finite() && v >= 0.0)
        {
            return fail(format!("{what} = {v}: must be ≥ 0"));
        }
    }
    Ok(())
}

fn is_region_name(s: &str) -> bool {
    !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// 1-based line of a byte offset.
/// `profiles/carbon.toml` as written, before checking.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    cpu: RawCpu,
    memory: RawMemory,
    network: RawNetwork,
    pue: RawPue,
    regions: Spanned<BTreeMap<Spanned<String>, Spanned<f64>>>,
    embodied: Option<RawEmbodied>,
    koprogo: RawKoprogo,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCpu {
    provider: String,
    min_watts: Spanned<f64>,
    max_watts: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMemory {
    watts_per_gb: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    kwh_per_gb: Spanned<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPue {
    factor: Spanned<f64>,
    applies_to_network: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEmbodied {
    server_kg_co2e: Spanned<f64>,
    lifespan_hours: Spanned<f64>,
    host_vcpus: Spanned<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKoprogo {
    g_per_kb: Spanned<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> Model {
        Model::parse(BUILTIN, BUILTIN_SOURCE).expect("the shipped carbon.toml is valid")
    }

    /// |a − b| ≤ 1e-12 × |b|.
    fn assert_close(actual: f64, expected: f64, what: &str) {
        let tolerance = 1e-12 * expected.abs();
        assert!(
            (actual - expected).abs() <= tolerance,
            "{what}: got {actual:e}, expected {expected:e}"
        );
    }

    /// 1000 requests in 10 s on 2 vCPUs; server 4 CPU-s, Postgres 6 CPU-s; 100 MB +
    /// 200 MB mean RSS; 20 MB on the wire (20 KB per request).
    fn case() -> Inputs {
        Inputs {
            requests: 1000,
            wall_s: 10.0,
            cpus: 2,
            server_cpu_s: Some(4.0),
            postgres_cpu_s: Some(6.0),
            server_mean_rss_bytes: Some(100_000_000),
            postgres_mean_rss_bytes: Some(200_000_000),
            network_bytes: 20_000_000,
        }
    }

    #[test]
    fn the_shipped_model_has_the_documented_constants() {
        let m = builtin();
        assert_eq!(m.provider, "AWS");
        assert_eq!((m.cpu_min_watts, m.cpu_max_watts), (0.74, 3.5));
        assert_eq!(m.memory_watts_per_gb, 0.392);
        assert_eq!(m.network_kwh_per_gb, 0.001);
        assert_eq!(m.pue, 1.135);
        assert!(m.pue_applies_to_network);
        assert_eq!(m.region_names(), ["FR", "BE", "EU"]);
        assert_eq!(m.grid(&Region::Named("FR".into())).unwrap().1, 56.0);
        assert_eq!(m.grid(&Region::Named("BE".into())).unwrap().1, 138.0);
        assert_eq!(m.grid(&Region::Named("EU".into())).unwrap().1, 242.0);
        assert_eq!(m.koprogo_g_per_kb, 0.006);
        // 1,000,000 g / 35040 h / 32 vCPU
        assert_close(
            m.embodied_g_per_cpu_hour(),
            1e6 / 35040.0 / 32.0,
            "g/vCPU-h",
        );
        assert!((m.embodied_g_per_cpu_hour() - 0.8918).abs() < 1e-4);
    }

    #[test]
    fn hand_computed_case_for_fr_and_be() {
        let m = builtin();
        let inputs = case();

        // u = (4 + 6) / (10 s × 2 vCPU) = 0.5
        // W = 0.74 + 0.5 × (3.5 − 0.74) = 0.74 + 1.38 = 2.12 W per vCPU
        // CPU:     10 CPU-s × 2.12 W = 21.2 J = 21.2 / 3600 Wh = 0.005888… Wh
        //          → 5.888…e-6 kWh × PUE 1.135 = 6.683…e-6 kWh
        let cpu_kwh = 21.2 / 3600.0 / 1000.0 * 1.135;
        // Memory:  (0.1 + 0.2) GB × 0.392 W = 0.1176 W × 10 s = 1.176 J
        //          → 1.176 / 3600 / 1000 kWh × 1.135 = 3.7077…e-7 kWh
        let memory_kwh = 1.176 / 3600.0 / 1000.0 * 1.135;
        // Network: 20 MB = 0.02 GB × 0.001 kWh/GB = 2e-5 kWh × 1.135 = 2.27e-5 kWh
        let network_kwh = 0.02 * 0.001 * 1.135;
        // Embodied: 10 CPU-s = 10/3600 vCPU-h × (1e6 g / 35040 h / 32 vCPU)
        //          = 0.0024773… g for the run
        let embodied_g = 10.0 / 3600.0 * (1e6 / 35040.0 / 32.0);

        for (name, grid) in [("FR", 56.0), ("BE", 138.0)] {
            let c = compute(&m, &Region::Named(name.into()), &inputs).unwrap();
            assert_eq!(c.region, name);
            assert_eq!(c.grid_g_per_kwh, grid);
            let b = &c.breakdown_g_per_request;
            // Each part × grid, ÷ 1000 requests.
            assert_close(b.cpu, cpu_kwh * grid / 1000.0, "cpu");
            assert_close(b.memory, memory_kwh * grid / 1000.0, "memory");
            assert_close(b.network, network_kwh * grid / 1000.0, "network");
            assert_close(b.embodied, embodied_g / 1000.0, "embodied");
            let total = (cpu_kwh + memory_kwh + network_kwh) * grid / 1000.0 + embodied_g / 1000.0;
            assert_close(c.g_per_request, total, "g_per_request");
            assert_close(
                c.energy_kwh_per_request,
                (cpu_kwh + memory_kwh + network_kwh) / 1000.0,
                "energy",
            );
            assert_eq!(c.note, None);
            assert_eq!(c.inputs.utilisation, 0.5);
            assert_close(c.inputs.cpu_watts_per_vcpu, 2.12, "watts");
            assert_close(c.inputs.memory_gb, 0.3, "memory GB");
        }

        // FR, written out: cpu 6.6838…e-6 kWh × 56 / 1000 = 3.7429…e-7 g;
        // network 2.27e-5 × 56 / 1000 = 1.2712e-6 g; embodied 2.4773e-6 g.
        let fr = compute(&m, &Region::Named("FR".into()), &inputs).unwrap();
        assert_close(fr.breakdown_g_per_request.network, 1.2712e-6, "FR network");
        // BE: network 2.27e-5 × 138 / 1000 = 3.1326e-6 g.
        let be = compute(&m, &Region::Named("BE".into()), &inputs).unwrap();
        assert_close(be.breakdown_g_per_request.network, 3.1326e-6, "BE network");
    }

    #[test]
    fn breakdown_sums_to_the_total_and_koprogo_method_gives_0_12_g() {
        let m = builtin();
        for region in ["FR", "BE", "EU", "300"] {
            let c = compute(&m, &region.parse().unwrap(), &case()).unwrap();
            let sum = c.breakdown_g_per_request.total();
            assert!(
                (sum - c.g_per_request).abs() <= 0.01 * c.g_per_request,
                "{region}: parts {sum} vs total {}",
                c.g_per_request
            );
            // 20 MB / 1000 requests = 20 KB per request × 0.006 g/KB.
            assert_close(c.koprogo_method_g_per_request, 0.12, "KoproGo method");
        }
    }

    #[test]
    fn custom_intensity_and_pue_off_for_network() {
        let text = BUILTIN.replace("applies_to_network = true", "applies_to_network = false");
        let m = Model::parse(&text, "test.toml").unwrap();
        let c = compute(&m, &Region::Custom(100.0), &case()).unwrap();
        assert_eq!(c.region, "custom");
        // 0.02 GB × 0.001 kWh/GB × 100 g/kWh / 1000 requests, no PUE.
        assert_close(c.breakdown_g_per_request.network, 2e-6, "network");
        assert!(!c.inputs.pue_applies_to_network);
        assert_eq!(c.inputs.model_source, "test.toml");
    }

    #[test]
    fn missing_measurements_count_as_zero_and_say_so() {
        let m = builtin();
        let inputs = Inputs {
            server_cpu_s: None,
            postgres_cpu_s: None,
            server_mean_rss_bytes: None,
            postgres_mean_rss_bytes: None,
            ..case()
        };
        let c = compute(&m, &Region::Named("FR".into()), &inputs).unwrap();
        let b = &c.breakdown_g_per_request;
        assert_eq!((b.cpu, b.memory, b.embodied), (0.0, 0.0, 0.0));
        assert_close(c.g_per_request, b.network, "only network");
        let note = c.note.expect("a note");
        for part in [
            "server CPU",
            "Postgres CPU",
            "server memory",
            "Postgres memory",
        ] {
            assert!(note.contains(part), "{note}");
        }
        // Only one missing: only that one is named.
        let inputs = Inputs {
            postgres_cpu_s: None,
            ..case()
        };
        let note = compute(&m, &Region::Named("FR".into()), &inputs)
            .unwrap()
            .note
            .unwrap();
        assert!(
            note.contains("Postgres CPU") && !note.contains("server"),
            "{note}"
        );
    }

    #[test]
    fn utilisation_is_clamped_and_noted() {
        let inputs = Inputs {
            server_cpu_s: Some(30.0),
            ..case()
        };
        let c = compute(&builtin(), &Region::Named("FR".into()), &inputs).unwrap();
        assert_eq!(c.inputs.utilisation, 1.0);
        assert_eq!(c.inputs.cpu_watts_per_vcpu, 3.5);
        assert!(c.note.unwrap().contains("clamped"));
    }

    #[test]
    fn inputs_without_a_per_request_figure_are_rejected() {
        let m = builtin();
        let fr = Region::Named("FR".into());
        for inputs in [
            Inputs {
                requests: 0,
                ..case()
            },
            Inputs {
                wall_s: 0.0,
                ..case()
            },
            Inputs { cpus: 0, ..case() },
            Inputs {
                server_cpu_s: Some(f64::NAN),
                ..case()
            },
        ] {
            let e = compute(&m, &fr, &inputs).unwrap_err();
            assert!(matches!(e, CarbonError::Inputs(_)), "{e}");
        }
    }

    #[test]
    fn regions_parse_by_name_or_number() {
        let m = builtin();
        let named = |s: &str| m.grid(&s.parse::<Region>().unwrap()).unwrap();
        assert_eq!(named("FR"), ("FR".to_string(), 56.0));
        assert_eq!(named("be"), ("BE".to_string(), 138.0));
        assert_eq!(named("EU"), ("EU".to_string(), 242.0));
        assert_eq!(" 123.4 ".parse::<Region>().unwrap(), Region::Custom(123.4));
        assert_eq!("0".parse::<Region>().unwrap(), Region::Custom(0.0));
        assert_eq!(named("123.4"), ("custom".to_string(), 123.4));

        let unknown = "XX".parse::<Region>().unwrap();
        let e = m.grid(&unknown).unwrap_err().to_string();
        assert!(e.contains("`XX`") && e.contains("FR, BE, EU"), "{e}");

        for bad in ["", "-5", "12abc", "1e999", "F R", "é"] {
            assert!(bad.parse::<Region>().is_err(), "{bad:?} parsed");
        }
        assert_eq!(Region::Custom(80.0).to_string(), "80");
    }

    #[test]
    fn a_malformed_model_names_file_and_line() {
        // Line 3: not TOML.
        let e = Model::parse("[cpu]\nprovider = \"AWS\"\nmin_watts = = 1\n", "bad.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bad.toml:3:"), "{e}");

        // Out of range, each on its own line.
        let text = BUILTIN
            .replace("max_watts = 3.5", "max_watts = 0.5")
            .replace("factor = 1.135", "factor = 0.9")
            .replace("BE = 138", "BE = -1");
        let e = Model::parse(&text, "carbon.toml").unwrap_err().to_string();
        let line = |needle: &str| line_of(&text, text.find(needle).unwrap());
        for (needle, key) in [
            ("max_watts = 0.5", "cpu.max_watts"),
            ("factor = 0.9", "pue.factor"),
            ("BE = -1", "regions.BE"),
        ] {
            let expected = format!("carbon.toml:{}: {key}", line(needle));
            assert!(e.contains(&expected), "{expected} not in\n{e}");
        }

        // Unknown key.
        let text = BUILTIN.replace("watts_per_gb = 0.392", "watt_per_gb = 0.392");
        let e = Model::parse(&text, "carbon.toml").unwrap_err().to_string();
        let expected = format!(
            "carbon.toml:{}:",
            line_of(&text, text.find("watt_per_gb").unwrap())
        );
        assert!(e.starts_with(&expected) && e.contains("watt_per_gb"), "{e}");

        // Duplicate region, case-insensitively.
        let text = BUILTIN.replace("EU = 242", "EU = 242\nfr = 60");
        let e = Model::parse(&text, "carbon.toml").unwrap_err().to_string();
        assert!(e.contains("`fr` listed twice"), "{e}");
    }

    #[test]
    fn carbon_serializes_as_plain_numbers() {
        let c = compute(&builtin(), &Region::Named("FR".into()), &case()).unwrap();
        let json = serde_json::to_value(&c).unwrap();
        for key in [
            "region",
            "grid_g_per_kwh",
            "g_per_request",
            "breakdown_g_per_request",
            "energy_kwh_per_request",
            "inputs",
            "koprogo_method_g_per_request",
            "note",
        ] {
            assert!(json.get(key).is_some(), "missing {key}");
        }
        // Tiny values stay exact, not rounded to 0.
        assert_eq!(
            json["breakdown_g_per_request"]["cpu"].as_f64().unwrap(),
            c.breakdown_g_per_request.cpu
        );
        assert!(c.breakdown_g_per_request.cpu > 0.0);
        let back: Carbon = serde_json::from_value(json).unwrap();
        assert_eq!(back.g_per_request, c.g_per_request);
    }
}
