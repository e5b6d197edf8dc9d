//! Tasks on the wire: a compiled [`Op`] with function *names* in place of functions, resolved
//! again by the receiver's own [`Registry`] — so a message names code, it never carries it.

use std::sync::Arc;

use rask_graph::{Key, Op, Registry, Value};
use serde::ser::{SerializeSeq, SerializeTupleVariant};
use serde::{Deserialize, Serialize, Serializer};

/// An [`Op`] as received: the same shape, functions by name.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub enum OpMsg {
    Const(Value),
    Input(u32),
    Call(String, #[serde(deserialize_with = "rask_graph::deserialize_nested")] Vec<OpMsg>),
    List(#[serde(deserialize_with = "rask_graph::deserialize_nested")] Vec<OpMsg>),
    Fused(Key, #[serde(deserialize_with = "rask_graph::deserialize_nested")] Box<OpMsg>),
}

/// Why a received op cannot run here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown function '{0}': this process's registry has no function of that name")]
    UnknownFunction(String),
    #[error("function '{name}' takes {arity}, the task gives {given}")]
    Arity { name: String, arity: String, given: usize },
}

impl OpMsg {
    /// Resolves every function name in `registry`, checking arity: a peer's op is checked
    /// like a parsed graph is, never trusted.
    pub fn resolve(self, registry: &Registry) -> Result<Op, ResolveError> {
        Ok(match self {
            OpMsg::Const(v) => Op::Const(v.into()),
            OpMsg::Input(i) => Op::Input(i),
            OpMsg::Call(name, args) => {
                let f = registry.get(&name).ok_or_else(|| ResolveError::UnknownFunction(name.clone()))?;
                if !f.arity().accepts(args.len()) {
                    return Err(ResolveError::Arity { name, arity: f.arity().to_string(), given: args.len() });
                }
                let f: Arc<_> = f.clone();
                Op::Call(f, args.into_iter().map(|a| a.resolve(registry)).collect::<Result<_, _>>()?)
            }
            OpMsg::List(items) => Op::List(items.into_iter().map(|a| a.resolve(registry)).collect::<Result<_, _>>()?),
            OpMsg::Fused(key, op) => Op::Fused(Box::new((key, op.resolve(registry)?))),
        })
    }
}

impl From<&Op> for OpMsg {
    fn from(op: &Op) -> OpMsg {
        match op {
            Op::Const(v) => OpMsg::Const(v.value()),
            Op::Input(i) => OpMsg::Input(*i),
            Op::Call(f, args) => OpMsg::Call(f.name().to_owned(), args.iter().map(OpMsg::from).collect()),
            Op::List(items) => OpMsg::List(items.iter().map(OpMsg::from).collect()),
            Op::Fused(fused) => OpMsg::Fused(fused.0.clone(), Box::new(OpMsg::from(&fused.1))),
        }
    }
}

/// Serializes an [`Op`] exactly as the equal [`OpMsg`] would be, without building one: the
/// sender pays no allocation per task.
#[derive(Clone, Copy)]
pub struct OpRef<'a>(pub &'a Op);

impl Serialize for OpRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Op::Const(v) => s.serialize_newtype_variant("OpMsg", 0, "Const", v),
            Op::Input(i) => s.serialize_newtype_variant("OpMsg", 1, "Input", i),
            Op::Call(f, args) => {
                let mut t = s.serialize_tuple_variant("OpMsg", 2, "Call", 2)?;
                t.serialize_field(f.name())?;
                t.serialize_field(&Ops(args))?;
                t.end()
            }
            Op::List(items) => s.serialize_newtype_variant("OpMsg", 3, "List", &Ops(items)),
            Op::Fused(fused) => {
                let mut t = s.serialize_tuple_variant("OpMsg", 4, "Fused", 2)?;
                t.serialize_field(&fused.0)?;
                t.serialize_field(&OpRef(&fused.1))?;
                t.end()
            }
        }
    }
}

struct Ops<'a>(&'a [Op]);

impl Serialize for Ops<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for op in self.0 {
            seq.serialize_element(&OpRef(op))?;
        }
        seq.end()
    }
}
