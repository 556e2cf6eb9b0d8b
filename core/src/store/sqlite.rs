//! The embedded SQLite backend: WAL, a busy timeout, `BEGIN IMMEDIATE` writes and
//! `PRAGMA user_version` migrations (docs/storage.md).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::functions::FunctionFlags;
use rusqlite::{
    Connection, ErrorCode, OpenFlags, OptionalExtension, Row, TransactionBehavior, params,
};

use super::{
    AccessChanges, AuditEntry, Backend, KeyRecord, KeyScan, Mutation, PreviousSecret, Snapshot,
    SyncPoint,
};
use crate::error::{Error, ErrorKind, Result};
use crate::grant::Grant;
use crate::key::{AuditAction, AuditRecord, StatusFilter, Summary};
use crate::network::Network;
use crate::signing::{self, KeyPairs, SigningRow, SigningTable};
use crate::time::Timestamp;

/// Forward migrations; entry `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: keys and the audit log.
    "CREATE TABLE keys (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        id                TEXT NOT NULL UNIQUE,
        org               TEXT NOT NULL,
        name              TEXT NOT NULL,
        description       TEXT,
        expires_at        INTEGER,
        grants            TEXT NOT NULL,
        networks          TEXT NOT NULL,
        enabled           INTEGER NOT NULL,
        version           INTEGER NOT NULL,
        created_at        INTEGER NOT NULL,
        updated_at        INTEGER NOT NULL,
        last_refreshed_at INTEGER,
        last_used_at      INTEGER,
        secret_hash       TEXT NOT NULL,
        generation        INTEGER NOT NULL,
        prev_secret_hash  TEXT,
        prev_until        INTEGER
    );
    CREATE UNIQUE INDEX keys_org_name ON keys(org, name);
    CREATE INDEX keys_org_seq ON keys(org, seq);
    CREATE INDEX keys_org_status ON keys(org, enabled, expires_at);
    CREATE TABLE audit (
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        org      TEXT NOT NULL,
        at       INTEGER NOT NULL,
        actor    TEXT,
        action   TEXT NOT NULL,
        key_id   TEXT NOT NULL,
        key_name TEXT NOT NULL,
        changes  TEXT NOT NULL
    );
    CREATE INDEX audit_org_key ON audit(org, key_id, seq);",
    // 2: the access log: one row per write that changes what a key's tokens may do,
    // so other handles reload only the keys that changed.
    "CREATE TABLE access_log (
        rev    INTEGER PRIMARY KEY AUTOINCREMENT,
        key_id TEXT NOT NULL
    );",
    // 3: a random nonce per access-log row, so a handle tells a restored database from
    // the one it followed.
    "ALTER TABLE access_log ADD COLUMN nonce INTEGER NOT NULL DEFAULT 0;",
    // 4: signing keys kept in the store (a previous version's key file is imported
    // into it on first open), settings, and the revoked-token deny list.
    "CREATE TABLE signing_keys (
        kid        TEXT PRIMARY KEY,
        alg        TEXT NOT NULL,
        state      TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        retired_at INTEGER,
        private    BLOB,
        sealed     INTEGER NOT NULL,
        public     BLOB NOT NULL,
        public_jwk TEXT
    );
    CREATE TABLE settings (
        name  TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE revoked_tokens (
        jti      TEXT PRIMARY KEY,
        until_ms INTEGER NOT NULL
    );",
    // 5: who created each key (the Key Admin API reports it).
    "ALTER TABLE keys ADD COLUMN creator TEXT;
    ALTER TABLE keys ADD COLUMN creator_key_id TEXT;",
];

/// Rows of the access log kept; a handle further behind reloads every key.
const ACCESS_LOG_KEEP: i64 = 10_000;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

const KEY_COLUMNS: &str = "seq, id, org, name, description, expires_at, grants, networks, enabled, \
     version, created_at, updated_at, last_refreshed_at, last_used_at, secret_hash, generation, \
     prev_secret_hash, prev_until, creator, creator_key_id";

