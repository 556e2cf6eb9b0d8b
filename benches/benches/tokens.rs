//! Token costs beside the peer, in one run. Run:
//! `cargo bench -p keyscope-benches --bench tokens`.
//!
//! - `keyscope_authorize`: a valid token with warm key state, presented again (every
//!   check of docs/authorization.md runs; the signature was verified on first sight).
//! - `keyscope_authorize_first_sight`: tokens never seen before (HMAC, base64, JSON),
//!   10 000 of them cycled, so each is read from memory the previous calls pushed
//!   out of the processor's caches.
//! - `keyscope_authorize_first_sight_hot`: the same checks, every call a first sight,
//!   with 128 tokens in turn that stay in the caches (as one just read from a socket).
//! - `jsonwebtoken_decode`: the `jsonwebtoken` crate's HS256 decode of the same token
//!   (signature, exp, iss, aud) into a claims struct — less work than `authorize`.
//! - `issue_token_cached`: an exchange whose secret was verified before.
//! - `issue_token_uncached` beside `argon2id_verify_same_pattern` and
//!   `argon2id_verify`: an exchange that runs Argon2 at the default cost, and the Argon2
//!   verification alone — timed the same way (caches cleared between calls) and back to
//!   back.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyscope_core::{Argon2Params, KeyStore, NewKey, Options, Permission, Secret, secret};

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct PeerClaims {
    iss: String,
    aud: String,
    sub: String,
    client_id: String,
    org: String,
    iat: i64,
    exp: i64,
    jti: String,
    scope: String,
    r#gen: i64,
}

const SIGNING: [u8; 32] = [7; 32];

fn store(dir: &tempfile::TempDir, argon2: Argon2Params) -> KeyStore {
    let path = dir.path().join("bench.db");
    let opts = Options {
        argon2,
        signing_keys: vec![("k1".into(), SIGNING.to_vec())],
        ..Options::default()
    };
    KeyStore::open(path.to_str().unwrap(), opts).unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let s = store(&dir, Argon2Params::default());
    let new = NewKey {
        name: "bench".into(),
        grants: vec![
            "deployments.networks:write".into(),
            "reports:read".into(),
            "policies:read".into(),
        ],
        networks: vec![
            "64.100.10.0/24".into(),
            "2001:4860::/32".into(),
            "8.8.8.0/24".into(),
        ],
        ..Default::default()
    };
    let (key, secret) = s.create_key(new).unwrap();
    // Every token is issued and authorized alike: from the key's network, for a
    // resource its grants allow.
    let issue = || {
        s.issue_token(&key.id, &secret, Some("64.100.10.7"), None, None)
            .unwrap()
            .access_token
    };
    let auth = |token: &str| {
        s.authorize(
            black_box(token),
            "deployments.networks",
            Permission::Write,
            Some("64.100.10.7"),
            None,
        )
        .unwrap()
    };
    let token = issue();
    auth(&token);

    let mut g = c.benchmark_group("authorize");
    g.bench_function("keyscope_authorize", |b| b.iter(|| auth(&token)));
    // Tokens seen for the first time: more distinct tokens than the verified-token
    // cache holds, cycled, so each call verifies HMAC, base64 and JSON again.
    let fresh: Vec<String> = (0..10_000).map(|_| issue()).collect();
    let mut i = 0usize;
    g.bench_function("keyscope_authorize_first_sight", |b| {
        b.iter(|| {
            i = (i + 1) % fresh.len();
            auth(&fresh[i])
        })
    });
    // The same first sights with the token in the processor's caches, as one just
    // read from a socket is: 64 pairs of tokens that share a verified-token cache
    // slot, taken in turn, so each call evicts the other of its pair and verifies
    // HMAC, base64 and JSON again.
    let issued: Vec<String> = (0..keyscope_benches::PAIRING_TOKENS)
        .map(|_| issue())
        .collect();
    let hot: Vec<String> = keyscope_benches::pair_by_slot(issued, 64)
        .into_iter()
        .flat_map(|(a, b)| [a, b])
        .collect();
    let mut j = 0usize;
    g.bench_function("keyscope_authorize_first_sight_hot", |b| {
        b.iter(|| {
            j = (j + 1) % hot.len();
            auth(&hot[j])
        })
    });
    let peer_key = jsonwebtoken::DecodingKey::from_secret(&SIGNING);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_audience(&["keyscope"]);
    validation.set_issuer(&["keyscope"]);
    g.bench_function("jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<PeerClaims>(black_box(&token), &peer_key, &validation).unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("issue_token");
    g.bench_function("issue_token_cached", |b| {
        b.iter(|| {
            s.issue_token(&key.id, black_box(&secret), Some("64.100.10.7"), None, None)
                .unwrap()
        })
    });
    g.sample_size(20);
    g.bench_function("issue_token_uncached", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                s.clear_caches();
                let start = std::time::Instant::now();
                black_box(
                    s.issue_token(&key.id, &secret, Some("64.100.10.7"), None, None)
                        .unwrap(),
                );
                total += start.elapsed();
            }
            total
        })
    });
    let phc = secret::hash(&secret, &Argon2Params::default()).unwrap();
    g.bench_function("argon2id_verify_same_pattern", |b| {
        b.iter_custom(|iters| {
            let mut total = std::time::Duration::ZERO;
            for _ in 0..iters {
                s.clear_caches();
                let start = std::time::Instant::now();
                black_box(secret::verify(&secret, &phc, &Argon2Params::default()).unwrap());
                total += start.elapsed();
            }
            total
        })
    });
    g.bench_function("argon2id_verify", |b| {
        b.iter(|| secret::verify(black_box(&secret), &phc, &Argon2Params::default()).unwrap())
    });
    g.finish();
    let _ = Secret::new("");
}

criterion_group!(benches, bench);
criterion_main!(benches);
