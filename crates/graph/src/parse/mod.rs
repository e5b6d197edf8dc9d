//! Dask's notation: a graph written as a Python dict literal.
//!
//! ```text
//! {'x': 1, 'y': 2, 'z': (add, 'x', 'y'), 'w': (sum, ['x', 'y', 'z']), 'v': [(sum, ['w', 'z']), 2]}
//! ```
//!
//! Dask's rules, applied after the whole dict is read: a tuple whose first element is a bare
//! name is a task calling the function of that name; a string, integer or tuple that equals a
//! key of the graph refers to that key; anything else is a literal. Containers that are not
//! tasks or lists (tuples, dicts) are literals and are not searched for keys, as in Dask.
//!
//! The reader never panics and never recurses without bound: nesting deeper than
//! [`MAX_DEPTH`] is an error, as is every malformed input, with line and column.

mod compile;
mod lexer;

use std::sync::Arc;

use lexer::{Lexer, Tok};

pub(crate) use compile::compile_dask;

use crate::error::ParseError;
use crate::expr::{Expr, Graph};
use crate::key::Key;
use crate::value::Value;

/// How deeply containers may nest.
pub const MAX_DEPTH: usize = 200;

/// Reads a graph in Dask's notation.
pub fn parse_graph(src: &str) -> Result<Graph, ParseError> {
    let mut p = Parser::new(src)?;
    let open = p.pos;
    p.expect(&Tok::LBrace, "'{' to open the graph")?;
    let entries = p.dict_entries(open, 1)?;
    p.expect(&Tok::Eof, "the end of the input after the graph's closing '}'")?;

    let mut graph = Graph::with_capacity(entries.len());
    for (k, _) in &entries {
        let key = k
            .to_key()
            .ok_or_else(|| p.lexer.error(k.pos, "a graph's keys must be strings, integers or tuples of them"))?;
        if graph.insert(key.clone(), Expr::Literal(Value::None)).is_some() {
            return Err(p.lexer.error(k.pos, format!("key {key} is defined twice")));
        }
    }
    // Only now, with every key known, can a string be told from a reference to a key.
    let keys = Keys::of(graph);
    let mut defs = Vec::with_capacity(entries.len());
    for (_, v) in entries {
        defs.push(v.into_expr(&keys, &p.lexer)?);
    }
    let mut graph = keys.graph;
    for (i, expr) in defs.into_iter().enumerate() {
        graph.set_at(i, expr);
    }
    Ok(graph)
}

/// Reads one key in the same notation (`'x'`, `('x', 0)`, `3`); a bare word is a string key,
/// which is what a user typing `--key x` on a command line means.
pub fn parse_key(src: &str) -> Result<Key, ParseError> {
    let trimmed = src.trim();
    if !trimmed.is_empty()
        && trimmed.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        && !trimmed.bytes().next().is_some_and(|b| b.is_ascii_digit() || b == b'-')
    {
        return Ok(Key::str(trimmed));
    }
    let mut p = Parser::new(src)?;
    let start = p.pos;
    let node = p.node(0)?;
    p.expect(&Tok::Eof, "the end of the key")?;
    node.to_key().ok_or_else(|| p.lexer.error(start, "a key must be a string, an integer or a tuple of them"))
}

/// The graph's keys, and which kinds of key occur at all: most graphs have no integer keys,
/// so integer literals (often millions of them) need no lookup.
struct Keys {
    graph: Graph,
    ints: bool,
    strs: bool,
    tuples: bool,
}

impl Keys {
    fn of(graph: Graph) -> Keys {
        let (mut ints, mut strs, mut tuples) = (false, false, false);
        for k in graph.keys() {
            match k {
                Key::Int(_) => ints = true,
                Key::Str(_) => strs = true,
                Key::Tuple(_) => tuples = true,
            }
        }
        Keys { graph, ints, strs, tuples }
    }

