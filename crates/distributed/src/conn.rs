//! Frames over connections ([`Stream`]: TCP, or TLS over TCP), and the handshake every
//! connection starts with: the connecting side's preamble, the accepting side's welcome
//! (a nonce, or a refusal), the connecting side's hello (its role and proof of the secret),
//! the accepting side's verdict.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rask_protocol::dist::{Greeting, Hello, Role, Verdict, Welcome, PREAMBLE};
use rask_protocol::frame::{self, HEADER_LEN};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::stream::Stream;
use crate::tls::{self, Security};
use crate::{auth, DistError};

/// The largest frame a client may send the scheduler (a submission of a million tasks is a
/// few tens of megabytes), and the largest reply a client or worker accepts.
pub const MAX_FRAME: usize = 512 << 20;
/// The largest frame a worker sends the scheduler (a batch of completions or a heartbeat).
pub const MAX_WORKER_FRAME: usize = 64 << 20;
/// The largest data request a worker's data server accepts (a list of keys).
pub const MAX_REQUEST_FRAME: usize = 16 << 20;
/// Until a peer has authenticated, frames are handshake-sized: a stranger cannot make us
/// buffer more than this per connection.
pub const MAX_HANDSHAKE_FRAME: usize = 4 << 10;
/// A frame's payload is read in pieces of this size, so memory follows the bytes that really
/// arrived rather than the length a peer announced.
const READ_PIECE: u64 = 1 << 20;

/// A connection's read half with a buffer in front: a stream of small messages (tasks,
/// completions) costs one system call per buffer-full, not two per message (header, then
/// payload). Large payloads bypass the buffer.
pub fn buffered<R: AsyncRead>(r: R) -> tokio::io::BufReader<R> {
    tokio::io::BufReader::with_capacity(READ_BUFFER, r)
}

/// The read buffer of [`buffered`].
const READ_BUFFER: usize = 64 << 10;

/// Reads one message of at most `max` payload bytes; `Ok(None)` on a clean end of stream
/// between frames.
pub async fn read_msg<T: DeserializeOwned>(
    r: &mut (impl AsyncRead + Unpin),
    max: usize,
) -> Result<Option<T>, DistError> {
    read_msg_idle(r, max, None).await
}

/// After a deadline passes, how long bytes already in the socket still get to be read: when
/// this process was itself stopped (SIGSTOP, a suspended VM), its timers fire on resume before
/// the socket's readiness has been seen, and the peer was not silent at all.
const GRACE: Duration = Duration::from_millis(250);

/// [`read_msg`], failing with [`DistError::TimedOut`] if the peer sends nothing for `idle`
/// (plus a short [`GRACE`]) — between pieces of the frame, not for the whole frame: a large
/// value over a slow link still arrives, a stalled peer does not hold us.
pub async fn read_msg_idle<T: DeserializeOwned>(
    r: &mut (impl AsyncRead + Unpin),
    max: usize,
    idle: Option<Duration>,
) -> Result<Option<T>, DistError> {
    async fn within<F: std::future::Future>(idle: Option<Duration>, f: F) -> Result<F::Output, DistError> {
        let Some(limit) = idle else { return Ok(f.await) };
        tokio::pin!(f);
        if let Ok(out) = tokio::time::timeout(limit, &mut f).await {
            return Ok(out);
        }
        tokio::time::timeout(GRACE, &mut f)
            .await
            .map_err(|_| DistError::TimedOut(format!("the peer sent nothing for {limit:?}")))
    }
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        let read = match within(idle, r.read(&mut header[got..])).await? {
            // A TLS peer that closed without its close_notify, between frames: an end of
            // stream like any other (the frame layer notices a cut mid-frame by itself).
            Err(e) if got == 0 && e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            read => read?,
        };
        match read {
            0 if got == 0 => return Ok(None),
            0 => return Err(frame::FrameError::Truncated { needed: HEADER_LEN, available: got }.into()),
            n => got += n,
        }
    }
    // Length and version are checked before the payload is read.
    frame::split(&header, max)?;
    let len = u32::from_le_bytes(header[..4].try_into().expect("four bytes")) as usize;
    let mut payload = Vec::with_capacity(len.min(READ_PIECE as usize));
    while payload.len() < len {
        let piece = ((len - payload.len()) as u64).min(READ_PIECE);
        if within(idle, (&mut *r).take(piece).read_to_end(&mut payload)).await?? == 0 {
            let available = HEADER_LEN + payload.len();
            return Err(frame::FrameError::Truncated { needed: HEADER_LEN + len, available }.into());
        }
    }
    Ok(Some(frame::decode_payload(&payload)?))
}

pub async fn write_msg<T: Serialize>(w: &mut (impl AsyncWrite + Unpin), msg: &T) -> Result<(), DistError> {
    write_frames(w, &frame::to_frame(msg, MAX_FRAME)?).await
}

