//! Entry points for the fuzz targets (`cargo xtask fuzz handshake`), not an API: the accepting
//! side of a connection fed whatever bytes a stranger sends, over a real loopback socket (the
//! plaintext/TLS routing peeks at it).

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::tls::Security;
use crate::{conn, DistError};

struct Loopback {
    runtime: tokio::runtime::Runtime,
    listener: TcpListener,
    addr: SocketAddr,
}

fn loopback() -> &'static Loopback {
    static LOOPBACK: OnceLock<Loopback> = OnceLock::new();
    LOOPBACK.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        Loopback { runtime, listener, addr }
    })
}

/// Sends `bytes` (then end of stream) to a fresh connection that `conn::accept`s it with
/// `security`; returns what the accepting side concluded. It must end, by itself, within the
/// handshake deadline: an error for anything but a well-formed hello.
pub fn accept_stranger(bytes: &[u8], security: &Security) -> Result<(), DistError> {
    let loopback = loopback();
    loopback.runtime.block_on(async {
        let mut stranger = TcpStream::connect(loopback.addr).await?;
        let (accepted, _) = loopback.listener.accept().await?;
        let bytes = bytes.to_vec();
        // The stranger's side runs alongside: it writes, stops writing, and reads whatever it
        // is answered until the accepting side closes.
        let stranger = tokio::spawn(async move {
            let _ = stranger.write_all(&bytes).await;
            let _ = stranger.shutdown().await;
            let mut answer = Vec::new();
            let _ = stranger.read_to_end(&mut answer).await;
        });
        let outcome = conn::accept(accepted, security, Duration::from_secs(2)).await.map(|_| ());
        stranger.abort();
        outcome
    })
}
