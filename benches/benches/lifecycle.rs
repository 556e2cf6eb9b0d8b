//! Lifecycle costs (issue: key lifecycle). Run: `cargo bench -p keyscope-core --bench lifecycle`.
//!
//! `create_key` is reported beside one Argon2id hash at the default cost, so the
//! difference is keyscope's own overhead.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyscope_core::key::DEFAULT_WITHIN_MS;
use keyscope_core::time::DAY_MS;
use keyscope_core::{Argon2Params, KeyStore, ListQuery, NewKey, Options, Timestamp, secret};

fn store(dir: &tempfile::TempDir, argon2: Argon2Params) -> KeyStore {
    let path = dir.path().join("bench.db");
    KeyStore::open(
        path.to_str().unwrap(),
        Options {
            argon2,
            ..Options::default()
        },
    )
    .unwrap()
}

fn cheap() -> Argon2Params {
    Argon2Params {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    }
}

fn populate(s: &KeyStore, n: usize) -> Vec<String> {
    let now = Timestamp::now();
    (0..n)
        .map(|i| {
            let expires_at = match i % 4 {
                0 => None,
                1 => Some(now.plus_millis((i as i64 % 60 + 1) * DAY_MS)),
                2 => Some(
                    now.plus_millis(-((i as i64 % 60 + 1) * DAY_MS))
                        .max(Timestamp::MIN),
                ),
                _ => Some(now.plus_millis(365 * DAY_MS)),
            };
            let new = NewKey {
                name: format!("key-{i:06}"),
                description: Some(format!("benchmark key number {i}")),
                grants: vec!["reports:read".into(), "deployments.networks:write".into()],
                networks: vec!["64.100.10.0/24".into()],
                // Expired keys are created "in the past" so their expiry is after `now`.
                now: expires_at
                    .map(|e| e.plus_millis(-DAY_MS))
                    .filter(|_| i % 4 == 2),
                expires_at,
                ..Default::default()
            };
            s.create_key(new).unwrap().0.id
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let default_cost = store(&dir, Argon2Params::default());
    let mut n = 0u64;
    let mut g = c.benchmark_group("create");
    g.sample_size(30);
    g.bench_function("argon2id_hash_default_cost", |b| {
        let s = secret::generate("kss").unwrap();
        b.iter(|| secret::hash(black_box(&s), &Argon2Params::default()).unwrap())
    });
    g.bench_function("create_key_default_cost", |b| {
        b.iter(|| {
            n += 1;
            let new = NewKey {
                name: format!("create-{n}"),
                grants: vec!["reports:read".into()],
                networks: vec!["64.100.10.0/24".into()],
                ..Default::default()
            };
            default_cost.create_key(new).unwrap()
        })
    });
    g.finish();

    let dir2 = tempfile::tempdir().unwrap();
    let big = store(&dir2, cheap());
    let ids = populate(&big, 100_000);
    let mut g = c.benchmark_group("read_100k");
    let mut i = 0usize;
    g.bench_function("get_key", |b| {
        b.iter(|| {
            i = (i + 7919) % ids.len();
            big.get_key(&ids[i], None).unwrap()
        })
    });
    g.bench_function("list_keys_page_of_50", |b| {
        let q = ListQuery {
            limit: 50,
            ..Default::default()
        };
        b.iter(|| big.list_keys(black_box(&q)).unwrap())
    });
    g.bench_function("list_keys_expiring_page_of_50", |b| {
        let q = ListQuery {
            limit: 50,
            status: keyscope_core::StatusFilter::Expiring,
            ..Default::default()
        };
        b.iter(|| big.list_keys(black_box(&q)).unwrap())
    });
    g.sample_size(20);
    g.bench_function("summary_100k_keys", |b| {
        b.iter(|| big.summary(DEFAULT_WITHIN_MS, None).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
