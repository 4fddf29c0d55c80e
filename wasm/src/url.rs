//! The WebSocket URL for a PostgreSQL `host:port`, built exactly like Neon's
//! serverless driver does (`wsProxyAddrForHost` + the scheme).

use edgepg_core::{Error, Result};

/// Where a URL without scheme comes from.
pub(crate) enum Target<'a> {
    /// No `ws_proxy`: Neon's default, `<host>/v2`.
    Default,
    /// A proxy prefix; `?address=<host>:<port>` is appended.
    Prefix(&'a str),
    /// A complete URL returned by a user function.
    Computed(String),
}

/// Builds the URL: the target's address, then `wss://` or `ws://` in front
/// unless the address already names a scheme.
///
/// ```text
/// Default            ep-x.neon.tech:5432      -> wss://ep-x.neon.tech/v2
/// Prefix("p:80/v1")  127.0.0.1:5432, secure=0 -> ws://p:80/v1?address=127.0.0.1:5432
/// ```
pub(crate) fn build(target: Target<'_>, host: &str, port: u16, secure: bool) -> Result<String> {
    let address = match target {
        Target::Default => format!("{}/v2", bracket(host)),
        Target::Prefix(prefix) => {
            // Neon appends `?address=` blindly; keep an existing query string valid.
            let sep = if prefix.contains('?') { '&' } else { '?' };
            format!("{prefix}{sep}address={host}:{port}")
        }
        Target::Computed(url) => url,
    };
    if address.is_empty() {
        return Err(Error::config("ws_proxy", "the WebSocket proxy URL is empty"));
    }
    if has_scheme(&address) {
        return Ok(address);
    }
    let scheme = if secure { "wss" } else { "ws" };
    Ok(format!("{scheme}://{address}"))
}

fn has_scheme(url: &str) -> bool {
    ["ws://", "wss://", "http://", "https://"]
        .iter()
        .any(|s| url.get(..s.len()).is_some_and(|p| p.eq_ignore_ascii_case(s)))
}

/// IPv6 literals need brackets in a URL authority.
fn bracket(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neon_default_is_wss_host_v2() {
        let url = build(Target::Default, "ep-cool-123.us-east-2.aws.neon.tech", 5432, true).unwrap();
        assert_eq!(url, "wss://ep-cool-123.us-east-2.aws.neon.tech/v2");
        assert_eq!(build(Target::Default, "::1", 5432, false).unwrap(), "ws://[::1]/v2");
    }

    #[test]
    fn proxy_prefix_gets_the_address_appended() {
        let url = build(Target::Prefix("127.0.0.1:8080/v1"), "127.0.0.1", 5432, false).unwrap();
        assert_eq!(url, "ws://127.0.0.1:8080/v1?address=127.0.0.1:5432");
        let url = build(Target::Prefix("proxy.example/v1?token=a"), "db", 6543, true).unwrap();
        assert_eq!(url, "wss://proxy.example/v1?token=a&address=db:6543");
    }

    #[test]
    fn computed_urls_keep_an_explicit_scheme() {
        let url = build(Target::Computed("ws://x:1/y".into()), "h", 1, true).unwrap();
        assert_eq!(url, "ws://x:1/y");
        let url = build(Target::Computed("x:1/y".into()), "h", 1, true).unwrap();
        assert_eq!(url, "wss://x:1/y");
        assert!(build(Target::Computed(String::new()), "h", 1, true).is_err());
    }
}
