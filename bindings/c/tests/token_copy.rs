//! Finding 1 (a token read twice): `keyscope_store_authorize` reads the caller's
//! buffer once. Another thread keeps switching the buffer between a token the store
//! issued and a forgery (its claims with a wider scope, its signature); however the
//! reads interleave with the writes, the forgery's claims must never be accepted,
//! nor cached for the issued token's bytes.

use std::ffi::{CString, c_char};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyscope::*;
use keyscope_core::{Argon2Params, KeyStore, NewKey, Options, Timestamp};

const T0: i64 = 1_800_000_000;

fn signing() -> Vec<(String, Vec<u8>)> {
    vec![("k1".into(), vec![7; 32])]
}

/// A C handle on the store at `path`, with the same signing key.
fn c_store(path: &str) -> *mut keyscope_store {
    unsafe {
        let mut opts = std::ptr::null_mut();
        assert_eq!(
            keyscope_options_new(&mut opts),
            keyscope_status::KEYSCOPE_OK
        );
        let secret = [7u8; 32];
        assert_eq!(
            keyscope_options_add_signing_key(opts, c"k1".as_ptr(), secret.as_ptr(), 32),
            keyscope_status::KEYSCOPE_OK
        );
        let path = CString::new(path).unwrap();
        let mut store = std::ptr::null_mut();
        assert_eq!(
            keyscope_store_open(path.as_ptr(), opts, &mut store),
            keyscope_status::KEYSCOPE_OK
        );
        keyscope_options_free(opts);
        store
    }
}

fn authorize(
    store: *const keyscope_store,
    token: *const c_char,
    resource: &std::ffi::CStr,
) -> keyscope_status {
    let now = T0 + 10;
    let mut p = std::ptr::null_mut();
    let status = unsafe {
        keyscope_store_authorize(
            store,
            token,
            resource.as_ptr(),
            0,
            std::ptr::null(),
            &now,
            &mut p,
        )
    };
    unsafe { keyscope_principal_free(p) };
    status
}

#[test]
fn a_buffer_written_during_authorize_never_gets_unsigned_claims_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("race.db").to_str().unwrap().to_owned();
    let opts = Options {
        signing_keys: signing(),
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..Options::default()
    };
    let core = KeyStore::open(&path, opts).unwrap();
    let now = Some(Timestamp::from_unix_seconds(T0, "now").unwrap());
    let (key, secret) = core
        .create_key(NewKey {
            name: "svc".into(),
            grants: vec!["aaaaa:read".into(), "bbbbb:read".into()],
            now,
            ..NewKey::default()
        })
        .unwrap();
    // The issued token allows aaaaa only; the forgery claims bbbbb with its signature.
    let issued = core
        .issue_token(&key.id, &secret, None, Some("aaaaa:read"), now)
        .unwrap()
        .access_token;
    let mut parts = issued.split('.');
    let (header, payload, sig) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let claims = String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert!(claims.contains("\"scope\":\"aaaaa:read\""), "{claims}");
    let forged_claims = claims.replace("\"scope\":\"aaaaa:read\"", "\"scope\":\"bbbbb:read\"");
    let forged = format!("{header}.{}.{sig}", URL_SAFE_NO_PAD.encode(&forged_claims));
    assert_eq!(forged.len(), issued.len());

    let store = c_store(&path);
    let (a, b) = (c"aaaaa", c"bbbbb");
    let issued_c = CString::new(issued.clone()).unwrap();
    let forged_c = CString::new(forged.clone()).unwrap();
    assert_eq!(
        authorize(store, forged_c.as_ptr(), b),
        keyscope_status::KEYSCOPE_INVALID_TOKEN
    );
    assert_eq!(
        authorize(store, issued_c.as_ptr(), b),
        keyscope_status::KEYSCOPE_INSUFFICIENT_SCOPE
    );

    // The shared buffer, NUL-terminated; only the bytes that differ are switched.
    let buf: Arc<Vec<AtomicU8>> = Arc::new(issued.bytes().chain([0]).map(AtomicU8::new).collect());
    let diff: Vec<(usize, u8, u8)> = issued
        .bytes()
        .zip(forged.bytes())
        .enumerate()
        .filter(|(_, (x, y))| x != y)
        .map(|(i, (x, y))| (i, x, y))
        .collect();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (buf, stop) = (Arc::clone(&buf), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut spin = 1u32;
            while !stop.load(Ordering::Relaxed) {
                for &(i, _, y) in &diff {
                    buf[i].store(y, Ordering::Relaxed);
                }
                for _ in 0..spin {
                    std::hint::spin_loop();
                }
                for &(i, x, _) in &diff {
                    buf[i].store(x, Ordering::Relaxed);
                }
                for _ in 0..spin {
                    std::hint::spin_loop();
                }
                // Vary the period so that switches land everywhere in a call.
                spin = spin * 7 % 2039 + 1;
            }
        })
    };
    let ptr = buf.as_ptr() as *const c_char;
    let (mut accepted, mut calls) = (0u64, 0u64);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) && calls < 400_000 {
        // Every call misses the cache for the bytes it first sees half the time.
        if authorize(store, ptr, b) == keyscope_status::KEYSCOPE_OK {
            accepted += 1;
        }
        calls += 1;
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    assert_eq!(
        accepted, 0,
        "{accepted} of {calls} calls accepted claims that were never signed"
    );
    // Nothing wrong was cached either: the issued bytes still mean what was signed.
    assert_eq!(
        authorize(store, issued_c.as_ptr(), b),
        keyscope_status::KEYSCOPE_INSUFFICIENT_SCOPE
    );
    assert_eq!(
        authorize(store, issued_c.as_ptr(), a),
        keyscope_status::KEYSCOPE_OK
    );
    assert_eq!(
        authorize(store, forged_c.as_ptr(), b),
        keyscope_status::KEYSCOPE_INVALID_TOKEN
    );
    unsafe { keyscope_store_close(store) };
}

#[test]
fn an_oversized_or_null_token_is_refused_before_it_is_read_further() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.db").to_str().unwrap().to_owned();
    let store = c_store(&path);
    let big = CString::new("a".repeat(keyscope_core::token::MAX_TOKEN_BYTES + 1)).unwrap();
    assert_eq!(
        authorize(store, big.as_ptr(), c"reports"),
        keyscope_status::KEYSCOPE_INVALID_TOKEN
    );
    let max = CString::new("a".repeat(keyscope_core::token::MAX_TOKEN_BYTES)).unwrap();
    assert_eq!(
        authorize(store, max.as_ptr(), c"reports"),
        keyscope_status::KEYSCOPE_INVALID_TOKEN
    );
    assert_eq!(
        authorize(store, std::ptr::null(), c"reports"),
        keyscope_status::KEYSCOPE_INVALID_INPUT
    );
    assert_eq!(
        authorize(store, c"a.b\xff.c".as_ptr(), c"reports"),
        keyscope_status::KEYSCOPE_INVALID_INPUT
    );
    unsafe { keyscope_store_close(store) };
}
