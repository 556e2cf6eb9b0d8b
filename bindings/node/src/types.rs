//! TypeScript shapes of the option objects. The bindings read these objects field by
//! field (to tell `undefined` from `null` and name the field at fault); these structs
//! only describe them in `index.d.ts`.
#![allow(dead_code)]

use napi::bindgen_prelude::*;
use napi_derive::napi;

/// A signing key: the first one signs, all verify.
#[napi(object, object_to_js = false)]
pub struct SigningKey {
    /// Key id written in the token header.
    pub kid: String,
    /// At least 32 bytes.
    pub secret: Buffer,
}

/// Argon2id cost.
#[napi(object, object_to_js = false)]
pub struct Argon2Options {
    /// Memory in KiB (default 19456).
    pub memory_kib: Option<u32>,
    /// Passes (default 2).
    pub iterations: Option<u32>,
    /// Lanes (default 1).
    pub parallelism: Option<u32>,
}

/// Options of `KeyStore.open`. Durations are seconds.
#[napi(object, object_to_js = false)]
pub struct KeyStoreOptions {
    /// HS256 signing keys, then the only keys (rotating and retiring are refused);
    /// default: `KEYSCOPE_SIGNING_KEYS`, else the store's own keys (see `signingKeys()`).
    pub signing_keys: Option<Vec<SigningKey>>,
    /// Algorithm of the keys the store generates (default `'ES256'`); with
    /// `signingKeys` only `'HS256'`.
    #[napi(ts_type = "'ES256' | 'EdDSA' | 'RS256' | 'HS256'")]
    pub token_alg: Option<String>,
    /// 32 bytes sealing the store's private signing keys at rest (AES-256-GCM);
    /// default: `KEYSCOPE_KEY_ENCRYPTION_KEY` (base64), else they are stored in the
    /// clear. Without it an encrypted store verifies but cannot sign (`KEYSCOPE_STORAGE`).
    #[napi(ts_type = "Buffer | Uint8Array")]
    pub key_encryption_key: Option<Buffer>,
    /// `'secure_access'` or `{ scopes: { [scope]: { [resource]: 'read' | 'write' } } }`.
    #[napi(
        ts_type = "'secure_access' | { scopes: Record<string, Record<string, 'read' | 'write'>> }"
    )]
    pub catalog: Option<String>,
    /// Access-token lifetime, 60–86400 (default 3600).
    pub token_ttl: Option<u32>,
    /// `iss` written and required (default `'keyscope'`).
    pub issuer: Option<String>,
    /// `aud` written and required (default: the issuer).
    pub audience: Option<String>,
    /// Clock skew tolerated on `exp`/`iat`, 0–60 (default 0).
    pub leeway: Option<u32>,
    /// Accept networks that are not globally reachable (default false).
    pub allow_private_networks: Option<bool>,
    /// Argon2id cost of new hashes.
    pub argon2: Option<Argon2Options>,
    /// Prefix of generated secrets, `[a-z0-9]{2,8}` (default `'kss'`).
    pub secret_prefix: Option<String>,
    /// Failed exchanges per key per minute before `KEYSCOPE_RATE_LIMITED` (default 20).
    pub max_failed_exchanges_per_minute: Option<u32>,
    /// Seconds another handle's change may take to reach `authorize` (default 1).
    pub revocation_staleness: Option<f64>,
    /// Addresses or CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Option<Vec<String>>,
    /// Seconds a call waits for a lock or a connection (default 5).
    pub busy_timeout: Option<f64>,
    /// Seconds `authorize` keeps answering from memory after a refresh that failed was
    /// due, 0–3600 (default 30); then `KEYSCOPE_STORAGE` until one succeeds.
    pub offline_grace: Option<f64>,
    /// PostgreSQL only: the schema holding keyscope's tables (default `'keyscope'`).
    pub schema: Option<String>,
    /// PostgreSQL only: connections per handle, 1–64 (default 4).
    pub pool_size: Option<u32>,
    /// PostgreSQL only: follow changes by LISTEN/NOTIFY as well as polling (default true).
    pub listen: Option<bool>,
}

