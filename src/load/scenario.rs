//! Load scenarios are data: `scenarios/*.toml`, each a weighted list of requests with a
//! method, a path template, an optional JSON body template and an optional think time.
//!
//! A file is parsed into raw structs, then resolved once into a validated [`Scenario`]:
//! templates are split into literal and placeholder parts, unknown placeholders and
//! bodies that would not be JSON are rejected with `file:line`, before any request.

use std::fmt;
use std::path::Path;

use crate::assets::Found;
use crate::diagnostic::{line_of, one_line, toml_error};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The scenarios shipped with the tool, usable by name from any directory.
pub const BUILTIN: &[(&str, &str)] = &[
    ("api-load", include_str!("../../scenarios/api-load.toml")),
    (
        "admin-load",
        include_str!("../../scenarios/admin-load.toml"),
    ),
    ("realistic", include_str!("../../scenarios/realistic.toml")),
    (
        "authenticated-realistic",
        include_str!("../../scenarios/authenticated-realistic.toml"),
    ),
    ("health", include_str!("../../scenarios/health.toml")),
    (
        "buildings-list",
        include_str!("../../scenarios/buildings-list.toml"),
    ),
];

/// A scenario file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "scenario `{0}` not found: give a path to a .toml file or one of: {names}",
        names = builtin_names()
    )]
    NotFound(String),
    #[error("cannot read scenario file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {message}")]
    Invalid {
        file: String,
        line: usize,
        message: String,
    },
}

fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A validated scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    /// Where it came from (a path, or `builtin:NAME`).
    pub source: String,
    /// Whom its users log in as on a stack koprogo-perf seeded (`role = "superadmin"`
    /// in the file; the organizations' syndics by default). Against `--host`, the
    /// logins given are used as they are.
    pub role: LoginRole,
    pub requests: Vec<RequestSpec>,
}

/// Who a scenario's virtual users are on a koprogo-perf seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoginRole {
    /// Each organization's syndic (`syndic@<slug>.be`), the users spread over them.
    #[default]
    Syndic,
    /// KoproGo's platform superadmin (`admin@koprogo.com`), for structural writes.
    Superadmin,
}

impl Scenario {
    /// True when any request needs a logged-in user.
    pub fn needs_login(&self) -> bool {
        self.requests.iter().any(|r| r.auth)
    }

    /// True when any template uses `placeholder`.
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.requests.iter().any(|r| {
            r.path.uses(placeholder) || r.body.as_ref().is_some_and(|b| b.uses(placeholder))
        })
    }

    /// Sum of the request weights.
    pub fn total_weight(&self) -> u32 {
        self.requests.iter().map(|r| r.weight).sum()
    }
}

/// HTTP methods a scenario may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        })
    }
}

/// One kind of request in a scenario: an endpoint of the report.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    /// The endpoint's name in reports: `METHOD path-template` unless the file names it.
    pub name: String,
    pub method: Method,
    pub path: Template,
    pub body: Option<Template>,
    pub weight: u32,
    pub think_time: Duration,
    /// Sends the virtual user's bearer token (default true).
    pub auth: bool,
    /// The statuses that succeed (`expect = 201` or a list); empty: any 2xx or 3xx.
    pub expect: Vec<u16>,
    /// JSON pointers (`/id`) that must be in the body of a response with an expected
    /// status; a missing one fails the request (a failed check).
    pub check: Vec<String>,
}

/// What a placeholder is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// A building id of the user's organization, learned from GET /buildings.
    BuildingId,
    /// An organization id: the request's building's when it names `{building_id}`
    /// too, otherwise the user's own (from its login) or, for a user without one (a
    /// superadmin), the organization of a building it learned.
    OrganizationId,
    /// A unit id, learned from GET /units.
    UnitId,
    /// An owner id, learned from GET /owners.
    OwnerId,
    /// A value unique in this run across all users and load processes (unit numbers,
    /// emails): a per-run random prefix, the user's number and a counter.
    Unique,
    /// The virtual user's number.
    Vu,
    /// A random integer in `[lo, hi]`: `{int:lo:hi}`.
    Int(i64, i64),
    /// A random amount with two decimals in `[lo, hi]`: `{amount:lo:hi}`.
    Amount(i64, i64),
    /// A random date within the last year, `YYYY-MM-DD`.
    Date,
    /// A random date-time within the last year, RFC 3339 in UTC
    /// (`2026-03-14T09:30:00Z`), as KoproGo parses `expense_date`.
    DateTime,
    /// A fresh random UUID.
    Uuid,
}

