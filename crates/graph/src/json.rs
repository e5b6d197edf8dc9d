//! Graphs and values as JSON, for programs that generate graphs. Unlike Dask's notation, nothing
//! is guessed: references and tasks are explicit, so a string is always a string.
//!
//! A graph is either an object (string keys only) or an array of `[key, definition]` pairs:
//!
//! ```json
//! {"x": 1, "y": 2, "z": {"task": "add", "args": [{"ref": "x"}, {"ref": "y"}]}}
//! [[["x", 0], 1], [["x", 1], {"task": "inc", "args": [{"ref": ["x", 0]}]}]]
//! ```
//!
//! | JSON | meaning |
//! |---|---|
//! | `null`, `true`, `3`, `2.5`, `"s"` | None, bool, int (if integral and in range), float, str |
//! | `[e, …]` | a list whose items are expressions |
//! | `{"task": "f", "args": [e, …]}` | a task (`args` may be omitted) |
//! | `{"ref": key}` | the value of `key` (a key is a string, an integer, or an array of keys for a tuple) |
//! | `{"tuple": [v, …]}` | a tuple of values |
//! | `{"dict": [[k, v], …]}` | a dict of values |
//! | `{"bytes": "00ff"}` | bytes, hex encoded |
//! | `{"float": "nan"}` | also `"inf"`, `"-inf"` (JSON has no such numbers) |
//! | `{"array": {"dtype": "float64", "shape": [2], "data": [1.0, 2.0]}}` | an array (`float32`, `int64`, `int32`, `bool` too) |
//! | `{"ext": {"type": "arrow.RecordBatch", "repr": "…"}}` | an extension value (output only: printed, never read back) |
//!
//! A key's top-level task may carry scheduling hints (see [`crate::Annotations`]), every field
//! optional: `{"task": "f", "args": [], "annotations": {"priority": 10, "retries": 2,
//! "resources": {"GPU": 1}, "workers": ["10.0.0.5"], "allow_other_workers": false}}`.
//!
//! Inside `tuple`, `dict` and `array` only values may appear, not tasks or references. Results
//! print with the same mapping (`rask run --json`).

use std::sync::Arc;

use serde_json::{json, Map, Value as Json};

use crate::annotate::Annotations;
use crate::error::ParseError;
use crate::expr::{Call, Expr, Graph};
use crate::key::Key;
use crate::value::{Array, DType, Value};

