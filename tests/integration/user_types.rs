//! Types beyond the built-ins against the real server: ranges and
//! multiranges, enums, domains, composites and anonymous records, custom
//! codecs (hstore), the text-only built-ins, and bad input around them.
//!
//! Every test creates its types under a name unique to the connection
//! (`pg_temp` where PostgreSQL allows it) so tests can run concurrently.

use std::collections::HashMap;
use std::ops::Bound;
use std::sync::Arc;

use edgepg::types::{
    codec_fn, Composite, Date, Format, HstoreCodec, Numeric, Range, Record, Timestamp, TimestampTz, Type, TypeKind,
    Value,
};
use edgepg::{Connection, ErrorKind, PoolOptions};
use edgepg_tests::dsn_for;

async fn conn() -> Connection {
    let c = edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable")).await.unwrap();
    c.execute("SET TimeZone = 'UTC'; SET DateStyle = 'ISO, MDY'", &[]).await.unwrap();
    c
}

async fn still_usable(c: &Connection) {
    assert_eq!(c.fetchval::<i32>("SELECT 1 + $1", &[&1i32]).await.unwrap(), 2);
}

/// Runs `body`, then drops the objects in `cleanup` even if it panicked.
async fn with_cleanup<F: std::future::Future<Output = ()>>(c: &Connection, cleanup: &str, body: F) {
    let outcome = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(body)).await;
    c.execute(cleanup, &[]).await.unwrap();
    if let Err(p) = outcome {
        std::panic::resume_unwind(p);
    }
}

// ---------------------------------------------------------------- ranges

/// Sends `r` as `$1::ty` and reads it back typed, as text and as a Value.
async fn range_echo<T>(c: &Connection, ty: &str, r: &Range<T>, text: &str)
where
    T: edgepg::types::ToSql + Sync + for<'a> edgepg::types::FromSql<'a> + std::fmt::Debug + PartialEq + Clone,
{
    let row = c
        .fetchrow(&format!("SELECT $1::{ty} AS r, $1::{ty}::text AS t, '{text}'::{ty} AS lit"), &[r])
        .await
        .unwrap_or_else(|e| panic!("{ty} {r:?}: {e}"))
        .unwrap();
    assert_eq!(row.columns()[0].format(), Format::Binary, "{ty}");
    assert_eq!(&row.get::<Range<T>, _>("r").unwrap(), r, "{ty}");
    assert_eq!(row.get::<String, _>("t").unwrap(), text, "{ty}");
    assert_eq!(&row.get::<Range<T>, _>("lit").unwrap(), r, "{ty} literal");
    // A String read of the binary value is the server's text.
    assert_eq!(row.get::<String, _>("r").unwrap(), text, "{ty}");
    assert!(matches!(row.get::<Value, _>("r").unwrap(), Value::Range(_)), "{ty}");
}

