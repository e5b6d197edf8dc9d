//! Several hosts on one machine: Linux network namespaces joined by veth pairs to a bridge,
//! each with its own address and network stack — the scheduler in one, two workers in two
//! others, the client (`rask run`, `rask demo`) in a fourth. The shared corpus and a dataframe
//! shuffle run across them; then one worker's link is cut mid-run (`ip link set down`): the
//! run still completes with the right result, and the scheduler declares the cut worker dead
//! within the heartbeat timeout.
//!
//! Needs root (CI runs as root); elsewhere it says so and skips.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ip(args: &[&str]) -> Output {
    Command::new("ip").args(args).output().expect("ip runs")
}

fn ok(args: &[&str]) {
    let out = ip(args);
    assert!(out.status.success(), "ip {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// The namespaces of one run, removed (with everything in them) when dropped.
struct Hosts {
    prefix: String,
    subnet: String,
    names: Vec<String>,
    children: Vec<Child>,
}

impl Hosts {
    /// `hosts` namespaces `PREFIX-NAME`, each with `eth0` at `SUBNET.(i+1)/24`, on a bridge in
    /// a hub namespace. `None` if namespaces cannot be made here.
    fn new(tag: char, hosts: &[&str]) -> Option<Hosts> {
        let id = std::process::id();
        // Tests of one process run at once: the tag keeps their namespaces apart.
        let prefix = format!("rk{tag}{}", id % 100_000);
        let subnet = format!("10.{}.{}", 100 + id % 100, id / 100 % 250);
        let hub = format!("{prefix}-hub");
        if !ip(&["netns", "add", &hub]).status.success() {
            return None;
        }
        let mut me = Hosts { prefix: prefix.clone(), subnet, names: vec![hub.clone()], children: Vec::new() };
        ok(&["-n", &hub, "link", "add", "br0", "type", "bridge"]);
        ok(&["-n", &hub, "link", "set", "br0", "up"]);
        for (i, name) in hosts.iter().enumerate() {
            let ns = me.ns(name);
            ok(&["netns", "add", &ns]);
            me.names.push(ns.clone());
            let (inner, outer) = (format!("{prefix}i{i}"), format!("{prefix}o{i}"));
            ok(&["link", "add", &inner, "type", "veth", "peer", "name", &outer]);
            ok(&["link", "set", &inner, "netns", &ns]);
            ok(&["link", "set", &outer, "netns", &hub]);
            ok(&["-n", &ns, "link", "set", &inner, "name", "eth0"]);
            ok(&["-n", &ns, "addr", "add", &format!("{}/24", me.addr(i)), "dev", "eth0"]);
            ok(&["-n", &ns, "link", "set", "eth0", "up"]);
            ok(&["-n", &ns, "link", "set", "lo", "up"]);
            ok(&["-n", &hub, "link", "set", &outer, "master", "br0"]);
            ok(&["-n", &hub, "link", "set", &outer, "up"]);
        }
        Some(me)
    }

    fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// Host `i`'s address.
    fn addr(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, i + 1)
    }

    /// `rask ARGS` inside host `name`'s namespace.
    fn rask(&self, name: &str, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns(name), env!("CARGO_BIN_EXE_rask")]).args(args).current_dir(root());
        c
    }

    /// Starts `rask ARGS` in host `name`; its stdout and stderr lines, as they come.
    fn spawn(&mut self, name: &str, args: &[&str]) -> Receiver<String> {
        let mut child = self.rask(name, args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let (tx, rx) = channel();
        forward(child.stdout.take().unwrap(), tx.clone());
        forward(child.stderr.take().unwrap(), tx);
        self.children.push(child);
        rx
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in &self.names {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

fn forward(stream: impl std::io::Read + Send + 'static, tx: std::sync::mpsc::Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
}

/// Waits for a line containing `what`; panics after `limit`.
fn wait_for(lines: &Receiver<String>, what: &str, limit: Duration) -> String {
    wait_for_all(lines, &[what], limit).remove(0)
}

/// Waits until lines containing each of `whats` have come, in any order; panics after `limit`.
fn wait_for_all(lines: &Receiver<String>, whats: &[&str], limit: Duration) -> Vec<String> {
    let deadline = Instant::now() + limit;
    let mut found: Vec<Option<String>> = vec![None; whats.len()];
    while found.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(line) = lines.recv_timeout(left) else {
            let missing: Vec<&&str> = whats.iter().zip(&found).filter(|(_, f)| f.is_none()).map(|(w, _)| w).collect();
            panic!("no line containing {missing:?} within {limit:?}");
        };
        if let Some(i) = whats.iter().zip(&found).position(|(w, f)| f.is_none() && line.contains(w)) {
            found[i] = Some(line);
        }
    }
    found.into_iter().flatten().collect()
}

/// `rask demo` on a small dataset in `data`, against the scheduler at `address`.
fn demo_args<'a>(data: &'a std::path::Path, address: &'a str) -> [&'a str; 10] {
    let data = data.to_str().unwrap();
    ["demo", "--data", data, "--rows", "20000", "--files", "4", "--scheduler", address, "-q"]
}

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// The namespaces, or `None` (said on stderr) where they cannot be made, outside CI.
fn hosts(tag: char, names: &[&str]) -> Option<Hosts> {
    let hosts = Hosts::new(tag, names);
    if hosts.is_none() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root: network namespaces must work there");
        eprintln!("skipped: network namespaces need root (`ip netns add` failed)");
    }
    hosts
}

