//! edgepg: native tokio transport.
