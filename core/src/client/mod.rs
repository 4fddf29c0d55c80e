//! The client: [`Connection`], [`Row`], [`PreparedStatement`] and the driver
//! task behind them — written once, generic over a [`Transport`] and a
//! [`Runtime`], and used unchanged by the native and wasm crates.
//!
//! Map of this module, lowest layer first (a module uses only modules of
//! lower layers: no import cycle, checked by `core/tests/module_cycles.rs`):
//!
//! | module | concern |
//! |---|---|
//! | `runtime` | timers, clock, spawning (supplied by the transport crate) |
//! | `transport` | the byte-stream trait a connection runs over, and the `Connector` that opens one |
//! | `startup` | sans-io startup + authentication state machine |
//! | `row`, `params`, `from_row`, `formats` | rows and columns, argument lists, row mapping, result formats (`TextColumns`) |
//! | `request` | requests and responses exchanged with the driver |
//! | `shared` | state shared by handles and driver (status, parameters, callback types) |
//! | `statement` | server-side statements and the LRU statement cache |
//! | `cancel` | CancelRequest on a second stream; the drop-cancel decision |
//! | `pipelined_startup` | the driver's state while a pipelined connect's startup runs |
//! | `driver` | the background task: writes requests, routes responses |
//! | `handle` | the `Connection` type, `ConnInner` and the query primitives every operation uses |
//! | `prepared` | prepared statements (`PreparedStatement`) |
//! | `type_catalog` | user types learnt from `pg_type`, custom codecs |
//! | `query_log` | query loggers: text, argument count, elapsed time and error of every call |
//! | `one_flight` | Parse+Describe+Bind+Execute+Sync in one flight (a cache miss during a pipelined startup, `query_results`) |
//! | `listeners` | LISTEN/NOTIFY callbacks and streams, termination callbacks |
//! | `copy` | COPY in and out: options, record encoding, streaming |
//! | `transaction` | transactions, savepoints, rollback of dropped transactions |
//! | `cursor` | server-side cursors: row streams with prefetch, cursor objects |
//! | `batch` | explicit batches: several statements in one flight |
//! | `results` | results statement by statement with tags and columns (`query_results`) |
//! | `streamed` | rows handed over batch by batch as they arrive (`fetch_batches`) |
//! | `timeout` | per-call timeouts (`with_timeout`) and the cancel they trigger |
//! | `session_attrs` | `target_session_attrs`: is this server primary or standby |
//! | `connection` | the public API of `Connection`: execute/fetch/prepare/close... |
//! | `connect` | host selection, timeouts, startup over a stream, spawning the driver |
//! | `pipelined` | pipelined connect: startup finished by the driver, first requests in the same flight |
//! | `pool` | the connection pool ([`pool::Pool`]), generic over how connections are made |

mod batch;
mod cancel;
mod connect;
mod connection;
mod copy;
mod cursor;
mod driver;
mod duration_text;
mod formats;
mod from_row;
mod handle;
mod listeners;
mod one_flight;
mod params;
mod pipelined;
mod pipelined_startup;
pub mod pool;
mod prepared;
mod query_log;
mod request;
mod results;
mod row;
mod runtime;
mod session;
mod session_attrs;
mod shared;
#[cfg(test)]
mod sim;
#[cfg(test)]
mod sim_tests;
mod startup;
mod statement;
mod streamed;
mod timeout;
mod transaction;
mod transport;
mod type_catalog;

pub use batch::{Batch, BatchResult};
pub use cancel::CancelToken;
pub use connect::{connect, connect_stream};
pub use copy::{BoxError, CopyFormat, CopyOptions, CopyOutStream};
pub use cursor::{Cursor, CursorFactory, DEFAULT_PREFETCH};
pub use formats::{PickColumns, TextColumns};
#[doc(hidden)]
pub use from_row::field as __from_row_field;
pub use from_row::FromRow;
pub use handle::Connection;
pub use listeners::NotificationStream;
pub use params::Params;
pub use pipelined::connect_pipelined;
pub use prepared::PreparedStatement;
pub use request::StatementResult;
pub use row::{Column, RawValues, Row, RowIndex};
pub use runtime::{BoxFuture, MaybeSend, MaybeSync, Runtime};
pub use shared::{
    LogListener, LoggedQuery, Notification, NotificationListener, QueryLogger, ServerVersion, TerminationListener,
};
pub use startup::{SessionInfo, Startup, StartupOptions, Step};
pub use timeout::WithTimeout;
pub use transaction::{Isolation, Transaction, TransactionBuilder};
pub use transport::{Connected, Connector, IoStream, Transport};
pub use type_catalog::TypeTarget;
