//! `rask`: run, check and draw task graphs from the command line.
//!
//! What it is: a thin layer that reads a graph file (Dask's notation or JSON), picks an
//! executor by scheduler name, and prints results the way Python prints them. What it is not:
//! a place for logic — everything it does is a call into `rask-graph`, `rask-exec` or
//! `rask-distributed`.

/// Task graphs allocate many small values; mimalloc frees them far faster than glibc's malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod dot;
mod tpch;

use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
// Linked for its task functions: `rask worker` and `rask run` resolve the array kernels.
use rask_array as _;
use rask_exec::{ExecError, Scheduler};
use rask_graph::{parse_graph_auto, parse_key, read_plan_auto, value_to_json, Graph, Key, Plan, Registry};

#[derive(Parser)]
#[command(name = "rask", version, about = "Dask's task-graph engine, in Rust")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log level (error, warn, info, debug, trace); `RUST_LOG` overrides it, `RASK_LOG_LEVEL`
    /// is the default.
    #[arg(long, global = true)]
    log_level: Option<String>,
    /// `human` lines or `json` objects, one per line, on stderr.
    #[arg(long, global = true, default_value = "human")]
    log_format: rask_distributed::logging::LogFormat,
    #[command(flatten)]
    tls: TlsArgs,
}

/// TLS on every cluster connection (scheduler, worker, and a client's `--scheduler
/// tls://HOST:PORT`): PEM files as `openssl` writes them. Each flag sets its `RASK_TLS_*`
/// variable for this process and the workers it starts.
#[derive(clap::Args, Debug)]
struct TlsArgs {
    /// This process's certificate (chain): a scheduler or worker serves TLS with it, a client
    /// presents it when the cluster asks for one (`RASK_TLS_CERT`).
    #[arg(long, global = true, value_name = "PEM")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (`RASK_TLS_KEY`).
    #[arg(long, global = true, value_name = "PEM")]
    tls_key: Option<PathBuf>,
    /// The CA that signs the cluster's certificates: peers are verified against it, and a
    /// scheduler or worker given it refuses peers without a certificate it signed (mutual
    /// TLS) (`RASK_TLS_CA`).
    #[arg(long, global = true, value_name = "PEM")]
    tls_ca: Option<PathBuf>,
}

