//! The dashboard: an HTTP server on the scheduler's tokio runtime (axum), serving pages to
//! people and figures to programs. It holds no state: every request asks the actor through an
//! [`Observer`], so what it shows is what the state machine holds.
//!
//! - `/status`, `/workers`, `/graph`, `/info` — one page (`web/page.html`) drawn by our own
//!   script (`web/dashboard.js`: canvas and SVG, no charting library), compiled into the binary,
//!   updated live over server-sent events from `/events` every [`UPDATE_EVERY`].
//! - `/metrics` — Prometheus text ([`prometheus`]); `/health` — `ok`.
//! - `/api/stats`, `/api/stream?since=N`, `/api/samples?since_us=T` — JSON.

mod https;
pub(crate) mod prometheus;

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use super::Observer;

/// How often a page open on the dashboard gets new figures.
pub const UPDATE_EVERY: Duration = Duration::from_millis(500);

/// The page shell, script and style: the same files make the performance reports.
pub(crate) const PAGE: &str = include_str!("web/page.html");
pub(crate) const SCRIPT: &str = include_str!("web/dashboard.js");
pub(crate) const STYLE: &str = include_str!("web/dashboard.css");

/// Serves the dashboard on `listener` until the runtime stops: over HTTPS with `web` (the
/// scheduler's certificate), else plain HTTP.
pub(crate) async fn serve(
    listener: TcpListener,
    web: Option<std::sync::Arc<rustls::ServerConfig>>,
    observer: Observer,
) {
    let app = Router::new()
        .route("/", get(|| async { Redirect::temporary("/status") }))
        .route("/status", get(|| page("status")))
        .route("/workers", get(|| page("workers")))
        .route("/graph", get(|| page("graph")))
        .route("/info", get(|| page("info")))
        .route("/dashboard.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT) }))
        .route("/dashboard.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE) }))
        .route("/health", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .route("/api/stats", get(stats))
        .route("/api/stream", get(stream))
        .route("/api/samples", get(samples))
        .route("/events", get(events))
        .with_state(observer);
    let served = match web {
        Some(config) => match https::TlsListener::new(listener, config) {
            Ok(listener) => axum::serve(listener, app).await,
            Err(e) => Err(e),
        },
        None => axum::serve(listener, app).await,
    };
    if let Err(e) = served {
        tracing::error!("dashboard stopped: {e}");
    }
}

/// The page shell for one view; the script reads which from `data-page` and draws it.
async fn page(view: &'static str) -> Response {
    let html = PAGE
        .replace("{{view}}", view)
        .replace(
            "{{head}}",
            r#"<link rel="stylesheet" href="/dashboard.css"><script src="/dashboard.js" defer></script>"#,
        )
        .replace("{{data}}", "null");
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}

fn json(value: &impl Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn gone() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "the scheduler is stopping").into_response()
}

async fn stats(State(observer): State<Observer>) -> Response {
    observer.stats().await.map_or_else(gone, |s| json(&s))
}

async fn metrics(State(observer): State<Observer>) -> Response {
    match observer.stats().await {
        Some(s) => ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], prometheus::render(&s)).into_response(),
        None => gone(),
    }
}

#[derive(Deserialize)]
struct Since {
    #[serde(default)]
    since: u64,
}

async fn stream(State(observer): State<Observer>, Query(q): Query<Since>) -> Response {
    match observer.stream(q.since).await {
        Some((events, next)) => json(&serde_json::json!({ "events": events, "next": next })),
        None => gone(),
    }
}

#[derive(Deserialize)]
struct SinceTime {
    #[serde(default)]
    since_us: u64,
}

async fn samples(State(observer): State<Observer>, Query(q): Query<SinceTime>) -> Response {
    observer.samples(q.since_us).await.map_or_else(gone, |s| json(&s))
}

/// One live update: the whole stats, the task events and worker samples since the last.
#[derive(Serialize)]
struct Update {
    stats: rask_protocol::dist::SchedulerStats,
    events: Vec<rask_protocol::dist::TaskEvent>,
    samples: Vec<rask_protocol::dist::WorkerSample>,
}

/// Task events a page opened mid-run gets from before it opened.
const BACKLOG: u64 = 10_000;

/// Server-sent events: an update at once (with the last [`BACKLOG`] task events, so a page
/// opened mid-run draws what came before), then one every [`UPDATE_EVERY`].
async fn events(State(observer): State<Observer>) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let position = observer.stream(u64::MAX).await.map_or(0, |(_, next)| next);
    let start = (observer, position.saturating_sub(BACKLOG), 0u64, true);
    let updates = futures_util::stream::unfold(start, |(observer, since, since_us, first)| async move {
        if !first {
            tokio::time::sleep(UPDATE_EVERY).await;
        }
        let stats = observer.stats().await?;
        let (events, next) = observer.stream(since).await?;
        let samples = observer.samples(since_us).await?;
        let next_us = samples.last().map_or(since_us, |s| s.time_us + 1);
        let data = serde_json::to_string(&Update { stats, events, samples }).ok()?;
        Some((Ok(Event::default().event("update").data(data)), (observer, next, next_us, false)))
    });
    Sse::new(updates).keep_alive(KeepAlive::default())
}