/// A key store in one SQLite file (or `":memory:"`), shared safely by many threads
/// and processes.
///
/// A file store keeps two connections: writes go through one, reads (and
/// `authorize`'s refreshes and cache misses) through the other, so a read never queues
/// behind a write that waits out the busy timeout for another process's lock. In WAL
/// mode a reader is never blocked by a writer.
pub struct SqliteBackend {
    path: String,
    write: Mutex<Option<Connection>>,
    /// `None` for `":memory:"`, whose one connection holds the whole database.
    read: Option<Mutex<Option<Connection>>>,
    /// `PRAGMA data_version` of the read connection at the last log read, and the
    /// position read then: an unchanged version means no other connection committed.
    seen: Mutex<(i64, SyncPoint)>,
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::storage(format!("database error: {e}"))
    }
}

fn connect(path: &str, busy_timeout: Duration) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| Error::storage(format!("cannot open {path:?}: {e}")))?;
    conn.busy_timeout(busy_timeout)?;
    conn.create_scalar_function(
        "ks_contains",
        3,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let needle: String = ctx.get(2)?;
            let hit = |i: usize| -> rusqlite::Result<bool> {
                let hay: Option<String> = ctx.get(i)?;
                Ok(hay.is_some_and(|h| crate::text::contains_folded(&h, &needle)))
            };
            Ok(hit(0)? || hit(1)?)
        },
    )?;
    Ok(conn)
}

impl SqliteBackend {
    /// Opens (creating if missing) the database at `path` and brings its schema up to
    /// date. A file written by a newer keyscope is refused with `storage`.
    pub fn open(path: &str, busy_timeout: Duration) -> Result<Self> {
        let conn = connect(path, busy_timeout)?;
        // Switching a new file to WAL takes an exclusive lock that SQLite does not wait
        // for: processes opening one new store at once retry until the busy timeout.
        let mode: String = with_retry(busy_timeout, || {
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        })
        .map_err(|e| db_error(e, "", ""))?;
        let memory = path == ":memory:";
        if !memory && !mode.eq_ignore_ascii_case("wal") {
            return Err(Error::storage(format!(
                "cannot put {path:?} in WAL mode (got {mode})"
            )));
        }
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
        migrate(&conn, busy_timeout)?;
        let read = if memory {
            None
        } else {
            let r = connect(path, busy_timeout)?;
            r.execute_batch("PRAGMA foreign_keys = ON;")?;
            Some(Mutex::new(Some(r)))
        };
        let backend = SqliteBackend {
            path: path.to_owned(),
            write: Mutex::new(Some(conn)),
            read,
            seen: Mutex::new((i64::MIN, SyncPoint::default())),
        };
        Ok(backend)
    }

    fn with_write<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        with(&self.write, f)
    }

    fn with_read<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T>) -> Result<T> {
        with(self.read.as_ref().unwrap_or(&self.write), f)
    }
}

fn lock(m: &Mutex<Option<Connection>>) -> Result<MutexGuard<'_, Option<Connection>>> {
    let guard = m.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        return Err(Error::storage("the store is closed"));
    }
    Ok(guard)
}

fn with<T>(
    m: &Mutex<Option<Connection>>,
    f: impl FnOnce(&mut Connection) -> Result<T>,
) -> Result<T> {
    let mut guard = lock(m)?;
    f(guard.as_mut().expect("checked by lock"))
}

fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked))
}

/// Runs `f` again while the database is busy, until `timeout` has passed.
fn with_retry<T>(
    timeout: Duration,
    mut f: impl FnMut() -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match f() {
            Err(e) if is_busy(&e) && Instant::now() < deadline => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn migrate(conn: &Connection, busy_timeout: Duration) -> Result<()> {
    let current: i64 = with_retry(busy_timeout, || {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
    })?;
    if current > SCHEMA_VERSION {
        return Err(newer_schema(current));
    }
    if current == SCHEMA_VERSION {
        return Ok(());
    }
    // Returns the version found when it is newer than this build.
    let step = || -> rusqlite::Result<Option<i64>> {
        conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = (|| {
            // Another process may have migrated while we waited for the lock.
            let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if current > SCHEMA_VERSION {
                return Ok(Some(current));
            }
            for (v, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
                conn.execute_batch(sql)?;
                conn.execute_batch(&format!("PRAGMA user_version = {}", v + 1))?;
            }
            Ok(None)
        })();
        match result {
            Ok(newer) => conn.execute_batch("COMMIT").map(|_| newer),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e)
            }
        }
    };
    match with_retry(busy_timeout, step).map_err(|e| db_error(e, "", ""))? {
        Some(newer) => Err(newer_schema(newer)),
        None => Ok(()),
    }
}

