//! `koprogo-perf audit`: the guide's quick wins checked on a running API and its
//! database; a table (or JSON), audit.json with --out, and the exit code.

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;

use crate::audit::burst::BurstRequest;
use crate::audit::db::DbInputs;
use crate::audit::{self, AuditOptions, Burst};
use crate::cli::{AuditArgs, AuditFormat};
use crate::report::InputError;
use crate::tune::profile::{self, AutoInputs};

/// The profile that defines the guide's indexes.
const GUIDE_PROFILE: &str = "koprogo-vps";

pub async fn audit(args: AuditArgs) -> anyhow::Result<ExitCode> {
    if let Some(target) = args.frontend.clone() {
        return super::frontend::audit(args, &target).await;
    }
    if let Some(path) = &args.out {
        crate::report::check_out_file(path, "--out")?;
    }
    let (options, default_login) = resolve(&args)?;
    let report =
        super::interruptible(async { audit::run(&options).await.map_err(anyhow::Error::from) })
            .await?;
    // Said once the audit ran, so that a failure stays one line (a refused login names
    // the e-mail itself).
    if default_login {
        eprintln!(
            "no --login given: logged in as {} (the reference seed's first demo login); pass \
             --login EMAIL:PASSWORD for another KoproGo",
            options.login.email
        );
    }
    match args.format {
        AuditFormat::Table => {
            let width = if std::io::stdout().is_terminal() {
                comfy_table::Table::new()
                    .width()
                    .unwrap_or(audit::render::DEFAULT_WIDTH)
            } else {
                audit::render::DEFAULT_WIDTH
            };
            print!("{}", audit::render::table(&report, width));
        }
        AuditFormat::Json => println!("{}", serde_json::to_string_pretty(&report)?),
    }
    if let Some(path) = &args.out {
        let json = serde_json::to_string_pretty(&report)? + "\n";
        std::fs::write(path, json)
            .with_context(|| format!("writing {}", path.display()))
            .map_err(InputError)?;
        if args.format == AuditFormat::Table {
            eprintln!("wrote {}", path.display());
        }
    }
    Ok(ExitCode::from(report.exit_code))
}

/// Everything checked before any I/O: the URL, the credentials, the profile, the
/// burst's request. Also says whether the login is the reference seed's default.
fn resolve(args: &AuditArgs) -> anyhow::Result<(AuditOptions, bool)> {
    // clap requires --url when --frontend is not given.
    let url = args.url.as_deref().unwrap_or_default();
    let url = audit::base_url(url).map_err(InputError::msg)?;
    let logins = crate::load::resolve_logins(&args.logins, args.logins_file.as_deref())
        .map_err(InputError::msg)?;
    let default_login = logins.is_empty();
    let login = logins
        .into_iter()
        .next()
        .unwrap_or_else(|| crate::seed::demo_logins(1).remove(0).into());
    let auto = AutoInputs::detect();
    let profile =
        profile::load(&args.profile, &auto).map_err(|e| InputError(anyhow::Error::new(e)))?;
    // The guide's indexes are koprogo-vps's, whatever --profile the settings follow.
    let vps = match args.profile.as_str() {
        GUIDE_PROFILE => None,
        _ => Some(
            profile::load(GUIDE_PROFILE, &auto).map_err(|e| InputError(anyhow::Error::new(e)))?,
        ),
    };
    let guide =
        audit::db::guide_specs(vps.as_ref().unwrap_or(&profile)).map_err(InputError::msg)?;
    let burst_request = match &args.burst_path {
        Some(path) => BurstRequest::path(path).map_err(InputError::msg)?,
        None => BurstRequest::scenario(
            &crate::load::scenario::load(&args.scenario)
                .map_err(|e| InputError(anyhow::Error::new(e)))?,
        ),
    };
    let options = AuditOptions {
        url,
        database_url: args.database_url.clone(),
        login,
        db: DbInputs {
            profile,
            profile_arg: args.profile.clone(),
            guide,
        },
        burst: Burst {
            clients: args.burst as usize,
            duration: args.burst_duration,
        },
        burst_request,
        timeout: args.timeout,
    };
    Ok((options, default_login))
}
