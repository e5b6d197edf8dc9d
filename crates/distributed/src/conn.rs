//! Frames over tokio TCP streams, and the handshake every connection starts with.

use std::time::Duration;

use rask_protocol::dist::{Hello, Role, Verdict, Welcome};
use rask_protocol::frame::{self, HEADER_LEN};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{auth, DistError};

/// The largest frame accepted on a TCP connection (a submission of a million tasks is a few
/// tens of megabytes).
pub const MAX_FRAME: usize = 512 << 20;
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads one message; `Ok(None)` on a clean end of stream between frames.
pub async fn read_msg<T: DeserializeOwned>(r: &mut (impl AsyncRead + Unpin)) -> Result<Option<T>, DistError> {
    let mut header = [0u8; HEADER_LEN];
    let mut got = 0;
    while got < HEADER_LEN {
        match r.read(&mut header[got..]).await? {
            0 if got == 0 => return Ok(None),
            0 => return Err(frame::FrameError::Truncated { needed: HEADER_LEN, available: got }.into()),
            n => got += n,
        }
    }
    // Length and version are checked before the payload is allocated.
    frame::split(&header, MAX_FRAME)?;
    let len = u32::from_le_bytes(header[..4].try_into().expect("four bytes")) as usize;
    let mut payload = vec![0u8; len];
    if let Err(e) = r.read_exact(&mut payload).await {
        return Err(match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                frame::FrameError::Truncated { needed: HEADER_LEN + len, available: HEADER_LEN }.into()
            }
            _ => e.into(),
        });
    }
    Ok(Some(frame::decode_payload(&payload)?))
}

pub async fn write_msg<T: Serialize>(w: &mut (impl AsyncWrite + Unpin), msg: &T) -> Result<(), DistError> {
    let bytes = frame::to_frame(msg, MAX_FRAME)?;
    w.write_all(&bytes).await?;
    Ok(())
}

/// The accepting side: welcome, then the peer's hello, checked against `secret`.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    secret: Option<&[u8]>,
) -> Result<Role, DistError> {
    let nonce = auth::nonce()?;
    let exchange = async {
        write_msg(stream, &Welcome { nonce, auth_required: secret.is_some() }).await?;
        read_msg::<Hello>(stream).await?.ok_or(DistError::Protocol("closed during the handshake".into()))
    };
    let hello = tokio::time::timeout(HANDSHAKE_TIMEOUT, exchange)
        .await
        .map_err(|_| DistError::Protocol("handshake timed out".into()))??;
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

/// The connecting side: read the welcome, answer with our role (and proof, if asked).
pub async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    role: Role,
    secret: Option<&[u8]>,
) -> Result<(), DistError> {
    let exchange = async {
        let welcome: Welcome =
            read_msg(stream).await?.ok_or(DistError::Protocol("closed during the handshake".into()))?;
        let proof = match (welcome.auth_required, secret) {
            (true, None) => {
                return Err(DistError::Auth("the peer requires a shared secret and none is configured".into()))
            }
            (true, Some(s)) => Some(auth::hmac(s, &welcome.nonce)),
            (false, _) => None,
        };
        write_msg(stream, &Hello { role, proof }).await?;
        match read_msg::<Verdict>(stream).await? {
            Some(Ok(())) => Ok(()),
            Some(Err(reason)) => Err(DistError::Auth(reason)),
            None => Err(DistError::Protocol("closed during the handshake".into())),
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, exchange)
        .await
        .map_err(|_| DistError::Protocol("handshake timed out".into()))?
}
