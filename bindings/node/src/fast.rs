//! The hot path of `authorize`, in two halves. The JavaScript half (made once per
//! env from [`SETUP_JS`]) reads the options and builds the Principal object; the
//! native half ([`authorize_raw`]) reads the arguments into stack buffers through raw
//! N-API calls, runs the core and answers with the token id, the rest of its answer
//! written to a small `Float64Array` the two halves share. Nothing calls from native
//! code into JavaScript on this path (the dearest N-API call there is), and
//! everything else in this binding goes through napi-rs conversions.
//!
//! `KeyStore.prototype.authorize` is replaced at load ([`install`]) by the
//! JavaScript half: napi-rs' glue for a `&self` method records every call in a
//! process-wide borrow table behind a mutex (a lock shared by every worker thread).
//! This binding's `KeyStore` has no `&mut self` method, so no such borrow can
//! conflict; the store is still unwrapped through napi-rs' checked conversion (its
//! class type tag), so another object in its place is refused, never cast.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::ptr;

use keyscope_core::{Error, ErrorKind, Permission, Principal, Result as CoreResult};
use napi::bindgen_prelude::*;
use napi::{JsValue, sys};

use crate::convert::date;

/// The JavaScript side of `authorize`, made once per env: given the native function
/// (`raw`), the kept key parts (`slots`, see [`key_parts`]) and a two-number array
/// the native side writes (`out`: the key-parts slot and the expiry in
/// milliseconds), it makes the method put on `KeyStore.prototype`.
///
/// The method reads the options in JavaScript (where V8 inlines the property reads),
/// calls `raw` as a plain function (the store as its first argument, so a patched
/// `Function.prototype.call` changes nothing), and builds the Principal from one
/// object literal (so every Principal has the same hidden class) — the native side
/// never calls into JavaScript, the dearest N-API call there is. The scope is copied
/// out of the kept array by index, with no method call (a patched
/// `Array.prototype.slice` or `push` never sees the kept array), so no caller can
/// reach, and change, what later Principals say; `parts` makes such an array.
const SETUP_JS: &str = concat!(
    "[(raw, slots, out) => function authorize(token, resource, permission, options) {",
    "  let clientIp, now;",
    "  if (options !== null && typeof options === 'object') {",
    "    clientIp = options.clientIp; now = options.now;",
    "  }",
    "  const tokenId = raw(this, token, resource, permission, clientIp, now);",
    "  const p = slots[out[0] | 0];",
    "  const scope = new Array(p.length - 3);",
    "  for (let i = 3; i < p.length; i++) scope[i - 3] = p[i];",
    "  return { keyId: p[0], keyName: p[1], org: p[2], scope, tokenId,",
    "    expiresAt: new Date(out[1]) };",
    "}, (...a) => a]"
);

/// What the native side of `authorize` keeps for one env (each JavaScript value held
/// through a reference: functions and arrays are objects, so any N-API version can
/// refer to them).
struct Interned {
    /// The parts maker.
    parts: sys::napi_ref,
    /// The array of kept key parts, by slot.
    slots: sys::napi_ref,
    /// The data of the `Float64Array` the native side answers through (alive while
    /// the env is: the method's closure and a reference hold it).
    out: *mut f64,
    /// What each slot of `slots` holds (see [`key_parts`]).
    kept: RefCell<Vec<Option<KeyParts>>>,
}

fn ok(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            napi::Status::from(status),
            "N-API call failed",
        ))
    }
}

fn reference_value(env: sys::napi_env, r: sys::napi_ref) -> Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    ok(unsafe { sys::napi_get_reference_value(env, r, &mut v) })?;
    Ok(v)
}

