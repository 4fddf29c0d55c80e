//! Which shortcut calls may share a connection (`PoolOptions::pipeline_depth`).
//!
//! Calls that share a connection are pipelined: each is its own implicit
//! transaction (its own Sync), so one call's error never reaches another's
//! answer. What they do share is the session. A statement that changes the
//! session for the calls queued behind it — `BEGIN` (they would run inside
//! its transaction), `SET`, `LISTEN`, `DECLARE`, `PREPARE`, `LOCK`... — must
//! run on a connection of its own, which `reset` cleans before anyone else
//! gets it. The test is on the text, conservative by construction: one
//! statement whose first keyword is on a short list of plain DML and queries.
//! Anything unusual (comments before it, a second statement, a `;` inside a
//! literal) simply does not share.

/// First keywords of statements that cannot open a transaction or change
/// session settings by themselves.
const PLAIN: [&str; 8] = ["select", "insert", "update", "delete", "with", "values", "table", "merge"];

/// True when `sql` is one plain statement that may be pipelined onto a
/// connection other shortcut calls are using.
///
/// ```ignore
/// assert!(is_shareable("SELECT $1::int8 + 1"));
/// assert!(!is_shareable("BEGIN"));
/// assert!(!is_shareable("SELECT 1; SET search_path = x"));
/// ```
pub(super) fn is_shareable(sql: &str) -> bool {
    let body = sql.trim_start();
    let keyword_len = body.bytes().take_while(u8::is_ascii_alphabetic).count();
    let keyword = &body[..keyword_len];
    if !PLAIN.iter().any(|k| keyword.eq_ignore_ascii_case(k)) {
        return false;
    }
    // One statement: no `;` except trailing ones (a `;` in a string literal
    // or a comment counts too — such a call just gets its own connection).
    let statement = body.trim_end().trim_end_matches(';');
    !statement.contains(';')
}

#[cfg(test)]
mod tests {
    use super::is_shareable;

    #[test]
    fn plain_statements_share() {
        for sql in [
            "SELECT 1",
            "  select $1::int8 + 1;",
            "\n\tINSERT INTO t VALUES ($1) RETURNING id",
            "UPDATE t SET x = 1",
            "DELETE FROM t",
            "WITH a AS (SELECT 1) SELECT * FROM a",
            "VALUES (1), (2)",
            "TABLE t",
            "MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE",
            "SELECT 1;;  \n",
        ] {
            assert!(is_shareable(sql), "{sql:?}");
        }
    }

    #[test]
    fn session_changing_or_unusual_statements_do_not() {
        for sql in [
            "BEGIN",
            "begin; select 1",
            "START TRANSACTION",
            "COMMIT",
            "SET search_path = x",
            "RESET ALL",
            "LISTEN chan",
            "DECLARE c CURSOR WITH HOLD FOR SELECT 1",
            "PREPARE p AS SELECT 1",
            "LOCK TABLE t",
            "CALL proc()",
            "DO $$ BEGIN END $$",
            "SELECT 1; SET search_path = x",
            "SELECT ';'",
            "-- comment\nSELECT 1",
            "/* c */ SELECT 1",
            "(SELECT 1)",
            "SELECTX 1",
            "selectfoo",
            "",
            "   ",
            "sélect 1",
        ] {
            assert!(!is_shareable(sql), "{sql:?}");
        }
    }
}
