//! Column expressions: built in Rust (`col("y").gt(lit(0.5))`), serialized into tasks, and
//! evaluated per partition with Arrow's compute kernels (`eval.rs`; strings and dates in
//! `text.rs` and `dates.rs`).
//!
//! Types meet by these rules when an operation has two operands of different types:
//! ints of different widths meet as int64; an int and a float as float64; a decimal and an int
//! as a decimal (the int as `Decimal128(19, 0)`), a decimal and a float as float64, two
//! decimals at the larger scale; a date and a string literal as a date (`"1995-03-15"`); every
//! string type as utf8; a null as the other side's type. Decimal arithmetic is exact and
//! follows Arrow's result-precision rules (those of Spark and Hive): `+`/`-` keep the larger
//! scale, `*` adds the scales, precision capped at 38.

mod dates;
mod eval;
mod text;

use serde::{Deserialize, Serialize};

pub use dates::{date, days_from_ymd};

/// `value` as a one-element array of type `t` (a null of that type for `Lit::Null`).
pub(crate) fn literal_array(value: &Lit, t: Type) -> Result<arrow_array::ArrayRef, crate::FrameError> {
    if *value == Lit::Null {
        return Ok(arrow_array::new_null_array(&t.arrow(), 1));
    }
    Ok(arrow_cast::cast(&eval::literal(value)?, &t.arrow())?)
}

/// A literal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Lit {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    /// Days since 1970-01-01 (Arrow's Date32); build with [`date`].
    Date(i32),
    /// A timestamp in `unit`s since the epoch, without a time zone.
    Timestamp(i64, TimeUnit),
    /// An exact decimal: `value / 10^scale`, of `precision` digits.
    Decimal {
        value: i128,
        precision: u8,
        scale: i8,
    },
    /// A calendar interval: months, then days (`interval '3' month`); added to or subtracted
    /// from dates and timestamps. Build with [`days`], [`months`], [`years`].
    Interval {
        months: i32,
        days: i32,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeUnit {
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

/// Column types an expression can cast to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Type {
    Bool,
    Int32,
    Int64,
    Float32,
    Float64,
    Utf8,
    Date32,
    Timestamp(TimeUnit),
    Decimal128(u8, i8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    And,
    Or,
}

/// A string function (the input is any string type; it is read as utf8).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StrFn {
    Contains(String),
    StartsWith(String),
    EndsWith(String),
    /// SQL `LIKE`: `%` any run of characters, `_` one character, `\` escapes.
    Like(String),
    /// `LIKE`, ignoring case.
    ILike(String),
    /// A regular expression (Rust's `regex` syntax) found anywhere in the value.
    Regex(String),
    /// Characters `[start, start + len)`, counted from 0 (a negative start counts from the
    /// end), as polars' `str.slice`; SQL's `substring(s from 1 for 2)` is `substring(0, Some(2))`.
    Substring {
        start: i64,
        len: Option<u64>,
    },
    /// Length in characters (int64).
    Len,
    Upper,
    Lower,
    /// Without leading and trailing whitespace.
    Strip,
    /// Every occurrence of `from` replaced by `to`.
    Replace {
        from: String,
        to: String,
    },
}

impl StrFn {
    /// The function's name, for errors.
    fn name(&self) -> &'static str {
        match self {
            StrFn::Contains(_) => "Contains",
            StrFn::StartsWith(_) => "StartsWith",
            StrFn::EndsWith(_) => "EndsWith",
            StrFn::Like(_) => "Like",
            StrFn::ILike(_) => "ILike",
            StrFn::Regex(_) => "Regex",
            StrFn::Substring { .. } => "Substring",
            StrFn::Len => "Len",
            StrFn::Upper => "Upper",
            StrFn::Lower => "Lower",
            StrFn::Strip => "Strip",
            StrFn::Replace { .. } => "Replace",
        }
    }
}

