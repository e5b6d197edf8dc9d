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
    deserialize_nested_with(d, T::deserialize)
}

/// [`deserialize_nested`] with the reading done by `read`.
pub(crate) fn deserialize_nested_with<'de, D: Deserializer<'de>, T>(
    d: D,
    read: impl FnOnce(D) -> Result<T, D::Error>,
) -> Result<T, D::Error> {
    let depth = DEPTH.get() + 1;
    if depth > crate::MAX_DEPTH {
        return Err(serde::de::Error::custom(format!("values nested deeper than {} levels", crate::MAX_DEPTH)));
    }
    DEPTH.set(depth);
    let result = read(d);
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

/// Element type of an [`Array`]: NumPy's `float64`, `int64`, `float32`, `int32` and `bool`.
// New variants go last: the wire format numbers them in this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DType {
    F64,
    I64,
    F32,
    I32,
    Bool,
}

impl DType {
    /// Every dtype, in NumPy's order of promotion within a kind (bool, ints, floats).
    pub const ALL: [DType; 5] = [DType::Bool, DType::I32, DType::I64, DType::F32, DType::F64];

    pub fn name(self) -> &'static str {
        match self {
            DType::F64 => "float64",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::I32 => "int32",
            DType::Bool => "bool",
        }
    }

    /// Bytes per element.
    pub fn itemsize(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::Bool => 1,
        }
    }

    /// The dtype NumPy calls `name` (`float64`, `f8`, `int32`, `bool`, …).
    pub fn parse(name: &str) -> Option<DType> {
        Some(match name {
            "float64" | "f8" | "f64" | "double" => DType::F64,
            "int64" | "i8" | "i64" => DType::I64,
            "float32" | "f4" | "f32" | "single" => DType::F32,
            "int32" | "i4" | "i32" => DType::I32,
            "bool" | "b1" | "?" => DType::Bool,
            _ => return None,
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type an [`Array`] can hold: `f64`, `i64`, `f32`, `i32` or `bool`. Sealed: these are
/// plain types whose bytes other processes read in place.
pub trait Element: Copy + Default + Send + Sync + PartialEq + fmt::Debug + 'static + sealed::Sealed {
    const DTYPE: DType;
}

macro_rules! elements {
    ($($t:ty => $d:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DType = DType::$d;
        }
    )*};
}
elements!(f64 => F64, i64 => I64, f32 => F32, i32 => I32, bool => Bool);

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

impl AsRef<[u8]> for TypedVec<u64> {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: u64 has no padding and every byte is initialized.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast(), std::mem::size_of_val(self.0.as_slice())) }
    }
}

impl<T: Element> AsRef<[u8]> for TypedVec<T> {
    fn as_ref(&self) -> &[u8] {
        // SAFETY: T is a plain numeric type or bool: every byte is initialized, no padding.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast(), std::mem::size_of_val(self.0.as_slice())) }
    }
}

fn element_count(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d))
}

impl Array {
    pub fn from_f64(values: Vec<f64>) -> Array {
        Array::from_vec(values)
    }

    pub fn from_i64(values: Vec<i64>) -> Array {
        Array::from_vec(values)
    }

    /// A one-dimensional array owning `values`, without copying them.
    pub fn from_vec<T: Element>(values: Vec<T>) -> Array {
        let shape: Arc<[usize]> = Arc::new([values.len()]);
        Array { dtype: T::DTYPE, shape, data: Buffer::from_owner(Arc::new(TypedVec(values))) }
    }

    /// An array of `shape` owning `values` (row-major), without copying them. Errors unless
    /// the values fill the shape exactly.
    pub fn from_shape_vec<T: Element>(shape: &[usize], values: Vec<T>) -> Result<Array, String> {
        if element_count(shape) != Some(values.len()) {
            return Err(format!("{} values cannot fill shape {shape:?}", values.len()));
        }
        Ok(Array { dtype: T::DTYPE, shape: shape.into(), data: Buffer::from_owner(Arc::new(TypedVec(values))) })
    }

    /// A new float64 array of `len` elements, zero-filled and then written by `fill`, in the
    /// thread's [arena](crate::arena) when one is installed and takes the size. Larger than
    /// [`allocation_limit`](crate::arena::allocation_limit), or refused by the system: a
    /// `MemoryError`.
    pub fn f64_with(len: usize, fill: impl FnOnce(&mut [f64])) -> Result<Array, TaskError> {
        Array::filled_with(&[len], fill)
    }

    /// The int64 form of [`Array::f64_with`].
    pub fn i64_with(len: usize, fill: impl FnOnce(&mut [i64])) -> Result<Array, TaskError> {
        Array::filled_with(&[len], fill)
    }

