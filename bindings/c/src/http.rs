//! `keyscope_http_request` (the builder of `keyscope_store_handle_http`'s request) and
//! `keyscope_http_response` (the answer of every HTTP call).

use std::ffi::{CString, c_char};
use std::ptr;

use keyscope_core::{Error, Result, Timestamp};
use zeroize::Zeroizing;

use crate::boundary::{
    c_string, check_out, copy_bytes, copy_opt_str, copy_str, free_box, write_out,
};
use crate::error::keyscope_status;
use crate::key::KEYSCOPE_NO_TIME;

/// An HTTP request for `keyscope_store_handle_http`: method and path (required),
/// headers, body, the peer's address and the instant. Every piece is copied when set
/// and wiped when the request is freed (headers and body may carry credentials).
#[derive(Default)]
pub struct keyscope_http_request {
    pub(crate) method: Option<Zeroizing<String>>,
    pub(crate) path: Option<Zeroizing<String>>,
    pub(crate) headers: Vec<(Zeroizing<String>, Zeroizing<String>)>,
    pub(crate) body: Zeroizing<Vec<u8>>,
    pub(crate) client_ip: Option<Zeroizing<String>>,
    pub(crate) now: Option<Timestamp>,
}

fn with(
    request: *mut keyscope_http_request,
    f: impl FnOnce(&mut keyscope_http_request) -> Result<()>,
) -> Result<()> {
    let r =
        unsafe { request.as_mut() }.ok_or_else(|| Error::invalid("request", "must not be NULL"))?;
    f(r)
}

/// Creates an empty request (no method, no path, no headers, an empty body, no
/// client address, the clock). Free it with `keyscope_http_request_free`; it may be
/// passed to `keyscope_store_handle_http` any number of times.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_request_new(
    out: *mut *mut keyscope_http_request,
) -> keyscope_status {
    ffi_status!({
        check_out(out)?;
        unsafe { write_out(out, keyscope_http_request::default()) };
        Ok(())
    })
}

/// Frees a request and wipes it. Calling with NULL is fine. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_request_free(request: *mut keyscope_http_request) {
    ffi_free!({ unsafe { free_box(request) } })
}

/// Sets the method (`"GET"`, `"POST"`, …; case-sensitive, as HTTP says). Required.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_request_set_method(
    request: *mut keyscope_http_request,
    method: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let method = unsafe { copy_str(method, "method") }?;
        with(request, |r| {
            r.method = Some(method);
            Ok(())
        })
    })
}

/// Sets the path, possibly with a query string (`"/auth/v2/token"`). Required.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_request_set_path(
    request: *mut keyscope_http_request,
    path: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let path = unsafe { copy_str(path, "path") }?;
        with(request, |r| {
            r.path = Some(path);
            Ok(())
        })
    })
}

/// Adds a header (any case; a name may be added more than once, and the order is
/// kept).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_request_add_header(
    request: *mut keyscope_http_request,
    name: *const c_char,
    value: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let name = unsafe { copy_str(name, "header name") }?;
        let value = unsafe { copy_str(value, "header value") }?;
        with(request, |r| {
            r.headers.push((name, value));
            Ok(())
        })
    })
}

/// Sets the body to a copy of `len` bytes at `body` (`body` may be NULL when `len`
/// is 0: an empty body), replacing the previous one.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_request_set_body(
    request: *mut keyscope_http_request,
    body: *const u8,
    len: usize,
) -> keyscope_status {
    ffi_status!({
        let body = unsafe { copy_bytes(body, len, "body") }?;
        with(request, |r| {
            r.body = body;
            Ok(())
        })
    })
}

/// Sets the connection's peer address (optional: NULL clears it). `X-Forwarded-For`
/// is believed only when this address is one of the `trusted_proxies`.
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_request_set_client_ip(
    request: *mut keyscope_http_request,
    client_ip: *const c_char,
) -> keyscope_status {
    ffi_status!({
        let ip = unsafe { copy_opt_str(client_ip, "client_ip") }?;
        with(request, |r| {
            r.client_ip = ip;
            Ok(())
        })
    })
}

/// Sets the instant (Unix seconds) that drives every rule of the request;
/// `KEYSCOPE_NO_TIME` means the clock (the default).
#[must_use]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_request_set_now(
    request: *mut keyscope_http_request,
    now: i64,
) -> keyscope_status {
    ffi_status!({
        let now = if now == KEYSCOPE_NO_TIME {
            None
        } else {
            Some(Timestamp::from_unix_seconds(now, "now")?)
        };
        with(request, |r| {
            r.now = now;
            Ok(())
        })
    })
}

/// An HTTP answer: status, headers and a JSON body. The body is wiped when the
/// response is freed (it may hold an access token).
pub struct keyscope_http_response {
    status: u16,
    headers: Vec<(CString, CString)>,
    /// The body, then a NUL.
    body: Zeroizing<Vec<u8>>,
}

impl From<keyscope_core::http::HttpResponse> for keyscope_http_response {
    fn from(r: keyscope_core::http::HttpResponse) -> Self {
        let keyscope_core::http::HttpResponse {
            status,
            headers,
            body,
        } = r;
        // One copy, into a buffer with room for the NUL; the core's string is wiped.
        let body = Zeroizing::new(body.into_bytes());
        let mut with_nul = Zeroizing::new(Vec::with_capacity(body.len() + 1));
        with_nul.extend_from_slice(&body);
        with_nul.push(0);
        keyscope_http_response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| (c_string(n), c_string(v)))
                .collect(),
            body: with_nul,
        }
    }
}

/// The status code (200, 400, 401, 404, 405, 413, 429, 500, 503…). 0 if `r` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_response_status(r: *const keyscope_http_response) -> u16 {
    ffi_value!(0, { unsafe { r.as_ref() }.map_or(0, |r| r.status) })
}

/// The number of headers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_response_header_count(
    r: *const keyscope_http_response,
) -> usize {
    ffi_value!(0, { unsafe { r.as_ref() }.map_or(0, |r| r.headers.len()) })
}

/// The name of header `index`, or NULL when out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_response_header_name(
    r: *const keyscope_http_response,
    index: usize,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { r.as_ref() }
            .and_then(|r| r.headers.get(index))
            .map_or(ptr::null(), |h| h.0.as_ptr())
    })
}

/// The value of header `index`, or NULL when out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_response_header_value(
    r: *const keyscope_http_response,
    index: usize,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { r.as_ref() }
            .and_then(|r| r.headers.get(index))
            .map_or(ptr::null(), |h| h.1.as_ptr())
    })
}

/// The body: `keyscope_http_response_body_len` bytes (JSON text), followed by a NUL
/// so that it can also be read as a C string. NULL if `r` is NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_response_body(
    r: *const keyscope_http_response,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { r.as_ref() }.map_or(ptr::null(), |r| r.body.as_ptr().cast())
    })
}

/// The length of the body in bytes, without the NUL that follows it. 0 if `r` is
/// NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_response_body_len(
    r: *const keyscope_http_response,
) -> usize {
    ffi_value!(0, {
        unsafe { r.as_ref() }.map_or(0, |r| r.body.len().saturating_sub(1))
    })
}

/// Frees a response and wipes its body. Calling with NULL is fine. Must not be called
/// twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_response_free(r: *mut keyscope_http_response) {
    ffi_free!({ unsafe { free_box(r) } })
}
