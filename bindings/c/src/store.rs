//! `keyscope_store`: the store handle (or an org view of it) and every call on it.

use std::ffi::{c_char, c_int};

use keyscope_core::key::DEFAULT_WITHIN_MS;
use keyscope_core::{
    Alg, Error, ErrorKind, HttpRequest, KeyStore, ListQuery, Secret, StatusFilter,
};

use crate::audit::{keyscope_audit_list, keyscope_summary};
use crate::boundary::{
    TokenCopy, arg_ref, arg_str, c_string, check_out, copy_bytes, copy_opt_str, free_box, opt_now,
    opt_str, write_out,
};
use crate::error::keyscope_status;
use crate::http::{keyscope_http_request, keyscope_http_response};
use crate::key::{keyscope_created_key, keyscope_key, keyscope_key_list};
use crate::options::{keyscope_options, options_of};
use crate::params::keyscope_key_params;
use crate::signing::{keyscope_signing_key, keyscope_signing_key_list};
use crate::string::write_string;
use crate::token::{keyscope_permission, keyscope_principal, keyscope_token};

/// A handle on a keyscope store, or a view of it limited to one organization. Safe
/// to share between threads.
pub struct keyscope_store {
    inner: KeyStore,
}

/// Which keys `keyscope_store_list_keys` returns (passed as an `int`).
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum keyscope_key_filter {
    /// Every key.
    KEYSCOPE_FILTER_ALL = 0,
    /// Enabled and not expired.
    KEYSCOPE_FILTER_ACTIVE = 1,
    /// Enabled and expired.
    KEYSCOPE_FILTER_EXPIRED = 2,
    /// Active and expiring within `within_seconds`.
    KEYSCOPE_FILTER_EXPIRING = 3,
    /// Disabled.
    KEYSCOPE_FILTER_DISABLED = 4,
}

impl keyscope_key_filter {
    /// The filter with this value; any other `int` is `invalid_input`.
    fn from_int(value: c_int) -> keyscope_core::Result<StatusFilter> {
        Ok(match value {
            0 => StatusFilter::All,
            1 => StatusFilter::Active,
            2 => StatusFilter::Expired,
            3 => StatusFilter::Expiring,
            4 => StatusFilter::Disabled,
            _ => {
                return Err(Error::invalid(
                    "filter",
                    format!("{value} is not a keyscope_key_filter"),
                ));
            }
        })
    }
}

fn store<'a>(s: *const keyscope_store) -> keyscope_core::Result<&'a KeyStore> {
    Ok(&unsafe { arg_ref(s, "store") }?.inner)
}

fn within_ms(seconds: i64) -> keyscope_core::Result<i64> {
    if seconds < 0 {
        return Ok(DEFAULT_WITHIN_MS);
    }
    seconds
        .checked_mul(1000)
        .ok_or_else(|| Error::invalid("within", "is out of range"))
}

/// Opens (creating if missing) the SQLite store at `path` (`":memory:"` for a
/// private in-memory store). `options` is optional (NULL: defaults) and may be freed
/// right after. On success writes a store to `*out`; close it with
/// `keyscope_store_close`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_open(
    path: *const c_char,
    options: *const keyscope_options,
    out: *mut *mut keyscope_store,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let path = unsafe { arg_str(path, "path") }?;
        let inner = KeyStore::open(path, options_of(options)?)?;
        unsafe { write_out(out, keyscope_store { inner }) };
        Ok(())
    })
}

/// Frees a store handle or view. Other handles and views of the same store stay
/// open. Calling with NULL is fine. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_close(store: *mut keyscope_store) {
    ffi_free!({ unsafe { free_box(store) } })
}

/// A view of `store` limited to organization `org`, usable wherever a store is; free
/// it with `keyscope_store_close`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_org(
    s: *const keyscope_store,
    org: *const c_char,
    out: *mut *mut keyscope_store,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let view = store(s)?.org(unsafe { arg_str(org, "org") }?)?;
        unsafe { write_out(out, keyscope_store { inner: view }) };
        Ok(())
    })
}

