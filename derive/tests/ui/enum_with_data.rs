#[derive(Debug, edgepg::FromSql, edgepg::ToSql)]
enum Mood {
    Sad,
    Other(String),
}

fn main() {}