impl Placeholder {
    fn parse(text: &str) -> Result<Placeholder, String> {
        let mut parts = text.split(':');
        let name = parts.next().unwrap_or_default();
        let args: Vec<&str> = parts.collect();
        let range = |args: &[&str]| -> Result<(i64, i64), String> {
            match args {
                [lo, hi] => {
                    let lo: i64 = lo
                        .parse()
                        .map_err(|_| format!("`{{{text}}}`: `{lo}` is not an integer"))?;
                    let hi: i64 = hi
                        .parse()
                        .map_err(|_| format!("`{{{text}}}`: `{hi}` is not an integer"))?;
                    if lo > hi {
                        return Err(format!("`{{{text}}}`: lower bound above upper bound"));
                    }
                    const LIMIT: i64 = 1_000_000_000_000;
                    if lo < -LIMIT || hi > LIMIT {
                        return Err(format!("`{{{text}}}`: bounds must be within ±10^12"));
                    }
                    Ok((lo, hi))
                }
                _ => Err(format!(
                    "`{{{text}}}` needs two bounds, e.g. {{{name}:1:100}}"
                )),
            }
        };
        let simple = |p: Placeholder| {
            if args.is_empty() {
                Ok(p)
            } else {
                Err(format!("`{{{text}}}`: `{name}` takes no arguments"))
            }
        };
        match name {
            "building_id" => simple(Placeholder::BuildingId),
            "organization_id" => simple(Placeholder::OrganizationId),
            "unit_id" => simple(Placeholder::UnitId),
            "owner_id" => simple(Placeholder::OwnerId),
            "unique" => simple(Placeholder::Unique),
            "vu" => simple(Placeholder::Vu),
            "date" => simple(Placeholder::Date),
            "datetime" => simple(Placeholder::DateTime),
            "uuid" => simple(Placeholder::Uuid),
            "int" => range(&args).map(|(lo, hi)| Placeholder::Int(lo, hi)),
            "amount" => range(&args).map(|(lo, hi)| Placeholder::Amount(lo, hi)),
            _ => Err(format!(
                "unknown placeholder `{{{text}}}`; known: building_id, unit_id, owner_id, \
                 organization_id, unique, vu, date, datetime, uuid, int:LO:HI, amount:LO:HI"
            )),
        }
    }

    /// A stand-in value used to check, before the run, that a body renders to JSON.
    fn sample(&self) -> String {
        match self {
            Placeholder::BuildingId
            | Placeholder::UnitId
            | Placeholder::OwnerId
            | Placeholder::OrganizationId => "00000000-0000-0000-0000-000000000000".into(),
            Placeholder::Uuid => "00000000-0000-0000-0000-000000000000".into(),
            Placeholder::Unique => "r0-1-1".into(),
            Placeholder::Vu => "1".into(),
            Placeholder::Int(lo, _) => lo.to_string(),
            Placeholder::Amount(lo, _) => format!("{lo}.00"),
            Placeholder::Date => "2026-01-01".into(),
            Placeholder::DateTime => "2026-01-01T00:00:00Z".into(),
        }
    }
}

/// A piece of a template.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Literal(String),
    Placeholder(Placeholder),
}

/// A string with `{placeholder}`s, split once at load time. `{{` and `}}` are literal
/// braces (JSON bodies need them).
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub text: String,
    pub parts: Vec<Part>,
}

