#[derive(edgepg::FromRow)]
struct Row {
    #[edgepg(renamed = "x")]
    id: i64,
    #[edgepg(flatten, rename = "y")]
    inner: i64,
}

#[derive(Debug, edgepg::FromSql)]
#[edgepg(rename_all = "camelCase")]
enum Mood {
    Sad,
}

fn main() {}
