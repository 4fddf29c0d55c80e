//! COPY in and out: binary records, CSV and text formats, failures that
//! leave the table untouched, dropped COPYs, streaming.

use std::time::Duration;

use edgepg::types::Value;
use edgepg::{Connection, CopyFormat, CopyOptions, ErrorKind, SqlState};
use edgepg_tests::dsn_for;
use futures_util::StreamExt;

async fn conn() -> Connection {
    edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable")).await.unwrap()
}

/// Every row of `table` as text, in `id` order: a fingerprint to compare tables.
async fn dump(conn: &Connection, table: &str) -> Vec<String> {
    let rows = conn.fetch(&format!("SELECT r::text FROM {table} r ORDER BY id"), &[]).await.unwrap();
    rows.iter().map(|r| r.get::<String, _>(0).unwrap()).collect()
}

const ALL_TYPES: &str = "id int4, b bool, i2 int2, i8 int8, f4 float4, f8 float8, n numeric, t text, \
    vc varchar(20), bp bpchar(3), ch \"char\", nm name, o oid, by bytea, j json, jb jsonb, u uuid, \
    d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval, ip inet, cd cidr, \
    ai int4[], at text[], a2 float8[], ats timestamptz[]";

const ALL_VALUES: &str = "(1, true, -2, 9223372036854775807, 1.5, -2.25e100, 12345.678900, 'tab\there \\ \"q\"', \
    'vc', 'ab', 'x', 'nm', 4000000000, '\\x00ff10', '{\"a\": [1, 2]}', '{\"b\": null}', \
    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2024-02-29', '23:59:59.999999', '12:00:00+05:30', \
    '1999-12-31 23:59:59.5', '2000-01-01 00:00:00+00', '1 year 2 mons 3 days 04:05:06.7', '192.168.0.1/24', \
    '10.0.0.0/8', '{1,NULL,3}', '{\"a b\",NULL,\"\"}', '{{1.5,2},{NaN,Infinity}}', '{infinity,-infinity}'), \
    (2, false, 0, 0, 'NaN', '-Infinity', 'NaN', '', '', '', '', '', 0, '', '[]', '[]', \
    '00000000-0000-0000-0000-000000000000', 'infinity', '00:00', '00:00+00', '-infinity', 'infinity', '-1 days', \
    '::1', '2001:db8::/32', '{}', '{}', '{}', '{}'), \
    (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)";

