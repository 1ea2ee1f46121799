//! Scenarios from an OpenAPI 3 document (`scenario --from-openapi`): the GET routes a
//! syndic may call, each a `[[request]]` whose path parameters are the ids a virtual
//! user learns after login, so that an operator can load the whole read surface of
//! their KoproGo version. KoproGo publishes its document with utoipa at
//! `/api-docs/openapi.json`.
//!
//! The document is read into raw structs that hold only what a scenario needs (paths,
//! operations, parameters, the components they refer to) and ignore the rest, so that
//! both OpenAPI 3.0 and 3.1 read: the crates that model the whole specification refuse
//! one or the other for schema details no scenario uses (`oas3` refuses 3.0's boolean
//! `exclusiveMinimum`, `openapiv3` 3.1's type arrays, which utoipa 5 writes).
//!
//! **Which routes.** The document does not say which role may call a route. Every GET
//! is taken but: a `deprecated` one; one with a path segment `admin` or `superadmin`
//! (KoproGo's `/admin/...` routes are its SuperAdmin's); one tagged with a tag whose name
//! holds `admin` (`Admin`, `SuperAdmin`); one whose 403 response, summary or description
//! says "SuperAdmin only" (KoproGo's annotations: "Forbidden - SuperAdmin only"); those of
//! `--exclude-tag` and `--exclude-path`.
//! A route a syndic is still refused shows as 403s in `load`'s table.
//!
//! **Paths.** KoproGo's utoipa annotations give paths relative to its `/api/v1` scope
//! (`/buildings`), but for `/api/v1/health`: a documented path not already under the
//! base is joined to it. The base is `--base-path`, else the path of the document's
//! first server URL, else `/api/v1`.
//!
//! **Parameters.** A path parameter named `building_id`, `unit_id`, `owner_id` or
//! `organization_id`, or `id` after `buildings/`, `units/`, `owners/` or
//! `organizations/`, becomes that placeholder. Another id (a UUID, or a name in `id` /
//! `_id`) cannot be learned: the route is written commented out, with why. Any other
//! parameter takes the document's example, first enum value or default, else the route
//! is commented out. Required query parameters are filled the same way; optional ones
//! are left out. A parameter declared `in: path` that the path does not hold (utoipa's
//! `IntoParams` without `parameter_in = Query`, as KoproGo's `PageRequest`) is a query
//! parameter in truth, and left out.

mod render;

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

pub use render::render;

/// A document that cannot be turned into a scenario.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DocumentError(pub String);

/// What to leave out, and where the paths are.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The prefix of documented paths that do not start with it (`/api/v1`); `Some("")`
    /// for none. `None`: from the document's servers, else `/api/v1`.
    pub base_path: Option<String>,
    /// Tags whose operations are left out (compared without case).
    pub exclude_tags: Vec<String>,
    /// Path prefixes left out (of the full path, base included).
    pub exclude_paths: Vec<String>,
}

/// A document turned into requests.
#[derive(Debug, Clone)]
pub struct Conversion {
    /// `info.title` and `info.version`.
    pub title: String,
    pub version: String,
    /// The `openapi` field (`3.1.0`).
    pub openapi: String,
    /// The prefix given to documented paths, and why it is that one.
    pub base: String,
    pub base_from: &'static str,
    /// Operations of every method in the document.
    pub operations: usize,
    /// The GET routes, in document order, each covered, commented out or skipped.
    pub routes: Vec<Route>,
    /// Operations that declare path parameters their path does not hold.
    pub stray_path_params: usize,
}

impl Conversion {
    /// The GET routes of one outcome kind.
    pub fn count(&self, kind: fn(&Outcome) -> bool) -> usize {
        self.routes.iter().filter(|r| kind(&r.outcome)).count()
    }
}

/// One GET route of the document.
#[derive(Debug, Clone)]
pub struct Route {
    /// The full path as documented (`/api/v1/buildings/{id}`).
    pub documented: String,
    /// Its tags and summary, for the comment above it.
    pub tags: Vec<String>,
    pub summary: Option<String>,
    pub operation_id: Option<String>,
    pub outcome: Outcome,
}

