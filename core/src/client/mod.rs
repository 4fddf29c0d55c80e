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
//! | `driver` | the background task: writes requests, routes responses |
//! | `request` | requests and responses exchanged with the driver |
//! | `shared` | state shared by handles and driver (status, parameters, listeners) |
//! | `connection` | the public API: execute/fetch/prepare/close... |
//! | `statement` | prepared statements and the LRU statement cache |
//! | `params` | argument lists (`Params`) |
//! | `row` | rows and column descriptions, decoded lazily |
//! | `listeners` | LISTEN/NOTIFY callbacks and streams, termination callbacks |
//! | `pool` | the connection pool ([`pool::Pool`]), generic over how connections are made |

mod connect;
mod connection;
mod driver;
mod listeners;
mod params;
pub mod pool;
mod request;
mod row;
mod runtime;
mod shared;
mod startup;
mod statement;
mod transport;

pub use connect::{connect, connect_stream, Connected, Connector};
pub use connection::{Connection, ServerVersion};
pub use params::Params;
pub use row::{Column, Row, RowIndex};
pub use runtime::{BoxFuture, MaybeSend, MaybeSync, Runtime};
pub use listeners::NotificationStream;
pub use shared::{LogListener, Notification, NotificationListener, TerminationListener};
pub use startup::{SessionInfo, Startup, StartupOptions, Step};
pub use statement::PreparedStatement;
pub use transport::{IoStream, Transport};