#[tokio::test]
async fn every_type_round_trips_through_binary_copy() {
    let conn = conn().await;
    conn.execute(&format!("CREATE TEMP TABLE src ({ALL_TYPES}); CREATE TEMP TABLE dst1 ({ALL_TYPES}); CREATE TEMP TABLE dst2 ({ALL_TYPES})"), &[])
        .await
        .unwrap();
    conn.execute(&format!("INSERT INTO src VALUES {ALL_VALUES}"), &[]).await.unwrap();
    let want = dump(&conn, "src").await;

    // Typed records: every value decoded by edgepg, then encoded again for binary COPY.
    let rows = conn.fetch("SELECT * FROM src ORDER BY id", &[]).await.unwrap();
    let records: Vec<Vec<Value>> =
        rows.iter().map(|r| (0..r.len()).map(|i| r.get::<Value, _>(i).unwrap()).collect()).collect();
    let n = conn.copy_records_to_table("dst1", records, &CopyOptions::new()).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(dump(&conn, "dst1").await, want);

    // Binary data out of one table and into another. (Collected first: a
    // COPY IN queued behind a COPY OUT of the same connection cannot start
    // before that one is fully read.)
    let binary = CopyOptions::new().format(CopyFormat::Binary);
    let out = conn.copy_from_table("src", &binary).await.unwrap();
    assert!(out.is_binary());
    let chunks: Vec<_> = out.collect().await;
    let n = conn.copy_to_table("dst2", futures_util::stream::iter(chunks), &binary).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(dump(&conn, "dst2").await, want);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn rust_values_copy_in_by_column_type() {
    let conn = conn().await;
    conn.execute(
        "CREATE TEMP TABLE people (id int8, name text, score float8, born timestamptz, tags text[], note varchar(10))",
        &[],
    )
    .await
    .unwrap();
    let born = std::time::UNIX_EPOCH + Duration::from_secs(86_400);
    let records = (0..1000i64).map(|i| {
        (
            i,
            format!("p{i}"),
            i as f64 / 2.0,
            born,
            vec![format!("t{i}"), "x".to_owned()],
            (i % 2 == 0).then_some("even"),
        )
    });
    let n = conn.copy_records_to_table("people", records, &CopyOptions::new()).await.unwrap();
    assert_eq!(n, 1000);
    let row = conn
        .fetchrow("SELECT name, score, born::text, tags::text, note FROM people WHERE id = 3", &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.get::<String, _>(0).unwrap(), "p3");
    assert_eq!(row.get::<f64, _>(1).unwrap(), 1.5);
    conn.execute("SET TimeZone = 'UTC'", &[]).await.unwrap();
    let born_text: String = conn.fetchval("SELECT born::text FROM people WHERE id = 3", &[]).await.unwrap();
    assert_eq!(born_text, "1970-01-02 00:00:00+00");
    assert_eq!(row.get::<String, _>(3).unwrap(), "{t3,x}");
    assert_eq!(row.get::<Option<String>, _>(4).unwrap(), None);

    // A subset of columns, in another order, with a schema name and WHERE.
    conn.execute("CREATE SCHEMA IF NOT EXISTS \"copy schema\"; CREATE TABLE IF NOT EXISTS \"copy schema\".\"Odd \"\"T\"\"\" (a int4, \"B c\" text, z int4 DEFAULT 7)", &[])
        .await
        .unwrap();
    conn.execute("TRUNCATE \"copy schema\".\"Odd \"\"T\"\"\"", &[]).await.unwrap();
    let opts = CopyOptions::new().schema_name("copy schema").columns(["B c", "a"]).where_clause("a % 2 = 0");
    let n = conn.copy_records_to_table("Odd \"T\"", (0..10i32).map(|i| (format!("v{i}"), i)), &opts).await.unwrap();
    assert_eq!(n, 5);
    let got = conn.fetch("SELECT a, \"B c\", z FROM \"copy schema\".\"Odd \"\"T\"\"\" ORDER BY a", &[]).await.unwrap();
    let got: Vec<(i32, String, i32)> =
        got.iter().map(|r| (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap())).collect();
    assert_eq!(got, (0..10).step_by(2).map(|i| (i, format!("v{i}"), 7)).collect::<Vec<_>>());
    conn.execute("DROP SCHEMA \"copy schema\" CASCADE", &[]).await.unwrap();

    // Records from a Stream.
    let stream = futures_util::stream::iter((1000..1100i64).map(|i| Ok::<_, std::io::Error>((i, format!("s{i}")))));
    let n =
        conn.copy_records_to_table_stream("people", stream, &CopyOptions::new().columns(["id", "name"])).await.unwrap();
    assert_eq!(n, 100);
    let count: i64 = conn.fetchval("SELECT count(*) FROM people", &[]).await.unwrap();
    assert_eq!(count, 1100);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn columns_without_a_binary_encoder_fall_back_to_text_copy() {
    let conn = conn().await;
    conn.execute("DROP TYPE IF EXISTS copy_mood CASCADE; CREATE TYPE copy_mood AS ENUM ('happy', 'sad')", &[])
        .await
        .unwrap();
    conn.execute("CREATE TEMP TABLE moods (id int8, mood copy_mood, note text, at timestamptz, xs int4[])", &[])
        .await
        .unwrap();
    let at = std::time::UNIX_EPOCH + Duration::from_micros(1_500_000);
    let records = vec![
        (1i64, Some("happy"), Some("tab\there, newline\nand \\ backslash"), Some(at), Some(vec![1, 2])),
        (2, Some("sad"), None, None, None),
        (3, None, Some("\\N"), Some(at), Some(vec![])),
    ];
    let n = conn.copy_records_to_table("moods", records, &CopyOptions::new()).await.unwrap();
    assert_eq!(n, 3);
    conn.execute("SET TimeZone = 'UTC'", &[]).await.unwrap();
    assert_eq!(
        dump(&conn, "moods").await,
        [
            "(1,happy,\"tab\there, newline\nand \\\\ backslash\",\"1970-01-01 00:00:01.5+00\",\"{1,2}\")",
            "(2,sad,,,)",
            "(3,,\"\\\\N\",\"1970-01-01 00:00:01.5+00\",{})",
        ]
    );
    conn.execute("DROP TABLE moods; DROP TYPE copy_mood", &[]).await.unwrap();
    conn.close().await.unwrap();
}

const CSV: &str = "id,name,note\n\
    1,\"Smith, John\",\"He said \"\"hi\"\"\"\n\
    2,\"multi\nline\",\n\
    3,,\"\"\n";

#[tokio::test]
async fn csv_with_quotes_newlines_nulls_and_a_header() {
    let conn = conn().await;
    conn.execute("CREATE TEMP TABLE csv (id int4, name text, note text)", &[]).await.unwrap();
    let opts = CopyOptions::new().format(CopyFormat::Csv).header(true);
    // Chunks cut in awkward places (inside quotes, inside the header).
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = CSV.as_bytes().chunks(7).map(|c| Ok(c.to_vec())).collect();
    let n = conn.copy_to_table("csv", futures_util::stream::iter(chunks), &opts).await.unwrap();
    assert_eq!(n, 3);
    let rows = conn.fetch("SELECT id, name, note FROM csv ORDER BY id", &[]).await.unwrap();
    let rows: Vec<(i32, Option<String>, Option<String>)> =
        rows.iter().map(|r| (r.get(0).unwrap(), r.get(1).unwrap(), r.get(2).unwrap())).collect();
    assert_eq!(
        rows,
        [
            (1, Some("Smith, John".into()), Some("He said \"hi\"".into())),
            (2, Some("multi\nline".into()), None),
            (3, None, Some(String::new())),
        ]
    );

    // And back out: the same CSV (empty unquoted = NULL, "" = empty string).
    let mut out = Vec::new();
    let n = conn.copy_from_table_to_writer("csv", &opts, futures_util::io::Cursor::new(&mut out)).await.unwrap();
    assert_eq!(n, 3);
    assert_eq!(String::from_utf8(out).unwrap(), CSV);

    // Quote/escape/force options, from a reader and from a buffer.
    conn.execute("TRUNCATE csv", &[]).await.unwrap();
    let opts_in = CopyOptions::new()
        .format(CopyFormat::Csv)
        .quote("'")
        .escape("\\")
        .force_null(["note"])
        .force_not_null(["name"]);
    let data: &[u8] = b"1,'a\\'b',''\n2,,'x'\n";
    assert_eq!(conn.copy_to_table_from_reader("csv", data, &opts_in).await.unwrap(), 2);
    let rows = conn.fetch("SELECT name, note FROM csv ORDER BY id", &[]).await.unwrap();
    let rows: Vec<(Option<String>, Option<String>)> =
        rows.iter().map(|r| (r.get(0).unwrap(), r.get(1).unwrap())).collect();
    assert_eq!(rows, [(Some("a'b".into()), None), (Some(String::new()), Some("x".into()))]);
    let opts_out = CopyOptions::new().format(CopyFormat::Csv).force_quote_all(true).columns(["id", "note"]);
    let mut out = conn.copy_from_table("csv", &opts_out).await.unwrap();
    let mut text = Vec::new();
    while let Some(chunk) = out.next().await {
        text.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(out.rows(), Some(2));
    assert_eq!(String::from_utf8(text).unwrap(), "\"1\",\n\"2\",\"x\"\n");
    assert_eq!(
        conn.copy_to_table_from_bytes("csv", "9,z,z\n", &CopyOptions::new().format(CopyFormat::Csv)).await.unwrap(),
        1
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn text_format_with_custom_delimiter_and_null() {
    let conn = conn().await;
    conn.execute("CREATE TEMP TABLE tx (id int4, a text, b text)", &[]).await.unwrap();
    let opts = CopyOptions::new().format(CopyFormat::Text).delimiter("|").null("<nil>");
    let data = "1|x\\|y|<nil>\n2|<nil>|back\\\\slash\n3|tab\\there|\n";
    assert_eq!(conn.copy_to_table_from_bytes("tx", data, &opts).await.unwrap(), 3);
    let rows = conn.fetch("SELECT a, b FROM tx ORDER BY id", &[]).await.unwrap();
    let rows: Vec<(Option<String>, Option<String>)> =
        rows.iter().map(|r| (r.get(0).unwrap(), r.get(1).unwrap())).collect();
    assert_eq!(
        rows,
        [
            (Some("x|y".into()), None),
            (None, Some("back\\slash".into())),
            (Some("tab\there".into()), Some(String::new())),
        ]
    );
    let mut out = Vec::new();
    conn.copy_from_table_to_writer("tx", &opts, futures_util::io::Cursor::new(&mut out)).await.unwrap();
    assert_eq!(String::from_utf8(out).unwrap(), "1|x\\|y|<nil>\n2|<nil>|back\\\\slash\n3|tab\\there|\n");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn copy_from_query_inlines_arguments() {
    let conn = conn().await;
    let opts = CopyOptions::new().format(CopyFormat::Csv);
    let mut out = Vec::new();
    let n = conn
        .copy_from_query_to_writer(
            "SELECT g, $2::text || g, '$1' AS lit FROM generate_series(1, $1) g -- $2\nWHERE g > $3",
            &[&4i32, &"it's ", &Option::<i32>::None],
            &opts,
            futures_util::io::Cursor::new(&mut out),
        )
        .await
        .unwrap();
    // `g > NULL` filters out everything.
    assert_eq!(n, 0);
    assert!(out.is_empty());
    let mut out = Vec::new();
    let n = conn
        .copy_from_query_to_writer(
            "SELECT g, $2 || g, '$1' AS lit FROM generate_series(1, $1) g WHERE g > $3",
            &[&3i32, &"it's ", &1i32],
            &opts,
            futures_util::io::Cursor::new(&mut out),
        )
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(String::from_utf8(out).unwrap(), "2,it's 2,$1\n3,it's 3,$1\n");
    let err = conn.copy_from_query("SELECT $1::int", &[], &opts).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    let err = conn.copy_from_query("SELECT $1::int", &[&1i32, &2i32], &opts).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interface);
    conn.close().await.unwrap();
}

async fn seed(conn: &Connection, table: &str) -> Vec<String> {
    conn.execute(&format!("CREATE TEMP TABLE {table} (id int8 PRIMARY KEY, name varchar(10))"), &[]).await.unwrap();
    conn.execute(&format!("INSERT INTO {table} SELECT g, 'seed' || g FROM generate_series(-5, -1) g"), &[])
        .await
        .unwrap();
    dump(conn, table).await
}

#[tokio::test]
async fn a_failure_in_the_middle_of_100k_rows_leaves_the_table_as_it_was() {
    let conn = conn().await;
    let before = seed(&conn, "big").await;

    // A value that does not fit its column (client side): Value::Text for int8.
    let records = (0..100_000i64).map(|i| {
        if i == 50_000 {
            vec![Value::Text("oops".into()), Value::Null]
        } else {
            vec![Value::Int8(i), Value::Text(format!("n{i}"))]
        }
    });
    let err = conn.copy_records_to_table("big", records, &CopyOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Conversion, "{err}");
    assert!(err.to_string().contains("record 50000"), "{err}");
    assert_eq!(dump(&conn, "big").await, before);

    // A value the server rejects (too long for varchar(10)).
    let records =
        (0..100_000i64).map(|i| (i, if i == 50_000 { "far too long for it".to_owned() } else { format!("n{i}") }));
    let err = conn.copy_records_to_table("big", records, &CopyOptions::new()).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::STRING_DATA_RIGHT_TRUNCATION), "{err}");
    assert_eq!(dump(&conn, "big").await, before);

    // An error from the source stream.
    let stream = futures_util::stream::iter((0..100_000i64).map(|i| {
        if i == 50_000 {
            Err(std::io::Error::other("the source broke"))
        } else {
            Ok(format!("{i}\tn{i}\n"))
        }
    }));
    let err = conn.copy_to_table("big", stream, &CopyOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Io, "{err}");
    assert!(err.to_string().contains("the source broke"), "{err}");
    assert_eq!(dump(&conn, "big").await, before);

    // A duplicate key at the very end.
    let records = (0..100_000i64).map(|i| (i, "x")).chain([(-1i64, "dup")]);
    let err = conn.copy_records_to_table("big", records, &CopyOptions::new()).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::UNIQUE_VIOLATION), "{err}");
    assert_eq!(dump(&conn, "big").await, before);

    // Inside a transaction the failure aborts it, like any failed statement.
    conn.execute("BEGIN", &[]).await.unwrap();
    let err = conn.copy_records_to_table("big", [(1i64, "a"), (1, "b")], &CopyOptions::new()).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::UNIQUE_VIOLATION));
    assert!(conn.execute("SELECT 1", &[]).await.is_err());
    conn.execute("ROLLBACK", &[]).await.unwrap();

    // Still usable, and a good COPY works.
    let n = conn.copy_records_to_table("big", (0..100_000i64).map(|i| (i, "ok")), &CopyOptions::new()).await.unwrap();
    assert_eq!(n, 100_000);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_dropped_copy_aborts_and_leaves_the_connection_usable() {
    let conn = conn().await;
    let before = seed(&conn, "dropped").await;

    // COPY IN: some data sent, then the source never finishes; the caller gives up.
    let source = futures_util::stream::iter((0..1000).map(|i| Ok::<_, std::io::Error>(format!("{i}\tn\n"))))
        .chain(futures_util::stream::pending());
    let opts = CopyOptions::new();
    let copy = conn.copy_to_table("dropped", source, &opts);
    assert!(tokio::time::timeout(Duration::from_millis(300), copy).await.is_err());
    assert_eq!(dump(&conn, "dropped").await, before);

    // Also when the future is dropped while records are being produced.
    let copy = conn.copy_records_to_table_stream(
        "dropped",
        futures_util::stream::iter((0..10i64).map(|i| Ok::<_, std::io::Error>((i, "r"))))
            .chain(futures_util::stream::pending()),
        &opts,
    );
    assert!(tokio::time::timeout(Duration::from_millis(300), copy).await.is_err());
    assert_eq!(dump(&conn, "dropped").await, before);

    // COPY OUT: read one chunk of a big result, then drop the stream.
    let mut out = conn
        .copy_from_query("SELECT g, repeat('x', 100) FROM generate_series(1, 200000) g", &[], &CopyOptions::new())
        .await
        .unwrap();
    assert!(out.next().await.unwrap().is_ok());
    drop(out);
    let v: i32 = tokio::time::timeout(Duration::from_secs(30), conn.fetchval("SELECT 42", &[])).await.unwrap().unwrap();
    assert_eq!(v, 42);
    assert!(!conn.is_in_transaction());
    conn.close().await.unwrap();
}

