//! Instruction counts of the hot calls, for `make bench-check` (benches/icount.py).
//!
//! `icount <op> <n>` sets a store up, runs `op` `n` times as a warm-up, then `n` more
//! times inside [`icount_measured`]. Run under
//! `valgrind --tool=callgrind --collect-atstart=no --toggle-collect=icount_measured`,
//! only the second batch is counted; divided by `n`, it is the instructions of one
//! call, the same on every run of the same binary. Without valgrind it prints a
//! wall-clock figure (not what the check compares).
//!
//! Everything the measured calls see is fixed or of fixed length: one `now` for every
//! call; a revocation staleness of 60 s, so no refresh of the key state falls inside
//! the measured part (the refresh that an open store makes is done in the warm-up);
//! Argon2 at a tiny cost (the lifecycle call never hashes, and the exchange's secret
//! is cached, but the one hash at key creation stays cheap under valgrind).
//!
//! Ops:
//! - `authorize`: the same token again (every claim and key-state check runs).
//! - `authorize_first_sight`: tokens never seen before, each landing in a slot of the
//!   verified-token cache that holds another token (the steady state of a busy
//!   process: every insert replaces an entry).
//! - `exchange_cached`: `issue_token` whose secret was verified before.
//! - `get_key`: one key read from the SQLite file store (a lifecycle call).
//! - `authorize_2threads` (wall clock only, not under valgrind): throughput of
//!   `authorize` from one thread and from two threads on one handle.

use std::hint::black_box;
use std::time::Instant;

use keyscope_core::jose::{Alg, Verifier};
use keyscope_core::{Argon2Params, KeyStore, NewKey, Options, Permission, Secret, Timestamp};

/// The region callgrind counts: `n` runs of `f`.
#[unsafe(no_mangle)]
#[inline(never)]
pub fn icount_measured(f: &mut dyn FnMut(usize), n: usize) {
    for i in 0..n {
        f(black_box(i));
    }
}

#[inline(never)]
fn warm_up(f: &mut dyn FnMut(usize), n: usize) {
    for i in 0..n {
        f(black_box(i));
    }
}

const IP: &str = "64.100.10.7";
const RESOURCE: &str = "deployments.networks";