/// Makes `env`'s interned values, the native function over them and the `authorize`
/// method around it.
fn set_up(env: sys::napi_env) -> Result<sys::napi_value> {
    let mut script = ptr::null_mut();
    ok(unsafe {
        sys::napi_create_string_utf8(
            env,
            SETUP_JS.as_ptr().cast(),
            SETUP_JS.len() as isize,
            &mut script,
        )
    })?;
    let mut made = ptr::null_mut();
    ok(unsafe { sys::napi_run_script(env, script, &mut made) })?;
    let (mut method_maker, mut parts) = (ptr::null_mut(), ptr::null_mut());
    ok(unsafe { sys::napi_get_element(env, made, 0, &mut method_maker) })?;
    ok(unsafe { sys::napi_get_element(env, made, 1, &mut parts) })?;
    let mut slots = ptr::null_mut();
    ok(unsafe { sys::napi_create_array_with_length(env, KEY_PART_SLOTS, &mut slots) })?;
    let (mut buffer, mut data) = (ptr::null_mut(), ptr::null_mut());
    ok(unsafe { sys::napi_create_arraybuffer(env, 16, &mut data, &mut buffer) })?;
    let mut out = ptr::null_mut();
    ok(unsafe {
        sys::napi_create_typedarray(
            env,
            sys::TypedarrayType::float64_array,
            2,
            buffer,
            0,
            &mut out,
        )
    })?;
    let mut refs = [ptr::null_mut(); 3];
    for (r, v) in refs.iter_mut().zip([parts, slots, out]) {
        ok(unsafe { sys::napi_create_reference(env, v, 1, r) })?;
    }
    // The native function finds its env's values through its data pointer; they are
    // freed when the env is torn down (the references go with the env).
    let interned = Box::into_raw(Box::new(Interned {
        parts: refs[0],
        slots: refs[1],
        out: data.cast(),
        kept: RefCell::new((0..KEY_PART_SLOTS).map(|_| None).collect()),
    }));
    ok(unsafe { sys::napi_add_env_cleanup_hook(env, Some(free_interned), interned.cast()) })?;
    let mut raw = ptr::null_mut();
    ok(unsafe {
        sys::napi_create_function(
            env,
            c"authorize".as_ptr(),
            "authorize".len() as isize,
            Some(authorize_raw),
            interned.cast(),
            &mut raw,
        )
    })?;
    let mut method = ptr::null_mut();
    let args = [raw, slots, out];
    ok(unsafe {
        sys::napi_call_function(
            env,
            method_maker,
            method_maker,
            args.len(),
            args.as_ptr(),
            &mut method,
        )
    })?;
    Ok(method)
}

unsafe extern "C" fn free_interned(data: *mut std::ffi::c_void) {
    // SAFETY: `data` is the box `set_up` leaked for this env, freed only here.
    drop(unsafe { Box::from_raw(data.cast::<Interned>()) });
}

fn type_of(env: sys::napi_env, v: sys::napi_value) -> i32 {
    let mut t = 0;
    unsafe { sys::napi_typeof(env, v, &mut t) };
    t
}

/// Stack space for one argument, left uninitialized: N-API writes into it and only
/// what it wrote is read (an 8 KiB token buffer zeroed on every call cost more than
/// the token cache lookup).
struct Scratch<const N: usize>(MaybeUninit<[u8; N]>);

impl<const N: usize> Scratch<N> {
    fn new() -> Self {
        Scratch(MaybeUninit::uninit())
    }

    fn ptr(&mut self) -> *mut u8 {
        self.0.as_mut_ptr().cast()
    }

    /// The first `len` bytes, which the caller has written.
    ///
    /// # Safety
    /// `len <= N` and bytes `..len` were written (by N-API or a copy).
    unsafe fn written(&self, len: usize) -> &[u8] {
        debug_assert!(len <= N);
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), len) }
    }
}

/// What [`read_str`] found.
enum Read<'b> {
    Str(&'b str),
    NotString,
    TooLong,
}

/// Reads a JavaScript string into `buf` (UTF-8), in one N-API call whatever `v` is.
fn read_str<const N: usize>(
    env: sys::napi_env,
    v: sys::napi_value,
    buf: &mut Scratch<N>,
) -> Read<'_> {
    let mut written = 0usize;
    let status =
        unsafe { sys::napi_get_value_string_utf8(env, v, buf.ptr().cast(), N, &mut written) };
    if status != sys::Status::napi_ok {
        return Read::NotString;
    }
    if written + 1 >= N {
        return Read::TooLong;
    }
    // SAFETY: N-API wrote `written` bytes (and a NUL after them), fewer than N.
    match std::str::from_utf8(unsafe { buf.written(written) }) {
        Ok(s) => Read::Str(s),
        Err(_) => Read::TooLong,
    }
}

