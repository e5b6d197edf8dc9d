//! Record batches as task values: an [`ExtValue`] that travels between threads by reference and
//! between processes in Arrow's IPC stream format.

use std::any::Any;
use std::fmt;
use std::io::Cursor;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use rask_graph::ext::{Ext, ExtValue};
use rask_graph::{register_ext, Buffer, TaskError, Value};

const TYPE_NAME: &str = "arrow.RecordBatch";

/// One partition of a frame.
pub struct Batch(pub RecordBatch);

impl ExtValue for Batch {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn nbytes(&self) -> usize {
        self.0.get_array_memory_size()
    }

    fn encode(&self) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        let mut writer = StreamWriter::try_new(&mut out, &self.0.schema()).map_err(|e| e.to_string())?;
        writer.write(&self.0).map_err(|e| e.to_string())?;
        writer.finish().map_err(|e| e.to_string())?;
        drop(writer);
        Ok(out)
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
}

fn decode(bytes: Buffer) -> Result<Ext, String> {
    let mut reader = StreamReader::try_new(Cursor::new(bytes.as_slice()), None).map_err(|e| e.to_string())?;
    let batch = reader.next().ok_or("an IPC stream without a batch")?.map_err(|e| e.to_string())?;
    Ok(Ext::new(Batch(batch)))
}

register_ext!(TYPE_NAME, decode);

/// A batch as a task value.
pub fn to_value(batch: RecordBatch) -> Value {
    Value::Ext(Ext::new(Batch(batch)))
}

/// The batch inside a task argument, or a `TypeError` naming what it was.
pub fn from_value<'v>(func: &str, v: &'v Value) -> Result<&'v RecordBatch, TaskError> {
    match v {
        Value::Ext(e) => e.downcast_ref::<Batch>().map(|b| &b.0),
        _ => None,
    }
    .ok_or_else(|| TaskError::type_error(format!("{func}(): expected a record batch, got {}", v.type_name())))
}
