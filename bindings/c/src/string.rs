//! Strings the caller owns (`keyscope_store_jwks`, `keyscope_store_metadata`), freed
//! by `keyscope_string_free`.

use std::ffi::{CString, c_char};

use keyscope_core::{Error, Result};
use zeroize::Zeroize;

/// Writes `text` through `out` (checked non-NULL before) as a string the caller frees
/// with `keyscope_string_free`. Text with a NUL inside is refused as `internal`: it
/// would be cut short.
pub(crate) unsafe fn write_string(out: *mut *mut c_char, text: String) -> Result<()> {
    let c = CString::new(text).map_err(|e| {
        e.into_vec().zeroize();
        Error::internal("a returned text holds a NUL")
    })?;
    unsafe { *out = c.into_raw() };
    Ok(())
}

/// Frees a string returned through `char **out` by keyscope (the JWK Set, the
/// metadata), wiping it first. Calling with NULL is fine. Must not be called twice,
/// nor on a string borrowed from an object.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn keyscope_string_free(s: *mut c_char) {
    ffi_free!({
        if !s.is_null() {
            // SAFETY: `s` came from `CString::into_raw` in `write_string`.
            let mut bytes = unsafe { CString::from_raw(s) }.into_bytes();
            bytes.zeroize();
        }
    })
}
