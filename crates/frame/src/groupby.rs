//! Group-by as a tree reduction: each partition is grouped into a *partial* batch (keys plus
//! count/sum/min/max/first/last states per aggregated column), partials are merged `SPLIT_EVERY`
//! at a time by grouping them again, and the root turns states into the requested columns.
//!
//! Grouping hashes each row's key columns encoded as bytes (a one-column int64 key takes a
//! faster path), so any mix of int, float, bool and string keys works, nulls included (a null
//! key is a group of its own, as with pandas' `dropna=False`).

use std::cmp::Ordering;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Float64Type, Int64Type};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Field, Schema};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::kernels::Agg;
use crate::{column, FrameError};

/// One output column: `agg` of input `column`, named `name`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AggSpec {
    pub column: String,
    pub agg: GroupAgg,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum GroupAgg {
    Count,
    Sum,
    Mean,
    Min,
    Max,
    First,
    Last,
    /// Sample variance (`n - 1` in the denominator, as pandas), from count, sum and sum of
    /// squares, in float64.
    Var,
    /// Sample standard deviation.
    Std,
    /// Rows in the group, nulls included.
    Size,
    /// The value of the group's first row, null or not (`First` skips nulls, as pandas'
    /// `groupby().first()`; this is `drop_duplicates`' first row).
    FirstRow,
    /// Whether any (non-null) value is true.
    Any,
    /// Whether every (non-null) value is true.
    All,
    /// The middle value (exact: the group's values meet in its final task).
    Median,
    /// The `q` quantile (0 to 1), interpolated linearly as pandas does.
    Quantile(f64),
}

impl From<Agg> for GroupAgg {
    fn from(a: Agg) -> GroupAgg {
        match a {
            Agg::Count => GroupAgg::Count,
            Agg::Sum => GroupAgg::Sum,
            Agg::Mean => GroupAgg::Mean,
            Agg::Min => GroupAgg::Min,
            Agg::Max => GroupAgg::Max,
        }
    }
}

/// Rows grouped by key: each row's group, and each group's first row (groups numbered in
/// order of first appearance). One `u32` per row, not a list per group: with millions of
/// groups, per-group allocations would dominate.
pub(crate) struct Groups {
    of_row: Vec<u32>,
    firsts: Vec<u32>,
}

impl Groups {
    fn len(&self) -> usize {
        self.firsts.len()
    }

    fn first_rows(&self) -> UInt32Array {
        UInt32Array::from(self.firsts.clone())
    }
}

fn group_rows(batch: &RecordBatch, keys: &[String]) -> Result<(Groups, Vec<ArrayRef>), FrameError> {
    let columns: Vec<ArrayRef> = keys.iter().map(|k| column(batch, k)).collect::<Result<_, _>>()?;
    let rows = batch.num_rows();
    let mut groups = Groups { of_row: Vec::with_capacity(rows), firsts: Vec::new() };
    let canonical: Vec<ArrayRef> = columns.iter().map(crate::keys::canonical).collect::<Result<_, _>>()?;
    if let [only] = canonical.as_slice() {
        if let Some(ints) = only.as_primitive_opt::<Int64Type>() {
            let mut index: FxHashMap<Option<i64>, u32> = FxHashMap::default();
            for (row, key) in ints.iter().enumerate() {
                let g = *index.entry(key).or_insert_with(|| {
                    groups.firsts.push(row as u32);
                    groups.firsts.len() as u32 - 1
                });
                groups.of_row.push(g);
            }
            return Ok((groups, columns));
        }
    }
    if let [a, b] = canonical.as_slice() {
        // Two int keys (an order and a supplier, say): hashed as a pair, no row encoding.
        if let (Some(a), Some(b)) = (a.as_primitive_opt::<Int64Type>(), b.as_primitive_opt::<Int64Type>()) {
            let mut index: FxHashMap<(Option<i64>, Option<i64>), u32> = FxHashMap::default();
            for (row, key) in a.iter().zip(b.iter()).enumerate() {
                let g = *index.entry(key).or_insert_with(|| {
                    groups.firsts.push(row as u32);
                    groups.firsts.len() as u32 - 1
                });
                groups.of_row.push(g);
            }
            return Ok((groups, columns));
        }
    }
    if canonical.is_empty() {
        // No keys: every row in one group.
        groups.firsts.extend((rows > 0).then_some(0));
        groups.of_row.resize(rows, 0);
        return Ok((groups, columns));
    }
    // Any other key: Arrow's row format (nulls encode as a value of their own).
    let encoded = crate::keys::rows(&canonical)?;
    let mut index: FxHashMap<&[u8], u32> = FxHashMap::default();
    for row in 0..rows {
        let g = *index.entry(encoded.row(row).data()).or_insert_with(|| {
            groups.firsts.push(row as u32);
            groups.firsts.len() as u32 - 1
        });
        groups.of_row.push(g);
    }
    Ok((groups, columns))
}

