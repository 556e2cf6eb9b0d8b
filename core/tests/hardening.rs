//! Regression tests for the findings of the security review (issue 12): each failed
//! before its fix.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use keyscope_core::http::HttpResponse;
use keyscope_core::{Argon2Params, KeyStore, KeyUpdate, NewKey, Options, Permission, Timestamp};

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const T0: i64 = 1_800_000_000_000;
const IP: Option<&str> = Some("64.100.10.7");

fn at(ms: i64) -> Option<Timestamp> {
    Some(Timestamp::from_millis(ms, "now").unwrap())
}

fn options() -> Options {
    Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..Options::default()
    }
}

fn setup() -> (KeyStore, String, String) {
    let s = KeyStore::open(":memory:", options()).unwrap();
    let (k, secret) = s
        .create_key(NewKey {
            name: "svc".into(),
            grants: vec!["reports:read".into()],
            networks: vec!["64.100.10.0/24".into()],
            now: at(T0),
            ..Default::default()
        })
        .unwrap();
    (s, k.id, secret.expose().to_owned())
}

fn description(r: &HttpResponse) -> String {
    let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
    v["error_description"].as_str().unwrap_or("").to_owned()
}

fn printable_ascii(s: &str) -> bool {
    s.bytes().all(|b| (b' '..=b'~').contains(&b))
}

/// Finding 5: a client secret with a bad percent-escape is not quoted back.
#[test]
fn a_badly_encoded_client_secret_is_never_echoed() {
    let (s, id, secret) = setup();
    for tail in ["%zz", "%ff", "%"] {
        let body =
            format!("grant_type=client_credentials&client_id={id}&client_secret={secret}{tail}");
        let r = s.token_endpoint(None, FORM, body.as_bytes(), IP, at(T0));
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(!r.body.contains(&secret), "{}", r.body);
        assert!(!r.body.contains(&secret[4..20]), "{}", r.body);
    }
    let basic = format!("Basic {}", STANDARD.encode(format!("{id}:{secret}%zz")));
    let r = s.token_endpoint(
        Some(&basic),
        FORM,
        b"grant_type=client_credentials",
        IP,
        at(T0),
    );
    assert!(!r.body.contains(&secret), "{}", r.body);
}

/// Finding 4: the token endpoint's descriptions are fixed texts.
#[test]
fn token_endpoint_descriptions_quote_nothing_from_the_request() {
    let (s, id, secret) = setup();
    let evil = "\u{e9}vil\u{202e}".repeat(300);
    let enc = |t: &str| t.bytes().map(|b| format!("%{b:02X}")).collect::<String>();
    let bodies = [
        format!("grant_type={}", enc(&evil)),
        format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope={}",
            enc(&evil)
        ),
        format!(
            "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=reports:{}",
            enc("write")
        ),
        format!(
            "grant_type=client_credentials&{}=1&{}=2",
            enc(&evil),
            enc(&evil)
        ),
    ];
    for body in &bodies {
        let r = s.token_endpoint(None, FORM, body.as_bytes(), IP, at(T0));
        assert!(r.status >= 400, "{}", r.body);
        let d = description(&r);
        assert!(!d.is_empty() && d.len() <= 128, "{d}");
        assert!(printable_ascii(&d), "{d}");
        assert!(!d.contains("vil") && !d.contains("reports:write"), "{d}");
        for (_, v) in &r.headers {
            assert!(printable_ascii(v) && v.len() <= 256, "{v}");
        }
    }
}

fn forged(header: &str) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(r#"{"sub":"x"}"#),
        URL_SAFE_NO_PAD.encode([0u8; 32])
    )
}

/// Finding 4: `WWW-Authenticate` holds no text of a bad token (its `alg`, its `kid`,
/// or a JSON member name), so it stays short printable ASCII.
#[test]
fn bearer_challenges_hold_no_attacker_text() {
    let (s, _, _) = setup();
    let long = "\u{e9}\u{202e}x".repeat(900);
    let headers = [
        format!(r#"{{"alg":"{long}","typ":"at+jwt","kid":"k"}}"#),
        format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{long}"}}"#),
        format!(r#"{{"alg":"HS256","{long}":1}}"#),
        format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"a\"b\\c\r\n{long}"}}"#),
    ];
    for h in &headers {
        let token = forged(h);
        assert!(token.len() < 8 * 1024);
        let e = s
            .authorize_header(
                Some(&format!("Bearer {token}")),
                "reports",
                Permission::Read,
                IP,
                at(T0),
            )
            .unwrap_err();
        let w = e.www_authenticate().unwrap();
        assert_eq!(e.http_status(), Some(401));
        assert!(printable_ascii(w), "{w}");
        assert!(w.len() <= 256, "{} bytes", w.len());
        assert!(
            !e.message().contains(&long[..30]),
            "the message quotes the token: {}",
            &e.message()[..80.min(e.message().len())]
        );
    }
}

/// Finding 8: `Principal.scope` is what the token allows now, not what it was issued
/// with.
#[test]
fn principal_scope_is_the_token_scope_within_the_current_grants() {
    let s = KeyStore::open(":memory:", options()).unwrap();
    let (k, secret) = s
        .create_key(NewKey {
            name: "svc".into(),
            grants: vec!["deployments:write".into(), "reports:read".into()],
            now: at(T0),
            ..Default::default()
        })
        .unwrap();
    let tok = s
        .issue_token(&k.id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    let p = s
        .authorize(&tok, "reports", Permission::Read, None, at(T0))
        .unwrap();
    assert_eq!(
        p.scope().collect::<Vec<_>>(),
        ["deployments:write", "reports:read"]
    );
    s.update_key(
        &k.id,
        KeyUpdate {
            grants: Some(vec![
                "deployments.networks:read".into(),
                "reports:read".into(),
                "audit:read".into(),
            ]),
            now: at(T0),
            ..Default::default()
        },
    )
    .unwrap();
    let p = s
        .authorize(&tok, "reports", Permission::Read, None, at(T0 + 1000))
        .unwrap();
    assert_eq!(
        p.scope().collect::<Vec<_>>(),
        ["deployments.networks:read", "reports:read"],
        "no deployments:write any more, and no audit:read the token never had"
    );
}
