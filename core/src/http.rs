//! HTTP helpers, no server needed: the OAuth 2.0 token endpoint
//! (RFC 6749 §4.4), Bearer authorization of a request (RFC 6750), and the client
//! address behind trusted proxies.

use std::net::IpAddr;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::grant::Permission;
use crate::keystore::KeyStore;
use crate::network::{Network, canonical_client, parse_client_ip};
use crate::secret::Secret;
use crate::time::Timestamp;
use crate::token::Principal;

/// The realm named in `WWW-Authenticate` challenges.
pub const REALM: &str = "keyscope";
/// Largest token-request body read.
pub const MAX_FORM_BYTES: usize = 16 * 1024;
/// Most parameters a token request may carry (it needs at most four).
pub const MAX_FORM_PARAMS: usize = 32;
/// Longest `error_description` written, in a body or a challenge.
pub const MAX_DESCRIPTION_BYTES: usize = 128;

/// A decoded form parameter name or value, wiped when dropped (a value may be a
/// client secret).
pub type FormText = Zeroizing<String>;

/// An HTTP response: status, headers in order, and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Header names and values.
    pub headers: Vec<(String, String)>,
    /// The body, JSON text.
    pub body: String,
}

impl HttpResponse {
    pub(crate) fn json(status: u16, body: serde_json::Value) -> Self {
        HttpResponse {
            status,
            headers: vec![
                (
                    "Content-Type".into(),
                    "application/json; charset=utf-8".into(),
                ),
                ("Cache-Control".into(), "no-store".into()),
                ("Pragma".into(), "no-cache".into()),
            ],
            body: body.to_string(),
        }
    }

    /// An OAuth error answer. The description is always one of keyscope's fixed
    /// texts, never text from the request.
    pub(crate) fn oauth_error(status: u16, error: &str, description: &'static str) -> Self {
        Self::json(
            status,
            json!({"error": error, "error_description": safe_text(description)}),
        )
    }

    pub(crate) fn with_header(mut self, name: &str, value: String) -> Self {
        self.headers.push((name.into(), value));
        self
    }

    /// The same response without header `name`.
    pub(crate) fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Decodes `application/x-www-form-urlencoded` text strictly: valid percent-escapes,
/// UTF-8, no parameter twice (RFC 6749 §3.2) and at most [`MAX_FORM_PARAMS`]
/// parameters, in time linear in the body. Errors are fixed texts that quote nothing
/// from the body; every decoded string is wiped when dropped.
pub fn parse_form(body: &[u8]) -> std::result::Result<Vec<(FormText, FormText)>, &'static str> {
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8")?;
    let mut out: Vec<(FormText, FormText)> = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        if out.len() == MAX_FORM_PARAMS {
            return Err("the request has too many parameters");
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        out.push((form_decode(k)?, form_decode(v)?));
    }
    let mut names: Vec<&str> = out.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return Err("a parameter appears more than once");
    }
    Ok(out)
}

/// Decodes one form-encoded component (`+` is a space). The error is a fixed text:
/// the component may be a client secret, so it is never quoted.
pub fn form_decode(s: &str) -> std::result::Result<FormText, &'static str> {
    let b = s.as_bytes();
    let mut out = Zeroizing::new(Vec::with_capacity(b.len()));
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |c: u8| (c as char).to_digit(16);
                let (Some(h), Some(l)) = (
                    b.get(i + 1).and_then(|&c| hex(c)),
                    b.get(i + 2).and_then(|&c| hex(c)),
                ) else {
                    return Err("a parameter has a malformed percent-escape");
                };
                out.push((h * 16 + l) as u8);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    if std::str::from_utf8(&out).is_err() {
        return Err("a parameter does not decode to UTF-8");
    }
    let bytes = std::mem::take(&mut *out);
    Ok(Zeroizing::new(
        String::from_utf8(bytes).expect("checked to be UTF-8 above"),
    ))
}

/// Keeps `s` fit for an HTTP header or an OAuth `error_description`: printable ASCII
/// without `"` or `\`, at most [`MAX_DESCRIPTION_BYTES`] bytes.
fn safe_text(s: &str) -> String {
    s.chars()
        .filter(|c| matches!(c, ' '..='~') && *c != '"' && *c != '\\')
        .take(MAX_DESCRIPTION_BYTES)
        .collect()
}

