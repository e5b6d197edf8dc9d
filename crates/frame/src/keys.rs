//! Key columns — of group-bys, joins and hash shuffles — as comparable bytes, for every Arrow
//! type (Arrow's row format), after one rule makes equal values of different types equal:
//!
//! | key type                                       | compared as |
//! |------------------------------------------------|-------------|
//! | Int8–Int64, UInt8–UInt32                        | Int64       |
//! | Float32, Float64                               | Float64     |
//! | Utf8, LargeUtf8, Utf8View, Dictionary of those | Utf8        |
//! | anything else (Decimal128, Date32, Timestamp…) | itself      |
//!
//! Two join keys must meet at the same compared type ([`join_key_type`]); an int64 key and a
//! string key are refused, never silently matched to nothing.

use arrow_array::{Array, ArrayRef};
use arrow_row::{RowConverter, Rows, SortField};
use arrow_schema::DataType;

use crate::FrameError;

/// The type a key of type `t` is compared as (see the module's table).
pub(crate) fn key_type(t: &DataType) -> DataType {
    use DataType::*;
    match t {
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 => Int64,
        Float16 | Float32 | Float64 => Float64,
        Utf8 | LargeUtf8 | Utf8View => Utf8,
        Dictionary(_, value) => key_type(value),
        other => other.clone(),
    }
}

/// `a` as its key type.
pub(crate) fn canonical(a: &ArrayRef) -> Result<ArrayRef, FrameError> {
    let to = key_type(a.data_type());
    if &to == a.data_type() {
        return Ok(a.clone());
    }
    Ok(arrow_cast::cast(a, &to)?)
}

/// The type two join keys meet at, or an error naming both sides.
pub(crate) fn join_key_type(left: (&str, &DataType), right: (&str, &DataType)) -> Result<DataType, FrameError> {
    let (l, r) = (key_type(left.1), key_type(right.1));
    if l == r || *left.1 == DataType::Null || *right.1 == DataType::Null {
        return Ok(l);
    }
    Err(FrameError::Type(format!(
        "join keys {:?} ({}) and {:?} ({}) have different types; cast one side first (e.g. with_column(.., col(..).cast(..)))",
        left.0, left.1, right.0, right.1
    )))
}

/// The rows of `columns` (already canonical) in Arrow's row format: equal keys give equal bytes.
pub(crate) fn rows(columns: &[ArrayRef]) -> Result<Rows, FrameError> {
    let fields = columns.iter().map(|c| SortField::new(c.data_type().clone())).collect();
    let converter = RowConverter::new(fields)?;
    Ok(converter.convert_columns(columns)?)
}

/// Whether any of `columns` is null at `row`.
pub(crate) fn any_null(columns: &[ArrayRef], row: usize) -> bool {
    columns.iter().any(|c| c.is_null(row))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::types::Int32Type;
    use arrow_array::{DictionaryArray, Int32Array, Int64Array, StringArray, StringViewArray};

    use super::*;

    #[test]
    fn equal_values_of_different_types_give_equal_bytes() {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![7, 8]));
        let b: ArrayRef = Arc::new(Int64Array::from(vec![8, 7]));
        let (ra, rb) = (rows(&[canonical(&a).unwrap()]).unwrap(), rows(&[canonical(&b).unwrap()]).unwrap());
        assert_eq!(ra.row(0).as_ref(), rb.row(1).as_ref());
        assert_ne!(ra.row(0).as_ref(), rb.row(0).as_ref());

        let s: ArrayRef = Arc::new(StringArray::from(vec!["x", "y"]));
        let v: ArrayRef = Arc::new(StringViewArray::from(vec!["y", "x"]));
        let d: ArrayRef = Arc::new(DictionaryArray::<Int32Type>::from_iter(["x", "y"]));
        let rs = rows(&[canonical(&s).unwrap()]).unwrap();
        let rv = rows(&[canonical(&v).unwrap()]).unwrap();
        let rd = rows(&[canonical(&d).unwrap()]).unwrap();
        assert_eq!(rs.row(0).as_ref(), rv.row(1).as_ref());
        assert_eq!(rs.row(1).as_ref(), rd.row(1).as_ref());
    }

    #[test]
    fn an_int_key_and_a_string_key_do_not_meet() {
        let e = join_key_type(("a", &DataType::Int64), ("b", &DataType::Utf8)).unwrap_err();
        assert!(e.to_string().contains("\"a\" (Int64) and \"b\" (Utf8)"), "{e}");
        assert_eq!(join_key_type(("a", &DataType::Int32), ("b", &DataType::UInt8)).unwrap(), DataType::Int64);
    }
}
