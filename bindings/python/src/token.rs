//! Token results: `Token` (an exchange's answer) and `Principal` (who made an
//! authorized request).

use keyscope_core as core;
use pyo3::prelude::*;

use crate::convert::to_datetime;

/// An access token from `issue_token`. Its `repr` shows only the token's start.
#[pyclass(frozen, module = "keyscope")]
pub struct Token(pub core::AccessToken);

#[pymethods]
impl Token {
    /// The compact JWS to send as `Authorization: Bearer <token>`.
    #[getter]
    fn access_token(&self) -> &str {
        &self.0.access_token
    }
    /// Always `"Bearer"`.
    #[getter]
    fn token_type(&self) -> &'static str {
        self.0.token_type
    }
    /// Seconds until expiry.
    #[getter]
    fn expires_in(&self) -> i64 {
        self.0.expires_in
    }
    /// When the token expires (UTC, whole seconds).
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.0.expires_at)
    }
    /// The granted scope, space-separated (the OAuth wire form).
    #[getter]
    fn scope(&self) -> &str {
        &self.0.scope
    }
    fn __repr__(&self) -> String {
        format!(
            "Token(token_type='Bearer', expires_in={}, scope={:?}, access_token='{}…')",
            self.0.expires_in,
            self.0.scope,
            &self.0.access_token[..self.0.access_token.len().min(12)]
        )
    }
}

/// Who made an authorized request.
#[pyclass(frozen, module = "keyscope")]
pub struct Principal(pub core::Principal);

#[pymethods]
impl Principal {
    /// The key id (the token's subject).
    #[getter]
    fn key_id(&self) -> &str {
        self.0.key_id()
    }
    /// The key's current name.
    #[getter]
    fn key_name(&self) -> &str {
        self.0.key_name()
    }
    /// The key's organization: check it in multi-tenant routers.
    #[getter]
    fn org(&self) -> &str {
        self.0.org()
    }
    /// The token's grants, as a list.
    #[getter]
    fn scope(&self) -> Vec<&str> {
        self.0.scope().collect()
    }
    /// The token id (`jti`).
    #[getter]
    fn token_id(&self) -> &str {
        self.0.token_id()
    }
    /// When the token expires (UTC).
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.0.expires_at())
    }
    fn __repr__(&self) -> String {
        let p = &self.0;
        format!(
            "Principal(key_id={:?}, key_name={:?}, org={:?}, scope={:?}, token_id={:?}, expires_at='{}')",
            p.key_id(),
            p.key_name(),
            p.org(),
            p.scope().collect::<Vec<_>>(),
            p.token_id(),
            p.expires_at()
        )
    }
}
