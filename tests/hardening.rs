//! Fault injection against the `rask` binary: a scheduler and workers as separate processes on
//! loopback, stopped with SIGSTOP, starved of memory or descriptors, fed oversized tasks and
//! hostile frames, run many times over. Each test is one scenario of the hardening issue; each
//! prints what it measured (run with `--nocapture` to see), and each is bounded in time.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rask_distributed::{Client, Security, Timeouts};
use rask_graph::{Expr, Graph, Key, Registry, Value};

/// One scenario at a time: each starts a cluster, and two at once on two cores would make the
/// timings of both meaningless.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A child process that is killed when the test lets go of it.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn pid(&self) -> u32 {
        self.0.id()
    }

    fn signal(&self, signal: i32) {
        // SAFETY: a signal to a child process of ours.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, signal) }, 0, "signal {signal} to {}", self.pid());
    }

    /// Waits up to `limit` for the process to exit; its status and stderr.
    fn exit_within(&mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                let mut err = String::new();
                if let Some(mut e) = self.0.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                return (status.code(), err);
            }
            assert!(Instant::now() < deadline, "process {} still running after {limit:?}", self.pid());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn rask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rask"))
}

/// `rask scheduler --port 0 ARGS`; its process and address.
fn scheduler(args: &[&str]) -> (Proc, String) {
    scheduler_with(rask().args(["scheduler", "--port", "0"]).args(args))
}

