//! Values to and from the wire: small ones inline, large ones by segment name.

use std::io;
use std::sync::Arc;

use rask_graph::ext::Ext;
use rask_graph::{Array, Buffer, Value};
use rask_protocol::{Layout, SharedRef, WireValue};
use rask_store::{traffic, Namespace, Segment};

use super::held::{holds_any, Held};

/// Values up to this many bytes travel inside messages by default; larger ones in segments.
/// Measured with `cargo xtask bench --only inline`: on this class of machine a segment costs
/// ~80 µs of system calls and first-touch page faults per hop, so inline wins by 5× up to
/// 256 KiB; past half a ring (512 KiB) a message must be parked in a segment anyway, and then
/// inline loses 2.5× at 1 MiB. See `ProcessExecutor::inline_max`.
pub const DEFAULT_INLINE_MAX: usize = 256 << 10;

/// The wire form of `value`: by reference if it already lives in a segment, inline if small,
/// otherwise copied into a new segment of `namespace` (the only copy, and counted).
/// Returns the segment made, if any, so the caller can keep it alive. With `hand_over`, the
/// segments the message names pass to the receiver (who adopts them); without, the sender
/// keeps owning them.
pub(crate) fn to_wire(
    value: &Value,
    namespace: &Namespace,
    inline_max: usize,
    hand_over: bool,
) -> io::Result<(WireValue, Vec<Segment>)> {
    if let Value::List(items) = value {
        if value.nbytes() > inline_max || holds_any(value) {
            // Item by item: each large item goes by reference on its own, so a consumer of
            // one item (a shuffle's pick) maps only that one; a held one goes by its name.
            let mut made = Vec::new();
            let mut wires = Vec::with_capacity(items.len());
            for item in items.iter() {
                let (wire, segments) = to_wire(item, namespace, inline_max, hand_over)?;
                made.extend(segments);
                wires.push(wire);
            }
            return Ok((WireValue::List(wires), made));
        }
    }
    let (wire, made) = to_wire_one(value, namespace, inline_max, hand_over)?;
    Ok((wire, made.into_iter().collect()))
}

fn to_wire_one(
    value: &Value,
    namespace: &Namespace,
    inline_max: usize,
    hand_over: bool,
) -> io::Result<(WireValue, Option<Segment>)> {
    if let Some(held) = Held::of(value) {
        traffic::shared(held.at().len as usize);
        return Ok((WireValue::Shared(held.at().clone()), None));
    }
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let parked = |(r, segment)| Ok((WireValue::Shared(r), Some(segment)));
    let (buffer, layout) = match value {
        Value::Array(a) => (a.buffer(), Layout::Array { dtype: a.dtype(), shape: a.shape().to_vec() }),
        Value::Bytes(b) => (b, Layout::Bytes),
        _ if value.nbytes() <= inline_max => return Ok((WireValue::Inline(value.clone()), None)),
        Value::Ext(e) => {
            if let Some(shared) = pass_on(value, hand_over) {
                return Ok((shared, None));
            }
            // Encoded once, straight into the segment the receiver decodes in place.
            let layout = Layout::Ext { type_name: e.type_name().to_owned() };
            return parked(park_encoded(namespace, e, layout, hand_over)?);
        }
        _ => {
            let bytes = postcard::to_stdvec(value).map_err(|e| invalid(e.to_string()))?;
            return parked(park(namespace, &bytes, Layout::Encoded, hand_over)?);
        }
    };
    if let Some(shared) = pass_on(value, hand_over) {
        return Ok((shared, None));
    }
    if buffer.len() <= inline_max {
        return Ok((WireValue::Inline(value.clone()), None));
    }
    parked(park(namespace, buffer.as_slice(), layout, hand_over)?)
}

/// `value` by the name of the segment it already lives in, if it does (counted as shared).
fn pass_on(value: &Value, hand_over: bool) -> Option<WireValue> {
    let (segment, r) = by_reference(value)?;
    traffic::shared(r.len as usize);
    segment.lend();
    if hand_over {
        segment.hand_over();
    }
    Some(WireValue::Shared(r))
}

