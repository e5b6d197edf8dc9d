//! TLS on every connection, with certificates made here (rcgen): a cluster of worker
//! processes over mutual TLS (client ↔ scheduler, worker ↔ scheduler, worker ↔ worker,
//! client ↔ worker), the dashboard over HTTPS, and each way of getting it wrong — a client
//! with the wrong CA, an expired certificate, no certificate, plaintext on a TLS port, TLS on
//! a plaintext port — refused at once with a message saying which, while the scheduler goes on
//! serving the others.
//!
//! Own `main` (`harness = false`): the cluster's workers are this binary, re-executed.

#[path = "../../exec/tests/common/mod.rs"]
mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rask_distributed::{
    Client, ClusterOptions, DistError, LocalCluster, SchedulerOptions, SchedulerThread, Security, Timeouts, TlsFiles,
};
use rask_graph::{parse_graph, Key, Value};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose};

fn main() {
    rask_distributed::worker_main_if_requested();
    let tests: &[(&str, fn())] = &[
        ("a_cluster_over_mutual_tls_computes_and_moves_data_between_workers", cluster_over_tls),
        ("each_wrong_configuration_is_refused_clearly_and_the_scheduler_serves_on", refusals),
        ("the_dashboard_is_served_over_https", dashboard_over_https),
        ("bad_tls_files_are_errors_naming_the_file", bad_files),
    ];
    common::run_tests(tests);
}

/// A CA and the certificates it signed, as PEM files in a folder of their own.
struct Pki {
    dir: PathBuf,
    ca: (rcgen::Certificate, KeyPair),
    ca_file: PathBuf,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("rask-tls-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, format!("{name} CA"));
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::DigitalSignature];
        let cert = params.self_signed(&key).unwrap();
        let ca_file = dir.join("ca.pem");
        std::fs::write(&ca_file, cert.pem()).unwrap();
        Pki { dir, ca: (cert, key), ca_file }
    }

    /// A certificate for 127.0.0.1 and localhost, good for serving and for connecting;
    /// `expired` makes one whose validity ended in 2021.
    fn issue(&self, name: &str, expired: bool) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let cert = params.signed_by(&key, &self.ca.0, &self.ca.1).unwrap();
        let (cert_file, key_file) = (self.dir.join(format!("{name}.pem")), self.dir.join(format!("{name}-key.pem")));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (cert_file, key_file)
    }

    /// Security presenting `identity` (if any) and trusting this CA.
    fn security(&self, identity: Option<&(PathBuf, PathBuf)>) -> Security {
        let files = TlsFiles {
            cert: identity.map(|(c, _)| c.clone()),
            key: identity.map(|(_, k)| k.clone()),
            ca: Some(self.ca_file.clone()),
        };
        Security::none().with_tls(files).unwrap()
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn cluster_over_tls() {
    let pki = Pki::new("cluster");
    let member = pki.issue("member", false);
    let options =
        ClusterOptions { security: Some(pki.security(Some(&member))), dashboard: None, ..ClusterOptions::new(2, 1) };
    let cluster = LocalCluster::with_options(options).unwrap();
    assert!(cluster.address().starts_with("tls://"), "{}", cluster.address());
    let client = cluster.client().unwrap();
    common::check_corpus(&client);
    // `a` and `b` start on different workers, so `c` fetches one from the other: over TLS.
    let n = 1 << 18;
    let g =
        parse_graph(&format!("{{'a': (ones, {n}), 'b': (ones, {n}), 'c': (add, 'a', 'b'), 's': (sum, 'c')}}")).unwrap();
    assert_eq!(client.compute(&g, &[Key::from("s")]).unwrap(), vec![Value::Float(2.0 * n as f64)]);
    common::eventually("a heartbeat reports the workers' fetch", Duration::from_secs(10), || {
        let stats = client.stats().unwrap();
        stats.bytes_fetched_by_reference + stats.bytes_fetched_by_copy >= 8 * n
    });
    // The workers' data ports take TLS only, as the scheduler's does.
    let workers: Vec<String> = client.has_what().unwrap().into_iter().map(|(addr, _)| addr).collect();
    assert_eq!(workers.len(), 2, "{workers:?}");
    for worker in &workers {
        let refusal = plaintext_refusal(worker);
        assert!(refusal.contains("TLS only"), "worker {worker}: {refusal}");
    }
    let plain = plaintext_refusal(cluster.address().trim_start_matches("tls://"));
    assert!(plain.contains("TLS only"), "scheduler: {plain}");
}

/// What a port answers a plaintext rask peer: the refusal's text.
fn plaintext_refusal(addr: &str) -> String {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream.write_all(&rask_protocol::dist::PREAMBLE).unwrap();
    let mut frame = Vec::new();
    let _ = stream.read_to_end(&mut frame);
    match rask_protocol::frame::from_frame::<rask_protocol::dist::Greeting>(&frame, 4096) {
        Ok(Err(reason)) => reason,
        other => panic!("{addr} answered a plaintext peer with {other:?}"),
    }
}

/// `connect`, which must fail with a TLS error quickly (a refusal, not a timeout); its text.
fn refused(what: &str, connect: impl FnOnce() -> Result<Client, DistError>) -> String {
    let start = Instant::now();
    let err = connect().map(|_| ()).expect_err(what);
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "{what}: refused after {took:?}, as if by a timeout: {err}");
    match err {
        DistError::Tls(text) => {
            println!("  {what}: {text} ({} ms)", took.as_millis());
            text
        }
        other => panic!("{what}: not a TLS error: {other:?}"),
    }
}

