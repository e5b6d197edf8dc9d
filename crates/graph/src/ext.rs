//! Values of types defined above this crate — an Arrow record batch, say — so that the graph
//! crate stays free of heavy dependencies while tasks still pass such values around.
//!
//! An [`Ext`] is shared (`Arc`), compared, printed and serialized through the [`ExtValue`]
//! trait. It serializes as its type name and bytes; the receiving process rebuilds it with the
//! [`ExtCodec`] registered (at link time, like functions) under that name, so any process
//! running the same binary can decode it, and an unknown type is an error, not a guess.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::value::Buffer;

/// What a type needs to travel as a [`crate::Value`].
pub trait ExtValue: Send + Sync + 'static {
    /// The name its codec is registered under.
    fn type_name(&self) -> &'static str;
    /// Approximate size in memory, for scheduling and inline/shared decisions.
    fn nbytes(&self) -> usize;
    /// Bytes from which the registered codec rebuilds an equal value.
    fn encode(&self) -> Result<Vec<u8>, String>;
    /// The same bytes as [`ExtValue::encode`], written to `out` as they are made: an executor
    /// passes a writer into shared memory, so a large value is encoded once, in place, with no
    /// buffer on the heap. The default writes what `encode` returns. A write error (the
    /// destination is full) must be returned as an error, not ignored.
    fn encode_to(&self, out: &mut dyn std::io::Write) -> Result<(), String> {
        out.write_all(&self.encode()?).map_err(|e| e.to_string())
    }
    fn eq_ext(&self, other: &dyn ExtValue) -> bool;
    /// How it prints inside a value's repr.
    fn fmt_repr(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn as_any(&self) -> &dyn Any;
    /// The encoded bytes this value was decoded from and still reads in place (a shared-memory
    /// mapping, say), so that it can be passed on by reference instead of encoded again.
    fn encoded_source(&self) -> Option<&Buffer> {
        None
    }
}

/// Rebuilds values of one extension type from their encoded bytes (which may live in a
/// shared-memory mapping: a codec may keep the buffer rather than copy it).
pub struct ExtCodec {
    pub type_name: &'static str,
    pub decode: fn(Buffer) -> Result<Ext, String>,
}

inventory::collect!(ExtCodec);

/// Registers an [`ExtCodec`] in every process that links the code.
#[macro_export]
macro_rules! register_ext {
    ($name:expr, $decode:path) => {
        $crate::inventory::submit! {
            $crate::ext::ExtCodec { type_name: $name, decode: $decode }
        }
    };
}

/// A shared extension value.
#[derive(Clone)]
pub struct Ext(Arc<dyn ExtValue>);

impl Ext {
    pub fn new(value: impl ExtValue) -> Ext {
        Ext(Arc::new(value))
    }

    pub fn type_name(&self) -> &'static str {
        self.0.type_name()
    }

    pub fn nbytes(&self) -> usize {
        self.0.nbytes()
    }

    /// The value, if it is a `T`.
    pub fn downcast_ref<T: 'static>(&self) -> Option<&T> {
        self.0.as_any().downcast_ref()
    }

    /// See [`ExtValue::encode`].
    pub fn encode(&self) -> Result<Vec<u8>, String> {
        self.0.encode()
    }

    /// See [`ExtValue::encode_to`].
    pub fn encode_to(&self, out: &mut dyn std::io::Write) -> Result<(), String> {
        self.0.encode_to(out)
    }

    /// See [`ExtValue::encoded_source`].
    pub fn encoded_source(&self) -> Option<&Buffer> {
        self.0.encoded_source()
    }

    /// Rebuilds a value of type `name` from its encoded bytes with the codec registered for it.
    pub fn decode(name: &str, bytes: Buffer) -> Result<Ext, String> {
        let codec = inventory::iter::<ExtCodec>
            .into_iter()
            .find(|c| c.type_name == name)
            .ok_or_else(|| format!("no codec for extension type {name:?} in this process"))?;
        (codec.decode)(bytes).map_err(|e| format!("{name}: {e}"))
    }
}

impl PartialEq for Ext {
    fn eq(&self, other: &Ext) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.eq_ext(&*other.0)
    }
}

impl fmt::Display for Ext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_repr(f)
    }
}

impl fmt::Debug for Ext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt_repr(f)
    }
}

impl Serialize for Ext {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = self.0.encode().map_err(serde::ser::Error::custom)?;
        (self.0.type_name(), Buffer::from_vec(bytes)).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Ext {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ext, D::Error> {
        let (name, bytes): (String, Buffer) = Deserialize::deserialize(d)?;
        Ext::decode(&name, bytes).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Value;

    /// A toy extension type: a pair of numbers.
    #[derive(Debug, PartialEq)]
    struct Pair(i32, i32);

    impl ExtValue for Pair {
        fn type_name(&self) -> &'static str {
            "test.Pair"
        }
        fn nbytes(&self) -> usize {
            8
        }
        fn encode(&self) -> Result<Vec<u8>, String> {
            Ok([self.0.to_le_bytes(), self.1.to_le_bytes()].concat())
        }
        fn eq_ext(&self, other: &dyn ExtValue) -> bool {
            other.as_any().downcast_ref::<Pair>() == Some(self)
        }
        fn fmt_repr(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "Pair({}, {})", self.0, self.1)
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    fn decode_pair(b: Buffer) -> Result<Ext, String> {
        let b = b.as_slice();
        if b.len() != 8 {
            return Err(format!("{} bytes, want 8", b.len()));
        }
        let word = |i: usize| i32::from_le_bytes(b[i..i + 4].try_into().expect("four bytes"));
        Ok(Ext::new(Pair(word(0), word(4))))
    }
    crate::register_ext!("test.Pair", decode_pair);

    #[test]
    fn extension_values_print_compare_and_round_trip() {
        let v = Value::list([Value::Ext(Ext::new(Pair(1, -2))), Value::Int(3)]);
        assert_eq!(v.to_string(), "[Pair(1, -2), 3]");
        let bytes = postcard::to_stdvec(&v).unwrap();
        let back: Value = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, v);
        let Value::List(items) = &back else { panic!("a list") };
        let Value::Ext(e) = &items[0] else { panic!("an ext") };
        assert_eq!(e.downcast_ref::<Pair>(), Some(&Pair(1, -2)));
        assert_eq!(e.type_name(), "test.Pair");
    }

    #[test]
    fn unknown_types_and_bad_bytes_are_errors() {
        let unknown = postcard::to_stdvec(&("test.Nope", Buffer::from_vec(vec![1, 2]))).unwrap();
        assert!(postcard::from_bytes::<Ext>(&unknown).is_err());
        let short = postcard::to_stdvec(&("test.Pair", Buffer::from_vec(vec![1, 2]))).unwrap();
        assert!(postcard::from_bytes::<Ext>(&short).is_err());
    }
}
