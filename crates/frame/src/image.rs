//! Pieces of a batch written straight into shared memory, as the Arrow IPC streams that
//! another process decodes in place.
//!
//! A shuffle's split takes each target's rows out of its input (`take`), and the executor then
//! encodes every piece into a segment for the processes that read it: each byte written twice,
//! on the heap and again in shared memory. When the split runs where an arena is installed
//! (a process executor's worker, a cluster's task thread), [`take_pieces`] lays out each
//! piece's stream instead — schema message, record-batch message, body, end-of-stream marker —
//! in one block of the arena, and gathers the rows straight into the bodies; the pieces are
//! read in place from the block and sent on by its name.
//!
//! Laid out here: fixed-width primitives (integers, floats, dates, times, timestamps,
//! durations, intervals, decimals), booleans, and strings and binaries with 32- or 64-bit
//! offsets, each with or without nulls. A batch with a column of any other type (dictionaries,
//! lists, structs, views) takes the heap path, as does every split with no arena installed.

use std::ops::Range;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_data::ArrayData;
use arrow_ipc::writer::{DictionaryTracker, IpcDataGenerator, IpcWriteOptions};
use arrow_schema::DataType;
use rask_graph::{arena, Value};

/// Where buffers and messages start in a stream, as Arrow's own writer aligns them: a body's
/// buffers are then aligned for any type when the block is, and decode without copies.
const ALIGN: usize = 64;
const CONTINUATION: [u8; 4] = [0xff; 4];

fn pad(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

/// How a column's values lie in a body, after its validity bitmap.
#[derive(Clone, Copy)]
enum Layout {
    /// One buffer of `width` bytes per value.
    Fixed(usize),
    /// One buffer of a bit per value (booleans).
    Bits,
    /// Offsets of this many bytes each (4 or 8), then the bytes they point into.
    Offsets(usize),
}

fn layout(data_type: &DataType) -> Option<Layout> {
    match data_type {
        DataType::Boolean => Some(Layout::Bits),
        DataType::Utf8 | DataType::Binary => Some(Layout::Offsets(4)),
        DataType::LargeUtf8 | DataType::LargeBinary => Some(Layout::Offsets(8)),
        other => other.primitive_width().map(Layout::Fixed),
    }
}

/// A string or binary column's offsets, 32- or 64-bit (the layout's width).
enum Offsets<'a> {
    Narrow(&'a [i32]),
    Wide(&'a [i64]),
}

impl Offsets<'_> {
    fn of(source: &ArrayData, width: usize) -> Offsets<'_> {
        if width == 4 {
            Offsets::Narrow(source.buffer::<i32>(0))
        } else {
            Offsets::Wide(source.buffer::<i64>(0))
        }
    }

    /// Where row `r`'s bytes lie in the column's data buffer.
    fn span(&self, r: usize) -> Range<usize> {
        match self {
            Offsets::Narrow(o) => o[r] as usize..o[r + 1] as usize,
            Offsets::Wide(o) => o[r] as usize..o[r + 1] as usize,
        }
    }
}

/// A piece's stream, planned: its rows, and each column's null count and buffers' lengths.
struct Piece<'r> {
    rows: &'r [u32],
    nulls: Vec<usize>,
    /// Per column, the lengths of its buffers in body order (validity first; 0 when there
    /// are no nulls, as Arrow writes it).
    buffers: Vec<[usize; 3]>,
    /// The record-batch message (a flatbuffer).
    message: Vec<u8>,
}

impl Piece<'_> {
    fn body(&self) -> usize {
        self.buffers.iter().flatten().map(|&len| pad(len)).sum()
    }

    /// The whole stream's length, given the schema message's.
    fn len(&self, schema_message: usize) -> usize {
        pad(8 + schema_message) + pad(8 + self.message.len()) + self.body() + 8
    }
}

