// Throwaway: time one moves query on one executor, many runs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use rask_exec::{Executor, ProcessExecutor, ThreadedExecutor};
use rask_frame::Frame;
use std::time::Instant;
fn main() {
    rask_distributed::worker_main_if_requested();
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "dump" {
        dump();
        return;
    }
    let ex_name = args[1].clone();
    let runs: usize = args[2].parse().unwrap();
    let root = std::path::Path::new("/tmp/rask-frame-data");
    let pe = ProcessExecutor::new(2);
    let pids = |pe: &ProcessExecutor| -> Vec<(u32, u64)> {
        pe.worker_pids()
            .into_iter()
            .map(|p| {
                let stat = std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
                let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
                (p, f.get(7).and_then(|x| x.parse().ok()).unwrap_or(0))
            })
            .collect()
    };
    let te = ThreadedExecutor::new(2);
    let ex: &dyn Executor = match ex_name.as_str() {
        "threads" => &te,
        _ => &pe,
    };
    let mut times = vec![];
    for r in 0..runs {
        if r == 3 {
            eprintln!("faults after 3 runs: {:?} self {}", pids(&pe), selfflt());
        }
        let t = Instant::now();
        let f = Frame::read_parquet(root.join("facts")).unwrap();
        let v = if std::env::var("Q").is_ok_and(|q| q == "loc") {
            let indexed = f.select(&["id", "x"]).set_index("id").unwrap();
            indexed.loc(1_000_000.0, 2_000_000.0).unwrap().sum("x").compute(ex).unwrap()
        } else {
            f.select(&["key", "x"]).shuffle(&["key"], 20).sum("x").compute(ex).unwrap()
        };
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        let _ = v;
    }
    eprintln!("faults at end: {:?} self {}", pids(&pe), selfflt());
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!("{ex_name}: median {:.1} ms  min {:.1}  max {:.1}", times[runs / 2], times[0], times[runs - 1]);
}
#[allow(dead_code)]
fn dump() {
    let root = std::path::Path::new("/tmp/rask-frame-data");
    let f = Frame::read_parquet(root.join("facts")).unwrap();
    let s = f.select(&["id", "x"]).set_index("id").unwrap().loc(1_000_000.0, 2_000_000.0).unwrap().sum("x");
    let (g, k) = s.graph();
    println!("{k:?} {} tasks", g.len());
    let mut n = 0;
    for (key, e) in g.iter() {
        if n < 400 && (format!("{key:?}").contains(", 0)")) {
            println!("{key:?} = {}", format!("{e:?}").chars().take(300).collect::<String>());
        }
        n += 1;
    }
}

fn selfflt() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    f.get(7).and_then(|x| x.parse().ok()).unwrap_or(0)
}
