//! Kernels that move elements: slicing, transposing, assembling a block from pieces,
//! reshaping, boolean selection and the blocked tensor product.

use ndarray::{Axis, IxDyn, Slice};
use rask_graph::{register, Arity, DType, TaskError, Value};

use super::{chunk, dispatch, from_nd, ints_arg, output, usizes_arg, view, view_as, Num};

/// `array_slice(chunk, [[start, end, step, drop], …], [new axes])`: per axis the elements
/// `start..end` by `step` (a negative step walks the range backwards, as `ndarray` does), the
/// axis dropped if `drop` (an integer index); then length-1 axes inserted at `new axes`.
fn array_slice(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_slice";
    let c = chunk(args, 0, F)?;
    let specs = args[1].as_seq().ok_or_else(|| TaskError::type_error("array_slice: slices must be a list"))?;
    if specs.len() != c.shape().len() {
        return Err(TaskError::value_error(format!(
            "{} slices for a chunk of {} dimensions",
            specs.len(),
            c.shape().len()
        )));
    }
    let new_axes = usizes_arg(args, 2, F)?;
    dispatch!(c.dtype(), |T| {
        let mut v = view::<T>(c);
        let mut drops = Vec::new();
        for (axis, spec) in specs.iter().enumerate() {
            let s = ints_arg(std::slice::from_ref(spec), 0, F)?;
            let (start, end, step) = (s[0] as isize, s[1] as isize, s[2] as isize);
            let len = v.len_of(Axis(axis)) as isize;
            if start < 0 || end > len || start > end || step == 0 {
                return Err(TaskError::index_error(format!(
                    "slice {start}..{end};{step} out of range for an axis of {len}"
                )));
            }
            v.slice_axis_inplace(Axis(axis), Slice::new(start, Some(end), step));
            if s[3] != 0 {
                drops.push(axis);
            }
        }
        for &axis in drops.iter().rev() {
            v = v.index_axis_move(Axis(axis), 0);
        }
        for &axis in &new_axes {
            v = v.insert_axis(Axis(axis));
        }
        from_nd(v)
    })
}
register!("array_slice", Arity::Exact(3), array_slice);

/// `array_transpose(chunk, axes)`: the axes permuted.
fn array_transpose(args: &[Value]) -> Result<Value, TaskError> {
    let c = chunk(args, 0, "array_transpose")?;
    let axes = usizes_arg(args, 1, "array_transpose")?;
    if axes == [1, 0] {
        return dispatch!(c.dtype(), |T| transpose_2d::<T>(c.as_slice::<T>().expect("the chunk's dtype"), c.shape()));
    }
    dispatch!(c.dtype(), |T| from_nd(view::<T>(c).permuted_axes(IxDyn(&axes))))
}

/// A row-major matrix transposed tile by tile, so reads and writes both stay in cache (an
/// element-by-element copy reads a column at a time and misses on every element).
fn transpose_2d<T: rask_graph::Element>(data: &[T], shape: &[usize]) -> Result<Value, TaskError> {
    const TILE: usize = 32;
    let (rows, cols) = (shape[0], shape[1]);
    output::<T>(&[cols, rows], |mut out| {
        let out = out.as_slice_mut().expect("fresh output is contiguous");
        for r0 in (0..rows).step_by(TILE) {
            for c0 in (0..cols).step_by(TILE) {
                for r in r0..(r0 + TILE).min(rows) {
                    for c in c0..(c0 + TILE).min(cols) {
                        out[c * rows + r] = data[r * cols + c];
                    }
                }
            }
        }
    })
}
register!("array_transpose", Arity::Exact(2), array_transpose);

/// `array_reshape(chunk, shape)`: the same elements in row-major order, in a new shape.
fn array_reshape(args: &[Value]) -> Result<Value, TaskError> {
    let c = chunk(args, 0, "array_reshape")?;
    let shape = usizes_arg(args, 1, "array_reshape")?;
    c.reshape(&shape).map(Value::Array).map_err(TaskError::value_error)
}
register!("array_reshape", Arity::Exact(2), array_reshape);