/// The states a partial batch may carry for one aggregated input column.
const STATES: [&str; 10] = ["count", "size", "sum", "sumsq", "min", "max", "first", "first_row", "last", "values"];

fn state_name(column: &str, state: &str) -> String {
    format!("{column}\u{1f}{state}")
}

/// The states an aggregate is finished from.
fn states_of(agg: GroupAgg) -> &'static [&'static str] {
    match agg {
        GroupAgg::Count => &["count"],
        GroupAgg::Sum => &["sum"],
        GroupAgg::Mean => &["count", "sum"],
        GroupAgg::Min => &["min"],
        GroupAgg::Max => &["max"],
        GroupAgg::First => &["first"],
        GroupAgg::Last => &["last"],
        GroupAgg::Var | GroupAgg::Std => &["count", "sum", "sumsq"],
        GroupAgg::Size => &["size"],
        GroupAgg::FirstRow => &["first_row"],
        GroupAgg::Any => &["max"],
        GroupAgg::All => &["min"],
        GroupAgg::Median | GroupAgg::Quantile(_) => &["values"],
    }
}

/// Each input column once, with the states its aggregates need (in `STATES` order): only
/// those are computed and carried.
fn inputs(specs: &[AggSpec]) -> Vec<(String, Vec<&'static str>)> {
    let mut out: Vec<(String, Vec<&'static str>)> = Vec::new();
    for s in specs {
        let i = match out.iter().position(|(c, _)| *c == s.column) {
            Some(i) => i,
            None => {
                out.push((s.column.clone(), Vec::new()));
                out.len() - 1
            }
        };
        out[i].1.extend(states_of(s.agg));
    }
    for (_, states) in &mut out {
        *states = STATES.iter().copied().filter(|s| states.contains(s)).collect();
    }
    out
}

/// One partition grouped into its partial states.
pub(crate) fn partial(batch: &RecordBatch, keys: &[String], specs: &[AggSpec]) -> Result<RecordBatch, FrameError> {
    let (groups, key_columns) = group_rows(batch, keys)?;
    let mut fields = Vec::new();
    let mut out: Vec<ArrayRef> = Vec::new();
    let firsts = groups.first_rows();
    for (k, c) in keys.iter().zip(&key_columns) {
        fields.push(Field::new(k, c.data_type().clone(), true));
        out.push(arrow_select::take::take(c, &firsts, None)?);
    }
    for (input, states) in inputs(specs) {
        let raw = column(batch, &input)?;
        let arithmetic = states.iter().any(|s| matches!(*s, "sum" | "sumsq" | "min" | "max"));
        let counted = states.contains(&"count");
        let values = if arithmetic { numeric(&raw, &input, &states)? } else { raw.clone() };
        let folded_states: Vec<&str> =
            states.iter().copied().filter(|s| matches!(*s, "count" | "sum" | "min" | "max")).collect();
        let mut folded = if arithmetic {
            fold(&groups, &values, &folded_states)?.into_iter()
        } else if counted {
            vec![count_valid(&groups, &values)].into_iter()
        } else {
            Vec::new().into_iter()
        };
        for state in states {
            let array = match state {
                // pandas' first/last skip nulls.
                "first" => pick_non_null(&groups, &raw, false)?,
                "first_row" => arrow_select::take::take(&raw, &groups.first_rows(), None)?,
                "last" => pick_non_null(&groups, &raw, true)?,
                "sumsq" => {
                    let x = arrow_cast::cast(&values, &DataType::Float64)?;
                    let squares = arrow_arith::numeric::mul(&x, &x)?;
                    fold(&groups, &squares, &["sum"])?.remove(0)
                }
                "size" => {
                    let mut size = vec![0i64; groups.len()];
                    groups.of_row.iter().for_each(|&g| size[g as usize] += 1);
                    Arc::new(Int64Array::from(size))
                }
                "values" => {
                    crate::quantile::collect(&groups.of_row, groups.len(), &numeric(&raw, &input, &["values"])?)?
                }
                _ => folded.next().expect("fold gives every state asked of it"),
            };
            fields.push(Field::new(state_name(&input, state), array.data_type().clone(), true));
            out.push(array);
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), out)?)
}

