//! The graph corpus every executor must pass: the files in `tests/corpus/` (each states its
//! expectations in `# expect: KEY => REPR` and `# error: KEY => MESSAGE-PART` comments), the seed
//! graph from `../shared`, and generated graphs too large to write by hand.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rask_exec::{ExecError, Executor};
use rask_graph::{parse_graph, parse_key, register, Arity, Expr, Graph, Key, Registry, TaskError, Value};

fn boom(args: &[Value]) -> Result<Value, TaskError> {
    panic!("boom with {}", args[0]);
}
register!("boom", Arity::Exact(1), boom);

/// `(fails_until, path, n)`: fails its first `n - 1` calls (counted in the file at `path`, so
/// across worker processes too), then returns the number of calls.
fn fails_until(args: &[Value]) -> Result<Value, TaskError> {
    let (Value::Str(path), Some(n)) = (&args[0], args[1].as_int()) else {
        return Err(TaskError::type_error("fails_until wants a path and a count"));
    };
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path.as_ref() as &str).unwrap();
    std::io::Write::write_all(&mut file, b"x").unwrap();
    let calls = file.metadata().unwrap().len() as i64;
    match calls < n {
        true => Err(TaskError::new("IOError", format!("attempt {calls} failed"))),
        false => Ok(Value::Int(calls)),
    }
}
register!("fails_until", Arity::Exact(2), fails_until);

/// A task annotated `retries(2)` that fails twice succeeds on its third call; one failing
/// every time reports all three attempts; one without retries runs once.
pub fn check_retries(executor: &dyn Executor) {
    let dir = std::env::temp_dir().join(format!("rask-retries-{}-{}", std::process::id(), executor.name()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| Expr::from(Value::str(dir.join(name).to_str().unwrap()));
    let mut graph = Graph::new();
    graph.annotate(rask_graph::Annotations::new().retries(2), |g| {
        g.insert("third_time_lucky", Expr::call("fails_until", [path("lucky"), Expr::from(3)]));
        g.insert("hopeless", Expr::call("fails_until", [path("hopeless"), Expr::from(10)]));
    });
    graph.insert("once", Expr::call("fails_until", [path("once"), Expr::from(2)]));
    let registry = Registry::new();
    let name = executor.name().to_owned();
    let lucky = executor.get(&graph, &[Key::from("third_time_lucky")], &registry);
    assert_eq!(lucky.map_err(|e| e.to_string()), Ok(vec![Value::Int(3)]), "{name}");
    let hopeless = executor.get(&graph, &[Key::from("hopeless")], &registry).unwrap_err();
    let text = hopeless.to_string();
    assert!(matches!(hopeless, ExecError::Retried { ref earlier, .. } if earlier.len() == 2), "{name}: {hopeless:?}");
    let want = "task 'hopeless' failed in `fails_until`: IOError: attempt 3 failed (it failed 3 times; earlier attempts: \
                task 'hopeless' failed in `fails_until`: IOError: attempt 1 failed | task 'hopeless' failed in `fails_until`: \
                IOError: attempt 2 failed)";
    assert_eq!(text, want, "{name}");
    let once = executor.get(&graph, &[Key::from("once")], &registry).unwrap_err();
    assert!(matches!(once, ExecError::Task { .. }), "{name}: {once:?}");
    assert_eq!(std::fs::metadata(dir.join("once")).unwrap().len(), 1, "{name}: no retries asked, one call");
    let _ = std::fs::remove_dir_all(&dir);
}

pub enum Expect {
    Value(String),
    Error(String),
}

pub struct Case {
    pub name: String,
    pub graph: Graph,
    pub checks: Vec<(Key, Expect)>,
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/corpus")
}

fn parse_case(name: String, text: &str) -> Case {
    let graph = parse_graph(text).unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut checks = Vec::new();
    for line in text.lines() {
        let (kind, rest) = match line.split_once(':') {
            Some(("# expect", rest)) => ("expect", rest),
            Some(("# error", rest)) => ("error", rest),
            _ => continue,
        };
        let (key, want) = rest.split_once("=>").unwrap_or_else(|| panic!("{name}: bad expectation {line:?}"));
        let key = parse_key(key.trim()).unwrap_or_else(|e| panic!("{name}: {e}"));
        let want = want.trim().to_string();
        checks.push((key, if kind == "expect" { Expect::Value(want) } else { Expect::Error(want) }));
    }
    assert!(!checks.is_empty(), "{name} states no expectations");
    Case { name, graph, checks }
}

pub fn corpus() -> Vec<Case> {
    let mut cases: Vec<Case> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "graph"))
        .map(|p| parse_case(p.display().to_string(), &std::fs::read_to_string(&p).unwrap()))
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    let shared_seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/graphs/seed.graph");
    if let Ok(text) = std::fs::read_to_string(&shared_seed) {
        let mut case = parse_case("shared seed".into(), &format!("# expect: 'v' => [9, 2]\n{text}"));
        case.name = shared_seed.display().to_string();
        cases.push(case);
    }
    cases.extend(generated());
    cases
}

pub use rask_graph::workloads::tree_sum;

