//! NumPy's type promotion for the five dtypes, so mixed arithmetic gives NumPy's dtypes.

use rask_graph::DType;

/// What an operand of an elementwise operation is: an array of a dtype, or a Python-like
/// scalar, which (as in NumPy 2) adopts the array's dtype when its kind fits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Operand {
    Array(DType),
    Bool,
    Int,
    Float,
}

fn is_float(d: DType) -> bool {
    matches!(d, DType::F32 | DType::F64)
}

/// NumPy's `result_type` of two array dtypes.
pub fn result_type(a: DType, b: DType) -> DType {
    use DType::*;
    match (a, b) {
        _ if a == b => a,
        (Bool, x) | (x, Bool) => x,
        (I32, I64) | (I64, I32) => I64,
        (F32, F64) | (F64, F32) => F64,
        (F32, I32 | I64) | (I32 | I64, F32) => F64,
        (F64, _) | (_, F64) => F64,
        _ => F64,
    }
}

/// The dtype of an operation on two operands, scalars included.
pub(crate) fn promote(a: Operand, b: Operand) -> DType {
    use Operand::*;
    match (a, b) {
        (Array(x), Array(y)) => result_type(x, y),
        (Array(x), s) | (s, Array(x)) => match s {
            Bool => x,
            Int if x == DType::Bool => DType::I64,
            Int => x,
            Float if is_float(x) => x,
            Float => DType::F64,
            Array(_) => unreachable!("matched above"),
        },
        (Float, _) | (_, Float) => DType::F64,
        (Int, _) | (_, Int) => DType::I64,
        (Bool, Bool) => DType::Bool,
    }
}

/// The floating dtype an operation on `d` computes in (`sqrt`, `/`, `mean`): float32 stays,
/// everything else is float64.
pub fn float_type(d: DType) -> DType {
    if d == DType::F32 {
        DType::F32
    } else {
        DType::F64
    }
}

/// The dtype of a sum or product of `d`: bools and ints add up in int64, as NumPy's do.
pub fn sum_type(d: DType) -> DType {
    match d {
        DType::Bool | DType::I32 | DType::I64 => DType::I64,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DType::*;

    #[test]
    fn promotion_follows_numpy() {
        let table = [
            (Bool, I32, I32),
            (I32, I64, I64),
            (I32, F32, F64),
            (I64, F32, F64),
            (F32, F32, F32),
            (F32, F64, F64),
            (Bool, Bool, Bool),
            (I64, F64, F64),
        ];
        for (a, b, want) in table {
            assert_eq!(result_type(a, b), want, "{a} {b}");
            assert_eq!(result_type(b, a), want, "{b} {a}");
        }
        assert_eq!(promote(Operand::Array(I32), Operand::Int), I32);
        assert_eq!(promote(Operand::Array(F32), Operand::Float), F32);
        assert_eq!(promote(Operand::Array(I32), Operand::Float), F64);
        assert_eq!(promote(Operand::Array(Bool), Operand::Int), I64);
        assert_eq!(float_type(I32), F64);
        assert_eq!(sum_type(Bool), I64);
    }
}
