//! The scenario TOML of a [`Conversion`]: a header that says what was found, covered
//! and skipped and why, a `[[request]]` per covered route, the routes that cannot be
//! filled as commented-out requests with their reason, and the skipped ones listed.

use std::fmt::Write;

use super::{Conversion, Outcome, Route, names};

/// The scenario file's text. `source` names the document (a URL without its password,
/// or a file).
pub fn render(conversion: &Conversion, source: &str) -> String {
    let mut out = header(conversion, source);
    let routes: Vec<&Route> = conversion.routes.iter().collect();
    let names = names(&routes);
    for (i, route) in routes.iter().enumerate() {
        let name = &names[&i];
        match &route.outcome {
            Outcome::Covered { path, auth } => {
                out.push('\n');
                about(&mut out, route, "");
                out.push_str("[[request]]\n");
                request(&mut out, name, path, *auth, "");
            }
            Outcome::Commented { path, reason } => {
                out.push('\n');
                let _ = writeln!(out, "# NOT COVERED: {}", comment(reason));
                about(&mut out, route, "# ");
                out.push_str("# [[request]]\n");
                request(&mut out, name, path, true, "# ");
            }
            Outcome::Skipped { .. } => {}
        }
    }
    let skipped: Vec<&&Route> = routes.iter().filter(|r| r.outcome.is_skipped()).collect();
    if !skipped.is_empty() {
        out.push_str("\n# Skipped, not a syndic's:\n");
        for route in skipped {
            if let Outcome::Skipped { reason } = &route.outcome {
                let _ = writeln!(
                    out,
                    "#   GET {}: {}",
                    comment(&route.documented),
                    comment(reason)
                );
            }
        }
    }
    out
}

fn header(c: &Conversion, source: &str) -> String {
    let gets = c.routes.len();
    let covered = c.count(Outcome::is_covered);
    let commented = c.count(Outcome::is_commented);
    let skipped = c.count(Outcome::is_skipped);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {} {} (OpenAPI {}), from {}, by koprogo-perf scenario --from-openapi.",
        comment(&c.title),
        comment(&c.version),
        comment(&c.openapi),
        comment(source)
    );
    let _ = writeln!(
        out,
        "#\n# {gets} GET routes of {} operations in the document: {covered} covered, \
         {commented} commented out\n# (a parameter that cannot be filled: each says which), \
         {skipped} skipped (not a syndic's: listed at the end).",
        c.operations
    );
    let _ = writeln!(
        out,
        "#\n# Paths: a documented path not under {} is joined to it ({}).",
        if c.base.is_empty() { "/" } else { &c.base },
        c.base_from
    );
    if c.stray_path_params > 0 {
        let _ = writeln!(
            out,
            "# {} routes declare path parameters their path does not hold (an IntoParams\n\
             # without parameter_in = Query, as KoproGo's PageRequest): query parameters in \
             truth, left out.",
            c.stray_path_params
        );
    }
    out.push_str(
        "#\n# Which GETs: all but deprecated ones, those under /admin or /superadmin, those \
         tagged with a\n# tag holding \"admin\" or documented \"SuperAdmin only\", and \
         --exclude-tag / --exclude-path. Beyond\n# that the document does not say which \
         role a route wants: one a syndic is refused shows\n# as 403s in load's table; \
         comment it out.\n\
         #\n# Ids: {building_id} {unit_id} {owner_id} {organization_id} are learned after \
         login, from the\n# user's own organization; other parameters take the document's \
         example, enum or default;\n# required query parameters likewise, optional ones \
         are left out.\n\
         #\n# Weights: 1 each, equal shares of the requests: edit them.\n\
         # Run: koprogo-perf load --host URL --scenario THIS.toml --login EMAIL:PASSWORD \
         (a syndic's)\n",
    );
    let _ = writeln!(
        out,
        "description = {}",
        toml_string(&format!(
            "GET routes of {} {} from its OpenAPI document",
            c.title, c.version
        ))
    );
    out
}

/// The comment above a request: tags and summary.
fn about(out: &mut String, route: &Route, prefix: &str) {
    let mut text = route.tags.join(", ");
    if let Some(summary) = route.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(summary.lines().next().unwrap_or_default().trim());
    }
    if text.is_empty()
        && let Some(id) = &route.operation_id
    {
        text = id.clone();
    }
    if !text.is_empty() {
        let _ = writeln!(out, "{prefix}# {}", comment(&text));
    }
}

fn request(out: &mut String, name: &str, path: &str, auth: bool, prefix: &str) {
    if name != format!("GET {path}") {
        let _ = writeln!(out, "{prefix}name = {}", toml_string(name));
    }
    let _ = writeln!(out, "{prefix}method = \"GET\"");
    let _ = writeln!(out, "{prefix}path = {}", toml_string(path));
    let _ = writeln!(out, "{prefix}weight = 1");
    if !auth {
        let _ = writeln!(out, "{prefix}auth = false");
    }
}

/// A TOML basic string, escaped.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// Text for a TOML comment: on one line, whatever the document holds.
fn comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}
