//! The task functions bags lower to. A bag partition is a `list` value; the user's functions
//! arrive by registered name and are resolved in this process's registry, so every executor
//! (threads, processes, a cluster's workers) runs them alike and nothing sent by a peer is code.

use std::sync::{Arc, OnceLock};

use rask_graph::{register, Arity, Function, Registry, TaskError, Value};
use rustc_hash::FxHashMap;

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}

/// The registered function a task argument names.
fn function(task: &str, name: &Value) -> Result<&'static Arc<Function>, TaskError> {
    let name =
        name.as_str().ok_or_else(|| TaskError::type_error(format!("{task}(): a function name must be a str")))?;
    registry().get(name).ok_or_else(|| TaskError::key_error(format!("{task}(): no registered function {name:?}")))
}

fn items<'a>(task: &str, v: &'a Value) -> Result<&'a [Value], TaskError> {
    v.as_seq()
        .ok_or_else(|| TaskError::type_error(format!("{task}(): expected a partition (a list), got {}", v.type_name())))
}

/// Python's truth: false, 0, 0.0, None, and empty strings and sequences are false.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::None => false,
        Value::Bool(b) => *b,
        Value::Int(i) => *i != 0,
        Value::Float(f) => *f != 0.0,
        Value::Str(s) => !s.is_empty(),
        other => other.as_seq().is_none_or(|s| !s.is_empty()),
    }
}

/// The bytes equal values share: the key of hash maps over values.
fn identity(v: &Value) -> Result<Vec<u8>, TaskError> {
    postcard::to_stdvec(v).map_err(|e| TaskError::value_error(format!("cannot hash {v}: {e}")))
}

/// `(bag_range, start, end)`.
fn range(args: &[Value]) -> Result<Value, TaskError> {
    let (Some(start), Some(end)) = (args[0].as_int(), args[1].as_int()) else {
        return Err(TaskError::type_error("bag_range(): start and end must be ints"));
    };
    Ok(Value::list((start..end).map(Value::Int).collect::<Vec<_>>()))
}

/// `(bag_read_text, path)`: the file's lines, without their line ends.
fn read_text(args: &[Value]) -> Result<Value, TaskError> {
    let path = args[0].as_str().ok_or_else(|| TaskError::type_error("bag_read_text(): path must be a str"))?;
    let text = std::fs::read_to_string(path).map_err(|e| TaskError::new("OSError", format!("{path}: {e}")))?;
    Ok(Value::list(text.lines().map(Value::str).collect::<Vec<_>>()))
}

/// `(bag_map, items, f)`.
fn map(args: &[Value]) -> Result<Value, TaskError> {
    let f = function("bag_map", &args[1])?;
    let out =
        items("bag_map", &args[0])?.iter().map(|x| f.call(std::slice::from_ref(x))).collect::<Result<Vec<_>, _>>()?;
    Ok(Value::list(out))
}

/// `(bag_filter, items, predicate)`: the items the predicate calls true.
fn filter(args: &[Value]) -> Result<Value, TaskError> {
    let f = function("bag_filter", &args[1])?;
    let mut out = Vec::new();
    for x in items("bag_filter", &args[0])? {
        if truthy(&f.call(std::slice::from_ref(x))?) {
            out.push(x.clone());
        }
    }
    Ok(Value::list(out))
}

/// `(bag_map_partition, items, f)`: `f` of the whole partition, which must give a list.
fn map_partition(args: &[Value]) -> Result<Value, TaskError> {
    let out = function("bag_map_partition", &args[1])?.call(&args[..1])?;
    items("bag_map_partition", &out)?;
    Ok(out)
}

/// `(bag_flatten, items)`: the items of items.
fn flatten(args: &[Value]) -> Result<Value, TaskError> {
    let mut out = Vec::new();
    for x in items("bag_flatten", &args[0])? {
        out.extend_from_slice(items("bag_flatten", x)?);
    }
    Ok(Value::list(out))
}

