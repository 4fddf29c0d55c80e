//! Rows handed to the caller batch by batch as they arrive
//! ([`Connection::fetch_batches`](super::Connection::fetch_batches)), so a
//! caller can convert them while the rest of the response is still on the
//! way (the wasm package builds JS rows this way).
//! [`Connection::query_results_streamed`](super::Connection::query_results_streamed)
//! does the same for [`Connection::query_results`](super::Connection::query_results)
//! (node-postgres-shaped results: the
//! statement's columns and command tag come with the end of the stream).

use std::sync::Arc;

use bytes::BytesMut;
use futures_channel::mpsc;
use futures_util::StreamExt;

use super::handle::{encode_bind, is_stale_statement, type_oids, ConnInner};
use super::params::Params;
use super::request::{QueryResult, Request, Sink, StatementResult, StreamItem, STREAM_CHANNEL};
use super::row::{Column, Row};
use super::runtime::MaybeSend;
use super::statement::StatementInner;
use crate::protocol::frontend;
use crate::Result;

/// Where [`ConnInner::fetch_streamed`] hands its batches of rows (`Send`
/// on native targets, where futures are).
pub(crate) trait RowBatches: FnMut(Vec<Row>) -> Result<()> + MaybeSend {}

impl<F: FnMut(Vec<Row>) -> Result<()> + MaybeSend> RowBatches for F {}

impl ConnInner {
    /// Runs `sql` like [`ConnInner::query`] (statement cache, one retry of a
    /// stale cached statement) and hands its rows to `on_rows` batch by
    /// batch as they are read from the socket, instead of all at the end.
    /// Every row is handed over exactly once, in order; an error after some
    /// batches fails the call (the caller drops what it got).
    pub(crate) async fn fetch_streamed(
        &self,
        sql: &str,
        params: &(dyn Params + Sync),
        on_rows: &mut dyn RowBatches,
    ) -> Result<()> {
        let end = self.fetch_streamed_ended(sql, params, on_rows).await?;
        if end.rows.is_empty() {
            return Ok(());
        }
        on_rows(end.rows)
    }

    /// [`ConnInner::fetch_streamed`], resolving to the statement's columns,
    /// command tag and the rows that came with the end of the response
    /// (after every batch handed to `on_rows`; all of them for a small
    /// result, which then costs no batch of its own).
    pub(super) async fn fetch_streamed_ended(
        &self,
        sql: &str,
        params: &(dyn Params + Sync),
        on_rows: &mut dyn RowBatches,
    ) -> Result<StatementResult> {
        // Startup still pipelined: the one-flight path collects (a cache miss
        // goes in the startup flight).
        if self.shared.in_pipelined_startup() {
            let response = self.query(sql, params, 0).await?;
            return Ok(ended(response.results.into_iter().next(), Arc::from(Vec::new())));
        }
        let stmt = self.prepare_cached(sql).await?;
        let mut streamed = false;
        match self.bind_execute_streamed(&stmt, params, on_rows, &mut streamed).await {
            // A stale statement fails at Bind, before any row: run it again.
            Err(e) if !streamed && stmt.is_named() && is_stale_statement(&e) => {
                self.forget_stale(sql, e)?;
                let stmt = self.prepare_cached(sql).await?;
                self.bind_execute_streamed(&stmt, params, on_rows, &mut streamed).await
            }
            other => other,
        }
    }

    /// Bind + Execute + Sync of `stmt` with a streamed response (see
    /// [`ConnInner::fetch_streamed`]); `streamed` is set once a batch was handed over.
    async fn bind_execute_streamed(
        &self,
        stmt: &StatementInner,
        params: &(dyn Params + Sync),
        on_rows: &mut dyn RowBatches,
        streamed: &mut bool,
    ) -> Result<StatementResult> {
        let mut bytes = BytesMut::with_capacity(64 + stmt.sql.len());
        if !stmt.is_named() {
            frontend::parse("", &stmt.sql, &type_oids(&stmt.params), &mut bytes)?;
        }
        encode_bind(stmt, params, &mut bytes)?;
        frontend::execute("", 0, &mut bytes)?;
        frontend::sync(&mut bytes);
        self.note_request();
        let (tx, mut rx) = mpsc::channel(STREAM_CHANNEL);
        let columns = Some(stmt.columns.clone());
        self.send(Request::Query { bytes, syncs: 1, columns, sink: Sink::Stream(tx), copy_in: None })?;
        // Dropping `rx` early (an error below, or the caller's future) makes
        // the driver read and drop the rest of the response.
        loop {
            match rx.next().await {
                Some(StreamItem::Rows(rows)) => {
                    *streamed = true;
                    on_rows(rows)?;
                }
                Some(StreamItem::End(response)) => {
                    let last = response?.into_result()?.results.into_iter().next();
                    return Ok(ended(last, stmt.columns.clone()));
                }
                // COPY TO STDOUT through a call that fetches rows: its data is dropped.
                Some(StreamItem::CopyOut { .. } | StreamItem::CopyData(_)) => {}
                None => return Err(self.shared.closed_error()),
            }
        }
    }
}

/// A streamed statement's result from its last part: the rows in it, its
/// columns (else `columns`, the prepared statement's) and tag.
fn ended(last: Option<QueryResult>, columns: Arc<[Column]>) -> StatementResult {
    match last {
        Some(r) => StatementResult { columns: r.columns.unwrap_or(columns), rows: r.rows, tag: r.tag },
        None => StatementResult { columns, rows: Vec::new(), tag: None },
    }
}
