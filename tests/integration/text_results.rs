//! `Config::text_results`: every result column in PostgreSQL's text format
//! (what edgepg-proxy passes on), still decoded by `Row::get`; and
//! `BatchResult::columns`, also when a statement returns no rows.

use edgepg::Config;
use edgepg_tests::dsn_for;

async fn text_conn(pipelined: bool) -> edgepg::Connection {
    let extra = if pipelined { "sslmode=disable&pipeline_connect=password" } else { "sslmode=disable" };
    let user = if pipelined { ("pw_user", "pw_pw") } else { ("edgepg", "edgepg_pw") };
    let mut config = Config::parse(&dsn_for(user.0, Some(user.1), extra)).unwrap();
    config.text_results(true);
    if pipelined {
        edgepg::connect_pipelined_with(config).await.unwrap()
    } else {
        edgepg::connect_with(config).await.unwrap()
    }
}

const SQL: &str = "SELECT 7::int4 AS i, 9007199254740993::int8 AS big, true AS b, 1.5::float8 AS f, \
                   '2024-01-02'::date AS d, '\\x0102'::bytea AS by, ARRAY[1,2]::int4[] AS a";

#[tokio::test]
async fn results_arrive_as_text_and_still_decode() {
    // Both connection paths: the ordinary one, and the pipelined first flight.
    for pipelined in [false, true] {
        let conn = text_conn(pipelined).await;
        for _ in 0..2 {
            // Twice: the first run prepares the statement, the second uses the cache.
            let rows = conn.fetch(SQL, &[]).await.unwrap();
            let row = &rows[0];
            assert_eq!(row.raw("i").unwrap(), Some(&b"7"[..]), "pipelined={pipelined}");
            assert_eq!(row.raw("b").unwrap(), Some(&b"t"[..]));
            assert_eq!(row.raw("by").unwrap(), Some(&b"\\x0102"[..]));
            assert_eq!(row.raw("a").unwrap(), Some(&b"{1,2}"[..]));
            assert_eq!(row.get::<i32, _>("i").unwrap(), 7);
            assert_eq!(row.get::<i64, _>("big").unwrap(), 9007199254740993);
            assert!(row.get::<bool, _>("b").unwrap());
            assert_eq!(row.get::<f64, _>("f").unwrap(), 1.5);
            assert_eq!(row.get::<Vec<u8>, _>("by").unwrap(), vec![1, 2]);
        }
        conn.close().await.unwrap();
    }
    // Without the option, the same query comes back in binary.
    let conn = edgepg::connect(&dsn_for("edgepg", Some("edgepg_pw"), "sslmode=disable")).await.unwrap();
    let rows = conn.fetch(SQL, &[]).await.unwrap();
    assert_eq!(rows[0].raw("i").unwrap(), Some(&[0u8, 0, 0, 7][..]));
}

#[tokio::test]
async fn batch_results_carry_their_columns() {
    let conn = text_conn(false).await;
    let results = conn
        .batch()
        .query("SELECT 1 AS one, 'x'::text AS two WHERE false", &[])
        .query("SELECT 2 AS n", &[])
        .execute("SELECT 3 AS dropped", &[])
        .query("CREATE TEMP TABLE tr (x int)", &[])
        .run()
        .await
        .unwrap();
    let names = |i: usize| -> Vec<String> {
        results[i].as_ref().unwrap().columns().iter().map(|c| c.name().to_owned()).collect()
    };
    assert!(results[0].as_ref().unwrap().rows().is_empty());
    assert_eq!(names(0), ["one", "two"]);
    assert_eq!(names(1), ["n"]);
    assert!(names(2).is_empty(), "execute() keeps no result set");
    assert!(names(3).is_empty(), "DDL has no result columns");
}
