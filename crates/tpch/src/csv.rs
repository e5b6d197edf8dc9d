//! A result as CSV, the way the expected answers are kept: a header row; the query's columns
//! in its order; dates ISO; decimals and floats in plain notation (never `1e5`); nulls empty.

use std::fmt::Write;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Decimal128Type, Float32Type, Float64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

/// `batch` as CSV text.
pub fn to_csv(batch: &RecordBatch) -> String {
    let mut out = String::new();
    let names: Vec<String> = batch.schema().fields().iter().map(|f| quoted(f.name())).collect();
    out.push_str(&names.join(","));
    out.push('\n');
    for row in 0..batch.num_rows() {
        for (i, column) in batch.columns().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            cell(column.as_ref(), row, &mut out);
        }
        out.push('\n');
    }
    out
}

fn quoted(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn cell(c: &dyn Array, row: usize, out: &mut String) {
    if c.is_null(row) {
        return;
    }
    match c.data_type() {
        DataType::Float64 => write_float(c.as_primitive::<Float64Type>().value(row), out),
        DataType::Float32 => write_float(f64::from(c.as_primitive::<Float32Type>().value(row)), out),
        &DataType::Decimal128(_, scale) => write_decimal(c.as_primitive::<Decimal128Type>().value(row), scale, out),
        DataType::Date32 => {
            let days = c.as_primitive::<Date32Type>().value(row);
            let date = arrow_array::temporal_conversions::date32_to_datetime(days).map(|d| d.date());
            let _ = write!(out, "{}", date.map_or_else(|| days.to_string(), |d| d.format("%Y-%m-%d").to_string()));
        }
        _ => {
            let text = arrow_cast::display::ArrayFormatter::try_new(c, &Default::default())
                .map(|f| f.value(row).to_string())
                .unwrap_or_default();
            out.push_str(&quoted(&text));
        }
    }
}

/// Rust's `Display` for floats never uses an exponent.
fn write_float(x: f64, out: &mut String) {
    let _ = write!(out, "{x}");
}

fn write_decimal(value: i128, scale: i8, out: &mut String) {
    if scale <= 0 {
        let _ = write!(out, "{}", value * 10i128.pow(u32::from(scale.unsigned_abs())));
        return;
    }
    let unit = 10i128.pow(scale as u32);
    let sign = if value < 0 { "-" } else { "" };
    let (whole, fraction) = (value.unsigned_abs() / unit as u128, value.unsigned_abs() % unit as u128);
    let _ = write!(out, "{sign}{whole}.{fraction:0width$}", width = scale as usize);
}

/// Cells of a CSV text (quoted cells as the writers quote them).
fn cells(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|line| {
            let mut row = Vec::new();
            let (mut cell, mut quoted, mut chars) = (String::new(), false, line.chars().peekable());
            while let Some(c) = chars.next() {
                match (c, quoted) {
                    ('"', true) if chars.peek() == Some(&'"') => {
                        cell.push('"');
                        chars.next();
                    }
                    ('"', _) => quoted = !quoted,
                    (',', false) => row.push(std::mem::take(&mut cell)),
                    _ => cell.push(c),
                }
            }
            row.push(cell);
            row
        })
        .collect()
}

/// Where the result `ours` differs from the expected `theirs` (both CSV as [`to_csv`] writes
/// them), or `None`: row by row in order; numbers within `relative` of each other (engines
/// print decimals with different scales, floats with different digits), everything else
/// exactly; the header row too when `headers`.
pub fn differences(ours: &str, theirs: &str, relative: f64, headers: bool) -> Option<String> {
    let (a, b) = (cells(ours), cells(theirs));
    if a.len() != b.len() {
        return Some(format!("{} rows, expected {}", a.len().saturating_sub(1), b.len().saturating_sub(1)));
    }
    for (i, (ra, rb)) in a.iter().zip(&b).enumerate() {
        if i == 0 && !headers {
            continue;
        }
        let same = ra.len() == rb.len()
            && ra.iter().zip(rb).all(|(x, y)| match (x.parse::<f64>(), y.parse::<f64>()) {
                (Ok(x), Ok(y)) if i > 0 => (x - y).abs() <= relative * y.abs().max(1.0),
                _ => x == y,
            });
        if !same {
            return Some(format!("line {}: {ra:?}, expected {rb:?}", i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{Date32Array, Decimal128Array, Float64Array, StringArray};
    use arrow_schema::{Field, Schema};

    use super::*;

    #[test]
    fn cells_are_plain_and_quoted_when_needed() {
        let schema = Schema::new(vec![
            Field::new("d", DataType::Decimal128(15, 2), true),
            Field::new("f", DataType::Float64, true),
            Field::new("day", DataType::Date32, true),
            Field::new("s", DataType::Utf8, true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Decimal128Array::from(vec![Some(-5), None]).with_precision_and_scale(15, 2).unwrap()),
                Arc::new(Float64Array::from(vec![1e20, 0.5])),
                Arc::new(Date32Array::from(vec![9204, 0])),
                Arc::new(StringArray::from(vec!["a,b", "q\""])),
            ],
        )
        .unwrap();
        assert_eq!(
            to_csv(&batch),
            "d,f,day,s\n-0.05,100000000000000000000,1995-03-15,\"a,b\"\n,0.5,1970-01-01,\"q\"\"\"\n"
        );
    }

    #[test]
    fn differences_allow_other_scales_but_not_other_values() {
        let ours = "x,s\n1.5000,\"a,b\"\n";
        assert_eq!(differences(ours, "x,s\n1.5,\"a,b\"\n", 1e-9, true), None);
        assert!(differences(ours, "x,s\n1.6,\"a,b\"\n", 1e-9, true).unwrap().contains("line 2"));
        assert!(differences(ours, "y,s\n1.5,\"a,b\"\n", 1e-9, true).unwrap().contains("line 1"));
        assert_eq!(differences(ours, "y,s\n1.5,\"a,b\"\n", 1e-9, false), None);
        assert!(differences(ours, "x,s\n", 1e-9, true).unwrap().contains("1 rows, expected 0"));
    }
}
