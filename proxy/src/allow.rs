//! Which PostgreSQL servers the proxy may connect to.
//!
//! A proxy that connects wherever a client asks is an open relay: anyone who
//! can reach it can use it to reach (and scan) every host it can reach. So
//! nothing is allowed until the operator lists targets, and a target is
//! checked by the name the client gave, before any DNS lookup or connection.

use std::fmt;

/// One allowed target: `HOST:PORT`, `*.domain:PORT`, `HOST:*`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    host: HostPattern,
    /// `None`: any port.
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// The name or address itself (compared without case).
    Exact(String),
    /// `*.example.com`: any name ending in `.example.com` (not the domain itself).
    Suffix(String),
    /// `*`: any host. Only with an explicit rule.
    Any,
}

/// The allowed targets; empty (nothing allowed) by default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList {
    rules: Vec<Rule>,
}

impl AllowList {
    /// Parses rules like `127.0.0.1:5432`, `[::1]:5432`, `*.db.internal:5432`, `localhost:*`.
    ///
    /// ```
    /// let list = edgepg_proxy::allow::AllowList::parse(&["*.db.internal:5432", "localhost:*"]).unwrap();
    /// assert!(list.allows("a.db.internal", 5432));
    /// assert!(list.allows("LOCALHOST", 6543));
    /// assert!(!list.allows("db.internal", 5432));
    /// assert!(!list.allows("a.db.internal", 5433));
    /// ```
    pub fn parse<S: AsRef<str>>(rules: &[S]) -> Result<AllowList, String> {
        let rules = rules.iter().map(|r| parse_rule(r.as_ref())).collect::<Result<_, _>>()?;
        Ok(AllowList { rules })
    }

    /// Whether `host:port` may be reached.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let host = normalise(host);
        self.rules.iter().any(|r| {
            r.port.map_or(true, |p| p == port)
                && match &r.host {
                    HostPattern::Exact(h) => *h == host,
                    HostPattern::Suffix(s) => host.len() > s.len() && host.ends_with(s.as_str()),
                    HostPattern::Any => true,
                }
        })
    }

    /// Whether no target at all is allowed.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether a rule allows every host (worth a warning at startup).
    pub fn allows_any_host(&self) -> bool {
        self.rules.iter().any(|r| r.host == HostPattern::Any)
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.rules.is_empty() {
            return f.write_str("(nothing)");
        }
        for (i, r) in self.rules.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            match &r.host {
                HostPattern::Exact(h) if h.contains(':') => write!(f, "[{h}]")?,
                HostPattern::Exact(h) => f.write_str(h)?,
                HostPattern::Suffix(s) => write!(f, "*{s}")?,
                HostPattern::Any => f.write_str("*")?,
            }
            match r.port {
                Some(p) => write!(f, ":{p}")?,
                None => f.write_str(":*")?,
            }
        }
        Ok(())
    }
}

/// Lower case, without the brackets of an IPv6 literal or a trailing dot.
fn normalise(host: &str) -> String {
    let h = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    h.trim_end_matches('.').to_ascii_lowercase()
}

fn parse_rule(rule: &str) -> Result<Rule, String> {
    let bad = || format!("allow rule {rule:?}: expected HOST:PORT (HOST may be *.domain or *, PORT may be *)");
    let (host, port) = split_host_port(rule.trim()).ok_or_else(bad)?;
    let port = match port {
        "*" => None,
        p => Some(p.parse::<u16>().map_err(|_| bad())?),
    };
    let host = if host == "*" {
        HostPattern::Any
    } else if let Some(domain) = host.strip_prefix("*.") {
        let domain = normalise(domain);
        if domain.is_empty() || domain.contains('*') {
            return Err(bad());
        }
        HostPattern::Suffix(format!(".{domain}"))
    } else {
        let host = normalise(host);
        if host.is_empty() || host.contains('*') {
            return Err(bad());
        }
        HostPattern::Exact(host)
    };
    Ok(Rule { host, port })
}

/// Splits `host:port` and `[v6]:port`; `None` without a port.
pub fn split_host_port(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('[') {
        let end = rest.find(']')?;
        let port = rest[end + 1..].strip_prefix(':')?;
        return Some((&s[..end + 2], port));
    }
    let (host, port) = s.rsplit_once(':')?;
    if host.contains(':') {
        return None; // an IPv6 address needs brackets
    }
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        let list = AllowList::parse(&["127.0.0.1:5432", "[::1]:5432", "*.Example.com:*"]).unwrap();
        assert!(list.allows("127.0.0.1", 5432));
        assert!(!list.allows("127.0.0.1", 5433));
        assert!(!list.allows("127.0.0.2", 5432));
        assert!(list.allows("::1", 5432) && list.allows("[::1]", 5432));
        assert!(list.allows("db.example.com", 1) && list.allows("DB.EXAMPLE.COM.", 2));
        assert!(!list.allows("example.com", 5432) && !list.allows("badexample.com", 5432));
        assert_eq!(list.to_string(), "127.0.0.1:5432, [::1]:5432, *.example.com:*");
        assert!(!list.allows_any_host());
        assert!(AllowList::parse(&["*:5432"]).unwrap().allows_any_host());
    }

    #[test]
    fn empty_allows_nothing_and_bad_rules_fail() {
        let list = AllowList::default();
        assert!(list.is_empty() && !list.allows("localhost", 5432));
        for bad in ["db", "db:", "db:x", ":5432", "::1:5432", "a*b:1", "*.:1", "db:70000", "[::1]5432"] {
            assert!(AllowList::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