/// What became of a GET route.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A request: its path template (placeholders filled in) and whether it sends the
    /// login token (not when the document declares it public, `security: []`).
    Covered { path: String, auth: bool },
    /// Written commented out: no value for one of its parameters. `path` is the best
    /// template it has (the unfillable parameter left as documented).
    Commented { path: String, reason: String },
    /// Not a syndic's route, or excluded.
    Skipped { reason: String },
}

impl Outcome {
    pub fn is_covered(&self) -> bool {
        matches!(self, Outcome::Covered { .. })
    }
    pub fn is_commented(&self) -> bool {
        matches!(self, Outcome::Commented { .. })
    }
    pub fn is_skipped(&self) -> bool {
        matches!(self, Outcome::Skipped { .. })
    }
}

#[derive(Deserialize)]
struct RawDocument {
    openapi: Option<Value>,
    swagger: Option<Value>,
    #[serde(default)]
    info: RawInfo,
    #[serde(default)]
    servers: Vec<RawServer>,
    paths: Option<Map<String, Value>>,
    #[serde(default)]
    components: RawComponents,
}

#[derive(Deserialize, Default)]
struct RawInfo {
    title: Option<String>,
    version: Option<String>,
}

#[derive(Deserialize)]
struct RawServer {
    url: String,
}

#[derive(Deserialize, Default)]
struct RawComponents {
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    schemas: Map<String, Value>,
}

#[derive(Deserialize, Default)]
struct RawOperation {
    #[serde(default)]
    tags: Vec<String>,
    summary: Option<String>,
    #[serde(rename = "operationId")]
    operation_id: Option<String>,
    #[serde(default)]
    deprecated: bool,
    #[serde(default)]
    parameters: Vec<Value>,
    security: Option<Vec<Value>>,
    description: Option<String>,
    #[serde(default)]
    responses: Map<String, Value>,
}