/// Writes frames already encoded (one or several, back to back).
async fn write_frames(w: &mut (impl AsyncWrite + Unpin), frames: &[u8]) -> Result<(), DistError> {
    w.write_all(frames).await?;
    // A TLS session may hold the last record until flushed; for plain TCP this is free.
    w.flush().await?;
    Ok(())
}

/// [`write_frames`] within `limit` (see [`write_msg_within`]): one frame, or several queued
/// ones in a single write.
pub async fn write_frames_within(
    w: &mut (impl AsyncWrite + Unpin),
    frames: &[u8],
    limit: Duration,
) -> Result<(), DistError> {
    match tokio::time::timeout(limit, write_frames(w, frames)).await {
        Ok(sent) => sent,
        Err(_) => Err(DistError::TimedOut(format!("sending a message took longer than {limit:?}"))),
    }
}

/// [`write_msg`] within `limit`: a peer that stops reading (hung, or its buffers full) costs
/// a bounded wait and an error, not a writer stuck forever.
pub async fn write_msg_within<T: Serialize>(
    w: &mut (impl AsyncWrite + Unpin),
    msg: &T,
    limit: Duration,
) -> Result<(), DistError> {
    write_frames_within(w, &frame::to_frame(msg, MAX_FRAME)?, limit).await
}

/// `items` in order, cut into batches of at most `limit` bytes of values (a single larger
/// value makes a batch of its own), so that many values sent at once never make one frame
/// larger than its reader takes.
pub fn in_batches(
    items: Vec<(rask_graph::Key, rask_graph::Value)>,
    limit: usize,
) -> Vec<Vec<(rask_graph::Key, rask_graph::Value)>> {
    let mut batches = Vec::new();
    let (mut batch, mut bytes) = (Vec::new(), 0);
    for (key, value) in items {
        let size = value.nbytes();
        if !batch.is_empty() && bytes + size > limit {
            batches.push(std::mem::take(&mut batch));
            bytes = 0;
        }
        bytes += size;
        batch.push((key, value));
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    batches
}

/// The first byte of a TLS handshake record (a client hello).
const TLS_HANDSHAKE: u8 = 0x16;
/// What a plaintext port answers a TLS client hello with: a fatal `handshake_failure` alert
/// record, so the client's TLS library fails the handshake at once instead of waiting.
const TLS_REFUSAL: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 40];

/// Opens the transport to `addr` (`HOST:PORT`): TCP, then a TLS session when `security` has
/// TLS. `patient` waits for a server that is not listening yet ([`connect_retrying`]); the
/// caller bounds the whole wait.
pub async fn open(addr: &str, security: &Security, patient: bool) -> Result<Stream, DistError> {
    let tcp = if patient { connect_retrying(addr).await? } else { TcpStream::connect(addr).await? };
    tcp.set_nodelay(true)?;
    let Some(tls) = security.tls() else { return Ok(Stream::Plain(tcp)) };
    let connector = tokio_rustls::TlsConnector::from(tls.client()?);
    match connector.connect(tls::server_name(addr), tcp).await {
        Ok(session) => Ok(Stream::Tls(Box::new(tokio_rustls::TlsStream::Client(session)))),
        Err(e) => {
            let cause = tls_cause(&e).unwrap_or_else(|| e.to_string());
            Err(DistError::Tls(format!("the TLS handshake with {addr} failed: {cause}{}", hint(&cause))))
        }
    }
}

/// What a user can do about a TLS failure, where the cause says it.
fn hint(cause: &str) -> &'static str {
    if cause.contains("HandshakeFailure") {
        " (is it a plaintext port? write its address as tcp://)"
    } else if cause.contains("UnknownIssuer") {
        " (its certificate is not signed by the CA given with --tls-ca)"
    } else if cause.contains("UnknownCA") || cause.contains("CertificateRequired") || cause.contains("BadCertificate") {
        " (the cluster asks for a certificate signed by its CA: --tls-cert/--tls-key)"
    } else {
        ""
    }
}

/// The TLS library's own error inside an I/O error, as text.
fn tls_cause(e: &std::io::Error) -> Option<String> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()).map(ToString::to_string)
}

/// An error on a TLS stream that the peer's TLS library caused (it refused our certificate:
/// with TLS 1.3 that arrives as an alert on the first read), told as such.
pub(crate) fn tls_refusal(addr: &str, e: DistError) -> DistError {
    match &e {
        DistError::Io(io) => match tls_cause(io) {
            Some(cause) => {
                DistError::Tls(format!("{addr} refused this connection's TLS certificate: {cause}{}", hint(&cause)))
            }
            None => e,
        },
        _ => e,
    }
}

