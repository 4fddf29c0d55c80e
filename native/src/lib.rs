//! edgepg: native tokio transport.

// TODO(lead): used by the connector (SSLRequest / direct TLS) once it lands.
#[allow(dead_code)]
mod tls;