/// `batch`'s rows in pieces — `rows[p]` lists those of piece `p`, in order — written into one
/// block of this thread's arena and read in place from it. `None` when no arena is installed,
/// it declines the block, or a column's type is not laid out here: the caller takes the rows
/// on the heap.
pub(crate) fn take_pieces(batch: &RecordBatch, rows: &[Vec<u32>]) -> Option<Result<Vec<Value>, String>> {
    let layouts: Vec<Layout> =
        batch.schema().fields().iter().map(|f| layout(f.data_type())).collect::<Option<Vec<_>>>()?;
    let columns = batch.columns();
    // Each column's buffers, taken out once for every piece.
    let sources: Vec<ArrayData> = columns.iter().map(|c| c.to_data()).collect();
    let schema_message = IpcDataGenerator::default()
        .schema_to_bytes_with_dictionary_tracker(
            &batch.schema(),
            &mut DictionaryTracker::new(false),
            &IpcWriteOptions::default(),
        )
        .ipc_message;
    let pieces: Vec<Piece> = rows.iter().map(|rows| plan(columns, &sources, &layouts, rows)).collect();
    let total = pieces.iter().map(|p| pad(p.len(schema_message.len()))).sum::<usize>();
    let mut block = arena::block_for_overwrite(total)?;
    let bytes = block.bytes_mut();
    let mut streams: Vec<Range<usize>> = Vec::with_capacity(pieces.len());
    let mut at = 0;
    for piece in &pieces {
        let len = piece.len(schema_message.len());
        let room = &mut bytes[at..at + pad(len)];
        write(room, &schema_message, piece, columns, &sources, &layouts);
        streams.push(at..at + len);
        at += pad(len);
    }
    let frozen = block.freeze();
    Some(streams.into_iter().map(|s| crate::batch::decode(frozen.slice(s.start, s.len())).map(Value::Ext)).collect())
}

fn plan<'r>(columns: &[ArrayRef], sources: &[ArrayData], layouts: &[Layout], rows: &'r [u32]) -> Piece<'r> {
    let n = rows.len();
    let mut nulls = Vec::with_capacity(columns.len());
    let mut buffers = Vec::with_capacity(columns.len());
    for ((column, source), &layout) in columns.iter().zip(sources).zip(layouts) {
        let null_count = match column.nulls() {
            Some(mask) if mask.null_count() > 0 => rows.iter().filter(|&&r| mask.is_null(r as usize)).count(),
            _ => 0,
        };
        let validity = if null_count > 0 { n.div_ceil(8) } else { 0 };
        buffers.push(match layout {
            Layout::Fixed(width) => [validity, n * width, 0],
            Layout::Bits => [validity, n.div_ceil(8), 0],
            Layout::Offsets(width) => {
                let offsets = Offsets::of(source, width);
                [validity, (n + 1) * width, rows.iter().map(|&r| offsets.span(r as usize).len()).sum()]
            }
        });
        nulls.push(null_count);
    }
    let mut piece = Piece { rows, nulls, buffers, message: Vec::new() };
    piece.message = batch_message(&piece, layouts);
    piece
}

/// The record-batch message of a piece: its row count, a node per column, where each buffer
/// lies in the body.
fn batch_message(piece: &Piece, layouts: &[Layout]) -> Vec<u8> {
    let n = piece.rows.len() as i64;
    let nodes: Vec<arrow_ipc::FieldNode> =
        piece.nulls.iter().map(|&nulls| arrow_ipc::FieldNode::new(n, nulls as i64)).collect();
    let mut spans = Vec::new();
    let mut offset = 0;
    for (lens, layout) in piece.buffers.iter().zip(layouts) {
        let count = if matches!(layout, Layout::Offsets(_)) { 3 } else { 2 };
        for &len in &lens[..count] {
            spans.push(arrow_ipc::Buffer::new(offset as i64, len as i64));
            offset += pad(len);
        }
    }
    let mut fbb = flatbuffers::FlatBufferBuilder::new();
    let buffers = fbb.create_vector(&spans);
    let nodes = fbb.create_vector(&nodes);
    let mut batch = arrow_ipc::RecordBatchBuilder::new(&mut fbb);
    batch.add_length(n);
    batch.add_nodes(nodes);
    batch.add_buffers(buffers);
    let batch = batch.finish();
    let mut message = arrow_ipc::MessageBuilder::new(&mut fbb);
    message.add_version(arrow_ipc::MetadataVersion::V5);
    message.add_header_type(arrow_ipc::MessageHeader::RecordBatch);
    message.add_bodyLength(piece.body() as i64);
    message.add_header(batch.as_union_value());
    let root = message.finish();
    fbb.finish(root, None);
    fbb.finished_data().to_vec()
}

