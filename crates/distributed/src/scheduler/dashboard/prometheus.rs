//! The scheduler's figures in Prometheus' text format (version 0.0.4): every name prefixed
//! `rask_`, one `# HELP` and `# TYPE` per metric, per-worker series labelled by address.

use std::fmt::Write;

use rask_protocol::dist::SchedulerStats;

/// A metric: its name, help, type, and samples (labels, value).
struct Metric<'a> {
    name: &'a str,
    help: &'a str,
    kind: &'a str,
    samples: Vec<(String, f64)>,
}

fn one(name: &'static str, help: &'static str, kind: &'static str, value: f64) -> Metric<'static> {
    Metric { name, help, kind, samples: vec![(String::new(), value)] }
}

/// A label value with `\`, `"` and newlines escaped, as the format asks.
fn escape(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

pub(crate) fn render(s: &SchedulerStats) -> String {
    let states = &s.states;
    let by_state = [
        ("released", states.released),
        ("waiting", states.waiting),
        ("queued", states.queued),
        ("processing", states.processing),
        ("memory", states.memory),
        ("erred", states.erred),
    ];
    // A per-worker metric: one sample per worker, labelled by its address.
    let worker = |name, help, kind, value: &dyn Fn(&rask_protocol::dist::WorkerStatus) -> f64| Metric {
        name,
        help,
        kind,
        samples: s.worker_status.iter().map(|w| (format!("worker=\"{}\"", escape(&w.addr)), value(w))).collect(),
    };
    let metrics = [
        Metric {
            name: "rask_tasks",
            help: "Tasks known to the scheduler, by state.",
            kind: "gauge",
            samples: by_state.iter().map(|(k, v)| (format!("state=\"{k}\""), *v as f64)).collect(),
        },
        one("rask_tasks_done_total", "Task completions reported by workers.", "counter", s.tasks_done as f64),
        one(
            "rask_tasks_recomputed_total",
            "Tasks run again after a result was lost.",
            "counter",
            s.tasks_recomputed as f64,
        ),
        one(
            "rask_tasks_retried_total",
            "Task attempts that failed and were run again (their retries annotation).",
            "counter",
            s.tasks_retried as f64,
        ),
        one(
            "rask_tasks_no_worker",
            "Tasks waiting because no connected worker has the resources or names they ask for.",
            "gauge",
            s.tasks_no_worker as f64,
        ),
        one(
            "rask_coordination_structures",
            "Named queues, variables, events, locks and topics alive.",
            "gauge",
            s.coordination as f64,
        ),
        one("rask_task_throughput", "Tasks finished per second, over the last seconds.", "gauge", s.throughput),
        one("rask_workers", "Workers connected.", "gauge", s.workers as f64),
        one("rask_workers_lost_total", "Workers that died or were declared dead.", "counter", s.workers_lost as f64),
        one(
            "rask_transfer_bytes_total",
            "Result bytes workers fetched from peers.",
            "counter",
            (s.bytes_fetched_by_copy + s.bytes_fetched_by_reference) as f64,
        ),
        one(
            "rask_event_loop_latency_seconds",
            "How late the scheduler handled its once-a-second tick.",
            "gauge",
            s.event_loop_latency_us as f64 / 1e6,
        ),
        one("rask_uptime_seconds", "Seconds since the scheduler started.", "gauge", s.uptime_s),
        worker("rask_worker_memory_bytes", "Bytes of results a worker holds in memory.", "gauge", &|w| {
            w.bytes_in_memory as f64
        }),
        worker("rask_worker_spilled_bytes", "Bytes of results a worker has spilled to disk.", "gauge", &|w| {
            w.bytes_spilled as f64
        }),
        worker("rask_worker_rss_bytes", "A worker process's resident memory.", "gauge", &|w| w.metrics.rss as f64),
        worker("rask_worker_cpu_percent", "A worker's CPU use, percent of one core.", "gauge", &|w| {
            f64::from(w.metrics.cpu_percent)
        }),
        worker("rask_worker_executing", "Tasks a worker is running.", "gauge", &|w| f64::from(w.metrics.executing)),
        worker("rask_worker_processing", "Tasks given to a worker and not yet reported back.", "gauge", &|w| {
            w.processing as f64
        }),
        worker("rask_worker_received_bytes_total", "Result bytes a worker fetched from peers.", "counter", &|w| {
            w.metrics.bytes_received as f64
        }),
        worker("rask_worker_sent_bytes_total", "Result bytes a worker served to peers and clients.", "counter", &|w| {
            w.metrics.bytes_sent as f64
        }),
    ];
    let mut out = String::new();
    for m in metrics {
        let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {}", m.name, m.help, m.name, m.kind);
        for (labels, value) in m.samples {
            let labels = if labels.is_empty() { labels } else { format!("{{{labels}}}") };
            let _ = writeln!(out, "{}{labels} {value}", m.name);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rask_protocol::dist::{StateCounts, WorkerStatus};

    use super::*;

    #[test]
    fn every_line_is_a_comment_or_a_sample_and_labels_are_escaped() {
        let stats = SchedulerStats {
            workers: 1,
            tasks_done: 12,
            states: StateCounts { memory: 3, ..StateCounts::default() },
            worker_status: vec![WorkerStatus {
                addr: "odd\"name\\".into(),
                bytes_in_memory: 4096,
                ..WorkerStatus::default()
            }],
            ..SchedulerStats::default()
        };
        let text = render(&stats);
        assert!(text.contains("rask_tasks{state=\"memory\"} 3\n"), "{text}");
        assert!(text.contains("rask_tasks_done_total 12\n"));
        assert!(text.contains(r#"rask_worker_memory_bytes{worker="odd\"name\\"} 4096"#), "{text}");
        for line in text.lines() {
            let sample = line.starts_with("rask_") && line.rsplit(' ').next().unwrap().parse::<f64>().is_ok();
            assert!(line.starts_with("# HELP rask_") || line.starts_with("# TYPE rask_") || sample, "{line}");
        }
    }
}
