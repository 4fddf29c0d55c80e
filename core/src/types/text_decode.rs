//! Parsers for PostgreSQL's text output of the date/time, network and array
//! types, so text-format results (simple queries, the one-flight first query
//! of a lazily started connection) decode into the same values as binary ones.
//!
//! They accept exactly what the server prints with the default settings
//! (`DateStyle` ISO, `IntervalStyle` postgres) and fail with a Conversion
//! error on anything else: a value is never guessed.

use std::net::IpAddr;

use super::datetime::{days_from_civil, days_in_month};
use super::{Date, Inet, Interval, Time, TimeTz, Type};
use crate::{Error, Result};

/// Days from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_DAYS: i64 = 10_957;
const MICROS_PER_DAY: i64 = 86_400_000_000;

fn bad(ty: &str, s: &str) -> Error {
    // Cap what is echoed: values can be long.
    let shown: String = s.chars().take(64).collect();
    Error::conversion(format!(
        "cannot parse {shown:?} as {ty} text (expected DateStyle ISO / IntervalStyle postgres output)"
    ))
}

/// Digits only, as a number (no sign, no spaces).
fn digits(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `YYYY-MM-DD` (years may have more than 4 digits) → days since 1970, before the BC suffix.
fn ymd(s: &str) -> Option<(i64, u32, u32)> {
    let mut it = s.rsplitn(3, '-');
    let d = digits(it.next()?)?;
    let m = digits(it.next()?)?;
    let y = digits(it.next()?)?;
    // PostgreSQL's dates end in year 5874897; anything much larger is not a
    // date it sent, and would overflow the day arithmetic.
    if y > 10_000_000 {
        return None;
    }
    Some((y, u32::try_from(m).ok()?, u32::try_from(d).ok()?))
}

/// Days since 2000-01-01 of `YYYY-MM-DD[ BC]`.
fn pg_days(date: &str, bc: bool) -> Option<i64> {
    let (y, m, d) = ymd(date)?;
    // Year 1 BC is astronomical year 0.
    let y = if bc { 1 - y } else { y };
    if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) || (bc && y > 0) {
        return None;
    }
    Some(days_from_civil(y, m, d) - PG_EPOCH_DAYS)
}

/// `HH:MM:SS[.ffffff]` → microseconds (24:00:00 allowed, as PostgreSQL does).
fn hms(s: &str) -> Option<i64> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (s, None),
    };
    let mut it = whole.split(':');
    let h = digits(it.next()?)?;
    let m = digits(it.next()?)?;
    let sec = digits(it.next()?)?;
    if it.next().is_some() || m > 59 || sec > 59 {
        return None;
    }
    let mut micros = (h.checked_mul(3600)?.checked_add(m * 60 + sec)?).checked_mul(1_000_000)?;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 6 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let scaled = digits(f)? * 10i64.pow(6 - f.len() as u32);
        micros = micros.checked_add(scaled)?;
    }
    Some(micros)
}

/// Splits a trailing UTC offset (`+HH`, `-HH:MM`, `+HH:MM:SS`) off `s`;
/// returns the rest and the offset in seconds east of UTC.
fn split_offset(s: &str) -> Option<(&str, i32)> {
    let at = s.rfind(['+', '-'])?;
    let (rest, off) = s.split_at(at);
    let sign = if off.starts_with('-') { -1 } else { 1 };
    let mut parts = off[1..].split(':');
    let h = digits(parts.next()?)?;
    let m = parts.next().map_or(Some(0), digits)?;
    let sec = parts.next().map_or(Some(0), digits)?;
    if parts.next().is_some() || h > 15 || m > 59 || sec > 59 {
        return None;
    }
    Some((rest, sign * i32::try_from(h * 3600 + m * 60 + sec).ok()?))
}

/// A `date` in text form.
pub(crate) fn parse_date(s: &str) -> Result<Date> {
    match s {
        "infinity" => return Ok(Date::INFINITY),
        "-infinity" => return Ok(Date::NEG_INFINITY),
        _ => {}
    }
    let (date, bc) = match s.strip_suffix(" BC") {
        Some(d) => (d, true),
        None => (s, false),
    };
    pg_days(date, bc).and_then(|d| i32::try_from(d).ok()).map(Date::from_pg_days).ok_or_else(|| bad("date", s))
}

/// A `time` in text form.
pub(crate) fn parse_time(s: &str) -> Result<Time> {
    hms(s).and_then(Time::from_micros).ok_or_else(|| bad("time", s))
}

