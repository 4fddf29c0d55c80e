//! COPY FROM STDIN: `copy_to_table` (raw data) and `copy_records_to_table`
//! (typed records).
//!
//! The COPY statement goes out as a simple Query carrying a bounded channel
//! of data; once the server answers CopyInResponse the driver forwards the
//! chunks as CopyData and ends with CopyDone. When the source fails, a
//! record does not fit its column, or the caller drops the future, CopyFail
//! is sent instead: the server aborts the COPY, no row lands, and the
//! connection stays usable. The channel holds a few 64 KiB chunks at most,
//! so memory stays constant whatever the size of the data, and a slow
//! network slows the source down (backpressure).

use std::error::Error as StdError;
use std::pin::pin;

use bytes::{Bytes, BytesMut};
use futures_channel::{mpsc, oneshot};
use futures_core::Stream;
use futures_io::AsyncRead;
use futures_util::io::AsyncReadExt;
use futures_util::{SinkExt, StreamExt};

use super::encode::{Gather, RecordEncoder, RecordFormat, CHUNK};
use super::options::{copy_in_sql, describe_columns_sql, CopyFormat, CopyOptions};
use crate::client::handle::{ConnInner, Connection};
use crate::client::params::Params;
use crate::client::request::{CopyInMessage, CopyInSender, Request, Response, Sink, COPY_IN_CHANNEL};
use crate::protocol::frontend;
use crate::types::Type;
use crate::{Error, Result};

/// Boxed error of a COPY data source.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// The work of [`Connection::copy_records_to_table`], which delegates here.
pub(crate) async fn copy_records_to_table<I, P>(
    conn: &Connection,
    table: &str,
    records: I,
    options: &CopyOptions,
) -> Result<u64>
where
    I: IntoIterator<Item = P>,
    P: Params,
{
    let (sql, mut encoder) = records_copy(conn, table, options).await?;
    let mut copy = CopyIn::start(&conn.inner, &sql)?;
    let mut records = records.into_iter();
    loop {
        // Encode synchronously up to a chunk, so no record is held across an await.
        let more = match fill(&mut encoder, &mut records) {
            Ok(more) => more,
            Err(e) => return Err(copy.fail(e).await),
        };
        if !more {
            break;
        }
        if !copy.send(encoder.take()).await {
            return copy.finish().await;
        }
    }
    copy.send(encoder.finish()).await;
    copy.finish().await
}

/// The work of [`Connection::copy_records_to_table_stream`], which delegates here.
pub(crate) async fn copy_records_to_table_stream<S, P, E>(
    conn: &Connection,
    table: &str,
    records: S,
    options: &CopyOptions,
) -> Result<u64>
where
    S: Stream<Item = std::result::Result<P, E>>,
    P: Params,
    E: Into<BoxError>,
{
    let (sql, mut encoder) = records_copy(conn, table, options).await?;
    let mut copy = CopyIn::start(&conn.inner, &sql)?;
    let mut records = pin!(records);
    while let Some(item) = records.next().await {
        let pushed = match item {
            Ok(record) => encoder.push(&record),
            Err(e) => Err(source_error(e.into())),
        };
        if let Err(e) = pushed {
            return Err(copy.fail(e).await);
        }
        if encoder.is_full() && !copy.send(encoder.take()).await {
            return copy.finish().await;
        }
    }
    copy.send(encoder.finish()).await;
    copy.finish().await
}

/// The work of [`Connection::copy_to_table`], which delegates here.
pub(crate) async fn copy_to_table<S, B, E>(
    conn: &Connection,
    table: &str,
    source: S,
    options: &CopyOptions,
) -> Result<u64>
where
    S: Stream<Item = std::result::Result<B, E>>,
    B: Into<Bytes>,
    E: Into<BoxError>,
{
    let sql = copy_in_sql(table, options)?;
    let mut copy = CopyIn::start(&conn.inner, &sql)?;
    let mut source = pin!(source);
    let mut gather = Gather::default();
    while let Some(item) = source.next().await {
        let data = match item {
            Ok(data) => data.into(),
            Err(e) => return Err(copy.fail(source_error(e.into())).await),
        };
        for chunk in gather.push(data).into_iter().flatten() {
            if !copy.send(chunk).await {
                return copy.finish().await;
            }
        }
    }
    if let Some(rest) = gather.finish() {
        copy.send(rest).await;
    }
    copy.finish().await
}

