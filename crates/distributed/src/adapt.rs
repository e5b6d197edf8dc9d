//! Adaptive scaling of a [`crate::LocalCluster`] (Dask's `adapt`): a thread that reads the
//! scheduler's `workers_wanted` every [`INTERVAL`] and starts worker processes when more are
//! wanted, or retires idle ones gracefully (`retire_workers`: their results move first) when
//! fewer have been wanted for [`COOLDOWN`]. The policy itself is the scheduler's
//! (`State::workers_wanted`: queued and running work over throughput); this only applies it
//! within `min..=max`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::cluster::WorkerProcesses;
use crate::{Client, DistError};

/// How often the want is read.
pub const INTERVAL: Duration = Duration::from_millis(250);
/// How long fewer workers must be wanted before idle ones are retired.
pub const COOLDOWN: Duration = Duration::from_secs(2);

/// A change the scaler made: workers started, or retired (their addresses).
#[derive(Clone, Debug, PartialEq)]
pub enum Scaled {
    Up { started: usize, wanted: u32 },
    Down { retired: Vec<String>, wanted: u32 },
}

/// A running adaptive scaler: see [`crate::LocalCluster::adapt`]. Dropping it stops scaling
/// (the workers there are stay).
pub struct Adaptive {
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<Scaled>>>,
    thread: Option<JoinHandle<()>>,
}

impl Adaptive {
    pub(crate) fn start(
        client: Client,
        pool: Arc<WorkerProcesses>,
        min: usize,
        max: usize,
    ) -> Result<Adaptive, DistError> {
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let (stop_, log_) = (stop.clone(), log.clone());
        let thread = std::thread::Builder::new()
            .name("rask-adapt".into())
            .spawn(move || scale(&client, &pool, min, max, &stop_, &log_))?;
        Ok(Adaptive { stop, log, thread: Some(thread) })
    }

    /// What it has done so far, oldest first.
    pub fn history(&self) -> Vec<Scaled> {
        self.log.lock().expect("adapt log").clone()
    }
}

impl Drop for Adaptive {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn scale(client: &Client, pool: &WorkerProcesses, min: usize, max: usize, stop: &AtomicBool, log: &Mutex<Vec<Scaled>>) {
    let mut low_since: Option<Instant> = None;
    while !stop.load(Ordering::Acquire) {
        std::thread::sleep(INTERVAL);
        let Ok(stats) = client.stats() else { return }; // the cluster is gone
        let running = pool.running();
        let wanted = (stats.workers_wanted as usize).clamp(min, max);
        if wanted > running {
            let started = (running..wanted).take_while(|_| pool.spawn_default().is_ok()).count();
            tracing::info!("adapt: {wanted} workers wanted, {running} running: started {started}");
            log.lock().expect("adapt log").push(Scaled::Up { started, wanted: stats.workers_wanted });
            low_since = None;
            continue;
        }
        // Fewer wanted than have joined: after the cool-down, retire the idle ones, those
        // holding least first (they have the least to hand over).
        if wanted >= stats.workers as usize {
            low_since = None;
            continue;
        }
        let since = *low_since.get_or_insert_with(Instant::now);
        if since.elapsed() < COOLDOWN {
            continue;
        }
        let mut idle: Vec<_> = stats.worker_status.iter().filter(|w| w.processing == 0).collect();
        idle.sort_by_key(|w| w.bytes_in_memory + w.bytes_spilled);
        let surplus = stats.workers as usize - wanted;
        let addrs: Vec<String> = idle.iter().take(surplus).map(|w| w.addr.clone()).collect();
        if addrs.is_empty() {
            continue;
        }
        match client.retire_workers(&addrs) {
            Ok(retired) => {
                tracing::info!("adapt: {wanted} workers wanted: retired {retired:?}");
                log.lock().expect("adapt log").push(Scaled::Down { retired, wanted: stats.workers_wanted });
            }
            Err(e) => tracing::warn!("adapt: retiring {addrs:?}: {e}"),
        }
        low_since = None;
    }
}
