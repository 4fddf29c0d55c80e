//! `require_auth`: which authentication methods the client accepts (libpq 16).
//!
//! The value is a comma-separated list of methods — `password`, `md5`,
//! `scram-sha-256`, `gss`, `sspi`, `none` — either all plain (only these are
//! allowed) or all negated with `!` (anything but these). `none` stands for a
//! connection the server lets in without any authentication exchange (`trust`,
//! `peer`, a TLS certificate alone): a plain list allows it only when it names
//! `none`; a negated list allows it unless it says `!none`.
//!
//! The startup state machine ([`crate::client::startup`]) checks every
//! authentication request of the server against it *before* answering, so a
//! password never goes out to a server that asks for a method the user did
//! not allow.
//!
//! ```
//! use edgepg_core::config::{AuthMethod, RequireAuth};
//!
//! let r: RequireAuth = "scram-sha-256".parse()?;
//! assert!(r.allows(AuthMethod::ScramSha256));
//! assert!(!r.allows(AuthMethod::Password));
//! assert!(!r.allows(AuthMethod::None));
//!
//! let r: RequireAuth = "!password,!md5".parse()?;
//! assert!(r.allows(AuthMethod::ScramSha256) && r.allows(AuthMethod::None));
//! assert!(!r.allows(AuthMethod::Md5));
//! assert_eq!(r.to_string(), "!password,!md5");
//! # Ok::<(), edgepg_core::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// One authentication method as `require_auth` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthMethod {
    /// Cleartext password (`password` in pg_hba.conf).
    Password,
    /// MD5-hashed password.
    Md5,
    /// SCRAM-SHA-256 (with or without channel binding): any SASL exchange.
    ScramSha256,
    /// GSSAPI (edgepg does not implement it; naming it is accepted for libpq compatibility).
    Gss,
    /// SSPI (not implemented by edgepg either).
    Sspi,
    /// No authentication exchange at all (trust, peer, certificate-only).
    None,
}

impl AuthMethod {
    /// Every method, in libpq's documentation order.
    pub const ALL: &'static [AuthMethod] = &[
        AuthMethod::Password,
        AuthMethod::Md5,
        AuthMethod::Gss,
        AuthMethod::Sspi,
        AuthMethod::ScramSha256,
        AuthMethod::None,
    ];

    /// The `require_auth` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Password => "password",
            AuthMethod::Md5 => "md5",
            AuthMethod::ScramSha256 => "scram-sha-256",
            AuthMethod::Gss => "gss",
            AuthMethod::Sspi => "sspi",
            AuthMethod::None => "none",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed `require_auth` value: the set of allowed methods, remembered with
/// the list as written so errors can quote it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequireAuth {
    /// One bit per [`AuthMethod`] that is allowed.
    allowed: u8,
    /// The methods as listed, in order.
    listed: Vec<AuthMethod>,
    negated: bool,
}

impl RequireAuth {
    /// True when the server may use `method`.
    pub fn allows(&self, method: AuthMethod) -> bool {
        self.allowed & method.bit() != 0
    }

    /// True for a negated list (`!md5,!password`).
    pub fn is_negated(&self) -> bool {
        self.negated
    }
}

impl FromStr for RequireAuth {
    type Err = Error;

    /// Parses a `require_auth` value. Errors are config errors naming
    /// `require_auth` and the offending method.
    fn from_str(s: &str) -> Result<RequireAuth> {
        RequireAuth::parse(s, "require_auth")
    }
}

impl RequireAuth {
    /// [`FromStr`] with errors naming `part` (the option or variable).
    pub(crate) fn parse(s: &str, part: &str) -> Result<RequireAuth> {
        let mut listed = Vec::new();
        let mut negated = None;
        for item in s.split(',') {
            let (neg, name) = match item.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, item),
            };
            if name.is_empty() {
                return Err(Error::config(part, format!("empty method in {s:?}")));
            }
            let Some(method) = AuthMethod::ALL.iter().copied().find(|m| m.as_str() == name) else {
                let names: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
                return Err(Error::config(
                    part,
                    format!("unknown authentication method {name:?} (expected one of: {}, each optionally negated with \"!\")", names.join(", ")),
                ));
            };
            match negated {
                Some(n) if n != neg => {
                    return Err(Error::config(part, format!("negative and positive methods cannot be mixed in {s:?}")))
                }
                _ => negated = Some(neg),
            }
            if listed.contains(&method) {
                return Err(Error::config(part, format!("method {name:?} is given more than once")));
            }
            listed.push(method);
        }
        let negated = negated.unwrap_or(false);
        let bits = listed.iter().fold(0u8, |acc, m| acc | m.bit());
        let all = AuthMethod::ALL.iter().fold(0u8, |acc, m| acc | m.bit());
        let allowed = if negated { all & !bits } else { bits };
        Ok(RequireAuth { allowed, listed, negated })
    }
}

impl fmt::Display for RequireAuth {
    /// The list as given (normalised spelling), e.g. `!password,!md5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, m) in self.listed.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            if self.negated {
                f.write_str("!")?;
            }
            f.write_str(m.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn parse(s: &str) -> RequireAuth {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn allowed(s: &str) -> Vec<AuthMethod> {
        let r = parse(s);
        AuthMethod::ALL.iter().copied().filter(|m| r.allows(*m)).collect()
    }

    #[test]
    fn positive_lists_allow_only_what_they_name() {
        use AuthMethod::*;
        assert_eq!(allowed("password"), [Password]);
        assert_eq!(allowed("md5,scram-sha-256"), [Md5, ScramSha256]);
        assert_eq!(allowed("none"), [None]);
        assert_eq!(allowed("scram-sha-256,none"), [ScramSha256, None]);
        assert!(!parse("scram-sha-256").is_negated());
    }

    #[test]
    fn negated_lists_allow_everything_else() {
        use AuthMethod::*;
        assert_eq!(allowed("!password"), [Md5, Gss, Sspi, ScramSha256, None]);
        assert_eq!(allowed("!none"), [Password, Md5, Gss, Sspi, ScramSha256]);
        assert_eq!(allowed("!password,!md5,!none"), [Gss, Sspi, ScramSha256]);
        assert!(parse("!md5").is_negated());
    }

    #[test]
    fn display_round_trips() {
        for s in ["password", "md5,scram-sha-256", "!password,!md5", "none", "!none"] {
            assert_eq!(parse(s).to_string(), s);
            assert_eq!(parse(&parse(s).to_string()), parse(s));
        }
    }

    #[test]
    fn bad_values_are_config_errors_naming_the_option() {
        for (bad, needle) in [
            ("scram", "unknown authentication method \"scram\""),
            ("SCRAM-SHA-256", "unknown authentication method"),
            ("md5,!password", "cannot be mixed"),
            ("!md5,password", "cannot be mixed"),
            ("md5,md5", "more than once"),
            ("!md5,!md5", "more than once"),
            ("md5,", "empty method"),
            ("!", "empty method"),
            (" md5", "unknown authentication method"),
        ] {
            let e = bad.parse::<RequireAuth>().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config, "{bad}");
            assert!(e.message().contains("`require_auth`"), "{bad}: {e}");
            assert!(e.message().contains(needle), "{bad}: {e}");
        }
    }
}
