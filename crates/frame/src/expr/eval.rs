//! Evaluating an expression on a batch. Constants stay one-element arrays (`Evaluated::scalar`)
//! until an operation meets a column, so `lit(1) - col("d")` costs one array, not two.

use std::sync::Arc;

use arrow_arith::boolean::{and_kleene, is_not_null, is_null, not, or_kleene};
use arrow_arith::numeric;
use arrow_array::{new_null_array, Array, ArrayRef, BooleanArray, Datum, RecordBatch, Scalar, UInt32Array};
use arrow_schema::DataType;

use super::{Expr, Lit, MathFn, Op, TimeUnit, Type};
use crate::FrameError;

impl Type {
    pub(crate) fn arrow(self) -> DataType {
        match self {
            Type::Bool => DataType::Boolean,
            Type::Int32 => DataType::Int32,
            Type::Int64 => DataType::Int64,
            Type::Float32 => DataType::Float32,
            Type::Float64 => DataType::Float64,
            Type::Utf8 => DataType::Utf8,
            Type::Date32 => DataType::Date32,
            Type::Timestamp(unit) => DataType::Timestamp(unit.arrow(), None),
            Type::Decimal128(p, s) => DataType::Decimal128(p, s),
        }
    }
}

impl TimeUnit {
    pub(crate) fn arrow(self) -> arrow_schema::TimeUnit {
        match self {
            TimeUnit::Second => arrow_schema::TimeUnit::Second,
            TimeUnit::Millisecond => arrow_schema::TimeUnit::Millisecond,
            TimeUnit::Microsecond => arrow_schema::TimeUnit::Microsecond,
            TimeUnit::Nanosecond => arrow_schema::TimeUnit::Nanosecond,
        }
    }
}

impl Expr {
    /// The expression's value for every row of `batch`.
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<ArrayRef, FrameError> {
        let v = self.eval(batch)?;
        v.broadcast(batch.num_rows())
    }

    pub(super) fn eval(&self, batch: &RecordBatch) -> Result<Evaluated, FrameError> {
        Ok(match self {
            Expr::Col(name) => Evaluated { array: crate::column(batch, name)?, scalar: false },
            Expr::Lit(l) => Evaluated { array: literal(l)?, scalar: true },
            Expr::Binary(op @ (Op::Add | Op::Sub), l, r) if matches!(**r, Expr::Lit(Lit::Interval { .. })) => {
                let Expr::Lit(Lit::Interval { months, days }) = **r else { unreachable!("matched above") };
                super::dates::shift(*op, l.eval(batch)?, months, days)?
            }
            Expr::Binary(op, l, r) => binary(*op, l.eval(batch)?, r.eval(batch)?, batch.num_rows())?,
            Expr::Not(e) => e.eval(batch)?.map(|a| Ok(Arc::new(not(boolean(a, "not")?)?)))?,
            Expr::IsNull(e) => {
                let v = e.eval(batch)?;
                // A null literal has no validity buffer of its own: every row is null.
                if v.array.data_type() == &DataType::Null {
                    return Ok(Evaluated { array: Arc::new(BooleanArray::from(vec![true])), scalar: v.scalar });
                }
                v.map(|a| Ok(Arc::new(is_null(a)?)))?
            }
            Expr::Cast(e, to) => {
                let v = e.eval(batch)?;
                let target = to.arrow();
                let from = v.array.data_type().clone();
                v.map(|a| {
                    arrow_cast::cast_with_options(
                        a,
                        &target,
                        &arrow_cast::CastOptions { safe: false, ..Default::default() },
                    )
                    .map_err(|e| FrameError::Type(format!("cannot cast {from} to {target}: {e}")))
                })?
            }
            Expr::Str(f, e) => e.eval(batch)?.map(|a| super::text::apply(f, a))?,
            Expr::Date(f, e) => e.eval(batch)?.map(|a| super::dates::apply(*f, a))?,
            Expr::Math(f, e) => e.eval(batch)?.map(|a| math(*f, a))?,
            Expr::When(branches, otherwise) => when(branches, otherwise, batch)?,
            Expr::IsIn(e, values) => {
                let v = e.eval(batch)?;
                let mut any: Option<Evaluated> = None;
                for value in values {
                    let hit = binary(
                        Op::Eq,
                        v.clone(),
                        Evaluated { array: literal(value)?, scalar: true },
                        batch.num_rows(),
                    )?;
                    any = Some(match any {
                        None => hit,
                        Some(prev) => binary(Op::Or, prev, hit, batch.num_rows())?,
                    });
                }
                match any {
                    Some(any) => any,
                    // `x IN ()` is false (null for a null x).
                    None => v.map(|a| {
                        let falses = BooleanArray::from(vec![false; a.len()]);
                        Ok(Arc::new(arrow_select::nullif::nullif(&falses, &is_null(a)?)?))
                    })?,
                }
            }
            Expr::Coalesce(exprs) => {
                let mut values = exprs.iter().map(|e| e.eval(batch)).collect::<Result<Vec<_>, _>>()?.into_iter();
                let Some(mut acc) = values.next() else {
                    return Err(FrameError::Type("coalesce of no values".into()));
                };
                for next in values {
                    let (a, b) = coerce(acc, next, Op::Eq)?;
                    let scalar = a.scalar && b.scalar;
                    let n = if scalar { 1 } else { batch.num_rows() };
                    let (a, b) = (a.broadcast(n)?, b.broadcast(n)?);
                    let present = if a.data_type() == &DataType::Null {
                        BooleanArray::from(vec![false; n])
                    } else {
                        is_not_null(&a)?
                    };
                    acc = Evaluated { array: arrow_select::zip::zip(&present, &a, &b)?, scalar };
                }
                acc
            }
            Expr::Concat(exprs) => super::text::concat(exprs, batch)?,
        })
    }
}

