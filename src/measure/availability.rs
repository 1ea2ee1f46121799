//! Whether the database of a stack the tool started stays up during a run: once a
//! second, the postmaster must still exist and a held connection must answer
//! `SELECT 1` (reconnecting when it does not). The first failure and the first success
//! after it make the run's outage.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Connection;

/// What the watcher saw: when the database stopped answering, when it came back.
#[derive(Debug, Clone, PartialEq)]
pub struct Outage {
    pub from: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub detail: String,
}

/// A running watcher.
pub struct Watcher {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Option<Outage>>,
}

impl Watcher {
    /// Starts watching `url` (and the postmaster `pid`, when known).
    pub fn start(url: String, postmaster: Option<u32>) -> Watcher {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut outage: Option<Outage> = None;
            let mut connection = None;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                let result = probe(&url, postmaster, &mut connection).await;
                let now = Utc::now();
                match (result, &mut outage) {
                    (Err(detail), None) => {
                        outage = Some(Outage {
                            from: now,
                            until: None,
                            detail,
                        })
                    }
                    (Ok(()), Some(o)) if o.until.is_none() => o.until = Some(now),
                    // Down again after coming back: the outage covers both.
                    (Err(_), Some(o)) => o.until = None,
                    _ => {}
                }
            }
            if let Some(c) = connection {
                let _ = tokio::time::timeout(Duration::from_secs(1), c.close()).await;
            }
            outage
        });
        Watcher { stop, task }
    }

    /// Stops watching; the outage seen, if any.
    pub async fn stop(self) -> Option<Outage> {
        let _ = self.stop.send(());
        self.task.await.ok().flatten()
    }
}

/// One probe: the postmaster exists and `SELECT 1` answers within 2 s.
async fn probe(
    url: &str,
    postmaster: Option<u32>,
    connection: &mut Option<sqlx::PgConnection>,
) -> Result<(), String> {
    if let Some(pid) = postmaster
        && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None).is_err()
    {
        *connection = None;
        return Err(format!("its postmaster (pid {pid}) is gone"));
    }
    let attempt = async {
        if connection.is_none() {
            *connection = Some(
                sqlx::PgConnection::connect(url)
                    .await
                    .map_err(|e| crate::error::root_cause(&e))?,
            );
        }
        let c = connection.as_mut().expect("connected above");
        sqlx::query("SELECT 1")
            .execute(c)
            .await
            .map(|_| ())
            .map_err(|e| crate::error::root_cause(&e))
    };
    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => {
            *connection = None;
            Err(e)
        }
        Err(_) => {
            *connection = None;
            Err("no answer within 2 s".into())
        }
    }
}
