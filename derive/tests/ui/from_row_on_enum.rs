#[derive(edgepg::FromRow)]
enum NotAStruct {
    A,
}

fn main() {}
