//! Values: what tasks take and return.

use std::any::Any;
use std::cell::Cell;
use std::fmt;
use std::sync::Arc;

use crate::registry::TaskError;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::repr::{write_bytes_repr, write_float_repr, write_str_repr};

/// A task's input or result.
///
/// Python's data model, minus objects: every value serializes, so it can cross a thread, a
/// process or a network. Containers and payloads are reference counted, so cloning a value —
/// which executors do to hand one result to several dependents — never copies its contents.
///
/// Equality is structural (`Int(1) != Float(1.0)`, NaN equals NaN) because it serves tests and
/// round trips; Python's numeric equality is the business of functions such as `eq`.
#[derive(Clone, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Value {
    #[default]
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    Bytes(Buffer),
    List(#[serde(deserialize_with = "deserialize_nested")] Arc<Vec<Value>>),
    Tuple(#[serde(deserialize_with = "deserialize_nested")] Arc<Vec<Value>>),
    /// Insertion-ordered, like Python's dict. Lookups are linear: dicts in task graphs are small
    /// records; bulk data belongs in arrays or (later) record batches.
    Dict(#[serde(deserialize_with = "deserialize_nested")] Arc<Vec<(Value, Value)>>),
    Array(Array),
    /// A value of a type defined above this crate (an Arrow record batch, …); see [`crate::ext`].
    Ext(crate::ext::Ext),
}

impl Value {
    pub fn str(s: &str) -> Value {
        Value::Str(Arc::from(s))
    }

    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(Arc::new(items.into_iter().collect()))
    }

    pub fn tuple(items: impl IntoIterator<Item = Value>) -> Value {
        Value::Tuple(Arc::new(items.into_iter().collect()))
    }

    pub fn bytes(data: impl Into<Vec<u8>>) -> Value {
        Value::Bytes(Buffer::from_vec(data.into()))
    }

    /// Python's type name, for error messages (`unsupported operand type(s) for +: 'int' and 'str'`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::None => "NoneType",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Str(_) => "str",
            Value::Bytes(_) => "bytes",
            Value::List(_) => "list",
            Value::Tuple(_) => "tuple",
            Value::Dict(_) => "dict",
            Value::Array(_) => "ndarray",
            Value::Ext(e) => e.type_name(),
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            Value::Bool(b) => Some(*b as i64),
            _ => None,
        }
    }

    pub fn as_float(&self) -> Option<f64> {
        match self {
            Value::Float(x) => Some(*x),
            Value::Int(i) => Some(*i as f64),
            Value::Bool(b) => Some(*b as i64 as f64),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The items of a list or tuple.
    pub fn as_seq(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) | Value::Tuple(items) => Some(items),
            _ => None,
        }
    }

    /// Approximate bytes this value occupies, counting shared payloads once per reference.
    /// Used to flag tasks that embed large literals.
    pub fn nbytes(&self) -> usize {
        const SCALAR: usize = 16;
        match self {
            Value::Str(s) => SCALAR + s.len(),
            Value::Bytes(b) => SCALAR + b.len(),
            Value::List(items) | Value::Tuple(items) => SCALAR + items.iter().map(Value::nbytes).sum::<usize>(),
            Value::Dict(pairs) => SCALAR + pairs.iter().map(|(k, v)| k.nbytes() + v.nbytes()).sum::<usize>(),
            Value::Array(a) => SCALAR + a.data.len(),
            Value::Ext(e) => SCALAR + e.nbytes(),
            _ => SCALAR,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Value::None, Value::None) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b || (a.is_nan() && b.is_nan()),
            (Value::Str(a), Value::Str(b)) => a == b,
            (Value::Bytes(a), Value::Bytes(b)) => a.as_slice() == b.as_slice(),
            (Value::List(a), Value::List(b)) | (Value::Tuple(a), Value::Tuple(b)) => a == b,
            (Value::Dict(a), Value::Dict(b)) => a == b,
            (Value::Array(a), Value::Array(b)) => a == b,
            (Value::Ext(a), Value::Ext(b)) => a == b,
            _ => false,
        }
    }
}

