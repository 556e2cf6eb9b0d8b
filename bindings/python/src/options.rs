//! `KeyStore.open(path, **options)`: keyword options to core `Options`.

use keyscope_core::{Alg, Argon2Params, Catalog, Options};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use zeroize::Zeroizing;

use crate::convert::{duration_ms, text, texts, whole_seconds};
use crate::errors::{IntoPyResult, invalid};

fn int(py: Python<'_>, v: &Bound<'_, PyAny>, field: &str) -> PyResult<u32> {
    v.extract::<u32>()
        .map_err(|_| invalid(py, field, "must be an int from 0 to 4294967295"))
}

fn boolean(py: Python<'_>, v: &Bound<'_, PyAny>, field: &str) -> PyResult<bool> {
    v.extract::<bool>()
        .map_err(|_| invalid(py, field, "must be True or False"))
}

/// Reads the keyword options of `KeyStore.open`; an unknown one is `invalid_input`.
pub fn parse(py: Python<'_>, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Options> {
    let mut o = Options::default();
    let Some(kwargs) = kwargs else {
        return Ok(o);
    };
    for (k, v) in kwargs.iter() {
        let key: String = k.extract()?;
        let f = key.as_str();
        match f {
            "signing_keys" => {
                let mut keys = Vec::new();
                for (i, item) in v.try_iter()?.enumerate() {
                    let field = format!("signing_keys[{i}]");
                    let (kid, secret): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?
                        .extract()
                        .map_err(|_| invalid(py, &field, "must be a (kid, secret bytes) pair"))?;
                    let secret = secret
                        .cast::<PyBytes>()
                        .map_err(|_| invalid(py, &format!("{field}.secret"), "must be bytes"))?;
                    keys.push((
                        text(py, &kid, &format!("{field}.kid"))?,
                        secret.as_bytes().to_vec(),
                    ));
                }
                o.signing_keys = keys;
            }
            "token_alg" => {
                o.token_alg = if v.is_none() {
                    None
                } else {
                    Some(Alg::parse(&text(py, &v, f)?, f).py_err(py)?)
                }
            }
            "key_encryption_key" => {
                o.key_encryption_key = if v.is_none() {
                    None
                } else {
                    let bytes = v
                        .cast::<PyBytes>()
                        .map_err(|_| invalid(py, f, "must be 32 bytes (a bytes object)"))?;
                    Some(Zeroizing::new(bytes.as_bytes().to_vec()))
                }
            }
            "catalog" => {
                o.catalog = if v.is_none() {
                    None
                } else if v.is_instance_of::<pyo3::types::PyString>() {
                    Some(Catalog::named(&text(py, &v, f)?).py_err(py)?)
                } else if v.is_instance_of::<PyDict>() {
                    let json: String =
                        py.import("json")?.call_method1("dumps", (&v,))?.extract()?;
                    Some(Catalog::from_json(&json).py_err(py)?)
                } else {
                    return Err(invalid(
                        py,
                        f,
                        "must be \"secure_access\" or a dict {\"scopes\": {...}}",
                    ));
                }
            }
            "token_ttl" => o.token_ttl = whole_seconds(py, &v, f)?,
            "issuer" => o.issuer = text(py, &v, f)?,
            "audience" => {
                o.audience = if v.is_none() {
                    None
                } else {
                    Some(text(py, &v, f)?)
                }
            }
            "leeway" => o.leeway = whole_seconds(py, &v, f)?,
            "allow_private_networks" => o.allow_private_networks = boolean(py, &v, f)?,
            "argon2" => {
                let d = v.cast::<PyDict>().map_err(|_| {
                    invalid(
                        py,
                        f,
                        "must be a dict with memory_kib, iterations, parallelism",
                    )
                })?;
                let mut p = Argon2Params::default();
                for (k, v) in d.iter() {
                    let key: String = k.extract()?;
                    let field = format!("argon2.{key}");
                    match key.as_str() {
                        "memory_kib" => p.memory_kib = int(py, &v, &field)?,
                        "iterations" => p.iterations = int(py, &v, &field)?,
                        "parallelism" => p.parallelism = int(py, &v, &field)?,
                        _ => return Err(invalid(py, &field, "is not an Argon2 parameter")),
                    }
                }
                o.argon2 = p;
            }
            "secret_prefix" => o.secret_prefix = text(py, &v, f)?,
            "max_failed_exchanges_per_minute" => {
                o.max_failed_exchanges_per_minute = int(py, &v, f)?
            }
            "revocation_staleness" => {
                o.revocation_staleness = duration_ms(py, &v, f)? as f64 / 1000.0
            }
            "trusted_proxies" => o.trusted_proxies = texts(py, &v, f)?,
            "busy_timeout" => {
                let ms = duration_ms(py, &v, f)?;
                o.store.busy_timeout_ms =
                    u64::try_from(ms).map_err(|_| invalid(py, f, "must not be negative"))?;
            }
            "offline_grace" => o.offline_grace = duration_ms(py, &v, f)? as f64 / 1000.0,
            "schema" => o.store.schema = Some(text(py, &v, f)?),
            "pool_size" => o.store.pool_size = Some(int(py, &v, f)?),
            "listen" => o.store.listen = Some(boolean(py, &v, f)?),
            _ => return Err(invalid(py, f, "is not a KeyStore option")),
        }
    }
    o.validate().py_err(py)?;
    Ok(o)
}
