//! Elementwise kernels: binary operators with broadcasting, comparisons, math functions,
//! `where`, `clip` and `astype`.

use ndarray::{CowArray, IxDyn, Zip};
use rask_graph::{register, Arity, DType, TaskError, Value};

use super::{broadcast_shape, dispatch, dtype_arg, output, str_arg, view_as, Num};
use crate::dtype::{float_type, promote, Operand};
use rask_graph::Element;

/// Binary operators, by the name tasks carry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Binary {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
    And,
    Or,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Binary {
    pub(crate) fn name(self) -> &'static str {
        use Binary::*;
        match self {
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Div => "truediv",
            Pow => "pow",
            Maximum => "maximum",
            Minimum => "minimum",
            And => "and",
            Or => "or",
            Eq => "eq",
            Ne => "ne",
            Lt => "lt",
            Le => "le",
            Gt => "gt",
            Ge => "ge",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Binary> {
        use Binary::*;
        [Add, Sub, Mul, Div, Pow, Maximum, Minimum, And, Or, Eq, Ne, Lt, Le, Gt, Ge]
            .into_iter()
            .find(|b| b.name() == name)
    }

    pub(crate) fn is_comparison(self) -> bool {
        matches!(self, Binary::Eq | Binary::Ne | Binary::Lt | Binary::Le | Binary::Gt | Binary::Ge)
    }

    /// The dtype operands are converted to, and the result's dtype; or why the operation does
    /// not apply (NumPy's `TypeError`s).
    pub(crate) fn types(self, a: Operand, b: Operand) -> Result<(DType, DType), String> {
        let common = promote(a, b);
        match self {
            _ if self.is_comparison() => Ok((common, DType::Bool)),
            Binary::Div => Ok((float_type(common), float_type(common))),
            Binary::Sub if common == DType::Bool => {
                Err("numpy boolean subtract, the `-` operator, is not supported; use `^` or logical_xor".into())
            }
            Binary::And | Binary::Or if matches!(common, DType::F32 | DType::F64) => {
                Err(format!("ufunc 'bitwise_{}' not supported for the input types ({common})", self.name()))
            }
            _ => Ok((common, common)),
        }
    }
}

/// Unary functions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unary {
    Neg,
    Abs,
    Sqrt,
    Exp,
    Log,
    Sin,
    Cos,
    Tan,
    Floor,
    Ceil,
    Not,
    IsNan,
}

impl Unary {
    pub(crate) fn name(self) -> &'static str {
        use Unary::*;
        match self {
            Neg => "neg",
            Abs => "abs",
            Sqrt => "sqrt",
            Exp => "exp",
            Log => "log",
            Sin => "sin",
            Cos => "cos",
            Tan => "tan",
            Floor => "floor",
            Ceil => "ceil",
            Not => "invert",
            IsNan => "isnan",
        }
    }

    pub(crate) fn parse(name: &str) -> Option<Unary> {
        use Unary::*;
        [Neg, Abs, Sqrt, Exp, Log, Sin, Cos, Tan, Floor, Ceil, Not, IsNan].into_iter().find(|u| u.name() == name)
    }

    /// (dtype computed in, dtype of the result) for an input of `d`.
    pub(crate) fn types(self, d: DType) -> Result<(DType, DType), String> {
        use Unary::*;
        match self {
            Neg if d == DType::Bool => Err("the numpy boolean negative, the `-` operator, is not supported".into()),
            Neg | Abs => Ok((d, d)),
            Not if matches!(d, DType::F32 | DType::F64) => Err(format!("ufunc 'invert' not supported for {d}")),
            Not => Ok((d, d)),
            IsNan => Ok((float_type(d), DType::Bool)),
            _ => Ok((float_type(d), float_type(d))),
        }
    }
}

/// A task argument as an operand: a chunk or a scalar.
pub(crate) fn operand_kind(v: &Value) -> Result<Operand, TaskError> {
    Ok(match v {
        Value::Array(a) => Operand::Array(a.dtype()),
        Value::Bool(_) => Operand::Bool,
        Value::Int(_) => Operand::Int,
        Value::Float(_) => Operand::Float,
        other => return Err(TaskError::type_error(format!("an array operand cannot be a {}", other.type_name()))),
    })
}

