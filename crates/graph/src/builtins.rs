//! The built-in functions, with Python's semantics: `int op int → int`, mixed → `float`, `div`
//! is true division, `sum`/`min`/`max` take one iterable (or, like Python's `min`/`max`, several
//! arguments), errors are Python's (`TypeError`, `ZeroDivisionError`, …).
//!
//! Python ints are unbounded; ours are 64-bit, and overflow is an `OverflowError`, never a
//! silently wrapped result. Arrays combine element-wise with arrays of the same shape or with
//! scalars (NumPy's rules for that case: int64 wraps, any float makes float64).

use std::cmp::Ordering;
use std::sync::Arc;

use crate::registry::{Arity, NativeFn, TaskError};
use crate::value::{Array, DType, Value};

pub(crate) const BUILTINS: &[(&str, Arity, NativeFn)] = &[
    ("add", Arity::Exact(2), add),
    ("sub", Arity::Exact(2), sub),
    ("mul", Arity::Exact(2), mul),
    ("div", Arity::Exact(2), div),
    ("truediv", Arity::Exact(2), div),
    ("neg", Arity::Exact(1), neg),
    ("inc", Arity::Exact(1), inc),
    ("sum", Arity::Range(1, 2), sum),
    ("min", Arity::AtLeast(1), min),
    ("max", Arity::AtLeast(1), max),
    ("len", Arity::Exact(1), len),
    ("concat", Arity::AtLeast(1), concat),
    ("identity", Arity::Exact(1), identity),
    ("getitem", Arity::Exact(2), getitem),
    ("ones", Arity::Exact(1), ones),
    ("arange", Arity::Range(1, 2), arange),
    ("sleep", Arity::Range(1, 2), sleep),
];

#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

fn num(v: &Value) -> Option<Num> {
    match v {
        Value::Int(i) => Some(Num::Int(*i)),
        Value::Bool(b) => Some(Num::Int(*b as i64)),
        Value::Float(x) => Some(Num::Float(*x)),
        _ => None,
    }
}

fn unsupported(symbol: &str, a: &Value, b: &Value) -> TaskError {
    TaskError::type_error(format!(
        "unsupported operand type(s) for {symbol}: '{}' and '{}'",
        a.type_name(),
        b.type_name()
    ))
}

/// One arithmetic operator, on numbers and on arrays.
struct Op {
    symbol: &'static str,
    name: &'static str,
    int: fn(i64, i64) -> Option<i64>,
    /// The int64 array form (NumPy wraps); `None` when the result is always float64.
    wrapping: Option<fn(i64, i64) -> i64>,
    float: fn(f64, f64) -> f64,
}

const ADD: Op =
    Op { symbol: "+", name: "add", int: i64::checked_add, wrapping: Some(i64::wrapping_add), float: |a, b| a + b };
const SUB: Op =
    Op { symbol: "-", name: "sub", int: i64::checked_sub, wrapping: Some(i64::wrapping_sub), float: |a, b| a - b };
const MUL: Op =
    Op { symbol: "*", name: "mul", int: i64::checked_mul, wrapping: Some(i64::wrapping_mul), float: |a, b| a * b };

fn arith(op: &Op, a: &Value, b: &Value) -> Result<Value, TaskError> {
    match (num(a), num(b)) {
        (Some(Num::Int(x)), Some(Num::Int(y))) => {
            (op.int)(x, y).map(Value::Int).ok_or_else(|| TaskError::overflow(op.name))
        }
        (Some(x), Some(y)) => Ok(Value::Float((op.float)(as_f64(x), as_f64(y)))),
        _ if matches!(a, Value::Array(_)) || matches!(b, Value::Array(_)) => array_arith(op, a, b),
        _ => Err(unsupported(op.symbol, a, b)),
    }
}

fn as_f64(n: Num) -> f64 {
    match n {
        Num::Int(i) => i as f64,
        Num::Float(x) => x,
    }
}