/// Reads HTTP Basic credentials (RFC 7617), each part form-decoded (RFC 6749 §2.3.1).
fn basic_credentials(value: &str) -> Option<(String, Secret)> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = zeroize::Zeroizing::new(STANDARD.decode(rest.trim()).ok()?);
    let text = std::str::from_utf8(&raw).ok()?;
    let (id, secret) = text.split_once(':')?;
    let id = form_decode(id).ok()?;
    let mut secret = form_decode(secret).ok()?;
    Some((id.to_string(), Secret::new(std::mem::take(&mut *secret))))
}

fn invalid_client(description: &'static str) -> HttpResponse {
    HttpResponse::oauth_error(401, "invalid_client", description).with_header(
        "WWW-Authenticate",
        format!("Basic realm=\"{REALM}\", charset=\"UTF-8\""),
    )
}

/// The fixed `error_description` of a protected request's error: the error's own
/// message may quote the token (its `alg` or `kid`) or other request text.
fn bearer_description(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "the request is invalid",
        ErrorKind::InvalidToken => "the access token is invalid",
        ErrorKind::TokenExpired => "the access token has expired",
        ErrorKind::TokenRevoked => "the access token was revoked",
        ErrorKind::KeyDisabled => "the API key is disabled",
        ErrorKind::KeyExpired => "the API key has expired",
        ErrorKind::NetworkDenied
        | ErrorKind::InsufficientScope
        | ErrorKind::NotFound
        | ErrorKind::Conflict
        | ErrorKind::InvalidCredentials
        | ErrorKind::InvalidScope
        | ErrorKind::RateLimited
        | ErrorKind::Storage
        | ErrorKind::Internal => "the request failed",
    }
}

/// The status and `WWW-Authenticate` challenge for an error of a protected request
/// (RFC 6750 §3). No wildcard arm: every kind has an answer. The challenge holds only
/// fixed texts and the required scope, made of validated names, so it is short
/// printable ASCII whatever the request held.
pub fn bearer_challenge(err: &Error) -> (u16, Option<String>) {
    let with_error = |code: &str| {
        format!(
            "Bearer realm=\"{REALM}\", error=\"{code}\", error_description=\"{}\"",
            safe_text(bearer_description(err.kind()))
        )
    };
    match err.kind() {
        ErrorKind::InvalidInput => (400, Some(with_error("invalid_request"))),
        ErrorKind::InvalidToken
        | ErrorKind::TokenExpired
        | ErrorKind::TokenRevoked
        | ErrorKind::KeyDisabled
        | ErrorKind::KeyExpired => (401, Some(with_error("invalid_token"))),
        ErrorKind::NetworkDenied => (403, Some(format!("Bearer realm=\"{REALM}\""))),
        ErrorKind::InsufficientScope => (
            403,
            Some(format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{}\"",
                safe_text(err.required_scope().unwrap_or(""))
            )),
        ),
        ErrorKind::NotFound
        | ErrorKind::Conflict
        | ErrorKind::InvalidCredentials
        | ErrorKind::InvalidScope
        | ErrorKind::RateLimited
        | ErrorKind::Storage
        | ErrorKind::Internal => (500, None),
    }
}

/// Parses the permission of an `authorize_header` call (`"read"` or `"write"`); a bad
/// one is `invalid_input` carrying the 400 answer, like every error of that call.
pub fn header_permission(permission: &str) -> Result<Permission> {
    permission.parse::<Permission>().map_err(|e| {
        let (status, challenge) = bearer_challenge(&e);
        e.with_http(status, challenge)
    })
}