/// Reads a graph from JSON text.
pub fn graph_from_json(src: &str) -> Result<Graph, ParseError> {
    let doc: Json = serde_json::from_str(src).map_err(|e| ParseError {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let entries: Vec<(Key, &Json)> = match &doc {
        Json::Object(map) => map.iter().map(|(k, v)| (Key::str(k), v)).collect(),
        Json::Array(pairs) => pairs
            .iter()
            .enumerate()
            .map(|(i, pair)| match pair.as_array().map(Vec::as_slice) {
                Some([k, v]) => key_from_json(k).map(|k| (k, v)).map_err(|m| semantic(format!("entry {i}: {m}"))),
                _ => Err(semantic(format!("entry {i}: expected a [key, definition] pair"))),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(semantic("a graph is a JSON object or an array of [key, definition] pairs".into())),
    };
    let mut graph = Graph::with_capacity(entries.len());
    for (key, def) in entries {
        let (def, annotations) = match def {
            Json::Object(map) if map.contains_key("task") && map.contains_key("annotations") => {
                let mut task = map.clone();
                let a = task.remove("annotations").expect("checked");
                let a = annotations_from_json(&a).map_err(|m| semantic(format!("key {key}: annotations: {m}")))?;
                (std::borrow::Cow::Owned(Json::Object(task)), Some(a))
            }
            _ => (std::borrow::Cow::Borrowed(def), None),
        };
        let expr = expr_from_json(&def).map_err(|m| semantic(format!("key {key}: {m}")))?;
        if graph.insert(key.clone(), expr).is_some() {
            return Err(semantic(format!("key {key} is defined twice")));
        }
        if let Some(a) = annotations {
            graph.set_annotations(key, a);
        }
    }
    Ok(graph)
}

/// Errors found after the text parsed as JSON have no position; they name the key instead.
fn semantic(message: String) -> ParseError {
    ParseError { line: 0, column: 0, message }
}

pub fn key_from_json(j: &Json) -> Result<Key, String> {
    match j {
        Json::String(s) => Ok(Key::str(s)),
        Json::Number(n) => n.as_i64().map(Key::Int).ok_or_else(|| format!("key {n} is not a 64-bit integer")),
        Json::Array(parts) => parts.iter().map(key_from_json).collect::<Result<Vec<_>, _>>().map(Key::tuple),
        other => Err(format!("{other} is not a key (a string, an integer or an array of keys)")),
    }
}

pub fn key_to_json(k: &Key) -> Json {
    match k {
        Key::Int(i) => json!(i),
        Key::Str(s) => json!(&**s),
        Key::Tuple(parts) => Json::Array(parts.iter().map(key_to_json).collect()),
    }
}

fn expr_from_json(j: &Json) -> Result<Expr, String> {
    match j {
        Json::Array(items) => Ok(Expr::list(items.iter().map(expr_from_json).collect::<Result<Vec<_>, _>>()?)),
        Json::Object(map) if map.contains_key("task") => {
            let func = map["task"].as_str().ok_or("\"task\" must be a function name")?;
            let args = match map.get("args") {
                None => Vec::new(),
                Some(Json::Array(args)) => args.iter().map(expr_from_json).collect::<Result<_, _>>()?,
                Some(_) => return Err("\"args\" must be an array".into()),
            };
            if let Some(extra) = map.keys().find(|k| *k != "task" && *k != "args") {
                return Err(format!("unexpected field {extra:?} in a task"));
            }
            Ok(Expr::Call(Call { func: Arc::from(func), args }))
        }
        Json::Object(map) if map.len() == 1 && map.contains_key("ref") => Ok(Expr::Ref(key_from_json(&map["ref"])?)),
        other => value_from_json(other).map(Expr::Literal),
    }
}

/// A value under the mapping above.
pub fn value_from_json(j: &Json) -> Result<Value, String> {
    Ok(match j {
        Json::Null => Value::None,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64().ok_or_else(|| format!("number {n} out of range"))?),
        },
        Json::String(s) => Value::str(s),
        Json::Array(items) => Value::list(items.iter().map(value_from_json).collect::<Result<Vec<_>, _>>()?),
        Json::Object(map) => return tagged_value(map),
    })
}

fn tagged_value(map: &Map<String, Json>) -> Result<Value, String> {
    let (tag, body) = match map.iter().next() {
        Some(entry) if map.len() == 1 => entry,
        _ => {
            return Err(format!(
                "an object must have exactly one of the tags task/ref/tuple/dict/bytes/float/array, found {:?}",
                map.keys().collect::<Vec<_>>()
            ))
        }
    };
    let items = |what: &str| body.as_array().ok_or_else(|| format!("\"{what}\" must be an array"));
    Ok(match tag.as_str() {
        "tuple" => Value::tuple(items("tuple")?.iter().map(value_from_json).collect::<Result<Vec<_>, _>>()?),
        "dict" => {
            let mut pairs = Vec::new();
            for pair in items("dict")? {
                match pair.as_array().map(Vec::as_slice) {
                    Some([k, v]) => pairs.push((value_from_json(k)?, value_from_json(v)?)),
                    _ => return Err("\"dict\" items must be [key, value] pairs".into()),
                }
            }
            Value::Dict(Arc::new(pairs))
        }
        "bytes" => Value::bytes(decode_hex(body.as_str().ok_or("\"bytes\" must be a hex string")?)?),
        "float" => match body.as_str() {
            Some("nan") => Value::Float(f64::NAN),
            Some("inf") => Value::Float(f64::INFINITY),
            Some("-inf") => Value::Float(f64::NEG_INFINITY),
            _ => return Err("\"float\" must be \"nan\", \"inf\" or \"-inf\"".into()),
        },
        "array" => Value::Array(array_from_json(body)?),
        "task" | "ref" => return Err(format!("a {tag} cannot appear inside a tuple, dict or array")),
        other => return Err(format!("unknown tag {other:?}")),
    })
}

fn array_from_json(body: &Json) -> Result<Array, String> {
    let field = |name: &str| body.get(name).ok_or_else(|| format!("an array needs \"{name}\""));
    let shape: Vec<usize> = serde_json::from_value(field("shape")?.clone()).map_err(|e| format!("array shape: {e}"))?;
    let items = field("data")?.as_array().ok_or("array data must be a list")?;
    let items: Vec<Value> = items.iter().map(value_from_json).collect::<Result<_, _>>()?;
    let number = |v: &Value| v.as_float().ok_or_else(|| format!("array data item {v} is not a number"));
    let int = |v: &Value| v.as_int().ok_or_else(|| format!("array data item {v} is not an int"));
    let array = match field("dtype")?.as_str().and_then(DType::parse) {
        Some(DType::F64) => Array::from_vec(items.iter().map(number).collect::<Result<Vec<f64>, _>>()?),
        Some(DType::F32) => {
            Array::from_vec(items.iter().map(|v| number(v).map(|x| x as f32)).collect::<Result<Vec<_>, _>>()?)
        }
        Some(DType::I64) => Array::from_vec(items.iter().map(int).collect::<Result<Vec<i64>, _>>()?),
        Some(DType::I32) => Array::from_vec(
            items
                .iter()
                .map(|v| int(v).and_then(|i| i32::try_from(i).map_err(|e| e.to_string())))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Some(DType::Bool) => Array::from_vec(
            items
                .iter()
                .map(|v| match v {
                    Value::Bool(b) => Ok(*b),
                    _ => Err(format!("array data item {v} is not a bool")),
                })
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => return Err("array dtype must be float64, float32, int64, int32 or bool".into()),
    };
    array.reshape(&shape)
}

fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("{s:?} is not hex"));
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|e| e.to_string())).collect()
}

