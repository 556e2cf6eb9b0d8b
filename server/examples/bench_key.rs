//! Creates a key for the load tests of server/bench/ in an SQLite store and prints
//! `KEYSCOPE_BENCH_AUTH=...` (the Basic credentials) for the shell:
//! `eval "$(cargo run --release -p keyscope-server --example bench_key -- keys.db)"`.

use base64::Engine;
use keyscope_core::{KeyStore, NewKey, Options};

fn main() {
    let path = std::env::args().nth(1).expect("usage: bench_key PATH.db");
    let store = KeyStore::open(&path, Options::default()).expect("the store opens");
    let name = format!("bench-{}", std::process::id());
    let (key, secret) = store
        .create_key(NewKey {
            name,
            grants: vec!["reports:read".into()],
            ..Default::default()
        })
        .expect("the key is created");
    store.close();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", key.id, secret.expose()));
    println!("export KEYSCOPE_BENCH_AUTH='Basic {basic}'");
}