/// Creates a key from `params` (name and at least one grant required). `now` is
/// optional (NULL: the clock). On success writes the key with its secret to `*out`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_create_key(
    s: *const keyscope_store,
    params: *const keyscope_key_params,
    now: *const i64,
    out: *mut *mut keyscope_created_key,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let new = unsafe { arg_ref(params, "params") }?.to_new_key(unsafe { opt_now(now) }?)?;
        let (key, secret) = store(s)?.create_key(new)?;
        unsafe { write_out(out, keyscope_created_key::from((key, secret))) };
        Ok(())
    })
}

/// The key `id`. `now` is optional.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_get_key(
    s: *const keyscope_store,
    id: *const c_char,
    now: *const i64,
    out: *mut *mut keyscope_key,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let key = store(s)?.get_key(unsafe { arg_str(id, "id") }?, unsafe { opt_now(now) }?)?;
        unsafe { write_out(out, keyscope_key::from(key)) };
        Ok(())
    })
}

/// One page of keys in creation order. `filter` is a `keyscope_key_filter` value (any
/// other is `KEYSCOPE_INVALID_INPUT`); `search` and `cursor` are optional; `limit`
/// is 1–1000; `within_seconds` is the "expiring" horizon (negative: 30 days); `now`
/// is optional.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_list_keys(
    s: *const keyscope_store,
    filter: c_int,
    search: *const c_char,
    limit: u32,
    cursor: *const c_char,
    within_seconds: i64,
    now: *const i64,
    out: *mut *mut keyscope_key_list,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let q = ListQuery {
            status: keyscope_key_filter::from_int(filter)?,
            search: unsafe { opt_str(search, "search") }?.map(str::to_owned),
            limit: limit as i64,
            cursor: unsafe { opt_str(cursor, "cursor") }?.map(str::to_owned),
            within_ms: within_ms(within_seconds)?,
            now: unsafe { opt_now(now) }?,
        };
        let page = store(s)?.list_keys(&q)?;
        let list = keyscope_key_list {
            items: page.items.into_iter().map(keyscope_key::from).collect(),
            next_cursor: page.next_cursor.as_deref().map(c_string),
        };
        unsafe { write_out(out, list) };
        Ok(())
    })
}

/// Changes the fields set (or cleared) in `params`. `now` is optional; `out` is
/// optional (NULL: the updated key is not returned).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_update_key(
    s: *const keyscope_store,
    id: *const c_char,
    params: *const keyscope_key_params,
    now: *const i64,
    out: *mut *mut keyscope_key,
) -> keyscope_status {
    ffi_status!({
        let update = unsafe { arg_ref(params, "params") }?.to_update(unsafe { opt_now(now) }?);
        let key = store(s)?.update_key(unsafe { arg_str(id, "id") }?, update)?;
        if !out.is_null() {
            unsafe { write_out(out, keyscope_key::from(key)) };
        }
        Ok(())
    })
}

/// Issues a new secret for the same key id. With `grace_seconds` (0 to 604800) the
/// old secret keeps working until then. `actor` and `now` are optional.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_refresh_key(
    s: *const keyscope_store,
    id: *const c_char,
    grace_seconds: i64,
    actor: *const c_char,
    now: *const i64,
    out: *mut *mut keyscope_created_key,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let grace = grace_seconds
            .checked_mul(1000)
            .ok_or_else(|| Error::invalid("grace", "is out of range"))?;
        let actor = unsafe { opt_str(actor, "actor") }?.map(str::to_owned);
        let (key, secret) =
            store(s)?.refresh_key(unsafe { arg_str(id, "id") }?, grace, actor, unsafe {
                opt_now(now)
            }?)?;
        unsafe { write_out(out, keyscope_created_key::from((key, secret))) };
        Ok(())
    })
}

