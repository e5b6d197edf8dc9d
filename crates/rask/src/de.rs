//! Task [`Value`]s back into Rust values, through serde: the inverse of [`crate::to_value`],
//! lenient where Python is (an int where a float is asked, a list or an array where a
//! sequence is), so values made by untyped tasks and Dask-notation literals are read too.

use std::any::{Any, TypeId};

use rask_graph::{DType, Value};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use crate::ser::ValueError;

type Result<T> = std::result::Result<T, ValueError>;

/// `value` as a `T`.
pub fn from_value<T: DeserializeOwned + 'static>(value: &Value) -> Result<T> {
    // The numeric vectors, copied out of the array in one go.
    let fast: Option<Box<dyn Any>> = match value {
        Value::Array(a) if TypeId::of::<T>() == TypeId::of::<Vec<f64>>() && a.dtype() == DType::F64 => {
            a.as_f64().map(|s| Box::new(s.to_vec()) as Box<dyn Any>)
        }
        Value::Array(a) if TypeId::of::<T>() == TypeId::of::<Vec<i64>>() && a.dtype() == DType::I64 => {
            a.as_i64().map(|s| Box::new(s.to_vec()) as Box<dyn Any>)
        }
        _ if TypeId::of::<T>() == TypeId::of::<Value>() => Some(Box::new(value.clone())),
        _ => None,
    };
    if let Some(Ok(v)) = fast.map(|b| b.downcast::<T>()) {
        return Ok(*v);
    }
    T::deserialize(ValueDeserializer(value))
}

pub(crate) struct ValueDeserializer<'a>(pub &'a Value);

impl<'de> de::Deserializer<'de> for ValueDeserializer<'_> {
    type Error = ValueError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::None => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Bytes(b) => visitor.visit_bytes(b.as_slice()),
            Value::List(items) | Value::Tuple(items) => {
                visitor.visit_seq(Items { items: items.iter().map(Item::Ref).collect(), at: 0 })
            }
            Value::Array(a) => {
                let items: Vec<Item> = (0..a.len()).filter_map(|i| a.item(i)).map(Item::Owned).collect();
                visitor.visit_seq(Items { items, at: 0 })
            }
            Value::Dict(entries) => visitor.visit_map(Entries { entries, at: 0 }),
            Value::Ext(e) => Err(ValueError(format!("a {} value cannot be read as a Rust type", e.type_name()))),
            other => Err(ValueError(format!("a {} value cannot be read as a Rust type", other.type_name()))),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.0 {
            Value::None => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.0 {
            Value::Str(s) => visitor.visit_enum(s.as_ref().into_deserializer()),
            Value::Dict(entries) if entries.len() == 1 => visitor.visit_enum(Tagged(&entries[0])),
            other => Err(ValueError(format!("expected an enum variant, got {}", other.type_name()))),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

enum Item<'a> {
    Ref(&'a Value),
    Owned(Value),
}

struct Items<'a> {
    items: Vec<Item<'a>>,
    at: usize,
}

impl<'de> de::SeqAccess<'de> for Items<'_> {
    type Error = ValueError;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        let Some(item) = self.items.get(self.at) else { return Ok(None) };
        self.at += 1;
        let value = match item {
            Item::Ref(v) => v,
            Item::Owned(v) => v,
        };
        seed.deserialize(ValueDeserializer(value)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len() - self.at)
    }
}

struct Entries<'a> {
    entries: &'a [(Value, Value)],
    at: usize,
}

impl<'de> de::MapAccess<'de> for Entries<'_> {
    type Error = ValueError;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        match self.entries.get(self.at) {
            Some((k, _)) => seed.deserialize(ValueDeserializer(k)).map(Some),
            None => Ok(None),
        }
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        let (_, v) = &self.entries[self.at];
        self.at += 1;
        seed.deserialize(ValueDeserializer(v))
    }
}

/// `{'Variant': payload}`.
struct Tagged<'a>(&'a (Value, Value));

impl<'de, 'a> de::EnumAccess<'de> for Tagged<'a> {
    type Error = ValueError;
    type Variant = ValueDeserializer<'a>;

    fn variant_seed<V: de::DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant)> {
        let variant = seed.deserialize(ValueDeserializer(&self.0 .0))?;
        Ok((variant, ValueDeserializer(&self.0 .1)))
    }
}

impl<'de> de::VariantAccess<'de> for ValueDeserializer<'_> {
    type Error = ValueError;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_any(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_any(self, visitor)
    }
}