/// Opens a connection to `addr` (`HOST:PORT`) and runs the connecting side of the handshake,
/// within `limit`.
pub async fn dial(addr: &str, role: Role, security: &Security, limit: Duration) -> Result<Stream, DistError> {
    // The scheduler may be starting up: wait for it. A peer that refuses is gone: next holder.
    let patient = !matches!(role, Role::Peer);
    let opened = async {
        let mut stream = open(addr, security, patient).await?;
        connect(&mut stream, role, security.secret()).await.map_err(|e| tls_refusal(addr, e))?;
        Ok::<_, DistError>(stream)
    };
    match tokio::time::timeout(limit, opened).await {
        Ok(opened) => opened,
        Err(_) => Err(DistError::TimedOut(format!("connecting to {addr} took longer than {limit:?}"))),
    }
}

/// Opens a TCP connection, trying again while it is refused (a scheduler starting at the same
/// time as its workers, as on a batch system, is not listening yet): every 50 ms at first,
/// then up to every second. The caller bounds the whole wait (the connect deadline).
pub async fn connect_retrying(addr: &str) -> std::io::Result<TcpStream> {
    let mut pause = Duration::from_millis(50);
    loop {
        match TcpStream::connect(addr).await {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                tracing::debug!("{addr} refused the connection: trying again in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
            }
            opened => return opened,
        }
    }
}

/// The accepting side of a new connection, within `limit`: the transport (TLS when `security`
/// has it), then [`handshake`]. A plaintext peer on a TLS port and a TLS peer on a plaintext
/// port are told so and refused.
pub async fn accept(tcp: TcpStream, security: &Security, limit: Duration) -> Result<(Stream, Role), DistError> {
    let exchange = async {
        let mut stream = transport(tcp, security).await?;
        let role = handshake(&mut stream, security.secret()).await?;
        Ok((stream, role))
    };
    tokio::time::timeout(limit, exchange).await.map_err(|_| DistError::Protocol("handshake timed out".into()))?
}

async fn transport(mut tcp: TcpStream, security: &Security) -> Result<Stream, DistError> {
    let mut first = [0u8; 1];
    if tcp.peek(&mut first).await? == 0 {
        return Err(DistError::Protocol("closed before the handshake".into()));
    }
    match (security.tls(), first[0] == TLS_HANDSHAKE) {
        (Some(tls), true) => {
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.server()?);
            let session = acceptor.accept(tcp).await.map_err(|e| {
                DistError::Tls(format!("TLS handshake failed: {}", tls_cause(&e).unwrap_or_else(|| e.to_string())))
            })?;
            Ok(Stream::Tls(Box::new(tokio_rustls::TlsStream::Server(session))))
        }
        (Some(_), false) => {
            read_preamble(&mut tcp).await?;
            let reason = "this port takes TLS only: connect to its tls:// address with --tls-ca (and a \
                          certificate, --tls-cert/--tls-key, if the cluster asks for one)";
            let _ = write_msg(&mut tcp, &Greeting::Err(reason.into())).await;
            Err(DistError::Tls("refused a plaintext connection on a TLS port".into()))
        }
        (None, true) => {
            let _ = tcp.write_all(&TLS_REFUSAL).await;
            Err(DistError::Tls("refused a TLS connection on a plaintext port".into()))
        }
        (None, false) => Ok(Stream::Plain(tcp)),
    }
}

async fn read_preamble<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(), DistError> {
    let mut preamble = [0u8; PREAMBLE.len()];
    stream.read_exact(&mut preamble).await?;
    if preamble != PREAMBLE {
        return Err(DistError::Protocol("not a rask peer (no preamble)".into()));
    }
    Ok(())
}

/// The accepting side's protocol handshake on an open transport (no deadline: see
/// [`accept`]): the preamble, our welcome, the peer's hello, checked against `secret`.
pub async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: Option<&[u8]>,
) -> Result<Role, DistError> {
    read_preamble(stream).await?;
    let nonce = auth::nonce()?;
    write_msg(stream, &Greeting::Ok(Welcome { nonce, auth_required: secret.is_some() })).await?;
    let hello = read_msg::<Hello>(stream, MAX_HANDSHAKE_FRAME)
        .await?
        .ok_or(DistError::Protocol("closed during the handshake".into()))?;
    if let Some(secret) = secret {
        let expected = auth::hmac(secret, &nonce);
        if !hello.proof.is_some_and(|p| auth::same(&p, &expected)) {
            let reason = "wrong or missing proof of the shared secret".to_owned();
            let _ = write_msg(stream, &Verdict::Err(reason.clone())).await;
            return Err(DistError::Auth(reason));
        }
    }
    write_msg(stream, &Verdict::Ok(())).await?;
    Ok(hello.role)
}

