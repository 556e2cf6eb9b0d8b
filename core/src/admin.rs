//! The Key Admin API (docs/key-admin-api.md): API-key management over HTTP in the wire
//! format of Cisco Secure Access's "API Keys" endpoints, so scripts and generated
//! clients written for Cisco work unchanged. Served by [`KeyStore::handle_http`] under
//! `/admin/v2/`; every rule it applies is the library's own.

use serde_json::{Map, Value, json};

use crate::endpoints::HttpRequest;
use crate::error::{Error, ErrorKind};
use crate::grant::Permission;
use crate::http::{HttpResponse, form_decode};
use crate::key::{DEFAULT_WITHIN_MS, KeyUpdate, MAX_GRACE_MS, NewKey, StatusFilter};
use crate::keystore::KeyStore;
use crate::store::{KeyRecord, KeyScan};
use crate::text::fold;
use crate::time::Timestamp;
use crate::token::Principal;

/// Largest request body read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most keys one `limit=0` listing returns.
pub const MAX_ALL: usize = 10_000;
/// The instant written for "never happened" (clients generated from Cisco's
/// document require a date there).
pub const ZERO_INSTANT: &str = "0001-01-01T00:00:00Z";

/// The grant that reads keys; writing needs the same resource at `write`.
pub const ADMIN_RESOURCE: &str = "admin.apikeys";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route<'a> {
    Keys,
    Key(&'a str),
    Refresh(&'a str),
    Catalog,
}

fn parse_route(rel: &str) -> Option<Route<'_>> {
    if rel == "/admin/v2/catalog" {
        return Some(Route::Catalog);
    }
    let rest = rel.strip_prefix("/admin/v2/apiKeys")?;
    match rest {
        "" => Some(Route::Keys),
        _ => {
            let rest = rest.strip_prefix('/')?;
            match rest.split_once('/') {
                None if !rest.is_empty() => Some(Route::Key(rest)),
                Some((id, "refresh")) if !id.is_empty() => Some(Route::Refresh(id)),
                _ => None,
            }
        }
    }
}

/// A Key Admin API error: `{"message": "error", "description", "code", "field"?}`.
fn error_response(status: u16, code: &str, description: &str, field: Option<&str>) -> HttpResponse {
    let mut body = json!({
        "message": "error",
        "description": description,
        "code": code,
    });
    if let Some(f) = field {
        body["field"] = json!(f);
    }
    respond(status, &body)
}

fn respond(status: u16, body: &Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![
            (
                "Content-Type".into(),
                "application/json; charset=utf-8".into(),
            ),
            ("Cache-Control".into(), "no-store".into()),
        ],
        body: body.to_string(),
    }
}

/// The library's field names in this API's names.
fn api_field(field: &str) -> String {
    for (ours, theirs) in [
        ("grants", "scopes"),
        ("networks", "allowedIPs"),
        ("expires_at", "expireAt"),
    ] {
        if let Some(rest) = field.strip_prefix(ours) {
            return format!("{theirs}{rest}");
        }
    }
    field.to_owned()
}

/// The answer to an error of a library call.
fn from_error(e: &Error) -> HttpResponse {
    let field = e.field().map(api_field);
    let (status, text) = match e.kind() {
        ErrorKind::InvalidInput => (400, e.message().to_owned()),
        ErrorKind::NotFound => (404, e.message().to_owned()),
        ErrorKind::Conflict if e.field() == Some("expected_version") => (
            412,
            "the key changed since the version in If-Match".to_owned(),
        ),
        ErrorKind::Conflict => (409, e.message().to_owned()),
        ErrorKind::Storage => (503, "the key store is unavailable; retry".to_owned()),
        _ => (500, "the server failed".to_owned()),
    };
    let text = match (e.kind(), e.message().split_once(": ")) {
        // The library says "grants[1]: …"; say it with this API's field names.
        (ErrorKind::InvalidInput, Some((f, why))) if Some(f) == e.field() => {
            format!("{}: {why}", api_field(f))
        }
        _ => text,
    };
    error_response(status, e.code(), &text, field.as_deref())
}

fn bad_request(description: &str, field: Option<&str>) -> HttpResponse {
    error_response(400, "invalid_input", description, field)
}

