//! What only the PostgreSQL backend has: URLs, TLS modes, login failures, its own
//! schema and migrations, options that are PostgreSQL-only, and the fleet-wide
//! throttle. Needs the server at `KEYSCOPE_TEST_DATABASE_URL` (see `common`); without
//! one every test fails, saying how to provide it.

mod common;

use common::Db;
use keyscope_core::store::StoreOptions;
use keyscope_core::{Argon2Params, ErrorKind, KeyStore, NewKey, Options};

fn opts(schema: &str) -> Options {
    Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        signing_keys: vec![("k1".into(), vec![7; 32])],
        store: StoreOptions {
            schema: Some(schema.to_owned()),
            ..Default::default()
        },
        ..Options::default()
    }
}

/// A fresh schema that is dropped at the end of the test.
struct Schema(String);

impl Schema {
    fn new() -> Schema {
        drop(common::admin_client());
        Schema(common::new_schema())
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        common::admin_client()
            .batch_execute(&format!("DROP SCHEMA IF EXISTS \"{}\" CASCADE", self.0))
            .unwrap();
    }
}

/// The test server's URL with `query` appended.
fn url_with(query: &str) -> String {
    let base = common::database_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{query}")
}

fn open_err(url: &str, options: Options) -> keyscope_core::Error {
    KeyStore::open(url, options).unwrap_err()
}

#[test]
fn tables_live_in_their_own_schema_with_a_version_row() {
    let s = Schema::new();
    let store = KeyStore::open(&common::database_url(), opts(&s.0)).unwrap();
    store
        .create_key(NewKey {
            name: "k".into(),
            grants: vec!["reports:read".into()],
            ..Default::default()
        })
        .unwrap();
    let mut c = common::admin_client();
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1 \
             ORDER BY 1",
            &[&s.0],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for t in [
        "access_log",
        "audit",
        "failures",
        "keys",
        "meta",
        "signing_keys",
    ] {
        assert!(tables.iter().any(|x| x == t), "{t} missing from {tables:?}");
    }
    let version: i32 = c
        .query_one(&format!("SELECT schema_version FROM \"{}\".meta", s.0), &[])
        .unwrap()
        .get(0);
    assert_eq!(version, keyscope_core::store::postgres::SCHEMA_VERSION);
}

#[test]
fn a_schema_written_by_a_newer_keyscope_is_refused() {
    let s = Schema::new();
    drop(KeyStore::open(&common::database_url(), opts(&s.0)).unwrap());
    common::admin_client()
        .batch_execute(&format!("UPDATE \"{}\".meta SET schema_version = 99", s.0))
        .unwrap();
    let e = open_err(&common::database_url(), opts(&s.0));
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(e.message().contains("newer"), "{e}");
}

#[test]
fn a_malformed_url_is_invalid_input_naming_the_part_and_never_a_file() {
    for (url, field) in [
        ("postgresql://u:pw@127.0.0.1:0/test", "url.port"),
        ("postgres://127.0.0.1/test?sslmode=maybe", "url.sslmode"),
        ("postgres://127.0.0.1/test?colour=blue", "url.colour"),
    ] {
        let e = open_err(url, Options::default());
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{url}: {e}");
        assert_eq!(e.field(), Some(field), "{url}: {e}");
        assert!(!std::path::Path::new(url).exists());
    }
}

#[test]
fn a_refused_login_is_storage_with_the_servers_reason_and_no_password() {
    let base = common::database_url();
    let rest = base.split_once("://").unwrap().1;
    let hostpart = rest.split_once('@').map_or(rest, |(_, h)| h);
    let url = format!("postgresql://no_such_role_ks:s3cr3t-pw@{hostpart}");
    let e = open_err(&url, opts("keyscope"));
    assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
    assert!(e.message().contains("no_such_role_ks"), "{e}");
    assert!(!e.message().contains("s3cr3t-pw"), "{e}");
    assert!(!format!("{e:?}").contains("s3cr3t-pw"));
}

#[test]
fn an_unreachable_server_is_storage() {
    let e = open_err(
        "postgresql://postgres:pw@127.0.0.1:1/test?connect_timeout=2",
        Options::default(),
    );
    assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
    assert!(!e.message().contains(":pw@"), "{e}");
}

