//! Result objects: plain JavaScript objects with camelCase properties, `Date`s for
//! instants and `null` for absent values. Never a secret, except where a secret is
//! the point (`createKey`, `refreshKey`).

use keyscope_core as core;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::convert::{JsDate, JsonValue, Nullable, opt_date};

/// An API key. The secret is never part of it.
#[napi(object, object_from_js = false)]
pub struct ApiKey {
    /// 32 lowercase hex characters; the OAuth `client_id`. Not a secret.
    pub id: String,
    /// The organization the key belongs to.
    pub org: String,
    /// Unique within the organization.
    pub name: String,
    /// Free text, or null.
    #[napi(ts_type = "string | null")]
    pub description: Nullable<String>,
    /// When the key stops working, or null for never.
    #[napi(ts_type = "Date | null")]
    pub expires_at: Nullable<JsDate>,
    /// Grants such as `"reports:read"` or `"deployments.networks:write"`.
    pub grants: Vec<String>,
    /// Networks in canonical form; empty means any address.
    pub networks: Vec<String>,
    /// False once disabled.
    pub enabled: bool,
    /// `"active"`, `"expired"` or `"disabled"`, at the time of the call.
    #[napi(ts_type = "'active' | 'expired' | 'disabled'")]
    pub status: String,
    /// 1 at creation, +1 on every update and refresh.
    pub version: i64,
    /// When the key was created.
    #[napi(ts_type = "Date")]
    pub created_at: JsDate,
    /// When the key was last created, updated or refreshed.
    #[napi(ts_type = "Date")]
    pub updated_at: JsDate,
    /// When the secret was last refreshed, or null if never.
    #[napi(ts_type = "Date | null")]
    pub last_refreshed_at: Nullable<JsDate>,
    /// When the key was last exchanged for a token (to the minute), or null.
    #[napi(ts_type = "Date | null")]
    pub last_used_at: Nullable<JsDate>,
}

impl From<core::ApiKey> for ApiKey {
    fn from(k: core::ApiKey) -> Self {
        ApiKey {
            grants: k.grants.iter().map(ToString::to_string).collect(),
            networks: k.networks.iter().map(ToString::to_string).collect(),
            status: k.status.as_str().to_owned(),
            description: Nullable(k.description),
            expires_at: opt_date(k.expires_at),
            created_at: JsDate(k.created_at),
            updated_at: JsDate(k.updated_at),
            last_refreshed_at: opt_date(k.last_refreshed_at),
            last_used_at: opt_date(k.last_used_at),
            id: k.id,
            org: k.org,
            name: k.name,
            enabled: k.enabled,
            version: k.version,
        }
    }
}

/// A new or refreshed key with its secret: show the secret once, then forget it.
#[napi(object, object_from_js = false)]
pub struct KeyWithSecret {
    /// The key.
    pub key: ApiKey,
    /// The secret; it is never shown again.
    pub secret: String,
}

/// One page of keys.
#[napi(object, object_from_js = false)]
pub struct KeyPage {
    /// The keys, in creation order.
    pub items: Vec<ApiKey>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[napi(ts_type = "string | null")]
    pub next_cursor: Nullable<String>,
}

/// The counts behind the key list's expired and expiring markers.
#[napi(object, object_from_js = false)]
pub struct Summary {
    /// Every key.
    pub total: u32,
    /// Enabled and not expired.
    pub active: u32,
    /// Enabled and expired.
    pub expired: u32,
    /// Active and expiring within the horizon.
    pub expiring_soon: u32,
    /// No expiry date, whatever the status.
    pub never_expires: u32,
    /// Not enabled.
    pub disabled: u32,
}

impl From<core::Summary> for Summary {
    fn from(s: core::Summary) -> Self {
        let n = |v: u64| v.min(u32::MAX as u64) as u32;
        Summary {
            total: n(s.total),
            active: n(s.active),
            expired: n(s.expired),
            expiring_soon: n(s.expiring_soon),
            never_expires: n(s.never_expires),
            disabled: n(s.disabled),
        }
    }
}

/// One audit record.
#[napi(object, object_from_js = false)]
pub struct AuditRecord {
    /// When it happened.
    #[napi(ts_type = "Date")]
    pub at: JsDate,
    /// Who did it, if the caller said.
    #[napi(ts_type = "string | null")]
    pub actor: Nullable<String>,
    /// What was done: to an API key, or to the signing keys (`rotateSigningKey`,
    /// `retireSigningKey`).
    #[napi(
        ts_type = "'create' | 'update' | 'refresh' | 'delete' | 'signing_key_rotated' | 'signing_key_retired'"
    )]
    pub action: String,
    /// The key acted on: an API key's id, or for the signing keys the kid now signing
    /// (rotated) or the kid retired.
    pub key_id: String,
    /// The key's name at the time.
    pub key_name: String,
    /// The names of the fields that changed.
    pub changes: Vec<String>,
}

