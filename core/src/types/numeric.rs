//! `numeric`: the NBASE-10000 binary format, lossless conversion to and from
//! decimal strings, the [`Numeric`] enum and (with the `decimal` feature)
//! `rust_decimal::Decimal`.
//!
//! Binary layout (numeric_send): `ndigits: i16, weight: i16, sign: u16,
//! dscale: u16, digits: [i16; ndigits]`, each digit a base-10000 group
//! (0..=9999). The value is `Σ digits[i] × 10000^(weight − i)`; `dscale` is the
//! number of decimal digits shown after the point.

use std::fmt;
use std::str::FromStr;

use bytes::{BufMut, BytesMut};

use super::codec::{utf8, Reader};
use super::from_sql::cannot_decode;
use super::{FromSql, ToSql, Type};
use crate::protocol::IsNull;
use crate::{to_sql_checked, Error, Result};

const SIGN_POS: u16 = 0x0000;
const SIGN_NEG: u16 = 0x4000;
const SIGN_NAN: u16 = 0xC000;
const SIGN_PINF: u16 = 0xD000;
const SIGN_NINF: u16 = 0xF000;
/// Largest display scale the binary format can carry (NUMERIC_DSCALE_MASK).
const MAX_DSCALE: i64 = 0x3FFF;
/// Exponents beyond this cannot produce a valid numeric (weight is an i16).
const MAX_EXPONENT: i64 = 1_000_000;

/// A PostgreSQL `numeric` of any precision, including the special values.
///
/// `Finite` holds the decimal text exactly as PostgreSQL prints it (e.g.
/// `"-12.340"`, trailing zeros of the scale kept, no exponent), so no digit is
/// ever lost. Values built with [`str::parse`] are normalized to that form;
/// a `Finite` built by hand with invalid text fails to encode.
///
/// ```
/// use edgepg_core::types::Numeric;
///
/// let n: Numeric = "1.5e3".parse().unwrap();
/// assert_eq!(n, Numeric::Finite("1500".into()));
/// assert_eq!("-Infinity".parse::<Numeric>().unwrap(), Numeric::NegInfinity);
/// let big: Numeric = "123456789012345678901234567890.5".parse().unwrap();
/// assert_eq!(big.to_string(), "123456789012345678901234567890.5");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Numeric {
    /// A finite value as canonical decimal text.
    Finite(String),
    /// `NaN`.
    NaN,
    /// `Infinity` (PostgreSQL 14+).
    PosInfinity,
    /// `-Infinity` (PostgreSQL 14+).
    NegInfinity,
}

fn invalid(msg: &str) -> Error {
    Error::conversion(format!("invalid binary numeric value: {msg}"))
}

/// Appends the decimal text of a binary numeric (numeric_send output) to
/// `out`, or returns the special value (NaN, ±Infinity) without appending.
/// Validates everything before it appends, so `out` is untouched on error.
/// Written by hand, not with `write!`: JS results print every numeric value
/// through here.
fn write_finite(raw: &[u8], out: &mut String) -> Result<Option<Numeric>> {
    // The 8-byte header in one bounds check (a `Reader` call per field
    // showed in decode profiles: the size-optimised wasm build keeps them
    // out of line).
    let Some((head, digits)) = raw.split_first_chunk::<8>() else {
        return Err(Reader::new(raw, "numeric").truncated());
    };
    let ndigits = i16::from_be_bytes([head[0], head[1]]);
    let weight = i32::from(i16::from_be_bytes([head[2], head[3]]));
    let sign = u16::from_be_bytes([head[4], head[5]]);
    let dscale = u16::from_be_bytes([head[6], head[7]]);
    let ndigits = usize::try_from(ndigits).map_err(|_| invalid("negative digit count"))?;
    if digits.len() != ndigits * 2 {
        return Err(invalid("digit count does not match the length"));
    }
    let neg = match sign {
        SIGN_POS => false,
        SIGN_NEG => true,
        SIGN_NAN => return Ok(Some(Numeric::NaN)),
        SIGN_PINF => return Ok(Some(Numeric::PosInfinity)),
        SIGN_NINF => return Ok(Some(Numeric::NegInfinity)),
        _ => return Err(invalid("unknown sign")),
    };
    if i64::from(dscale) > MAX_DSCALE {
        return Err(invalid("display scale too large"));
    }
    if digits.chunks_exact(2).any(|d| u16::from_be_bytes([d[0], d[1]]) > 9999) {
        return Err(invalid("digit out of range"));
    }
    let start = out.len();
    let mut w = AsciiBuf { out: &mut *out, buf: [0; 64], len: 0 };
    if neg {
        w.put(b"-");
    }
    if weight < 0 {
        w.put(b"0");
    } else {
        // Skip leading zero groups (PostgreSQL strips them, other senders
        // might not), then the first group without its leading zeros ("0" for zero).
        let top = (1..=weight).rev().find(|&w| group_of(digits, weight, w) != 0).unwrap_or(0);
        let first = four_digits(group_of(digits, weight, top));
        let skip = first.iter().take(3).take_while(|&&b| b == b'0').count();
        w.put(&first[skip..]);
        for g in (0..top).rev() {
            w.put(&four_digits(group_of(digits, weight, g)));
        }
    }
    let dscale = usize::from(dscale);
    if dscale > 0 {
        w.put(b".");
        let mut left = dscale;
        let mut g = -1;
        while left > 0 {
            w.put(&four_digits(group_of(digits, weight, g))[..left.min(4)]);
            left = left.saturating_sub(4);
            g -= 1;
        }
    }
    w.flush();
    // "-0" would be odd; PostgreSQL never sends a negative zero.
    if neg && !out.as_bytes()[start..].iter().any(|b| matches!(b, b'1'..=b'9')) {
        out.remove(start);
    }
    Ok(None)
}

