//! `target_session_attrs`: does a freshly opened session fit what the DSN asks for?
//!
//! PostgreSQL 14 and later report `default_transaction_read_only` and
//! `in_hot_standby` as ParameterStatus during startup, so the answer usually
//! costs nothing. Older servers are asked with `SHOW transaction_read_only`
//! or `SELECT pg_is_in_recovery()`, only when the setting needs it (like libpq).
//!
//! | target_session_attrs | accepts a server that |
//! |---|---|
//! | `any` | answers |
//! | `read-write` | accepts writes: not in hot standby, `default_transaction_read_only` off |
//! | `read-only` | does not accept writes by default (read-only or hot standby) |
//! | `primary` | is not in hot standby |
//! | `standby` | is in hot standby |
//! | `prefer-standby` | is in hot standby; else, failing every host, the first usable one |

use bytes::BytesMut;

use super::handle::Connection;
use crate::config::TargetSessionAttrs;
use crate::protocol::frontend;
use crate::{Error, Result};

/// What to do with a session.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It fits.
    Accept,
    /// It does not fit (the reason says why); close it and try the next host.
    Reject(String),
    /// `prefer-standby` on a non-standby: use it if no standby answers.
    Fallback(String),
}

/// What is known about a session, from ParameterStatus or a query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    /// `in_hot_standby` (PG14+), or `pg_is_in_recovery()`.
    pub(crate) hot_standby: Option<bool>,
    /// `default_transaction_read_only` (PG14+), or `transaction_read_only`.
    pub(crate) read_only: Option<bool>,
}

impl Facts {
    /// The facts the server reported during startup.
    pub(crate) fn from_parameters(get: impl Fn(&str) -> Option<String>) -> Facts {
        let flag = |name: &str| get(name).map(|v| v == "on");
        Facts { hot_standby: flag("in_hot_standby"), read_only: flag("default_transaction_read_only") }
    }

    /// Whether the session refuses writes by default, when known.
    fn refuses_writes(&self) -> Option<bool> {
        match (self.hot_standby, self.read_only) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (Some(false), Some(false)) => Some(false),
            // Before PG14 neither is reported; `transaction_read_only` from
            // SHOW covers hot standby too.
            (None, Some(false)) => Some(false),
            (_, None) => None,
        }
    }
}

/// What must still be asked of the server to decide `attrs`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    Nothing,
    ReadOnly,
    HotStandby,
}

pub(crate) fn missing(attrs: TargetSessionAttrs, facts: &Facts) -> Missing {
    match attrs {
        TargetSessionAttrs::Any => Missing::Nothing,
        TargetSessionAttrs::ReadWrite | TargetSessionAttrs::ReadOnly if facts.refuses_writes().is_none() => {
            Missing::ReadOnly
        }
        TargetSessionAttrs::Primary | TargetSessionAttrs::Standby | TargetSessionAttrs::PreferStandby
            if facts.hot_standby.is_none() =>
        {
            Missing::HotStandby
        }
        _ => Missing::Nothing,
    }
}

/// The decision, once [`missing`] says nothing is missing.
pub(crate) fn verdict(attrs: TargetSessionAttrs, facts: &Facts) -> Verdict {
    let want = attrs.as_str();
    let standby = facts.hot_standby.unwrap_or(false);
    let read_only = facts.refuses_writes().unwrap_or(false);
    let why_read_only = || {
        if standby {
            "the server is in hot standby (recovery)".to_owned()
        } else {
            "the session is read-only (default_transaction_read_only=on)".to_owned()
        }
    };
    match attrs {
        TargetSessionAttrs::Any => Verdict::Accept,
        TargetSessionAttrs::ReadWrite if read_only => {
            Verdict::Reject(format!("{}, but target_session_attrs={want}", why_read_only()))
        }
        TargetSessionAttrs::ReadOnly if !read_only => {
            Verdict::Reject(format!("the session accepts writes, but target_session_attrs={want}"))
        }
        TargetSessionAttrs::Primary if standby => {
            Verdict::Reject(format!("the server is in hot standby, but target_session_attrs={want}"))
        }
        TargetSessionAttrs::Standby if !standby => {
            Verdict::Reject(format!("the server is not in hot standby, but target_session_attrs={want}"))
        }
        TargetSessionAttrs::PreferStandby if !standby => {
            Verdict::Fallback("the server is not in hot standby (kept in case no standby answers)".to_owned())
        }
        _ => Verdict::Accept,
    }
}