/// The values aggregates compute on: every int as int64 (pandas' integer sums), decimals as
/// they are (sums exact, at precision 38), dates as they are (min and max only), other
/// numbers as float64.
fn numeric(a: &ArrayRef, name: &str, states: &[&str]) -> Result<ArrayRef, FrameError> {
    match a.data_type() {
        DataType::Int64 | DataType::Float64 | DataType::Decimal128(..) => Ok(a.clone()),
        t if t.is_integer() => Ok(arrow_cast::cast(a, &DataType::Int64)?),
        t if t.is_numeric() => Ok(arrow_cast::cast(a, &DataType::Float64)?),
        DataType::Date32 if !states.iter().any(|s| matches!(*s, "sum" | "sumsq")) => Ok(a.clone()),
        DataType::Null => Ok(arrow_cast::cast(a, &DataType::Float64)?),
        // any/all: max/min of 0 and 1.
        DataType::Boolean if !states.iter().any(|s| matches!(*s, "sum" | "sumsq")) => Ok(arrow_cast::cast(a, &DataType::Int64)?),
        t => Err(FrameError::Type(format!(
            "cannot aggregate column {name:?} of {t} that way (sum, mean, min, max, std, var need numbers; min and max also take dates)"
        ))),
    }
}

/// Non-null values per group.
fn count_valid(groups: &Groups, values: &ArrayRef) -> ArrayRef {
    let mut count = vec![0i64; groups.len()];
    for (r, &g) in groups.of_row.iter().enumerate() {
        count[g as usize] += i64::from(values.is_valid(r));
    }
    Arc::new(Int64Array::from(count))
}

