//! Ranges and multiranges: [`Range<T>`] for `int4range`, `int8range`,
//! `numrange`, `daterange`, `tsrange`, `tstzrange` and user range types;
//! `Vec<Range<T>>` for their multiranges.
//!
//! Binary layout (range_send): one flags byte, then for each finite bound of a
//! non-empty range its length (`i32`) and the subtype's binary value, lower
//! first. A multirange (multirange_send) is a count (`i32`) followed by each
//! range as length + range bytes.

use std::fmt;
use std::ops::Bound;

use bytes::{BufMut, BytesMut};

use super::codec::{utf8, Reader};
use super::from_sql::cannot_decode;
use super::to_sql::cannot_encode;
use super::{FromSql, ToSql, Type, TypeKind};
use crate::protocol::{Format, IsNull};
use crate::{to_sql_checked, Error, Result};

const EMPTY: u8 = 0x01;
const LB_INC: u8 = 0x02;
const UB_INC: u8 = 0x04;
const LB_INF: u8 = 0x08;
const UB_INF: u8 = 0x10;
/// Bits a range value on the wire may carry (the others are internal to the server).
const KNOWN: u8 = EMPTY | LB_INC | UB_INC | LB_INF | UB_INF;

/// A PostgreSQL range: empty, or two bounds that are each inclusive,
/// exclusive or unbounded (infinite).
///
/// ```
/// use std::ops::Bound;
/// use edgepg_core::types::Range;
///
/// let r: Range<i32> = (1..5).into();
/// assert_eq!(r, Range::new(Bound::Included(1), Bound::Excluded(5)));
/// assert_eq!(r.to_string(), "[1,5)");
/// assert_eq!(Range::<i32>::from(..=3).to_string(), "(,3]");
/// assert!(Range::<i32>::empty().is_empty());
/// assert!(Range::new(Bound::Included(2), Bound::Unbounded).contains(&7));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Range<T> {
    /// The empty range (`'empty'`).
    Empty,
    /// A range with these bounds; `Bound::Unbounded` is an infinite bound.
    Bounds {
        /// The lower bound.
        lower: Bound<T>,
        /// The upper bound.
        upper: Bound<T>,
    },
}

impl<T> Range<T> {
    /// A range with these bounds. PostgreSQL normalises discrete ranges
    /// (`[1,5]` of int4 comes back as `[1,6)`).
    pub fn new(lower: Bound<T>, upper: Bound<T>) -> Range<T> {
        Range::Bounds { lower, upper }
    }

    /// The empty range.
    pub fn empty() -> Range<T> {
        Range::Empty
    }

    /// True for the empty range.
    pub fn is_empty(&self) -> bool {
        matches!(self, Range::Empty)
    }

    /// The lower bound (`None` when empty).
    pub fn lower(&self) -> Option<&Bound<T>> {
        match self {
            Range::Empty => None,
            Range::Bounds { lower, .. } => Some(lower),
        }
    }

    /// The upper bound (`None` when empty).
    pub fn upper(&self) -> Option<&Bound<T>> {
        match self {
            Range::Empty => None,
            Range::Bounds { upper, .. } => Some(upper),
        }
    }

    /// Converts the bound values.
    pub fn map<U>(self, mut f: impl FnMut(T) -> U) -> Range<U> {
        let mut b = |b: Bound<T>| match b {
            Bound::Included(v) => Bound::Included(f(v)),
            Bound::Excluded(v) => Bound::Excluded(f(v)),
            Bound::Unbounded => Bound::Unbounded,
        };
        match self {
            Range::Empty => Range::Empty,
            Range::Bounds { lower, upper } => Range::Bounds { lower: b(lower), upper: b(upper) },
        }
    }
}

impl<T: PartialOrd> Range<T> {
    /// Whether `v` lies in the range.
    pub fn contains(&self, v: &T) -> bool {
        match self {
            Range::Empty => false,
            Range::Bounds { lower, upper } => {
                let above = match lower {
                    Bound::Included(l) => v >= l,
                    Bound::Excluded(l) => v > l,
                    Bound::Unbounded => true,
                };
                let below = match upper {
                    Bound::Included(u) => v <= u,
                    Bound::Excluded(u) => v < u,
                    Bound::Unbounded => true,
                };
                above && below
            }
        }
    }
}