#[derive(Deserialize, Clone)]
struct RawParameter {
    name: String,
    #[serde(rename = "in")]
    location: String,
    #[serde(default)]
    required: bool,
    schema: Option<Value>,
    example: Option<Value>,
    examples: Option<Map<String, Value>>,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Reads an OpenAPI 3 document (JSON) and decides the fate of each of its GET routes.
pub fn convert(text: &str, options: &Options) -> Result<Conversion, DocumentError> {
    let bad = |m: String| DocumentError(m);
    let raw: RawDocument = serde_json::from_str(text).map_err(|e| {
        let hint = if text.trim_start().starts_with(['{', '[']) {
            ""
        } else {
            " (only JSON is read: convert a YAML document to JSON first)"
        };
        bad(format!("not an OpenAPI document: not JSON: {e}{hint}"))
    })?;
    let version = match (&raw.openapi, &raw.swagger) {
        (Some(Value::String(v)), _) if v.starts_with("3.") => v.clone(),
        (_, Some(v)) => {
            return Err(bad(format!(
                "a Swagger {v} document, not OpenAPI 3: convert it to OpenAPI 3 first"
            )));
        }
        (Some(v), _) => return Err(bad(format!("openapi {v}: only OpenAPI 3.x is read"))),
        (None, None) => return Err(bad("not an OpenAPI document: no `openapi` field".into())),
    };
    let Some(paths) = raw.paths.as_ref() else {
        return Err(bad("the OpenAPI document has no `paths`".into()));
    };
    let (base, base_from) = base_path(options, &raw.servers)?;
    let mut conversion = Conversion {
        title: raw
            .info
            .title
            .clone()
            .unwrap_or_else(|| "untitled API".into()),
        version: raw.info.version.clone().unwrap_or_default(),
        openapi: version,
        base,
        base_from,
        operations: 0,
        routes: Vec::new(),
        stray_path_params: 0,
    };
    for (path, item) in paths {
        let Some(item) = item.as_object() else {
            return Err(bad(format!("paths.{path}: not an object")));
        };
        conversion.operations += METHODS.iter().filter(|m| item.contains_key(**m)).count();
        let Some(get) = item.get("get") else {
            continue;
        };
        let op: RawOperation = serde_json::from_value(get.clone())
            .map_err(|e| bad(format!("paths.{path}.get: {e}")))?;
        let shared = item.get("parameters").cloned().unwrap_or(Value::Null);
        let shared: Vec<Value> = serde_json::from_value(shared).unwrap_or_default();
        let route = route(
            &raw.components,
            &conversion.base,
            path,
            &op,
            &shared,
            options,
        )
        .map_err(|m| bad(format!("paths.{path}.get: {m}")))?;
        conversion.stray_path_params += usize::from(route.1);
        conversion.routes.push(route.0);
    }
    Ok(conversion)
}

/// The prefix for documented paths, and where it comes from.
fn base_path(
    options: &Options,
    servers: &[RawServer],
) -> Result<(String, &'static str), DocumentError> {
    if let Some(given) = &options.base_path {
        return Ok((given.trim_end_matches('/').to_string(), "--base-path"));
    }
    let server_path = servers.first().map(|s| {
        let url = s.url.as_str();
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        let path = if url.contains("://") {
            rest.find('/').map_or("", |i| &rest[i..])
        } else {
            rest
        };
        path.trim_end_matches('/').to_string()
    });
    match server_path {
        Some(p) if !p.is_empty() && !p.contains('{') => Ok((p, "the document's server URL")),
        _ => Ok((
            "/api/v1".into(),
            "the default, KoproGo's scope, as the document's server URL has no path",
        )),
    }
}

/// `documented` joined to `base`, unless it is already under it.
fn full_path(base: &str, documented: &str) -> String {
    if base.is_empty() || documented == base || documented.starts_with(&format!("{base}/")) {
        documented.to_string()
    } else {
        format!("{base}{documented}")
    }
}

/// Decides one GET route; the flag says it declared path parameters its path lacks.
fn route(
    components: &RawComponents,
    base: &str,
    documented: &str,
    op: &RawOperation,
    shared: &[Value],
    options: &Options,
) -> Result<(Route, bool), String> {
    let full = full_path(base, documented);
    let mut route = Route {
        documented: full.clone(),
        tags: op.tags.clone(),
        summary: op.summary.clone(),
        operation_id: op.operation_id.clone(),
        outcome: Outcome::Skipped {
            reason: String::new(),
        },
    };
    if let Some(reason) = excluded(&full, op, options) {
        route.outcome = Outcome::Skipped { reason };
        return Ok((route, false));
    }
    // Operation-level parameters override the path item's of the same name and place.
    let mut params: Vec<RawParameter> = Vec::new();
    for value in op.parameters.iter().chain(shared) {
        let p = parameter(components, value)?;
        if !params
            .iter()
            .any(|q| q.name == p.name && q.location == p.location)
        {
            params.push(p);
        }
    }
    let in_template = template_names(&full);
    let stray = params
        .iter()
        .any(|p| p.location == "path" && !in_template.contains(&p.name));
    let public = op.security.as_ref().is_some_and(Vec::is_empty);
    route.outcome = fill(components, &full, &params, !public);
    Ok((route, stray))
}

/// Why a route is not a syndic's, or excluded; `None` when it is taken.
fn excluded(full: &str, op: &RawOperation, options: &Options) -> Option<String> {
    if op.deprecated {
        return Some("deprecated".into());
    }
    if let Some(segment) = full
        .split('/')
        .find(|s| s.eq_ignore_ascii_case("admin") || s.eq_ignore_ascii_case("superadmin"))
    {
        return Some(format!("under /{segment} (SuperAdmin's)"));
    }
    if let Some(tag) = op
        .tags
        .iter()
        .find(|t| t.to_ascii_lowercase().contains("admin"))
    {
        return Some(format!("tagged {tag} (SuperAdmin's)"));
    }
    let forbidden = op
        .responses
        .get("403")
        .and_then(|r| r.get("description"))
        .and_then(Value::as_str);
    if [forbidden, op.summary.as_deref(), op.description.as_deref()]
        .into_iter()
        .flatten()
        .any(says_superadmin_only)
    {
        return Some("documented as SuperAdmin only".into());
    }
    if let Some(tag) = op.tags.iter().find(|t| {
        options
            .exclude_tags
            .iter()
            .any(|x| x.eq_ignore_ascii_case(t))
    }) {
        return Some(format!("tagged {tag} (--exclude-tag)"));
    }
    if let Some(prefix) = options
        .exclude_paths
        .iter()
        .find(|p| full.starts_with(p.as_str()))
    {
        return Some(format!("under {prefix} (--exclude-path)"));
    }
    None
}

/// "Forbidden - SuperAdmin only" (KoproGo's 403 descriptions), "Only SuperAdmin can …";
/// not "only syndic/superadmin", which a syndic may call.
fn says_superadmin_only(text: &str) -> bool {
    let text = text.to_ascii_lowercase().replace(['-', '_'], "");
    text.contains("superadmin only")
        || text
            .match_indices("only superadmin")
            .any(|(i, m)| !text[i + m.len()..].starts_with('/'))
}

/// A parameter, its `$ref` (`#/components/parameters/X`) resolved.
fn parameter(components: &RawComponents, value: &Value) -> Result<RawParameter, String> {
    let value = match value.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r
                .strip_prefix("#/components/parameters/")
                .ok_or_else(|| format!("parameter $ref `{r}`: only #/components/parameters/…"))?;
            components
                .parameters
                .get(name)
                .ok_or_else(|| format!("parameter $ref `{r}`: no such component"))?
        }
        None => value,
    };
    serde_json::from_value(value.clone()).map_err(|e| format!("a parameter: {e}"))
}

