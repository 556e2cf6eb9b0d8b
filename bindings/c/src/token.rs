//! Access tokens (`keyscope_token`) and principals (`keyscope_principal`).

use std::ffi::{CString, c_char, c_int};
use std::ptr;

use keyscope_core::{AccessToken, Principal};
use zeroize::Zeroize;

use crate::boundary::{c_string, free_box};

/// The permission a request needs. `KEYSCOPE_WRITE` covers `KEYSCOPE_READ`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum keyscope_permission {
    /// Read-Only.
    KEYSCOPE_READ = 0,
    /// Read/Write.
    KEYSCOPE_WRITE = 1,
}

impl keyscope_permission {
    /// The permission with this value, if it is one (C may pass any `int`).
    pub fn from_int(value: c_int) -> Option<keyscope_core::Permission> {
        match value {
            0 => Some(keyscope_core::Permission::Read),
            1 => Some(keyscope_core::Permission::Write),
            _ => None,
        }
    }
}

/// An access token. The token text is wiped when freed.
pub struct keyscope_token {
    access_token: CString,
    scope: CString,
    expires_in: i64,
    expires_at: i64,
}

impl From<AccessToken> for keyscope_token {
    fn from(t: AccessToken) -> Self {
        keyscope_token {
            access_token: c_string(&t.access_token),
            scope: c_string(&t.scope),
            expires_in: t.expires_in,
            expires_at: t.expires_at.unix_seconds(),
        }
    }
}

impl Drop for keyscope_token {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.access_token).into_bytes();
        bytes.zeroize();
    }
}

/// The compact JWS to send as `Authorization: Bearer <token>`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_token_access_token(
    token: *const keyscope_token,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { token.as_ref() }.map_or(ptr::null(), |t| t.access_token.as_ptr())
    })
}

/// Always `"Bearer"`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_token_type(token: *const keyscope_token) -> *const c_char {
    ffi_value!(ptr::null(), {
        if token.is_null() {
            ptr::null()
        } else {
            c"Bearer".as_ptr()
        }
    })
}

/// Seconds until expiry.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_token_expires_in(token: *const keyscope_token) -> i64 {
    ffi_value!(0, { unsafe { token.as_ref() }.map_or(0, |t| t.expires_in) })
}

/// When the token expires (Unix seconds).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_token_expires_at(token: *const keyscope_token) -> i64 {
    ffi_value!(0, { unsafe { token.as_ref() }.map_or(0, |t| t.expires_at) })
}

/// The granted scope, space-separated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_token_scope(token: *const keyscope_token) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { token.as_ref() }.map_or(ptr::null(), |t| t.scope.as_ptr())
    })
}

/// Frees a token and wipes it. Calling with NULL is fine. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_token_free(token: *mut keyscope_token) {
    ffi_free!({ unsafe { free_box(token) } })
}

/// Who made an authorized request: its strings NUL-terminated, one after another
/// in one buffer (`key_id`, `key_name`, `org`, `token_id`, then each grant).
pub struct keyscope_principal {
    text: Vec<u8>,
    /// Where each string starts in `text`.
    starts: Vec<u32>,
    expires_at: i64,
}

/// The fixed strings' places in [`keyscope_principal::starts`].
const KEY_ID: usize = 0;
const KEY_NAME: usize = 1;
const ORG: usize = 2;
const TOKEN_ID: usize = 3;
const SCOPE: usize = 4;

impl keyscope_principal {
    fn string(&self, i: usize) -> *const c_char {
        self.starts
            .get(i)
            .map_or(ptr::null(), |&at| self.text[at as usize..].as_ptr().cast())
    }
}

impl From<Principal> for keyscope_principal {
    fn from(p: Principal) -> Self {
        let parts = [p.key_id(), p.key_name(), p.org(), p.token_id()];
        let size = parts.len() + p.scope().len();
        let mut text = Vec::with_capacity(
            parts.iter().map(|s| s.len() + 1).sum::<usize>()
                + p.scope().map(|g| g.len() + 1).sum::<usize>(),
        );
        let mut starts = Vec::with_capacity(size);
        for s in parts.into_iter().chain(p.scope()) {
            starts.push(text.len() as u32);
            // Ids, names and grants cannot hold NUL; one would be a bug, reported
            // as an empty string (as `c_string` does).
            if !s.as_bytes().contains(&0) {
                text.extend_from_slice(s.as_bytes());
            }
            text.push(0);
        }
        keyscope_principal {
            text,
            starts,
            expires_at: p.expires_at().unix_seconds(),
        }
    }
}

/// The key id (the token's subject).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_principal_key_id(p: *const keyscope_principal) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { p.as_ref() }.map_or(ptr::null(), |p| p.string(KEY_ID))
    })
}

/// The key's current name.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_principal_key_name(
    p: *const keyscope_principal,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { p.as_ref() }.map_or(ptr::null(), |p| p.string(KEY_NAME))
    })
}

/// The key's organization.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_principal_org(p: *const keyscope_principal) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { p.as_ref() }.map_or(ptr::null(), |p| p.string(ORG))
    })
}

/// The number of grants in the token's scope.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_principal_scope_count(p: *const keyscope_principal) -> usize {
    ffi_value!(0, {
        unsafe { p.as_ref() }.map_or(0, |p| p.starts.len() - SCOPE)
    })
}

/// Grant `index` of the token's scope, or NULL when out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_principal_scope(
    p: *const keyscope_principal,
    index: usize,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { p.as_ref() }.map_or(ptr::null(), |p| {
            index
                .checked_add(SCOPE)
                .map_or(ptr::null(), |i| p.string(i))
        })
    })
}

/// The token id (`jti`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_principal_token_id(
    p: *const keyscope_principal,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { p.as_ref() }.map_or(ptr::null(), |p| p.string(TOKEN_ID))
    })
}

/// When the token expires (Unix seconds).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_principal_expires_at(p: *const keyscope_principal) -> i64 {
    ffi_value!(0, { unsafe { p.as_ref() }.map_or(0, |p| p.expires_at) })
}

/// Frees a principal. Calling with NULL is fine. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_principal_free(p: *mut keyscope_principal) {
    ffi_free!({ unsafe { free_box(p) } })
}