/// A chunk or a scalar as an array of `T`s (a scalar as a 0-d array, which broadcasts).
fn operand<T: Num>(v: &Value) -> CowArray<'_, T, IxDyn> {
    match v {
        Value::Array(a) => view_as::<T>(a),
        Value::Float(x) => CowArray::from(ndarray::arr0(T::from_f64(*x)).into_dyn()),
        other => CowArray::from(ndarray::arr0(T::from_i64(other.as_int().unwrap_or(0))).into_dyn()),
    }
}

/// Each element type's binary arithmetic, as NumPy defines it for that type: ints wrap, bools
/// are logical.
pub(crate) trait Arith: Num {
    fn table(op: Binary) -> Option<fn(Self, Self) -> Self>;
}

macro_rules! float_ops {
    ($($t:ty),*) => {$(impl Arith for $t {
        fn table(op: Binary) -> Option<fn($t, $t) -> $t> {
            Some(match op {
                Binary::Add => |a, b| a + b,
                Binary::Sub => |a, b| a - b,
                Binary::Mul => |a, b| a * b,
                Binary::Div => |a, b| a / b,
                Binary::Pow => |a, b| a.powf(b),
                // NumPy's maximum and minimum propagate NaN.
                Binary::Maximum => |a, b| if a.is_nan() || b.is_nan() { <$t>::NAN } else { a.max(b) },
                Binary::Minimum => |a, b| if a.is_nan() || b.is_nan() { <$t>::NAN } else { a.min(b) },
                _ => return None,
            })
        }
    })*};
}
macro_rules! int_ops {
    ($($t:ty),*) => {$(impl Arith for $t {
        fn table(op: Binary) -> Option<fn($t, $t) -> $t> {
            Some(match op {
                Binary::Add => |a, b| a.wrapping_add(b),
                Binary::Sub => |a, b| a.wrapping_sub(b),
                Binary::Mul => |a, b| a.wrapping_mul(b),
                Binary::Pow => |a, b| a.wrapping_pow(b as u32),
                Binary::Maximum => |a, b| a.max(b),
                Binary::Minimum => |a, b| a.min(b),
                Binary::And => |a, b| a & b,
                Binary::Or => |a, b| a | b,
                _ => return None,
            })
        }
    })*};
}
float_ops!(f64, f32);
int_ops!(i64, i32);

impl Arith for bool {
    fn table(op: Binary) -> Option<fn(bool, bool) -> bool> {
        Some(match op {
            Binary::Add | Binary::Or | Binary::Maximum => |a, b| a | b,
            Binary::Mul | Binary::And | Binary::Minimum => |a, b| a & b,
            Binary::Pow => |a, b| a | !b,
            _ => return None,
        })
    }
}

pub(crate) fn arith<T: Arith>(op: Binary) -> Result<fn(T, T) -> T, TaskError> {
    T::table(op).ok_or_else(|| TaskError::type_error(format!("{} is not defined for {}", op.name(), T::DTYPE)))
}

fn compare<T: Num>(op: Binary) -> fn(T, T) -> bool {
    match op {
        Binary::Eq => |a, b| a == b,
        Binary::Ne => |a, b| a != b,
        Binary::Lt => |a, b| a < b,
        Binary::Le => |a, b| a <= b,
        Binary::Gt => |a, b| a > b,
        _ => |a, b| a >= b,
    }
}

fn zip_into<T: Num, U: Num>(a: &Value, b: &Value, f: impl Fn(T, T) -> U) -> Result<Value, TaskError> {
    let (x, y) = (operand::<T>(a), operand::<T>(b));
    let shape = broadcast_shape(x.shape(), y.shape()).map_err(TaskError::value_error)?;
    let (xb, yb) =
        (x.broadcast(shape.clone()).expect("broadcastable"), y.broadcast(shape.clone()).expect("broadcastable"));
    output::<U>(&shape, |mut out| Zip::from(&mut out).and(&xb).and(&yb).for_each(|o, &p, &q| *o = f(p, q)))
}

