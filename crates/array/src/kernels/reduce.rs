//! Reduction kernels: a chunk to a partial, partials combined, the last partial to the result.
//!
//! Partials keep the reduced axes with length 1, so the partials of one output block all have
//! one shape and combine elementwise. Mean and variance carry (count, mean, M2) and combine by
//! Chan's formula, which stays accurate where a sum of squares would cancel.

use ndarray::{ArrayD, ArrayViewD, Axis, Zip};
use rask_graph::{register, Arity, DType, TaskError, Value};

use super::{chunk, dispatch, dtype_arg, from_nd, int_arg, str_arg, usizes_arg, view_as, Num};

/// What a reduction computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reduction {
    Sum,
    Prod,
    Min,
    Max,
    Any,
    All,
    Mean,
    Var,
    ArgMin,
    ArgMax,
}

impl Reduction {
    pub(crate) fn name(self) -> &'static str {
        use Reduction::*;
        match self {
            Sum => "sum",
            Prod => "prod",
            Min => "min",
            Max => "max",
            Any => "any",
            All => "all",
            Mean => "mean",
            Var => "var",
            ArgMin => "argmin",
            ArgMax => "argmax",
        }
    }

    fn parse(name: &str) -> Result<Reduction, TaskError> {
        use Reduction::*;
        [Sum, Prod, Min, Max, Any, All, Mean, Var, ArgMin, ArgMax]
            .into_iter()
            .find(|r| r.name() == name)
            .ok_or_else(|| TaskError::value_error(format!("unknown reduction {name:?}")))
    }

    /// The dtype of the result for an input of `d`.
    pub(crate) fn out_dtype(self, d: DType) -> DType {
        use Reduction::*;
        match self {
            Sum | Prod => crate::dtype::sum_type(d),
            Min | Max => d,
            Any | All => DType::Bool,
            Mean | Var => crate::dtype::float_type(d),
            ArgMin | ArgMax => DType::I64,
        }
    }
}

/// `x` folded by `g` over one axis, removed: outer axes combine whole sub-blocks (contiguous
/// reads), the innermost axis folds lane by lane. An empty axis gives `identity`s.
fn fold_axis<A: Copy>(x: ArrayViewD<'_, A>, axis: usize, identity: A, g: impl Fn(A, A) -> A + Copy) -> ArrayD<A> {
    let len = x.len_of(Axis(axis));
    if len == 0 {
        let mut shape = x.shape().to_vec();
        shape.remove(axis);
        return ArrayD::from_elem(shape, identity);
    }
    if axis == x.ndim() - 1 {
        return x.map_axis(Axis(axis), |lane| lane.iter().copied().reduce(g).expect("a non-empty lane"));
    }
    let mut acc = x.index_axis(Axis(axis), 0).to_owned();
    for i in 1..len {
        acc.zip_mut_with(&x.index_axis(Axis(axis), i), |a, &b| *a = g(*a, b));
    }
    acc
}

/// `x` folded over `axes`, which stay with length 1; outer axes first.
fn fold<A: Copy>(x: ArrayViewD<'_, A>, axes: &[usize], identity: A, g: impl Fn(A, A) -> A + Copy) -> ArrayD<A> {
    let mut sorted = axes.to_vec();
    sorted.sort_unstable();
    let Some((&first, rest)) = sorted.split_first() else { return x.to_owned() };
    let mut acc = fold_axis(x, first, identity, g).insert_axis(Axis(first));
    for &axis in rest {
        acc = fold_axis(acc.view(), axis, identity, g).insert_axis(Axis(axis));
    }
    acc
}

fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

fn count(shape: &[usize], axes: &[usize]) -> i64 {
    axes.iter().map(|&a| shape[a] as i64).product()
}

fn value<T: rask_graph::Element>(a: ArrayD<T>) -> Result<Value, TaskError> {
    from_nd(a.view())
}

