//! Benchmarks live in `benches/`; run `cargo bench -p keyscope-benches`.