/// Python's `repr`: `[9, 2]`, `2.5`, `'abc'`, `('x', 1)`, `None`, `{'a': 1}`.
impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::None => f.write_str("None"),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write_float_repr(f, *x),
            Value::Str(s) => write_str_repr(f, s),
            Value::Bytes(b) => write_bytes_repr(f, b.as_slice()),
            Value::List(items) => write_seq(f, "[", items, "]"),
            Value::Tuple(items) if items.len() == 1 => write!(f, "({},)", items[0]),
            Value::Tuple(items) => write_seq(f, "(", items, ")"),
            Value::Dict(pairs) => {
                f.write_str("{")?;
                for (i, (k, v)) in pairs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}: {v}")?;
                }
                f.write_str("}")
            }
            Value::Array(a) => fmt::Display::fmt(a, f),
            Value::Ext(e) => fmt::Display::fmt(e, f),
        }
    }
}

fn write_seq(f: &mut fmt::Formatter<'_>, open: &str, items: &[Value], close: &str) -> fmt::Result {
    f.write_str(open)?;
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write!(f, "{item}")?;
    }
    f.write_str(close)
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

macro_rules! value_from {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from($v: $t) -> Value {
                $e
            }
        })*
    };
}

value_from! {
    bool => |b| Value::Bool(b),
    i64 => |i| Value::Int(i),
    i32 => |i| Value::Int(i as i64),
    f64 => |x| Value::Float(x),
    &str => |s| Value::str(s),
    String => |s| Value::Str(Arc::from(s)),
    Vec<Value> => |items| Value::List(Arc::new(items)),
    Array => |a| Value::Array(a),
}

thread_local! {
    static DEPTH: Cell<usize> = const { Cell::new(0) };
}

/// Deserializes a container one level deeper, refusing input nested beyond [`crate::MAX_DEPTH`]:
/// bytes from a peer must not be able to overflow the stack. For `#[serde(deserialize_with)]`
/// on recursive fields, here and in the wire types built on these values.
pub fn deserialize_nested<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    let depth = DEPTH.get() + 1;
    if depth > crate::MAX_DEPTH {
        return Err(serde::de::Error::custom(format!("values nested deeper than {} levels", crate::MAX_DEPTH)));
    }
    DEPTH.set(depth);
    let result = T::deserialize(d);
    DEPTH.set(depth - 1);
    result
}

/// What can own a [`Buffer`]'s bytes: anything that lends them as a slice. `as_any` lets an
/// executor recognise its own owners (a shared-memory segment) and pass a handle, not bytes.
pub trait BufferOwner: AsRef<[u8]> + Send + Sync + 'static {
    fn as_any(&self) -> &dyn Any;
}

impl<T: AsRef<[u8]> + Send + Sync + 'static> BufferOwner for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An immutable, reference-counted byte buffer whose memory may belong to someone else —
/// a `Vec`, a typed array, or (with `crates/store`) a shared-memory mapping — so readers get a
/// slice without copying.
#[derive(Clone)]
pub struct Buffer {
    owner: Arc<dyn BufferOwner>,
    offset: usize,
    len: usize,
}

impl Buffer {
    pub fn from_vec(bytes: Vec<u8>) -> Buffer {
        let len = bytes.len();
        Buffer { owner: Arc::new(bytes), offset: 0, len }
    }

    /// Wraps any owner of bytes; the buffer keeps it alive as long as any clone exists.
    pub fn from_owner(owner: Arc<dyn BufferOwner>) -> Buffer {
        let len = (*owner).as_ref().len();
        Buffer { owner, offset: 0, len }
    }

    /// The owner, if it is a `T`, with this buffer's range within the owner's bytes.
    pub fn owner<T: 'static>(&self) -> Option<(&T, std::ops::Range<usize>)> {
        self.owner.as_any().downcast_ref::<T>().map(|o| (o, self.offset..self.offset + self.len))
    }

    /// A sub-range sharing the same owner. Panics if the range is out of bounds, like slicing.
    pub fn slice(&self, start: usize, len: usize) -> Buffer {
        assert!(start.checked_add(len).is_some_and(|end| end <= self.len), "buffer slice out of bounds");
        Buffer { owner: self.owner.clone(), offset: self.offset + start, len }
    }

    pub fn as_slice(&self) -> &[u8] {
        &(*self.owner).as_ref()[self.offset..self.offset + self.len]
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Buffer({} bytes)", self.len)
    }
}

impl Serialize for Buffer {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_slice())
    }
}

