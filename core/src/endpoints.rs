//! Signing-key administration, token revocation, and every HTTP route keyscope
//! serves behind one transport-agnostic entry point, [`KeyStore::handle_http`]
//! (docs/endpoints.md): the token endpoint, RFC 8414 metadata, the JWK Set, RFC 7662
//! introspection, RFC 7009 revocation and a health check.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::json;

use crate::authorize::Target;
use crate::error::{Error, ErrorKind, Result};
use crate::grant::{Permission, split_target};
use crate::http::{
    Form, HttpResponse, client_address, client_credentials, form_param, read_form, token_error,
};
use crate::jose::Alg;
use crate::keystore::KeyStore;
use crate::network::parse_client_ip;
use crate::signing::{self, SigningKeyInfo};
use crate::store::KeyRecord;
use crate::text::DEFAULT_ORG;
use crate::time::Timestamp;
use crate::token_cache::VerifiedToken;

/// Largest request body `handle_http` reads.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// One HTTP request, as any server or framework hands it over.
#[derive(Debug, Clone, Copy)]
pub struct HttpRequest<'a> {
    /// The method (`GET`, `POST`, …), case-sensitive as HTTP says.
    pub method: &'a str,
    /// The path, possibly with a query string.
    pub path: &'a str,
    /// Header names (any case) and values, in order; a name may repeat.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
    /// The connection's peer address; `X-Forwarded-For` is believed only from
    /// `trusted_proxies`.
    pub client_ip: Option<&'a str>,
    /// The instant that drives every rule of the request (default: now).
    pub now: Option<Timestamp>,
}

impl<'a> HttpRequest<'a> {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }

    /// Every value of header `name`, in order.
    pub fn header_values(&self, name: &str) -> Vec<&'a str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
            .collect()
    }
}

/// Where the routes live: the path of an issuer that is an `https://` URL (or
/// `http://` on a loopback host) without query, fragment, user info or trailing `/`;
/// `None` for any other issuer (the routes are then served from `/` and there is no
/// metadata).
pub fn issuer_base_path(issuer: &str) -> Option<&str> {
    let rest = issuer
        .strip_prefix("https://")
        .map(|r| (r, true))
        .or_else(|| issuer.strip_prefix("http://").map(|r| (r, false)));
    let (rest, tls) = rest?;
    if rest.contains(['?', '#']) || issuer.ends_with('/') {
        return None;
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next()?
    } else {
        authority.split(':').next()?
    };
    if host.is_empty() {
        return None;
    }
    let loopback = host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    (tls || loopback).then_some(path)
}

/// A 401 to a client that sent its credentials in the form carries no `Basic`
/// challenge (a browser would show a login prompt), as on the token route.
fn quiet(r: HttpResponse, in_body: bool) -> HttpResponse {
    if in_body {
        r.without_header("WWW-Authenticate")
    } else {
        r
    }
}

fn json_error(status: u16, error: &str) -> HttpResponse {
    HttpResponse::json(status, json!({ "error": error }))
}

fn public_json(body: String) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![
            ("Content-Type".into(), "application/json".into()),
            ("Cache-Control".into(), "public, max-age=300".into()),
        ],
        body,
    }
}

impl KeyStore {
    /// `invalid_input` unless the store's own keys are in use and this is the store
    /// itself (signing keys belong to the store, not to an org view).
    fn check_key_admin(&self, call: &str) -> Result<()> {
        self.check_open()?;
        if self.is_view() {
            return Err(Error::invalid(
                "org",
                format!("{call}: signing keys belong to the store, not to an org view"),
            ));
        }
        if self.shared().auth.signing().0.is_fixed() {
            return Err(Error::invalid(
                "signing_keys",
                format!(
                    "{call}: the keys come from the signing_keys option or \
                     KEYSCOPE_SIGNING_KEYS; change them there"
                ),
            ));
        }
        Ok(())
    }