struct Setup {
    store: KeyStore,
    key_id: String,
    secret: Secret,
    now: Timestamp,
    dir: std::path::PathBuf,
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn setup() -> Setup {
    let dir = std::env::temp_dir().join(format!("keyscope-icount-{:010}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let opts = Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        signing_keys: vec![("k1".into(), vec![7; 32])],
        revocation_staleness: 60.0,
        ..Options::default()
    };
    let store = KeyStore::open(dir.join("icount.db").to_str().unwrap(), opts).unwrap();
    let (key, secret) = store
        .create_key(NewKey {
            name: "bench".into(),
            grants: vec![
                "deployments.networks:write".into(),
                "reports:read".into(),
                "policies:read".into(),
            ],
            networks: vec![
                "64.100.10.0/24".into(),
                "2001:4860::/32".into(),
                "8.8.8.0/24".into(),
            ],
            ..Default::default()
        })
        .unwrap();
    // Whole seconds, so every token's claims have the same digits.
    let now = Timestamp::from_unix_seconds(Timestamp::now().unix_seconds(), "now").unwrap();
    Setup {
        store,
        key_id: key.id,
        secret,
        now,
        dir,
    }
}

fn issue(s: &Setup) -> String {
    s.store
        .issue_token(&s.key_id, &s.secret, Some(IP), None, Some(s.now))
        .unwrap()
        .access_token
}

fn authorize(s: &Setup, token: &str) {
    black_box(
        s.store
            .authorize(
                black_box(token),
                RESOURCE,
                Permission::Write,
                Some(IP),
                Some(s.now),
            )
            .unwrap(),
    );
}

/// `n` pairs of fresh tokens, the two of a pair in one cache slot and every pair in a
/// slot of its own. A fixed number of tokens is issued, and nothing allocated depends
/// on which slots they fall in, so the heap is laid out alike on every run (glibc's
/// memcmp and memcpy count other instructions at other alignments).
fn paired_tokens(s: &Setup, n: usize) -> Vec<(String, String)> {
    let tokens: Vec<String> = (0..keyscope_benches::PAIRING_TOKENS)
        .map(|_| issue(s))
        .collect();
    keyscope_benches::pair_by_slot(tokens, n)
}

fn two_threads(s: &Setup, secs: f64) {
    // Each thread its own token of the same key (two request threads), then both
    // threads on one token.
    let tokens = [issue(s), issue(s)];
    for t in &tokens {
        authorize(s, t);
    }
    let run = |threads: usize, shared: bool| -> f64 {
        let stop = std::sync::atomic::AtomicBool::new(false);
        let start = Instant::now();
        let total: u64 = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|i| {
                    let tok = &tokens[if shared { 0 } else { i }];
                    let stop = &stop;
                    scope.spawn(move || {
                        let mut n = 0u64;
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            for _ in 0..256 {
                                authorize(s, tok);
                            }
                            n += 256;
                        }
                        n
                    })
                })
                .collect();
            std::thread::sleep(std::time::Duration::from_secs_f64(secs));
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        total as f64 / start.elapsed().as_secs_f64()
    };
    for round in 0..5 {
        let one = run(1, false);
        let two = run(2, false);
        let two_shared = run(2, true);
        println!(
            "round {round}: one thread {:.3} M/s; two threads, own tokens {:.3} M/s ({:.2}x), \
             one token {:.3} M/s ({:.2}x)",
            one / 1e6,
            two / 1e6,
            two / one,
            two_shared / 1e6,
            two_shared / one
        );
    }
}

