//! Several handles on one store — processes of one host or hosts of a fleet — on the
//! backend under test (see `common`): revocation reaches every handle, state that
//! cannot be refreshed fails closed, a restored database is detected, readers never
//! queue behind a stuck writer, and every handle agrees on the signing keys.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{Db, Kind, Store};
use keyscope_core::key::DEFAULT_WITHIN_MS;
use keyscope_core::store::{
    self, AccessChanges, AuditEntry, Backend, KeyRecord, KeyScan, Mutation, SyncPoint,
};
use keyscope_core::{
    Argon2Params, ErrorKind, KeyStore, KeyUpdate, NewKey, Options, Permission, Result, Secret,
    Summary, Timestamp,
};

const READ: Permission = Permission::Read;

fn opts() -> Options {
    Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        signing_keys: vec![("k1".into(), vec![7; 32])],
        ..Options::default()
    }
}

fn key(s: &KeyStore, name: &str) -> (String, String) {
    let (k, secret) = s
        .create_key(NewKey {
            name: name.into(),
            grants: vec!["reports:read".into()],
            ..Default::default()
        })
        .unwrap();
    (k.id, secret.expose().to_owned())
}

fn token(s: &KeyStore, id: &str, secret: &str) -> String {
    s.issue_token(id, &Secret::new(secret), None, None, None)
        .unwrap()
        .access_token
}

/// Waits (up to 10 s) until `f` holds; the bound only keeps a broken build from
/// hanging, no timing is asserted.
fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_change_on_one_handle_reaches_another_within_the_staleness() {
    let db = Db::new();
    let writer = db.open(opts()).unwrap();
    let reader = db
        .open(Options {
            revocation_staleness: 0.2,
            ..opts()
        })
        .unwrap();
    for change in ["refresh", "disable", "narrow", "delete"] {
        let (id, secret) = key(&writer, &format!("k-{change}"));
        let t = token(&writer, &id, &secret);
        reader.authorize(&t, "reports", READ, None, None).unwrap();
        match change {
            "refresh" => drop(writer.refresh_key(&id, 0, None, None).unwrap()),
            "disable" => drop(
                writer
                    .update_key(
                        &id,
                        KeyUpdate {
                            enabled: Some(false),
                            ..Default::default()
                        },
                    )
                    .unwrap(),
            ),
            "narrow" => drop(
                writer
                    .update_key(
                        &id,
                        KeyUpdate {
                            grants: Some(vec!["admin:read".into()]),
                            ..Default::default()
                        },
                    )
                    .unwrap(),
            ),
            _ => writer.delete_key(&id, None, None).unwrap(),
        }
        eventually(change, || {
            reader.authorize(&t, "reports", READ, None, None).is_err()
        });
    }
}

#[test]
fn every_handle_of_a_store_agrees_on_its_own_signing_key() {
    let db = Db::new();
    let no_keys = Options {
        signing_keys: vec![],
        ..opts()
    };
    let a = db.open(no_keys.clone()).unwrap();
    let b = db.open(no_keys).unwrap();
    let current = |s: &KeyStore| {
        s.signing_keys(None)
            .unwrap()
            .into_iter()
            .find(|k| k.state == "current")
            .unwrap()
            .kid
    };
    assert_eq!(current(&a), current(&b));
    let (id, secret) = key(&a, "shared");
    let t = token(&a, &id, &secret);
    b.authorize(&t, "reports", READ, None, None).unwrap();
}

#[test]
fn many_handles_opening_one_new_store_at_once_all_succeed() {
    for _ in 0..3 {
        let db = Db::new();
        let barrier = std::sync::Barrier::new(6);
        std::thread::scope(|scope| {
            for i in 0..6 {
                let (db, barrier) = (&db, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let s = db.open(opts()).unwrap();
                    key(&s, &format!("k{i}"));
                });
            }
        });
        let s = db.open(opts()).unwrap();
        assert_eq!(s.summary(DEFAULT_WITHIN_MS, None).unwrap().total, 6);
    }
}