#[tokio::test]
async fn errors_before_the_copy_starts() {
    let conn = conn().await;
    let err = conn.copy_records_to_table("no_such_table", [(1i32,)], &CopyOptions::new()).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::UNDEFINED_TABLE));
    let err = conn.copy_to_table_from_bytes("no_such_table", "1\n", &CopyOptions::new()).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::UNDEFINED_TABLE));
    let err = conn.copy_from_table("no_such_table", &CopyOptions::new()).await.unwrap_err();
    assert_eq!(err.code(), Some(SqlState::UNDEFINED_TABLE));
    conn.execute("CREATE TEMP TABLE e (a int4)", &[]).await.unwrap();
    let err = conn.copy_records_to_table("e", [(1i32, 2i32)], &CopyOptions::new()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interface);
    let err =
        conn.copy_records_to_table("e", [(1i32,)], &CopyOptions::new().format(CopyFormat::Csv)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interface);
    let err = conn.copy_from_table("e", &CopyOptions::new().freeze(true)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Interface);
    // A bad option value is the server's to reject.
    let err = conn.copy_to_table_from_bytes("e", "1\n", &CopyOptions::new().delimiter("ab")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(conn.fetchval::<i32>("SELECT 1", &[]).await.unwrap(), 1);
    conn.close().await.unwrap();
}