fn instant(t: Option<Timestamp>) -> String {
    t.map_or_else(|| ZERO_INSTANT.to_owned(), Timestamp::to_rfc3339_seconds)
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// A JSON list of the items' texts.
fn texts<T: ToString>(items: &[T]) -> Value {
    Value::Array(items.iter().map(|i| Value::String(i.to_string())).collect())
}

/// The key object of this API.
fn key_json(rec: &KeyRecord, now: Timestamp) -> Map<String, Value> {
    let key = rec.to_api_key(now);
    let creator = rec.creator.clone().unwrap_or_default();
    // The creator is the create's actor unless an admin key made it (then it is that
    // key's name, never an e-mail address).
    let email = if rec.creator_key_id.is_none() && looks_like_email(&creator) {
        creator.clone()
    } else {
        String::new()
    };
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    put("id", json!(key.id));
    put("clientId", json!(key.id));
    put("name", json!(key.name));
    put(
        "description",
        json!(key.description.clone().unwrap_or_default()),
    );
    put("scopes", texts(&key.grants));
    put("allowedIPs", texts(&key.networks));
    put(
        "expireAt",
        json!(
            key.expires_at
                .map(Timestamp::to_rfc3339_seconds)
                .unwrap_or_default()
        ),
    );
    put("createdAt", json!(instant(Some(key.created_at))));
    put("modifiedAt", json!(instant(Some(key.updated_at))));
    put(
        "lastRefreshedAt",
        json!(instant(Some(
            key.last_refreshed_at.unwrap_or(key.created_at)
        ))),
    );
    put("lastUsedAt", json!(instant(key.last_used_at)));
    put("creatorName", json!(creator));
    put("creatorEmail", json!(email));
    put(
        "creatorKeyId",
        json!(rec.creator_key_id.clone().unwrap_or_default()),
    );
    put("org", json!(key.org));
    put("enabled", json!(key.enabled));
    put("status", json!(key.status.as_str()));
    put("version", json!(key.version));
    m
}

fn with_etag(r: HttpResponse, version: i64) -> HttpResponse {
    r.with_header("ETag", format!("\"{version}\""))
}

/// `If-Match`: `None` for absent or `*`, the version for `"<n>"`.
fn if_match(req: &HttpRequest<'_>) -> std::result::Result<Option<i64>, HttpResponse> {
    let Some(v) = req.header("if-match").map(str::trim) else {
        return Ok(None);
    };
    if v == "*" {
        return Ok(None);
    }
    v.strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .filter(|n| !n.is_empty() && n.bytes().all(|c| c.is_ascii_digit()))
        .and_then(|n| n.parse::<i64>().ok())
        .filter(|n| *n >= 1)
        .map(Some)
        .ok_or_else(|| {
            bad_request(
                "If-Match must be \"<version>\" (the key's ETag) or *",
                Some("If-Match"),
            )
        })
}

/// The JSON object of the body (an empty body is an empty object), or the 400.
fn body_object(req: &HttpRequest<'_>) -> std::result::Result<Map<String, Value>, HttpResponse> {
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(req.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad_request("the body must be a JSON object", None)),
        Err(_) => Err(bad_request("the body is not valid JSON", None)),
    }
}

fn check_fields(m: &Map<String, Value>, allowed: &[&str]) -> std::result::Result<(), HttpResponse> {
    match m.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(bad_request(
            &format!("unknown field; this request takes {}", allowed.join(", ")),
            Some(k),
        )),
        None => Ok(()),
    }
}

fn string_field(
    m: &Map<String, Value>,
    name: &str,
) -> std::result::Result<Option<String>, HttpResponse> {
    match m.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request(&format!("{name} must be a string"), Some(name))),
    }
}

fn strings_field(
    m: &Map<String, Value>,
    name: &str,
) -> std::result::Result<Option<Vec<String>>, HttpResponse> {
    match m.get(name) {
        None => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(bad_request(
                    &format!("{name}[{i}] must be a string"),
                    Some(&format!("{name}[{i}]")),
                )),
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(bad_request(
            &format!("{name} must be a list of strings"),
            Some(name),
        )),
    }
}

/// `expireAt`: `""` is never; else an ISO 8601 instant.
fn expiry_field(
    m: &Map<String, Value>,
) -> std::result::Result<Option<Option<Timestamp>>, HttpResponse> {
    match string_field(m, "expireAt")? {
        None => Ok(None),
        Some(s) if s.is_empty() => Ok(Some(None)),
        Some(s) => Timestamp::parse_rfc3339(&s, "expireAt")
            .map(|t| Some(Some(t)))
            .map_err(|e| from_error(&e)),
    }
}

