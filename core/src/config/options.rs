//! The small value types of a [`Config`](super::Config): hosts and the enum-valued options.
//!
//! Every enum parses the exact lower-case spelling libpq uses (`verify-full`,
//! `prefer-standby`, ...) with `FromStr` and prints it back with `Display`, so
//! a parsed value round-trips into a DSN.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// One server to try, from the `host` option.
///
/// A value that starts with `/` is the *directory* of a Unix-domain socket
/// (the socket file inside it is `.s.PGSQL.<port>`), as in libpq; anything else
/// is a host name or an IP address for TCP.
///
/// ```
/// use edgepg_core::config::Host;
/// assert_eq!(Host::parse("/var/run/postgresql"), Host::Unix("/var/run/postgresql".into()));
/// assert_eq!(Host::parse("db.example.com"), Host::Tcp("db.example.com".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// A host name or IP address (IPv6 without brackets) reached over TCP.
    Tcp(String),
    /// The directory holding a Unix-domain socket.
    Unix(String),
}

impl Host {
    /// Classifies a `host` value: a leading `/` means a Unix socket directory.
    pub fn parse(s: &str) -> Host {
        if s.starts_with('/') {
            Host::Unix(s.to_owned())
        } else {
            Host::Tcp(s.to_owned())
        }
    }