    fn may_contain(&self, node: &Node) -> bool {
        match node {
            Node::Scalar(Value::Int(_)) => self.ints,
            Node::Scalar(Value::Str(_)) => self.strs,
            Node::Tuple(items) => self.tuples && !matches!(items.first(), Some(Spanned { node: Node::Ident(_), .. })),
            _ => false,
        }
    }
}

/// A parsed Python literal, before Dask's rules give it meaning.
enum Node {
    Scalar(Value),
    Ident(Arc<str>),
    Tuple(Vec<Spanned>),
    List(Vec<Spanned>),
    Dict(Vec<(Spanned, Spanned)>),
}

struct Spanned {
    node: Node,
    pos: usize,
}

impl Spanned {
    fn to_key(&self) -> Option<Key> {
        match &self.node {
            Node::Scalar(Value::Str(s)) => Some(Key::Str(s.clone())),
            Node::Scalar(Value::Int(i)) => Some(Key::Int(*i)),
            Node::Tuple(items) => items.iter().map(Spanned::to_key).collect::<Option<Vec<Key>>>().map(Key::tuple),
            _ => None,
        }
    }

    /// Hashes this node as [`Key`]'s `Hash` would hash the key it is written as; false (the
    /// hasher left in any state) when it is no key.
    fn hash_as_key(&self, state: &mut impl std::hash::Hasher) -> bool {
        match &self.node {
            Node::Scalar(Value::Int(i)) => Key::hash_int(*i, state),
            Node::Scalar(Value::Str(s)) => Key::hash_str(s, state),
            Node::Tuple(items) => {
                Key::hash_tuple_len(items.len(), state);
                return items.iter().all(|item| item.hash_as_key(state));
            }
            _ => return false,
        }
        true
    }

    /// Whether this node is written as `key`, without making a key of it.
    fn is_key(&self, key: &Key) -> bool {
        match (&self.node, key) {
            (Node::Scalar(Value::Int(i)), Key::Int(k)) => i == k,
            (Node::Scalar(Value::Str(s)), Key::Str(k)) => Arc::ptr_eq(s, k) || s == k,
            (Node::Tuple(items), Key::Tuple(parts)) => {
                items.len() == parts.len() && items.iter().zip(parts.iter()).all(|(item, part)| item.is_key(part))
            }
            _ => false,
        }
    }

    /// This node as data: no tasks or names may appear inside.
    fn into_value(self, lx: &Lexer) -> Result<Value, ParseError> {
        Ok(match self.node {
            Node::Scalar(v) => v,
            Node::Ident(name) => return Err(name_as_value(lx, self.pos, &name)),
            Node::Tuple(items) => {
                if let Some(Node::Ident(name)) = items.first().map(|s| &s.node) {
                    return Err(lx.error(
                        self.pos,
                        format!("a task `({name}, ...)` cannot appear inside a literal tuple or dict"),
                    ));
                }
                Value::tuple(items.into_iter().map(|i| i.into_value(lx)).collect::<Result<Vec<_>, _>>()?)
            }
            Node::List(items) => {
                Value::list(items.into_iter().map(|i| i.into_value(lx)).collect::<Result<Vec<_>, _>>()?)
            }
            Node::Dict(pairs) => {
                let mut out = Vec::with_capacity(pairs.len());
                for (k, v) in pairs {
                    if matches!(k.node, Node::List(_) | Node::Dict(_)) {
                        return Err(lx.error(k.pos, "unhashable dict key (a list or dict)"));
                    }
                    out.push((k.into_value(lx)?, v.into_value(lx)?));
                }
                Value::Dict(Arc::new(out))
            }
        })
    }

