//! The dashboard in a real browser (headless Chromium, driven over the DevTools protocol):
//! a `rask scheduler` and two `rask worker`s run a graph of sleeping tasks while the status page
//! is open; the test asserts what a person would see — both workers listed, updates arriving,
//! a worker joining and dying mid-run, every task group's progress reaching done, the task
//! stream drawn — and saves screenshots to `target/tmp/`. Then the run's performance report
//! opens from disk and shows the task stream.
//!
//! Without Chromium it is skipped with a message, except under CI (`CI` set), where Chromium is
//! required (`.ci/run` installs Debian's `chromium`).

mod browser;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use browser::Browser;

struct Killed(Vec<Child>);

impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn rask() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rask"))
}

fn worker(addr: &str) -> Child {
    rask()
        .args(["worker", addr, "--nthreads", "2", "--resources", "GPU=1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// 40 naps of 0.3 s, 20 sums of pairs, one total.
fn graph() -> String {
    let mut text = String::from("{");
    for i in 0..40 {
        text.push_str(&format!("('nap', {i}): (sleep, 0.3, {i}), "));
    }
    for i in 0..20 {
        text.push_str(&format!("('pair', {i}): (add, ('nap', {}), ('nap', {})), ", 2 * i, 2 * i + 1));
    }
    let pairs: Vec<String> = (0..20).map(|i| format!("('pair', {i})")).collect();
    text.push_str(&format!("'total': (sum, [{}])}}", pairs.join(", ")));
    text
}

fn shots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/tmp")
}

#[test]
fn the_dashboard_shows_a_live_run_and_the_report_opens_offline() {
    let Some(chromium) = browser::chromium() else {
        assert!(std::env::var_os("CI").is_none(), "CI must have Chromium: .ci/run installs Debian's chromium");
        eprintln!("skipped: no Chromium (apt-get install chromium)");
        return;
    };
    let mut scheduler = rask()
        .args(["scheduler", "--port", "0", "--dashboard-port", "0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(scheduler.stdout.take().unwrap()).lines();
    let addr = lines.next().unwrap().unwrap().rsplit(' ').next().unwrap().to_owned();
    let status_url = lines.next().unwrap().unwrap().rsplit(' ').next().unwrap().to_owned();
    assert!(status_url.starts_with("http://127.0.0.1:") && status_url.ends_with("/status"), "{status_url}");
    let base = status_url.trim_end_matches("/status").to_owned();
    let mut processes = Killed(vec![scheduler, worker(&addr), worker(&addr)]);

    let mut page = Browser::launch(&chromium);
    page.open(&status_url);
    page.wait_for("document.querySelectorAll('#memory .worker-row').length === 2", 20);
    let before = page.eval("window.rask.updates").as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let after = page.eval("window.rask.updates").as_u64().unwrap();
    assert!(after >= before + 2, "live updates: {before} then {after} after 2 s");

    let dir = std::env::temp_dir().join(format!("rask-dashboard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("naps.graph");
    std::fs::write(&file, graph()).unwrap();
    let report = dir.join("report.html");
    let run = rask()
        .args(["run", file.to_str().unwrap(), "--key", "total", "--scheduler", &addr, "--report"])
        .arg(&report)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // A third worker joins mid-run and the page follows; then it dies, and the page follows.
    page.wait_for("document.querySelector('.group-row[data-group=\"nap\"]') !== null", 20);
    processes.0.push(worker(&addr));
    page.wait_for("document.querySelectorAll('#memory .worker-row').length === 3", 20);
    page.wait_for("Number(document.getElementById('task-stream').dataset.rows) >= 5", 20);
    page.screenshot(&shots().join("dashboard-status-running.png"));
    let mut third = processes.0.pop().unwrap();
    third.kill().unwrap();
    third.wait().unwrap();
    page.wait_for("document.querySelectorAll('#memory .worker-row').length === 2", 20);

    let output = run.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let expected: i64 = (0..40).sum();
    assert_eq!(String::from_utf8_lossy(&output.stdout), format!("{expected}\n"));

    for (group, total) in [("nap", 40), ("pair", 20), ("total", 1)] {
        let row = format!("document.querySelector('.group-row[data-group=\"{group}\"]')");
        page.wait_for(&format!("{row} && {row}.dataset.done === '{total}' && {row}.dataset.total === '{total}'"), 20);
    }
    page.wait_for("Number(document.getElementById('task-stream').dataset.drawn) >= 61", 20);
    let rows = page.eval("Number(document.getElementById('task-stream').dataset.rows)").as_u64().unwrap();
    assert!(rows >= 4, "a row per worker thread: {rows}");
    page.screenshot(&shots().join("dashboard-status.png"));

    page.open(&format!("{base}/workers"));
    page.wait_for("document.querySelectorAll('#workers-table tbody tr').length === 2", 20);
    // Each worker's declared resources, and what its running tasks leave free (all of it now).
    let cells = page.eval(
        "[...document.querySelectorAll('#workers-table tbody tr')].map(r => r.children[13].textContent).join(',')",
    );
    assert_eq!(cells.as_str(), Some("GPU 1/1,GPU 1/1"));
    page.open(&format!("{base}/graph"));
    page.wait_for("document.querySelectorAll('#graph g.node').length === 3", 20);
    let states = page.eval("[...document.querySelectorAll('#graph g.node')].map(n => n.dataset.state).join(',')");
    assert_eq!(states, "done,done,done");
    page.screenshot(&shots().join("dashboard-graph.png"));
    page.open(&format!("{base}/info"));
    page.wait_for("document.querySelector('#info tr[data-field=\"workers\"] td:last-child') !== null", 20);
    let workers = page.eval("document.querySelector('#info tr[data-field=\"workers\"] td:last-child').textContent");
    let address = page.eval("document.querySelector('#info tr[data-field=\"address\"] td:last-child').textContent");
    assert_eq!((workers.as_str(), address.as_str()), (Some("2"), Some(addr.as_str())));

    // The report, offline: it opens from disk and draws the run.
    page.open(&format!("file://{}", report.display()));
    page.wait_for("document.body.dataset.page === 'report'", 10);
    page.wait_for("Number(document.getElementById('report-stream').dataset.drawn) >= 61", 10);
    let groups = page.eval("document.querySelectorAll('#durations tbody tr').length");
    assert_eq!(groups.as_u64(), Some(3), "nap, pair and total");
    page.screenshot(&shots().join("dashboard-report.png"));

    let thrown = page.eval("window.rask.errors.length").as_u64().unwrap();
    assert!(page.errors.is_empty() && thrown == 0, "the pages threw: {:?}", page.errors);
    let _ = std::fs::remove_dir_all(dir);
}
