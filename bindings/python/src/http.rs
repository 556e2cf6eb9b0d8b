//! The parts of a `KeyStore.handle_http` request, from Python values: header names and
//! values given as `str` or `bytes` (what WSGI and ASGI servers hand over), and a body
//! given as any bytes-like object.
//!
//! Immutable Python objects (`str`, `bytes`) are read in place, without a copy. What
//! must be copied (a mutable buffer, a header that is not ASCII) is copied once into
//! memory that is wiped when the request is done.

use pyo3::buffer::PyBuffer;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyMapping, PyString};
use zeroize::Zeroizing;

use crate::errors::invalid;

/// Text read in place from a Python object, or a wiped-on-drop copy.
pub enum Text<'a> {
    /// A `str`, or `bytes` that are all ASCII, read where Python keeps them.
    Borrowed(&'a str),
    /// `bytes` with a byte above 0x7F, decoded as ISO-8859-1.
    Owned(Zeroizing<String>),
}

impl Text<'_> {
    /// The text.
    pub fn as_str(&self) -> &str {
        match self {
            Text::Borrowed(s) => s,
            Text::Owned(s) => s.as_str(),
        }
    }
}

/// Text of a `str` in place; a string with a lone surrogate is `invalid_input`.
pub fn borrowed_str<'a>(
    py: Python<'_>,
    obj: &'a Bound<'_, PyAny>,
    field: &str,
) -> PyResult<&'a str> {
    let s = obj
        .cast::<PyString>()
        .map_err(|_| invalid(py, field, "must be a str"))?;
    s.to_str()
        .map_err(|_| invalid(py, field, "is not valid Unicode (it has a lone surrogate)"))
}

/// A header name or value: a `str` as it is, or `bytes` decoded as ISO-8859-1 the way
/// WSGI and ASGI servers decode them, so that `request.headers.raw` (bytes) of an
/// ASGI framework and the `str` headers of a WSGI one give the same text.
fn header_text<'a>(py: Python<'_>, obj: &'a Bound<'_, PyAny>, field: &str) -> PyResult<Text<'a>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        let bytes = b.as_bytes();
        if bytes.is_ascii() {
            // ASCII is UTF-8 and ISO-8859-1 alike.
            let text = std::str::from_utf8(bytes).map_err(|_| invalid(py, field, "is not text"))?;
            return Ok(Text::Borrowed(text));
        }
        // Every ISO-8859-1 byte is one char of at most two UTF-8 bytes: the capacity
        // is enough, so the string never moves (leaving an unwiped copy behind).
        let mut s = Zeroizing::new(String::with_capacity(bytes.len() * 2));
        s.extend(bytes.iter().map(|&b| char::from(b)));
        return Ok(Text::Owned(s));
    }
    if obj.is_instance_of::<PyString>() {
        return borrowed_str(py, obj, field).map(Text::Borrowed);
    }
    Err(invalid(py, field, "must be a str or bytes"))
}

/// The `(name, value)` objects of `headers`: an iterable of pairs, or a mapping.
pub fn header_objects<'py>(
    py: Python<'py>,
    headers: &Bound<'py, PyAny>,
) -> PyResult<Vec<(Bound<'py, PyAny>, Bound<'py, PyAny>)>> {
    let items = match headers.cast::<PyMapping>() {
        Ok(m) => m.items()?.into_any(),
        Err(_) if headers.is_instance_of::<PyString>() || headers.is_instance_of::<PyBytes>() => {
            return Err(invalid(
                py,
                "headers",
                "must be a list of (name, value) pairs",
            ));
        }
        Err(_) => headers.clone(),
    };
    let iter = items
        .try_iter()
        .map_err(|_| invalid(py, "headers", "must be a list of (name, value) pairs"))?;
    let mut out = Vec::new();
    for (i, item) in iter.enumerate() {
        let pair = item?
            .extract::<(Bound<'py, PyAny>, Bound<'py, PyAny>)>()
            .map_err(|_| invalid(py, &format!("headers[{i}]"), "must be a (name, value) pair"))?;
        out.push(pair);
    }
    Ok(out)
}

/// The text of each header pair.
pub fn header_texts<'a>(
    py: Python<'_>,
    objects: &'a [(Bound<'_, PyAny>, Bound<'_, PyAny>)],
) -> PyResult<Vec<(Text<'a>, Text<'a>)>> {
    objects
        .iter()
        .enumerate()
        .map(|(i, (n, v))| {
            Ok((
                header_text(py, n, &format!("headers[{i}].name"))?,
                header_text(py, v, &format!("headers[{i}].value"))?,
            ))
        })
        .collect()
}

/// A request body: `bytes` read in place, or a copy of any other bytes-like object
/// (a `bytearray` or `memoryview` may change while the store reads it), wiped when
/// dropped. `None` is an empty body.
pub enum Body<'a> {
    /// An immutable `bytes` object.
    Borrowed(&'a [u8]),
    /// A copy of a mutable buffer.
    Owned(Zeroizing<Vec<u8>>),
}

impl Body<'_> {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Body::Borrowed(b) => b,
            Body::Owned(b) => b.as_slice(),
        }
    }
}

/// The body of `handle_http`.
pub fn body<'a>(py: Python<'_>, obj: &'a Bound<'_, PyAny>) -> PyResult<Body<'a>> {
    if obj.is_none() {
        return Ok(Body::Borrowed(&[]));
    }
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Body::Borrowed(b.as_bytes()));
    }
    if obj.is_instance_of::<PyString>() {
        return Err(invalid(py, "body", "must be bytes, not str"));
    }
    let buffer = PyBuffer::<u8>::get(obj).map_err(|_| {
        invalid(
            py,
            "body",
            "must be bytes, a bytearray or a memoryview of bytes",
        )
    })?;
    // to_vec allocates the exact length once: no unwiped copy is left behind.
    Ok(Body::Owned(Zeroizing::new(buffer.to_vec(py)?)))
}