/// The work of [`Connection::copy_to_table_from_reader`], which delegates here.
pub(crate) async fn copy_to_table_from_reader<R: AsyncRead>(
    conn: &Connection,
    table: &str,
    reader: R,
    options: &CopyOptions,
) -> Result<u64> {
    let sql = copy_in_sql(table, options)?;
    let mut copy = CopyIn::start(&conn.inner, &sql)?;
    let mut reader = pin!(reader);
    loop {
        let mut buf = BytesMut::zeroed(CHUNK);
        let mut filled = 0;
        while filled < CHUNK {
            match reader.read(&mut buf[filled..]).await {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(copy.fail(Error::io(e).context("reading the COPY source")).await),
            }
        }
        buf.truncate(filled);
        if filled > 0 && !copy.send(buf.freeze()).await {
            return copy.finish().await;
        }
        if filled < CHUNK {
            return copy.finish().await;
        }
    }
}

/// The work of [`Connection::copy_to_table_from_bytes`], which delegates here.
pub(crate) async fn copy_to_table_from_bytes(
    conn: &Connection,
    table: &str,
    data: impl Into<Bytes>,
    options: &CopyOptions,
) -> Result<u64> {
    let sql = copy_in_sql(table, options)?;
    let mut copy = CopyIn::start(&conn.inner, &sql)?;
    let mut data: Bytes = data.into();
    // Zero-copy slices, so the driver never holds much more than a few
    // of them in its write buffer at once.
    while !data.is_empty() {
        let piece = data.split_to(data.len().min(4 * CHUNK));
        if !copy.send(piece).await {
            break;
        }
    }
    copy.finish().await
}

/// The COPY statement and a record encoder for `copy_records_to_table`:
/// one round trip to learn the target columns' types.
pub(crate) async fn records_copy(
    conn: &Connection,
    table: &str,
    options: &CopyOptions,
) -> Result<(String, RecordEncoder)> {
    if !options.only_target() {
        return Err(Error::interface(
            "copy_records_to_table only uses the options schema_name, columns and where_clause",
        ));
    }
    let stmt = conn.inner.prepare_new(&describe_columns_sql(table, options), false).await?;
    let types: Vec<Type> = stmt.columns.iter().map(|c| c.type_()).collect();
    let format = RecordFormat::for_types(&types);
    let mut options = options.clone();
    options.format = Some(match format {
        RecordFormat::Binary => CopyFormat::Binary,
        RecordFormat::Text => CopyFormat::Text,
    });
    Ok((copy_in_sql(table, &options)?, RecordEncoder::new(types, format)?))
}