/// A part of a date or timestamp, or a truncation of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateFn {
    Year,
    Month,
    Day,
    /// The first day of the value's year, month (or the day itself), as a date.
    Truncate(DateUnit),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum DateUnit {
    Year,
    Month,
    Day,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum MathFn {
    Abs,
    Floor,
    Ceil,
    /// Half away from zero, to this many decimal places.
    Round(i32),
    Neg,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    Col(String),
    Lit(Lit),
    Binary(Op, Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    IsNull(Box<Expr>),
    Cast(Box<Expr>, Type),
    Str(StrFn, Box<Expr>),
    Date(DateFn, Box<Expr>),
    Math(MathFn, Box<Expr>),
    /// The value of the first branch whose condition is true, else `otherwise` (null when
    /// not given); build with [`when`].
    When(Vec<(Expr, Expr)>, Box<Expr>),
    /// Whether the value is one of the literals (null for a null value).
    IsIn(Box<Expr>, Vec<Lit>),
    /// The first non-null value.
    Coalesce(Vec<Expr>),
    /// The values as strings, joined (null if any is null, as SQL's `||`).
    Concat(Vec<Expr>),
}

pub fn col(name: &str) -> Expr {
    Expr::Col(name.to_owned())
}

pub fn lit(value: impl Into<Lit>) -> Expr {
    Expr::Lit(value.into())
}

/// An exact decimal literal from its digits (`"0.06"` is `Decimal128(3, 2)` 6): SQL's
/// `0.06`, where a float would not compare equal to the decimals of a column.
///
/// # Panics
/// If `digits` is not a decimal number of at most 38 digits.
pub fn decimal(digits: &str) -> Lit {
    let bad = || panic!("decimal({digits:?}): not a decimal number");
    let (negative, unsigned) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, digits),
    };
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    if whole.is_empty() && fraction.is_empty() || !(whole.chars().chain(fraction.chars())).all(|c| c.is_ascii_digit()) {
        bad();
    }
    let all = format!("{whole}{fraction}");
    let value: i128 = all.parse().unwrap_or_else(|_| bad());
    let precision = all.trim_start_matches('0').len().max(fraction.len()).max(1);
    if precision > 38 {
        bad();
    }
    Lit::Decimal {
        value: if negative { -value } else { value },
        precision: precision as u8,
        scale: fraction.len() as i8,
    }
}

/// An interval of `n` days.
pub fn days(n: i32) -> Lit {
    Lit::Interval { months: 0, days: n }
}

/// An interval of `n` months.
pub fn months(n: i32) -> Lit {
    Lit::Interval { months: n, days: 0 }
}

/// An interval of `n` years.
pub fn years(n: i32) -> Lit {
    Lit::Interval { months: 12 * n, days: 0 }
}

/// The first non-null of `exprs`.
pub fn coalesce(exprs: impl IntoIterator<Item = Expr>) -> Expr {
    Expr::Coalesce(exprs.into_iter().collect())
}

/// The values of `exprs` as strings, joined.
pub fn concat_str(exprs: impl IntoIterator<Item = Expr>) -> Expr {
    Expr::Concat(exprs.into_iter().collect())
}

/// `when(condition).then(value)[.when(..).then(..)].otherwise(default)`: SQL's `CASE WHEN`.
pub fn when(condition: Expr) -> When {
    When { branches: Vec::new(), pending: condition }
}

/// A `when` waiting for its `then`.
#[derive(Clone, Debug)]
pub struct When {
    branches: Vec<(Expr, Expr)>,
    pending: Expr,
}

/// A `when(..).then(..)`: add branches, then finish with `otherwise` (or use it as it is:
/// rows no branch takes are null).
#[derive(Clone, Debug)]
pub struct Then {
    branches: Vec<(Expr, Expr)>,
}

impl When {
    pub fn then(mut self, value: Expr) -> Then {
        self.branches.push((self.pending, value));
        Then { branches: self.branches }
    }
}

impl Then {
    pub fn when(self, condition: Expr) -> When {
        When { branches: self.branches, pending: condition }
    }

    pub fn otherwise(self, value: Expr) -> Expr {
        Expr::When(self.branches, Box::new(value))
    }
}

impl From<Then> for Expr {
    fn from(t: Then) -> Expr {
        t.otherwise(Expr::Lit(Lit::Null))
    }
}

