//! Token decode, alone and through `authorize` on a store with fixed signing keys.
//! Properties: no panic; a token `decode` accepts has a valid HMAC-SHA256 over its
//! first two parts under the key its header names (checked here independently of
//! core); a token `authorize` accepts is one this harness issued; every refusal's
//! `WWW-Authenticate` is short printable ASCII.
//!
//! Input: either any text (tried as a token), or `@` + an index + (position, byte)
//! pairs: one of the harness's own tokens with those bytes replaced, so the fuzzer
//! starts from real signed tokens.
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::HashSet;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use keyscope_core::signing::KeySource;
use keyscope_core::{KeyStore, NewKey, Permission, SigningKeys, token};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    store: KeyStore,
    keys: SigningKeys,
    issued: Vec<String>,
    issued_set: HashSet<String>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let store = common::store(&[]);
        let mut issued = Vec::new();
        for (name, grants) in [
            ("svc", vec!["reports:read", "deployments.networks:write"]),
            ("other", vec!["reports:write"]),
        ] {
            let (key, secret) = store
                .create_key(NewKey {
                    name: name.into(),
                    grants: grants.iter().map(|g| g.to_string()).collect(),
                    now: common::now(),
                    ..NewKey::default()
                })
                .unwrap();
            for scope in [None, Some(grants[0])] {
                let t = store
                    .issue_token(&key.id, &secret, None, scope, common::now())
                    .unwrap();
                issued.push(t.access_token);
            }
        }
        let keys = SigningKeys::from_pairs(&common::signing_pairs(), KeySource::Option).unwrap();
        let issued_set = issued.iter().cloned().collect();
        Fixture {
            store,
            keys,
            issued,
            issued_set,
        }
    })
}

/// True when `token`'s signature is the HMAC of its first two parts under the key
/// whose canonical header it starts with.
fn signed(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return false;
    }
    common::signing_pairs().iter().any(|(kid, secret)| {
        let header = format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#);
        if URL_SAFE_NO_PAD.encode(header) != parts[0] {
            return false;
        }
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
        mac.update(parts[0].as_bytes());
        mac.update(b".");
        mac.update(parts[1].as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes()) == parts[2]
    })
}

fn check(f: &Fixture, token: &str, selector: u8) {
    let mut buf = Vec::new();
    if let Ok(claims) = token::decode(token, &f.keys, 0, &mut buf) {
        assert!(
            signed(token),
            "decode accepted an unsigned token: {token:?}"
        );
        if f.issued_set.contains(token) {
            let key = f
                .keys
                .by_header(token.split('.').next().unwrap().as_bytes())
                .unwrap();
            assert_eq!(
                token::encode(key, &claims).expect("an HS256 key signs"),
                token,
                "an issued token re-encodes"
            );
        }
    }
    let (resource, permission) = match selector % 4 {
        0 => ("reports", Permission::Read),
        1 => ("reports", Permission::Write),
        2 => ("deployments.networks", Permission::Write),
        _ => ("deployments", Permission::Read),
    };
    let direct = f
        .store
        .authorize(token, resource, permission, None, common::now());
    if direct.is_ok() {
        assert!(
            f.issued_set.contains(token),
            "authorize accepted a token the harness never issued: {token:?}"
        );
    }
    // The header form reads the token trimmed.
    let header = format!("Bearer {token}");
    let same = token.trim() == token;
    match f
        .store
        .authorize_header(Some(&header), resource, permission, None, common::now())
    {
        Ok(p) => {
            assert!(
                f.issued_set.contains(token.trim()),
                "authorize_header accepted a token the harness never issued: {token:?}"
            );
            if same {
                assert_eq!(Some(p), direct.ok(), "header and direct authorize agree");
            }
        }
        Err(e) => {
            assert!(
                !same || direct.is_err(),
                "header refused what direct accepted"
            );
            if let Some(c) = e.www_authenticate() {
                common::assert_header_text("WWW-Authenticate", c);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    if let [b'@', index, edits @ ..] = data {
        let mut bytes = f.issued[*index as usize % f.issued.len()]
            .clone()
            .into_bytes();
        for pair in edits.chunks_exact(2) {
            let at = pair[0] as usize % bytes.len();
            bytes[at] = pair[1];
        }
        if let Ok(token) = std::str::from_utf8(&bytes) {
            check(f, token, *index);
        }
    } else if let Ok(token) = std::str::from_utf8(data) {
        check(f, token, data.first().copied().unwrap_or(0));
    }
});