/// The group of weight `w` (its value × 10000^w) of a numeric whose first
/// stored group has weight `weight`; zero outside the stored `digits`.
#[inline(always)] // once per group of every numeric printed for JS
fn group_of(digits: &[u8], weight: i32, w: i32) -> u16 {
    usize::try_from(weight - w)
        .ok()
        .and_then(|i| digits.get(2 * i..2 * i + 2))
        .map_or(0, |d| u16::from_be_bytes([d[0], d[1]]))
}

/// A base-10000 group (0..=9999) as four ASCII digits.
#[inline(always)] // hot in result decoding; the size-optimised wasm build would not inline it
fn four_digits(d: u16) -> [u8; 4] {
    let (hi, lo) = ((d / 100) as u8, (d % 100) as u8);
    [b'0' + hi / 10, b'0' + hi % 10, b'0' + lo / 10, b'0' + lo % 10]
}

/// ASCII appended to a `String` through a small stack buffer: one
/// `push_str` per 64 bytes instead of one per digit group (each a call and
/// a UTF-8 check in the size-optimised wasm build, where a numeric column
/// printed for JS spent a good part of its time).
struct AsciiBuf<'a> {
    out: &'a mut String,
    buf: [u8; 64],
    len: usize,
}

impl AsciiBuf<'_> {
    /// Appends `b` (ASCII, at most 64 bytes: a sign, a point or ≤ 4 digits).
    #[inline(always)]
    fn put(&mut self, b: &[u8]) {
        if self.len + b.len() > self.buf.len() {
            self.flush();
        }
        match self.buf.get_mut(self.len..self.len + b.len()) {
            Some(dst) => {
                dst.copy_from_slice(b);
                self.len += b.len();
            }
            None => push_ascii(self.out, b), // longer than the buffer: never for our pieces
        }
    }

    fn flush(&mut self) {
        push_ascii(self.out, &self.buf[..self.len]);
        self.len = 0;
    }
}

#[inline(always)]
fn push_ascii(out: &mut String, digits: &[u8]) {
    // Always ASCII digits; `from_utf8` keeps this free of `unsafe`.
    out.push_str(std::str::from_utf8(digits).unwrap_or_default());
}

/// Appends the decimal text of a binary numeric to `out`: `12.340`, `NaN`,
/// `Infinity` or `-Infinity` (what PostgreSQL's own text output shows).
/// `out` is untouched on error.
///
/// ```
/// let mut s = String::from("n=");
/// // 12.5: 1 digit group before the point (weight 0), dscale 1.
/// let raw = [0, 2, 0, 0, 0, 0, 0, 1, 0, 12, 0x13, 0x88];
/// edgepg_core::types::write_numeric_text(&raw, &mut s).unwrap();
/// assert_eq!(s, "n=12.5");
/// ```
pub fn write_numeric_text(raw: &[u8], out: &mut String) -> Result<()> {
    if let Some(special) = write_finite(raw, out)? {
        out.push_str(match special {
            Numeric::PosInfinity => "Infinity",
            Numeric::NegInfinity => "-Infinity",
            _ => "NaN",
        });
    }
    Ok(())
}

/// Decodes a binary numeric into lossless decimal text: `"12.340"`, `"NaN"`,
/// `"Infinity"` or `"-Infinity"` (what PostgreSQL's own text output shows).
pub fn numeric_to_string(raw: &[u8]) -> Result<String> {
    let mut s = String::with_capacity(raw.len() * 2);
    write_numeric_text(raw, &mut s)?;
    Ok(s)
}

