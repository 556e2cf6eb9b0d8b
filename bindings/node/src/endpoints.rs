//! Signing-key administration, token revocation and `handleHttp`, the one entry
//! point of every HTTP route keyscope serves (docs/http.md). `handleHttp` returns a
//! Promise and runs on the libuv pool (the token and introspection routes run
//! Argon2); the rest are synchronous.

use keyscope_core::{self as core, Alg, Error, Result as CoreResult, Timestamp};
use napi::bindgen_prelude::*;
use napi::{JsString, ValueType};
use napi_derive::napi;

use crate::convert::{Opts, boolean, bytes, text};
use crate::errors::OrThrow;
use crate::key::{HandleHttpResponse, SigningKeyInfo};
use crate::store::{KeyStore, Work, now_of, opt_text};
use crate::task::Job;

/// Largest request body `handleHttp` reads (64 KiB); a longer one is answered 413
/// on keyscope's routes. Framework glue stops reading a body past it.
#[napi]
#[cfg_attr(test, allow(dead_code))] // exported to JavaScript; unused by the unit tests
pub const MAX_BODY_BYTES: u32 = core::endpoints::MAX_BODY_BYTES as u32;

/// A request read from its JavaScript object: owned copies, so the work off the event
/// loop touches no JavaScript memory.
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    client_ip: Option<String>,
    now: Option<Timestamp>,
}

impl Drop for Request {
    /// Header values (`Authorization` holds credentials) and the body (a form may hold
    /// a client secret) are wiped once the request is served.
    fn drop(&mut self) {
        use zeroize::Zeroize;
        for (_, v) in &mut self.headers {
            v.zeroize();
        }
        self.body.zeroize();
    }
}

fn required(o: &Opts<'_>, name: &str) -> CoreResult<String> {
    let v = o
        .get(name)?
        .ok_or_else(|| Error::invalid(name, "is required"))?;
    text(&v, name)
}

/// Header pairs from an object (`req.headers`: a value is a string or a list of
/// them; `undefined` and `null` are skipped) or from a list of `[name, value]` pairs.
fn headers(v: &Unknown<'_>) -> CoreResult<Vec<(String, String)>> {
    let mut out = Vec::new();
    if v.is_array().unwrap_or(false) {
        let arr: Array = unsafe { v.cast() }.map_err(|e| Error::invalid("headers", e.reason))?;
        for i in 0..arr.len() {
            let field = format!("headers[{i}]");
            let pair: Option<Unknown<'_>> = arr
                .get(i)
                .map_err(|e| Error::invalid(field.as_str(), e.reason))?;
            let pair = pair
                .filter(|p| p.is_array().unwrap_or(false))
                .ok_or_else(|| {
                    Error::invalid(field.as_str(), "must be a [name, value] pair of strings")
                })?;
            let pair: Array =
                unsafe { pair.cast() }.map_err(|e| Error::invalid(field.as_str(), e.reason))?;
            if pair.len() != 2 {
                return Err(Error::invalid(
                    field.as_str(),
                    "must be a [name, value] pair of strings",
                ));
            }
            let item = |j: u32| -> CoreResult<String> {
                let f = format!("{field}[{j}]");
                let x: Option<Unknown<'_>> = pair
                    .get(j)
                    .map_err(|e| Error::invalid(f.as_str(), e.reason))?;
                text(
                    &x.ok_or_else(|| Error::invalid(f.as_str(), "is missing"))?,
                    &f,
                )
            };
            out.push((item(0)?, item(1)?));
        }
        return Ok(out);
    }
    let o = Opts::new(Some(*v), "headers")?;
    let Some(obj) = o.object() else {
        return Ok(out);
    };
    for name in Object::keys(obj).map_err(|e| Error::invalid("headers", e.reason))? {
        let field = format!("headers.{name}");
        let Some(value) = o.get(&name)? else { continue };
        if value.is_array().unwrap_or(false) {
            let arr: Array =
                unsafe { value.cast() }.map_err(|e| Error::invalid(field.as_str(), e.reason))?;
            for j in 0..arr.len() {
                let f = format!("{field}[{j}]");
                let x: Option<Unknown<'_>> = arr
                    .get(j)
                    .map_err(|e| Error::invalid(f.as_str(), e.reason))?;
                let x = x.ok_or_else(|| Error::invalid(f.as_str(), "is missing"))?;
                out.push((name.clone(), text(&x, &f)?));
            }
        } else if value.get_type().ok() == Some(ValueType::String) {
            out.push((name.clone(), text(&value, &field)?));
        } else {
            return Err(Error::invalid(
                field.as_str(),
                "must be a string or an array of strings",
            ));
        }
    }
    Ok(out)
}

