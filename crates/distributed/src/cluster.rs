//! A scheduler and worker processes on this machine, in one call.

use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::scheduler::{SchedulerOptions, SchedulerThread, DEFAULT_DASHBOARD_PORT};
use crate::tls::Security;
use crate::worker::{self, WorkerOptions};
use crate::{Client, DistError, Timeouts};

const ENV: &str = "RASK_DIST_WORKER";

/// If this process was started as a cluster worker, runs as one and exits; otherwise hands over
/// to `rask_exec::worker_main_if_requested` (the multiprocess executor's workers) and returns.
/// Call it first thing in `main`.
pub fn worker_main_if_requested() {
    if let Some(spec) = std::env::var_os(ENV) {
        // Not inherited by what this worker starts; but a restart re-executes it as a worker.
        worker::restore_on_restart(ENV, &spec);
        std::env::remove_var(ENV);
        let spec = spec.to_string_lossy().into_owned();
        let mut parts = spec.split('#');
        let addr = parts.next().unwrap_or_default();
        let nthreads = parts.next().and_then(|n| n.parse().ok()).unwrap_or(1);
        let memory_limit = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        let resources = rask_graph::parse_resources(parts.next().unwrap_or_default()).unwrap_or_default();
        let options = match WorkerOptions::new(addr, nthreads) {
            Ok(options) => WorkerOptions { memory_limit, resources, ..options },
            Err(e) => std::process::exit(worker::exit_code(Err(e))),
        };
        crate::logging::init_from_env();
        std::process::exit(worker::exit_code(worker::run_process(options)));
    }
    if std::env::var_os("RASK_WORKER").is_some() {
        crate::logging::init_from_env();
    }
    rask_exec::worker_main_if_requested();
}

/// An embedded scheduler plus `n` worker processes (this executable, re-executed).
pub struct LocalCluster {
    scheduler: SchedulerThread,
    pool: Arc<WorkerProcesses>,
    security: Security,
    timeouts: Timeouts,
}

/// The cluster's worker processes, shared with its adaptive scaler ([`LocalCluster::adapt`]).
pub(crate) struct WorkerProcesses {
    scheduler_addr: String,
    security: Security,
    nthreads: usize,
    memory_limit: u64,
    timeouts: Timeouts,
    children: Mutex<Vec<Child>>,
    /// The cluster is gone: no more workers start (an adaptive scaler may outlive it).
    closed: AtomicBool,
}

impl WorkerProcesses {
    /// Starts one more worker process offering `resources`, with its own memory limit.
    pub(crate) fn spawn(&self, memory_limit: u64, resources: &[(&str, f64)]) -> Result<(), DistError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(DistError::Closed("the local cluster has stopped".into()));
        }
        let resources: Vec<String> = resources.iter().map(|(name, amount)| format!("{name}={amount}")).collect();
        let spec = format!("{}#{}#{}#{}", self.scheduler_addr, self.nthreads, memory_limit, resources.join(","));
        let (security_env, unset) = self.security.to_env();
        let mut command = Command::new(std::env::current_exe()?);
        for name in unset {
            command.env_remove(name);
        }
        let child = command
            .env(ENV, spec)
            .envs(security_env)
            .envs(self.timeouts.to_env())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()?;
        self.children.lock().expect("worker processes").push(child);
        Ok(())
    }

    /// Starts one more worker as the cluster's others are.
    pub(crate) fn spawn_default(&self) -> Result<(), DistError> {
        self.spawn(self.memory_limit, &[])
    }

    /// Reaps the workers that have exited (retired ones leave on their own, killed ones
    /// leave their segments and spill folder, removed here); how many run.
    pub(crate) fn running(&self) -> usize {
        let mut children = self.children.lock().expect("worker processes");
        children.retain_mut(|c| {
            let exited = matches!(c.try_wait(), Ok(Some(_)));
            if exited {
                remove_leftovers(c.id());
            }
            !exited
        });
        children.len()
    }

    fn pids(&self) -> Vec<u32> {
        self.children.lock().expect("worker processes").iter().map(Child::id).collect()
    }
}

/// How a [`LocalCluster`] is made.
#[derive(Clone, Debug)]
pub struct ClusterOptions {
    pub workers: usize,
    pub threads_per_worker: usize,
    /// Per worker, in bytes (0: none).
    pub memory_limit: u64,
    /// For the scheduler, the workers and the clients of [`LocalCluster::client`].
    pub timeouts: Timeouts,
    /// The shared secret and TLS of the scheduler, its workers and its clients; `None` (the
    /// default) for the environment's ([`Security::from_env`]: `RASK_SECRET`, `RASK_TLS_*`).
    pub security: Option<Security>,
    /// `HOST:PORT` of the scheduler's dashboard (`127.0.0.1:8787` by default, or a free port
    /// if that one is taken); `None` for none.
    pub dashboard: Option<String>,
}