/// The `{name}`s of a path template.
fn template_names(path: &str) -> Vec<String> {
    path.split('{')
        .skip(1)
        .filter_map(|s| s.split_once('}').map(|(name, _)| name.to_string()))
        .collect()
}

/// The placeholder an id parameter is learned as: by its name, or `id` by the segment
/// before it.
fn learned_id(name: &str, previous: &str) -> Option<&'static str> {
    let by_name = match name {
        "building_id" | "buildingId" => Some("building_id"),
        "unit_id" | "unitId" => Some("unit_id"),
        "owner_id" | "ownerId" => Some("owner_id"),
        "organization_id" | "organizationId" => Some("organization_id"),
        _ => None,
    };
    by_name.or(match (name, previous) {
        ("id", "buildings") => Some("building_id"),
        ("id", "units") => Some("unit_id"),
        ("id", "owners") => Some("owner_id"),
        ("id", "organizations") => Some("organization_id"),
        _ => None,
    })
}

/// Fills a route's path parameters and required query parameters.
fn fill(components: &RawComponents, full: &str, params: &[RawParameter], auth: bool) -> Outcome {
    let mut path = String::new();
    let mut unfilled: Option<String> = None;
    let mut previous = "";
    for (i, segment) in full.split('/').enumerate() {
        if i > 0 {
            path.push('/');
        }
        let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) else {
            if segment.contains(['{', '}']) {
                unfilled.get_or_insert(format!(
                    "segment `{segment}`: a parameter inside a segment is not filled"
                ));
            }
            path.push_str(segment);
            previous = segment;
            continue;
        };
        let declared = params
            .iter()
            .find(|p| p.name == name && p.location == "path");
        match learned_id(name, previous) {
            Some(placeholder) => path.push_str(&format!("{{{placeholder}}}")),
            None => match declared.and_then(|p| value_of(components, p)) {
                Some(v) => path.push_str(&encode(&v)),
                None => {
                    path.push_str(segment);
                    unfilled.get_or_insert(unfillable(name, previous, declared));
                }
            },
        }
        previous = segment;
    }
    let mut query = Vec::new();
    for p in params.iter().filter(|p| p.required) {
        match p.location.as_str() {
            "query" => match learned_id(&p.name, "")
                .map(|ph| format!("{{{ph}}}"))
                .or_else(|| value_of(components, p).map(|v| encode(&v)))
            {
                Some(v) => query.push(format!("{}={v}", encode(&p.name))),
                None => {
                    unfilled.get_or_insert(format!(
                        "required query parameter `{}` has no example, enum or default",
                        p.name
                    ));
                }
            },
            "header" | "cookie" => {
                unfilled.get_or_insert(format!(
                    "required {} parameter `{}`: a scenario sends no custom {0}s",
                    p.location, p.name
                ));
            }
            _ => {}
        }
    }
    if !query.is_empty() {
        path.push('?');
        path.push_str(&query.join("&"));
    }
    if let Err(why) = crate::load::scenario::origin_relative(&path) {
        unfilled.get_or_insert(format!("path {why}"));
    }
    match unfilled {
        None => Outcome::Covered { path, auth },
        Some(reason) => Outcome::Commented { path, reason },
    }
}