/// An evaluated operand: an array with a row per row, or a one-element constant.
#[derive(Clone)]
pub(super) struct Evaluated {
    pub array: ArrayRef,
    pub scalar: bool,
}

impl Evaluated {
    fn datum(&self) -> Box<dyn Datum + '_> {
        if self.scalar {
            Box::new(Scalar::new(self.array.clone()))
        } else {
            Box::new(self.array.clone())
        }
    }

    pub fn broadcast(&self, n: usize) -> Result<ArrayRef, FrameError> {
        if !self.scalar || n == 1 {
            return Ok(self.array.clone());
        }
        if self.array.data_type() == &DataType::Null {
            return Ok(new_null_array(&DataType::Null, n));
        }
        Ok(arrow_select::take::take(&self.array, &UInt32Array::from(vec![0u32; n]), None)?)
    }

    /// `f` of the array, keeping whether it is a constant.
    pub fn map(self, f: impl FnOnce(&ArrayRef) -> Result<ArrayRef, FrameError>) -> Result<Evaluated, FrameError> {
        Ok(Evaluated { array: f(&self.array)?, scalar: self.scalar })
    }
}

fn binary(op: Op, l: Evaluated, r: Evaluated, rows: usize) -> Result<Evaluated, FrameError> {
    let (l, r) = coerce(l, r, op)?;
    let scalar = l.scalar && r.scalar;
    let (ld, rd) = (l.datum(), r.datum());
    let (ld, rd) = (ld.as_ref(), rd.as_ref());
    let array: ArrayRef = match op {
        Op::Add => numeric::add(ld, rd)?,
        Op::Sub => numeric::sub(ld, rd)?,
        Op::Mul => numeric::mul(ld, rd)?,
        Op::Div => numeric::div(ld, rd).map_err(|e| FrameError::Type(format!("division: {e}")))?,
        Op::Eq => Arc::new(arrow_ord::cmp::eq(ld, rd)?),
        Op::NotEq => Arc::new(arrow_ord::cmp::neq(ld, rd)?),
        Op::Lt => Arc::new(arrow_ord::cmp::lt(ld, rd)?),
        Op::LtEq => Arc::new(arrow_ord::cmp::lt_eq(ld, rd)?),
        Op::Gt => Arc::new(arrow_ord::cmp::gt(ld, rd)?),
        Op::GtEq => Arc::new(arrow_ord::cmp::gt_eq(ld, rd)?),
        Op::And | Op::Or => {
            let n = if scalar { 1 } else { rows };
            let (l, r) = (l.broadcast(n)?, r.broadcast(n)?);
            let (l, r) = (boolean(&as_bool(&l)?, "and/or")?.clone(), boolean(&as_bool(&r)?, "and/or")?.clone());
            Arc::new(if op == Op::And { and_kleene(&l, &r)? } else { or_kleene(&l, &r)? })
        }
    };
    Ok(Evaluated { array, scalar })
}