/// A value under the mapping above.
pub fn value_to_json(v: &Value) -> Json {
    match v {
        Value::None => Json::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Float(x) if x.is_nan() => json!({"float": "nan"}),
        Value::Float(x) if x.is_infinite() => {
            json!({"float": if *x > 0.0 { "inf" } else { "-inf" }})
        }
        Value::Float(x) => json!(x),
        Value::Str(s) => json!(&**s),
        Value::Bytes(b) => {
            json!({"bytes": b.as_slice().iter().map(|b| format!("{b:02x}")).collect::<String>()})
        }
        Value::List(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Tuple(items) => {
            json!({"tuple": items.iter().map(value_to_json).collect::<Vec<_>>()})
        }
        Value::Dict(pairs) => {
            json!({"dict": pairs.iter().map(|(k, v)| json!([value_to_json(k), value_to_json(v)])).collect::<Vec<_>>()})
        }
        Value::Array(a) => {
            let data: Vec<Json> = (0..a.len()).filter_map(|i| a.item(i)).map(|v| value_to_json(&v)).collect();
            json!({"array": {"dtype": a.dtype().name(), "shape": a.shape(), "data": data}})
        }
        // Output only: extension values are printed, not read back from JSON.
        Value::Ext(e) => json!({"ext": {"type": e.type_name(), "repr": e.to_string()}}),
    }
}

/// An expression under the mapping above.
pub fn expr_to_json(e: &Expr) -> Json {
    match e {
        Expr::Literal(v) => value_to_json(v),
        Expr::Ref(k) => json!({"ref": key_to_json(k)}),
        Expr::Call(call) => {
            json!({"task": &*call.func, "args": call.args.iter().map(expr_to_json).collect::<Vec<_>>()})
        }
        Expr::List(items) => Json::Array(items.iter().map(expr_to_json).collect()),
    }
}

/// A graph as an array of `[key, definition]` pairs.
pub fn graph_to_json(g: &Graph) -> Json {
    Json::Array(
        g.iter()
            .map(|(k, e)| {
                let mut def = expr_to_json(e);
                if let (Some(a), Json::Object(task)) = (g.annotations(k), &mut def) {
                    task.insert("annotations".into(), annotations_to_json(a));
                }
                json!([key_to_json(k), def])
            })
            .collect(),
    )
}

/// Scheduling hints from the `annotations` object of a task.
pub fn annotations_from_json(j: &Json) -> Result<Annotations, String> {
    let map = j.as_object().ok_or("expected an object")?;
    let mut a = Annotations::new();
    for (field, v) in map {
        let int = || v.as_i64().ok_or_else(|| format!("{field:?} must be an integer"));
        match field.as_str() {
            "priority" => a.priority = i32::try_from(int()?).map_err(|_| "\"priority\" is out of range")?,
            "retries" => a.retries = u32::try_from(int()?).map_err(|_| "\"retries\" must be ≥ 0")?,
            "resources" => {
                for (name, amount) in v.as_object().ok_or("\"resources\" must be an object of name: amount")? {
                    let amount = amount.as_f64().ok_or_else(|| format!("resource {name:?} must be a number"))?;
                    a = a.resource(name, amount);
                }
            }
            "workers" => {
                let items = v.as_array().ok_or("\"workers\" must be an array of addresses")?;
                a.workers = items
                    .iter()
                    .map(|w| w.as_str().map(str::to_owned).ok_or("\"workers\" must be an array of addresses"))
                    .collect::<Result<_, _>>()?;
            }
            "allow_other_workers" => {
                a.allow_other_workers = v.as_bool().ok_or("\"allow_other_workers\" must be true or false")?
            }
            other => {
                return Err(format!(
                    "unknown annotation {other:?} (priority, retries, resources, workers, allow_other_workers)"
                ))
            }
        }
    }
    a.check()?;
    Ok(a)
}

pub fn annotations_to_json(a: &Annotations) -> Json {
    let resources: Map<String, Json> = a.resources.iter().map(|(n, x)| (n.clone(), json!(x))).collect();
    json!({
        "priority": a.priority,
        "retries": a.retries,
        "resources": resources,
        "workers": a.workers,
        "allow_other_workers": a.allow_other_workers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_graph_in_json() {
        let src = r#"{"x": 1, "y": 2, "z": {"task": "add", "args": [{"ref": "x"}, {"ref": "y"}]},
                      "w": {"task": "sum", "args": [[{"ref": "x"}, {"ref": "y"}, {"ref": "z"}]]},
                      "v": [{"task": "sum", "args": [[{"ref": "w"}, {"ref": "z"}]]}, 2]}"#;
        let g = graph_from_json(src).unwrap();
        let dask = crate::parse_graph(
            "{'x': 1, 'y': 2, 'z': (add, 'x', 'y'), 'w': (sum, ['x', 'y', 'z']), 'v': [(sum, ['w', 'z']), 2]}",
        )
        .unwrap();
        assert_eq!(g, dask);
        assert_eq!(graph_from_json(&graph_to_json(&g).to_string()).unwrap(), g);
    }

    #[test]
    fn annotations_ride_on_top_level_tasks() {
        let src = r#"{"x": 1, "y": {"task": "inc", "args": [{"ref": "x"}],
                      "annotations": {"priority": 3, "retries": 2, "resources": {"GPU": 1},
                                      "workers": ["10.0.0.5"], "allow_other_workers": true}}}"#;
        let g = graph_from_json(src).unwrap();
        let a = g.annotations(&Key::from("y")).unwrap();
        assert_eq!((a.priority, a.retries, a.allow_other_workers), (3, 2, true));
        assert_eq!(a.resources, vec![("GPU".to_owned(), 1.0)]);
        assert_eq!(a.workers, vec!["10.0.0.5".to_owned()]);
        assert!(g.annotations(&Key::from("x")).is_none());
        assert_eq!(graph_from_json(&graph_to_json(&g).to_string()).unwrap(), g);
        let e = graph_from_json(r#"{"y": {"task": "inc", "annotations": {"colour": 1}}}"#).unwrap_err();
        assert!(e.message.contains("key 'y'") && e.message.contains("unknown annotation \"colour\""), "{e}");
        let e = graph_from_json(r#"{"y": {"task": "inc", "annotations": {"resources": {"GPU": -1}}}}"#).unwrap_err();
        assert!(e.message.contains("GPU"), "{e}");
        let e = graph_from_json(r#"{"y": [{"task": "inc", "annotations": {}}]}"#).unwrap_err();
        assert!(e.message.contains("unexpected field \"annotations\""), "{e}");
    }

    #[test]
    fn tagged_values_round_trip() {
        let v = Value::list([
            Value::tuple([1.into(), Value::Float(f64::NAN)]),
            Value::bytes(vec![0, 255]),
            Value::Dict(Arc::new(vec![(Value::Int(1), Value::str("a"))])),
            Value::Array(Array::from_f64(vec![1.5])),
            Value::Float(2.0),
        ]);
        assert_eq!(value_from_json(&value_to_json(&v)).unwrap(), v);
    }

    #[test]
    fn errors_name_the_key_or_position() {
        let e = graph_from_json("{\"x\": {\"task\": 3}}").unwrap_err();
        assert!(e.message.contains("key 'x'") && e.message.contains("function name"), "{e}");
        let e = graph_from_json("{\"x\": \n  [1,}").unwrap_err();
        assert_eq!(e.line, 2);
        let e = graph_from_json("[[[\"x\", {}], 1]]").unwrap_err();
        assert!(e.message.contains("not a key"), "{e}");
        let e = graph_from_json("{\"x\": {\"tuple\": [{\"ref\": \"y\"}]}}").unwrap_err();
        assert!(e.message.contains("cannot appear inside"), "{e}");
    }
}
