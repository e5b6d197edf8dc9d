//! End-to-end tests of the `rask` binary: real processes, real files, exit codes and stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

fn rask(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rask")).args(args).current_dir(root()).output().expect("rask runs")
}

fn rask_stdin(args: &[&str], input: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rask"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rask runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn temp_graph(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rask-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Held by tests that start process executors or cluster workers: each one sweeps the segments
/// of dead processes when it starts, which would race the test that checks a crash leaves some
/// to sweep.
static PROCESS_EXECUTORS: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_seed_graph_prints_v_on_every_scheduler() {
    let _serial = PROCESS_EXECUTORS.lock().unwrap_or_else(|e| e.into_inner());
    for scheduler in ["sync", "threads", "threads:3", "processes", "processes:3", "local", "local:3"] {
        let o = rask(&["run", "examples/seed.graph", "--key", "v", "--scheduler", scheduler]);
        assert!(o.status.success(), "{scheduler}: {}", stderr(&o));
        assert_eq!(stdout(&o), "[9, 2]\n", "{scheduler}");
    }
    let shared_seed = root().join("../shared/graphs/seed.graph");
    if shared_seed.exists() {
        let o = rask(&["run", shared_seed.to_str().unwrap(), "--key", "v", "--scheduler", "processes"]);
        assert_eq!((stdout(&o).as_str(), o.status.success()), ("[9, 2]\n", true), "{}", stderr(&o));
    }
}

/// Our segments in /dev/shm that carry `pid`.
fn segments_of(pid: u32) -> Vec<String> {
    let prefix = format!("rask-{pid}-");
    rask_store::list().into_iter().filter(|n| n.starts_with(&prefix)).collect()
}

/// Children of `pid`, from /proc.
fn children_of(pid: u32) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else { return Vec::new() };
    dir.filter_map(|e| e.ok()?.file_name().into_string().ok()?.parse::<u32>().ok())
        .filter(|child| {
            let stat = std::fs::read_to_string(format!("/proc/{child}/stat")).unwrap_or_default();
            // Fields after the command's closing parenthesis: state, ppid, ...
            let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
            after.split_whitespace().nth(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid)
        })
        .collect()
}

