//! The accepting side of a connection on whatever a stranger sends: the plaintext/TLS
//! routing, the preamble, the hello (its frame limit, its decoding), the secret's proof, and
//! rustls' handshake on a TLS port. Every input must end in an error or a role, within the
//! handshake deadline: no panic, no hang, no unbounded allocation.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use rask_distributed::{fuzzing, Security, TlsFiles};

/// Plaintext, plaintext with a secret, and mutual TLS (certificates made once, in a temporary
/// folder).
fn configurations() -> &'static [Security] {
    static CONFIGURATIONS: OnceLock<Vec<Security>> = OnceLock::new();
    CONFIGURATIONS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("rask-fuzz-handshake-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap().self_signed(&key).unwrap();
        let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        let files = TlsFiles { cert: Some(cert_file.clone()), key: Some(key_file), ca: Some(cert_file) };
        vec![Security::none(), Security::none().with_secret("fuzz"), Security::none().with_tls(files).unwrap()]
    })
}

fuzz_target!(|data: &[u8]| {
    for security in configurations() {
        let start = Instant::now();
        let _ = fuzzing::accept_stranger(data, security);
        assert!(start.elapsed() < Duration::from_secs(3), "the handshake outlived its deadline");
    }
});