/// A numeric parsed from text, ready to encode.
enum Parsed {
    Special(u16),
    Finite { neg: bool, weight: i16, dscale: u16, groups: Vec<i16> },
}

/// Parses decimal text (`-12.5`, `1e40`, `.5`, `NaN`, `Infinity`, `-inf`, ...).
fn parse(s: &str) -> Result<Parsed> {
    let s = s.trim();
    let bad = || {
        let shown: String = s.chars().take(40).collect();
        Error::conversion(format!("invalid numeric text {shown:?}: expected a decimal number, NaN or [-]Infinity"))
    };
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "nan" => return Ok(Parsed::Special(SIGN_NAN)),
        "infinity" | "+infinity" | "inf" | "+inf" => return Ok(Parsed::Special(SIGN_PINF)),
        "-infinity" | "-inf" => return Ok(Parsed::Special(SIGN_NINF)),
        _ => {}
    }
    let b = s.as_bytes();
    let mut i = 0;
    let mut neg = false;
    if let Some(&c @ (b'+' | b'-')) = b.first() {
        neg = c == b'-';
        i = 1;
    }
    let mut digits: Vec<u8> = Vec::with_capacity(b.len());
    let mut frac_len: i64 = 0;
    let mut seen_point = false;
    while let Some(&c) = b.get(i) {
        match c {
            b'0'..=b'9' => {
                digits.push(c - b'0');
                if seen_point {
                    frac_len += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            _ => break,
        }
        i += 1;
    }
    if digits.is_empty() {
        return Err(bad());
    }
    let mut exp: i64 = 0;
    if let Some(b'e' | b'E') = b.get(i) {
        i += 1;
        let mut exp_neg = false;
        if let Some(&c @ (b'+' | b'-')) = b.get(i) {
            exp_neg = c == b'-';
            i += 1;
        }
        let start = i;
        while let Some(&c @ b'0'..=b'9') = b.get(i) {
            // Saturate: anything this large is rejected below anyway.
            exp = (exp * 10 + i64::from(c - b'0')).min(MAX_EXPONENT + 1);
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
        if exp_neg {
            exp = -exp;
        }
    }
    if i != b.len() {
        return Err(bad());
    }
    let too_big = || {
        let shown: String = s.chars().take(40).collect();
        Error::conversion(format!("numeric value {shown:?} is out of the range PostgreSQL numeric can represent"))
    };
    if exp.abs() > MAX_EXPONENT {
        return Err(too_big());
    }
    let dscale = (frac_len - exp).clamp(0, i64::MAX);
    if dscale > MAX_DSCALE {
        return Err(too_big());
    }
    // Place value (power of ten) of digit k: (n − 1 − k) + exp − frac_len.
    let n = digits.len() as i64;
    let place = |k: usize| (n - 1 - k as i64) + exp - frac_len;
    let first = digits.iter().position(|&d| d != 0);
    let last = digits.iter().rposition(|&d| d != 0);
    let (Some(first), Some(last)) = (first, last) else {
        return Ok(Parsed::Finite { neg: false, weight: 0, dscale: dscale as u16, groups: Vec::new() });
    };
    let weight = place(first).div_euclid(4);
    let last_group = place(last).div_euclid(4);
    let weight16 = i16::try_from(weight).map_err(|_| too_big())?;
    let ndigits = usize::try_from(weight - last_group + 1).map_err(|_| too_big())?;
    if ndigits > i16::MAX as usize {
        return Err(too_big());
    }
    let mut groups = vec![0i16; ndigits];
    for (k, &d) in digits.iter().enumerate().take(last + 1).skip(first) {
        let p = place(k);
        let idx = (weight - p.div_euclid(4)) as usize;
        let scale = [1i16, 10, 100, 1000][p.rem_euclid(4) as usize];
        if let Some(g) = groups.get_mut(idx) {
            *g += i16::from(d) * scale;
        }
    }
    Ok(Parsed::Finite { neg, weight: weight16, dscale: dscale as u16, groups })
}

/// Encodes decimal text (see [`Numeric`]'s `FromStr`) as a binary numeric, losslessly.
pub fn encode_numeric_str(s: &str, out: &mut BytesMut) -> Result<()> {
    match parse(s)? {
        Parsed::Special(sign) => {
            out.put_i16(0);
            out.put_i16(0);
            out.put_u16(sign);
            out.put_u16(0);
        }
        Parsed::Finite { neg, weight, dscale, groups } => {
            // `parse` bounds the group count to i16::MAX.
            out.put_i16(groups.len() as i16);
            out.put_i16(weight);
            out.put_u16(if neg { SIGN_NEG } else { SIGN_POS });
            out.put_u16(dscale);
            for g in groups {
                out.put_i16(g);
            }
        }
    }
    Ok(())
}

impl Numeric {
    /// True unless NaN or ±Infinity.
    pub fn is_finite(&self) -> bool {
        matches!(self, Numeric::Finite(_))
    }

    /// Decodes a binary numeric.
    pub fn from_binary(raw: &[u8]) -> Result<Numeric> {
        let mut s = String::new();
        Ok(write_finite(raw, &mut s)?.unwrap_or(Numeric::Finite(s)))
    }
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Numeric::Finite(s) => s,
            Numeric::NaN => "NaN",
            Numeric::PosInfinity => "Infinity",
            Numeric::NegInfinity => "-Infinity",
        })
    }
}

