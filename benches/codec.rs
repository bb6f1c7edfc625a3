//! Codec benches (filled in with the codec).
fn main() {}
