//! Performance reports (Dask's `performance_report`): one self-contained HTML file with what a
//! computation did on the cluster — the task stream, durations per task group, transfers,
//! worker memory over time and the scheduler's figures. It inlines the dashboard's own script
//! and style with the data as JSON, so it opens offline in any browser and can be attached to
//! a bug report.
//!
//! ```no_run
//! use rask_distributed::{performance_report, LocalCluster};
//! # fn main() -> Result<(), rask_distributed::DistError> {
//! let cluster = LocalCluster::new(2, 1)?;
//! let client = cluster.client()?;
//! let squares = performance_report(&client, "report.html", || client.map("inc", (0..100).map(rask_graph::Value::Int)))??;
//! # Ok(()) }
//! ```

use std::path::{Path, PathBuf};

use rask_protocol::dist::{SchedulerStats, TaskEvent, WorkerSample};
use serde::Serialize;

use crate::metrics::unix_us;
use crate::scheduler::dashboard::{PAGE, SCRIPT, STYLE};
use crate::{Client, DistError};

/// Records from [`PerformanceReport::start`] until [`PerformanceReport::finish`] (or drop),
/// then writes the report.
pub struct PerformanceReport {
    client: Client,
    path: PathBuf,
    start_us: u64,
    /// The task stream's position when the report started.
    since: u64,
    /// Tasks the scheduler had been given when the report started.
    submitted_before: u64,
    written: bool,
}

/// What the page reads from its `#report-data` element.
#[derive(Serialize)]
struct ReportData<'a> {
    start_us: u64,
    stop_us: u64,
    events: &'a [TaskEvent],
    /// Task events the scheduler's ring dropped before the report read them.
    events_lost: u64,
    /// The size of the graphs submitted meanwhile: tasks new to the scheduler.
    tasks_submitted: u64,
    samples: &'a [WorkerSample],
    stats: &'a SchedulerStats,
}

impl PerformanceReport {
    /// Starts recording what `client`'s cluster does; the report goes to `path`.
    pub fn start(client: &Client, path: impl AsRef<Path>) -> Result<PerformanceReport, DistError> {
        let (_, since) = client.task_stream(u64::MAX)?;
        let submitted_before = submitted(&client.stats()?);
        Ok(PerformanceReport {
            client: client.clone(),
            path: path.as_ref().to_owned(),
            start_us: unix_us(),
            since,
            submitted_before,
            written: false,
        })
    }

    /// Writes the report now; returns its path.
    pub fn finish(mut self) -> Result<PathBuf, DistError> {
        self.write()?;
        Ok(self.path.clone())
    }

    fn write(&mut self) -> Result<(), DistError> {
        self.written = true;
        let stop_us = unix_us();
        let (events, _) = self.client.task_stream(self.since)?;
        let events_lost = events.first().map_or(0, |e| e.seq.saturating_sub(self.since + 1));
        let samples = self.client.worker_samples(self.start_us)?;
        let stats = self.client.stats()?;
        let data = ReportData {
            start_us: self.start_us,
            stop_us,
            events: &events,
            events_lost,
            tasks_submitted: submitted(&stats).saturating_sub(self.submitted_before),
            samples: &samples,
            stats: &stats,
        };
        std::fs::write(&self.path, render(&data)?)?;
        Ok(())
    }
}

impl Drop for PerformanceReport {
    /// A report that was not finished is written when it goes out of scope (an early return
    /// or a panic still leaves a report behind).
    fn drop(&mut self) {
        if !self.written {
            if let Err(e) = self.write() {
                tracing::warn!("performance report {} not written: {e}", self.path.display());
            }
        }
    }
}

/// Tasks ever added to the scheduler, by its task groups' totals (groups of finished work
/// may have been dropped past the groups' cap: then the count is short, never long).
fn submitted(stats: &SchedulerStats) -> u64 {
    stats.groups.iter().map(|g| g.total).sum()
}

/// Runs `work` and writes a performance report of what the cluster did meanwhile to `path`.
pub fn performance_report<T>(
    client: &Client,
    path: impl AsRef<Path>,
    work: impl FnOnce() -> T,
) -> Result<T, DistError> {
    let report = PerformanceReport::start(client, path)?;
    let out = work();
    report.finish()?;
    Ok(out)
}

/// The page: the dashboard's shell with its style and script inline and the data as JSON.
fn render(data: &ReportData<'_>) -> Result<String, DistError> {
    let json = serde_json::to_string(data).map_err(|e| DistError::Protocol(format!("report data: {e}")))?;
    // Inside a <script> element, "</" could end it early; "<\/" means the same in JSON.
    let json = json.replace("</", "<\\/");
    let script = SCRIPT.replace("</", "<\\/");
    Ok(PAGE
        .replace("{{view}}", "report")
        .replace("{{head}}", &format!("<style>{STYLE}</style>"))
        .replace("{{data}}</script>", &format!("{json}</script>\n<script>{script}</script>")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_holds_its_data_and_script_and_fetches_nothing() {
        let stats = SchedulerStats::default();
        let event = TaskEvent {
            seq: 1,
            key: "('</script>', 1)".into(),
            group: "x".into(),
            worker: "127.0.0.1:1".into(),
            thread: 0,
            start_us: 10,
            stop_us: 20,
            nbytes: 8,
            transfers: Vec::new(),
        };
        let data = ReportData {
            start_us: 0,
            stop_us: 30,
            events: &[event],
            events_lost: 0,
            tasks_submitted: 1,
            samples: &[],
            stats: &stats,
        };
        let page = render(&data).unwrap();
        assert!(page.contains(r#"data-page="report""#));
        assert!(page.contains("<\\/script>"), "a key cannot close the data element early");
        assert!(!page.contains("src=") && !page.contains("href=\"/dashboard"), "self-contained");
        let start = page.find(r#"type="application/json">"#).unwrap() + r#"type="application/json">"#.len();
        let end = start + page[start..].find("</script>").unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&page[start..end]).unwrap();
        assert_eq!(parsed["events"][0]["key"], "('</script>', 1)");
        assert!(page.contains("drawReport"), "the script is inline");
    }
}