impl From<i64> for Lit {
    fn from(v: i64) -> Lit {
        Lit::Int(v)
    }
}
impl From<i32> for Lit {
    fn from(v: i32) -> Lit {
        Lit::Int(i64::from(v))
    }
}
impl From<f64> for Lit {
    fn from(v: f64) -> Lit {
        Lit::Float(v)
    }
}
impl From<bool> for Lit {
    fn from(v: bool) -> Lit {
        Lit::Bool(v)
    }
}
impl From<&str> for Lit {
    fn from(v: &str) -> Lit {
        Lit::Str(v.to_owned())
    }
}
impl From<String> for Lit {
    fn from(v: String) -> Lit {
        Lit::Str(v)
    }
}

macro_rules! binary_methods {
    ($($name:ident => $op:ident),* $(,)?) => {
        // Builder methods, as in polars: `col("x").add(lit(1))` reads better than operators
        // on a plan type.
        #[allow(clippy::should_implement_trait)]
        impl Expr {
            $(pub fn $name(self, other: Expr) -> Expr {
                Expr::Binary(Op::$op, Box::new(self), Box::new(other))
            })*
        }
    };
}

binary_methods! {
    add => Add, sub => Sub, mul => Mul, div => Div,
    eq => Eq, not_eq => NotEq, lt => Lt, lt_eq => LtEq, gt => Gt, gt_eq => GtEq,
    and => And, or => Or,
}