#[tokio::test]
async fn copies_pipeline_with_other_calls() {
    let conn = std::sync::Arc::new(conn().await);
    conn.execute("CREATE TEMP TABLE pipe (id int8, t text)", &[]).await.unwrap();
    let c = conn.clone();
    let copy = tokio::spawn(async move {
        c.copy_records_to_table("pipe", (0..200_000i64).map(|i| (i, "some text")), &CopyOptions::new()).await
    });
    let queries = (0..20).map(|i| {
        let c = conn.clone();
        async move { c.fetchval::<i32>("SELECT $1::int4", &[&i]).await.unwrap() }
    });
    let got = futures_util::future::join_all(queries).await;
    assert_eq!(got, (0..20).collect::<Vec<_>>());
    assert_eq!(copy.await.unwrap().unwrap(), 200_000);

    // 200k rows streamed out of one connection, through a slow consumer,
    // into a COPY IN on another one.
    let other = self::conn().await;
    other.execute("DROP TABLE IF EXISTS copy_pipe2; CREATE TABLE copy_pipe2 (id int8, t text)", &[]).await.unwrap();
    let binary = CopyOptions::new().format(CopyFormat::Binary);
    let out = conn.copy_from_table("pipe", &binary).await.unwrap();
    let slow = out.then(|chunk| async move {
        tokio::task::yield_now().await;
        chunk
    });
    assert_eq!(other.copy_to_table("copy_pipe2", slow, &binary).await.unwrap(), 200_000);
    let sum: i64 = conn.fetchval("SELECT sum(id)::int8 FROM pipe", &[]).await.unwrap();
    let sum2: i64 = other.fetchval("SELECT sum(id)::int8 FROM copy_pipe2", &[]).await.unwrap();
    assert_eq!(sum, sum2);
    other.execute("DROP TABLE copy_pipe2", &[]).await.unwrap();
    other.close().await.unwrap();
    conn.close().await.unwrap();
}
