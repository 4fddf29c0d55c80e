//! # edgepg-proxy — a self-hosted Neon-compatible gateway to PostgreSQL
//!
//! Browsers and edge runtimes speak WebSocket and HTTP, not PostgreSQL's TCP
//! protocol. This proxy stands in front of an ordinary PostgreSQL and speaks
//! both the way Neon's own proxy does, so `@neondatabase/serverless`, edgepg's
//! npm package and anything else written for Neon work against it:
//!
//! * [`ws`]: `GET /v1?address=host:port` or `/v2` upgrades to a WebSocket whose
//!   binary frames are relayed to and from one TCP connection;
//! * [`sql`]: `POST /sql` runs `{query, params}` or `{queries: [...]}` (one
//!   transaction) on pooled connections of edgepg's native client and answers
//!   with Neon's JSON.
//!
//! It refuses every target until the operator allows some ([`allow`]), caps
//! sizes, times and connections, terminates TLS, and shuts down gracefully
//! ([`server`]). Configuration: [`settings`].
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use edgepg_proxy::{allow::AllowList, settings::Settings, server::Proxy};
//! let settings = Settings { allow: AllowList::parse(&["127.0.0.1:5432"]).unwrap(), ..Settings::default() };
//! let proxy = Proxy::bind(settings).await?;
//! println!("listening on {}", proxy.local_addr());
//! proxy.run(async { tokio::signal::ctrl_c().await.ok(); }).await;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod allow;
pub mod http;
pub mod log;
pub mod server;
pub mod settings;
pub mod sql;
pub mod ws;
