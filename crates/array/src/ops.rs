//! Elementwise operations: operators with NumPy broadcasting and promotion, math functions,
//! comparisons, `where`, `clip`, `astype`, and user functions per block (`map_blocks`,
//! `blockwise`). Each is a per-block call nested in its inputs' calls, so a chain of them runs
//! as one task per output block.

use std::ops::{Add, Div, Mul, Neg, Sub};

use rask_graph::{DType, Registry, Value};

use crate::array::{Arg, Array, Input};
use crate::chunks::UNKNOWN;
use crate::dtype::Operand as Kind;
use crate::kernels::elementwise::{Binary, Unary};

/// An operand of an elementwise operation: an array or a scalar.
#[derive(Clone, Debug)]
pub enum Operand {
    Array(Array),
    Scalar(Value),
}

impl Operand {
    fn kind(&self) -> Kind {
        match self {
            Operand::Array(a) => Kind::Array(a.dtype()),
            Operand::Scalar(Value::Bool(_)) => Kind::Bool,
            Operand::Scalar(Value::Int(_)) => Kind::Int,
            Operand::Scalar(_) => Kind::Float,
        }
    }
}

impl From<&Array> for Operand {
    fn from(a: &Array) -> Operand {
        Operand::Array(a.clone())
    }
}

impl From<Array> for Operand {
    fn from(a: Array) -> Operand {
        Operand::Array(a)
    }
}

macro_rules! scalar_operands {
    ($($t:ty => $v:expr),*) => {$(
        impl From<$t> for Operand {
            fn from(x: $t) -> Operand {
                Operand::Scalar($v(x))
            }
        }
    )*};
}
scalar_operands!(f64 => Value::Float, f32 => |x: f32| Value::Float(x as f64), i64 => Value::Int, i32 => |x: i32| Value::Int(x as i64), bool => Value::Bool);

/// The shape and chunks of the blockwise combination of `arrays`, rechunking any whose chunks
/// differ from the first's along an axis of the same length; each input with its axis map.
/// The shape, the chunks and the inputs of a blockwise operation.
type Aligned = (Vec<usize>, Vec<Vec<usize>>, Vec<Input>);

fn align(op: &str, arrays: &[&Array]) -> Result<Aligned, String> {
    let n = arrays.iter().map(|a| a.ndim()).max().unwrap_or(0);
    // The arrays' (axis, length) on output axis `o`, for those that have it.
    let on = |a: &Array, o: usize| (o + a.ndim() >= n).then(|| o + a.ndim() - n).map(|i| (i, a.shape()[i]));
    let mut shape = vec![1usize; n];
    let mut chunks: Vec<Option<Vec<usize>>> = vec![None; n];
    for o in 0..n {
        for a in arrays {
            if let Some((_, d)) = on(a, o) {
                if d != 1 && shape[o] != 1 && d != shape[o] {
                    let shapes: Vec<_> = arrays.iter().map(|a| format!("{:?}", a.shape())).collect();
                    return Err(format!(
                        "{op}: operands could not be broadcast together with shapes {}",
                        shapes.join(" ")
                    ));
                }
                if d != 1 {
                    shape[o] = d;
                }
            }
        }
        chunks[o] =
            arrays.iter().find_map(|a| on(a, o).filter(|&(_, d)| d == shape[o]).map(|(i, _)| a.chunks()[i].clone()));
    }
    let chunks: Vec<Vec<usize>> = chunks.into_iter().map(|c| c.unwrap_or_else(|| vec![1])).collect();
    let mut inputs = Vec::with_capacity(arrays.len());
    for a in arrays {
        let lead = n - a.ndim();
        let mut target = a.chunks().to_vec();
        let mut axes = Vec::with_capacity(a.ndim());
        for (i, &d) in a.shape().iter().enumerate() {
            let o = lead + i;
            if d == 1 && shape[o] != 1 {
                axes.push(None);
                target[i] = vec![1];
            } else {
                axes.push(Some(o));
                if a.chunks()[i] != chunks[o] {
                    if a.chunks()[i].contains(&UNKNOWN) || chunks[o].contains(&UNKNOWN) {
                        return Err(format!("{op}: operands have unknown and different chunk sizes along axis {o}"));
                    }
                    target[i] = chunks[o].clone();
                }
            }
        }
        let array = if target.as_slice() != a.chunks() { a.rechunk_exact(target) } else { (*a).clone() };
        inputs.push(Input { array, axes });
    }
    let shape = shape.iter().zip(&chunks).map(|(&d, c)| if c.contains(&UNKNOWN) { UNKNOWN } else { d }).collect();
    Ok((shape, chunks, inputs))
}