fn refusals() {
    let pki = Pki::new("refusals");
    let server = pki.issue("scheduler", false);
    let client_id = pki.issue("client", false);
    let expired = pki.issue("expired", true);
    let rogue = Pki::new("rogue");
    let rogue_id = rogue.issue("rogue-client", false);
    let timeouts = Timeouts { connect: Duration::from_secs(20), ..Timeouts::default() };
    let start = |security: Security| {
        SchedulerThread::start_with("127.0.0.1:0", SchedulerOptions { security, dashboard: None, timeouts }).unwrap()
    };
    let scheduler = start(pki.security(Some(&server)));
    let addr = scheduler.address();
    assert!(addr.starts_with("tls://"), "{addr}");
    let connect = |security: Security| {
        let addr = addr.clone();
        move || Client::connect_with_timeouts(&addr, security, rask_graph::Registry::new(), timeouts)
    };
    let good = connect(pki.security(Some(&client_id)))().expect("a client with a certificate the CA signed");
    assert_eq!(good.stats().unwrap().workers, 0);

    let text = refused("a client trusting another CA", connect(rogue.security(Some(&rogue_id))));
    assert!(text.contains("certificate") && text.contains("UnknownIssuer"), "{text}");
    let text = refused("a client whose certificate another CA signed", connect(pki.security(Some(&rogue_id))));
    assert!(text.contains("refused this connection's TLS certificate"), "{text}");
    let text = refused("a client with an expired certificate", connect(pki.security(Some(&expired))));
    assert!(text.contains("refused this connection's TLS certificate") && text.contains("Expired"), "{text}");
    let text = refused("a client with no certificate (mutual TLS)", connect(pki.security(None)));
    assert!(text.contains("refused this connection's TLS certificate"), "{text}");
    let plain = scheduler.address().replace("tls://", "");
    let text = refused("a plaintext client on the TLS port", || Client::connect_secure(&plain, Security::none()));
    assert!(text.contains("takes TLS only"), "{text}");
    let text = refused("a tls:// address with no TLS configured", || Client::connect_secure(&addr, Security::none()));
    assert!(text.contains("no TLS is configured"), "{text}");

    let plaintext_scheduler = start(Security::none());
    let text =
        refused("a TLS client on a plaintext port", connect_to(&plaintext_scheduler, pki.security(Some(&client_id))));
    assert!(text.contains("plaintext port"), "{text}");
    let expired_scheduler = start(pki.security(Some(&expired)));
    let text = refused(
        "a scheduler with an expired certificate",
        connect_to(&expired_scheduler, pki.security(Some(&client_id))),
    );
    assert!(text.to_lowercase().contains("expired"), "{text}");

    // The scheduler served on through all of that: the good client and a new one work.
    let again = connect(pki.security(Some(&client_id)))().expect("a new good client");
    assert_eq!(again.stats().unwrap().workers, 0);
    assert_eq!(good.stats().unwrap().workers, 0, "the first client's connection survived the refusals");
}