    /// A new array of `shape`, zero-filled (false for bool) and then written by `fill` in
    /// row-major order: in the thread's [arena](crate::arena) when one is installed and takes
    /// the size, so a worker process writes it straight into shared memory. Larger than
    /// [`allocation_limit`](crate::arena::allocation_limit), or refused by the system: a
    /// `MemoryError`.
    pub fn filled_with<T: Element>(shape: &[usize], fill: impl FnOnce(&mut [T])) -> Result<Array, TaskError> {
        let len =
            element_count(shape).ok_or_else(|| TaskError::new("MemoryError", format!("shape {shape:?} overflows")))?;
        let size = std::mem::size_of::<T>();
        crate::arena::check_allocation(len, size)?;
        let data = match Array::in_arena::<T, _>(len, fill) {
            Ok(buffer) => buffer,
            Err(fill) => {
                let mut v = crate::arena::try_zeroed::<T>(len)?;
                fill(&mut v);
                Buffer::from_owner(Arc::new(TypedVec(v)))
            }
        };
        Ok(Array { dtype: T::DTYPE, shape: shape.into(), data })
    }

    /// Fills an arena block, or hands `fill` back when there is no arena for this size.
    fn in_arena<T: Element, F: FnOnce(&mut [T])>(len: usize, fill: F) -> Result<Buffer, F> {
        let size = std::mem::size_of::<T>();
        let Some(mut block) = len.checked_mul(size).and_then(crate::arena::allocate) else {
            return Err(fill);
        };
        let bytes = block.bytes_mut();
        assert!(bytes.len() == len * size && bytes.as_ptr() as usize % 8 == 0, "arena blocks are exact and aligned");
        // SAFETY: the block is `len * size` initialized (zeroed), 8-byte-aligned bytes; T is a
        // number, for which every bit pattern is valid, or bool, for which zero is `false`.
        fill(unsafe { std::slice::from_raw_parts_mut(bytes.as_mut_ptr().cast::<T>(), len) });
        Ok(block.freeze())
    }

    /// An array over existing bytes. Errors unless the bytes fill the shape exactly, are
    /// aligned for the element type and (for bool) are all 0 or 1.
    pub fn from_buffer(dtype: DType, shape: &[usize], data: Buffer) -> Result<Array, String> {
        let elems = element_count(shape).ok_or("shape overflows")?;
        if elems.checked_mul(dtype.itemsize()) != Some(data.len()) {
            return Err(format!("{} bytes cannot hold shape {:?} of {}", data.len(), shape, dtype.name()));
        }
        if (data.as_slice().as_ptr() as usize) % dtype.itemsize() != 0 {
            return Err(format!("array bytes are not {}-byte aligned", dtype.itemsize()));
        }
        if dtype == DType::Bool && data.as_slice().iter().any(|&b| b > 1) {
            return Err("bool array bytes other than 0 and 1".into());
        }
        Ok(Array { dtype, shape: shape.into(), data })
    }

    /// Changes the shape without touching the data.
    pub fn reshape(&self, shape: &[usize]) -> Result<Array, String> {
        if element_count(shape) != Some(self.len()) {
            return Err(format!("cannot reshape an array of {} elements into shape {shape:?}", self.len()));
        }
        Ok(Array { dtype: self.dtype, shape: shape.into(), data: self.data.clone() })
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len() / self.dtype.itemsize()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn buffer(&self) -> &Buffer {
        &self.data
    }

    pub fn as_f64(&self) -> Option<&[f64]> {
        self.as_slice()
    }

    pub fn as_i64(&self) -> Option<&[i64]> {
        self.as_slice()
    }

    /// The elements in row-major order, if they are `T`s.
    pub fn as_slice<T: Element>(&self) -> Option<&[T]> {
        (self.dtype == T::DTYPE).then(|| {
            let bytes = self.data.as_slice();
            // SAFETY: every constructor checks alignment for the dtype, a length that is a
            // multiple of its size and, for bool, bytes of 0 or 1; numbers accept every bit
            // pattern.
            unsafe { std::slice::from_raw_parts(bytes.as_ptr().cast(), bytes.len() / size_of::<T>()) }
        })
    }

    /// Element `i` (row-major) as a scalar value: `Float` for floats, `Int` for ints, `Bool`.
    pub fn item(&self, i: usize) -> Option<Value> {
        Some(match self.dtype {
            DType::F64 => Value::Float(*self.as_slice::<f64>()?.get(i)?),
            DType::F32 => Value::Float(*self.as_slice::<f32>()?.get(i)? as f64),
            DType::I64 => Value::Int(*self.as_slice::<i64>()?.get(i)?),
            DType::I32 => Value::Int(*self.as_slice::<i32>()?.get(i)? as i64),
            DType::Bool => Value::Bool(*self.as_slice::<bool>()?.get(i)?),
        })
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
            match self.item(i) {
                Some(Value::Float(x)) => write_float_repr(f, x)?,
                Some(item) => write!(f, "{item}")?,
                None => unreachable!("i < len"),
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
        // Deserialized bytes have no alignment guarantee: re-home them in 8-byte words.
        let bytes = p.data.as_slice();
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        // SAFETY: u64 words are plain bytes; the view covers the vector's initialized memory.
        let view = unsafe { std::slice::from_raw_parts_mut(words.as_mut_ptr().cast::<u8>(), words.len() * 8) };
        view[..bytes.len()].copy_from_slice(bytes);
        let aligned = Buffer::from_owner(Arc::new(TypedVec(words))).slice(0, bytes.len());
        Array::from_buffer(p.dtype, &p.shape, aligned)
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
