//! `koprogo-perf scenario --from-openapi URL|FILE [--out FILE]`: a load scenario of the
//! GET routes of an OpenAPI 3 document ([`crate::load::openapi`]). Everything is
//! checked, fetched, converted and validated as a scenario before the file is written
//! (in one rename), so a refused document leaves nothing behind.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::cli::ScenarioArgs;
use crate::load::openapi::{self, Conversion, Options, Outcome};
use crate::report::InputError;

/// How long fetching the document may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// `koprogo-perf scenario`.
pub async fn scenario(args: ScenarioArgs) -> anyhow::Result<ExitCode> {
    let options = options(&args)?;
    if let Some(out) = &args.out {
        check_out(out, args.force)?;
    }
    let (text, shown) = read_document(&args.from_openapi).await?;
    let conversion =
        openapi::convert(&text, &options).map_err(|e| InputError::msg(format!("{shown}: {e}")))?;
    if conversion.count(Outcome::is_covered) == 0 {
        return Err(InputError::msg(format!(
            "{shown}: no GET route to cover ({}): nothing written",
            counts(&conversion)
        ))
        .into());
    }
    let toml = openapi::render(&conversion, &shown);
    let (file, stem) = match &args.out {
        Some(out) => (out.display().to_string(), crate::assets::stem(out)),
        None => ("<stdout>".into(), "openapi".into()),
    };
    // What is written must be a scenario load reads.
    crate::load::scenario::parse(&toml, &file, &stem)
        .context("the generated scenario does not read back (a bug)")?;
    match &args.out {
        Some(out) => write_file(out, &toml)?,
        None => std::io::stdout()
            .write_all(toml.as_bytes())
            .context("writing the scenario to standard output")?,
    }
    eprintln!(
        "scenario: {} {} ({shown}): {}; wrote {file}",
        conversion.title,
        conversion.version,
        counts(&conversion)
    );
    Ok(ExitCode::SUCCESS)
}

fn counts(c: &Conversion) -> String {
    format!(
        "{} GET routes of {} operations, {} covered, {} commented out (a parameter that \
         cannot be filled), {} skipped (not a syndic's)",
        c.routes.len(),
        c.operations,
        c.count(Outcome::is_covered),
        c.count(Outcome::is_commented),
        c.count(Outcome::is_skipped)
    )
}

/// The flags, checked.
fn options(args: &ScenarioArgs) -> anyhow::Result<Options> {
    let base_path = match args.base_path.as_deref() {
        None => None,
        Some(p) if p.starts_with('/') && !p.starts_with("//") && !p.contains(['?', '#', ' ']) => {
            Some(p.trim_end_matches('/').to_string())
        }
        Some(p) => {
            return Err(InputError::msg(format!(
                "--base-path `{}`: a path starting with one `/` (e.g. /api/v1, or / for none)",
                p.escape_debug()
            ))
            .into());
        }
    };
    if let Some(p) = args.exclude_path.iter().find(|p| !p.starts_with('/')) {
        return Err(InputError::msg(format!(
            "--exclude-path `{}`: a path prefix starting with `/` (e.g. /api/v1/gdpr)",
            p.escape_debug()
        ))
        .into());
    }
    Ok(Options {
        base_path,
        exclude_tags: args.exclude_tag.clone(),
        exclude_paths: args.exclude_path.clone(),
    })
}

/// `--out` must be a file that does not exist yet (or `--force`).
fn check_out(out: &Path, force: bool) -> anyhow::Result<()> {
    if out.is_dir() {
        return Err(InputError::msg(format!(
            "--out {} is a directory: give a file name (e.g. {}/openapi.toml)",
            out.display(),
            out.display()
        ))
        .into());
    }
    if out.exists() && !force {
        return Err(InputError::msg(format!(
            "--out {} exists: choose another file, or --force to replace it",
            out.display()
        ))
        .into());
    }
    Ok(())
}

/// The document's text and how to name it (a URL without its password).
async fn read_document(source: &str) -> anyhow::Result<(String, String)> {
    let shown = crate::redact::redact(source);
    let lower = source.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        if source.contains("://") {
            return Err(InputError::msg(format!(
                "--from-openapi `{shown}`: an http(s) URL or a file"
            ))
            .into());
        }
        let text = std::fs::read_to_string(source)
            .map_err(|e| InputError::msg(format!("cannot read {shown}: {e}")))?;
        return Ok((text, shown));
    }
    let url = reqwest::Url::parse(source)
        .map_err(|e| InputError::msg(format!("--from-openapi `{shown}`: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(InputError::msg(format!(
            "--from-openapi `{shown}` carries credentials (USER:PASSWORD@): fetch the document \
             yourself (curl -u) and give the file"
        ))
        .into());
    }
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .context("building the HTTP client")?;
    let answer = client
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("cannot fetch {shown}: {}", crate::error::root_cause(&e)))?;
    let status = answer.status();
    if !status.is_success() {
        return Err(InputError::msg(format!(
            "{shown} answered {status}: give the document's URL (KoproGo serves it at \
             /api-docs/openapi.json)"
        ))
        .into());
    }
    let text = answer
        .text()
        .await
        .map_err(|e| anyhow::anyhow!("cannot read {shown}: {}", crate::error::root_cause(&e)))?;
    Ok((text, shown))
}

/// Writes `text` to `out` in one rename (a file beside it first).
fn write_file(out: &Path, text: &str) -> anyhow::Result<()> {
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| InputError::msg(format!("cannot write {}: {e}", out.display())))?;
    tmp.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    tmp.persist(out)
        .map_err(|e| anyhow::anyhow!("cannot write {}: {}", out.display(), e.error))?;
    Ok(())
}