/// Wall-clock per call, minimum and median of `rounds` rounds: on a shared machine
/// the minimum is the figure least moved by the neighbours.
fn time_ops(s: &Setup, rounds: usize) {
    let token = issue(s);
    authorize(s, &token);
    let fresh: Vec<String> = (0..10_000).map(|_| issue(s)).collect();
    let report = |name: &str, calls: usize, f: &mut dyn FnMut(usize)| {
        let mut per_call: Vec<f64> = (0..rounds)
            .map(|r| {
                let start = Instant::now();
                for i in 0..calls {
                    f(r * calls + i);
                }
                start.elapsed().as_nanos() as f64 / calls as f64
            })
            .collect();
        per_call.sort_by(f64::total_cmp);
        println!(
            "{name:<28} min {:>8.3} µs   median {:>8.3} µs",
            per_call[0] / 1000.0,
            per_call[rounds / 2] / 1000.0
        );
    };
    report("authorize", 20_000, &mut |_| authorize(s, &token));
    report("authorize_first_sight", 10_000, &mut |i| {
        authorize(s, &fresh[i % fresh.len()])
    });
    // The same first sights with the tokens in the processor's caches, as a token
    // just read from a socket is: 64 pairs of tokens that share a cache slot, taken
    // in turn, so every call finds its slot held by the other of its pair.
    let pairs = paired_tokens(s, 64);
    let hot: Vec<&str> = pairs
        .iter()
        .flat_map(|(a, b)| [a.as_str(), b.as_str()])
        .collect();
    report("authorize_first_sight_hot", 10_000, &mut |i| {
        authorize(s, hot[i % hot.len()])
    });
    // The floor under every first sight: the HS256 check alone (the HMAC of the
    // token's signing input and the constant-time comparison), with a key of the
    // same length as the store's (whether it matches does not change the work).
    let verifier = Verifier::load(Alg::Hs256, &[], Some(&[7u8; 32])).unwrap();
    let signing_input = &token[..token.rfind('.').unwrap()];
    report("hs256_verify (the floor)", 20_000, &mut |_| {
        black_box(verifier.verify(black_box(signing_input.as_bytes()), &[0u8; 32]));
    });
    report("exchange_cached", 2_000, &mut |_| {
        black_box(
            s.store
                .issue_token(&s.key_id, &s.secret, Some(IP), None, Some(s.now))
                .unwrap(),
        );
    });
    report("get_key", 2_000, &mut |_| {
        black_box(s.store.get_key(&s.key_id, Some(s.now)).unwrap());
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (op, n) = match args.as_slice() {
        [_, op, n] => (op.as_str(), n.parse::<usize>().expect("n is a count")),
        _ => {
            eprintln!(
                "usage: icount <authorize|authorize_first_sight|exchange_cached|get_key|authorize_2threads> <n>"
            );
            std::process::exit(2);
        }
    };
    let s = setup();
    let started;
    match op {
        "authorize" => {
            let token = issue(&s);
            warm_up(&mut |_| authorize(&s, &token), n);
            started = Instant::now();
            icount_measured(&mut |_| authorize(&s, &token), n);
        }
        "authorize_first_sight" => {
            let pairs = paired_tokens(&s, 2 * n);
            let (warm, measured) = pairs.split_at(n);
            // The warm-up fills its own slots and then those the measured tokens land in.
            warm_up(&mut |i| authorize(&s, &warm[i].0), n);
            warm_up(&mut |i| authorize(&s, &warm[i].1), n);
            for (a, _) in measured {
                authorize(&s, a);
            }
            started = Instant::now();
            icount_measured(&mut |i| authorize(&s, &measured[i].1), n);
        }
        "exchange_cached" => {
            let (store, id, secret, now) = (&s.store, &s.key_id, &s.secret, s.now);
            let mut f = |_| {
                black_box(
                    store
                        .issue_token(id, black_box(secret), Some(IP), None, Some(now))
                        .unwrap(),
                );
            };
            warm_up(&mut f, n);
            started = Instant::now();
            icount_measured(&mut f, n);
        }
        "get_key" => {
            let mut f = |_| {
                black_box(s.store.get_key(black_box(&s.key_id), Some(s.now)).unwrap());
            };
            warm_up(&mut f, n);
            started = Instant::now();
            icount_measured(&mut f, n);
        }
        "loop_first_sight_hot" => {
            // For a profiler: first sights of 128 tokens in turn, two to a cache slot,
            // so the tokens stay in the processor's caches.
            let pairs = paired_tokens(&s, 64);
            let hot: Vec<&str> = pairs
                .iter()
                .flat_map(|(a, b)| [a.as_str(), b.as_str()])
                .collect();
            started = Instant::now();
            for i in 0..n * 10_000 {
                authorize(&s, hot[i % hot.len()]);
            }
            println!(
                "{:.3} µs per call",
                started.elapsed().as_nanos() as f64 / (n * 10_000) as f64 / 1000.0
            );
            return;
        }
        "loop_first_sight" => {
            // For a profiler: first sights only, 10 000 tokens cycled `n` times.
            let fresh: Vec<String> = (0..10_000).map(|_| issue(&s)).collect();
            started = Instant::now();
            for i in 0..n * fresh.len() {
                authorize(&s, &fresh[i % fresh.len()]);
            }
            println!(
                "{:.3} µs per call",
                started.elapsed().as_nanos() as f64 / (n * fresh.len()) as f64 / 1000.0
            );
            return;
        }
        "time" => {
            time_ops(&s, n);
            return;
        }
        "authorize_2threads" => {
            two_threads(&s, n as f64 / 1000.0);
            return;
        }
        other => {
            eprintln!("unknown op {other:?}");
            std::process::exit(2);
        }
    }
    let ns = started.elapsed().as_nanos() as f64 / n as f64;
    println!(
        "{op}: {:.3} µs per call (wall clock, {n} calls)",
        ns / 1000.0
    );
}
