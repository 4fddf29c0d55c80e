//! The request body of `POST /sql`: `{query, params, arrayMode?}` or
//! `{queries: [{query, params, arrayMode?}, ...]}`.
//!
//! Parameters arrive as JSON and leave as PostgreSQL text (the server parses
//! them as the types it inferred), the way Neon's proxy converts them:
//! `null` is NULL, a string is itself, a boolean, number or object is its
//! JSON text, and an array is an array literal `{...}`.

use edgepg_core::types::Value;
use serde_json::Value as Json;

/// PostgreSQL's limit on the parameters of one statement.
const MAX_PARAMS: usize = 65535;

/// One statement and its parameters.
#[derive(Debug, PartialEq)]
pub struct Query {
    /// The SQL text, with `$1`… placeholders.
    pub text: String,
    /// Parameters, as text or NULL.
    pub params: Vec<Value>,
    /// `arrayMode` of this query, overriding the `Neon-Array-Mode` header.
    pub array_mode: Option<bool>,
}

/// A parsed body.
#[derive(Debug, PartialEq)]
pub enum Payload {
    /// `{query, params}`: one statement, outside any transaction.
    Single(Query),
    /// `{queries: [...]}`: every statement in one transaction.
    Batch(Vec<Query>),
}

/// Parses a request body; the error says what is wrong, for a 400.
pub fn parse(body: &[u8]) -> Result<Payload, String> {
    let json: Json = serde_json::from_slice(body).map_err(|e| format!("the request body is not valid JSON: {e}"))?;
    let Json::Object(mut obj) = json else {
        return Err(
            "the request body must be a JSON object: {\"query\": ..., \"params\": [...]} or {\"queries\": [...]}"
                .into(),
        );
    };
    if let Some(queries) = obj.remove("queries") {
        let Json::Array(list) = queries else { return Err("\"queries\" must be an array".into()) };
        let queries = list
            .into_iter()
            .enumerate()
            .map(|(i, q)| match q {
                Json::Object(o) => query(o).map_err(|e| format!("queries[{i}]: {e}")),
                _ => Err(format!("queries[{i}] must be an object {{\"query\": ..., \"params\": [...]}}")),
            })
            .collect::<Result<_, _>>()?;
        return Ok(Payload::Batch(queries));
    }
    query(obj).map(Payload::Single)
}

fn query(mut obj: serde_json::Map<String, Json>) -> Result<Query, String> {
    let text = match obj.remove("query") {
        Some(Json::String(s)) => s,
        Some(_) => return Err("\"query\" must be a string".into()),
        None => return Err("missing \"query\" (or \"queries\")".into()),
    };
    let params = match obj.remove("params") {
        None | Some(Json::Null) => Vec::new(),
        Some(Json::Array(p)) => p.iter().map(param).collect(),
        Some(_) => return Err("\"params\" must be an array".into()),
    };
    if params.len() > MAX_PARAMS {
        return Err(format!("{} parameters: PostgreSQL takes at most {MAX_PARAMS}", params.len()));
    }
    let array_mode = match obj.remove("arrayMode") {
        None | Some(Json::Null) => None,
        Some(Json::Bool(b)) => Some(b),
        Some(_) => return Err("\"arrayMode\" must be a boolean".into()),
    };
    Ok(Query { text, params, array_mode })
}

/// One JSON parameter as PostgreSQL text.
fn param(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(items) => {
            let mut out = String::new();
            array_literal(items, &mut out);
            Value::Text(out)
        }
        other => Value::Text(other.to_string()),
    }
}

/// `["a", null, [1, 2]]` → `{"a",NULL,{"1","2"}}`: every element quoted
/// (quotes are always allowed), so commas, braces and spaces are safe.
fn array_literal(items: &[Json], out: &mut String) {
    out.push('{');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        match item {
            Json::Null => out.push_str("NULL"),
            Json::Array(inner) => array_literal(inner, out),
            Json::String(s) => quote(s, out),
            other => quote(&other.to_string(), out),
        }
    }
    out.push('}');
}

fn quote(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    #[test]
    fn single_and_batch() {
        let p = parse(br#"{"query":"SELECT $1, $2, $3, $4, $5","params":[1, "x", null, true, {"a":[1]}]}"#).unwrap();
        let Payload::Single(q) = p else { panic!("{p:?}") };
        assert_eq!(q.params, vec![text("1"), text("x"), Value::Null, text("true"), text(r#"{"a":[1]}"#)]);
        assert_eq!(q.array_mode, None);
        let p = parse(br#"{"queries":[{"query":"SELECT 1"},{"query":"SELECT $1","params":[2.5],"arrayMode":true}]}"#);
        let Payload::Batch(qs) = p.unwrap() else { panic!() };
        assert_eq!(qs.len(), 2);
        assert_eq!((qs[1].params.clone(), qs[1].array_mode), (vec![text("2.5")], Some(true)));
        assert_eq!(parse(br#"{"queries":[]}"#).unwrap(), Payload::Batch(vec![]));
    }

    #[test]
    fn arrays_become_literals() {
        let p = parse(br#"{"query":"x","params":[["a b","q\"\\",null,["1",2]],[]]}"#).unwrap();
        let Payload::Single(q) = p else { panic!() };
        assert_eq!(q.params, vec![text(r#"{"a b","q\"\\",NULL,{"1","2"}}"#), text("{}")]);
    }

    #[test]
    fn malformed_bodies_say_what_is_wrong() {
        let err = |b: &[u8]| parse(b).unwrap_err();
        assert!(err(b"{nope").contains("not valid JSON"));
        assert!(err(b"[1]").contains("JSON object"));
        assert!(err(b"{}").contains("missing \"query\""));
        assert!(err(br#"{"query":1}"#).contains("must be a string"));
        assert!(err(br#"{"query":"x","params":{}}"#).contains("\"params\" must be an array"));
        assert!(err(br#"{"queries":{}}"#).contains("must be an array"));
        assert!(err(br#"{"queries":[1]}"#).contains("queries[0]"));
        assert!(err(br#"{"query":"x","arrayMode":"yes"}"#).contains("boolean"));
        assert!(err(b"").contains("not valid JSON"));
    }
}