/// Writes a piece's whole stream into `room` (its length rounded up to [`ALIGN`]), padding
/// included: the block may hold old bytes.
fn write(
    room: &mut [u8],
    schema_message: &[u8],
    piece: &Piece,
    columns: &[ArrayRef],
    sources: &[ArrayData],
    layouts: &[Layout],
) {
    let mut at = frame_message(room, 0, schema_message);
    at = frame_message(room, at, &piece.message);
    for (((column, source), layout), lens) in columns.iter().zip(sources).zip(layouts).zip(&piece.buffers) {
        let [validity, values, data] = *lens;
        if validity > 0 {
            let mask = column.nulls().expect("a column with nulls has a mask");
            write_bits(&mut room[at..at + pad(validity)], piece.rows, |r| mask.is_valid(r));
        }
        at += pad(validity);
        let (out, rest) = room[at..].split_at_mut(pad(values));
        match *layout {
            Layout::Fixed(width) => {
                let start = source.offset() * width;
                gather_fixed(&source.buffers()[0].as_slice()[start..], width, piece.rows, out);
            }
            Layout::Bits => {
                let values = column.as_boolean().values();
                write_bits(out, piece.rows, |r| values.value(r));
            }
            Layout::Offsets(width) => {
                let offsets = Offsets::of(source, width);
                let bytes = source.buffers()[1].as_slice();
                gather_spans(bytes, |r| offsets.span(r), width, piece.rows, out, &mut rest[..pad(data)]);
            }
        }
        at += pad(values) + pad(data);
    }
    // End of stream: a continuation marker and a zero length.
    room[at..at + 4].copy_from_slice(&CONTINUATION);
    room[at + 4..].fill(0);
}

/// Frames one message at `at` (continuation marker, padded length, the flatbuffer, zeros to
/// the next aligned offset); returns where the next part starts.
fn frame_message(room: &mut [u8], at: usize, message: &[u8]) -> usize {
    let end = at + pad(8 + message.len());
    room[at..at + 4].copy_from_slice(&CONTINUATION);
    room[at + 4..at + 8].copy_from_slice(&((end - at - 8) as i32).to_le_bytes());
    room[at + 8..at + 8 + message.len()].copy_from_slice(message);
    room[at + 8 + message.len()..end].fill(0);
    end
}

/// A bit per row, least significant first, set where `set(row)`; zeros to the end of `out`.
fn write_bits(out: &mut [u8], rows: &[u32], set: impl Fn(usize) -> bool) {
    out.fill(0);
    for (i, &r) in rows.iter().enumerate() {
        if set(r as usize) {
            out[i / 8] |= 1 << (i % 8);
        }
    }
}

/// The `width`-byte values at `rows` of `source`, one after another; zeros to the end of
/// `out`.
fn gather_fixed(source: &[u8], width: usize, rows: &[u32], out: &mut [u8]) {
    fn gather<const W: usize>(source: &[u8], rows: &[u32], out: &mut [u8]) {
        for (o, &r) in out.chunks_exact_mut(W).zip(rows) {
            let at = r as usize * W;
            o.copy_from_slice(&source[at..at + W]);
        }
    }
    match width {
        1 => gather::<1>(source, rows, out),
        2 => gather::<2>(source, rows, out),
        4 => gather::<4>(source, rows, out),
        8 => gather::<8>(source, rows, out),
        16 => gather::<16>(source, rows, out),
        32 => gather::<32>(source, rows, out),
        _ => {
            for (o, &r) in out.chunks_exact_mut(width).zip(rows) {
                let at = r as usize * width;
                o.copy_from_slice(&source[at..at + width]);
            }
        }
    }
    out[rows.len() * width..].fill(0);
}

