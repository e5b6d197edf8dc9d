//! Functions by registered name.
//!
//! A task names its function; a [`Registry`] resolves the name. Every executor — a thread, a
//! re-executed worker process, a remote machine — resolves the same name the same way, so a
//! graph is plain data and no code ever travels with it.
//!
//! Functions reach a registry three ways:
//! - the built-ins (`add`, `sum`, `getitem`, …; see [`crate::builtins`]);
//! - link-time registration with [`register!`](crate::register): every binary that links the
//!   code knows the function, including a worker process started from the same executable,
//!   with no wiring by hand;
//! - [`Registry::register`] / [`Registry::register_closure`] at run time. Closures capture
//!   state no other process can see, so they are marked in-process only.

use std::fmt;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::value::Value;

/// The signature of every portable task function.
pub type NativeFn = fn(&[Value]) -> Result<Value, TaskError>;

type ClosureFn = dyn Fn(&[Value]) -> Result<Value, TaskError> + Send + Sync;

/// How many arguments a function accepts; checked for every task before anything runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arity {
    Exact(usize),
    /// Between `min` and `max` arguments, inclusive.
    Range(usize, usize),
    AtLeast(usize),
}

impl Arity {
    pub fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exact(k) => n == k,
            Arity::Range(lo, hi) => (lo..=hi).contains(&n),
            Arity::AtLeast(lo) => n >= lo,
        }
    }
}

impl fmt::Display for Arity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Arity::Exact(1) => write!(f, "exactly 1 argument"),
            Arity::Exact(k) => write!(f, "exactly {k} arguments"),
            Arity::Range(lo, hi) => write!(f, "{lo} to {hi} arguments"),
            Arity::AtLeast(lo) => write!(f, "at least {lo} argument{}", if *lo == 1 { "" } else { "s" }),
        }
    }
}

/// A failure inside a task function, in Python's vocabulary (`ZeroDivisionError: division by
/// zero`) so Dask users recognise it. Executors wrap it with the key and function name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct TaskError {
    pub kind: String,
    pub message: String,
}

impl TaskError {
    pub fn new(kind: impl Into<String>, message: impl Into<String>) -> TaskError {
        TaskError { kind: kind.into(), message: message.into() }
    }
    pub fn type_error(message: impl Into<String>) -> TaskError {
        TaskError::new("TypeError", message)
    }
    pub fn value_error(message: impl Into<String>) -> TaskError {
        TaskError::new("ValueError", message)
    }
    pub fn index_error(message: impl Into<String>) -> TaskError {
        TaskError::new("IndexError", message)
    }
    pub fn key_error(message: impl Into<String>) -> TaskError {
        TaskError::new("KeyError", message)
    }
    pub fn zero_division() -> TaskError {
        TaskError::new("ZeroDivisionError", "division by zero")
    }
    pub fn overflow(op: &str) -> TaskError {
        TaskError::new("OverflowError", format!("integer overflow in {op} (rask ints are 64-bit)"))
    }
}

enum Implementation {
    Native(NativeFn),
    Closure(Arc<ClosureFn>),
}

/// A named function with its arity.
pub struct Function {
    name: Arc<str>,
    arity: Arity,
    imp: Implementation,
}

impl Function {
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn arity(&self) -> Arity {
        self.arity
    }

    /// Whether every process that links this binary resolves the name to the same code.
    /// Closures are not portable: executors that cross a process boundary refuse them.
    pub fn is_portable(&self) -> bool {
        matches!(self.imp, Implementation::Native(_))
    }

    #[inline]
    pub fn call(&self, args: &[Value]) -> Result<Value, TaskError> {
        match &self.imp {
            Implementation::Native(f) => f(args),
            Implementation::Closure(f) => f(args),
        }
    }
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)
    }
}

/// A function submitted at link time by [`register!`](crate::register).
pub struct Registration {
    pub name: &'static str,
    pub arity: Arity,
    pub func: NativeFn,
}

inventory::collect!(Registration);

/// Registers a function under a name in every [`Registry::new`] of every process that links
/// this code:
///
/// ```
/// use rask_graph::{register, Arity, Registry, TaskError, Value};
///
/// fn double(args: &[Value]) -> Result<Value, TaskError> {
///     let x = args[0].as_int().ok_or_else(|| TaskError::type_error("double wants an int"))?;
///     Ok(Value::Int(2 * x))
/// }
/// register!("double", Arity::Exact(1), double);
///
/// assert!(Registry::new().get("double").is_some());
/// ```
#[macro_export]
macro_rules! register {
    ($name:expr, $arity:expr, $func:path) => {
        $crate::inventory::submit! {
            $crate::Registration { name: $name, arity: $arity, func: $func }
        }
    };
}

/// The names that occur more than once, sorted, each once.
fn duplicates<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut seen = rustc_hash::FxHashSet::default();
    let mut twice: Vec<String> = names.filter(|n| !seen.insert(*n)).map(str::to_owned).collect();
    twice.sort();
    twice.dedup();
    twice
}

/// Names → functions. Cloning shares the functions.
#[derive(Clone, Default)]
pub struct Registry {
    functions: FxHashMap<Arc<str>, Arc<Function>>,
}

impl Registry {
    /// The built-ins plus every function registered at link time with [`register!`](crate::register).
    pub fn new() -> Registry {
        let mut r = Registry::builtins();
        for reg in inventory::iter::<Registration> {
            r.register(reg.name, reg.arity, reg.func);
        }
        r
    }

    /// Names registered more than once — by two `register!`s, or over a built-in — in this
    /// binary. Which function a clashing name would call depends on link order, so a program
    /// should refuse to start with any (`rask::init` does).
    pub fn clashes() -> Vec<String> {
        let builtins = crate::builtins::BUILTINS.iter().map(|(name, ..)| *name);
        let registered = inventory::iter::<Registration>.into_iter().map(|reg| reg.name);
        duplicates(builtins.chain(registered))
    }

    /// The built-ins alone.
    pub fn builtins() -> Registry {
        let mut r = Registry::empty();
        for &(name, arity, func) in crate::builtins::BUILTINS {
            r.register(name, arity, func);
        }
        r
    }

    pub fn empty() -> Registry {
        Registry::default()
    }

    /// Adds or replaces a portable function.
    pub fn register(&mut self, name: &str, arity: Arity, func: NativeFn) {
        self.insert(name, arity, Implementation::Native(func));
    }

    /// Adds or replaces an in-process-only function (see [`Function::is_portable`]).
    pub fn register_closure<F>(&mut self, name: &str, arity: Arity, func: F)
    where
        F: Fn(&[Value]) -> Result<Value, TaskError> + Send + Sync + 'static,
    {
        self.insert(name, arity, Implementation::Closure(Arc::new(func)));
    }

    fn insert(&mut self, name: &str, arity: Arity, imp: Implementation) {
        let name: Arc<str> = Arc::from(name);
        self.functions.insert(name.clone(), Arc::new(Function { name, arity, imp }));
    }

    pub fn get(&self, name: &str) -> Option<&Arc<Function>> {
        self.functions.get(name)
    }

    /// Registered names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.functions.keys().map(|k| &**k).collect();
        names.sort_unstable();
        names
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_registered_twice_are_found() {
        assert_eq!(duplicates(["a", "b", "a", "c", "b", "a"].into_iter()), vec!["a".to_owned(), "b".to_owned()]);
        assert!(duplicates(["a", "b"].into_iter()).is_empty());
        assert!(Registry::clashes().is_empty(), "this binary registers each name once");
    }
}