impl ClusterOptions {
    /// `workers` workers of `threads_per_worker` threads, no memory limit, the deadlines and
    /// security of the environment (a TLS file that cannot be read is reported when the
    /// cluster starts).
    pub fn new(workers: usize, threads_per_worker: usize) -> ClusterOptions {
        ClusterOptions {
            security: None,
            workers,
            threads_per_worker,
            memory_limit: 0,
            timeouts: Timeouts::from_env(),
            dashboard: Some(format!("127.0.0.1:{DEFAULT_DASHBOARD_PORT}")),
        }
    }
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
        LocalCluster::with_options(ClusterOptions {
            memory_limit,
            ..ClusterOptions::new(n_workers, threads_per_worker)
        })
    }

    /// A cluster made as `options` say.
    pub fn with_options(options: ClusterOptions) -> Result<LocalCluster, DistError> {
        let security = match options.security {
            Some(security) => security,
            None => Security::from_env()?,
        };
        let timeouts = options.timeouts;
        let scheduler_options = SchedulerOptions { security: security.clone(), dashboard: options.dashboard, timeouts };
        let scheduler = SchedulerThread::start_with("127.0.0.1:0", scheduler_options)?;
        match scheduler.dashboard_url() {
            Some(url) => tracing::info!("local cluster at {}: dashboard at {url}", scheduler.address()),
            None => tracing::info!("local cluster at {}", scheduler.address()),
        }
        let pool = Arc::new(WorkerProcesses {
            scheduler_addr: scheduler.address(),
            security: security.clone(),
            nthreads: options.threads_per_worker.max(1),
            memory_limit: options.memory_limit,
            timeouts,
            children: Mutex::new(Vec::new()),
            closed: AtomicBool::new(false),
        });
        let mut cluster = LocalCluster { scheduler, pool, security, timeouts };
        for _ in 0..options.workers {
            cluster.add_worker()?;
        }
        cluster.wait_joined(options.workers, true)?;
        Ok(cluster)
    }

    /// `tcp://127.0.0.1:PORT` (`tls://` when the cluster uses TLS).
    pub fn address(&self) -> String {
        self.scheduler.address()
    }

    /// `http://127.0.0.1:PORT/status`: the live dashboard, if the cluster has one.
    pub fn dashboard_url(&self) -> Option<String> {
        self.scheduler.dashboard_url()
    }

    pub fn client(&self) -> Result<Client, DistError> {
        Client::connect_with_timeouts(
            &self.address(),
            self.security.clone(),
            rask_graph::Registry::new(),
            self.timeouts,
        )
    }

    /// The worker processes running now (those retired and gone are not).
    pub fn worker_pids(&self) -> Vec<u32> {
        self.pool.running();
        self.pool.pids()
    }

    /// Starts one more worker process.
    pub fn add_worker(&mut self) -> Result<(), DistError> {
        self.pool.spawn_default()
    }

    /// Scales the cluster between `min` and `max` workers as its work asks (Dask's `adapt`):
    /// every 250 ms it reads the scheduler's `workers_wanted` (queued and running work over
    /// throughput); above the workers running it starts more at once, below it retires idle
    /// workers gracefully (their results move to the others) once the want has stayed low
    /// for two seconds. Adapting stops when the returned handle is dropped.
    pub fn adapt(&self, min: usize, max: usize) -> Result<crate::adapt::Adaptive, DistError> {
        crate::adapt::Adaptive::start(self.client()?, self.pool.clone(), min, max.max(min))
    }

    /// Starts one more worker process with its own memory limit (0: none).
    pub fn add_worker_with_limit(&mut self, memory_limit: u64) -> Result<(), DistError> {
        self.add_worker_with(memory_limit, &[])
    }

    /// Starts one more worker process offering abstract `resources` (`[("GPU", 1.0)]`), with
    /// its own memory limit (0: none). Returns at once: see [`LocalCluster::wait_for_workers`].
    pub fn add_worker_with(&mut self, memory_limit: u64, resources: &[(&str, f64)]) -> Result<(), DistError> {
        self.pool.spawn(memory_limit, resources)
    }

    /// Waits until `n` workers have joined the scheduler.
    pub fn wait_for_workers(&self, n: usize) -> Result<(), DistError> {
        self.wait_joined(n, false)
    }

    fn wait_joined(&self, n: usize, starting: bool) -> Result<(), DistError> {
        let client = self.client()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while (client.stats()?.workers as usize) < n {
            // At start, a worker that exits at once was never a worker: the binary did not
            // reach the call that turns it into one.
            if let Some(pid) = self.pool.pids().into_iter().find(|&pid| starting && process_exited(pid)) {
                return Err(DistError::Protocol(format!(
                    "worker process {pid} exited before joining the scheduler. A LocalCluster runs this binary \
                     again as its workers: its `main` must begin with `rask_distributed::worker_main_if_requested()` \
                     (or `rask::init()`)"
                )));
            }
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

/// Removes what worker process `pid`, gone, may have left: its shared-memory segments and its
/// spill folder.
fn remove_leftovers(pid: u32) {
    rask_store::sweep(&format!("rask-{pid}-"));
    let _ = std::fs::remove_dir_all(crate::store::spill_dir(pid));
}

/// Whether our child `pid` has exited (a zombie not yet reaped, or gone).
fn process_exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.pool.closed.store(true, Ordering::Release);
        for w in self.pool.children.lock().unwrap_or_else(|e| e.into_inner()).iter_mut() {
            let _ = w.kill();
            let _ = w.wait();
            // Killed workers leave their shared-memory results behind: remove them now.
            remove_leftovers(w.id());
        }
        // Its ports (scheduler and dashboard) are free again.
        self.scheduler.stop();
    }
}
