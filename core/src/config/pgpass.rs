//! Looking up a password in the *contents* of a pgpass file.
//!
//! Each line is `hostname:port:database:username:password`. In every field `\`
//! escapes the next character (`\:` for a colon, `\\` for a backslash); a field
//! that is exactly `*` matches anything; lines starting with `#` and lines
//! with fewer than five fields are ignored; the first matching line wins.
//!
//! Reading the file, and refusing it when it is readable by group or others,
//! is the native transport's job (`passfile`/`PGPASSFILE`, else `~/.pgpass`,
//! on Windows `%APPDATA%\postgresql\pgpass.conf`). Look a password up only when
//! none was given.
//!
//! ```
//! use edgepg_core::config::pgpass;
//!
//! let file = "# comment\n\
//!             db.example.com:5432:*:alice:s3cr\\:et\n\
//!             *:*:*:*:fallback\n";
//! assert_eq!(pgpass::lookup(file, "db.example.com", 5432, "shop", "alice").as_deref(), Some("s3cr:et"));
//! assert_eq!(pgpass::lookup(file, "other", 6543, "shop", "bob").as_deref(), Some("fallback"));
//! ```

/// Returns the password of the first line matching `host`, `port`, `dbname` and
/// `user`, or `None`.
///
/// `host` is the host name as configured (not a resolved address), or the
/// socket directory for a Unix-socket connection. Pass the effective database
/// name (see [`Config::effective_dbname`](super::Config::effective_dbname)).
///
/// As in libpq, a line for `localhost` also matches Unix-socket connections
/// (and an empty `host`). libpq does that only for the default socket
/// directory, which core cannot know, so here it applies to every socket
/// directory; a line naming the directory itself matches too.
pub fn lookup(contents: &str, host: &str, port: u16, dbname: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    let host_is_local = host.is_empty() || host.starts_with('/');
    for line in contents.lines() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.starts_with('#') {
            continue;
        }
        let Some(entry) = Entry::parse(line) else {
            continue;
        };
        let host_ok = entry.host.matches(host) || (host_is_local && entry.host.matches("localhost"));
        if host_ok && entry.port.matches(&port) && entry.dbname.matches(dbname) && entry.user.matches(user) {
            return Some(entry.password);
        }
    }
    None
}

/// One pattern field of a line.
struct Field {
    /// The field with escapes removed.
    value: String,
    /// The raw field was exactly `*` (an escaped `\*` is a literal star).
    wildcard: bool,
}

impl Field {
    fn matches(&self, wanted: &str) -> bool {
        self.wildcard || self.value == wanted
    }
}

struct Entry {
    host: Field,
    port: Field,
    dbname: Field,
    user: Field,
    password: String,
}

impl Entry {
    /// Splits a line into its four pattern fields and the password; `None` when
    /// the line has fewer than five fields (libpq skips such lines).
    fn parse(line: &str) -> Option<Entry> {
        let mut chars = line.chars();
        let mut next_field = || -> Option<Field> {
            let mut value = String::new();
            let mut raw_star = false;
            let mut raw_len = 0usize;
            loop {
                let c = chars.next()?;
                if c == ':' {
                    return Some(Field { value, wildcard: raw_star && raw_len == 1 });
                }
                raw_len += 1;
                raw_star = c == '*';
                if c == '\\' {
                    // A trailing backslash is kept as is.
                    value.push(chars.next().unwrap_or('\\'));
                    raw_len += 1;
                } else {
                    value.push(c);
                }
            }
        };
        let host = next_field()?;
        let port = next_field()?;
        let dbname = next_field()?;
        let user = next_field()?;
        // The password ends at the end of the line or at an unescaped ':'.
        let mut password = String::new();
        while let Some(c) = chars.next() {
            match c {
                ':' => break,
                '\\' => password.push(chars.next().unwrap_or('\\')),
                c => password.push(c),
            }
        }
        Some(Entry { host, port, dbname, user, password })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "\
# hostname:port:database:username:password
db1:5432:app:alice:alice-app
db1:5432:*:alice:alice-any
db1:*:*:bob:bob-any-port
localhost:5432:*:carol:carol-local
/srv/sock:5432:*:dave:dave-socket
db\\:odd:5432:*:eve:esc\\:aped\\\\pw
\\*:5432:*:frank:literal-star-host
short:line
db2:5432:app:gina:first
db2:5432:app:gina:second
*:*:*:*:catch-all
";

    #[test]
    fn table() {
        let cases: &[(&str, u16, &str, &str, Option<&str>)] = &[
            ("db1", 5432, "app", "alice", Some("alice-app")),
            ("db1", 5432, "other", "alice", Some("alice-any")),
            ("db1", 6000, "x", "bob", Some("bob-any-port")),
            ("db1", 6000, "x", "alice", Some("catch-all")),
            ("localhost", 5432, "x", "carol", Some("carol-local")),
            ("/var/run/postgresql", 5432, "x", "carol", Some("carol-local")),
            ("", 5432, "x", "carol", Some("carol-local")),
            ("127.0.0.1", 5432, "x", "carol", Some("catch-all")),
            ("/srv/sock", 5432, "x", "dave", Some("dave-socket")),
            ("db:odd", 5432, "x", "eve", Some("esc:aped\\pw")),
            ("*", 5432, "x", "frank", Some("literal-star-host")),
            ("anything", 5432, "x", "frank", Some("catch-all")),
            ("db2", 5432, "app", "gina", Some("first")),
        ];
        for &(host, port, db, user, expected) in cases {
            assert_eq!(lookup(FILE, host, port, db, user).as_deref(), expected, "{host} {port} {db} {user}");
        }
    }

    #[test]
    fn no_match() {
        let file = "db1:5432:app:alice:pw\n# *:*:*:*:commented\n";
        assert_eq!(lookup(file, "db1", 5433, "app", "alice"), None);
        assert_eq!(lookup(file, "db1", 5432, "app", "Alice"), None);
        assert_eq!(lookup("", "h", 5432, "d", "u"), None);
        assert_eq!(lookup("h:5432:d:u", "h", 5432, "d", "u"), None, "four fields is not a line");
    }

    #[test]
    fn line_endings_and_password_edges() {
        assert_eq!(lookup("h:1:d:u:pw\r\n", "h", 1, "d", "u").as_deref(), Some("pw"));
        assert_eq!(lookup("h:1:d:u:pw:extra", "h", 1, "d", "u").as_deref(), Some("pw"));
        assert_eq!(lookup("h:1:d:u:", "h", 1, "d", "u").as_deref(), Some(""));
        assert_eq!(lookup("h:1:d:u:trailing\\", "h", 1, "d", "u").as_deref(), Some("trailing\\"));
        assert_eq!(lookup("h:1:d:u:a:b\n", "h", 1, "d", "u").as_deref(), Some("a"));
        // The port is compared as text, like libpq.
        assert_eq!(lookup("h:05432:d:u:pw", "h", 5432, "d", "u"), None);
    }

    #[test]
    fn hostile_lines_do_not_panic() {
        for line in ["\\", ":::::", "\\:\\:\\:\\:", "*:*:*:*", "\u{e9}:\u{e9}:\u{e9}:\u{e9}:\u{e9}\\"] {
            let _ = lookup(line, "h", 1, "d", "u");
        }
    }
}
