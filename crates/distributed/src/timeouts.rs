//! Every deadline the cluster keeps, in one place. Each network wait in the scheduler, the
//! workers and the client is bounded by one of these, so a peer that stops answering (SIGSTOP,
//! a cut cable, a full disk) costs a bounded wait and an error or a retry — never a hang.
//!
//! Defaults follow Dask's where it has one (a worker silent for 30 s is dead). Each can be set
//! in the environment (read by [`Timeouts::from_env`], which every process of a cluster calls
//! at start, so a `LocalCluster`'s workers inherit the test's or the user's settings) or on the
//! command line (`rask scheduler --heartbeat-timeout 5s`). A duration is written `500ms`,
//! `10s`, `2m` or a bare number of seconds.

use std::time::Duration;

/// The cluster's deadlines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// `RASK_HEARTBEAT_TIMEOUT` (30 s): a worker the scheduler has not heard from for this long
    /// is declared dead and fenced; its tasks run elsewhere.
    pub heartbeat: Duration,
    /// `RASK_SCHEDULER_TIMEOUT` (30 s): a client or worker that has not heard from the scheduler
    /// for this long (it pings every second) gives up on it with an error.
    pub scheduler: Duration,
    /// `RASK_FETCH_TIMEOUT` (10 s): one fetch of results from a peer (connect, request and
    /// reply). A holder that misses it is skipped and reported to the scheduler.
    pub fetch: Duration,
    /// `RASK_CONNECT_TIMEOUT` (10 s): opening a connection and its handshake.
    pub connect: Duration,
    /// `RASK_WRITE_TIMEOUT` (30 s): sending one message to a peer that does not read it.
    pub write: Duration,
    /// `RASK_NO_WORKERS_TIMEOUT` (60 s): tasks wait this long for a worker to exist, then
    /// err, so a client of an empty cluster gets an error instead of waiting forever.
    pub no_workers: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            heartbeat: Duration::from_secs(30),
            scheduler: Duration::from_secs(30),
            fetch: Duration::from_secs(10),
            connect: Duration::from_secs(10),
            write: Duration::from_secs(30),
            no_workers: Duration::from_secs(60),
        }
    }
}

/// The environment variable behind each field, for documentation and for re-executed workers.
pub const VARIABLES: [&str; 6] = [
    "RASK_HEARTBEAT_TIMEOUT",
    "RASK_SCHEDULER_TIMEOUT",
    "RASK_FETCH_TIMEOUT",
    "RASK_CONNECT_TIMEOUT",
    "RASK_WRITE_TIMEOUT",
    "RASK_NO_WORKERS_TIMEOUT",
];

impl Timeouts {
    /// The defaults, overridden by whichever `RASK_*_TIMEOUT` variables are set. A value that
    /// does not parse is reported on stderr and ignored (the default stands).
    pub fn from_env() -> Timeouts {
        let mut t = Timeouts::default();
        for (name, field) in VARIABLES.iter().zip(t.fields_mut()) {
            let Ok(text) = std::env::var(name) else { continue };
            match parse_duration(&text) {
                Ok(d) => *field = d,
                Err(e) => tracing::warn!("ignoring {name}={text:?}: {e}"),
            }
        }
        t
    }

    fn fields_mut(&mut self) -> [&mut Duration; 6] {
        [
            &mut self.heartbeat,
            &mut self.scheduler,
            &mut self.fetch,
            &mut self.connect,
            &mut self.write,
            &mut self.no_workers,
        ]
    }

    /// The environment a child process needs to keep these deadlines.
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let mut copy = *self;
        VARIABLES.iter().zip(copy.fields_mut()).map(|(name, d)| (*name, format!("{}ms", d.as_millis()))).collect()
    }
}

pub use rask_exec::parse_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_form_round_trips() {
        let t = Timeouts { heartbeat: Duration::from_millis(2500), ..Timeouts::default() };
        let env = t.to_env();
        assert_eq!(env[0], ("RASK_HEARTBEAT_TIMEOUT", "2500ms".to_owned()));
        for ((name, text), expected) in env.iter().zip(VARIABLES) {
            assert_eq!(*name, expected);
            assert!(parse_duration(text).is_ok());
        }
    }
}
