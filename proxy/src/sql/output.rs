//! Results as Neon's proxy writes them: `{"fields": [...], "command",
//! "rowCount", "rows", "rowAsArray"}` per statement.
//!
//! Values arrive in PostgreSQL's text format (the pools' connections ask for
//! it), so the raw-text mode passes them on untouched. Otherwise, like
//! Neon's proxy, `bool`, `int2`, `int4`, `float4`/`float8` (finite) become
//! JSON booleans and numbers, `json`/`jsonb` are inlined, arrays become JSON
//! arrays of the same conversions, and everything else stays a string (so
//! `int8` and `numeric` keep every digit).

use std::fmt;

use edgepg::{BatchResult, Column};
use edgepg_core::types::Type;

/// How values and rows are written.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// `Neon-Raw-Text-Output: true`: every value as its text or null.
    pub raw_text: bool,
    /// `Neon-Array-Mode` / `arrayMode`: rows as arrays, not objects.
    pub array_mode: bool,
}

/// The response grew past the size limit.
#[derive(Debug)]
pub struct TooLarge;

impl fmt::Display for TooLarge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the response is too large")
    }
}

/// Appends one statement's result object to `out`; fails once `out` is
/// longer than `limit` bytes (checked per row, so it never grows much past).
pub fn write_result(out: &mut Vec<u8>, r: &BatchResult, format: Format, limit: usize) -> Result<(), TooLarge> {
    let columns = r.columns();
    out.extend_from_slice(b"{\"fields\":[");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_field(out, c);
    }
    out.extend_from_slice(b"],\"command\":");
    let tag = r.status();
    write_str(out, tag.split(' ').next().unwrap_or(""));
    out.extend_from_slice(b",\"rowCount\":");
    match tag.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()).filter(|_| tag.contains(' ')) {
        Some(n) => out.extend_from_slice(n.to_string().as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.extend_from_slice(b",\"rows\":[");
    for (i, row) in r.rows().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(if format.array_mode { b'[' } else { b'{' });
        for (j, (c, raw)) in columns.iter().zip(row.raw_values()).enumerate() {
            if j > 0 {
                out.push(b',');
            }
            if !format.array_mode {
                write_str(out, c.name());
                out.push(b':');
            }
            match raw {
                None => out.extend_from_slice(b"null"),
                Some(bytes) => {
                    let text = String::from_utf8_lossy(bytes);
                    if format.raw_text {
                        write_str(out, &text);
                    } else {
                        write_value(out, c.type_(), &text);
                    }
                }
            }
        }
        out.push(if format.array_mode { b']' } else { b'}' });
        if out.len() > limit {
            return Err(TooLarge);
        }
    }
    out.extend_from_slice(b"],\"rowAsArray\":");
    out.extend_from_slice(if format.array_mode { b"true" } else { b"false" });
    out.push(b'}');
    if out.len() > limit {
        return Err(TooLarge);
    }
    Ok(())
}

fn write_field(out: &mut Vec<u8>, c: &Column) {
    out.extend_from_slice(b"{\"name\":");
    write_str(out, c.name());
    let ty = c.type_().oid();
    let fields = format!(
        ",\"dataTypeID\":{ty},\"tableID\":{},\"columnID\":{},\"dataTypeSize\":{},\"dataTypeModifier\":{},\"format\":\"text\"}}",
        c.table_oid().unwrap_or(0),
        c.column_id().unwrap_or(0),
        type_size(c.type_()),
        c.type_modifier()
    );
    out.extend_from_slice(fields.as_bytes());
}

/// `pg_type.typlen` of the built-in types (the RowDescription carries it,
/// but edgepg's `Column` does not): -1 for variable-length types.
fn type_size(ty: Type) -> i16 {
    match ty {
        Type::BOOL | Type::CHAR => 1,
        Type::INT2 => 2,
        Type::INT4 | Type::OID | Type::FLOAT4 | Type::DATE | Type::XID | Type::CID | Type::REGCLASS | Type::REGTYPE => {
            4
        }
        Type::INT8 | Type::FLOAT8 | Type::TIME | Type::TIMESTAMP | Type::TIMESTAMPTZ | Type::MONEY | Type::PG_LSN => 8,
        Type::TIMETZ => 12,
        Type::UUID | Type::INTERVAL | Type::POINT => 16,
        Type::NAME => 64,
        Type::CSTRING => -2,
        _ => -1,
    }
}

/// One value converted by its type (not raw-text mode).
fn write_value(out: &mut Vec<u8>, ty: Type, text: &str) {
    match ty {
        Type::BOOL => out.extend_from_slice(if text == "t" { b"true" } else { b"false" }),
        Type::INT2 | Type::INT4 | Type::FLOAT4 | Type::FLOAT8 if is_json_number(text) => {
            out.extend_from_slice(text.as_bytes())
        }
        // The server's JSON output is valid JSON: inlined as it is.
        Type::JSON | Type::JSONB if serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok() => {
            out.extend_from_slice(text.as_bytes())
        }
        _ => match ty.element() {
            Some(element) => match parse_array(text) {
                Some(parsed) => write_array(out, element, &parsed),
                None => write_str(out, text),
            },
            None => write_str(out, text),
        },
    }
}