impl Template {
    /// Splits `text`; on error returns the message and the byte offset it concerns.
    pub fn parse(text: &str) -> Result<Template, (String, usize)> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[i + 1..];
                    let end = rest
                        .find('}')
                        .ok_or_else(|| ("unclosed `{` (write `{{` for a brace)".into(), i))?;
                    let placeholder = Placeholder::parse(&rest[..end]).map_err(|m| (m, i))?;
                    if !literal.is_empty() {
                        parts.push(Part::Literal(std::mem::take(&mut literal)));
                    }
                    parts.push(Part::Placeholder(placeholder));
                    for _ in 0..=end {
                        chars.next();
                    }
                }
                '}' => return Err(("unmatched `}` (write `}}` for a brace)".into(), i)),
                c => literal.push(c),
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal));
        }
        Ok(Template {
            text: text.to_string(),
            parts,
        })
    }

    /// True when the template uses `placeholder` (of any bounds).
    pub fn uses(&self, placeholder: Placeholder) -> bool {
        self.parts.iter().any(|p| match p {
            Part::Placeholder(q) => {
                std::mem::discriminant(q) == std::mem::discriminant(&placeholder)
            }
            Part::Literal(_) => false,
        })
    }

    /// Renders the template, asking `fill` for each placeholder's value.
    pub fn render(&self, mut fill: impl FnMut(&Placeholder, &mut String)) -> String {
        let mut out = String::with_capacity(self.text.len() + 32);
        for part in &self.parts {
            match part {
                Part::Literal(s) => out.push_str(s),
                Part::Placeholder(p) => fill(p, &mut out),
            }
        }
        out
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Option<String>,
    #[serde(default)]
    description: String,
    role: Option<Spanned<String>>,
    #[serde(default, rename = "request")]
    requests: Vec<Spanned<RawRequest>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRequest {
    name: Option<String>,
    method: Spanned<String>,
    path: Spanned<String>,
    body: Option<Spanned<String>>,
    weight: Spanned<i64>,
    think_time: Option<Spanned<String>>,
    auth: Option<bool>,
    expect: Option<Spanned<Expect>>,
    #[serde(default)]
    check: Vec<Spanned<String>>,
}

/// `expect = 201` or `expect = [200, 404]`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Expect {
    One(i64),
    Many(Vec<i64>),
}

/// Finds a scenario by path or shipped name. A name is looked up in `./scenarios/`
/// first (so edits to the shipped files take effect), then in the binary.
pub fn load(name_or_path: &str) -> Result<Scenario, ScenarioError> {
    match crate::assets::find(name_or_path, "scenarios", BUILTIN) {
        Found::File(path) => load_file(&path),
        Found::Builtin(name, text) => parse(text, &format!("builtin:{name}"), name),
        Found::NotFound => Err(ScenarioError::NotFound(name_or_path.to_string())),
    }
}

/// Reads and validates a scenario file.
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.display().to_string(),
        source,
    })?;
    parse(
        &text,
        &path.display().to_string(),
        &crate::assets::stem(path),
    )
}

/// Validates scenario text; `file` names it in errors, `default_name` names the scenario
/// when the file does not.
pub fn parse(text: &str, file: &str, default_name: &str) -> Result<Scenario, ScenarioError> {
    let err = |offset: usize, message: String| ScenarioError::Invalid {
        file: file.to_string(),
        line: line_of(text, offset),
        message: one_line(&message),
    };
    let raw: RawScenario = toml::from_str(text).map_err(|e| {
        let (offset, message) = toml_error(&e);
        err(offset, message)
    })?;
    if raw.requests.is_empty() {
        return Err(err(0, "no [[request]] entries".into()));
    }
    let mut requests: Vec<RequestSpec> = Vec::with_capacity(raw.requests.len());
    for spanned in raw.requests {
        let at = spanned.span().start;
        let request = request(spanned, &err)?;
        if requests.iter().any(|q| q.name == request.name) {
            return Err(err(
                at,
                format!("two requests named `{}`: give one a `name`", request.name),
            ));
        }
        requests.push(request);
    }
    let role = match &raw.role {
        None => LoginRole::Syndic,
        Some(r) => match r.get_ref().as_str() {
            "syndic" => LoginRole::Syndic,
            "superadmin" => LoginRole::Superadmin,
            other => {
                return Err(err(
                    r.span().start,
                    format!("role `{other}`: `syndic` (the default) or `superadmin`"),
                ));
            }
        },
    };
    Ok(Scenario {
        name: raw.name.unwrap_or_else(|| default_name.to_string()),
        description: raw.description,
        source: file.to_string(),
        role,
        requests,
    })
}