macro_rules! unary_methods {
    ($($(#[$doc:meta])* $name:ident => $variant:ident($f:expr)),* $(,)?) => {
        impl Expr {
            $($(#[$doc])* pub fn $name(self) -> Expr {
                Expr::$variant($f, Box::new(self))
            })*
        }
    };
}

unary_methods! {
    /// Length in characters.
    str_len => Str(StrFn::Len),
    upper => Str(StrFn::Upper),
    lower => Str(StrFn::Lower),
    strip => Str(StrFn::Strip),
    year => Date(DateFn::Year),
    month => Date(DateFn::Month),
    day => Date(DateFn::Day),
    abs => Math(MathFn::Abs),
    floor => Math(MathFn::Floor),
    ceil => Math(MathFn::Ceil),
    #[allow(clippy::should_implement_trait)]
    neg => Math(MathFn::Neg),
}

impl Expr {
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Expr {
        Expr::Not(Box::new(self))
    }

    pub fn is_null(self) -> Expr {
        Expr::IsNull(Box::new(self))
    }

    pub fn is_not_null(self) -> Expr {
        self.is_null().not()
    }

    pub fn cast(self, to: Type) -> Expr {
        Expr::Cast(Box::new(self), to)
    }

    /// `lo <= self <= hi` (SQL's `BETWEEN`: both ends included).
    pub fn between(self, lo: Expr, hi: Expr) -> Expr {
        self.clone().gt_eq(lo).and(self.lt_eq(hi))
    }

    /// Whether the value is one of `values` (SQL's `IN (..)`).
    pub fn is_in<L: Into<Lit>>(self, values: impl IntoIterator<Item = L>) -> Expr {
        Expr::IsIn(Box::new(self), values.into_iter().map(Into::into).collect())
    }

    /// `value` where this is null.
    pub fn fill_null(self, value: Expr) -> Expr {
        Expr::Coalesce(vec![self, value])
    }

    pub fn round(self, decimals: i32) -> Expr {
        Expr::Math(MathFn::Round(decimals), Box::new(self))
    }

    pub fn contains(self, pattern: &str) -> Expr {
        Expr::Str(StrFn::Contains(pattern.to_owned()), Box::new(self))
    }

    pub fn starts_with(self, prefix: &str) -> Expr {
        Expr::Str(StrFn::StartsWith(prefix.to_owned()), Box::new(self))
    }

    pub fn ends_with(self, suffix: &str) -> Expr {
        Expr::Str(StrFn::EndsWith(suffix.to_owned()), Box::new(self))
    }

    /// SQL `LIKE` (`%`, `_`).
    pub fn like(self, pattern: &str) -> Expr {
        Expr::Str(StrFn::Like(pattern.to_owned()), Box::new(self))
    }

    pub fn ilike(self, pattern: &str) -> Expr {
        Expr::Str(StrFn::ILike(pattern.to_owned()), Box::new(self))
    }

    /// Whether the regular expression matches somewhere in the value.
    pub fn matches(self, regex: &str) -> Expr {
        Expr::Str(StrFn::Regex(regex.to_owned()), Box::new(self))
    }

    /// See [`StrFn::Substring`].
    pub fn substring(self, start: i64, len: Option<u64>) -> Expr {
        Expr::Str(StrFn::Substring { start, len }, Box::new(self))
    }

    pub fn replace(self, from: &str, to: &str) -> Expr {
        Expr::Str(StrFn::Replace { from: from.to_owned(), to: to.to_owned() }, Box::new(self))
    }

    /// The first day of the value's year or month (or the day itself).
    pub fn truncate(self, unit: DateUnit) -> Expr {
        Expr::Date(DateFn::Truncate(unit), Box::new(self))
    }

    /// Every column the expression reads (for projection pushdown).
    pub fn columns(&self, out: &mut Vec<String>) {
        self.visit(&mut |e| {
            if let Expr::Col(c) = e {
                if !out.contains(c) {
                    out.push(c.clone());
                }
            }
        });
    }

    /// Calls `f` on this expression and every expression inside it.
    fn visit(&self, f: &mut impl FnMut(&Expr)) {
        f(self);
        match self {
            Expr::Col(_) | Expr::Lit(_) => {}
            Expr::Binary(_, l, r) => {
                l.visit(f);
                r.visit(f);
            }
            Expr::Not(e)
            | Expr::IsNull(e)
            | Expr::Cast(e, _)
            | Expr::Str(_, e)
            | Expr::Date(_, e)
            | Expr::Math(_, e)
            | Expr::IsIn(e, _) => e.visit(f),
            Expr::When(branches, otherwise) => {
                for (c, v) in branches {
                    c.visit(f);
                    v.visit(f);
                }
                otherwise.visit(f);
            }
            Expr::Coalesce(es) | Expr::Concat(es) => es.iter().for_each(|e| e.visit(f)),
        }
    }

    /// The `column op number` conjuncts of a predicate, for row-group pruning (anything else
    /// is left to the filter itself). Dates count as their day numbers.
    pub(crate) fn bounds(&self, out: &mut Vec<crate::kernels::Bound>) {
        let bound = |column: &str, op: Op, l: &Lit| {
            let (value, text) = match l {
                Lit::Int(i) => (*i as f64, None),
                Lit::Float(x) => (*x, None),
                Lit::Date(d) => (f64::from(*d), None),
                Lit::Str(s) => (f64::NAN, Some(s.clone())),
                _ => return None,
            };
            Some(crate::kernels::Bound { column: column.to_owned(), op, value, text })
        };
        let flipped = |op: Op| match op {
            Op::Gt => Op::Lt,
            Op::GtEq => Op::LtEq,
            Op::Lt => Op::Gt,
            Op::LtEq => Op::GtEq,
            other => other,
        };
        match self {
            Expr::Binary(Op::And, l, r) => {
                l.bounds(out);
                r.bounds(out);
            }
            Expr::Binary(op @ (Op::Gt | Op::GtEq | Op::Lt | Op::LtEq | Op::Eq), l, r) => match (&**l, &**r) {
                (Expr::Col(c), Expr::Lit(v)) => out.extend(bound(c, *op, v)),
                (Expr::Lit(v), Expr::Col(c)) => out.extend(bound(c, flipped(*op), v)),
                _ => {}
            },
            _ => {}
        }
    }
}

impl std::fmt::Display for Lit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lit::Null => write!(f, "null"),
            Lit::Bool(b) => write!(f, "{b}"),
            Lit::Int(i) => write!(f, "{i}"),
            Lit::Float(x) => write!(f, "{x:?}"),
            Lit::Str(s) => write!(f, "{s:?}"),
            Lit::Date(d) => write!(f, "date {d}"),
            Lit::Timestamp(t, unit) => write!(f, "timestamp {t} {unit:?}"),
            Lit::Decimal { value, scale, .. } => write!(f, "{value}e-{scale}"),
            Lit::Interval { months, days } => write!(f, "interval {months} months {days} days"),
        }
    }
}

