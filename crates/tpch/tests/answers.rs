//! The 22 TPC-H queries at SF 0.01 against the answers DuckDB gave for the specification's
//! query text (`fixtures/sf0.01`, see `fixtures/README.md`), on threads, worker processes and
//! a local cluster.
//!
//! Own `main` (`harness = false`): the executors re-execute this binary as their workers.

#[path = "../../exec/tests/common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};

use rask_distributed::LocalCluster;
use rask_exec::{Executor, ProcessExecutor, ThreadedExecutor};
use rask_tpch::{query, to_csv, Tables};

const SF: f64 = 0.01;

fn main() {
    rask_distributed::worker_main_if_requested();
    common::run_tests(&[
        ("generated_tables_have_the_specified_row_counts", row_counts),
        ("the_22_queries_match_duckdb_on_threads_processes_and_a_cluster", answers),
        ("a_query_that_does_not_exist_is_an_error", unknown_query),
    ]);
    // Reached when every test passed (a failure exits first, leaving the data to look at).
    let _ = std::fs::remove_dir_all(data_dir());
}

fn data_dir() -> PathBuf {
    std::env::temp_dir().join(format!("rask-tpch-test-{}", std::process::id()))
}

/// The tables, generated once per run of this binary.
fn data() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = data_dir();
        rask_tpch::generate(&dir, SF).expect("the generator writes the tables");
        dir
    })
    .clone()
}

fn row_counts() {
    let dir = data();
    let tables = Tables::new(&dir, SF);
    let ex = ThreadedExecutor::new(2);
    let expected =
        [("region", 5), ("nation", 25), ("supplier", 100), ("customer", 1500), ("part", 2000), ("orders", 15000)];
    for (table, rows) in expected {
        let frame = tables.table(table).unwrap();
        assert_eq!(frame.len(&ex).unwrap(), rows, "{table}");
    }
    assert_eq!(tables.table("lineitem").unwrap().npartitions(), rask_tpch::files_for("lineitem", SF));
}

fn expected(n: usize) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("fixtures/sf0.01/q{n:02}.csv"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn check_all(ex: &dyn Executor, tables: &Tables) -> Vec<String> {
    (1..=22)
        .filter_map(|n| {
            let result = query(n, tables).unwrap_or_else(|e| panic!("q{n}: {e}")).compute(ex);
            let batch = result.unwrap_or_else(|e| panic!("q{n} on {}: {e}", ex.name()));
            rask_tpch::differences(&to_csv(&batch), &expected(n), 1e-9, true)
                .map(|d| format!("q{n:02} on {}: {d}", ex.name()))
        })
        .collect()
}

fn answers() {
    let tables = Tables::new(data(), SF);
    let cluster = LocalCluster::new(2, 1).expect("a local cluster starts");
    let executors: Vec<Box<dyn Executor>> = vec![
        Box::new(ThreadedExecutor::new(2)),
        Box::new(ProcessExecutor::new(2)),
        Box::new(cluster.client().expect("a client connects")),
    ];
    let wrong: Vec<String> = executors.iter().flat_map(|ex| check_all(ex.as_ref(), &tables)).collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn unknown_query() {
    let tables = Tables::new("/nonexistent", SF);
    let e = query(23, &tables).unwrap_err().to_string();
    assert!(e.contains("1 to 22"), "{e}");
}