/// `bytes` copied into a new segment of `namespace`, read back as `layout`. With `hand_over`
/// the name passes to whoever receives the reference; the caller keeps the segment alive
/// until then.
pub(crate) fn park(
    namespace: &Namespace,
    bytes: &[u8],
    layout: Layout,
    hand_over: bool,
) -> io::Result<(SharedRef, Segment)> {
    let segment = rask_store::put(namespace, bytes)?;
    if hand_over {
        segment.hand_over();
    }
    let r = SharedRef { segment: segment.name().to_owned(), offset: 0, len: bytes.len() as u64, layout };
    Ok((r, segment))
}

/// `value` encoded straight into a new segment of `namespace` sized from its `nbytes` (the
/// bytes are written once, with no buffer on the heap); if the encoding turns out larger than
/// that, encoded on the heap and copied in as `park` does.
pub fn park_encoded(
    namespace: &Namespace,
    value: &Ext,
    layout: Layout,
    hand_over: bool,
) -> io::Result<(SharedRef, Segment)> {
    let invalid = |e: String| io::Error::new(io::ErrorKind::InvalidData, e);
    let room = value.nbytes() + value.nbytes() / 16 + ENCODING_OVERHEAD;
    let mut segment = namespace.create_uninit(room)?;
    let mut fill = Fill { room: segment.bytes_mut(), at: 0, full: false };
    match value.encode_to(&mut fill) {
        Ok(()) if fill.at > 0 => {
            let len = fill.at;
            segment.truncate(len);
            traffic::copied(len);
            let segment = segment.freeze();
            if hand_over {
                segment.hand_over();
            }
            Ok((SharedRef { segment: segment.name().to_owned(), offset: 0, len: len as u64, layout }, segment))
        }
        Err(e) if !fill.full => Err(invalid(e)),
        // Larger than guessed (or empty): the segment goes back, the heap takes the encoding.
        _ => {
            drop(segment);
            park(namespace, &value.encode().map_err(invalid)?, layout, hand_over)
        }
    }
}

/// Room an encoding needs beyond its value's `nbytes` and a sixteenth: headers, schemas, padding.
const ENCODING_OVERHEAD: usize = 16 << 10;

/// A writer into a fixed slice that fails, and says so, when the slice is full.
struct Fill<'a> {
    room: &'a mut [u8],
    at: usize,
    full: bool,
}

impl io::Write for Fill<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        let Some(dest) = self.room.get_mut(self.at..self.at + bytes.len()) else {
            self.full = true;
            return Err(io::Error::new(io::ErrorKind::WriteZero, "the segment is full"));
        };
        dest.copy_from_slice(bytes);
        self.at += bytes.len();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `items` with every item but those at positions `read` (negative ones from the end) replaced
/// by `None`: what a task that only picks those items needs sent, its length kept so that a
/// position out of range fails as it would on the whole list.
pub fn only_items(items: &[Value], read: &[i64]) -> Value {
    let len = items.len() as i64;
    let wanted = |p: usize| read.iter().any(|&k| if k < 0 { k + len } else { k } == p as i64);
    Value::list(items.iter().enumerate().map(|(p, v)| if wanted(p) { v.clone() } else { Value::None }))
}

/// A reference to `value`'s bytes if they already live in a shared-memory segment (an array
/// or bytes value made in an arena, or mapped from one; an extension value decoded in place
/// from one): the segment and where in it they lie.
pub fn by_reference(value: &Value) -> Option<(&Segment, SharedRef)> {
    let (buffer, layout) = match value {
        Value::Array(a) => (a.buffer(), Layout::Array { dtype: a.dtype(), shape: a.shape().to_vec() }),
        Value::Bytes(b) => (b, Layout::Bytes),
        Value::Ext(e) => (e.encoded_source()?, Layout::Ext { type_name: e.type_name().to_owned() }),
        _ => return None,
    };
    let (segment, range) = buffer.owner::<Segment>()?;
    let r =
        SharedRef { segment: segment.name().to_owned(), offset: range.start as u64, len: range.len() as u64, layout };
    Some((segment, r))
}

