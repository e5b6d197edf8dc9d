//! π by Monte Carlo: 64 tasks of 100,000 seeded random points each on a local cluster (a
//! scheduler and two worker processes of this binary), then one task that adds them up —
//! watched three ways: the cluster's live dashboard (its URL is printed), a progress callback,
//! and a performance report written at the end.
//! `cargo run --release -p rask --example monte_carlo_pi`
use rask::prelude::*;

/// Points of `n` drawn from a seeded xorshift generator that fall inside the unit circle.
#[rask::task]
fn hits(seed: u64, n: u64) -> u64 {
    let mut state = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    (0..n).filter(|_| next().powi(2) + next().powi(2) <= 1.0).count() as u64
}

#[rask::task]
fn estimate(hits: Vec<u64>, per_task: u64) -> f64 {
    4.0 * hits.iter().sum::<u64>() as f64 / (hits.len() as u64 * per_task) as f64
}

pub fn main() -> Result<(), rask::Error> {
    rask::init();
    let per_task = 100_000u64;
    let parts: Vec<Delayed<u64>> = (0..64).map(|seed| hits(lit(seed), lit(per_task))).collect();
    let cluster = rask::distributed::LocalCluster::new(2, 1)?;
    println!("dashboard: {}", cluster.dashboard_url().unwrap_or_default());
    let client = cluster.client()?;
    let report = std::env::temp_dir().join("monte_carlo_pi.html");
    let progress = |done: usize, total: usize| {
        if done == total && total > 0 {
            println!("{done}/{total} tasks done");
        }
    };
    let pi = rask::distributed::performance_report(&client, &report, || {
        estimate(parts, lit(per_task)).compute(&rask::exec::with_progress(&client, &progress))
    })??;
    println!("π ≈ {pi:.5} from {} points; report in {}", 64 * per_task, report.display());
    assert!((pi - std::f64::consts::PI).abs() < 0.01, "{pi}");
    Ok(())
}
