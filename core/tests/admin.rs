//! The Key Admin API (docs/key-admin-api.md): every route with its success and error
//! cases, and the order in which a request is refused.

mod common;
use common::Store;

use keyscope_core::http::HttpResponse;
use keyscope_core::{Alg, Argon2Params, AuditAction, HttpRequest, KeyStore, NewKey, Options};
use serde_json::{Value, json};

const JSON: &str = "application/json";

fn store() -> Store {
    common::private(Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        token_alg: Some(Alg::Es256),
        catalog: Some(keyscope_core::Catalog::secure_access().clone()),
        revocation_staleness: 0.0,
        ..Options::default()
    })
    .unwrap()
}

/// A token of a new key of `org` holding `grant`.
fn admin_token(s: &KeyStore, org: &str, name: &str, grant: &str) -> (String, String) {
    let v = s.org(org).unwrap();
    let (k, secret) = v
        .create_key(NewKey {
            name: name.into(),
            grants: vec![grant.into()],
            actor: Some("ana@example.com".into()),
            ..Default::default()
        })
        .unwrap();
    let t = v.issue_token(&k.id, &secret, None, None, None).unwrap();
    (t.access_token, k.id)
}

struct Api<'a> {
    s: &'a KeyStore,
    token: String,
}

impl Api<'_> {
    fn call(&self, method: &str, path: &str, body: &str, extra: &[(&str, &str)]) -> HttpResponse {
        let auth = format!("Bearer {}", self.token);
        // The extra headers come first, so they win over the defaults.
        let mut headers: Vec<(&str, &str)> = extra.to_vec();
        headers.extend_from_slice(&[("Authorization", &auth), ("Content-Type", JSON)]);
        self.s.handle_http(&HttpRequest {
            method,
            path,
            headers: &headers,
            body: body.as_bytes(),
            client_ip: Some("64.100.10.7"),
            now: None,
        })
    }
}

fn body(r: &HttpResponse) -> Value {
    serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("not JSON: {:?}", r.body))
}

fn setup() -> (Store, String) {
    let s = store();
    let (token, _) = admin_token(&s, "default", "admin", "admin.apikeys:write");
    (s, token)
}

fn create(api: &Api<'_>, body_json: Value) -> HttpResponse {
    api.call("POST", "/admin/v2/apiKeys", &body_json.to_string(), &[])
}