fn newer_schema(found: i64) -> Error {
    Error::storage(format!(
        "the database has schema version {found}, newer than this keyscope supports \
         ({SCHEMA_VERSION}); upgrade keyscope to open it"
    ))
}

/// Maps SQLite failures to keyscope errors: a busy database past the timeout and a
/// duplicate name get their own messages.
fn db_error(e: rusqlite::Error, org: &str, name: &str) -> Error {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation => {
            Error::new(
                ErrorKind::Conflict,
                format!("a key named {name:?} already exists in org {org:?}"),
            )
            .with_field("name")
        }
        rusqlite::Error::SqliteFailure(f, _)
            if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
        {
            Error::storage(format!(
                "the database stayed locked past the busy timeout: {e}"
            ))
        }
        _ => Error::from(e),
    }
}

fn strings_json<T: ToString>(items: &[T]) -> String {
    serde_json::to_string(&items.iter().map(T::to_string).collect::<Vec<_>>())
        .expect("strings serialize")
}

fn parse_list<T>(
    json: &str,
    what: &str,
    parse: impl Fn(&str) -> Result<T>,
) -> rusqlite::Result<Vec<T>> {
    let corrupt = |why: String| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, why.into())
    };
    let items: Vec<String> =
        serde_json::from_str(json).map_err(|e| corrupt(format!("{what}: {e}")))?;
    items
        .iter()
        .map(|s| parse(s).map_err(|e| corrupt(format!("{what}: {e}"))))
        .collect()
}

fn ts(ms: Option<i64>) -> Option<Timestamp> {
    ms.map(|m| Timestamp::from_millis(m, "stored instant").unwrap_or(Timestamp::MAX))
}

/// An audit record from columns 1–6 (`at, actor, action, key_id, key_name, changes`).
fn audit_from_row(r: &Row<'_>) -> Result<AuditRecord> {
    let action: String = r.get(3)?;
    let changes: String = r.get(6)?;
    Ok(AuditRecord {
        at: ts(Some(r.get(1)?)).expect("some"),
        actor: r.get(2)?,
        action: AuditAction::parse(&action)?,
        key_id: r.get(4)?,
        key_name: r.get(5)?,
        changes: parse_list(&changes, "changes", |s| Ok(s.to_owned()))?,
    })
}

fn row_to_key(r: &Row<'_>) -> rusqlite::Result<KeyRecord> {
    let grants: String = r.get(6)?;
    let networks: String = r.get(7)?;
    let prev_hash: Option<String> = r.get(16)?;
    let prev_until: Option<i64> = r.get(17)?;
    Ok(KeyRecord {
        seq: r.get(0)?,
        id: r.get(1)?,
        org: r.get(2)?,
        name: r.get(3)?,
        description: r.get(4)?,
        expires_at: ts(r.get(5)?),
        grants: parse_list(&grants, "grants", |s| Grant::parse(s, "grant"))?,
        networks: parse_list(&networks, "networks", |s| Network::parse(s, "network"))?,
        enabled: r.get(8)?,
        version: r.get(9)?,
        created_at: ts(Some(r.get(10)?)).expect("some"),
        updated_at: ts(Some(r.get(11)?)).expect("some"),
        last_refreshed_at: ts(r.get(12)?),
        last_used_at: ts(r.get(13)?),
        secret_hash: r.get(14)?,
        generation: r.get(15)?,
        previous: match (prev_hash, prev_until) {
            (Some(hash), Some(until)) => Some(PreviousSecret {
                hash,
                until: ts(Some(until)).expect("some"),
            }),
            _ => None,
        },
        creator: r.get(18)?,
        creator_key_id: r.get(19)?,
    })
}