/// The query parameters of a path.
fn query_params(path: &str) -> std::result::Result<Vec<(String, String)>, HttpResponse> {
    let Some((_, q)) = path.split_once('?') else {
        return Ok(Vec::new());
    };
    q.split('&')
        .filter(|p| !p.is_empty())
        .take(64)
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            match (form_decode(k), form_decode(v)) {
                (Ok(k), Ok(v)) => Ok((k.to_string(), v.to_string())),
                _ => Err(bad_request("the query string is not valid", None)),
            }
        })
        .collect()
}

impl KeyStore {
    /// Serves a Key Admin API request at `rel` (the path below the issuer's path,
    /// without the query); `client_ip` is the resolved client address.
    pub(crate) fn handle_admin(
        &self,
        req: &HttpRequest<'_>,
        rel: &str,
        client_ip: Option<&str>,
    ) -> HttpResponse {
        let Some(route) = parse_route(rel) else {
            return error_response(404, "not_found", "no such route", None);
        };
        let allow = match route {
            Route::Keys => "GET, POST",
            Route::Key(_) => "GET, PATCH, DELETE",
            Route::Refresh(_) => "POST",
            Route::Catalog => "GET",
        };
        if !allow.split(", ").any(|m| m == req.method) {
            return error_response(405, "invalid_input", "method not allowed", None)
                .with_header("Allow", allow.into());
        }
        if req.body.len() > MAX_BODY_BYTES {
            return error_response(413, "invalid_input", "the body is larger than 64 KiB", None);
        }
        let now = Timestamp::or_now(req.now);
        let permission = if req.method == "GET" {
            Permission::Read
        } else {
            Permission::Write
        };
        let admin = match self.authorize_header(
            req.header("authorization"),
            ADMIN_RESOURCE,
            permission,
            client_ip,
            Some(now),
        ) {
            Ok(p) => p,
            Err(e) => {
                let status = match e.kind() {
                    ErrorKind::Storage => 503,
                    ErrorKind::Internal => 500,
                    _ => e.http_status().unwrap_or(500),
                };
                let r = error_response(status, e.code(), e.message(), None);
                return match e.www_authenticate() {
                    Some(c) => r.with_header("WWW-Authenticate", c.to_owned()),
                    None => r,
                };
            }
        };
        if !req.body.is_empty() {
            let media = req
                .header("content-type")
                .and_then(|c| c.split(';').next())
                .map(str::trim);
            if !media.is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
                return error_response(
                    415,
                    "invalid_input",
                    "the body must be application/json",
                    None,
                );
            }
        }
        let org = match self.org(admin.org()) {
            Ok(v) => v,
            Err(e) => return from_error(&e),
        };
        let result = match route {
            Route::Catalog => Ok(self.catalog_json()),
            Route::Keys if req.method == "GET" => org.admin_list(req, now),
            Route::Keys => org.admin_create(req, &admin, now),
            Route::Key(id) if req.method == "GET" => org.admin_get(id, now),
            Route::Key(id) if req.method == "PATCH" => org.admin_patch(req, id, &admin, now),
            Route::Key(id) => org.admin_delete(req, id, &admin, now),
            Route::Refresh(id) => org.admin_refresh(req, id, &admin, now),
        };
        result.unwrap_or_else(|r| r)
    }

    fn record(&self, id: &str) -> std::result::Result<KeyRecord, HttpResponse> {
        if !crate::secret::is_key_id(id) {
            return Err(from_error(&Error::not_found(id)));
        }
        match self.shared().backend.get_key(Some(self.org_name()), id) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(from_error(&Error::not_found(id))),
            Err(e) => Err(from_error(&e)),
        }
    }

    fn catalog_json(&self) -> HttpResponse {
        let scopes = match &self.options().catalog {
            None => Value::Null,
            Some(c) => Value::Object(
                c.scopes()
                    .iter()
                    .map(|(scope, resources)| {
                        let inner: Map<String, Value> = resources
                            .iter()
                            .map(|(r, p)| (r.clone(), json!(p.as_str())))
                            .collect();
                        (scope.clone(), Value::Object(inner))
                    })
                    .collect(),
            ),
        };
        respond(200, &json!({ "scopes": scopes }))
    }

    fn admin_list(
        &self,
        req: &HttpRequest<'_>,
        now: Timestamp,
    ) -> std::result::Result<HttpResponse, HttpResponse> {
        let params = query_params(req.path)?;
        let get = |name: &str| {
            params
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let int = |name: &str, max: i64| -> std::result::Result<i64, HttpResponse> {
            match get(name) {
                None | Some("") => Ok(0),
                Some(v) => v
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (0..=max).contains(n))
                    .ok_or_else(|| {
                        bad_request(
                            &format!("{name} must be an integer from 0 to {max}"),
                            Some(name),
                        )
                    }),
            }
        };
        let offset = int("offset", i64::from(i32::MAX))? as usize;
        let limit = int("limit", 1000)? as usize;
        let status = match get("status") {
            None | Some("") => StatusFilter::All,
            Some(s) => s.parse::<StatusFilter>().map_err(|e| from_error(&e))?,
        };
        let search = match get("search") {
            Some(s) if s.chars().count() > 255 => {
                return Err(bad_request(
                    "search is longer than 255 characters",
                    Some("search"),
                ));
            }
            Some(s) if !s.is_empty() => Some(fold(s)),
            _ => None,
        };
        let backend = &self.shared().backend;
        let mut matching: Vec<KeyRecord> = Vec::new();
        let mut after_seq = 0;
        loop {
            let rows = backend
                .scan_keys(&KeyScan {
                    org: self.org_name(),
                    status,
                    search: search.as_deref(),
                    after_seq,
                    limit: 1000,
                    now,
                    expiring_until: now.plus_millis(DEFAULT_WITHIN_MS),
                })
                .map_err(|e| from_error(&e))?;
            let full = rows.len() == 1000;
            if let Some(last) = rows.last() {
                after_seq = last.seq;
            }
            matching.extend(rows);
            if !full {
                break;
            }
        }
        let total = matching.len();
        if limit == 0 && total.saturating_sub(offset) > MAX_ALL {
            return Err(bad_request(
                &format!(
                    "limit=0 returns at most {MAX_ALL} keys and {total} match: page with \
                     offset and limit instead"
                ),
                Some("limit"),
            ));
        }
        let take = if limit == 0 { MAX_ALL } else { limit };
        let keys: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(take)
            .map(|r| Value::Object(key_json(r, now)))
            .collect();
        let s = self
            .summary(DEFAULT_WITHIN_MS, Some(now))
            .map_err(|e| from_error(&e))?;
        Ok(respond(
            200,
            &json!({
                "keys": keys,
                "offset": offset,
                "limit": limit,
                "total": total,
                "message": "success",
                "summary": {
                    "total": s.total,
                    "active": s.active,
                    "expired": s.expired,
                    "expiringSoon": s.expiring_soon,
                    "neverExpires": s.never_expires,
                    "disabled": s.disabled,
                },
            }),
        ))
    }

    fn admin_get(
        &self,
        id: &str,
        now: Timestamp,
    ) -> std::result::Result<HttpResponse, HttpResponse> {
        let rec = self.record(id)?;
        Ok(with_etag(
            respond(
                200,
                &json!({"key": key_json(&rec, now), "message": "success"}),
            ),
            rec.version,
        ))
    }

    fn admin_create(
        &self,
        req: &HttpRequest<'_>,
        admin: &Principal,
        now: Timestamp,
    ) -> std::result::Result<HttpResponse, HttpResponse> {
        let m = body_object(req)?;
        check_fields(
            &m,
            &["name", "scopes", "description", "expireAt", "allowedIPs"],
        )?;
        let name = string_field(&m, "name")?
            .ok_or_else(|| bad_request("name is required", Some("name")))?;
        let scopes = strings_field(&m, "scopes")?
            .ok_or_else(|| bad_request("scopes is required", Some("scopes")))?;
        let new = NewKey {
            name,
            description: string_field(&m, "description")?.filter(|d| !d.is_empty()),
            expires_at: expiry_field(&m)?.flatten(),
            grants: scopes,
            networks: strings_field(&m, "allowedIPs")?.unwrap_or_default(),
            enabled: None,
            actor: Some(admin.key_id().to_owned()),
            now: Some(now),
        };
        let (rec, secret, now) = self
            .create_key_by(new, Some((admin.key_id(), admin.key_name())))
            .map_err(|e| from_error(&e))?;
        let mut key = key_json(&rec, now);
        key.insert("clientSecret".into(), json!(secret.expose()));
        Ok(with_etag(
            respond(201, &json!({"key": key, "message": "success"})),
            rec.version,
        ))
    }

    fn admin_patch(
        &self,
        req: &HttpRequest<'_>,
        id: &str,
        admin: &Principal,
        now: Timestamp,
    ) -> std::result::Result<HttpResponse, HttpResponse> {
        let m = body_object(req)?;
        check_fields(
            &m,
            &[
                "name",
                "description",
                "scopes",
                "allowedIPs",
                "expireAt",
                "enabled",
            ],
        )?;
        let enabled = match m.get("enabled") {
            None => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(_) => {
                return Err(bad_request(
                    "enabled must be true or false",
                    Some("enabled"),
                ));
            }
        };
        let expected_version = if_match(req)?;
        let update = KeyUpdate {
            name: string_field(&m, "name")?,
            description: string_field(&m, "description")?.map(|d| (!d.is_empty()).then_some(d)),
            expires_at: expiry_field(&m)?,
            grants: strings_field(&m, "scopes")?,
            networks: strings_field(&m, "allowedIPs")?,
            enabled,
            expected_version,
            actor: Some(admin.key_id().to_owned()),
            now: Some(now),
        };
        // The library checks the fields before it looks the key up: 400 before 404.
        if !crate::secret::is_key_id(id) {
            return Err(from_error(&Error::not_found(id)));
        }
        self.update_key(id, update).map_err(|e| from_error(&e))?;
        self.admin_get(id, now)
    }

    fn admin_delete(
        &self,
        req: &HttpRequest<'_>,
        id: &str,
        admin: &Principal,
        now: Timestamp,
    ) -> std::result::Result<HttpResponse, HttpResponse> {
        let expected_version = if_match(req)?;
        self.record(id)?;
        self.delete_key_if(
            id,
            expected_version,
            Some(admin.key_id().to_owned()),
            Some(now),
        )
        .map_err(|e| from_error(&e))?;
        let mut r = respond(204, &Value::Null);
        r.body = String::new();
        r = r.without_header("Content-Type");
        Ok(r)
    }

    fn admin_refresh(
        &self,
        req: &HttpRequest<'_>,
        id: &str,
        admin: &Principal,
        now: Timestamp,
    ) -> std::result::Result<HttpResponse, HttpResponse> {
        let m = body_object(req)?;
        check_fields(&m, &["grace"])?;
        let grace_s = match m.get("grace") {
            None => 0,
            Some(v) => v
                .as_i64()
                .filter(|g| (0..=MAX_GRACE_MS / 1000).contains(g))
                .ok_or_else(|| {
                    bad_request(
                        "grace must be a whole number of seconds from 0 to 604800",
                        Some("grace"),
                    )
                })?,
        };
        let expected_version = if_match(req)?;
        self.record(id)?;
        let (_, secret) = self
            .refresh_key_if(
                id,
                grace_s * 1000,
                expected_version,
                Some(admin.key_id().to_owned()),
                Some(now),
            )
            .map_err(|e| from_error(&e))?;
        let rec = self.record(id)?;
        let mut key = key_json(&rec, now);
        key.insert("clientSecret".into(), json!(secret.expose()));
        Ok(with_etag(
            respond(200, &json!({"key": key, "message": "success"})),
            rec.version,
        ))
    }
}

