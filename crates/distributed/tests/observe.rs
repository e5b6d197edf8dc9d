//! Seeing a run, on a real LocalCluster (worker processes on loopback): the task stream, the
//! stats, the dashboard's endpoints (`/metrics` against `Client::stats`, pages, server-sent
//! events), progress on a cluster, and performance reports.
//!
//! Own `main` (`harness = false`): the cluster's workers are this binary, re-executed.

#[path = "../../exec/tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rask_distributed::{performance_report, Client, LocalCluster};
use rask_exec::{with_progress, Executor};
use rask_graph::{Expr, Graph, Key, Registry, Value};

fn main() {
    rask_distributed::worker_main_if_requested();
    let tests: &[(&str, fn())] = &[
        ("the_task_stream_has_one_event_per_finished_task", task_stream),
        ("metrics_parse_and_agree_with_the_stats", metrics_agree_with_stats),
        ("every_page_and_asset_answers", pages_answer),
        ("live_updates_arrive_about_twice_a_second", live_updates),
        ("a_cluster_run_reports_progress_up_to_its_total", progress),
        ("a_performance_report_holds_the_run_and_nothing_else", report),
        ("a_dropped_local_cluster_frees_its_dashboard_port", dropped_cluster_frees_its_ports),
    ];
    common::run_tests(tests);
}

/// `n` tasks napping `seconds` each, and `total`, which sums them (so it reads every result,
/// most of them from the other worker).
fn naps(prefix: &str, n: usize, seconds: f64) -> (Graph, Key) {
    let mut g = Graph::new();
    let mut parts = Vec::new();
    for i in 0..n {
        let key = Key::tuple([Key::str(prefix), Key::Int(i as i64)]);
        g.insert(key.clone(), Expr::call("sleep", [Expr::from(seconds), Expr::from(i as i64)]));
        parts.push(Expr::key(key));
    }
    let total = Key::tuple([Key::str("total"), Key::str(prefix)]);
    g.insert(total.clone(), Expr::call("sum", [Expr::list(parts)]));
    (g, total)
}

/// The dashboard's `host:port`.
fn dashboard(cluster: &LocalCluster) -> String {
    let url = cluster.dashboard_url().expect("a LocalCluster has a dashboard by default");
    url.trim_start_matches("http://").trim_end_matches("/status").to_owned()
}

/// `GET path`: the status code and body.
fn get(host: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(host).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
    (status, body)
}

fn task_stream() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let (_, start) = client.task_stream(u64::MAX).unwrap();
    let (g, total) = naps("nap", 20, 0.02);
    assert_eq!(client.compute(&g, &[total]).unwrap(), vec![Value::Int((0..20).sum())]);
    let (events, next) = client.task_stream(start).unwrap();
    assert_eq!(events.len(), 21, "one event per finished task");
    assert_eq!(next, start + 21);
    let keys: std::collections::HashSet<&str> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(keys.len(), 21);
    let workers: Vec<String> = client.stats().unwrap().worker_status.into_iter().map(|w| w.addr).collect();
    for e in &events {
        assert!(workers.contains(&e.worker), "{} ran on {}", e.key, e.worker);
        assert!(e.start_us <= e.stop_us && e.thread == 0, "{e:?}");
        if e.group == "nap" {
            assert!(e.stop_us - e.start_us >= 20_000, "a 20 ms nap took {} us", e.stop_us - e.start_us);
        }
    }
    assert_eq!(events.iter().filter(|e| e.group == "nap").count(), 20);
    let sum = events.iter().find(|e| e.group == "total").unwrap();
    assert!(!sum.transfers.is_empty(), "the sum read results held by the other worker");
    for t in &sum.transfers {
        assert!(t.from != sum.worker && workers.contains(&t.from) && t.nbytes > 0 && t.start_us <= t.stop_us, "{t:?}");
    }
    let stats = client.stats().unwrap();
    let nap = stats.groups.iter().find(|g| g.name == "nap").unwrap();
    assert_eq!((nap.total, nap.runs), (20, 20));
    assert!(nap.duration_s >= 0.4 && nap.max_duration_s >= 0.02, "{nap:?}");
}

/// `name{labels} value` lines as a map; every other line must be a `# HELP` or `# TYPE`.
fn parse_prometheus(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP rask_") || line.starts_with("# TYPE rask_") {
            continue;
        }
        let (name, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("not a sample: {line}"));
        assert!(name.starts_with("rask_"), "{line}");
        samples.insert(name.to_owned(), value.parse().unwrap_or_else(|_| panic!("not a number: {line}")));
    }
    samples
}

fn metrics_agree_with_stats() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let host = dashboard(&cluster);
    let (g, total) = naps("held", 10, 0.0);
    let kept = client.persist(&g, &[total]).unwrap();
    client.wait(&kept).unwrap();
    // Heartbeats come every second; with nothing running they stop changing.
    std::thread::sleep(Duration::from_millis(2200));
    let stats = client.stats().unwrap();
    let (status, text) = get(&host, "/metrics");
    assert_eq!(status, 200);
    let m = parse_prometheus(&text);
    assert_eq!(m["rask_tasks_done_total"], stats.tasks_done as f64);
    assert_eq!(m["rask_workers"], 2.0);
    assert_eq!(m["rask_tasks{state=\"memory\"}"], stats.states.memory as f64);
    assert_eq!(stats.states.memory, 1, "the held total");
    for w in &stats.worker_status {
        let memory = m[&format!("rask_worker_memory_bytes{{worker=\"{}\"}}", w.addr)];
        assert_eq!(memory, w.bytes_in_memory as f64, "{}", w.addr);
        assert!(m[&format!("rask_worker_rss_bytes{{worker=\"{}\"}}", w.addr)] > 1e6);
    }
    assert!(stats.worker_status.iter().any(|w| w.bytes_in_memory > 0), "the held result is counted somewhere");
    assert!(m["rask_uptime_seconds"] > 0.0);
    drop(kept);
}

