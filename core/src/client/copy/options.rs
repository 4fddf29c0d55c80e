//! COPY options and the SQL text of COPY statements.
//!
//! Everything user-supplied that ends up in the statement is quoted here:
//! table, schema and column names as identifiers, option values as string
//! literals. Only the `WHERE` condition and the query of
//! [`copy_from_query`](crate::client::Connection::copy_from_query) are SQL
//! on purpose.

use crate::client::listeners::quote_ident;
use crate::{Error, Result};

/// The data format of a COPY (`FORMAT` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyFormat {
    /// PostgreSQL's text format: tab-separated, `\N` for NULL, backslash escapes.
    Text,
    /// Comma-separated values (RFC 4180 style quoting).
    Csv,
    /// PostgreSQL's binary COPY format (`PGCOPY` header, typed binary values).
    Binary,
}

impl CopyFormat {
    fn keyword(self) -> &'static str {
        match self {
            CopyFormat::Text => "text",
            CopyFormat::Csv => "csv",
            CopyFormat::Binary => "binary",
        }
    }
}

/// Options of a COPY: the target (schema, columns), the format and its
/// details, and for COPY FROM a `WHERE` filter. Unset options are not sent,
/// so the server defaults apply.
///
/// Build it with the chained setters:
///
/// ```
/// use edgepg_core::client::{CopyFormat, CopyOptions};
/// let opts = CopyOptions::new()
///     .format(CopyFormat::Csv)
///     .columns(["id", "name"])
///     .header(true)
///     .null("");
/// assert_eq!(opts.format, Some(CopyFormat::Csv));
/// assert_eq!(opts.columns, ["id", "name"]);
/// ```
///
/// Which options apply depends on the direction: `force_quote` only to COPY
/// TO (`copy_from_*`); `force_not_null`, `force_null`, `freeze` and
/// `where_clause` only to COPY FROM (`copy_to_table`,
/// `copy_records_to_table`). A misplaced option is an `Interface` error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyOptions {
    /// Schema of the table (quoted as an identifier); `None` follows `search_path`.
    pub schema_name: Option<String>,
    /// Columns to copy, in order; empty means all of them.
    pub columns: Vec<String>,
    /// `FORMAT`; the server default is text.
    pub format: Option<CopyFormat>,
    /// `DELIMITER`: one single-byte character.
    pub delimiter: Option<String>,
    /// `NULL`: the string that stands for SQL NULL.
    pub null: Option<String>,
    /// `HEADER`: a header line in text/CSV format (skipped on input).
    pub header: Option<bool>,
    /// `QUOTE` (CSV).
    pub quote: Option<String>,
    /// `ESCAPE` (CSV).
    pub escape: Option<String>,
    /// `FORCE_QUOTE (cols)` (CSV, COPY TO).
    pub force_quote: Vec<String>,
    /// `FORCE_QUOTE *` (CSV, COPY TO): quote every non-NULL value.
    pub force_quote_all: bool,
    /// `FORCE_NOT_NULL (cols)` (CSV, COPY FROM).
    pub force_not_null: Vec<String>,
    /// `FORCE_NULL (cols)` (CSV, COPY FROM).
    pub force_null: Vec<String>,
    /// `ENCODING` of the data, e.g. `"LATIN1"`; default the client encoding.
    pub encoding: Option<String>,
    /// `FREEZE` (COPY FROM).
    pub freeze: Option<bool>,
    /// `WHERE` condition (COPY FROM, PostgreSQL 12+). This is SQL, not quoted.
    pub where_clause: Option<String>,
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty => $conv:expr;)*) => {
        $(
            $(#[$doc])*
            pub fn $name(mut self, value: $ty) -> CopyOptions {
                self.$name = $conv(value.into());
                self
            }
        )*
    };
}

fn names<I: IntoIterator<Item = S>, S: Into<String>>(cols: I) -> Vec<String> {
    cols.into_iter().map(Into::into).collect()
}

impl CopyOptions {
    /// No options: all columns, the server's defaults.
    pub fn new() -> CopyOptions {
        CopyOptions::default()
    }

    /// Sets [`CopyOptions::columns`].
    pub fn columns<I: IntoIterator<Item = S>, S: Into<String>>(mut self, columns: I) -> CopyOptions {
        self.columns = names(columns);
        self
    }

    /// Sets [`CopyOptions::force_quote`].
    pub fn force_quote<I: IntoIterator<Item = S>, S: Into<String>>(mut self, columns: I) -> CopyOptions {
        self.force_quote = names(columns);
        self
    }

    /// Sets [`CopyOptions::force_not_null`].
    pub fn force_not_null<I: IntoIterator<Item = S>, S: Into<String>>(mut self, columns: I) -> CopyOptions {
        self.force_not_null = names(columns);
        self
    }

    /// Sets [`CopyOptions::force_null`].
    pub fn force_null<I: IntoIterator<Item = S>, S: Into<String>>(mut self, columns: I) -> CopyOptions {
        self.force_null = names(columns);
        self
    }

