//! The first query of a pipelined-connect connection in one flight, even on a
//! statement-cache miss.
//!
//! Normally a cache miss costs two round trips: Parse + Describe + Sync (to
//! learn the parameter and column types), then Bind + Execute + Sync with
//! parameters and results in binary where a codec exists. While a
//! connection's startup is still pipelined (see [`super::pipelined`]) that
//! would make "connect + first query" two flights, so a miss is sent as
//!
//! ```text
//! Parse(name, sql, no types) Describe(S name) Bind(text params, text results) Execute Sync
//! ```
//!
//! * **Parameters** go in text format with unspecified types (the server
//!   infers them exactly as on the normal path, which also leaves them
//!   unspecified). Only values that can say what their text is without
//!   knowing the type take this path ([`ToSql::to_sql_untyped`]: `Value`,
//!   i.e. everything the JS layer sends); a query with typed Rust arguments
//!   (`&41i64`) keeps the two-step path, so its encoding never changes.
//! * **Results** come in text format: every type has a text output, while
//!   asking for binary without knowing the columns could hit a type without
//!   a binary output function (an error) or one we cannot decode. Rows decode
//!   through [`FromSql::from_sql_text`](crate::types::FromSql::from_sql_text)
//!   (`Value` handles every built-in the JS mapping needs).
//! * The described statement is **cached** as usual, so later calls of the
//!   same SQL use Bind + Execute with binary results.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;

use super::handle::ConnInner;
use super::params::Params;
use super::request::{Request, Response};
use super::shared::lock;
use super::statement::StatementInner;
use crate::protocol::{frontend, IsNull};
use crate::{Error, Result};

/// An encoded one-flight query.
pub(crate) struct OneFlight {
    bytes: BytesMut,
    /// The statement name (empty: unnamed, not cached).
    name: String,
}

impl ConnInner {
    /// Encodes `sql` for the one-flight path, or `None` when it does not
    /// apply: startup is over, the statement is cached, or an argument needs
    /// its type to be encoded.
    pub(crate) fn pipelined_one_flight(
        &self,
        sql: &str,
        params: &dyn Params,
        max_rows: i32,
    ) -> Option<Result<OneFlight>> {
        if !self.shared.in_pipelined_startup() {
            return None;
        }
        self.one_flight(sql, params, max_rows)
    }

    /// Encodes `sql` for the one-flight path whether or not startup is
    /// pipelined (`query_results` uses it for a statement without
    /// arguments: one round trip on a miss, like the simple protocol, and
    /// binary results from the cache afterwards); `None` on a cache hit or
    /// when an argument needs its type.
    pub(crate) fn one_flight(&self, sql: &str, params: &dyn Params, max_rows: i32) -> Option<Result<OneFlight>> {
        let named = {
            let mut cache = lock(&self.cache);
            if cache.get(sql, self.now()).is_some() {
                return None;
            }
            cache.cacheable(sql)
        };
        let mut values = BytesMut::new();
        let mut ranges = Vec::with_capacity(params.len());
        for i in 0..params.len() {
            let start = values.len();
            match params.param(i).to_sql_untyped(&mut values)? {
                Ok(IsNull::Yes) => ranges.push(None),
                Ok(IsNull::No) => ranges.push(Some(start..values.len())),
                Err(e) => return Some(Err(e.context(format_args!("argument ${}", i + 1)))),
            }
        }
        let name = if named {
            format!("edgepg_s{}", self.next_statement.fetch_add(1, Ordering::Relaxed))
        } else {
            String::new()
        };
        Some(encode(&name, sql, &values, &ranges, max_rows).map(|bytes| OneFlight { bytes, name }))
    }

    /// Sends a [`OneFlight`] and caches the statement it described.
    pub(crate) async fn run_one_flight(&self, sql: &str, flight: OneFlight) -> Result<Response> {
        let OneFlight { bytes, name } = flight;
        let result = self.request(bytes, 1, None).await;
        let mut response = match result {
            Ok(r) => r,
            Err(e) => {
                if !name.is_empty() {
                    // Parse may have succeeded before the failure: close the
                    // statement (closing a missing one is not an error).
                    let mut buf = BytesMut::new();
                    if frontend::close(b'S', &name, &mut buf).is_ok() {
                        frontend::sync(&mut buf);
                        let _ = self.send(Request::discard(buf, 1));
                    }
                }
                return Err(e);
            }
        };
        let params = response.params.take().unwrap_or_default();
        let columns = response.results.first().and_then(|r| r.columns.as_ref()).map(|c| c.to_vec()).unwrap_or_default();
        // Parameters of domain types would need a lookup to encode later
        // calls in binary; leave those to the normal prepare path.
        let typed = params.iter().copied().chain(columns.iter().map(|c| c.type_())).all(|t| t.name().is_some());
        let stmt = Arc::new(StatementInner::new(
            name,
            sql.to_owned(),
            params,
            columns,
            self.now(),
            self.sender(),
            self.shared.clone(),
            self.type_map(),
        ));
        if stmt.is_named() && typed {
            lock(&self.cache).insert(stmt);
        }
        // Otherwise dropping `stmt` closes it on the server.
        Ok(response)
    }
}

/// Parse + Describe(S) + Bind (text parameters and results) + Execute + Sync.
fn encode(
    name: &str,
    sql: &str,
    values: &[u8],
    ranges: &[Option<std::ops::Range<usize>>],
    max_rows: i32,
) -> Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(sql.len() + values.len() + 64);
    frontend::parse(name, sql, &[], &mut buf)?;
    frontend::describe(b'S', name, &mut buf)?;
    frontend::bind(
        "",
        name,
        &[],
        ranges.iter(),
        |range, out| -> Result<IsNull> {
            match range {
                None => Ok(IsNull::Yes),
                Some(r) => {
                    let v = values.get(r.clone()).ok_or_else(|| Error::interface("argument out of range"))?;
                    out.extend_from_slice(v);
                    Ok(IsNull::No)
                }
            }
        },
        &[],
        &mut buf,
    )?;
    frontend::execute("", max_rows, &mut buf)?;
    frontend::sync(&mut buf);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flight_bytes() {
        let ranges = vec![Some(0..1), None];
        let buf = encode("edgepg_s1", "SELECT $1, $2", b"7", &ranges, 0).unwrap();
        let expected: &[u8] = &[
            // Parse: name, query, 0 parameter types
            b"P\0\0\0\x1eedgepg_s1\0SELECT $1, $2\0\0\0".as_slice(),
            // Describe statement
            b"D\0\0\0\x0fSedgepg_s1\0",
            // Bind: unnamed portal, statement, 0 format codes (all text), 2 values ("7", NULL), 0 result formats (all text)
            b"B\0\0\0\x1e\0edgepg_s1\0\0\0\0\x02\0\0\0\x017\xff\xff\xff\xff\0\0",
            // Execute: unnamed portal, no row limit
            b"E\0\0\0\x09\0\0\0\0\0",
            // Sync
            b"S\0\0\0\x04",
        ]
        .concat();
        assert_eq!(&buf[..], expected);
    }
}
