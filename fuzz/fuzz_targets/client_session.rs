//! The whole client against a hostile server: core's `connect` /
//! `connect_pipelined` over an in-memory `Transport` that serves the fuzz
//! input as the server's bytes, in input-chosen chunk sizes, and swallows
//! everything the client writes. Then a few calls (simple and extended
//! queries, prepared statements, a transaction, a cursor, COPY in and out,
//! concurrent pipelined calls) and close.
//!
//! Input layout: byte 0 picks the configuration (password, pipelined
//! connect, channel binding, target_session_attrs, statement cache, two
//! hosts), byte 1 the calls, byte 2 seeds the read chunk sizes and, with its
//! top bit clear, makes the server answer only what was asked (it delivers
//! ReadyForQuery number n only after the client's n-th StartupMessage, Sync,
//! Query or Flush, as a real server would; with it set every byte is readable
//! at once). The rest is what the server sends, in order, across every
//! stream the client opens (a reconnect continues where the previous stream
//! stopped).
//!
//! Every authentication path is reachable: trust, cleartext, MD5 and SCRAM
//! (fuzz builds use a fixed SCRAM client nonce, so the seed corpus carries a
//! valid server signature; see fuzz/seeds.py).
//!
//! Properties: no panic, no unbounded allocation (libFuzzer's -rss_limit_mb
//! and -malloc_limit_mb), and no busy loop: the session is polled at most
//! MAX_ROUNDS times with timers that never fire, and each poll must return.
#![no_main]

use std::io;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use edgepg_core::client::{
    connect, connect_pipelined, BoxFuture, Connected, Connection, Connector, CopyOptions, Runtime, Transport,
};
use edgepg_core::config::{Config, Host};
use edgepg_core::types::Value;
use edgepg_core::{Error, ErrorKind, Result};
use futures_util::StreamExt;
use libfuzzer_sys::fuzz_target;

/// Polls of every task before the session is abandoned.
const MAX_ROUNDS: usize = 2_000;
/// Rounds without a byte moving either way before the session counts as
/// waiting for good (a busy loop would still be caught: each poll must return).
const IDLE_ROUNDS: usize = 64;
/// Streams a session may open (first connect, pipelined-connect replay,
/// cancel requests, second host).
const MAX_STREAMS: usize = 6;

/// The server side: the input bytes and how far the client has read.
struct Server {
    data: Vec<u8>,
    pos: usize,
    /// xorshift state for chunk sizes.
    rng: u32,
    streams: usize,
    /// Answer only what was asked (see [`FuzzStream::allowed_end`]); off: all input is readable at once.
    gated: bool,
    /// Bytes moved either way; the poll loop stops when this stops changing.
    progress: u64,
    /// Where the first backend message not yet read in full starts.
    msg_at: usize,
    /// A read returned end of stream.
    closed: bool,
}

impl Server {
    fn chunk(&mut self) -> usize {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 17;
        self.rng ^= self.rng << 5;
        // Mostly small chunks (messages split anywhere), sometimes all at once.
        match self.rng % 8 {
            0 => usize::MAX,
            1..=3 => 1 + (self.rng >> 8) as usize % 8,
            _ => 1 + (self.rng >> 8) as usize % 256,
        }
    }
}

#[derive(Clone)]
struct FuzzConnector(Arc<Mutex<Server>>);

/// What the client wrote on one stream, parsed just enough to count the
/// points where a server answers up to a ReadyForQuery: the StartupMessage,
/// Sync, simple Query (and Flush, which makes a server send what it has).
#[derive(Default)]
struct Written {
    started: bool,
    header: Vec<u8>,
    skip: usize,
    syncs: usize,
    cancel: bool,
}

impl Written {
    fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = &data[n..];
                continue;
            }
            let want = if self.started { 5 } else { 8 };
            let n = (want - self.header.len()).min(data.len());
            self.header.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.header.len() < want {
                return;
            }
            let h = &self.header;
            if self.started {
                let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
                if matches!(h[0], b'S' | b'Q' | b'H') {
                    self.syncs += 1;
                }
                self.skip = len.saturating_sub(4);
            } else {
                let len = u32::from_be_bytes([h[0], h[1], h[2], h[3]]) as usize;
                match u32::from_be_bytes([h[4], h[5], h[6], h[7]]) {
                    80_877_102 => self.cancel = true,
                    _ => self.syncs += 1,
                }
                self.skip = len.saturating_sub(8);
                self.started = true;
            }
            self.header.clear();
        }
    }
}

struct FuzzStream {
    server: Arc<Mutex<Server>>,
    written: Written,
    /// ReadyForQuery messages delivered on this stream.
    readies: usize,
}

impl FuzzStream {
    /// How far the server may answer: through as many ReadyForQuery
    /// messages as the client has asked for and no further, as a real
    /// server would (it never answers a request before it is sent). Input that is not framed
    /// as backend messages is all readable: it is garbage either way.
    fn allowed_end(&self, s: &Server) -> usize {
        let mut owed = self.written.syncs.saturating_sub(self.readies);
        let mut at = s.msg_at;
        while at < s.data.len() {
            let Some(h) = s.data.get(at..at + 5) else { return s.data.len() };
            let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
            if len < 4 || at + 1 + len > s.data.len() {
                return s.data.len();
            }
            if owed == 0 {
                return at.max(s.pos);
            }
            owed -= usize::from(h[0] == b'Z');
            at += 1 + len;
        }
        at
    }
}