/// One `[[request]]`, validated; `err` places a message at an offset of the file.
fn request(
    spanned: Spanned<RawRequest>,
    err: &impl Fn(usize, String) -> ScenarioError,
) -> Result<RequestSpec, ScenarioError> {
    let r = spanned.into_inner();
    let method = match r.method.get_ref().to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        other => {
            return Err(err(
                r.method.span().start,
                format!("unknown method `{other}` (GET, POST, PUT, PATCH, DELETE)"),
            ));
        }
    };
    if let Err(why) = origin_relative(r.path.get_ref()) {
        let request = r.name.as_deref().unwrap_or(r.method.get_ref());
        return Err(err(
            r.path.span().start,
            format!(
                "request `{request}`: path `{}` {why}: a path is relative to --host, \
                 one leading `/` (e.g. /api/v1/buildings), so that the login token \
                 goes to no other host",
                r.path.get_ref().escape_debug()
            ),
        ));
    }
    let path = Template::parse(r.path.get_ref()).map_err(|(m, _)| err(r.path.span().start, m))?;
    let body = match &r.body {
        Some(b) => {
            let template = Template::parse(b.get_ref()).map_err(|(m, _)| err(b.span().start, m))?;
            let sample = template.render(|p, out| out.push_str(&p.sample()));
            serde_json::from_str::<serde_json::Value>(&sample).map_err(|e| {
                err(
                    b.span().start,
                    format!("body is not JSON once filled in: {e}"),
                )
            })?;
            Some(template)
        }
        None => None,
    };
    let weight = *r.weight.get_ref();
    if !(1..=1_000_000).contains(&weight) {
        return Err(err(
            r.weight.span().start,
            format!("weight {weight} must be 1 to 1000000"),
        ));
    }
    let think_time = match &r.think_time {
        Some(t) => crate::units::parse_duration(t.get_ref())
            .map_err(|m| err(t.span().start, format!("think_time: {m}")))?,
        None => Duration::ZERO,
    };
    let expect = match &r.expect {
        None => Vec::new(),
        Some(e) => expect_codes(e).map_err(|m| err(e.span().start, m))?,
    };
    let mut check = Vec::new();
    for pointer in &r.check {
        if !pointer.get_ref().starts_with('/') {
            return Err(err(
                pointer.span().start,
                format!(
                    "check `{}`: a JSON pointer starts with `/` (e.g. \"/id\", \"/data/0/id\")",
                    pointer.get_ref()
                ),
            ));
        }
        check.push(pointer.get_ref().clone());
    }
    let name = r
        .name
        .clone()
        .unwrap_or_else(|| format!("{method} {}", r.path.get_ref()));
    Ok(RequestSpec {
        name,
        method,
        path,
        body,
        weight: weight as u32,
        think_time,
        auth: r.auth.unwrap_or(true),
        expect,
        check,
    })
}

/// `expect = 201` or `expect = [200, 404]`: HTTP statuses.
fn expect_codes(e: &Spanned<Expect>) -> Result<Vec<u16>, String> {
    let codes = match e.get_ref() {
        Expect::One(c) => vec![*c],
        Expect::Many(c) => c.clone(),
    };
    if codes.is_empty() || codes.iter().any(|c| !(100..=599).contains(c)) {
        return Err(
            "expect: HTTP statuses from 100 to 599 (`expect = 201` or `[200, 404]`)".into(),
        );
    }
    Ok(codes.into_iter().map(|c| c as u16).collect())
}