/// `array_reduce_chunk(kind, chunk, axes, offsets, shape)`: the chunk's partial. `offsets` and
/// `shape` place the chunk in the whole array (for argmin/argmax indices).
fn array_reduce_chunk(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_reduce_chunk";
    let kind = Reduction::parse(str_arg(args, 0, F)?)?;
    let c = chunk(args, 1, F)?;
    let axes = usizes_arg(args, 2, F)?;
    if let Some(&bad) = axes.iter().find(|&&a| a >= c.shape().len()) {
        return Err(TaskError::value_error(format!(
            "axis {bad} is out of bounds for a chunk of {} dimensions",
            c.shape().len()
        )));
    }
    let n = count(c.shape(), &axes);
    use Reduction::*;
    match kind {
        Sum | Prod if c.dtype() == DType::F32 || c.dtype() == DType::F64 => {
            let x = view_as::<f64>(c);
            value(if kind == Sum {
                fold(x.view(), &axes, 0.0, |a, b| a + b)
            } else {
                fold(x.view(), &axes, 1.0, |a, b| a * b)
            })
        }
        Sum | Prod => {
            let x = view_as::<i64>(c);
            value(if kind == Sum {
                fold(x.view(), &axes, 0, i64::wrapping_add)
            } else {
                fold(x.view(), &axes, 1, i64::wrapping_mul)
            })
        }
        Min | Max if n == 0 => Ok(Value::None),
        Min | Max => dispatch!(c.dtype(), |T| {
            let x = view_as::<T>(c);
            let first = x.iter().next().copied().unwrap_or_default();
            let pick: fn(T, T) -> T = match (kind, T::FLOAT) {
                (Min, true) => |a, b| T::from_f64(nan_min(a.to_f64(), b.to_f64())),
                (Max, true) => |a, b| T::from_f64(nan_max(a.to_f64(), b.to_f64())),
                (Min, false) => |a, b| if b < a { b } else { a },
                _ => |a, b| if b > a { b } else { a },
            };
            value(fold(x.view(), &axes, first, pick))
        }),
        Any | All => {
            let x = view_as::<bool>(c);
            value(if kind == Any {
                fold(x.view(), &axes, false, |a, b| a | b)
            } else {
                fold(x.view(), &axes, true, |a, b| a & b)
            })
        }
        Mean | Var => {
            let x = view_as::<f64>(c);
            let sum = fold(x.view(), &axes, 0.0, |a, b| a + b);
            let mean = sum.mapv(|s| if n == 0 { 0.0 } else { s / n as f64 });
            if kind == Mean {
                return Ok(Value::tuple([Value::Int(n), value(sum)?]));
            }
            let mut dev = x.to_owned();
            Zip::from(&mut dev).and_broadcast(&mean).for_each(|d, &m| *d = (*d - m) * (*d - m));
            let m2 = fold(dev.view(), &axes, 0.0, |a, b| a + b);
            Ok(Value::tuple([Value::Int(n), value(mean)?, value(m2)?]))
        }
        ArgMin | ArgMax => arg_partial(kind, c, &axes, &usizes_arg(args, 3, F)?, &usizes_arg(args, 4, F)?),
    }
}
register!("array_reduce_chunk", Arity::Exact(5), array_reduce_chunk);

/// Whether `(v, i)` beats `(best, at)` for argmin/argmax: NaN first, then the smaller index
/// among equals, as NumPy's.
fn beats(kind: Reduction, v: f64, i: i64, best: f64, at: i64) -> bool {
    match (v.is_nan(), best.is_nan()) {
        (_, true) => best.is_nan() && v.is_nan() && i < at,
        (true, false) => true,
        _ => match kind {
            Reduction::ArgMin => v < best || (v == best && i < at),
            _ => v > best || (v == best && i < at),
        },
    }
}

