//! The `values` state of group-by medians and quantiles: every non-null value of a group, as
//! a list (exact, as pandas computes them, so the group's values all meet in its final task).

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, ListArray};
use arrow_schema::DataType;

use crate::FrameError;

/// Per group (`of_row[r]` is row `r`'s group of `groups`), the list of its non-null values.
pub(crate) fn collect(of_row: &[u32], groups: usize, values: &ArrayRef) -> Result<ArrayRef, FrameError> {
    let values = arrow_cast::cast(values, &DataType::Float64)?;
    let values = values.as_primitive::<Float64Type>();
    let mut lists: Vec<Vec<f64>> = vec![Vec::new(); groups];
    for (r, &g) in of_row.iter().enumerate() {
        if values.is_valid(r) {
            lists[g as usize].push(values.value(r));
        }
    }
    Ok(to_list(lists))
}

/// Per group, the lists of its rows of `state` (a list column) joined.
pub(crate) fn merge(of_row: &[u32], groups: usize, state: &ArrayRef) -> Result<ArrayRef, FrameError> {
    let state = state
        .as_list_opt::<i32>()
        .ok_or_else(|| FrameError::Type(format!("a quantile state is a list, not {}", state.data_type())))?;
    let mut lists: Vec<Vec<f64>> = vec![Vec::new(); groups];
    for (r, &g) in of_row.iter().enumerate() {
        let values = state.value(r);
        lists[g as usize].extend(values.as_primitive::<Float64Type>().iter().flatten());
    }
    Ok(to_list(lists))
}

fn to_list(lists: Vec<Vec<f64>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(
        lists.into_iter().map(|l| Some(l.into_iter().map(Some))),
    ))
}

/// The `q` quantile of each list (linear interpolation between the two nearest values, as
/// pandas' and numpy's default); null for an empty list.
pub(crate) fn finish(state: &ArrayRef, q: f64) -> Result<ArrayRef, FrameError> {
    if !(0.0..=1.0).contains(&q) {
        return Err(FrameError::Type(format!("quantile {q} is not between 0 and 1")));
    }
    let lists = state
        .as_list_opt::<i32>()
        .ok_or_else(|| FrameError::Type(format!("a quantile state is a list, not {}", state.data_type())))?;
    let out: Float64Array = (0..lists.len())
        .map(|i| {
            let mut values: Vec<f64> = lists.value(i).as_primitive::<Float64Type>().iter().flatten().collect();
            if values.is_empty() {
                return None;
            }
            values.sort_by(f64::total_cmp);
            let pos = q * (values.len() - 1) as f64;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            Some(values[lo] + (values[hi] - values[lo]) * (pos - lo as f64))
        })
        .collect();
    Ok(Arc::new(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_as_numpy_does() {
        let values: ArrayRef =
            Arc::new(Float64Array::from(vec![Some(4.0), Some(1.0), None, Some(3.0), Some(2.0), Some(9.0)]));
        let of_row = [0, 0, 0, 0, 0, 1];
        let state = collect(&of_row, 2, &values).unwrap();
        let median = finish(&state, 0.5).unwrap();
        let median = median.as_primitive::<Float64Type>();
        assert_eq!((median.value(0), median.value(1)), (2.5, 9.0));
        let q = finish(&merge(&[0, 0], 1, &state).unwrap(), 0.25).unwrap();
        assert_eq!(q.as_primitive::<Float64Type>().value(0), 2.0, "both groups merged: 1 2 3 4 9");
        assert!(finish(&state, 1.5).is_err());
    }
}
