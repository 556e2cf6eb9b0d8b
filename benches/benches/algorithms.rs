//! Costs per signing algorithm, beside the peer, in one run. Run:
//! `cargo bench -p keyscope-benches --bench algorithms`.
//!
//! For each of ES256, EdDSA, RS256 and HS256 (store-generated keys; HS256 from the
//! `signing_keys` option):
//! - `<alg>/authorize_first_sight`: tokens never seen before, cycled (20 000 of them,
//!   far more than the verified-token cache holds), so each call verifies the
//!   signature, base64 and JSON, then runs every state check.
//! - `<alg>/authorize_repeat`: the same token again (signature verified before).
//! - `<alg>/jsonwebtoken_decode`: the `jsonwebtoken` crate (RustCrypto backend)
//!   verifying the same token (signature, exp, iss, aud) — less work than `authorize`.
//! - `<alg>/issue_token_cached`: an exchange whose secret was verified before: mostly
//!   the signature.
//! - `introspect/handle_http`: `POST /auth/v2/introspect` through `handle_http`, the
//!   caller's secret cached, ES256 token.

use std::hint::black_box;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use keyscope_core::{Alg, Argon2Params, HttpRequest, KeyStore, NewKey, Options, Permission};

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct PeerClaims {
    iss: String,
    aud: String,
    sub: String,
    exp: i64,
}

const HS_SECRET: [u8; 32] = [7; 32];

fn open(alg: Alg) -> KeyStore {
    let opts = Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        token_alg: Some(alg),
        signing_keys: if alg == Alg::Hs256 {
            vec![("k1".into(), HS_SECRET.to_vec())]
        } else {
            vec![]
        },
        ..Options::default()
    };
    KeyStore::open(":memory:", opts).unwrap()
}

fn peer_key(s: &KeyStore, alg: Alg) -> jsonwebtoken::DecodingKey {
    if alg == Alg::Hs256 {
        return jsonwebtoken::DecodingKey::from_secret(&HS_SECRET);
    }
    let keys = s.signing_keys(None).unwrap();
    let jwk: serde_json::Value =
        serde_json::from_str(keys[0].public_jwk.as_deref().unwrap()).unwrap();
    let f = |n: &str| jwk[n].as_str().unwrap().to_owned();
    match alg {
        Alg::Es256 => jsonwebtoken::DecodingKey::from_ec_components(&f("x"), &f("y")).unwrap(),
        Alg::EdDsa => jsonwebtoken::DecodingKey::from_ed_components(&f("x")).unwrap(),
        Alg::Rs256 => jsonwebtoken::DecodingKey::from_rsa_components(&f("n"), &f("e")).unwrap(),
        Alg::Hs256 => unreachable!(),
    }
}

fn peer_alg(alg: Alg) -> jsonwebtoken::Algorithm {
    match alg {
        Alg::Es256 => jsonwebtoken::Algorithm::ES256,
        Alg::EdDsa => jsonwebtoken::Algorithm::EdDSA,
        Alg::Rs256 => jsonwebtoken::Algorithm::RS256,
        Alg::Hs256 => jsonwebtoken::Algorithm::HS256,
    }
}

fn bench(c: &mut Criterion) {
    for alg in [Alg::Es256, Alg::EdDsa, Alg::Rs256, Alg::Hs256] {
        let s = open(alg);
        let (key, secret) = s
            .create_key(NewKey {
                name: "bench".into(),
                grants: vec!["deployments.networks:write".into(), "reports:read".into()],
                networks: vec!["64.100.10.0/24".into(), "2001:4860::/32".into()],
                ..Default::default()
            })
            .unwrap();
        let issue = || {
            s.issue_token(&key.id, &secret, Some("64.100.10.7"), None, None)
                .unwrap()
                .access_token
        };
        let count = if alg == Alg::Rs256 { 10_000 } else { 20_000 };
        let fresh: Vec<String> = (0..count).map(|_| issue()).collect();
        let token = issue();
        let check = |t: &str| {
            s.authorize(
                t,
                "deployments.networks",
                Permission::Write,
                Some("64.100.10.7"),
                None,
            )
            .unwrap()
        };
        check(&token);

        let mut g = c.benchmark_group(alg.as_str());
        let mut i = 0usize;
        g.bench_function("authorize_first_sight", |b| {
            b.iter(|| {
                i = (i + 1) % fresh.len();
                check(black_box(&fresh[i]))
            })
        });
        g.bench_function("authorize_repeat", |b| b.iter(|| check(black_box(&token))));
        let dk = peer_key(&s, alg);
        let mut validation = jsonwebtoken::Validation::new(peer_alg(alg));
        validation.set_audience(&["keyscope"]);
        validation.set_issuer(&["keyscope"]);
        g.bench_function("jsonwebtoken_decode", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<PeerClaims>(black_box(&token), &dk, &validation).unwrap()
            })
        });
        g.bench_function("issue_token_cached", |b| b.iter(|| black_box(issue())));
        g.finish();

        if alg == Alg::Es256 {
            let (rs, rs_secret) = s
                .create_key(NewKey {
                    name: "resource-server".into(),
                    grants: vec!["reports:read".into()],
                    ..Default::default()
                })
                .unwrap();
            let auth = format!(
                "Basic {}",
                STANDARD.encode(format!("{}:{}", rs.id, rs_secret.expose()))
            );
            let body = format!("token={token}");
            let headers = [
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ];
            let req = HttpRequest {
                method: "POST",
                path: "/auth/v2/introspect",
                headers: &headers,
                body: body.as_bytes(),
                client_ip: Some("127.0.0.1"),
                now: None,
            };
            let first = s.handle_http(&req);
            assert!(first.body.contains("\"active\":true"), "{}", first.body);
            let mut g = c.benchmark_group("introspect");
            g.bench_function("handle_http", |b| b.iter(|| s.handle_http(black_box(&req))));
            g.finish();
        }
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