fn scheduler_with(command: &mut Command) -> (Proc, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().expect("rask scheduler starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    assert!(addr.starts_with("tcp://"), "{line}");
    (Proc(child), addr)
}

/// `rask worker ADDR --nthreads 1 ARGS`, its stderr kept for the test to read.
fn worker(addr: &str, args: &[&str]) -> Proc {
    let child = rask()
        .args(["worker", addr, "--nthreads", "1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rask worker starts");
    Proc(child)
}

fn client(addr: &str, timeouts: Timeouts) -> Client {
    Client::connect_with_timeouts(addr, Security::none(), Registry::new(), timeouts).expect("the client connects")
}

fn wait_for_workers(client: &Client, n: u32) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.stats().unwrap().workers < n {
        assert!(Instant::now() < deadline, "{n} workers did not join");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib = status.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok());
    kib.unwrap_or(0u64) * 1024
}

/// A reduction tree over `leaves` sleeping tasks: results move between workers at every level.
fn slow_tree(leaves: i64, seconds: f64) -> (Graph, Key, i64) {
    tree("slow", leaves, |i| Expr::call("sleep", [Expr::from(seconds), Expr::from(i)]))
}

/// Leaves `leaf(i)` summed pairwise to one root, every key under `prefix`; the root and the
/// sum of `0..leaves`, what it computes when `leaf(i)` is `i`.
fn tree(prefix: &str, leaves: i64, leaf: impl Fn(i64) -> Expr) -> (Graph, Key, i64) {
    let mut g = Graph::new();
    let parts: Vec<Key> = (0..leaves)
        .map(|i| {
            let key = Key::from((format!("{prefix}-leaf").as_str(), i));
            g.insert(key.clone(), leaf(i));
            key
        })
        .collect();
    let sum = |list| Expr::call("sum", [list]);
    let root = rask_graph::workloads::tree_reduce(&mut g, prefix, parts, 2, 0, |e| e, sum).expect("some leaves");
    (g, root, leaves * (leaves - 1) / 2)
}

/// `n` keys `('a', i)`, each an array of `len` float64 ones.
fn arrays_of_ones(n: i64, len: i64) -> (Graph, Vec<Key>) {
    let mut graph = Graph::new();
    let keys = (0..n)
        .map(|i| {
            graph.insert(("a", i), Expr::call("ones", [Expr::from(len)]));
            Key::from(("a", i))
        })
        .collect();
    (graph, keys)
}

fn short(timeouts: Timeouts) -> Timeouts {
    Timeouts { connect: Duration::from_secs(2), ..timeouts }
}

#[test]
fn a_stopped_worker_is_fenced_and_the_run_goes_on() {
    let _serial = serial();
    let (_scheduler, addr) = scheduler(&["--heartbeat-timeout", "3s"]);
    let fast = ["--fetch-timeout", "1s", "--connect-timeout", "1s"];
    let _w1 = worker(&addr, &fast);
    let _w2 = worker(&addr, &fast);
    let mut victim = worker(&addr, &fast);
    let c = client(&addr, short(Timeouts::default()));
    wait_for_workers(&c, 3);
    let (graph, root, expected) = slow_tree(600, 0.01);
    let runner = {
        let c = c.clone();
        std::thread::spawn(move || c.compute(&graph, &[root]))
    };
    std::thread::sleep(Duration::from_millis(700));
    let stopped = Instant::now();
    victim.signal(libc::SIGSTOP);
    let values = runner.join().unwrap().expect("the run completes without the stopped worker");
    let recovered = stopped.elapsed();
    assert_eq!(values, vec![Value::Int(expected)]);
    assert!(recovered < Duration::from_secs(30), "took {recovered:?} after the stop");
    let stats = c.stats().unwrap();
    assert_eq!((stats.workers, stats.workers_fenced), (2, 1), "{stats:?}");
    // Resumed, the fenced worker learns why it was cut off and leaves with an error.
    victim.signal(libc::SIGCONT);
    let (code, err) = victim.exit_within(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("declared this worker dead"), "{err}");
    println!(
        "stopped worker: run finished {recovered:?} after SIGSTOP (heartbeat timeout 3 s, fetch timeout 1 s); \
         {} tasks recomputed; resumed worker said: {}",
        stats.tasks_recomputed,
        err.trim()
    );
}

#[test]
fn a_small_memory_limit_spills_and_never_deadlocks() {
    let _serial = serial();
    let (_scheduler, addr) = scheduler(&[]);
    let w = worker(&addr, &["--memory-limit", "200000000"]);
    let c = client(&addr, Timeouts::default());
    wait_for_workers(&c, 1);
    // Twenty 80 MB arrays held at once by a worker allowed 200 MB: 1.6 GB must go to disk.
    let (held, keys) = arrays_of_ones(20, 10_000_000);
    let started = Instant::now();
    let futures = c.persist(&held, &keys).unwrap();
    c.wait(&futures).expect("all twenty are held");
    let mut sums = Graph::new();
    let totals: Vec<Key> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            sums.insert(("s", i as i64), Expr::call("sum", [Expr::key(k.clone())]));
            Key::from(("s", i as i64))
        })
        .collect();
    let values = c.compute(&sums, &totals).expect("every held array is read back");
    assert_eq!(values, vec![Value::Float(1e7); 20]);
    let took = started.elapsed();
    let stats = c.stats().unwrap();
    assert!(stats.bytes_spilled >= 1_000_000_000, "{stats:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.stats().unwrap().workers_paused > 0 {
        assert!(Instant::now() < deadline, "the worker stays paused");
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "memory limit 200 MB: 20 x 80 MB held and summed in {took:?}, {} MB spilled, worker RSS now {} MB",
        stats.bytes_spilled >> 20,
        rss_bytes(w.pid()) >> 20
    );
}

