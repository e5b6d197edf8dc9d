//! Dask's notation compiled as it is read: the reader behind [`crate::Plan::read_dask`].
//!
//! The two-step path (`parse_graph`, then `Plan::build_outputs`) builds a [`crate::Graph`] —
//! an index map of expression trees — and then hashes every reference a second time to
//! resolve it. Here each entry's value becomes an [`Op`] as soon as it is read, its references
//! resolved through one table of keys: a key is hashed once where it is defined and once where
//! it is referred to, and only the plan's own nodes outlive the entry that made them.
//!
//! Dask's rule — a string, integer or tuple equal to *some* key of the graph is a reference —
//! needs the whole graph, and a key may be referred to before it is defined. So:
//! - a candidate of a kind (integer, string, tuple) that some key already has is looked up at
//!   once, and entered in the table if it is new (a forward reference); at the end, entries
//!   never defined become literals again;
//! - a candidate of a kind no key has yet stays a literal and its node is remembered; if a key
//!   of that kind is defined later after all, those nodes are searched again at the end.
//!
//! Graphs almost always use one kind of key (tuples, for collections), so the literal integers
//! of a tuple-keyed graph are never hashed.

use std::hash::Hash;
use std::sync::Arc;

use smallvec::SmallVec;

use super::lexer::{Lexer, Tok};
use super::{name_as_value, Node, Parser, Spanned, MAX_DEPTH};
use crate::error::{GraphError, ParseError, ReadError};
use crate::ids_by_key::{hash_with, key_hash, IdsByKey};
use crate::key::Key;
use crate::op::Op;
use crate::plan::{outputs, Compiled};
use crate::registry::{Function, Registry};
use crate::value::Value;

/// Kinds of key, as bits.
const INT: u8 = 1;
const STR: u8 = 2;
const TUPLE: u8 = 4;

/// A slot's node while the key is only referred to, not (yet) defined.
const UNDEFINED: u32 = u32::MAX;

/// Reads Dask's notation into the plan's nodes (every key, in the order written), their ops
/// and the outputs (the keys nothing refers to, sorted).
pub(crate) fn compile_dask(src: &str, registry: &Registry) -> Result<Compiled, ReadError> {
    let mut parser = Parser::new(src)?;
    let open = parser.pos;
    parser.expect(&Tok::LBrace, "'{' to open the graph")?;
    let mut reader = Reader::new(registry, src.len());
    parser.each_dict_entry(
        open,
        |p| Ok::<_, ReadError>(p.graph_key()?),
        |p, (key, at)| {
            let node = reader.define(key, at, &p.lexer)?;
            let op = reader.compile_next(p, 1, node)?;
            reader.ops.push(op);
            Ok::<(), ReadError>(())
        },
    )?;
    parser.expect(&Tok::Eof, "the end of the input after the graph's closing '}'")?;
    Ok(reader.finish())
}

impl Parser<'_> {
    /// A graph's key and where it starts.
    fn graph_key(&mut self) -> Result<(Key, usize), ParseError> {
        let at = self.pos;
        if let Some(parts) = self.flat_tuple()? {
            return Ok((Key::Tuple(parts.into_iter().collect()), at));
        }
        let key = self.node(1)?;
        let k = key
            .to_key()
            .ok_or_else(|| self.lexer.error(at, "a graph's keys must be strings, integers or tuples of them"))?;
        Ok((k, at))
    }

    /// A tuple of strings and integers (`('x', 5)`, the keys of most large graphs) read
    /// straight into its parts, with no tree of nodes; `None`, with nothing read, for anything
    /// else (a task, a nested tuple, a float, `(x)` in parentheses…), which the general reader
    /// then takes.
    fn flat_tuple(&mut self) -> Result<Option<SmallVec<[Key; 4]>>, ParseError> {
        if !self.tok.is(&Tok::LParen) {
            return Ok(None);
        }
        let mut parts = SmallVec::new();
        if self.lexer.plain_key_tuple(&mut parts) {
            self.bump()?;
            return Ok(Some(parts));
        }
        let start = (self.lexer.mark(), self.tok.clone(), self.pos);
        self.bump()?;
        let mut trailing = false;
        loop {
            let part = match &self.tok {
                Tok::Str(s) => Key::Str(s.clone()),
                Tok::Int(i) => Key::Int(*i),
                Tok::RParen if parts.len() > 1 || (parts.len() == 1 && trailing) => {
                    self.bump()?;
                    return Ok(Some(parts));
                }
                _ => break,
            };
            parts.push(part);
            self.bump()?;
            trailing = self.tok.is(&Tok::Comma);
            if trailing {
                self.bump()?;
            } else if !self.tok.is(&Tok::RParen) {
                break;
            }
        }
        (self.tok, self.pos) = (start.1, start.2);
        self.lexer.rewind(start.0);
        Ok(None)
    }
}

