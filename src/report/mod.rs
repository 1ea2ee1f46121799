//! Run output: the `run.json` contract (`run`), the one sum of runs (`tally`), the run
//! directory (`run_dir`: the only code that reads and writes a run's files), the
//! targets check, the terminal tables and HdrHistogram's percentile-distribution text
//! (`latency.hgrm`) and interval log (`hlog`); `merge` of several machines' runs;
//! finding runs and pooling them (`runs`), comparing them (`compare`), and showing them
//! (`sections` rendered by `tables`, `markdown`, `html` with `charts`); the performance
//! gate (`gate`, `stats`).

pub mod charts;
pub mod compare;
pub mod gate;
pub mod hgrm;
pub mod hlog;
pub mod html;
pub mod markdown;
pub mod memory;
pub mod merge;
pub mod run;
pub mod run_dir;
pub mod runs;
pub mod sections;
pub mod stats;
pub mod tables;
pub mod tally;
pub mod targets;
pub mod verdict;

use std::path::Path;

pub use crate::error::InputError;
pub use run::RunReport;
pub use run_dir::RunDir;

/// The files a run directory holds (what `load`, `report --format html`, `merge` and an
/// experiment write there), removed by `--force` so that nothing of the old run stays
/// beside the new one.
pub const RUN_FILES: &[&str] = &[
    run_dir::RUN_JSON,
    run_dir::HGRM,
    hlog::FILE_NAME,
    run_dir::REPORT_HTML,
    "flamegraph.svg",
    crate::measure::heap::SVG_FILE_NAME,
    "experiment.json",
];

/// Claims the output directory of a run (or an experiment), before any work: `dir`
/// (`--out`) must not be a file, nor already hold `marker` (`run.json`,
/// `experiment.json`) unless `force`, which removes the old run's files first. Without
/// `dir`, `reports/<prefix><UTC timestamp>`, with `-2`, `-3`… when another run took that
/// name in the same second. The directory exists when this returns.
pub fn claim_out_dir(
    dir: Option<&Path>,
    prefix: &str,
    marker: &str,
    force: bool,
) -> Result<std::path::PathBuf, InputError> {
    let Some(dir) = dir else {
        return claim_new_dir(Path::new("reports"), prefix);
    };
    if dir.exists() && !dir.is_dir() {
        return Err(InputError::msg(format!(
            "--out {} is a file, not a directory: choose a directory (nothing was run)",
            dir.display()
        )));
    }
    if dir.join(marker).exists() {
        if !force {
            return Err(InputError::msg(format!(
                "--out {} already holds {} ({marker}): choose another directory, or --force \
                 to replace it (nothing was run)",
                dir.display(),
                if marker == "experiment.json" {
                    "an experiment"
                } else {
                    "a run"
                }
            )));
        }
        // An experiment's runs are its own `runs/NN-ARM/` directories.
        let runs = dir.join("runs");
        if marker == "experiment.json" && runs.is_dir() {
            std::fs::remove_dir_all(&runs).map_err(|e| {
                InputError::msg(format!("--force: cannot remove {}: {e}", runs.display()))
            })?;
        }
        for file in RUN_FILES {
            let path = dir.join(file);
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(InputError::msg(format!(
                        "--force: cannot remove {}: {e}",
                        path.display()
                    )));
                }
                _ => {}
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| {
        InputError::msg(format!(
            "cannot create --out {}: {e} (nothing was run)",
            dir.display()
        ))
    })?;
    Ok(dir.to_path_buf())
}

/// A new directory `<reports>/<prefix><UTC timestamp>[-N]`, made with `create_dir` (which
/// fails when it exists) so that two runs started in the same second never share one.
pub fn claim_new_dir(reports: &Path, prefix: &str) -> Result<std::path::PathBuf, InputError> {
    std::fs::create_dir_all(reports)
        .map_err(|e| InputError::msg(format!("cannot create {}: {e}", reports.display())))?;
    let stamp = format!("{prefix}{}", chrono::Utc::now().format("%Y%m%dT%H%M%SZ"));
    for n in 1u32.. {
        let name = if n == 1 {
            stamp.clone()
        } else {
            format!("{stamp}-{n}")
        };
        let candidate = reports.join(name);
        // create_dir, not create_dir_all: it fails when another run made it first.
        match std::fs::create_dir(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(InputError::msg(format!(
                    "cannot create {}: {e}",
                    candidate.display()
                )));
            }
        }
    }
    unreachable!("u32 names run out")
}

/// Checks, before any work, that a file can be written at `path` (`--out FILE`): its
/// directory exists and it is not itself a directory.
pub fn check_out_file(path: &Path, flag: &str) -> Result<(), InputError> {
    if path.is_dir() {
        return Err(InputError::msg(format!(
            "{flag} {} is a directory: give a file name (nothing was run)",
            path.display()
        )));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !parent.is_dir() {
        return Err(InputError::msg(format!(
            "{flag} {}: the directory {} does not exist (nothing was run)",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_run_dirs_never_collide_and_out_is_checked_first() {
        let reports = tempfile::tempdir().unwrap();
        // Many claims within one second: all distinct, all created.
        let dirs: Vec<_> = (0..5)
            .map(|_| claim_new_dir(reports.path(), "").unwrap())
            .collect();
        let mut unique = dirs.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), dirs.len(), "{dirs:?}");
        assert!(dirs.iter().all(|d| d.is_dir()));

        let run = reports.path().join("run");
        std::fs::create_dir(&run).unwrap();
        for file in ["run.json", "report.html", "latency.hgrm"] {
            std::fs::write(run.join(file), "old").unwrap();
        }
        let e = claim_out_dir(Some(&run), "", "run.json", false).unwrap_err();
        assert!(e.to_string().contains("--force"), "{e}");
        assert!(run.join("report.html").exists());
        claim_out_dir(Some(&run), "", "run.json", true).unwrap();
        assert!(common_files_gone(&run));

        let experiment = reports.path().join("x");
        std::fs::create_dir_all(experiment.join("runs/01-baseline")).unwrap();
        std::fs::write(experiment.join("experiment.json"), "{}").unwrap();
        std::fs::write(experiment.join("runs/01-baseline/run.json"), "{}").unwrap();
        let e = claim_out_dir(Some(&experiment), "", "experiment.json", false).unwrap_err();
        assert!(e.to_string().contains("an experiment"), "{e}");
        claim_out_dir(Some(&experiment), "", "experiment.json", true).unwrap();
        assert!(!experiment.join("runs").exists() && common_files_gone(&experiment));

        let file = reports.path().join("afile");
        std::fs::write(&file, "x").unwrap();
        assert!(claim_out_dir(Some(&file), "", "run.json", true).is_err());
        assert!(check_out_file(&reports.path().join("missing/a.json"), "--out").is_err());
        assert!(check_out_file(reports.path(), "--out").is_err());
        assert!(check_out_file(&reports.path().join("a.json"), "--out").is_ok());
    }

    fn common_files_gone(dir: &Path) -> bool {
        RUN_FILES.iter().all(|f| !dir.join(f).exists())
    }
}