/// `array_binary(op, a, b)`: `a op b` elementwise with broadcasting; either may be a scalar.
fn array_binary(args: &[Value]) -> Result<Value, TaskError> {
    let name = str_arg(args, 0, "array_binary")?;
    let op = Binary::parse(name).ok_or_else(|| TaskError::value_error(format!("unknown operator {name:?}")))?;
    let (ka, kb) = (operand_kind(&args[1])?, operand_kind(&args[2])?);
    let (common, _) = op.types(ka, kb).map_err(TaskError::type_error)?;
    if op.is_comparison() {
        return dispatch!(common, |T| zip_into::<T, bool>(&args[1], &args[2], compare::<T>(op)));
    }
    if op == Binary::Pow && !matches!(common, DType::F32 | DType::F64) {
        let negative = |v: &Value| match v {
            Value::Array(a) => (0..a.len()).any(|i| a.item(i).and_then(|x| x.as_int()).is_some_and(|x| x < 0)),
            other => other.as_int().is_some_and(|x| x < 0),
        };
        if negative(&args[2]) {
            return Err(TaskError::value_error("Integers to negative integer powers are not allowed."));
        }
    }
    dispatch!(common, |T| zip_into::<T, T>(&args[1], &args[2], arith::<T>(op)?))
}
register!("array_binary", Arity::Exact(3), array_binary);

fn float_fn<T: Num>(op: Unary) -> fn(T) -> T {
    macro_rules! via_f64 {
        ($f:expr) => {
            |x: T| T::from_f64($f(x.to_f64()))
        };
    }
    match op {
        Unary::Sqrt => via_f64!(f64::sqrt),
        Unary::Exp => via_f64!(f64::exp),
        Unary::Log => via_f64!(f64::ln),
        Unary::Sin => via_f64!(f64::sin),
        Unary::Cos => via_f64!(f64::cos),
        Unary::Tan => via_f64!(f64::tan),
        Unary::Floor => via_f64!(f64::floor),
        _ => via_f64!(f64::ceil),
    }
}

/// `array_unary(op, a)`.
fn array_unary(args: &[Value]) -> Result<Value, TaskError> {
    let name = str_arg(args, 0, "array_unary")?;
    let op = Unary::parse(name).ok_or_else(|| TaskError::value_error(format!("unknown function {name:?}")))?;
    let a = super::chunk(args, 1, "array_unary")?;
    let (compute, _) = op.types(a.dtype()).map_err(TaskError::type_error)?;
    dispatch!(compute, |T| {
        let x = view_as::<T>(a);
        match op {
            Unary::IsNan => output::<bool>(x.shape(), |mut o| o.zip_mut_with(&x, |o, &v| *o = v.is_nan())),
            Unary::Neg => output::<T>(x.shape(), |mut o| o.zip_mut_with(&x, |o, &v| *o = T::from_f64(-v.to_f64()))),
            Unary::Abs => output::<T>(x.shape(), |mut o| {
                o.zip_mut_with(&x, |o, &v| *o = if v < T::default() { T::from_f64(-v.to_f64()) } else { v })
            }),
            Unary::Not => output::<T>(x.shape(), |mut o| {
                o.zip_mut_with(&x, |o, &v| {
                    *o = T::from_i64(if T::DTYPE == DType::Bool { (v.to_i64() == 0) as i64 } else { !v.to_i64() })
                })
            }),
            _ => {
                let f = float_fn::<T>(op);
                output::<T>(x.shape(), |mut o| o.zip_mut_with(&x, |o, &v| *o = f(v)))
            }
        }
    })
}
register!("array_unary", Arity::Exact(2), array_unary);

/// `array_where(cond, a, b, dtype)`: `a` where `cond` is true, else `b`, broadcast together.
fn array_where(args: &[Value]) -> Result<Value, TaskError> {
    let dtype = dtype_arg(args, 3, "array_where")?;
    let cond = operand::<bool>(&args[0]);
    dispatch!(dtype, |T| {
        let (a, b) = (operand::<T>(&args[1]), operand::<T>(&args[2]));
        let shape =
            broadcast_shape(&broadcast_shape(cond.shape(), a.shape()).map_err(TaskError::value_error)?, b.shape())
                .map_err(TaskError::value_error)?;
        let (c, a, b) = (
            cond.broadcast(shape.clone()).unwrap(),
            a.broadcast(shape.clone()).unwrap(),
            b.broadcast(shape.clone()).unwrap(),
        );
        output::<T>(&shape, |mut o| {
            Zip::from(&mut o).and(&c).and(&a).and(&b).for_each(|o, &c, &a, &b| *o = if c { a } else { b })
        })
    })
}
register!("array_where", Arity::Exact(4), array_where);

