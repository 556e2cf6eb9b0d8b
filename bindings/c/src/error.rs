//! `keyscope_status`, its static texts, and the calling thread's last error message.

use std::cell::RefCell;
use std::ffi::{CString, c_char, c_int};

use keyscope_core::{Error, ErrorKind};

/// The outcome of a call: `KEYSCOPE_OK`, or an error code in upper case.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum keyscope_status {
    /// Success.
    KEYSCOPE_OK = 0,
    /// An argument breaks a rule (NULL, non-UTF-8, out of range…).
    KEYSCOPE_INVALID_INPUT = 1,
    /// No key with that id (in this organization).
    KEYSCOPE_NOT_FOUND = 2,
    /// A stale expected version, or a duplicate name.
    KEYSCOPE_CONFLICT = 3,
    /// Unknown key id, malformed or wrong secret.
    KEYSCOPE_INVALID_CREDENTIALS = 4,
    /// The key is disabled.
    KEYSCOPE_KEY_DISABLED = 5,
    /// The key has expired.
    KEYSCOPE_KEY_EXPIRED = 6,
    /// The client address is outside the key's networks.
    KEYSCOPE_NETWORK_DENIED = 7,
    /// A token exchange asked for scopes the key lacks.
    KEYSCOPE_INVALID_SCOPE = 8,
    /// Too many failed exchanges for this key just now.
    KEYSCOPE_RATE_LIMITED = 9,
    /// The access token is malformed, badly signed or not for this service.
    KEYSCOPE_INVALID_TOKEN = 10,
    /// The access token has expired.
    KEYSCOPE_TOKEN_EXPIRED = 11,
    /// The access token was revoked.
    KEYSCOPE_TOKEN_REVOKED = 12,
    /// The token or the key lacks the permission.
    KEYSCOPE_INSUFFICIENT_SCOPE = 13,
    /// The database failed, is locked, is newer than this build, or is closed.
    KEYSCOPE_STORAGE = 14,
    /// A bug in keyscope (for example a panic caught at the boundary).
    KEYSCOPE_INTERNAL = 15,
}

impl keyscope_status {
    /// The status with this value, if it is one. C may pass any `int` where a
    /// `keyscope_status` is expected; only this conversion reads it.
    pub fn from_int(value: c_int) -> Option<Self> {
        use keyscope_status::*;
        Some(match value {
            0 => KEYSCOPE_OK,
            1 => KEYSCOPE_INVALID_INPUT,
            2 => KEYSCOPE_NOT_FOUND,
            3 => KEYSCOPE_CONFLICT,
            4 => KEYSCOPE_INVALID_CREDENTIALS,
            5 => KEYSCOPE_KEY_DISABLED,
            6 => KEYSCOPE_KEY_EXPIRED,
            7 => KEYSCOPE_NETWORK_DENIED,
            8 => KEYSCOPE_INVALID_SCOPE,
            9 => KEYSCOPE_RATE_LIMITED,
            10 => KEYSCOPE_INVALID_TOKEN,
            11 => KEYSCOPE_TOKEN_EXPIRED,
            12 => KEYSCOPE_TOKEN_REVOKED,
            13 => KEYSCOPE_INSUFFICIENT_SCOPE,
            14 => KEYSCOPE_STORAGE,
            15 => KEYSCOPE_INTERNAL,
            _ => return None,
        })
    }
}