/// `array_assemble(shape, dtype, [[offsets, piece], …])`: a block of `shape` whose pieces are
/// placed at their offsets (a rechunk's or a concatenation's output block).
fn array_assemble(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_assemble";
    let shape = usizes_arg(args, 0, F)?;
    let dtype = super::dtype_arg(args, 1, F)?;
    let pieces = args[2].as_seq().ok_or_else(|| TaskError::type_error("array_assemble: pieces must be a list"))?;
    if let [one] = pieces {
        if let Some([_, Value::Array(a)]) = one.as_seq() {
            if a.shape() == shape.as_slice() && a.dtype() == dtype {
                return Ok(Value::Array(a.clone()));
            }
        }
    }
    dispatch!(dtype, |T| {
        let mut placed = Vec::with_capacity(pieces.len());
        for piece in pieces {
            let pair = piece
                .as_seq()
                .filter(|p| p.len() == 2)
                .ok_or_else(|| TaskError::type_error("a piece is [offsets, chunk]"))?;
            let at = usizes_arg(pair, 0, F)?;
            placed.push((at, chunk(pair, 1, F)?));
        }
        for (at, c) in &placed {
            if at.len() != shape.len()
                || c.shape().len() != shape.len()
                || (0..shape.len()).any(|a| at[a] + c.shape()[a] > shape[a])
            {
                return Err(TaskError::value_error(format!(
                    "a piece of shape {:?} at {at:?} does not fit a block of {shape:?}",
                    c.shape()
                )));
            }
        }
        output::<T>(&shape, |mut out| {
            for (at, c) in &placed {
                let mut dst = out.view_mut();
                for (axis, (&o, &len)) in at.iter().zip(c.shape()).enumerate() {
                    dst.slice_axis_inplace(Axis(axis), Slice::from(o..o + len));
                }
                dst.assign(&view_as::<T>(c));
            }
        })
    })
}
register!("array_assemble", Arity::Exact(3), array_assemble);

/// `array_mask(chunk, mask)`: the elements where `mask` is true, in row-major order (1-d).
fn array_mask(args: &[Value]) -> Result<Value, TaskError> {
    let (c, m) = (chunk(args, 0, "array_mask")?, chunk(args, 1, "array_mask")?);
    if m.dtype() != DType::Bool || m.shape() != c.shape() {
        return Err(TaskError::index_error(format!(
            "boolean index of shape {:?} ({}) does not match a chunk of shape {:?}",
            m.shape(),
            m.dtype(),
            c.shape()
        )));
    }
    let mask = view::<bool>(m);
    dispatch!(c.dtype(), |T| {
        let x = view::<T>(c);
        let picked: Vec<T> = x.iter().zip(mask.iter()).filter(|(_, &keep)| keep).map(|(&v, _)| v).collect();
        output::<T>(&[picked.len()], |mut o| o.iter_mut().zip(picked).for_each(|(o, v)| *o = v))
    })
}
register!("array_mask", Arity::Exact(2), array_mask);

/// `a` as a matrix: its `free` axes (in order) as rows, `contracted` axes as columns (or the
/// other way round when `contracted_first`); a view when the axes are already in that order,
/// a copy otherwise.
fn as_matrix<'a, T: Num>(
    a: &'a rask_graph::Array,
    free: &[usize],
    contracted: &[usize],
    contracted_first: bool,
) -> ndarray::CowArray<'a, T, ndarray::Ix2> {
    let order: Vec<usize> = if contracted_first {
        contracted.iter().chain(free).copied().collect()
    } else {
        free.iter().chain(contracted).copied().collect()
    };
    let dims = a.shape();
    let rows: usize = free.iter().map(|&i| dims[i]).product();
    let cols: usize = contracted.iter().map(|&i| dims[i]).product();
    let (r, c) = if contracted_first { (cols, rows) } else { (rows, cols) };
    if a.dtype() == T::DTYPE && order.iter().enumerate().all(|(i, &o)| i == o) {
        return ndarray::CowArray::from(
            view::<T>(a).into_shape_with_order((r, c)).expect("a chunk is in standard layout"),
        );
    }
    let flat: Vec<T> = view_as::<T>(a).view().permuted_axes(IxDyn(&order)).iter().copied().collect();
    ndarray::CowArray::from(ndarray::Array2::from_shape_vec((r, c), flat).expect("sizes agree"))
}

