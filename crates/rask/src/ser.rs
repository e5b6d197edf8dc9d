//! Rust values into task [`Value`]s, through serde: numbers, strings and bytes become their
//! `Value` forms; sequences of numbers become numeric `Array`s (so a large `Vec<f64>` crosses
//! processes in shared memory, unseen by anyone but the reader); structs and maps become
//! dicts (printable as Python would, readable by untyped tasks); enums `{'Variant': payload}`.

use std::any::Any;
use std::sync::Arc;

use rask_graph::{Array, Value};
use serde::ser::{self, Serialize};

/// Why a value could not be converted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

impl ser::Error for ValueError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

impl serde::de::Error for ValueError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ValueError(msg.to_string())
    }
}

/// `value` as a task [`Value`].
pub fn to_value<T: Serialize + 'static>(value: &T) -> std::result::Result<Value, rask_graph::TaskError> {
    // The numeric vectors, straight into an array (in shared memory where a worker's arena
    // takes it), without a `Value` per element.
    let any: &dyn Any = value;
    if let Some(v) = any.downcast_ref::<Vec<f64>>() {
        return Array::f64_with(v.len(), |out| out.copy_from_slice(v)).map(Value::Array);
    }
    if let Some(v) = any.downcast_ref::<Vec<i64>>() {
        return Array::i64_with(v.len(), |out| out.copy_from_slice(v)).map(Value::Array);
    }
    if let Some(v) = any.downcast_ref::<Value>() {
        return Ok(v.clone());
    }
    value.serialize(ValueSerializer).map_err(|e| rask_graph::TaskError::new("TypeError", e.0))
}

pub(crate) struct ValueSerializer;

type Result<T> = std::result::Result<T, ValueError>;

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = ValueError;
    type SerializeSeq = Seq;
    type SerializeTuple = Seq;
    type SerializeTupleStruct = Seq;
    type SerializeTupleVariant = Variant<Seq>;
    type SerializeMap = Map;
    type SerializeStruct = Map;
    type SerializeStructVariant = Variant<Map>;

    fn serialize_bool(self, v: bool) -> Result<Value> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value> {
        Ok(Value::Int(v))
    }
    fn serialize_u8(self, v: u8) -> Result<Value> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value> {
        i64::try_from(v).map(Value::Int).map_err(|_| ValueError(format!("{v} does not fit a 64-bit signed int")))
    }
    fn serialize_f32(self, v: f32) -> Result<Value> {
        Ok(Value::Float(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value> {
        Ok(Value::Float(v))
    }
    fn serialize_char(self, v: char) -> Result<Value> {
        Ok(Value::str(v.encode_utf8(&mut [0; 4])))
    }
    fn serialize_str(self, v: &str) -> Result<Value> {
        Ok(Value::str(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value> {
        Ok(Value::bytes(v))
    }
    fn serialize_none(self) -> Result<Value> {
        Ok(Value::None)
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result<Value> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value> {
        Ok(Value::None)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value> {
        Ok(Value::None)
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<Value> {
        Ok(Value::str(variant))
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> Result<Value> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value> {
        Ok(tagged(variant, value.serialize(ValueSerializer)?))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Seq> {
        Ok(Seq { items: Vec::with_capacity(len.unwrap_or(0)), numeric: true })
    }
    fn serialize_tuple(self, len: usize) -> Result<Seq> {
        Ok(Seq { items: Vec::with_capacity(len), numeric: false })
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Seq> {
        self.serialize_tuple(len)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<Seq>> {
        Ok(Variant { variant, inner: self.serialize_tuple(len)? })
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Map> {
        Ok(Map { entries: Vec::with_capacity(len.unwrap_or(0)), key: None })
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Map> {
        self.serialize_map(Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Variant<Map>> {
        Ok(Variant { variant, inner: self.serialize_map(Some(len))? })
    }
}

fn tagged(variant: &str, payload: Value) -> Value {
    Value::Dict(Arc::new(vec![(Value::str(variant), payload)]))
}

/// A sequence; one of numbers only (of one kind) becomes an array.
pub(crate) struct Seq {
    items: Vec<Value>,
    /// Still possibly an array: a `seq` (not a tuple) whose items so far are all numbers.
    numeric: bool,
}

impl Seq {
    fn push<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let v = value.serialize(ValueSerializer)?;
        self.numeric &= matches!(v, Value::Int(_) | Value::Float(_));
        self.items.push(v);
        Ok(())
    }

    fn finish(self, tuple: bool) -> Result<Value> {
        let items = self.items;
        if self.numeric && !items.is_empty() {
            if items.iter().all(|v| matches!(v, Value::Float(_))) {
                let floats: Vec<f64> = items.iter().map(|v| v.as_float().unwrap_or_default()).collect();
                return Ok(Value::Array(Array::from_f64(floats)));
            }
            if items.iter().all(|v| matches!(v, Value::Int(_))) {
                let ints: Vec<i64> = items.iter().map(|v| v.as_int().unwrap_or_default()).collect();
                return Ok(Value::Array(Array::from_i64(ints)));
            }
        }
        Ok(if tuple { Value::tuple(items) } else { Value::list(items) })
    }
}

impl ser::SerializeSeq for Seq {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<Value> {
        self.finish(false)
    }
}

impl ser::SerializeTuple for Seq {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_element<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<Value> {
        self.finish(true)
    }
}

impl ser::SerializeTupleStruct for Seq {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.push(value)
    }
    fn end(self) -> Result<Value> {
        self.finish(true)
    }
}

pub(crate) struct Variant<S> {
    variant: &'static str,
    inner: S,
}

impl ser::SerializeTupleVariant for Variant<Seq> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        self.inner.push(value)
    }
    fn end(self) -> Result<Value> {
        Ok(tagged(self.variant, self.inner.finish(true)?))
    }
}

/// A map or struct: a dict, in order.
pub(crate) struct Map {
    entries: Vec<(Value, Value)>,
    key: Option<Value>,
}

impl ser::SerializeMap for Map {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result<()> {
        self.key = Some(key.serialize(ValueSerializer)?);
        Ok(())
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result<()> {
        let key = self.key.take().ok_or_else(|| ValueError("a map value without its key".into()))?;
        self.entries.push((key, value.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value> {
        Ok(Value::Dict(Arc::new(self.entries)))
    }
}

impl ser::SerializeStruct for Map {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        self.entries.push((Value::str(key), value.serialize(ValueSerializer)?));
        Ok(())
    }
    fn end(self) -> Result<Value> {
        Ok(Value::Dict(Arc::new(self.entries)))
    }
}

impl ser::SerializeStructVariant for Variant<Map> {
    type Ok = Value;
    type Error = ValueError;
    fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result<()> {
        ser::SerializeStruct::serialize_field(&mut self.inner, key, value)
    }
    fn end(self) -> Result<Value> {
        Ok(tagged(self.variant, Value::Dict(Arc::new(self.inner.entries))))
    }
}