impl<'de> Deserialize<'de> for Buffer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Buffer, D::Error> {
        struct BytesVisitor;
        impl<'de> serde::de::Visitor<'de> for BytesVisitor {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<u8>, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
                while let Some(b) = seq.next_element()? {
                    out.push(b);
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(BytesVisitor).map(Buffer::from_vec)
    }
}

/// Element type of an [`Array`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DType {
    F64,
    I64,
}

impl DType {
    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "float64",
            DType::I64 => "int64",
        }
    }
}

/// A dense n-dimensional numeric array in row-major order over a [`Buffer`], so a mapping of
/// shared memory can be read as `&[f64]` in place.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "ArrayParts", into = "ArrayParts")]
pub struct Array {
    dtype: DType,
    shape: Arc<[usize]>,
    data: Buffer,
}

/// A vector of `T` viewed as bytes; owning it in a [`Buffer`] keeps the element alignment.
struct TypedVec<T>(Vec<T>);

impl<T: Copy + Send + Sync> AsRef<[u8]> for TypedVec<T> {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: T is a plain numeric type (f64/i64): every byte is initialized, no padding.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast(), std::mem::size_of_val(self.0.as_slice())) }
    }
}

impl Array {
    pub fn from_f64(values: Vec<f64>) -> Array {
        let shape: Arc<[usize]> = Arc::new([values.len()]);
        Array { dtype: DType::F64, shape, data: Buffer::from_owner(Arc::new(TypedVec(values))) }
    }

    pub fn from_i64(values: Vec<i64>) -> Array {
        let shape: Arc<[usize]> = Arc::new([values.len()]);
        Array { dtype: DType::I64, shape, data: Buffer::from_owner(Arc::new(TypedVec(values))) }
    }

    /// A new float64 array of `len` elements, zero-filled and then written by `fill`, in the
    /// thread's [arena](crate::arena) when one is installed and takes the size. Larger than
    /// [`allocation_limit`](crate::arena::allocation_limit), or refused by the system: a
    /// `MemoryError`.
    pub fn f64_with(len: usize, fill: impl FnOnce(&mut [f64])) -> Result<Array, TaskError> {
        crate::arena::check_allocation(len, 8)?;
        Ok(match Array::in_arena::<f64, _>(len, fill) {
            Ok(buffer) => Array { dtype: DType::F64, shape: Arc::new([len]), data: buffer },
            Err(fill) => {
                let mut v = crate::arena::try_zeroed(len)?;
                fill(&mut v);
                Array::from_f64(v)
            }
        })
    }

    /// The int64 form of [`Array::f64_with`].
    pub fn i64_with(len: usize, fill: impl FnOnce(&mut [i64])) -> Result<Array, TaskError> {
        crate::arena::check_allocation(len, 8)?;
        Ok(match Array::in_arena::<i64, _>(len, fill) {
            Ok(buffer) => Array { dtype: DType::I64, shape: Arc::new([len]), data: buffer },
            Err(fill) => {
                let mut v = crate::arena::try_zeroed(len)?;
                fill(&mut v);
                Array::from_i64(v)
            }
        })
    }

    /// Fills an arena block, or hands `fill` back when there is no arena for this size.
    fn in_arena<T: Copy, F: FnOnce(&mut [T])>(len: usize, fill: F) -> Result<Buffer, F> {
        let Some(mut block) = len.checked_mul(8).and_then(crate::arena::allocate) else {
            return Err(fill);
        };
        let bytes = block.bytes_mut();
        assert!(bytes.len() == len * 8 && bytes.as_ptr() as usize % 8 == 0, "arena blocks are exact and aligned");
        // SAFETY: the block is `len * 8` initialized (zeroed), 8-byte-aligned bytes, and T is
        // f64 or i64, for which every bit pattern is valid.
        fill(unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), len) });
        Ok(block.freeze())
    }

    /// An array over existing bytes. Errors unless the bytes fill the shape exactly and are
    /// aligned for the element type.
    pub fn from_buffer(dtype: DType, shape: &[usize], data: Buffer) -> Result<Array, String> {
        let elems = shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d)).ok_or("shape overflows")?;
        if elems.checked_mul(8) != Some(data.len()) {
            return Err(format!("{} bytes cannot hold shape {:?} of {}", data.len(), shape, dtype.name()));
        }
        if (data.as_slice().as_ptr() as usize) % 8 != 0 {
            return Err("array bytes are not 8-byte aligned".into());
        }
        Ok(Array { dtype, shape: shape.into(), data })
    }

    /// Changes the shape without touching the data.
    pub fn reshape(&self, shape: &[usize]) -> Result<Array, String> {
        Array::from_buffer(self.dtype, shape, self.data.clone())
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    pub fn len(&self) -> usize {
        self.data.len() / 8
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn buffer(&self) -> &Buffer {
        &self.data
    }

    pub fn as_f64(&self) -> Option<&[f64]> {
        (self.dtype == DType::F64).then(|| self.cast())
    }

    pub fn as_i64(&self) -> Option<&[i64]> {
        (self.dtype == DType::I64).then(|| self.cast())
    }

    fn cast<T>(&self) -> &[T] {
        let bytes = self.data.as_slice();
        // SAFETY: every constructor checks 8-byte alignment and a length that is a multiple of 8;
        // T is f64 or i64, for which every bit pattern is valid.
        unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), bytes.len() / 8) }
    }
}

