//! COPY TO STDOUT: `copy_from_table` and `copy_from_query` as a stream of
//! byte chunks, and helpers that write it into an `AsyncWrite`.
//!
//! The driver hands each CopyData to a bounded channel; when the consumer
//! is slower than the server, the channel fills and the driver stops
//! reading the socket, so nothing is read ahead without bound and memory
//! stays constant whatever the size of the table.
//!
//! Dropping the stream before its end is safe: the driver reads the rest
//! of the COPY and discards it, and the connection stays usable (the server
//! sends everything anyway; a cancel request would stop it sooner).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_channel::mpsc;
use futures_core::Stream;
use futures_io::AsyncWrite;
use futures_util::io::AsyncWriteExt;
use futures_util::StreamExt;

use super::copy_in::copy_count;
use super::options::{copy_query_out_sql, copy_table_out_sql, CopyOptions};
use crate::client::handle::{ConnInner, Connection};
use crate::client::request::{Request, Sink, StreamItem, STREAM_CHANNEL};
use crate::protocol::{frontend, IsNull};
use crate::types::{ToSql, Type};
use crate::{Error, Result};

/// The data of a `COPY … TO STDOUT`, chunk by chunk. A chunk holds whole
/// CopyData messages (whole rows, in text and CSV) — as many as had arrived,
/// up to 64 KiB — so the stream costs one hand-over per socket read, not per row.
///
/// After the last chunk the stream ends; [`CopyOutStream::rows`] then gives
/// the row count. A server error ends the stream with an `Err` item.
///
/// Requests on a connection are answered in order, so a later call on the
/// same connection waits until this stream has been read to its end (or
/// dropped). In particular, feed a `copy_to_table` from this stream only on
/// *another* connection: on the same one, it would wait for itself.
///
/// ```no_run
/// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
/// use edgepg_core::client::{CopyFormat, CopyOptions};
/// use futures_util::StreamExt;
/// let opts = CopyOptions::new().format(CopyFormat::Csv).header(true);
/// let mut out = conn.copy_from_table("people", &opts).await?;
/// let mut csv = Vec::new();
/// while let Some(chunk) = out.next().await {
///     csv.extend_from_slice(&chunk?);
/// }
/// println!("{} rows", out.rows().unwrap_or(0));
/// # Ok(()) }
/// ```
pub struct CopyOutStream {
    rx: mpsc::Receiver<StreamItem>,
    conn: Arc<ConnInner>,
    /// The connection's lease when the COPY started: once a pool takes the
    /// connection back, the stream ends with an Interface error instead of
    /// holding up the connection (its unread data is then discarded).
    lease: u64,
    binary: bool,
    rows: Option<u64>,
    done: bool,
    /// Data read while waiting for the COPY to start (not expected, kept to be safe).
    pending: Option<Bytes>,
}

impl std::fmt::Debug for CopyOutStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CopyOutStream").field("binary", &self.binary).field("rows", &self.rows).finish()
    }
}

impl CopyOutStream {
    /// The number of rows copied, once the stream has ended successfully.
    pub fn rows(&self) -> Option<u64> {
        self.rows
    }

    /// True when the data is in the binary COPY format.
    pub fn is_binary(&self) -> bool {
        self.binary
    }

    /// Writes all the data into `writer` (then flushes it) and returns the
    /// number of rows copied. Each chunk is written before the next is read,
    /// so a slow writer slows the server down rather than filling memory.
    ///
    /// ```no_run
    /// # async fn demo(conn: edgepg_core::client::Connection) -> edgepg_core::Result<()> {
    /// use edgepg_core::client::CopyOptions;
    /// let mut out = Vec::new();
    /// let stream = conn.copy_from_table("people", &CopyOptions::new()).await?;
    /// let rows = stream.write_to(futures_util::io::Cursor::new(&mut out)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn write_to<W: AsyncWrite>(mut self, writer: W) -> Result<u64> {
        let mut writer = std::pin::pin!(writer);
        // Gather small chunks (text/CSV rows) into large writes.
        let mut buf = BytesMut::new();
        while let Some(chunk) = self.next().await {
            let chunk = chunk?;
            buf.extend_from_slice(&chunk);
            if buf.len() >= super::encode::CHUNK {
                writer.write_all(&buf).await.map_err(|e| Error::io(e).context("writing COPY data"))?;
                buf.clear();
            }
        }
        writer.write_all(&buf).await.map_err(|e| Error::io(e).context("writing COPY data"))?;
        writer.flush().await.map_err(|e| Error::io(e).context("writing COPY data"))?;
        Ok(self.rows.unwrap_or(0))
    }

    /// Queues `sql` (a COPY TO STDOUT) and waits for the COPY to start, so
    /// that errors such as a missing table are returned here.
    async fn start(conn: &Arc<ConnInner>, sql: &str) -> Result<CopyOutStream> {
        let mut bytes = BytesMut::with_capacity(sql.len() + 6);
        frontend::query(sql, &mut bytes)?;
        let (tx, rx) = mpsc::channel(STREAM_CHANNEL);
        conn.send(Request::Query { bytes, syncs: 1, columns: None, sink: Sink::Stream(tx), copy_in: None })?;
        let mut stream = CopyOutStream {
            rx,
            conn: conn.clone(),
            lease: conn.shared.lease(),
            binary: false,
            rows: None,
            done: false,
            pending: None,
        };
        match stream.rx.next().await {
            Some(StreamItem::CopyOut { format }) => stream.binary = format == 1,
            Some(StreamItem::CopyData(data)) => stream.pending = Some(data),
            Some(StreamItem::End(r)) => stream.end(r)?,
            // A COPY has no DataRows.
            Some(StreamItem::Rows(_)) => return Err(crate::Error::protocol("DataRow in a COPY TO STDOUT response")),
            None => return Err(conn.shared.closed_error()),
        }
        Ok(stream)
    }

    fn end(&mut self, r: Result<crate::client::request::Response>) -> Result<()> {
        self.done = true;
        let response = r?.into_result()?;
        self.rows = Some(copy_count(response.last_tag().unwrap_or_default()));
        Ok(())
    }
}

