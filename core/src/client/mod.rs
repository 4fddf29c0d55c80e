//! The client: [`Connection`], [`Row`], [`PreparedStatement`] and the driver
//! task behind them — written once, generic over a [`Transport`] and a
//! [`Runtime`], and used unchanged by the native and wasm crates.
//!
//! Map of this module:
//!
//! | module | concern |
//! |---|---|
//! | `runtime` | timers, clock, spawning (supplied by the transport crate) |
//! | `transport` | the byte-stream trait a connection runs over |
//! | `startup` | sans-io startup + authentication state machine |
//! | `connect` | host selection, timeouts, startup over a stream, spawning the driver |
//! | `pipelined` | lazily started connections: startup finished by the driver, first requests in the same flight |
//! | `first_flight` | a statement-cache miss while startup is pipelined: Parse+Describe+Bind+Execute in one go |
//! | `driver` | the background task: writes requests, routes responses |
//! | `request` | requests and responses exchanged with the driver |
//! | `shared` | state shared by handles and driver (status, parameters, listeners) |
//! | `connection` | the public API: execute/fetch/prepare/close... |
//! | `statement` | prepared statements and the LRU statement cache |
//! | `params` | argument lists (`Params`) |
//! | `row` | rows and column descriptions, decoded lazily |
//! | `listeners` | LISTEN/NOTIFY callbacks and streams, termination callbacks |
//! | `query_log` | query loggers: text, argument count, elapsed time and error of every call |
//! | `copy` | COPY in and out: options, record encoding, streaming |
//! | `transaction` | transactions, savepoints, rollback of dropped transactions |
//! | `cursor` | server-side cursors: row streams with prefetch, cursor objects |
//! | `batch` | explicit batches: several statements in one flight |
//! | `results` | results statement by statement with tags and columns (`query_results`), chosen columns in text format |
//! | `pool` | the connection pool ([`pool::Pool`]), generic over how connections are made |

mod batch;
mod cancel;
mod connect;
mod connection;
mod copy;
mod cursor;
mod driver;
mod duration_text;
mod first_flight;
mod from_row;
mod listeners;
mod params;
mod pipelined;
pub mod pool;
mod query_log;
mod request;
mod results;
mod row;
mod runtime;
mod session_attrs;
mod shared;
mod startup;
mod statement;
mod timeout;
mod transaction;
mod transport;
mod type_catalog;

pub use batch::{Batch, BatchResult};
pub use cancel::CancelToken;
pub use connect::{connect, connect_stream, Connected, Connector};
pub use connection::{Connection, ServerVersion};
pub use copy::{BoxError, CopyFormat, CopyOptions, CopyOutStream};
pub use cursor::{Cursor, CursorFactory, DEFAULT_PREFETCH};
#[doc(hidden)]
pub use from_row::field as __from_row_field;
pub use from_row::FromRow;
pub use listeners::NotificationStream;
pub use params::Params;
pub use pipelined::connect_pipelined;
pub use query_log::{LoggedQuery, QueryLogger};
pub use results::{PickColumns, StatementResult, TextColumns};
pub use row::{Column, RawValues, Row, RowIndex};
pub use runtime::{BoxFuture, MaybeSend, MaybeSync, Runtime};
pub use shared::{LogListener, Notification, NotificationListener, TerminationListener};
pub use startup::{SessionInfo, Startup, StartupOptions, Step};
pub use statement::PreparedStatement;
pub use timeout::WithTimeout;
pub use transaction::{Isolation, Transaction, TransactionBuilder};
pub use transport::{IoStream, Transport};
pub use type_catalog::TypeTarget;
