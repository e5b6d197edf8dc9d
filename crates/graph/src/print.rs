//! Writing graphs back in Dask's notation, so `parse_graph(&to_dask_string(g)) == g`.
//!
//! One caveat is inherent to the notation: a literal string (or int, or tuple) equal to one of
//! the graph's keys reads back as a reference to that key, in Dask as here.

use std::fmt::{self, Write};

use crate::expr::{Expr, Graph};
use crate::repr::{write_bytes_repr, write_float_repr, write_str_repr};
use crate::value::Value;

/// The graph as a Python dict literal, one key per line.
pub fn to_dask_string(graph: &Graph) -> String {
    let mut out = String::with_capacity(graph.len() * 32);
    out.push('{');
    for (i, (key, expr)) in graph.iter().enumerate() {
        if i > 0 {
            out.push_str(",\n ");
        }
        write!(out, "{key}: ").expect("writing to a String");
        write_expr(&mut out, expr).expect("writing to a String");
    }
    out.push_str("}\n");
    out
}

pub(crate) fn write_expr(out: &mut impl Write, expr: &Expr) -> fmt::Result {
    match expr {
        Expr::Literal(v) => write_literal(out, v),
        Expr::Ref(k) => write!(out, "{k}"),
        Expr::Call(call) => {
            out.write_char('(')?;
            out.write_str(&call.func)?;
            for arg in &call.args {
                out.write_str(", ")?;
                write_expr(out, arg)?;
            }
            if call.args.is_empty() {
                out.write_char(',')?;
            }
            out.write_char(')')
        }
        Expr::List(items) => {
            out.write_char('[')?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write_expr(out, item)?;
            }
            out.write_char(']')
        }
    }
}

/// Like `Value`'s repr, but with non-finite floats spelled so that they read back.
fn write_literal(out: &mut impl Write, v: &Value) -> fmt::Result {
    let seq = |out: &mut dyn Write, items: &[Value], open, close, single_comma: bool| -> fmt::Result {
        out.write_char(open)?;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.write_str(", ")?;
            }
            write_literal(&mut Adapter(out), item)?;
        }
        if single_comma && items.len() == 1 {
            out.write_char(',')?;
        }
        out.write_char(close)
    };
    match v {
        Value::Float(x) if !x.is_finite() => {
            out.write_str("float('")?;
            write_float_repr(out, *x)?;
            out.write_str("')")
        }
        Value::Float(x) => write_float_repr(out, *x),
        Value::Str(s) => write_str_repr(out, s),
        Value::Bytes(b) => write_bytes_repr(out, b.as_slice()),
        Value::List(items) => seq(out, items, '[', ']', false),
        Value::Tuple(items) => seq(out, items, '(', ')', true),
        Value::Dict(pairs) => {
            out.write_char('{')?;
            for (i, (k, v)) in pairs.iter().enumerate() {
                if i > 0 {
                    out.write_str(", ")?;
                }
                write_literal(out, k)?;
                out.write_str(": ")?;
                write_literal(out, v)?;
            }
            out.write_char('}')
        }
        other => write!(out, "{other}"),
    }
}

/// Lets the closure above recurse through `&mut dyn Write`.
struct Adapter<'a>(&'a mut dyn Write);

impl Write for Adapter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_str(s)
    }
}