/// Every key seen so far, defined or only referred to, each in a numbered slot.
struct Table {
    /// Slot numbers, found by the key each slot holds.
    index: IdsByKey,
    /// Each slot's key, in order of first appearance.
    keys: Vec<Key>,
    /// Each slot's node (its position among the definitions), or [`UNDEFINED`].
    nodes: Vec<u32>,
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table { index: IdsByKey::with_capacity(n), keys: Vec::with_capacity(n), nodes: Vec::with_capacity(n) }
    }

    /// The slot of `key`, made if the key is new.
    fn slot(&mut self, key: Key) -> u32 {
        let next = self.keys.len() as u32;
        let keys = &self.keys;
        let slot = self.index.find_or_insert(key_hash(&key), |s| keys[s as usize] == key, || next);
        if slot == next {
            self.keys.push(key);
            self.nodes.push(UNDEFINED);
        }
        slot
    }

    /// The slot of the key `node` is written as, made if the key is new; `None` when `node` is
    /// no key. A key already in the table is found without being made.
    fn slot_of(&mut self, node: &Spanned) -> Option<u32> {
        let mut spells_a_key = false;
        let hash = hash_with(|state| spells_a_key = node.hash_as_key(state));
        if !spells_a_key {
            return None;
        }
        match self.index.find(hash, |s| node.is_key(&self.keys[s as usize])) {
            Some(slot) => Some(slot),
            None => Some(self.slot(node.to_key()?)),
        }
    }

    /// The slot of the tuple key of `parts`, made if the key is new, found without making it.
    fn slot_of_tuple(&mut self, parts: &[Key]) -> u32 {
        let hash = hash_with(|state| {
            Key::hash_tuple_len(parts.len(), state);
            parts.iter().for_each(|part| part.hash(state));
        });
        let is = |s: u32| matches!(&self.keys[s as usize], Key::Tuple(stored) if **stored == *parts);
        match self.index.find(hash, is) {
            Some(slot) => slot,
            None => self.slot(Key::Tuple(parts.into())),
        }
    }

    /// The slot of `key`, if the key is defined.
    fn defined(&self, key: &Key) -> Option<u32> {
        let slot = self.index.find(key_hash(key), |s| self.keys[s as usize] == *key)?;
        (self.nodes[slot as usize] != UNDEFINED).then_some(slot)
    }
}

/// The kind of key a parsed node could refer to, or 0 when it cannot be a reference (a task,
/// a list, a float…).
fn candidate_kind(node: &Node) -> u8 {
    match node {
        Node::Scalar(Value::Int(_)) => INT,
        Node::Scalar(Value::Str(_)) => STR,
        Node::Tuple(items) if !matches!(items.first(), Some(Spanned { node: Node::Ident(_), .. })) => TUPLE,
        _ => 0,
    }
}

fn key_kind(key: &Key) -> u8 {
    match key {
        Key::Int(_) => INT,
        Key::Str(_) => STR,
        Key::Tuple(_) => TUPLE,
    }
}

struct Reader<'r> {
    registry: &'r Registry,
    table: Table,
    /// Each node's op; an `Input` holds a slot number until [`Reader::finish`].
    ops: Vec<Op>,
    /// Each node's slot.
    slots: Vec<u32>,
    /// Kinds of the keys defined so far.
    kinds: u8,
    /// Nodes holding candidates of a kind no key had when they were read, and those kinds.
    deferred: Vec<u32>,
    deferred_kinds: u8,
    /// Functions already resolved, by name: a graph calls few functions a great many times.
    functions: Vec<(Arc<str>, Arc<Function>)>,
    /// The slot after the last one referred to: graphs tend to refer to keys in the order
    /// they were defined (a tree's level reads the one below it left to right), so this is
    /// tried before hashing.
    guess: u32,
}