/// Decides whether `conn` fits `attrs`, asking the server only when the
/// startup parameters do not tell.
pub(crate) async fn check(conn: &Connection, attrs: TargetSessionAttrs) -> Result<Verdict> {
    let mut facts = Facts::from_parameters(|name| conn.get_setting(name));
    match missing(attrs, &facts) {
        Missing::Nothing => {}
        Missing::ReadOnly => facts.read_only = Some(ask(conn, "SHOW transaction_read_only").await? == "on"),
        Missing::HotStandby => {
            facts.hot_standby = Some(ask(conn, "SELECT pg_catalog.pg_is_in_recovery()::text").await? == "true")
        }
    }
    Ok(verdict(attrs, &facts))
}

/// Runs `sql` with the simple protocol (nothing enters the statement cache)
/// and returns the first value as text.
async fn ask(conn: &Connection, sql: &str) -> Result<String> {
    let mut buf = BytesMut::with_capacity(sql.len() + 6);
    frontend::query(sql, &mut buf)?;
    let response = conn.inner.request(buf, 1, None).await?;
    let row = response
        .results
        .into_iter()
        .next()
        .and_then(|r| r.rows.into_iter().next())
        .ok_or_else(|| Error::protocol(format!("`{sql}` returned no row")))?;
    row.get::<String, _>(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use TargetSessionAttrs as T;

    fn facts(hot_standby: Option<bool>, read_only: Option<bool>) -> Facts {
        Facts { hot_standby, read_only }
    }

    #[test]
    fn parameters_are_read() {
        let f = Facts::from_parameters(|n| match n {
            "in_hot_standby" => Some("off".into()),
            "default_transaction_read_only" => Some("on".into()),
            _ => None,
        });
        assert_eq!(f, facts(Some(false), Some(true)));
        assert_eq!(Facts::from_parameters(|_| None), facts(None, None));
    }

    #[test]
    fn pg14_primary() {
        let f = facts(Some(false), Some(false));
        for attrs in T::ALL {
            assert_eq!(missing(*attrs, &f), Missing::Nothing);
        }
        assert_eq!(verdict(T::Any, &f), Verdict::Accept);
        assert_eq!(verdict(T::ReadWrite, &f), Verdict::Accept);
        assert!(matches!(verdict(T::ReadOnly, &f), Verdict::Reject(_)));
        assert_eq!(verdict(T::Primary, &f), Verdict::Accept);
        assert!(matches!(verdict(T::Standby, &f), Verdict::Reject(_)));
        assert!(matches!(verdict(T::PreferStandby, &f), Verdict::Fallback(_)));
    }

    #[test]
    fn pg14_read_only_primary() {
        let f = facts(Some(false), Some(true));
        match verdict(T::ReadWrite, &f) {
            Verdict::Reject(why) => assert!(why.contains("default_transaction_read_only"), "{why}"),
            v => panic!("{v:?}"),
        }
        assert_eq!(verdict(T::ReadOnly, &f), Verdict::Accept);
        assert_eq!(verdict(T::Primary, &f), Verdict::Accept);
    }

    #[test]
    fn pg14_standby() {
        // A standby may report default_transaction_read_only=off; it still refuses writes.
        let f = facts(Some(true), Some(false));
        match verdict(T::ReadWrite, &f) {
            Verdict::Reject(why) => assert!(why.contains("hot standby"), "{why}"),
            v => panic!("{v:?}"),
        }
        assert_eq!(verdict(T::ReadOnly, &f), Verdict::Accept);
        assert!(matches!(verdict(T::Primary, &f), Verdict::Reject(_)));
        assert_eq!(verdict(T::Standby, &f), Verdict::Accept);
        assert_eq!(verdict(T::PreferStandby, &f), Verdict::Accept);
    }

    #[test]
    fn old_servers_are_asked() {
        let f = facts(None, None);
        assert_eq!(missing(T::Any, &f), Missing::Nothing);
        assert_eq!(missing(T::ReadWrite, &f), Missing::ReadOnly);
        assert_eq!(missing(T::ReadOnly, &f), Missing::ReadOnly);
        assert_eq!(missing(T::Primary, &f), Missing::HotStandby);
        assert_eq!(missing(T::Standby, &f), Missing::HotStandby);
        assert_eq!(missing(T::PreferStandby, &f), Missing::HotStandby);
        // After SHOW transaction_read_only = on:
        assert!(matches!(verdict(T::ReadWrite, &facts(None, Some(true))), Verdict::Reject(_)));
        assert_eq!(verdict(T::ReadWrite, &facts(None, Some(false))), Verdict::Accept);
        // After pg_is_in_recovery() = true:
        assert_eq!(verdict(T::Standby, &facts(Some(true), None)), Verdict::Accept);
    }
}