#[test]
fn create_answers_201_with_the_secret_once_and_every_field() {
    let (s, token) = setup();
    let api = Api { s: &s, token };
    let r = create(
        &api,
        json!({"name": "ci", "scopes": ["deployments.networks:write", "reports:read"],
               "description": "deploys", "expireAt": "2030-01-31T00:00:00Z",
               "allowedIPs": ["64.100.10.0/24", "2001:4860::/32"]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.header("Cache-Control"), Some("no-store"));
    assert_eq!(r.header("ETag"), Some("\"1\""));
    let b = body(&r);
    assert_eq!(b["message"], "success");
    let k = &b["key"];
    assert_eq!(k["id"], k["clientId"]);
    assert!(k["clientSecret"].as_str().unwrap().starts_with("kss_"));
    assert_eq!(
        k["scopes"],
        json!(["deployments.networks:write", "reports:read"])
    );
    assert_eq!(k["allowedIPs"], json!(["64.100.10.0/24", "2001:4860::/32"]));
    assert_eq!(k["expireAt"], "2030-01-31T00:00:00Z");
    assert_eq!(k["lastUsedAt"], "0001-01-01T00:00:00Z");
    assert_eq!(k["lastRefreshedAt"], k["createdAt"]);
    assert_eq!(k["creatorName"], "admin");
    assert_eq!(k["creatorEmail"], "");
    assert_eq!(
        (k["org"].as_str(), k["status"].as_str()),
        (Some("default"), Some("active"))
    );
    assert_eq!(
        (k["enabled"].as_bool(), k["version"].as_i64()),
        (Some(true), Some(1))
    );
    // The new key works, and GET never shows the secret.
    let id = k["id"].as_str().unwrap();
    let secret = keyscope_core::Secret::new(k["clientSecret"].as_str().unwrap());
    s.issue_token(id, &secret, Some("64.100.10.7"), None, None)
        .unwrap();
    let g = api.call("GET", &format!("/admin/v2/apiKeys/{id}"), "", &[]);
    assert_eq!(g.status, 200);
    assert!(body(&g)["key"].get("clientSecret").is_none());
    assert!(!g.body.contains(secret.expose()));
    // The create is audited with the admin key as actor.
    let log = s.audit_log(Some(id), 10, None).unwrap().items;
    assert_eq!(log[0].action, AuditAction::Create);
    assert_eq!(
        log[0].actor.as_deref(),
        Some(k["creatorKeyId"].as_str().unwrap())
    );
    // A key made outside the API names its creator, and an e-mail is the e-mail.
    let (_, lib_id) = admin_token(&s, "default", "made-by-lib", "reports:read");
    let k = &body(&api.call("GET", &format!("/admin/v2/apiKeys/{lib_id}"), "", &[]))["key"];
    assert_eq!(
        (
            k["creatorName"].as_str(),
            k["creatorEmail"].as_str(),
            k["creatorKeyId"].as_str()
        ),
        (Some("ana@example.com"), Some("ana@example.com"), Some(""))
    );
}

#[test]
fn never_expire_is_an_empty_string_and_bad_fields_are_named() {
    let (s, token) = setup();
    let api = Api { s: &s, token };
    let r = create(
        &api,
        json!({"name": "forever", "scopes": ["reports:read"], "expireAt": ""}),
    );
    assert_eq!(
        (r.status, body(&r)["key"]["expireAt"].as_str()),
        (201, Some(""))
    );
    for (req, field) in [
        (json!({"scopes": ["reports:read"]}), "name"),
        (json!({"name": "x"}), "scopes"),
        (
            json!({"name": "x", "scopes": ["reports:read", "nope:read"]}),
            "scopes[1]",
        ),
        (
            json!({"name": "x", "scopes": ["reports:read"], "allowedIPs": ["10.0.0.0/8"]}),
            "allowedIPs[0]",
        ),
        (
            json!({"name": "x", "scopes": ["reports:read"], "expireAt": "tomorrow"}),
            "expireAt",
        ),
        (
            json!({"name": "x", "scopes": ["reports:read"], "expireAt": "2001-01-01T00:00:00Z"}),
            "expireAt",
        ),
        (
            json!({"name": "x", "scopes": ["reports:read"], "colour": "red"}),
            "colour",
        ),
        (json!({"name": 7, "scopes": ["reports:read"]}), "name"),
        (
            json!({"name": "x".repeat(256), "scopes": ["reports:read"]}),
            "name",
        ),
    ] {
        let r = create(&api, req.clone());
        assert_eq!(r.status, 400, "{req}: {}", r.body);
        let b = body(&r);
        assert_eq!(
            (b["message"].as_str(), b["code"].as_str()),
            (Some("error"), Some("invalid_input"))
        );
        assert_eq!(b["field"], field, "{req}");
    }
    let eleven: Vec<String> = (1..=11).map(|i| format!("64.100.{i}.0/24")).collect();
    let r = create(
        &api,
        json!({"name": "x", "scopes": ["reports:read"], "allowedIPs": eleven}),
    );
    assert_eq!(r.status, 400);
    // Malformed JSON and a non-object body.
    for raw in ["{", "[]", "\"x\""] {
        assert_eq!(
            api.call("POST", "/admin/v2/apiKeys", raw, &[]).status,
            400,
            "{raw}"
        );
    }
    // Nothing was stored by the refusals.
    assert_eq!(s.summary(30 * 86_400_000, None).unwrap().total, 2);
}

#[test]
fn a_taken_name_is_409_and_nothing_changes() {
    let (s, token) = setup();
    let api = Api { s: &s, token };
    assert_eq!(
        create(&api, json!({"name": "dup", "scopes": ["reports:read"]})).status,
        201
    );
    let r = create(&api, json!({"name": "dup", "scopes": ["reports:read"]}));
    assert_eq!(
        (r.status, body(&r)["code"].as_str()),
        (409, Some("conflict"))
    );
}

#[test]
fn list_pages_by_offset_and_limit_with_the_orgs_summary() {
    let (s, token) = setup();
    let api = Api { s: &s, token };
    let soon = keyscope_core::Timestamp::now()
        .plus_millis(3 * 86_400_000)
        .to_rfc3339_seconds();
    for i in 0..5 {
        let exp = if i == 0 { soon.as_str() } else { "" };
        create(
            &api,
            json!({"name": format!("k{i}"), "scopes": ["reports:read"], "expireAt": exp}),
        );
    }
    let all = body(&api.call("GET", "/admin/v2/apiKeys", "", &[]));
    assert_eq!(all["message"], "success");
    assert_eq!(
        (
            all["total"].as_i64(),
            all["offset"].as_i64(),
            all["limit"].as_i64()
        ),
        (Some(6), Some(0), Some(0))
    );
    assert_eq!(all["keys"].as_array().unwrap().len(), 6);
    for f in [
        "total",
        "active",
        "expired",
        "expiringSoon",
        "neverExpires",
        "disabled",
    ] {
        assert!(all["summary"][f].is_u64(), "{f}");
    }
    let page = body(&api.call("GET", "/admin/v2/apiKeys?offset=2&limit=2", "", &[]));
    let names: Vec<&str> = page["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["k1", "k2"]);
    assert_eq!(page["total"], 6);
    let found = body(&api.call("GET", "/admin/v2/apiKeys?search=K3", "", &[]));
    assert_eq!(
        (found["total"].as_i64(), found["summary"]["total"].as_i64()),
        (Some(1), Some(6))
    );
    for bad in ["limit=1001", "limit=-1", "offset=x", "status=sideways"] {
        let r = api.call("GET", &format!("/admin/v2/apiKeys?{bad}"), "", &[]);
        assert_eq!(r.status, 400, "{bad}");
    }
}

#[test]
fn patch_follows_if_match_and_clears_with_empty_strings() {
    let (s, token) = setup();
    let api = Api { s: &s, token };
    let k = body(&create(
        &api,
        json!({"name": "p", "scopes": ["reports:read"], "description": "d", "expireAt": "2030-01-01T00:00:00Z"}),
    ))["key"]
        .clone();
    let path = format!("/admin/v2/apiKeys/{}", k["id"].as_str().unwrap());
    let r = api.call(
        "PATCH",
        &path,
        &json!({"description": "", "expireAt": "", "scopes": ["reports:write"], "enabled": false})
            .to_string(),
        &[("If-Match", "\"1\"")],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("ETag"), Some("\"2\""));
    let p = &body(&r)["key"];
    assert_eq!(
        (p["description"].as_str(), p["expireAt"].as_str()),
        (Some(""), Some(""))
    );
    assert_eq!(
        (p["enabled"].as_bool(), p["status"].as_str()),
        (Some(false), Some("disabled"))
    );
    // A stale version is 412 and changes nothing; * matches any; garbage is 400.
    let r = api.call("PATCH", &path, r#"{"name": "q"}"#, &[("If-Match", "\"1\"")]);
    assert_eq!(r.status, 412);
    assert_eq!(body(&api.call("GET", &path, "", &[]))["key"]["name"], "p");
    assert_eq!(
        api.call("PATCH", &path, r#"{"name": "q"}"#, &[("If-Match", "*")])
            .status,
        200
    );
    assert_eq!(
        api.call("PATCH", &path, r#"{"name": "r"}"#, &[("If-Match", "3")])
            .status,
        400
    );
    assert_eq!(
        api.call("PATCH", &path, r#"{"enabled": "yes"}"#, &[])
            .status,
        400
    );
    assert_eq!(api.call("PATCH", &path, r#"{"id": "x"}"#, &[]).status, 400);
    // A bad field of an unknown key: 400 comes before 404.
    let unknown = "/admin/v2/apiKeys/00000000000000000000000000000000";
    let r = api.call("PATCH", unknown, r#"{"scopes": ["nope:read"]}"#, &[]);
    assert_eq!(
        (r.status, body(&r)["field"].as_str()),
        (400, Some("scopes[0]"))
    );
    assert_eq!(
        api.call("PATCH", unknown, r#"{"description": "x"}"#, &[])
            .status,
        404
    );
    let log = s.audit_log(k["id"].as_str(), 10, None).unwrap().items;
    assert!(
        log.iter()
            .filter(|r| r.action == AuditAction::Update)
            .count()
            >= 2
    );
}

#[test]
fn refresh_and_delete_work_with_an_empty_body_and_if_match() {
    let (s, token) = setup();
    let api = Api { s: &s, token };
    let k = body(&create(
        &api,
        json!({"name": "r", "scopes": ["reports:read"]}),
    ))["key"]
        .clone();
    let id = k["id"].as_str().unwrap();
    let old = keyscope_core::Secret::new(k["clientSecret"].as_str().unwrap());
    // What Cisco's generated client sends: an empty body with a JSON content type.
    let r = api.call("POST", &format!("/admin/v2/apiKeys/{id}/refresh"), "", &[]);
    assert_eq!(r.status, 200, "{}", r.body);
    let new = body(&r)["key"]["clientSecret"].as_str().unwrap().to_owned();
    assert_ne!(new, old.expose());
    assert!(s.issue_token(id, &old, None, None, None).is_err());
    // With a grace, the old secret keeps working.
    let r = api.call(
        "POST",
        &format!("/admin/v2/apiKeys/{id}/refresh"),
        r#"{"grace": 60}"#,
        &[],
    );
    assert_eq!(r.status, 200);
    s.issue_token(
        id,
        &keyscope_core::Secret::new(new.clone()),
        None,
        None,
        None,
    )
    .unwrap();
    assert_eq!(
        api.call(
            "POST",
            &format!("/admin/v2/apiKeys/{id}/refresh"),
            r#"{"grace": -1}"#,
            &[]
        )
        .status,
        400
    );
    assert_eq!(
        api.call(
            "POST",
            &format!("/admin/v2/apiKeys/{id}/refresh"),
            "",
            &[("If-Match", "\"1\"")]
        )
        .status,
        412
    );
    // Delete: stale If-Match refused, then 204 with no body, then 404.
    let path = format!("/admin/v2/apiKeys/{id}");
    assert_eq!(
        api.call("DELETE", &path, "", &[("If-Match", "\"1\"")])
            .status,
        412
    );
    let d = api.call("DELETE", &path, "", &[]);
    assert_eq!((d.status, d.body.as_str()), (204, ""));
    assert_eq!(d.header("Cache-Control"), Some("no-store"));
    let g = api.call("GET", &path, "", &[]);
    assert_eq!(
        (g.status, body(&g)["code"].as_str()),
        (404, Some("not_found"))
    );
    assert_eq!(
        api.call("GET", "/admin/v2/apiKeys/not-a-key-id", "", &[])
            .status,
        404
    );
}

#[test]
fn auth_comes_first_and_the_grant_decides_reading_and_writing() {
    let s = store();
    let (reader, _) = admin_token(&s, "default", "reader", "admin.apikeys:read");
    let (other, _) = admin_token(&s, "default", "other", "reports:read");
    let read = Api {
        s: &s,
        token: reader,
    };
    assert_eq!(read.call("GET", "/admin/v2/apiKeys", "", &[]).status, 200);
    let r = create(&read, json!({"name": "x", "scopes": ["reports:read"]}));
    assert_eq!(r.status, 403);
    assert!(
        r.header("WWW-Authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
    let none = Api {
        s: &s,
        token: other,
    };
    assert_eq!(none.call("GET", "/admin/v2/apiKeys", "", &[]).status, 403);
    let bad = Api {
        s: &s,
        token: "garbage".into(),
    };
    let r = bad.call("GET", "/admin/v2/apiKeys", "", &[]);
    assert_eq!(r.status, 401);
    assert!(r.header("WWW-Authenticate").unwrap().starts_with("Bearer"));
    assert_eq!(body(&r)["message"], "error");
    // No Authorization at all.
    let r = s.handle_http(&HttpRequest {
        method: "GET",
        path: "/admin/v2/apiKeys",
        headers: &[],
        body: b"",
        client_ip: None,
        now: None,
    });
    assert_eq!(r.status, 401);
    // 413 before 401; 401 before 415; 415 before 400.
    let big = "x".repeat(64 * 1024 + 1);
    assert_eq!(bad.call("POST", "/admin/v2/apiKeys", &big, &[]).status, 413);
    let (writer, _) = admin_token(&s, "default", "writer", "admin.apikeys:write");
    let w = Api {
        s: &s,
        token: writer,
    };
    let r = w.s.handle_http(&HttpRequest {
        method: "POST",
        path: "/admin/v2/apiKeys",
        headers: &[
            ("Authorization", &format!("Bearer {}", w.token)),
            ("Content-Type", "text/plain"),
        ],
        body: b"{nonsense",
        client_ip: None,
        now: None,
    });
    assert_eq!(r.status, 415);
    let r = bad.s.handle_http(&HttpRequest {
        method: "POST",
        path: "/admin/v2/apiKeys",
        headers: &[("Content-Type", "text/plain")],
        body: b"{nonsense",
        client_ip: None,
        now: None,
    });
    assert_eq!(r.status, 401);
    assert_eq!(
        w.call(
            "POST",
            "/admin/v2/apiKeys",
            "{}",
            &[("Content-Type", "application/json; charset=utf-8")]
        )
        .status,
        400
    );
}

#[test]
fn an_admin_key_manages_only_its_own_org() {
    let s = store();
    let (acme_admin, _) = admin_token(&s, "acme", "acme-admin", "admin.apikeys:write");
    let (_, default_key) = admin_token(&s, "default", "someone", "reports:read");
    let api = Api {
        s: &s,
        token: acme_admin,
    };
    let list = body(&api.call("GET", "/admin/v2/apiKeys", "", &[]));
    assert!(
        list["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["org"] == "acme")
    );
    assert_eq!(
        api.call("GET", &format!("/admin/v2/apiKeys/{default_key}"), "", &[])
            .status,
        404
    );
    assert_eq!(
        api.call(
            "DELETE",
            &format!("/admin/v2/apiKeys/{default_key}"),
            "",
            &[]
        )
        .status,
        404
    );
    let made = body(&create(
        &api,
        json!({"name": "acme-ci", "scopes": ["reports:read"]}),
    ));
    assert_eq!(made["key"]["org"], "acme");
    // A view serves only its own org: a default-org admin token is refused there.
    let (default_admin, _) = admin_token(&s, "default", "root", "admin.apikeys:write");
    let acme_view = s.org("acme").unwrap();
    let api = Api {
        s: &acme_view,
        token: default_admin,
    };
    assert_eq!(api.call("GET", "/admin/v2/apiKeys", "", &[]).status, 401);
}

#[test]
fn the_catalog_route_serves_the_scope_tree() {
    let (s, token) = setup();
    let api = Api { s: &s, token };
    let c = body(&api.call("GET", "/admin/v2/catalog", "", &[]));
    assert_eq!(c["scopes"]["admin"]["apikeys"], "write");
    assert_eq!(c["scopes"]["deployments"]["networks"], "write");
    let plain = common::private(Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..Options::default()
    })
    .unwrap();
    let (t, _) = admin_token(&plain, "default", "a", "admin.apikeys:read");
    let c = body(
        &Api {
            s: &plain,
            token: t,
        }
        .call("GET", "/admin/v2/catalog", "", &[]),
    );
    assert_eq!(c, json!({"scopes": null}));
}

#[test]
fn unknown_admin_routes_and_methods() {
    let (s, token) = setup();
    let api = Api { s: &s, token };
    assert_eq!(api.call("GET", "/admin/v2/nothing", "", &[]).status, 404);
    let r = api.call("PUT", "/admin/v2/apiKeys", "", &[]);
    assert_eq!((r.status, r.header("Allow")), (405, Some("GET, POST")));
    let r = api.call("POST", "/admin/v2/apiKeys/abc", "", &[]);
    assert_eq!(
        (r.status, r.header("Allow")),
        (405, Some("GET, PATCH, DELETE"))
    );
    let r = api.call("GET", "/admin/v2/apiKeys/abc/refresh", "", &[]);
    assert_eq!((r.status, r.header("Allow")), (405, Some("POST")));
}