/// `(bag_fold, items, binop, start)`: `start` is `[]` (fold from the first item) or
/// `[initial]`. Gives `[]` for nothing folded, else `[total]`: partials of empty partitions
/// are skipped when combined.
fn fold(args: &[Value]) -> Result<Value, TaskError> {
    let f = function("bag_fold", &args[1])?;
    let mut acc: Option<Value> = items("bag_fold", &args[2])?.first().cloned();
    for x in items("bag_fold", &args[0])? {
        acc = Some(match acc {
            Some(a) => f.call(&[a, x.clone()])?,
            None => x.clone(),
        });
    }
    Ok(Value::list(acc.into_iter().collect::<Vec<_>>()))
}

/// `(bag_combine, [partials], combine)`: partials of [`fold`] folded with `combine`.
fn combine(args: &[Value]) -> Result<Value, TaskError> {
    let f = function("bag_combine", &args[1])?;
    let mut acc: Option<Value> = None;
    for partial in items("bag_combine", &args[0])? {
        for x in items("bag_combine", partial)? {
            acc = Some(match acc {
                Some(a) => f.call(&[a, x.clone()])?,
                None => x.clone(),
            });
        }
    }
    Ok(Value::list(acc.into_iter().collect::<Vec<_>>()))
}

/// `(bag_unwrap, partial)`: the folded value, or an error for a fold of nothing.
fn unwrap(args: &[Value]) -> Result<Value, TaskError> {
    items("bag_unwrap", &args[0])?
        .first()
        .cloned()
        .ok_or_else(|| TaskError::value_error("reduce() of an empty bag with no initial value"))
}

/// Pairs `[key, value]` in order of first appearance, merged by `merge` when a key repeats.
fn merge_pairs(
    task: &str,
    lists: impl Iterator<Item = Value>,
    mut merge: impl FnMut(Value, Value) -> Result<Value, TaskError>,
) -> Result<Value, TaskError> {
    let mut index: FxHashMap<Vec<u8>, usize> = FxHashMap::default();
    let mut pairs: Vec<(Value, Value)> = Vec::new();
    for list in lists {
        for pair in items(task, &list)? {
            let [k, v] = items(task, pair)? else {
                return Err(TaskError::type_error(format!("{task}(): expected [key, value] pairs")));
            };
            match index.get(&identity(k)?) {
                Some(&i) => {
                    let old = std::mem::replace(&mut pairs[i].1, Value::None);
                    pairs[i].1 = merge(old, v.clone())?;
                }
                None => {
                    index.insert(identity(k)?, pairs.len());
                    pairs.push((k.clone(), v.clone()));
                }
            }
        }
    }
    Ok(Value::list(pairs.into_iter().map(|(k, v)| Value::list(vec![k, v])).collect::<Vec<_>>()))
}

/// `(bag_frequencies, items)`: `[item, count]` pairs.
fn frequencies(args: &[Value]) -> Result<Value, TaskError> {
    let ones = items("bag_frequencies", &args[0])?.iter().map(|x| Value::list(vec![x.clone(), Value::Int(1)]));
    merge_pairs("bag_frequencies", std::iter::once(Value::list(ones.collect::<Vec<_>>())), add_counts)
}

fn add_counts(a: Value, b: Value) -> Result<Value, TaskError> {
    Ok(Value::Int(a.as_int().unwrap_or(0) + b.as_int().unwrap_or(0)))
}

/// `(bag_merge_counts, [pair lists])`.
fn merge_counts(args: &[Value]) -> Result<Value, TaskError> {
    merge_pairs("bag_merge_counts", items("bag_merge_counts", &args[0])?.iter().cloned(), add_counts)
}

/// `(bag_foldby, items, key, binop, start)`: `[key, total]` pairs, each key's items folded
/// by `binop` from `start` (`[]` or `[initial]`, as in [`fold`]).
fn foldby(args: &[Value]) -> Result<Value, TaskError> {
    let key = function("bag_foldby", &args[1])?;
    let binop = function("bag_foldby", &args[2])?;
    let initial = items("bag_foldby", &args[3])?.first().cloned();
    let mut index: FxHashMap<Vec<u8>, usize> = FxHashMap::default();
    let mut pairs: Vec<(Value, Value)> = Vec::new();
    for x in items("bag_foldby", &args[0])? {
        let k = key.call(std::slice::from_ref(x))?;
        let id = identity(&k)?;
        match index.get(&id) {
            Some(&i) => {
                let old = std::mem::replace(&mut pairs[i].1, Value::None);
                pairs[i].1 = binop.call(&[old, x.clone()])?;
            }
            None => {
                let first = match &initial {
                    Some(init) => binop.call(&[init.clone(), x.clone()])?,
                    None => x.clone(),
                };
                index.insert(id, pairs.len());
                pairs.push((k, first));
            }
        }
    }
    Ok(Value::list(pairs.into_iter().map(|(k, v)| Value::list(vec![k, v])).collect::<Vec<_>>()))
}