/// Deletes a key; it and every token issued for it stop working. `actor` and `now`
/// are optional.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_delete_key(
    s: *const keyscope_store,
    id: *const c_char,
    actor: *const c_char,
    now: *const i64,
) -> keyscope_status {
    ffi_status!({
        let actor = unsafe { opt_str(actor, "actor") }?.map(str::to_owned);
        store(s)?.delete_key(unsafe { arg_str(id, "id") }?, actor, unsafe {
            opt_now(now)
        }?)
    })
}

/// The counts of this organization's keys; `within_seconds` is the "expiring soon"
/// horizon (negative: 30 days). `now` is optional. Writes the plain struct to `*out`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_summary(
    s: *const keyscope_store,
    within_seconds: i64,
    now: *const i64,
    out: *mut keyscope_summary,
) -> keyscope_status {
    ffi_status!({
        if out.is_null() {
            return Err(Error::invalid("out", "must not be NULL"));
        }
        let sm = store(s)?.summary(within_ms(within_seconds)?, unsafe { opt_now(now) }?)?;
        unsafe { *out = sm.into() };
        Ok(())
    })
}

/// Audit records, newest first; of one key if `key_id` is given (optional).
/// `cursor` is optional; `limit` is 1–1000.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_audit_log(
    s: *const keyscope_store,
    key_id: *const c_char,
    limit: u32,
    cursor: *const c_char,
    out: *mut *mut keyscope_audit_list,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let page = store(s)?.audit_log(
            unsafe { opt_str(key_id, "key_id") }?,
            limit as i64,
            unsafe { opt_str(cursor, "cursor") }?,
        )?;
        let list = keyscope_audit_list {
            items: page.items.into_iter().map(Into::into).collect(),
            next_cursor: page.next_cursor.as_deref().map(c_string),
        };
        unsafe { write_out(out, list) };
        Ok(())
    })
}

/// Exchanges a key id and secret for an access token. `client_ip`, `scope`
/// (space-separated grants) and `now` are optional.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_issue_token(
    s: *const keyscope_store,
    key_id: *const c_char,
    secret: *const c_char,
    client_ip: *const c_char,
    scope: *const c_char,
    now: *const i64,
    out: *mut *mut keyscope_token,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let secret = Secret::new(unsafe { arg_str(secret, "secret") }?);
        let token = store(s)?.issue_token(
            unsafe { arg_str(key_id, "key_id") }?,
            &secret,
            unsafe { opt_str(client_ip, "client_ip") }?,
            unsafe { opt_str(scope, "scope") }?,
            unsafe { opt_now(now) }?,
        )?;
        unsafe { write_out(out, keyscope_token::from(token)) };
        Ok(())
    })
}

/// Authorizes a request bearing `token` for `permission` on `resource` (`scope` or
/// `scope.resource`). `permission` is a `keyscope_permission` value (any other is
/// `KEYSCOPE_INVALID_INPUT`). `client_ip` and `now` are optional. Every check runs;
/// on success writes the principal to `*out`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_authorize(
    s: *const keyscope_store,
    token: *const c_char,
    resource: *const c_char,
    permission: c_int,
    client_ip: *const c_char,
    now: *const i64,
    out: *mut *mut keyscope_principal,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let permission = keyscope_permission::from_int(permission).ok_or_else(|| {
            Error::invalid(
                "permission",
                format!("{permission} is neither KEYSCOPE_READ nor KEYSCOPE_WRITE"),
            )
        })?;
        let store = store(s)?;
        // One copy of the caller's bytes, made before anything looks at them.
        let token = unsafe { TokenCopy::read(token) }?;
        let p = store.authorize(
            token.as_str()?,
            unsafe { arg_str(resource, "resource") }?,
            permission,
            unsafe { opt_str(client_ip, "client_ip") }?,
            unsafe { opt_now(now) }?,
        )?;
        unsafe { write_out(out, keyscope_principal::from(p)) };
        Ok(())
    })
}

