//! `keyscope_key` and its accessors, `keyscope_created_key` (a key with its secret)
//! and `keyscope_key_list` (a page of keys).

use std::ffi::{CString, c_char};
use std::ptr;

use keyscope_core::{ApiKey, KeyStatus, Timestamp};
use zeroize::Zeroize;

use crate::boundary::{c_string, free_box, opt_ptr};

/// "No instant": a key that never expires, was never refreshed or never used.
pub const KEYSCOPE_NO_TIME: i64 = i64::MIN;

/// A key's status at the time of the call that returned it.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum keyscope_key_state {
    /// Enabled and not expired.
    KEYSCOPE_KEY_IS_ACTIVE = 0,
    /// Enabled and expired.
    KEYSCOPE_KEY_IS_EXPIRED = 1,
    /// Disabled.
    KEYSCOPE_KEY_IS_DISABLED = 2,
}

/// An API key. Never holds the secret.
pub struct keyscope_key {
    id: CString,
    org: CString,
    name: CString,
    description: Option<CString>,
    grants: Vec<CString>,
    networks: Vec<CString>,
    expires_at: Option<Timestamp>,
    enabled: bool,
    status: KeyStatus,
    version: i64,
    created_at: Timestamp,
    updated_at: Timestamp,
    last_refreshed_at: Option<Timestamp>,
    last_used_at: Option<Timestamp>,
}

impl From<ApiKey> for keyscope_key {
    fn from(k: ApiKey) -> Self {
        keyscope_key {
            id: c_string(&k.id),
            org: c_string(&k.org),
            name: c_string(&k.name),
            description: k.description.as_deref().map(c_string),
            grants: k.grants.iter().map(|g| c_string(&g.to_string())).collect(),
            networks: k
                .networks
                .iter()
                .map(|n| c_string(&n.to_string()))
                .collect(),
            expires_at: k.expires_at,
            enabled: k.enabled,
            status: k.status,
            version: k.version,
            created_at: k.created_at,
            updated_at: k.updated_at,
            last_refreshed_at: k.last_refreshed_at,
            last_used_at: k.last_used_at,
        }
    }
}

fn secs(t: Option<Timestamp>) -> i64 {
    t.map_or(KEYSCOPE_NO_TIME, Timestamp::unix_seconds)
}

/// The key id (32 lowercase hex characters). NULL if `key` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_id(key: *const keyscope_key) -> *const c_char {
    ffi_value!(ptr::null(), {
        match unsafe { key.as_ref() } {
            Some(k) => k.id.as_ptr(),
            None => ptr::null(),
        }
    })
}

/// The key's organization. NULL if `key` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_org(key: *const keyscope_key) -> *const c_char {
    ffi_value!(ptr::null(), {
        match unsafe { key.as_ref() } {
            Some(k) => k.org.as_ptr(),
            None => ptr::null(),
        }
    })
}

/// The key's name. NULL if `key` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_name(key: *const keyscope_key) -> *const c_char {
    ffi_value!(ptr::null(), {
        match unsafe { key.as_ref() } {
            Some(k) => k.name.as_ptr(),
            None => ptr::null(),
        }
    })
}

/// The description, or NULL when there is none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_description(key: *const keyscope_key) -> *const c_char {
    ffi_value!(ptr::null(), {
        match unsafe { key.as_ref() } {
            Some(k) => opt_ptr(&k.description),
            None => ptr::null(),
        }
    })
}

/// The expiry in Unix seconds, or `KEYSCOPE_NO_TIME` for a key that never expires.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_expires_at(key: *const keyscope_key) -> i64 {
    ffi_value!(KEYSCOPE_NO_TIME, {
        match unsafe { key.as_ref() } {
            Some(k) => secs(k.expires_at),
            None => KEYSCOPE_NO_TIME,
        }
    })
}

/// True when enabled.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_enabled(key: *const keyscope_key) -> bool {
    ffi_value!(false, {
        match unsafe { key.as_ref() } {
            Some(k) => k.enabled,
            None => false,
        }
    })
}

/// The status at the time of the call that returned the key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_status(key: *const keyscope_key) -> keyscope_key_state {
    ffi_value!(keyscope_key_state::KEYSCOPE_KEY_IS_DISABLED, {
        match unsafe { key.as_ref() } {
            Some(k) => match k.status {
                KeyStatus::Active => keyscope_key_state::KEYSCOPE_KEY_IS_ACTIVE,
                KeyStatus::Expired => keyscope_key_state::KEYSCOPE_KEY_IS_EXPIRED,
                KeyStatus::Disabled => keyscope_key_state::KEYSCOPE_KEY_IS_DISABLED,
            },
            None => keyscope_key_state::KEYSCOPE_KEY_IS_DISABLED,
        }
    })
}

/// The version: 1 at creation, +1 on every update and refresh. 0 if `key` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_version(key: *const keyscope_key) -> i64 {
    ffi_value!(0, {
        match unsafe { key.as_ref() } {
            Some(k) => k.version,
            None => 0,
        }
    })
}

