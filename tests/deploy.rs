//! The deployment recipes in `deploy/`, each checked by something that can fail here: the
//! systemd units' commands start a real scheduler and worker (and `systemctl stop`'s SIGTERM
//! retires the worker), the SLURM script runs a graph with `srun` and `scontrol` replaced by
//! local shims, the Kubernetes manifests parse with the expected kinds and agree with each
//! other, and the Dockerfile builds a binary this workspace has onto slim Debian.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Kills the process when dropped, so a failing test leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `KEY=VALUE` lines, as systemd's `EnvironmentFile` reads them.
fn env_file(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// A unit's `ExecStart` as argv, `${VAR}`s replaced from `env` (as systemd does).
fn exec_start(unit: &str, env: &HashMap<String, String>) -> Vec<String> {
    let line = unit.lines().find_map(|l| l.strip_prefix("ExecStart=")).expect("an ExecStart line");
    line.split_whitespace()
        .map(|word| match word.strip_prefix("${").and_then(|w| w.strip_suffix('}')) {
            Some(var) => env.get(var).unwrap_or_else(|| panic!("{var} is not in rask.env")).clone(),
            None => word.to_owned(),
        })
        .collect()
}

/// Starts `argv` with the test's `rask` binary in place of the installed one.
fn start(argv: &[String], env: &HashMap<String, String>) -> Running {
    assert_eq!(argv[0], "/usr/local/bin/rask", "the units run the installed binary");
    let child = Command::new(env!("CARGO_BIN_EXE_rask"))
        .args(&argv[1..])
        .envs(env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    Running(child)
}

fn exit_within(child: &mut Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn the_systemd_units_start_a_scheduler_and_a_worker_that_retires_on_stop() {
    let mut env = env_file(&read("deploy/systemd/rask.env"));
    // Free ports, on loopback, for the test.
    env.insert("RASK_SCHEDULER_HOST".into(), "127.0.0.1".into());
    env.insert("RASK_SCHEDULER_PORT".into(), "0".into());
    env.insert("RASK_DASHBOARD_PORT".into(), "0".into());
    let scheduler_unit = read("deploy/systemd/rask-scheduler.service");
    let worker_unit = read("deploy/systemd/rask-worker.service");
    for unit in [&scheduler_unit, &worker_unit] {
        assert!(unit.contains("EnvironmentFile=/etc/rask/rask.env") && unit.contains("WantedBy=multi-user.target"));
    }
    let mut scheduler = start(&exec_start(&scheduler_unit, &env), &env);
    let mut lines = BufReader::new(scheduler.0.stdout.take().unwrap()).lines();
    let listening = lines.next().expect("the scheduler prints its address").unwrap();
    let address = listening.rsplit(' ').next().unwrap().to_owned();
    assert!(address.starts_with("tcp://127.0.0.1:"), "{listening}");
    env.insert("RASK_SCHEDULER".into(), address.clone());
    let mut worker = start(&exec_start(&worker_unit, &env), &env);

    // The secret from rask.env is required: a client that knows it gets the worker's work.
    let secret = env["RASK_SECRET"].clone().into_bytes();
    let client = rask_distributed::Client::connect_with(&address, Some(secret)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while client.stats().unwrap().workers < 1 {
        assert!(Instant::now() < deadline, "the worker did not join");
        std::thread::sleep(Duration::from_millis(20));
    }
    let graph = rask_graph::parse_graph("{'x': 1, 'y': (inc, 'x')}").unwrap();
    assert_eq!(client.compute(&graph, &["y".into()]).unwrap(), vec![rask_graph::Value::Int(2)]);
    assert!(rask_distributed::Client::connect_with(&address, None).is_err(), "no secret, no connection");

    // `systemctl stop`: SIGTERM, and the worker leaves on its own with status 0.
    // SAFETY: a plain signal to our own child.
    unsafe { libc::kill(worker.0.id() as i32, libc::SIGTERM) };
    assert_eq!(exit_within(&mut worker.0, Duration::from_secs(20)), Some(0));
    let stats = client.stats().unwrap();
    assert_eq!((stats.workers, stats.workers_retired + stats.workers_lost), (0, 1), "{stats:?}");
}

#[test]
fn the_slurm_script_runs_a_graph_with_srun_and_scontrol_shimmed() {
    let script = root().join("deploy/slurm/rask.sbatch");
    let syntax = Command::new("bash").arg("-n").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "{}", String::from_utf8_lossy(&syntax.stderr));
    let text = read("deploy/slurm/rask.sbatch");
    assert!(text.lines().any(|l| l.starts_with("#SBATCH --nodes=")), "asks for nodes");

    // `srun [options] COMMAND…` runs COMMAND here; `scontrol show hostnames` names one node.
    let shims = std::env::temp_dir().join(format!("rask-slurm-shims-{}", std::process::id()));
    std::fs::create_dir_all(&shims).unwrap();
    let srun = "#!/usr/bin/env bash\nwhile [[ \"${1:-}\" == --* ]]; do shift; done\nexec \"$@\"\n";
    let scontrol = "#!/usr/bin/env bash\n[[ \"$1 $2\" == \"show hostnames\" ]] && echo 127.0.0.1\n";
    for (name, body) in [("srun", srun), ("scontrol", scontrol)] {
        let path = shims.join(name);
        std::fs::write(&path, body).unwrap();
        let executable = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o755);
        std::fs::set_permissions(&path, executable).unwrap();
    }
    let port = free_port();
    let path = format!("{}:{}", shims.display(), std::env::var("PATH").unwrap_or_default());
    let graph = root().join("examples/seed.graph");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&graph)
        .args(["--key", "v"])
        .env("PATH", path)
        .env("RASK", env!("CARGO_BIN_EXE_rask"))
        .env("RASK_SCHEDULER_PORT", port.to_string())
        .env("SLURM_JOB_NODELIST", "node[1]")
        .env("SLURM_CPUS_ON_NODE", "2")
        .env_remove("RASK_SECRET")
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("scheduler on 127.0.0.1, workers on 1 nodes"), "{stdout}");
    assert!(stdout.ends_with("[9, 2]\n"), "{stdout}\n{stderr}");
    let _ = std::fs::remove_dir_all(&shims);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn docs(path: &str) -> Vec<Yaml> {
    YamlLoader::load_from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn text<'a>(y: &'a Yaml, path: &[&str]) -> &'a str {
    path.iter().fold(y, |y, k| &y[*k]).as_str().unwrap_or_else(|| panic!("no text at {path:?}"))
}