    setters! {
        /// Sets [`CopyOptions::schema_name`].
        schema_name: impl Into<String> => |v: String| Some(v);
        /// Sets [`CopyOptions::format`].
        format: CopyFormat => Some;
        /// Sets [`CopyOptions::delimiter`].
        delimiter: impl Into<String> => |v: String| Some(v);
        /// Sets [`CopyOptions::null`].
        null: impl Into<String> => |v: String| Some(v);
        /// Sets [`CopyOptions::header`].
        header: bool => Some;
        /// Sets [`CopyOptions::quote`].
        quote: impl Into<String> => |v: String| Some(v);
        /// Sets [`CopyOptions::escape`].
        escape: impl Into<String> => |v: String| Some(v);
        /// Sets [`CopyOptions::force_quote_all`].
        force_quote_all: bool => std::convert::identity;
        /// Sets [`CopyOptions::encoding`].
        encoding: impl Into<String> => |v: String| Some(v);
        /// Sets [`CopyOptions::freeze`].
        freeze: bool => Some;
        /// Sets [`CopyOptions::where_clause`].
        where_clause: impl Into<String> => |v: String| Some(v);
    }

    /// True when only the options `copy_records_to_table` understands are set.
    pub(crate) fn only_target(&self) -> bool {
        let target = CopyOptions {
            schema_name: self.schema_name.clone(),
            columns: self.columns.clone(),
            where_clause: self.where_clause.clone(),
            ..CopyOptions::default()
        };
        *self == target
    }
}

/// Which way the data goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// `COPY … FROM STDIN`: client to server.
    In,
    /// `COPY … TO STDOUT`: server to client.
    Out,
}

/// `"schema"."table"`, or `"table"` without a schema.
pub(crate) fn qualified(table: &str, options: &CopyOptions) -> String {
    match &options.schema_name {
        Some(schema) => format!("{}.{}", quote_ident(schema), quote_ident(table)),
        None => quote_ident(table),
    }
}

/// `SELECT "a", "b" FROM "schema"."table" LIMIT 0`: describing it gives the
/// types of the columns a COPY of `options.columns` fills.
pub(crate) fn describe_columns_sql(table: &str, options: &CopyOptions) -> String {
    let cols = if options.columns.is_empty() { "*".to_owned() } else { ident_list(&options.columns) };
    format!("SELECT {cols} FROM {} LIMIT 0", qualified(table, options))
}

/// `"schema"."table" ("a", "b")`.
pub(crate) fn target(table: &str, options: &CopyOptions) -> String {
    let mut sql = qualified(table, options);
    if !options.columns.is_empty() {
        sql.push_str(" (");
        sql.push_str(&ident_list(&options.columns));
        sql.push(')');
    }
    sql
}

/// `COPY <target> FROM STDIN (…) [WHERE …]`.
pub(crate) fn copy_in_sql(table: &str, options: &CopyOptions) -> Result<String> {
    let mut sql = format!("COPY {} FROM STDIN", target(table, options));
    push_options(&mut sql, options, Direction::In)?;
    if let Some(cond) = &options.where_clause {
        sql.push_str(" WHERE ");
        sql.push_str(cond);
    }
    Ok(sql)
}

/// `COPY <target> TO STDOUT (…)`.
pub(crate) fn copy_table_out_sql(table: &str, options: &CopyOptions) -> Result<String> {
    let mut sql = format!("COPY {} TO STDOUT", target(table, options));
    push_options(&mut sql, options, Direction::Out)?;
    Ok(sql)
}

/// `COPY (<query>) TO STDOUT (…)`.
pub(crate) fn copy_query_out_sql(query: &str, options: &CopyOptions) -> Result<String> {
    if options.schema_name.is_some() || !options.columns.is_empty() {
        return Err(Error::interface("copy_from_query: schema_name and columns apply to tables only"));
    }
    // A newline before the parenthesis keeps a trailing `-- comment` in the query harmless.
    let mut sql = format!("COPY ({}\n) TO STDOUT", query.trim_end().trim_end_matches(';'));
    push_options(&mut sql, options, Direction::Out)?;
    Ok(sql)
}

fn misplaced(option: &str, direction: Direction) -> Error {
    let (allowed, here) = match direction {
        Direction::In => ("COPY TO (copy_from_table/copy_from_query)", "copy_to_table"),
        Direction::Out => ("COPY FROM (copy_to_table/copy_records_to_table)", "copy_from_table/copy_from_query"),
    };
    Error::interface(format!("the COPY option {option} only applies to {allowed}, not to {here}"))
}

