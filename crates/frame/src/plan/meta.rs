//! What a frame knows before it runs: its output schema (Dask's `meta`) and a size estimate
//! for planning joins. Schemas come from the sources' metadata and from running each
//! operation's kernel on an empty batch, so they agree with what compute produces.

use std::fs::File;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rask_graph::Registry;

use crate::batch::{from_value, to_value};
use crate::kernels::{apply_ops, PartitionOp};
use crate::plan::logical::ScanSource;
use crate::plan::physical::{Physical, Source};
use crate::FrameError;

impl Physical {
    /// The schema every partition has, known without computing: from file metadata and the
    /// operations. A missing column or a type error in an expression shows up here, before
    /// anything runs. A mapped function without a given `meta` is called on an empty batch.
    pub fn schema(&self) -> Result<SchemaRef, FrameError> {
        let mut batch = RecordBatch::new_empty(self.source_schema()?);
        for run in self.ops.split_inclusive(|op| matches!(op, PartitionOp::Map { .. })) {
            match run.split_last() {
                Some((PartitionOp::Map { function, meta }, rest)) => {
                    batch = apply_ops(batch, rest)?;
                    batch = match meta {
                        Some(schema) => RecordBatch::new_empty(schema.clone()),
                        None => infer_map(function, batch)?,
                    };
                }
                _ => batch = apply_ops(batch, run)?,
            }
        }
        Ok(batch.schema())
    }

    fn source_schema(&self) -> Result<SchemaRef, FrameError> {
        Ok(match &self.source {
            Source::Scan(ScanSource::Parquet { parts: files, hive }) => {
                let path = files[0].0.display().to_string();
                let fail = |cause: String| FrameError::File { path: path.clone(), cause };
                let file = File::open(&files[0].0).map_err(|e| fail(e.to_string()))?;
                let schema =
                    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| fail(e.to_string()))?.schema().clone();
                match hive {
                    // Partition columns after the file's own.
                    Some(h) => {
                        let mut fields: Vec<arrow_schema::FieldRef> = schema.fields().iter().cloned().collect();
                        fields.extend(
                            h.columns.iter().map(|(n, t)| Arc::new(arrow_schema::Field::new(n, t.arrow(), true))),
                        );
                        Arc::new(arrow_schema::Schema::new(fields))
                    }
                    None => schema,
                }
            }
            Source::Scan(ScanSource::Csv { spec, .. }) => crate::csv::schema(&spec.columns),
            Source::Scan(ScanSource::Batches(b)) => match b.first() {
                Some(b) => b.schema(),
                None => return Err(FrameError::Type("a frame with no partitions has no schema".into())),
            },
            Source::Scan(ScanSource::Held(h)) => {
                h.schema.clone().ok_or_else(|| FrameError::Type("a persisted frame of unknown schema".into()))?
            }
            Source::Subset { input, .. }
            | Source::Repartitioned { input, .. }
            | Source::Resized { input, .. }
            | Source::Shuffled { input, .. }
            | Source::TopN { input, .. }
            | Source::Limit { input, .. } => input.schema()?,
            Source::Grouped { input, spec, .. } => {
                let empty = RecordBatch::new_empty(input.schema()?);
                let partial = crate::groupby::partial(&empty, &spec.keys, &spec.aggs)?;
                let merged = crate::groupby::merge(&[partial], &spec.keys, &spec.aggs)?;
                crate::groupby::finish(&merged, &spec.keys, &spec.aggs, spec.sorted)?.schema()
            }
            Source::Join { left, right, spec, .. } => {
                let (l, r) = (RecordBatch::new_empty(left.schema()?), RecordBatch::new_empty(right.schema()?));
                crate::join::join(&l, &r, spec)?.schema()
            }
            Source::Union { inputs } => {
                let Some(first) = inputs.first() else {
                    return Err(FrameError::Type("concat of no frames".into()));
                };
                let schema = first.schema()?;
                for (i, other) in inputs.iter().enumerate().skip(1) {
                    let theirs = other.schema()?;
                    let columns = |s: &arrow_schema::Schema| {
                        s.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect::<Vec<_>>()
                    };
                    if columns(&schema) != columns(&theirs) {
                        return Err(FrameError::Type(format!(
                            "concat: frame {i} has columns {:?}, the first has {:?}",
                            columns(&theirs),
                            columns(&schema)
                        )));
                    }
                }
                schema
            }
        })
    }
}

/// A mapped function's output on an empty batch: its schema.
fn infer_map(function: &str, empty: RecordBatch) -> Result<RecordBatch, FrameError> {
    let registry = Registry::new();
    let f = registry
        .get(function)
        .ok_or_else(|| FrameError::Type(format!("map_partitions: no registered function {function:?}")))?;
    let out = f.call(&[to_value(empty)]).map_err(|e| {
        FrameError::Type(format!(
            "map_partitions({function}) failed on an empty batch ({e}); give its output schema with map_partitions_with_meta"
        ))
    })?;
    Ok(from_value(function, &out).map_err(|e| FrameError::Type(e.to_string()))?.clone())
}