#[test]
fn the_kubernetes_manifests_are_a_scheduler_its_service_and_scalable_workers() {
    let docs = docs("deploy/kubernetes/rask.yaml");
    let kinds: Vec<(&str, &str)> = docs.iter().map(|d| (text(d, &["kind"]), text(d, &["metadata", "name"]))).collect();
    assert_eq!(kinds, [("Deployment", "rask-scheduler"), ("Service", "rask-scheduler"), ("Deployment", "rask-worker")]);
    let (scheduler, service, workers) = (&docs[0], &docs[1], &docs[2]);
    let container = |d: &Yaml| d["spec"]["template"]["spec"]["containers"][0].clone();
    let args = |d: &Yaml| -> Vec<String> {
        container(d)["args"].as_vec().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect()
    };
    // Selectors select their pods, and the service the scheduler's.
    for d in [scheduler, workers] {
        assert_eq!(d["spec"]["selector"]["matchLabels"], d["spec"]["template"]["metadata"]["labels"]);
    }
    assert_eq!(service["spec"]["selector"], scheduler["spec"]["template"]["metadata"]["labels"]);
    // The workers reach the scheduler through the service's name and port.
    let scheduler_args = args(scheduler);
    assert_eq!(&scheduler_args[..3], ["scheduler", "--host", "0.0.0.0"]);
    let port = service["spec"]["ports"][0]["port"].as_i64().unwrap();
    let worker_args = args(workers);
    assert_eq!(worker_args[0], "worker");
    assert_eq!(worker_args[1], format!("tls://rask-scheduler:{port}"));
    assert!(scheduler_args.windows(2).any(|w| w == ["--port".to_owned(), port.to_string()]));
    // Both take the shared secret from the same Secret, and their TLS files from another,
    // mounted where the RASK_TLS_* variables point; workers have resource requests and time
    // to retire on SIGTERM; the health probe is a path the dashboard serves, over HTTPS.
    for d in [scheduler, workers] {
        let env = container(d)["env"].as_vec().unwrap().clone();
        let var =
            |name: &str| env.iter().find(|e| e["name"].as_str() == Some(name)).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(text(var("RASK_SECRET"), &["valueFrom", "secretKeyRef", "name"]), "rask-secret");
        let volume = &d["spec"]["template"]["spec"]["volumes"][0];
        assert_eq!(text(volume, &["secret", "secretName"]), "rask-tls");
        let mount = &container(d)["volumeMounts"][0];
        assert_eq!(text(mount, &["name"]), text(volume, &["name"]));
        for (name, file) in [("RASK_TLS_CERT", "cert.pem"), ("RASK_TLS_KEY", "key.pem"), ("RASK_TLS_CA", "ca.pem")] {
            assert_eq!(text(var(name), &["value"]), format!("{}/{file}", text(mount, &["mountPath"])));
        }
    }
    assert!(container(workers)["resources"]["requests"]["cpu"].as_str().is_some());
    assert!(workers["spec"]["template"]["spec"]["terminationGracePeriodSeconds"].as_i64().unwrap() > 60);
    assert_eq!(text(&container(scheduler), &["readinessProbe", "httpGet", "path"]), "/health");
    assert_eq!(text(&container(scheduler), &["readinessProbe", "httpGet", "scheme"]), "HTTPS");
}

