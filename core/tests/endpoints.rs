//! Every route of `handle_http` (docs/endpoints.md) with its success and error cases.

mod common;
use common::Store;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use keyscope_core::http::HttpResponse;
use keyscope_core::{
    Alg, Argon2Params, ErrorKind, HttpRequest, KeyStore, NewKey, Options, Permission, Secret,
};

const FORM: &str = "application/x-www-form-urlencoded";

fn opts(issuer: &str) -> Options {
    Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        issuer: issuer.into(),
        token_alg: Some(Alg::Es256),
        revocation_staleness: 0.0,
        trusted_proxies: vec!["10.0.0.0/8".into()],
        ..Options::default()
    }
}

fn store(issuer: &str) -> Store {
    common::private(opts(issuer)).unwrap()
}

fn key(s: &KeyStore, name: &str, networks: &[&str]) -> (String, Secret) {
    let (k, secret) = s
        .create_key(NewKey {
            name: name.into(),
            grants: vec!["reports:read".into(), "deployments.networks:write".into()],
            networks: networks.iter().map(|n| n.to_string()).collect(),
            ..Default::default()
        })
        .unwrap();
    (k.id, secret)
}

fn basic(id: &str, secret: &Secret) -> String {
    format!(
        "Basic {}",
        STANDARD.encode(format!("{id}:{}", secret.expose()))
    )
}