#[tokio::test]
async fn builtin_ranges_round_trip() {
    let c = conn().await;
    range_echo(&c, "int4range", &(1..5).into(), "[1,5)").await;
    range_echo(&c, "int4range", &Range::<i32>::empty(), "empty").await;
    range_echo(&c, "int4range", &(..5).into(), "(,5)").await;
    range_echo(&c, "int4range", &(3..).into(), "[3,)").await;
    range_echo(&c, "int4range", &Range::<i32>::from(..), "(,)").await;
    range_echo(&c, "int8range", &(i64::MIN..i64::MAX).into(), &format!("[{},{})", i64::MIN, i64::MAX)).await;
    let num = Range::new(Bound::Excluded("-1.5".parse::<Numeric>().unwrap()), Bound::Unbounded);
    range_echo(&c, "numrange", &num, "(-1.5,)").await;
    let d = |y, m, dd| Date::from_ymd(y, m, dd).unwrap();
    range_echo(&c, "daterange", &(d(2024, 1, 1)..d(2024, 2, 29)).into(), "[2024-01-01,2024-02-29)").await;
    range_echo(&c, "daterange", &Range::new(Bound::Included(Date::NEG_INFINITY), Bound::Unbounded), "[-infinity,)")
        .await;
    let ts = Timestamp::from_pg_micros(0);
    range_echo(&c, "tsrange", &Range::new(Bound::Included(ts), Bound::Unbounded), "[\"2000-01-01 00:00:00\",)").await;
    let tz = TimestampTz::from_pg_micros(86_400_000_000);
    range_echo(&c, "tstzrange", &Range::new(Bound::Unbounded, Bound::Included(tz)), "(,\"2000-01-02 00:00:00+00\"]")
        .await;
    // Discrete ranges come back normalised: [1,5] is [1,6).
    let r: Range<i32> = c.fetchval("SELECT $1::int4range", &[&Range::from(1..=5)]).await.unwrap();
    assert_eq!(r, (1..6).into());
    // The server's range functions see what we sent.
    let flags: Option<(bool, bool, bool)> = c
        .fetchrow_as(
            "SELECT lower_inf($1::int4range), upper_inc($1::int4range), isempty($2::int4range)",
            &[&Range::<i32>::from(..5), &Range::<i32>::empty()],
        )
        .await
        .unwrap();
    assert_eq!(flags, Some((true, false, true)));
    // A range whose lower bound is above its upper one is the server's error.
    let e = c
        .fetchval::<Range<i32>>("SELECT $1::int4range", &[&Range::new(Bound::Included(5), Bound::Excluded(1))])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    still_usable(&c).await;
    // A range type into the wrong Rust type: a Conversion error naming the column.
    let e = c.fetchval::<Range<bool>>("SELECT int4range(1, 2) AS r4", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    assert!(e.message().contains("r4"), "{e}");
    c.close().await.unwrap();
}

#[tokio::test]
async fn multiranges_round_trip() {
    let c = conn().await;
    let mr: Vec<Range<i32>> = vec![(1..3).into(), (5..).into()];
    let row =
        c.fetchrow("SELECT $1::int4multirange AS m, $1::int4multirange::text AS t", &[&mr]).await.unwrap().unwrap();
    assert_eq!(row.get::<Vec<Range<i32>>, _>("m").unwrap(), mr);
    assert_eq!(row.get::<String, _>("t").unwrap(), "{[1,3),[5,)}");
    assert_eq!(row.get::<String, _>("m").unwrap(), "{[1,3),[5,)}");
    let Value::Multirange(v) = row.get::<Value, _>("m").unwrap() else { panic!("not a multirange") };
    assert_eq!(v.len(), 2);
    // Overlapping ranges are merged by the server; the empty multirange.
    let merged: Vec<Range<i64>> = c
        .fetchval("SELECT $1::int8multirange", &[&vec![Range::<i64>::from(1..4), (3..6).into(), Range::empty()]])
        .await
        .unwrap();
    assert_eq!(merged, [Range::from(1..6)]);
    let empty: Vec<Range<Date>> = c.fetchval("SELECT '{}'::datemultirange", &[]).await.unwrap();
    assert!(empty.is_empty());
    // Arrays of ranges are arrays, not multiranges.
    let arr: Vec<Range<i32>> = c.fetchval("SELECT ARRAY[int4range(1,2), 'empty']", &[]).await.unwrap();
    assert_eq!(arr, [Range::from(1..2), Range::empty()]);
    c.close().await.unwrap();
}

#[tokio::test]
async fn user_range_type() {
    let c = conn().await;
    let name = format!("edgepg_floatrange_{}", c.get_server_pid());
    c.execute(&format!("CREATE TYPE {name} AS RANGE (subtype = float8, multirange_type_name = {name}_multi)"), &[])
        .await
        .unwrap();
    with_cleanup(&c, &format!("DROP TYPE {name}"), async {
        let r = Range::new(Bound::Included(-0.5f64), Bound::Excluded(f64::INFINITY));
        let back: Range<f64> = c.fetchval(&format!("SELECT $1::{name}"), &[&r]).await.unwrap();
        assert_eq!(back, r);
        let text: String = c.fetchval(&format!("SELECT $1::{name}::text"), &[&r]).await.unwrap();
        assert_eq!(text, "[-0.5,Infinity)");
        // Its multirange (PostgreSQL 14+ creates one with every range type).
        let mr: Vec<Range<f64>> =
            c.fetchval(&format!("SELECT {name}_multi({name}(1, 2), {name}(3, 4))"), &[]).await.unwrap();
        assert_eq!(mr.len(), 2);
        let v: Value = c.fetchval(&format!("SELECT {name}(1, 2, '[]')"), &[]).await.unwrap();
        assert_eq!(v.to_string(), "[1,2]");
    })
    .await;
    c.close().await.unwrap();
}

// ---------------------------------------------------------------- composites

#[tokio::test]
async fn composites_and_records() {
    let c = conn().await;
    let pid = c.get_server_pid();
    let (pair, outer) = (format!("edgepg_pair_{pid}"), format!("edgepg_outer_{pid}"));
    c.execute(
        &format!(
            "CREATE TYPE {pair} AS (k text, v int4); \
             CREATE TYPE {outer} AS (p {pair}, tags text[], ps {pair}[], r int4range, at date)"
        ),
        &[],
    )
    .await
    .unwrap();
    with_cleanup(&c, &format!("DROP TYPE {outer}; DROP TYPE {pair}"), async {
        // A named composite: fields by name and position, NULL fields, quotes and non-ASCII.
        let row = c
            .fetchrow(&format!("SELECT ROW('it''s \"é\"', NULL)::{pair} AS p"), &[])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(row.columns()[0].format(), Format::Binary);
        let p: Record = row.get("p").unwrap();
        assert_eq!(p.names(), Some(vec!["k", "v"]));
        assert_eq!(p.get::<&str, _>("k").unwrap(), "it's \"é\"");
        assert_eq!(p.get::<Option<i32>, _>("v").unwrap(), None);
        assert_eq!(p.get::<Option<i32>, _>(1).unwrap(), None);
        assert_eq!(row.get::<String, _>("p").unwrap(), r#"("it's \"é\"",)"#);
        // NULL into a non-Option field: a Conversion error naming the field.
        let e = p.get::<i32, _>("v").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion);
        assert!(e.message().contains("field \"v\""), "{e}");
        // Nested composites, arrays of composites, 2-D arrays of composites.
        let r: Record = c
            .fetchval(
                &format!(
                    "SELECT ROW(ROW('a', 1)::{pair}, ARRAY['x', NULL], ARRAY[ROW('b', 2)::{pair}, NULL, ROW(NULL, 3)::{pair}], \
                     int4range(1, 3), DATE '2024-02-29')::{outer}"
                ),
                &[],
            )
            .await
            .unwrap();
        let inner: Record = r.get("p").unwrap();
        assert_eq!(inner.get::<i32, _>("v").unwrap(), 1);
        assert_eq!(r.get::<Vec<Option<String>>, _>("tags").unwrap(), [Some("x".to_owned()), None]);
        let ps: Vec<Option<Record>> = r.get("ps").unwrap();
        assert_eq!(ps.len(), 3);
        assert_eq!(ps[0].as_ref().unwrap().get::<&str, _>("k").unwrap(), "b");
        assert!(ps[1].is_none());
        assert_eq!(ps[2].as_ref().unwrap().get::<Option<&str>, _>("k").unwrap(), None);
        assert_eq!(r.get::<Range<i32>, _>("r").unwrap(), (1..3).into());
        assert_eq!(r.get::<Date, _>("at").unwrap(), Date::from_ymd(2024, 2, 29).unwrap());
        let grid: edgepg::types::Array<Record> = c
            .fetchval(&format!("SELECT ARRAY[[ROW('a',1)::{pair}, ROW('b',2)::{pair}],[ROW('c',3)::{pair}, ROW('d',4)::{pair}]]"), &[])
            .await
            .unwrap();
        assert_eq!(grid.dims, [(2, 1), (2, 1)]);
        assert_eq!(grid.elements[3].get::<&str, _>("k").unwrap(), "d");
        // The dynamic Value of a composite.
        let v: Value = c.fetchval(&format!("SELECT ROW('a', 1)::{pair}"), &[]).await.unwrap();
        let Value::Record(rec) = &v else { panic!("{v:?}") };
        assert_eq!(rec.values().unwrap(), [Value::Text("a".into()), Value::Int4(1)]);
        assert_eq!(v.to_string(), "(a,1)");
        // A table's row type.
        c.execute(&format!("CREATE TEMP TABLE edgepg_rows_{pid} (id int8, pair {pair})"), &[]).await.unwrap();
        // Encoding: a named composite as a parameter, fields in any order, NULLs.
        let param = Composite::new().field("v", &7i32).field("k", &"z ,()\"");
        c.execute(&format!("INSERT INTO edgepg_rows_{pid} VALUES (1, $1)"), &[&param]).await.unwrap();
        let none: Option<i32> = None;
        let param = Composite::new().field("k", &"n").field("v", &none);
        c.execute(&format!("INSERT INTO edgepg_rows_{pid} VALUES (2, $1)"), &[&param]).await.unwrap();
        let rows = c.fetch(&format!("SELECT t FROM edgepg_rows_{pid} t ORDER BY id"), &[]).await.unwrap();
        let t: Record = rows[0].get("t").unwrap();
        assert_eq!(t.names(), Some(vec!["id", "pair"]));
        let p: Record = t.get("pair").unwrap();
        assert_eq!((p.get::<String, _>("k").unwrap(), p.get::<i32, _>("v").unwrap()), ("z ,()\"".to_owned(), 7));
        let p: Record = rows[1].get::<Record, _>("t").unwrap().get("pair").unwrap();
        assert_eq!(p.get::<Option<i32>, _>("v").unwrap(), None);
        // A decoded record goes back as it came; arrays of composites too.
        let back: Record = c.fetchval(&format!("SELECT $1::{pair}"), &[&p]).await.unwrap();
        assert_eq!(back, p);
        let n: i32 = c
            .fetchval(&format!("SELECT cardinality($1::{pair}[])"), &[&vec![p.clone(), p.clone()]])
            .await
            .unwrap();
        assert_eq!(n, 2);
        // Bad parameters: a missing field, an unknown one, a mistyped one.
        for (param, needle) in [
            (Composite::new().field("k", &"x"), "no value for field \"v\""),
            (Composite::new().field("k", &"x").field("v", &1i32).field("w", &1i32), "no field \"w\""),
            (Composite::new().field("k", &"x").field("v", &1.5f64), "field \"v\""),
        ] {
            let e = c.fetchval::<Record>(&format!("SELECT $1::{pair}"), &[&param]).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
            assert!(e.message().contains(needle), "{needle}: {e}");
        }
        still_usable(&c).await;
        c.execute(&format!("DROP TABLE edgepg_rows_{pid}"), &[]).await.unwrap();
    })
    .await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn anonymous_records() {
    let c = conn().await;
    let row = c
        .fetchrow("SELECT ROW(1, 'a b', NULL::int8, ROW(2.5::float8, true), ARRAY[1,2]) AS r", &[])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.columns()[0].type_(), Type::RECORD);
    let r: Record = row.get("r").unwrap();
    assert_eq!(r.names(), None);
    assert_eq!(r.len(), 5);
    assert_eq!(r.get::<i32, _>(0).unwrap(), 1);
    assert_eq!(r.get::<String, _>(1).unwrap(), "a b");
    assert_eq!(r.get::<Option<i64>, _>(2).unwrap(), None);
    let inner: Record = r.get(3).unwrap();
    assert_eq!((inner.get::<f64, _>(0).unwrap(), inner.get::<bool, _>(1).unwrap()), (2.5, true));
    assert_eq!(r.get::<Vec<i32>, _>(4).unwrap(), [1, 2]);
    assert_eq!(row.get::<String, _>("r").unwrap(), r#"(1,"a b",,"(2.5,t)","{1,2}")"#);
    // By name on an anonymous record: an error, not a panic.
    assert_eq!(r.get::<i32, _>("x").unwrap_err().kind(), ErrorKind::Conversion);
    // A field type without a binary decoder: an error naming it; cast to text works.
    let r: Record = c.fetchval("SELECT ROW(point(1, 2))", &[]).await.unwrap();
    let e = r.value(0).unwrap_err();
    assert!(e.message().contains("point"), "{e}");
    let r: Record = c.fetchval("SELECT ROW(point(1, 2)::text)", &[]).await.unwrap();
    assert_eq!(r.get::<&str, _>(0).unwrap(), "(1,2)");
    still_usable(&c).await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn altered_composite_is_a_clear_error_until_reloaded() {
    let c = conn().await;
    let name = format!("edgepg_alt_{}", c.get_server_pid());
    c.execute(&format!("CREATE TYPE {name} AS (a int4)"), &[]).await.unwrap();
    with_cleanup(&c, &format!("DROP TYPE {name}"), async {
        let r: Record = c.fetchval(&format!("SELECT ROW(1)::{name}"), &[]).await.unwrap();
        assert_eq!(r.get::<i32, _>("a").unwrap(), 1);
        c.execute(&format!("ALTER TYPE {name} ADD ATTRIBUTE b text"), &[]).await.unwrap();
        // The connection still has the old field list: wrong field count.
        let e = c.fetchval::<Record>(&format!("SELECT ROW(1, 'x')::{name} AS w"), &[]).await.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
        assert!(e.message().contains("has 2 fields but the type has 1"), "{e}");
        assert!(e.message().contains("\"w\""), "{e}");
        still_usable(&c).await;
        c.reload_schema_state();
        let r: Record = c.fetchval(&format!("SELECT ROW(1, 'x')::{name}"), &[]).await.unwrap();
        assert_eq!(r.get::<&str, _>("b").unwrap(), "x");
    })
    .await;
    c.close().await.unwrap();
}

// ---------------------------------------------------------------- enums and domains

#[tokio::test]
async fn enums_and_domains_inside_structures() {
    let c = conn().await;
    let pid = c.get_server_pid();
    let (mood, pos, holder) = (format!("edgepg_m_{pid}"), format!("edgepg_pos_{pid}"), format!("edgepg_h_{pid}"));
    c.execute(
        &format!(
            "CREATE TYPE {mood} AS ENUM ('sad', 'ok', 'happy 😀', 'it''s \"q\"'); \
             CREATE DOMAIN {pos} AS int4 CHECK (VALUE > 0); \
             CREATE TYPE {holder} AS (m {mood}, ms {mood}[], n {pos}, ns {pos}[])"
        ),
        &[],
    )
    .await
    .unwrap();
    with_cleanup(&c, &format!("DROP TYPE {holder}; DROP DOMAIN {pos}; DROP TYPE {mood}"), async {
        let r: Record = c
            .fetchval(&format!("SELECT ROW('happy 😀', ARRAY['it''s \"q\"', NULL], 3, ARRAY[4, 5])::{holder}"), &[])
            .await
            .unwrap();
        assert_eq!(r.get::<&str, _>("m").unwrap(), "happy 😀");
        assert_eq!(r.get::<Vec<Option<String>>, _>("ms").unwrap(), [Some("it's \"q\"".to_owned()), None]);
        assert_eq!(r.get::<i32, _>("n").unwrap(), 3);
        assert_eq!(r.get::<Vec<i32>, _>("ns").unwrap(), [4, 5]);
        assert_eq!(r.value("n").unwrap(), Value::Int4(3));
        // Encoding the same composite: enum labels and domain values inside.
        let ms = vec![Some("ok"), None];
        let ns = vec![7i32];
        let param = Composite::new().field("m", &"sad").field("ms", &ms).field("n", &6i32).field("ns", &ns);
        let t: String = c.fetchval(&format!("SELECT $1::{holder}::text"), &[&param]).await.unwrap();
        assert_eq!(t, "(sad,\"{ok,NULL}\",6,{7})");
        // A domain's CHECK still applies inside; an unknown label is the server's error.
        for bad in [
            Composite::new().field("m", &"sad").field("ms", &ms).field("n", &-1i32).field("ns", &ns),
            Composite::new().field("m", &"nope").field("ms", &ms).field("n", &1i32).field("ns", &ns),
        ] {
            let e = c.fetchval::<String>(&format!("SELECT $1::{holder}::text"), &[&bad]).await.unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Server, "{e}");
        }
        still_usable(&c).await;
        // Arrays of a domain as parameters (the array carries the domain's OID).
        let n: i64 = c.fetchval(&format!("SELECT sum(x) FROM unnest($1::{pos}[]) x"), &[&vec![1i32, 2]]).await.unwrap();
        assert_eq!(n, 3);
        let e = c.fetchval::<i64>(&format!("SELECT sum(x) FROM unnest($1::{pos}[]) x"), &[&vec![-1i32]]).await;
        assert_eq!(e.unwrap_err().code(), Some(edgepg::SqlState::CHECK_VIOLATION));
        // The kind of each type as the connection learnt it.
        let row = c.fetchrow(&format!("SELECT NULL::{mood} AS m, NULL::{holder} AS h"), &[]).await.unwrap().unwrap();
        let map = row.columns()[1].type_map().unwrap().clone();
        edgepg::types::with_type_map(&map, || {
            assert_eq!(row.columns()[0].type_().kind(), TypeKind::Enum);
            assert!(matches!(row.columns()[1].type_().kind(), TypeKind::Composite(f) if f.len() == 4));
        });
    })
    .await;
    c.close().await.unwrap();
}

// ---------------------------------------------------------------- custom codecs

#[tokio::test]
async fn hstore_codec() {
    let c = conn().await;
    c.execute("CREATE EXTENSION IF NOT EXISTS hstore", &[]).await.unwrap();
    // Without a codec hstore is text, as before.
    assert_eq!(c.fetchval::<String>("SELECT 'a=>1'::hstore", &[]).await.unwrap(), "\"a\"=>\"1\"");
    // ... and its text form decodes into a map.
    let text_map: HashMap<String, Option<String>> =
        c.fetchval(r#"SELECT 'a=>1, "b \"q"=>NULL'::hstore"#, &[]).await.unwrap();
    assert_eq!(text_map.get("b \"q"), Some(&None));
    assert_eq!(text_map.get("a"), Some(&Some("1".to_owned())));
    c.set_type_codec("hstore", Arc::new(HstoreCodec)).await.unwrap();
    let mut m: HashMap<String, Option<String>> = HashMap::new();
    m.insert("k é".into(), Some("v \"q\"".into()));
    m.insert("null".into(), None);
    let row = c.fetchrow("SELECT $1::hstore AS h, $1::hstore -> 'k é' AS v", &[&m]).await.unwrap().unwrap();
    assert_eq!(row.columns()[0].format(), Format::Binary);
    assert_eq!(row.get::<HashMap<String, Option<String>>, _>("h").unwrap(), m);
    assert_eq!(row.get::<String, _>("v").unwrap(), "v \"q\"");
    // The codec's Value: a JSON object.
    let Value::Json(j) = row.get::<Value, _>("h").unwrap() else { panic!("not JSON") };
    assert!(j.contains(r#""null":null"#) && j.contains(r#""k é":"v \"q\"""#), "{j}");
    // Values go through the codec too.
    let n: i32 = c
        .fetchval("SELECT array_length(akeys($1::hstore), 1)", &[&Value::Json(r#"{"a":"1","b":null}"#.into())])
        .await
        .unwrap();
    assert_eq!(n, 2);
    // Inside arrays and composites, the codec's binary format decodes.
    let arr: Vec<HashMap<String, Option<String>>> =
        c.fetchval("SELECT ARRAY['a=>1'::hstore, 'b=>NULL']", &[]).await.unwrap();
    assert_eq!(arr[1].get("b"), Some(&None));
    c.reset_type_codec("hstore").await.unwrap();
    assert_eq!(c.fetchval::<String>("SELECT 'a=>1'::hstore", &[]).await.unwrap(), "\"a\"=>\"1\"");
    c.close().await.unwrap();
}

#[tokio::test]
async fn text_codec_by_oid_and_failing_codec() {
    let c = conn().await;
    c.execute("CREATE EXTENSION IF NOT EXISTS citext", &[]).await.unwrap();
    let oid: u32 = c.fetchval("SELECT 'citext'::regtype::oid", &[]).await.unwrap();
    let upper = codec_fn(
        Format::Text,
        |_, raw| Ok(Value::Text(String::from_utf8_lossy(raw).to_uppercase())),
        |_, v, out| {
            out.extend_from_slice(v.to_string().to_lowercase().as_bytes());
            Ok(())
        },
    );
    c.set_type_codec(oid, upper).await.unwrap();
    let v: Value = c.fetchval("SELECT $1::citext", &[&Value::Text("MiXeD".into())]).await.unwrap();
    assert_eq!(v, Value::Text("MIXED".into()));
    assert_eq!(c.fetchval::<String>("SELECT $1::citext::text", &[&Value::Text("AbC".into())]).await.unwrap(), "abc");
    // A codec that fails: a Conversion error naming the column and the type; the connection is fine.
    let failing = codec_fn(Format::Text, |_, _| Err(edgepg::Error::conversion("boom")), |_, _, _| Ok(()));
    c.set_type_codec("citext", failing).await.unwrap();
    let e = c.fetchval::<Value>("SELECT 'x'::citext AS ci", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    assert!(e.message().contains("boom") && e.message().contains("citext") && e.message().contains("\"ci\""), "{e}");
    still_usable(&c).await;
    // An unknown type name is the server's error.
    let e = c.set_type_codec("no_such_type_edgepg", Arc::new(HstoreCodec)).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Server, "{e}");
    still_usable(&c).await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn pool_registers_codecs_on_every_connection() {
    let dsn = dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable");
    let setup = conn().await;
    setup.execute("CREATE EXTENSION IF NOT EXISTS hstore", &[]).await.unwrap();
    setup.close().await.unwrap();
    let options = PoolOptions {
        min_size: 2,
        max_size: 2,
        type_codecs: vec![("hstore".into(), Arc::new(HstoreCodec))],
        ..Default::default()
    };
    let pool = edgepg::create_pool(&dsn, options).await.unwrap();
    for _ in 0..3 {
        let v: Value = pool.fetchval("SELECT 'a=>1'::hstore", &[]).await.unwrap();
        assert_eq!(v, Value::Json(r#"{"a":"1"}"#.into()));
    }
    pool.close().await.unwrap();
}

// ---------------------------------------------------------------- text-only built-ins

#[tokio::test]
async fn text_only_builtins_read_and_write_as_text() {
    let c = conn().await;
    c.execute("SET lc_monetary = 'C'", &[]).await.unwrap();
    let cases = [
        ("bit(4)", "1010", Type::BIT),
        ("varbit", "101", Type::VARBIT),
        ("money", "$1,234.50", Type::MONEY),
        ("point", "(1.5,-2)", Type::POINT),
        ("box", "(2,2),(0,0)", Type::BOX),
        ("circle", "<(1,2),3>", Type::CIRCLE),
        ("lseg", "[(0,0),(1,1)]", Type::LSEG),
        ("path", "((0,0),(1,1),(2,0))", Type::PATH),
        ("polygon", "((0,0),(1,1),(2,0))", Type::POLYGON),
        ("macaddr", "08:00:2b:01:02:03", Type::MACADDR),
        ("macaddr8", "08:00:2b:01:02:03:04:05", Type::MACADDR8),
        ("xml", "<a>é</a>", Type::XML),
        ("tsvector", "'a' 'b':2", Type::TSVECTOR),
    ];
    for (ty, text, t) in cases {
        let row = c.fetchrow(&format!("SELECT $1::{ty} AS v"), &[&text]).await.unwrap().unwrap();
        assert_eq!(row.columns()[0].type_(), t, "{ty}");
        assert_eq!(row.columns()[0].format(), Format::Text, "{ty}");
        assert_eq!(row.get::<&str, _>("v").unwrap(), text, "{ty}");
        assert_eq!(row.get::<Value, _>("v").unwrap(), Value::Unknown { type_oid: t.oid(), text: text.into() });
        let back: String = c.fetchval(&format!("SELECT $1::{ty}"), &[&Value::Text(text.into())]).await.unwrap();
        assert_eq!(back, text, "{ty}");
    }
    c.close().await.unwrap();
}
