//! The HTTP helpers of docs/http.md: the token endpoint and Bearer authorization.

mod common;
use common::Store;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyscope_core::http::HttpResponse;
use keyscope_core::{Argon2Params, ErrorKind, NewKey, Options, Permission, Timestamp};

const FORM: Option<&str> = Some("application/x-www-form-urlencoded");
const T0: i64 = 1_800_000_000_000;

fn at(ms: i64) -> Option<Timestamp> {
    Some(Timestamp::from_millis(ms, "now").unwrap())
}

fn setup() -> (Store, String, String) {
    let s = common::private(Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        max_failed_exchanges_per_minute: 2,
        ..Options::default()
    })
    .unwrap();
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

fn basic(id: &str, secret: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

fn json(r: &HttpResponse) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap()
}

#[test]
fn basic_credentials_get_a_token_with_no_store_headers() {
    let (s, id, secret) = setup();
    let r = s.token_endpoint(
        Some(&basic(&id, &secret)),
        FORM,
        b"grant_type=client_credentials",
        Some("64.100.10.7"),
        at(T0),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let b = json(&r);
    assert_eq!(b["token_type"], "Bearer");
    assert_eq!(b["expires_in"], 3600);
    assert_eq!(b["scope"], "reports:read");
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert_eq!(r.header("Pragma"), Some("no-cache"));
    let token = b["access_token"].as_str().unwrap();
    let p = s
        .authorize_header(
            Some(&format!("Bearer {token}")),
            "reports",
            Permission::Read,
            Some("64.100.10.7"),
            at(T0),
        )
        .unwrap();
    assert_eq!(p.key_id(), id);
}

#[test]
fn form_credentials_work_and_both_at_once_is_invalid_request() {
    let (s, id, secret) = setup();
    let body = format!(
        "grant_type=client_credentials&client_id={id}&client_secret={secret}&scope=reports%3Aread"
    );
    let r = s.token_endpoint(None, FORM, body.as_bytes(), Some("64.100.10.7"), at(T0));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.token_endpoint(
        Some(&basic(&id, &secret)),
        FORM,
        body.as_bytes(),
        Some("64.100.10.7"),
        at(T0),
    );
    assert_eq!(
        (r.status, json(&r)["error"].as_str()),
        (400, Some("invalid_request"))
    );
}

#[test]
fn errors_follow_the_table() {
    let (s, id, secret) = setup();
    let ip = Some("64.100.10.7");
    let auth = basic(&id, &secret);
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        &'a [u8],
        Option<&'a str>,
        u16,
        &'a str,
    );
    let cases: Vec<Case<'_>> = vec![
        (
            Some(&auth),
            FORM,
            b"grant_type=password",
            ip,
            400,
            "unsupported_grant_type",
        ),
        (
            Some(&auth),
            FORM,
            b"scope=reports%3Aread",
            ip,
            400,
            "invalid_request",
        ),
        (
            Some(&auth),
            Some("application/json"),
            b"{}",
            ip,
            400,
            "invalid_request",
        ),
        (
            Some(&auth),
            FORM,
            b"grant_type=client_credentials&grant_type=client_credentials",
            ip,
            400,
            "invalid_request",
        ),
        (
            Some(&auth),
            FORM,
            b"grant_type=client_credentials&scope=admin%3Awrite",
            ip,
            400,
            "invalid_scope",
        ),
        (
            Some(&auth),
            FORM,
            b"grant_type=client_credentials",
            Some("8.8.8.8"),
            401,
            "invalid_client",
        ),
        (
            Some(&auth),
            FORM,
            b"grant_type=client_credentials",
            Some("not-an-ip"),
            400,
            "invalid_request",
        ),
        (
            None,
            FORM,
            b"grant_type=client_credentials",
            ip,
            401,
            "invalid_client",
        ),
        (
            Some("Bearer abc"),
            FORM,
            b"grant_type=client_credentials",
            ip,
            401,
            "invalid_client",
        ),
    ];
    for (a, ct, body, client, status, error) in cases {
        let r = s.token_endpoint(a, ct, body, client, at(T0));
        assert_eq!(
            (r.status, json(&r)["error"].as_str().unwrap()),
            (status, error),
            "{}",
            String::from_utf8_lossy(body)
        );
        if status == 401 {
            assert!(r.header("WWW-Authenticate").unwrap().starts_with("Basic"));
        }
    }
}

#[test]
fn rate_limited_is_429_with_retry_after() {
    let (s, id, _) = setup();
    let wrong = keyscope_core::secret::generate("kss").unwrap();
    let auth = basic(&id, wrong.expose());
    for _ in 0..2 {
        let r = s.token_endpoint(
            Some(&auth),
            FORM,
            b"grant_type=client_credentials",
            Some("64.100.10.7"),
            at(T0),
        );
        assert_eq!(r.status, 401);
    }
    let r = s.token_endpoint(
        Some(&auth),
        FORM,
        b"grant_type=client_credentials",
        Some("64.100.10.7"),
        at(T0),
    );
    assert_eq!(r.status, 429);
    assert_eq!(json(&r)["error"], "rate_limited");
    assert_eq!(r.header("Retry-After"), Some("60"));
}

#[test]
fn bearer_errors_carry_status_and_challenge() {
    let (s, id, secret) = setup();
    let tok = s
        .issue_token(
            &id,
            &keyscope_core::Secret::new(secret),
            Some("64.100.10.7"),
            None,
            at(T0),
        )
        .unwrap()
        .access_token;
    let bearer = format!("Bearer {tok}");
    let e = s
        .authorize_header(None, "reports", Permission::Read, None, at(T0))
        .unwrap_err();
    assert_eq!(
        (e.http_status(), e.www_authenticate()),
        (Some(401), Some("Bearer realm=\"keyscope\""))
    );
    let e = s
        .authorize_header(Some("Basic abc"), "reports", Permission::Read, None, at(T0))
        .unwrap_err();
    assert_eq!(e.http_status(), Some(401));
    let e = s
        .authorize_header(
            Some("Bearer x.y.z"),
            "reports",
            Permission::Read,
            None,
            at(T0),
        )
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::InvalidToken, Some(401))
    );
    assert!(
        e.www_authenticate()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
    let e = s
        .authorize_header(
            Some(&bearer),
            "reports",
            Permission::Write,
            Some("64.100.10.7"),
            at(T0),
        )
        .unwrap_err();
    assert_eq!(e.http_status(), Some(403));
    assert_eq!(
        e.www_authenticate(),
        Some("Bearer realm=\"keyscope\", error=\"insufficient_scope\", scope=\"reports:write\"")
    );
    let e = s
        .authorize_header(
            Some(&bearer),
            "reports",
            Permission::Read,
            Some("8.8.8.8"),
            at(T0),
        )
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::NetworkDenied, Some(403))
    );
    assert!(!e.www_authenticate().unwrap().contains("error="));
    let e = s
        .authorize_header(
            Some(&bearer),
            "bad resource",
            Permission::Read,
            Some("64.100.10.7"),
            at(T0),
        )
        .unwrap_err();
    assert_eq!(e.http_status(), Some(400));
    let e = s
        .authorize_header(
            Some(&bearer),
            "reports",
            Permission::Read,
            Some("64.100.10.7"),
            at(T0 + 3_600_000),
        )
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.http_status()),
        (ErrorKind::TokenExpired, Some(401))
    );
    assert!(
        e.www_authenticate()
            .unwrap()
            .contains("error=\"invalid_token\"")
    );
}