fn call(
    s: &KeyStore,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> HttpResponse {
    call_from(s, method, path, headers, body, Some("64.100.10.7"))
}

fn call_from(
    s: &KeyStore,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    peer: Option<&str>,
) -> HttpResponse {
    s.handle_http(&HttpRequest {
        method,
        path,
        headers,
        body: body.as_bytes(),
        client_ip: peer,
        now: None,
    })
}

fn json(r: &HttpResponse) -> serde_json::Value {
    serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not JSON: {}", r.body))
}

fn token(s: &KeyStore, id: &str, secret: &Secret) -> String {
    let auth = basic(id, secret);
    let r = call(
        s,
        "POST",
        "/auth/v2/token",
        &[("Authorization", &auth), ("Content-Type", FORM)],
        "grant_type=client_credentials",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    json(&r)["access_token"].as_str().unwrap().to_owned()
}

#[test]
fn routes_answer_404_for_unknown_paths_and_405_with_allow_for_other_methods() {
    let s = store("https://auth.example.com");
    assert_eq!(call(&s, "GET", "/nope", &[], "").status, 404);
    assert_eq!(call(&s, "GET", "/auth/v2/tokens", &[], "").status, 404);
    for (method, path, allow) in [
        ("GET", "/auth/v2/token", "POST"),
        ("DELETE", "/.well-known/jwks.json", "GET"),
        ("POST", "/healthz", "GET"),
        ("GET", "/auth/v2/introspect", "POST"),
        ("PUT", "/auth/v2/revoke", "POST"),
        ("POST", "/.well-known/oauth-authorization-server", "GET"),
    ] {
        let r = call(&s, method, path, &[], "");
        assert_eq!(
            (r.status, r.header("Allow")),
            (405, Some(allow)),
            "{method} {path}"
        );
    }
}

#[test]
fn health_is_ok_while_the_store_answers() {
    let s = store("keyscope");
    let r = call(&s, "GET", "/healthz", &[], "");
    assert_eq!((r.status, json(&r)["status"].as_str()), (200, Some("ok")));
    s.close();
    assert_eq!(call(&s, "GET", "/healthz", &[], "").status, 503);
}

#[test]
fn the_jwk_set_is_public_cacheable_and_ignores_a_query_string() {
    let s = store("keyscope");
    let r = call(&s, "GET", "/.well-known/jwks.json", &[], "");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Cache-Control"), Some("public, max-age=300"));
    let set = json(&r);
    assert_eq!(set["keys"].as_array().unwrap().len(), 2);
    let q = call(
        &s,
        "GET",
        "/.well-known/jwks.json?kid=x&format=pem",
        &[],
        "",
    );
    assert_eq!((q.status, &q.body), (200, &r.body));
    assert_eq!(s.jwks(None).unwrap(), r.body);
}

#[test]
fn metadata_is_served_only_for_a_url_issuer_at_both_rfc8414_places() {
    let s = store("https://auth.example.com/t");
    let a = call(
        &s,
        "GET",
        "/.well-known/oauth-authorization-server/t",
        &[],
        "",
    );
    let b = call(
        &s,
        "GET",
        "/t/.well-known/oauth-authorization-server",
        &[],
        "",
    );
    assert_eq!((a.status, b.status), (200, 200));
    assert_eq!(a.body, b.body);
    let m = json(&a);
    assert_eq!(m["issuer"], "https://auth.example.com/t");
    assert_eq!(
        m["token_endpoint"],
        "https://auth.example.com/t/auth/v2/token"
    );
    assert_eq!(
        m["jwks_uri"],
        "https://auth.example.com/t/.well-known/jwks.json"
    );
    assert_eq!(
        m["introspection_endpoint"],
        "https://auth.example.com/t/auth/v2/introspect"
    );
    assert_eq!(
        m["revocation_endpoint"],
        "https://auth.example.com/t/auth/v2/revoke"
    );
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    assert_eq!(m["response_types_supported"], serde_json::json!([]));
    for f in [
        "token_endpoint_auth_methods_supported",
        "introspection_endpoint_auth_methods_supported",
        "revocation_endpoint_auth_methods_supported",
    ] {
        assert_eq!(
            m[f],
            serde_json::json!(["client_secret_basic", "client_secret_post"])
        );
    }
    assert!(m.get("scopes_supported").is_none(), "no catalog, no scopes");
    // The routes follow the issuer's path.
    assert_eq!(call(&s, "GET", "/t/healthz", &[], "").status, 200);
    assert_eq!(call(&s, "GET", "/healthz", &[], "").status, 404);
    // A plain issuer serves from / and has no metadata.
    let plain = store("keyscope");
    assert_eq!(
        call(
            &plain,
            "GET",
            "/.well-known/oauth-authorization-server",
            &[],
            ""
        )
        .status,
        404
    );
    assert_eq!(
        plain.metadata().unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    // With a catalog, its grants are the supported scopes.
    let cat = common::private(Options {
        catalog: Some(keyscope_core::Catalog::secure_access().clone()),
        ..opts("https://auth.example.com")
    })
    .unwrap();
    let m: serde_json::Value = serde_json::from_str(&cat.metadata().unwrap()).unwrap();
    let scopes = m["scopes_supported"].as_array().unwrap();
    assert!(
        scopes.iter().any(|g| g == "deployments.networks:write"),
        "{m}"
    );
}

#[test]
fn the_token_route_is_the_token_endpoint_and_spares_browsers_a_basic_prompt() {
    let s = store("keyscope");
    let (id, secret) = key(&s, "svc", &[]);
    let t = token(&s, &id, &secret);
    s.authorize(&t, "reports", Permission::Read, None, None)
        .unwrap();
    // Wrong secret in the form: 401 without a Basic challenge.
    let r = call(
        &s,
        "POST",
        "/auth/v2/token",
        &[("Content-Type", FORM)],
        &format!("grant_type=client_credentials&client_id={id}&client_secret=kss_wrong"),
    );
    assert_eq!((r.status, r.header("WWW-Authenticate")), (401, None));
    // Wrong secret by Basic: the challenge is there.
    let auth = basic(&id, &Secret::new("kss_wrong"));
    let r = call(
        &s,
        "POST",
        "/auth/v2/token",
        &[("authorization", &auth), ("content-type", FORM)],
        "grant_type=client_credentials",
    );
    assert_eq!(r.status, 401);
    assert!(r.header("WWW-Authenticate").unwrap().starts_with("Basic"));
}

#[test]
fn the_client_address_comes_from_the_peer_or_trusted_proxies_only() {
    let s = store("keyscope");
    let (id, secret) = key(&s, "net", &["64.100.10.0/24"]);
    let auth = basic(&id, &secret);
    let h = |xff: &'static str| {
        [
            ("Authorization", auth.clone()),
            ("Content-Type", FORM.to_owned()),
            ("X-Forwarded-For", xff.to_owned()),
        ]
    };
    let req = |peer: &str, xff: &'static str| {
        let headers = h(xff);
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        call_from(
            &s,
            "POST",
            "/auth/v2/token",
            &pairs,
            "grant_type=client_credentials",
            Some(peer),
        )
        .status
    };
    assert_eq!(
        req("64.100.10.7", "1.2.3.4"),
        200,
        "an untrusted peer's header is ignored"
    );
    assert_eq!(
        req("10.1.1.1", "64.100.10.9"),
        200,
        "a trusted proxy's header is read"
    );
    assert_eq!(
        req("10.1.1.1", "1.2.3.4"),
        401,
        "the forwarded client is outside"
    );
    assert_eq!(
        req("1.2.3.4", "64.100.10.9"),
        401,
        "a spoofed header from outside"
    );
}

fn introspect(s: &KeyStore, auth: &str, body: &str) -> serde_json::Value {
    let r = call(
        s,
        "POST",
        "/auth/v2/introspect",
        &[("Authorization", auth), ("Content-Type", FORM)],
        body,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    json(&r)
}

#[test]
fn introspection_answers_rfc7662_for_a_key_of_the_tokens_org() {
    let s = store("https://auth.example.com");
    let (id, secret) = key(&s, "client", &[]);
    let (rs, rs_secret) = key(&s, "resource-server", &[]);
    let t = token(&s, &id, &secret);
    let rs_auth = basic(&rs, &rs_secret);
    let a = introspect(&s, &rs_auth, &format!("token={t}"));
    assert_eq!(a["active"], true);
    assert_eq!(a["client_id"], id.as_str());
    assert_eq!(a["sub"], id.as_str());
    assert_eq!(a["token_type"], "Bearer");
    assert_eq!(a["org"], "default");
    assert_eq!(a["iss"], "https://auth.example.com");
    assert_eq!(a["scope"], "reports:read deployments.networks:write");
    for f in ["exp", "iat", "jti", "aud"] {
        assert!(a.get(f).is_some(), "{f}");
    }
    // Steps 10-11 on request; a failing check is inactive and nothing else.
    let ok = introspect(
        &s,
        &rs_auth,
        &format!("token={t}&resource=reports&permission=read"),
    );
    assert_eq!(ok["active"], true);
    for extra in [
        "&resource=reports&permission=write",
        "&resource=billing&permission=read",
    ] {
        let no = introspect(&s, &rs_auth, &format!("token={t}{extra}"));
        assert_eq!(no, serde_json::json!({"active": false}), "{extra}");
    }
    for bad in ["not-a-token", ""] {
        assert_eq!(
            introspect(&s, &rs_auth, &format!("token={bad}")),
            serde_json::json!({"active": false})
        );
    }
    // The current grants narrow the scope shown.
    s.update_key(
        &id,
        keyscope_core::KeyUpdate {
            grants: Some(vec!["reports:read".into()]),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        introspect(&s, &rs_auth, &format!("token={t}"))["scope"],
        "reports:read"
    );
    // Bad requests and bad callers.
    let r = call(
        &s,
        "POST",
        "/auth/v2/introspect",
        &[("Authorization", &rs_auth), ("Content-Type", FORM)],
        "",
    );
    assert_eq!(
        (r.status, json(&r)["error"].as_str()),
        (400, Some("invalid_request"))
    );
    let wrong = basic(&rs, &Secret::new("kss_wrong"));
    let r = call(
        &s,
        "POST",
        "/auth/v2/introspect",
        &[("Authorization", &wrong), ("Content-Type", FORM)],
        &format!("token={t}"),
    );
    assert_eq!(
        (r.status, json(&r)["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let r = call(
        &s,
        "POST",
        "/auth/v2/introspect",
        &[("Content-Type", FORM)],
        &format!("token={t}"),
    );
    assert_eq!(r.status, 401);
}

#[test]
fn introspection_checks_the_client_address_and_the_keys_current_state() {
    let s = store("keyscope");
    let (id, secret) = key(&s, "netted", &["64.100.10.0/24"]);
    let (rs, rs_secret) = key(&s, "rs", &[]);
    let rs_auth = basic(&rs, &rs_secret);
    let t = token(&s, &id, &secret);
    let active = |body: &str| introspect(&s, &rs_auth, body)["active"].as_bool().unwrap();
    assert!(active(&format!("token={t}&client_ip=64.100.10.9")));
    assert!(!active(&format!("token={t}&client_ip=8.8.8.8")));
    assert_eq!(
        call(
            &s,
            "POST",
            "/auth/v2/introspect",
            &[("Authorization", &rs_auth), ("Content-Type", FORM)],
            &format!("token={t}&client_ip=not-an-address"),
        )
        .status,
        400
    );
    // Disabled, then deleted: inactive, and nothing else in the answer.
    s.update_key(
        &id,
        keyscope_core::KeyUpdate {
            enabled: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        introspect(&s, &rs_auth, &format!("token={t}")),
        serde_json::json!({"active": false})
    );
    let (other, other_secret) = key(&s, "other", &[]);
    let t2 = token(&s, &other, &other_secret);
    assert!(active(&format!("token={t2}")));
    s.delete_key(&other, None, None).unwrap();
    assert!(!active(&format!("token={t2}")));
    // Credentials in the form: a 401 without a Basic challenge, as on the token route.
    let r = call(
        &s,
        "POST",
        "/auth/v2/introspect",
        &[("Content-Type", FORM)],
        &format!("token={t}&client_id={rs}&client_secret=kss_wrong"),
    );
    assert_eq!((r.status, r.header("WWW-Authenticate")), (401, None));
}

#[test]
fn introspection_by_a_client_of_another_org_is_inactive() {
    let s = store("keyscope");
    let (id, secret) = key(&s, "client", &[]);
    let t = token(&s, &id, &secret);
    let acme = s.org("acme").unwrap();
    let (other, other_secret) = key(&acme, "acme-rs", &[]);
    let a = introspect(&s, &basic(&other, &other_secret), &format!("token={t}"));
    assert_eq!(a, serde_json::json!({"active": false}));
}

#[test]
fn revocation_lets_a_client_revoke_its_own_tokens_only() {
    let s = store("keyscope");
    let (id, secret) = key(&s, "client", &[]);
    let (other, other_secret) = key(&s, "other", &[]);
    let t = token(&s, &id, &secret);
    let revoke = |auth: &str, body: &str| {
        call(
            &s,
            "POST",
            "/auth/v2/revoke",
            &[("Authorization", auth), ("Content-Type", FORM)],
            body,
        )
    };
    // Another client's valid token: refused, and the token still works.
    let r = revoke(
        &basic(&other, &other_secret),
        &format!("token={t}&token_type_hint=access_token"),
    );
    assert_eq!(
        (r.status, json(&r)["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    s.authorize(&t, "reports", Permission::Read, None, None)
        .unwrap();
    // Its own token: 200, and it is refused from then on.
    assert_eq!(
        revoke(&basic(&id, &secret), &format!("token={t}")).status,
        200
    );
    let e = s
        .authorize(&t, "reports", Permission::Read, None, None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TokenRevoked);
    // Malformed, unknown, already revoked: 200 all the same.
    for body in ["token=garbage", &format!("token={t}")] {
        assert_eq!(revoke(&basic(&id, &secret), body).status, 200, "{body}");
    }
    // A client of another organization is another client: refused, nothing revoked.
    let fresh = token(&s, &id, &secret);
    let acme = s.org("acme").unwrap();
    let (outsider, outsider_secret) = key(&acme, "outsider", &[]);
    let r = revoke(
        &basic(&outsider, &outsider_secret),
        &format!("token={fresh}"),
    );
    assert_eq!(
        (r.status, json(&r)["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    s.authorize(&fresh, "reports", Permission::Read, None, None)
        .unwrap();
    // Without credentials, or without a token: refused.
    let r = call(
        &s,
        "POST",
        "/auth/v2/revoke",
        &[("Content-Type", FORM)],
        "token=x",
    );
    assert_eq!(r.status, 401);
    assert_eq!(revoke(&basic(&id, &secret), "").status, 400);
}

#[test]
fn a_view_serves_only_its_own_org() {
    let s = store("keyscope");
    let acme = s.org("acme").unwrap();
    let (id, secret) = key(&s, "default-client", &[]);
    let t = token(&s, &id, &secret);
    let (rs, rs_secret) = key(&acme, "acme-rs", &[]);
    let a = introspect(&acme, &basic(&rs, &rs_secret), &format!("token={t}"));
    assert_eq!(a["active"], false);
    // A default-org client cannot get a token through the acme view.
    let auth = basic(&id, &secret);
    let r = call(
        &acme,
        "POST",
        "/auth/v2/token",
        &[("Authorization", &auth), ("Content-Type", FORM)],
        "grant_type=client_credentials",
    );
    assert_eq!(r.status, 401);
}

#[test]
fn an_oversized_body_is_refused_before_it_is_read() {
    let s = store("keyscope");
    let big = "a".repeat(64 * 1024 + 1);
    let r = call(
        &s,
        "POST",
        "/auth/v2/token",
        &[("Content-Type", FORM)],
        &big,
    );
    assert_eq!(r.status, 413);
}