fn arg_partial(
    kind: Reduction,
    c: &rask_graph::Array,
    axes: &[usize],
    offsets: &[usize],
    shape: &[usize],
) -> Result<Value, TaskError> {
    let x = view_as::<f64>(c);
    if x.is_empty() {
        return Ok(Value::None);
    }
    let (values, index) = if axes.len() == 1 && x.ndim() > 1 {
        let axis = axes[0];
        let lanes = x.map_axis(Axis(axis), |lane| {
            let mut best = (lane[0], 0i64);
            for (i, &v) in lane.iter().enumerate().skip(1) {
                if beats(kind, v, i as i64, best.0, best.1) {
                    best = (v, i as i64);
                }
            }
            (best.0, best.1 + offsets[axis] as i64)
        });
        (lanes.mapv(|p| p.0).insert_axis(Axis(axis)), lanes.mapv(|p| p.1).insert_axis(Axis(axis)))
    } else {
        // Over every axis: the index into the whole array, flattened.
        let strides: Vec<i64> = (0..shape.len()).map(|a| shape[a + 1..].iter().product::<usize>() as i64).collect();
        let mut best = (f64::NAN, -1i64);
        for (idx, &v) in x.indexed_iter() {
            let flat: i64 = (0..shape.len()).map(|a| (idx[a] + offsets[a]) as i64 * strides[a]).sum();
            if best.1 < 0 || beats(kind, v, flat, best.0, best.1) {
                best = (v, flat);
            }
        }
        let keep = vec![1; x.ndim()];
        (ArrayD::from_elem(keep.clone(), best.0), ArrayD::from_elem(keep, best.1))
    };
    Ok(Value::tuple([value(values)?, value(index)?]))
}

/// The partials' items, each as an `f64`/`i64` view.
fn parts(v: &Value) -> Result<&[Value], TaskError> {
    v.as_seq()
        .ok_or_else(|| TaskError::type_error(format!("a reduction partial must be a tuple, got {}", v.type_name())))
}

fn arr(v: &Value) -> Result<&rask_graph::Array, TaskError> {
    match v {
        Value::Array(a) => Ok(a),
        other => Err(TaskError::type_error(format!("a reduction partial holds a {}, not an array", other.type_name()))),
    }
}

/// Two partials of `kind` combined.
fn combine2(kind: Reduction, a: &Value, b: &Value) -> Result<Value, TaskError> {
    use Reduction::*;
    if a.is_none_value() {
        return Ok(b.clone());
    }
    if b.is_none_value() {
        return Ok(a.clone());
    }
    let zip2 = |f: fn(f64, f64) -> f64, a: &Value, b: &Value| -> Result<ArrayD<f64>, TaskError> {
        let (x, y) = (view_as::<f64>(arr(a)?), view_as::<f64>(arr(b)?));
        let mut out = x.to_owned();
        out.zip_mut_with(&y, |o, &v| *o = f(*o, v));
        Ok(out)
    };
    match kind {
        Sum | Prod | Min | Max | Any | All => {
            let op = match kind {
                Sum => crate::kernels::elementwise::Binary::Add,
                Prod => crate::kernels::elementwise::Binary::Mul,
                Min => crate::kernels::elementwise::Binary::Minimum,
                Max => crate::kernels::elementwise::Binary::Maximum,
                Any => crate::kernels::elementwise::Binary::Or,
                _ => crate::kernels::elementwise::Binary::And,
            };
            let dtype = arr(a)?.dtype();
            dispatch!(dtype, |T| {
                let f = crate::kernels::elementwise::arith::<T>(op)?;
                let (x, y) = (view_as::<T>(arr(a)?), view_as::<T>(arr(b)?));
                let mut out = x.to_owned();
                out.zip_mut_with(&y, |o, &v| *o = f(*o, v));
                value(out)
            })
        }
        Mean => {
            let (pa, pb) = (parts(a)?, parts(b)?);
            let n = pa[0].as_int().unwrap_or(0) + pb[0].as_int().unwrap_or(0);
            Ok(Value::tuple([Value::Int(n), value(zip2(|x, y| x + y, &pa[1], &pb[1])?)?]))
        }
        Var => {
            let (pa, pb) = (parts(a)?, parts(b)?);
            let (na, nb) = (pa[0].as_int().unwrap_or(0) as f64, pb[0].as_int().unwrap_or(0) as f64);
            if nb == 0.0 {
                return Ok(a.clone());
            }
            if na == 0.0 {
                return Ok(b.clone());
            }
            let n = na + nb;
            let (ma, mb) = (view_as::<f64>(arr(&pa[1])?), view_as::<f64>(arr(&pb[1])?));
            let (sa, sb) = (view_as::<f64>(arr(&pa[2])?), view_as::<f64>(arr(&pb[2])?));
            let mut mean = ma.to_owned();
            let mut m2 = sa.to_owned();
            Zip::from(&mut mean).and(&mut m2).and(&mb).and(&sb).for_each(|m, s, &mb, &sb| {
                let delta = mb - *m;
                *s += sb + delta * delta * na * nb / n;
                *m += delta * nb / n;
            });
            Ok(Value::tuple([Value::Int(n as i64), value(mean)?, value(m2)?]))
        }
        ArgMin | ArgMax => {
            let (pa, pb) = (parts(a)?, parts(b)?);
            let (va, vb) = (view_as::<f64>(arr(&pa[0])?), view_as::<f64>(arr(&pb[0])?));
            let (ia, ib) = (view_as::<i64>(arr(&pa[1])?), view_as::<i64>(arr(&pb[1])?));
            let mut values = va.to_owned();
            let mut index = ia.to_owned();
            Zip::from(&mut values).and(&mut index).and(&vb).and(&ib).for_each(|v, i, &w, &j| {
                if beats(kind, w, j, *v, *i) {
                    *v = w;
                    *i = j;
                }
            });
            Ok(Value::tuple([value(values)?, value(index)?]))
        }
    }
}

