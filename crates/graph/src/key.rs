//! Keys: the names of a graph's nodes.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::repr::write_str_repr;

/// A node's name: a string, an integer, or a tuple of keys (`'x'`, `3`, `('x', 0, 1)`).
///
/// Cloning is cheap (reference counted). Keys are totally ordered so that output is
/// deterministic: integers before strings before tuples, integers numerically, strings
/// bytewise, tuples element by element — so `('x', 2)` sorts before `('x', 10)`.
// `PartialEq` is written by hand only to compare pointers first, `Hash` so that the reader of
// Dask's notation can hash a key as written without making it (equal keys hash equally).
#[derive(Clone, Eq, Serialize, Deserialize)]
pub enum Key {
    Int(i64),
    Str(#[serde(deserialize_with = "deserialize_arc_str")] Arc<str>),
    Tuple(#[serde(deserialize_with = "deserialize_tuple")] Arc<[Key]>),
}

// Keys are read by the million (every task names itself and its dependencies). serde's own
// `Arc<str>` and `Arc<[T]>` go through a `String` or `Vec` and copy it into the `Arc`: two
// allocations where one does.

/// A string read into its `Arc` directly (borrowed from the input where the format allows).
fn deserialize_arc_str<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Arc<str>, D::Error> {
    struct Text;
    impl serde::de::Visitor<'_> for Text {
        type Value = Arc<str>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Arc<str>, E> {
            Ok(Arc::from(s))
        }
    }
    d.deserialize_str(Text)
}

/// A tuple's elements gathered on the stack, then put in one `Arc` allocation (nested no
/// deeper than [`crate::MAX_DEPTH`], as values).
fn deserialize_tuple<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Arc<[Key]>, D::Error> {
    struct Parts;
    impl<'de> serde::de::Visitor<'de> for Parts {
        type Value = Arc<[Key]>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a tuple of keys")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Arc<[Key]>, A::Error> {
            let mut parts: smallvec::SmallVec<[Key; 4]> = smallvec::SmallVec::new();
            while let Some(part) = seq.next_element()? {
                parts.push(part);
            }
            // Cloning a key is a copy or a count: cheaper than a `Vec` to move them out of.
            Ok(Arc::from(parts.as_slice()))
        }
    }
    crate::value::deserialize_nested_with(d, |d| d.deserialize_seq(Parts))
}

impl Key {
    pub fn str(s: &str) -> Key {
        Key::Str(Arc::from(s))
    }

    pub fn tuple(parts: impl IntoIterator<Item = Key>) -> Key {
        Key::Tuple(parts.into_iter().collect())
    }

    /// The key as the literal it is written as: what a would-be reference to a key the graph
    /// does not define stands for.
    pub(crate) fn to_value(&self) -> crate::value::Value {
        use crate::value::Value;
        match self {
            Key::Int(i) => Value::Int(*i),
            Key::Str(s) => Value::Str(s.clone()),
            Key::Tuple(parts) => Value::tuple(parts.iter().map(Key::to_value)),
        }
    }

    /// The key a literal is written as, if it is one: an integer, a string or a tuple of them.
    pub(crate) fn from_value(value: &crate::value::Value) -> Option<Key> {
        use crate::value::Value;
        match value {
            Value::Int(i) => Some(Key::Int(*i)),
            Value::Str(s) => Some(Key::Str(s.clone())),
            Value::Tuple(items) => items.iter().map(Key::from_value).collect::<Option<Vec<Key>>>().map(Key::tuple),
            _ => None,
        }
    }

    fn rank(&self) -> u8 {
        match self {
            Key::Int(_) => 0,
            Key::Str(_) => 1,
            Key::Tuple(_) => 2,
        }
    }
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Key::Int(i) => Key::hash_int(*i, state),
            Key::Str(s) => Key::hash_str(s, state),
            Key::Tuple(parts) => {
                Key::hash_tuple_len(parts.len(), state);
                parts.iter().for_each(|part| part.hash(state));
            }
        }
    }
}

/// The steps of [`Key`]'s `Hash`, for what hashes as a key without being one.
impl Key {
    pub(crate) fn hash_int(i: i64, state: &mut impl Hasher) {
        state.write_u8(0);
        state.write_i64(i);
    }

    pub(crate) fn hash_str(s: &str, state: &mut impl Hasher) {
        state.write_u8(1);
        state.write(s.as_bytes());
        state.write_u8(0xff);
    }

    /// A tuple's prefix; its parts follow.
    pub(crate) fn hash_tuple_len(len: usize, state: &mut impl Hasher) {
        state.write_u8(2);
        state.write_usize(len);
    }
}

/// Equal contents, with a pointer check first: references parsed from text share their key's
/// allocation, so resolving them against a large graph compares pointers, not strings in memory
/// that is unlikely to be in cache.
impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => a == b,
            (Key::Str(a), Key::Str(b)) => Arc::ptr_eq(a, b) || a == b,
            (Key::Tuple(a), Key::Tuple(b)) => Arc::ptr_eq(a, b) || a == b,
            _ => false,
        }
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => a.cmp(b),
            (Key::Str(a), Key::Str(b)) => a.cmp(b),
            (Key::Tuple(a), Key::Tuple(b)) => a.iter().cmp(b.iter()),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Prints as Python's `repr`: `'x'`, `3`, `('x', 0)`, `('x',)`.
impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(i) => write!(f, "{i}"),
            Key::Str(s) => write_str_repr(f, s),
            Key::Tuple(parts) => {
                f.write_str("(")?;
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{part}")?;
                }
                if parts.len() == 1 {
                    f.write_str(",")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Key {
        Key::str(s)
    }
}

impl From<String> for Key {
    fn from(s: String) -> Key {
        Key::Str(Arc::from(s))
    }
}

impl From<i64> for Key {
    fn from(i: i64) -> Key {
        Key::Int(i)
    }
}

impl<A: Into<Key>, B: Into<Key>> From<(A, B)> for Key {
    fn from((a, b): (A, B)) -> Key {
        Key::tuple([a.into(), b.into()])
    }
}

impl<A: Into<Key>, B: Into<Key>, C: Into<Key>> From<(A, B, C)> for Key {
    fn from((a, b, c): (A, B, C)) -> Key {
        Key::tuple([a.into(), b.into(), c.into()])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_like_python() {
        assert_eq!(Key::from("x").to_string(), "'x'");
        assert_eq!(Key::from(("x", 0i64)).to_string(), "('x', 0)");
        assert_eq!(Key::tuple([Key::from("x")]).to_string(), "('x',)");
        assert_eq!(Key::from("it's").to_string(), "\"it's\"");
    }

    #[test]
    fn orders_tuples_numerically() {
        let mut keys = [Key::from(("x", 10i64)), Key::from("b"), Key::from(("x", 2i64)), Key::Int(5)];
        keys.sort();
        let printed: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
        assert_eq!(printed, ["5", "'b'", "('x', 2)", "('x', 10)"]);
    }
}
