//! The hot path of `authorize`: arguments read into stack buffers and the result
//! object built with property names interned once per thread, through raw N-API
//! calls. Everything else in this binding goes through napi-rs conversions; this is
//! the one call where their allocations and name lookups cost more than the checks.
//!
//! `KeyStore.prototype.authorize` is replaced at load ([`install`]) by a function
//! of this module's own: napi-rs' glue for a `&self` method records every call in a
//! process-wide borrow table behind a mutex (a lock shared by every worker thread,
//! and about a tenth of the call). This binding's `KeyStore` has no `&mut self`
//! method, so no such borrow can conflict; the receiver is still unwrapped through
//! napi-rs' checked conversion (its class type tag), so another object in its place
//! is refused, never cast.

use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::ptr;

use keyscope_core::{Error, ErrorKind, Permission, Principal, Result as CoreResult};
use napi::bindgen_prelude::*;
use napi::{JsValue, sys};

use crate::convert::date;

/// A factory whose object literal gives every Principal the same hidden class (V8
/// builds it without map transitions), and the option names read (interned: string
/// literals of a script are internalized by V8).
///
/// The factory takes the key's part of a Principal as one array (`[keyId, keyName,
/// org, ...scope]`, kept between calls: see [`key_parts`]) and copies the scope out
/// of it, so no caller is handed the kept array; `parts` makes such an array, frozen
/// (so that even code that reaches it, through a patched `Array.prototype.slice`,
/// cannot change what later Principals say).
const SETUP_JS: &str = "[(p, tokenId, expires) => \
     ({ keyId: p[0], keyName: p[1], org: p[2], scope: p.slice(3), tokenId, \
     expiresAt: new Date(expires) }), \
     ['clientIp', 'now'], (...a) => Object.freeze(a)]";

/// References to the factory, the array of option names and the parts maker, for
/// one env.
struct Interned {
    env: usize,
    factory: sys::napi_ref,
    names: sys::napi_ref,
    parts: sys::napi_ref,
}

