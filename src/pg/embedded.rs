//! The embedded throwaway PostgreSQL cluster: every command that needs a database and
//! was given no `--database-url` starts one, and stops it and removes its directory when
//! the command ends (success, error, Ctrl-C or panic: [`Cluster`]'s `Drop` does it).
//!
//! PostgreSQL refuses to run as root, so when the tool runs as root the server runs as
//! the unprivileged `postgres` system user. The tool runs on shared machines, so the
//! cluster admits no other local user: its directory (data, socket, log) is 0700 and
//! owned by the cluster's user; the socket is 0700 too; the `pg_hba.conf` the tool
//! writes admits the database user `postgres` only over the socket from the tool's own
//! OS user (peer, through an ident map), and over TCP on 127.0.0.1 only with a
//! password (scram-sha-256: the superuser's is random, lives in the URL the tool uses
//! and is never printed), and rejects everything else. The password reaches `initdb` through a 0600 file that
//! is removed as soon as `initdb` has read it.
//!
//! A cluster whose owning process was killed outright (SIGKILL, OOM) cannot stop
//! itself: each cluster directory records its owner's pid, and the next start sweeps
//! away clusters whose owner is gone (unless they were kept with `--keep-db`).

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Why the embedded cluster could not be started.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "PostgreSQL server binaries (initdb, postgres, pg_ctl) not found via pg_config, PATH or \
         /usr/lib/postgresql/*/bin: install them (Debian: apt-get install postgresql \
         postgresql-contrib) or pass --database-url to use an existing database"
    )]
    BinariesNotFound,
    #[error(
        "running as root, and PostgreSQL refuses root: the embedded cluster runs as the \
         `postgres` system user, which does not exist here; create it (useradd --system \
         postgres) or pass --database-url"
    )]
    NoPostgresUser,
    #[error("{step} failed for the embedded cluster in {dir}: {detail}")]
    Command {
        step: &'static str,
        dir: String,
        detail: String,
    },
    #[error("embedded cluster: {0}")]
    Io(#[from] std::io::Error),
}

/// Options for starting an embedded cluster.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    /// Extra `-c name=value` server settings, after the built-in ones.
    pub settings: Vec<(String, String)>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        Self {
            settings: vec![(
                "shared_preload_libraries".into(),
                "pg_stat_statements".into(),
            )],
        }
    }
}

/// The unprivileged account the server runs as when we are root.
#[derive(Debug, Clone)]
struct RunAs {
    uid: u32,
    gid: u32,
}

/// A running throwaway cluster. Dropping it stops the server and deletes its directory,
/// unless [`Cluster::keep`] was called.
#[derive(Debug)]
pub struct Cluster {
    bindir: PathBuf,
    dir: PathBuf,
    port: u16,
    run_as: Option<RunAs>,
    settings: Vec<(String, String)>,
    startup: Duration,
    version: String,
    password: String,
    stopped: bool,
    keep: bool,
}

/// Directory-name prefix of embedded clusters (under the temp dir).
const DIR_PREFIX: &str = "koprogo-perf-pg.";
/// File in a cluster directory holding the pid of the process that owns it.
const OWNER_FILE: &str = "owner.pid";
/// File whose presence marks a cluster kept with `--keep-db`.
const KEPT_FILE: &str = "kept";
/// File holding the superuser's password while `initdb` runs (0600, removed after).
const PASSWORD_FILE: &str = "pwfile";
/// The `pg_ident.conf` map of the OS users allowed over the socket.
const IDENT_MAP: &str = "koprogo";

/// Creates `path` readable and writable by its owner only (0600 from the first byte).
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)
}

