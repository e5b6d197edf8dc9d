//! Results the parent keeps without reading them.
//!
//! A worker's result in a segment comes back as a name. The parent needs its bytes only if
//! the caller asked for it; every other result it just passes by name to the tasks that read
//! it, then lets go. So a result stays a [`Held`] value — the segment's claimed name and
//! where in it the value lies — and only the requested results are mapped and decoded, once,
//! at the end ([`materialize`]). Before, the parent mapped every result, faulted in its
//! header to decode it and unmapped it when released: a few hundred mappings a run of a
//! shuffle, on the cores the workers need.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use rask_graph::ext::{Ext, ExtValue};
use rask_graph::{Plan, Value};
use rask_protocol::{SharedRef, WireValue};
use rask_store::{Claim, Segment};

use super::wire::from_wire;
use super::Run;
use crate::ExecError;

/// A result in a worker's segment, not mapped here: the parent's stand-in for it until it is
/// sent on by name or materialized. Never leaves the executor.
pub(crate) struct Held {
    claim: Arc<Claim>,
    at: SharedRef,
}

const TYPE_NAME: &str = "rask.process.Held";

impl Held {
    /// The held result `value` stands for, if it is one.
    pub(crate) fn of(value: &Value) -> Option<&Held> {
        match value {
            Value::Ext(e) => e.downcast_ref::<Held>(),
            _ => None,
        }
    }

    /// Where the value lies, to send on.
    pub(crate) fn at(&self) -> &SharedRef {
        &self.at
    }
}

impl ExtValue for Held {
    fn type_name(&self) -> &'static str {
        TYPE_NAME
    }

    fn nbytes(&self) -> usize {
        self.at.len as usize
    }

    fn encode(&self) -> Result<Vec<u8>, String> {
        Err(format!("a result held in segment {} is sent by name, never encoded", self.claim.name()))
    }

    fn eq_ext(&self, other: &dyn ExtValue) -> bool {
        other.as_any().downcast_ref::<Held>().is_some_and(|o| o.at == self.at)
    }

    fn fmt_repr(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Held({}, {}..+{})", self.claim.name(), self.at.offset, self.at.len)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Run<'_, '_> {
    /// A completion's result as the parent keeps it: inline values as they are, each value in
    /// a segment [`Held`] under its claimed name (one claim per name, however many values
    /// lie in it). A segment the parent made itself (an input it sent, returned as it was) is
    /// mapped here already: that value is decoded from the mapping.
    pub(super) fn hold(&mut self, wire: WireValue) -> Result<Value, String> {
        match wire {
            WireValue::Inline(v) => Ok(v),
            WireValue::List(items) => {
                Ok(Value::list(items.into_iter().map(|w| self.hold(w)).collect::<Result<Vec<_>, _>>()?))
            }
            WireValue::Shared(at) => {
                if let Some(made) = self.made.get(&at.segment).and_then(|w| w.upgrade()) {
                    return from_wire(WireValue::Shared(at), &mut |_| Ok(made.clone()));
                }
                let claim = self.claim(&at.segment).map_err(|e| e.to_string())?;
                Ok(Value::Ext(Ext::new(Held { claim, at })))
            }
        }
    }
}

/// `plan`'s requested results, read: each held one mapped and decoded (lists item by item).
/// The caller keeps `values` until it has removed the names: a held value dropped first would
/// send its segment back to be written again under the caller's mapping.
pub(super) fn materialize(plan: &Plan, values: &[Value]) -> Result<Vec<Value>, ExecError> {
    values
        .iter()
        .zip(plan.targets())
        .map(|(value, &t)| read(value).map_err(|cause| ExecError::Unrunnable { key: plan.key(t).clone(), cause }))
        .collect()
}

/// `value` with every held result in it mapped and decoded.
fn read(value: &Value) -> Result<Value, String> {
    if let Some(held) = Held::of(value) {
        let open = &mut |name: &str| Segment::open(name).map(Arc::new);
        return from_wire(WireValue::Shared(held.at.clone()), open);
    }
    match value {
        Value::List(items) if holds_any(value) => {
            Ok(Value::list(items.iter().map(read).collect::<Result<Vec<_>, _>>()?))
        }
        other => Ok(other.clone()),
    }
}

/// Whether `value` is, or a list in it holds, a result the parent holds by name.
pub(super) fn holds_any(value: &Value) -> bool {
    match value {
        Value::List(items) => items.iter().any(holds_any),
        _ => Held::of(value).is_some(),
    }
}
