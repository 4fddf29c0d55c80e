//! Custom codecs (asyncpg's `set_type_codec`): how values of one type, found
//! by name or OID when a connection first needs it, are turned into a
//! [`Value`] and back. Rust code that wants its own type implements
//! [`FromSql`]/[`ToSql`] instead; a codec decides the wire format the client
//! asks for and what the dynamic [`Value`] (and so JavaScript) sees.
//!
//! Shipped example: [`HstoreCodec`] (binary), with `HashMap<String,
//! Option<String>>` as hstore's Rust type.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use bytes::{BufMut, BytesMut};

use super::codec::{utf8, Reader};
use super::{FromSql, ToSql, Type, Value};
use crate::protocol::{Format, IsNull};
use crate::{to_sql_checked, Error, Result};

/// Converts values of one PostgreSQL type between the wire and [`Value`].
///
/// ```
/// use std::sync::Arc;
/// use edgepg_core::protocol::Format;
/// use edgepg_core::types::{codec_fn, TypeCodec, Type, Value};
///
/// // citext, read as upper case text (text format both ways).
/// let upper = codec_fn(
///     Format::Text,
///     |_ty, raw| Ok(Value::Text(std::str::from_utf8(raw).map_err(|_| edgepg_core::Error::conversion("utf-8"))?.to_uppercase())),
///     |_ty, v, out| { out.extend_from_slice(v.to_string().as_bytes()); Ok(()) },
/// );
/// assert_eq!(upper.decode(Type::from_oid(90000), b"abc").unwrap(), Value::Text("ABC".into()));
/// ```
pub trait TypeCodec: Send + Sync {
    /// The wire format values of the type are requested and sent in.
    fn format(&self) -> Format;
    /// Decodes one non-NULL value, in [`TypeCodec::format`].
    fn decode(&self, ty: Type, raw: &[u8]) -> Result<Value>;
    /// Encodes one non-NULL value, in [`TypeCodec::format`].
    fn encode(&self, ty: Type, value: &Value, out: &mut BytesMut) -> Result<()>;
}

type DecodeFn = dyn Fn(Type, &[u8]) -> Result<Value> + Send + Sync;
type EncodeFn = dyn Fn(Type, &Value, &mut BytesMut) -> Result<()> + Send + Sync;

struct FnCodec {
    format: Format,
    decode: Box<DecodeFn>,
    encode: Box<EncodeFn>,
}

impl TypeCodec for FnCodec {
    fn format(&self) -> Format {
        self.format
    }
    fn decode(&self, ty: Type, raw: &[u8]) -> Result<Value> {
        (self.decode)(ty, raw)
    }
    fn encode(&self, ty: Type, value: &Value, out: &mut BytesMut) -> Result<()> {
        (self.encode)(ty, value, out)
    }
}

/// A codec from two functions (asyncpg's `decoder=`/`encoder=`).
pub fn codec_fn(
    format: Format,
    decode: impl Fn(Type, &[u8]) -> Result<Value> + Send + Sync + 'static,
    encode: impl Fn(Type, &Value, &mut BytesMut) -> Result<()> + Send + Sync + 'static,
) -> Arc<dyn TypeCodec> {
    Arc::new(FnCodec { format, decode: Box::new(decode), encode: Box::new(encode) })
}

impl fmt::Debug for dyn TypeCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TypeCodec({:?})", self.format())
    }
}

/// Runs a codec's decoder, turning its failure into a conversion error that
/// names the type (the caller adds the column).
pub(crate) fn decode_with(codec: &dyn TypeCodec, ty: Type, raw: &[u8]) -> Result<Value> {
    codec.decode(ty, raw).map_err(|e| e.context(format_args!("custom codec of type {}", ty.display_name())))
}

// ---------------------------------------------------------------- hstore

/// True for the `hstore` extension type (by name: its OID differs per database).
fn is_hstore(ty: Type) -> bool {
    ty.user_name().as_deref() == Some("hstore")
}

