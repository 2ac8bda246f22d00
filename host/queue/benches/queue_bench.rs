//! Queue benchmark (filled in next commit).
fn main() {}
