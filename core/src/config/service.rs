//! Connection service files (`pg_service.conf`), parsed from their *text*.
//!
//! A service file groups options under `[name]` headers:
//!
//! ```text
//! # comment
//! [billing]
//! host=db.example.com
//! port=5433
//! dbname=billing
//! ```
//!
//! The format is libpq's: leading and trailing whitespace of a line is
//! ignored, blank lines and lines starting with `#` are skipped, and an option
//! line is `keyword=value` with nothing trimmed around the `=` (the value is
//! the rest of the line, spaces included; no quoting). The first section with
//! the name wins; an unknown keyword or a line without `=` in that section is
//! an error, and so is `service=` inside a service (no nesting).
//!
//! Finding and reading the files is the transport's job (native: `servicefile`
//! / `PGSERVICEFILE` / `~/.pg_service.conf`, then `PGSYSCONFDIR/pg_service.conf`);
//! [`Config::apply_service`](super::Config::apply_service) applies a section.
//!
//! ```
//! use edgepg_core::config::service;
//!
//! let text = "[a]\nhost=h1\n\n[b]\n  dbname=shop  \nport=6000\n";
//! let b = service::lookup(text, "b", "pg_service.conf")?.unwrap();
//! assert_eq!(b, [("dbname".to_string(), "shop".to_string()), ("port".into(), "6000".into())]);
//! assert!(service::lookup(text, "c", "pg_service.conf")?.is_none());
//! # Ok::<(), edgepg_core::Error>(())
//! ```

use super::keys;
use crate::error::{Error, Result};

/// Returns the `(keyword, value)` lines of section `[name]` in `text`, or
/// `None` when the text has no such section. `file` names the file in errors.
///
/// Errors (config errors naming `service` and the file and line; a value is
/// never echoed, as it may be a password): a line without `=`, an unknown
/// keyword, `service=` inside a section.
pub fn lookup(text: &str, name: &str, file: &str) -> Result<Option<Vec<(String, String)>>> {
    let mut found: Option<Vec<(String, String)>> = None;
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            if found.is_some() {
                // The end of our section.
                break;
            }
            if header.strip_suffix(']') == Some(name) {
                found = Some(Vec::new());
            }
            continue;
        }
        let Some(entries) = found.as_mut() else { continue };
        let lineno = index + 1;
        let Some((key, value)) = line.split_once('=') else {
            return Err(Error::config(
                "service",
                format!("syntax error in service file \"{file}\", line {lineno}: expected keyword=value"),
            ));
        };
        if key == "service" {
            return Err(Error::config(
                "service",
                format!("nested service specifications are not supported (service file \"{file}\", line {lineno})"),
            ));
        }
        if !keys::is_known(key) {
            return Err(Error::config(
                "service",
                format!("unknown keyword {key:?} in service file \"{file}\", line {lineno}"),
            ));
        }
        entries.push((key.to_owned(), value.to_owned()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    const FILE: &str = "/etc/pg_service.conf";

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn sections_comments_and_whitespace() {
        let text = "# top comment\n\
                    [first]\n\
                    host=a\n\
                    \n\
                    \t[second]  \r\n\
                    \x20 # indented comment\n\
                    host=b\r\n\
                    application_name=has spaces = and equals\n\
                    [first]\n\
                    host=ignored: the first section wins\n";
        assert_eq!(lookup(text, "first", FILE).unwrap(), Some(pairs(&[("host", "a")])));
        assert_eq!(
            lookup(text, "second", FILE).unwrap(),
            Some(pairs(&[("host", "b"), ("application_name", "has spaces = and equals")]))
        );
        assert_eq!(lookup(text, "third", FILE).unwrap(), None);
        // Section names match exactly (case-sensitive, whole name).
        assert_eq!(lookup(text, "First", FILE).unwrap(), None);
        assert_eq!(lookup(text, "firs", FILE).unwrap(), None);
        assert_eq!(lookup("", "x", FILE).unwrap(), None);
    }

    #[test]
    fn an_empty_section_is_found() {
        assert_eq!(lookup("[a]\n[b]\nhost=x\n", "a", FILE).unwrap(), Some(Vec::new()));
    }

    #[test]
    fn errors_only_inside_the_wanted_section() {
        let text = "[other]\nthis line is nonsense\nbogus=1\n[mine]\nhost=h\n";
        assert_eq!(lookup(text, "mine", FILE).unwrap(), Some(pairs(&[("host", "h")])));
        for (text, needle) in [
            ("[s]\nhost=h\nno equals sign\n", "line 3"),
            ("[s]\nbogus_key=1\n", "unknown keyword \"bogus_key\""),
            ("[s]\nhost =h\n", "unknown keyword \"host \""),
            ("[s]\nservice=other\n", "nested service"),
        ] {
            let e = lookup(text, "s", FILE).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(e.message().contains("`service`"), "{e}");
            assert!(e.message().contains(needle), "{needle}: {e}");
            assert!(e.message().contains(FILE), "{e}");
        }
    }

    #[test]
    fn values_are_not_echoed_in_errors() {
        let e = lookup("[s]\npassword Secret-XYZZY\n", "s", FILE).unwrap_err();
        assert!(!e.message().contains("XYZZY"), "{e}");
    }
}