/// A `timetz` in text form.
pub(crate) fn parse_timetz(s: &str) -> Result<TimeTz> {
    let (t, offset) = split_offset(s).ok_or_else(|| bad("timetz", s))?;
    let time = hms(t).and_then(Time::from_micros).ok_or_else(|| bad("timetz", s))?;
    Ok(TimeTz { time, offset_seconds: offset })
}

/// A `timestamp` (`with_tz`: `timestamptz`, converted to UTC) in text form,
/// as microseconds since 2000-01-01 (i64::MAX/MIN for ±infinity).
pub(crate) fn parse_timestamp(s: &str, with_tz: bool) -> Result<i64> {
    let what = if with_tz { "timestamptz" } else { "timestamp" };
    match s {
        "infinity" => return Ok(i64::MAX),
        "-infinity" => return Ok(i64::MIN),
        _ => {}
    }
    let (body, bc) = match s.strip_suffix(" BC") {
        Some(b) => (b, true),
        None => (s, false),
    };
    let parse = || -> Option<i64> {
        let (date, time) = body.split_once(' ')?;
        let (time, offset) = if with_tz { split_offset(time)? } else { (time, 0) };
        let days = pg_days(date, bc)?;
        let micros = days.checked_mul(MICROS_PER_DAY)?.checked_add(hms(time)?)?;
        micros.checked_sub(i64::from(offset).checked_mul(1_000_000)?)
    };
    parse().ok_or_else(|| bad(what, s))
}

/// An `interval` in the `postgres` style: `1 year 2 mons -3 days 04:05:06.5`.
pub(crate) fn parse_interval(s: &str) -> Result<Interval> {
    let parse = || -> Option<Interval> {
        let mut iv = Interval::default();
        let mut words = s.split(' ').peekable();
        if s.is_empty() {
            return None;
        }
        while let Some(w) = words.next() {
            if w.contains(':') {
                let (neg, t) = match w.strip_prefix('-') {
                    Some(t) => (true, t),
                    None => (false, w.strip_prefix('+').unwrap_or(w)),
                };
                let us = hms(t)?;
                iv.microseconds = if neg { -us } else { us };
                if words.peek().is_some() {
                    return None;
                }
                break;
            }
            let n: i64 = w.parse().ok()?;
            let unit = words.next()?;
            match unit {
                "year" | "years" => iv.months = iv.months.checked_add(i32::try_from(n.checked_mul(12)?).ok()?)?,
                "mon" | "mons" => iv.months = iv.months.checked_add(i32::try_from(n).ok()?)?,
                "day" | "days" => iv.days = i32::try_from(n).ok()?,
                _ => return None,
            }
        }
        Some(iv)
    };
    parse().ok_or_else(|| bad("interval", s))
}

/// An `inet`/`cidr` in text form: `addr` or `addr/bits`.
pub(crate) fn parse_inet(s: &str) -> Result<Inet> {
    let parse = || -> Option<Inet> {
        match s.split_once('/') {
            Some((a, bits)) => Inet::new(a.parse::<IpAddr>().ok()?, bits.parse().ok()?),
            None => Some(Inet::host(s.parse::<IpAddr>().ok()?)),
        }
    };
    parse().ok_or_else(|| bad("inet", s))
}

/// The binary encoding of a date/time value given in text form, so that
/// types decoding only binary (the chrono and time adapters) read text too.
#[cfg_attr(not(any(feature = "with-chrono", feature = "with-time")), allow(dead_code))]
pub(crate) fn binary_from_text(ty: Type, raw: &[u8]) -> Result<Vec<u8>> {
    let s = super::codec::utf8(raw)?;
    Ok(match ty {
        Type::DATE => parse_date(s)?.pg_days().to_be_bytes().to_vec(),
        Type::TIME => parse_time(s)?.micros().to_be_bytes().to_vec(),
        Type::TIMESTAMP => parse_timestamp(s, false)?.to_be_bytes().to_vec(),
        Type::TIMESTAMPTZ => parse_timestamp(s, true)?.to_be_bytes().to_vec(),
        _ => return Err(Error::conversion(format!("no text-format decoder for PostgreSQL type {ty} here"))),
    })
}

/// A parsed array literal: dimensions `(length, lower bound)` and elements
/// in row-major order (`None` for NULL).
pub(crate) struct TextArray {
    pub(crate) dims: Vec<(i32, i32)>,
    pub(crate) elements: Vec<Option<String>>,
}