    /// This node under Dask's rules, given the graph's keys.
    fn into_expr(self, keys: &Keys, lx: &Lexer) -> Result<Expr, ParseError> {
        if keys.may_contain(&self.node) {
            if let Some(key) = self.to_key().and_then(|k| keys.graph.stored_key(&k)) {
                return Ok(Expr::Ref(key.clone()));
            }
        }
        match self.node {
            Node::Tuple(items) if matches!(items.first(), Some(Spanned { node: Node::Ident(_), .. })) => {
                let mut items = items.into_iter();
                let Some(Spanned { node: Node::Ident(func), .. }) = items.next() else { unreachable!("checked above") };
                let args = items.map(|a| a.into_expr(keys, lx)).collect::<Result<Vec<_>, _>>()?;
                Ok(Expr::Call(crate::expr::Call { func, args }))
            }
            Node::List(items) => {
                Ok(Expr::list(items.into_iter().map(|i| i.into_expr(keys, lx)).collect::<Result<Vec<_>, _>>()?))
            }
            Node::Ident(name) => Err(name_as_value(lx, self.pos, &name)),
            _ => self.into_value(lx).map(Expr::Literal),
        }
    }
}

fn name_as_value(lx: &Lexer, pos: usize, name: &str) -> ParseError {
    lx.error(
        pos,
        format!("the name `{name}` can only be a task's function, the first element of a tuple like `({name}, ...)`; quote it to make a string"),
    )
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Tok<'a>,
    pos: usize,
    /// Function names repeat once per task: share one allocation per name.
    names: rustc_hash::FxHashMap<&'a str, Arc<str>>,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Result<Parser<'a>, ParseError> {
        let mut lexer = Lexer::new(src);
        let (tok, pos) = lexer.next()?;
        Ok(Parser { lexer, tok, pos, names: Default::default() })
    }

    fn intern_name(&mut self, name: &'a str) -> Arc<str> {
        self.names.entry(name).or_insert_with(|| Arc::from(name)).clone()
    }

    fn bump(&mut self) -> Result<Tok<'a>, ParseError> {
        let (next, pos) = self.lexer.next()?;
        self.pos = pos;
        Ok(std::mem::replace(&mut self.tok, next))
    }

    fn expect(&mut self, tok: &Tok, what: &str) -> Result<(), ParseError> {
        if self.tok.is(tok) {
            self.bump()?;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn unexpected(&self, what: &str) -> ParseError {
        self.lexer.error(self.pos, format!("expected {what}, found {}", self.tok.describe()))
    }

    fn node(&mut self, depth: usize) -> Result<Spanned, ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.lexer.error(self.pos, format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        let pos = self.pos;
        let node = match self.bump()? {
            Tok::Str(s) => Node::Scalar(Value::Str(s)),
            Tok::Bytes(b) => Node::Scalar(Value::bytes(b)),
            Tok::Int(i) => Node::Scalar(Value::Int(i)),
            Tok::Float(x) => Node::Scalar(Value::Float(x)),
            Tok::True => Node::Scalar(Value::Bool(true)),
            Tok::False => Node::Scalar(Value::Bool(false)),
            Tok::None => Node::Scalar(Value::None),
            Tok::Ident(name) if self.tok.is(&Tok::LParen) => return self.special_call(name, pos),
            Tok::Ident(name) => Node::Ident(self.intern_name(name)),
            Tok::LBrack => Node::List(self.sequence(pos, &Tok::RBrack, "']'", depth)?.0),
            Tok::LBrace => Node::Dict(self.dict_entries(pos, depth + 1)?),
            Tok::LParen => {
                let (items, trailing_comma) = self.sequence(pos, &Tok::RParen, "')'", depth)?;
                if items.len() == 1 && !trailing_comma {
                    // `(x)` is x in parentheses, not a tuple.
                    return Ok(items.into_iter().next().expect("one item"));
                }
                Node::Tuple(items)
            }
            other => {
                return Err(self.lexer.error(pos, format!("expected a value, found {}", other.describe())));
            }
        };
        Ok(Spanned { node, pos })
    }

    /// Python spells non-finite floats `float('nan')`, `float('inf')`, `float('-inf')`; nothing
    /// else may be called in a literal.
    fn special_call(&mut self, name: &str, pos: usize) -> Result<Spanned, ParseError> {
        self.bump()?; // (
        let arg = match (&self.tok, name) {
            (Tok::Str(s), "float") => s.trim().to_ascii_lowercase(),
            _ => {
                return Err(self
                    .lexer
                    .error(pos, format!("`{name}(...)` is a call; a task is written as a tuple: `({name}, ...)`")))
            }
        };
        let x = match arg.as_str() {
            "nan" | "+nan" | "-nan" => f64::NAN,
            "inf" | "+inf" | "infinity" => f64::INFINITY,
            "-inf" | "-infinity" => f64::NEG_INFINITY,
            other => other
                .parse::<f64>()
                .map_err(|_| self.lexer.error(pos, format!("could not convert string to float: {other:?}")))?,
        };
        self.bump()?;
        self.expect(&Tok::RParen, "')'")?;
        Ok(Spanned { node: Node::Scalar(Value::Float(x)), pos })
    }

    /// Items up to `close`, comma separated, trailing comma allowed. Returns whether the last
    /// item was followed by a comma (which makes `(x,)` a tuple).
    fn sequence(
        &mut self,
        open: usize,
        close: &Tok,
        close_name: &str,
        depth: usize,
    ) -> Result<(Vec<Spanned>, bool), ParseError> {
        let mut items = Vec::new();
        let trailing = self.each_item(open, close, close_name, |p| {
            items.push(p.node(depth + 1)?);
            Ok::<(), ParseError>(())
        })?;
        Ok((items, trailing))
    }

    /// Reads items up to `close` with `item`, comma separated, trailing comma allowed, and the
    /// closing bracket. Returns whether the last item was followed by a comma.
    fn each_item<E: From<ParseError>>(
        &mut self,
        open: usize,
        close: &Tok,
        close_name: &str,
        mut item: impl FnMut(&mut Self) -> Result<(), E>,
    ) -> Result<bool, E> {
        let mut trailing = false;
        while !self.tok.is(close) {
            if self.tok.is(&Tok::Eof) {
                return Err(self.lexer.error(open, format!("this bracket is never closed with {close_name}")).into());
            }
            item(self)?;
            trailing = false;
            if self.tok.is(&Tok::Comma) {
                self.bump()?;
                trailing = true;
            } else if !self.tok.is(close) {
                return Err(self.unexpected(&format!("',' or {close_name}")).into());
            }
        }
        self.bump()?;
        Ok(trailing)
    }

    /// `key: value` pairs up to the closing brace (the opening one is already consumed).
    fn dict_entries(&mut self, open: usize, depth: usize) -> Result<Vec<(Spanned, Spanned)>, ParseError> {
        let mut entries = Vec::new();
        self.each_dict_entry(
            open,
            |p| p.node(depth),
            |p, key| {
                let value = p.node(depth)?;
                entries.push((key, value));
                Ok::<(), ParseError>(())
            },
        )?;
        Ok(entries)
    }

    /// Reads `key: value` pairs up to the closing brace: each key with `key`, the colon here,
    /// then `value` is given the key to read the value.
    fn each_dict_entry<K, E: From<ParseError>>(
        &mut self,
        open: usize,
        mut key: impl FnMut(&mut Self) -> Result<K, E>,
        mut value: impl FnMut(&mut Self, K) -> Result<(), E>,
    ) -> Result<(), E> {
        while !self.tok.is(&Tok::RBrace) {
            if self.tok.is(&Tok::Eof) {
                return Err(self.lexer.error(open, "this '{' is never closed").into());
            }
            let key = key(self)?;
            self.expect(&Tok::Colon, "':' after a dict key")?;
            value(self, key)?;
            if self.tok.is(&Tok::Comma) {
                self.bump()?;
            } else if self.tok.is(&Tok::Eof) {
                return Err(self.lexer.error(open, "this '{' is never closed").into());
            } else if !self.tok.is(&Tok::RBrace) {
                return Err(self.unexpected("',' or '}'").into());
            }
        }
        self.bump()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