impl Transport for FuzzStream {
    fn poll_read_buf(&mut self, _cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        let server = self.server.clone();
        let mut s = server.lock().unwrap();
        if s.pos == s.data.len() || (self.written.cancel && s.gated) {
            s.closed |= s.pos == s.data.len();
            return Poll::Ready(Ok(0));
        }
        let end = if s.gated { self.allowed_end(&s) } else { s.data.len() };
        let n = s.chunk().min(end - s.pos);
        if n == 0 {
            return Poll::Pending;
        }
        let start = s.pos;
        buf.extend_from_slice(&s.data[start..start + n]);
        s.pos += n;
        // Count the ReadyForQuery messages now read in full.
        while let Some(h) = s.data.get(s.msg_at..s.msg_at + 5) {
            let len = u32::from_be_bytes([h[1], h[2], h[3], h[4]]) as usize;
            let is_ready = h[0] == b'Z';
            if len < 4 || s.msg_at + 1 + len > s.pos {
                break;
            }
            self.readies += usize::from(is_ready);
            s.msg_at += 1 + len;
        }
        s.progress += n as u64;
        Poll::Ready(Ok(n))
    }

    fn poll_write(&mut self, _cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        self.written.feed(data);
        self.server.lock().unwrap().progress += data.len() as u64;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Connector for FuzzConnector {
    type Stream = FuzzStream;

    fn connect<'a>(
        &'a self,
        _host: &'a Host,
        _port: u16,
        _config: &'a Config,
    ) -> BoxFuture<'a, Result<Connected<FuzzStream>>> {
        let server = self.0.clone();
        Box::pin(async move {
            let mut s = server.lock().unwrap();
            s.streams += 1;
            if s.streams > MAX_STREAMS || s.pos == s.data.len() {
                return Err(Error::new(ErrorKind::Connect, "connection refused"));
            }
            drop(s);
            Ok(Connected {
                stream: FuzzStream { server: server.clone(), written: Written::default(), readies: 0 },
                tls_server_end_point: None,
            })
        })
    }
}

/// Timers never fire; spawned tasks are polled by the loop below.
struct FuzzRuntime {
    spawned: Mutex<Vec<BoxFuture<'static, ()>>>,
}

impl Runtime for FuzzRuntime {
    fn sleep(&self, _duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(std::future::pending())
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }

    fn spawn(&self, future: BoxFuture<'static, ()>) {
        self.spawned.lock().unwrap().push(future);
    }
}

/// With FUZZ_DEBUG set, prints how far each input got (to check the seeds:
/// `FUZZ_DEBUG=1 fuzz/target/*/release/client_session fuzz/corpus/client_session/*`).
fn debug() -> bool {
    static DEBUG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DEBUG.get_or_init(|| std::env::var_os("FUZZ_DEBUG").is_some())
}

/// Reads every column of every row as a `Value` (binary and text decoders).
fn read_rows(rows: &[edgepg_core::client::Row]) {
    for row in rows {
        for i in 0..row.len() {
            let _ = row.get::<Value, usize>(i);
            let _ = row.get::<Option<String>, usize>(i);
        }
    }
}

/// The calls made on a connection, chosen by the script byte.
async fn calls(conn: Arc<Connection>, rt: Arc<FuzzRuntime>, script: u8) {
    if script & 1 != 0 {
        // Two calls in flight at once: pipelined, answered in order.
        let c = conn.clone();
        rt.spawn(Box::pin(async move {
            let _ = c.execute("UPDATE t SET a = $1", &[&1i64]).await;
        }));
        let c = conn.clone();
        rt.spawn(Box::pin(async move {
            if let Ok(rows) = c.fetch("SELECT $1::text", &[&"x"]).await {
                read_rows(&rows);
            }
        }));
    }
    match (script >> 1) % 8 {
        0 => {
            let r = conn.execute("SELECT 1; SELECT 2", &[]).await;
            if debug() {
                eprintln!("execute: {r:?}");
            }
        }
        1 => {
            let rows = conn.fetch("SELECT * FROM t WHERE a = $1", &[&Value::Int4(1)]).await;
            if debug() {
                eprintln!("fetch: {:?}", rows.as_ref().map(Vec::len));
            }
            if let Ok(rows) = rows {
                read_rows(&rows);
            }
        }
        2 => {
            let _ = conn.fetchval::<String>("SELECT 'a'", &[]).await;
            let _ = conn.fetchrow("SELECT 1", &[]).await;
        }
        3 => {
            if let Ok(stmt) = conn.prepare("SELECT $1::int8, $2::text").await {
                if let Ok(rows) = stmt.fetch(&[&1i64, &"b"]).await {
                    read_rows(&rows);
                }
            }
        }
        4 => {
            if let Ok(tx) = conn.transaction().start().await {
                if let Ok(cursor) = tx.connection().cursor("SELECT generate_series(1, 10)", &[]).open().await {
                    if let Ok(rows) = cursor.fetch(3).await {
                        read_rows(&rows);
                    }
                }
                let _ = tx.commit().await;
            }
        }
        5 => {
            let records = vec![(1i64, Some("a")), (2, None)];
            let r = conn.copy_records_to_table("t", records, &CopyOptions::new()).await;
            if debug() {
                eprintln!("copy_records_to_table: {r:?}");
            }
        }
        6 => {
            if let Ok(mut stream) = conn.copy_from_query("SELECT 1", &[], &CopyOptions::new()).await {
                while let Some(Ok(_)) = stream.next().await {}
            }
        }
        _ => {
            let r = conn.copy_to_table_from_bytes("t", &b"1\ta\n"[..], &CopyOptions::new()).await;
            if debug() {
                eprintln!("copy_to_table_from_bytes: {r:?}");
            }
        }
    }
    if script & 0x80 != 0 {
        let _ = conn.execute("SELECT 3", &[]).await;
    }
    let _ = conn.close().await;
}

