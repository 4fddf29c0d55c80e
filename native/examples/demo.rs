//! A tour of edgepg's native API against the server in `EDGEPG_DSN`
//! (`./scripts/demo.sh` starts a throwaway cluster and runs this).

use edgepg::types::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dsn = std::env::var("EDGEPG_DSN").unwrap_or_else(|_| "postgres://localhost/postgres".into());
    let conn = edgepg::connect(&dsn).await?;
    let version = conn.get_server_version();
    println!("connected: backend pid {}, server {:?}", conn.get_server_pid(), version);

    conn.add_log_listener(|notice| println!("server says: {} {}", notice.severity, notice.message));

    // No arguments: the simple protocol, so a script works.
    conn.execute(
        "DROP TABLE IF EXISTS demo_items;
         CREATE TABLE demo_items (id int8 PRIMARY KEY, name text NOT NULL, price numeric(10,2), tags text[]);
         DO $$ BEGIN RAISE NOTICE 'table ready'; END $$;",
        &[],
    )
    .await?;

    // Pipelined inserts: one round trip, all or nothing.
    let rows =
        (1..=5i64).map(|i| (i, format!("item {i}"), rust_decimal::Decimal::new(i * 250, 2), vec![format!("t{i}")]));
    conn.executemany("INSERT INTO demo_items VALUES ($1, $2, $3, $4)", rows).await?;

    for row in conn.fetch("SELECT id, name, price, tags FROM demo_items WHERE id > $1 ORDER BY id", &[&2i64]).await? {
        let id: i64 = row.get("id")?;
        let name: &str = row.get("name")?;
        let price: rust_decimal::Decimal = row.get("price")?;
        let tags: Vec<String> = row.get("tags")?;
        println!("  {id} {name:<8} {price:>6} {tags:?}");
    }

    let total: rust_decimal::Decimal = conn.fetchval("SELECT sum(price) FROM demo_items", &[]).await?;
    println!("total price: {total}");

    // Any column, any type, as a dynamic value.
    let row = conn.fetchrow("SELECT now() AS at, '{\"a\": 1}'::jsonb AS doc, 'NaN'::numeric AS n", &[]).await?.unwrap();
    for c in row.columns() {
        let v: Value = row.get(c.name())?;
        println!("  {} ({}): {v}", c.name(), c.type_().name().unwrap_or("?"));
    }

    // Errors are typed and carry every server field.
    match conn.execute("INSERT INTO demo_items VALUES ($1, $2)", &[&1i64, &"dup"]).await {
        Err(e) => println!(
            "expected error: {} (SQLSTATE {:?}, constraint {:?})",
            e.message(),
            e.code().map(|c| c.to_string()),
            e.as_db_error().and_then(|d| d.constraint.clone())
        ),
        Ok(_) => println!("unexpected success"),
    }

    let stmt = conn.prepare("SELECT name FROM demo_items WHERE id = $1").await?;
    println!(
        "prepared: params {:?}, columns {:?}",
        stmt.parameters(),
        stmt.columns().iter().map(|c| c.name()).collect::<Vec<_>>()
    );
    let name: String = stmt.fetchval(&[&3i64]).await?;
    println!("item 3 is {name:?}");

    conn.execute("DROP TABLE demo_items", &[]).await?;
    conn.close().await?;
    println!("closed: {}", conn.is_closed());
    Ok(())
}
