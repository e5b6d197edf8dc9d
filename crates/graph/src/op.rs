//! Compiled expressions: what an executor evaluates for one node of a [`crate::Plan`].

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

use crate::key::Key;
use crate::registry::{Function, TaskError};
use crate::value::Value;

/// An expression with keys resolved to node indices and names resolved to functions.
///
/// 32 bytes: a plan holds one per node and a call's arguments are ops too, so what is rare
/// (a literal other than a number, a fused key) is boxed rather than widening every op.
#[derive(Clone, Debug)]
pub enum Op {
    Const(Literal),
    /// The result of another node.
    Input(u32),
    Call(Arc<Function>, Box<[Op]>),
    List(Box<[Op]>),
    /// The expression of another key, fused into this one; failures inside name that key.
    Fused(Box<(Key, Op)>),
}

/// A literal in an [`Op`]: numbers, booleans and `None` inline (a task's literal argument
/// costs no allocation), any other value boxed — 16 bytes where a [`Value`] takes 56.
#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    None,
    Bool(bool),
    Int(i64),
    Float(f64),
    Boxed(Box<Value>),
}

impl Literal {
    /// The value it stands for (a count's increment for boxed values, not a copy).
    pub fn value(&self) -> Value {
        match self {
            Literal::None => Value::None,
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Int(i) => Value::Int(*i),
            Literal::Float(x) => Value::Float(*x),
            Literal::Boxed(v) => (**v).clone(),
        }
    }

    /// The value's size in bytes, as [`Value::nbytes`] counts it.
    pub fn nbytes(&self) -> usize {
        match self {
            Literal::Boxed(v) => v.nbytes(),
            inline => inline.value().nbytes(),
        }
    }
}

impl From<Value> for Literal {
    fn from(value: Value) -> Literal {
        match value {
            Value::None => Literal::None,
            Value::Bool(b) => Literal::Bool(b),
            Value::Int(i) => Literal::Int(i),
            Value::Float(x) => Literal::Float(x),
            other => Literal::Boxed(Box::new(other)),
        }
    }
}

/// Written exactly as the [`Value`] it stands for.
impl Serialize for Literal {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Literal::Boxed(v) => v.serialize(s),
            inline => inline.value().serialize(s),
        }
    }
}

/// Why evaluating an [`Op`] failed: the function that failed (the innermost one, when tasks
/// nest or were fused) and what it did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Failure {
    /// The key whose expression failed, when it was fused into the node being run.
    pub key: Option<Key>,
    pub function: String,
    pub cause: FailureCause,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum FailureCause {
    Error(TaskError),
    Panic(String),
}

impl Op {
    /// Evaluates the expression; `input(i)` supplies node `i`'s result. A panicking function is
    /// caught here, where the function that panicked is known.
    pub fn eval(&self, input: &impl Fn(u32) -> Value) -> Result<Value, Failure> {
        match self {
            Op::Const(v) => Ok(v.value()),
            Op::Input(i) => Ok(input(*i)),
            Op::List(items) => Ok(Value::list(items.iter().map(|op| op.eval(input)).collect::<Result<Vec<_>, _>>()?)),
            Op::Fused(fused) => fused.1.eval(input).map_err(|mut failure| {
                let key = &fused.0;
                failure.key.get_or_insert_with(|| key.clone());
                failure
            }),
            Op::Call(f, args) => {
                let eval_args = || args.iter().map(|op| op.eval(input)).collect::<Result<SmallVec<[Value; 4]>, _>>();
                // A nested call's result is an intermediate: only the task's own result goes
                // to the executor's arena (shared memory), the rest stays on the heap.
                let nested = args.iter().any(|a| matches!(a, Op::Call(..) | Op::List(..) | Op::Fused(..)));
                let args = if nested { crate::arena::without_arena(eval_args)? } else { eval_args()? };
                match catch_unwind(AssertUnwindSafe(|| f.call(&args))) {
                    Ok(Ok(v)) => Ok(v),
                    Ok(Err(e)) => {
                        Err(Failure { key: None, function: f.name().to_owned(), cause: FailureCause::Error(e) })
                    }
                    Err(payload) => Err(Failure {
                        key: None,
                        function: f.name().to_owned(),
                        cause: FailureCause::Panic(panic_message(&*payload)),
                    }),
                }
            }
        }
    }

    /// Calls `f` on every input index, in argument order, with repeats.
    pub fn for_each_input(&self, f: &mut impl FnMut(u32)) {
        match self {
            Op::Const(_) => {}
            Op::Input(i) => f(*i),
            Op::Call(_, args) | Op::List(args) => args.iter().for_each(|a| a.for_each_input(f)),
            Op::Fused(fused) => fused.1.for_each_input(f),
        }
    }

