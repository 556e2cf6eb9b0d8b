//! `keyscope_http_response`: the token endpoint's answer.

use std::ffi::{CString, c_char};
use std::ptr;

use crate::boundary::{c_string, free_box};

/// An HTTP answer: status, headers and a JSON body.
pub struct keyscope_http_response {
    status: u16,
    headers: Vec<(CString, CString)>,
    body: CString,
}

impl From<keyscope_core::http::HttpResponse> for keyscope_http_response {
    fn from(r: keyscope_core::http::HttpResponse) -> Self {
        keyscope_http_response {
            status: r.status,
            headers: r
                .headers
                .iter()
                .map(|(n, v)| (c_string(n), c_string(v)))
                .collect(),
            body: c_string(&r.body),
        }
    }
}

/// The status code (200, 400, 401, 429, 500).
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

/// The body (JSON text).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_response_body(
    r: *const keyscope_http_response,
) -> *const c_char {
    ffi_value!(ptr::null(), {
        unsafe { r.as_ref() }.map_or(ptr::null(), |r| r.body.as_ptr())
    })
}

/// Frees a response. Calling with NULL is fine. Must not be called twice.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_http_response_free(r: *mut keyscope_http_response) {
    ffi_free!({ unsafe { free_box(r) } })
}
