//! How a connection proves who is at each end and keeps its bytes private: [`Security`] holds
//! the shared secret (an HMAC challenge, for loopback and trusted networks) and the TLS
//! configuration (rustls with the `ring` provider, no OpenSSL), loaded once from PEM files.
//!
//! The rules, the same for every connection (client ↔ scheduler, worker ↔ scheduler, worker ↔
//! worker, client ↔ worker):
//! - A process with TLS configured opens every connection with TLS and accepts only TLS; one
//!   without accepts and opens only plaintext. A mismatch is refused at once with a message
//!   naming it (see `conn::accept`), never left to a timeout.
//! - Trust is the cluster's own CA (`--tls-ca`): a peer is who it says it is when its
//!   certificate chains to that CA and is within its validity dates. Host names are not checked
//!   (as Dask's TLS does not): workers serve on addresses nobody knows in advance (a pod's IP, a
//!   batch node), so one certificate may serve a whole fleet.
//! - Mutual TLS: a server with a CA refuses clients without a certificate signed by it. A
//!   server without a CA serves anyone (the connecting side still verifies the server).
//!
//! Not here: the wire protocol (`conn`), the secret's HMAC (`auth`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use crate::DistError;

/// Where a process's TLS identity and trust come from: PEM files as `openssl` writes them
/// (certificates, and a PKCS#8, PKCS#1 or SEC1 key).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// This process's certificate chain (`--tls-cert`): needed to serve (scheduler, worker).
    pub cert: Option<PathBuf>,
    /// The key of `cert` (`--tls-key`).
    pub key: Option<PathBuf>,
    /// The CA that signs the cluster's certificates (`--tls-ca`): needed to connect, and when
    /// a server has it, clients must present a certificate it signed.
    pub ca: Option<PathBuf>,
}

impl TlsFiles {
    /// `RASK_TLS_CERT`, `RASK_TLS_KEY` and `RASK_TLS_CA`; `None` when none is set.
    pub fn from_env() -> Option<TlsFiles> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        let files = TlsFiles { cert: var(ENV_CERT), key: var(ENV_KEY), ca: var(ENV_CA) };
        (files != TlsFiles::default()).then_some(files)
    }

    /// The variables [`TlsFiles::from_env`] reads, for a child process.
    pub fn to_env(&self) -> Vec<(&'static str, PathBuf)> {
        [(ENV_CERT, &self.cert), (ENV_KEY, &self.key), (ENV_CA, &self.ca)]
            .into_iter()
            .filter_map(|(name, path)| path.clone().map(|p| (name, p)))
            .collect()
    }
}

pub(crate) const ENV_CERT: &str = "RASK_TLS_CERT";
pub(crate) const ENV_KEY: &str = "RASK_TLS_KEY";
pub(crate) const ENV_CA: &str = "RASK_TLS_CA";
const ENV_SECRET: &str = "RASK_SECRET";