/// The value of a wire form; `open` maps a segment by name (or finds it already mapped).
pub fn from_wire(wire: WireValue, open: &mut dyn FnMut(&str) -> io::Result<Arc<Segment>>) -> Result<Value, String> {
    let r = match wire {
        WireValue::Inline(v) => return Ok(v),
        WireValue::Shared(r) => r,
        WireValue::List(items) => {
            let items = items.into_iter().map(|w| from_wire(w, open)).collect::<Result<Vec<_>, _>>()?;
            return Ok(Value::list(items));
        }
    };
    let segment = open(&r.segment).map_err(|e| format!("cannot map segment {}: {e}", r.segment))?;
    let (offset, len) = (r.offset as usize, r.len as usize);
    if offset.checked_add(len).is_none_or(|end| end > segment.len()) {
        return Err(format!("segment {} holds {} bytes, not {offset}..{offset}+{len}", r.segment, segment.len()));
    }
    let buffer = Buffer::from_owner(segment).slice(offset, len);
    match r.layout {
        Layout::Bytes => {
            traffic::shared(len);
            Ok(Value::Bytes(buffer))
        }
        Layout::Array { dtype, shape } => {
            traffic::shared(len);
            Array::from_buffer(dtype, &shape, buffer).map(Value::Array)
        }
        Layout::Encoded => {
            traffic::copied(len);
            postcard::from_bytes(buffer.as_slice()).map_err(|e| format!("segment {}: corrupt value: {e}", r.segment))
        }
        Layout::Ext { type_name } => {
            traffic::shared(len);
            rask_graph::ext::Ext::decode(&type_name, buffer)
                .map(Value::Ext)
                .map_err(|e| format!("segment {}: {e}", r.segment))
        }
    }
}

/// The message a peer parked in `segment` because it was too large for a ring.
pub(crate) fn spilled<T: serde::de::DeserializeOwned>(segment: &Segment, r: &SharedRef) -> Result<T, String> {
    let range =
        usize::try_from(r.offset).ok().zip(usize::try_from(r.len).ok()).and_then(|(o, l)| Some(o..o.checked_add(l)?));
    let bytes =
        range.and_then(|range| segment.as_ref().get(range)).ok_or("spilled message out of its segment's bounds")?;
    rask_protocol::frame::from_frame(bytes, usize::MAX).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rask_graph::ext::ExtValue;

    /// A value whose encoding is `encoded` bytes while it claims `claimed` in memory.
    struct Claims {
        claimed: usize,
        encoded: usize,
    }

    impl ExtValue for Claims {
        fn type_name(&self) -> &'static str {
            "test.Claims"
        }
        fn nbytes(&self) -> usize {
            self.claimed
        }
        fn encode(&self) -> Result<Vec<u8>, String> {
            Ok((0..self.encoded).map(|i| (i % 251) as u8).collect())
        }
        fn eq_ext(&self, _: &dyn ExtValue) -> bool {
            false
        }
        fn fmt_repr(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Claims")
        }
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    #[test]
    fn an_encoding_goes_into_its_segment_in_place_or_by_the_heap_when_larger_than_claimed() {
        let namespace = Namespace::new("wire-test");
        for (claimed, encoded) in [(300_000, 300_000), (300_000, 100_000), (300_000, 2_000_000)] {
            let value = Ext::new(Claims { claimed, encoded });
            let layout = Layout::Ext { type_name: "test.Claims".into() };
            let (r, segment) = park_encoded(&namespace, &value, layout, false).unwrap();
            assert_eq!((r.offset, r.len, segment.len()), (0, encoded as u64, encoded), "{claimed} / {encoded}");
            assert_eq!(segment.as_ref(), value.encode().unwrap().as_slice());
        }
        assert_eq!(namespace.sweep(), 0, "each segment went with its handle");
    }
}
