//! Logs: every rask library crate reports through `tracing`; this module installs the
//! subscriber that writes them to stderr, as lines for people or as JSON objects for machines.
//!
//! The level comes from `RUST_LOG` (full filter syntax) if set, else the level given, else
//! `RASK_LOG_LEVEL`, else `info`. [`init`] also exports its choice as `RASK_LOG_FORMAT` and
//! `RASK_LOG_LEVEL`, so worker processes started from this one ([`LocalCluster`](crate::LocalCluster),
//! the process executor) log the same way ([`init_from_env`]). Scheduler lines carry a
//! `scheduler{addr=…}` span and worker lines a `worker{addr=…}` span naming the writer.

use std::str::FromStr;

use tracing_subscriber::EnvFilter;

const FORMAT_ENV: &str = "RASK_LOG_FORMAT";
const LEVEL_ENV: &str = "RASK_LOG_LEVEL";

/// How log lines look.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One line per event, for people (the default).
    #[default]
    Human,
    /// One JSON object per line, with the event's fields and its spans.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "human" | "text" => Ok(LogFormat::Human),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format {other:?} (human or json)")),
        }
    }
}

/// Installs the stderr subscriber for this process and exports the choice to its children.
/// Does nothing if a subscriber is installed already (the first one wins).
pub fn init(format: LogFormat, level: Option<&str>) {
    let level = level.map(str::to_owned).or_else(|| std::env::var(LEVEL_ENV).ok()).unwrap_or_else(|| "info".into());
    // SAFETY (set_var): called at start-up, before this process starts threads of its own.
    std::env::set_var(FORMAT_ENV, if format == LogFormat::Json { "json" } else { "human" });
    std::env::set_var(LEVEL_ENV, &level);
    install(format, &level);
}

/// The subscriber a parent process chose ([`init`]), or human lines at `info`.
pub fn init_from_env() {
    let format = std::env::var(FORMAT_ENV).ok().and_then(|f| f.parse().ok()).unwrap_or_default();
    let level = std::env::var(LEVEL_ENV).unwrap_or_else(|_| "info".into());
    install(format, &level);
}

fn install(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = match format {
        LogFormat::Human => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::LogFormat;

    #[test]
    fn formats_parse_by_name() {
        assert_eq!("json".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("human".parse::<LogFormat>(), Ok(LogFormat::Human));
        assert!("xml".parse::<LogFormat>().unwrap_err().contains("human or json"));
    }
}
