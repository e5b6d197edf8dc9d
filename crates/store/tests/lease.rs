//! Leases across real processes: a segment lent to another process comes back to its
//! creator's pool only after that process lets go of it, and never while it may still read.
//!
//! The reader is this test binary again, started with `RASK_LEASE_READER` naming the segment:
//! it maps the segment, checks its bytes, says so, and holds it until its stdin closes.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdout, Command, Stdio};

use rask_store::{Namespace, Segment, SegmentPool};

const READER: &str = "RASK_LEASE_READER";
const LEN: usize = 100_000;

/// Not a test of its own: the reader's body when started by one.
#[test]
fn reader_process() {
    let Ok(name) = std::env::var(READER) else { return };
    let segment = Segment::open(&name).expect("the lent segment opens");
    assert!(segment.as_ref()[..LEN].iter().all(|&b| b == 7), "the bytes it was lent");
    println!("mapped");
    std::io::stdout().flush().unwrap();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    assert!(segment.as_ref()[..LEN].iter().all(|&b| b == 7), "nobody wrote them while it held them");
    drop(segment);
}

/// A reader process and its output.
struct Reader {
    child: Child,
    out: BufReader<ChildStdout>,
}

impl Reader {
    /// Closes its stdin (it lets go of the segment) and waits for it; whether it succeeded.
    fn finish(mut self) -> bool {
        drop(self.child.stdin.take());
        let mut rest = String::new();
        let _ = self.out.read_to_string(&mut rest);
        self.child.wait().unwrap().success()
    }
}

/// Starts a reader of `name` and waits until it has mapped the segment.
fn reader(name: &str) -> Reader {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["reader_process", "--exact", "--nocapture", "--test-threads=1"])
        .env(READER, name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the reader starts");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 && !line.contains("mapped") {
        line.clear();
    }
    assert!(line.contains("mapped"), "the reader did not map the segment");
    Reader { child, out }
}

fn lent_segment(ns: &Namespace) -> Segment {
    let mut made = ns.create_uninit(LEN).unwrap();
    made.bytes_mut().fill(7);
    let made = made.freeze();
    made.lend();
    made
}

#[test]
fn a_lent_segment_is_written_again_only_after_its_reader_lets_go() {
    let pool = SegmentPool::new(64 << 20);
    let ns = Namespace::new("lease1").with_pool(pool.clone()).leased();
    let made = lent_segment(&ns);
    let name = made.name().to_owned();
    let reading = reader(&name);
    assert!(made.is_lent());

    drop(made);
    assert_eq!((pool.len(), pool.lent()), (0, 1), "set aside while the reader holds it");
    let other = ns.create_uninit(LEN).unwrap();
    assert_ne!(other.name(), name, "a segment still read is not handed out");
    assert!(!other.recycled());
    drop(other);

    // The reader lets go, having checked nothing changed under it.
    assert!(reading.finish(), "the reader saw its bytes unchanged");
    let mut names = Vec::new();
    for _ in 0..2 {
        let again = ns.create_uninit(LEN).unwrap();
        assert!(again.recycled());
        names.push(again.name().to_owned());
        std::mem::forget(again.freeze()); // held, so the second take finds the other one
    }
    assert!(names.contains(&name), "back in the pool once its reader let go: {names:?} {name}");
    for name in names {
        rask_store::remove(&name).unwrap();
    }
    pool.clear();
}

#[test]
fn a_segment_whose_reader_died_holding_it_is_never_written_again_and_goes_with_the_pool() {
    let pool = SegmentPool::new(64 << 20);
    let ns = Namespace::new("lease2").with_pool(pool.clone()).leased();
    let made = lent_segment(&ns);
    let name = made.name().to_owned();
    let mut reading = reader(&name);
    reading.child.kill().unwrap();
    reading.child.wait().unwrap();
    drop(made);
    for _ in 0..3 {
        let next = ns.create_uninit(LEN).unwrap();
        assert_ne!(next.name(), name, "its lease was never given back");
    }
    assert_eq!(pool.lent(), 1);
    pool.clear();
    assert!(!rask_store::list().contains(&name), "removed with the pool");
}

#[test]
fn lent_segments_beyond_the_cap_are_removed_oldest_first() {
    let size = rask_store::size_class(LEN + 64);
    let pool = SegmentPool::new(2 * size);
    let ns = Namespace::new("lease3").with_pool(pool.clone()).leased();
    // Lent to readers that never map them (a reply lost on the way): they stay counted.
    let names: Vec<String> = (0..3)
        .map(|_| {
            let made = lent_segment(&ns);
            made.name().to_owned()
        })
        .collect();
    assert_eq!(pool.lent(), 2, "two fit under the cap");
    let listed = rask_store::list();
    assert!(!listed.contains(&names[0]) && listed.contains(&names[1]) && listed.contains(&names[2]));
    pool.clear();
}
