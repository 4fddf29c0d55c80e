//! Connecting each client the way its documentation says to, with nothing
//! tuned: edgepg's `connect`, tokio-postgres' `connect` + a spawned connection task.

use crate::harness::Result;

/// An edgepg connection (its driver task is spawned on the current runtime).
pub async fn edgepg(dsn: &str) -> Result<edgepg::Connection> {
    Ok(edgepg::connect(dsn).await?)
}

/// A tokio-postgres client without TLS; the connection future is spawned on
/// the current runtime, as tokio-postgres' documentation does it.
pub async fn tokio_postgres(dsn: &str) -> Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(dsn, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("tokio-postgres connection error: {e}");
        }
    });
    Ok(client)
}
