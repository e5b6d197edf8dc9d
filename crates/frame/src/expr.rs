//! Column expressions: built in Rust (`col("y").gt(lit(0.5))`), serialized into tasks, and
//! evaluated per partition with Arrow's compute kernels.

use std::sync::Arc;

use arrow_arith::boolean::{and_kleene, is_null, not, or_kleene};
use arrow_arith::numeric;
use arrow_array::{Array, ArrayRef, BooleanArray, Datum, RecordBatch, Scalar, UInt32Array};
use arrow_schema::DataType;
use serde::{Deserialize, Serialize};

use crate::FrameError;

/// A literal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
}

/// Column types an expression can cast to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Type {
    Bool,
    Int64,
    Float64,
    Utf8,
}

impl Type {
    fn arrow(self) -> DataType {
        match self {
            Type::Bool => DataType::Boolean,
            Type::Int64 => DataType::Int64,
            Type::Float64 => DataType::Float64,
            Type::Utf8 => DataType::Utf8,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    Col(String),
    Lit(Lit),
    Binary(Op, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull(Box<Expr>),
    Cast(Box<Expr>, Type),
}

pub fn col(name: &str) -> Expr {
    Expr::Col(name.to_owned())
}

pub fn lit(value: impl Into<Lit>) -> Expr {
    Expr::Lit(value.into())
}

impl From<i64> for Lit {
    fn from(v: i64) -> Lit {
        Lit::Int(v)
    }
}
impl From<f64> for Lit {
    fn from(v: f64) -> Lit {
        Lit::Float(v)
    }
}
impl From<bool> for Lit {
    fn from(v: bool) -> Lit {
        Lit::Bool(v)
    }
}
impl From<&str> for Lit {
    fn from(v: &str) -> Lit {
        Lit::Str(v.to_owned())
    }
}

macro_rules! binary_methods {
    ($($name:ident => $op:ident),* $(,)?) => {
        // Builder methods, as in polars: `col("x").add(lit(1))` reads better than operators
        // on a plan type.
        #[allow(clippy::should_implement_trait)]
        impl Expr {
            $(pub fn $name(self, other: Expr) -> Expr {
                Expr::Binary(Op::$op, Box::new(self), Box::new(other))
            })*
        }
    };
}

binary_methods! {
    add => Add, sub => Sub, mul => Mul, div => Div,
    eq => Eq, not_eq => NotEq, lt => Lt, lt_eq => LtEq, gt => Gt, gt_eq => GtEq,
    and => And, or => Or,
}

impl Expr {
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }

    pub fn is_null(self) -> Expr {
        Expr::IsNull(Box::new(self))
    }

    pub fn cast(self, to: Type) -> Expr {
        Expr::Cast(Box::new(self), to)
    }

    /// Every column the expression reads (for projection pushdown).
    pub fn columns(&self, out: &mut Vec<String>) {
        match self {
            Expr::Col(c) => {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
            Expr::Lit(_) => {}
            Expr::Binary(_, l, r) => {
                l.columns(out);
                r.columns(out);
            }
            Expr::Not(e) | Expr::IsNull(e) | Expr::Cast(e, _) => e.columns(out),
        }
    }

    /// The `column op number` conjuncts of a predicate, for row-group pruning (anything else
    /// is left to the filter itself).
    pub(crate) fn bounds(&self, out: &mut Vec<crate::kernels::Bound>) {
        let number = |l: &Lit| match l {
            Lit::Int(i) => Some(*i as f64),
            Lit::Float(x) => Some(*x),
            _ => None,
        };
        let flipped = |op: Op| match op {
            Op::Gt => Op::Lt,
            Op::GtEq => Op::LtEq,
            Op::Lt => Op::Gt,
            Op::LtEq => Op::GtEq,
            other => other,
        };
        match self {
            Expr::Binary(Op::And, l, r) => {
                l.bounds(out);
                r.bounds(out);
            }
            Expr::Binary(op @ (Op::Gt | Op::GtEq | Op::Lt | Op::LtEq | Op::Eq), l, r) => match (&**l, &**r) {
                (Expr::Col(c), Expr::Lit(v)) => {
                    if let Some(value) = number(v) {
                        out.push(crate::kernels::Bound { column: c.clone(), op: *op, value });
                    }
                }
                (Expr::Lit(v), Expr::Col(c)) => {
                    if let Some(value) = number(v) {
                        out.push(crate::kernels::Bound { column: c.clone(), op: flipped(*op), value });
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }

    /// The expression's value for every row of `batch`.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<ArrayRef, FrameError> {
        let v = self.eval(batch)?;
        if !v.scalar {
            return Ok(v.array);
        }
        // A constant expression: repeat its one value.
        let zeros = UInt32Array::from(vec![0u32; batch.num_rows()]);
        Ok(arrow_select::take::take(&v.array, &zeros, None)?)
    }

    fn eval(&self, batch: &RecordBatch) -> Result<Evaluated, FrameError> {
        Ok(match self {
            Expr::Col(name) => Evaluated { array: crate::column(batch, name)?, scalar: false },
            Expr::Lit(l) => Evaluated { array: literal(l), scalar: true },
            Expr::Binary(op, l, r) => {
                let (l, r) = coerce(l.eval(batch)?, r.eval(batch)?, *op)?;
                let scalar = l.scalar && r.scalar;
                let array: ArrayRef = match op {
                    Op::Add => numeric::add(l.datum().as_ref(), r.datum().as_ref())?,
                    Op::Sub => numeric::sub(l.datum().as_ref(), r.datum().as_ref())?,
                    Op::Mul => numeric::mul(l.datum().as_ref(), r.datum().as_ref())?,
                    Op::Div => numeric::div(l.datum().as_ref(), r.datum().as_ref())?,
                    Op::Eq => Arc::new(arrow_ord::cmp::eq(l.datum().as_ref(), r.datum().as_ref())?),
                    Op::NotEq => Arc::new(arrow_ord::cmp::neq(l.datum().as_ref(), r.datum().as_ref())?),
                    Op::Lt => Arc::new(arrow_ord::cmp::lt(l.datum().as_ref(), r.datum().as_ref())?),
                    Op::LtEq => Arc::new(arrow_ord::cmp::lt_eq(l.datum().as_ref(), r.datum().as_ref())?),
                    Op::Gt => Arc::new(arrow_ord::cmp::gt(l.datum().as_ref(), r.datum().as_ref())?),
                    Op::GtEq => Arc::new(arrow_ord::cmp::gt_eq(l.datum().as_ref(), r.datum().as_ref())?),
                    Op::And | Op::Or => {
                        let n = if scalar { 1 } else { batch.num_rows() };
                        let (l, r) = (l.broadcast(n)?, r.broadcast(n)?);
                        let (l, r) = (boolean(&l, "and/or")?, boolean(&r, "and/or")?);
                        Arc::new(if *op == Op::And { and_kleene(l, r)? } else { or_kleene(l, r)? })
                    }
                };
                Evaluated { array, scalar }
            }
            Expr::Not(e) => {
                let v = e.eval(batch)?;
                Evaluated { array: Arc::new(not(boolean(&v.array, "not")?)?), scalar: v.scalar }
            }
            Expr::IsNull(e) => {
                let v = e.eval(batch)?;
                Evaluated { array: Arc::new(is_null(&v.array)?), scalar: v.scalar }
            }
            Expr::Cast(e, to) => {
                let v = e.eval(batch)?;
                Evaluated { array: arrow_cast::cast(&v.array, &to.arrow())?, scalar: v.scalar }
            }
        })
    }
}

/// An evaluated operand: an array with a row per row, or a one-element constant.
struct Evaluated {
    array: ArrayRef,
    scalar: bool,
}

impl Evaluated {
    fn datum(&self) -> Box<dyn Datum + '_> {
        if self.scalar {
            Box::new(Scalar::new(self.array.clone()))
        } else {
            Box::new(self.array.clone())
        }
    }

    fn broadcast(&self, n: usize) -> Result<ArrayRef, FrameError> {
        if !self.scalar || n == 1 {
            return Ok(self.array.clone());
        }
        Ok(arrow_select::take::take(&self.array, &UInt32Array::from(vec![0u32; n]), None)?)
    }
}

fn literal(l: &Lit) -> ArrayRef {
    use arrow_array::{BooleanArray, Float64Array, Int64Array, NullArray, StringArray};
    match l {
        Lit::Null => Arc::new(NullArray::new(1)),
        Lit::Bool(b) => Arc::new(BooleanArray::from(vec![*b])),
        Lit::Int(i) => Arc::new(Int64Array::from(vec![*i])),
        Lit::Float(x) => Arc::new(Float64Array::from(vec![*x])),
        Lit::Str(s) => Arc::new(StringArray::from(vec![s.as_str()])),
    }
}

fn boolean<'a>(a: &'a ArrayRef, what: &str) -> Result<&'a BooleanArray, FrameError> {
    a.as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| FrameError::Type(format!("{what} needs booleans, got {}", a.data_type())))
}

/// Numeric operands of different types meet at float64 (Python's and pandas' rule); nulls take
/// the other side's type.
fn coerce(l: Evaluated, r: Evaluated, op: Op) -> Result<(Evaluated, Evaluated), FrameError> {
    let (lt, rt) = (l.array.data_type().clone(), r.array.data_type().clone());
    if lt == rt || matches!(op, Op::And | Op::Or) {
        return Ok((l, r));
    }
    let cast = |v: Evaluated, to: &DataType| -> Result<Evaluated, FrameError> {
        Ok(Evaluated { array: arrow_cast::cast(&v.array, to)?, scalar: v.scalar })
    };
    if lt == DataType::Null {
        return Ok((cast(l, &rt)?, r));
    }
    if rt == DataType::Null {
        return Ok((l, cast(r, &lt)?));
    }
    if lt.is_numeric() && rt.is_numeric() {
        return Ok((cast(l, &DataType::Float64)?, cast(r, &DataType::Float64)?));
    }
    Err(FrameError::Type(format!("{op:?} between {lt} and {rt}")))
}