#[test]
fn an_oversized_task_is_an_error_and_every_worker_lives() {
    let _serial = serial();
    let (_scheduler, addr) = scheduler(&[]);
    let _workers: Vec<Proc> = (0..3).map(|_| worker(&addr, &[])).collect();
    let c = client(&addr, Timeouts::default());
    wait_for_workers(&c, 3);
    for (f, n) in [("ones", 100_000_000_000_000_000i64), ("arange", 1_000_000_000_000)] {
        let mut g = Graph::new();
        g.insert("huge", Expr::call(f, [Expr::from(n)]));
        let err = c.compute(&g, &[Key::from("huge")]).unwrap_err().to_string();
        assert!(err.contains("MemoryError") && err.contains("'huge'") && err.contains(&format!("`{f}`")), "{err}");
    }
    assert_eq!(c.stats().unwrap().workers, 3, "no worker died");
    let mut g = Graph::new();
    g.insert("fine", Expr::call("inc", [Expr::from(1)]));
    assert_eq!(c.compute(&g, &[Key::from("fine")]).unwrap(), vec![Value::Int(2)]);
    // The in-process executors: an error and exit status 1, not an abort (134).
    let path = std::env::temp_dir().join(format!("rask-huge-{}.graph", std::process::id()));
    std::fs::write(&path, "{'huge': (ones, 100000000000000000)}").unwrap();
    for scheduler in ["sync", "threads", "processes"] {
        let o = rask().args(["run", path.to_str().unwrap(), "--scheduler", scheduler]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{scheduler}: {err}");
        assert!(err.contains("MemoryError") && err.contains("'huge'"), "{scheduler}: {err}");
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn an_empty_cluster_errs_instead_of_hanging() {
    let _serial = serial();
    let (_scheduler, addr) = scheduler(&["--no-workers-timeout", "2s"]);
    let c = client(&addr, Timeouts::default());
    let mut g = Graph::new();
    g.insert("x", Expr::call("inc", [Expr::from(1)]));
    let started = Instant::now();
    let err = c.compute(&g, &[Key::from("x")]).unwrap_err().to_string();
    let took = started.elapsed();
    assert!(err.contains("no worker"), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    assert_eq!(c.stats().unwrap().tasks_erred_no_workers, 1);
    println!("empty cluster: error after {took:?}: {err}");
}

#[test]
fn the_scheduler_returns_to_idle_memory_after_many_runs() {
    let _serial = serial();
    let (scheduler, addr) = scheduler(&[]);
    let _w = worker(&addr, &[]);
    let c = client(&addr, Timeouts::default());
    wait_for_workers(&c, 1);
    let idle_at_start = rss_bytes(scheduler.pid());
    let mut after_warmup = 0;
    let runs = 25;
    for run in 0..runs {
        // Fresh keys every run, as a client's graphs have: 40k tasks each.
        let (g, root, expected) = tree(&format!("r{run}"), 20_000, |i| Expr::call("identity", [Expr::from(i)]));
        let values = c.compute(&g, &[root]).unwrap();
        assert_eq!(values, vec![Value::Int(expected)]);
        if run == 4 {
            after_warmup = settled_rss(&c, scheduler.pid());
        }
    }
    let end = settled_rss(&c, scheduler.pid());
    let stats = c.stats().unwrap();
    let growth = end.saturating_sub(after_warmup);
    println!(
        "scheduler RSS idle {} MB; after 5 runs of 40k tasks {} MB; after {runs} runs {} MB \
         ({} bytes per task submitted since the 5th); task slots {}",
        idle_at_start >> 20,
        after_warmup >> 20,
        end >> 20,
        growth / ((runs - 5) * 40_000),
        stats.task_slots
    );
    assert_eq!(stats.task_slots, 0, "an idle scheduler keeps no task slots");
    // 20 runs × 40k tasks: the old leak (~280 bytes a task) would add ~220 MB.
    assert!(growth < 16 << 20, "scheduler grew by {} MB over 20 runs", growth >> 20);
    assert!(end < idle_at_start + (64 << 20), "idle again: {} MB -> {} MB", idle_at_start >> 20, end >> 20);
}

/// The scheduler's RSS once every key is released and it had a moment to give memory back.
fn settled_rss(c: &Client, pid: u32) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.stats().unwrap().tasks_known > 0 {
        assert!(Instant::now() < deadline, "keys are released");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    rss_bytes(pid)
}

/// Sends the preamble and reads the welcome frame a scheduler or worker answers it with.
fn read_welcome(stream: &mut std::net::TcpStream) {
    stream.write_all(&rask_protocol::dist::PREAMBLE).unwrap();
    let mut header = [0u8; 5];
    stream.read_exact(&mut header).unwrap();
    let mut welcome = vec![0u8; u32::from_le_bytes(header[..4].try_into().unwrap()) as usize];
    stream.read_exact(&mut welcome).unwrap();
}

#[test]
fn strangers_cannot_make_the_scheduler_buffer_large_frames() {
    let _serial = serial();
    for secret in [None, Some("s3cret")] {
        let mut command = rask();
        command.args(["scheduler", "--port", "0"]);
        if let Some(s) = secret {
            command.env("RASK_SECRET", s);
        }
        let (scheduler, addr) = scheduler_with(&mut command);
        let before = rss_bytes(scheduler.pid());
        let host = addr.trim_start_matches("tcp://").to_owned();
        let streams: Vec<_> = (0..4)
            .map(|_| {
                let host = host.clone();
                std::thread::spawn(move || {
                    let mut stream = std::net::TcpStream::connect(&host).unwrap();
                    stream.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
                    read_welcome(&mut stream);
                    // A 512 MiB frame announced before any authentication, then streamed.
                    let mut header = (512u32 << 20).to_le_bytes().to_vec();
                    header.push(rask_protocol::VERSION);
                    let chunk = vec![0x5au8; 1 << 20];
                    let mut sent = 0usize;
                    if stream.write_all(&header).is_ok() {
                        while sent < 64 << 20 && stream.write_all(&chunk).is_ok() {
                            sent += chunk.len();
                        }
                    }
                    sent
                })
            })
            .collect();
        let sent: Vec<usize> = streams.into_iter().map(|t| t.join().unwrap()).collect();
        let after = rss_bytes(scheduler.pid());
        println!(
            "secret {secret:?}: 4 peers announcing 512 MiB frames got {} MiB through before being cut off; \
             scheduler RSS {} -> {} MB",
            sent.iter().sum::<usize>() >> 20,
            before >> 20,
            after >> 20
        );
        assert!(sent.iter().all(|&s| s < 16 << 20), "the scheduler kept reading: {sent:?}");
        assert!(after < before + (32 << 20), "RSS {before} -> {after}");
        // And it still serves.
        let c = Client::connect_with_timeouts(
            &addr,
            secret.map_or_else(Security::none, |s| Security::none().with_secret(s.as_bytes())),
            Registry::new(),
            Timeouts::default(),
        )
        .expect("a peer with the secret connects");
        c.stats().expect("and is served");
    }
}

#[test]
fn running_out_of_descriptors_does_not_close_the_listener() {
    let _serial = serial();
    let mut command = rask();
    command.args(["scheduler", "--port", "0", "--connect-timeout", "2s"]);
    // SAFETY: setrlimit between fork and exec is async-signal-safe. A hard limit of 64 keeps
    // the scheduler from raising it.
    unsafe {
        command.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 64, rlim_max: 64 };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let (_scheduler, addr) = scheduler_with(&mut command);
    let mut w = worker(&addr, &[]);
    let c = client(&addr, Timeouts::default());
    wait_for_workers(&c, 1);
    let host = addr.trim_start_matches("tcp://");
    // Far more idle connections than the scheduler has descriptors.
    let idle: Vec<std::net::TcpStream> = (0..100).filter_map(|_| std::net::TcpStream::connect(host).ok()).collect();
    std::thread::sleep(Duration::from_millis(500));
    drop(idle);
    // The listener backs off and recovers once descriptors are free again.
    let deadline = Instant::now() + Duration::from_secs(15);
    let again = loop {
        if let Ok(again) =
            Client::connect_with_timeouts(&addr, Security::none(), Registry::new(), short(Timeouts::default()))
        {
            break again;
        }
        assert!(Instant::now() < deadline, "the scheduler never accepted again");
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut g = Graph::new();
    g.insert("x", Expr::call("inc", [Expr::from(41)]));
    assert_eq!(again.compute(&g, &[Key::from("x")]).unwrap(), vec![Value::Int(42)]);
    assert_eq!(again.stats().unwrap().workers, 1, "the worker stayed");
    assert!(w.0.try_wait().unwrap().is_none(), "the worker is still running");
}

#[test]
fn a_worker_says_why_it_exits_when_the_scheduler_dies() {
    let _serial = serial();
    let (scheduler, addr) = scheduler(&[]);
    let mut w = worker(&addr, &[]);
    let c = client(&addr, Timeouts::default());
    wait_for_workers(&c, 1);
    drop(scheduler); // SIGKILL
    let (code, err) = w.exit_within(Duration::from_secs(10));
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("scheduler") && err.contains("closed"), "{err}");
    // A client of a dead scheduler is told too.
    let err = c.stats().unwrap_err().to_string();
    assert!(err.contains("closed"), "{err}");
}

#[test]
fn a_client_of_a_stopped_scheduler_gets_an_error() {
    let _serial = serial();
    let (scheduler, addr) = scheduler(&[]);
    let c = client(&addr, Timeouts { scheduler: Duration::from_secs(2), ..Timeouts::default() });
    c.stats().unwrap();
    scheduler.signal(libc::SIGSTOP);
    let started = Instant::now();
    let mut g = Graph::new();
    g.insert("x", Expr::call("inc", [Expr::from(1)]));
    let err = c.compute(&g, &[Key::from("x")]).unwrap_err().to_string();
    let took = started.elapsed();
    scheduler.signal(libc::SIGCONT);
    assert!(err.contains("nothing from the scheduler"), "{err}");
    assert!(took < Duration::from_secs(10), "{took:?}");
    println!("stopped scheduler: client error after {took:?}: {err}");
}

#[test]
fn a_scheduler_stopped_past_the_heartbeat_timeout_keeps_its_workers() {
    let _serial = serial();
    let (scheduler, addr) = scheduler(&["--heartbeat-timeout", "2s"]);
    let mut w = worker(&addr, &[]);
    let c = client(&addr, Timeouts::default());
    wait_for_workers(&c, 1);
    // Stopped longer than the heartbeat timeout: on resume the workers' heartbeats are waiting
    // unread, and their silence must not be taken for death.
    scheduler.signal(libc::SIGSTOP);
    std::thread::sleep(Duration::from_secs(4));
    scheduler.signal(libc::SIGCONT);
    std::thread::sleep(Duration::from_millis(1500));
    let stats = c.stats().unwrap();
    assert_eq!((stats.workers, stats.workers_fenced), (1, 0), "{stats:?}");
    assert!(w.0.try_wait().unwrap().is_none(), "the worker is still running");
    let mut g = Graph::new();
    g.insert("x", Expr::call("inc", [Expr::from(1)]));
    assert_eq!(c.compute(&g, &[Key::from("x")]).unwrap(), vec![Value::Int(2)]);
}

#[test]
fn a_worker_removes_its_spill_folder_on_sigterm_and_sweeps_orphans() {
    let _serial = serial();
    // A spill folder left by a worker that no longer exists.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead_pid = gone.id();
    gone.wait().unwrap();
    let orphan = rask_distributed::store::spill_dir(dead_pid);
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("0.spill"), b"left behind").unwrap();
    let (_scheduler, addr) = scheduler(&[]);
    let mut w = worker(&addr, &["--memory-limit", "50000000"]);
    let c = client(&addr, Timeouts::default());
    wait_for_workers(&c, 1);
    assert!(!orphan.exists(), "the orphaned spill folder is swept when a worker starts");
    let (g, keys) = arrays_of_ones(10, 1_000_000);
    let held = c.persist(&g, &keys).unwrap();
    c.wait(&held).unwrap();
    let mine = rask_distributed::store::spill_dir(w.pid());
    let spilled = std::fs::read_dir(&mine).map(|d| d.count()).unwrap_or(0);
    assert!(spilled > 0, "80 MB of results past a 30 MB target spilled into {}", mine.display());
    w.signal(libc::SIGTERM);
    let (code, err) = w.exit_within(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{err}");
    assert!(!mine.exists(), "the spill folder went with the worker: {err}");
}