/// An array operand: the array's elements, or a scalar broadcast to any length.
enum Operand<'a> {
    F(&'a [f64]),
    I(&'a [i64]),
    Scalar(Num),
}

fn operand<'a>(v: &'a Value) -> Option<(Operand<'a>, Option<&'a [usize]>)> {
    match v {
        Value::Array(a) => match a.dtype() {
            DType::F64 => Some((Operand::F(a.as_f64()?), Some(a.shape()))),
            DType::I64 => Some((Operand::I(a.as_i64()?), Some(a.shape()))),
            // The other dtypes' arithmetic belongs to rask-array's kernels.
            _ => None,
        },
        other => num(other).map(|n| (Operand::Scalar(n), None)),
    }
}

fn array_arith(op: &Op, a: &Value, b: &Value) -> Result<Value, TaskError> {
    let ((x, xs), (y, ys)) = match (operand(a), operand(b)) {
        (Some(x), Some(y)) => (x, y),
        _ => return Err(unsupported(op.symbol, a, b)),
    };
    let shape = match (xs, ys) {
        (Some(s), Some(t)) if s != t => {
            return Err(TaskError::value_error(format!(
                "operands could not be broadcast together with shapes {s:?} {t:?}"
            )))
        }
        (Some(s), _) | (None, Some(s)) => s.to_vec(),
        (None, None) => unreachable!("array_arith needs an array operand"),
    };
    let n: usize = shape.iter().product();
    let at_i = |o: &Operand, i: usize| match o {
        Operand::I(v) => v[i],
        Operand::Scalar(Num::Int(k)) => *k,
        _ => unreachable!("int operand"),
    };
    let at_f = |o: &Operand, i: usize| match o {
        Operand::F(v) => v[i],
        Operand::I(v) => v[i] as f64,
        Operand::Scalar(s) => as_f64(*s),
    };
    let is_int = |o: &Operand| matches!(o, Operand::I(_) | Operand::Scalar(Num::Int(_)));
    let out = match op.wrapping {
        Some(wrapping) if is_int(&x) && is_int(&y) => Array::i64_with(n, |out| {
            out.iter_mut().enumerate().for_each(|(i, o)| *o = wrapping(at_i(&x, i), at_i(&y, i)))
        }),
        _ => Array::f64_with(n, |out| {
            out.iter_mut().enumerate().for_each(|(i, o)| *o = (op.float)(at_f(&x, i), at_f(&y, i)))
        }),
    }?;
    out.reshape(&shape).map(Value::Array).map_err(TaskError::value_error)
}

fn add(args: &[Value]) -> Result<Value, TaskError> {
    let (a, b) = (&args[0], &args[1]);
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Value::Str(Arc::from(format!("{x}{y}")))),
        (Value::Bytes(x), Value::Bytes(y)) => Ok(Value::bytes([x.as_slice(), y.as_slice()].concat())),
        (Value::List(x), Value::List(y)) => Ok(Value::list(x.iter().chain(y.iter()).cloned())),
        (Value::Tuple(x), Value::Tuple(y)) => Ok(Value::tuple(x.iter().chain(y.iter()).cloned())),
        _ => arith(&ADD, a, b),
    }
}

fn sub(args: &[Value]) -> Result<Value, TaskError> {
    arith(&SUB, &args[0], &args[1])
}

fn mul(args: &[Value]) -> Result<Value, TaskError> {
    let repeat = |n: i64| usize::try_from(n).unwrap_or(0);
    match (&args[0], &args[1]) {
        (Value::Str(s), Value::Int(n)) | (Value::Int(n), Value::Str(s)) => {
            crate::arena::check_allocation(s.len(), repeat(*n))?;
            Ok(Value::Str(Arc::from(s.repeat(repeat(*n)))))
        }
        (Value::List(s), Value::Int(n)) | (Value::Int(n), Value::List(s)) => {
            // A list item is a `Value` (16 bytes) before whatever it holds.
            crate::arena::check_allocation(s.len().saturating_mul(16), repeat(*n))?;
            Ok(Value::list((0..repeat(*n)).flat_map(|_| s.iter().cloned())))
        }
        (a, b) => arith(&MUL, a, b),
    }
}