/// Whether the input asks for a SCRAM iteration count of 1000 or more
/// (milliseconds of PBKDF2 per execution, and nothing new to find).
fn costly(msg: &[u8]) -> bool {
    msg.windows(6).any(|w| w[0] == b'i' && w[1] == b'=' && w[2..].iter().all(u8::is_ascii_digit))
}

fuzz_target!(|data: &[u8]| {
    let [flags, script, seed, ref server @ ..] = *data else { return };
    if costly(server) {
        return;
    }
    let mut dsn = String::from("postgres://fuzz");
    if flags & 1 != 0 {
        dsn.push_str(":pencil");
    }
    dsn.push_str(if flags & 0x80 != 0 { "@h1,h2/db?sslmode=disable" } else { "@h1/db?sslmode=disable" });
    if flags & 2 != 0 {
        dsn.push_str("&pipeline_connect=password");
    }
    dsn.push_str(
        ["", "&channel_binding=disable", "&channel_binding=prefer", "&channel_binding=require"]
            [usize::from(flags >> 2) & 3],
    );
    if flags & 0x10 != 0 {
        dsn.push_str("&target_session_attrs=read-write");
    }
    if flags & 0x40 != 0 {
        dsn.push_str("&statement_cache_size=0");
    }
    let config = Config::parse(&dsn).expect("the fuzz DSNs are valid");
    let server = Arc::new(Mutex::new(Server {
        data: server.to_vec(),
        pos: 0,
        rng: u32::from(seed) | 0x100,
        streams: 0,
        gated: seed & 0x80 == 0,
        progress: 0,
        msg_at: 0,
        closed: false,
    }));
    let connector = FuzzConnector(server.clone());
    let rt = Arc::new(FuzzRuntime { spawned: Mutex::new(Vec::new()) });
    let runtime: Arc<dyn Runtime> = rt.clone();
    let pipelined = flags & 0x20 != 0;

    let session_rt = rt.clone();
    let mut main: BoxFuture<'static, ()> = Box::pin(async move {
        let conn = if pipelined {
            connect_pipelined(&config, &connector, runtime).await
        } else {
            connect(&config, &connector, runtime).await
        };
        if debug() {
            eprintln!("connect: {:?}", conn.as_ref().map(|_| ()));
        }
        if let Ok(conn) = conn {
            calls(Arc::new(conn), session_rt, script).await;
        }
    });

    let mut cx = Context::from_waker(Waker::noop());
    let mut main_done = false;
    let mut tasks: Vec<Option<BoxFuture<'static, ()>>> = Vec::new();
    let (mut last_progress, mut idle_rounds) = (u64::MAX, 0);
    for _ in 0..MAX_ROUNDS {
        if !main_done {
            main_done = main.as_mut().poll(&mut cx).is_ready();
        }
        tasks.extend(rt.spawned.lock().unwrap().drain(..).map(Some));
        for slot in tasks.iter_mut() {
            if let Some(task) = slot {
                if task.as_mut().poll(&mut cx).is_ready() {
                    *slot = None;
                }
            }
        }
        if main_done && tasks.iter().all(Option::is_none) && rt.spawned.lock().unwrap().is_empty() {
            break;
        }
        // Everything waits (for the server, or a timer that never fires).
        let progress = server.lock().unwrap().progress;
        if progress == last_progress {
            idle_rounds += 1;
            if idle_rounds == IDLE_ROUNDS {
                break;
            }
        } else {
            (last_progress, idle_rounds) = (progress, 0);
        }
    }
    // Once the server has closed the connection (all input read, end of
    // stream seen) and answered everything at once, the calls must end: a
    // call still waiting then would wait forever in real life too.
    let s = server.lock().unwrap();
    if !s.gated && s.closed && s.pos == s.data.len() {
        assert!(main_done, "a call still waits after the server closed the connection");
    }
    drop(s);
    // Dropping unfinished futures and tasks must not panic either.
    drop(main);
    drop(tasks);
});