impl TlsArgs {
    /// Called before any thread starts, so that setting the environment races with nothing.
    fn export(&self) {
        let vars = [("RASK_TLS_CERT", &self.tls_cert), ("RASK_TLS_KEY", &self.tls_key), ("RASK_TLS_CA", &self.tls_ca)];
        for (name, path) in vars {
            if let Some(path) = path {
                std::env::set_var(name, path);
            }
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a graph and print the requested keys' values.
    Run {
        /// Graph file in Dask's notation or JSON (`-` reads standard input).
        file: PathBuf,
        /// A key to compute, in the graph's notation (`--key "('x', 0)"`) or a bare word for a
        /// string key. Repeatable; without it every output key (one nothing depends on) is printed.
        #[arg(long = "key", short = 'k')]
        keys: Vec<String>,
        /// sync, threads[:N], processes[:N], local[:N] (an embedded cluster of N worker
        /// processes), tcp://HOST:PORT or tls://HOST:PORT.
        #[arg(long, default_value = "sync")]
        scheduler: String,
        /// Print values as JSON (the mapping in rask_graph::json) instead of Python's repr.
        #[arg(long)]
        json: bool,
        /// No progress bar (it is shown only when stderr is a terminal anyway).
        #[arg(long, short = 'q')]
        quiet: bool,
        /// Write a performance report of the run (one self-contained HTML file: task
        /// stream, durations, transfers, memory). Needs a cluster: local[:N] or tcp://HOST:PORT.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Parse and validate a graph without running it, and report its size.
    Check {
        file: PathBuf,
        /// Flag tasks that embed a literal larger than this many bytes.
        #[arg(long, default_value_t = 1 << 20)]
        large_literal: usize,
    },
    /// Print the graph in Graphviz DOT (Dask's `visualize`): `rask dot g.graph | dot -Tsvg`.
    Dot { file: PathBuf },
    /// The dataframe demo: makes the peer's 10M-row Parquet dataset if missing (`--data` may
    /// point at the files `../shared/peer/dask_frame.py` wrote), then runs its four queries
    /// (groupby_sum, filter_mean, join_dims, set_index) and prints seconds and checksums.
    Demo {
        #[arg(long)]
        data: Option<PathBuf>,
        /// As for `run`; by default an embedded local cluster.
        #[arg(long, default_value = "local")]
        scheduler: String,
        #[arg(long, default_value_t = 10_000_000)]
        rows: usize,
        #[arg(long, default_value_t = 20)]
        files: usize,
        #[arg(long, short = 'q')]
        quiet: bool,
    },
    /// TPC-H: generate the tables, run the 22 queries.
    #[command(subcommand)]
    Tpch(tpch::TpchCommand),
    /// Run a distributed scheduler; prints `rask scheduler listening on tcp://HOST:PORT`
    /// (`tls://` with `--tls-cert`/`--tls-key`). With `RASK_SECRET` set, every client and
    /// worker must know the same secret; with `--tls-ca`, present a certificate it signed.
    Scheduler {
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// 0 picks a free port.
        #[arg(long, default_value_t = 8786)]
        port: u16,
        /// The dashboard's port (pages, /metrics, /health); a free one if it is taken.
        #[arg(long, default_value_t = rask_distributed::scheduler::DEFAULT_DASHBOARD_PORT)]
        dashboard_port: u16,
        /// No dashboard.
        #[arg(long)]
        no_dashboard: bool,
        #[command(flatten)]
        timeouts: TimeoutArgs,
    },
    /// Run a worker for the scheduler at tcp://HOST:PORT or tls://HOST:PORT (`RASK_SECRET` and
    /// the `--tls-*` files as for the scheduler).
    Worker {
        scheduler: String,
        /// Task threads (default: one per core).
        #[arg(long)]
        nthreads: Option<usize>,
        /// Bytes this worker may use (0: no limit): results spill to disk past 60% of it, the
        /// worker pauses past 80%, and no single result may be larger than it.
        #[arg(long, default_value_t = 0)]
        memory_limit: u64,
        /// Abstract resources this worker offers, `NAME=AMOUNT,…` (`GPU=2,MEM=64e9`): a task
        /// annotated with resources runs only where they are free.
        #[arg(long, value_parser = rask_graph::parse_resources, default_value = "")]
        resources: Resources,
        #[command(flatten)]
        timeouts: TimeoutArgs,
    },
}

type Resources = Vec<(String, f64)>;

/// The cluster's deadlines (`500ms`, `10s`, `2m`); each defaults to its `RASK_*_TIMEOUT`
/// variable, else to the documented default.
#[derive(clap::Args, Debug)]
struct TimeoutArgs {
    /// A worker silent this long is declared dead (default 30s).
    #[arg(long, value_parser = rask_distributed::timeouts::parse_duration)]
    heartbeat_timeout: Option<Duration>,
    /// Give up on a scheduler silent this long (default 30s).
    #[arg(long, value_parser = rask_distributed::timeouts::parse_duration)]
    scheduler_timeout: Option<Duration>,
    /// One fetch of results from a peer (default 10s).
    #[arg(long, value_parser = rask_distributed::timeouts::parse_duration)]
    fetch_timeout: Option<Duration>,
    /// Opening a connection and its handshake (default 10s).
    #[arg(long, value_parser = rask_distributed::timeouts::parse_duration)]
    connect_timeout: Option<Duration>,
    /// Tasks waiting this long with no worker connected are erred (default 60s).
    #[arg(long, value_parser = rask_distributed::timeouts::parse_duration)]
    no_workers_timeout: Option<Duration>,
}

impl TimeoutArgs {
    fn resolve(&self) -> rask_distributed::Timeouts {
        let mut t = rask_distributed::Timeouts::from_env();
        let set = |field: &mut Duration, given: Option<Duration>| *field = given.unwrap_or(*field);
        set(&mut t.heartbeat, self.heartbeat_timeout);
        set(&mut t.scheduler, self.scheduler_timeout);
        set(&mut t.fetch, self.fetch_timeout);
        set(&mut t.connect, self.connect_timeout);
        set(&mut t.no_workers, self.no_workers_timeout);
        t
    }
}

/// A graph larger than this, serialized, makes a scheduler slow to accept it (Dask warns too).
const LARGE_GRAPH_BYTES: usize = 10 << 20;

/// mimalloc's `mi_option_purge_delay` (its position in v3's `mi_option_e`, the version
/// `libmimalloc-sys` builds): how long freed memory stays resident before it is given back.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() -> ExitCode {
    // mimalloc 3 keeps freed pages for a second (2 keeps them 10 ms): a scheduler taking in a
    // million-task submission, or `rask run` planning then executing, frees large transient
    // buffers and allocates more within that second, and the peak held both — 30-60 MB more
    // on the 1M peer graph (scheduler 268-275 against 295-328 MB, `rask run` on threads
    // 333-339 against 350-361 MB), no slower. SAFETY: setting an option has no preconditions.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 10) };
    // A process started as a worker (by `--scheduler processes` or a LocalCluster) serves as
    // one and never returns here.
    rask_distributed::worker_main_if_requested();
    // SAFETY: mi_collect has no preconditions; it only frees what mimalloc holds unused.
    rask_distributed::set_release_memory(|| unsafe { libmimalloc_sys::mi_collect(true) });
    let cli = Cli::parse();
    cli.tls.export();
    rask_distributed::logging::init(cli.log_format, cli.log_level.as_deref());
    let mut out = io::BufWriter::new(io::stdout().lock());
    let result = match cli.command {
        Command::Run { file, keys, scheduler, json, quiet, report } => {
            run(&file, &keys, &scheduler, json, quiet, report.as_deref(), &mut out)
        }
        Command::Check { file, large_literal } => check(&file, large_literal, &mut out),
        Command::Dot { file } => {
            load(&file).map(|g| dot::write(&g, &mut out)).and_then(|r| r.map_err(|e| e.to_string()))
        }
        Command::Demo { data, scheduler, rows, files, quiet } => demo(data, &scheduler, rows, files, quiet, &mut out),
        Command::Tpch(command) => tpch::main(command, &mut out),
        Command::Scheduler { host, port, dashboard_port, no_dashboard, timeouts } => {
            scheduler(&host, port, (!no_dashboard).then_some(dashboard_port), timeouts.resolve())
        }
        Command::Worker { scheduler, nthreads, memory_limit, resources, timeouts } => {
            let nthreads = nthreads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            rask_distributed::WorkerOptions::new(&scheduler, nthreads)
                .and_then(|options| {
                    let options = rask_distributed::WorkerOptions {
                        memory_limit,
                        resources,
                        timeouts: timeouts.resolve(),
                        ..options
                    };
                    rask_distributed::worker::run_process(options)
                })
                .map_err(|e| format!("worker exiting: {e}"))
        }
    };
    let flushed = out.flush();
    match result.and_then(|()| flushed.map_err(|e| e.to_string())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("rask: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The executor a scheduler name asks for (`local[:N]` is an embedded cluster that lives as
/// long as the executor).
fn executor_for(name: &str) -> Result<Box<dyn rask_exec::Executor>, String> {
    let scheduler: Scheduler = name.parse().map_err(|e: ExecError| e.to_string())?;
    scheduler.executor().map_err(|e| e.to_string())
}

/// Makes the peer's dataset if missing, then runs its four queries: a line per query with
/// its seconds and checksum.
fn demo(
    data: Option<PathBuf>,
    scheduler: &str,
    rows: usize,
    files: usize,
    quiet: bool,
    out: &mut impl Write,
) -> Result<(), String> {
    let root = data.unwrap_or_else(|| std::env::temp_dir().join("rask-demo"));
    let bar = |total: usize, what: &str| {
        if quiet {
            return indicatif::ProgressBar::hidden();
        }
        let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::stderr());
        if let Ok(style) = indicatif::ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what}")) {
            bar.set_style(style);
        }
        bar
    };
    let making = bar(files, "files written");
    rask_frame::demo::make_data(&root, rows, files, &|done, _| making.set_position(done as u64))
        .map_err(|e| format!("making the dataset in {}: {e}", root.display()))?;
    making.finish_and_clear();
    let executor = executor_for(scheduler)?;
    let running = bar(rask_frame::demo::QUERIES.len(), "queries");
    let io = |e: io::Error| e.to_string();
    writeln!(out, "# {} rows in {} files under {}; scheduler {scheduler}", rows, files, root.display()).map_err(io)?;
    for (i, query) in rask_frame::demo::QUERIES.iter().enumerate() {
        let (time, checksum) =
            rask_frame::demo::run_query(query, &root, executor.as_ref()).map_err(|e| format!("{query}: {e}"))?;
        running.set_position(i as u64 + 1);
        running
            .suspend(|| writeln!(out, "{query}\t{:.3}\t{checksum:.6}", time.as_secs_f64()).and_then(|()| out.flush()))
            .map_err(io)?;
    }
    running.finish_and_clear();
    Ok(())
}

fn scheduler(
    host: &str,
    port: u16,
    dashboard_port: Option<u16>,
    timeouts: rask_distributed::Timeouts,
) -> Result<(), String> {
    let dashboard = dashboard_port.map(|p| format!("{host}:{p}"));
    let security = rask_distributed::Security::from_env().map_err(|e| e.to_string())?;
    let options = rask_distributed::SchedulerOptions { security, dashboard, timeouts };
    let running = rask_distributed::SchedulerThread::start_with(&format!("{host}:{port}"), options)
        .map_err(|e| format!("cannot start the scheduler on {host}:{port}: {e}"))?;
    // One write, so that both lines arrive together to whoever reads them.
    let mut announce = format!("rask scheduler listening on {}\n", running.address());
    if let Some(url) = running.dashboard_url() {
        announce.push_str(&format!("rask scheduler dashboard at {url}\n"));
    }
    let mut stdout = io::stdout().lock();
    stdout.write_all(announce.as_bytes()).and_then(|()| stdout.flush()).map_err(|e| e.to_string())?;
    drop(stdout);
    loop {
        std::thread::park();
    }
}

fn load(path: &PathBuf) -> Result<Graph, String> {
    parse_graph_auto(&read_text(path)?).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_text(path: &PathBuf) -> Result<String, String> {
    let mut text = String::new();
    let read = if path.as_os_str() == "-" {
        io::stdin().read_to_string(&mut text).map(|_| ())
    } else {
        std::fs::read_to_string(path).map(|t| text = t)
    };
    read.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok(text)
}

fn run(
    path: &PathBuf,
    keys: &[String],
    scheduler: &str,
    json: bool,
    quiet: bool,
    report: Option<&std::path::Path>,
    out: &mut impl Write,
) -> Result<(), String> {
    let requested: Vec<Key> =
        keys.iter().map(|k| parse_key(k).map_err(|e| format!("--key {k:?}: {e}"))).collect::<Result<_, _>>()?;
    let show_keys = requested.is_empty();
    let registry = Registry::new();
    let (executor, cluster) = match report {
        Some(_) => {
            let (client, cluster) = cluster_client(scheduler)?;
            (Box::new(client.clone()) as Box<dyn rask_exec::Executor>, Some((client, cluster)))
        }
        None => (executor_for(scheduler)?, None),
    };
    let bar = progress_bar(0, quiet);
    bar.set_message("plan");
    // Without --key, every output: the whole graph compiled as it is read (a cycle anywhere is
    // reported); with keys, what they need.
    let plan = match show_keys {
        true => {
            let text = read_text(path)?;
            read_plan_auto(&text, &registry).map_err(|e| format!("{}: {e}", path.display()))?
        }
        false => Plan::build(&load(path)?, &requested, &registry).map_err(|e| e.to_string())?,
    };
    let targets: Vec<Key> = plan.targets().iter().map(|&n| plan.key(n).clone()).collect();
    bar.set_length(plan.len() as u64);
    bar.set_message("run");
    // On a cluster the scheduler counts the tasks it has received: fewer than the plan's
    // while the submission is still arriving.
    let planned = plan.len();
    let progress = |done: usize, total: usize| {
        bar.set_message(if total < planned { "submit" } else { "run" });
        bar.set_position(done as u64);
    };
    let recording = match (&cluster, report) {
        (Some((client, _)), Some(path)) => {
            Some(rask_distributed::PerformanceReport::start(client, path).map_err(|e| e.to_string())?)
        }
        _ => None,
    };
    let outcome = executor.execute(&plan, Some(&progress));
    bar.finish_and_clear();
    if let Some(recording) = recording {
        recording.finish().map_err(|e| format!("writing the performance report: {e}"))?;
    }
    let values = outcome.map_err(|e| e.to_string())?.values;
    let io = |e: io::Error| e.to_string();
    for (key, value) in targets.iter().zip(&values) {
        match (show_keys, json) {
            (true, false) => writeln!(out, "{key} = {value}").map_err(io)?,
            (false, false) => writeln!(out, "{value}").map_err(io)?,
            (true, true) => {
                writeln!(out, "{}", serde_json::json!([rask_graph::json::key_to_json(key), value_to_json(value)]))
                    .map_err(io)?
            }
            (false, true) => writeln!(out, "{}", value_to_json(value)).map_err(io)?,
        }
    }
    Ok(())
}

/// A client of the cluster a scheduler name asks for (`local[:N]`: an embedded one, kept alive
/// by the returned handle), for what needs the cluster itself rather than an executor.
fn cluster_client(name: &str) -> Result<(rask_distributed::Client, Option<rask_distributed::LocalCluster>), String> {
    match name.parse::<Scheduler>().map_err(|e| e.to_string())? {
        Scheduler::Local(n) => {
            let n = n.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            let cluster = rask_distributed::LocalCluster::new(n, 1).map_err(|e| format!("local cluster: {e}"))?;
            let client = cluster.client().map_err(|e| format!("local cluster: {e}"))?;
            Ok((client, Some(cluster)))
        }
        Scheduler::Distributed(addr) => {
            let client = rask_distributed::Client::connect(&addr).map_err(|e| format!("{addr}: {e}"))?;
            Ok((client, None))
        }
        other => Err(format!(
            "--report records what a cluster does: use --scheduler local[:N] or tcp://HOST:PORT, not {other}"
        )),
    }
}

/// A bar on stderr for runs long enough to want one; hidden when stderr is not a terminal
/// (indicatif's own check), with `--quiet`, and for small graphs.
fn progress_bar(total: usize, quiet: bool) -> indicatif::ProgressBar {
    const WORTH_A_BAR: usize = 100_000;
    if quiet || total < WORTH_A_BAR {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::with_draw_target(Some(total as u64), indicatif::ProgressDrawTarget::stderr());
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{msg:6} {bar:40} {pos}/{len} tasks  {per_sec}  eta {eta}")
    {
        bar.set_style(style);
    }
    bar
}

fn check(path: &PathBuf, large_literal: usize, out: &mut impl Write) -> Result<(), String> {
    let graph = load(path)?;
    let outputs = graph.outputs();
    Plan::validate(&graph, &Registry::new()).map_err(|e| e.to_string())?;
    let bytes = postcard::to_allocvec(&graph).map_err(|e| format!("cannot serialize the graph: {e}"))?.len();
    let tasks = graph.task_count();
    let io = |e: io::Error| e.to_string();
    writeln!(
        out,
        "ok: {} keys ({tasks} tasks, {} data or aliases), {} outputs",
        graph.len(),
        graph.len() - tasks,
        outputs.len()
    )
    .map_err(io)?;
    writeln!(out, "serialized graph: {bytes} bytes").map_err(io)?;
    if bytes > LARGE_GRAPH_BYTES {
        writeln!(out, "warning: the graph is {} MiB serialized; a scheduler accepts it slowly — load large data inside tasks instead of embedding it", bytes >> 20).map_err(io)?;
    }
    let mut large: Vec<(&Key, usize)> =
        graph.iter().map(|(k, e)| (k, e.largest_literal())).filter(|(_, n)| *n > large_literal).collect();
    large.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    for (key, n) in large {
        writeln!(
            out,
            "warning: task {key} embeds a literal of {n} bytes; load it inside a task or make it a key of its own"
        )
        .map_err(io)?;
    }
    Ok(())
}