fn div(args: &[Value]) -> Result<Value, TaskError> {
    let (a, b) = (&args[0], &args[1]);
    match (num(a), num(b)) {
        (Some(_), Some(y)) if as_f64(y) == 0.0 => Err(TaskError::zero_division()),
        (Some(x), Some(y)) => Ok(Value::Float(as_f64(x) / as_f64(y))),
        _ if matches!(a, Value::Array(_)) || matches!(b, Value::Array(_)) => {
            // NumPy's true division: always float64, x / 0 is inf or nan, not an error.
            const DIV: Op = Op { symbol: "/", name: "div", int: |_, _| None, wrapping: None, float: |a, b| a / b };
            array_arith(&DIV, a, b)
        }
        _ => Err(unsupported("/", a, b)),
    }
}

fn neg(args: &[Value]) -> Result<Value, TaskError> {
    match num(&args[0]) {
        Some(Num::Int(i)) => i.checked_neg().map(Value::Int).ok_or_else(|| TaskError::overflow("neg")),
        Some(Num::Float(x)) => Ok(Value::Float(-x)),
        None => match &args[0] {
            Value::Array(_) => array_arith(&MUL, &args[0], &Value::Int(-1)),
            other => Err(TaskError::type_error(format!("bad operand type for unary -: '{}'", other.type_name()))),
        },
    }
}

fn inc(args: &[Value]) -> Result<Value, TaskError> {
    match &args[0] {
        Value::Int(i) => i.checked_add(1).map(Value::Int).ok_or_else(|| TaskError::overflow("inc")),
        other => arith(&ADD, other, &Value::Int(1)),
    }
}

/// The items of an iterable argument, as Python would iterate them.
fn items<'a>(func: &str, v: &'a Value) -> Result<std::borrow::Cow<'a, [Value]>, TaskError> {
    use std::borrow::Cow;
    match v {
        Value::List(items) | Value::Tuple(items) => Ok(Cow::Borrowed(items.as_slice())),
        Value::Dict(pairs) => Ok(Cow::Owned(pairs.iter().map(|(k, _)| k.clone()).collect())),
        Value::Array(a) => Ok(Cow::Owned((0..a.len()).filter_map(|i| a.item(i)).collect())),
        Value::Str(s) => Ok(Cow::Owned(s.chars().map(|c| Value::Str(Arc::from(c.to_string()))).collect())),
        other => Err(TaskError::type_error(format!("{func}(): '{}' object is not iterable", other.type_name()))),
    }
}

/// An array length from a task argument: a non-negative int that fits in memory.
fn array_len(func: &str, v: &Value) -> Result<usize, TaskError> {
    let n = v.as_int().ok_or_else(|| {
        TaskError::type_error(format!("{func}(): '{}' object cannot be interpreted as an integer", v.type_name()))
    })?;
    usize::try_from(n)
        .ok()
        .filter(|&n| n <= isize::MAX as usize / 8)
        .ok_or_else(|| TaskError::value_error(format!("{func}(): invalid array length {n}")))
}

/// `time.sleep(seconds)`, returning its second argument (or None): Dask's examples use it to
/// stand for slow work.
fn sleep(args: &[Value]) -> Result<Value, TaskError> {
    let seconds = args[0]
        .as_float()
        .filter(|s| (0.0..=86_400.0).contains(s))
        .ok_or_else(|| TaskError::value_error(format!("sleep(): want 0 to 86400 seconds, got {}", args[0])))?;
    std::thread::sleep(std::time::Duration::from_secs_f64(seconds));
    Ok(args.get(1).cloned().unwrap_or(Value::None))
}

/// NumPy's `ones(n)`: float64.
fn ones(args: &[Value]) -> Result<Value, TaskError> {
    let n = array_len("ones", &args[0])?;
    Array::f64_with(n, |out| out.fill(1.0)).map(Value::Array)
}

/// NumPy's `arange(stop)` / `arange(start, stop)` on ints: int64.
fn arange(args: &[Value]) -> Result<Value, TaskError> {
    let (start, stop) = match args {
        [stop] => (0, stop),
        [start, stop] => (start.as_int().ok_or_else(|| TaskError::type_error("arange(): start must be an int"))?, stop),
        _ => unreachable!("arity is checked"),
    };
    let stop = stop.as_int().ok_or_else(|| TaskError::type_error("arange(): stop must be an int"))?;
    let n = array_len("arange", &Value::Int(stop.saturating_sub(start).max(0)))?;
    Array::i64_with(n, |out| out.iter_mut().zip(start..).for_each(|(o, i)| *o = i)).map(Value::Array)
}