impl FromStr for Numeric {
    type Err = Error;
    /// Parses and normalizes (exponents expanded, leading zeros removed).
    fn from_str(s: &str) -> Result<Numeric> {
        let mut buf = BytesMut::new();
        encode_numeric_str(s, &mut buf)?;
        Numeric::from_binary(&buf)
    }
}

impl<'a> FromSql<'a> for Numeric {
    fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Numeric> {
        check_numeric::<Numeric>(ty)?;
        Numeric::from_binary(raw)
    }
    fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Numeric> {
        check_numeric::<Numeric>(ty)?;
        utf8(raw)?.parse()
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::NUMERIC
    }
}

impl ToSql for Numeric {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        match self {
            Numeric::Finite(s) => encode_numeric_str(s, out)?,
            special => encode_numeric_str(&special.to_string(), out)?,
        }
        Ok(IsNull::No)
    }
    fn accepts(ty: Type) -> bool {
        ty == Type::NUMERIC
    }
    to_sql_checked!();
}

fn check_numeric<T>(ty: Type) -> Result<()> {
    if ty == Type::NUMERIC {
        Ok(())
    } else {
        Err(cannot_decode::<T>(ty, "only numeric decodes into it"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    /// numeric_send output: header then digits.
    pub(super) fn bin(ndigits: i16, weight: i16, sign: u16, dscale: u16, digits: &[i16]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&ndigits.to_be_bytes());
        v.extend_from_slice(&weight.to_be_bytes());
        v.extend_from_slice(&sign.to_be_bytes());
        v.extend_from_slice(&dscale.to_be_bytes());
        for d in digits {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    pub(super) fn enc(s: &str) -> Vec<u8> {
        let mut b = BytesMut::new();
        encode_numeric_str(s, &mut b).unwrap();
        b.to_vec()
    }

    #[test]
    fn known_bytes() {
        // SELECT numeric_send(12345.678)
        let b = bin(3, 1, 0, 3, &[1, 2345, 6780]);
        assert_eq!(enc("12345.678"), b);
        assert_eq!(numeric_to_string(&b).unwrap(), "12345.678");
        assert_eq!(enc("0"), bin(0, 0, 0, 0, &[]));
        assert_eq!(enc("0.00"), bin(0, 0, 0, 2, &[]));
        assert_eq!(enc("-0.0001"), bin(1, -1, SIGN_NEG, 4, &[1]));
        assert_eq!(enc("10000"), bin(1, 1, 0, 0, &[1]));
        assert_eq!(enc("1e40"), bin(1, 10, 0, 0, &[1]));
        assert_eq!(enc("0.5e-2"), bin(1, -1, 0, 3, &[50]));
        assert_eq!(enc("NaN"), bin(0, 0, SIGN_NAN, 0, &[]));
        assert_eq!(enc("-Infinity"), bin(0, 0, SIGN_NINF, 0, &[]));
        assert_eq!(enc("infinity"), bin(0, 0, SIGN_PINF, 0, &[]));
    }

    #[test]
    fn string_roundtrips() {
        for s in [
            "0",
            "1",
            "-1",
            "12.340",
            "0.001",
            "-0.5",
            "9999",
            "10000",
            "123456789.123456789",
            "100000000000000000000000000000000000000000",
            "0.000000000000000000000000000000000001",
            "79228162514264337593543950335",
            "NaN",
            "Infinity",
            "-Infinity",
        ] {
            assert_eq!(numeric_to_string(&enc(s)).unwrap(), s, "{s}");
        }
        assert_eq!(numeric_to_string(&enc("+007.50")).unwrap(), "7.50");
        assert_eq!(numeric_to_string(&enc("-0")).unwrap(), "0");
        assert_eq!(numeric_to_string(&enc(".5")).unwrap(), "0.5");
        assert_eq!(numeric_to_string(&enc("5.")).unwrap(), "5");
        assert_eq!(numeric_to_string(&enc("1.5E+3")).unwrap(), "1500");
        assert_eq!(numeric_to_string(&enc("15e-1")).unwrap(), "1.5");
    }

    #[test]
    fn long_text_crosses_the_stack_buffer() {
        // `AsciiBuf` flushes every 64 bytes: texts around and far beyond that
        // size, the boundary falling in the integer part, on the point and in
        // the fraction, both signs.
        let digits: String = "1234567890".repeat(40);
        for int_len in [1, 30, 59, 60, 61, 62, 63, 64, 65, 66, 127, 128, 129, 300] {
            for frac_len in [0, 1, 2, 3, 4, 5, 63, 64, 65, 100] {
                for neg in ["", "-"] {
                    let text = match frac_len {
                        0 => format!("{neg}{}", &digits[..int_len]),
                        _ => format!("{neg}{}.{}", &digits[..int_len], &digits[..frac_len]),
                    };
                    let mut out = String::from("x=");
                    write_numeric_text(&enc(&text), &mut out).unwrap();
                    assert_eq!(out, format!("x={text}"));
                }
            }
        }
    }

    #[test]
    fn bad_text() {
        for s in ["", "-", ".", "1e", "1e+", "abc", "1.2.3", "1 2", "--1", "1e9999999999", "1e-20000"] {
            let mut b = BytesMut::new();
            assert_eq!(encode_numeric_str(s, &mut b).unwrap_err().kind(), ErrorKind::Conversion, "{s}");
        }
    }

    #[test]
    fn binary_to_text_matches_the_canonical_text() {
        // Every shape of integer and fraction length, both signs, digits that
        // cross base-10000 group boundaries, zeros inside and at the ends.
        let digits = "9081726354";
        for int_len in 0..=10 {
            for frac_len in 0..=10 {
                for neg in [false, true] {
                    let int = if int_len == 0 { "0".to_owned() } else { digits[..int_len].to_owned() };
                    let frac = "0304050607"[..frac_len].to_owned();
                    let mut text = if frac_len == 0 { int.clone() } else { format!("{int}.{frac}") };
                    if neg {
                        text.insert(0, '-');
                    }
                    let mut out = String::from("x=");
                    write_numeric_text(&enc(&text), &mut out).unwrap();
                    let want = if neg && text.trim_start_matches(['-', '0', '.']).is_empty() {
                        text[1..].to_owned() // no negative zero
                    } else {
                        text.clone()
                    };
                    assert_eq!(out, format!("x={want}"), "{text}");
                }
            }
        }
        // Hand-built: digit groups stored only up to the last non-zero one,
        // the display scale supplied by dscale.
        let raw = |ndigits: i16, weight: i16, sign: u16, dscale: u16, groups: &[i16]| {
            let mut b = Vec::new();
            for v in [ndigits as u16, weight as u16, sign, dscale] {
                b.extend_from_slice(&v.to_be_bytes());
            }
            groups.iter().for_each(|g| b.extend_from_slice(&g.to_be_bytes()));
            b
        };
        assert_eq!(numeric_to_string(&raw(1, 0, SIGN_POS, 6, &[5])).unwrap(), "5.000000");
        assert_eq!(numeric_to_string(&raw(1, -1, SIGN_POS, 8, &[5])).unwrap(), "0.00050000");
        assert_eq!(numeric_to_string(&raw(1, -2, SIGN_POS, 8, &[5])).unwrap(), "0.00000005");
        assert_eq!(numeric_to_string(&raw(1, 2, SIGN_NEG, 0, &[12])).unwrap(), "-1200000000");
        assert_eq!(numeric_to_string(&raw(0, 0, SIGN_NEG, 2, &[])).unwrap(), "0.00");
        // Not normalised: leading zero groups print no leading zeros.
        assert_eq!(numeric_to_string(&raw(3, 2, SIGN_POS, 0, &[0, 0, 5])).unwrap(), "5");
        assert_eq!(numeric_to_string(&raw(3, 2, SIGN_NEG, 0, &[0, 7, 0])).unwrap(), "-70000");
        assert_eq!(numeric_to_string(&raw(2, 1, SIGN_NEG, 1, &[0, 0])).unwrap(), "0.0");
        // Errors leave the output untouched.
        let mut out = String::from("kept");
        assert!(write_numeric_text(&raw(1, 0, SIGN_POS, 0, &[10000]), &mut out).is_err());
        assert!(write_numeric_text(&raw(2, 0, SIGN_POS, 0, &[1]), &mut out).is_err());
        assert!(write_numeric_text(&raw(1, 0, 0x1234, 0, &[1]), &mut out).is_err());
        assert_eq!(out, "kept");
    }

    #[test]
    fn numeric_enum() {
        assert_eq!(Numeric::from_sql(Type::NUMERIC, &enc("NaN")).unwrap(), Numeric::NaN);
        assert_eq!(Numeric::from_sql(Type::NUMERIC, &enc("Infinity")).unwrap(), Numeric::PosInfinity);
        let n = Numeric::from_sql(Type::NUMERIC, &enc("1e40")).unwrap();
        assert_eq!(n.to_string(), format!("1{}", "0".repeat(40)));
        let mut b = BytesMut::new();
        n.to_sql_checked(Type::NUMERIC, &mut b).unwrap();
        assert_eq!(&b[..], &enc("1e40")[..]);
        assert_eq!(Numeric::from_sql_text(Type::NUMERIC, b"-Infinity").unwrap(), Numeric::NegInfinity);
        assert!(Numeric::Finite("garbage".into()).to_sql(Type::NUMERIC, &mut b).is_err());
    }

    #[test]
    fn hostile_binary() {
        let cases: Vec<Vec<u8>> = vec![
            vec![],
            vec![0, 1],
            bin(1, 0, 0, 0, &[]),       // digit missing
            bin(0, 0, 0, 0, &[1]),      // trailing digit
            bin(-1, 0, 0, 0, &[]),      // negative count
            bin(1, 0, 0x1234, 0, &[1]), // bad sign
            bin(1, 0, 0, 0, &[10000]),  // digit too big
            bin(1, 0, 0, 0, &[-1]),     // negative digit
            bin(0, 0, 0, 0x4000, &[]),  // dscale too big
        ];
        for raw in &cases {
            assert!(numeric_to_string(raw).is_err(), "{raw:?}");
        }
        // Extreme but valid weights stay bounded and do not panic.
        let s = numeric_to_string(&bin(1, i16::MAX, 0, 0x3FFF, &[9999])).unwrap();
        assert_eq!(s.len(), 4 * (i16::MAX as usize + 1) + 1 + 0x3FFF);
        assert!(numeric_to_string(&bin(1, i16::MIN, 0, 0x3FFF, &[1])).is_ok());
    }
}

/// `rust_decimal::Decimal` for `numeric` (the `decimal` feature, on by default;
/// the npm package's wasm build leaves it out).
#[cfg(feature = "decimal")]
mod decimal {
    use bytes::BytesMut;
    use rust_decimal::Decimal;

    use super::{check_numeric, encode_numeric_str, write_finite, Numeric, MAX_DSCALE, SIGN_NEG, SIGN_POS};
    use crate::protocol::IsNull;
    use crate::types::codec::utf8;
    use crate::types::{FromSql, ToSql, Type};
    use crate::{to_sql_checked, Error, Result};

    impl Numeric {
        /// Converts to a `Decimal`; errors for NaN, ±Infinity and values that
        /// need more than 28 significant fraction digits or 96 bits.
        ///
        /// ```
        /// use edgepg_core::types::Numeric;
        ///
        /// let big: Numeric = "123456789012345678901234567890.5".parse().unwrap();
        /// assert!(big.to_decimal().is_err()); // more than 28 significant digits
        /// assert_eq!(Numeric::from(rust_decimal::Decimal::new(-1234, 2)).to_string(), "-12.34");
        /// ```
        pub fn to_decimal(&self) -> Result<Decimal> {
            match self {
                Numeric::Finite(s) => {
                    let mut buf = BytesMut::new();
                    encode_numeric_str(s, &mut buf)?;
                    decimal_from_binary(&buf)
                }
                special => Err(special_to_decimal(special)),
            }
        }
    }

    fn special_to_decimal(n: &Numeric) -> Error {
        Error::conversion(format!(
            "numeric value {n} cannot be represented as rust_decimal::Decimal: fetch it as edgepg::types::Numeric, String or f64"
        ))
    }

    impl From<Decimal> for Numeric {
        fn from(d: Decimal) -> Numeric {
            Numeric::Finite(d.to_string())
        }
    }

    /// Largest `Decimal` mantissa: 2^96 − 1.
    const DECIMAL_MAX_MANTISSA: u128 = (1u128 << 96) - 1;

    /// The common case of [`decimal_from_binary`] without allocating: the
    /// base-10000 digit groups are accumulated straight into the mantissa.
    /// `None` for anything unusual (NaN, infinities, malformed input, values
    /// that do not fit), which the exact slow path then handles or explains.
    fn decimal_from_binary_fast(raw: &[u8]) -> Option<Decimal> {
        let be16 = |i: usize| raw.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        let ndigits = be16(0)? as usize;
        let weight = i32::from(be16(2)? as i16);
        let sign = be16(4)?;
        let dscale = u32::from(be16(6)?);
        if raw.len() != 8 + 2 * ndigits
            || !(sign == SIGN_POS || sign == SIGN_NEG)
            || ndigits > 8
            || i64::from(dscale) > MAX_DSCALE
        {
            return None;
        }
        if ndigits == 0 {
            return Decimal::try_from_i128_with_scale(0, dscale.min(Decimal::MAX_SCALE)).ok();
        }
        // value = Σ digit[i] · 10000^(weight − i); the last group has weight `last`.
        let mut m: u128 = 0;
        for i in 0..ndigits {
            let d = be16(8 + 2 * i)?;
            if d > 9999 {
                return None;
            }
            m = m * 10_000 + u128::from(d); // ≤ 8 groups: < 10^32, no overflow
        }
        let last = weight - (ndigits as i32 - 1);
        let mut scale: u32 = if last < 0 { (-last) as u32 * 4 } else { 0 };
        for _ in 0..last.max(0) {
            m = m.checked_mul(10_000)?;
        }
        // Show the server's display scale: trim zero digits beyond it, pad up to it.
        while scale > dscale && m % 10 == 0 {
            m /= 10;
            scale -= 1;
        }
        while scale < dscale && scale < Decimal::MAX_SCALE {
            m = m.checked_mul(10)?;
            scale += 1;
        }
        if m > DECIMAL_MAX_MANTISSA || scale > Decimal::MAX_SCALE || scale < dscale {
            return None;
        }
        let m = if sign == SIGN_NEG { -(m as i128) } else { m as i128 };
        Decimal::try_from_i128_with_scale(m, scale).ok()
    }

    /// Decodes a binary numeric into a `Decimal` exactly, or explains why not.
    fn decimal_from_binary(raw: &[u8]) -> Result<Decimal> {
        if let Some(d) = decimal_from_binary_fast(raw) {
            return Ok(d);
        }
        let mut text = String::new();
        if let Some(special) = write_finite(raw, &mut text)? {
            return Err(special_to_decimal(&special));
        }
        let neg = text.starts_with('-');
        let unsigned = text.trim_start_matches('-');
        let (int, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let mut frac = frac.to_owned();
        // Trailing zeros beyond Decimal's 28-digit scale carry no value.
        while frac.len() > Decimal::MAX_SCALE as usize && frac.ends_with('0') {
            frac.pop();
        }
        let too_big = || {
            let s = format!("{}{int}{}{frac}", if neg { "-" } else { "" }, if frac.is_empty() { "" } else { "." });
            let shown: String = s.chars().take(48).collect();
            let ellipsis = if s.len() > shown.len() { "..." } else { "" };
            Error::conversion(format!(
                "numeric value {shown}{ellipsis} does not fit in rust_decimal::Decimal (max 28 significant digits): fetch it as String or edgepg::types::Numeric"
            ))
        };
        if frac.len() > Decimal::MAX_SCALE as usize {
            return Err(too_big());
        }
        let mut m: u128 = 0;
        for c in int.bytes().chain(frac.bytes()) {
            m = m
                .checked_mul(10)
                .and_then(|m| m.checked_add(u128::from(c - b'0')))
                .filter(|&m| m <= DECIMAL_MAX_MANTISSA)
                .ok_or_else(too_big)?;
        }
        // m ≤ 2^96 − 1 fits in i128.
        let m = if neg { -(m as i128) } else { m as i128 };
        Decimal::try_from_i128_with_scale(m, frac.len() as u32).map_err(|_| too_big())
    }

    impl<'a> FromSql<'a> for Decimal {
        fn from_sql(ty: Type, raw: &'a [u8]) -> Result<Decimal> {
            check_numeric::<Decimal>(ty)?;
            decimal_from_binary(raw)
        }
        fn from_sql_text(ty: Type, raw: &'a [u8]) -> Result<Decimal> {
            check_numeric::<Decimal>(ty)?;
            utf8(raw)?.parse::<Numeric>()?.to_decimal()
        }
        fn accepts(ty: Type) -> bool {
            ty == Type::NUMERIC
        }
    }

    impl ToSql for Decimal {
        fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
            // Decimal's Display is plain decimal text with its scale (no exponent).
            encode_numeric_str(&self.to_string(), out)?;
            Ok(IsNull::No)
        }
        fn accepts(ty: Type) -> bool {
            ty == Type::NUMERIC
        }
        to_sql_checked!();
    }

    #[cfg(test)]
    mod tests {
        use super::super::tests::{bin, enc};
        use super::*;
        use crate::ErrorKind;

        #[test]
        fn decimal() {
            let d = Decimal::from_str_exact("12345.678").unwrap();
            let mut b = BytesMut::new();
            d.to_sql_checked(Type::NUMERIC, &mut b).unwrap();
            assert_eq!(&b[..], &bin(3, 1, 0, 3, &[1, 2345, 6780])[..]);
            assert_eq!(Decimal::from_sql(Type::NUMERIC, &b).unwrap(), d);
            for s in [
                "0",
                "-1.5",
                "0.0000000000000000000000000001",
                "79228162514264337593543950335",
                "-7922816251426433759354395033.5",
                "1234567890123456789012345678",
            ] {
                let d = Decimal::from_str_exact(s).unwrap();
                let mut b = BytesMut::new();
                d.to_sql(Type::NUMERIC, &mut b).unwrap();
                let back = Decimal::from_sql(Type::NUMERIC, &b).unwrap();
                assert_eq!(back, d, "{s}");
                assert_eq!(back.to_string(), d.to_string(), "{s} scale");
            }
            // Scale beyond 28 with only trailing zeros is fine.
            let d = Decimal::from_sql(Type::NUMERIC, &enc("1.500000000000000000000000000000000")).unwrap();
            assert_eq!(d, Decimal::new(15, 1));
            assert_eq!(Decimal::from_sql_text(Type::NUMERIC, b"-3.25").unwrap(), Decimal::new(-325, 2));
        }

        #[test]
        fn decimal_out_of_range() {
            for s in ["1e40", "79228162514264337593543950336", "0.00000000000000000000000000001"] {
                let e = Decimal::from_sql(Type::NUMERIC, &enc(s)).unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Conversion);
                assert!(e.message().contains("does not fit in rust_decimal::Decimal"), "{}", e.message());
                assert!(e.message().contains("Numeric"), "{}", e.message());
            }
            for s in ["NaN", "Infinity", "-Infinity"] {
                let e = Decimal::from_sql(Type::NUMERIC, &enc(s)).unwrap_err();
                assert!(e.message().contains(s), "{}", e.message());
            }
            assert!(Decimal::from_sql(Type::INT4, &[0; 4]).is_err());
        }

        #[test]
        fn numeric_to_decimal_and_hostile_bytes() {
            assert_eq!(Numeric::Finite("2.50".into()).to_decimal().unwrap(), Decimal::new(250, 2));
            assert!(Decimal::from_sql(Type::NUMERIC, &bin(1, i16::MAX, 0, 0, &[1])).is_err());
            for raw in [vec![], vec![0, 1], bin(1, 0, 0, 0, &[]), bin(1, 0, 0, 0, &[10000])] {
                assert!(Decimal::from_sql(Type::NUMERIC, &raw).is_err(), "{raw:?}");
            }
        }
    }

    #[cfg(test)]
    mod fast_path_tests {
        use super::*;
        use bytes::BytesMut;

        /// The fast path must agree with the exact slow path on every value it accepts.
        #[test]
        fn fast_path_matches_slow_path() {
            let cases = [
                "0",
                "0.00",
                "1",
                "-1",
                "1.5",
                "1.50",
                "12345.678",
                "-0.0001",
                "10000",
                "100000000",
                "0.1000",
                "99999999999999999999.99",
                "-7922816251426433759354395033",
                "0.0000000000000000000000000001",
                "123456789012345678901234.5678",
                "1e20",
                "25.00",
                "3.14159265358979323846",
            ];
            for c in cases {
                let mut buf = BytesMut::new();
                encode_numeric_str(c, &mut buf).unwrap();
                let slow = {
                    // Force the slow path by going through the text representation.
                    let n = Numeric::from_binary(&buf).unwrap();
                    n.to_decimal()
                };
                match (decimal_from_binary_fast(&buf), slow) {
                    (Some(f), Ok(s)) => {
                        assert_eq!(f, s, "{c}");
                        assert_eq!(f.to_string(), s.to_string(), "scale of {c}");
                    }
                    (None, _) => {} // the slow path decides
                    (Some(f), Err(e)) => panic!("{c}: fast path gave {f}, slow path failed: {e}"),
                }
            }
        }

        #[test]
        fn fast_path_rejects_hostile_input() {
            for raw in [&b""[..], b"\x00\x01\x00\x00\x00\x00\x00\x00", b"\x00\x01\x00\x00\x00\x00\x00\x00\x27\x10"] {
                assert!(decimal_from_binary_fast(raw).is_none());
            }
        }
    }
}
