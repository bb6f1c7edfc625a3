//! Router benches (filled in with the router).
fn main() {}