fn arg_str<'b, const N: usize>(
    env: sys::napi_env,
    v: Option<&Unknown<'_>>,
    buf: &'b mut Scratch<N>,
    field: &str,
) -> CoreResult<Option<&'b str>> {
    let Some(v) = v else { return Ok(None) };
    let bad = || {
        Error::invalid(
            field,
            format!("must be a string of at most {} bytes", N - 2),
        )
    };
    match read_str(env, v.raw(), buf) {
        Read::Str(s) => Ok(Some(s)),
        Read::TooLong => Err(bad()),
        Read::NotString => match type_of(env, v.raw()) {
            sys::ValueType::napi_undefined | sys::ValueType::napi_null => Ok(None),
            _ => Err(bad()),
        },
    }
}

/// Copies `len` bytes of a Buffer or other view at `data` into `buf` in one pass, so
/// that the token checked is exactly one snapshot of the caller's memory however that
/// memory changes meanwhile. Longer than [`keyscope_core::token::MAX_TOKEN_BYTES`] is
/// refused before anything is read.
fn copy_token<const N: usize>(
    data: *const u8,
    len: usize,
    buf: &mut Scratch<N>,
) -> CoreResult<&[u8]> {
    let max = keyscope_core::token::MAX_TOKEN_BYTES;
    if len > max || len > N {
        return Err(Error::new(
            ErrorKind::InvalidToken,
            format!("the token is longer than {max} bytes"),
        ));
    }
    if len > 0 {
        // SAFETY: N-API reported `len` readable bytes at `data`; `buf` holds `len`.
        unsafe { ptr::copy_nonoverlapping(data, buf.ptr(), len) };
    }
    // SAFETY: `len <= N` bytes were just written.
    Ok(unsafe { buf.written(len) })
}

/// The arguments of `authorize`, as JavaScript values: `client_ip` and `now` are the
/// options' members (absent: `undefined`).
pub struct Args<'a> {
    pub token: Unknown<'a>,
    pub resource: Unknown<'a>,
    pub permission: Unknown<'a>,
    pub client_ip: Unknown<'a>,
    pub now: Unknown<'a>,
}

/// `undefined`.
pub fn undefined(env: sys::napi_env) -> Unknown<'static> {
    let mut v = ptr::null_mut();
    unsafe { sys::napi_get_undefined(env, &mut v) };
    unsafe { Unknown::from_raw_unchecked(env, v) }
}

/// Member `name` of `options` when that is an object, else `undefined`.
pub fn option(
    env: sys::napi_env,
    options: Option<&Unknown<'_>>,
    name: &std::ffi::CStr,
) -> Unknown<'static> {
    match options.filter(|o| type_of(env, o.raw()) == sys::ValueType::napi_object) {
        Some(o) => {
            let mut v = ptr::null_mut();
            if unsafe { sys::napi_get_named_property(env, o.raw(), name.as_ptr(), &mut v) }
                != sys::Status::napi_ok
            {
                return undefined(env);
            }
            unsafe { Unknown::from_raw_unchecked(env, v) }
        }
        None => undefined(env),
    }
}