impl PartialEq for Array {
    fn eq(&self, other: &Self) -> bool {
        self.dtype == other.dtype && self.shape == other.shape && self.data.as_slice() == other.data.as_slice()
    }
}

impl fmt::Display for Array {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 20;
        if self.shape.len() != 1 || self.len() > SHOWN {
            return write!(f, "array(<shape {:?}>, dtype={})", self.shape, self.dtype.name());
        }
        f.write_str("array([")?;
        for i in 0..self.len() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match self.dtype {
                DType::F64 => write_float_repr(f, self.cast::<f64>()[i])?,
                DType::I64 => write!(f, "{}", self.cast::<i64>()[i])?,
            }
        }
        write!(f, "], dtype={})", self.dtype.name())
    }
}

#[derive(Serialize, Deserialize)]
struct ArrayParts {
    dtype: DType,
    shape: Vec<usize>,
    data: Buffer,
}

impl From<Array> for ArrayParts {
    fn from(a: Array) -> ArrayParts {
        ArrayParts { dtype: a.dtype, shape: a.shape.to_vec(), data: a.data }
    }
}

impl TryFrom<ArrayParts> for Array {
    type Error = String;
    fn try_from(p: ArrayParts) -> Result<Array, String> {
        // Deserialized bytes have no alignment guarantee: re-home them in a typed vector.
        let bytes = p.data.as_slice();
        if bytes.len() % 8 != 0 {
            return Err(format!("array data of {} bytes is not a whole number of elements", bytes.len()));
        }
        let words = bytes.chunks_exact(8).map(|c| <[u8; 8]>::try_from(c).expect("chunks of 8"));
        let fresh = match p.dtype {
            DType::F64 => Array::from_f64(words.map(f64::from_ne_bytes).collect()),
            DType::I64 => Array::from_i64(words.map(i64::from_ne_bytes).collect()),
        };
        fresh.reshape(&p.shape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reprs_match_python() {
        let v = Value::list([Value::Int(9), Value::Int(2)]);
        assert_eq!(v.to_string(), "[9, 2]");
        assert_eq!(Value::tuple([Value::str("x"), Value::Int(1)]).to_string(), "('x', 1)");
        assert_eq!(Value::tuple([Value::Int(1)]).to_string(), "(1,)");
        assert_eq!(Value::None.to_string(), "None");
        assert_eq!(Value::Float(2.5).to_string(), "2.5");
        let d = Value::Dict(Arc::new(vec![(Value::str("a"), Value::Bool(true))]));
        assert_eq!(d.to_string(), "{'a': True}");
        assert_eq!(Value::Array(Array::from_f64(vec![1.0, 2.5])).to_string(), "array([1.0, 2.5], dtype=float64)");
    }

    #[test]
    fn arrays_view_their_bytes_in_place() {
        let a = Array::from_f64(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let m = a.reshape(&[2, 3]).unwrap();
        assert_eq!(m.as_f64().unwrap().as_ptr(), a.as_f64().unwrap().as_ptr());
        assert!(a.reshape(&[4]).is_err());
        assert!(a.as_i64().is_none());
    }

    #[test]
    fn arrays_survive_serialization() {
        let v = Value::Array(Array::from_i64(vec![1, -2, 3]).reshape(&[3, 1]).unwrap());
        let json = serde_json::to_string(&v).unwrap();
        let back: Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back, v);
    }
}
