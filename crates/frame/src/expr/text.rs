//! String functions. Inputs of any string type (utf8, large utf8, utf8 view, a dictionary of
//! strings) are read as utf8; results are utf8, booleans or int64.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, BooleanArray, Int64Array, RecordBatch, Scalar, StringArray};
use arrow_schema::DataType;

use super::eval::Evaluated;
use super::{Expr, StrFn};
use crate::FrameError;

/// `a` as utf8, or an error naming the function that needed a string.
fn utf8(a: &ArrayRef, what: &str) -> Result<ArrayRef, FrameError> {
    match crate::keys::key_type(a.data_type()) {
        DataType::Utf8 if a.data_type() == &DataType::Utf8 => Ok(a.clone()),
        DataType::Utf8 => Ok(arrow_cast::cast(a, &DataType::Utf8)?),
        // A null literal is a null string.
        _ if a.data_type() == &DataType::Null => Ok(arrow_array::new_null_array(&DataType::Utf8, a.len())),
        other => Err(FrameError::Type(format!("{what} needs strings, got {other}"))),
    }
}

fn pattern(p: &str) -> Scalar<StringArray> {
    Scalar::new(StringArray::from(vec![p]))
}

/// Each string mapped by `f` (nulls stay null).
fn map_strings(a: &ArrayRef, mut f: impl FnMut(&str) -> String) -> ArrayRef {
    Arc::new(a.as_string::<i32>().iter().map(|s| s.map(&mut f)).collect::<StringArray>())
}

pub(super) fn apply(f: &StrFn, a: &ArrayRef) -> Result<ArrayRef, FrameError> {
    let s = utf8(a, f.name())?;
    let boolean =
        |r: Result<BooleanArray, arrow_schema::ArrowError>| -> Result<ArrayRef, FrameError> { Ok(Arc::new(r?)) };
    match f {
        StrFn::Contains(p) => boolean(arrow_string::like::contains(&s, &pattern(p))),
        StrFn::StartsWith(p) => boolean(arrow_string::like::starts_with(&s, &pattern(p))),
        StrFn::EndsWith(p) => boolean(arrow_string::like::ends_with(&s, &pattern(p))),
        StrFn::Like(p) => boolean(arrow_string::like::like(&s, &pattern(p))),
        StrFn::ILike(p) => boolean(arrow_string::like::ilike(&s, &pattern(p))),
        StrFn::Regex(r) => {
            // Compiled once here, so a bad pattern is reported as the user's pattern.
            regex::Regex::new(r).map_err(|e| FrameError::Type(format!("bad regular expression {r:?}: {e}")))?;
            boolean(arrow_string::regexp::regexp_is_match_scalar(s.as_string::<i32>(), r, None))
        }
        StrFn::Substring { start, len } => {
            Ok(Arc::new(arrow_string::substring::substring_by_char(s.as_string::<i32>(), *start, *len)?))
        }
        StrFn::Len => Ok(Arc::new(
            s.as_string::<i32>().iter().map(|v| v.map(|v| v.chars().count() as i64)).collect::<Int64Array>(),
        )),
        StrFn::Upper => Ok(map_strings(&s, str::to_uppercase)),
        StrFn::Lower => Ok(map_strings(&s, str::to_lowercase)),
        StrFn::Strip => Ok(map_strings(&s, |v| v.trim().to_owned())),
        StrFn::Replace { from, to } => {
            if from.is_empty() {
                return Err(FrameError::Type("replace: the text to replace is empty".into()));
            }
            Ok(map_strings(&s, |v| v.replace(from.as_str(), to)))
        }
    }
}

/// `||` of the expressions' values, each read as a string (numbers and dates as Arrow writes
/// them).
pub(super) fn concat(exprs: &[Expr], batch: &RecordBatch) -> Result<Evaluated, FrameError> {
    let mut parts = Vec::new();
    for e in exprs {
        let v = e.eval(batch)?;
        let text = match crate::keys::key_type(v.array.data_type()) {
            DataType::Utf8 => utf8(&v.array, "concat")?,
            _ => arrow_cast::cast(&v.array, &DataType::Utf8)?,
        };
        parts.push(Evaluated { array: text, scalar: v.scalar });
    }
    let scalar = parts.iter().all(|p| p.scalar);
    let rows = if scalar { 1 } else { batch.num_rows() };
    let mut out: Option<StringArray> = None;
    for p in parts {
        let next = p.broadcast(rows)?;
        let next = next.as_string::<i32>();
        out = Some(match out {
            None => next.clone(),
            Some(acc) => arrow_string::concat_elements::concat_elements_utf8(&acc, next)?,
        });
    }
    let array: ArrayRef = Arc::new(out.unwrap_or_else(|| StringArray::from(vec![""; rows])));
    Ok(Evaluated { array, scalar })
}