/// The token-endpoint response for an error of `issue_token`. No wildcard arm. The
/// descriptions are fixed: an error's own message may quote the request (a scope, an
/// address).
pub(crate) fn token_error(err: &Error) -> HttpResponse {
    match err.kind() {
        ErrorKind::InvalidInput => {
            HttpResponse::oauth_error(400, "invalid_request", "the request is invalid")
        }
        ErrorKind::InvalidCredentials => invalid_client("invalid client credentials"),
        ErrorKind::NetworkDenied => {
            invalid_client("the client address is not allowed to use this key")
        }
        ErrorKind::KeyDisabled => invalid_client("the key is disabled"),
        ErrorKind::KeyExpired => invalid_client("the key has expired"),
        ErrorKind::InvalidScope => HttpResponse::oauth_error(
            400,
            "invalid_scope",
            "the requested scope is malformed or not held by the key",
        ),
        ErrorKind::RateLimited => HttpResponse::oauth_error(
            429,
            "rate_limited",
            "too many failed exchanges for this key; retry later",
        )
        .with_header("Retry-After", err.retry_after().unwrap_or(60).to_string()),
        ErrorKind::NotFound
        | ErrorKind::Conflict
        | ErrorKind::InvalidToken
        | ErrorKind::TokenExpired
        | ErrorKind::TokenRevoked
        | ErrorKind::InsufficientScope
        | ErrorKind::Storage
        | ErrorKind::Internal => {
            HttpResponse::oauth_error(500, "server_error", "the authorization server failed")
        }
    }
}

/// A decoded form body.
pub(crate) type Form = Vec<(FormText, FormText)>;

/// The value of form parameter `name`.
pub(crate) fn form_param<'f>(form: &'f Form, name: &str) -> Option<&'f str> {
    form.iter()
        .find(|(k, _)| k.as_str() == name)
        .map(|(_, v)| v.as_str())
}

/// Reads an `application/x-www-form-urlencoded` body of at most [`MAX_FORM_BYTES`],
/// or the 400 answer saying what is wrong with it.
pub(crate) fn read_form(
    content_type: Option<&str>,
    body: &[u8],
) -> std::result::Result<Form, HttpResponse> {
    let bad = |why: &'static str| HttpResponse::oauth_error(400, "invalid_request", why);
    let media = content_type
        .and_then(|c| c.split(';').next())
        .map(str::trim);
    if !media.is_some_and(|m| m.eq_ignore_ascii_case("application/x-www-form-urlencoded")) {
        return Err(bad("the request must be application/x-www-form-urlencoded"));
    }
    if body.len() > MAX_FORM_BYTES {
        return Err(bad("the request body is too large"));
    }
    parse_form(body).map_err(bad)
}

/// The client's credentials (RFC 6749 §2.3.1): HTTP Basic, or `client_id` and
/// `client_secret` in the form (true in the result), never both; or the answer
/// refusing the request.
pub(crate) fn client_credentials(
    authorization: Option<&str>,
    form: &Form,
) -> std::result::Result<(String, Secret, bool), HttpResponse> {
    let in_body =
        form_param(form, "client_id").is_some() || form_param(form, "client_secret").is_some();
    match (authorization.filter(|a| !a.trim().is_empty()), in_body) {
        (Some(_), true) => Err(HttpResponse::oauth_error(
            400,
            "invalid_request",
            "send client credentials by HTTP Basic or in the body, not both",
        )),
        (Some(header), false) => match basic_credentials(header) {
            Some((id, secret)) => Ok((id, secret, false)),
            None => Err(invalid_client(
                "the Authorization header is not valid HTTP Basic credentials",
            )),
        },
        (None, true) => match (
            form_param(form, "client_id"),
            form_param(form, "client_secret"),
        ) {
            (Some(id), Some(secret)) => Ok((id.to_owned(), Secret::new(secret), true)),
            _ => Err(invalid_client(
                "client_id and client_secret are both required",
            )),
        },
        (None, false) => Err(invalid_client("client authentication is required")),
    }
}

impl KeyStore {
    /// The OAuth 2.0 token endpoint (RFC 6749 §4.4, client credentials). Credentials
    /// come by HTTP Basic or as `client_id`/`client_secret` in the form (not both).
    /// Never fails: every outcome is an HTTP response.
    pub fn token_endpoint(
        &self,
        authorization: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
        client_ip: Option<&str>,
        now: Option<Timestamp>,
    ) -> HttpResponse {
        self.token_response(authorization, content_type, body, client_ip, now, false)
    }

