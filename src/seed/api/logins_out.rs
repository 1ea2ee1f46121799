//! The file of logins `seed --host` creates: one `EMAIL:PASSWORD` a line, the format
//! `--logins-file` reads, mode 0600, rewritten whole (a temporary file renamed over
//! it) each time a login is added, so that an interrupted seed never leaves it half
//! written.
//!
//! A user's line is written *before* the request that creates the user: a seed
//! killed in between leaves a line whose user may not exist, which the next run
//! creates with that very password; it never leaves a user whose password nobody has.
//! The syndics come first, in organization order, under a `# syndic` header: `load`,
//! `audit` and `experiment` log in with the whole file, and a syndic is what their
//! scenarios need; accountants and owners follow as comments (`#accountant EMAIL:…`)
//! that `--logins-file` skips.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::Rng;
use rand::distr::Alphanumeric;

use super::ApiSeedError;

/// The logins file of one seed run.
pub struct LoginsOut {
    path: PathBuf,
    /// By role, then organization index and e-mail: the file's order.
    entries: BTreeMap<(u8, usize, String), String>,
}

fn role_rank(role: &str) -> u8 {
    match role {
        "syndic" => 0,
        "accountant" => 1,
        _ => 2,
    }
}

impl LoginsOut {
    /// Opens `path`: the logins an earlier run wrote there are kept, with their
    /// passwords. A file other users may read is refused.
    pub fn open(path: &Path) -> Result<LoginsOut, ApiSeedError> {
        let err = |cause: String| ApiSeedError::LoginsFile {
            path: path.display().to_string(),
            cause,
        };
        let mut out = LoginsOut {
            path: path.to_path_buf(),
            entries: BTreeMap::new(),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(err(e.to_string())),
        };
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| err(e.to_string()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(err(format!(
                "other users may read it (mode {:o}); chmod 600 it or choose another file",
                mode & 0o777
            )));
        }
        for line in text.lines() {
            let (role, rest) = match line.strip_prefix('#') {
                Some(rest) => match rest.split_once(' ') {
                    Some((role @ ("accountant" | "owner"), rest)) => (role, rest),
                    _ => continue,
                },
                None => ("syndic", line),
            };
            if let Some((email, password)) = rest.split_once(':') {
                let org = out.entries.len();
                out.entries.insert(
                    (role_rank(role), org, email.trim().to_string()),
                    password.to_string(),
                );
            }
        }
        Ok(out)
    }

    /// The password the file holds for `email`, if any.
    pub fn password(&self, email: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|((_, _, e), _)| e == email)
            .map(|(_, p)| p.as_str())
    }

    /// The password of `email` (a `role` of organization `org`): the file's, or a new
    /// random one, written to the file before this returns. True when it is new.
    pub fn ensure(
        &mut self,
        org: usize,
        role: &str,
        email: &str,
    ) -> Result<(String, bool), ApiSeedError> {
        if let Some(password) = self.password(email) {
            return Ok((password.to_string(), false));
        }
        let password: String = rand::rng()
            .sample_iter(&Alphanumeric)
            .take(20)
            .map(char::from)
            .collect();
        self.entries
            .insert((role_rank(role), org, email.to_string()), password.clone());
        self.write()?;
        Ok((password, true))
    }

    /// Forgets `email` (its user could not be created) and rewrites the file.
    pub fn forget(&mut self, email: &str) -> Result<(), ApiSeedError> {
        self.entries.retain(|(_, _, e), _| e != email);
        self.write()
    }

    /// How many syndic logins the file holds.
    pub fn syndics(&self) -> usize {
        self.entries
            .keys()
            .filter(|(rank, _, _)| *rank == 0)
            .count()
    }

    fn write(&self) -> Result<(), ApiSeedError> {
        let err = |e: std::io::Error| ApiSeedError::LoginsFile {
            path: self.path.display().to_string(),
            cause: e.to_string(),
        };
        let mut text = String::from(
            "# Logins created by koprogo-perf seed --host: the syndics, one EMAIL:PASSWORD a line\n\
             # (load/audit/experiment --logins-file read them); other roles commented out.\n",
        );
        for ((rank, _, email), password) in &self.entries {
            let prefix = match rank {
                0 => "",
                1 => "#accountant ",
                _ => "#owner ",
            };
            text.push_str(&format!("{prefix}{email}:{password}\n"));
        }
        let tmp = self.path.with_extension("tmp-koprogo-perf");
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(err)?;
        file.write_all(text.as_bytes()).map_err(err)?;
        file.sync_all().map_err(err)?;
        std::fs::rename(&tmp, &self.path).map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_run_keeps_the_passwords_and_load_reads_only_syndics() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logins.txt");
        let mut out = LoginsOut::open(&path).unwrap();
        let (syndic, new) = out.ensure(0, "syndic", "syndic@a.be").unwrap();
        assert!(new && syndic.len() == 20);
        out.ensure(0, "owner", "owner@a.be").unwrap();
        out.ensure(1, "syndic", "syndic@b.be").unwrap();

        let again = LoginsOut::open(&path).unwrap();
        assert_eq!(again.password("syndic@a.be"), Some(syndic.as_str()));
        assert!(again.password("owner@a.be").is_some());
        assert_eq!(again.syndics(), 2);

        let text = std::fs::read_to_string(&path).unwrap();
        let logins = crate::logins::parse_logins_file(&text, "logins.txt").unwrap();
        let emails: Vec<_> = logins.iter().map(|l| l.email.as_str()).collect();
        assert_eq!(emails, ["syndic@a.be", "syndic@b.be"]);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_file_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logins.txt");
        std::fs::write(&path, "a@b.be:secret\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = LoginsOut::open(&path).err().unwrap().to_string();
        assert!(
            err.contains("chmod 600") && !err.contains("secret"),
            "{err}"
        );
    }
}