/// A loaded TLS configuration: the accepting and connecting sides, built once.
pub struct Tls {
    files: TlsFiles,
    /// With a certificate and key: serving the cluster's protocol (mutual when a CA is set).
    server: Option<Arc<ServerConfig>>,
    /// With a CA: connecting (presenting our certificate, if we have one).
    client: Option<Arc<ClientConfig>>,
    /// With a certificate and key: the dashboard over HTTPS, for browsers (no client
    /// certificate asked).
    web: Option<Arc<ServerConfig>>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls").field("files", &self.files).finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads and checks the files: a missing file, a PEM without a certificate or key, or a
    /// key that does not match the certificate is an error naming the file.
    pub fn load(files: TlsFiles) -> Result<Tls, DistError> {
        if files.cert.is_some() != files.key.is_some() {
            return Err(DistError::Tls("--tls-cert and --tls-key go together: give both or neither".into()));
        }
        // `ring`, not aws-lc-rs: it builds with the C compiler every machine here has (aws-lc
        // wants cmake). Its lack of post-quantum key exchange is why rustls marks it
        // deprecated; sessions use X25519 or ECDHE.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let roots = files.ca.as_deref().map(read_roots).transpose()?.map(Arc::new);
        let identity = match (&files.cert, &files.key) {
            (Some(cert), Some(key)) => Some((read_certs(cert)?, read_key(key)?)),
            _ => None,
        };
        let bad = |e: rustls::Error| DistError::Tls(format!("the TLS files do not make a configuration: {e}"));
        let server_builder =
            || ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().map_err(bad);
        let (mut server, mut web) = (None, None);
        if let Some((certs, key)) = &identity {
            let verifier = match &roots {
                Some(roots) => WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .build()
                    .map_err(|e| DistError::Tls(format!("the CA cannot verify clients: {e}")))?,
                None => WebPkiClientVerifier::no_client_auth(),
            };
            let config = server_builder()?
                .with_client_cert_verifier(verifier)
                .with_single_cert(certs.clone(), key.clone_key())
                .map_err(bad)?;
            server = Some(Arc::new(config));
            let config = server_builder()?
                .with_no_client_auth()
                .with_single_cert(certs.clone(), key.clone_key())
                .map_err(bad)?;
            web = Some(Arc::new(config));
        }
        let client = match &roots {
            Some(roots) => {
                let verifier = ClusterCaVerifier {
                    inner: WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                        .build()
                        .map_err(|e| DistError::Tls(format!("the CA cannot verify servers: {e}")))?,
                };
                let builder = ClientConfig::builder_with_provider(provider.clone())
                    .with_safe_default_protocol_versions()
                    .map_err(bad)?
                    .dangerous()
                    .with_custom_certificate_verifier(Arc::new(verifier));
                let config = match identity {
                    Some((certs, key)) => builder.with_client_auth_cert(certs, key).map_err(bad)?,
                    None => builder.with_no_client_auth(),
                };
                Some(Arc::new(config))
            }
            None => None,
        };
        Ok(Tls { files, server, client, web })
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    pub(crate) fn server(&self) -> Result<Arc<ServerConfig>, DistError> {
        self.server.clone().ok_or_else(|| DistError::Tls("serving TLS needs --tls-cert and --tls-key".into()))
    }

    pub(crate) fn client(&self) -> Result<Arc<ClientConfig>, DistError> {
        self.client.clone().ok_or_else(|| {
            DistError::Tls("connecting with TLS needs --tls-ca (the CA that signed the cluster's certificates)".into())
        })
    }

    pub(crate) fn web(&self) -> Option<Arc<ServerConfig>> {
        self.web.clone()
    }
}

/// The shared secret and the TLS configuration a process uses for every connection it opens
/// or accepts. Cheap to clone.
#[derive(Clone, Default)]
pub struct Security {
    secret: Option<Arc<[u8]>>,
    tls: Option<Arc<Tls>>,
}

impl std::fmt::Debug for Security {
    // The secret is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Security").field("secret", &self.secret.is_some()).field("tls", &self.tls).finish()
    }
}

impl Security {
    /// Neither a secret nor TLS: plaintext, anyone may connect (loopback use).
    pub fn none() -> Security {
        Security::default()
    }

    /// `RASK_SECRET` and `RASK_TLS_CERT` / `RASK_TLS_KEY` / `RASK_TLS_CA`.
    pub fn from_env() -> Result<Security, DistError> {
        let security = Security::none();
        let security = match std::env::var_os(ENV_SECRET) {
            Some(secret) => security.with_secret(secret.into_encoded_bytes()),
            None => security,
        };
        match TlsFiles::from_env() {
            Some(files) => security.with_tls(files),
            None => Ok(security),
        }
    }

    /// Every peer must prove it knows `secret` (an HMAC of a fresh nonce; it never travels).
    pub fn with_secret(mut self, secret: impl Into<Vec<u8>>) -> Security {
        self.secret = Some(secret.into().into());
        self
    }