/// A null literal in a boolean operation is a null boolean.
fn as_bool(a: &ArrayRef) -> Result<ArrayRef, FrameError> {
    if a.data_type() == &DataType::Null {
        return Ok(new_null_array(&DataType::Boolean, a.len()));
    }
    Ok(a.clone())
}

pub(super) fn literal(l: &Lit) -> Result<ArrayRef, FrameError> {
    use arrow_array::{
        BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, NullArray, StringArray,
        TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray,
    };
    Ok(match l {
        Lit::Null => Arc::new(NullArray::new(1)),
        Lit::Bool(b) => Arc::new(BooleanArray::from(vec![*b])),
        Lit::Int(i) => Arc::new(Int64Array::from(vec![*i])),
        Lit::Float(x) => Arc::new(Float64Array::from(vec![*x])),
        Lit::Str(s) => Arc::new(StringArray::from(vec![s.as_str()])),
        Lit::Date(d) => Arc::new(Date32Array::from(vec![*d])),
        Lit::Timestamp(t, TimeUnit::Second) => Arc::new(TimestampSecondArray::from(vec![*t])),
        Lit::Timestamp(t, TimeUnit::Millisecond) => Arc::new(TimestampMillisecondArray::from(vec![*t])),
        Lit::Timestamp(t, TimeUnit::Microsecond) => Arc::new(TimestampMicrosecondArray::from(vec![*t])),
        Lit::Timestamp(t, TimeUnit::Nanosecond) => Arc::new(TimestampNanosecondArray::from(vec![*t])),
        Lit::Decimal { value, precision, scale } => {
            Arc::new(Decimal128Array::from(vec![*value]).with_precision_and_scale(*precision, *scale)?)
        }
        Lit::Interval { .. } => {
            return Err(FrameError::Type("an interval can only be added to or subtracted from a date".into()))
        }
    })
}

pub(super) fn boolean<'a>(a: &'a ArrayRef, what: &str) -> Result<&'a BooleanArray, FrameError> {
    a.as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| FrameError::Type(format!("{what} needs booleans, got {}", a.data_type())))
}

/// The type two operands of different types meet at (the rules in the module doc of
/// `expr`), or `None` when they do not.
fn common_type(l: &DataType, r: &DataType) -> Option<DataType> {
    use DataType::*;
    let key = crate::keys::key_type;
    let is_int = |t: &DataType| t.is_integer();
    Some(match (l, r) {
        (Null, t) | (t, Null) => t.clone(),
        (Dictionary(_, v), t) | (t, Dictionary(_, v)) => return common_type(v, t),
        (a, b) if key(a) == Utf8 && key(b) == Utf8 => Utf8,
        (a, b) if is_int(a) && is_int(b) => Int64,
        (Decimal128(p1, s1), Decimal128(p2, s2)) => {
            let scale = (*s1).max(*s2);
            let whole = (i16::from(*p1) - i16::from(*s1)).max(i16::from(*p2) - i16::from(*s2));
            Decimal128((whole + i16::from(scale)).min(38) as u8, scale)
        }
        (Decimal128(p, s), t) | (t, Decimal128(p, s)) if is_int(t) => {
            Decimal128(((i16::from(*p) - i16::from(*s)).max(19) + i16::from(*s)).min(38) as u8, *s)
        }
        (a, b) if a.is_numeric() && b.is_numeric() => Float64,
        (Date32, Utf8) | (Utf8, Date32) => Date32,
        (Timestamp(u, z), Utf8 | Date32) | (Utf8 | Date32, Timestamp(u, z)) => Timestamp(*u, z.clone()),
        _ => return None,
    })
}

