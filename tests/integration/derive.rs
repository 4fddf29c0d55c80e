//! `#[derive(FromRow, FromSql, ToSql)]` against the real server: structs
//! from rows, Rust enums as PostgreSQL enums, structs as composites, newtypes
//! as domains, and the errors for rows and values that do not fit.
//!
//! Types live in `pg_temp` (one schema per connection), so their names are
//! fixed and the tests still run concurrently.

use edgepg::types::Date;
use edgepg::{Connection, ErrorKind, FromRow, FromSql, ToSql};
use edgepg_tests::dsn_for;

#[derive(Debug, Clone, Copy, PartialEq, FromSql, ToSql)]
#[edgepg(name = "mood", rename_all = "lowercase")]
enum Mood {
    Sad,
    Ok,
    #[edgepg(rename = "happy 😀")]
    Happy,
    #[edgepg(rename = "it's \"q\"")]
    Quoted,
}

#[derive(Debug, Clone, PartialEq, FromSql, ToSql)]
#[edgepg(name = "pair")]
struct Pair {
    k: String,
    #[edgepg(rename = "v")]
    value: Option<i32>,
}

#[derive(Debug, Clone, Copy, PartialEq, FromSql, ToSql)]
struct PosInt(i32);

#[derive(Debug, PartialEq, FromRow)]
struct Audit {
    created: Date,
}

#[derive(Debug, PartialEq, FromRow)]
struct Item {
    id: i64,
    #[edgepg(rename = "label")]
    name: String,
    note: Option<String>,
    mood: Mood,
    moods: Vec<Option<Mood>>,
    pair: Option<Pair>,
    pos: PosInt,
    #[edgepg(flatten)]
    audit: Audit,
}

async fn conn() -> Connection {
    let c = edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable")).await.unwrap();
    c.execute(
        "CREATE TYPE pg_temp.mood AS ENUM ('sad', 'ok', 'happy 😀', 'it''s \"q\"', 'extra'); \
         CREATE TYPE pg_temp.pair AS (k text, v int4); \
         CREATE DOMAIN pg_temp.posint AS int4 CHECK (VALUE > 0); \
         CREATE TEMP TABLE items (id int8, label text, note text, mood mood, moods mood[], pair pair, \
                                  pos posint, created date)",
        &[],
    )
    .await
    .unwrap();
    c
}

async fn still_usable(c: &Connection) {
    assert_eq!(c.fetchval::<i32>("SELECT 1 + $1", &[&1i32]).await.unwrap(), 2);
}