#[test]
fn the_dockerfile_builds_a_binary_of_this_workspace_onto_slim_debian() {
    let dockerfile = read("deploy/Dockerfile");
    let froms: Vec<&str> = dockerfile.lines().filter_map(|l| l.strip_prefix("FROM ")).collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(froms[0].starts_with("rust:") && froms[0].ends_with(" AS build"), "{froms:?}");
    assert!(froms[1].starts_with("debian:") && froms[1].ends_with("-slim"), "{froms:?}");
    // The build step names a package and binary of this workspace, and the lockfile is current.
    let build = dockerfile.lines().find_map(|l| l.strip_prefix("RUN cargo build ")).expect("a cargo build step");
    let words: Vec<&str> = build.split_whitespace().collect();
    let after = |flag: &str| words.iter().position(|w| *w == flag).map(|i| words[i + 1]).expect(flag);
    let (package, bin) = (after("-p"), after("--bin"));
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let cargo_toml = std::fs::read_to_string(&manifest).unwrap();
    assert!(cargo_toml.contains(&format!("name = \"{package}\"")), "{package} is this crate");
    let built = Path::new(env!("CARGO_BIN_EXE_rask")).file_name().unwrap();
    assert_eq!(bin, built.to_str().unwrap(), "the binary this package builds");
    assert!(words.contains(&"--locked") && words.contains(&"--release"));
    let metadata = Command::new(env!("CARGO"))
        .args(["metadata", "--locked", "--offline", "--no-deps", "--format-version", "1"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(metadata.status.success(), "--locked holds: {}", String::from_utf8_lossy(&metadata.stderr));
    let copied = format!("COPY --from=build /src/target/release/{bin} /usr/local/bin/{bin}");
    assert!(dockerfile.contains(&copied), "the runtime stage takes the built binary");
    assert!(dockerfile.contains(&format!("ENTRYPOINT [\"/usr/local/bin/{bin}\"]")));
    assert!(dockerfile.contains("USER ") && dockerfile.contains("EXPOSE 8786 8787"));
    // The build context (the repository) leaves out build output and history.
    let ignored = read(".dockerignore");
    assert!(["target", ".git"].iter().all(|p| ignored.lines().any(|l| l.trim() == *p)), "{ignored}");
}
