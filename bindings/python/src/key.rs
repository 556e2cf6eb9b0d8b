//! Result objects: `ApiKey`, `Page`, `Summary`, `AuditRecord`. Each has a readable
//! `repr` and never holds a secret.

use keyscope_core as core;
use pyo3::IntoPyObjectExt;
use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::convert::{opt_datetime, to_datetime};

/// Python's own `repr` of a value, so reprs read like Python.
pub fn pyrepr<'py, T: IntoPyObject<'py>>(py: Python<'py>, v: T) -> PyResult<String> {
    let obj = v.into_bound_py_any(py)?;
    Ok(obj.repr()?.to_string())
}

/// An API key. The secret is never part of it.
#[pyclass(frozen, eq, module = "keyscope")]
#[derive(PartialEq)]
pub struct ApiKey(pub core::ApiKey);

#[pymethods]
impl ApiKey {
    /// 32 lowercase hex characters; the OAuth `client_id`. Not a secret.
    #[getter]
    fn id(&self) -> &str {
        &self.0.id
    }
    /// The organization the key belongs to.
    #[getter]
    fn org(&self) -> &str {
        &self.0.org
    }
    /// The key's name, unique within its organization.
    #[getter]
    fn name(&self) -> &str {
        &self.0.name
    }
    /// Free text, or None.
    #[getter]
    fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// When the key stops working (UTC), or None for never.
    #[getter]
    fn expires_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_datetime(py, self.0.expires_at)
    }
    /// Grants such as `"reports:read"` or `"deployments.networks:write"`.
    #[getter]
    fn grants(&self) -> Vec<String> {
        self.0.grants.iter().map(ToString::to_string).collect()
    }
    /// Networks in canonical form; empty means any address.
    #[getter]
    fn networks(&self) -> Vec<String> {
        self.0.networks.iter().map(ToString::to_string).collect()
    }
    /// False once disabled.
    #[getter]
    fn enabled(&self) -> bool {
        self.0.enabled
    }
    /// `"active"`, `"expired"` or `"disabled"`, at the time of the call that returned it.
    #[getter]
    fn status(&self) -> &'static str {
        self.0.status.as_str()
    }
    /// 1 at creation, +1 on every update and refresh.
    #[getter]
    fn version(&self) -> i64 {
        self.0.version
    }
    /// When the key was created (UTC).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.0.created_at)
    }
    /// When the key was last created, updated or refreshed (UTC).
    #[getter]
    fn updated_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.0.updated_at)
    }
    /// When the secret was last refreshed (UTC), or None if never.
    #[getter]
    fn last_refreshed_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_datetime(py, self.0.last_refreshed_at)
    }
    /// When the key was last exchanged for a token (UTC, to the minute), or None.
    #[getter]
    fn last_used_at<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        opt_datetime(py, self.0.last_used_at)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let k = &self.0;
        Ok(format!(
            "ApiKey(id={}, org={}, name={}, status={}, version={}, expires_at={}, grants={}, networks={})",
            pyrepr(py, &k.id)?,
            pyrepr(py, &k.org)?,
            pyrepr(py, &k.name)?,
            pyrepr(py, k.status.as_str())?,
            k.version,
            pyrepr(py, k.expires_at.map(|t| t.to_string()))?,
            pyrepr(py, self.grants())?,
            pyrepr(py, self.networks())?,
        ))
    }
}

/// One page of a listing: `items`, and `next_cursor` (None on the last page).
#[pyclass(frozen, module = "keyscope")]
pub struct Page {
    items: Py<PyList>,
    next_cursor: Option<String>,
}

impl Page {
    /// A page of Python objects.
    pub fn new(items: Bound<'_, PyList>, next_cursor: Option<String>) -> Self {
        Page {
            items: items.unbind(),
            next_cursor,
        }
    }
}

#[pymethods]
impl Page {
    /// The items of this page, in order.
    #[getter]
    fn items(&self, py: Python<'_>) -> Py<PyList> {
        self.items.clone_ref(py)
    }
    /// Pass as `cursor=` for the next page; None on the last page.
    #[getter]
    fn next_cursor(&self) -> Option<&str> {
        self.next_cursor.as_deref()
    }
    fn __len__(&self, py: Python<'_>) -> usize {
        self.items.bind(py).len()
    }
    fn __iter__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        Ok(self.items.bind(py).try_iter()?.into_any())
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Page(items=<{} items>, next_cursor={})",
            self.items.bind(py).len(),
            pyrepr(py, &self.next_cursor)?
        ))
    }
}

/// The counts behind the key list's red (expired) and yellow (expiring) triangles.
#[pyclass(frozen, eq, get_all, module = "keyscope")]
#[derive(PartialEq)]
pub struct Summary {
    /// Every key.
    pub total: u64,
    /// Enabled and not expired.
    pub active: u64,
    /// Enabled and expired.
    pub expired: u64,
    /// Active and expiring within the horizon.
    pub expiring_soon: u64,
    /// No expiry date, whatever the status.
    pub never_expires: u64,
    /// Not enabled.
    pub disabled: u64,
}

impl From<core::Summary> for Summary {
    fn from(s: core::Summary) -> Self {
        Summary {
            total: s.total,
            active: s.active,
            expired: s.expired,
            expiring_soon: s.expiring_soon,
            never_expires: s.never_expires,
            disabled: s.disabled,
        }
    }
}

#[pymethods]
impl Summary {
    fn __repr__(&self) -> String {
        format!(
            "Summary(total={}, active={}, expired={}, expiring_soon={}, never_expires={}, disabled={})",
            self.total,
            self.active,
            self.expired,
            self.expiring_soon,
            self.never_expires,
            self.disabled
        )
    }
}

/// One audit record: who did what to which key, and which fields changed.
#[pyclass(frozen, eq, module = "keyscope")]
#[derive(PartialEq)]
pub struct AuditRecord(pub core::AuditRecord);

#[pymethods]
impl AuditRecord {
    /// When it happened (UTC).
    #[getter]
    fn at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_datetime(py, self.0.at)
    }
    /// Who did it, if the caller said.
    #[getter]
    fn actor(&self) -> Option<&str> {
        self.0.actor.as_deref()
    }
    /// `"create"`, `"update"`, `"refresh"` or `"delete"` of an API key;
    /// `"signing_key_rotated"` or `"signing_key_retired"` of the store's signing keys
    /// (`key_id` is then the signing key's kid).
    #[getter]
    fn action(&self) -> &'static str {
        self.0.action.as_str()
    }
    /// The key acted on.
    #[getter]
    fn key_id(&self) -> &str {
        &self.0.key_id
    }
    /// The key's name at the time.
    #[getter]
    fn key_name(&self) -> &str {
        &self.0.key_name
    }
    /// The names of the fields that changed.
    #[getter]
    fn changes(&self) -> Vec<String> {
        self.0.changes.clone()
    }
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = &self.0;
        Ok(format!(
            "AuditRecord(at={}, actor={}, action={}, key_id={}, key_name={}, changes={})",
            pyrepr(py, r.at.to_string())?,
            pyrepr(py, &r.actor)?,
            pyrepr(py, r.action.as_str())?,
            pyrepr(py, &r.key_id)?,
            pyrepr(py, &r.key_name)?,
            pyrepr(py, &r.changes)?,
        ))
    }
}