    /// The token endpoint; with `quiet_form_auth`, a 401 to a client that sent its
    /// credentials in the form carries no `Basic` challenge (so a browser shows no
    /// login prompt).
    pub(crate) fn token_response(
        &self,
        authorization: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
        client_ip: Option<&str>,
        now: Option<Timestamp>,
        quiet_form_auth: bool,
    ) -> HttpResponse {
        let bad = |why: &'static str| HttpResponse::oauth_error(400, "invalid_request", why);
        let form = match read_form(content_type, body) {
            Ok(f) => f,
            Err(r) => return r,
        };
        match form_param(&form, "grant_type") {
            None => return bad("grant_type is required"),
            Some("client_credentials") => {}
            Some(_) => {
                return HttpResponse::oauth_error(
                    400,
                    "unsupported_grant_type",
                    "the grant_type is not supported; use client_credentials",
                );
            }
        }
        let quiet = |r: HttpResponse| {
            let in_body = form_param(&form, "client_id").is_some()
                || form_param(&form, "client_secret").is_some();
            if quiet_form_auth && in_body {
                r.without_header("WWW-Authenticate")
            } else {
                r
            }
        };
        let (id, secret, _) = match client_credentials(authorization, &form) {
            Ok(c) => c,
            Err(r) => return quiet(r),
        };
        let out = match self.issue_token(&id, &secret, client_ip, form_param(&form, "scope"), now) {
            Ok(t) => HttpResponse::json(
                200,
                json!({
                    "access_token": t.access_token,
                    "token_type": t.token_type,
                    "expires_in": t.expires_in,
                    "scope": t.scope,
                }),
            ),
            Err(e) => token_error(&e),
        };
        quiet(out)
    }

    /// Authorizes a request from its `Authorization` header (RFC 6750 `Bearer`). Every
    /// error carries the HTTP status and `WWW-Authenticate` challenge to answer with.
    pub fn authorize_header(
        &self,
        authorization: Option<&str>,
        resource: &str,
        permission: Permission,
        client_ip: Option<&str>,
        now: Option<Timestamp>,
    ) -> Result<Principal> {
        let token = authorization.map(str::trim).and_then(|a| {
            let (scheme, rest) = a.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
        });
        let Some(token) = token else {
            return Err(
                Error::new(ErrorKind::InvalidToken, "the request has no Bearer token")
                    .with_http(401, Some(format!("Bearer realm=\"{REALM}\""))),
            );
        };
        self.authorize(token, resource, permission, client_ip, now)
            .map_err(|e| {
                let (status, challenge) = bearer_challenge(&e);
                e.with_http(status, challenge)
            })
    }

    /// The client's address: the peer, unless the peer is a trusted proxy; then
    /// `X-Forwarded-For` (all its headers, in order) is read right to left, skipping
    /// trusted proxies, and the first other entry is the client. If every entry is
    /// trusted, the leftmost is the client; a malformed entry on the way gives `None`.
    pub fn client_address(&self, peer: &str, x_forwarded_for: &[&str]) -> Option<IpAddr> {
        client_address(&self.shared().trusted_proxies, peer, x_forwarded_for)
    }
}