impl<'r> Reader<'r> {
    fn new(registry: &'r Registry, text_len: usize) -> Reader<'r> {
        // An entry takes a few dozen bytes of text at least (`('x', 5): (inc, 5), ` is 20):
        // room for most graphs' keys without growing (a copy of everything so far); the
        // vectors' room that is never written is never touched, so costs no memory.
        let expected = (text_len / 24).min(1 << 25);
        Reader {
            registry,
            table: Table::with_capacity(expected),
            ops: Vec::with_capacity(expected),
            slots: Vec::with_capacity(expected),
            kinds: 0,
            deferred: Vec::new(),
            deferred_kinds: 0,
            functions: Vec::new(),
            guess: 0,
        }
    }

    /// Defines `key` as the next node, whose op comes next.
    fn define(&mut self, key: Key, at: usize, lexer: &Lexer) -> Result<u32, ReadError> {
        self.kinds |= key_kind(&key);
        let slot = self.table.slot(key);
        if self.table.nodes[slot as usize] != UNDEFINED {
            let k = &self.table.keys[slot as usize];
            return Err(lexer.error(at, format!("key {k} is defined twice")).into());
        }
        let node = self.ops.len() as u32;
        self.table.nodes[slot as usize] = node;
        self.slots.push(slot);
        Ok(node)
    }

    /// Reads and compiles the next value, part of node `node`'s definition. Tasks and lists are
    /// compiled as their tokens come (no tree of them is built); everything else is read as a
    /// node first.
    fn compile_next(&mut self, p: &mut Parser, depth: usize, node: u32) -> Result<Op, ReadError> {
        if depth > MAX_DEPTH {
            return Err(p.lexer.error(p.pos, format!("nesting deeper than {MAX_DEPTH} levels")).into());
        }
        let open = p.pos;
        if let Some(name) = task_head(p)? {
            let mut args = Vec::new();
            p.each_item(open, &Tok::RParen, "')'", |p| {
                args.push(self.compile_next(p, depth + 1, node)?);
                Ok::<(), ReadError>(())
            })?;
            let function = self.function(name, args.len(), node)?;
            return Ok(Op::Call(function, args.into()));
        }
        if p.tok.is(&Tok::LBrack) {
            p.bump()?;
            let mut items = Vec::new();
            p.each_item(open, &Tok::RBrack, "']'", |p| {
                items.push(self.compile_next(p, depth + 1, node)?);
                Ok::<(), ReadError>(())
            })?;
            return Ok(list_op(items));
        }
        // A reference to a tuple key, the commonest argument of large graphs: found without
        // a tree of nodes or a key made for it.
        if self.kinds & TUPLE != 0 {
            if let Some(parts) = p.flat_tuple()? {
                let guessed = matches!(self.table.keys.get(self.guess as usize), Some(Key::Tuple(k)) if **k == *parts);
                let slot = if guessed { self.guess } else { self.table.slot_of_tuple(&parts) };
                self.guess = slot + 1;
                return Ok(Op::Input(slot));
            }
        }
        let value = p.node(depth)?;
        self.compile(value, node, &p.lexer)
    }

    /// `s` under Dask's rules, as part of node `node`'s definition.
    fn compile(&mut self, s: Spanned, node: u32, lexer: &Lexer) -> Result<Op, ReadError> {
        let kind = candidate_kind(&s.node);
        if kind & self.kinds != 0 {
            let guessed = self.table.keys.get(self.guess as usize).is_some_and(|k| s.is_key(k));
            let slot = if guessed { Some(self.guess) } else { self.table.slot_of(&s) };
            if let Some(slot) = slot {
                self.guess = slot + 1;
                return Ok(Op::Input(slot));
            }
        } else if kind != 0 {
            if self.deferred.last() != Some(&node) {
                self.deferred.push(node);
            }
            self.deferred_kinds |= kind;
        }
        match s.node {
            Node::Tuple(items) if matches!(items.first(), Some(Spanned { node: Node::Ident(_), .. })) => {
                let mut items = items.into_iter();
                let Some(Spanned { node: Node::Ident(name), .. }) = items.next() else { unreachable!("checked above") };
                let function = self.function(&name, items.len(), node)?;
                let args = items.map(|a| self.compile(a, node, lexer)).collect::<Result<Box<[Op]>, _>>()?;
                Ok(Op::Call(function, args))
            }
            Node::List(items) => {
                let items = items.into_iter().map(|i| self.compile(i, node, lexer)).collect::<Result<Vec<_>, _>>()?;
                Ok(list_op(items))
            }
            Node::Ident(name) => Err(name_as_value(lexer, s.pos, &name).into()),
            _ => Ok(Op::Const(s.into_value(lexer)?.into())),
        }
    }

    /// The registered function `name`, checked to take `args` arguments.
    fn function(&mut self, name: &str, args: usize, node: u32) -> Result<Arc<Function>, ReadError> {
        let known = self.functions.iter().find(|(n, _)| &**n == name).map(|(_, f)| f.clone());
        let function = match known {
            Some(f) => f,
            None => {
                let f = self.registry.get(name).cloned().ok_or_else(|| GraphError::UnknownFunction {
                    key: self.key_of(node),
                    function: name.to_string(),
                })?;
                self.functions.push((Arc::from(name), f.clone()));
                f
            }
        };
        if !function.arity().accepts(args) {
            let (expected, function) = (function.arity(), name.to_string());
            return Err(GraphError::Arity { key: self.key_of(node), function, expected, given: args }.into());
        }
        Ok(function)
    }

    fn key_of(&self, node: u32) -> Key {
        self.table.keys[self.slots[node as usize] as usize].clone()
    }

    /// Resolves what could only be resolved with every key known, and numbers inputs by node.
    fn finish(mut self) -> Compiled {
        let late = self.deferred_kinds & self.kinds;
        if late != 0 {
            for &node in &self.deferred {
                resolve_late(&mut self.ops[node as usize], late, &self.table);
            }
        }
        // Graphs written in dependency order define each key before any reference to it, so
        // slots and nodes coincide and inputs keep their numbers.
        let Table { keys: mut slot_keys, nodes, .. } = self.table;
        let same_numbers = nodes.iter().enumerate().all(|(slot, &node)| node == slot as u32);
        let keys = if same_numbers {
            slot_keys
        } else {
            let resolved = |slot: u32| match nodes[slot as usize] {
                UNDEFINED => Op::Const(slot_keys[slot as usize].to_value().into()),
                node => Op::Input(node),
            };
            let undefined = nodes.contains(&UNDEFINED);
            for op in &mut self.ops {
                op.substitute(&|slot| Some(resolved(slot)));
                if undefined {
                    fold_constant_lists(op);
                }
            }
            // Each node has a slot of its own: its key is moved out, not counted again.
            self.slots.iter().map(|&slot| std::mem::replace(&mut slot_keys[slot as usize], Key::Int(0))).collect()
        };
        let targets = outputs(&keys, &self.ops);
        (keys, self.ops, targets)
    }
}

/// At a `(` that opens a task: its function's name, with the parser at its first
/// argument; `None`, with nothing read, at anything else.
fn task_head<'a>(p: &mut Parser<'a>) -> Result<Option<&'a str>, ReadError> {
    if !p.tok.is(&Tok::LParen) {
        return Ok(None);
    }
    if let Some(name) = p.lexer.plain_task_head() {
        p.bump()?;
        return Ok(Some(name));
    }
    if !p.lexer.next_is_plain_name() {
        return Ok(None);
    }
    p.bump()?;
    let (name_at, Tok::Ident(name)) = (p.pos, p.bump()?) else { unreachable!("a plain name is next") };
    match p.tok {
        // `(f)` is a name in parentheses, not a task.
        Tok::RParen => Err(name_as_value(&p.lexer, name_at, name).into()),
        Tok::Comma => {
            p.bump()?;
            Ok(Some(name))
        }
        _ => Err(p.unexpected("',' or ')'").into()),
    }
}