/// The body's bytes: a string as UTF-8, or a Buffer or other `Uint8Array` copied once.
fn body(v: &Unknown<'_>) -> CoreResult<Vec<u8>> {
    if v.get_type().ok() == Some(ValueType::String) {
        let s: JsString = unsafe { v.cast() }.map_err(|e| Error::invalid("body", e.reason))?;
        let utf8 = s
            .into_utf8()
            .map_err(|e| Error::invalid("body", e.reason))?;
        return Ok(utf8.take());
    }
    bytes(v, "body")
        .map_err(|_| Error::invalid("body", "must be a Buffer, a Uint8Array or a string"))
}

fn request(v: Unknown<'_>) -> CoreResult<Request> {
    if !matches!(v.get_type(), Ok(ValueType::Object)) || v.is_array().unwrap_or(false) {
        return Err(Error::invalid(
            "request",
            "must be an object { method, path, headers, body, clientIp, now }",
        ));
    }
    let o = Opts::new(Some(v), "request")?;
    o.only(&["method", "path", "headers", "body", "clientIp", "now"])?;
    Ok(Request {
        method: required(&o, "method")?,
        path: required(&o, "path")?,
        headers: o
            .get("headers")?
            .map(|h| headers(&h))
            .transpose()?
            .unwrap_or_default(),
        body: o
            .get("body")?
            .map(|b| body(&b))
            .transpose()?
            .unwrap_or_default(),
        client_ip: opt_text(&o, "clientIp")?,
        now: now_of(&o)?,
    })
}