/// The status of each core kind. No wildcard arm: a new kind fails to compile until
/// it has a status.
pub fn status_of(kind: ErrorKind) -> keyscope_status {
    use keyscope_status::*;
    match kind {
        ErrorKind::InvalidInput => KEYSCOPE_INVALID_INPUT,
        ErrorKind::NotFound => KEYSCOPE_NOT_FOUND,
        ErrorKind::Conflict => KEYSCOPE_CONFLICT,
        ErrorKind::InvalidCredentials => KEYSCOPE_INVALID_CREDENTIALS,
        ErrorKind::KeyDisabled => KEYSCOPE_KEY_DISABLED,
        ErrorKind::KeyExpired => KEYSCOPE_KEY_EXPIRED,
        ErrorKind::NetworkDenied => KEYSCOPE_NETWORK_DENIED,
        ErrorKind::InvalidScope => KEYSCOPE_INVALID_SCOPE,
        ErrorKind::RateLimited => KEYSCOPE_RATE_LIMITED,
        ErrorKind::InvalidToken => KEYSCOPE_INVALID_TOKEN,
        ErrorKind::TokenExpired => KEYSCOPE_TOKEN_EXPIRED,
        ErrorKind::TokenRevoked => KEYSCOPE_TOKEN_REVOKED,
        ErrorKind::InsufficientScope => KEYSCOPE_INSUFFICIENT_SCOPE,
        ErrorKind::Storage => KEYSCOPE_STORAGE,
        ErrorKind::Internal => KEYSCOPE_INTERNAL,
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    let c = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Records an error for `keyscope_last_error` and returns its status.
pub fn fail(err: &Error) -> keyscope_status {
    set_last_error(err.message());
    status_of(err.kind())
}

pub(crate) fn status_of_result(
    result: std::thread::Result<keyscope_core::Result<()>>,
) -> keyscope_status {
    match result {
        Ok(Ok(())) => keyscope_status::KEYSCOPE_OK,
        Ok(Err(e)) => fail(&e),
        Err(_) => {
            set_last_error("internal error: a keyscope call panicked");
            keyscope_status::KEYSCOPE_INTERNAL
        }
    }
}

/// A static, NUL-terminated description of `status` ("not_found: no key with that
/// id"). Takes any `int` (a `keyscope_status` value); never NULL; a value that is no
/// status gives "unknown status".
#[unsafe(no_mangle)]
pub extern "C" fn keyscope_status_str(status: c_int) -> *const c_char {
    use keyscope_status::*;
    let Some(status) = keyscope_status::from_int(status) else {
        return c"unknown status".as_ptr();
    };
    let s: &'static [u8] = match status {
        KEYSCOPE_OK => b"ok\0",
        KEYSCOPE_INVALID_INPUT => b"invalid_input: an argument breaks a rule\0",
        KEYSCOPE_NOT_FOUND => b"not_found: no key with that id\0",
        KEYSCOPE_CONFLICT => b"conflict: stale expected version or duplicate name\0",
        KEYSCOPE_INVALID_CREDENTIALS => {
            b"invalid_credentials: unknown key id, malformed or wrong secret\0"
        }
        KEYSCOPE_KEY_DISABLED => b"key_disabled: the key is disabled\0",
        KEYSCOPE_KEY_EXPIRED => b"key_expired: the key has expired\0",
        KEYSCOPE_NETWORK_DENIED => {
            b"network_denied: the client address is outside the key's networks\0"
        }
        KEYSCOPE_INVALID_SCOPE => b"invalid_scope: the key lacks a requested scope\0",
        KEYSCOPE_RATE_LIMITED => b"rate_limited: too many failed exchanges for this key\0",
        KEYSCOPE_INVALID_TOKEN => b"invalid_token: the access token is not valid here\0",
        KEYSCOPE_TOKEN_EXPIRED => b"token_expired: the access token has expired\0",
        KEYSCOPE_TOKEN_REVOKED => b"token_revoked: the access token was revoked\0",
        KEYSCOPE_INSUFFICIENT_SCOPE => {
            b"insufficient_scope: the token or key lacks the permission\0"
        }
        KEYSCOPE_STORAGE => b"storage: the database failed or the store is closed\0",
        KEYSCOPE_INTERNAL => b"internal: a bug in keyscope\0",
    };
    s.as_ptr().cast()
}

/// The message of the last failed call on this thread ("" if none). Valid until the
/// next failing keyscope call on this thread; do not free it.
#[unsafe(no_mangle)]
pub extern "C" fn keyscope_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The stable code of `status` (`"not_found"`), as the other languages spell it.
/// Takes any `int` (a `keyscope_status` value); never NULL; a value that is no status
/// gives "unknown".
#[unsafe(no_mangle)]
pub extern "C" fn keyscope_status_code(status: c_int) -> *const c_char {
    let code: &'static [u8] = match keyscope_status::from_int(status) {
        None => b"unknown\0",
        Some(keyscope_status::KEYSCOPE_OK) => b"ok\0",
        Some(s) => match ErrorKind::ALL.iter().find(|k| status_of(**k) == s) {
            Some(k) => CODES[ErrorKind::ALL.iter().position(|x| x == k).unwrap_or(0)],
            None => b"unknown\0",
        },
    };
    code.as_ptr().cast()
}

/// True when `secret` has keyscope's form for `prefix` (optional: NULL means "kss")
/// and its checksum matches, so a mistyped or invented secret is rejected without a
/// store. False for NULL or non-UTF-8 text.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_secret_is_well_formed(
    secret: *const c_char,
    prefix: *const c_char,
) -> bool {
    ffi_value!(false, {
        let secret = unsafe { crate::boundary::arg_str(secret, "secret") };
        let prefix = unsafe { crate::boundary::opt_str(prefix, "prefix") };
        match (secret, prefix) {
            (Ok(s), Ok(p)) => keyscope_core::secret::is_well_formed(s, p.unwrap_or("kss")),
            _ => false,
        }
    })
}

const CODES: [&[u8]; 15] = [
    b"invalid_input\0",
    b"not_found\0",
    b"conflict\0",
    b"invalid_credentials\0",
    b"key_disabled\0",
    b"key_expired\0",
    b"network_denied\0",
    b"invalid_scope\0",
    b"rate_limited\0",
    b"invalid_token\0",
    b"token_expired\0",
    b"token_revoked\0",
    b"insufficient_scope\0",
    b"storage\0",
    b"internal\0",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_distinct_status_and_code() {
        let mut seen = std::collections::HashSet::new();
        for (i, k) in ErrorKind::ALL.iter().enumerate() {
            let s = status_of(*k);
            assert!(seen.insert(s as i32));
            let code = unsafe { std::ffi::CStr::from_ptr(keyscope_status_code(s as c_int)) };
            assert_eq!(code.to_str().unwrap(), k.code(), "{i}");
        }
    }

    #[test]
    fn values_that_are_no_status_get_the_unknown_texts() {
        let text = |p: *const c_char| unsafe { std::ffi::CStr::from_ptr(p) }.to_str().unwrap();
        for v in [-1, 16, 99, c_int::MIN, c_int::MAX] {
            assert_eq!(text(keyscope_status_str(v)), "unknown status");
            assert_eq!(text(keyscope_status_code(v)), "unknown");
        }
        for v in 0..=15 {
            assert_eq!(keyscope_status::from_int(v).map(|s| s as c_int), Some(v));
            assert_ne!(text(keyscope_status_code(v)), "unknown");
        }
    }
}