/// Of count (of non-null values), sum, min and max per group over `values`, those in `wanted`
/// (in that order): one pass over the rows.
fn fold(groups: &Groups, values: &ArrayRef, wanted: &[&str]) -> Result<Vec<ArrayRef>, FrameError> {
    let n = groups.len();
    let mut count = vec![0i64; n];
    macro_rules! per_type {
        ($t:ty, $array:ty, $add:expr) => {{
            let v = values.as_primitive::<$t>();
            let zero = Default::default();
            let (mut sum, mut min, mut max) = (vec![zero; n], vec![zero; n], vec![zero; n]);
            for (r, &g) in groups.of_row.iter().enumerate() {
                if v.is_null(r) {
                    continue;
                }
                let (x, g) = (v.value(r), g as usize);
                if count[g] == 0 {
                    (sum[g], min[g], max[g]) = (x, x, x);
                } else {
                    sum[g] = $add(sum[g], x)?;
                    // As written, a NaN replaces what came before it (pandas skips NaN; we do
                    // not promise either).
                    if !matches!(min[g].partial_cmp(&x), Some(Ordering::Less | Ordering::Equal)) {
                        min[g] = x;
                    }
                    if !matches!(max[g].partial_cmp(&x), Some(Ordering::Greater | Ordering::Equal)) {
                        max[g] = x;
                    }
                }
                count[g] += 1;
            }
            let valid = |values: Vec<_>| -> ArrayRef {
                Arc::new(<$array>::from_iter(values.into_iter().zip(&count).map(|(v, &c)| (c > 0).then_some(v))))
            };
            let mut out = Vec::new();
            for state in wanted {
                match *state {
                    "sum" => out.push(valid(std::mem::take(&mut sum))),
                    "min" => out.push(valid(std::mem::take(&mut min))),
                    "max" => out.push(valid(std::mem::take(&mut max))),
                    _ => {}
                }
            }
            if wanted.contains(&"count") {
                out.insert(0, Arc::new(Int64Array::from(count)) as ArrayRef);
            }
            out
        }};
    }
    Ok(match values.data_type() {
        DataType::Int64 => per_type!(Int64Type, Int64Array, |a: i64, b: i64| a
            .checked_add(b)
            .ok_or_else(|| FrameError::Type("int64 sum overflowed".into()))),
        DataType::Date32 => per_type!(Date32Type, arrow_array::Date32Array, |a: i32, _: i32| Ok::<i32, FrameError>(a)),
        &DataType::Decimal128(p, s) => {
            let out = per_type!(Decimal128Type, arrow_array::Decimal128Array, |a: i128, b: i128| a
                .checked_add(b)
                .ok_or_else(|| FrameError::Type("decimal sum overflowed".into())));
            // Sums widen to precision 38 (as DuckDB and Spark); min and max keep the type.
            let sum_at = wanted.iter().filter(|s| **s != "count").position(|s| *s == "sum");
            let offset = usize::from(wanted.contains(&"count"));
            out.into_iter()
                .enumerate()
                .map(|(i, a)| {
                    if offset > 0 && i == 0 {
                        return Ok(a);
                    }
                    let precision = if Some(i - offset) == sum_at { 38 } else { p };
                    let d = a.as_primitive::<Decimal128Type>().clone().with_precision_and_scale(precision, s)?;
                    Ok(Arc::new(d) as ArrayRef)
                })
                .collect::<Result<Vec<_>, FrameError>>()?
        }
        _ => per_type!(Float64Type, arrow_array::Float64Array, |a: f64, b: f64| Ok::<f64, FrameError>(a + b)),
    })
}

/// Partials (in partition order) merged into one partial.
pub(crate) fn merge(partials: &[RecordBatch], keys: &[String], specs: &[AggSpec]) -> Result<RecordBatch, FrameError> {
    let Some(first) = partials.first() else {
        return Err(FrameError::Type("nothing to merge".into()));
    };
    let all = arrow_select::concat::concat_batches(&first.schema(), partials)?;
    let (groups, key_columns) = group_rows(&all, keys)?;
    let firsts = groups.first_rows();
    let mut fields = Vec::new();
    let mut out: Vec<ArrayRef> = Vec::new();
    for (k, c) in keys.iter().zip(&key_columns) {
        fields.push(Field::new(k, c.data_type().clone(), true));
        out.push(arrow_select::take::take(c, &firsts, None)?);
    }
    for (input, states) in inputs(specs) {
        let state = |s: &str| column(&all, &state_name(&input, s));
        for s in states {
            let array: ArrayRef = match s {
                "count" | "size" => {
                    let counts: Int64Array = state(s)?.as_primitive::<Int64Type>().clone();
                    let mut total = vec![0i64; groups.len()];
                    for (r, &g) in groups.of_row.iter().enumerate() {
                        total[g as usize] += counts.value(r);
                    }
                    Arc::new(Int64Array::from(total))
                }
                // Sums of sums, mins of mins, maxes of maxes.
                "sum" | "min" | "max" => fold(&groups, &state(s)?, &[s])?.remove(0),
                "sumsq" => fold(&groups, &state(s)?, &["sum"])?.remove(0),
                "values" => crate::quantile::merge(&groups.of_row, groups.len(), &state(s)?)?,
                // Partials come in partition order: a group's first row is in its first partial.
                "first_row" => arrow_select::take::take(&state(s)?, &firsts, None)?,
                // First non-null first and last non-null last, in partition order.
                "first" => pick_non_null(&groups, &state("first")?, false)?,
                _ => pick_non_null(&groups, &state("last")?, true)?,
            };
            fields.push(Field::new(state_name(&input, s), array.data_type().clone(), true));
            out.push(array);
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), out)?)
}

