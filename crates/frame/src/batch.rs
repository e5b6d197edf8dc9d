//! Record batches as task values: an [`ExtValue`] that travels between threads by reference and
//! between processes in Arrow's IPC stream format. Decoding reads the bytes in place: when they
//! live in a shared-memory segment (a large batch handed between worker processes), the
//! batch's columns point into the mapping and nothing is copied; passing the batch on to
//! another process sends the segment's name again.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;
use rask_graph::ext::{Ext, ExtValue};
use rask_graph::{register_ext, Buffer, TaskError, Value};

const TYPE_NAME: &str = "arrow.RecordBatch";

/// One partition of a frame, with the encoded bytes it was decoded from (and reads in place).
pub struct Batch(pub RecordBatch, Option<Buffer>);

impl ExtValue for Batch {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn nbytes(&self) -> usize {
        // Decoded in place, every column's buffers report the whole stream they point into as
        // their capacity (Arrow knows only the custom allocation's size): the stream's length
        // is what the batch holds.
        match &self.1 {
            Some(source) => source.len(),
            None => self.0.get_array_memory_size(),
        }
    }

    fn encode(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        self.encode_to(&mut out)?;
        Ok(out)
    }

    fn encode_to(&self, out: &mut dyn std::io::Write) -> Result<(), String> {
        let mut writer = StreamWriter::try_new(out, &self.0.schema()).map_err(|e| e.to_string())?;
        writer.write(&self.0).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())
    }

    fn eq_ext(&self, other: &dyn ExtValue) -> bool {
        other.as_any().downcast_ref::<Batch>().is_some_and(|o| o.0 == self.0)
    }

    fn fmt_repr(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let schema = self.0.schema();
        let columns: Vec<String> = schema.fields().iter().map(|c| format!("{}: {}", c.name(), c.data_type())).collect();
        write!(f, "RecordBatch(rows={}, columns=[{}])", self.0.num_rows(), columns.join(", "))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn encoded_source(&self) -> Option<&Buffer> {
        self.1.as_ref()
    }
}

/// Keeps the bytes an Arrow buffer points into alive (Arrow wants an unwind-safe owner).
struct Keep(#[allow(dead_code)] std::panic::AssertUnwindSafe<Buffer>);

pub(crate) fn decode(bytes: Buffer) -> Result<Ext, String> {
    let slice = bytes.as_slice();
    let ptr = std::ptr::NonNull::new(slice.as_ptr().cast_mut()).ok_or("a null buffer")?;
    // SAFETY: `ptr..ptr+len` is `bytes`' memory, immutable and alive while `Keep` holds it.
    let mut arrow = unsafe {
        arrow_buffer::Buffer::from_custom_allocation(
            ptr,
            slice.len(),
            Arc::new(Keep(std::panic::AssertUnwindSafe(bytes.clone()))),
        )
    };
    let mut decoder = StreamDecoder::new();
    let batch = decoder.decode(&mut arrow).map_err(|e| e.to_string())?.ok_or("an IPC stream without a batch")?;
    Ok(Ext::new(Batch(batch, Some(bytes))))
}

register_ext!(TYPE_NAME, decode);

/// A batch as a task value.
pub fn to_value(batch: RecordBatch) -> Value {
    Value::Ext(Ext::new(Batch(batch, None)))
}

/// The batch inside a task argument, or a `TypeError` naming what it was.
pub fn from_value<'v>(func: &str, v: &'v Value) -> Result<&'v RecordBatch, TaskError> {
    match v {
        Value::Ext(e) => e.downcast_ref::<Batch>().map(|b| &b.0),
        _ => None,
    }
    .ok_or_else(|| TaskError::type_error(format!("{func}(): expected a record batch, got {}", v.type_name())))
}