fn sum(args: &[Value]) -> Result<Value, TaskError> {
    // Fast path for the common case: a list of ints, no start value.
    if let (Value::List(xs), 1) = (&args[0], args.len()) {
        if let Some(total) = xs.iter().try_fold(0i64, |acc, x| match x {
            Value::Int(i) => acc.checked_add(*i),
            _ => None,
        }) {
            return Ok(Value::Int(total));
        }
    }
    if let (Value::Array(a), 1) = (&args[0], args.len()) {
        return Ok(match a.dtype() {
            DType::F64 => Value::Float(a.as_f64().unwrap_or_default().iter().sum()),
            DType::F32 => Value::Float(a.as_slice::<f32>().unwrap_or_default().iter().map(|&x| x as f64).sum()),
            DType::I64 => Value::Int(a.as_i64().unwrap_or_default().iter().fold(0i64, |s, x| s.wrapping_add(*x))),
            DType::I32 => Value::Int(a.as_slice::<i32>().unwrap_or_default().iter().map(|&x| x as i64).sum()),
            DType::Bool => Value::Int(a.as_slice::<bool>().unwrap_or_default().iter().map(|&x| x as i64).sum()),
        });
    }
    if let Some(Value::Str(_)) = args.get(1) {
        return Err(TaskError::type_error("sum() can't sum strings [use ''.join(seq) instead]"));
    }
    let mut acc = args.get(1).cloned().unwrap_or(Value::Int(0));
    for item in items("sum", &args[0])?.iter() {
        acc = add(&[acc, item.clone()])?;
    }
    Ok(acc)
}