/// Refuses a path that could leave the host it is joined to: it must start with exactly
/// one `/` (not `//host`, not `http://…`), and hold no backslash (`/\host` is
/// `//host` to a URL parser), no whitespace and no control character (a URL parser
/// drops tabs and newlines, so `/\t/host` is `//host` too).
pub fn origin_relative(path: &str) -> Result<(), &'static str> {
    if !path.starts_with('/') {
        return Err("does not start with `/`");
    }
    if path.starts_with("//") {
        return Err("starts with `//` (another host)");
    }
    if path.contains('\\') {
        return Err("holds a backslash");
    }
    if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("holds whitespace or a control character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The share of a scenario's weight on GETs, in percent.
    fn read_share(s: &Scenario) -> u32 {
        let reads: u32 = s
            .requests
            .iter()
            .filter(|r| r.method == Method::Get)
            .map(|r| r.weight)
            .sum();
        reads * 100 / s.total_weight()
    }

    #[test]
    fn shipped_scenarios_are_valid_and_keep_koprogo_mixes() {
        let s = load("api-load").unwrap();
        assert_eq!(s.requests.len(), 12);
        assert_eq!(s.total_weight(), 100);
        assert_eq!(read_share(&s), 70);
        assert_eq!(s.role, LoginRole::Syndic);
        assert!(s.needs_login());
        // A syndic's writes only: KoproGo's structural writes are admin-load's.
        let writes: Vec<&str> = s
            .requests
            .iter()
            .filter(|r| r.method == Method::Post)
            .map(|r| r.path.text.as_str())
            .collect();
        assert_eq!(writes, ["/api/v1/owners", "/api/v1/expenses"]);
        let admin = load("admin-load").unwrap();
        assert_eq!(admin.role, LoginRole::Superadmin);
        assert!(admin.uses(Placeholder::OrganizationId));
        let realistic = load("realistic").unwrap();
        assert_eq!(
            (realistic.total_weight(), read_share(&realistic)),
            (100, 70)
        );
        let authenticated = load("authenticated-realistic").unwrap();
        assert_eq!(
            (authenticated.total_weight(), read_share(&authenticated)),
            (100, 80)
        );
        assert!(authenticated.uses(Placeholder::DateTime));
        let h = load("health").unwrap();
        assert!(!h.needs_login());
        let b = load("buildings-list").unwrap();
        assert_eq!(b.requests.len(), 1);
        assert!(b.needs_login());
        for (name, _) in BUILTIN {
            load(name).unwrap();
        }
        let bad = "role = \"owner\"\n[[request]]\nmethod = \"GET\"\npath = \"/a\"\nweight = 1\n";
        let e = parse(bad, "r.toml", "r").unwrap_err().to_string();
        assert!(e.starts_with("r.toml:1: role `owner`"), "{e}");
    }

    #[test]
    fn unknown_placeholder_is_reported_with_its_line() {
        let text =
            "name = \"x\"\n\n[[request]]\nmethod = \"GET\"\npath = \"/a/{nope}\"\nweight = 1\n";
        let e = parse(text, "x.toml", "x").unwrap_err().to_string();
        assert!(
            e.starts_with("x.toml:5: unknown placeholder `{nope}`"),
            "{e}"
        );
    }

    #[test]
    fn malformed_toml_and_bad_bodies_are_rejected_with_file_and_line() {
        let e = parse("[[request]]\nmethod = \n", "bad.toml", "b")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("bad.toml:2:"), "{e}");
        let text = "[[request]]\nmethod = \"POST\"\npath = \"/a\"\nweight = 1\nbody = '{{\"a\": {int:1:2}'\n";
        let e = parse(text, "b.toml", "b").unwrap_err().to_string();
        assert!(e.starts_with("b.toml:5: body is not JSON"), "{e}");
        let text = "[[request]]\nmethod = \"GET\"\npath = \"/a\"\nweight = 0\n";
        assert!(
            parse(text, "w.toml", "w")
                .unwrap_err()
                .to_string()
                .starts_with("w.toml:4:")
        );
    }

    #[test]
    fn templates_render_literals_escapes_and_placeholders() {
        let t = Template::parse("{{\"n\": \"{unique}\", \"v\": {int:1:9}}}").unwrap();
        let out = t.render(|p, out| match p {
            Placeholder::Unique => out.push_str("u1"),
            Placeholder::Int(1, 9) => out.push('7'),
            _ => unreachable!(),
        });
        assert_eq!(out, "{\"n\": \"u1\", \"v\": 7}");
        assert!(Template::parse("/a/{int:9:1}").is_err());
        assert!(Template::parse("/a/{unit_id").is_err());
    }
}