    /// The store's signing keys (current, then next, then retired keys that still
    /// verify), never their private halves. With keys from the option or the
    /// environment, those keys: the first `current`, the others `retired`.
    pub fn signing_keys(&self, now: Option<Timestamp>) -> Result<Vec<SigningKeyInfo>> {
        self.check_open()?;
        if self.is_view() {
            return Err(Error::invalid(
                "org",
                "signing_keys: signing keys belong to the store, not to an org view",
            ));
        }
        let now = Timestamp::or_now(now);
        let (keys, _) = self.shared().auth.signing();
        if keys.is_fixed() {
            return Ok(keys
                .kids()
                .enumerate()
                .map(|(i, kid)| SigningKeyInfo {
                    kid: kid.to_owned(),
                    alg: "HS256".into(),
                    state: if i == 0 { "current" } else { "retired" }.into(),
                    created_at: now,
                    retired_at: None,
                    public_jwk: None,
                })
                .collect());
        }
        let table = self.shared().backend.signing_table()?;
        signing::infos(&table, now.as_millis(), self.options().leeway * 1000)
    }

    fn change_signing(
        &self,
        change: &mut dyn FnMut(&mut signing::SigningTable) -> Result<Vec<crate::AuditRecord>>,
    ) -> Result<()> {
        let shared = self.shared();
        shared
            .backend
            .update_signing_table(DEFAULT_ORG, &mut |t| change(t).map(Some))?;
        // This handle sees the change at once; the others within revocation_staleness.
        shared.auth.reload_signing(shared.backend.as_ref())
    }

    fn new_key_alg(&self, alg: Option<Alg>) -> Alg {
        alg.or(self.options().token_alg).unwrap_or(Alg::Es256)
    }

    /// Rotates the signing keys: `next` starts signing, `current` retires (its tokens
    /// stay valid until they expire), and a new `next` of `alg` (default `token_alg`)
    /// is published. Returns the key now signing. Audited as `signing_key_rotated`.
    pub fn rotate_signing_key(
        &self,
        alg: Option<Alg>,
        actor: Option<&str>,
        now: Option<Timestamp>,
    ) -> Result<SigningKeyInfo> {
        self.check_key_admin("rotate_signing_key")?;
        if let Some(a) = actor {
            crate::text::validate_actor(a)?;
        }
        let now = Timestamp::or_now(now);
        let alg = self.new_key_alg(alg);
        let kek = self.shared().auth.kek();
        let leeway_ms = self.options().leeway * 1000;
        self.change_signing(&mut |t| signing::rotate(t, kek, alg, actor, now, leeway_ms))?;
        self.signing_keys(Some(now))?
            .into_iter()
            .find(|k| k.state == "current")
            .ok_or_else(|| Error::storage("the store has no current signing key"))
    }

    /// Retires signing key `kid`: it stops signing (retiring the current key rotates
    /// first) and verifies until its tokens have expired — or, with `immediately`,
    /// never again: every token it signed is refused at once on this handle and
    /// within `revocation_staleness` elsewhere, and it leaves the JWK Set. Audited as
    /// `signing_key_retired`.
    pub fn retire_signing_key(
        &self,
        kid: &str,
        immediately: bool,
        actor: Option<&str>,
        now: Option<Timestamp>,
    ) -> Result<()> {
        self.check_key_admin("retire_signing_key")?;
        if let Some(a) = actor {
            crate::text::validate_actor(a)?;
        }
        let now = Timestamp::or_now(now);
        let alg = self.new_key_alg(None);
        let kek = self.shared().auth.kek();
        let leeway_ms = self.options().leeway * 1000;
        self.change_signing(&mut |t| {
            signing::retire(t, kek, kid, immediately, alg, actor, now, leeway_ms)
        })
    }

    /// The JWK Set (RFC 7517) of the keys that verify, as JSON text: `{"keys": []}`
    /// when every key is HS256.
    pub fn jwks(&self, now: Option<Timestamp>) -> Result<String> {
        self.check_open()?;
        let (keys, _) = self.shared().auth.signing();
        Ok(keys.jwks(Timestamp::or_now(now).as_millis()))
    }

