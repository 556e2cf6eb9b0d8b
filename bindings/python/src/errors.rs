//! Maps core errors to the Python exception classes of `keyscope/errors.py`.

use keyscope_core::{Error, ErrorKind};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyModule};

/// The Python class name for each kind. No wildcard arm: a new kind fails to compile
/// until it has a class.
fn class_name(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::InvalidInput => "InvalidInput",
        ErrorKind::NotFound => "NotFound",
        ErrorKind::Conflict => "Conflict",
        ErrorKind::InvalidCredentials => "InvalidCredentials",
        ErrorKind::KeyDisabled => "KeyDisabled",
        ErrorKind::KeyExpired => "KeyExpired",
        ErrorKind::NetworkDenied => "NetworkDenied",
        ErrorKind::InvalidScope => "InvalidScope",
        ErrorKind::RateLimited => "RateLimited",
        ErrorKind::InvalidToken => "InvalidToken",
        ErrorKind::TokenExpired => "TokenExpired",
        ErrorKind::TokenRevoked => "TokenRevoked",
        ErrorKind::InsufficientScope => "InsufficientScope",
        ErrorKind::Storage => "StorageError",
        ErrorKind::Internal => "InternalError",
    }
}

fn errors_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    MODULE
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("keyscope.errors")?.unbind())
        })
        .map(|m| m.bind(py))
}

/// Builds the Python exception for a core error: `keyscope.<Class>(message, field=…)`.
pub fn to_py(py: Python<'_>, err: &Error) -> PyErr {
    let build = || -> PyResult<PyErr> {
        let class = errors_module(py)?.getattr(class_name(err.kind()))?;
        let kwargs = PyDict::new(py);
        kwargs.set_item("field", err.field())?;
        if let Some(status) = err.http_status() {
            kwargs.set_item("status", status)?;
            kwargs.set_item("www_authenticate", err.www_authenticate())?;
        }
        if let Some(seconds) = err.retry_after() {
            kwargs.set_item("retry_after", seconds)?;
        }
        if let Some(scope) = err.required_scope() {
            kwargs.set_item("required_scope", scope)?;
        }
        let exc = class.call((err.message(),), Some(&kwargs))?;
        Ok(PyErr::from_value(exc))
    };
    build().unwrap_or_else(|e| e)
}

/// Converts core results into Python results.
pub trait IntoPyResult<T> {
    /// Raises the matching `keyscope` exception on error.
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, Error> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, &e))
    }
}

/// An `invalid_input` exception about `field`.
pub fn invalid(py: Python<'_>, field: &str, why: impl std::fmt::Display) -> PyErr {
    to_py(py, &Error::invalid(field, why))
}

/// Every code the core defines, for the tests that check this mapping.
#[pyfunction]
pub fn error_codes() -> Vec<&'static str> {
    ErrorKind::ALL.iter().map(|k| k.code()).collect()
}

/// The exception this binding raises for `code` (tests check the mapping with it).
#[pyfunction]
pub fn _exception_for_code(py: Python<'_>, code: &str, message: &str) -> PyResult<Py<PyAny>> {
    let kind = ErrorKind::ALL
        .into_iter()
        .find(|k| k.code() == code)
        .ok_or_else(|| invalid(py, "code", format!("{code:?} is not an error code")))?;
    Ok(to_py(py, &Error::new(kind, message))
        .into_value(py)
        .into_any())
}