/// Why a path parameter cannot be filled.
fn unfillable(name: &str, previous: &str, declared: Option<&RawParameter>) -> String {
    let is_id = name == "id"
        || name.ends_with("_id")
        || name.ends_with("Id")
        || declared
            .and_then(|p| p.schema.as_ref())
            .and_then(|s| s.get("format"))
            .is_some_and(|f| f == "uuid");
    let what = if name == "id" {
        format!("{{id}} of /{previous}")
    } else {
        format!("{{{name}}}")
    };
    if is_id {
        format!(
            "{what}: not an id koprogo-perf learns (building_id, unit_id, owner_id, \
             organization_id); put a real one in"
        )
    } else if declared.is_none() {
        format!("{what}: not declared by the document")
    } else {
        format!("{what}: the document gives no example, enum or default")
    }
}

/// A value the document gives a non-id parameter: its example, an example of its
/// `examples`, its schema's example, first enum value, default or const.
fn value_of(components: &RawComponents, p: &RawParameter) -> Option<String> {
    let schema = p.schema.as_ref().map(|s| resolve(components, s));
    let is_uuid = schema
        .and_then(|s| s.get("format"))
        .is_some_and(|f| f == "uuid");
    if is_uuid {
        // An example UUID names no row of this deployment: a 404, not a read.
        return None;
    }
    let candidates = [
        p.example.clone(),
        p.examples
            .as_ref()
            .and_then(|e| e.values().find_map(|x| x.get("value").cloned())),
        schema.and_then(|s| s.get("example").cloned()),
        schema.and_then(|s| s.get("examples")?.as_array()?.first().cloned()),
        schema.and_then(|s| {
            s.get("enum")?
                .as_array()?
                .iter()
                .find(|v| !v.is_null())
                .cloned()
        }),
        schema.and_then(|s| s.get("default").cloned()),
        schema.and_then(|s| s.get("const").cloned()),
    ];
    candidates.into_iter().flatten().find_map(|v| match v {
        Value::String(s) if !s.is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// A schema with its `$ref`s (`#/components/schemas/X`) followed, at most 8 deep.
fn resolve<'a>(components: &'a RawComponents, mut schema: &'a Value) -> &'a Value {
    for _ in 0..8 {
        let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        else {
            break;
        };
        match components.schemas.get(name) {
            Some(next) => schema = next,
            None => break,
        }
    }
    schema
}

/// A value for a path segment or a query: percent-encoded (no brace survives, so no
/// placeholder can be smuggled in).
fn encode(value: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const KEEP: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(value, KEEP).to_string()
}

/// The names routes are given in the scenario, unique: `GET path` (query left out),
/// with the operation id after a name already taken.
pub(crate) fn names(routes: &[&Route]) -> BTreeMap<usize, String> {
    let mut taken: Vec<String> = Vec::new();
    let mut out = BTreeMap::new();
    for (i, route) in routes.iter().enumerate() {
        let path = match &route.outcome {
            Outcome::Covered { path, .. } | Outcome::Commented { path, .. } => path,
            Outcome::Skipped { .. } => &route.documented,
        };
        let base = format!("GET {}", path.split('?').next().unwrap_or(path));
        let mut name = base.clone();
        let mut n = 1;
        while taken.contains(&name) {
            n += 1;
            name = match &route.operation_id {
                Some(id) if n == 2 => format!("{base} ({id})"),
                _ => format!("{base} ({n})"),
            };
        }
        taken.push(name.clone());
        out.insert(i, name);
    }
    out
}

#[cfg(test)]
mod tests;