    /// The RFC 8414 authorization-server metadata, as JSON text; `invalid_input` when
    /// the issuer is not an `https://` URL (or `http://` on a loopback host).
    pub fn metadata(&self) -> Result<String> {
        self.check_open()?;
        let issuer = self.options().issuer.as_str();
        if issuer_base_path(issuer).is_none() {
            return Err(Error::invalid(
                "issuer",
                "metadata needs an issuer that is an https:// URL (or http:// on a loopback \
                 host) without query, fragment, user info or trailing /",
            ));
        }
        let auth_methods = ["client_secret_basic", "client_secret_post"];
        let mut doc = json!({
            "issuer": issuer,
            "token_endpoint": format!("{issuer}/auth/v2/token"),
            "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
            "introspection_endpoint": format!("{issuer}/auth/v2/introspect"),
            "revocation_endpoint": format!("{issuer}/auth/v2/revoke"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "response_types_supported": [],
        });
        if let Some(catalog) = &self.options().catalog {
            let mut scopes = Vec::new();
            for (scope, resources) in catalog.scopes() {
                // A scope-wide grant, up to the most any of its resources offers.
                scopes.push(format!("{scope}:read"));
                if resources.values().any(|p| *p == Permission::Write) {
                    scopes.push(format!("{scope}:write"));
                }
                for (resource, max) in resources {
                    scopes.push(format!("{scope}.{resource}:read"));
                    if *max == Permission::Write {
                        scopes.push(format!("{scope}.{resource}:write"));
                    }
                }
            }
            doc["scopes_supported"] = json!(scopes);
        }
        Ok(doc.to_string())
    }

    /// A token's signature, issuer, audience, org (of a view) and expiry, checked;
    /// not the key's state.
    fn verified(&self, token: &str, now: Timestamp) -> Result<Arc<VerifiedToken>> {
        self.check_open()?;
        let shared = self.shared();
        shared.auth.refresh_if_due(shared.backend.as_ref(), true)?;
        let (keys, epoch) = shared.auth.signing();
        let v = match shared.auth.tokens.get(token).filter(|v| v.epoch == epoch) {
            Some(v) => v.into_arc(),
            None => Arc::new(VerifiedToken::decode(token, &keys, now.as_millis(), epoch)?),
        };
        let c = &v.claims();
        let opts = self.options();
        if c.iss != opts.issuer.as_str() || c.aud != opts.audience() {
            return Err(Error::new(
                ErrorKind::InvalidToken,
                "the token was issued for another service",
            ));
        }
        if self.is_view() && c.org != self.org_name() {
            return Err(Error::new(
                ErrorKind::InvalidToken,
                "the token belongs to another organization",
            ));
        }
        if c.exp.saturating_mul(1000) <= now.as_millis() - opts.leeway * 1000 {
            return Err(Error::new(ErrorKind::TokenExpired, "the token has expired"));
        }
        Ok(v)
    }

    fn deny(&self, v: &VerifiedToken, token: &str, now: Timestamp) -> Result<()> {
        let shared = self.shared();
        let claims = v.claims();
        let until = (claims.exp + self.options().leeway).saturating_mul(1000);
        shared.backend.revoke_token_id(&claims.jti, until, now)?;
        shared.auth.add_revoked(&claims.jti);
        shared.auth.tokens.remove(token);
        Ok(())
    }

    /// Revokes an access token (any client's: this is the administrator's call): its
    /// `jti` is denied until it expires, at once on this handle and within
    /// `revocation_staleness` everywhere. Returns whether it was an unexpired token
    /// of this store (of this org, on a view); anything else is left alone.
    pub fn revoke_token(&self, token: &str, now: Option<Timestamp>) -> Result<bool> {
        let now = Timestamp::or_now(now);
        match self.verified(token, now) {
            Ok(v) => {
                self.deny(&v, token, now)?;
                Ok(true)
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidToken | ErrorKind::TokenExpired) => {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Serves one HTTP request: the routes of docs/endpoints.md, relative to the
    /// issuer's path when the issuer is a URL. Never fails: every outcome is a
    /// response (an unknown route is 404, a known route with another method 405 with
    /// `Allow`).
    pub fn handle_http(&self, req: &HttpRequest<'_>) -> HttpResponse {
        let path = req.path.split_once('?').map_or(req.path, |(p, _)| p);
        let issuer = self.options().issuer.as_str();
        let base = issuer_base_path(issuer);
        let prefix = base.unwrap_or("");
        let metadata_paths = base.map(|b| {
            [
                format!("/.well-known/oauth-authorization-server{b}"),
                format!("{b}/.well-known/oauth-authorization-server"),
            ]
        });
        let is_metadata = metadata_paths
            .as_ref()
            .is_some_and(|m| m.iter().any(|p| p == path));
        let route = if is_metadata {
            Some(("GET", Route::Metadata))
        } else {
            path.strip_prefix(prefix).and_then(|rel| match rel {
                "/auth/v2/token" => Some(("POST", Route::Token)),
                "/.well-known/jwks.json" => Some(("GET", Route::Jwks)),
                "/auth/v2/introspect" => Some(("POST", Route::Introspect)),
                "/auth/v2/revoke" => Some(("POST", Route::Revoke)),
                "/healthz" => Some(("GET", Route::Health)),
                _ => None,
            })
        };
        let forwarded = req.header_values("x-forwarded-for");
        let client: Option<IpAddr> = req
            .client_ip
            .and_then(|peer| client_address(&self.shared().trusted_proxies, peer, &forwarded));
        let client_text = client.map(|ip| ip.to_string());
        if let Some(rel) = path.strip_prefix(prefix)
            && crate::console::is_console_path(rel)
        {
            return crate::console::serve(req.method, rel);
        }
        if let Some(rel) = path.strip_prefix(prefix)
            && crate::admin::is_admin_path(rel)
        {
            return self.handle_admin(req, rel, client_text.as_deref());
        }
        let Some((method, route)) = route else {
            return json_error(404, "not_found");
        };
        if req.method != method {
            return json_error(405, "method_not_allowed").with_header("Allow", method.into());
        }
        if req.body.len() > MAX_BODY_BYTES {
            return json_error(413, "request_too_large");
        }
        match route {
            Route::Token => self.token_response(
                req.header("authorization"),
                req.header("content-type"),
                req.body,
                client_text.as_deref(),
                req.now,
                true,
            ),
            Route::Metadata => match self.metadata() {
                Ok(doc) => public_json(doc),
                Err(_) => json_error(404, "not_found"),
            },
            Route::Jwks => match self.jwks(req.now) {
                Ok(set) => public_json(set),
                Err(_) => json_error(503, "unavailable"),
            },
            Route::Introspect => self.introspect(req, client_text.as_deref()),
            Route::Revoke => self.revocation(req, client_text.as_deref()),
            Route::Health => {
                let ok = self.check_open().is_ok() && self.shared().backend.sync_point().is_ok();
                if ok {
                    HttpResponse::json(200, json!({"status": "ok"}))
                } else {
                    HttpResponse::json(503, json!({"status": "unavailable"}))
                }
            }
        }
    }

    /// The form of an introspection or revocation request and the key of the client
    /// that sent it, authenticated as at the token endpoint; or the answer refusing it
    /// (a 401 to form credentials without a `Basic` challenge).
    fn authenticated_form(
        &self,
        req: &HttpRequest<'_>,
        caller_ip: Option<&str>,
        now: Timestamp,
    ) -> std::result::Result<(Form, KeyRecord), HttpResponse> {
        let form = read_form(req.header("content-type"), req.body)?;
        let in_body = form_param(&form, "client_id").is_some();
        let (id, secret, _) = client_credentials(req.header("authorization"), &form)
            .map_err(|r| quiet(r, in_body))?;
        let (caller, _) = self
            .authenticate_client(&id, &secret, caller_ip, now)
            .map_err(|e| quiet(token_error(&e), in_body))?;
        Ok((form, caller))
    }

    /// RFC 7662: the caller authenticates as a key of the token's org.
    fn introspect(&self, req: &HttpRequest<'_>, caller_ip: Option<&str>) -> HttpResponse {
        let now = Timestamp::or_now(req.now);
        let (form, caller) = match self.authenticated_form(req, caller_ip, now) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let Some(token) = form_param(&form, "token") else {
            return HttpResponse::oauth_error(400, "invalid_request", "token is required");
        };
        let bad = |why: &'static str| HttpResponse::oauth_error(400, "invalid_request", why);
        let target = match (
            form_param(&form, "resource"),
            form_param(&form, "permission"),
        ) {
            (None, None) => None,
            (Some(resource), Some(permission)) => {
                let Ok(permission) = permission.parse::<Permission>() else {
                    return bad("permission must be read or write");
                };
                let Some((scope, res)) = split_target(resource) else {
                    return bad("resource must be scope or scope.resource");
                };
                Some(Target {
                    resource,
                    scope,
                    res,
                    permission,
                })
            }
            _ => return bad("resource and permission go together"),
        };
        let client = match form_param(&form, "client_ip").map(parse_client_ip) {
            None => None,
            Some(Ok(ip)) => Some(Some(ip)),
            Some(Err(_)) => return bad("client_ip is not an IP address"),
        };
        let inactive = || HttpResponse::json(200, json!({"active": false}));
        match self.check_token(token, target.as_ref(), client, Some(now), true) {
            Ok(Some((p, v))) if p.org() == caller.org => {
                let c = &v.claims();
                HttpResponse::json(
                    200,
                    json!({
                        "active": true,
                        "scope": p.scope().collect::<Vec<_>>().join(" "),
                        "client_id": c.client_id,
                        "sub": c.sub,
                        "aud": c.aud,
                        "iss": c.iss,
                        "exp": c.exp,
                        "iat": c.iat,
                        "jti": c.jti,
                        "token_type": "Bearer",
                        "org": c.org,
                    }),
                )
            }
            Err(e) if matches!(e.kind(), ErrorKind::Storage | ErrorKind::Internal) => {
                HttpResponse::oauth_error(500, "server_error", "the authorization server failed")
            }
            _ => inactive(),
        }
    }

    /// RFC 7009: a client revokes one of its own tokens.
    fn revocation(&self, req: &HttpRequest<'_>, caller_ip: Option<&str>) -> HttpResponse {
        let now = Timestamp::or_now(req.now);
        let (form, caller) = match self.authenticated_form(req, caller_ip, now) {
            Ok(x) => x,
            Err(r) => return r,
        };
        let id = caller.id.as_str();
        let Some(token) = form_param(&form, "token") else {
            return HttpResponse::oauth_error(400, "invalid_request", "token is required");
        };
        let done = || HttpResponse::json(200, json!({}));
        match self.verified(token, now) {
            Ok(v) if v.claims().client_id != id => HttpResponse::oauth_error(
                400,
                "invalid_grant",
                "the token was issued to another client",
            ),
            Ok(v) => match self.deny(&v, token, now) {
                Ok(()) => done(),
                Err(_) => HttpResponse::oauth_error(
                    503,
                    "temporarily_unavailable",
                    "the token could not be revoked; retry",
                )
                .with_header("Retry-After", "1".into()),
            },
            Err(e) if matches!(e.kind(), ErrorKind::Storage | ErrorKind::Internal) => {
                HttpResponse::oauth_error(500, "server_error", "the authorization server failed")
            }
            Err(_) => done(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Route {
    Token,
    Metadata,
    Jwks,
    Introspect,
    Revoke,
    Health,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_urls_give_the_routes_a_base_path() {
        assert_eq!(issuer_base_path("https://auth.example.com"), Some(""));
        assert_eq!(issuer_base_path("https://auth.example.com/t"), Some("/t"));
        assert_eq!(issuer_base_path("http://127.0.0.1:8080"), Some(""));
        assert_eq!(issuer_base_path("http://localhost/x"), Some("/x"));
        assert_eq!(issuer_base_path("http://[::1]:9"), Some(""));
        for bad in [
            "keyscope",
            "http://auth.example.com",
            "https://auth.example.com/",
            "https://auth.example.com?x=1",
            "https://auth.example.com#f",
            "https://user@auth.example.com",
            "https://",
            "ftp://auth.example.com",
        ] {
            assert_eq!(issuer_base_path(bad), None, "{bad}");
        }
    }
}