/// SQL-like text, for `explain`.
impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |es: &[Expr]| es.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
        match self {
            Expr::Col(c) => write!(f, "{c}"),
            Expr::Lit(l) => write!(f, "{l}"),
            Expr::Binary(op, l, r) => {
                let sym = match op {
                    Op::Add => "+",
                    Op::Sub => "-",
                    Op::Mul => "*",
                    Op::Div => "/",
                    Op::Eq => "=",
                    Op::NotEq => "<>",
                    Op::Lt => "<",
                    Op::LtEq => "<=",
                    Op::Gt => ">",
                    Op::GtEq => ">=",
                    Op::And => "and",
                    Op::Or => "or",
                };
                write!(f, "({l} {sym} {r})")
            }
            Expr::Not(e) => write!(f, "not {e}"),
            Expr::IsNull(e) => write!(f, "{e} is null"),
            Expr::Cast(e, t) => write!(f, "cast({e} as {t:?})"),
            Expr::Str(func, e) => write!(f, "{func:?}({e})"),
            Expr::Date(func, e) => write!(f, "{func:?}({e})"),
            Expr::Math(func, e) => write!(f, "{func:?}({e})"),
            Expr::When(branches, otherwise) => {
                write!(f, "case")?;
                for (c, v) in branches {
                    write!(f, " when {c} then {v}")?;
                }
                write!(f, " else {otherwise} end")
            }
            Expr::IsIn(e, values) => {
                write!(f, "{e} in ({})", values.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", "))
            }
            Expr::Coalesce(es) => write!(f, "coalesce({})", list(es)),
            Expr::Concat(es) => write!(f, "concat({})", list(es)),
        }
    }
}

impl Expr {
    /// The same expression with every column renamed by `rename` (for moving a predicate
    /// below a rename).
    pub(crate) fn map_columns(&self, rename: &impl Fn(&str) -> String) -> Expr {
        let go = |e: &Expr| Box::new(e.map_columns(rename));
        let all = |es: &[Expr]| es.iter().map(|e| e.map_columns(rename)).collect();
        match self {
            Expr::Col(c) => Expr::Col(rename(c)),
            Expr::Lit(l) => Expr::Lit(l.clone()),
            Expr::Binary(op, l, r) => Expr::Binary(*op, go(l), go(r)),
            Expr::Not(e) => Expr::Not(go(e)),
            Expr::IsNull(e) => Expr::IsNull(go(e)),
            Expr::Cast(e, t) => Expr::Cast(go(e), *t),
            Expr::Str(func, e) => Expr::Str(func.clone(), go(e)),
            Expr::Date(func, e) => Expr::Date(*func, go(e)),
            Expr::Math(func, e) => Expr::Math(*func, go(e)),
            Expr::When(branches, otherwise) => Expr::When(
                branches.iter().map(|(c, v)| (c.map_columns(rename), v.map_columns(rename))).collect(),
                go(otherwise),
            ),
            Expr::IsIn(e, values) => Expr::IsIn(go(e), values.clone()),
            Expr::Coalesce(es) => Expr::Coalesce(all(es)),
            Expr::Concat(es) => Expr::Concat(all(es)),
        }
    }

    /// The conjuncts of `a and b and …`.
    pub(crate) fn conjuncts(self) -> Vec<Expr> {
        match self {
            Expr::Binary(Op::And, l, r) => {
                let mut out = l.conjuncts();
                out.extend(r.conjuncts());
                out
            }
            other => vec![other],
        }
    }

    /// `a and b and …` of `conjuncts` (`None` for none).
    pub(crate) fn all_of(conjuncts: Vec<Expr>) -> Option<Expr> {
        conjuncts.into_iter().reduce(|a, b| a.and(b))
    }

    /// The columns the expression reads.
    pub(crate) fn column_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        self.columns(&mut out);
        out
    }
}