/// Reads the arguments into stack buffers and runs the core's `authorize`.
pub fn run(
    raw: sys::napi_env,
    store: &keyscope_core::KeyStore,
    args: &Args<'_>,
) -> CoreResult<Principal> {
    let mut token_buf = Scratch::<{ keyscope_core::token::MAX_TOKEN_BYTES + 2 }>::new();
    let mut resource_buf = Scratch::<160>::new();
    let mut perm_buf = Scratch::<16>::new();
    let mut ip_buf = Scratch::<64>::new();
    let token_buf = &mut token_buf;
    let token = &args.token;
    // A view's copy goes to a buffer of its own (the string read borrows the other).
    let mut view_buf = Scratch::<{ keyscope_core::token::MAX_TOKEN_BYTES }>::new();
    let token = match read_str(raw, token.raw(), token_buf) {
        Read::Str(t) => t,
        Read::TooLong => {
            return Err(Error::new(
                ErrorKind::InvalidToken,
                format!(
                    "the token is longer than {} bytes",
                    keyscope_core::token::MAX_TOKEN_BYTES
                ),
            ));
        }
        Read::NotString => {
            let mut is_buffer = false;
            unsafe { sys::napi_is_buffer(raw, token.raw(), &mut is_buffer) };
            if !is_buffer {
                return Err(Error::invalid("token", "must be a string or a Buffer"));
            }
            let (mut data, mut len) = (ptr::null_mut(), 0usize);
            let status =
                unsafe { sys::napi_get_buffer_info(raw, token.raw(), &mut data, &mut len) };
            if status != sys::Status::napi_ok {
                return Err(Error::invalid("token", "must be a string or a Buffer"));
            }
            // The view's memory is the caller's, and may be shared with another
            // thread (a SharedArrayBuffer written by a worker): it is copied once,
            // here, and only the copy is validated, verified, decoded and cached.
            let copied = copy_token(data as *const u8, len, &mut view_buf)?;
            std::str::from_utf8(copied)
                .map_err(|_| Error::new(ErrorKind::InvalidToken, "the token is not UTF-8"))?
        }
    };
    let resource = arg_str(raw, Some(&args.resource), &mut resource_buf, "resource")?
        .ok_or_else(|| Error::invalid("resource", "is required"))?;
    let permission = match arg_str(raw, Some(&args.permission), &mut perm_buf, "permission")? {
        None => Permission::Read,
        Some(p) => p.parse::<Permission>()?,
    };
    let client_ip = arg_str(raw, Some(&args.client_ip), &mut ip_buf, "clientIp")?;
    let now = match type_of(raw, args.now.raw()) {
        sys::ValueType::napi_undefined | sys::ValueType::napi_null => None,
        _ => Some(date(&args.now, "now")?),
    };
    store.authorize(token, resource, permission, client_ip, now)
}

fn js_str(env: sys::napi_env, s: &str) -> Result<sys::napi_value> {
    let mut v = ptr::null_mut();
    // ASCII (every id, grant and org name; most key names) is Latin-1 as it stands:
    // V8 copies it without decoding.
    ok(unsafe {
        if s.is_ascii() {
            sys::napi_create_string_latin1(env, s.as_ptr().cast(), s.len() as isize, &mut v)
        } else {
            sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v)
        }
    })?;
    Ok(v)
}

/// The key's part of a Principal, as JavaScript values made for an earlier call
/// (held by the env's `slots` array).
struct KeyParts {
    key_id: String,
    key_name: String,
    org: String,
    scope: Vec<String>,
}

/// Slots of the JavaScript `slots` array (and of [`Interned::kept`]), chosen by key
/// id. An entry is used only when every one of its strings equals the new
/// Principal's: a key renamed or narrowed since simply makes new ones.
const KEY_PART_SLOTS: usize = 64;

fn slot_of(key_id: &str) -> usize {
    // FNV-1a: key ids are random, any spread will do.
    let h = key_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % KEY_PART_SLOTS as u64) as usize
}

/// The slot of `slots` that holds `[keyId, keyName, org, ...scope]` for `p`: as it
/// is when its strings are `p`'s, else after a new array is put there.
fn key_parts(env: sys::napi_env, interned: &Interned, p: &Principal) -> Result<usize> {
    {
        // Only the parts maker (an arrow of our own) runs while this is held.
        let mut kept = interned
            .kept
            .try_borrow_mut()
            .map_err(|_| napi::Error::new(napi::Status::GenericFailure, "authorize re-entered"))?;
        let at = slot_of(p.key_id());
        let slot = &mut kept[at];
        if slot.as_ref().is_some_and(|k| {
            k.key_id == p.key_id()
                && k.key_name == p.key_name()
                && k.org == p.org()
                && k.scope.len() == p.scope().len()
                && k.scope.iter().zip(p.scope()).all(|(a, b)| a == b)
        }) {
            return Ok(at);
        }
        let mut stack = [ptr::null_mut(); 16];
        let mut heap = Vec::new();
        let n = 3 + p.scope().len();
        let values: &mut [sys::napi_value] = if n <= stack.len() {
            &mut stack[..n]
        } else {
            heap.resize(n, ptr::null_mut());
            &mut heap
        };
        values[0] = js_str(env, p.key_id())?;
        values[1] = js_str(env, p.key_name())?;
        values[2] = js_str(env, p.org())?;
        for (v, g) in values[3..].iter_mut().zip(p.scope()) {
            *v = js_str(env, g)?;
        }
        let maker = reference_value(env, interned.parts)?;
        let mut array = ptr::null_mut();
        ok(unsafe {
            sys::napi_call_function(env, maker, maker, values.len(), values.as_ptr(), &mut array)
        })?;
        let slots = reference_value(env, interned.slots)?;
        ok(unsafe { sys::napi_set_element(env, slots, at as u32, array) })?;
        *slot = Some(KeyParts {
            key_id: p.key_id().to_owned(),
            key_name: p.key_name().to_owned(),
            org: p.org().to_owned(),
            scope: p.scope().map(str::to_owned).collect(),
        });
        Ok(at)
    }
}