/// Parses an array literal such as `{1,NULL,"a b"}`, `{{1,2},{3,4}}` or
/// `[0:1]={7,8}` (comma-delimited element types, i.e. all but `box`).
pub(crate) fn parse_array(s: &str, ty: Type) -> Result<TextArray> {
    let err = || bad(&format!("{ty}"), s);
    let (bounds, body) = match s.strip_prefix('[') {
        Some(_) => s.split_once('=').ok_or_else(err)?,
        None => ("", s),
    };
    let mut lowers = Vec::new();
    for dim in bounds.split(['[', ']']).filter(|p| !p.is_empty()) {
        let (lo, hi) = dim.split_once(':').ok_or_else(err)?;
        let lo: i32 = lo.parse().map_err(|_| err())?;
        let _: i32 = hi.parse().map_err(|_| err())?;
        lowers.push(lo);
    }
    let b = body.as_bytes();
    let mut elements = Vec::new();
    // Per depth: elements (or sub-arrays) seen in the current brace.
    let mut counts: Vec<i32> = Vec::new();
    let mut lens: Vec<Option<i32>> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    let mut expect_item = true;
    // The depth of the scalars: every scalar sits at the same, innermost depth.
    let mut leaf: Option<usize> = None;
    while i < b.len() {
        match b[i] {
            b'{' => {
                if !expect_item || leaf.is_some_and(|l| depth + 1 > l) {
                    return Err(err());
                }
                depth += 1;
                if depth > super::MAX_DIMENSIONS {
                    return Err(err());
                }
                if counts.len() < depth {
                    counts.push(0);
                    lens.push(None);
                }
                counts[depth - 1] = 0;
                i += 1;
            }
            b'}' => {
                if depth == 0 {
                    return Err(err());
                }
                let n = counts[depth - 1];
                match lens[depth - 1] {
                    None => lens[depth - 1] = Some(n),
                    Some(l) if l == n => {}
                    Some(_) => return Err(err()), // ragged
                }
                depth -= 1;
                if depth > 0 {
                    counts[depth - 1] += 1;
                } else if i + 1 != b.len() {
                    return Err(err());
                }
                expect_item = false;
                i += 1;
            }
            b',' if depth > 0 && !expect_item => {
                expect_item = true;
                i += 1;
            }
            _ if depth == 0 || !expect_item || depth != counts.len() || leaf.is_some_and(|l| l != depth) => {
                return Err(err())
            }
            b'"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match b.get(i) {
                        None => return Err(err()),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            let c = body.get(i + 1..).and_then(|r| r.chars().next()).ok_or_else(err)?;
                            v.push(c);
                            i += 1 + c.len_utf8();
                        }
                        Some(_) => {
                            let c = body.get(i..).and_then(|r| r.chars().next()).ok_or_else(err)?;
                            v.push(c);
                            i += c.len_utf8();
                        }
                    }
                }
                i += 1;
                leaf = Some(depth);
                elements.push(Some(v));
                counts[depth - 1] += 1;
                expect_item = false;
            }
            _ => {
                let start = i;
                while i < b.len() && !matches!(b[i], b',' | b'}') {
                    if matches!(b[i], b'{' | b'"' | b'\\') {
                        return Err(err());
                    }
                    i += 1;
                }
                let raw = body.get(start..i).filter(|r| !r.is_empty()).ok_or_else(err)?;
                leaf = Some(depth);
                elements.push(if raw == "NULL" { None } else { Some(raw.to_owned()) });
                counts[depth - 1] += 1;
                expect_item = false;
            }
        }
    }
    if depth != 0 {
        return Err(err());
    }
    // `{}`: no dimensions. So is `{{}}` (PostgreSQL reads it as `{}`): an
    // empty dimension anywhere means no elements, and the binary codecs know
    // such an array only without dimensions.
    let lens: Vec<i32> = lens.into_iter().map(|l| l.unwrap_or(0)).collect();
    if lens.contains(&0) {
        return Ok(TextArray { dims: Vec::new(), elements: Vec::new() });
    }
    if !lowers.is_empty() && lowers.len() != lens.len() {
        return Err(err());
    }
    let dims = lens.iter().enumerate().map(|(d, &len)| (len, lowers.get(d).copied().unwrap_or(1))).collect();
    Ok(TextArray { dims, elements })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Timestamp, TimestampTz};

    #[test]
    fn dates_and_times() {
        assert_eq!(parse_date("2000-01-01").unwrap(), Date::from_pg_days(0));
        assert_eq!(parse_date("2024-02-29").unwrap(), Date::from_ymd(2024, 2, 29).unwrap());
        assert_eq!(parse_date("0001-01-01 BC").unwrap().to_string(), "0001-01-01 BC");
        assert_eq!(parse_date("infinity").unwrap(), Date::INFINITY);
        assert!(parse_date("2023-02-29").is_err());
        assert!(parse_date("29/02/2024").is_err());
        assert_eq!(parse_time("13:14:15.5").unwrap().micros(), (13 * 3600 + 14 * 60 + 15) * 1_000_000 + 500_000);
        assert!(parse_time("13:60:00").is_err());
        let tz = parse_timetz("00:00:00+05:30").unwrap();
        assert_eq!(tz.offset_seconds, 5 * 3600 + 30 * 60);
        assert_eq!(tz.to_string(), "00:00:00+05:30");
        let ts = Timestamp::from_pg_micros(parse_timestamp("2024-02-29 13:14:15.123456", false).unwrap());
        assert_eq!(ts.to_string(), "2024-02-29 13:14:15.123456");
        let tstz = TimestampTz::from_pg_micros(parse_timestamp("2024-02-29 13:14:15.5+02", true).unwrap());
        assert_eq!(tstz.to_string(), "2024-02-29 11:14:15.5+00");
        let odd = parse_timestamp("1999-12-31 23:59:59.999999-08:30", true).unwrap();
        assert_eq!(odd, 8 * 3600 * 1_000_000 + 30 * 60 * 1_000_000 - 1);
        let bc = Timestamp::from_pg_micros(parse_timestamp("2000-01-01 00:00:00 BC", false).unwrap());
        assert_eq!(bc.to_string(), "2000-01-01 00:00:00 BC");
        assert!(parse_timestamp("2000-01-01T00:00:00", false).is_err());
    }

    #[test]
    fn intervals() {
        let i = parse_interval("1 year 2 mons 3 days 04:05:06.5").unwrap();
        assert_eq!((i.months, i.days, i.microseconds), (14, 3, (4 * 3600 + 5 * 60 + 6) * 1_000_000 + 500_000));
        let i = parse_interval("-1 days -00:00:01").unwrap();
        assert_eq!((i.months, i.days, i.microseconds), (0, -1, -1_000_000));
        assert_eq!(parse_interval("00:00:00").unwrap(), Interval::default());
        assert!(parse_interval("@ 1 day").is_err());
        assert!(parse_interval("P1D").is_err());
    }

    #[test]
    fn arrays() {
        let a = parse_array(r#"{1,NULL,"a \"b\"",""}"#, Type::TEXT_ARRAY).unwrap();
        assert_eq!(a.dims, vec![(4, 1)]);
        assert_eq!(a.elements, vec![Some("1".into()), None, Some("a \"b\"".into()), Some(String::new())]);
        let a = parse_array("{{1,2},{3,4}}", Type::INT8_ARRAY).unwrap();
        assert_eq!(a.dims, vec![(2, 1), (2, 1)]);
        assert_eq!(a.elements.len(), 4);
        let a = parse_array("[0:1]={7,8}", Type::INT4_ARRAY).unwrap();
        assert_eq!(a.dims, vec![(2, 0)]);
        assert_eq!(parse_array("{}", Type::INT4_ARRAY).unwrap().dims, vec![]);
        // Found by fuzz/text_decode: `{{}}` gave dims [(1, 1), (0, 1)], which the
        // binary encoder wrote and the binary decoder rejected.
        for empty in ["{{}}", "{{{}}}", "[1:1][1:0]={{}}"] {
            let a = parse_array(empty, Type::INT4_ARRAY).unwrap();
            assert_eq!((a.dims, a.elements), (vec![], vec![]), "{empty}");
        }
        for bad in ["{1,2", "{{1},{2,3}}", "{1}x", "1,2", "{\"a}", "{1,,2}", "{{1},2}"] {
            assert!(parse_array(bad, Type::INT4_ARRAY).is_err(), "{bad}");
        }
    }

    #[test]
    fn inet() {
        assert_eq!(parse_inet("10.1.2.3/8").unwrap().to_string(), "10.1.2.3/8");
        assert_eq!(parse_inet("::1").unwrap().to_string(), "::1");
        assert!(parse_inet("10.1.2.3/33").is_err());
    }
}