#[test]
fn a_killed_parent_leaves_no_workers_and_its_segments_are_swept_next_time() {
    let _serial = PROCESS_EXECUTORS.lock().unwrap_or_else(|e| e.into_inner());
    // Big arrays (held in segments) made by slow tasks and all kept for the last task: there
    // is shared memory to leave behind.
    let text = rask_graph::workloads::summed_graph(
        40,
        |i| format!("('a', {i}): (arange, (sleep, 0.05, 100000)), "),
        |i| format!("(sum, ('a', {i}))"),
    );
    let path = temp_graph("slow_arrays.graph", &text);
    let mut parent = Command::new(env!("CARGO_BIN_EXE_rask"))
        .args(["run", path.to_str().unwrap(), "--key", "total", "--scheduler", "processes:2", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = parent.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let workers = loop {
        let workers = children_of(pid);
        if workers.len() == 2 || std::time::Instant::now() > deadline {
            break workers;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    assert_eq!(workers.len(), 2, "two workers started");
    std::thread::sleep(std::time::Duration::from_millis(300));
    parent.kill().unwrap();
    parent.wait().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while workers.iter().any(|w| std::path::Path::new(&format!("/proc/{w}")).exists()) {
        assert!(std::time::Instant::now() < deadline, "orphaned workers {workers:?} still alive");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // The arrays made so far are in segments the parent adopted: SIGKILL runs no destructor.
    assert!(!segments_of(pid).is_empty(), "the crash left segments behind (or this test tests nothing)");
    // The next run of any process executor removes what the dead one left.
    let o = rask(&["run", "examples/seed.graph", "--key", "v", "--scheduler", "processes:1"]);
    assert_eq!(stdout(&o), "[9, 2]\n", "{}", stderr(&o));
    assert_eq!(segments_of(pid), Vec::<String>::new());
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let text = rask_graph::workloads::summed_graph(
        100_000,
        |i| format!("('x', {i}): (inc, {i}), "),
        |i| format!("('x', {i})"),
    );
    let path = temp_graph("wide.graph", &text);
    let o = rask(&["run", path.to_str().unwrap(), "--key", "total", "--scheduler", "threads"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), format!("{}\n", (1..=100_000i64).sum::<i64>()));
    assert_eq!(stderr(&o), "", "stderr is a pipe here: nothing drawn");
}

#[test]
fn the_shared_seed_graph_runs_verbatim() {
    let shared = root().join("../shared/graphs/seed.graph");
    if !shared.exists() {
        eprintln!("../shared is not beside this checkout; examples/seed.graph is its copy");
        return;
    }
    let o = rask(&["run", shared.to_str().unwrap(), "--key", "v", "--scheduler", "sync"]);
    assert_eq!(stdout(&o), "[9, 2]\n", "{}", stderr(&o));
}

#[test]
fn keys_print_in_order_and_without_keys_every_output_prints() {
    let o = rask(&["run", "examples/seed.graph", "-k", "z", "-k", "w", "-k", "x"]);
    assert_eq!(stdout(&o), "3\n6\n1\n");
    let o = rask(&["run", "tests/corpus/tuple_keys.graph", "--key", "('x', 0)"]);
    assert_eq!(stdout(&o), "2\n");
    let o = rask_stdin(&["run", "-"], "{'a': 1, 'b': (inc, 'a'), 'c': (div, 'a', 2), ('t', 1): 'abc'}");
    assert_eq!(stdout(&o), "'b' = 2\n'c' = 0.5\n('t', 1) = 'abc'\n");
}

#[test]
fn json_in_and_out() {
    let path = temp_graph(
        "g.json",
        r#"{"a": 1.5, "b": {"task": "add", "args": [{"ref": "a"}, 1]}, "t": {"tuple": [1, "x"]}}"#,
    );
    let o = rask(&["run", path.to_str().unwrap(), "--key", "b", "--key", "t", "--json"]);
    assert_eq!(stdout(&o), "2.5\n{\"tuple\":[1,\"x\"]}\n", "{}", stderr(&o));
}

#[test]
fn bad_input_is_one_clear_line_and_a_failing_exit() {
    let cases: &[(&str, &str)] = &[
        ("{'a': (add, 1 2)}", "line 1, column 15: expected ',' or ')'"),
        ("{'a': (inc, 'b'), 'b': (inc, 'a')}", "cycle: 'a' -> 'b' -> 'a'"),
        ("{'a': (nope, 1)}", "task 'a' calls unknown function `nope`"),
        ("{'a': (inc, 1, 2)}", "`inc` takes exactly 1 argument, but is given 2"),
        ("{'a': (div, 1, 0)}", "task 'a' failed in `div`: ZeroDivisionError: division by zero"),
    ];
    for (graph, message) in cases {
        let o = rask_stdin(&["run", "-"], graph);
        assert!(!o.status.success(), "{graph} should fail");
        let err = stderr(&o);
        assert!(err.starts_with("rask: error: ") && err.contains(message), "{graph}: {err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
    }
    let o = rask(&["run", "examples/seed.graph", "--key", "nope"]);
    assert!(stderr(&o).contains("key 'nope' is not in the graph"));
    let o = rask(&["run", "does/not/exist.graph"]);
    assert!(!o.status.success() && stderr(&o).contains("cannot read does/not/exist.graph"));
    let o = rask(&["run", "examples/seed.graph", "--scheduler", "warp"]);
    assert!(stderr(&o).contains("unknown scheduler \"warp\""));
}

#[test]
fn check_reports_size_and_large_literals() {
    let o = rask(&["check", "examples/seed.graph"]);
    assert!(o.status.success());
    let out = stdout(&o);
    assert!(out.contains("5 keys (3 tasks, 2 data or aliases), 1 outputs"), "{out}");
    assert!(out.contains("serialized graph: "), "{out}");
    let big = format!("{{'data': (len, '{}'), 'small': (inc, 1)}}", "x".repeat(5000));
    let path = temp_graph("big.graph", &big);
    let o = rask(&["check", path.to_str().unwrap(), "--large-literal", "1000"]);
    assert!(stdout(&o).contains("warning: task 'data' embeds a literal of 50"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("'small' embeds"));
    let o = rask_stdin(&["check", "-"], "{'a': (inc, 'b'), 'b': (inc, 'a')}");
    assert!(!o.status.success() && stderr(&o).contains("cycle"));
}

#[test]
fn dot_draws_keys_functions_and_edges() {
    let o = rask(&["dot", "examples/seed.graph"]);
    let out = stdout(&o);
    assert!(out.starts_with("digraph rask {"), "{out}");
    assert!(
        out.contains("k2 [label=\"'z'\", shape=box];") && out.contains("f2 [label=\"add\", shape=circle];"),
        "{out}"
    );
    assert!(out.contains("k0 -> f2;") && out.contains("f2 -> k2;"), "{out}");
    assert!(out.trim_end().ends_with('}'));
}

/// Processes killed when the test ends, however it ends.
struct Running(Vec<std::process::Child>);

impl Drop for Running {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn a_scheduler_and_two_workers_started_by_hand_run_the_seed_and_the_corpus() {
    let _serial = PROCESS_EXECUTORS.lock().unwrap_or_else(|e| e.into_inner());
    use std::io::BufRead;
    let mut scheduler = Command::new(env!("CARGO_BIN_EXE_rask"))
        .args(["scheduler", "--port", "0", "--dashboard-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut announcements = std::io::BufReader::new(scheduler.stdout.take().unwrap());
    let mut line = String::new();
    announcements.read_line(&mut line).unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    let mut dashboard = String::new();
    announcements.read_line(&mut dashboard).unwrap();
    let mut running = Running(vec![scheduler]);
    assert!(addr.starts_with("tcp://127.0.0.1:"), "{line}");
    for _ in 0..2 {
        let worker = Command::new(env!("CARGO_BIN_EXE_rask"))
            .args(["worker", &addr, "--nthreads", "1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        running.0.push(worker);
    }
    let client = rask_distributed::Client::connect(&addr).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while client.stats().unwrap().workers < 2 {
        assert!(std::time::Instant::now() < deadline, "the workers did not join");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let o = rask(&["run", "examples/seed.graph", "--key", "v", "--scheduler", &addr]);
    assert_eq!((stdout(&o).as_str(), o.status.success()), ("[9, 2]\n", true), "{}", stderr(&o));
    // The dashboard serves the figures as JSON too.
    let http = dashboard.trim().rsplit(' ').next().unwrap().trim_start_matches("http://").trim_end_matches("/status");
    let mut page = std::net::TcpStream::connect(http).unwrap();
    std::io::Write::write_all(&mut page, b"GET /api/stats HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut page, &mut body).unwrap();
    assert!(body.starts_with("HTTP/1.1 200") && body.contains("\"workers\":2"), "{body}");
    // Every expectation of the file corpus, through the CLI, on this cluster.
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("tests/corpus")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            let (kind, rest) = match line.split_once(':') {
                Some(("# expect", rest)) => ("expect", rest),
                Some(("# error", rest)) => ("error", rest),
                _ => continue,
            };
            let (key, want) = rest.split_once("=>").unwrap();
            let o = rask(&["run", path.to_str().unwrap(), "--key", key.trim(), "--scheduler", &addr]);
            if kind == "expect" {
                assert_eq!(stdout(&o).trim_end(), want.trim(), "{} {key}: {}", path.display(), stderr(&o));
            } else {
                assert!(
                    !o.status.success() && stderr(&o).contains(want.trim()),
                    "{} {key}: {}",
                    path.display(),
                    stderr(&o)
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} expectations found");
}

#[test]
fn the_demo_makes_its_data_and_runs_four_queries() {
    let _serial = PROCESS_EXECUTORS.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("rask-cli-demo-{}", std::process::id()));
    // The demo's result lines (comments dropped) on `scheduler`.
    let demo = |scheduler: &str| {
        let args = [
            "demo",
            "--data",
            dir.to_str().unwrap(),
            "--rows",
            "20000",
            "--files",
            "4",
            "--scheduler",
            scheduler,
            "-q",
        ];
        let o = rask(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).lines().filter(|l| !l.starts_with('#')).map(String::from).collect::<Vec<String>>()
    };
    let lines = demo("threads");
    let names: Vec<&str> = lines.iter().map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(names, ["groupby_sum", "filter_mean", "join_dims", "set_index"]);
    let checksum = |i: usize| lines[i].split('\t').nth(2).unwrap().parse::<f64>().unwrap();
    // x and y are uniform on [0, 1): the mean of x where y > 0.5 is near 0.5; ids 0.. sort first.
    assert!((checksum(1) - 0.5).abs() < 0.05, "{}", lines[1]);
    assert!(checksum(0) > 9000.0 && checksum(0) < 11000.0, "the sum of 20k uniform x: {}", lines[0]);
    assert_eq!(std::fs::read_dir(dir.join("facts")).unwrap().count(), 4);
    // The same data on the processes scheduler gives the same checksums.
    let again_lines = demo("processes:2");
    for (a, b) in lines.iter().zip(&again_lines) {
        assert_eq!(a.split('\t').nth(2), b.split('\t').nth(2), "{a} vs {b}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Lines a child writes to stderr, as they come.
fn stderr_lines(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The first JSON line within 20 s for which `wanted` holds.
fn json_line(
    lines: &std::sync::mpsc::Receiver<String>,
    wanted: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = lines.recv_timeout(left).expect("the log line arrived");
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        if wanted(&value) {
            return value;
        }
    }
}

#[test]
fn logs_are_json_lines_that_name_their_writer() {
    let _serial = PROCESS_EXECUTORS.lock().unwrap_or_else(|e| e.into_inner());
    use std::io::{BufRead, Write};
    let mut scheduler = Command::new(env!("CARGO_BIN_EXE_rask"))
        .args(["--log-format", "json", "scheduler", "--port", "0", "--no-dashboard"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(scheduler.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().rsplit(' ').next().unwrap().to_owned();
    let scheduler_log = stderr_lines(&mut scheduler);
    let _running = Running(vec![scheduler]);
    // A stranger sending garbage is refused, and the scheduler says so in its span.
    let mut stranger = std::net::TcpStream::connect(addr.trim_start_matches("tcp://")).unwrap();
    let _ = stranger.write_all(b"GET / HTTP/1.1\r\n\r\n");
    let refused = json_line(&scheduler_log, |v| v["fields"]["message"].as_str().is_some_and(|m| m.contains("refused")));
    assert_eq!(refused["level"], "WARN", "{refused}");
    assert_eq!(refused["span"]["name"], "scheduler", "{refused}");
    assert_eq!(format!("tcp://{}", refused["span"]["addr"].as_str().unwrap()), addr, "{refused}");
    // A worker's lines carry its data address; SIGTERM is an orderly exit, logged at INFO.
    let mut worker = Command::new(env!("CARGO_BIN_EXE_rask"))
        .args(["--log-format", "json", "worker", &addr, "--nthreads", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let worker_log = stderr_lines(&mut worker);
    let client = rask_distributed::Client::connect(&addr).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let data_addr = loop {
        if let Some(w) = client.stats().unwrap().worker_status.first() {
            break w.addr.clone();
        }
        assert!(std::time::Instant::now() < deadline, "the worker did not join");
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    // SAFETY: a plain signal to our own child.
    unsafe { libc::kill(worker.id() as i32, libc::SIGTERM) };
    let leaving = json_line(&worker_log, |v| v["fields"]["message"].as_str().is_some_and(|m| m.contains("SIGTERM")));
    assert_eq!(
        (leaving["level"].as_str(), leaving["span"]["name"].as_str()),
        (Some("INFO"), Some("worker")),
        "{leaving}"
    );
    assert_eq!(leaving["span"]["addr"].as_str(), Some(data_addr.as_str()), "{leaving}");
    assert!(worker.wait().unwrap().success());
}