/// `(bag_merge_foldby, [pair lists], combine)`.
fn merge_foldby(args: &[Value]) -> Result<Value, TaskError> {
    let f = function("bag_merge_foldby", &args[1])?;
    merge_pairs("bag_merge_foldby", items("bag_merge_foldby", &args[0])?.iter().cloned(), |a, b| f.call(&[a, b]))
}

/// `(bag_distinct, [lists])`: the items of all lists, each once, in order of first appearance.
fn distinct(args: &[Value]) -> Result<Value, TaskError> {
    let mut seen: FxHashMap<Vec<u8>, ()> = FxHashMap::default();
    let mut out = Vec::new();
    for list in items("bag_distinct", &args[0])? {
        for x in items("bag_distinct", list)? {
            if seen.insert(identity(x)?, ()).is_none() {
                out.push(x.clone());
            }
        }
    }
    Ok(Value::list(out))
}

/// `(bag_hash_split, items, key, n)`: `n` lists; equal keys land in the list of one number
/// in every partition and every process.
fn hash_split(args: &[Value]) -> Result<Value, TaskError> {
    let key = function("bag_hash_split", &args[1])?;
    let n = args[2]
        .as_int()
        .filter(|&n| n > 0)
        .ok_or_else(|| TaskError::value_error("bag_hash_split(): n must be positive"))?;
    let mut out: Vec<Vec<Value>> = vec![Vec::new(); n as usize];
    for x in items("bag_hash_split", &args[0])? {
        let id = identity(&key.call(std::slice::from_ref(x))?)?;
        // FNV-1a: fixed, so every process agrees.
        let h = id.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        out[(h % n as u64) as usize].push(x.clone());
    }
    Ok(Value::list(out.into_iter().map(Value::list).collect::<Vec<_>>()))
}

/// `(bag_group, [lists], key)`: `[key, [items]]` per key of the concatenated lists.
fn group(args: &[Value]) -> Result<Value, TaskError> {
    let key = function("bag_group", &args[1])?;
    let mut index: FxHashMap<Vec<u8>, usize> = FxHashMap::default();
    let mut groups: Vec<(Value, Vec<Value>)> = Vec::new();
    for list in items("bag_group", &args[0])? {
        for x in items("bag_group", list)? {
            let k = key.call(std::slice::from_ref(x))?;
            let id = identity(&k)?;
            let i = *index.entry(id).or_insert_with(|| {
                groups.push((k, Vec::new()));
                groups.len() - 1
            });
            groups[i].1.push(x.clone());
        }
    }
    Ok(Value::list(groups.into_iter().map(|(k, v)| Value::list(vec![k, Value::list(v)])).collect::<Vec<_>>()))
}

/// `(bag_concat, [lists])`.
fn concat(args: &[Value]) -> Result<Value, TaskError> {
    flatten(args)
}

register!("bag_range", Arity::Exact(2), range);
register!("bag_read_text", Arity::Exact(1), read_text);
register!("bag_map", Arity::Exact(2), map);
register!("bag_filter", Arity::Exact(2), filter);
register!("bag_map_partition", Arity::Exact(2), map_partition);
register!("bag_flatten", Arity::Exact(1), flatten);
register!("bag_fold", Arity::Exact(3), fold);
register!("bag_combine", Arity::Exact(2), combine);
register!("bag_unwrap", Arity::Exact(1), unwrap);
register!("bag_frequencies", Arity::Exact(1), frequencies);
register!("bag_merge_counts", Arity::Exact(1), merge_counts);
register!("bag_foldby", Arity::Exact(4), foldby);
register!("bag_merge_foldby", Arity::Exact(2), merge_foldby);
register!("bag_distinct", Arity::Exact(1), distinct);
register!("bag_hash_split", Arity::Exact(3), hash_split);
register!("bag_group", Arity::Exact(2), group);
register!("bag_concat", Arity::Exact(1), concat);
