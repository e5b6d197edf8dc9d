//! Errors found before any task runs.

use std::fmt;

use crate::key::Key;
use crate::registry::Arity;

/// A graph that cannot be run as asked: each variant names the key and the cause.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum GraphError {
    #[error("key {0} is not in the graph")]
    MissingKey(Key),
    #[error("task {key} refers to {missing}, which is not in the graph")]
    MissingDependency { key: Key, missing: Key },
    #[error("task {key} calls unknown function `{function}`")]
    UnknownFunction { key: Key, function: String },
    #[error("task {key}: `{function}` takes {expected}, but is given {given}")]
    Arity { key: Key, function: String, expected: Arity, given: usize },
    #[error("the graph has a cycle: {}", CyclePath(.0))]
    Cycle(Vec<Key>),
    #[error("task {key} calls `{function}`, a closure that exists only in this process; register a `fn` with `register!` to run it on {executor}")]
    NotPortable { key: Key, function: String, executor: String },
    #[error("task {key}: bad annotations: {message}")]
    BadAnnotations { key: Key, message: String },
}

/// `'a' -> 'b' -> 'a'`: the cycle's keys in dependency order, the first repeated at the end.
struct CyclePath<'a>(&'a [Key]);

impl fmt::Display for CyclePath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for k in self.0 {
            write!(f, "{k} -> ")?;
        }
        match self.0.first() {
            Some(first) => write!(f, "{first}"),
            None => Ok(()),
        }
    }
}

/// Text that could not become a plan ([`crate::Plan::read_dask`]): it is not a graph, or it is
/// one that cannot run.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Graph(#[from] GraphError),
}

/// Text that is not a graph, with where and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    /// 1-based, in characters.
    pub column: usize,
    pub message: String,
}

impl ParseError {
    /// An error at byte `offset` of `source`.
    pub(crate) fn at(source: &str, offset: usize, message: impl Into<String>) -> ParseError {
        let offset = offset.min(source.len());
        let before = &source.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
        ParseError { line, column, message: message.into() }
    }
}