#[napi]
impl KeyStore {
    /// Serves one HTTP request: the token endpoint, the authorization-server
    /// metadata, the JWK Set, introspection, revocation and the health check
    /// (docs/http.md), relative to the issuer's path when the issuer is a URL.
    /// Resolves to `{ status, headers, body }` to copy to the client unchanged; a bad
    /// request is an answer (400, 401, 404, 405, 413, …), never a rejection. Rejects
    /// only for a malformed argument (`KEYSCOPE_INVALID_INPUT`) or a closed view.
    #[napi(
        ts_args_type = "request: HandleHttpRequest",
        ts_return_type = "Promise<HandleHttpResponse>"
    )]
    pub fn handle_http(
        &self,
        request: Unknown<'_>,
    ) -> AsyncTask<Job<core::http::HttpResponse, HandleHttpResponse>> {
        let parse = || -> CoreResult<Work<core::http::HttpResponse>> {
            let req = self::request(request)?;
            let store = self.live()?.clone();
            Ok(Box::new(move || {
                let headers: Vec<(&str, &str)> = req
                    .headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                Ok(store.handle_http(&core::HttpRequest {
                    method: &req.method,
                    path: &req.path,
                    headers: &headers,
                    body: &req.body,
                    client_ip: req.client_ip.as_deref(),
                    now: req.now,
                }))
            }))
        };
        Job::new(parse(), HandleHttpResponse::from)
    }

    /// The store's signing keys: `current`, then `next`, then the `retired` keys that
    /// still verify. With the `signingKeys` option, those keys (HS256): the first
    /// `current`, the others `retired`. Not on an org view (`KEYSCOPE_INVALID_INPUT`).
    #[napi(ts_args_type = "options?: { now?: Date }")]
    pub fn signing_keys(
        &self,
        env: Env,
        options: Option<Unknown<'_>>,
    ) -> Result<Vec<SigningKeyInfo>> {
        let run = || -> CoreResult<Vec<SigningKeyInfo>> {
            let o = Opts::new(options, "options")?;
            o.only(&["now"])?;
            let keys = self.live()?.signing_keys(now_of(&o)?)?;
            Ok(keys.into_iter().map(Into::into).collect())
        };
        run().or_throw(&env)
    }

    /// Rotates the signing keys: `next` starts signing, `current` retires (its tokens
    /// stay valid until they expire) and a new `next` of `alg` (default: `tokenAlg`)
    /// is published in the JWK Set. Returns the key now signing. Every handle sees it
    /// within `revocationStaleness`. Audited as `signing_key_rotated`.
    #[napi(ts_args_type = "options?: RotateSigningKeyOptions")]
    pub fn rotate_signing_key(
        &self,
        env: Env,
        options: Option<Unknown<'_>>,
    ) -> Result<SigningKeyInfo> {
        let run = || -> CoreResult<SigningKeyInfo> {
            let o = Opts::new(options, "options")?;
            o.only(&["alg", "actor", "now"])?;
            let alg = opt_text(&o, "alg")?
                .map(|a| Alg::parse(&a, "alg"))
                .transpose()?;
            let actor = opt_text(&o, "actor")?;
            let key = self
                .live()?
                .rotate_signing_key(alg, actor.as_deref(), now_of(&o)?)?;
            Ok(key.into())
        };
        run().or_throw(&env)
    }

    /// Retires signing key `kid`: it stops signing (retiring the current key rotates
    /// first) and verifies until its tokens have expired; with `immediately`, never
    /// again, which revokes every token it signed and drops it from the JWK Set.
    /// Audited as `signing_key_retired`.
    #[napi(ts_args_type = "kid: string, options?: RetireSigningKeyOptions")]
    pub fn retire_signing_key(
        &self,
        env: Env,
        kid: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> Result<()> {
        let run = || -> CoreResult<()> {
            let kid = text(&kid, "kid")?;
            let o = Opts::new(options, "options")?;
            o.only(&["immediately", "actor", "now"])?;
            let immediately = o
                .get("immediately")?
                .map(|v| boolean(&v, "immediately"))
                .transpose()?
                .unwrap_or(false);
            let actor = opt_text(&o, "actor")?;
            self.live()?
                .retire_signing_key(&kid, immediately, actor.as_deref(), now_of(&o)?)
        };
        run().or_throw(&env)
    }

    /// The JWK Set (RFC 7517) of the public keys that verify, as JSON text (what
    /// `GET /.well-known/jwks.json` serves); `{"keys":[]}` when every key is HS256.
    #[napi(ts_args_type = "options?: { now?: Date }")]
    pub fn jwks(&self, env: Env, options: Option<Unknown<'_>>) -> Result<String> {
        let run = || -> CoreResult<String> {
            let o = Opts::new(options, "options")?;
            o.only(&["now"])?;
            self.live()?.jwks(now_of(&o)?)
        };
        run().or_throw(&env)
    }

    /// The RFC 8414 authorization-server metadata, as JSON text;
    /// `KEYSCOPE_INVALID_INPUT` unless the issuer is an `https://` URL (or `http://`
    /// on a loopback host).
    #[napi]
    pub fn metadata(&self, env: Env) -> Result<String> {
        self.live().and_then(|s| s.metadata()).or_throw(&env)
    }

    /// Revokes an access token (any client's: the administrator's call): it is
    /// refused with `KEYSCOPE_TOKEN_REVOKED` from now on, on this handle at once and
    /// on every other within `revocationStaleness`. Returns whether it was an
    /// unexpired token of this store (of this organization, on a view).
    #[napi(ts_args_type = "token: string, options?: { now?: Date }")]
    pub fn revoke_token(
        &self,
        env: Env,
        token: Unknown<'_>,
        options: Option<Unknown<'_>>,
    ) -> Result<bool> {
        let run = || -> CoreResult<bool> {
            let token = text(&token, "token")?;
            let o = Opts::new(options, "options")?;
            o.only(&["now"])?;
            self.live()?.revoke_token(&token, now_of(&o)?)
        };
        run().or_throw(&env)
    }
}