/// [`KeyStore::client_address`] with an explicit list of trusted proxies.
pub fn client_address(trusted: &[Network], peer: &str, x_forwarded_for: &[&str]) -> Option<IpAddr> {
    let peer = parse_client_ip(peer.trim()).ok()?;
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(canonical_client(ip)));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let entries: Vec<&str> = x_forwarded_for
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let mut leftmost = peer;
    for entry in entries.iter().rev() {
        let ip = parse_client_ip(entry).ok()?;
        if !is_trusted(ip) {
            return Some(ip);
        }
        leftmost = ip;
    }
    Some(leftmost)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<Network> {
        list.iter()
            .map(|s| Network::parse(s, "trusted_proxies").unwrap())
            .collect()
    }

    #[test]
    fn form_decoding_is_strict() {
        let form = parse_form(b"a=1&b=x+y%21").unwrap();
        let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(pairs, [("a", "1"), ("b", "x y!")]);
        assert!(parse_form(b"a=1&a=2").is_err());
        assert!(parse_form(b"a=%zz").is_err());
        assert!(parse_form(b"a=%ff").is_err());
        assert!(parse_form(&[0xff]).is_err());
    }

    #[test]
    fn form_parameters_are_capped_and_duplicates_found_after_decoding() {
        let body = |n: usize| {
            (0..n)
                .map(|i| format!("p{i}=v"))
                .collect::<Vec<_>>()
                .join("&")
        };
        assert_eq!(
            parse_form(body(MAX_FORM_PARAMS).as_bytes()).unwrap().len(),
            32
        );
        assert_eq!(
            parse_form(body(MAX_FORM_PARAMS + 1).as_bytes()),
            Err("the request has too many parameters")
        );
        // 16 KiB of distinct parameters is refused at the cap, not compared pairwise.
        let big = body(4_800);
        assert_eq!(
            parse_form(&big.as_bytes()[..MAX_FORM_BYTES]),
            Err("the request has too many parameters")
        );
        assert_eq!(
            parse_form(b"a=1&%61=2"),
            Err("a parameter appears more than once")
        );
    }

    #[test]
    fn form_errors_quote_nothing_from_the_body() {
        for body in [
            &b"client_secret=kss_TOPSECRET%zz"[..],
            b"client_secret=kss_TOPSECRET%ff",
        ] {
            let e = parse_form(body).unwrap_err();
            assert!(!e.contains("TOPSECRET"), "{e}");
        }
        let e = form_decode("kss_TOPSECRET%").unwrap_err();
        assert!(!e.contains("TOPSECRET"), "{e}");
    }

    #[test]
    fn safe_text_is_short_printable_ascii() {
        let t = safe_text(&format!("é\"\\\r\n{}", "x".repeat(4096)));
        assert_eq!(t.len(), MAX_DESCRIPTION_BYTES);
        assert!(
            t.bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
        );
    }

    #[test]
    fn every_fixed_description_is_already_safe() {
        use ErrorKind::*;
        for k in [
            InvalidInput,
            NotFound,
            Conflict,
            InvalidCredentials,
            KeyDisabled,
            KeyExpired,
            NetworkDenied,
            InvalidScope,
            RateLimited,
            InvalidToken,
            TokenExpired,
            TokenRevoked,
            InsufficientScope,
            Storage,
            Internal,
        ] {
            let d = bearer_description(k);
            assert_eq!(safe_text(d), d);
            let r = token_error(&Error::new(k, "é"));
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap();
            let d = body["error_description"].as_str().unwrap();
            assert_eq!(safe_text(d), d);
        }
    }

    #[test]
    fn client_address_reads_forwarded_for_right_to_left() {
        let t = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(&t, "64.100.10.7", &["1.2.3.4"])
                .unwrap()
                .to_string(),
            "64.100.10.7",
            "untrusted peer"
        );
        assert_eq!(
            client_address(&t, "10.0.0.1", &["1.2.3.4, 5.6.7.8, 10.0.0.2"])
                .unwrap()
                .to_string(),
            "5.6.7.8"
        );
        assert_eq!(
            client_address(&t, "10.0.0.1", &["1.2.3.4", "5.6.7.8"])
                .unwrap()
                .to_string(),
            "5.6.7.8",
            "headers joined in order"
        );
        assert_eq!(
            client_address(&t, "10.0.0.1", &["10.0.0.3, 10.0.0.2"])
                .unwrap()
                .to_string(),
            "10.0.0.3",
            "all trusted: leftmost"
        );
        assert_eq!(
            client_address(&t, "10.0.0.1", &["1.2.3.4, junk, 10.0.0.2"]),
            None,
            "malformed on the way"
        );
        assert_eq!(
            client_address(&t, "10.0.0.1", &["junk, 1.2.3.4"])
                .unwrap()
                .to_string(),
            "1.2.3.4",
            "malformed beyond the client is not read"
        );
        assert_eq!(
            client_address(&[], "10.0.0.1", &["1.2.3.4"])
                .unwrap()
                .to_string(),
            "10.0.0.1",
            "no trusted proxies: header ignored"
        );
        assert_eq!(
            client_address(&t, "::ffff:10.0.0.1", &["1.2.3.4"])
                .unwrap()
                .to_string(),
            "1.2.3.4"
        );
        assert_eq!(client_address(&t, "nope", &[]), None);
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let v = format!("Basic {}", STANDARD.encode("a%20b:s%3Ac"));
        let (id, secret) = basic_credentials(&v).unwrap();
        assert_eq!((id.as_str(), secret.expose()), ("a b", "s:c"));
        assert!(basic_credentials("Bearer x").is_none());
        assert!(basic_credentials("Basic !!!").is_none());
    }
}