impl<T> From<std::ops::Range<T>> for Range<T> {
    fn from(r: std::ops::Range<T>) -> Range<T> {
        Range::new(Bound::Included(r.start), Bound::Excluded(r.end))
    }
}
impl<T> From<std::ops::RangeInclusive<T>> for Range<T> {
    fn from(r: std::ops::RangeInclusive<T>) -> Range<T> {
        let (a, b) = r.into_inner();
        Range::new(Bound::Included(a), Bound::Included(b))
    }
}
impl<T> From<std::ops::RangeFrom<T>> for Range<T> {
    fn from(r: std::ops::RangeFrom<T>) -> Range<T> {
        Range::new(Bound::Included(r.start), Bound::Unbounded)
    }
}
impl<T> From<std::ops::RangeTo<T>> for Range<T> {
    fn from(r: std::ops::RangeTo<T>) -> Range<T> {
        Range::new(Bound::Unbounded, Bound::Excluded(r.end))
    }
}
impl<T> From<std::ops::RangeToInclusive<T>> for Range<T> {
    fn from(r: std::ops::RangeToInclusive<T>) -> Range<T> {
        Range::new(Bound::Unbounded, Bound::Included(r.end))
    }
}
impl<T> From<std::ops::RangeFull> for Range<T> {
    fn from(_: std::ops::RangeFull) -> Range<T> {
        Range::new(Bound::Unbounded, Bound::Unbounded)
    }
}

/// PostgreSQL's text form (`[1,5)`, `(,3]`, `empty`), bounds quoted when needed.
impl<T: fmt::Display> fmt::Display for Range<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (lower, upper) = match self {
            Range::Empty => return f.write_str("empty"),
            Range::Bounds { lower, upper } => (lower, upper),
        };
        f.write_str(if matches!(lower, Bound::Included(_)) { "[" } else { "(" })?;
        if let Bound::Included(v) | Bound::Excluded(v) = lower {
            write_quoted(f, &v.to_string())?;
        }
        f.write_str(",")?;
        if let Bound::Included(v) | Bound::Excluded(v) = upper {
            write_quoted(f, &v.to_string())?;
        }
        f.write_str(if matches!(upper, Bound::Included(_)) { "]" } else { ")" })
    }
}

/// Writes `s` as a range bound or record field: bare when safe, else in
/// double quotes with `"` and `\` doubled-escaped (what range_out/record_out do).
pub(crate) fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    let needs = s.is_empty()
        || s.chars().any(|c| matches!(c, '"' | '\\' | ',' | '(' | ')' | '[' | ']' | '{' | '}') || c.is_whitespace());
    if !needs {
        return f.write_str(s);
    }
    f.write_char('"')?;
    for c in s.chars() {
        if c == '"' || c == '\\' {
            f.write_char('\\')?;
        }
        f.write_char(c)?;
    }
    f.write_char('"')
}

// ---------------------------------------------------------------- binary

/// The parts of a binary range: flags-derived bounds with the raw bound bytes.
pub(crate) enum RawRange<'a> {
    Empty,
    Bounds { lower: Bound<&'a [u8]>, upper: Bound<&'a [u8]> },
}

/// Splits a binary range value; rejects corrupt flags and trailing bytes.
pub(crate) fn parse_range(raw: &[u8]) -> Result<RawRange<'_>> {
    let mut r = Reader::new(raw, "range");
    let flags = r.u8()?;
    if flags & !KNOWN != 0
        || (flags & EMPTY != 0 && flags != EMPTY)
        || (flags & LB_INF != 0 && flags & LB_INC != 0)
        || (flags & UB_INF != 0 && flags & UB_INC != 0)
    {
        return Err(Error::conversion(format!("invalid binary range value: bad flags 0x{flags:02x}")));
    }
    if flags & EMPTY != 0 {
        r.finish()?;
        return Ok(RawRange::Empty);
    }
    let mut bound = |inf: u8, inc: u8| -> Result<Bound<&[u8]>> {
        if flags & inf != 0 {
            return Ok(Bound::Unbounded);
        }
        let len = usize::try_from(r.i32()?)
            .map_err(|_| Error::conversion("invalid binary range value: negative bound length"))?;
        let b = r.bytes(len)?;
        Ok(if flags & inc != 0 { Bound::Included(b) } else { Bound::Excluded(b) })
    };
    let lower = bound(LB_INF, LB_INC)?;
    let upper = bound(UB_INF, UB_INC)?;
    r.finish()?;
    Ok(RawRange::Bounds { lower, upper })
}