    /// The host name or directory as given.
    pub fn as_str(&self) -> &str {
        match self {
            Host::Tcp(s) | Host::Unix(s) => s,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Defines a fieldless enum whose values are spelled as in libpq, with `as_str`,
/// `Display`, `FromStr` (error naming the option) and `Default`.
macro_rules! keyword_enum {
    (
        $(#[$meta:meta])*
        $name:ident, option = $option:literal, default = $default:ident,
        { $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order libpq documents them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The libpq spelling of this value.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::$default
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = Error;

            /// Parses the libpq spelling; anything else is a config error naming the option.
            fn from_str(s: &str) -> Result<$name> {
                match s {
                    $( $text => Ok($name::$variant), )+
                    _ => Err(Error::config(
                        $option,
                        format!("invalid value {:?} (expected one of: {})", s, [$($text),+].join(", ")),
                    )),
                }
            }
        }
    };
}

keyword_enum! {
    /// Whether and how to use TLS (`sslmode`). The default is `prefer`.
    SslMode, option = "sslmode", default = Prefer, {
        /// Never use TLS.
        Disable = "disable",
        /// Try without TLS first, use TLS if the server insists.
        Allow = "allow",
        /// Try TLS first, fall back to plaintext if the server does not offer it.
        Prefer = "prefer",
        /// Require TLS but do not verify the certificate (unless `sslrootcert` is set,
        /// which libpq treats as `verify-ca`).
        Require = "require",
        /// Require TLS and a certificate signed by a trusted CA.
        VerifyCa = "verify-ca",
        /// Like `verify-ca`, and the certificate must name the host.
        VerifyFull = "verify-full",
    }
}

impl SslMode {
    /// True for the modes that fail rather than connect without TLS.
    pub fn requires_tls(self) -> bool {
        matches!(self, SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

keyword_enum! {
    /// How TLS is started (`sslnegotiation`). The default is `postgres`.
    SslNegotiation, option = "sslnegotiation", default = Postgres, {
        /// Send an SSLRequest first and start TLS if the server agrees.
        Postgres = "postgres",
        /// Start TLS right away with ALPN `postgresql` (PostgreSQL 17+); needs
        /// `sslmode=require` or stronger.
        Direct = "direct",
    }
}

keyword_enum! {
    /// SCRAM channel binding (`channel_binding`). The default is `prefer`.
    ChannelBindingMode, option = "channel_binding", default = Prefer, {
        /// Never use channel binding.
        Disable = "disable",
        /// Use it when the server and the TLS connection support it.
        Prefer = "prefer",
        /// Fail unless the server authenticates with SCRAM-SHA-256-PLUS.
        Require = "require",
    }
}

keyword_enum! {
    /// Whether the password is sent before the server asks for it
    /// (`pipeline_connect`, Neon's `pipelineConnect`). The default is `disable`.
    ///
    /// With `password` the cleartext PasswordMessage follows the StartupMessage
    /// in the same write, saving one round trip when the server uses `password`
    /// authentication (as Neon's proxy does over WebSocket). The password then
    /// goes out before the server has said how it wants to authenticate, so use
    /// it only over an encrypted stream (`wss`, TLS) to a server you trust. If
    /// the server asks for SCRAM, MD5 or nothing instead, edgepg reconnects once
    /// without pipelining.
    PipelineConnect, option = "pipeline_connect", default = Disable, {
        /// Wait for the server's authentication request (the normal exchange).
        Disable = "disable",
        /// Send the cleartext password right after the StartupMessage.
        Password = "password",
    }
}

keyword_enum! {
    /// Which kind of server a connection must reach (`target_session_attrs`).
    /// The default is `any`.
    TargetSessionAttrs, option = "target_session_attrs", default = Any, {
        /// Any server that accepts the connection.
        Any = "any",
        /// A server that accepts writes (`transaction_read_only` is off).
        ReadWrite = "read-write",
        /// A server that does not accept writes.
        ReadOnly = "read-only",
        /// A server that is not in hot standby.
        Primary = "primary",
        /// A server in hot standby.
        Standby = "standby",
        /// A standby if one is reachable, otherwise any server.
        PreferStandby = "prefer-standby",
    }
}

keyword_enum! {
    /// The order in which hosts are tried (`load_balance_hosts`). The default is `disable`.
    LoadBalanceHosts, option = "load_balance_hosts", default = Disable, {
        /// In the order given.
        Disable = "disable",
        /// In a random order (and the addresses of each host shuffled too).
        Random = "random",
    }
}

/// Where trusted CA certificates come from (`sslrootcert`).
///
/// ```
/// use edgepg_core::config::SslRootCert;
/// assert_eq!(SslRootCert::parse("system"), SslRootCert::System);
/// assert_eq!(SslRootCert::parse("/etc/ca.pem"), SslRootCert::File("/etc/ca.pem".into()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SslRootCert {
    /// The special value `system`: the platform's trust store. As in libpq it
    /// makes `verify-full` the default `sslmode` and forbids weaker explicit modes.
    System,
    /// A PEM file (read by the transport, not by core).
    File(String),
}

impl SslRootCert {
    /// Parses an `sslrootcert` value.
    pub fn parse(s: &str) -> SslRootCert {
        if s == "system" {
            SslRootCert::System
        } else {
            SslRootCert::File(s.to_owned())
        }
    }
}

impl fmt::Display for SslRootCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SslRootCert::System => f.write_str("system"),
            SslRootCert::File(p) => f.write_str(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn round_trip<T>(all: &[T])
    where
        T: Copy + fmt::Display + FromStr<Err = Error> + PartialEq + fmt::Debug,
    {
        for &v in all {
            assert_eq!(v.to_string().parse::<T>().unwrap(), v);
        }
    }

    #[test]
    fn every_value_round_trips() {
        round_trip(SslMode::ALL);
        round_trip(SslNegotiation::ALL);
        round_trip(ChannelBindingMode::ALL);
        round_trip(TargetSessionAttrs::ALL);
        round_trip(LoadBalanceHosts::ALL);
        assert_eq!(SslMode::ALL.len(), 6);
        assert_eq!(TargetSessionAttrs::ALL.len(), 6);
    }

    #[test]
    fn spellings() {
        let cases: &[(&str, SslMode)] = &[
            ("disable", SslMode::Disable),
            ("allow", SslMode::Allow),
            ("prefer", SslMode::Prefer),
            ("require", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
        ];
        for &(s, m) in cases {
            assert_eq!(s.parse::<SslMode>().unwrap(), m);
        }
        let tsa: &[(&str, TargetSessionAttrs)] = &[
            ("any", TargetSessionAttrs::Any),
            ("read-write", TargetSessionAttrs::ReadWrite),
            ("read-only", TargetSessionAttrs::ReadOnly),
            ("primary", TargetSessionAttrs::Primary),
            ("standby", TargetSessionAttrs::Standby),
            ("prefer-standby", TargetSessionAttrs::PreferStandby),
        ];
        for &(s, m) in tsa {
            assert_eq!(s.parse::<TargetSessionAttrs>().unwrap(), m);
        }
        assert_eq!("direct".parse::<SslNegotiation>().unwrap(), SslNegotiation::Direct);
        assert_eq!("require".parse::<ChannelBindingMode>().unwrap(), ChannelBindingMode::Require);
        assert_eq!("random".parse::<LoadBalanceHosts>().unwrap(), LoadBalanceHosts::Random);
    }

    #[test]
    fn defaults() {
        assert_eq!(SslMode::default(), SslMode::Prefer);
        assert_eq!(SslNegotiation::default(), SslNegotiation::Postgres);
        assert_eq!(ChannelBindingMode::default(), ChannelBindingMode::Prefer);
        assert_eq!(TargetSessionAttrs::default(), TargetSessionAttrs::Any);
        assert_eq!(LoadBalanceHosts::default(), LoadBalanceHosts::Disable);
    }

    #[test]
    fn bad_values_name_the_option() {
        for bad in ["", "Require", "verify_full", "true"] {
            let e = bad.parse::<SslMode>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(e.message().contains("`sslmode`"), "{}", e.message());
        }
        let e = "x".parse::<TargetSessionAttrs>().unwrap_err();
        assert!(e.message().contains("`target_session_attrs`"));
        assert!(e.message().contains("prefer-standby"));
    }

    #[test]
    fn requires_tls() {
        assert!(!SslMode::Prefer.requires_tls());
        assert!(SslMode::Require.requires_tls());
        assert!(SslMode::VerifyFull.requires_tls());
    }

    #[test]
    fn hosts() {
        assert_eq!(Host::parse("/tmp"), Host::Unix("/tmp".into()));
        assert_eq!(Host::parse("::1"), Host::Tcp("::1".into()));
        assert_eq!(Host::parse("localhost").to_string(), "localhost");
        assert_eq!(SslRootCert::parse("system").to_string(), "system");
    }
}