trait NoneValue {
    fn is_none_value(&self) -> bool;
}

impl NoneValue for Value {
    fn is_none_value(&self) -> bool {
        matches!(self, Value::None)
    }
}

/// `array_reduce_combine(kind, [partials])`.
fn array_reduce_combine(args: &[Value]) -> Result<Value, TaskError> {
    let kind = Reduction::parse(str_arg(args, 0, "array_reduce_combine")?)?;
    let items =
        args[1].as_seq().ok_or_else(|| TaskError::type_error("array_reduce_combine: partials must be a list"))?;
    let mut acc = items.first().cloned().unwrap_or(Value::None);
    for item in items.iter().skip(1) {
        acc = combine2(kind, &acc, item)?;
    }
    Ok(acc)
}
register!("array_reduce_combine", Arity::Exact(2), array_reduce_combine);

/// `array_reduce_final(kind, partial, axes, keepdims, dtype, ddof, sqrt)`: the result chunk.
fn array_reduce_final(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_reduce_final";
    let kind = Reduction::parse(str_arg(args, 0, F)?)?;
    let axes = usizes_arg(args, 2, F)?;
    let keepdims = matches!(args[3], Value::Bool(true));
    let dtype = dtype_arg(args, 4, F)?;
    let ddof = int_arg(args, 5, F)? as f64;
    let root = matches!(args[6], Value::Bool(true));
    use Reduction::*;
    let result: Value = match kind {
        _ if args[1].is_none_value() => {
            return Err(TaskError::value_error(format!(
                "zero-size array to reduction operation {} which has no identity",
                kind.name()
            )))
        }
        Mean => {
            let p = parts(&args[1])?;
            let n = p[0].as_int().unwrap_or(0) as f64;
            let mean = view_as::<f64>(arr(&p[1])?).mapv(|s| s / n);
            value(mean)?
        }
        Var => {
            let p = parts(&args[1])?;
            let n = p[0].as_int().unwrap_or(0) as f64;
            let var = view_as::<f64>(arr(&p[2])?).mapv(|s| {
                let v = s / (n - ddof).max(0.0);
                if root {
                    v.sqrt()
                } else {
                    v
                }
            });
            value(var)?
        }
        ArgMin | ArgMax => parts(&args[1])?[1].clone(),
        _ => args[1].clone(),
    };
    let Value::Array(a) = result else { unreachable!("every arm makes an array") };
    let mut shape = a.shape().to_vec();
    if !keepdims {
        let mut sorted = axes.clone();
        sorted.sort_unstable();
        for &axis in sorted.iter().rev() {
            shape.remove(axis);
        }
    }
    dispatch!(dtype, |T| {
        let x = view_as::<T>(&a);
        let x = x.to_shape(shape.clone()).map_err(|e| TaskError::value_error(e.to_string()))?;
        from_nd(x.view())
    })
}
register!("array_reduce_final", Arity::Exact(7), array_reduce_final);