/// Decodes a binary range with `f` for each bound value.
pub(crate) fn decode_range<'a, T>(raw: &'a [u8], mut f: impl FnMut(&'a [u8]) -> Result<T>) -> Result<Range<T>> {
    Ok(match parse_range(raw)? {
        RawRange::Empty => Range::Empty,
        RawRange::Bounds { lower, upper } => {
            let mut b = |b: Bound<&'a [u8]>| -> Result<Bound<T>> {
                Ok(match b {
                    Bound::Included(v) => Bound::Included(f(v)?),
                    Bound::Excluded(v) => Bound::Excluded(f(v)?),
                    Bound::Unbounded => Bound::Unbounded,
                })
            };
            let lower = b(lower)?;
            Range::Bounds { lower, upper: b(upper)? }
        }
    })
}

/// Writes a binary range; `f` writes one bound value (never NULL).
pub(crate) fn encode_range<T>(
    range: &Range<T>,
    out: &mut BytesMut,
    mut f: impl FnMut(&T, &mut BytesMut) -> Result<IsNull>,
) -> Result<IsNull> {
    let (lower, upper) = match range {
        Range::Empty => {
            out.put_u8(EMPTY);
            return Ok(IsNull::No);
        }
        Range::Bounds { lower, upper } => (lower, upper),
    };
    let flag = |b: &Bound<T>, inc: u8, inf: u8| match b {
        Bound::Included(_) => inc,
        Bound::Excluded(_) => 0,
        Bound::Unbounded => inf,
    };
    out.put_u8(flag(lower, LB_INC, LB_INF) | flag(upper, UB_INC, UB_INF));
    for b in [lower, upper] {
        if let Bound::Included(v) | Bound::Excluded(v) = b {
            let at = out.len();
            out.put_i32(0);
            if f(v, out)? == IsNull::Yes {
                return Err(Error::conversion("a range bound cannot be NULL: use Bound::Unbounded"));
            }
            let len = i32::try_from(out.len() - at - 4).map_err(|_| Error::conversion("range bound is too large"))?;
            out[at..at + 4].copy_from_slice(&len.to_be_bytes());
        }
    }
    Ok(IsNull::No)
}

