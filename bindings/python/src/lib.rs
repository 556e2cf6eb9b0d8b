//! The Python binding of keyscope: `keyscope._keyscope`, re-exported by the
//! `keyscope` package. It converts types and errors and does nothing else; every rule
//! lives in `keyscope-core`.

mod convert;
mod errors;
mod http;
mod key;
mod options;
mod signing;
mod store;
mod token;

use pyo3::prelude::*;

/// Parses comma-separated networks (`"64.100.10.7, 2001:4860::/32"`) into canonical
/// form; a bad entry is reported by its position.
#[pyfunction]
#[pyo3(signature = (text, *, allow_private_networks=false))]
fn parse_networks(
    py: Python<'_>,
    text: &Bound<'_, PyAny>,
    allow_private_networks: bool,
) -> PyResult<Vec<String>> {
    use errors::IntoPyResult;
    let text = convert::text(py, text, "networks")?;
    let nets =
        keyscope_core::network::parse_network_list(&text, allow_private_networks).py_err(py)?;
    Ok(nets.iter().map(ToString::to_string).collect())
}

/// True when `secret` has keyscope's form for `prefix` and its checksum matches: a
/// mistyped or invented secret is rejected without touching a store.
#[pyfunction]
#[pyo3(signature = (secret, prefix="kss"))]
fn secret_is_well_formed(secret: &str, prefix: &str) -> bool {
    keyscope_core::secret::is_well_formed(secret, prefix)
}

/// Copies the store at `source` into the empty store at `dest` (SQLite paths or
/// PostgreSQL URLs) from one snapshot, verifies the copy, and returns what it copied:
/// `{"keys", "audit_records", "signing_keys"}`.
#[pyfunction]
#[pyo3(signature = (source, dest, *, source_schema=None, dest_schema=None))]
fn migrate(
    py: Python<'_>,
    source: &str,
    dest: &str,
    source_schema: Option<String>,
    dest_schema: Option<String>,
) -> PyResult<std::collections::BTreeMap<&'static str, usize>> {
    use errors::IntoPyResult;
    let opts = |schema: Option<String>| keyscope_core::store::StoreOptions {
        schema,
        ..Default::default()
    };
    let (so, dopts) = (opts(source_schema), opts(dest_schema));
    let r = py
        .detach(|| keyscope_core::migrate::migrate(source, &so, dest, &dopts))
        .py_err(py)?;
    Ok([
        ("keys", r.keys),
        ("audit_records", r.audit_records),
        ("signing_keys", r.signing_keys),
    ]
    .into_iter()
    .collect())
}

#[pymodule]
fn _keyscope(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<store::KeyStore>()?;
    m.add_class::<key::ApiKey>()?;
    m.add_class::<key::Page>()?;
    m.add_class::<key::Summary>()?;
    m.add_class::<key::AuditRecord>()?;
    m.add_class::<token::Token>()?;
    m.add_class::<token::Principal>()?;
    m.add_class::<signing::SigningKey>()?;
    m.add_function(wrap_pyfunction!(parse_networks, m)?)?;
    m.add_function(wrap_pyfunction!(secret_is_well_formed, m)?)?;
    m.add_function(wrap_pyfunction!(migrate, m)?)?;
    m.add_function(wrap_pyfunction!(errors::error_codes, m)?)?;
    m.add_function(wrap_pyfunction!(errors::_exception_for_code, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_BODY_BYTES", keyscope_core::endpoints::MAX_BODY_BYTES)?;
    Ok(())
}
