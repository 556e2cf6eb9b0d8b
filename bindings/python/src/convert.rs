//! Conversions between Python values and core types: aware datetimes, durations in
//! seconds or `timedelta`, and text that must be valid Unicode.

use keyscope_core::Timestamp;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBool, PyDateTime, PyDelta, PyFloat, PyInt, PyString, PyTzInfo};

use crate::errors::invalid;

struct Anchors {
    epoch: Py<PyDateTime>,
    one_ms: Py<PyDelta>,
}

fn anchors(py: Python<'_>) -> PyResult<&Anchors> {
    static ANCHORS: PyOnceLock<Anchors> = PyOnceLock::new();
    ANCHORS.get_or_try_init(py, || {
        let utc = PyTzInfo::utc(py)?;
        Ok::<_, PyErr>(Anchors {
            epoch: PyDateTime::new(py, 1970, 1, 1, 0, 0, 0, 0, Some(&utc))?.unbind(),
            one_ms: PyDelta::new(py, 0, 0, 1000, false)?.unbind(),
        })
    })
}

/// Text from a Python `str`; anything else, or a string with lone surrogates, is
/// `invalid_input` naming `field`.
pub fn text(py: Python<'_>, obj: &Bound<'_, PyAny>, field: &str) -> PyResult<String> {
    let s = obj
        .cast::<PyString>()
        .map_err(|_| invalid(py, field, format!("must be a str, not {}", type_name(obj))))?;
    s.to_str()
        .map(str::to_owned)
        .map_err(|_| invalid(py, field, "is not valid Unicode (it has a lone surrogate)"))
}

/// Optional text: `None` stays `None`.
pub fn opt_text(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
    field: &str,
) -> PyResult<Option<String>> {
    match obj {
        Some(o) if !o.is_none() => text(py, o, field).map(Some),
        _ => Ok(None),
    }
}

/// A list of strings from any iterable except a single `str`.
pub fn texts(py: Python<'_>, obj: &Bound<'_, PyAny>, field: &str) -> PyResult<Vec<String>> {
    if obj.is_instance_of::<PyString>() {
        return Err(invalid(
            py,
            field,
            "must be a list of str, not a single str",
        ));
    }
    let iter = obj.try_iter().map_err(|_| {
        invalid(
            py,
            field,
            format!("must be a list of str, not {}", type_name(obj)),
        )
    })?;
    let mut out = Vec::new();
    for (i, item) in iter.enumerate() {
        out.push(text(py, &item?, &format!("{field}[{i}]"))?);
    }
    Ok(out)
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// An instant from a timezone-aware `datetime`; a naive one is `invalid_input`.
pub fn instant(py: Python<'_>, obj: &Bound<'_, PyAny>, field: &str) -> PyResult<Timestamp> {
    if !obj.is_instance_of::<PyDateTime>() {
        return Err(invalid(
            py,
            field,
            format!("must be a datetime, not {}", type_name(obj)),
        ));
    }
    if obj.call_method0("utcoffset")?.is_none() {
        return Err(invalid(
            py,
            field,
            "is a naive datetime; pass a timezone-aware one (for example tzinfo=timezone.utc)",
        ));
    }
    let a = anchors(py)?;
    let ms: i64 = obj
        .sub(a.epoch.bind(py))?
        .floor_div(a.one_ms.bind(py))?
        .extract()?;
    Timestamp::from_millis(ms, field).map_err(|e| crate::errors::to_py(py, &e))
}

/// An optional instant: `None` stays `None`.
pub fn opt_instant(
    py: Python<'_>,
    obj: Option<&Bound<'_, PyAny>>,
    field: &str,
) -> PyResult<Option<Timestamp>> {
    match obj {
        Some(o) if !o.is_none() => instant(py, o, field).map(Some),
        _ => Ok(None),
    }
}

/// A UTC `datetime` for an instant.
pub fn to_datetime<'py>(py: Python<'py>, t: Timestamp) -> PyResult<Bound<'py, PyAny>> {
    let ms = t.as_millis();
    let days = ms.div_euclid(86_400_000);
    let rest = ms.rem_euclid(86_400_000);
    let delta = PyDelta::new(
        py,
        days as i32,
        (rest / 1000) as i32,
        ((rest % 1000) * 1000) as i32,
        true,
    )?;
    anchors(py)?.epoch.bind(py).add(delta)
}

/// An optional UTC `datetime`.
pub fn opt_datetime<'py>(
    py: Python<'py>,
    t: Option<Timestamp>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    t.map(|t| to_datetime(py, t)).transpose()
}

/// A duration in milliseconds from seconds (`int` or `float`) or a `timedelta`.
pub fn duration_ms(py: Python<'_>, obj: &Bound<'_, PyAny>, field: &str) -> PyResult<i64> {
    if obj.is_instance_of::<PyBool>() {
        return Err(invalid(
            py,
            field,
            "must be seconds or a timedelta, not a bool",
        ));
    }
    if obj.is_instance_of::<PyDelta>() {
        return obj.floor_div(anchors(py)?.one_ms.bind(py))?.extract();
    }
    if obj.is_instance_of::<PyInt>() {
        let secs: i64 = obj
            .extract()
            .map_err(|_| invalid(py, field, "is out of range"))?;
        return secs
            .checked_mul(1000)
            .ok_or_else(|| invalid(py, field, "is out of range"));
    }
    if obj.is_instance_of::<PyFloat>() {
        let secs: f64 = obj.extract()?;
        if !secs.is_finite() || secs.abs() > 1e15 {
            return Err(invalid(py, field, "must be a finite number of seconds"));
        }
        return Ok((secs * 1000.0).round() as i64);
    }
    Err(invalid(
        py,
        field,
        format!("must be seconds or a timedelta, not {}", type_name(obj)),
    ))
}

/// Whole seconds from seconds or a `timedelta` (fractions are refused).
pub fn whole_seconds(py: Python<'_>, obj: &Bound<'_, PyAny>, field: &str) -> PyResult<i64> {
    let ms = duration_ms(py, obj, field)?;
    if ms % 1000 != 0 {
        return Err(invalid(py, field, "must be a whole number of seconds"));
    }
    Ok(ms / 1000)
}