/// Binary hstore (hstore_send): count, then per pair the key (length + bytes)
/// and the value (length, -1 for NULL, + bytes).
fn decode_hstore(raw: &[u8]) -> Result<Vec<(String, Option<String>)>> {
    let mut r = Reader::new(raw, "hstore");
    let count = r.i32()?;
    let count = usize::try_from(count).map_err(|_| Error::conversion("invalid binary hstore value: negative count"))?;
    // Every pair takes at least 8 bytes: a hostile count cannot make us allocate.
    if count > r.remaining() / 8 {
        return Err(Error::conversion("invalid binary hstore value: more pairs than bytes"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let klen = r.i32()?;
        let klen = usize::try_from(klen).map_err(|_| Error::conversion("invalid binary hstore value: NULL key"))?;
        let key = utf8(r.bytes(klen)?)?.to_owned();
        let vlen = r.i32()?;
        let value = if vlen == -1 {
            None
        } else {
            let vlen =
                usize::try_from(vlen).map_err(|_| Error::conversion("invalid binary hstore value: bad length"))?;
            Some(utf8(r.bytes(vlen)?)?.to_owned())
        };
        out.push((key, value));
    }
    r.finish()?;
    Ok(out)
}

/// Parses hstore_out's text: `"k"=>"v"` pairs separated by `, `, values
/// `NULL` unquoted; `\"` and `\\` escaped inside quotes.
fn parse_hstore_text(s: &str) -> Result<Vec<(String, Option<String>)>> {
    let bad = || Error::conversion("invalid hstore text");
    let mut chars = s.chars().peekable();
    let mut out = Vec::new();
    let quoted = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Result<String> {
        let mut v = String::new();
        loop {
            match chars.next().ok_or_else(bad)? {
                '"' => return Ok(v),
                '\\' => v.push(chars.next().ok_or_else(bad)?),
                c => v.push(c),
            }
        }
    };
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        match chars.next() {
            None => return Ok(out),
            Some('"') => {}
            Some(_) => return Err(bad()),
        }
        let key = quoted(&mut chars)?;
        if (chars.next(), chars.next()) != (Some('='), Some('>')) {
            return Err(bad());
        }
        let value = match chars.next() {
            Some('"') => Some(quoted(&mut chars)?),
            Some('N') => {
                if chars.by_ref().take(3).collect::<String>() != "ULL" {
                    return Err(bad());
                }
                None
            }
            _ => return Err(bad()),
        };
        out.push((key, value));
        match chars.next() {
            None => return Ok(out),
            Some(',') => {}
            Some(_) => return Err(bad()),
        }
    }
}

fn encode_hstore<'k>(
    pairs: impl ExactSizeIterator<Item = (&'k str, Option<&'k str>)>,
    out: &mut BytesMut,
) -> Result<IsNull> {
    let len = |n: usize| i32::try_from(n).map_err(|_| Error::conversion("hstore value is too large"));
    out.put_i32(len(pairs.len())?);
    for (k, v) in pairs {
        out.put_i32(len(k.len())?);
        out.put_slice(k.as_bytes());
        match v {
            None => out.put_i32(-1),
            Some(v) => {
                out.put_i32(len(v.len())?);
                out.put_slice(v.as_bytes());
            }
        }
    }
    Ok(IsNull::No)
}

/// `hstore` ⇄ `HashMap<String, Option<String>>` (binary). The column must be
/// decoded through a connection (which knows the extension's OID).
impl<'a, S: std::hash::BuildHasher + Default> FromSql<'a> for HashMap<String, Option<String>, S> {
    fn from_sql(_ty: Type, raw: &'a [u8]) -> Result<Self> {
        Ok(decode_hstore(raw)?.into_iter().collect())
    }
    /// hstore's text output (`"a"=>"1", "b"=>NULL`): columns of a connection
    /// without a binary codec for hstore, and simple-query results.
    fn from_sql_text(_ty: Type, raw: &'a [u8]) -> Result<Self> {
        Ok(parse_hstore_text(utf8(raw)?)?.into_iter().collect())
    }
    fn accepts(ty: Type) -> bool {
        is_hstore(ty)
    }
}

impl<S: std::hash::BuildHasher + Sync> ToSql for HashMap<String, Option<String>, S> {
    fn to_sql(&self, _ty: Type, out: &mut BytesMut) -> Result<IsNull> {
        encode_hstore(self.iter().map(|(k, v)| (k.as_str(), v.as_deref())), out)
    }
    fn accepts(ty: Type) -> bool {
        is_hstore(ty)
    }
    to_sql_checked!();
}

/// The example codec: hstore in binary; its [`Value`] is a JSON object of
/// strings and nulls (`Value::Json`, an object in JavaScript). Parameters
/// take hstore text (`Value::Text`, e.g. `"a"=>"1"`), sent as text.
#[derive(Debug, Clone, Copy, Default)]
pub struct HstoreCodec;

impl TypeCodec for HstoreCodec {
    fn format(&self) -> Format {
        Format::Binary
    }
    fn decode(&self, _ty: Type, raw: &[u8]) -> Result<Value> {
        let mut json = String::from("{");
        for (i, (k, v)) in decode_hstore(raw)?.iter().enumerate() {
            if i > 0 {
                json.push(',');
            }
            json_string(&mut json, k);
            json.push(':');
            match v {
                Some(v) => json_string(&mut json, v),
                None => json.push_str("null"),
            }
        }
        json.push('}');
        Ok(Value::Json(json))
    }
    fn encode(&self, _ty: Type, value: &Value, out: &mut BytesMut) -> Result<()> {
        match value {
            Value::Json(j) => {
                let pairs = parse_flat_json_object(j)?;
                encode_hstore(pairs.iter().map(|(k, v)| (k.as_str(), v.as_deref())), out)?;
                Ok(())
            }
            other => Err(Error::conversion(format!(
                "hstore parameters take a JSON object of strings (Value::Json), not {}",
                other.kind_name()
            ))),
        }
    }
}

fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses `{"k": "v", "n": null}` (string values or null only): enough for
/// hstore without a JSON library in core.
fn parse_flat_json_object(s: &str) -> Result<Vec<(String, Option<String>)>> {
    let bad = || Error::conversion("hstore: expected a JSON object whose values are strings or null");
    let mut p = s.trim().chars().peekable();
    let skip_ws = |p: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while p.peek().is_some_and(|c| c.is_whitespace()) {
            p.next();
        }
    };
    let string = |p: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Result<String> {
        if p.next() != Some('"') {
            return Err(bad());
        }
        let mut out = String::new();
        loop {
            match p.next().ok_or_else(bad)? {
                '"' => return Ok(out),
                '\\' => match p.next().ok_or_else(bad)? {
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'u' => {
                        let hex: String = (0..4).filter_map(|_| p.next()).collect();
                        let code = u32::from_str_radix(&hex, 16).map_err(|_| bad())?;
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    c => out.push(c),
                },
                c => out.push(c),
            }
        }
    };
    let mut out = Vec::new();
    if p.next() != Some('{') {
        return Err(bad());
    }
    skip_ws(&mut p);
    if p.peek() == Some(&'}') {
        p.next();
        return if p.next().is_none() { Ok(out) } else { Err(bad()) };
    }
    loop {
        skip_ws(&mut p);
        let k = string(&mut p)?;
        skip_ws(&mut p);
        if p.next() != Some(':') {
            return Err(bad());
        }
        skip_ws(&mut p);
        let v = if p.peek() == Some(&'n') {
            let word: String = (0..4).filter_map(|_| p.next()).collect();
            if word != "null" {
                return Err(bad());
            }
            None
        } else {
            Some(string(&mut p)?)
        };
        out.push((k, v));
        skip_ws(&mut p);
        match p.next() {
            Some(',') => continue,
            Some('}') if p.next().is_none() => return Ok(out),
            _ => return Err(bad()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hstore_binary_round_trip_and_json() {
        let mut buf = BytesMut::new();
        encode_hstore([("a", Some("1")), ("b\"", None)].into_iter(), &mut buf).unwrap();
        let pairs = decode_hstore(&buf).unwrap();
        assert_eq!(pairs, vec![("a".into(), Some("1".into())), ("b\"".into(), None)]);
        let v = HstoreCodec.decode(Type::from_oid(90000), &buf).unwrap();
        assert_eq!(v, Value::Json(r#"{"a":"1","b\"":null}"#.into()));
        let mut again = BytesMut::new();
        let Value::Json(j) = &v else { unreachable!() };
        HstoreCodec.encode(Type::from_oid(90000), &Value::Json(j.clone()), &mut again).unwrap();
        assert_eq!(again, buf);
        assert!(HstoreCodec.encode(Type::from_oid(1), &Value::Json("[1]".into()), &mut again).is_err());
        assert!(HstoreCodec.encode(Type::from_oid(1), &Value::Json(r#"{"a":1}"#.into()), &mut again).is_err());
        assert_eq!(parse_flat_json_object(" { } ").unwrap(), vec![]);
    }

    #[test]
    fn hstore_text() {
        let pairs = parse_hstore_text(r#""a"=>"1", "b\"q"=>NULL, "c"=>"x\\y""#).unwrap();
        assert_eq!(
            pairs,
            vec![("a".into(), Some("1".into())), ("b\"q".into(), None), ("c".into(), Some("x\\y".into()))]
        );
        assert_eq!(parse_hstore_text("").unwrap(), vec![]);
        for bad in [r#""a"=>"#, r#""a"=>NUL"#, r#""a"->"1""#, r#"a=>"1""#, r#""a"=>"1" "b"=>"2""#, "\"a"] {
            assert!(parse_hstore_text(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hostile_hstore_never_panics() {
        for raw in [
            &b""[..],
            b"\x7f\xff\xff\xff",
            b"\x00\x00\x00\x01\xff\xff\xff\xff\x00\x00\x00\x00",
            b"\x00\x00\x00\x01\x00\x00\x00\x09ab\x00\x00\x00\x00",
        ] {
            assert!(decode_hstore(raw).is_err(), "{raw:?}");
        }
    }
}