/// Operands of different types meet at [`common_type`]. For arithmetic on two decimals they
/// stay as they are (Arrow's kernels give the result its precision and scale).
pub(super) fn coerce(l: Evaluated, r: Evaluated, op: Op) -> Result<(Evaluated, Evaluated), FrameError> {
    let (lt, rt) = (l.array.data_type().clone(), r.array.data_type().clone());
    if lt == rt || matches!(op, Op::And | Op::Or) {
        return Ok((l, r));
    }
    let arithmetic = matches!(op, Op::Add | Op::Sub | Op::Mul | Op::Div);
    if arithmetic && matches!((&lt, &rt), (DataType::Decimal128(..), DataType::Decimal128(..))) {
        return Ok((l, r));
    }
    let Some(to) = common_type(&lt, &rt) else {
        return Err(FrameError::Type(format!("{op:?} between {lt} and {rt}")));
    };
    let cast = |v: Evaluated| -> Result<Evaluated, FrameError> {
        if v.array.data_type() == &to {
            return Ok(v);
        }
        let from = v.array.data_type().clone();
        let options = arrow_cast::CastOptions { safe: false, ..Default::default() };
        v.map(|a| {
            arrow_cast::cast_with_options(a, &to, &options)
                .map_err(|e| FrameError::Type(format!("{op:?}: cannot read {from} as {to}: {e}")))
        })
    };
    Ok((cast(l)?, cast(r)?))
}

fn math(f: MathFn, a: &ArrayRef) -> Result<ArrayRef, FrameError> {
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Decimal128Type, Float64Type};
    let t = a.data_type().clone();
    if !t.is_numeric() && t != DataType::Null {
        return Err(FrameError::Type(format!("{f:?} of a {t} value")));
    }
    if f == MathFn::Neg {
        return Ok(numeric::neg(a)?);
    }
    if f == MathFn::Abs {
        let negative =
            arrow_ord::cmp::lt(a, &Scalar::new(arrow_cast::cast(&arrow_array::Int64Array::from(vec![0]), &t)?))?;
        return Ok(arrow_select::zip::zip(&negative, &numeric::neg(a)?, a)?);
    }
    if t.is_integer() {
        // Whole numbers are their own floor, ceiling and rounding (to places >= 0).
        return Ok(a.clone());
    }
    if let DataType::Decimal128(p, s) = t {
        let d = a.as_primitive::<Decimal128Type>();
        let places = match f {
            MathFn::Round(n) => n.clamp(0, i32::from(s)) as i8,
            _ => 0,
        };
        let unit = 10i128.pow((s - places).max(0) as u32);
        let out: arrow_array::Decimal128Array = d.unary(|v| {
            let (q, r) = (v / unit, v % unit);
            let q = match f {
                MathFn::Floor if r < 0 => q - 1,
                MathFn::Ceil if r > 0 => q + 1,
                MathFn::Round(_) if 2 * r.abs() >= unit => q + r.signum(),
                _ => q,
            };
            q * unit
        });
        return Ok(Arc::new(out.with_precision_and_scale(p, s)?));
    }
    let floats = arrow_cast::cast(a, &DataType::Float64)?;
    let floats = floats.as_primitive::<Float64Type>();
    let out: arrow_array::Float64Array = match f {
        MathFn::Floor => floats.unary(f64::floor),
        MathFn::Ceil => floats.unary(f64::ceil),
        MathFn::Round(n) => {
            let scale = 10f64.powi(n);
            floats.unary(|x| (x * scale).round() / scale)
        }
        MathFn::Abs | MathFn::Neg => unreachable!("handled above"),
    };
    Ok(arrow_cast::cast(&(Arc::new(out) as ArrayRef), &t)?)
}

/// `CASE WHEN`: from the last branch to the first, each taking the rows its condition holds
/// for (a null condition counts as false).
fn when(branches: &[(Expr, Expr)], otherwise: &Expr, batch: &RecordBatch) -> Result<Evaluated, FrameError> {
    let n = batch.num_rows();
    let mut acc = otherwise.eval(batch)?;
    let mut scalar = acc.scalar;
    for (condition, value) in branches.iter().rev() {
        let c = condition.eval(batch)?;
        let v = value.eval(batch)?;
        let (v, rest) = coerce(v, acc, Op::Eq)?;
        scalar = scalar && c.scalar && v.scalar;
        let rows = if scalar { 1 } else { n };
        let c = as_bool(&c.broadcast(rows)?)?;
        let c = boolean(&c, "when")?;
        // Nulls count as false: `zip` takes a null mask as false already.
        acc = Evaluated { array: arrow_select::zip::zip(c, &v.broadcast(rows)?, &rest.broadcast(rows)?)?, scalar };
    }
    Ok(acc)
}
