//! Every route of `KeyStore::handle_http`, the Key Admin API's JSON bodies included,
//! on a store with an admin key and a client key. Properties: no panic; a status from
//! 200 to 599; headers of short printable ASCII; every non-empty answer outside the
//! console's pages is JSON; the client key's secret appears in no answer; a change
//! through the Key Admin API (a 2xx to POST, PATCH or DELETE under /admin/v2/) happens
//! only with the admin token; a 2xx from the token route carries a token that
//! authorizes.
//!
//! Input: a first line `METHOD PATH`, then `Name: value` header lines up to an empty
//! line, then the body. `@ADMIN@` (the admin key's token), `@TOKEN@` (the client's),
//! `@ID@`, `@SECRET@` (the client key's; a look-alike in Key Admin API requests, see
//! [`decoy`]) and `@BASIC@` (its Basic credentials) are replaced, so the fuzzer
//! reaches the success paths.
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyscope_core::{HttpRequest, KeyStore, NewKey, Permission};
use libfuzzer_sys::fuzz_target;

struct Fixture {
    store: KeyStore,
    id: String,
    secret: String,
    admin: String,
    token: String,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let store = common::store(&["10.0.0.0/8"]);
        let key = |name: &str, grant: &str| {
            store
                .create_key(NewKey {
                    name: name.into(),
                    grants: vec![grant.into(), "reports:read".into()],
                    now: common::now(),
                    ..NewKey::default()
                })
                .unwrap()
        };
        let (admin_key, admin_secret) = key("admin", "admin.apikeys:write");
        let (client, secret) = key("client", "deployments.networks:write");
        let tok = |id: &str, s: &keyscope_core::Secret| {
            store
                .issue_token(id, s, None, None, common::now())
                .unwrap()
                .access_token
        };
        Fixture {
            admin: tok(&admin_key.id, &admin_secret),
            token: tok(&client.id, &secret),
            id: client.id,
            secret: secret.expose().to_owned(),
            store,
        }
    })
}

/// The routes that answer JSON (everything but the console's pages under /admin/).
fn plain_api_path(path: &str) -> bool {
    let p = path.split('?').next().unwrap_or("");
    !(p.starts_with("/admin/") && !p.starts_with("/admin/v2/"))
}

/// What `@SECRET@` stands for in a Key Admin API request: text of the secret's shape
/// that is not the secret. That API takes no secret and keeps caller text (names,
/// descriptions) to return later, so the real one sent there would come back in later
/// answers by design and blind the rule that no answer holds it.
fn decoy(secret: &str) -> String {
    let mut d = secret.to_owned();
    let last = if d.ends_with('A') { 'B' } else { 'A' };
    d.pop();
    d.push(last);
    d
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let text = String::from_utf8_lossy(data);
    let admin_api = text
        .split_once(' ')
        .is_some_and(|(_, rest)| rest.starts_with("/admin/v2/"));
    let text = if text.contains('@') {
        let secret = if admin_api {
            decoy(&f.secret)
        } else {
            f.secret.clone()
        };
        text.replace("@ADMIN@", &f.admin)
            .replace("@TOKEN@", &f.token)
            .replace("@ID@", &f.id)
            .replace("@SECRET@", &secret)
            .replace(
                "@BASIC@",
                &format!("Basic {}", STANDARD.encode(format!("{}:{}", f.id, f.secret))),
            )
    } else {
        text.into_owned()
    };
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let first = lines.next().unwrap_or("");
    let (method, path) = first.split_once(' ').unwrap_or((first, "/"));
    let headers: Vec<(&str, &str)> = lines
        .take(32)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim(), v.trim()))
        .collect();
    let r = f.store.handle_http(&HttpRequest {
        method,
        path,
        headers: &headers,
        body: body.as_bytes(),
        client_ip: Some("64.100.10.7"),
        now: common::now(),
    });
    assert!((200..600).contains(&r.status), "status {}", r.status);
    for (name, value) in &r.headers {
        common::assert_header_text(name, name);
        common::assert_header_text(name, value);
    }
    assert!(!r.body.contains(&f.secret), "an answer holds the client's secret");
    let json_type = r
        .header("Content-Type")
        .is_some_and(|c| c.starts_with("application/json"));
    if json_type {
        serde_json::from_str::<serde_json::Value>(&r.body).expect("a JSON answer is JSON");
    }
    if plain_api_path(path) {
        assert!(
            r.body.is_empty() || json_type,
            "an API answer that is not JSON: {:?}",
            r.headers
        );
    }
    let auth = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| *v);
    let plain_path = path.split('?').next().unwrap_or("");
    if plain_path.starts_with("/admin/v2/")
        && method != "GET"
        && (200..300).contains(&r.status)
    {
        assert_eq!(
            auth.map(|a| a.trim_start_matches("Bearer").trim()),
            Some(f.admin.as_str()),
            "a change without the admin token"
        );
    }
    if plain_path == "/auth/v2/token" && r.status == 200 {
        let json: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        let token = json["access_token"].as_str().expect("a 200 has a token");
        f.store
            .authorize(token, "reports", Permission::Read, None, common::now())
            .expect("an issued token authorizes");
    }
});
