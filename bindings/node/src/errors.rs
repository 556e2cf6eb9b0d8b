//! Maps core errors to JavaScript `Error`s with `code = "KEYSCOPE_<CODE>"` and, where
//! the core has them, `field`, `status`, `wwwAuthenticate`, `retryAfter` and
//! `requiredScope` properties. Sync calls throw them and async calls reject with
//! them, from this one function (napi-rs cannot yet give async errors a custom code,
//! napi-rs issues #1632 and #2333: the error object is built here and handed to napi
//! as a retained value, which it rethrows verbatim).

use keyscope_core::{Error, ErrorKind};
use napi::bindgen_prelude::*;
use napi::sys;

/// The JavaScript `code` of each kind. No wildcard arm: a new kind fails to compile
/// until it has a code here.
pub fn code(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "KEYSCOPE_INVALID_INPUT",
        ErrorKind::NotFound => "KEYSCOPE_NOT_FOUND",
        ErrorKind::Conflict => "KEYSCOPE_CONFLICT",
        ErrorKind::InvalidCredentials => "KEYSCOPE_INVALID_CREDENTIALS",
        ErrorKind::KeyDisabled => "KEYSCOPE_KEY_DISABLED",
        ErrorKind::KeyExpired => "KEYSCOPE_KEY_EXPIRED",
        ErrorKind::NetworkDenied => "KEYSCOPE_NETWORK_DENIED",
        ErrorKind::InvalidScope => "KEYSCOPE_INVALID_SCOPE",
        ErrorKind::RateLimited => "KEYSCOPE_RATE_LIMITED",
        ErrorKind::InvalidToken => "KEYSCOPE_INVALID_TOKEN",
        ErrorKind::TokenExpired => "KEYSCOPE_TOKEN_EXPIRED",
        ErrorKind::TokenRevoked => "KEYSCOPE_TOKEN_REVOKED",
        ErrorKind::InsufficientScope => "KEYSCOPE_INSUFFICIENT_SCOPE",
        ErrorKind::Storage => "KEYSCOPE_STORAGE",
        ErrorKind::Internal => "KEYSCOPE_INTERNAL",
    }
}

fn js_string(env: sys::napi_env, s: &str) -> Result<sys::napi_value> {
    let mut out = std::ptr::null_mut();
    check_status!(unsafe {
        sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut out)
    })?;
    Ok(out)
}

/// A core field name in JavaScript spelling: `expires_at` → `expiresAt`,
/// `grants[2]` unchanged.
pub fn camel(field: &str) -> String {
    let mut out = String::with_capacity(field.len());
    let mut upper = false;
    for c in field.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// Builds the JavaScript error for a core error, as a `napi::Error` that napi throws
/// (or rejects with) unchanged.
pub fn to_js(env: &Env, err: &Error) -> napi::Error {
    let build = || -> Result<napi::Error> {
        let raw = env.raw();
        let field = err.field().map(camel);
        let message = match (err.field(), &field) {
            (Some(core), Some(js)) => match err.message().strip_prefix(core) {
                Some(rest) => format!("{js}{rest}"),
                None => err.message().to_owned(),
            },
            _ => err.message().to_owned(),
        };
        let mut value = std::ptr::null_mut();
        check_status!(unsafe {
            sys::napi_create_error(
                raw,
                js_string(raw, code(err.kind()))?,
                js_string(raw, &message)?,
                &mut value,
            )
        })?;
        let mut obj = Object::from_raw(raw, value);
        if let Some(field) = field {
            obj.set("field", field)?;
        }
        if let Some(status) = err.http_status() {
            obj.set("status", status as u32)?;
            obj.set("wwwAuthenticate", err.www_authenticate().map(str::to_owned))?;
        }
        if let Some(seconds) = err.retry_after() {
            obj.set("retryAfter", seconds as u32)?;
        }
        if let Some(scope) = err.required_scope() {
            obj.set("requiredScope", scope)?;
        }
        Ok(napi::Error::from(unsafe {
            Unknown::from_raw_unchecked(raw, value)
        }))
    };
    build().unwrap_or_else(|e| e)
}

/// Converts core results, throwing the matching JavaScript error.
pub trait OrThrow<T> {
    /// The value, or the JavaScript error for the core error.
    fn or_throw(self, env: &Env) -> Result<T>;
}

impl<T> OrThrow<T> for std::result::Result<T, Error> {
    fn or_throw(self, env: &Env) -> Result<T> {
        self.map_err(|e| to_js(env, &e))
    }
}

/// Every code the core defines, as JavaScript sees them (`KEYSCOPE_NOT_FOUND`, …).
#[napi_derive::napi]
#[cfg_attr(test, allow(dead_code))]
pub fn error_codes() -> Vec<&'static str> {
    ErrorKind::ALL.iter().map(|k| code(*k)).collect()
}

/// The error this binding throws for a core code (`"not_found"`), so tests can check
/// the mapping of every code.
#[napi_derive::napi]
#[cfg_attr(test, allow(dead_code))]
pub fn error_for_code(env: Env, core_code: String, message: String) -> Result<Unknown<'static>> {
    let kind = ErrorKind::ALL
        .into_iter()
        .find(|k| k.code() == core_code)
        .ok_or_else(|| {
            to_js(
                &env,
                &Error::invalid("code", format!("{core_code:?} is not an error code")),
            )
        })?;
    let err = to_js(&env, &Error::new(kind, message));
    let value = unsafe { ToNapiValue::to_napi_value(env.raw(), err)? };
    Ok(unsafe { Unknown::from_raw_unchecked(env.raw(), value) })
}