/// Appends ` (FORMAT csv, DELIMITER ',', …)` for the options that are set.
fn push_options(sql: &mut String, o: &CopyOptions, direction: Direction) -> Result<()> {
    let mut items: Vec<String> = Vec::new();
    if let Some(f) = o.format {
        items.push(format!("FORMAT {}", f.keyword()));
    }
    if let Some(freeze) = o.freeze {
        if direction == Direction::Out {
            return Err(misplaced("freeze", direction));
        }
        items.push(format!("FREEZE {freeze}"));
    }
    for (name, value) in [("DELIMITER", &o.delimiter), ("NULL", &o.null)] {
        if let Some(v) = value {
            items.push(format!("{name} {}", quote_literal(v)));
        }
    }
    if let Some(h) = o.header {
        items.push(format!("HEADER {h}"));
    }
    for (name, value) in [("QUOTE", &o.quote), ("ESCAPE", &o.escape)] {
        if let Some(v) = value {
            items.push(format!("{name} {}", quote_literal(v)));
        }
    }
    if o.force_quote_all || !o.force_quote.is_empty() {
        if direction == Direction::In {
            return Err(misplaced("force_quote", direction));
        }
        if o.force_quote_all {
            items.push("FORCE_QUOTE *".to_owned());
        } else {
            items.push(format!("FORCE_QUOTE ({})", ident_list(&o.force_quote)));
        }
    }
    for (name, cols) in [("FORCE_NOT_NULL", &o.force_not_null), ("FORCE_NULL", &o.force_null)] {
        if !cols.is_empty() {
            if direction == Direction::Out {
                return Err(misplaced(&name.to_ascii_lowercase(), direction));
            }
            items.push(format!("{name} ({})", ident_list(cols)));
        }
    }
    if let Some(e) = &o.encoding {
        items.push(format!("ENCODING {}", quote_literal(e)));
    }
    if o.where_clause.is_some() && direction == Direction::Out {
        return Err(misplaced("where", direction));
    }
    if !items.is_empty() {
        sql.push_str(" (");
        sql.push_str(&items.join(", "));
        sql.push(')');
    }
    Ok(())
}

fn ident_list(names: &[String]) -> String {
    names.iter().map(|c| quote_ident(c)).collect::<Vec<_>>().join(", ")
}

/// Quotes `s` as an SQL string literal that means the same whatever
/// `standard_conforming_strings` says: with a backslash inside, the `E''`
/// form with doubled backslashes (as PostgreSQL's `quote_literal` does).
pub(crate) fn quote_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 3);
    if s.contains('\\') {
        out.push('E');
    }
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(quote_literal("a"), "'a'");
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("\\N"), "E'\\\\N'");
        assert_eq!(quote_literal(""), "''");
    }

    #[test]
    fn copy_in_statement() {
        let o = CopyOptions::new()
            .schema_name("my schema")
            .columns(["a", "b\"c"])
            .format(CopyFormat::Csv)
            .delimiter(";")
            .null("\\N")
            .header(true)
            .quote("'")
            .escape("\\")
            .force_not_null(["a"])
            .force_null(["b\"c"])
            .encoding("UTF8")
            .freeze(false)
            .where_clause("a > 1");
        assert_eq!(
            copy_in_sql("t", &o).unwrap(),
            "COPY \"my schema\".\"t\" (\"a\", \"b\"\"c\") FROM STDIN (FORMAT csv, FREEZE false, DELIMITER ';', \
             NULL E'\\\\N', HEADER true, QUOTE '''', ESCAPE E'\\\\', FORCE_NOT_NULL (\"a\"), \
             FORCE_NULL (\"b\"\"c\"), ENCODING 'UTF8') WHERE a > 1"
        );
        assert_eq!(copy_in_sql("t", &CopyOptions::new()).unwrap(), "COPY \"t\" FROM STDIN");
        assert_eq!(describe_columns_sql("t", &CopyOptions::new()), "SELECT * FROM \"t\" LIMIT 0");
        assert_eq!(
            describe_columns_sql("t", &CopyOptions::new().schema_name("s").columns(["a", "b"])),
            "SELECT \"a\", \"b\" FROM \"s\".\"t\" LIMIT 0"
        );
    }

    #[test]
    fn copy_out_statements() {
        let o = CopyOptions::new().format(CopyFormat::Csv).force_quote(["x"]);
        assert_eq!(copy_table_out_sql("t", &o).unwrap(), "COPY \"t\" TO STDOUT (FORMAT csv, FORCE_QUOTE (\"x\"))");
        let o = CopyOptions::new().format(CopyFormat::Binary).force_quote_all(true);
        assert_eq!(
            copy_query_out_sql("SELECT 1; ", &o).unwrap(),
            "COPY (SELECT 1\n) TO STDOUT (FORMAT binary, FORCE_QUOTE *)"
        );
        assert!(copy_query_out_sql("SELECT 1", &CopyOptions::new().columns(["a"])).is_err());
    }

    #[test]
    fn misplaced_options_are_rejected() {
        for o in [
            CopyOptions::new().freeze(true),
            CopyOptions::new().force_null(["a"]),
            CopyOptions::new().force_not_null(["a"]),
            CopyOptions::new().where_clause("true"),
        ] {
            assert!(copy_table_out_sql("t", &o).is_err(), "{o:?}");
        }
        assert!(copy_in_sql("t", &CopyOptions::new().force_quote_all(true)).is_err());
        assert!(copy_in_sql("t", &CopyOptions::new().force_quote(["a"])).is_err());
    }

    #[test]
    fn only_target() {
        assert!(CopyOptions::new().columns(["a"]).schema_name("s").where_clause("a").only_target());
        assert!(!CopyOptions::new().format(CopyFormat::Csv).only_target());
    }
}