/// `array_clip(a, lo, hi)`: each element limited to `[lo, hi]` (either bound may be None).
fn array_clip(args: &[Value]) -> Result<Value, TaskError> {
    let a = super::chunk(args, 0, "array_clip")?;
    let bound = |v: &Value| v.as_float();
    let (lo, hi) = (bound(&args[1]), bound(&args[2]));
    dispatch!(a.dtype(), |T| {
        let x = view_as::<T>(a);
        let (lo, hi) = (lo.map(T::from_f64), hi.map(T::from_f64));
        output::<T>(x.shape(), |mut o| {
            o.zip_mut_with(&x, |o, &v| {
                let v = match lo {
                    Some(l) if v < l => l,
                    _ => v,
                };
                *o = match hi {
                    Some(h) if v > h => h,
                    _ => v,
                };
            })
        })
    })
}
register!("array_clip", Arity::Exact(3), array_clip);

/// `array_astype(a, dtype)`.
fn array_astype(args: &[Value]) -> Result<Value, TaskError> {
    let a = super::chunk(args, 0, "array_astype")?;
    let dtype = dtype_arg(args, 1, "array_astype")?;
    dispatch!(dtype, |T| {
        let x = view_as::<T>(a);
        output::<T>(x.shape(), |mut o| o.assign(&x))
    })
}
register!("array_astype", Arity::Exact(2), array_astype);

/// Elements per step of a fused program: registers of this many stay in the L1 cache.
const TILE: usize = 256;

/// One decoded instruction of a fused program.
enum Instr {
    Binary(Binary, Src, Src),
    Unary(Unary, Src),
}

#[derive(Clone, Copy)]
enum Src {
    Leaf(usize),
    Reg(usize),
    Const(f64),
}

fn decode_src(v: &Value, leaves: usize, regs: usize) -> Result<Src, TaskError> {
    match v {
        Value::Float(c) => Ok(Src::Const(*c)),
        Value::Int(k) if *k >= 0 && (*k as usize) < leaves => Ok(Src::Leaf(*k as usize)),
        Value::Int(k) if *k < 0 && ((-1 - *k) as usize) < regs => Ok(Src::Reg((-1 - *k) as usize)),
        other => Err(TaskError::value_error(format!("array_fused: bad operand {other}"))),
    }
}

/// `dst[j] = f(a[j], b[j])`, monomorphized per operator so the loop vectorizes.
#[inline(always)]
fn zip2(dst: &mut [f64], a: &[f64], b: &[f64], f: impl Fn(f64, f64) -> f64) {
    for ((d, &x), &y) in dst.iter_mut().zip(a).zip(b) {
        *d = f(x, y);
    }
}

#[inline(always)]
fn map1(dst: &mut [f64], a: &[f64], f: impl Fn(f64) -> f64) {
    for (d, &x) in dst.iter_mut().zip(a) {
        *d = f(x);
    }
}

fn binary_tile(op: Binary, dst: &mut [f64], a: &[f64], b: &[f64]) {
    let nan_aware =
        |m: fn(f64, f64) -> f64| move |x: f64, y: f64| if x.is_nan() || y.is_nan() { f64::NAN } else { m(x, y) };
    match op {
        Binary::Add => zip2(dst, a, b, |x, y| x + y),
        Binary::Sub => zip2(dst, a, b, |x, y| x - y),
        Binary::Mul => zip2(dst, a, b, |x, y| x * y),
        Binary::Div => zip2(dst, a, b, |x, y| x / y),
        Binary::Pow => zip2(dst, a, b, f64::powf),
        Binary::Maximum => zip2(dst, a, b, nan_aware(f64::max)),
        _ => zip2(dst, a, b, nan_aware(f64::min)),
    }
}