/// `func(lead…, operands…, trail…)` per output block, broadcast.
fn blockwise_call(
    op: &str,
    func: &str,
    lead: Vec<Value>,
    operands: Vec<Operand>,
    trail: Vec<Value>,
    dtype: DType,
) -> Array {
    let arrays: Vec<&Array> =
        operands.iter().filter_map(|o| if let Operand::Array(a) = o { Some(a) } else { None }).collect();
    if let Some(bad) = Array::first_invalid(&arrays) {
        return bad;
    }
    let (shape, chunks, inputs) = match align(op, &arrays) {
        Ok(x) => x,
        Err(why) => return Array::invalid(why),
    };
    let mut next = 0;
    let mut args: Vec<Arg> = lead.into_iter().map(Arg::Lit).collect();
    for o in operands {
        args.push(match o {
            Operand::Array(_) => {
                next += 1;
                Arg::Block(next - 1)
            }
            Operand::Scalar(v) => Arg::Lit(v),
        });
    }
    args.extend(trail.into_iter().map(Arg::Lit));
    Array::map(func, args, inputs, shape, chunks, dtype)
}

pub(crate) fn binary(op: Binary, a: Operand, b: Operand) -> Array {
    let (_, out) = match op.types(a.kind(), b.kind()) {
        Ok(t) => t,
        Err(why) => return Array::invalid(format!("{}: {why}", op.name())),
    };
    blockwise_call(op.name(), "array_binary", vec![Value::str(op.name())], vec![a, b], vec![], out)
}

impl Array {
    fn unary(&self, op: Unary) -> Array {
        match op.types(self.dtype()) {
            Ok((_, out)) => {
                blockwise_call(op.name(), "array_unary", vec![Value::str(op.name())], vec![self.into()], vec![], out)
            }
            Err(why) => Array::invalid(format!("{}: {why}", op.name())),
        }
    }

    pub fn sqrt(&self) -> Array {
        self.unary(Unary::Sqrt)
    }
    pub fn exp(&self) -> Array {
        self.unary(Unary::Exp)
    }
    /// The natural logarithm.
    pub fn log(&self) -> Array {
        self.unary(Unary::Log)
    }
    pub fn abs(&self) -> Array {
        self.unary(Unary::Abs)
    }
    pub fn sin(&self) -> Array {
        self.unary(Unary::Sin)
    }
    pub fn cos(&self) -> Array {
        self.unary(Unary::Cos)
    }
    pub fn tan(&self) -> Array {
        self.unary(Unary::Tan)
    }
    pub fn floor(&self) -> Array {
        self.unary(Unary::Floor)
    }
    pub fn ceil(&self) -> Array {
        self.unary(Unary::Ceil)
    }
    pub fn isnan(&self) -> Array {
        self.unary(Unary::IsNan)
    }
    /// Logical not of a bool array, bitwise not of ints.
    pub fn invert(&self) -> Array {
        self.unary(Unary::Not)
    }

    /// `self ** exponent`.
    pub fn pow(&self, exponent: impl Into<Operand>) -> Array {
        binary(Binary::Pow, self.into(), exponent.into())
    }
    /// The larger of each pair (NaN wins, as in NumPy).
    pub fn maximum(&self, other: impl Into<Operand>) -> Array {
        binary(Binary::Maximum, self.into(), other.into())
    }
    pub fn minimum(&self, other: impl Into<Operand>) -> Array {
        binary(Binary::Minimum, self.into(), other.into())
    }
    /// Logical and (bitwise for ints).
    pub fn and(&self, other: impl Into<Operand>) -> Array {
        binary(Binary::And, self.into(), other.into())
    }
    /// Logical or (bitwise for ints).
    pub fn or(&self, other: impl Into<Operand>) -> Array {
        binary(Binary::Or, self.into(), other.into())
    }
    /// `self == other`, elementwise, as a bool array.
    pub fn eq(&self, other: impl Into<Operand>) -> Array {
        binary(Binary::Eq, self.into(), other.into())
    }
    pub fn ne(&self, other: impl Into<Operand>) -> Array {
        binary(Binary::Ne, self.into(), other.into())
    }
    pub fn lt(&self, other: impl Into<Operand>) -> Array {
        binary(Binary::Lt, self.into(), other.into())
    }
    pub fn le(&self, other: impl Into<Operand>) -> Array {
        binary(Binary::Le, self.into(), other.into())
    }
    pub fn gt(&self, other: impl Into<Operand>) -> Array {
        binary(Binary::Gt, self.into(), other.into())
    }
    pub fn ge(&self, other: impl Into<Operand>) -> Array {
        binary(Binary::Ge, self.into(), other.into())
    }

    /// Each element limited to `[min, max]`; either bound may be `None`.
    pub fn clip(&self, min: Option<f64>, max: Option<f64>) -> Array {
        let bound = |b: Option<f64>| b.map_or(Value::None, Value::Float);
        blockwise_call("clip", "array_clip", vec![], vec![self.into()], vec![bound(min), bound(max)], self.dtype())
    }