#[tokio::test]
async fn enums_round_trip() {
    let c = conn().await;
    for m in [Mood::Sad, Mood::Ok, Mood::Happy, Mood::Quoted] {
        let row = c.fetchrow("SELECT $1::mood AS m, $1::mood::text AS t", &[&m]).await.unwrap().unwrap();
        assert_eq!(row.get::<Mood, _>("m").unwrap(), m);
        let label: String = row.get("t").unwrap();
        assert_eq!(c.fetchval::<Mood>(&format!("SELECT '{}'::mood", label.replace('\'', "''")), &[]).await.unwrap(), m);
    }
    assert_eq!(c.fetchval::<String>("SELECT $1::mood::text", &[&Mood::Happy]).await.unwrap(), "happy 😀");
    let all: Vec<Option<Mood>> = c.fetchval("SELECT ARRAY['sad', NULL, 'ok']::mood[]", &[]).await.unwrap();
    assert_eq!(all, [Some(Mood::Sad), None, Some(Mood::Ok)]);
    let n: i32 = c.fetchval("SELECT cardinality($1::mood[])", &[&vec![Mood::Sad, Mood::Quoted]]).await.unwrap();
    assert_eq!(n, 2);
    // A label the Rust enum lacks: a Conversion error naming the label, the type and the enum.
    let e = c.fetchval::<Mood>("SELECT 'extra'::mood AS m", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    for needle in ["extra", "mood", "Mood", "\"m\""] {
        assert!(e.message().contains(needle), "{needle}: {e}");
    }
    // Another enum type than the one named: refused before decoding.
    c.execute("CREATE TYPE pg_temp.other_enum AS ENUM ('sad')", &[]).await.unwrap();
    let e = c.fetchval::<Mood>("SELECT 'sad'::other_enum", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    let e = c.fetchval::<String>("SELECT $1::other_enum::text", &[&Mood::Sad]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    // Text columns decode too.
    assert_eq!(c.fetchval::<Mood>("SELECT 'ok'::text", &[]).await.unwrap(), Mood::Ok);
    still_usable(&c).await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn composites_and_domains_round_trip() {
    let c = conn().await;
    for p in [Pair { k: "a \"b\" é".into(), value: Some(-1) }, Pair { k: String::new(), value: None }] {
        let back: Pair = c.fetchval("SELECT $1::pair", &[&p]).await.unwrap();
        assert_eq!(back, p);
    }
    let ps: Vec<Pair> = c.fetchval("SELECT ARRAY[ROW('x', 1)::pair, ROW('y', NULL)::pair]", &[]).await.unwrap();
    assert_eq!(ps[1], Pair { k: "y".into(), value: None });
    // A NULL field into a non-Option Rust field: the error names the field.
    let e = c.fetchval::<Pair>("SELECT ROW(NULL, 1)::pair", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    assert!(e.message().contains("Pair.k"), "{e}");
    // Newtype over a domain: binary both ways, CHECK enforced by the server.
    assert_eq!(c.fetchval::<PosInt>("SELECT $1::posint", &[&PosInt(5)]).await.unwrap(), PosInt(5));
    let e = c.fetchval::<PosInt>("SELECT $1::posint", &[&PosInt(0)]).await.unwrap_err();
    assert_eq!(e.code(), Some(edgepg::SqlState::CHECK_VIOLATION), "{e}");
    let v: Vec<PosInt> = c.fetchval("SELECT ARRAY[1, 2]::posint[]", &[]).await.unwrap();
    assert_eq!(v, [PosInt(1), PosInt(2)]);
    still_usable(&c).await;
    c.close().await.unwrap();
}

#[tokio::test]
async fn structs_from_rows() {
    let c = conn().await;
    let item = Item {
        id: 1,
        name: "first".into(),
        note: None,
        mood: Mood::Happy,
        moods: vec![Some(Mood::Ok), None],
        pair: Some(Pair { k: "k".into(), value: Some(2) }),
        pos: PosInt(3),
        audit: Audit { created: Date::from_ymd(2024, 2, 29).unwrap() },
    };
    c.execute(
        "INSERT INTO items VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&item.id, &item.name, &item.note, &item.mood, &item.moods, &item.pair, &item.pos, &item.audit.created],
    )
    .await
    .unwrap();
    c.execute("INSERT INTO items VALUES (2, 'second', 'n', 'sad', '{}', NULL, 1, 'infinity')", &[]).await.unwrap();
    let items: Vec<Item> = c.fetch_as("SELECT * FROM items ORDER BY id", &[]).await.unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0], item);
    assert_eq!(items[1].pair, None);
    assert_eq!(items[1].audit.created, Date::INFINITY);
    let one: Option<Item> = c.fetchrow_as("SELECT * FROM items WHERE id = $1", &[&2i64]).await.unwrap();
    assert_eq!(one.unwrap().note.as_deref(), Some("n"));
    let none: Option<Item> = c.fetchrow_as("SELECT * FROM items WHERE id = 99", &[]).await.unwrap();
    assert!(none.is_none());
    // A cursor stream of structs; a row that does not fit ends it with an error.
    {
        use futures_util::TryStreamExt;
        let tx = c.transaction().start().await.unwrap();
        let streamed: Vec<Item> =
            tx.cursor("SELECT * FROM items ORDER BY id", &[]).prefetch(1).rows_as().try_collect().await.unwrap();
        assert_eq!(streamed, items);
        let bad: Vec<edgepg::Result<Item>> = futures_util::StreamExt::collect(
            tx.cursor("SELECT id, NULL::text AS label, note, mood, moods, pair, pos, created FROM items", &[])
                .rows_as::<Item>(),
        )
        .await;
        assert!(bad.len() == 1 && bad[0].is_err(), "{bad:?}");
        tx.commit().await.unwrap();
    }
    // Tuples by position.
    let pairs: Vec<(i64, String)> = c.fetch_as("SELECT id, label FROM items ORDER BY id", &[]).await.unwrap();
    assert_eq!(pairs[1], (2, "second".to_owned()));

    // A missing column: the error names the struct, the field and the column.
    let e = c.fetch_as::<Item>("SELECT id, label, note, mood, moods, pair, pos FROM items", &[]).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    assert!(e.message().contains("Audit.created") && e.message().contains("\"created\""), "{e}");
    let e = c.fetch_as::<Item>("SELECT id, note, mood, moods, pair, pos, created FROM items", &[]).await.unwrap_err();
    assert!(e.message().contains("Item.name") && e.message().contains("\"label\""), "{e}");
    // A mistyped column: names the column, its type and the field.
    let e = c
        .fetch_as::<Item>("SELECT id::text AS id, label, note, mood, moods, pair, pos, created FROM items", &[])
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conversion, "{e}");
    assert!(e.message().contains("Item.id") && e.message().contains("text"), "{e}");
    // NULL into a non-Option field.
    let e = c
        .fetch_as::<Item>("SELECT id, NULL::text AS label, note, mood, moods, pair, pos, created FROM items", &[])
        .await
        .unwrap_err();
    assert!(e.message().contains("Item.name") && e.message().contains("NULL"), "{e}");
    still_usable(&c).await;
    c.close().await.unwrap();
}