/// Each group's first (or last) non-null value, in row order.
fn pick_non_null(groups: &Groups, values: &ArrayRef, last: bool) -> Result<ArrayRef, FrameError> {
    let mut picks: Vec<Option<u32>> = vec![None; groups.len()];
    for (r, &g) in groups.of_row.iter().enumerate() {
        if values.is_valid(r) && (last || picks[g as usize].is_none()) {
            picks[g as usize] = Some(r as u32);
        }
    }
    Ok(arrow_select::take::take(values, &UInt32Array::from(picks), None)?)
}

/// The requested columns from a merged partial, rows sorted by key for a stable result.
pub(crate) fn finish(
    merged: &RecordBatch,
    keys: &[String],
    specs: &[AggSpec],
    sorted: bool,
) -> Result<RecordBatch, FrameError> {
    let mut fields = Vec::new();
    let mut out: Vec<ArrayRef> = Vec::new();
    for k in keys {
        let c = column(merged, k)?;
        fields.push(Field::new(k, c.data_type().clone(), true));
        out.push(c);
    }
    for spec in specs {
        let state = |s: &str| column(merged, &state_name(&spec.column, s));
        let array: ArrayRef = match spec.agg {
            GroupAgg::Count => state("count")?,
            GroupAgg::Sum => {
                // The sum of no values is 0, as in pandas.
                let sum = state("sum")?;
                arrow_cast::cast(&fill_zero(&sum)?, sum.data_type())?
            }
            GroupAgg::Mean => {
                let sum = arrow_cast::cast(&state("sum")?, &DataType::Float64)?;
                let count = arrow_cast::cast(&state("count")?, &DataType::Float64)?;
                arrow_arith::numeric::div(&sum, &count)?
            }
            GroupAgg::Min => state("min")?,
            GroupAgg::Max => state("max")?,
            GroupAgg::First => state("first")?,
            GroupAgg::Last => state("last")?,
            GroupAgg::Size => state("size")?,
            GroupAgg::FirstRow => state("first_row")?,
            GroupAgg::Any => arrow_ord::cmp::eq(&state("max")?, &arrow_array::Scalar::new(Int64Array::from(vec![1])))
                .map(|b| Arc::new(b) as ArrayRef)?,
            GroupAgg::All => arrow_ord::cmp::eq(&state("min")?, &arrow_array::Scalar::new(Int64Array::from(vec![1])))
                .map(|b| Arc::new(b) as ArrayRef)?,
            GroupAgg::Median => crate::quantile::finish(&state("values")?, 0.5)?,
            GroupAgg::Quantile(q) => crate::quantile::finish(&state("values")?, q)?,
            GroupAgg::Var | GroupAgg::Std => {
                let f =
                    |s: &str| -> Result<ArrayRef, FrameError> { Ok(arrow_cast::cast(&state(s)?, &DataType::Float64)?) };
                let (n, sum, sumsq) = (f("count")?, f("sum")?, f("sumsq")?);
                let (n, sum, sumsq) = (
                    n.as_primitive::<Float64Type>(),
                    sum.as_primitive::<Float64Type>(),
                    sumsq.as_primitive::<Float64Type>(),
                );
                let var: arrow_array::Float64Array = (0..n.len())
                    .map(|i| {
                        let (n, s, q) = (n.value(i), sum.value(i), sumsq.value(i));
                        (n > 1.0).then(|| ((q - s * s / n) / (n - 1.0)).max(0.0))
                    })
                    .collect();
                let var = Arc::new(var) as ArrayRef;
                if spec.agg == GroupAgg::Std {
                    let std: arrow_array::Float64Array = var.as_primitive::<Float64Type>().unary(f64::sqrt);
                    Arc::new(std)
                } else {
                    var
                }
            }
        };
        fields.push(Field::new(&spec.name, array.data_type().clone(), true));
        out.push(array);
    }
    if keys.is_empty() && merged.num_rows() == 0 {
        // An aggregate of no rows without keys is still one row (SQL's rule): counts of 0,
        // every other aggregate null.
        out = specs
            .iter()
            .zip(&fields)
            .map(|(spec, f)| match spec.agg {
                GroupAgg::Count | GroupAgg::Size => Arc::new(Int64Array::from(vec![0])) as ArrayRef,
                _ => arrow_array::new_null_array(f.data_type(), 1),
            })
            .collect();
    }
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        out,
        &arrow_array::RecordBatchOptions::new().with_row_count(Some(if keys.is_empty() {
            1
        } else {
            merged.num_rows()
        })),
    )?;
    if !sorted {
        return Ok(batch);
    }
    sort_by_keys(&batch, keys.len())
}

