//! A scheduler and worker processes on this machine, in one call.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::scheduler::SchedulerThread;
use crate::worker::{self, WorkerOptions};
use crate::{Client, DistError};

const ENV: &str = "RASK_DIST_WORKER";

/// If this process was started as a cluster worker, runs as one and exits; otherwise hands over
/// to `rask_exec::worker_main_if_requested` (the multiprocess executor's workers) and returns.
/// Call it first thing in `main`.
pub fn worker_main_if_requested() {
    if let Some(spec) = std::env::var_os(ENV) {
        std::env::remove_var(ENV);
        let spec = spec.to_string_lossy().into_owned();
        let mut parts = spec.split('#');
        let addr = parts.next().unwrap_or_default();
        let nthreads = parts.next().and_then(|n| n.parse().ok()).unwrap_or(1);
        let memory_limit = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let options =
            WorkerOptions { scheduler: addr.to_owned(), nthreads, memory_limit, secret: crate::secret_from_env() };
        let code = match worker::run(options) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("rask worker: {e}");
                1
            }
        };
        std::process::exit(code);
    }
    rask_exec::worker_main_if_requested();
}

/// An embedded scheduler plus `n` worker processes (this executable, re-executed).
pub struct LocalCluster {
    scheduler: SchedulerThread,
    workers: Vec<Child>,
    nthreads: usize,
    memory_limit: u64,
    secret: Option<Vec<u8>>,
}

impl LocalCluster {
    /// Starts the scheduler on a free loopback port and `n_workers` workers of
    /// `threads_per_worker` threads; returns once they have all joined.
    pub fn new(n_workers: usize, threads_per_worker: usize) -> Result<LocalCluster, DistError> {
        LocalCluster::with_memory_limit(n_workers, threads_per_worker, 0)
    }

    /// As [`LocalCluster::new`], each worker limited to `memory_limit` bytes (0: none): past
    /// 60% of it results spill to disk, past 80% (resident memory) the worker pauses.
    pub fn with_memory_limit(
        n_workers: usize,
        threads_per_worker: usize,
        memory_limit: u64,
    ) -> Result<LocalCluster, DistError> {
        let secret = crate::secret_from_env();
        let scheduler = SchedulerThread::start("127.0.0.1:0", secret.clone())?;
        let nthreads = threads_per_worker.max(1);
        let mut cluster = LocalCluster { scheduler, workers: Vec::new(), nthreads, memory_limit, secret };
        for _ in 0..n_workers {
            cluster.add_worker()?;
        }
        cluster.wait_for_workers(n_workers)?;
        Ok(cluster)
    }

    /// `tcp://127.0.0.1:PORT`.
    pub fn address(&self) -> String {
        format!("tcp://{}", self.scheduler.addr())
    }

    pub fn client(&self) -> Result<Client, DistError> {
        Client::connect_with(&self.address(), self.secret.clone())
    }

    pub fn worker_pids(&self) -> Vec<u32> {
        self.workers.iter().map(Child::id).collect()
    }

    /// Starts one more worker process.
    pub fn add_worker(&mut self) -> Result<(), DistError> {
        self.add_worker_with_limit(self.memory_limit)
    }

    /// Starts one more worker process with its own memory limit (0: none).
    pub fn add_worker_with_limit(&mut self, memory_limit: u64) -> Result<(), DistError> {
        let spec = format!("{}#{}#{}", self.scheduler.addr(), self.nthreads, memory_limit);
        let child =
            Command::new(std::env::current_exe()?).env(ENV, spec).stdin(Stdio::null()).stdout(Stdio::null()).spawn()?;
        self.workers.push(child);
        Ok(())
    }

    /// Waits until `n` workers have joined the scheduler.
    pub fn wait_for_workers(&self, n: usize) -> Result<(), DistError> {
        let client = self.client()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while (client.stats()?.workers as usize) < n {
            if Instant::now() > deadline {
                return Err(DistError::Protocol(format!(
                    "only {} of {n} workers joined in 30 s",
                    client.stats()?.workers
                )));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
            // Killed workers leave their shared-memory results behind: remove them now.
            rask_store::sweep(&format!("rask-{}-", w.id()));
        }
    }
}
