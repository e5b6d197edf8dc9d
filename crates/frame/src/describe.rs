//! `Frame::describe`: pandas' summary statistics, from one keyless aggregate (a single pass
//! over the data) turned into a row per statistic.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use rask_exec::Executor;

use crate::{col, Frame, FrameError, GroupAgg};

const STATISTICS: [(&str, GroupAgg); 8] = [
    ("count", GroupAgg::Count),
    ("mean", GroupAgg::Mean),
    ("std", GroupAgg::Std),
    ("min", GroupAgg::Min),
    ("25%", GroupAgg::Quantile(0.25)),
    ("50%", GroupAgg::Median),
    ("75%", GroupAgg::Quantile(0.75)),
    ("max", GroupAgg::Max),
];

pub(crate) fn describe(frame: &Frame, executor: &dyn Executor) -> Result<RecordBatch, FrameError> {
    let schema = frame.schema()?;
    let numeric: Vec<String> =
        schema.fields().iter().filter(|f| f.data_type().is_numeric()).map(|f| f.name().clone()).collect();
    if numeric.is_empty() {
        return Err(FrameError::Type("describe: the frame has no numeric column".into()));
    }
    let name = |c: &str, s: &str| format!("{c}\u{1f}{s}");
    let outputs: Vec<(String, crate::Expr, GroupAgg)> = numeric
        .iter()
        .flat_map(|c| STATISTICS.iter().map(move |(s, agg)| (name(c, s), col(c).cast(crate::Type::Float64), *agg)))
        .collect();
    let borrowed: Vec<(&str, crate::Expr, GroupAgg)> =
        outputs.iter().map(|(n, e, a)| (n.as_str(), e.clone(), *a)).collect();
    let row = frame.groupby(&[]).aggregate(&borrowed).compute(executor)?;
    let mut fields = vec![Field::new("statistic", DataType::Utf8, false)];
    let mut columns: Vec<ArrayRef> =
        vec![Arc::new(StringArray::from(STATISTICS.iter().map(|(s, _)| *s).collect::<Vec<_>>()))];
    for c in &numeric {
        let values: Float64Array = STATISTICS
            .iter()
            .map(|(s, _)| {
                let cell = crate::column(&row, &name(c, s))?;
                let cell = arrow_cast::cast(&cell, &DataType::Float64)?;
                let cell = cell.as_primitive::<Float64Type>();
                Ok(cell.iter().next().flatten())
            })
            .collect::<Result<_, FrameError>>()?;
        fields.push(Field::new(c, DataType::Float64, true));
        columns.push(Arc::new(values));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}
