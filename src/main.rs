//! The `lemmings` command (being written).
fn main() {}
