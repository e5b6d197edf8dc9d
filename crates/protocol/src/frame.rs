//! Frames: how one message is cut out of a byte stream.
//!
//! A frame is a 4-byte little-endian payload length, a 1-byte protocol version, then the payload
//! (a postcard-encoded message). The length is checked against a hard maximum before anything is
//! allocated, so a peer cannot make us reserve gigabytes by lying in four bytes.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// The version this build speaks. Bumped whenever a message's encoding changes.
pub const VERSION: u8 = 4;
/// Length prefix plus version byte.
pub const HEADER_LEN: usize = 5;
/// The default largest payload accepted: large data travels in shared memory or as many
/// frames, never as one giant message.
pub const DEFAULT_MAX_FRAME: usize = 64 << 20;

/// Why bytes are not a valid frame. Every decoding path returns one of these; none panics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("truncated frame: {needed} bytes needed, {available} available")]
    Truncated { needed: usize, available: usize },
    #[error("frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge { len: usize, max: usize },
    #[error("protocol version {found} is not supported (this build speaks version {expected})")]
    Version { found: u8, expected: u8 },
    #[error("corrupt message: {0}")]
    Corrupt(String),
    #[error("message cannot be encoded: {0}")]
    Encode(String),
}

/// Appends one frame holding `message` to `out`.
pub fn encode<M: Serialize + ?Sized>(message: &M, max: usize, out: &mut Vec<u8>) -> Result<(), FrameError> {
    let start = out.len();
    out.extend_from_slice(&[0, 0, 0, 0, VERSION]);
    let encoded = postcard::to_io(message, &mut *out);
    if let Err(e) = encoded {
        out.truncate(start);
        return Err(FrameError::Encode(e.to_string()));
    }
    let len = out.len() - start - HEADER_LEN;
    if len > max || len > u32::MAX as usize {
        out.truncate(start);
        return Err(FrameError::TooLarge { len, max });
    }
    out[start..start + 4].copy_from_slice(&(len as u32).to_le_bytes());
    Ok(())
}

/// Encodes `message` as a new frame.
pub fn to_frame<M: Serialize + ?Sized>(message: &M, max: usize) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::with_capacity(64);
    encode(message, max, &mut out)?;
    Ok(out)
}

/// Finds the first frame in `buf`: its payload and the bytes it occupies, or `None` if `buf`
/// holds only part of it so far (a stream reader then reads more). Checks the version and the
/// size limit as soon as the header is there.
pub fn split(buf: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, FrameError> {
    let Some(header) = buf.get(..HEADER_LEN) else { return Ok(None) };
    let len = u32::from_le_bytes(header[..4].try_into().expect("four bytes")) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    if header[4] != VERSION {
        return Err(FrameError::Version { found: header[4], expected: VERSION });
    }
    Ok(buf.get(HEADER_LEN..HEADER_LEN + len).map(|payload| (payload, HEADER_LEN + len)))
}

/// Decodes a payload found by [`split`]. Trailing bytes are corruption, not padding.
pub fn decode_payload<M: DeserializeOwned>(payload: &[u8]) -> Result<M, FrameError> {
    let (message, rest) = postcard::take_from_bytes(payload).map_err(|e| FrameError::Corrupt(e.to_string()))?;
    if !rest.is_empty() {
        return Err(FrameError::Corrupt(format!("{} bytes after the message", rest.len())));
    }
    Ok(message)
}

/// Decodes exactly one complete frame.
pub fn from_frame<M: DeserializeOwned>(buf: &[u8], max: usize) -> Result<M, FrameError> {
    match split(buf, max)? {
        Some((payload, used)) if used == buf.len() => decode_payload(payload),
        Some((_, used)) => Err(FrameError::Corrupt(format!("{} bytes after the frame", buf.len() - used))),
        None => {
            let needed = match buf.get(..4) {
                Some(len) => HEADER_LEN + u32::from_le_bytes(len.try_into().expect("four bytes")) as usize,
                None => HEADER_LEN,
            };
            Err(FrameError::Truncated { needed, available: buf.len() })
        }
    }
}