fn connect_to(scheduler: &SchedulerThread, security: Security) -> impl FnOnce() -> Result<Client, DistError> {
    // The address as TLS, whatever the scheduler serves: the client's configuration decides.
    let addr = format!("tls://{}", scheduler.addr());
    move || Client::connect_secure(&addr, security)
}

fn dashboard_over_https() {
    let pki = Pki::new("dashboard");
    let member = pki.issue("member", false);
    let options = ClusterOptions {
        security: Some(pki.security(Some(&member))),
        dashboard: Some("127.0.0.1:0".into()),
        ..ClusterOptions::new(1, 1)
    };
    let cluster = LocalCluster::with_options(options).unwrap();
    let url = cluster.dashboard_url().unwrap();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let host_port = url.trim_start_matches("https://").trim_end_matches("/status").to_owned();
    // A browser's checks: the chain to the CA *and* the name (127.0.0.1 is in the certificate).
    let body = https_get(&host_port, "/health", &pki.ca_file);
    assert!(body.starts_with("HTTP/1.1 200") && body.ends_with("ok"), "{body}");
    let page = https_get(&host_port, "/status", &pki.ca_file);
    assert!(page.contains("<html") || page.contains("<!doctype html") || page.contains("<!DOCTYPE html"), "{page}");
    // Plain HTTP on the HTTPS port gets no page.
    let mut plain = std::net::TcpStream::connect(&host_port).unwrap();
    plain.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    plain.write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"), "plain HTTP was served: {answer:?}");
}

/// GET `path` over HTTPS with the standard checks (rustls' WebPKI verifier, name included).
fn https_get(host_port: &str, path: &str, ca: &Path) -> String {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
    let mut session = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = std::net::TcpStream::connect(host_port).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::Stream::new(&mut session, &mut tcp);
    write!(tls, "GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n").unwrap();
    let mut body = Vec::new();
    // The server may close without a close_notify after the response: what arrived counts.
    let _ = tls.read_to_end(&mut body);
    String::from_utf8_lossy(&body).into_owned()
}

fn bad_files() {
    let pki = Pki::new("files");
    let (cert, key) = pki.issue("member", false);
    let missing = pki.dir.join("missing.pem");
    let tls = |cert: Option<&Path>, key: Option<&Path>, ca: Option<&Path>| {
        let files =
            TlsFiles { cert: cert.map(Path::to_owned), key: key.map(Path::to_owned), ca: ca.map(Path::to_owned) };
        Security::none().with_tls(files).map(|_| ()).expect_err("a bad configuration").to_string()
    };
    let text = tls(Some(&missing), Some(&key), None);
    assert!(text.contains("missing.pem"), "{text}");
    let text = tls(Some(&key), Some(&key), None);
    assert!(text.contains("member-key.pem") && text.contains("no PEM certificate"), "{text}");
    let text = tls(Some(&cert), Some(&cert), None);
    assert!(text.contains("member.pem") && text.contains("private key"), "{text}");
    let text = tls(Some(&cert), None, None);
    assert!(text.contains("--tls-cert and --tls-key go together"), "{text}");
    // A key that is not the certificate's.
    let (_, other_key) = pki.issue("other", false);
    let text = tls(Some(&cert), Some(&other_key), None);
    assert!(text.contains("do not make a configuration"), "{text}");
    // A scheduler cannot serve TLS with a CA alone.
    let only_ca = Security::none().with_tls(TlsFiles { ca: Some(pki.ca_file.clone()), ..TlsFiles::default() }).unwrap();
    let options = SchedulerOptions { security: only_ca, dashboard: None, timeouts: Timeouts::default() };
    let err = SchedulerThread::start_with("127.0.0.1:0", options).map(|_| ()).unwrap_err().to_string();
    assert!(err.contains("--tls-cert and --tls-key"), "{err}");
}
