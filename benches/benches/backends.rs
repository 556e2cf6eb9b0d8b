//! The same calls on SQLite and on PostgreSQL, side by side. Run:
//! `cargo bench -p keyscope-benches --bench backends` (PostgreSQL at
//! `KEYSCOPE_TEST_DATABASE_URL`, default `postgresql://postgres@127.0.0.1:5432/test`;
//! the benchmark makes a schema of its own and drops it).
//!
//! The 100 000-key store is built on SQLite and copied to PostgreSQL with `migrate`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use keyscope_core::key::DEFAULT_WITHIN_MS;
use keyscope_core::migrate::migrate;
use keyscope_core::store::StoreOptions;
use keyscope_core::time::DAY_MS;
use keyscope_core::{Argon2Params, KeyStore, ListQuery, NewKey, Options, Permission, Timestamp};

const SIGNING: [u8; 32] = [7; 32];

fn database_url() -> String {
    std::env::var("KEYSCOPE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "postgresql://postgres@127.0.0.1:5432/test".to_owned())
}

fn options(schema: Option<&str>) -> Options {
    Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        signing_keys: vec![("k1".into(), SIGNING.to_vec())],
        store: StoreOptions {
            schema: schema.map(str::to_owned),
            ..Default::default()
        },
        ..Options::default()
    }
}

fn populate(s: &KeyStore, n: usize) {
    let now = Timestamp::now();
    for i in 0..n {
        let expires_at = match i % 4 {
            0 => None,
            1 => Some(now.plus_millis((i as i64 % 60 + 1) * DAY_MS)),
            2 => Some(now.plus_millis(-((i as i64 % 60 + 1) * DAY_MS))),
            _ => Some(now.plus_millis(365 * DAY_MS)),
        };
        s.create_key(NewKey {
            name: format!("key-{i:06}"),
            description: Some(format!("benchmark key number {i}")),
            grants: vec!["reports:read".into(), "deployments.networks:write".into()],
            networks: vec!["64.100.10.0/24".into()],
            now: expires_at
                .map(|e| e.plus_millis(-DAY_MS))
                .filter(|_| i % 4 == 2),
            expires_at,
            ..Default::default()
        })
        .unwrap();
    }
}

struct Schema(String);

impl Drop for Schema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&database_url(), postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0));
        }
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite_path = dir.path().join("bench.db");
    let sqlite_path = sqlite_path.to_str().unwrap().to_owned();
    let schema = Schema(format!("ksbench_{}", std::process::id()));
    let url = database_url();

    let big_sqlite = KeyStore::open(&sqlite_path, options(None)).unwrap();
    populate(&big_sqlite, 100_000);
    migrate(
        &sqlite_path,
        &StoreOptions::default(),
        &url,
        &options(Some(&schema.0)).store,
    )
    .unwrap();
    let big_pg = KeyStore::open(&url, options(Some(&schema.0))).unwrap();

    for (name, s) in [("sqlite", &big_sqlite), ("postgres", &big_pg)] {
        let (key, secret) = s
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
        let token = s
            .issue_token(&key.id, &secret, Some("64.100.10.7"), None, None)
            .unwrap()
            .access_token;
        let fresh: Vec<String> = (0..10_000)
            .map(|_| {
                s.issue_token(&key.id, &secret, Some("64.100.10.7"), None, None)
                    .unwrap()
                    .access_token
            })
            .collect();
        let ids: Vec<String> = s
            .list_keys(&ListQuery {
                limit: 1000,
                ..Default::default()
            })
            .unwrap()
            .items
            .into_iter()
            .map(|k| k.id)
            .collect();
        let mut g = c.benchmark_group(name);
        let w = Permission::Write;
        g.bench_function("authorize_repeat_token", |b| {
            b.iter(|| {
                s.authorize(
                    black_box(&token),
                    "deployments.networks",
                    w,
                    Some("64.100.10.7"),
                    None,
                )
                .unwrap()
            })
        });
        let mut i = 0usize;
        g.bench_function("authorize_first_sight", |b| {
            b.iter(|| {
                i = (i + 1) % fresh.len();
                s.authorize(
                    black_box(&fresh[i]),
                    "deployments.networks",
                    w,
                    Some("64.100.10.7"),
                    None,
                )
                .unwrap()
            })
        });
        g.bench_function("issue_token_cached_secret", |b| {
            b.iter(|| {
                s.issue_token(&key.id, black_box(&secret), Some("64.100.10.7"), None, None)
                    .unwrap()
            })
        });
        let mut n = 0u64;
        g.bench_function("create_key_cheap_argon2", |b| {
            b.iter(|| {
                n += 1;
                s.create_key(NewKey {
                    name: format!("bench-create-{n}"),
                    grants: vec!["reports:read".into()],
                    ..Default::default()
                })
                .unwrap()
            })
        });
        let mut j = 0usize;
        g.bench_function("get_key", |b| {
            b.iter(|| {
                j = (j + 7) % ids.len();
                s.get_key(&ids[j], None).unwrap()
            })
        });
        g.bench_function("list_keys_page_of_50", |b| {
            let q = ListQuery {
                limit: 50,
                ..Default::default()
            };
            b.iter(|| s.list_keys(black_box(&q)).unwrap())
        });
        g.sample_size(20);
        g.bench_function("summary_100k_keys", |b| {
            b.iter(|| s.summary(DEFAULT_WITHIN_MS, None).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