fn select_key(conn: &Connection, org: Option<&str>, id: &str) -> Result<Option<KeyRecord>> {
    let sql = format!("SELECT {KEY_COLUMNS} FROM keys WHERE id = ?1 AND (?2 IS NULL OR org = ?2)");
    Ok(conn
        .prepare_cached(&sql)?
        .query_row(params![id, org], row_to_key)
        .optional()?)
}

/// Records that `key_id`'s access changed, and trims the log.
fn log_access(conn: &Connection, key_id: &str) -> Result<()> {
    conn.prepare_cached("INSERT INTO access_log (key_id, nonce) VALUES (?1, ?2)")?
        .execute(params![key_id, super::new_nonce()?])?;
    let rev = conn.last_insert_rowid();
    if rev % 1000 == 0 {
        conn.prepare_cached("DELETE FROM access_log WHERE rev <= ?1")?
            .execute([rev - ACCESS_LOG_KEEP])?;
    }
    Ok(())
}

/// The newest position of the log.
fn head(conn: &Connection) -> Result<SyncPoint> {
    Ok(conn
        .prepare_cached("SELECT rev, nonce FROM access_log ORDER BY rev DESC LIMIT 1")?
        .query_row([], |r| {
            Ok(SyncPoint {
                rev: r.get(0)?,
                nonce: r.get(1)?,
            })
        })
        .optional()?
        .unwrap_or_default())
}

/// Reads the log after `since`, telling a trimmed or restored log from a current one.
fn read_changes(conn: &Connection, since: SyncPoint) -> Result<AccessChanges> {
    let mut stmt = conn
        .prepare_cached("SELECT rev, key_id, nonce FROM access_log WHERE rev >= ?1 ORDER BY rev")?;
    let rows = stmt
        .query_map([since.rev], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let head = match rows.last() {
        Some(_) => SyncPoint::default(),
        None => head(conn)?,
    };
    Ok(super::classify_changes(since, head, rows))
}

/// Inserts a key row, credentials included; sets `rec.seq`.
fn insert_key_row(tx: &Connection, rec: &mut KeyRecord) -> Result<()> {
    tx.prepare_cached(
        "INSERT INTO keys (id, org, name, description, expires_at, grants, networks,
            enabled, version, created_at, updated_at, last_refreshed_at, last_used_at,
            secret_hash, generation, prev_secret_hash, prev_until, creator, creator_key_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
            ?18, ?19)",
    )?
    .execute(params![
        rec.id,
        rec.org,
        rec.name,
        rec.description,
        rec.expires_at.map(Timestamp::as_millis),
        strings_json(&rec.grants),
        strings_json(&rec.networks),
        rec.enabled,
        rec.version,
        rec.created_at.as_millis(),
        rec.updated_at.as_millis(),
        rec.last_refreshed_at.map(Timestamp::as_millis),
        rec.last_used_at.map(Timestamp::as_millis),
        rec.secret_hash,
        rec.generation,
        rec.previous.as_ref().map(|p| p.hash.as_str()),
        rec.previous.as_ref().map(|p| p.until.as_millis()),
        rec.creator,
        rec.creator_key_id,
    ])
    .map_err(|e| db_error(e, &rec.org, &rec.name))?;
    rec.seq = tx.last_insert_rowid();
    Ok(())
}

fn insert_audit(conn: &Connection, org: &str, a: &AuditEntry) -> Result<()> {
    log_access(conn, &a.key_id)?;
    insert_audit_row(conn, org, a)
}

fn insert_audit_row(conn: &Connection, org: &str, a: &AuditEntry) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO audit (org, at, actor, action, key_id, key_name, changes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        org,
        a.at.as_millis(),
        a.actor,
        a.action.as_str(),
        a.key_id,
        a.key_name,
        strings_json(&a.changes),
    ])?;
    Ok(())
}

