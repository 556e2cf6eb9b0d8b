//! `SigningKey`: what `KeyStore.signing_keys()` shows of a token signing key (never
//! its private half).

use keyscope_core as core;
use pyo3::prelude::*;

use crate::convert::{opt_datetime, to_datetime};
use crate::key::pyrepr;

/// A token signing key of the store: its id, algorithm and state, and its public JWK.
/// It never holds the private key.
#[pyclass(frozen, eq, module = "keyscope")]
#[derive(PartialEq)]
pub struct SigningKey(pub core::SigningKeyInfo);

#[pymethods]
impl SigningKey {
    /// The key id: the `kid` of the tokens it signs and of its JWK.
    #[getter]
    fn kid(&self) -> &str {
        &self.0.kid
    }
    /// The JWS algorithm: `"ES256"`, `"EdDSA"`, `"RS256"` or `"HS256"`.
    #[getter]
    fn alg(&self) -> &str {
        &self.0.alg
    }
    /// `"next"` (published, not yet signing), `"current"` (signs new tokens) or
    /// `"retired"` (verifies until the tokens it signed have expired).
    #[getter]
    fn state(&self) -> &str {
        &self.0.state
    }
    /// When the key was made (UTC).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.0.created_at)
    }
    /// When the key stopped signing (UTC), or None while it is `next` or `current`.
    #[getter]
    fn retired_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_datetime(py, self.0.retired_at)
    }
    /// The public key as a JWK (RFC 7517) dict, as the JWK Set publishes it; None for
    /// HS256 keys, which are secrets and never published. A new dict on every access.
    #[getter]
    fn public_jwk<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        match &self.0.public_jwk {
            None => Ok(None),
            Some(text) => Ok(Some(py.import("json")?.call_method1("loads", (text,))?)),
        }
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let k = &self.0;
        Ok(format!(
            "SigningKey(kid={}, alg={}, state={}, created_at={}, retired_at={})",
            pyrepr(py, &k.kid)?,
            pyrepr(py, &k.alg)?,
            pyrepr(py, &k.state)?,
            pyrepr(py, k.created_at.to_string())?,
            pyrepr(py, k.retired_at.map(|t| t.to_string()))?,
        ))
    }
}