    pub(crate) fn for_each_input_mut(&mut self, f: &mut impl FnMut(&mut u32)) {
        match self {
            Op::Const(_) => {}
            Op::Input(i) => f(i),
            Op::Call(_, args) | Op::List(args) => args.iter_mut().for_each(|a| a.for_each_input_mut(f)),
            Op::Fused(fused) => fused.1.for_each_input_mut(f),
        }
    }

    /// Replaces each input for which `replace` has an op with that op.
    pub(crate) fn substitute(&mut self, replace: &impl Fn(u32) -> Option<Op>) {
        match self {
            Op::Input(i) => {
                if let Some(op) = replace(*i) {
                    *self = op;
                }
            }
            Op::Const(_) => {}
            Op::Call(_, args) | Op::List(args) => args.iter_mut().for_each(|a| a.substitute(replace)),
            Op::Fused(fused) => fused.1.substitute(replace),
        }
    }

    /// The list positions of input `input`'s value this expression reads, when all it does
    /// with that input is pick items by constant position (`getitem(input, 3)`, as a shuffle's
    /// picks do); `None` when it reads the value whole (or not at all). Positions are as
    /// written: negative ones count from the end. An executor that moves values between
    /// processes sends only these items, so a pick does not map the pieces it never reads.
    pub fn items_read(&self, input: u32) -> Option<SmallVec<[i64; 2]>> {
        let mut items = SmallVec::new();
        let mut whole = false;
        self.collect_items_read(input, &mut items, &mut whole);
        (!whole && !items.is_empty()).then_some(items)
    }

    fn collect_items_read(&self, input: u32, items: &mut SmallVec<[i64; 2]>, whole: &mut bool) {
        match self {
            Op::Const(_) => {}
            Op::Input(i) => *whole |= *i == input,
            Op::Call(f, args) => match &args[..] {
                [Op::Input(i), Op::Const(Literal::Int(k))] if *i == input && f.name() == "getitem" => items.push(*k),
                _ => args.iter().for_each(|a| a.collect_items_read(input, items, whole)),
            },
            Op::List(args) => args.iter().for_each(|a| a.collect_items_read(input, items, whole)),
            Op::Fused(fused) => fused.1.collect_items_read(input, items, whole),
        }
    }

    /// Nesting depth of calls and lists, which bounds evaluation's recursion.
    pub fn depth(&self) -> usize {
        match self {
            Op::Const(_) | Op::Input(_) => 0,
            Op::Call(_, args) | Op::List(args) => 1 + args.iter().map(Op::depth).max().unwrap_or(0),
            Op::Fused(fused) => fused.1.depth(),
        }
    }

    /// Every function this op calls.
    pub fn for_each_function(&self, f: &mut impl FnMut(&Arc<Function>)) {
        match self {
            Op::Const(_) | Op::Input(_) => {}
            Op::Call(func, args) => {
                f(func);
                args.iter().for_each(|a| a.for_each_function(f));
            }
            Op::List(args) => args.iter().for_each(|a| a.for_each_function(f)),
            Op::Fused(fused) => fused.1.for_each_function(f),
        }
    }
}

/// The text of a panic's payload (`panic!("...")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_owned()
    }
}

/// Adjacency lists in one allocation (compressed sparse rows): row `i` is `items[offsets[i]..offsets[i+1]]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Csr {
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl Csr {
    pub fn from_rows<I: IntoIterator<Item = u32>>(rows: impl IntoIterator<Item = I>) -> Csr {
        let mut csr = Csr { offsets: vec![0], items: Vec::new() };
        for row in rows {
            csr.items.extend(row);
            csr.offsets.push(csr.items.len() as u32);
        }
        csr
    }

    pub(crate) fn from_parts(offsets: Vec<u32>, items: Vec<u32>) -> Csr {
        debug_assert!(offsets.first() == Some(&0) && offsets.last() == Some(&(items.len() as u32)));
        Csr { offsets, items }
    }

    /// The reverse adjacency of `self` over `n` nodes; rows come out in ascending order.
    pub fn transpose(&self, n: usize) -> Csr {
        let mut counts = vec![0u32; n + 1];
        for &j in &self.items {
            counts[j as usize + 1] += 1;
        }
        for i in 0..n {
            counts[i + 1] += counts[i];
        }
        let mut fill = counts.clone();
        let mut items = vec![0u32; self.items.len()];
        for i in 0..self.len() {
            for &j in self.row(i) {
                items[fill[j as usize] as usize] = i as u32;
                fill[j as usize] += 1;
            }
        }
        Csr { offsets: counts, items }
    }

    #[inline]
    pub fn row(&self, i: usize) -> &[u32] {
        &self.items[self.offsets[i] as usize..self.offsets[i + 1] as usize]
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// How many items all rows hold together.
    pub fn edges(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
