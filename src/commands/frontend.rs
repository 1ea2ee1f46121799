//! `koprogo-perf audit --frontend DIR|URL`: a built or served front end's bundles,
//! images and headers against the budgets; tables (or JSON), audit.json with --out,
//! the HTML report with --html, and audit's exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;

use crate::audit::frontend::{self, FrontendOptions, budgets, site::Target};
use crate::cli::{AuditArgs, AuditFormat};
use crate::report::InputError;

pub async fn audit(args: AuditArgs, target: &str) -> anyhow::Result<ExitCode> {
    for (path, flag) in [(&args.out, "--out"), (&args.html, "--html")] {
        if let Some(path) = path {
            crate::report::check_out_file(path, flag)?;
        }
    }
    let options = FrontendOptions {
        target: Target::parse(target).map_err(InputError::msg)?,
        budgets: budgets::load(&args.budgets).map_err(|e| InputError(anyhow::Error::new(e)))?,
        timeout: args.timeout,
        max_pages: args.max_pages as usize,
    };
    let report =
        super::interruptible(async { frontend::run(&options).await.map_err(anyhow::Error::from) })
            .await?;
    match args.format {
        AuditFormat::Table => {
            let width = if std::io::stdout().is_terminal() {
                comfy_table::Table::new()
                    .width()
                    .unwrap_or(crate::audit::render::DEFAULT_WIDTH)
            } else {
                crate::audit::render::DEFAULT_WIDTH
            };
            print!("{}", frontend::render::text(&report, width));
        }
        AuditFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    let mut written = Vec::new();
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&report)? + "\n";
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    if let Some(path) = &args.html {
        let page = frontend::html::render(&report).context("rendering the HTML report")?;
        std::fs::write(path, page).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    if args.format == AuditFormat::Table {
        for path in written {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::from(report.exit_code))
}
