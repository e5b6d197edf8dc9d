//! The per-chunk task functions, registered by name (`array_*`) so every executor — a thread,
//! a worker process, a cluster worker — runs the same code on a chunk. Chunks are the engine's
//! [`rask_graph::Array`] values, viewed in place as `ndarray` arrays (a chunk in shared memory
//! is read without a copy) and written straight into the executor's arena.

// Generic kernels compare elements with `<`, which is also instantiated for `bool`.
#![allow(clippy::bool_comparison)]

pub(crate) mod elementwise;
pub(crate) mod io;
pub(crate) mod random;
pub(crate) mod reduce;
pub(crate) mod shape;

use ndarray::{ArrayViewD, ArrayViewMutD, CowArray, IxDyn};
use rask_graph::{Array as Chunk, DType, Element, TaskError, Value};

/// Runs `$body` with `$T` the Rust type of `$dtype`.
macro_rules! dispatch {
    ($dtype:expr, |$T:ident| $body:expr) => {
        match $dtype {
            rask_graph::DType::F64 => {
                type $T = f64;
                $body
            }
            rask_graph::DType::F32 => {
                type $T = f32;
                $body
            }
            rask_graph::DType::I64 => {
                type $T = i64;
                $body
            }
            rask_graph::DType::I32 => {
                type $T = i32;
                $body
            }
            rask_graph::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}
pub(crate) use dispatch;

/// The element types' arithmetic and conversions, as NumPy does them: ints wrap, bools are
/// 0 and 1, floats to ints truncate.
pub(crate) trait Num: Element + PartialOrd {
    const FLOAT: bool;
    fn to_f64(self) -> f64;
    fn to_i64(self) -> i64;
    fn from_f64(x: f64) -> Self;
    fn from_i64(x: i64) -> Self;
    /// `self` as a `U`, exactly where `U` can hold it.
    fn cast<U: Num>(self) -> U {
        if Self::FLOAT {
            U::from_f64(self.to_f64())
        } else {
            U::from_i64(self.to_i64())
        }
    }
    fn is_nan(self) -> bool {
        false
    }
}

macro_rules! nums {
    ($($t:ty: $float:expr),*) => {$(
        impl Num for $t {
            const FLOAT: bool = $float;
            fn to_f64(self) -> f64 { self as f64 }
            fn to_i64(self) -> i64 { self as i64 }
            fn from_f64(x: f64) -> Self { x as $t }
            fn from_i64(x: i64) -> Self { x as $t }
            #[allow(clippy::float_cmp, clippy::eq_op)]
            fn is_nan(self) -> bool { self != self }
        }
    )*};
}
nums!(f64: true, f32: true, i64: false, i32: false);

impl Num for bool {
    const FLOAT: bool = false;
    fn to_f64(self) -> f64 {
        self as i64 as f64
    }
    fn to_i64(self) -> i64 {
        self as i64
    }
    fn from_f64(x: f64) -> Self {
        x != 0.0
    }
    fn from_i64(x: i64) -> Self {
        x != 0
    }
}

/// Argument `i` as a chunk.
pub(crate) fn chunk<'a>(args: &'a [Value], i: usize, func: &str) -> Result<&'a Chunk, TaskError> {
    match &args[i] {
        Value::Array(a) => Ok(a),
        other => {
            Err(TaskError::type_error(format!("{func}: argument {i} is a {}, not an array chunk", other.type_name())))
        }
    }
}

pub(crate) fn int_arg(args: &[Value], i: usize, func: &str) -> Result<i64, TaskError> {
    args[i]
        .as_int()
        .ok_or_else(|| TaskError::type_error(format!("{func}: argument {i} must be an int, got {}", args[i])))
}

pub(crate) fn str_arg<'a>(args: &'a [Value], i: usize, func: &str) -> Result<&'a str, TaskError> {
    args[i]
        .as_str()
        .ok_or_else(|| TaskError::type_error(format!("{func}: argument {i} must be a str, got {}", args[i])))
}

/// A list of ints (shapes, offsets, axes).
pub(crate) fn ints_arg(args: &[Value], i: usize, func: &str) -> Result<Vec<i64>, TaskError> {
    let bad = || TaskError::type_error(format!("{func}: argument {i} must be a list of ints, got {}", args[i]));
    args[i].as_seq().ok_or_else(bad)?.iter().map(|v| v.as_int().ok_or_else(bad)).collect()
}

pub(crate) fn usizes_arg(args: &[Value], i: usize, func: &str) -> Result<Vec<usize>, TaskError> {
    ints_arg(args, i, func)?
        .into_iter()
        .map(|x| usize::try_from(x).map_err(|_| TaskError::value_error(format!("{func}: negative size {x}"))))
        .collect()
}

pub(crate) fn dtype_arg(args: &[Value], i: usize, func: &str) -> Result<DType, TaskError> {
    let name = str_arg(args, i, func)?;
    DType::parse(name).ok_or_else(|| TaskError::type_error(format!("{func}: unknown dtype {name:?}")))
}

/// The chunk as an `ndarray` view of its own element type, in place.
pub(crate) fn view<T: Element>(c: &Chunk) -> ArrayViewD<'_, T> {
    let data = c.as_slice::<T>().expect("view of a chunk of another dtype");
    ArrayViewD::from_shape(IxDyn(c.shape()), data).expect("a chunk's data fills its shape")
}

/// The chunk's elements as `T`s: borrowed when it already holds `T`s, converted otherwise.
pub(crate) fn view_as<T: Num>(c: &Chunk) -> CowArray<'_, T, IxDyn> {
    if c.dtype() == T::DTYPE {
        return CowArray::from(view::<T>(c));
    }
    dispatch!(c.dtype(), |S| CowArray::from(view::<S>(c).mapv(|x| x.cast::<T>())))
}

/// A new chunk of `shape`, written by `fill` (in the executor's arena when it has one).
pub(crate) fn output<T: Element>(shape: &[usize], fill: impl FnOnce(ArrayViewMutD<'_, T>)) -> Result<Value, TaskError> {
    Chunk::filled_with::<T>(shape, |data| {
        fill(ArrayViewMutD::from_shape(IxDyn(shape), data).expect("an output buffer fills its shape"))
    })
    .map(Value::Array)
}

/// A chunk holding a copy of `a` (any layout).
pub(crate) fn from_nd<T: Element>(a: ArrayViewD<'_, T>) -> Result<Value, TaskError> {
    output::<T>(a.shape(), |mut out| out.assign(&a))
}

/// The shape two operands broadcast to, NumPy's way.
pub(crate) fn broadcast_shape(a: &[usize], b: &[usize]) -> Result<Vec<usize>, String> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], i: usize| if i + s.len() >= n { s[i + s.len() - n] } else { 1 };
    (0..n)
        .map(|i| match (at(a, i), at(b, i)) {
            (x, y) if x == y => Ok(x),
            (1, y) => Ok(y),
            (x, 1) => Ok(x),
            _ => Err(format!("operands could not be broadcast together with shapes {a:?} {b:?}")),
        })
        .collect()
}
