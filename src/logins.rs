//! Login credentials (`EMAIL:PASSWORD`) as the commands take them: one flag, the
//! `KOPROGO_PERF_LOGINS` variable, or a logins file, which `seed --host` also writes.
//! Nothing here ever formats a password.

use std::fmt;

/// Credentials a virtual user logs in with. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Login {
    pub email: String,
    pub password: String,
}

impl fmt::Debug for Login {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Login({}, ***)", self.email)
    }
}

impl std::str::FromStr for Login {
    type Err = String;

    /// `EMAIL:PASSWORD` (the password may itself contain `:`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(':') {
            Some((email, password)) if !email.is_empty() && !password.is_empty() => Ok(Login {
                email: email.to_string(),
                password: password.to_string(),
            }),
            _ => Err("expected EMAIL:PASSWORD".into()),
        }
    }
}

/// Parses `KOPROGO_PERF_LOGINS`: `EMAIL:PASSWORD` entries separated by commas or
/// whitespace (so a password holding either needs [`parse_logins_file`]). An error
/// names the entry by its number only: any fragment could be a piece of a password.
pub fn parse_logins(text: &str) -> Result<Vec<Login>, String> {
    let entries: Vec<&str> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    entries
        .iter()
        .enumerate()
        .map(|(i, s)| {
            s.parse().map_err(|_| {
                format!(
                    "KOPROGO_PERF_LOGINS entry {} of {} is not EMAIL:PASSWORD (not shown); a \
                     password with a comma or a space needs --logins-file",
                    i + 1,
                    entries.len()
                )
            })
        })
        .collect()
}

/// Parses a logins file: one `EMAIL:PASSWORD` a line, the password everything after the
/// first colon (spaces, commas, `#` and `=` included); blank lines and lines starting
/// with `#` are skipped. `file` names it in errors, which give the line number only.
pub fn parse_logins_file(text: &str, file: &str) -> Result<Vec<Login>, String> {
    let mut logins = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let trimmed = line.trim_start();
        if trimmed.trim_end().is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let login = match trimmed.split_once(':') {
            Some((email, password)) if !email.trim().is_empty() && !password.is_empty() => Login {
                email: email.trim().to_string(),
                password: password.to_string(),
            },
            _ => {
                return Err(format!(
                    "{file}:{}: expected EMAIL:PASSWORD (the line is not shown)",
                    i + 1
                ));
            }
        };
        logins.push(login);
    }
    if logins.is_empty() {
        return Err(format!("{file}: no EMAIL:PASSWORD line"));
    }
    Ok(logins)
}