/// The OAuth 2.0 token endpoint (RFC 6749 §4.4): `authorization`, `content_type`
/// and `client_ip` are optional; `body` may be NULL when `body_len` is 0. Writes the
/// HTTP answer to `*out` (a bad request is an answer, not an error). The body and
/// `authorization` are copied once and the copies wiped.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_token_endpoint(
    s: *const keyscope_store,
    authorization: *const c_char,
    content_type: *const c_char,
    body: *const u8,
    body_len: usize,
    client_ip: *const c_char,
    now: *const i64,
    out: *mut *mut keyscope_http_response,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        // Copies of the caller's credentials, made once and wiped afterwards.
        let body = unsafe { copy_bytes(body, body_len, "body") }?;
        let authorization = unsafe { copy_opt_str(authorization, "authorization") }?;
        let r = store(s)?.token_endpoint(
            authorization.as_deref().map(String::as_str),
            unsafe { opt_str(content_type, "content_type") }?,
            &body,
            unsafe { opt_str(client_ip, "client_ip") }?,
            unsafe { opt_now(now) }?,
        );
        unsafe { write_out(out, keyscope_http_response::from(r)) };
        Ok(())
    })
}

/// Serves one HTTP request: the token endpoint (`POST /auth/v2/token`), RFC 8414
/// metadata, the JWK Set (`GET /.well-known/jwks.json`), RFC 7662 introspection, RFC
/// 7009 revocation and `GET /healthz`, relative to the issuer's path when the issuer
/// is a URL. `request` needs a method and a path (else `KEYSCOPE_INVALID_INPUT`);
/// every other outcome is an answer written to `*out`: an unknown route is 404, a
/// known route with another method 405 with `Allow`, a body over 64 KiB 413.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_handle_http(
    s: *const keyscope_store,
    request: *const keyscope_http_request,
    out: *mut *mut keyscope_http_response,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let store = store(s)?;
        let r = unsafe { arg_ref(request, "request") }?;
        let method = r.method.as_deref().ok_or_else(|| {
            Error::invalid("method", "is not set (keyscope_http_request_set_method)")
        })?;
        let path = r
            .path
            .as_deref()
            .ok_or_else(|| Error::invalid("path", "is not set (keyscope_http_request_set_path)"))?;
        let headers: Vec<(&str, &str)> = r
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let response = store.handle_http(&HttpRequest {
            method,
            path,
            headers: &headers,
            body: &r.body,
            client_ip: r.client_ip.as_deref().map(String::as_str),
            now: r.now,
        });
        unsafe { write_out(out, keyscope_http_response::from(response)) };
        Ok(())
    })
}

/// The JWK Set (RFC 7517) of the keys that verify, as JSON text (`{"keys":[]}` when
/// every key is HS256). `now` is optional. On success writes a string to `*out`;
/// free it with `keyscope_string_free`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_jwks(
    s: *const keyscope_store,
    now: *const i64,
    out: *mut *mut c_char,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let set = store(s)?.jwks(unsafe { opt_now(now) }?)?;
        unsafe { write_string(out, set) }
    })
}

/// The RFC 8414 authorization-server metadata, as JSON text. `KEYSCOPE_INVALID_INPUT`
/// when the issuer is not an `https://` URL (or `http://` on a loopback host). On
/// success writes a string to `*out`; free it with `keyscope_string_free`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_metadata(
    s: *const keyscope_store,
    out: *mut *mut c_char,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let doc = store(s)?.metadata()?;
        unsafe { write_string(out, doc) }
    })
}