/// Whether the server's text of a number is also a JSON number (NaN and
/// ±Infinity are not: they stay strings).
fn is_json_number(s: &str) -> bool {
    let digits = s.strip_prefix('-').unwrap_or(s);
    digits.as_bytes().first().is_some_and(u8::is_ascii_digit)
        && s.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'))
        && s.parse::<f64>().is_ok_and(f64::is_finite)
}

/// A parsed array literal: elements are text or NULL, or nested arrays.
#[derive(Debug, PartialEq)]
enum Elem {
    Null,
    Text(String),
    Array(Vec<Elem>),
}

fn write_array(out: &mut Vec<u8>, element: Type, items: &[Elem]) {
    out.push(b'[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match item {
            Elem::Null => out.extend_from_slice(b"null"),
            Elem::Text(t) => write_value(out, element, t),
            Elem::Array(inner) => write_array(out, element, inner),
        }
    }
    out.push(b']');
}

/// Parses PostgreSQL's array output: `{1,NULL,"a \"b\""}`, nested braces,
/// an optional `[lo:hi]=` dimension prefix. `None` if it is not one.
fn parse_array(text: &str) -> Option<Vec<Elem>> {
    let body = match text.strip_prefix('[') {
        Some(_) => &text[text.find('=')? + 1..],
        None => text,
    };
    let mut chars = body.chars().peekable();
    if chars.next()? != '{' {
        return None;
    }
    let items = parse_level(&mut chars)?;
    chars.next().is_none().then_some(items)
}

/// Parses after an opening `{` up to and including its `}`.
fn parse_level(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<Vec<Elem>> {
    let mut items = Vec::new();
    if chars.peek() == Some(&'}') {
        chars.next();
        return Some(items);
    }
    loop {
        let item = match chars.peek()? {
            '{' => {
                chars.next();
                Elem::Array(parse_level(chars)?)
            }
            '"' => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '\\' => s.push(chars.next()?),
                        '"' => break,
                        c => s.push(c),
                    }
                }
                Elem::Text(s)
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ',' || c == '}' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                if s == "NULL" {
                    Elem::Null
                } else {
                    Elem::Text(s)
                }
            }
        };
        items.push(item);
        match chars.next()? {
            ',' => continue,
            '}' => return Some(items),
            _ => return None,
        }
    }
}

/// A JSON string.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // serde_json's escaping; writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(ty: Type, text: &str) -> String {
        let mut out = Vec::new();
        write_value(&mut out, ty, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn values_convert_like_neon() {
        assert_eq!(value(Type::BOOL, "t"), "true");
        assert_eq!(value(Type::INT4, "-12"), "-12");
        assert_eq!(value(Type::FLOAT8, "1e+20"), "1e+20");
        assert_eq!(value(Type::FLOAT8, "NaN"), "\"NaN\"");
        assert_eq!(value(Type::FLOAT4, "-Infinity"), "\"-Infinity\"");
        assert_eq!(value(Type::INT8, "9007199254740993"), "\"9007199254740993\"");
        assert_eq!(value(Type::NUMERIC, "1.50"), "\"1.50\"");
        assert_eq!(value(Type::JSONB, r#"{"a": [1, "x"]}"#), r#"{"a": [1, "x"]}"#);
        assert_eq!(value(Type::TEXT, "say \"hi\"\n"), r#""say \"hi\"\n""#);
        assert_eq!(value(Type::INT4_ARRAY, "{{1,2},{NULL,4}}"), "[[1,2],[null,4]]");
        assert_eq!(value(Type::TEXT_ARRAY, r#"{"a,b","c\"d",NULL,"NULL",e}"#), r#"["a,b","c\"d",null,"NULL","e"]"#);
        assert_eq!(value(Type::BOOL_ARRAY, "[0:1]={t,f}"), "[true,false]");
        assert_eq!(value(Type::INT4_ARRAY, "{}"), "[]");
        assert_eq!(value(Type::JSONB_ARRAY, r#"{"{\"a\": 1}"}"#), r#"[{"a": 1}]"#);
        // Not an array literal after all: kept as text rather than guessed at.
        assert_eq!(value(Type::INT4_ARRAY, "{1,2"), "\"{1,2\"");
        assert_eq!(value(Type::INT4_ARRAY, "{1}x"), "\"{1}x\"");
    }

    #[test]
    fn json_numbers() {
        for ok in ["0", "-1", "1.5", "1e-05", "-0"] {
            assert!(is_json_number(ok), "{ok}");
        }
        for bad in ["NaN", "Infinity", "-Infinity", "", "-", "1x", ".5", "+1"] {
            assert!(!is_json_number(bad), "{bad}");
        }
    }
}