#[test]
fn a_contested_name_has_exactly_one_winner_across_handles() {
    let db = Db::new();
    let handles: Vec<Store> = (0..4).map(|_| db.open(opts()).unwrap()).collect();
    let results: Vec<_> = std::thread::scope(|scope| {
        let joins: Vec<_> = handles
            .iter()
            .map(|h| {
                scope.spawn(move || {
                    (0..5)
                        .map(|i| {
                            h.create_key(NewKey {
                                name: format!("contested-{i}"),
                                grants: vec!["reports:read".into()],
                                ..Default::default()
                            })
                            .map(|_| ())
                            .map_err(|e| e.kind())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        joins.into_iter().map(|j| j.join().unwrap()).collect()
    });
    for i in 0..5 {
        let wins = results.iter().filter(|r| r[i].is_ok()).count();
        assert_eq!(wins, 1, "name contested-{i}");
        for r in &results {
            if let Err(kind) = r[i] {
                assert_eq!(kind, ErrorKind::Conflict);
            }
        }
    }
    assert_eq!(
        handles[0].summary(DEFAULT_WITHIN_MS, None).unwrap().total,
        5
    );
}

/// A backend whose access-log reads can be made to fail, over a real one.
struct Flaky {
    inner: Box<dyn Backend>,
    failing: Arc<AtomicBool>,
}

impl Flaky {
    fn check(&self) -> Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            Err(keyscope_core::Error::storage("injected fault"))
        } else {
            Ok(())
        }
    }
}

impl Backend for Flaky {
    fn insert_key(&self, rec: &mut KeyRecord, audit: &AuditEntry) -> Result<()> {
        self.inner.insert_key(rec, audit)
    }
    fn get_key(&self, org: Option<&str>, id: &str) -> Result<Option<KeyRecord>> {
        self.check()?;
        self.inner.get_key(org, id)
    }
    fn update_key(&self, org: &str, id: &str, change: &mut Mutation<'_>) -> Result<KeyRecord> {
        self.inner.update_key(org, id, change)
    }
    fn delete_key(
        &self,
        org: &str,
        id: &str,
        audit: &dyn Fn(&KeyRecord) -> Result<AuditEntry>,
    ) -> Result<()> {
        self.inner.delete_key(org, id, audit)
    }
    fn scan_keys(&self, scan: &KeyScan<'_>) -> Result<Vec<KeyRecord>> {
        self.inner.scan_keys(scan)
    }
    fn summary(&self, org: &str, now: Timestamp, until: Timestamp) -> Result<Summary> {
        self.inner.summary(org, now, until)
    }
    fn audit_log(
        &self,
        org: &str,
        key_id: Option<&str>,
        before_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, keyscope_core::AuditRecord)>> {
        self.inner.audit_log(org, key_id, before_seq, limit)
    }
    fn touch_last_used(&self, id: &str, at: Timestamp) -> Result<()> {
        self.inner.touch_last_used(id, at)
    }
    fn replace_hash(&self, id: &str, old: &str, new: &str) -> Result<()> {
        self.inner.replace_hash(id, old, new)
    }
    fn sync_point(&self) -> Result<SyncPoint> {
        self.inner.sync_point()
    }
    fn access_changes(&self, since: SyncPoint) -> Result<AccessChanges> {
        self.check()?;
        self.inner.access_changes(since)
    }
    fn signing_table(&self) -> Result<keyscope_core::signing::SigningTable> {
        self.inner.signing_table()
    }
    fn update_signing_table(
        &self,
        audit_org: &str,
        change: &mut store::SigningChange<'_>,
    ) -> Result<()> {
        self.inner.update_signing_table(audit_org, change)
    }
    fn revoke_token_id(&self, jti: &str, until: i64, now: Timestamp) -> Result<()> {
        self.inner.revoke_token_id(jti, until, now)
    }
    fn revoked_token_ids(&self, now: Timestamp) -> Result<Vec<String>> {
        self.check()?;
        self.inner.revoked_token_ids(now)
    }
    fn export(&self) -> Result<store::Snapshot> {
        self.inner.export()
    }
    fn import(&self, snapshot: &store::Snapshot) -> Result<()> {
        self.inner.import(snapshot)
    }
    fn close(&self) {
        self.inner.close()
    }
}

fn flaky(db: &Arc<Db>, options: Options) -> (KeyStore, Arc<AtomicBool>) {
    let options = db.options(options);
    let failing = Arc::new(AtomicBool::new(false));
    let backend = Flaky {
        inner: store::open(db.location(), &options.store).unwrap(),
        failing: Arc::clone(&failing),
    };
    let s = KeyStore::with_backend(Box::new(backend), options).unwrap();
    (s, failing)
}

#[test]
fn a_handle_that_cannot_refresh_fails_closed_after_the_offline_grace_then_recovers() {
    let db = Db::new();
    let writer = db.open(opts()).unwrap();
    let (reader, failing) = flaky(
        &db,
        Options {
            revocation_staleness: 0.0,
            offline_grace: 0.0,
            ..opts()
        },
    );
    let (id, secret) = key(&writer, "k");
    let t = token(&writer, &id, &secret);
    reader.authorize(&t, "reports", READ, None, None).unwrap();
    writer.refresh_key(&id, 0, None, None).unwrap();
    failing.store(true, Ordering::SeqCst);
    // The refresh that would have seen the revocation fails: with no grace left the
    // handle must not answer from its stale memory.
    for _ in 0..3 {
        let e = reader
            .authorize(&t, "reports", READ, None, None)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Storage, "{e}");
    }
    failing.store(false, Ordering::SeqCst);
    // Once the store answers again, the handle catches up on what it missed.
    assert_eq!(
        reader
            .authorize(&t, "reports", READ, None, None)
            .unwrap_err()
            .kind(),
        ErrorKind::TokenRevoked
    );
}

#[test]
fn within_the_offline_grace_a_handle_keeps_answering_from_memory() {
    let db = Db::new();
    let writer = db.open(opts()).unwrap();
    let (reader, failing) = flaky(
        &db,
        Options {
            revocation_staleness: 0.0,
            offline_grace: 3600.0,
            ..opts()
        },
    );
    let (id, secret) = key(&writer, "k");
    let t = token(&writer, &id, &secret);
    reader.authorize(&t, "reports", READ, None, None).unwrap();
    failing.store(true, Ordering::SeqCst);
    for _ in 0..3 {
        reader.authorize(&t, "reports", READ, None, None).unwrap();
    }
}

/// Takes a copy of the store's tables now; `restore` puts it back, as a restore from
/// a backup would.
struct Backup {
    db: Arc<Db>,
    sqlite_copy: Option<tempfile::NamedTempFile>,
}

impl Backup {
    fn take(db: &Arc<Db>) -> Backup {
        match common::kind() {
            Kind::Sqlite => {
                let copy = tempfile::NamedTempFile::new().unwrap();
                let src = rusqlite::Connection::open(db.location()).unwrap();
                src.backup(
                    rusqlite::MAIN_DB,
                    copy.path(),
                    None::<fn(rusqlite::backup::Progress)>,
                )
                .unwrap();
                Backup {
                    db: Arc::clone(db),
                    sqlite_copy: Some(copy),
                }
            }
            Kind::Postgres => {
                let s = db.schema().unwrap();
                common::admin_client()
                    .batch_execute(&format!(
                        "CREATE TABLE \"{s}\".bk_keys AS SELECT * FROM \"{s}\".keys;
                         CREATE TABLE \"{s}\".bk_log AS SELECT * FROM \"{s}\".access_log;
                         CREATE TABLE \"{s}\".bk_meta AS SELECT * FROM \"{s}\".meta;"
                    ))
                    .unwrap();
                Backup {
                    db: Arc::clone(db),
                    sqlite_copy: None,
                }
            }
        }
    }

    fn restore(&self) {
        match &self.sqlite_copy {
            Some(copy) => {
                let mut live = rusqlite::Connection::open(self.db.location()).unwrap();
                live.restore(
                    rusqlite::MAIN_DB,
                    copy.path(),
                    None::<fn(rusqlite::backup::Progress)>,
                )
                .unwrap();
            }
            None => {
                let s = self.db.schema().unwrap();
                common::admin_client()
                    .batch_execute(&format!(
                        "BEGIN;
                         TRUNCATE \"{s}\".keys, \"{s}\".access_log;
                         INSERT INTO \"{s}\".keys SELECT * FROM \"{s}\".bk_keys;
                         INSERT INTO \"{s}\".access_log SELECT * FROM \"{s}\".bk_log;
                         UPDATE \"{s}\".meta SET access_rev = (SELECT access_rev FROM \"{s}\".bk_meta);
                         COMMIT;"
                    ))
                    .unwrap();
            }
        }
    }
}

#[test]
fn a_handle_notices_a_restored_database_and_reloads() {
    let db = Db::new();
    let writer = db.open(opts()).unwrap();
    let reader = db
        .open(Options {
            revocation_staleness: 0.0,
            ..opts()
        })
        .unwrap();
    let (victim, secret) = key(&writer, "victim");
    let t = token(&writer, &victim, &secret);
    let backup = Backup::take(&db);
    // Three changes the reader follows, then the database goes back to the backup.
    for i in 0..3 {
        key(&writer, &format!("after-backup-{i}"));
    }
    reader.authorize(&t, "reports", READ, None, None).unwrap();
    drop(writer);
    backup.restore();
    // On the restored database: the victim is disabled first, then enough other writes
    // follow that the log passes the revision the reader had reached.
    let writer = db.open(opts()).unwrap();
    writer
        .update_key(
            &victim,
            KeyUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    for i in 0..3 {
        key(&writer, &format!("after-restore-{i}"));
    }
    eventually("the reader refuses the disabled key", || {
        matches!(
            reader.authorize(&t, "reports", READ, None, None),
            Err(e) if e.kind() == ErrorKind::KeyDisabled
        )
    });
}

/// Holds the store's write lock from outside keyscope until dropped (the connection
/// is only held, never read).
#[allow(dead_code)]
enum WriteLock {
    Sqlite(rusqlite::Connection),
    Postgres(postgres::Client),
}

impl WriteLock {
    fn take(db: &Db) -> WriteLock {
        match common::kind() {
            Kind::Sqlite => {
                let c = rusqlite::Connection::open(db.location()).unwrap();
                c.execute_batch("BEGIN IMMEDIATE").unwrap();
                WriteLock::Sqlite(c)
            }
            Kind::Postgres => {
                let mut c = common::admin_client();
                let s = db.schema().unwrap();
                c.batch_execute(&format!(
                    "BEGIN; UPDATE \"{s}\".meta SET access_rev = access_rev;"
                ))
                .unwrap();
                WriteLock::Postgres(c)
            }
        }
    }
}

#[test]
fn authorize_never_queues_behind_a_writer_waiting_for_a_lock() {
    let db = Db::new();
    let s = db
        .open(Options {
            revocation_staleness: 0.0,
            store: keyscope_core::store::StoreOptions {
                busy_timeout_ms: 20_000,
                ..Default::default()
            },
            ..opts()
        })
        .unwrap();
    let (id, secret) = key(&s, "k");
    let t = token(&s, &id, &secret);
    let lock = WriteLock::take(&db);
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| key(&s, "stuck-writer"));
        std::thread::sleep(Duration::from_millis(200)); // let the writer block
        // A cache miss and an inline poll both read the store while the writer waits.
        s.clear_caches();
        let other = db.open(opts()).unwrap(); // a second handle: a cold cache
        for h in [&*s, &*other] {
            h.authorize(&t, "reports", READ, None, None).unwrap();
        }
        assert!(
            !writer.is_finished(),
            "the writer should still be waiting for the lock"
        );
        drop(lock);
        writer.join().unwrap();
    });
}