fn pages_answer() {
    let cluster = LocalCluster::new(1, 1).unwrap();
    let host = dashboard(&cluster);
    for page in ["/status", "/workers", "/graph", "/info"] {
        let (status, body) = get(&host, page);
        assert_eq!(status, 200, "{page}");
        assert!(body.contains(&format!("data-page=\"{}\"", &page[1..])) && body.contains("/dashboard.js"), "{page}");
    }
    let (status, script) = get(&host, "/dashboard.js");
    assert!(status == 200 && script.contains("EventSource"));
    assert_eq!(get(&host, "/dashboard.css").0, 200);
    assert_eq!(get(&host, "/health"), (200, "ok".to_owned()));
    assert_eq!(get(&host, "/").0, 307, "the root redirects to /status");
    assert_eq!(get(&host, "/nope").0, 404);
    let (status, body) = get(&host, "/api/stats");
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((status, stats["workers"].as_u64()), (200, Some(1)));
    assert_eq!(
        stats["address"].as_str(),
        Some(format!("tcp://{}", cluster.address().trim_start_matches("tcp://")).as_str())
    );
    let (_, body) = get(&host, "/api/stream?since=0");
    let stream: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(stream["events"].is_array() && stream["next"].is_u64());
}

fn live_updates() {
    let cluster = LocalCluster::new(1, 1).unwrap();
    let host = dashboard(&cluster);
    let mut s = TcpStream::connect(&host).unwrap();
    write!(s, "GET /events HTTP/1.1\r\nhost: {host}\r\n\r\n").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buf = [0u8; 65536];
    while started.elapsed() < Duration::from_millis(2200) {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 200") && text.contains("text/event-stream"), "{text}");
    let updates = text.matches("event: update").count();
    assert!((3..=6).contains(&updates), "updates in 2.2 s, one every 0.5 s: {updates}");
    let first = text.split("data: ").nth(1).unwrap().lines().next().unwrap();
    let update: serde_json::Value = serde_json::from_str(first).unwrap();
    assert_eq!(update["stats"]["workers"].as_u64(), Some(1));
}

fn progress() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    let seen = Mutex::new(Vec::new());
    let record = |done: usize, total: usize| seen.lock().unwrap().push((done, total));
    let (g, total) = naps("p", 50, 0.01);
    let values = client.compute_with_progress(&g, std::slice::from_ref(&total), &record).unwrap();
    assert_eq!(values, vec![Value::Int((0..50).sum())]);
    let seen = seen.into_inner().unwrap();
    assert_eq!(seen.last(), Some(&(51, 51)), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 <= w[1].0), "done never goes back: {seen:?}");
    assert!(seen.len() >= 3, "updates as it ran: {seen:?}");
    // The same through any executor, wrapped (what Delayed and Frame compute through).
    let last = Mutex::new((0, 0));
    let note = |done: usize, total: usize| *last.lock().unwrap() = (done, total);
    let watched = with_progress(&client, &note);
    let (g, total) = naps("q", 10, 0.0);
    watched.get(&g, &[total], &Registry::new()).unwrap();
    assert_eq!(*last.lock().unwrap(), (11, 11));
}

fn report() {
    let cluster = LocalCluster::new(2, 1).unwrap();
    let client = cluster.client().unwrap();
    // Work before the report is not in it.
    let (g, total) = naps("before", 5, 0.0);
    client.compute(&g, &[total]).unwrap();
    let path = std::env::temp_dir().join(format!("rask-report-{}.html", std::process::id()));
    let (g, total) = naps("r", 25, 0.01);
    let value = performance_report(&client, &path, || client.compute(&g, std::slice::from_ref(&total))).unwrap();
    assert_eq!(value.unwrap(), vec![Value::Int((0..25).sum())]);
    let page = std::fs::read_to_string(&path).unwrap();
    let start = page.find(r#"type="application/json">"#).unwrap() + r#"type="application/json">"#.len();
    let end = start + page[start..].find("</script>").unwrap();
    let data: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
    let events = data["events"].as_array().unwrap();
    assert_eq!(events.len(), 26, "the 25 naps and their total, nothing from before");
    assert!(events.iter().all(|e| e["group"] == "r" || e["group"] == "total"));
    assert_eq!(data["stats"]["workers"].as_u64(), Some(2));
    assert_eq!(data["tasks_submitted"].as_u64(), Some(26), "the graph's size");
    assert!(data["stop_us"].as_u64() > data["start_us"].as_u64());
    assert!(!page.contains("src=\"") && !page.contains("<link"), "a report loads nothing from anywhere");
    let _ = std::fs::remove_file(path);
}

fn dropped_cluster_frees_its_ports() {
    let cluster = LocalCluster::new(1, 1).unwrap();
    let client: Client = cluster.client().unwrap();
    let host = dashboard(&cluster);
    assert_eq!(get(&host, "/health").0, 200);
    drop(client);
    drop(cluster);
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(&host).is_ok() {
        assert!(Instant::now() < deadline, "the dashboard still answers at {host}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
