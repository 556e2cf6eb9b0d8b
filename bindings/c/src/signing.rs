//! `keyscope_signing_key` (what a store shows of one of its token signing keys, never
//! the private half) and `keyscope_signing_key_list`.

use std::ffi::{CString, c_char};
use std::ptr;

use keyscope_core::SigningKeyInfo;

use crate::boundary::{c_string, free_box, opt_ptr};
use crate::key::KEYSCOPE_NO_TIME;

/// A token signing key of a store: its kid, algorithm, state and public JWK.
pub struct keyscope_signing_key {
    kid: CString,
    alg: CString,
    state: CString,
    created_at: i64,
    retired_at: i64,
    public_jwk: Option<CString>,
}

impl From<SigningKeyInfo> for keyscope_signing_key {
    fn from(k: SigningKeyInfo) -> Self {
        keyscope_signing_key {
            kid: c_string(&k.kid),
            alg: c_string(&k.alg),
            state: c_string(&k.state),
            created_at: k.created_at.unix_seconds(),
            retired_at: k.retired_at.map_or(KEYSCOPE_NO_TIME, |t| t.unix_seconds()),
            public_jwk: k.public_jwk.as_deref().map(c_string),
        }
    }
}

/// The key id (the `kid` of the tokens it signs). NULL if `key` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_signing_key_kid(
    key: *const keyscope_signing_key,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { key.as_ref() }.map_or(ptr::null(), |k| k.kid.as_ptr())
    })
}

/// The JWS algorithm: `"ES256"`, `"EdDSA"`, `"RS256"` or `"HS256"`. NULL if `key` is
/// NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_signing_key_alg(
    key: *const keyscope_signing_key,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { key.as_ref() }.map_or(ptr::null(), |k| k.alg.as_ptr())
    })
}

/// `"current"` (signs new tokens), `"next"` (published, signs after the next
/// rotation) or `"retired"` (verifies until its tokens have expired). NULL if `key`
/// is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_signing_key_state(
    key: *const keyscope_signing_key,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { key.as_ref() }.map_or(ptr::null(), |k| k.state.as_ptr())
    })
}

/// When the key was made (Unix seconds). `KEYSCOPE_NO_TIME` if `key` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_signing_key_created_at(key: *const keyscope_signing_key) -> i64 {
    ffi_value!(KEYSCOPE_NO_TIME, {
        unsafe { key.as_ref() }.map_or(KEYSCOPE_NO_TIME, |k| k.created_at)
    })
}

/// When the key stopped signing (Unix seconds), or `KEYSCOPE_NO_TIME` for a key that
/// has not (and if `key` is NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_signing_key_retired_at(key: *const keyscope_signing_key) -> i64 {
    ffi_value!(KEYSCOPE_NO_TIME, {
        unsafe { key.as_ref() }.map_or(KEYSCOPE_NO_TIME, |k| k.retired_at)
    })
}

/// The public key as a JWK (JSON text with `kid`, `alg` and `use`), or NULL for an
/// HS256 key, which is never published (and if `key` is NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_signing_key_public_jwk(
    key: *const keyscope_signing_key,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { key.as_ref() }.map_or(ptr::null(), |k| opt_ptr(&k.public_jwk))
    })
}

/// Frees a signing key (from `keyscope_store_rotate_signing_key`). Calling with NULL
/// is fine. Must not be called twice, nor on a key borrowed from a list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_signing_key_free(key: *mut keyscope_signing_key) {
    ffi_free!({ unsafe { free_box(key) } })
}

/// A store's signing keys: the current key, then the next, then retired keys that
/// still verify.
pub struct keyscope_signing_key_list {
    pub(crate) items: Vec<keyscope_signing_key>,
}

/// The number of keys in the list. 0 if `list` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_signing_key_list_len(
    list: *const keyscope_signing_key_list,
) -> usize {
    ffi_value!(0, { unsafe { list.as_ref() }.map_or(0, |l| l.items.len()) })
}

/// Key `index`, borrowed from the list (valid until it is freed), or NULL when out
/// of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_signing_key_list_item(
    list: *const keyscope_signing_key_list,
    index: usize,
) -> *const keyscope_signing_key {
    ffi_value!(ptr::null(), {
        unsafe { list.as_ref() }
            .and_then(|l| l.items.get(index))
            .map_or(ptr::null(), |k| k as *const _)
    })
}

/// Frees a list of signing keys (and the keys borrowed from it). Calling with NULL is
/// fine. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_signing_key_list_free(list: *mut keyscope_signing_key_list) {
    ffi_free!({ unsafe { free_box(list) } })
}