impl Stream for CopyOutStream {
    type Item = Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes>>> {
        if let Some(data) = self.pending.take() {
            return Poll::Ready(Some(Ok(data)));
        }
        loop {
            if self.done {
                return Poll::Ready(None);
            }
            if let Err(e) = self.conn.shared.check_lease(self.lease, "COPY stream") {
                // Closing the receiver makes the driver read and drop the
                // rest of the COPY, so the pool's cleanup is not held up.
                self.done = true;
                self.rx.close();
                return Poll::Ready(Some(Err(e)));
            }
            match self.rx.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(StreamItem::CopyData(data))) => return Poll::Ready(Some(Ok(data))),
                Poll::Ready(Some(StreamItem::CopyOut { format })) => self.binary = format == 1,
                Poll::Ready(Some(StreamItem::Rows(_))) => {} // never sent for a COPY (no DataRows)
                Poll::Ready(Some(StreamItem::End(r))) => {
                    if let Err(e) = self.end(r) {
                        return Poll::Ready(Some(Err(e)));
                    }
                }
                Poll::Ready(None) => {
                    self.done = true;
                    return Poll::Ready(Some(Err(self.conn.shared.closed_error())));
                }
            }
        }
    }
}

/// The work of [`Connection::copy_from_table`], which delegates here.
pub(crate) async fn copy_from_table(conn: &Connection, table: &str, options: &CopyOptions) -> Result<CopyOutStream> {
    let sql = copy_table_out_sql(table, options)?;
    CopyOutStream::start(&conn.inner, &sql).await
}

/// The work of [`Connection::copy_from_query`], which delegates here.
pub(crate) async fn copy_from_query(
    conn: &Connection,
    query: &str,
    args: &[&(dyn ToSql + Sync)],
    options: &CopyOptions,
) -> Result<CopyOutStream> {
    let query = inline_args(conn, query, args).await?;
    let sql = copy_query_out_sql(&query, options)?;
    CopyOutStream::start(&conn.inner, &sql).await
}

/// The work of [`Connection::copy_from_table_to_writer`], which delegates here.
pub(crate) async fn copy_from_table_to_writer<W: AsyncWrite>(
    conn: &Connection,
    table: &str,
    options: &CopyOptions,
    writer: W,
) -> Result<u64> {
    conn.copy_from_table(table, options).await?.write_to(writer).await
}

/// The work of [`Connection::copy_from_query_to_writer`], which delegates here.
pub(crate) async fn copy_from_query_to_writer<W: AsyncWrite>(
    conn: &Connection,
    query: &str,
    args: &[&(dyn ToSql + Sync)],
    options: &CopyOptions,
    writer: W,
) -> Result<u64> {
    conn.copy_from_query(query, args, options).await?.write_to(writer).await
}

/// `query` with `$n` replaced by the literal of `args[n-1]`, quoted by the server.
pub(crate) async fn inline_args(conn: &Connection, query: &str, args: &[&(dyn ToSql + Sync)]) -> Result<String> {
    if args.is_empty() {
        return Ok(query.to_owned());
    }
    let stmt = conn.inner.prepare_new(query, false).await?;
    let types: Vec<Type> = stmt.params.clone();
    drop(stmt);
    if types.len() != args.len() {
        return Err(Error::interface(format!(
            "copy_from_query: the query expects {} argument(s), {} given",
            types.len(),
            args.len()
        )));
    }
    // One flight: Parse (with the learned types) + Bind + Describe + Execute.
    let select = (0..types.len())
        .map(|i| format!("quote_nullable(${}) || '::' || {}::oid::regtype::text", i + 1, types[i].oid()))
        .collect::<Vec<_>>()
        .join(", ");
    let oids: Vec<u32> = types.iter().map(|t| t.oid()).collect();
    let formats: Vec<i16> = args.iter().zip(&types).map(|(a, &t)| a.encode_format(t).code()).collect();
    let mut buf = BytesMut::new();
    frontend::parse("", &format!("SELECT {select}"), &oids, &mut buf)?;
    frontend::bind(
        "",
        "",
        &formats,
        0..args.len(),
        |i, out| -> Result<IsNull> {
            args[i].to_sql_checked(types[i], out).map_err(|e| e.context(format_args!("argument ${}", i + 1)))
        },
        &[0],
        &mut buf,
    )?;
    frontend::describe(b'P', "", &mut buf)?;
    frontend::execute("", 0, &mut buf)?;
    frontend::sync(&mut buf);
    let response = conn.inner.request(buf, 1, None).await?;
    let row = response
        .results
        .into_iter()
        .next()
        .and_then(|r| r.rows.into_iter().next())
        .ok_or_else(|| Error::protocol("no row quoting the copy_from_query arguments"))?;
    let literals = (0..args.len()).map(|i| row.get::<String, _>(i)).collect::<Result<Vec<_>>>()?;
    substitute_params(query, &literals)
}

