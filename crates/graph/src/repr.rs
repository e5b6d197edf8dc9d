//! Python's `repr` for the scalar types, so that what rask prints is what Dask users expect
//! (`2.5`, `1e+16`, `'abc'`, `b'\x00'`) and what the parser reads back.

use std::fmt::{self, Write};

/// A string literal as Python's `repr` writes it: single quotes unless the text contains a
/// single quote and no double quote.
pub(crate) fn write_str_repr(f: &mut impl Write, s: &str) -> fmt::Result {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    f.write_char(quote)?;
    for c in s.chars() {
        match c {
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c == quote => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c if c.is_control() => {
                if (c as u32) <= 0xff {
                    write!(f, "\\x{:02x}", c as u32)?
                } else if (c as u32) <= 0xffff {
                    write!(f, "\\u{:04x}", c as u32)?
                } else {
                    write!(f, "\\U{:08x}", c as u32)?
                }
            }
            c => f.write_char(c)?,
        }
    }
    f.write_char(quote)
}

/// A bytes literal as Python writes it: `b'ab\x00'`.
pub(crate) fn write_bytes_repr(f: &mut impl Write, bytes: &[u8]) -> fmt::Result {
    let quote = if bytes.contains(&b'\'') && !bytes.contains(&b'"') { b'"' } else { b'\'' };
    f.write_char('b')?;
    f.write_char(quote as char)?;
    for &b in bytes {
        match b {
            b'\\' => f.write_str("\\\\")?,
            b'\n' => f.write_str("\\n")?,
            b'\r' => f.write_str("\\r")?,
            b'\t' => f.write_str("\\t")?,
            b if b == quote => {
                f.write_char('\\')?;
                f.write_char(b as char)?;
            }
            0x20..=0x7e => f.write_char(b as char)?,
            b => write!(f, "\\x{b:02x}")?,
        }
    }
    f.write_char(quote as char)
}

/// A float as Python's `repr`: the shortest digits that round-trip, positional notation for
/// exponents in [-4, 16), scientific (`1e+16`, `1.5e-05`) outside it, and `inf`/`nan`.
pub(crate) fn write_float_repr(f: &mut impl Write, x: f64) -> fmt::Result {
    if x.is_nan() {
        return f.write_str("nan");
    }
    if x.is_infinite() {
        return f.write_str(if x > 0.0 { "inf" } else { "-inf" });
    }
    // Rust's `{:e}` already yields the shortest round-tripping digits: `d.ddde±x`.
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').expect("`{:e}` always has an exponent");
    let exp: i32 = exp.parse().expect("exponent is an integer");
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    f.write_str(sign)?;
    if (-4..16).contains(&exp) {
        if exp < 0 {
            f.write_str("0.")?;
            for _ in 0..(-exp - 1) {
                f.write_char('0')?;
            }
            f.write_str(&digits)
        } else {
            let point = exp as usize + 1;
            if digits.len() <= point {
                f.write_str(&digits)?;
                for _ in digits.len()..point {
                    f.write_char('0')?;
                }
                f.write_str(".0")
            } else {
                f.write_str(&digits[..point])?;
                f.write_char('.')?;
                f.write_str(&digits[point..])
            }
        }
    } else {
        f.write_str(&digits[..1])?;
        if digits.len() > 1 {
            f.write_char('.')?;
            f.write_str(&digits[1..])?;
        }
        write!(f, "e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn float(x: f64) -> String {
        let mut s = String::new();
        write_float_repr(&mut s, x).unwrap();
        s
    }

    #[test]
    fn floats_print_like_python() {
        let cases = [
            (2.5, "2.5"),
            (1.0, "1.0"),
            (-0.0, "-0.0"),
            (0.1, "0.1"),
            (100.0, "100.0"),
            (1e16, "1e+16"),
            (1.5e16, "1.5e+16"),
            (123456789012345.6, "123456789012345.6"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (1e300, "1e+300"),
            (f64::INFINITY, "inf"),
            (f64::NAN, "nan"),
        ];
        for (x, want) in cases {
            assert_eq!(float(x), want, "repr of {x:?}");
        }
    }

    #[test]
    fn strings_and_bytes_print_like_python() {
        let mut s = String::new();
        write_str_repr(&mut s, "a'b\n\u{1}").unwrap();
        assert_eq!(s, "\"a'b\\n\\x01\"");
        let mut b = String::new();
        write_bytes_repr(&mut b, b"a\x00\xff'").unwrap();
        assert_eq!(b, "b\"a\\x00\\xff'\"");
    }
}