impl Cluster {
    /// `initdb` into a fresh temporary directory, then start the server on a free
    /// loopback port and wait until it accepts connections.
    pub fn start(options: &ClusterOptions) -> Result<Cluster, ClusterError> {
        let began = Instant::now();
        let bindir = find_bindir().ok_or(ClusterError::BinariesNotFound)?;
        let run_as = if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .ok_or(ClusterError::NoPostgresUser)?;
            Some(RunAs {
                uid: user.uid.as_raw(),
                gid: user.gid.as_raw(),
            })
        } else {
            None
        };
        sweep_orphans();
        // 0700 from the start (the default follows the umask, 0755): nothing of the
        // cluster is ever visible to another user, not even for a moment.
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()?
            .keep();
        write_private(
            &dir.join(OWNER_FILE),
            std::process::id().to_string().as_bytes(),
        )?;
        let password: String = {
            use rand::Rng;
            rand::rng()
                .sample_iter(rand::distr::Alphanumeric)
                .take(32)
                .map(char::from)
                .collect()
        };
        let pwfile = dir.join(PASSWORD_FILE);
        write_private(&pwfile, password.as_bytes())?;
        let mut cluster = Cluster {
            version: bindir
                .parent()
                .and_then(|p| p.file_name())
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            bindir,
            dir,
            port: 0,
            run_as,
            settings: options.settings.clone(),
            startup: Duration::ZERO,
            password,
            stopped: true,
            keep: false,
        };
        // From here on, Drop removes the directory whatever fails.
        if let Some(run_as) = &cluster.run_as {
            std::os::unix::fs::chown(&cluster.dir, Some(run_as.uid), Some(run_as.gid))?;
            std::os::unix::fs::chown(&pwfile, Some(run_as.uid), Some(run_as.gid))?;
        }
        let initdb = cluster.run(
            "initdb",
            &[
                "-D",
                &cluster.data_dir().to_string_lossy(),
                "-U",
                "postgres",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                &format!("--pwfile={PASSWORD_FILE}"),
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
        );
        // The password now lives only in the cluster (as a scram verifier) and in memory.
        std::fs::remove_file(&pwfile)?;
        initdb?;
        cluster.write_access_rules()?;
        // A free port can be taken by someone else between our probe and the server's
        // bind; try a few.
        let mut last_error = None;
        for _ in 0..3 {
            cluster.port = free_port()?;
            // A start that timed out may still bring a server up: from here on, stop()
            // must try, whatever pg_ctl said.
            cluster.stopped = false;
            match cluster.pg_ctl("start") {
                Ok(()) => {
                    last_error = None;
                    break;
                }
                Err(e) => {
                    let _ = cluster.pg_ctl_args(&["-m", "immediate", "stop"]);
                    last_error = Some(e);
                }
            }
        }
        if let Some(e) = last_error {
            return Err(e);
        }
        cluster.startup = began.elapsed();
        Ok(cluster)
    }