/// True when `rel` (a path below the issuer's path) belongs to the Key Admin API.
pub(crate) fn is_admin_path(rel: &str) -> bool {
    rel.starts_with("/admin/v2/") || rel == "/admin/v2"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_parse() {
        assert_eq!(parse_route("/admin/v2/apiKeys"), Some(Route::Keys));
        assert_eq!(
            parse_route("/admin/v2/apiKeys/abc"),
            Some(Route::Key("abc"))
        );
        assert_eq!(
            parse_route("/admin/v2/apiKeys/abc/refresh"),
            Some(Route::Refresh("abc"))
        );
        assert_eq!(parse_route("/admin/v2/catalog"), Some(Route::Catalog));
        for bad in [
            "/admin/v2/apiKeys/",
            "/admin/v2/apiKeys/abc/",
            "/admin/v2/apiKeys/abc/other",
            "/admin/v2/apiKeysX",
            "/admin/v2/apiKeys//refresh",
        ] {
            assert_eq!(parse_route(bad), None, "{bad}");
        }
    }

    #[test]
    fn field_names_are_this_apis() {
        assert_eq!(api_field("grants[2]"), "scopes[2]");
        assert_eq!(api_field("networks[0]"), "allowedIPs[0]");
        assert_eq!(api_field("expires_at"), "expireAt");
        assert_eq!(api_field("name"), "name");
    }

    #[test]
    fn creator_emails_are_recognized() {
        assert!(looks_like_email("ana@example.com"));
        for no in ["ana", "ana@", "@x.y", "ana@localhost", "a b@x.y", "ana@x."] {
            assert!(!looks_like_email(no), "{no}");
        }
    }
}