fn generated() -> Vec<Case> {
    let n = 5000usize;
    let (tree, root) = tree_sum(n);
    let total = (n * (n + 1) / 2).to_string();

    let mut chain = Graph::new();
    chain.insert(("c", 0i64), 0);
    for i in 1..20_000i64 {
        chain.insert(("c", i), Expr::call("inc", [Expr::key(("c", i - 1))]));
    }

    let mut wide = Graph::new();
    for i in 0..3000i64 {
        wide.insert(("w", i), Expr::call("mul", [Expr::from(i), Expr::from(2)]));
    }
    wide.insert("all", Expr::call("sum", [Expr::list((0..3000i64).map(|i| Expr::key(("w", i))))]));

    let mut panics = Graph::new();
    panics.insert("ok", 1);
    panics.insert("explodes", Expr::call("inc", [Expr::call("boom", [Expr::key("ok")])]));

    vec![
        Case { name: "tree_sum(5000)".into(), graph: tree, checks: vec![(root, Expect::Value(total))] },
        Case {
            name: "chain(20000)".into(),
            graph: chain,
            checks: vec![(Key::from(("c", 19_999i64)), Expect::Value("19999".into()))],
        },
        Case {
            name: "wide(3000)".into(),
            graph: wide,
            checks: vec![(Key::from("all"), Expect::Value((2 * 2999 * 3000 / 2).to_string()))],
        },
        Case {
            name: "panicking task".into(),
            graph: panics,
            checks: vec![(
                Key::from("explodes"),
                Expect::Error("task 'explodes' panicked in `boom`: boom with 1".into()),
            )],
        },
    ]
}

/// Runs every case on `executor`, one key at a time and all keys at once; panics listing
/// every mismatch.
pub fn check_corpus(executor: &dyn Executor) {
    let registry = Registry::new();
    let mut failures = Vec::new();
    for case in corpus() {
        let mut good_keys = Vec::new();
        let mut good_values = Vec::new();
        for (key, expect) in &case.checks {
            let got = executor.get(&case.graph, std::slice::from_ref(key), &registry);
            match (expect, &got) {
                (Expect::Value(want), Ok(values)) if &values[0].to_string() == want => {
                    good_keys.push(key.clone());
                    good_values.push(want.clone());
                }
                (Expect::Error(want), Err(e)) if e.to_string().contains(want.as_str()) => {}
                _ => failures.push(format!(
                    "{} {key}: expected {}, got {}",
                    case.name,
                    describe(expect),
                    describe_result(&got)
                )),
            }
        }
        if good_keys.len() > 1 {
            match executor.get(&case.graph, &good_keys, &registry) {
                Ok(values) => {
                    let got: Vec<String> = values.iter().map(|v| v.to_string()).collect();
                    if got != good_values {
                        failures
                            .push(format!("{}: all keys at once gave {got:?}, expected {good_values:?}", case.name));
                    }
                }
                Err(e) => failures.push(format!("{}: all keys at once failed: {e}", case.name)),
            }
        }
    }
    assert!(failures.is_empty(), "{} corpus failures on {}:\n{}", failures.len(), executor.name(), failures.join("\n"));
    check_retries(executor);
}

fn describe(e: &Expect) -> String {
    match e {
        Expect::Value(v) => format!("value {v}"),
        Expect::Error(m) => format!("an error containing {m:?}"),
    }
}

fn describe_result(r: &Result<Vec<Value>, ExecError>) -> String {
    match r {
        Ok(values) => format!("value {}", values[0]),
        Err(e) => format!("error {e:?}: {e}"),
    }
}

/// Polls `f` every 10 ms until it holds; panics naming `what` after `limit`.
pub fn eventually(what: &str, limit: std::time::Duration, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !f() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// The test runner of binaries with their own `main` (`harness = false`, because they are
/// re-executed as worker processes): runs the tests whose names contain the first non-flag
/// argument, prints libtest-like lines, exits non-zero if any failed.
pub fn run_tests(tests: &[(&str, fn())]) {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, test) in tests {
        if filter.as_ref().is_some_and(|f| !name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        let start = std::time::Instant::now();
        // A hung test must fail CI, not stall it.
        let watchdog = {
            let name = name.to_string();
            let (done, finished) = std::sync::mpsc::channel::<()>();
            std::thread::spawn(move || {
                // Dropping the sender (the test ended) disconnects; only a timeout is a hang.
                let waited = finished.recv_timeout(std::time::Duration::from_secs(180));
                if waited == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
                    eprintln!("test {name} ... TIMED OUT after 180 s");
                    std::process::exit(101);
                }
            });
            done
        };
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(test)).is_ok();
        drop(watchdog);
        println!("test {name} ... {} ({:.2}s)", if ok { "ok" } else { "FAILED" }, start.elapsed().as_secs_f64());
        if !ok {
            failed.push(*name);
        }
    }
    let verdict = if failed.is_empty() { "ok" } else { "FAILED" };
    println!("\ntest result: {verdict}. {} passed; {} failed", ran - failed.len(), failed.len());
    if !failed.is_empty() {
        eprintln!("failed: {failed:?}");
        std::process::exit(101);
    }
}

/// A tree sum over leaves that each `sleep` for `seconds`: long enough to kill a worker in
/// the middle. The root's value is `leaves * (leaves - 1) / 2`.
pub fn slow_tree(leaves: i64, seconds: f64) -> (Graph, Key) {
    let mut g = Graph::new();
    let mut level: Vec<Key> = (0..leaves)
        .map(|i| {
            g.insert(("leaf", i), Expr::call("sleep", [Expr::from(seconds), Expr::from(i)]));
            Key::from(("leaf", i))
        })
        .collect();
    let mut depth = 0i64;
    while level.len() > 1 {
        depth += 1;
        level = level
            .chunks(2)
            .enumerate()
            .map(|(j, pair)| {
                let key = Key::from(("node", depth * 100_000 + j as i64));
                g.insert(key.clone(), Expr::call("sum", [Expr::list(pair.iter().cloned().map(Expr::key))]));
                key
            })
            .collect();
    }
    (g, level.pop().expect("at least one leaf"))
}
