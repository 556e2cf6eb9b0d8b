//! Form and HTTP Basic decoding, through `KeyStore::token_endpoint` on a store with
//! one key, and `parse_form` alone. Properties: no panic; every answer is JSON with
//! an `error_description` (when present) and headers of short printable ASCII, and
//! never holds the client secret; a 200 carries a token that authorizes as the
//! store's key (so only its real credentials get one); an accepted form has at most
//! `MAX_FORM_PARAMS` distinct names and re-encodes to the same pairs.
//!
//! Input: a first line for the `Authorization` header (`B:` + text, sent as
//! `Basic base64(text)`; `R:` + raw header; else none), then the body. In both,
//! `@ID@` and `@SECRET@` stand for the store key's id and secret, so the fuzzer can
//! reach the success path.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyscope_core::http::{MAX_FORM_PARAMS, parse_form};
use keyscope_core::{KeyStore, NewKey, Permission};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    store: KeyStore,
    id: String,
    secret: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let store = common::store(&[]);
        let (key, secret) = store
            .create_key(NewKey {
                name: "svc".into(),
                grants: vec!["reports:read".into(), "deployments.networks:write".into()],
                now: common::now(),
                ..NewKey::default()
            })
            .unwrap();
        Fixture {
            store,
            id: key.id,
            secret: secret.expose().to_owned(),
        }
    })
}

/// Form-encodes a component (every byte outside unreserved characters escaped).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn check_form(body: &[u8]) {
    let Ok(form) = parse_form(body) else {
        return;
    };
    assert!(form.len() <= MAX_FORM_PARAMS);
    let mut names: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(
        names.len(),
        form.len(),
        "an accepted form has distinct names"
    );
    let re: Vec<String> = form
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    let again = parse_form(re.join("&").as_bytes()).expect("a re-encoded form parses");
    assert_eq!(again, form, "a form re-encodes to the same pairs");
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let fill = |b: &[u8]| -> Vec<u8> {
        let text = String::from_utf8_lossy(b);
        if text.contains('@') {
            text.replace("@ID@", &f.id)
                .replace("@SECRET@", &f.secret)
                .into_bytes()
        } else {
            b.to_vec()
        }
    };
    let (line, body) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (&data[..0], data),
    };
    let body = if std::str::from_utf8(body).is_ok() {
        fill(body)
    } else {
        body.to_vec()
    };
    check_form(&body);
    let line = fill(line);
    let authorization = match line.as_slice() {
        [b'B', b':', rest @ ..] => Some(format!("Basic {}", STANDARD.encode(rest))),
        [b'R', b':', rest @ ..] => std::str::from_utf8(rest).ok().map(str::to_owned),
        _ => None,
    };
    let r = f.store.token_endpoint(
        authorization.as_deref(),
        Some("application/x-www-form-urlencoded"),
        &body,
        None,
        common::now(),
    );
    assert!(
        matches!(r.status, 200 | 400 | 401 | 429),
        "status {}: {}",
        r.status,
        r.body
    );
    for (name, value) in &r.headers {
        common::assert_header_text(name, value);
    }
    assert!(!r.body.contains(&f.secret), "the answer holds the secret");
    let json: serde_json::Value = serde_json::from_str(&r.body).expect("the body is JSON");
    if let Some(d) = json.get("error_description") {
        let d = d.as_str().expect("a description is text");
        common::assert_header_text("error_description", d);
        assert!(d.len() <= keyscope_core::http::MAX_DESCRIPTION_BYTES);
    }
    if r.status == 200 {
        let token = json["access_token"].as_str().expect("a 200 has a token");
        let p = f
            .store
            .authorize(token, "reports", Permission::Read, None, common::now())
            .or_else(|_| {
                f.store.authorize(
                    token,
                    "deployments.networks",
                    Permission::Read,
                    None,
                    common::now(),
                )
            })
            .expect("an issued token authorizes");
        assert_eq!(p.key_id(), f.id);
    }
});