impl From<core::AuditRecord> for AuditRecord {
    fn from(r: core::AuditRecord) -> Self {
        AuditRecord {
            at: JsDate(r.at),
            actor: Nullable(r.actor),
            action: r.action.as_str().to_owned(),
            key_id: r.key_id,
            key_name: r.key_name,
            changes: r.changes,
        }
    }
}

/// One page of audit records.
#[napi(object, object_from_js = false)]
pub struct AuditPage {
    /// The records, newest first.
    pub items: Vec<AuditRecord>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[napi(ts_type = "string | null")]
    pub next_cursor: Nullable<String>,
}

/// An access token from `issueToken`.
#[napi(object, object_from_js = false)]
pub struct Token {
    /// The compact JWS to send as `Authorization: Bearer <token>`.
    pub access_token: String,
    /// Always `"Bearer"`.
    #[napi(ts_type = "'Bearer'")]
    pub token_type: String,
    /// Seconds until expiry.
    pub expires_in: i64,
    /// When the token expires (whole seconds).
    #[napi(ts_type = "Date")]
    pub expires_at: JsDate,
    /// The granted scope, space-separated (the OAuth wire form).
    pub scope: String,
}

impl From<core::AccessToken> for Token {
    fn from(t: core::AccessToken) -> Self {
        Token {
            access_token: t.access_token,
            token_type: t.token_type.to_owned(),
            expires_in: t.expires_in,
            expires_at: JsDate(t.expires_at),
            scope: t.scope,
        }
    }
}

/// Who made an authorized request.
#[napi(object, object_from_js = false)]
pub struct Principal {
    /// The key id (the token's subject).
    pub key_id: String,
    /// The key's current name.
    pub key_name: String,
    /// The key's organization: check it in multi-tenant routers.
    pub org: String,
    /// The token's grants.
    pub scope: Vec<String>,
    /// The token id (`jti`).
    pub token_id: String,
    /// When the token expires.
    #[napi(ts_type = "Date")]
    pub expires_at: JsDate,
}

impl From<core::Principal> for Principal {
    fn from(p: core::Principal) -> Self {
        Principal {
            key_id: p.key_id().to_owned(),
            key_name: p.key_name().to_owned(),
            org: p.org().to_owned(),
            scope: p.scope().map(str::to_owned).collect(),
            token_id: p.token_id().to_owned(),
            expires_at: JsDate(p.expires_at()),
        }
    }
}

/// An HTTP answer of `tokenEndpoint`.
#[napi(object, object_from_js = false)]
pub struct HttpResponse {
    /// The status code.
    pub status: u32,
    /// Header names and values.
    pub headers: std::collections::HashMap<String, String>,
    /// The body, JSON text.
    pub body: String,
}

/// The answer of `handleHttp`: copy it to the client unchanged.
#[napi(object, object_from_js = false)]
pub struct HandleHttpResponse {
    /// The status code.
    pub status: u32,
    /// Header names and values, in order; a name may repeat.
    #[napi(ts_type = "Array<[string, string]>")]
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Buffer,
}

impl From<core::http::HttpResponse> for HandleHttpResponse {
    fn from(r: core::http::HttpResponse) -> Self {
        HandleHttpResponse {
            status: r.status as u32,
            headers: r.headers,
            body: r.body.into_bytes().into(),
        }
    }
}

/// One of the store's signing keys, never its private half.
#[napi(object, object_from_js = false)]
pub struct SigningKeyInfo {
    /// Key id, written in the header of the tokens it signs.
    pub kid: String,
    /// JWS algorithm.
    #[napi(ts_type = "'ES256' | 'EdDSA' | 'RS256' | 'HS256'")]
    pub alg: String,
    /// `'current'` signs; `'next'` signs after the next rotation; `'retired'` only
    /// verifies, until its tokens have expired.
    #[napi(ts_type = "'current' | 'next' | 'retired'")]
    pub state: String,
    /// When the key was made.
    #[napi(ts_type = "Date")]
    pub created_at: JsDate,
    /// When it stopped signing, or null.
    #[napi(ts_type = "Date | null")]
    pub retired_at: Nullable<JsDate>,
    /// The public JWK as published in the JWK Set; null for HS256 keys, which are
    /// never published.
    #[napi(ts_type = "Record<string, string> | null")]
    pub public_jwk: Nullable<JsonValue>,
}

impl From<core::SigningKeyInfo> for SigningKeyInfo {
    fn from(k: core::SigningKeyInfo) -> Self {
        SigningKeyInfo {
            kid: k.kid,
            alg: k.alg,
            state: k.state,
            created_at: JsDate(k.created_at),
            retired_at: opt_date(k.retired_at),
            public_jwk: Nullable(k.public_jwk.map(JsonValue)),
        }
    }
}