/// The connecting side (within the caller's deadline): the preamble, then the welcome, then
/// our role (and proof, if asked).
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    role: Role,
    secret: Option<&[u8]>,
) -> Result<(), DistError> {
    stream.write_all(&PREAMBLE).await?;
    let welcome = match read_msg::<Greeting>(stream, MAX_HANDSHAKE_FRAME).await? {
        Some(Ok(welcome)) => welcome,
        Some(Err(reason)) => return Err(DistError::Tls(reason)),
        None => return Err(DistError::Protocol("closed during the handshake".into())),
    };
    let proof = match (welcome.auth_required, secret) {
        (true, None) => return Err(DistError::Auth("the peer requires a shared secret and none is configured".into())),
        (true, Some(s)) => Some(auth::hmac(s, &welcome.nonce)),
        (false, _) => None,
    };
    write_msg(stream, &Hello { role, proof }).await?;
    match read_msg::<Verdict>(stream, MAX_HANDSHAKE_FRAME).await? {
        Some(Ok(())) => Ok(()),
        Some(Err(reason)) => Err(DistError::Auth(reason)),
        None => Err(DistError::Protocol("closed during the handshake".into())),
    }
}

/// Connections still in their handshake, at most: past this, new ones are closed at once, so
/// strangers holding connections open cannot exhaust the scheduler's descriptors or memory.
pub const MAX_UNAUTHENTICATED: usize = 256;

/// An accept loop that survives its errors: running out of descriptors (EMFILE) or of kernel
/// memory makes `accept` fail until something closes, so it backs off (10 ms doubling to 1 s)
/// and tries again instead of closing the listener. Each burst of errors is logged once.
/// It also admits at most [`MAX_UNAUTHENTICATED`] connections into their handshake at once:
/// each comes with a permit, to drop when the handshake is over.
pub struct Accepting {
    who: &'static str,
    backoff: Duration,
    failing: bool,
    refused: u64,
    handshakes: Arc<Semaphore>,
}

impl Accepting {
    pub(crate) fn new(who: &'static str) -> Accepting {
        let handshakes = Arc::new(Semaphore::new(MAX_UNAUTHENTICATED));
        Accepting { who, backoff: Duration::from_millis(10), failing: false, refused: 0, handshakes }
    }

    /// The next connection (no Nagle delay) and its handshake permit; `None` after an error
    /// or a connection refused for want of a permit (call again).
    pub(crate) async fn next(
        &mut self,
        listener: &TcpListener,
    ) -> Option<(TcpStream, SocketAddr, OwnedSemaphorePermit)> {
        match listener.accept().await {
            Ok((stream, peer)) => {
                if self.failing {
                    tracing::info!("{}: accepting connections again", self.who);
                }
                self.failing = false;
                self.backoff = Duration::from_millis(10);
                let Ok(permit) = self.handshakes.clone().try_acquire_owned() else {
                    self.refuse(peer, "too many connections are still in their handshake");
                    return None;
                };
                let _ = stream.set_nodelay(true);
                Some((stream, peer, permit))
            }
            Err(e) => {
                if !self.failing {
                    tracing::warn!("{}: cannot accept connections ({e}); retrying with backoff", self.who);
                }
                self.failing = true;
                tokio::time::sleep(self.backoff).await;
                self.backoff = (self.backoff * 2).min(Duration::from_secs(1));
                None
            }
        }
    }

    /// Closes a connection at once, logging the first and then every 1000th.
    fn refuse(&mut self, peer: SocketAddr, why: &str) {
        if self.refused % 1000 == 0 {
            tracing::warn!("{}: refused {peer}: {why} ({} refused so far)", self.who, self.refused + 1);
        }
        self.refused += 1;
    }
}

#[cfg(test)]
mod batch_tests {
    use rask_graph::{Key, Value};

    #[test]
    fn batches_keep_order_stay_under_the_limit_and_give_a_large_value_its_own() {
        let item = |i: i64, n: usize| (Key::from(("v", i)), Value::str(&"x".repeat(n)));
        let items = vec![item(0, 1000), item(1, 1000), item(2, 3000), item(3, 500), item(4, 500)];
        let batches = super::in_batches(items, 2100);
        let sizes: Vec<Vec<usize>> = batches.iter().map(|b| b.iter().map(|(_, v)| v.nbytes()).collect()).collect();
        assert_eq!(sizes.len(), 3, "{sizes:?}");
        assert!(sizes.iter().all(|b| b.len() == 1 || b.iter().sum::<usize>() <= 2100), "{sizes:?}");
        let keys: Vec<Key> = batches.concat().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, (0..5).map(|i| Key::from(("v", i))).collect::<Vec<_>>(), "in order");
        assert!(super::in_batches(Vec::new(), 2100).is_empty());
    }
}
