//! Results statement by statement, each with its command tag and column
//! descriptions: what an API shaped like node-postgres's needs (`{ command,
//! rowCount, rows, fields }`, one result per statement of a script), which
//! [`Connection::fetch`] (rows only) and [`Connection::execute`] (tag only)
//! split between them. Also lets the caller ask for chosen result columns
//! in text format, so a text parser of its own sees PostgreSQL's own output.

use std::sync::Arc;

use bytes::BytesMut;

use super::formats::TextColumns;
use super::handle::{ConnInner, Connection};
use super::params::DynParams;
use super::request::Response;
use super::request::StatementResult;
use super::streamed::RowBatches;
use crate::protocol::frontend;
use crate::types::ToSql;
use crate::Result;

/// The work of [`Connection::query_results`], which delegates here.
pub(crate) async fn query_results(
    conn: &Connection,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    script: bool,
    text: TextColumns<'_>,
) -> Result<Vec<StatementResult>> {
    query_results_with(conn, sql, params, script, text, None).await
}

/// [`query_results`]; with `on_rows` and default formats, one statement
/// that is cached or has arguments streams its rows to `on_rows` (see
/// [`Connection::query_results_streamed`]).
pub(super) async fn query_results_with(
    conn: &Connection,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    script: bool,
    text: TextColumns<'_>,
    on_rows: Option<&mut dyn RowBatches>,
) -> Result<Vec<StatementResult>> {
    let inner = &conn.inner;
    let call = inner.timed(conn.command_timeout(), async {
        let response = if script && params.is_empty() && !is_single_statement(sql) {
            inner.simple(sql).await?
        } else if let (Some(on_rows), TextColumns::Default) = (on_rows, &text) {
            // A statement without arguments that is not cached yet still
            // goes in one flight (collected).
            let flight = if script && params.is_empty() { inner.one_flight(sql, &DynParams(&[]), 0) } else { None };
            match flight {
                Some(flight) => inner.run_one_flight(sql, flight?).await?,
                None => return Ok(vec![inner.fetch_streamed_ended(sql, &DynParams(params), on_rows).await?]),
            }
        } else if script && params.is_empty() {
            inner.statement_one_flight(sql, text).await?
        } else {
            inner.query_as(sql, &DynParams(params), 0, text).await?
        };
        Ok(statement_results(response))
    });
    inner.logged(sql, params.len(), call).await
}

/// True when `sql` holds no `;` but trailing ones: one statement for sure.
/// (A `;` inside a literal or a comment makes it look like a script, which
/// the simple protocol runs correctly too.)
fn is_single_statement(sql: &str) -> bool {
    !sql.trim_end_matches(|c: char| c == ';' || c.is_whitespace()).contains(';')
}

impl ConnInner {
    /// One statement without arguments in one round trip: a cached statement
    /// is bound and executed (binary results), a new one goes as one flight.
    async fn statement_one_flight(&self, sql: &str, text: TextColumns<'_>) -> Result<Response> {
        match self.one_flight(sql, &DynParams(&[]), 0) {
            Some(flight) => self.run_one_flight(sql, flight?).await,
            None => self.query_as(sql, &DynParams(&[]), 0, text).await,
        }
    }

    /// A simple Query: every statement's result.
    async fn simple(&self, sql: &str) -> Result<Response> {
        let mut buf = BytesMut::with_capacity(sql.len() + 6);
        frontend::query(sql, &mut buf)?;
        self.request(buf, 1, None).await
    }
}

fn statement_results(response: Response) -> Vec<StatementResult> {
    response
        .results
        .into_iter()
        .map(|r| StatementResult {
            columns: r.columns.unwrap_or_else(|| Arc::from(Vec::new())),
            rows: r.rows,
            tag: r.tag,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::row::Column;
    use crate::protocol::Format;
    use crate::types::Type;

    fn col(ty: Type, format: Format) -> Column {
        Column::new("c".into(), ty, format, 0, 0, 4, -1)
    }

    #[test]
    fn single_statements_are_told_from_scripts() {
        assert!(is_single_statement("SELECT 1"));
        assert!(is_single_statement("SELECT 1 ; \n ;"));
        assert!(!is_single_statement("SELECT 1; SELECT 2"));
        assert!(!is_single_statement("SELECT ';'"));
    }

    #[test]
    fn text_columns_switch_only_what_is_asked() {
        let cols = [col(Type::INT4, Format::Binary), col(Type::TIMESTAMPTZ, Format::Binary)];
        assert!(TextColumns::Default.apply(&cols).is_none());
        let (formats, changed) = TextColumns::Types(&[Type::TIMESTAMPTZ.oid()]).apply(&cols).unwrap();
        assert_eq!(formats, [1, 0]);
        assert_eq!(changed[1].format(), Format::Text);
        let (formats, _) = TextColumns::All.apply(&cols).unwrap();
        assert_eq!(formats, [0, 0]);
        let pick = |c: &Column| c.type_() == Type::INT4;
        let (formats, _) = TextColumns::Pick(&pick).apply(&cols).unwrap();
        assert_eq!(formats, [0, 1]);
        // Already text: nothing to change.
        assert!(TextColumns::All.apply(&[col(Type::TEXT, Format::Text)]).is_none());
    }
}