/// Revokes an access token (any client's: this is the administrator's call): it is
/// refused as `KEYSCOPE_TOKEN_REVOKED` until it expires, at once on this handle and
/// within `revocation_staleness` on every other. Writes to `*out` whether it was an
/// unexpired token of this store (of this organization, on a view); anything else
/// (not a token, another store's, expired) is left alone and gives false. `now` is
/// optional. The token is copied once, as by `keyscope_store_authorize`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_revoke_token(
    s: *const keyscope_store,
    token: *const c_char,
    now: *const i64,
    out: *mut bool,
) -> keyscope_status {
    ffi_status!({
        if out.is_null() {
            return Err(Error::invalid("out", "must not be NULL"));
        }
        let store = store(s)?;
        let now = unsafe { opt_now(now) }?;
        let revoked = match unsafe { TokenCopy::read(token) } {
            Ok(token) => store.revoke_token(token.as_str()?, now)?,
            // Too long to be a token: not one of this store's, as core would answer.
            Err(e) if e.kind() == ErrorKind::InvalidToken => false,
            Err(e) => return Err(e),
        };
        unsafe { *out = revoked };
        Ok(())
    })
}

/// The store's signing keys (the current key, then the next, then retired keys that
/// still verify), never their private halves. With keys from
/// `keyscope_options_add_signing_key` or `KEYSCOPE_SIGNING_KEYS`: those keys, HS256,
/// the first current and the others retired. `KEYSCOPE_INVALID_INPUT` on an org view
/// (signing keys belong to the store). `now` is optional. On success writes a list to
/// `*out`; free it with `keyscope_signing_key_list_free`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_signing_keys(
    s: *const keyscope_store,
    now: *const i64,
    out: *mut *mut keyscope_signing_key_list,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        let keys = store(s)?.signing_keys(unsafe { opt_now(now) }?)?;
        let list = keyscope_signing_key_list {
            items: keys.into_iter().map(keyscope_signing_key::from).collect(),
        };
        unsafe { write_out(out, list) };
        Ok(())
    })
}

/// Rotates the signing keys: the next key starts signing, the current one retires
/// (its tokens stay valid until they expire), and a new next key of `alg` is
/// published. `alg` is optional (NULL: the `token_alg` option, else `"ES256"`; else
/// one of `"ES256"`, `"EdDSA"`, `"RS256"`, `"HS256"`); `actor` and `now` are optional;
/// `out` is optional (NULL: the key now signing is not returned; else free it with
/// `keyscope_signing_key_free`). Audited as `signing_key_rotated`.
/// `KEYSCOPE_INVALID_INPUT` on an org view, or when the keys come from
/// `keyscope_options_add_signing_key` or `KEYSCOPE_SIGNING_KEYS`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_rotate_signing_key(
    s: *const keyscope_store,
    alg: *const c_char,
    actor: *const c_char,
    now: *const i64,
    out: *mut *mut keyscope_signing_key,
) -> keyscope_status {
    ffi_status!({
        let store = store(s)?;
        let alg = match unsafe { opt_str(alg, "alg") }? {
            Some(text) => Some(Alg::parse(text, "alg")?),
            None => None,
        };
        let key = store.rotate_signing_key(alg, unsafe { opt_str(actor, "actor") }?, unsafe {
            opt_now(now)
        }?)?;
        if !out.is_null() {
            unsafe { write_out(out, keyscope_signing_key::from(key)) };
        }
        Ok(())
    })
}

/// Retires signing key `kid`: it stops signing (retiring the current key rotates
/// first) and verifies until its tokens have expired — or, with `immediately`, never
/// again: every token it signed is refused at once on this handle and within
/// `revocation_staleness` on every other, and it leaves the JWK Set.
/// `KEYSCOPE_NOT_FOUND` for an unknown kid; `KEYSCOPE_INVALID_INPUT` on an org view,
/// or when the keys come from `keyscope_options_add_signing_key` or
/// `KEYSCOPE_SIGNING_KEYS`. `actor` and `now` are optional. Audited as
/// `signing_key_retired`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_store_retire_signing_key(
    s: *const keyscope_store,
    kid: *const c_char,
    immediately: bool,
    actor: *const c_char,
    now: *const i64,
) -> keyscope_status {
    ffi_status!({
        store(s)?.retire_signing_key(
            unsafe { arg_str(kid, "kid") }?,
            immediately,
            unsafe { opt_str(actor, "actor") }?,
            unsafe { opt_now(now) }?,
        )
    })
}