    /// TLS on every connection, from `files` (read now: errors name the bad file).
    pub fn with_tls(mut self, files: TlsFiles) -> Result<Security, DistError> {
        self.tls = Some(Arc::new(Tls::load(files)?));
        Ok(self)
    }

    pub fn secret(&self) -> Option<&[u8]> {
        self.secret.as_deref()
    }

    pub fn tls(&self) -> Option<&Tls> {
        self.tls.as_deref()
    }

    /// `tls://` or `tcp://`: how addresses of a cluster using this configuration are written.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "tls://"
        } else {
            "tcp://"
        }
    }

    /// `HOST:PORT` of `address` (`tls://`, `tcp://` or no prefix), checked against this
    /// configuration: a `tls://` address needs TLS configured, a `tcp://` one must not have it.
    pub fn host_port<'a>(&self, address: &'a str) -> Result<&'a str, DistError> {
        if let Some(rest) = address.strip_prefix("tls://") {
            if self.tls.is_none() {
                return Err(DistError::Tls(format!(
                    "{address} is a TLS address, but no TLS is configured: pass --tls-ca (and \
                     --tls-cert/--tls-key if the cluster asks for client certificates) or set RASK_TLS_CA"
                )));
            }
            return Ok(rest);
        }
        if let Some(rest) = address.strip_prefix("tcp://") {
            if self.tls.is_some() {
                return Err(DistError::Tls(format!(
                    "{address} is a plaintext address, but TLS is configured: write it as tls://{rest}"
                )));
            }
            return Ok(rest);
        }
        Ok(address)
    }

    /// The environment a child process needs to read this configuration back with
    /// [`Security::from_env`]; `unset` lists the variables to remove so that the parent's
    /// own environment cannot contradict it.
    pub fn to_env(&self) -> (Vec<(&'static str, std::ffi::OsString)>, Vec<&'static str>) {
        let mut set = Vec::new();
        if let Some(secret) = &self.secret {
            // Environment values are bytes on Unix: the secret passes as it is.
            set.push((ENV_SECRET, std::os::unix::ffi::OsStringExt::from_vec(secret.to_vec())));
        }
        if let Some(tls) = &self.tls {
            set.extend(tls.files.to_env().into_iter().map(|(name, path)| (name, path.into_os_string())));
        }
        let unset = [ENV_SECRET, ENV_CERT, ENV_KEY, ENV_CA]
            .into_iter()
            .filter(|name| !set.iter().any(|(n, _)| n == name))
            .collect();
        (set, unset)
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, DistError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| DistError::Tls(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(DistError::Tls(format!("{}: no PEM certificate in the file", path.display())));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, DistError> {
    PrivateKeyDer::from_pem_file(path)
        .map_err(|e| DistError::Tls(format!("{}: no usable private key: {e}", path.display())))
}

fn read_roots(path: &Path) -> Result<RootCertStore, DistError> {
    let mut roots = RootCertStore::empty();
    for cert in read_certs(path)? {
        roots.add(cert).map_err(|e| DistError::Tls(format!("{}: not a CA certificate: {e}", path.display())))?;
    }
    Ok(roots)
}

/// Verifies a server's chain against the cluster's CA and its dates, not its name (see the
/// module's rules): every check of the WebPKI verifier but the last.
#[derive(Debug)]
struct ClusterCaVerifier {
    inner: Arc<WebPkiServerVerifier>,
}

impl ServerCertVerifier for ClusterCaVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            // The name is checked after the chain and the dates: this error means those passed.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The name a TLS client sends for `host:port` (SNI): the host, or `rask` when it is not a
/// valid name (names are not checked: see the module's rules).
pub(crate) fn server_name(host_port: &str) -> ServerName<'static> {
    let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h).trim_matches(['[', ']']);
    ServerName::try_from(host.to_owned()).unwrap_or_else(|_| ServerName::try_from("rask").expect("a valid DNS name"))
}
