//! `keyscope_options`: the builder of `keyscope_store_open`'s options.

use std::ffi::c_char;

use keyscope_core::{Alg, Argon2Params, Catalog, Error, Options};
use zeroize::Zeroize;

use crate::boundary::{arg_ref, arg_str, check_out, copy_bytes, free_box, write_out};
use crate::error::keyscope_status;

/// Options of `keyscope_store_open` (defaults as documented in the README). Signing
/// secrets and the key-encryption key are wiped when it is freed.
pub struct keyscope_options {
    pub(crate) inner: Options,
}

impl Drop for keyscope_options {
    fn drop(&mut self) {
        for (_, secret) in &mut self.inner.signing_keys {
            secret.zeroize();
        }
        // `key_encryption_key` is `Zeroizing`: wiped when dropped.
    }
}

fn with(
    options: *mut keyscope_options,
    f: impl FnOnce(&mut Options) -> keyscope_core::Result<()>,
) -> keyscope_core::Result<()> {
    let o =
        unsafe { options.as_mut() }.ok_or_else(|| Error::invalid("options", "must not be NULL"))?;
    f(&mut o.inner)
}

/// Creates an options builder with the defaults. Free it with
/// `keyscope_options_free` (after opening stores with it, or not).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_new(out: *mut *mut keyscope_options) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        unsafe {
            write_out(
                out,
                keyscope_options {
                    inner: Options::default(),
                },
            )
        };
        Ok(())
    })
}

/// Frees an options builder. Calling with NULL is fine. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_free(options: *mut keyscope_options) {
    ffi_free!({ unsafe { free_box(options) } })
}

/// Adds a signing key (`secret` of at least 32 bytes); the first added signs. The
/// bytes are copied.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_add_signing_key(
    options: *mut keyscope_options,
    kid: *const c_char,
    secret: *const u8,
    secret_len: usize,
) -> keyscope_status {
    ffi_status!({
        let kid = unsafe { arg_str(kid, "kid") }?;
        if secret.is_null() {
            return Err(Error::invalid("secret", "must not be NULL"));
        }
        let bytes = unsafe { std::slice::from_raw_parts(secret, secret_len) }.to_vec();
        with(options, |o| {
            o.signing_keys.push((kid.to_owned(), bytes));
            Ok(())
        })
    })
}

/// The algorithm of the signing keys the store generates: `"ES256"` (the default),
/// `"EdDSA"`, `"RS256"` or `"HS256"` (any other text is `KEYSCOPE_INVALID_INPUT`).
/// With keys from `keyscope_options_add_signing_key` only `"HS256"` is accepted
/// (checked when the store opens).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_token_alg(
    options: *mut keyscope_options,
    alg: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let alg = Alg::parse(unsafe { arg_str(alg, "token_alg") }?, "token_alg")?;
        with(options, |o| {
            o.token_alg = Some(alg);
            Ok(())
        })
    })
}

/// The key-encryption key (32 bytes, checked when the store opens) that seals the
/// store's private signing keys at rest (AES-256-GCM). Default:
/// `KEYSCOPE_KEY_ENCRYPTION_KEY` (base64), else private keys are stored in the clear.
/// Every handle on the store needs the same key. The bytes are copied, and the copy
/// is wiped when the options are freed.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_key_encryption_key(
    options: *mut keyscope_options,
    key: *const u8,
    len: usize,
) -> keyscope_status {
    ffi_status!({
        if key.is_null() {
            return Err(Error::invalid("key_encryption_key", "must not be NULL"));
        }
        let key = unsafe { copy_bytes(key, len, "key_encryption_key") }?;
        with(options, |o| {
            o.key_encryption_key = Some(key);
            Ok(())
        })
    })
}

/// Uses a built-in catalog by name (`"secure_access"`).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_catalog_name(
    options: *mut keyscope_options,
    name: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let catalog = Catalog::named(unsafe { arg_str(name, "catalog") }?)?;
        with(options, |o| {
            o.catalog = Some(catalog);
            Ok(())
        })
    })
}

/// Uses a catalog given as JSON: `{"scopes": {"<scope>": {"<resource>": "read"|"write"}}}`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_catalog_json(
    options: *mut keyscope_options,
    json: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let catalog = Catalog::from_json(unsafe { arg_str(json, "catalog") }?)?;
        with(options, |o| {
            o.catalog = Some(catalog);
            Ok(())
        })
    })
}

/// Access-token lifetime in seconds, 60–86400 (checked when the store opens).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_token_ttl(
    options: *mut keyscope_options,
    seconds: i64,
) -> keyscope_status {
    ffi_status!({
        with(options, |o| {
            o.token_ttl = seconds;
            Ok(())
        })
    })
}