/// When the key was created (Unix seconds).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_created_at(key: *const keyscope_key) -> i64 {
    ffi_value!(KEYSCOPE_NO_TIME, {
        match unsafe { key.as_ref() } {
            Some(k) => k.created_at.unix_seconds(),
            None => KEYSCOPE_NO_TIME,
        }
    })
}

/// When the key was last changed (Unix seconds).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_updated_at(key: *const keyscope_key) -> i64 {
    ffi_value!(KEYSCOPE_NO_TIME, {
        match unsafe { key.as_ref() } {
            Some(k) => k.updated_at.unix_seconds(),
            None => KEYSCOPE_NO_TIME,
        }
    })
}

/// When the secret was last refreshed, or `KEYSCOPE_NO_TIME`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_last_refreshed_at(key: *const keyscope_key) -> i64 {
    ffi_value!(KEYSCOPE_NO_TIME, {
        match unsafe { key.as_ref() } {
            Some(k) => secs(k.last_refreshed_at),
            None => KEYSCOPE_NO_TIME,
        }
    })
}

/// When the key was last exchanged for a token, or `KEYSCOPE_NO_TIME`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_last_used_at(key: *const keyscope_key) -> i64 {
    ffi_value!(KEYSCOPE_NO_TIME, {
        match unsafe { key.as_ref() } {
            Some(k) => secs(k.last_used_at),
            None => KEYSCOPE_NO_TIME,
        }
    })
}

/// The number of grants.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_grant_count(key: *const keyscope_key) -> usize {
    ffi_value!(0, {
        match unsafe { key.as_ref() } {
            Some(k) => k.grants.len(),
            None => 0,
        }
    })
}

/// The number of networks (0: any address).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_network_count(key: *const keyscope_key) -> usize {
    ffi_value!(0, {
        match unsafe { key.as_ref() } {
            Some(k) => k.networks.len(),
            None => 0,
        }
    })
}

/// Grant `index` (`"reports:read"`), or NULL when out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_grant(
    key: *const keyscope_key,
    index: usize,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { key.as_ref() }
            .and_then(|k| k.grants.get(index))
            .map_or(ptr::null(), |c| c.as_ptr())
    })
}

/// Network `index` in canonical form, or NULL when out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_network(
    key: *const keyscope_key,
    index: usize,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { key.as_ref() }
            .and_then(|k| k.networks.get(index))
            .map_or(ptr::null(), |c| c.as_ptr())
    })
}

/// Frees a key. Calling with NULL is fine. Must not be called twice, nor on a key
/// borrowed from a list or a created key.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_free(key: *mut keyscope_key) {
    ffi_free!({ unsafe { free_box(key) } })
}

/// A key and its secret, from create or refresh. The secret is wiped when freed.
pub struct keyscope_created_key {
    pub(crate) key: keyscope_key,
    pub(crate) secret: CString,
}

impl From<(keyscope_core::ApiKey, keyscope_core::Secret)> for keyscope_created_key {
    fn from((key, secret): (keyscope_core::ApiKey, keyscope_core::Secret)) -> Self {
        keyscope_created_key {
            key: key.into(),
            secret: c_string(secret.expose()),
        }
    }
}

impl Drop for keyscope_created_key {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.secret).into_bytes();
        bytes.zeroize();
    }
}

/// The key, borrowed from `created` (valid until it is freed). NULL if `created` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_created_key_key(
    created: *const keyscope_created_key,
) -> *const keyscope_key {
    ffi_value!(ptr::null(), {
        unsafe { created.as_ref() }.map_or(ptr::null(), |c| &c.key as *const _)
    })
}

/// The secret, borrowed from `created`: show it once, it is never returned again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_created_key_secret(
    created: *const keyscope_created_key,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { created.as_ref() }.map_or(ptr::null(), |c| c.secret.as_ptr())
    })
}

/// Frees a created key and wipes its secret. Calling with NULL is fine. Must not be
/// called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_created_key_free(created: *mut keyscope_created_key) {
    ffi_free!({ unsafe { free_box(created) } })
}

/// A page of keys.
pub struct keyscope_key_list {
    pub(crate) items: Vec<keyscope_key>,
    pub(crate) next_cursor: Option<CString>,
}

/// The number of keys in the page.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_list_len(list: *const keyscope_key_list) -> usize {
    ffi_value!(0, { unsafe { list.as_ref() }.map_or(0, |l| l.items.len()) })
}

/// Key `index`, borrowed from the list, or NULL when out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_list_item(
    list: *const keyscope_key_list,
    index: usize,
) -> *const keyscope_key {
    ffi_value!(ptr::null(), {
        unsafe { list.as_ref() }
            .and_then(|l| l.items.get(index))
            .map_or(ptr::null(), |k| k as *const _)
    })
}

/// The cursor of the next page, or NULL on the last page.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_list_next_cursor(
    list: *const keyscope_key_list,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { list.as_ref() }.map_or(ptr::null(), |l| opt_ptr(&l.next_cursor))
    })
}

/// Frees a page of keys (and the keys borrowed from it). Calling with NULL is fine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_key_list_free(list: *mut keyscope_key_list) {
    ffi_free!({ unsafe { free_box(list) } })
}