    /// The elements converted to `dtype` (floats to ints truncate, as NumPy's `astype`).
    pub fn astype(&self, dtype: DType) -> Array {
        if dtype == self.dtype() {
            return self.clone();
        }
        blockwise_call("astype", "array_astype", vec![], vec![self.into()], vec![Value::str(dtype.name())], dtype)
    }

    /// `func(block)` for every block, a registered function returning a block of the same
    /// shape and of `dtype` (Dask's `map_blocks`).
    pub fn map_blocks(&self, func: &str, dtype: DType) -> Array {
        blockwise(func, dtype, &[self])
    }

    /// As [`Array::map_blocks`], for a function whose blocks have other sizes: `chunks` are
    /// the output's chunk sizes per axis (one entry per block of this array along each axis).
    pub fn map_blocks_with_chunks(&self, func: &str, dtype: DType, chunks: Vec<Vec<usize>>) -> Array {
        if self.meta.invalid.is_some() {
            return self.clone();
        }
        if let Err(why) = check_function(func, 1) {
            return Array::invalid(format!("map_blocks: {why}"));
        }
        if chunks.len() != self.ndim() || chunks.iter().zip(self.chunks()).any(|(c, own)| c.len() != own.len()) {
            return Array::invalid(format!(
                "map_blocks: chunks {chunks:?} do not give one size per block of {:?}",
                self.chunks()
            ));
        }
        let shape = chunks.iter().map(|c| if c.contains(&UNKNOWN) { UNKNOWN } else { c.iter().sum() }).collect();
        let input = Input { array: self.clone(), axes: (0..self.ndim()).map(Some).collect() };
        Array::map(func, vec![Arg::Block(0)], vec![input], shape, chunks, dtype)
    }
}

/// `a` where `condition` is true, else `b`, broadcast together (NumPy's `where`).
pub fn where_(condition: &Array, a: impl Into<Operand>, b: impl Into<Operand>) -> Array {
    let (a, b) = (a.into(), b.into());
    let dtype = crate::dtype::promote(a.kind(), b.kind());
    blockwise_call(
        "where",
        "array_where",
        vec![],
        vec![condition.astype(DType::Bool).into(), a, b],
        vec![Value::str(dtype.name())],
        dtype,
    )
}

/// `func(block of each input…)` for every output block, the inputs broadcast and their chunks
/// aligned (Dask's `blockwise` for elementwise index patterns): a registered function taking
/// one block per input and returning a block of the broadcast shape and of `dtype`.
pub fn blockwise(func: &str, dtype: DType, inputs: &[&Array]) -> Array {
    if let Err(why) = check_function(func, inputs.len()) {
        return Array::invalid(format!("blockwise: {why}"));
    }
    blockwise_call(func, func, vec![], inputs.iter().map(|a| Operand::Array((*a).clone())).collect(), vec![], dtype)
}

/// Whether `name` is a function of this binary that takes `arguments` arguments.
pub(crate) fn check_function(name: &str, arguments: usize) -> Result<(), String> {
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    match REGISTRY.get_or_init(Registry::new).get(name) {
        None => Err(format!("unknown function {name:?}: not a built-in, and not registered in this binary")),
        Some(f) if !f.arity().accepts(arguments) => {
            Err(format!("function {name:?} takes {}; called with {arguments}", f.arity()))
        }
        Some(_) => Ok(()),
    }
}

macro_rules! operators {
    ($($trait:ident $method:ident $op:expr),*) => {$(
        impl<R: Into<Operand>> $trait<R> for &Array {
            type Output = Array;
            fn $method(self, rhs: R) -> Array {
                binary($op, self.into(), rhs.into())
            }
        }
        impl<R: Into<Operand>> $trait<R> for Array {
            type Output = Array;
            fn $method(self, rhs: R) -> Array {
                binary($op, self.into(), rhs.into())
            }
        }
        impl $trait<&Array> for f64 {
            type Output = Array;
            fn $method(self, rhs: &Array) -> Array {
                binary($op, self.into(), rhs.into())
            }
        }
        impl $trait<&Array> for i64 {
            type Output = Array;
            fn $method(self, rhs: &Array) -> Array {
                binary($op, self.into(), rhs.into())
            }
        }
    )*};
}
operators!(Add add Binary::Add, Sub sub Binary::Sub, Mul mul Binary::Mul, Div div Binary::Div);

impl Neg for &Array {
    type Output = Array;
    fn neg(self) -> Array {
        self.unary(Unary::Neg)
    }
}

impl Neg for Array {
    type Output = Array;
    fn neg(self) -> Array {
        self.unary(Unary::Neg)
    }
}