/// Splits a binary multirange into its ranges' bytes.
pub(crate) fn parse_multirange(raw: &[u8]) -> Result<Vec<&[u8]>> {
    let mut r = Reader::new(raw, "multirange");
    let count =
        usize::try_from(r.i32()?).map_err(|_| Error::conversion("invalid binary multirange value: negative count"))?;
    // Each range takes at least 5 bytes (length + flags).
    if count > r.remaining() / 5 {
        return Err(Error::conversion("invalid binary multirange value: more ranges than bytes"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::try_from(r.i32()?)
            .map_err(|_| Error::conversion("invalid binary multirange value: negative length"))?;
        out.push(r.bytes(len)?);
    }
    r.finish()?;
    Ok(out)
}

/// Writes a binary multirange; `f` writes one range.
pub(crate) fn encode_multirange<'e, T: 'e>(
    ranges: impl ExactSizeIterator<Item = &'e T>,
    out: &mut BytesMut,
    mut f: impl FnMut(&T, &mut BytesMut) -> Result<IsNull>,
) -> Result<IsNull> {
    let n = i32::try_from(ranges.len()).map_err(|_| Error::conversion("multirange is too large"))?;
    out.put_i32(n);
    for range in ranges {
        let at = out.len();
        out.put_i32(0);
        if f(range, out)? == IsNull::Yes {
            return Err(Error::conversion("a multirange cannot contain NULL"));
        }
        let len = i32::try_from(out.len() - at - 4).map_err(|_| Error::conversion("range is too large"))?;
        out[at..at + 4].copy_from_slice(&len.to_be_bytes());
    }
    Ok(IsNull::No)
}

// ---------------------------------------------------------------- text

/// A range's text output split into bound texts. Bounds come back as slices
/// of `raw`; a quoted bound is returned without its quotes, and one that
/// contains escapes is rejected (`Err`) since it cannot be borrowed.
pub(crate) fn parse_range_text(raw: &[u8]) -> Result<RawRange<'_>> {
    let bad = || Error::conversion("invalid range text");
    let s = utf8(raw)?.trim();
    if s.eq_ignore_ascii_case("empty") {
        return Ok(RawRange::Empty);
    }
    let offset = s.as_ptr() as usize - raw.as_ptr() as usize;
    let b = s.as_bytes();
    if b.len() < 3 {
        return Err(bad());
    }
    let lower_inc = match b[0] {
        b'[' => true,
        b'(' => false,
        _ => return Err(bad()),
    };
    let upper_inc = match b[b.len() - 1] {
        b']' => true,
        b')' => false,
        _ => return Err(bad()),
    };
    let inner = &b[1..b.len() - 1];
    // The comma outside quotes.
    let mut in_quotes = false;
    let mut comma = None;
    let mut i = 0;
    while i < inner.len() {
        match inner[i] {
            b'\\' => i += 1,
            b'"' => in_quotes = !in_quotes,
            b',' if !in_quotes => {
                comma = Some(i);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let comma = comma.ok_or_else(bad)?;
    let start = offset + 1;
    let bound = |from: usize, to: usize, inc: bool| -> Result<Bound<&[u8]>> {
        let part = &raw[start + from..start + to];
        if part.is_empty() {
            return Ok(Bound::Unbounded);
        }
        let value = if part[0] == b'"' {
            if part.len() < 2 || part[part.len() - 1] != b'"' {
                return Err(bad());
            }
            let v = &part[1..part.len() - 1];
            if v.iter().any(|&c| c == b'\\' || c == b'"') {
                return Err(Error::conversion(
                    "range text with escaped bound values cannot be decoded in place: fetch it in binary (a prepared query)",
                ));
            }
            v
        } else {
            part
        };
        Ok(if inc { Bound::Included(value) } else { Bound::Excluded(value) })
    };
    Ok(RawRange::Bounds { lower: bound(0, comma, lower_inc)?, upper: bound(comma + 1, inner.len(), upper_inc)? })
}

// ---------------------------------------------------------------- FromSql / ToSql

/// The subtype of a range type (through domains over the subtype).
pub(crate) fn range_subtype(ty: Type) -> Option<Type> {
    match ty.base().kind() {
        TypeKind::Range(sub) => Some(sub.base()),
        _ => None,
    }
}

/// The range type of a multirange type.
pub(crate) fn multirange_range(ty: Type) -> Option<Type> {
    match ty.base().kind() {
        TypeKind::Multirange(r) => Some(r),
        _ => None,
    }
}

impl<'a, T: FromSql<'a>> FromSql<'a> for Range<T> {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Range<T>> {
        let sub = range_subtype(ty).ok_or_else(|| cannot_decode::<Self>(ty, "not a range type"))?;
        decode_range(raw, |b| T::from_sql(sub, b))
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Range<T>> {
        let sub = range_subtype(ty).ok_or_else(|| cannot_decode::<Self>(ty, "not a range type"))?;
        Ok(match parse_range_text(raw)? {
            RawRange::Empty => Range::Empty,
            RawRange::Bounds { lower, upper } => {
                let b = |b: Bound<&'a [u8]>| -> Result<Bound<T>> {
                    Ok(match b {
                        Bound::Included(v) => Bound::Included(T::from_sql_text(sub, v)?),
                        Bound::Excluded(v) => Bound::Excluded(T::from_sql_text(sub, v)?),
                        Bound::Unbounded => Bound::Unbounded,
                    })
                };
                Range::Bounds { lower: b(lower)?, upper: b(upper)? }
            }
        })
    }
    fn accepts(ty: Type) -> bool {
        range_subtype(ty).is_some_and(T::accepts)
    }
}

impl<T: ToSql> ToSql for Range<T> {
    fn to_sql(&self, ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        let sub = range_subtype(ty).ok_or_else(|| cannot_encode::<Self>(ty))?;
        encode_range(self, out, |v, out| {
            if v.encode_format(sub) != Format::Binary {
                return Err(Error::conversion(format!(
                    "range bound {v:?} has no binary encoding as {}",
                    sub.display_name()
                )));
            }
            v.to_sql_checked(sub, out)
        })
    }
    fn accepts(ty: Type) -> bool {
        range_subtype(ty).is_some_and(T::accepts)
    }
    to_sql_checked!();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bin<T: ToSql>(v: &T, ty: Type) -> Vec<u8> {
        let mut b = BytesMut::new();
        v.to_sql_checked(ty, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn binary_fixtures() {
        // SELECT int4range(1, 5) in binary: [1,5)
        let raw = [0x02, 0, 0, 0, 4, 0, 0, 0, 1, 0, 0, 0, 4, 0, 0, 0, 5];
        let r = Range::<i32>::from_sql(Type::INT4_RANGE, &raw).unwrap();
        assert_eq!(r, (1..5).into());
        assert_eq!(bin(&r, Type::INT4_RANGE), raw);
        assert_eq!(Range::<i32>::from_sql(Type::INT4_RANGE, &[0x01]).unwrap(), Range::Empty);
        assert_eq!(bin(&Range::<i32>::Empty, Type::INT4_RANGE), [0x01]);
        // (,5): lower infinite
        let raw = [0x08, 0, 0, 0, 4, 0, 0, 0, 5];
        assert_eq!(Range::<i32>::from_sql(Type::INT4_RANGE, &raw).unwrap(), (..5).into());
        assert_eq!(bin(&Range::<i32>::from(..5), Type::INT4_RANGE), raw);
        assert_eq!(bin(&Range::<i32>::from(..), Type::INT4_RANGE), [0x18]);
        assert!(!<Range<i32> as FromSql>::accepts(Type::INT8_RANGE));
        assert!(<Range<i64> as FromSql>::accepts(Type::INT8_RANGE));
    }

    #[test]
    fn corrupt_ranges_are_errors() {
        for raw in [
            &[][..],
            &[0x03],                      // empty + inclusive
            &[0x0a, 0, 0, 0, 0],          // infinite and inclusive lower
            &[0x20],                      // unknown bit
            &[0x02, 0, 0, 0, 4, 0, 0, 0], // truncated
            &[0x18, 1],                   // trailing byte
            &[0x10, 0xff, 0xff, 0xff, 0xff],
        ] {
            let e = Range::<i32>::from_sql(Type::INT4_RANGE, raw).unwrap_err();
            assert_eq!(e.kind(), crate::ErrorKind::Conversion, "{raw:?}");
        }
        assert!(parse_multirange(&[0x7f, 0xff, 0xff, 0xff]).is_err());
        assert!(parse_multirange(&[0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 1]).is_err());
    }

    #[test]
    fn text_form() {
        let r = Range::<i32>::from_sql_text(Type::INT4_RANGE, b"[1,5)").unwrap();
        assert_eq!(r, (1..5).into());
        assert_eq!(Range::<i32>::from_sql_text(Type::INT4_RANGE, b"empty").unwrap(), Range::Empty);
        assert_eq!(Range::<i32>::from_sql_text(Type::INT4_RANGE, b"(,3]").unwrap(), (..=3).into());
        let q = Range::<i32>::from_sql_text(Type::INT4_RANGE, br#"["1","5")"#).unwrap();
        assert_eq!(q, (1..5).into());
        assert!(Range::<i32>::from_sql_text(Type::INT4_RANGE, br#"["1\\","5")"#).is_err());
        assert!(Range::<i32>::from_sql_text(Type::INT4_RANGE, b"[1,5").is_err());
        assert!(Range::<i32>::from_sql_text(Type::INT4_RANGE, b"1,5").is_err());
        let q = Range::new(Bound::Included("a b".to_string()), Bound::Excluded("x\"y".to_string()));
        assert_eq!(q.to_string(), r#"["a b","x\"y")"#);
    }
}
