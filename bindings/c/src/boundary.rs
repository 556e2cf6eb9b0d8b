//! The boundary every exported function runs inside: panics become
//! `KEYSCOPE_INTERNAL`, errors set the thread's last error, and arguments are read
//! through helpers that refuse NULL and non-UTF-8 text.

use std::ffi::{CStr, c_char};

use keyscope_core::{Error, Result, Timestamp};

/// Runs `$body` (a block returning `keyscope_core::Result<()>`) and returns its
/// status, catching panics.
macro_rules! ffi_status {
    ($body:block) => {{
        let result = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(
            || -> ::keyscope_core::Result<()> { $body },
        ));
        $crate::error::status_of_result(result)
    }};
}

/// Runs `$body` (returning a value) and returns it, or `$default` if it panics.
macro_rules! ffi_value {
    ($default:expr, $body:block) => {{ ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body)).unwrap_or($default) }};
}

/// Runs a `_free` body, swallowing panics.
macro_rules! ffi_free {
    ($body:block) => {{
        let _ = ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| $body));
    }};
}

/// Required text: NULL or non-UTF-8 is `invalid_input` naming `field`.
pub unsafe fn arg_str<'a>(p: *const c_char, field: &str) -> Result<&'a str> {
    if p.is_null() {
        return Err(Error::invalid(field, "must not be NULL"));
    }
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| Error::invalid(field, "is not valid UTF-8"))
}

/// Optional text: NULL is `None`.
pub unsafe fn opt_str<'a>(p: *const c_char, field: &str) -> Result<Option<&'a str>> {
    if p.is_null() {
        Ok(None)
    } else {
        unsafe { arg_str(p, field) }.map(Some)
    }
}

/// A copy of the NUL-terminated text at `p`, wiped when dropped. The caller's bytes
/// are read once, into the copy; only the copy is checked to be UTF-8 and used, so a
/// thread that writes to the caller's buffer meanwhile cannot make the text checked
/// differ from the text used. NULL or non-UTF-8 is `invalid_input` naming `field`.
pub unsafe fn copy_str(p: *const c_char, field: &str) -> Result<zeroize::Zeroizing<String>> {
    if p.is_null() {
        return Err(Error::invalid(field, "must not be NULL"));
    }
    // SAFETY: `p` is a C string; the `len` bytes before its NUL are readable.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes().to_vec();
    match String::from_utf8(bytes) {
        Ok(s) => Ok(zeroize::Zeroizing::new(s)),
        Err(e) => {
            zeroize::Zeroize::zeroize(&mut e.into_bytes());
            Err(Error::invalid(field, "is not valid UTF-8"))
        }
    }
}

/// Optional text copied as by [`copy_str`]: NULL is `None`.
pub unsafe fn copy_opt_str(
    p: *const c_char,
    field: &str,
) -> Result<Option<zeroize::Zeroizing<String>>> {
    if p.is_null() {
        Ok(None)
    } else {
        unsafe { copy_str(p, field) }.map(Some)
    }
}

/// A copy of `len` bytes at `p`, wiped when dropped; `p` may be NULL when `len` is 0.
pub unsafe fn copy_bytes(
    p: *const u8,
    len: usize,
    field: &str,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    if len == 0 {
        return Ok(zeroize::Zeroizing::new(Vec::new()));
    }
    if p.is_null() {
        return Err(Error::invalid(
            field,
            "must not be NULL when its length is not 0",
        ));
    }
    // SAFETY: the caller says `len` bytes at `p` are readable.
    Ok(zeroize::Zeroizing::new(
        unsafe { std::slice::from_raw_parts(p, len) }.to_vec(),
    ))
}

/// A copy of the caller's token, wiped when dropped. The caller's memory is read once,
/// by [`TokenCopy::read`]; the copy alone is then validated, verified, decoded and
/// cached, so a thread that writes to the caller's buffer meanwhile cannot make the
/// bytes checked differ from the bytes accepted.
pub struct TokenCopy(zeroize::Zeroizing<Vec<u8>>);

