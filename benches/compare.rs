//! Side-by-side benchmark (placeholder; being written).
fn main() {}