/// Python's ordering between two values, or a `TypeError` where Python has none.
fn compare(a: &Value, b: &Value) -> Result<Ordering, TaskError> {
    let cmp = match (a, b) {
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.as_slice().cmp(y.as_slice())),
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            for (p, q) in x.iter().zip(y.iter()) {
                match compare(p, q)? {
                    Ordering::Equal => continue,
                    other => return Ok(other),
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        _ => match (num(a), num(b)) {
            (Some(Num::Int(x)), Some(Num::Int(y))) => Some(x.cmp(&y)),
            // NaN compares false both ways in Python, so it never replaces the current extreme.
            (Some(x), Some(y)) => Some(as_f64(x).partial_cmp(&as_f64(y)).unwrap_or(Ordering::Equal)),
            _ => None,
        },
    };
    cmp.ok_or_else(|| {
        TaskError::type_error(format!(
            "'<' not supported between instances of '{}' and '{}'",
            a.type_name(),
            b.type_name()
        ))
    })
}

fn extreme(func: &str, args: &[Value], keep: Ordering) -> Result<Value, TaskError> {
    let candidates = if args.len() == 1 { items(func, &args[0])? } else { std::borrow::Cow::Borrowed(args) };
    let mut best: Option<&Value> = None;
    for item in candidates.iter() {
        best = match best {
            Some(b) if compare(item, b)? != keep => Some(b),
            _ => Some(item),
        };
    }
    best.cloned().ok_or_else(|| TaskError::value_error(format!("{func}() arg is an empty sequence")))
}

fn min(args: &[Value]) -> Result<Value, TaskError> {
    extreme("min", args, Ordering::Less)
}

fn max(args: &[Value]) -> Result<Value, TaskError> {
    extreme("max", args, Ordering::Greater)
}

fn len(args: &[Value]) -> Result<Value, TaskError> {
    let n = match &args[0] {
        Value::List(items) | Value::Tuple(items) => items.len(),
        Value::Str(s) => s.chars().count(),
        Value::Bytes(b) => b.len(),
        Value::Dict(pairs) => pairs.len(),
        Value::Array(a) => a.shape().first().copied().unwrap_or(0),
        other => return Err(TaskError::type_error(format!("object of type '{}' has no len()", other.type_name()))),
    };
    Ok(Value::Int(n as i64))
}

/// `concat([a, b, c])` or `concat(a, b, c)`: one list of every item of the given sequences.
fn concat(args: &[Value]) -> Result<Value, TaskError> {
    let seqs: &[Value] = match args {
        [one] => one.as_seq().ok_or_else(|| {
            TaskError::type_error(format!("concat() wants a list of lists, not '{}'", one.type_name()))
        })?,
        many => many,
    };
    let mut out = Vec::new();
    for seq in seqs {
        out.extend(items("concat", seq)?.iter().cloned());
    }
    Ok(Value::list(out))
}

fn identity(args: &[Value]) -> Result<Value, TaskError> {
    Ok(args[0].clone())
}

fn getitem(args: &[Value]) -> Result<Value, TaskError> {
    let (container, index) = (&args[0], &args[1]);
    let position = |len: usize, what: &str| -> Result<usize, TaskError> {
        let i = index.as_int().ok_or_else(|| {
            TaskError::type_error(format!("{what} indices must be integers, not '{}'", index.type_name()))
        })?;
        let resolved = if i < 0 { i + len as i64 } else { i };
        usize::try_from(resolved)
            .ok()
            .filter(|&p| p < len)
            .ok_or_else(|| TaskError::index_error(format!("{what} index out of range")))
    };
    match container {
        Value::List(items) => Ok(items[position(items.len(), "list")?].clone()),
        Value::Tuple(items) => Ok(items[position(items.len(), "tuple")?].clone()),
        Value::Str(s) => {
            let chars: Vec<char> = s.chars().collect();
            Ok(Value::Str(Arc::from(chars[position(chars.len(), "string")?].to_string())))
        }
        Value::Bytes(b) => Ok(Value::Int(b.as_slice()[position(b.len(), "bytes")?] as i64)),
        Value::Array(a) if a.shape().len() == 1 => {
            let p = position(a.len(), "array")?;
            Ok(a.item(p).expect("position is in range"))
        }
        Value::Dict(pairs) => pairs
            .iter()
            .find(|(k, _)| {
                k == index || matches!((num(k), num(index)), (Some(Num::Int(x)), Some(Num::Float(y))) if x as f64 == y)
            })
            .map(|(_, v)| v.clone())
            .ok_or_else(|| TaskError::key_error(index.to_string())),
        other => Err(TaskError::type_error(format!("'{}' object is not subscriptable", other.type_name()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Registry;

    fn call(name: &str, args: &[Value]) -> Result<Value, TaskError> {
        let registry = Registry::builtins();
        let f = registry.get(name).unwrap_or_else(|| panic!("{name} is a builtin"));
        assert!(f.arity().accepts(args.len()), "{name} accepts {} args", args.len());
        f.call(args)
    }

    fn ints(xs: &[i64]) -> Value {
        Value::list(xs.iter().map(|&x| Value::Int(x)))
    }

    #[test]
    fn arithmetic_follows_python_types() {
        assert_eq!(call("add", &[1.into(), 2.into()]), Ok(Value::Int(3)));
        assert_eq!(call("add", &[1.into(), 2.5.into()]), Ok(Value::Float(3.5)));
        assert_eq!(call("add", &["a".into(), "b".into()]), Ok(Value::str("ab")));
        assert_eq!(call("sub", &[true.into(), 3.into()]), Ok(Value::Int(-2)));
        assert_eq!(call("mul", &[3.into(), "ab".into()]), Ok(Value::str("ababab")));
        assert_eq!(call("div", &[3.into(), 2.into()]), Ok(Value::Float(1.5)));
        assert_eq!(call("div", &[4.into(), 2.into()]), Ok(Value::Float(2.0)));
        assert_eq!(call("neg", &[2.5.into()]), Ok(Value::Float(-2.5)));
        assert_eq!(call("inc", &[41.into()]), Ok(Value::Int(42)));
    }

    #[test]
    fn arithmetic_errors_are_python_errors() {
        assert_eq!(call("div", &[1.into(), 0.into()]).unwrap_err().kind, "ZeroDivisionError");
        assert_eq!(call("div", &[1.0.into(), 0.0.into()]).unwrap_err().kind, "ZeroDivisionError");
        let e = call("add", &[1.into(), "a".into()]).unwrap_err();
        assert_eq!(e.to_string(), "TypeError: unsupported operand type(s) for +: 'int' and 'str'");
        assert_eq!(call("add", &[i64::MAX.into(), 1.into()]).unwrap_err().kind, "OverflowError");
    }

    #[test]
    fn reductions_take_one_iterable_or_several_args() {
        assert_eq!(call("sum", &[ints(&[1, 2, 3])]), Ok(Value::Int(6)));
        assert_eq!(call("sum", &[Value::list([1.into(), 2.5.into()])]), Ok(Value::Float(3.5)));
        assert_eq!(call("sum", &[ints(&[1]), 10.into()]), Ok(Value::Int(11)));
        assert_eq!(call("sum", &[ints(&[])]), Ok(Value::Int(0)));
        assert_eq!(call("min", &[ints(&[3, 1, 2])]), Ok(Value::Int(1)));
        assert_eq!(call("max", &[3.into(), 7.5.into(), 2.into()]), Ok(Value::Float(7.5)));
        assert_eq!(call("max", &[ints(&[])]).unwrap_err().to_string(), "ValueError: max() arg is an empty sequence");
        assert_eq!(call("min", &[Value::list([1.into(), "a".into()])]).unwrap_err().kind, "TypeError");
        assert_eq!(call("sum", &[5.into()]).unwrap_err().kind, "TypeError");
    }

    #[test]
    fn containers() {
        assert_eq!(call("len", &["héllo".into()]), Ok(Value::Int(5)));
        assert_eq!(call("len", &[ints(&[1, 2])]), Ok(Value::Int(2)));
        assert_eq!(call("len", &[3.into()]).unwrap_err().kind, "TypeError");
        assert_eq!(call("concat", &[Value::list([ints(&[1]), ints(&[2, 3])])]), Ok(ints(&[1, 2, 3])));
        assert_eq!(call("concat", &[ints(&[1]), ints(&[2])]), Ok(ints(&[1, 2])));
        assert_eq!(call("getitem", &[ints(&[1, 2, 3]), (-1).into()]), Ok(Value::Int(3)));
        assert_eq!(call("getitem", &[ints(&[1]), 5.into()]).unwrap_err().kind, "IndexError");
        let d = Value::Dict(Arc::new(vec![("a".into(), 1.into())]));
        assert_eq!(call("getitem", &[d.clone(), "a".into()]), Ok(Value::Int(1)));
        assert_eq!(call("getitem", &[d, "b".into()]).unwrap_err().to_string(), "KeyError: 'b'");
        assert_eq!(call("identity", &[2.into()]), Ok(Value::Int(2)));
    }

    #[test]
    fn arrays_combine_elementwise() {
        let a = Value::Array(Array::from_f64(vec![1.0, 2.0]));
        let b = Value::Array(Array::from_i64(vec![10, 20]));
        assert_eq!(call("add", &[a.clone(), b.clone()]), Ok(Value::Array(Array::from_f64(vec![11.0, 22.0]))));
        assert_eq!(call("mul", &[b.clone(), 2.into()]), Ok(Value::Array(Array::from_i64(vec![20, 40]))));
        assert_eq!(call("sum", &[a]), Ok(Value::Float(3.0)));
        let halves = call("div", &[b.clone(), 20.into()]);
        assert_eq!(halves, Ok(Value::Array(Array::from_f64(vec![0.5, 1.0]))), "int64 / int is float64");
        let by_zero = call("div", &[b.clone(), 0.into()]);
        assert_eq!(by_zero, Ok(Value::Array(Array::from_f64(vec![f64::INFINITY; 2]))), "NumPy: x / 0 is inf");
        let c = Value::Array(Array::from_i64(vec![1, 2, 3]));
        assert_eq!(call("add", &[b, c]).unwrap_err().kind, "ValueError");
    }

    #[test]
    fn array_constructors_follow_numpy() {
        assert_eq!(call("ones", &[3.into()]), Ok(Value::Array(Array::from_f64(vec![1.0; 3]))));
        assert_eq!(call("arange", &[3.into()]), Ok(Value::Array(Array::from_i64(vec![0, 1, 2]))));
        assert_eq!(call("arange", &[2.into(), 5.into()]), Ok(Value::Array(Array::from_i64(vec![2, 3, 4]))));
        assert_eq!(call("arange", &[5.into(), 2.into()]), Ok(Value::Array(Array::from_i64(vec![]))));
        assert_eq!(call("ones", &[(-1).into()]).unwrap_err().kind, "ValueError");
        assert_eq!(call("ones", &["3".into()]).unwrap_err().kind, "TypeError");
    }

    #[test]
    fn results_larger_than_the_allocation_limit_are_memory_errors_not_aborts() {
        // Far past any machine's memory: an error naming the size, and the process lives on.
        for (f, n) in [("ones", 100_000_000_000_000_000i64), ("arange", 1_000_000_000_000)] {
            let err = call(f, &[n.into()]).unwrap_err();
            assert_eq!(err.kind, "MemoryError", "{f}: {err}");
            assert!(err.message.contains(&(n as u64 * 8).to_string()), "names the size: {err}");
        }
        let err = call("mul", &["ab".into(), (1i64 << 50).into()]).unwrap_err();
        assert_eq!(err.kind, "MemoryError", "{err}");
        let err = call("mul", &[Value::list([Value::Int(1)]), (1i64 << 50).into()]).unwrap_err();
        assert_eq!(err.kind, "MemoryError", "{err}");
        assert!(crate::arena::allocation_limit() > 1 << 20, "the default limit leaves room for real work");
        assert!(call("ones", &[1000.into()]).is_ok_and(|v| v.nbytes() >= 8000), "ordinary sizes still work");
    }

    #[test]
    fn sleep_waits_and_passes_its_value_through() {
        let start = std::time::Instant::now();
        assert_eq!(call("sleep", &[0.02.into(), 7.into()]), Ok(Value::Int(7)));
        assert!(start.elapsed() >= std::time::Duration::from_millis(20));
        assert_eq!(call("sleep", &[0.into()]), Ok(Value::None));
        assert_eq!(call("sleep", &[(-1).into()]).unwrap_err().kind, "ValueError");
    }

    #[test]
    fn large_arrays_are_written_into_the_installed_arena() {
        use crate::arena::{with_arena, Arena, BlockMut};
        use crate::value::Buffer;
        struct Counting(std::sync::atomic::AtomicUsize);
        /// Words, so the block is 8-byte aligned like a real arena's.
        struct Marked(Vec<u64>);
        impl AsRef<[u8]> for Marked {
            fn as_ref(&self) -> &[u8] {
                // SAFETY: u64s are plain bytes with no padding.
                unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast(), self.0.len() * 8) }
            }
        }
        impl BlockMut for Marked {
            fn bytes_mut(&mut self) -> &mut [u8] {
                // SAFETY: as above; the borrow is unique.
                unsafe { std::slice::from_raw_parts_mut(self.0.as_mut_ptr().cast(), self.0.len() * 8) }
            }
            fn freeze(self: Box<Self>) -> Buffer {
                Buffer::from_owner(Arc::new(*self))
            }
        }
        impl Arena for Counting {
            fn allocate(&self, len: usize) -> Option<Box<dyn BlockMut>> {
                self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(Box::new(Marked(vec![0; len / 8])))
            }
        }
        let arena = Arc::new(Counting(Default::default()));
        let v = with_arena(arena.clone(), || call("add", &[call("ones", &[4.into()]).unwrap(), 1.into()]).unwrap());
        assert_eq!(arena.0.load(std::sync::atomic::Ordering::Relaxed), 2, "ones and add both allocate there");
        let Value::Array(a) = v else { panic!("an array") };
        assert_eq!(a.as_f64(), Some(&[2.0; 4][..]));
        assert!(a.buffer().owner::<Marked>().is_some(), "the result's bytes live in the arena's block");
        assert_eq!(
            call("ones", &[2.into()]).map(|v| matches!(v, Value::Array(a) if a.buffer().owner::<Marked>().is_none())),
            Ok(true)
        );
    }
}