/// The `iss` claim written and required.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_issuer(
    options: *mut keyscope_options,
    issuer: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let issuer = unsafe { arg_str(issuer, "issuer") }?.to_owned();
        with(options, |o| {
            o.issuer = issuer;
            Ok(())
        })
    })
}

/// The `aud` claim written and required (default: the issuer).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_audience(
    options: *mut keyscope_options,
    audience: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let audience = unsafe { arg_str(audience, "audience") }?.to_owned();
        with(options, |o| {
            o.audience = Some(audience);
            Ok(())
        })
    })
}

/// Clock skew in seconds tolerated on `exp`/`iat`, 0–60.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_leeway(
    options: *mut keyscope_options,
    seconds: i64,
) -> keyscope_status {
    ffi_status!({
        with(options, |o| {
            o.leeway = seconds;
            Ok(())
        })
    })
}

/// Accept networks that are not globally reachable in keys.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_allow_private_networks(
    options: *mut keyscope_options,
    allow: bool,
) -> keyscope_status {
    ffi_status!({
        with(options, |o| {
            o.allow_private_networks = allow;
            Ok(())
        })
    })
}

/// The Argon2id cost of new hashes.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_argon2(
    options: *mut keyscope_options,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
) -> keyscope_status {
    ffi_status!({
        with(options, |o| {
            o.argon2 = Argon2Params {
                memory_kib,
                iterations,
                parallelism,
            };
            Ok(())
        })
    })
}

/// The prefix of generated secrets, `[a-z0-9]{2,8}`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_secret_prefix(
    options: *mut keyscope_options,
    prefix: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let prefix = unsafe { arg_str(prefix, "secret_prefix") }?.to_owned();
        with(options, |o| {
            o.secret_prefix = prefix;
            Ok(())
        })
    })
}

/// Failed exchanges per key per minute before `KEYSCOPE_RATE_LIMITED`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_max_failed_exchanges_per_minute(
    options: *mut keyscope_options,
    max: u32,
) -> keyscope_status {
    ffi_status!({
        with(options, |o| {
            o.max_failed_exchanges_per_minute = max;
            Ok(())
        })
    })
}

/// Seconds another handle's change may take to reach `keyscope_store_authorize`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_revocation_staleness(
    options: *mut keyscope_options,
    seconds: f64,
) -> keyscope_status {
    ffi_status!({
        with(options, |o| {
            o.revocation_staleness = seconds;
            Ok(())
        })
    })
}

/// Adds an address or CIDR whose `X-Forwarded-For` is believed.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_add_trusted_proxy(
    options: *mut keyscope_options,
    proxy: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let proxy = unsafe { arg_str(proxy, "trusted_proxy") }?.to_owned();
        with(options, |o| {
            o.trusted_proxies.push(proxy);
            Ok(())
        })
    })
}

/// How long a write waits for another writer, in milliseconds.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_busy_timeout_ms(
    options: *mut keyscope_options,
    milliseconds: u64,
) -> keyscope_status {
    ffi_status!({
        with(options, |o| {
            o.store.busy_timeout_ms = milliseconds;
            Ok(())
        })
    })
}

/// Seconds `keyscope_store_authorize` keeps answering from memory after a refresh of
/// its state that failed was due (0–3600, default 30); then `KEYSCOPE_STORAGE` until a
/// refresh succeeds.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_offline_grace(
    options: *mut keyscope_options,
    seconds: f64,
) -> keyscope_status {
    ffi_status!({
        with(options, |o| {
            o.offline_grace = seconds;
            Ok(())
        })
    })
}

/// PostgreSQL only: the schema holding keyscope's tables (default `keyscope`).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_schema(
    options: *mut keyscope_options,
    schema: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let schema = unsafe { arg_str(schema, "schema") }?.to_owned();
        with(options, |o| {
            o.store.schema = Some(schema);
            Ok(())
        })
    })
}

/// PostgreSQL only: connections per handle, 1–64 (default 4).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_pool_size(
    options: *mut keyscope_options,
    size: u32,
) -> keyscope_status {
    ffi_status!({
        with(options, |o| {
            o.store.pool_size = Some(size);
            Ok(())
        })
    })
}

/// PostgreSQL only: follow changes by LISTEN/NOTIFY as well as by polling (default
/// true; false for connection poolers that break LISTEN).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_options_set_listen(
    options: *mut keyscope_options,
    listen: bool,
) -> keyscope_status {
    ffi_status!({
        with(options, |o| {
            o.store.listen = Some(listen);
            Ok(())
        })
    })
}

pub(crate) fn options_of(options: *const keyscope_options) -> keyscope_core::Result<Options> {
    if options.is_null() {
        return Ok(Options::default());
    }
    Ok(unsafe { arg_ref(options, "options") }?.inner.clone())
}
