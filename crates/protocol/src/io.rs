//! Frames over blocking byte streams (pipes, unix sockets, TCP with std): the transport is
//! the caller's, the framing is ours. Async transports use [`crate::frame::split`] directly.

use std::io::{self, Read, Write};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::frame::{self, FrameError, HEADER_LEN};

/// A frame error or the stream's own failure.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error("stream error: {0}")]
    Io(#[from] io::Error),
}

/// Writes one frame.
pub fn write_message<W: Write, M: Serialize + ?Sized>(w: &mut W, message: &M, max: usize) -> Result<(), StreamError> {
    let bytes = frame::to_frame(message, max)?;
    w.write_all(&bytes)?;
    Ok(())
}

/// Reads one frame; `Ok(None)` at a clean end of stream (between frames). A stream that ends
/// inside a frame is [`FrameError::Truncated`].
pub fn read_message<R: Read, M: DeserializeOwned>(r: &mut R, max: usize) -> Result<Option<M>, StreamError> {
    let mut header = [0u8; HEADER_LEN];
    let got = read_full(r, &mut header)?;
    if got == 0 {
        return Ok(None);
    }
    if got < HEADER_LEN {
        return Err(FrameError::Truncated { needed: HEADER_LEN, available: got }.into());
    }
    // Checks length and version before allocating the payload.
    let len = match frame::split(&header, max) {
        Ok(_) => u32::from_le_bytes(header[..4].try_into().expect("four bytes")) as usize,
        Err(e) => return Err(e.into()),
    };
    let mut payload = vec![0u8; len];
    let got = read_full(r, &mut payload)?;
    if got < len {
        return Err(FrameError::Truncated { needed: HEADER_LEN + len, available: HEADER_LEN + got }.into());
    }
    Ok(Some(frame::decode_payload(&payload)?))
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