fn unary_tile(op: Unary, dst: &mut [f64], a: &[f64]) {
    match op {
        Unary::Neg => map1(dst, a, |x| -x),
        Unary::Abs => map1(dst, a, f64::abs),
        Unary::Sqrt => map1(dst, a, f64::sqrt),
        Unary::Exp => map1(dst, a, f64::exp),
        Unary::Log => map1(dst, a, f64::ln),
        Unary::Sin => map1(dst, a, f64::sin),
        Unary::Cos => map1(dst, a, f64::cos),
        Unary::Tan => map1(dst, a, f64::tan),
        Unary::Floor => map1(dst, a, f64::floor),
        _ => map1(dst, a, f64::ceil),
    }
}

/// `array_fused(program, leaf0, leaf1, …)`: a float64 elementwise program over blocks of one
/// shape, run a tile at a time (see `crate::fuse`).
fn array_fused(args: &[Value]) -> Result<Value, TaskError> {
    const F: &str = "array_fused";
    let leaves: Vec<&[f64]> = (1..args.len())
        .map(|i| {
            super::chunk(args, i, F)?.as_f64().ok_or_else(|| TaskError::type_error("array_fused: float64 blocks only"))
        })
        .collect::<Result<_, _>>()?;
    let shape = super::chunk(args, 1, F)?.shape().to_vec();
    if (2..args.len()).any(|i| super::chunk(args, i, F).map(|c| c.shape() != shape.as_slice()).unwrap_or(true)) {
        return Err(TaskError::value_error("array_fused: blocks of different shapes"));
    }
    let program = args[0].as_seq().ok_or_else(|| TaskError::type_error("array_fused: a program"))?;
    let mut instrs = Vec::with_capacity(program.len());
    for (r, ins) in program.iter().enumerate() {
        let parts = ins.as_seq().unwrap_or_default();
        let name = parts.get(1).and_then(Value::as_str).unwrap_or("");
        let src = |i: usize| decode_src(parts.get(i).unwrap_or(&Value::None), leaves.len(), r);
        instrs.push(match parts.first().and_then(Value::as_str) {
            Some("b") => {
                let op =
                    Binary::parse(name).ok_or_else(|| TaskError::value_error(format!("unknown operator {name:?}")))?;
                arith::<f64>(op)?;
                Instr::Binary(op, src(2)?, src(3)?)
            }
            Some("u") => Instr::Unary(
                Unary::parse(name).ok_or_else(|| TaskError::value_error(format!("unknown function {name:?}")))?,
                src(2)?,
            ),
            _ => return Err(TaskError::value_error(format!("array_fused: bad instruction {ins}"))),
        });
    }
    if instrs.is_empty() {
        return Err(TaskError::value_error("array_fused: an empty program"));
    }
    let n: usize = shape.iter().product();
    let mut regs = vec![[0.0f64; TILE]; instrs.len()];
    // Constants as whole tiles, so every operand is a slice.
    let consts: Vec<[f64; TILE]> = instrs
        .iter()
        .flat_map(|i| match i {
            Instr::Binary(_, a, b) => vec![*a, *b],
            Instr::Unary(_, a) => vec![*a],
        })
        .filter_map(|s| if let Src::Const(c) = s { Some([c; TILE]) } else { None })
        .collect();
    output::<f64>(&shape, |mut out| {
        let out = out.as_slice_mut().expect("fresh output is contiguous");
        for start in (0..n).step_by(TILE) {
            let len = TILE.min(n - start);
            let mut next_const = 0;
            for (r, ins) in instrs.iter().enumerate() {
                let (done, rest) = regs.split_at_mut(r);
                let dst = &mut rest[0][..len];
                let mut slice = |s: Src| -> &[f64] {
                    match s {
                        Src::Leaf(k) => &leaves[k][start..start + len],
                        Src::Reg(q) => &done[q][..len],
                        Src::Const(_) => {
                            next_const += 1;
                            &consts[next_const - 1][..len]
                        }
                    }
                };
                match *ins {
                    Instr::Binary(op, a, b) => {
                        let (x, y) = (slice(a), slice(b));
                        binary_tile(op, dst, x, y)
                    }
                    Instr::Unary(op, a) => unary_tile(op, dst, slice(a)),
                }
            }
            out[start..start + len].copy_from_slice(&regs[instrs.len() - 1][..len]);
        }
    })
}
register!("array_fused", Arity::AtLeast(2), array_fused);