/// `array_tensordot(axes_a, axes_b, dtype, [a0, b0, a1, b1, …])`: the sum of the tensor
/// products of each pair over the paired axes (`matmul` is axes [1] and [0]), accumulated in
/// one output block; its axes are `a`'s free axes, then `b`'s.
fn array_tensordot(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_tensordot";
    let (axes_a, axes_b) = (usizes_arg(args, 0, F)?, usizes_arg(args, 1, F)?);
    let dtype = super::dtype_arg(args, 2, F)?;
    let blocks = args[3]
        .as_seq()
        .filter(|b| !b.is_empty() && b.len() % 2 == 0)
        .ok_or_else(|| TaskError::type_error("array_tensordot: a list of block pairs"))?;
    let pairs: Vec<(&rask_graph::Array, &rask_graph::Array)> =
        blocks.chunks(2).map(|p| Ok((chunk(p, 0, F)?, chunk(p, 1, F)?))).collect::<Result<_, TaskError>>()?;
    let (a0, b0) = pairs[0];
    let free_a: Vec<usize> = (0..a0.shape().len()).filter(|i| !axes_a.contains(i)).collect();
    let free_b: Vec<usize> = (0..b0.shape().len()).filter(|i| !axes_b.contains(i)).collect();
    let shape: Vec<usize> =
        free_a.iter().map(|&i| a0.shape()[i]).chain(free_b.iter().map(|&i| b0.shape()[i])).collect();
    for (a, b) in &pairs {
        let agree = axes_a.len() == axes_b.len()
            && axes_a
                .iter()
                .zip(&axes_b)
                .all(|(&i, &j)| a.shape().get(i).is_some() && a.shape().get(i) == b.shape().get(j))
            && free_a
                .iter()
                .map(|&i| a.shape().get(i))
                .chain(free_b.iter().map(|&j| b.shape().get(j)))
                .eq(shape.iter().map(Some));
        if !agree {
            return Err(TaskError::value_error(format!(
                "shape mismatch for sum: {:?} axes {axes_a:?} and {:?} axes {axes_b:?}",
                a.shape(),
                b.shape()
            )));
        }
    }
    let rows: usize = free_a.iter().map(|&i| a0.shape()[i]).product();
    let cols: usize = free_b.iter().map(|&i| b0.shape()[i]).product();
    macro_rules! accumulate {
        ($T:ty, $mul:expr) => {{
            output::<$T>(&shape, |mut out| {
                let out = out.as_slice_mut().expect("fresh output is contiguous");
                let mut c = ndarray::ArrayViewMut2::from_shape((rows, cols), out).expect("sizes agree");
                for (a, b) in &pairs {
                    let (ma, mb) =
                        (as_matrix::<$T>(a, &free_a, &axes_a, false), as_matrix::<$T>(b, &free_b, &axes_b, true));
                    $mul(&ma, &mb, &mut c);
                }
            })
        }};
    }
    match dtype {
        DType::F64 => accumulate!(f64, |a: &ndarray::CowArray<f64, _>,
                                        b: &ndarray::CowArray<f64, _>,
                                        c: &mut ndarray::ArrayViewMut2<f64>| {
            ndarray::linalg::general_mat_mul(1.0, a, b, 1.0, c)
        }),
        DType::F32 => accumulate!(f32, |a: &ndarray::CowArray<f32, _>,
                                        b: &ndarray::CowArray<f32, _>,
                                        c: &mut ndarray::ArrayViewMut2<f32>| {
            ndarray::linalg::general_mat_mul(1.0, a, b, 1.0, c)
        }),
        DType::I64 => accumulate!(i64, |a: &ndarray::CowArray<i64, ndarray::Ix2>,
                                        b: &ndarray::CowArray<i64, ndarray::Ix2>,
                                        c: &mut ndarray::ArrayViewMut2<i64>| c
            .zip_mut_with(&a.dot(b), |o, &p| *o = o.wrapping_add(p))),
        DType::I32 => accumulate!(i32, |a: &ndarray::CowArray<i32, ndarray::Ix2>,
                                        b: &ndarray::CowArray<i32, ndarray::Ix2>,
                                        c: &mut ndarray::ArrayViewMut2<i32>| c
            .zip_mut_with(&a.dot(b), |o, &p| *o = o.wrapping_add(p))),
        DType::Bool => {
            let mut acc = ndarray::Array2::<i64>::zeros((rows, cols));
            for (a, b) in &pairs {
                acc += &as_matrix::<i64>(a, &free_a, &axes_a, false).dot(&as_matrix::<i64>(b, &free_b, &axes_b, true));
            }
            output::<bool>(&shape, |mut out| {
                out.as_slice_mut()
                    .expect("fresh output is contiguous")
                    .iter_mut()
                    .zip(acc.iter())
                    .for_each(|(o, &v)| *o = v != 0)
            })
        }
    }
}
register!("array_tensordot", Arity::Exact(4), array_tensordot);

/// `array_add_all(dtype, [chunks])`: their elementwise sum (the partial products of a
/// contraction).
fn array_add_all(args: &[Value]) -> Result<Value, TaskError> {
    let dtype = super::dtype_arg(args, 0, "array_add_all")?;
    let items = args[1].as_seq().ok_or_else(|| TaskError::type_error("array_add_all: a list of chunks"))?;
    let first = chunk(items, 0, "array_add_all")?;
    dispatch!(dtype, |T| {
        let add = super::elementwise::arith::<T>(super::elementwise::Binary::Add)?;
        output::<T>(first.shape(), |mut out| {
            out.assign(&view_as::<T>(first));
            for item in &items[1..] {
                if let Value::Array(c) = item {
                    out.zip_mut_with(&view_as::<T>(c), |o, &v| *o = add(*o, v));
                }
            }
        })
    })
}
register!("array_add_all", Arity::Exact(2), array_add_all);
