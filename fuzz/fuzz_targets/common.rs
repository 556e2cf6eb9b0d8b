//! What every target shares: a fixed clock, the signing keys of the shared token
//! vectors (core/tests/vectors/tokens.json) plus a second one, an in-memory store, and
//! checks of text that goes into HTTP answers.
#![allow(dead_code)]

use keyscope_core::{Argon2Params, KeyStore, Options, Timestamp};

/// The vectors' `now`.
pub const T0: i64 = 1_800_000_000;

pub fn now() -> Option<Timestamp> {
    Some(Timestamp::from_unix_seconds(T0, "now").unwrap())
}

/// `(kid, secret)`: the vectors' key first (it signs), then another that verifies.
pub fn signing_pairs() -> Vec<(String, Vec<u8>)> {
    vec![
        ("vec1".into(), (0u8..32).collect()),
        ("k2".into(), vec![9; 32]),
    ]
}

/// An in-memory store with the fixed keys, cheap Argon2 and `trusted_proxies`. Only
/// this handle changes it, and a handle applies its own changes at once, so it never
/// needs to re-read the store for other writers: the longest `revocation_staleness` keeps
/// those reads (an SQLite query per call at 0) out of every execution.
pub fn store(trusted_proxies: &[&str]) -> KeyStore {
    KeyStore::open(
        ":memory:",
        Options {
            signing_keys: signing_pairs(),
            argon2: Argon2Params {
                memory_kib: 8,
                iterations: 1,
                parallelism: 1,
            },
            revocation_staleness: 60.0,
            trusted_proxies: trusted_proxies.iter().map(|s| s.to_string()).collect(),
            ..Options::default()
        },
    )
    .expect("the fuzz store opens")
}

/// Text fit for an HTTP header: short printable ASCII.
pub fn assert_header_text(what: &str, s: &str) {
    assert!(s.len() <= 512, "{what} is {} bytes", s.len());
    assert!(
        s.bytes().all(|b| (b' '..=b'~').contains(&b)),
        "{what} is not printable ASCII: {s:?}"
    );
}