/// The native half of `KeyStore.prototype.authorize`: `(store, token, resource,
/// permission, clientIp, now)`. The store is unwrapped by napi-rs' checked conversion
/// (its class type tag), so another object is refused, never cast. Answers with the
/// token id, and writes the key-parts slot and the expiry (milliseconds) to the env's
/// `out` array, which the JavaScript half reads at once.
unsafe extern "C" fn authorize_raw(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let call = || -> Result<sys::napi_value> {
        let (mut argc, mut argv, mut data) = (6usize, [ptr::null_mut(); 6], ptr::null_mut());
        ok(unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                ptr::null_mut(),
                &mut data,
            )
        })?;
        // SAFETY: `data` is this env's `Interned` (set_up), alive until its teardown.
        let interned = unsafe { &*data.cast::<Interned>() };
        // SAFETY: the conversion checks the value's class before unwrapping it.
        let store =
            unsafe { ClassInstance::<crate::store::KeyStore>::from_napi_value(env, argv[0]) }
                .map_err(|_| {
                    napi::Error::new(
                        napi::Status::InvalidArg,
                        "authorize must be called on a KeyStore",
                    )
                })?;
        // N-API fills the slots past `argc` with `undefined`, which every argument
        // reads as absent.
        let [_, token, resource, permission, client_ip, now] =
            argv.map(|v| unsafe { Unknown::from_raw_unchecked(env, v) });
        let js_env = Env::from_raw(env);
        let handle = crate::errors::OrThrow::or_throw(store.live(), &js_env)?;
        let args = Args {
            token,
            resource,
            permission,
            client_ip,
            now,
        };
        let p = run(env, handle, &args).map_err(|e| crate::errors::to_js(&js_env, &e))?;
        let slot = key_parts(env, interned, &p)?;
        let token_id = js_str(env, p.token_id())?;
        // SAFETY: `out` is the data of a live two-element Float64Array, and nothing
        // else runs on this thread between this write and the caller's read.
        unsafe {
            *interned.out = slot as f64;
            *interned.out.add(1) = p.expires_at().as_millis() as f64;
        }
        Ok(token_id)
    };
    match call() {
        Ok(v) => v,
        Err(e) => {
            unsafe { JsError::from(e).throw_into(env) };
            ptr::null_mut()
        }
    }
}

/// Puts the `authorize` method made by [`set_up`] in place of the `#[napi]` method
/// on `KeyStore.prototype`, when the module loads. A failure fails the load.
pub fn install(env: sys::napi_env, exports: sys::napi_value) -> Result<()> {
    let mut class = ptr::null_mut();
    ok(unsafe { sys::napi_get_named_property(env, exports, c"KeyStore".as_ptr(), &mut class) })?;
    let mut proto = ptr::null_mut();
    ok(unsafe { sys::napi_get_named_property(env, class, c"prototype".as_ptr(), &mut proto) })?;
    let f = set_up(env)?;
    let property = sys::napi_property_descriptor {
        utf8name: c"authorize".as_ptr(),
        name: ptr::null_mut(),
        method: None,
        getter: None,
        setter: None,
        value: f,
        attributes: sys::PropertyAttributes::writable | sys::PropertyAttributes::configurable,
        data: ptr::null_mut(),
    };
    ok(unsafe { sys::napi_define_properties(env, proto, 1, &property) })
}
