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

#[test]
fn the_seed_graph_prints_v_on_every_scheduler() {
    for scheduler in ["sync", "threads", "threads:3"] {
        let o = rask(&["run", "examples/seed.graph", "--key", "v", "--scheduler", scheduler]);
        assert!(o.status.success(), "{scheduler}: {}", stderr(&o));
        assert_eq!(stdout(&o), "[9, 2]\n", "{scheduler}");
    }
    let o = rask(&["run", "examples/seed.graph", "--scheduler", "processes"]);
    assert!(!o.status.success() && stderr(&o).contains("not available in this build yet"), "{}", stderr(&o));
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let mut text = String::from("{");
    for i in 0..100_000 {
        text.push_str(&format!("('x', {i}): (inc, {i}), "));
    }
    text.push_str("'total': (sum, [");
    for i in 0..100_000 {
        text.push_str(&format!("('x', {i}), "));
    }
    text.push_str("])}");
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