/// A string or binary column's `rows` (`span(row)`: where a row's bytes lie in `bytes`):
/// their offsets (from 0, `width` bytes each) and bytes; zeros to the end of both.
fn gather_spans(
    bytes: &[u8],
    span: impl Fn(usize) -> Range<usize>,
    width: usize,
    rows: &[u32],
    offsets: &mut [u8],
    data: &mut [u8],
) {
    let mut put_offset = |i: usize, end: usize| {
        let slot = &mut offsets[i * width..(i + 1) * width];
        if width == 4 {
            slot.copy_from_slice(&(end as i32).to_le_bytes());
        } else {
            slot.copy_from_slice(&(end as i64).to_le_bytes());
        }
    };
    let mut end = 0usize;
    put_offset(0, 0);
    for (i, &r) in rows.iter().enumerate() {
        let s = span(r as usize);
        data[end..end + s.len()].copy_from_slice(&bytes[s.clone()]);
        end += s.len();
        put_offset(i + 1, end);
    }
    offsets[(rows.len() + 1) * width..].fill(0);
    data[end..].fill(0);
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::{Decimal128Type, Int64Type};
    use arrow_array::{
        BooleanArray, Date32Array, Float64Array, LargeStringArray, PrimitiveArray, StringArray, UInt32Array,
    };
    use proptest::prelude::*;
    use rask_graph::arena::with_arena;
    use rask_store::{Namespace, ShmArena};

    use super::*;

    /// `n` rows of every laid-out kind, nulls sprinkled by `seed`.
    fn batch(n: usize, seed: u64) -> RecordBatch {
        let mut state = seed | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut draws: Vec<u64> = (0..n).map(|_| next()).collect();
        let some = |x: u64| x % 5 != 0;
        let ints: PrimitiveArray<Int64Type> = draws.iter().map(|&x| some(x).then_some(x as i64 >> 3)).collect();
        let floats: Float64Array = draws.iter().map(|&x| Some(x as f64 / 7.0)).collect();
        let words: StringArray = draws.iter().map(|&x| some(x >> 8).then(|| "ab".repeat((x % 9) as usize))).collect();
        let flags: BooleanArray = draws.iter().map(|&x| some(x >> 16).then_some(x & 1 == 1)).collect();
        let dates: Date32Array = draws.iter().map(|&x| Some((x % 20_000) as i32)).collect();
        draws.reverse();
        let long: LargeStringArray = draws.iter().map(|&x| some(x).then(|| format!("{x:x}"))).collect();
        let money: PrimitiveArray<Decimal128Type> = draws
            .iter()
            .map(|&x| some(x >> 4).then_some(x as i128 * 1000))
            .collect::<PrimitiveArray<Decimal128Type>>()
            .with_precision_and_scale(38, 3)
            .unwrap();
        RecordBatch::try_from_iter([
            ("ints", Arc::new(ints) as ArrayRef),
            ("floats", Arc::new(floats)),
            ("words", Arc::new(words)),
            ("flags", Arc::new(flags)),
            ("dates", Arc::new(dates)),
            ("long", Arc::new(long)),
            ("money", Arc::new(money)),
        ])
        .unwrap()
    }

    fn in_place(batch: &RecordBatch, rows: &[Vec<u32>]) -> Option<Vec<Value>> {
        let namespace = Arc::new(Namespace::new("frame-image"));
        let arena = Arc::new(ShmArena::new(namespace, 1));
        with_arena(arena, || take_pieces(batch, rows)).map(|pieces| pieces.unwrap())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Against `take`, the straightforward way: the same rows, values, nulls and schema,
        /// for any split of any slice of a batch (offsets into its buffers included).
        #[test]
        fn pieces_written_in_place_equal_pieces_taken(
            n in 0usize..400, skip in 0usize..20, parts in 1usize..7, seed in any::<u64>()
        ) {
            let source = batch(n + skip, seed).slice(skip, n);
            let mut rows = vec![Vec::new(); parts];
            for r in 0..n {
                rows[(r * 7 + seed as usize % 13) % parts].push(r as u32);
            }
            let pieces = in_place(&source, &rows).expect("every column is laid out here");
            prop_assert_eq!(pieces.len(), parts);
            for (piece, rows) in pieces.iter().zip(&rows) {
                let expected = arrow_select::take::take_record_batch(&source, &UInt32Array::from(rows.clone())).unwrap();
                let Value::Ext(e) = piece else { panic!("a batch") };
                prop_assert!(e.encoded_source().is_some(), "read in place from the block");
                // Its size is its stream's, not every buffer's claim to the whole stream.
                prop_assert!(e.nbytes() < expected.get_array_memory_size() + 2048, "{} bytes", e.nbytes());
                prop_assert_eq!(crate::batch::from_value("test", piece).unwrap(), &expected);
            }
        }
    }

    #[test]
    fn without_an_arena_or_with_a_type_not_laid_out_the_heap_takes_it() {
        let source = batch(10, 3);
        let rows = vec![vec![0, 2, 4], vec![1, 3]];
        assert!(take_pieces(&source, &rows).is_none(), "no arena on this thread");
        let nested = RecordBatch::try_from_iter([(
            "tags",
            Arc::new(arrow_array::ListArray::from_iter_primitive::<Int64Type, _, _>(vec![Some(vec![Some(1)]); 5]))
                as ArrayRef,
        )])
        .unwrap();
        assert!(in_place(&nested, &rows).is_none(), "lists are not laid out here");
    }
}