/// Encodes records until a chunk is full (`Ok(true)`) or the records run out
/// (`Ok(false)`).
fn fill<I: Iterator<Item = P>, P: Params>(encoder: &mut RecordEncoder, records: &mut I) -> Result<bool> {
    for record in records.by_ref() {
        encoder.push(&record)?;
        if encoder.is_full() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The error of a data source, as an edgepg [`Error`] (kept as is when it is one).
fn source_error(e: BoxError) -> Error {
    match e.downcast::<Error>() {
        Ok(e) => *e,
        Err(e) => match e.downcast::<std::io::Error>() {
            Ok(io) => Error::io(*io).context("reading the COPY source"),
            Err(e) => Error::interface(format!("the COPY source failed: {e}")).with_source(e),
        },
    }
}

/// One COPY FROM STDIN in progress: the data channel to the driver and the
/// pending response. Dropping it mid-way makes the driver send CopyFail.
struct CopyIn<'a> {
    conn: &'a ConnInner,
    tx: CopyInSender,
    response: oneshot::Receiver<Result<Response>>,
    /// The driver no longer takes data: the server rejected the COPY (or it
    /// never started). The response says why.
    refused: bool,
}

impl<'a> CopyIn<'a> {
    /// Queues the COPY statement with its data channel.
    fn start(conn: &'a ConnInner, sql: &str) -> Result<CopyIn<'a>> {
        let mut bytes = BytesMut::with_capacity(sql.len() + 6);
        frontend::query(sql, &mut bytes)?;
        let (tx, rx) = mpsc::channel(COPY_IN_CHANNEL);
        let (response_tx, response) = oneshot::channel();
        conn.send(Request::Query {
            bytes,
            syncs: 1,
            columns: None,
            sink: Sink::Collect(response_tx),
            copy_in: Some(rx),
        })?;
        Ok(CopyIn { conn, tx, response, refused: false })
    }

    /// Sends one chunk, waiting while the channel is full. Returns false when
    /// the server no longer takes data ([`CopyIn::finish`] then reports why).
    async fn send(&mut self, data: Bytes) -> bool {
        if !self.refused && !data.is_empty() && self.tx.send(CopyInMessage::Data(data)).await.is_err() {
            self.refused = true;
        }
        !self.refused
    }

    /// Ends the data (CopyDone) and returns the number of rows copied, or the
    /// server's error.
    async fn finish(mut self) -> Result<u64> {
        if !self.refused {
            let _ = self.tx.send(CopyInMessage::Done).await;
        }
        let response = self.response().await?;
        let tag = response.last_tag().unwrap_or_default();
        Ok(copy_count(tag))
    }

    /// Aborts the COPY (CopyFail) because of `error`, waits until the server
    /// has rolled it back, and returns the error to report.
    async fn fail(mut self, error: Error) -> Error {
        let refused = self.refused || self.tx.send(CopyInMessage::Fail(error.to_string())).await.is_err();
        match self.response().await {
            // The server failed first (e.g. a constraint): that is the cause.
            Err(server) if refused => server,
            _ => error,
        }
    }

    async fn response(&mut self) -> Result<Response> {
        match (&mut self.response).await {
            Ok(r) => r?.into_result(),
            Err(_canceled) => Err(self.conn.shared.closed_error()),
        }
    }
}

/// The row count of a `COPY n` tag (0 if absent).
pub(crate) fn copy_count(tag: &str) -> u64 {
    tag.strip_prefix("COPY ").and_then(|n| n.trim().parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts() {
        assert_eq!(copy_count("COPY 100"), 100);
        assert_eq!(copy_count("COPY 0"), 0);
        assert_eq!(copy_count(""), 0);
        assert_eq!(copy_count("INSERT 0 1"), 0);
    }

    #[test]
    fn source_errors_keep_their_kind() {
        let e = source_error(Box::new(Error::conversion("bad value")));
        assert_eq!(e.kind(), crate::ErrorKind::Conversion);
        let e = source_error(Box::new(std::io::Error::other("disk")));
        assert_eq!(e.kind(), crate::ErrorKind::Io);
        let e = source_error("boom".into());
        assert!(e.to_string().contains("boom"), "{e}");
    }

    #[test]
    fn fill_stops_at_a_chunk() {
        let mut enc = RecordEncoder::new(vec![Type::INT8], RecordFormat::Binary).unwrap();
        let mut it = (0..100_000i64).map(|i| (i,));
        assert!(fill(&mut enc, &mut it).unwrap());
        assert!(it.next().is_some());
        let mut enc = RecordEncoder::new(vec![Type::INT8], RecordFormat::Binary).unwrap();
        assert!(!fill(&mut enc, &mut (0..10i64).map(|i| (i,))).unwrap());
    }
}