/// A list's op; as `Expr::list` does, a list of constants is one constant.
fn list_op(items: Vec<Op>) -> Op {
    if !items.iter().all(|item| matches!(item, Op::Const(_))) {
        return Op::List(items.into());
    }
    Op::Const(
        Value::list(items.into_iter().map(|item| match item {
            Op::Const(v) => v.value(),
            _ => unreachable!("checked above"),
        }))
        .into(),
    )
}

/// Makes lists of constants one constant again, as `Expr::list` does, once what looked like
/// references turned out to be literals.
fn fold_constant_lists(op: &mut Op) {
    match op {
        Op::List(items) => {
            items.iter_mut().for_each(fold_constant_lists);
            *op = list_op(std::mem::take(items).into_vec());
        }
        Op::Call(_, args) => args.iter_mut().for_each(fold_constant_lists),
        Op::Const(_) | Op::Input(_) | Op::Fused(..) => {}
    }
}

/// Turns the constants in `op` that equal a key of one of `kinds` into references to it, where
/// Dask would read a reference: the op itself, a task's arguments, a list's items.
fn resolve_late(op: &mut Op, kinds: u8, table: &Table) {
    match op {
        Op::Const(value) => {
            if let Some(resolved) = late_value(&value.value(), kinds, table) {
                *op = resolved;
            }
        }
        Op::Call(_, args) | Op::List(args) => args.iter_mut().for_each(|a| resolve_late(a, kinds, table)),
        Op::Input(_) | Op::Fused(..) => {}
    }
}

fn late_value(value: &Value, kinds: u8, table: &Table) -> Option<Op> {
    let kind = match value {
        Value::Int(_) => INT,
        Value::Str(_) => STR,
        Value::Tuple(_) => TUPLE,
        _ => 0,
    };
    if kind & kinds != 0 {
        // A slot number, as every input is until the end.
        if let Some(slot) = Key::from_value(value).and_then(|key| table.defined(&key)) {
            return Some(Op::Input(slot));
        }
    }
    // A list of constants was folded into one constant: its items are searched too.
    let Value::List(items) = value else { return None };
    let resolved: Vec<Option<Op>> = items.iter().map(|item| late_value(item, kinds, table)).collect();
    if resolved.iter().all(Option::is_none) {
        return None;
    }
    let ops = items.iter().zip(resolved).map(|(item, r)| r.unwrap_or_else(|| Op::Const(item.clone().into())));
    Some(Op::List(ops.collect()))
}

#[cfg(test)]
mod tests;
