//! tune-db's tables as text: the profile's diff against the database, indexes already
//! wasted, the settings read back, EXPLAIN before and after, and the advisor's
//! candidates. The command prints them; the apply sequence reports through its observer.

use std::fmt::Write as _;

use comfy_table::Table;
use comfy_table::presets::UTF8_FULL_CONDENSED;

use crate::tune::apply::{Event, RolledBack};
use crate::tune::catalog::{self, Waste};
use crate::tune::explain::PlanSummary;
use crate::tune::{self as engine, ProfileDiff};

/// The advisor's statements and candidates, scored when hypopg is there.
pub fn advice(advice: &crate::tune::advise::Advice, source: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} statements from {source}; hypopg: {}",
        advice.statements.len(),
        match &advice.hypopg {
            Ok(v) => format!("{v} (hypothetical indexes, rolled back)"),
            Err(why) => why.clone(),
        }
    );
    let _ = writeln!(
        out,
        "pg_qualstats: {}",
        match &advice.qualstats {
            Ok(v) | Err(v) => v,
        }
    );
    for (i, e) in &advice.errors {
        let q: String = advice.statements[*i].query.chars().take(100).collect();
        let _ = writeln!(out, "  not planned: {q}…: {e}");
    }
    let cost = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.0}"));
    let mut t = table(&[
        "table",
        "columns",
        "where",
        "from",
        "statements",
        "saved",
        "writes",
        "score",
        "verdict",
    ]);
    for c in &advice.candidates {
        t.add_row(vec![
            c.table.clone(),
            c.columns.join(", "),
            c.predicate.clone().unwrap_or_default(),
            c.sources
                .iter()
                .map(|s| s.label())
                .collect::<Vec<_>>()
                .join(", "),
            c.statements.len().to_string(),
            cost(c.saved),
            cost(c.write_cost),
            cost(c.score()),
            match (&c.skip, c.advised(), c.score()) {
                (Some(why), _, _) => why.clone(),
                (None, true, _) => "ADVISED".into(),
                (None, false, None) => "candidate (no cost without hypopg)".into(),
                (None, false, Some(_)) => "not worth it".into(),
            },
        ]);
    }
    let _ = writeln!(out, "{t}");
    out
}

/// A table in the tool's style.
pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    t
}

/// The profile against the database: settings, indexes, unindexed foreign keys, waste.
pub fn plan(plan: &ProfileDiff) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "profile {} ({})",
        plan.profile.name, plan.profile.source
    );
    let mut t = table(&[
        "setting", "current", "source", "target", "unit", "needs", "change",
    ]);
    for s in &plan.settings {
        t.add_row(vec![
            s.name.clone(),
            s.current.clone(),
            s.source.clone(),
            s.target.clone(),
            s.unit.clone(),
            s.needs.label().to_string(),
            if s.changes { "yes".into() } else { "no".into() },
        ]);
    }
    let _ = writeln!(out, "{t}");
    let mut t = table(&["index", "table", "state", "from", "definition"]);
    for i in &plan.indexes {
        t.add_row(vec![
            i.name.clone(),
            i.table.clone(),
            i.step.label(),
            i.origin.clone(),
            i.definition.clone(),
        ]);
    }
    let _ = writeln!(out, "{t}");
    if !plan.unindexed.is_empty() {
        let _ = writeln!(
            out,
            "foreign keys that no valid, non-partial index leads with ({}; --fk-indexes builds them):",
            plan.unindexed.len()
        );
        for fk in &plan.unindexed {
            let _ = writeln!(
                out,
                "  {} ({}) — {}",
                fk.table_name, fk.columns, fk.constraint_name
            );
        }
    }
    out.push_str(&waste(plan));
    out
}

/// Duplicate, prefix and unused indexes already in the database, with their sizes.
pub fn waste(plan: &ProfileDiff) -> String {
    let mut out = String::new();
    let total = |kind: Waste| {
        let found: Vec<&catalog::Finding> = plan.waste.iter().filter(|f| f.kind == kind).collect();
        let bytes: i64 = found.iter().map(|f| f.size_bytes).sum();
        (found, bytes)
    };
    let (redundant, bytes): (Vec<&catalog::Finding>, i64) = {
        let (mut d, a) = total(Waste::Duplicate);
        let (p, b) = total(Waste::Prefix);
        d.extend(p);
        (d, a + b)
    };
    if !redundant.is_empty() {
        let _ = writeln!(
            out,
            "indexes already there that another makes redundant ({}, {}):",
            redundant.len(),
            catalog::size_text(bytes)
        );
        for f in &redundant {
            let _ = writeln!(
                out,
                "  {} on {} ({}): {} {}",
                f.index,
                f.table,
                catalog::size_text(f.size_bytes),
                if f.kind == Waste::Duplicate {
                    "duplicate of"
                } else {
                    "prefix of"
                },
                f.of.as_deref().unwrap_or_default()
            );
        }
    }
    let (mut unused, bytes) = total(Waste::Unused);
    if !unused.is_empty() {
        const SHOWN: usize = 10;
        unused.sort_by_key(|f| std::cmp::Reverse(f.size_bytes));
        let _ = writeln!(
            out,
            "indexes with no scan since the statistics were reset ({}; {}, {}), largest first:",
            plan.stats_reset
                .as_deref()
                .map_or("never reset".to_string(), |t| format!("reset {t}")),
            unused.len(),
            catalog::size_text(bytes)
        );
        for f in unused.iter().take(SHOWN) {
            let _ = writeln!(
                out,
                "  {} on {} ({})",
                f.index,
                f.table,
                catalog::size_text(f.size_bytes)
            );
        }
        if unused.len() > SHOWN {
            let _ = writeln!(out, "  … and {} more", unused.len() - SHOWN);
        }
    }
    out
}