thread_local! {
    /// The factory and the names, per env, each held through a reference (a function
    /// and an array are objects, so any N-API version can refer to them).
    static INTERNED: RefCell<Option<Interned>> = const { RefCell::new(None) };
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

/// Runs `f` with `env`'s interned values, made on first use.
fn interned<T>(env: sys::napi_env, f: impl FnOnce(&Interned) -> Result<T>) -> Result<T> {
    INTERNED.with(|cell| {
        let mut cell = cell.borrow_mut();
        if cell.as_ref().is_none_or(|i| i.env != env as usize) {
            let mut script = ptr::null_mut();
            ok(unsafe {
                sys::napi_create_string_utf8(
                    env,
                    SETUP_JS.as_ptr().cast(),
                    SETUP_JS.len() as isize,
                    &mut script,
                )
            })?;
            let mut array = ptr::null_mut();
            ok(unsafe { sys::napi_run_script(env, script, &mut array) })?;
            let mut refs = [ptr::null_mut(); 3];
            for (i, r) in refs.iter_mut().enumerate() {
                let mut v = ptr::null_mut();
                ok(unsafe { sys::napi_get_element(env, array, i as u32, &mut v) })?;
                ok(unsafe { sys::napi_create_reference(env, v, 1, r) })?;
            }
            *cell = Some(Interned {
                env: env as usize,
                factory: refs[0],
                names: refs[1],
                parts: refs[2],
            });
        }
        f(cell.as_ref().expect("set above"))
    })
}

/// The Principal factory for `env`: one N-API call once it exists.
fn factory(env: sys::napi_env) -> Result<sys::napi_value> {
    interned(env, |i| reference_value(env, i.factory))
}

/// The interned option names `clientIp` and `now`, read only when options are given.
fn option_names(env: sys::napi_env) -> Result<[sys::napi_value; 2]> {
    let names = interned(env, |i| reference_value(env, i.names))?;
    let mut out = [ptr::null_mut(); 2];
    for (i, slot) in out.iter_mut().enumerate() {
        ok(unsafe { sys::napi_get_element(env, names, i as u32, slot) })?;
    }
    Ok(out)
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

/// Runs `authorize` on raw arguments and builds the Principal object.
pub fn authorize(
    env: &Env,
    store: &keyscope_core::KeyStore,
    token: Unknown<'_>,
    resource: Unknown<'_>,
    permission: Option<Unknown<'_>>,
    options: Option<Unknown<'_>>,
) -> Result<Unknown<'static>> {
    let raw = env.raw();
    let factory = factory(raw)?;
    let mut token_buf = Scratch::<{ keyscope_core::token::MAX_TOKEN_BYTES + 2 }>::new();
    let mut resource_buf = Scratch::<160>::new();
    let mut perm_buf = Scratch::<16>::new();
    let mut ip_buf = Scratch::<64>::new();
    let run = |token_buf: &mut Scratch<{ keyscope_core::token::MAX_TOKEN_BYTES + 2 }>,
               resource_buf: &mut Scratch<160>,
               perm_buf: &mut Scratch<16>,
               ip_buf: &mut Scratch<64>|
     -> CoreResult<Principal> {
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
        let resource = arg_str(raw, Some(&resource), resource_buf, "resource")?
            .ok_or_else(|| Error::invalid("resource", "is required"))?;
        let permission = match arg_str(raw, permission.as_ref(), perm_buf, "permission")? {
            None => Permission::Read,
            Some(p) => p.parse::<Permission>()?,
        };
        let (mut client_ip, mut now) = (None, None);
        if let Some(o) = options
            .as_ref()
            .filter(|o| type_of(raw, o.raw()) == sys::ValueType::napi_object)
        {
            let names = option_names(raw).map_err(|e| Error::storage(e.reason))?;
            let mut v = ptr::null_mut();
            unsafe { sys::napi_get_property(raw, o.raw(), names[0], &mut v) };
            client_ip = arg_str(
                raw,
                Some(&unsafe { Unknown::from_raw_unchecked(raw, v) }),
                ip_buf,
                "clientIp",
            )?;
            let mut n = ptr::null_mut();
            unsafe { sys::napi_get_property(raw, o.raw(), names[1], &mut n) };
            let n = unsafe { Unknown::from_raw_unchecked(raw, n) };
            if !matches!(
                type_of(raw, n.raw()),
                sys::ValueType::napi_undefined | sys::ValueType::napi_null
            ) {
                now = Some(date(&n, "now")?);
            }
        }
        store.authorize(token, resource, permission, client_ip, now)
    };
    let p = run(
        &mut token_buf,
        &mut resource_buf,
        &mut perm_buf,
        &mut ip_buf,
    )
    .map_err(|e| crate::errors::to_js(env, &e))?;
    principal(raw, factory, &p)
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

/// The key's part of a Principal, as JavaScript values made for an earlier call.
struct KeyParts {
    env: usize,
    key_id: String,
    key_name: String,
    org: String,
    scope: Vec<String>,
    /// The array `[keyId, keyName, org, ...scope]`.
    array: sys::napi_ref,
}

/// Slots of [`KEY_PARTS`], chosen by key id.
const KEY_PART_SLOTS: usize = 64;

thread_local! {
    /// The key parts of recent Principals, per thread (so per env), by key id. An
    /// entry is used only when every one of its strings equals the new Principal's:
    /// a key renamed or narrowed since simply makes new ones.
    static KEY_PARTS: RefCell<Vec<Option<KeyParts>>> = const { RefCell::new(Vec::new()) };
}

fn slot_of(key_id: &str) -> usize {
    // FNV-1a: key ids are random, any spread will do.
    let h = key_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (h % KEY_PART_SLOTS as u64) as usize
}

/// `[keyId, keyName, org, ...scope]` for `p`: the kept array when its strings are
/// `p`'s, else a new one (then kept in place of whatever held its slot).
fn key_parts(env: sys::napi_env, p: &Principal) -> Result<sys::napi_value> {
    KEY_PARTS.with(|cell| {
        let mut slots = cell.borrow_mut();
        if slots.is_empty() {
            slots.resize_with(KEY_PART_SLOTS, || None);
        }
        let slot = &mut slots[slot_of(p.key_id())];
        if let Some(k) = slot.as_ref().filter(|k| {
            k.env == env as usize
                && k.key_id == p.key_id()
                && k.key_name == p.key_name()
                && k.org == p.org()
                && k.scope.len() == p.scope().len()
                && k.scope.iter().zip(p.scope()).all(|(a, b)| a == b)
        }) {
            return reference_value(env, k.array);
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
        let maker = interned(env, |i| reference_value(env, i.parts))?;
        let mut array = ptr::null_mut();
        ok(unsafe {
            sys::napi_call_function(env, maker, maker, values.len(), values.as_ptr(), &mut array)
        })?;
        let mut r = ptr::null_mut();
        ok(unsafe { sys::napi_create_reference(env, array, 1, &mut r) })?;
        if let Some(old) = slot.take()
            && old.env == env as usize
        {
            // (A reference of an env that is gone went with it.)
            unsafe { sys::napi_delete_reference(env, old.array) };
        }
        *slot = Some(KeyParts {
            env: env as usize,
            key_id: p.key_id().to_owned(),
            key_name: p.key_name().to_owned(),
            org: p.org().to_owned(),
            scope: p.scope().map(str::to_owned).collect(),
            array: r,
        });
        Ok(array)
    })
}

fn principal(
    env: sys::napi_env,
    factory: sys::napi_value,
    p: &Principal,
) -> Result<Unknown<'static>> {
    // The key's strings come as one kept array and the expiry as milliseconds (the
    // factory makes the Date): four N-API calls when the key's parts are kept.
    let mut values = [
        key_parts(env, p)?,
        js_str(env, p.token_id())?,
        ptr::null_mut(),
    ];
    ok(unsafe { sys::napi_create_double(env, p.expires_at().as_millis() as f64, &mut values[2]) })?;
    let mut obj = ptr::null_mut();
    // An arrow function ignores its receiver: the factory itself stands in for it.
    ok(unsafe {
        sys::napi_call_function(
            env,
            factory,
            factory,
            values.len(),
            values.as_ptr(),
            &mut obj,
        )
    })?;
    Ok(unsafe { Unknown::from_raw_unchecked(env, obj) })
}

/// `KeyStore.prototype.authorize` as a plain N-API function: the receiver unwrapped
/// by napi-rs' checked conversion, then [`authorize`] (the `#[napi]` method of the
/// same name declares the signature, and behaves the same).
unsafe extern "C" fn authorize_method(
    env: sys::napi_env,
    info: sys::napi_callback_info,
) -> sys::napi_value {
    let call = || -> Result<Unknown<'static>> {
        let (mut argc, mut argv, mut this) = (4usize, [ptr::null_mut(); 4], ptr::null_mut());
        ok(unsafe {
            sys::napi_get_cb_info(
                env,
                info,
                &mut argc,
                argv.as_mut_ptr(),
                &mut this,
                ptr::null_mut(),
            )
        })?;
        // SAFETY: `this` is the call's receiver; the conversion checks its class.
        let store = unsafe { ClassInstance::<crate::store::KeyStore>::from_napi_value(env, this) }
            .map_err(|_| {
                napi::Error::new(
                    napi::Status::InvalidArg,
                    "authorize must be called on a KeyStore",
                )
            })?;
        // N-API fills the slots past `argc` with `undefined`, which every argument
        // reads as absent.
        let [token, resource, permission, options] =
            argv.map(|v| unsafe { Unknown::from_raw_unchecked(env, v) });
        let env = Env::from_raw(env);
        let handle = crate::errors::OrThrow::or_throw(store.live(), &env)?;
        authorize(
            &env,
            handle,
            token,
            resource,
            Some(permission),
            Some(options),
        )
    };
    match call() {
        Ok(v) => v.raw(),
        Err(e) => {
            unsafe { JsError::from(e).throw_into(env) };
            ptr::null_mut()
        }
    }
}

/// Puts [`authorize_method`] in place of the `#[napi]` method on
/// `KeyStore.prototype`, when the module loads. A failure fails the load.
pub fn install(env: sys::napi_env, exports: sys::napi_value) -> Result<()> {
    let mut class = ptr::null_mut();
    ok(unsafe { sys::napi_get_named_property(env, exports, c"KeyStore".as_ptr(), &mut class) })?;
    let mut proto = ptr::null_mut();
    ok(unsafe { sys::napi_get_named_property(env, class, c"prototype".as_ptr(), &mut proto) })?;
    let mut f = ptr::null_mut();
    ok(unsafe {
        sys::napi_create_function(
            env,
            c"authorize".as_ptr(),
            "authorize".len() as isize,
            Some(authorize_method),
            ptr::null_mut(),
            &mut f,
        )
    })?;
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
