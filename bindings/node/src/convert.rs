//! Conversions between JavaScript values and core types: `Date`s, nullable fields,
//! strict text (lone surrogates are `invalid_input`), and option-object fields.

use keyscope_core::{Error, Result as CoreResult, Timestamp};
use napi::bindgen_prelude::*;
use napi::{JsString, JsValue, ValueType, sys};

/// An instant crossing the boundary as a JavaScript `Date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsDate(pub Timestamp);

impl TypeName for JsDate {
    fn type_name() -> &'static str {
        "Date"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for JsDate {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let mut out = std::ptr::null_mut();
        check_status!(unsafe { sys::napi_create_date(env, val.0.as_millis() as f64, &mut out) })?;
        Ok(out)
    }
}

impl FromNapiValue for JsDate {
    unsafe fn from_napi_value(env: sys::napi_env, napi_val: sys::napi_value) -> Result<Self> {
        let v = unsafe { Unknown::from_raw_unchecked(env, napi_val) };
        date(&v, "now")
            .map(JsDate)
            .map_err(|e| napi::Error::new(napi::Status::InvalidArg, e.message()))
    }
}

/// A value that is `null` in JavaScript when absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nullable<T>(pub Option<T>);

impl<T: TypeName> TypeName for Nullable<T> {
    fn type_name() -> &'static str {
        T::type_name()
    }
    fn value_type() -> ValueType {
        T::value_type()
    }
}

impl<T: ToNapiValue> ToNapiValue for Nullable<T> {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        match val.0 {
            Some(v) => unsafe { T::to_napi_value(env, v) },
            None => unsafe { Null::to_napi_value(env, Null) },
        }
    }
}

/// JSON text from the core crossing the boundary as the value it encodes (parsed by
/// the engine's `JSON.parse`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonValue(pub String);

impl TypeName for JsonValue {
    fn type_name() -> &'static str {
        "object"
    }
    fn value_type() -> ValueType {
        ValueType::Object
    }
}

impl ToNapiValue for JsonValue {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> Result<sys::napi_value> {
        let env = Env::from_raw(env);
        let json: Object<'_> = env.get_global()?.get_named_property("JSON")?;
        let parse: Function<'_, String, Unknown<'_>> = json.get_named_property("parse")?;
        Ok(parse.call(val.0)?.raw())
    }
}

/// An optional instant as a nullable `Date`.
pub fn opt_date(t: Option<Timestamp>) -> Nullable<JsDate> {
    Nullable(t.map(JsDate))
}