impl TokenCopy {
    /// Copies the NUL-terminated token at `p` (at most `MAX_TOKEN_BYTES + 1` bytes are
    /// looked at: a longer one is refused as `invalid_token`, as core refuses it).
    pub unsafe fn read(p: *const c_char) -> Result<TokenCopy> {
        if p.is_null() {
            return Err(Error::invalid("token", "must not be NULL"));
        }
        let max = keyscope_core::token::MAX_TOKEN_BYTES;
        // SAFETY: `p` is a C string; strnlen reads no further than its NUL or `max + 1`.
        let len = unsafe { libc::strnlen(p, max + 1) };
        if len > max {
            return Err(Error::new(
                keyscope_core::ErrorKind::InvalidToken,
                format!("the token is longer than {max} bytes"),
            ));
        }
        let mut copy = Vec::with_capacity(len);
        // SAFETY: the `len` bytes before the NUL are readable and `copy` has room for
        // them; they are initialized by the copy before `set_len`.
        unsafe {
            std::ptr::copy_nonoverlapping(p.cast::<u8>(), copy.as_mut_ptr(), len);
            copy.set_len(len);
        }
        Ok(TokenCopy(zeroize::Zeroizing::new(copy)))
    }

    /// The copy as text: `invalid_input` when it is not UTF-8.
    pub fn as_str(&self) -> Result<&str> {
        std::str::from_utf8(&self.0).map_err(|_| Error::invalid("token", "is not valid UTF-8"))
    }
}

/// A required handle.
pub unsafe fn arg_ref<'a, T>(p: *const T, field: &str) -> Result<&'a T> {
    unsafe { p.as_ref() }.ok_or_else(|| Error::invalid(field, "must not be NULL"))
}

/// An optional `now` (Unix seconds).
pub unsafe fn opt_now(p: *const i64) -> Result<Option<Timestamp>> {
    match unsafe { p.as_ref() } {
        None => Ok(None),
        Some(s) => Timestamp::from_unix_seconds(*s, "now").map(Some),
    }
}

/// Checks an output pointer before any work, so that nothing is done for nothing.
pub fn check_out<T>(out: *mut *mut T) -> Result<()> {
    if out.is_null() {
        Err(Error::invalid("out", "must not be NULL"))
    } else {
        Ok(())
    }
}

/// Writes a new boxed object through `out` (checked non-NULL before).
pub unsafe fn write_out<T>(out: *mut *mut T, value: T) {
    unsafe { *out = Box::into_raw(Box::new(value)) };
}

/// Frees a boxed object; NULL is a no-op.
pub unsafe fn free_box<T>(p: *mut T) {
    if !p.is_null() {
        drop(unsafe { Box::from_raw(p) });
    }
}

/// A C string from text that cannot hold NUL (validated names, ids, grants…); a NUL
/// would be a bug, reported as an empty string rather than a crash.
pub fn c_string(s: &str) -> std::ffi::CString {
    std::ffi::CString::new(s).unwrap_or_default()
}

/// A borrowed pointer to an optional C string (NULL when absent).
pub fn opt_ptr(s: &Option<std::ffi::CString>) -> *const c_char {
    s.as_ref().map_or(std::ptr::null(), |c| c.as_ptr())
}

#[cfg(test)]
mod tests {
    use crate::error::{keyscope_last_error, keyscope_status};

    #[test]
    fn a_panic_becomes_internal_with_a_message() {
        let status = ffi_status!({
            if std::hint::black_box(true) {
                panic!("boom");
            }
            Ok(())
        });
        assert_eq!(status, keyscope_status::KEYSCOPE_INTERNAL);
        let msg = unsafe { std::ffi::CStr::from_ptr(keyscope_last_error()) };
        assert!(msg.to_str().unwrap().contains("panicked"));
        let v: i32 = ffi_value!(-1, {
            if std::hint::black_box(true) {
                panic!("boom");
            }
            1
        });
        assert_eq!(v, -1);
    }

    #[test]
    fn null_and_non_utf8_text_are_invalid_input() {
        let e = unsafe { super::arg_str(std::ptr::null(), "name") }.unwrap_err();
        assert_eq!(e.field(), Some("name"));
        let bad = c"bad\xff";
        assert!(unsafe { super::arg_str(bad.as_ptr(), "name") }.is_err());
        assert_eq!(
            unsafe { super::opt_str(std::ptr::null(), "x") }.unwrap(),
            None
        );
    }
}