/// Replaces `$1`, `$2`, ... in `query` by `literals[0]`, `literals[1]`, ...,
/// skipping string literals (`'…'`, `E'…'`, `$tag$…$tag$`), quoted
/// identifiers and comments.
fn substitute_params(query: &str, literals: &[String]) -> Result<String> {
    let b = query.as_bytes();
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
    let mut out = String::with_capacity(query.len() + literals.iter().map(String::len).sum::<usize>());
    let (mut i, mut last) = (0, 0);
    while i < b.len() {
        match b[i] {
            q @ (b'\'' | b'"') => {
                let backslashes =
                    q == b'\'' && i > 0 && (b[i - 1] == b'e' || b[i - 1] == b'E') && (i < 2 || !ident(b[i - 2]));
                i += 1;
                while i < b.len() {
                    // A backslash escape (E'' strings) or a doubled quote: skip both bytes.
                    if (backslashes && b[i] == b'\\') || (b[i] == q && b.get(i + 1) == Some(&q)) {
                        i += 2;
                    } else if b[i] == q {
                        break;
                    } else {
                        i += 1;
                    }
                }
                i += 1;
            }
            b'-' if b.get(i + 1) == Some(&b'-') => {
                i = memchr::memchr(b'\n', &b[i..]).map_or(b.len(), |n| i + n + 1);
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                i = find(&b[i + 2..], b"*/").map_or(b.len(), |n| i + 2 + n + 2);
            }
            b'$' if i > 0 && ident(b[i - 1]) => i += 1,
            b'$' => {
                let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if digits > 0 {
                    let end = i + 1 + digits;
                    let n: usize = query[i + 1..end].parse().unwrap_or(usize::MAX);
                    let literal = n
                        .checked_sub(1)
                        .and_then(|k| literals.get(k))
                        .ok_or_else(|| Error::interface(format!("copy_from_query: no argument for ${n}")))?;
                    out.push_str(&query[last..i]);
                    out.push_str(literal);
                    last = end;
                    i = end;
                    continue;
                }
                // A dollar-quoted string: $tag$ … $tag$.
                let tag_len = b[i + 1..].iter().take_while(|&&c| ident(c)).count();
                let tag_end = i + 1 + tag_len;
                if b.get(tag_end) == Some(&b'$') && !b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    let tag = &b[i..=tag_end];
                    let body = tag_end + 1;
                    i = find(&b[body..], tag).map_or(b.len(), |n| body + n + tag.len());
                } else {
                    i += 1;
                }
            }
            _ => i += 1,
        }
    }
    out.push_str(&query[last..]);
    Ok(out)
}

/// The first position of `needle` in `hay`. A plain scan: queries are short,
/// and `memchr::memmem` would add ~6 KB to the `.wasm` for this one use.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::super::options::quote_literal as lit;
    use super::*;

    #[test]
    fn substitutes_outside_strings_and_comments() {
        let l = vec![lit("1") + "::integer", "NULL::text".to_owned()];
        assert_eq!(
            substitute_params("SELECT $1, $2 WHERE x = '$1' AND \"$2\" -- $1\n/* $2 */ AND $$ $1 $$ AND $t$ $2 $t$ AND $1", &l)
                .unwrap(),
            "SELECT '1'::integer, NULL::text WHERE x = '$1' AND \"$2\" -- $1\n/* $2 */ AND $$ $1 $$ AND $t$ $2 $t$ AND '1'::integer"
        );
        assert_eq!(substitute_params("SELECT E'\\'$1', $1", &l).unwrap(), "SELECT E'\\'$1', '1'::integer");
        assert_eq!(substitute_params("SELECT 'it''s $1', $2", &l).unwrap(), "SELECT 'it''s $1', NULL::text");
        assert!(substitute_params("SELECT $3", &l).is_err());
        assert!(substitute_params("SELECT $0", &l).is_err());
        // Unterminated things never panic.
        for q in ["'abc", "\"x", "/* x", "$a$ x", "E'\\", "$", "$1$"] {
            let _ = substitute_params(q, &l);
        }
    }
}