fn type_name(v: &Unknown<'_>) -> &'static str {
    match v.get_type() {
        Ok(ValueType::Null) => "null",
        Ok(ValueType::Boolean) => "a boolean",
        Ok(ValueType::Number) => "a number",
        Ok(ValueType::String) => "a string",
        Ok(ValueType::Object) => "an object",
        Ok(ValueType::Function) => "a function",
        Ok(ValueType::Symbol) => "a symbol",
        _ => "undefined",
    }
}

/// Text from a JavaScript string, read as UTF-16 so that a lone surrogate is
/// `invalid_input` rather than silently replaced.
pub fn text(v: &Unknown<'_>, field: &str) -> CoreResult<String> {
    if v.get_type().ok() != Some(ValueType::String) {
        return Err(Error::invalid(
            field,
            format!("must be a string, not {}", type_name(v)),
        ));
    }
    let s: JsString = unsafe { v.cast() }.map_err(|e| Error::invalid(field, e.reason))?;
    let utf16 = s
        .into_utf16()
        .map_err(|e| Error::invalid(field, e.reason))?;
    // The buffer ends with the NUL terminator napi writes.
    let units = utf16.as_slice();
    String::from_utf16(&units[..units.len().saturating_sub(1)])
        .map_err(|_| Error::invalid(field, "is not valid Unicode (it has a lone surrogate)"))
}

/// The bytes of a Buffer or other `Uint8Array`, copied in one pass: the view's memory
/// is the caller's and may be written meanwhile (a SharedArrayBuffer shared with a
/// worker), so only this one copy is ever read.
pub fn bytes(v: &Unknown<'_>, field: &str) -> CoreResult<Vec<u8>> {
    let bad = || {
        Error::invalid(
            field,
            format!("must be a Buffer or a Uint8Array, not {}", type_name(v)),
        )
    };
    let (env, raw) = (v.value().env, v.raw());
    let mut is_typed = false;
    unsafe { sys::napi_is_typedarray(env, raw, &mut is_typed) };
    if !is_typed {
        return Err(bad());
    }
    let (mut kind, mut len, mut data) = (0, 0usize, std::ptr::null_mut());
    let status = unsafe {
        sys::napi_get_typedarray_info(
            env,
            raw,
            &mut kind,
            &mut len,
            &mut data,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if status != sys::Status::napi_ok
        || !matches!(
            kind,
            sys::TypedarrayType::uint8_array | sys::TypedarrayType::uint8_clamped_array
        )
    {
        return Err(bad());
    }
    let mut out = Vec::with_capacity(len);
    if len > 0 {
        // SAFETY: N-API reported `len` readable bytes at `data` (one byte per element,
        // the view's offset applied); `out` has room for `len`, all written before
        // `set_len`.
        unsafe {
            std::ptr::copy_nonoverlapping(data as *const u8, out.as_mut_ptr(), len);
            out.set_len(len);
        }
    }
    Ok(out)
}

/// A list of strings from a JavaScript array.
pub fn texts(v: &Unknown<'_>, field: &str) -> CoreResult<Vec<String>> {
    let is_array = v.is_array().unwrap_or(false);
    if !is_array {
        return Err(Error::invalid(
            field,
            format!("must be an array of strings, not {}", type_name(v)),
        ));
    }
    let arr: Array = unsafe { v.cast() }.map_err(|e| Error::invalid(field, e.reason))?;
    (0..arr.len())
        .map(|i| {
            let item: Unknown<'_> = arr
                .get(i)
                .map_err(|e| Error::invalid(field, e.reason))?
                .ok_or_else(|| Error::invalid(format!("{field}[{i}]"), "is missing"))?;
            text(&item, &format!("{field}[{i}]"))
        })
        .collect()
}

/// An instant from a JavaScript `Date`.
pub fn date(v: &Unknown<'_>, field: &str) -> CoreResult<Timestamp> {
    let mut is_date = false;
    let (env, raw) = (v.value().env, v.raw());
    unsafe { sys::napi_is_date(env, raw, &mut is_date) };
    if !is_date {
        return Err(Error::invalid(
            field,
            format!("must be a Date, not {}", type_name(v)),
        ));
    }
    let mut ms = 0f64;
    unsafe { sys::napi_get_date_value(env, raw, &mut ms) };
    if !ms.is_finite() {
        return Err(Error::invalid(field, "is an invalid Date"));
    }
    Timestamp::from_millis(ms.floor() as i64, field)
}

/// A finite number.
pub fn number(v: &Unknown<'_>, field: &str) -> CoreResult<f64> {
    if v.get_type().ok() != Some(ValueType::Number) {
        return Err(Error::invalid(
            field,
            format!("must be a number, not {}", type_name(v)),
        ));
    }
    let n: f64 = unsafe { v.cast() }.map_err(|e| Error::invalid(field, e.reason))?;
    if !n.is_finite() {
        return Err(Error::invalid(field, "must be a finite number"));
    }
    Ok(n)
}

/// A whole number.
pub fn integer(v: &Unknown<'_>, field: &str) -> CoreResult<i64> {
    let n = number(v, field)?;
    if n.fract() != 0.0 || n.abs() > 9.0e15 {
        return Err(Error::invalid(field, "must be a whole number"));
    }
    Ok(n as i64)
}

/// Seconds (a number) as milliseconds.
pub fn seconds_ms(v: &Unknown<'_>, field: &str) -> CoreResult<i64> {
    let n = number(v, field)?;
    if n.abs() > 1e13 {
        return Err(Error::invalid(field, "is out of range"));
    }
    Ok((n * 1000.0).round() as i64)
}

/// A boolean.
pub fn boolean(v: &Unknown<'_>, field: &str) -> CoreResult<bool> {
    if v.get_type().ok() != Some(ValueType::Boolean) {
        return Err(Error::invalid(
            field,
            format!("must be a boolean, not {}", type_name(v)),
        ));
    }
    unsafe { v.cast() }.map_err(|e| Error::invalid(field, e.reason))
}

/// An options object; `undefined` and `null` mean none.
pub struct Opts<'env> {
    obj: Option<Object<'env>>,
    prefix: &'static str,
}

impl<'env> Opts<'env> {
    /// Wraps an optional argument, refusing anything but an object.
    pub fn new(v: Option<Unknown<'env>>, prefix: &'static str) -> CoreResult<Self> {
        let obj = match v {
            None => None,
            Some(u) => match u.get_type() {
                Ok(ValueType::Undefined) | Ok(ValueType::Null) => None,
                Ok(ValueType::Object) => Some(
                    unsafe { u.cast::<Object<'env>>() }
                        .map_err(|e| Error::invalid(prefix, e.reason))?,
                ),
                _ => {
                    return Err(Error::invalid(
                        prefix,
                        format!("must be an object, not {}", type_name(&u)),
                    ));
                }
            },
        };
        Ok(Opts { obj, prefix })
    }

    /// The property `name`, or `None` when absent or `undefined`; `Some(null)` is kept
    /// so that `updateKey` can clear fields.
    pub fn raw(&self, name: &str) -> CoreResult<Option<Unknown<'env>>> {
        match &self.obj {
            None => Ok(None),
            Some(o) => o
                .get::<Unknown<'env>>(name)
                .map_err(|e| Error::invalid(format!("{}.{name}", self.prefix), e.reason)),
        }
    }

    /// The property, with `null` treated like `undefined`.
    pub fn get(&self, name: &str) -> CoreResult<Option<Unknown<'env>>> {
        Ok(self
            .raw(name)?
            .filter(|v| v.get_type().ok() != Some(ValueType::Null)))
    }

    /// Refuses properties other than `known`, naming the first unknown one.
    pub fn only(&self, known: &[&str]) -> CoreResult<()> {
        if let Some(o) = &self.obj {
            let keys = Object::keys(o).map_err(|e| Error::invalid(self.prefix, e.reason))?;
            if let Some(k) = keys.iter().find(|k| !known.contains(&k.as_str())) {
                return Err(Error::invalid(
                    format!("{}.{k}", self.prefix),
                    format!("is not a known option (known: {})", known.join(", ")),
                ));
            }
        }
        Ok(())
    }

    /// The object itself.
    pub fn object(&self) -> Option<&Object<'env>> {
        self.obj.as_ref()
    }
}

/// True when the value is JavaScript `null`.
pub fn is_null(v: &Unknown<'_>) -> bool {
    v.get_type().ok() == Some(ValueType::Null)
}