#[test]
fn sslmode_require_encrypts_and_verify_full_checks_the_certificate() {
    let s = Schema::new();
    // The server's certificate is self-signed: `require` accepts it without checking.
    let store = KeyStore::open(&url_with("sslmode=require"), opts(&s.0)).unwrap();
    let mut c = common::admin_client();
    let encrypted: bool = c
        .query_one(
            "SELECT bool_or(ssl) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) \
             WHERE application_name = 'keyscope'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(encrypted);
    drop(store);
    // `verify-full` with no trusted root that signed it must refuse the connection.
    let e = open_err(
        &url_with("sslmode=verify-full&sslrootcert=/etc/ssl/certs/ca-certificates.crt"),
        opts(&s.0),
    );
    assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
    // Trusting the server's own certificate: `verify-ca` passes (no name check),
    // `verify-full` to 127.0.0.1 fails (the certificate names localhost only).
    let snakeoil = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    if std::path::Path::new(snakeoil).exists() {
        KeyStore::open(
            &url_with(&format!("sslmode=verify-ca&sslrootcert={snakeoil}")),
            opts(&s.0),
        )
        .unwrap();
        let e = open_err(
            &url_with(&format!("sslmode=verify-full&sslrootcert={snakeoil}")),
            opts(&s.0),
        );
        assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
    }
}

#[test]
fn postgres_only_options_are_invalid_on_sqlite_and_checked_on_postgres() {
    for (o, field) in [
        (
            StoreOptions {
                schema: Some("x".into()),
                ..Default::default()
            },
            "schema",
        ),
        (
            StoreOptions {
                pool_size: Some(2),
                ..Default::default()
            },
            "pool_size",
        ),
        (
            StoreOptions {
                listen: Some(false),
                ..Default::default()
            },
            "listen",
        ),
    ] {
        let e = KeyStore::open(
            ":memory:",
            Options {
                store: o,
                ..Options::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.field(), Some(field), "{e}");
    }
    let url = common::database_url();
    for (o, field) in [
        (
            StoreOptions {
                schema: Some("Bad-Name".into()),
                ..Default::default()
            },
            "schema",
        ),
        (
            StoreOptions {
                pool_size: Some(65),
                ..Default::default()
            },
            "pool_size",
        ),
    ] {
        let e = KeyStore::open(
            &url,
            Options {
                store: o,
                ..Options::default()
            },
        )
        .unwrap_err();
        assert_eq!(e.field(), Some(field), "{e}");
    }
}

#[test]
fn without_listen_a_handle_still_follows_changes_by_polling() {
    let db = Db::new_postgres();
    let writer = db.open(opts(db.schema().unwrap())).unwrap();
    let mut o = opts(db.schema().unwrap());
    o.store.listen = Some(false);
    o.revocation_staleness = 0.2;
    let reader = db.open(o).unwrap();
    let (k, secret) = writer
        .create_key(NewKey {
            name: "k".into(),
            grants: vec!["reports:read".into()],
            ..Default::default()
        })
        .unwrap();
    let t = writer
        .issue_token(&k.id, &secret, None, None, None)
        .unwrap()
        .access_token;
    let read = keyscope_core::Permission::Read;
    reader.authorize(&t, "reports", read, None, None).unwrap();
    writer.delete_key(&k.id, None, None).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while reader.authorize(&t, "reports", read, None, None).is_ok() {
        assert!(std::time::Instant::now() < deadline, "never refused");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn the_throttle_counts_failures_across_every_handle_of_the_fleet() {
    let db = Db::new_postgres();
    let mut o = opts(db.schema().unwrap());
    o.max_failed_exchanges_per_minute = 3;
    let hosts: Vec<_> = (0..3).map(|_| db.open(o.clone()).unwrap()).collect();
    let (k, secret) = hosts[0]
        .create_key(NewKey {
            name: "k".into(),
            grants: vec!["reports:read".into()],
            ..Default::default()
        })
        .unwrap();
    let wrong = keyscope_core::secret::generate("kss").unwrap();
    let t0 = keyscope_core::Timestamp::from_millis(1_900_000_000_000, "now").unwrap();
    // One guess on each host: three in all, so the fourth is refused wherever it lands,
    // even on a host that saw no failure itself.
    for (i, h) in hosts.iter().enumerate() {
        let e = h
            .issue_token(&k.id, &wrong, None, None, Some(t0.plus_millis(i as i64)))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidCredentials);
    }
    let fresh = db.open(o.clone()).unwrap();
    let e = fresh
        .issue_token(&k.id, &wrong, None, None, Some(t0.plus_millis(10)))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(60));
    // The right secret is limited too until it has been verified once on that handle…
    assert_eq!(
        fresh
            .issue_token(&k.id, &secret, None, None, Some(t0.plus_millis(20)))
            .unwrap_err()
            .kind(),
        ErrorKind::RateLimited
    );
    // …and a minute later the window has moved on.
    fresh
        .issue_token(&k.id, &secret, None, None, Some(t0.plus_millis(60_001)))
        .unwrap();
}

/// A TCP proxy to the test server that can cut every connection and refuse new ones,
/// like a network partition, and heal again.
struct Proxy {
    port: u16,
    cut: std::sync::Arc<std::sync::atomic::AtomicBool>,
    live: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Proxy {
    fn start() -> Proxy {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::Ordering;
        let url = common::database_url();
        let after_at = url.split_once('@').map_or(url.as_str(), |(_, h)| h);
        let hostport = after_at.split('/').next().unwrap();
        let upstream = if hostport.contains(':') {
            hostport.to_owned()
        } else {
            format!("{hostport}:5432")
        };
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let proxy = Proxy {
            port: listener.local_addr().unwrap().port(),
            cut: Default::default(),
            live: Default::default(),
        };
        let (cut, live) = (proxy.cut.clone(), proxy.live.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if cut.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let mut l = live.lock().unwrap();
                l.push(client.try_clone().unwrap());
                l.push(server.try_clone().unwrap());
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        proxy
    }

    fn url(&self) -> String {
        let url = common::database_url();
        let (scheme_user, after_at) = url.split_once('@').unwrap_or(("postgresql:/", &url));
        let db = after_at.split_once('/').map_or("", |(_, d)| d);
        format!("{scheme_user}@127.0.0.1:{}/{db}", self.port)
    }

    fn cut(&self) {
        self.cut.store(true, std::sync::atomic::Ordering::SeqCst);
        for s in self.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    fn heal(&self) {
        self.cut.store(false, std::sync::atomic::Ordering::SeqCst);
    }
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn a_cut_connection_answers_from_memory_until_the_offline_grace_then_fails_closed_then_recovers() {
    let s = Schema::new();
    let proxy = Proxy::start();
    let admin = KeyStore::open(&common::database_url(), opts(&s.0)).unwrap();
    let mut o = opts(&s.0);
    o.revocation_staleness = 0.2;
    o.offline_grace = 1.0;
    let host = KeyStore::open(&format!("{}?connect_timeout=1", proxy.url()), o).unwrap();
    let (k, secret) = admin
        .create_key(NewKey {
            name: "k".into(),
            grants: vec!["reports:read".into()],
            ..Default::default()
        })
        .unwrap();
    let t = admin
        .issue_token(&k.id, &secret, None, None, None)
        .unwrap()
        .access_token;
    let read = keyscope_core::Permission::Read;
    // Let the handle's thread apply the creation first (applying it evicts the key),
    // so the key's state is in memory when the connection is cut.
    std::thread::sleep(std::time::Duration::from_millis(1000));
    host.authorize(&t, "reports", read, None, None).unwrap();
    proxy.cut();
    // Inside the grace the handle answers from memory, and lifecycle calls fail at once.
    host.authorize(&t, "reports", read, None, None).unwrap();
    assert_eq!(
        host.get_key(&k.id, None).unwrap_err().kind(),
        ErrorKind::Storage
    );
    // Meanwhile the key is disabled; past the grace the handle refuses with storage.
    admin
        .update_key(
            &k.id,
            keyscope_core::KeyUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    wait_until("storage after the offline grace", || {
        matches!(host.authorize(&t, "reports", read, None, None),
                 Err(e) if e.kind() == ErrorKind::Storage)
    });
    proxy.heal();
    // Once the database answers again the handle catches up: the disabled key is seen.
    wait_until("the handle catches up", || {
        matches!(host.authorize(&t, "reports", read, None, None),
                 Err(e) if e.kind() == ErrorKind::KeyDisabled)
    });
    host.get_key(&k.id, None).unwrap();
}

#[test]
fn handles_reconnect_and_catch_up_after_the_server_drops_every_connection() {
    let s = Schema::new();
    let app = format!("ks_restart_{}", &s.0);
    let url = url_with(&format!("application_name={app}"));
    let mut o = opts(&s.0);
    o.revocation_staleness = 0.2;
    let host = KeyStore::open(&url, o.clone()).unwrap();
    let admin = KeyStore::open(&common::database_url(), opts(&s.0)).unwrap();
    let read = keyscope_core::Permission::Read;
    let mut tokens = Vec::new();
    for i in 0..3 {
        let (k, secret) = admin
            .create_key(NewKey {
                name: format!("k{i}"),
                grants: vec!["reports:read".into()],
                ..Default::default()
            })
            .unwrap();
        let t = admin
            .issue_token(&k.id, &secret, None, None, None)
            .unwrap()
            .access_token;
        host.authorize(&t, "reports", read, None, None).unwrap();
        host.get_key(&k.id, None).unwrap(); // a pooled connection too
        tokens.push((k.id, t));
    }
    // What a server restart does to its clients: every connection of the handle ends.
    let kill = format!(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '{app}'"
    );
    let killed: i64 = common::admin_client().query_one(&kill, &[]).unwrap().get(0);
    assert!(killed >= 2, "killed {killed} connections");
    // Changes made while the handle reconnects reach it.
    admin.delete_key(&tokens[0].0, None, None).unwrap();
    admin.refresh_key(&tokens[1].0, 0, None, None).unwrap();
    wait_until("the deletion and the refresh reach the handle", || {
        host.authorize(&tokens[0].1, "reports", read, None, None)
            .is_err()
            && host
                .authorize(&tokens[1].1, "reports", read, None, None)
                .is_err()
    });
    host.authorize(&tokens[2].1, "reports", read, None, None)
        .unwrap();
    // Lifecycle calls work at once: a dead pooled connection is replaced.
    host.get_key(&tokens[2].0, None).unwrap();
}
