//! Dates: literals, parts, truncation, and calendar intervals added to dates (a month added
//! to January 31st gives the last day of February, as SQL engines do).

use std::sync::Arc;

use arrow_arith::temporal::{date_part, DatePart};
use arrow_array::cast::AsArray;
use arrow_array::types::Date32Type;
use arrow_array::{ArrayRef, Date32Array};
use arrow_schema::DataType;
use chrono::{Datelike, Months, NaiveDate};

use super::eval::Evaluated;
use super::{DateFn, DateUnit, Lit, Op};
use crate::FrameError;

const EPOCH: NaiveDate = match NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => panic!("1970-01-01 is a date"),
};

/// Days since 1970-01-01 of a calendar date, or `None` if there is no such date.
pub fn days_from_ymd(year: i32, month: u32, day: u32) -> Option<i32> {
    NaiveDate::from_ymd_opt(year, month, day).map(|d| (d - EPOCH).num_days() as i32)
}

/// A date literal from `"YYYY-MM-DD"`.
///
/// # Panics
/// If `iso` is not a valid date: literals are written in the program, where a typo should
/// stop it at once.
pub fn date(iso: &str) -> Lit {
    let d = NaiveDate::parse_from_str(iso, "%Y-%m-%d").unwrap_or_else(|e| panic!("date({iso:?}): {e}"));
    Lit::Date((d - EPOCH).num_days() as i32)
}

fn to_date(days: i32) -> NaiveDate {
    EPOCH + chrono::Duration::days(i64::from(days))
}

fn from_date(d: NaiveDate) -> i32 {
    (d - EPOCH).num_days() as i32
}

/// `days` moved by `months` (clamped to the month's end), then by `extra` days.
fn add_interval(days: i32, months: i32, extra: i32) -> Option<i32> {
    let d = to_date(days);
    let d = if months >= 0 {
        d.checked_add_months(Months::new(months as u32))?
    } else {
        d.checked_sub_months(Months::new(months.unsigned_abs()))?
    };
    Some(from_date(d) + extra)
}

/// Dates moved by an interval of `months` and `days` (negated for `Op::Sub`).
pub(super) fn shift(op: Op, dates: Evaluated, months: i32, days: i32) -> Result<Evaluated, FrameError> {
    let sign = if op == Op::Sub { -1 } else { 1 };
    let t = dates.array.data_type().clone();
    let (months, days) = (sign * months, sign * days);
    if let DataType::Timestamp(unit, zone) = &t {
        // Through the date and time of day: months on the calendar, then whole days.
        let per_second: i64 = match unit {
            arrow_schema::TimeUnit::Second => 1,
            arrow_schema::TimeUnit::Millisecond => 1_000,
            arrow_schema::TimeUnit::Microsecond => 1_000_000,
            arrow_schema::TimeUnit::Nanosecond => 1_000_000_000,
        };
        let per_day = 86_400 * per_second;
        let zone = zone.clone();
        return dates.map(|a| {
            let values = arrow_cast::cast(a, &DataType::Int64)?;
            let out: arrow_array::Int64Array =
                values.as_primitive::<arrow_array::types::Int64Type>().try_unary(|v| {
                    let (day, within) = (v.div_euclid(per_day), v.rem_euclid(per_day));
                    let moved = i32::try_from(day).ok().and_then(|d| add_interval(d, months, days));
                    moved.map(|d| i64::from(d) * per_day + within).ok_or_else(|| {
                        arrow_schema::ArrowError::ComputeError(format!(
                            "timestamp {v} moved by {months} months is out of range"
                        ))
                    })
                })?;
            Ok(arrow_cast::cast(&(Arc::new(out) as ArrayRef), &DataType::Timestamp(*unit, zone.clone()))?)
        });
    }
    if t != DataType::Date32 {
        return Err(FrameError::Type(format!("{op:?} of an interval and a {t} value (dates and timestamps only)")));
    }
    dates.map(|a| {
        let out: Date32Array = a.as_primitive::<Date32Type>().try_unary(|d| {
            add_interval(d, months, days).ok_or_else(|| {
                arrow_schema::ArrowError::ComputeError(format!(
                    "{} moved by {months} months is out of range",
                    to_date(d)
                ))
            })
        })?;
        Ok(Arc::new(out) as ArrayRef)
    })
}

/// The part or truncation `f` of dates (or timestamps, read as their dates).
pub(super) fn apply(f: DateFn, a: &ArrayRef) -> Result<ArrayRef, FrameError> {
    let t = a.data_type();
    if !matches!(t, DataType::Date32 | DataType::Date64 | DataType::Timestamp(..)) {
        return Err(FrameError::Type(format!("{f:?} of a {t} value (dates and timestamps only)")));
    }
    let part =
        |p: DatePart| -> Result<ArrayRef, FrameError> { Ok(arrow_cast::cast(&date_part(a, p)?, &DataType::Int64)?) };
    match f {
        DateFn::Year => part(DatePart::Year),
        DateFn::Month => part(DatePart::Month),
        DateFn::Day => part(DatePart::Day),
        DateFn::Truncate(unit) => {
            let dates = arrow_cast::cast(a, &DataType::Date32)?;
            let out: Date32Array = dates.as_primitive::<Date32Type>().unary(|days| {
                let d = to_date(days);
                let first = match unit {
                    DateUnit::Year => d.with_ordinal(1),
                    DateUnit::Month => d.with_day(1),
                    DateUnit::Day => Some(d),
                };
                first.map_or(days, from_date)
            });
            Ok(Arc::new(out))
        }
    }
}