/// The settings read back after an apply.
pub fn verified(verified: &[engine::Verified]) -> String {
    let mut out = String::new();
    let mut t = table(&["setting", "in effect", "target", "state"]);
    for v in verified {
        let state = if v.ok {
            "ok"
        } else if v.pending_restart {
            "pending restart"
        } else {
            "DIFFERS"
        };
        t.add_row(vec![
            v.name.clone(),
            v.in_effect.clone(),
            v.target.clone(),
            state.into(),
        ]);
    }
    let _ = writeln!(out, "{t}");
    out
}

/// EXPLAIN (ANALYZE, BUFFERS) of the profile's queries, before and (after an apply) after.
pub fn explain(before: &[PlanSummary], after: Option<&[PlanSummary]>) -> String {
    let mut out = String::new();
    if before.is_empty() {
        return out;
    }
    let mut t = match after {
        Some(_) => table(&[
            "query",
            "plan before",
            "plan after",
            "rows",
            "buffers before → after",
            "mean before → after",
        ]),
        None => table(&["query", "plan", "rows", "buffers", "mean"]),
    };
    for (i, b) in before.iter().enumerate() {
        let failed = b
            .error
            .as_ref()
            .or_else(|| after.and_then(|a| a.get(i)).and_then(|a| a.error.as_ref()));
        if let Some(error) = failed {
            let mut row = vec![b.query.clone(), format!("ERROR: {error}")];
            row.resize(if after.is_some() { 6 } else { 5 }, String::new());
            t.add_row(row);
            continue;
        }
        match after.and_then(|a| a.get(i)) {
            Some(a) => t.add_row(vec![
                b.query.clone(),
                b.shape.clone(),
                a.shape.clone(),
                a.rows.to_string(),
                format!("{} → {}", b.buffers, a.buffers),
                format!(
                    "{:.3} ms → {:.3} ms ({:.1}×)",
                    b.mean_ms,
                    a.mean_ms,
                    b.mean_ms / a.mean_ms.max(1e-6)
                ),
            ]),
            None => t.add_row(vec![
                b.query.clone(),
                b.shape.clone(),
                b.rows.to_string(),
                b.buffers.to_string(),
                format!("{:.3} ms", b.mean_ms),
            ]),
        };
    }
    let _ = writeln!(
        out,
        "EXPLAIN (ANALYZE, BUFFERS), mean of {} runs:\n{t}",
        crate::tune::explain::RUNS
    );
    out
}

/// One step of apply or rollback, as it happens (see [`Event`]).
pub fn event(event: &Event<'_>) -> String {
    match event {
        Event::RollbackFile {
            path,
            first_apply: None,
        } => format!(
            "rollback file: {} (undo with --rollback {})",
            path.display(),
            path.display()
        ),
        Event::RollbackFile {
            path,
            first_apply: Some(at),
        } => format!(
            "rollback file: {} (kept from the first apply, {at}: it holds the state before it; \
             undo with --rollback {})",
            path.display(),
            path.display()
        ),
        Event::Restarted {
            how,
            settings,
            took,
        } => format!(
            "restarted {} for {} in {:.1} s",
            if *how == "--restart-cmd" {
                "with --restart-cmd"
            } else {
                how
            },
            settings.join(", "),
            took.as_secs_f64()
        ),
        Event::RestartWaiting { settings } => format!(
            "{} take effect after a restart of PostgreSQL: restart it (e.g. `systemctl restart postgresql` \
             or `pg_ctl restart -D DATADIR`), or pass --restart-cmd CMD next time",
            settings.join(", ")
        ),
        Event::IndexBuilt { name, action, took } => {
            format!("index {name}: {action:?} in {:.2} s", took.as_secs_f64())
        }
        Event::IndexFailed { name, error } => format!("index {name}: FAILED: {error}"),
        Event::IndexDropped { name } => format!("index {name}: dropped"),
    }
}

/// The settings after a rollback: saved, in effect, and whether they match.
pub fn rolled_back(done: &RolledBack) -> Table {
    let mut t = table(&["setting", "restored", "in effect", "state"]);
    for s in &done.settings {
        let state = if s.ok {
            "ok"
        } else if s.pending_restart {
            "after restart"
        } else {
            "DIFFERS"
        };
        t.add_row(vec![
            s.name.clone(),
            s.saved.clone(),
            s.in_effect.clone(),
            state.into(),
        ]);
    }
    t
}