#[test]
fn a_cluster_across_network_namespaces_survives_a_cut_link() {
    let Some(mut hosts) = hosts('p', &["scheduler", "w1", "w2", "client"]) else { return };
    let scheduler_ip = hosts.addr(0);
    let address = format!("tcp://{scheduler_ip}:8786");
    let heartbeat = Duration::from_secs(3);
    let scheduler_log = hosts.spawn(
        "scheduler",
        &["scheduler", "--host", &scheduler_ip, "--port", "8786", "--no-dashboard", "--heartbeat-timeout", "3s"],
    );
    wait_for(&scheduler_log, "listening", Duration::from_secs(20));
    for w in ["w1", "w2"] {
        hosts.spawn(w, &["worker", &address, "--nthreads", "2", "--scheduler-timeout", "5s"]);
    }
    let (w1, w2) = (format!("joined: {}:", hosts.addr(1)), format!("joined: {}:", hosts.addr(2)));
    wait_for_all(&scheduler_log, &[&w1, &w2], Duration::from_secs(20));

    // The shared corpus, from the client's host.
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("tests/corpus")).unwrap() {
        let path = entry.unwrap().path();
        for line in std::fs::read_to_string(&path).unwrap().lines() {
            let Some((kind, rest)) = line.split_once(':') else { continue };
            if kind != "# expect" && kind != "# error" {
                continue;
            }
            let (key, want) = rest.split_once("=>").unwrap();
            let o = hosts
                .rask("client", &["run", path.to_str().unwrap(), "--key", key.trim(), "--scheduler", &address])
                .output()
                .unwrap();
            let (out, err) = text(&o);
            match kind {
                "# expect" => assert_eq!(out.trim_end(), want.trim(), "{} {key}: {err}", path.display()),
                _ => assert!(!o.status.success() && err.contains(want.trim()), "{} {key}: {err}", path.display()),
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} expectations found");

    // A dataframe shuffle (`set_index`) among the rest, its data moving between hosts.
    let data = std::env::temp_dir().join(format!("rask-multihost-{}", std::process::id()));
    let demo = hosts.rask("client", &demo_args(&data, &address)).output().unwrap();
    let (out, err) = text(&demo);
    assert!(demo.status.success(), "{err}");
    let names: Vec<&str> = out.lines().filter(|l| !l.starts_with('#')).map(|l| l.split('\t').next().unwrap()).collect();
    assert_eq!(names, ["groupby_sum", "filter_mean", "join_dims", "set_index"], "{out}");
    let _ = std::fs::remove_dir_all(&data);

    // A run of 200 naps; w2's link goes down a second in: the run completes on w1.
    let naps = (0..200).map(|i| format!("'nap-{i}': (sleep, 0.04, {i})")).collect::<Vec<_>>().join(", ");
    let keys = (0..200).map(|i| format!("'nap-{i}'")).collect::<Vec<_>>().join(", ");
    let graph = data.with_extension("graph");
    std::fs::write(&graph, format!("{{{naps}, 'total': (sum, [{keys}])}}")).unwrap();
    let run = hosts
        .rask("client", &["run", graph.to_str().unwrap(), "--key", "total", "--scheduler", &address, "-q"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(1));
    ok(&["-n", &hosts.ns("w2"), "link", "set", "eth0", "down"]);
    let cut = Instant::now();
    let declared = wait_for(&scheduler_log, "declared dead", heartbeat + Duration::from_secs(10));
    let took = cut.elapsed();
    assert!(took <= heartbeat + Duration::from_secs(2), "declared dead after {took:?}: {declared}");
    let o = run.wait_with_output().unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out.trim(), (0..200).sum::<i64>().to_string(), "{err}");
    println!(
        "multihost: corpus ({checked} checks) and the demo across 4 namespaces; w2 cut, declared dead after {took:?}"
    );
    let _ = std::fs::remove_file(&graph);
}

/// `deploy/tls/make-certs.sh DIR NAMES…`: PEM files as `openssl` writes them.
fn make_certs(dir: &std::path::Path, names: &[&str]) {
    let o = Command::new("bash").arg(root().join("deploy/tls/make-certs.sh")).arg(dir).args(names).output().unwrap();
    assert!(o.status.success(), "make-certs.sh: {}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn a_tls_cluster_across_network_namespaces() {
    let Some(mut hosts) = hosts('t', &["scheduler", "w1", "w2", "client"]) else { return };
    let certs = std::env::temp_dir().join(format!("rask-multihost-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&certs);
    make_certs(&certs, &[&hosts.addr(0)]);
    let file = |name: &str| certs.join(name).to_str().unwrap().to_owned();
    let (cert, key, ca) = (file("cert.pem"), file("key.pem"), file("ca.pem"));
    let tls: Vec<&str> = vec!["--tls-cert", &cert, "--tls-key", &key, "--tls-ca", &ca];
    let scheduler_ip = hosts.addr(0);
    let with_tls = |args: &[&str]| -> Vec<String> { args.iter().chain(&tls).map(|a| a.to_string()).collect() };
    let args = with_tls(&["scheduler", "--host", &scheduler_ip, "--port", "8786", "--no-dashboard"]);
    let scheduler_log = hosts.spawn("scheduler", &args.iter().map(String::as_str).collect::<Vec<_>>());
    let listening = wait_for(&scheduler_log, "listening", Duration::from_secs(20));
    let address = format!("tls://{scheduler_ip}:8786");
    assert!(listening.ends_with(&address), "{listening}");
    for w in ["w1", "w2"] {
        let args = with_tls(&["worker", &address, "--nthreads", "2"]);
        hosts.spawn(w, &args.iter().map(String::as_str).collect::<Vec<_>>());
    }
    let (w1, w2) = (format!("joined: {}:", hosts.addr(1)), format!("joined: {}:", hosts.addr(2)));
    wait_for_all(&scheduler_log, &[&w1, &w2], Duration::from_secs(20));

    // The seed graph and a dataframe shuffle from the client's host, every byte over TLS.
    let seed = certs.join("seed.graph");
    std::fs::write(
        &seed,
        "{'x': 1, 'y': 2, 'z': (add, 'x', 'y'), 'w': (sum, ['x', 'y', 'z']), 'v': [(sum, ['w', 'z']), 2]}",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec!["run", seed.to_str().unwrap(), "--key", "v", "--scheduler"];
        args.extend(extra);
        hosts.rask("client", &args).output().unwrap()
    };
    let args = with_tls(&[&address]);
    let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let (out, err) = text(&o);
    assert_eq!(out.trim(), "[9, 2]", "{err}");
    let data = certs.join("data");
    let args: Vec<String> = demo_args(&data, &address).iter().chain(&tls).map(|a| a.to_string()).collect();
    let demo = hosts.rask("client", &args.iter().map(String::as_str).collect::<Vec<_>>()).output().unwrap();
    let (out, err) = text(&demo);
    assert!(demo.status.success(), "{err}");
    assert_eq!(out.lines().filter(|l| !l.starts_with('#')).count(), 4, "{out}");

    // Plaintext, and a certificate of another CA, are refused with a message saying so.
    let plain = run(&[&format!("tcp://{scheduler_ip}:8786")]);
    let (_, err) = text(&plain);
    assert!(!plain.status.success() && err.contains("takes TLS only"), "{err}");
    let rogue = certs.join("rogue");
    make_certs(&rogue, &[]);
    let rogue_file = |name: &str| rogue.join(name).to_str().unwrap().to_owned();
    let (rcert, rkey) = (rogue_file("cert.pem"), rogue_file("key.pem"));
    let o = run(&[&address, "--tls-cert", &rcert, "--tls-key", &rkey, "--tls-ca", &ca]);
    let (_, err) = text(&o);
    assert!(!o.status.success() && err.contains("refused this connection's TLS certificate"), "{err}");
    println!("multihost over TLS: the seed graph and the demo's shuffle across 4 namespaces; plaintext and a foreign CA refused");
    let _ = std::fs::remove_dir_all(&certs);
}