fn fill_zero(sum: &ArrayRef) -> Result<ArrayRef, FrameError> {
    Ok(match sum.data_type() {
        &DataType::Decimal128(p, s) => Arc::new(
            arrow_array::Decimal128Array::from(
                sum.as_primitive::<Decimal128Type>().iter().map(|v| v.unwrap_or(0)).collect::<Vec<_>>(),
            )
            .with_precision_and_scale(p, s)?,
        ),
        DataType::Int64 => Arc::new(Int64Array::from(
            sum.as_primitive::<Int64Type>().iter().map(|v| v.unwrap_or(0)).collect::<Vec<_>>(),
        )),
        _ => Arc::new(arrow_array::Float64Array::from(
            sum.as_primitive::<Float64Type>().iter().map(|v| v.unwrap_or(0.0)).collect::<Vec<_>>(),
        )),
    })
}

fn sort_by_keys(batch: &RecordBatch, nkeys: usize) -> Result<RecordBatch, FrameError> {
    if nkeys == 0 {
        return Ok(batch.clone());
    }
    let columns: Vec<arrow_ord::sort::SortColumn> = batch
        .columns()
        .iter()
        .take(nkeys)
        // Nulls last, as `sort_by` and pandas' `groupby(dropna=False)` put them.
        .map(|c| arrow_ord::sort::SortColumn {
            values: c.clone(),
            options: Some(arrow_schema::SortOptions { descending: false, nulls_first: false }),
        })
        .collect();
    let order = arrow_ord::sort::lexsort_to_indices(&columns, None)?;
    Ok(arrow_select::take::take_record_batch(batch, &order)?)
}

/// What a group-by task needs to know: the key columns and the output columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupSpec {
    pub keys: Vec<String>,
    pub aggs: Vec<AggSpec>,
    /// Whether the groups come out sorted by key: with one output partition (the whole result
    /// in order, as pandas gives it); with `split_out` the partitions are hash ranges and
    /// sorting each would buy nothing.
    pub sorted: bool,
}

mod tasks {
    use rask_graph::{register, Arity, TaskError, Value};

    use super::GroupSpec;
    use crate::batch::{from_value, to_value};
    use crate::kernels::{decode, frame_error};

    fn partial(args: &[Value]) -> Result<Value, TaskError> {
        let batch = from_value("frame_groupby_partial", &args[0])?;
        let spec: GroupSpec = decode("frame_groupby_partial", &args[1])?;
        super::partial(batch, &spec.keys, &spec.aggs).map(to_value).map_err(|e| frame_error("frame_groupby_partial", e))
    }

    fn merge(args: &[Value]) -> Result<Value, TaskError> {
        let items = args[0].as_seq().ok_or_else(|| TaskError::type_error("frame_groupby_merge(): expected a list"))?;
        let spec: GroupSpec = decode("frame_groupby_merge", &args[1])?;
        let batches =
            items.iter().map(|v| from_value("frame_groupby_merge", v).cloned()).collect::<Result<Vec<_>, _>>()?;
        super::merge(&batches, &spec.keys, &spec.aggs).map(to_value).map_err(|e| frame_error("frame_groupby_merge", e))
    }

    fn finish(args: &[Value]) -> Result<Value, TaskError> {
        let batch = from_value("frame_groupby_finish", &args[0])?;
        let spec: GroupSpec = decode("frame_groupby_finish", &args[1])?;
        super::finish(batch, &spec.keys, &spec.aggs, spec.sorted)
            .map(to_value)
            .map_err(|e| frame_error("frame_groupby_finish", e))
    }

    register!("frame_groupby_partial", Arity::Exact(2), partial);
    register!("frame_groupby_merge", Arity::Exact(2), merge);
    register!("frame_groupby_finish", Arity::Exact(2), finish);
}