    /// The connection URL of the `postgres` database. It holds the cluster's password:
    /// print [`Cluster::display_url`] instead.
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// The connection URL of another database on this cluster (with its password).
    pub fn url_for(&self, database: &str) -> String {
        format!(
            "postgres://postgres:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// The URL with the password hidden, for messages.
    pub fn display_url(&self) -> String {
        super::redact_url(&self.url())
    }

    /// A `psql` command line that reaches the cluster through its Unix socket, for the
    /// OS user running the tool (no password: peer authentication, and only that user
    /// and the cluster's can reach the socket).
    pub fn psql_command(&self) -> String {
        let psql = self.bindir.join("psql");
        format!(
            "{} -h {} -p {} -U postgres postgres",
            psql.display(),
            self.dir.display(),
            self.port
        )
    }

    /// The loopback TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the data directory, the socket and the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// How long `initdb` plus the first start took.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// The PostgreSQL major version of the binaries used (e.g. "15").
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The postmaster's process id, read from `postmaster.pid`.
    pub fn postmaster_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data_dir().join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    /// Restarts the server (for settings that need it) and waits until it accepts
    /// connections again.
    pub fn restart(&mut self) -> Result<(), ClusterError> {
        self.pg_ctl("restart")
    }

    /// Leaves the cluster running when this value is dropped, and returns the command
    /// that stops it and removes its directory.
    pub fn keep(&mut self) -> String {
        self.keep = true;
        let _ = write_private(&self.dir.join(KEPT_FILE), b"");
        let pg_ctl = self.bindir.join("pg_ctl");
        let stop = format!(
            "{} -D {} -m fast stop && rm -rf {}",
            pg_ctl.display(),
            self.data_dir().display(),
            self.dir.display()
        );
        match self.run_as {
            Some(_) => format!("runuser -u postgres -- {stop}"),
            None => stop,
        }
    }

    /// Stops the server and removes the directory. Called by `Drop`; idempotent.
    pub fn stop(&mut self) {
        if self.keep {
            return;
        }
        if !self.stopped {
            let pid = self.postmaster_pid();
            // `fast` rolls back open transactions and disconnects clients; if it does not
            // finish in time, `immediate` makes sure nothing is left running.
            if self
                .pg_ctl_args(&["-m", "fast", "-t", "20", "stop"])
                .is_err()
            {
                let _ = self.pg_ctl_args(&["-m", "immediate", "stop"]);
            }
            // pg_ctl returns once the pid file is gone; the postmaster exits just after.
            if let Some(pid) = pid {
                let began = Instant::now();
                while process_alive(pid) && began.elapsed() < Duration::from_secs(5) {
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
            self.stopped = true;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Replaces initdb's `pg_hba.conf` and `pg_ident.conf`: the database user `postgres`
    /// over the socket for the tool's own OS user and the cluster's (peer, mapped), and
    /// any role over TCP from 127.0.0.1 with its password (only the superuser can give
    /// a role one; tests make a non-superuser that way); every other connection is
    /// rejected.
    fn write_access_rules(&self) -> Result<(), ClusterError> {
        let mut os_users = Vec::new();
        if let Ok(Some(me)) = nix::unistd::User::from_uid(nix::unistd::geteuid()) {
            os_users.push(me.name);
        }
        if let Some(run_as) = &self.run_as
            && let Ok(Some(user)) = nix::unistd::User::from_uid(run_as.uid.into())
            && !os_users.contains(&user.name)
        {
            os_users.push(user.name);
        }
        let mut ident = String::from(
            "# Written by koprogo-perf: the OS users that may connect over the socket.\n\
             # MAPNAME  SYSTEM-USERNAME  PG-USERNAME\n",
        );
        for user in &os_users {
            ident.push_str(&format!("{IDENT_MAP}  \"{user}\"  postgres\n"));
        }
        let hba = format!(
            "# Written by koprogo-perf: only the tool may connect; everything else is rejected.\n\
             # TYPE  DATABASE     USER      ADDRESS        METHOD\n\
             local   all          postgres                 peer map={IDENT_MAP}\n\
             host    all          all       127.0.0.1/32   scram-sha-256\n\
             local   all          all                      reject\n\
             host    all          all       all            reject\n\
             local   replication  all                      reject\n\
             host    replication  all       all            reject\n"
        );
        let data = self.data_dir();
        for (name, text) in [("pg_ident.conf", ident), ("pg_hba.conf", hba)] {
            let path = data.join(name);
            // Replaced in place: initdb made them 0600 and the cluster user's.
            std::fs::write(&path, text)?;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        }
        Ok(())
    }

    fn pg_ctl(&self, action: &str) -> Result<(), ClusterError> {
        // On the command line, so that neither ALTER SYSTEM nor a profile can widen them.
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c unix_socket_permissions=0700",
            self.port,
            self.dir.display()
        );
        for (name, value) in &self.settings {
            options.push_str(&format!(" -c {name}={value}"));
        }
        let log = self.dir.join("postgres.log");
        self.pg_ctl_args(&[
            "-w",
            "-t",
            "60",
            "-o",
            &options,
            "-l",
            &log.to_string_lossy(),
            action,
        ])
    }

    fn pg_ctl_args(&self, args: &[&str]) -> Result<(), ClusterError> {
        let data = self.data_dir();
        let mut all = vec!["-D", data.to_str().unwrap_or_default()];
        all.extend_from_slice(args);
        self.run("pg_ctl", &all)
    }

    /// Runs one of the server binaries as the cluster's user and turns a failure into an
    /// error that quotes the tool's last words (and the server log's, when there is one).
    fn run(&self, program: &'static str, args: &[&str]) -> Result<(), ClusterError> {
        let mut command = Command::new(self.bindir.join(program));
        command.args(args).current_dir(&self.dir);
        // The server must not inherit our terminal's Ctrl-C: we stop it ourselves, in
        // order, after the work that uses it has ended.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        if let Some(run_as) = &self.run_as {
            std::os::unix::process::CommandExt::uid(&mut command, run_as.uid);
            std::os::unix::process::CommandExt::gid(&mut command, run_as.gid);
            command.env("HOME", &self.dir);
        }
        let output: Output = command.output()?;
        if output.status.success() {
            return Ok(());
        }
        let mut detail = last_line(&output.stderr)
            .or_else(|| last_line(&output.stdout))
            .unwrap_or_else(|| format!("exit status {}", output.status));
        if let Ok(log) = std::fs::read(self.dir.join("postgres.log"))
            && let Some(line) = last_line(&log)
        {
            detail.push_str(&format!(" (server log: {line})"));
        }
        Err(ClusterError::Command {
            step: program,
            dir: self.dir.display().to_string(),
            detail,
        })
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Stops and removes clusters left by processes that no longer exist (killed with
/// SIGKILL, or by the OOM killer), except kept ones. Best effort: errors are ignored.
fn sweep_orphans() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with(DIR_PREFIX) || dir.join(KEPT_FILE).exists() {
            continue;
        }
        let Some(owner) = std::fs::read_to_string(dir.join(OWNER_FILE))
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        else {
            continue;
        };
        if process_alive(owner) {
            continue;
        }
        if let Some(pid) = std::fs::read_to_string(dir.join("data/postmaster.pid"))
            .ok()
            .and_then(|t| t.lines().next()?.trim().parse::<i32>().ok())
        {
            // SIGQUIT: PostgreSQL's immediate shutdown.
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGQUIT,
            );
            let began = Instant::now();
            while process_alive(pid as u32) && began.elapsed() < Duration::from_secs(5) {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        eprintln!(
            "removed an embedded cluster left by a killed koprogo-perf (pid {owner}): {}",
            dir.display()
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// True while `pid` exists and is not a zombie.
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesized command name.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

fn last_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn has_server(dir: &Path) -> bool {
    ["initdb", "pg_ctl", "postgres"]
        .iter()
        .all(|b| dir.join(b).is_file())
}

/// Where the server binaries are: `pg_config --bindir`, then `PATH` (resolving symlinks,
/// since Debian links only some of them into /usr/local/bin), then the highest version
/// under /usr/lib/postgresql.
pub fn find_bindir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if has_server(&dir) {
            return Some(dir);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if initdb.is_file() {
                if has_server(&dir) {
                    return Some(dir);
                }
                if let Some(real) = std::fs::canonicalize(&initdb)
                    .ok()
                    .and_then(|p| p.parent().map(Path::to_path_buf))
                    && has_server(&real)
                {
                    return Some(real);
                }
            }
        }
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let key: Vec<u32> = name
                .split('.')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            Some((key, e.path().join("bin")))
        })
        .filter(|(_, bin)| has_server(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn private_files_are_0600_from_the_start() {
        // (std::fs::write would make it 0644 under the usual umask 022.)
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pwfile");
        super::write_private(&path, b"secret").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"secret");
        // Never written over: a file planted in its place is an error, not a target.
        assert!(super::write_private(&path, b"other").is_err());
    }
}
