//! `cargo xtask`: the project's chores as Rust, so they run the same everywhere.
//!
//! - `cargo xtask fuzz [TARGET] [--seconds N]` — coverage-guided fuzzing with cargo-fuzz
//!   (targets: `parse`, `protocol`, `handshake`)
//!   (installed on first use). The machine has one stable toolchain; cargo-fuzz needs nightly
//!   flags, so we set `RUSTC_BOOTSTRAP=1`, which lets stable rustc accept them.
//! - `cargo xtask loom [--planted]` — the executors', hand-offs' and leases' loom models
//!   (`--cfg loom`, release mode); `--planted` plants a memory-ordering bug and lost wake-ups
//!   and requires the models to fail.
//! - `cargo xtask bench [ARGS]` — the benchmark table, in release mode, beside Dask when a
//!   Python with dask is found (`RASK_DASK_PYTHON` or `/tmp/daskenv/bin/python`).

/// `rask_protocol::frame::VERSION`, for the handshake target's seeds (the xtask builds none of
/// the workspace's crates; a stale value only makes a seed that is refused).
const PROTOCOL_VERSION: u8 = 4;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("fuzz") => fuzz(&args[1..]),
        Some("loom") => loom(&args[1..]),
        Some("bench") => bench(&args[1..]),
        _ => Err("usage: cargo xtask fuzz [TARGET] [--seconds N] | loom | bench [ARGS]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask sits in the workspace").to_path_buf()
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(mut cmd: Command) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("cannot start {cmd:?}: {e}"))?;
    status.success().then_some(()).ok_or_else(|| format!("{cmd:?} failed: {status}"))
}

fn fuzz(args: &[String]) -> Result<(), String> {
    let mut target = "parse".to_string();
    let mut seconds = 60u64;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => seconds = it.next().and_then(|s| s.parse().ok()).ok_or("--seconds takes a number")?,
            t => target = t.to_string(),
        }
    }
    let have_fuzz = cargo().args(["fuzz", "--version"]).output().is_ok_and(|o| o.status.success());
    if !have_fuzz {
        eprintln!("xtask: installing cargo-fuzz");
        run({
            let mut c = cargo();
            c.args(["install", "cargo-fuzz", "--locked"]);
            c
        })?;
    }
    // Seed the corpus with the project's own graphs so fuzzing starts from valid input.
    let corpus = root().join("fuzz/corpus").join(&target);
    std::fs::create_dir_all(&corpus).map_err(|e| e.to_string())?;
    if target == "protocol" {
        // A frame is a u32 length, a version byte, then the payload: ToWorker::Exit, and a
        // frame that ends early.
        std::fs::write(corpus.join("exit"), [1, 0, 0, 0, 1, 2]).map_err(|e| e.to_string())?;
        std::fs::write(corpus.join("truncated"), [9, 0, 0, 0, 1, 0, 0]).map_err(|e| e.to_string())?;
    }
    if target == "handshake" {
        // The preamble alone; the preamble and a client's hello (a frame: u32 length, the
        // protocol version, postcard's `Hello { role: Client, proof: None }`); the start of a
        // TLS client hello; an HTTP request.
        let seeds: [(&str, Vec<u8>); 4] = [
            ("preamble", b"rask".to_vec()),
            ("hello", [b"rask".as_slice(), &[2, 0, 0, 0, PROTOCOL_VERSION, 0, 0]].concat()),
            ("tls", vec![0x16, 3, 1, 0, 4, 1, 0, 0, 0]),
            ("http", b"GET / HTTP/1.1\r\n\r\n".to_vec()),
        ];
        for (name, bytes) in seeds {
            std::fs::write(corpus.join(name), bytes).map_err(|e| e.to_string())?;
        }
    }
    if target == "parse" {
        for entry in std::fs::read_dir(root().join("tests/corpus")).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            let name = path.file_name().expect("a file").to_owned();
            std::fs::copy(&path, corpus.join(name)).map_err(|e| e.to_string())?;
        }
    }
    let mut c = cargo();
    c.env("RUSTC_BOOTSTRAP", "1").args(["fuzz", "run", "--fuzz-dir", "fuzz", &target]);
    c.arg(&corpus).arg("--").arg(format!("-max_total_time={seconds}")).arg("-max_len=4096");
    run(c)
}

/// Runs the loom models; with `--planted`, builds with a deliberately weakened ordering and
/// succeeds only if the models catch it (a model that cannot fail is not a model).
fn loom(args: &[String]) -> Result<(), String> {
    let planted = args.iter().any(|a| a == "--planted");
    let rest: Vec<&String> = args.iter().filter(|a| *a != "--planted").collect();
    let mut c = cargo();
    let flags = if planted { "--cfg loom --cfg rask_planted_bug" } else { "--cfg loom" };
    c.env("RUSTFLAGS", flags)
        .env("LOOM_MAX_PREEMPTIONS", std::env::var("LOOM_MAX_PREEMPTIONS").unwrap_or_else(|_| "2".into()))
        .args(["test", "--release", "-p", "rask-exec", "-p", "rask-store", "--lib", "--target-dir"])
        .arg(if planted { "target/loom-planted" } else { "target/loom" })
        .arg("loom_")
        .args(rest);
    if !planted {
        return run(c);
    }
    // Every crate's models must run, not just those of the first crate that fails.
    c.arg("--no-fail-fast");
    // The expected failures are captured, not printed: a log should not show failing tests
    // when the check passed.
    let out = c.output().map_err(|e| format!("cannot start {c:?}: {e}"))?;
    let log = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let caught = log.matches("Causality violation").count();
    if out.status.success() || caught == 0 {
        eprintln!("{log}");
        return Err("the loom models did not catch the planted bug: they cannot fail".into());
    }
    // Each family of models must catch the bug planted in its own code.
    for family in ["threaded::loom_tests", "process::ring_loom", "handoff::loom_tests", "lease::loom_tests"] {
        if !log.contains(&format!("    {family}::")) {
            eprintln!("{log}");
            return Err(format!("no {family} model failed under the planted bug"));
        }
    }
    eprintln!("xtask: the loom models caught the planted bug ({caught} causality violations reported), as they must");
    Ok(())
}

fn bench(args: &[String]) -> Result<(), String> {
    // The scale section times the `rask` command itself, built beside the bench binary.
    run({
        let mut c = cargo();
        c.args(["build", "--release", "-p", "rask-cli"]);
        c
    })?;
    let mut c = cargo();
    c.args(["run", "--release", "-p", "rask-bench", "--"]).args(args);
    run(c)
}