/// The signing-key table.
fn read_signing(conn: &Connection) -> Result<SigningTable> {
    let keys = conn
        .prepare_cached(
            "SELECT kid, alg, state, created_at, retired_at, private, sealed, public, public_jwk
             FROM signing_keys",
        )?
        .query_map([], |r| {
            Ok(SigningRow {
                kid: r.get(0)?,
                alg: r.get(1)?,
                state: r.get(2)?,
                created_at: r.get(3)?,
                retired_at: r.get(4)?,
                private: r.get(5)?,
                sealed: r.get(6)?,
                public: r.get(7)?,
                public_jwk: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let kek_check = conn
        .prepare_cached("SELECT value FROM settings WHERE name = 'kek_check'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(SigningTable { keys, kek_check })
}

/// Replaces the signing-key table with `table`.
fn write_signing(conn: &Connection, table: &SigningTable) -> Result<()> {
    conn.execute("DELETE FROM signing_keys", [])?;
    let mut insert = conn.prepare_cached(
        "INSERT INTO signing_keys (kid, alg, state, created_at, retired_at, private, sealed,
            public, public_jwk) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    for k in &table.keys {
        insert.execute(params![
            k.kid,
            k.alg,
            k.state,
            k.created_at,
            k.retired_at,
            k.private,
            k.sealed,
            k.public,
            k.public_jwk
        ])?;
    }
    match &table.kek_check {
        Some(v) => conn.execute(
            "INSERT INTO settings (name, value) VALUES ('kek_check', ?1)
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            [v],
        )?,
        None => conn.execute("DELETE FROM settings WHERE name = 'kek_check'", [])?,
    };
    log_access(conn, super::SIGNING_CHANGED)
}

/// Runs `f` in a `BEGIN IMMEDIATE` transaction, committing on success.
fn write_txn<T>(conn: &mut Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| db_error(e, "", ""))?;
    let out = f(&tx)?;
    tx.commit().map_err(|e| db_error(e, "", ""))?;
    Ok(out)
}

impl Backend for SqliteBackend {
    fn insert_key(&self, rec: &mut KeyRecord, audit: &AuditEntry) -> Result<()> {
        self.with_write(|conn| {
            write_txn(conn, |tx| {
                insert_key_row(tx, rec)?;
                rec.seq = tx.last_insert_rowid();
                insert_audit(tx, &rec.org, audit)
            })
        })
    }

    fn get_key(&self, org: Option<&str>, id: &str) -> Result<Option<KeyRecord>> {
        self.with_read(|conn| select_key(conn, org, id))
    }

    fn update_key(&self, org: &str, id: &str, change: &mut Mutation<'_>) -> Result<KeyRecord> {
        self.with_write(|conn| {
            write_txn(conn, |tx| {
                let mut rec = select_key(tx, Some(org), id)?.ok_or_else(|| Error::not_found(id))?;
                let audit = change(&mut rec)?;
                tx.prepare_cached(
                    "UPDATE keys SET name = ?2, description = ?3, expires_at = ?4, grants = ?5,
                        networks = ?6, enabled = ?7, version = ?8, updated_at = ?9,
                        last_refreshed_at = ?10, last_used_at = ?11, secret_hash = ?12,
                        generation = ?13, prev_secret_hash = ?14, prev_until = ?15
                     WHERE seq = ?1",
                )?
                .execute(params![
                    rec.seq,
                    rec.name,
                    rec.description,
                    rec.expires_at.map(Timestamp::as_millis),
                    strings_json(&rec.grants),
                    strings_json(&rec.networks),
                    rec.enabled,
                    rec.version,
                    rec.updated_at.as_millis(),
                    rec.last_refreshed_at.map(Timestamp::as_millis),
                    rec.last_used_at.map(Timestamp::as_millis),
                    rec.secret_hash,
                    rec.generation,
                    rec.previous.as_ref().map(|p| p.hash.as_str()),
                    rec.previous.as_ref().map(|p| p.until.as_millis()),
                ])
                .map_err(|e| db_error(e, org, &rec.name))?;
                insert_audit(tx, org, &audit)?;
                Ok(rec)
            })
        })
    }

    fn delete_key(
        &self,
        org: &str,
        id: &str,
        audit: &dyn Fn(&KeyRecord) -> Result<AuditEntry>,
    ) -> Result<()> {
        self.with_write(|conn| {
            write_txn(conn, |tx| {
                let rec = select_key(tx, Some(org), id)?.ok_or_else(|| Error::not_found(id))?;
                let entry = audit(&rec)?;
                tx.prepare_cached("DELETE FROM keys WHERE seq = ?1")?
                    .execute([rec.seq])?;
                insert_audit(tx, org, &entry)
            })
        })
    }

    fn scan_keys(&self, scan: &KeyScan<'_>) -> Result<Vec<KeyRecord>> {
        let sql = format!(
            "SELECT {KEY_COLUMNS} FROM keys WHERE org = :org AND seq > :after AND {}
               AND (:search IS NULL OR ks_contains(name, description, :search))
             ORDER BY seq LIMIT :limit",
            scan.status.sql_condition()
        );
        self.with_read(|conn| {
            let mut stmt = conn.prepare_cached(&sql)?;
            let (now, until) = (scan.now.as_millis(), scan.expiring_until.as_millis());
            let all: [(&str, &dyn rusqlite::ToSql); 6] = [
                (":org", &scan.org),
                (":after", &scan.after_seq),
                (":now", &now),
                (":until", &until),
                (":search", &scan.search),
                (":limit", &scan.limit),
            ];
            // Bind only the parameters this status condition uses.
            let mut used = Vec::with_capacity(all.len());
            for (name, value) in all {
                if stmt.parameter_index(name)?.is_some() {
                    used.push((name, value));
                }
            }
            let rows = stmt.query_map(used.as_slice(), row_to_key)?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn summary(&self, org: &str, now: Timestamp, expiring_until: Timestamp) -> Result<Summary> {
        self.with_read(|conn| {
            let (total, disabled, expired, expiring, never): (i64, i64, i64, i64, i64) = conn
                .prepare_cached(&format!(
                    "SELECT {} FROM keys WHERE org = :org",
                    StatusFilter::summary_sql_columns()
                ))?
                .query_row(
                    rusqlite::named_params! {
                        ":org": org,
                        ":now": now.as_millis(),
                        ":until": expiring_until.as_millis(),
                    },
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )?;
            Ok(Summary {
                total: total as u64,
                active: (total - disabled - expired) as u64,
                expired: expired as u64,
                expiring_soon: expiring as u64,
                never_expires: never as u64,
                disabled: disabled as u64,
            })
        })
    }

    fn audit_log(
        &self,
        org: &str,
        key_id: Option<&str>,
        before_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, AuditRecord)>> {
        self.with_read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, at, actor, action, key_id, key_name, changes FROM audit
                 WHERE org = ?1 AND (?2 IS NULL OR key_id = ?2) AND seq < ?3
                 ORDER BY seq DESC LIMIT ?4",
            )?;
            let mut rows = stmt.query(params![org, key_id, before_seq, limit])?;
            let mut out = Vec::new();
            while let Some(r) = rows.next()? {
                out.push((r.get::<_, i64>(0)?, audit_from_row(r)?));
            }
            Ok(out)
        })
    }

    fn touch_last_used(&self, id: &str, at: Timestamp) -> Result<()> {
        self.with_write(|conn| {
            conn.prepare_cached("UPDATE keys SET last_used_at = ?2 WHERE id = ?1")?
                .execute(params![id, at.as_millis()])
                .map_err(|e| db_error(e, "", ""))?;
            Ok(())
        })
    }

    fn replace_hash(&self, id: &str, old: &str, new: &str) -> Result<()> {
        self.with_write(|conn| {
            conn.prepare_cached(
                "UPDATE keys SET secret_hash = ?3 WHERE id = ?1 AND secret_hash = ?2",
            )?
            .execute(params![id, old, new])
            .map_err(|e| db_error(e, "", ""))?;
            Ok(())
        })
    }

    fn sync_point(&self) -> Result<SyncPoint> {
        self.with_read(|conn| head(conn))
    }

    fn access_changes(&self, since: SyncPoint) -> Result<AccessChanges> {
        self.with_read(|conn| {
            let version: i64 = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            if seen.0 == version && seen.1 == since {
                return Ok(AccessChanges::None);
            }
            let changes = read_changes(conn, since)?;
            let to = match &changes {
                AccessChanges::None => since,
                AccessChanges::Keys { to, .. } | AccessChanges::Everything { to } => *to,
            };
            *seen = (version, to);
            Ok(changes)
        })
    }

    fn signing_table(&self) -> Result<SigningTable> {
        self.with_read(|conn| read_signing(conn))
    }

    fn update_signing_table(
        &self,
        audit_org: &str,
        change: &mut super::SigningChange<'_>,
    ) -> Result<()> {
        self.with_write(|conn| {
            write_txn(conn, |tx| {
                let mut table = read_signing(tx)?;
                if let Some(entries) = change(&mut table)? {
                    write_signing(tx, &table)?;
                    for a in &entries {
                        insert_audit_row(tx, audit_org, a)?;
                    }
                }
                Ok(())
            })
        })
    }

    fn legacy_signing_keys(&self) -> Result<Option<KeyPairs>> {
        match self.read {
            None => Ok(None),
            Some(_) => signing::existing_key_file_keys(&self.path),
        }
    }

    fn revoke_token_id(&self, jti: &str, until: i64, now: Timestamp) -> Result<()> {
        self.with_write(|conn| {
            write_txn(conn, |tx| {
                tx.prepare_cached(
                    "INSERT INTO revoked_tokens (jti, until_ms) VALUES (?1, ?2)
                     ON CONFLICT (jti) DO UPDATE SET until_ms = max(until_ms, excluded.until_ms)",
                )?
                .execute(params![jti, until])?;
                tx.prepare_cached("DELETE FROM revoked_tokens WHERE until_ms <= ?1")?
                    .execute([now.as_millis()])?;
                log_access(tx, super::TOKENS_REVOKED)
            })
        })
    }

    fn revoked_token_ids(&self, now: Timestamp) -> Result<Vec<String>> {
        self.with_read(|conn| {
            Ok(conn
                .prepare_cached("SELECT jti FROM revoked_tokens WHERE until_ms > ?1")?
                .query_map([now.as_millis()], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()?)
        })
    }

    fn export(&self) -> Result<Snapshot> {
        self.with_read(|conn| {
            // One read transaction: keys and audit records from the same snapshot.
            let tx = conn.transaction()?;
            let keys = tx
                .prepare(&format!("SELECT {KEY_COLUMNS} FROM keys ORDER BY seq"))?
                .query_map([], row_to_key)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut audit = Vec::new();
            {
                let mut stmt = tx.prepare(
                    "SELECT org, at, actor, action, key_id, key_name, changes FROM audit
                     ORDER BY seq",
                )?;
                let mut rows = stmt.query([])?;
                while let Some(r) = rows.next()? {
                    audit.push((r.get::<_, String>(0)?, audit_from_row(r)?));
                }
            }
            let signing = read_signing(&tx)?;
            let revoked = tx
                .prepare("SELECT jti, until_ms FROM revoked_tokens ORDER BY jti")?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            tx.commit()?;
            Ok(Snapshot {
                keys,
                audit,
                signing,
                revoked,
            })
        })
    }

    fn import(&self, snapshot: &Snapshot) -> Result<()> {
        self.with_write(|conn| {
            write_txn(conn, |tx| {
                let held: i64 = tx.query_row("SELECT COUNT(*) FROM keys", [], |r| r.get(0))?;
                if held > 0 {
                    return Err(Error::new(
                        ErrorKind::Conflict,
                        format!("the destination already holds {held} keys"),
                    ));
                }
                for rec in &snapshot.keys {
                    insert_key_row(tx, &mut rec.clone())?;
                    log_access(tx, &rec.id)?;
                }
                for (org, a) in &snapshot.audit {
                    insert_audit_row(tx, org, a)?;
                }
                if !snapshot.signing.keys.is_empty() {
                    write_signing(tx, &snapshot.signing)?;
                }
                for (jti, until) in &snapshot.revoked {
                    tx.execute(
                        "INSERT OR REPLACE INTO revoked_tokens (jti, until_ms) VALUES (?1, ?2)",
                        params![jti, until],
                    )?;
                }
                if !snapshot.revoked.is_empty() {
                    log_access(tx, super::TOKENS_REVOKED)?;
                }
                Ok(())
            })
        })
    }

    fn close(&self) {
        for m in [Some(&self.write), self.read.as_ref()]
            .into_iter()
            .flatten()
        {
            let mut guard = m.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(conn) = guard.take() {
                let _ = conn.close();
            }
        }
    }
}
