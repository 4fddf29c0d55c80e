//! [`ResponseBuilder`]: assembles the [`Response`] of one request from its
//! backend messages (results, errors, Sync marks).

use std::sync::Arc;

use crate::client::request::{QueryResult, Response, SyncMark};
use crate::client::row::{Column, Row};
use crate::protocol::backend::{Message, TransactionStatus};
use crate::protocol::Format;
use crate::types::Type;
use crate::{Error, Result};

/// Assembles a [`Response`] from the messages of one request.
pub(crate) struct ResponseBuilder {
    /// Columns for DataRows not preceded by a RowDescription.
    default_columns: Option<Arc<[Column]>>,
    pub(crate) current: QueryResult,
    pub(crate) response: Response,
    /// An ErrorResponse arrived since the last ReadyForQuery.
    segment_failed: bool,
    /// That error, when it is not the response's first one.
    segment_error: Option<Error>,
}

impl ResponseBuilder {
    pub(crate) fn new(default_columns: Option<Arc<[Column]>>) -> ResponseBuilder {
        let current = QueryResult { columns: default_columns.clone(), ..QueryResult::default() };
        ResponseBuilder {
            default_columns,
            current,
            response: Response::default(),
            segment_failed: false,
            segment_error: None,
        }
    }

    /// A ReadyForQuery: marks where this Sync's part of the response ends.
    /// Before an intermediate Sync, an unfinished result (a statement that
    /// failed midway) is dropped so the next part starts clean.
    pub(crate) fn sync(&mut self, status: TransactionStatus, more: bool) {
        self.response.syncs.push(SyncMark {
            results_end: self.response.results.len(),
            failed: std::mem::take(&mut self.segment_failed),
            error: self.segment_error.take(),
            status,
        });
        if more {
            self.current = QueryResult { columns: self.default_columns.clone(), ..QueryResult::default() };
        }
    }

    pub(crate) fn end_statement(&mut self, tag: Option<String>) {
        let next = QueryResult { columns: self.default_columns.clone(), ..QueryResult::default() };
        let mut done = std::mem::replace(&mut self.current, next);
        done.tag = tag;
        self.response.results.push(done);
    }

    pub(crate) fn error(&mut self, e: Error) {
        if self.segment_failed {
            return; // the server skips to Sync after an error: keep the first
        }
        self.segment_failed = true;
        if self.response.error.is_none() {
            self.response.error = Some(e);
        } else {
            self.segment_error = Some(e);
        }
    }

    fn row(&self, body: bytes::Bytes) -> Result<Row> {
        let columns =
            self.current.columns.clone().ok_or_else(|| Error::protocol("DataRow without a row description"))?;
        Row::new(columns, body)
    }

    pub(crate) fn push(&mut self, msg: Message) -> Result<()> {
        match msg {
            Message::ParseComplete | Message::BindComplete | Message::CloseComplete => {}
            Message::ParameterDescription(body) => {
                self.response.params = Some(body.types().map(Type::from_oid).collect());
            }
            Message::RowDescription(body) => {
                let columns = body
                    .fields()
                    .map(|f| {
                        f.map(|f| {
                            let format = if f.format == 1 { Format::Binary } else { Format::Text };
                            Column::new(
                                f.name.to_owned(),
                                Type::from_oid(f.type_oid),
                                format,
                                f.table_oid,
                                f.column_id,
                                f.type_size,
                                f.type_modifier,
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.current.columns = Some(columns.into());
            }
            Message::NoData => self.current.columns = Some(Arc::from(Vec::new())),
            Message::DataRow(body) => {
                let row = self.row(body.buffer().clone())?;
                self.current.rows.push(row);
            }
            Message::CommandComplete(body) => self.end_statement(Some(body.tag()?.to_owned())),
            Message::EmptyQueryResponse => self.end_statement(None),
            Message::PortalSuspended => {
                self.end_statement(None);
                if let Some(last) = self.response.results.last_mut() {
                    last.suspended = true;
                }
            }
            // COPY TO STDOUT through a call that does not stream: the data is dropped.
            Message::CopyOutResponse(_) | Message::CopyData(_) | Message::CopyDone => {}
            other => return Err(Error::protocol(format!("unexpected {} message in a query response", other.name()))),
        }
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Response {
        // A Describe response (or a script whose last statement had no
        // CommandComplete) ends with an open result: keep what it holds.
        if !self.current.rows.is_empty() || (self.current.columns.is_some() && self.response.results.is_empty()) {
            let current = std::mem::take(&mut self.current);
            self.response.results.push(current);
        }
        self.response
    }
}
