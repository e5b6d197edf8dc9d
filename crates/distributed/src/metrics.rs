//! What a worker measures of itself for its heartbeat: CPU use from `/proc/self/stat`, the
//! wall clock in Unix microseconds (task records and samples), and byte counters.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Microseconds since the Unix epoch: comparable across processes on one machine (and across
/// machines as far as their clocks agree — Dask makes the same trade).
pub fn unix_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// CPU use of this process between two readings, as a percentage of one core.
pub(crate) struct CpuMeter {
    last: Option<(Instant, u64)>,
    ticks_per_second: f64,
}

impl CpuMeter {
    pub(crate) fn new() -> CpuMeter {
        // SAFETY: sysconf has no preconditions.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        CpuMeter { last: None, ticks_per_second: if hz > 0 { hz as f64 } else { 100.0 } }
    }

    /// Percent of one core used since the last call (0 on the first).
    pub(crate) fn sample(&mut self) -> f32 {
        let Some(ticks) = std::fs::read_to_string("/proc/self/stat").ok().and_then(|s| cpu_ticks(&s)) else {
            return 0.0;
        };
        let now = Instant::now();
        let percent = match self.last {
            Some((then, before)) => {
                let seconds = now.duration_since(then).as_secs_f64();
                if seconds > 0.0 {
                    (ticks.saturating_sub(before) as f64 / self.ticks_per_second / seconds * 100.0) as f32
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.last = Some((now, ticks));
        percent
    }
}

/// User plus system ticks from a `/proc/PID/stat` line (fields 14 and 15, counted after the
/// command name, which may itself hold spaces and parentheses).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_read_past_a_command_name_with_spaces() {
        let stat = "42 (my (odd) cmd) S 1 42 42 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 1 0 5 1000 10";
        assert_eq!(cpu_ticks(stat), Some(325));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn a_busy_thread_shows_as_cpu_use() {
        let mut meter = CpuMeter::new();
        assert_eq!(meter.sample(), 0.0, "the first reading has nothing to compare with");
        let until = Instant::now() + std::time::Duration::from_millis(300);
        let mut x = 0u64;
        while Instant::now() < until {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        let percent = meter.sample();
        assert!(percent > 30.0 && percent < 250.0, "{percent}");
    }

    #[test]
    fn unix_time_is_now() {
        let us = unix_us();
        assert!(us > 1_700_000_000_000_000, "{us}");
    }
}