/// Parameters of `createKey`.
#[napi(object, object_to_js = false)]
pub struct CreateKeyParams {
    /// 1–255 characters, unique within the organization.
    pub name: String,
    /// 1–64 grants (`'reports:read'`, `'deployments.networks:write'`).
    pub grants: Vec<String>,
    /// Up to 1024 characters.
    pub description: Option<String>,
    /// Must be in the future; omitted: never expires.
    #[napi(ts_type = "Date")]
    pub expires_at: Option<f64>,
    /// Up to 10 addresses or CIDRs; omitted or empty: any address.
    pub networks: Option<Vec<String>>,
    /// Default true.
    pub enabled: Option<bool>,
    /// Who did it, for the audit log.
    pub actor: Option<String>,
    /// The instant that drives every rule of the call.
    #[napi(ts_type = "Date")]
    pub now: Option<f64>,
}

/// Changes of `updateKey`: `undefined` leaves a field unchanged, `null` clears
/// `description` or `expiresAt`.
#[napi(object, object_to_js = false)]
pub struct UpdateKeyParams {
    /// A new name.
    pub name: Option<String>,
    /// A new description, or null to clear it.
    #[napi(ts_type = "string | null")]
    pub description: Option<String>,
    /// A new expiry, or null for never.
    #[napi(ts_type = "Date | null")]
    pub expires_at: Option<f64>,
    /// New grants, replacing the old ones.
    pub grants: Option<Vec<String>>,
    /// New networks, replacing the old ones.
    pub networks: Option<Vec<String>>,
    /// Enable or disable (disabling revokes outstanding tokens for good).
    pub enabled: Option<bool>,
    /// Refuse with `KEYSCOPE_CONFLICT` unless the key is at this version.
    pub expected_version: Option<u32>,
    /// Who did it, for the audit log.
    pub actor: Option<String>,
    /// The instant that drives every rule of the call.
    #[napi(ts_type = "Date")]
    pub now: Option<f64>,
}

/// Options of `listKeys`.
#[napi(object, object_to_js = false)]
pub struct ListKeysOptions {
    /// Which keys (default `'all'`).
    #[napi(ts_type = "'all' | 'active' | 'expired' | 'expiring' | 'disabled'")]
    pub status: Option<String>,
    /// Case-insensitive substring of name or description.
    pub search: Option<String>,
    /// Page size, 1–1000 (default 50).
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page, with the same filters.
    pub cursor: Option<String>,
    /// The "expiring" horizon in seconds (default 30 days).
    pub within: Option<f64>,
    /// The instant that drives status.
    #[napi(ts_type = "Date")]
    pub now: Option<f64>,
}

/// One HTTP request for `handleHttp`, as a server hands it over.
#[napi(object, object_to_js = false)]
pub struct HandleHttpRequest {
    /// The method (`'GET'`, `'POST'`, …), case-sensitive.
    pub method: String,
    /// The path, possibly with a query string (`req.originalUrl` in Express).
    pub path: String,
    /// Header names (any case) and values: an object such as `req.headers` (a list
    /// value is one header line each, `undefined` is skipped) or `[name, value]` pairs
    /// in order, such as pairs of `req.rawHeaders`.
    #[napi(
        ts_type = "Record<string, string | string[] | undefined> | ReadonlyArray<readonly [string, string]>"
    )]
    pub headers: Option<String>,
    /// The body (default empty). Its bytes are copied once, when the call is made.
    #[napi(ts_type = "Buffer | Uint8Array | string")]
    pub body: Option<Buffer>,
    /// The connection's peer address (`req.socket.remoteAddress`); `X-Forwarded-For`
    /// is believed only from the store's `trustedProxies`.
    #[napi(ts_type = "string | null")]
    pub client_ip: Option<String>,
    /// The instant that drives every rule of the request.
    #[napi(ts_type = "Date")]
    pub now: Option<f64>,
}

/// Options of `rotateSigningKey`.
#[napi(object, object_to_js = false)]
pub struct RotateSigningKeyOptions {
    /// Algorithm of the new `next` key (default: the store's `tokenAlg`).
    #[napi(ts_type = "'ES256' | 'EdDSA' | 'RS256' | 'HS256'")]
    pub alg: Option<String>,
    /// Who did it, for the audit log.
    pub actor: Option<String>,
    /// The instant that drives the call.
    #[napi(ts_type = "Date")]
    pub now: Option<f64>,
}

/// Options of `retireSigningKey`.
#[napi(object, object_to_js = false)]
pub struct RetireSigningKeyOptions {
    /// Stop verifying at once, revoking every token the key signed (a leaked key);
    /// default false: it verifies until its tokens have expired.
    pub immediately: Option<bool>,
    /// Who did it, for the audit log.
    pub actor: Option<String>,
    /// The instant that drives the call.
    #[napi(ts_type = "Date")]
    pub now: Option<f64>,
}
