//! The storage backends behind a key store. Domain rules live in [`crate::KeyStore`];
//! a backend only persists records atomically and tells which keys changed, so the
//! domain code never knows whether it talks to SQLite or PostgreSQL.

#[cfg(feature = "postgres")]
pub mod pgurl;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod sqlite;

use std::time::Duration;

use crate::error::{Error, Result};
use crate::grant::Grant;
use crate::key::{ApiKey, AuditRecord, KeyStatus, StatusFilter, Summary};
use crate::network::Network;
use crate::signing::{KeyPairs, SigningTable};
use crate::time::Timestamp;

/// The previous secret kept during a refresh grace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousSecret {
    /// Argon2id PHC hash of the previous secret.
    pub hash: String,
    /// The grace ends at this instant (the secret is invalid at it).
    pub until: Timestamp,
}

/// A key as stored: the public fields plus its credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRecord {
    /// Insertion order, assigned by the backend on insert.
    pub seq: i64,
    /// See [`ApiKey::id`].
    pub id: String,
    /// See [`ApiKey::org`].
    pub org: String,
    /// See [`ApiKey::name`].
    pub name: String,
    /// See [`ApiKey::description`].
    pub description: Option<String>,
    /// See [`ApiKey::expires_at`].
    pub expires_at: Option<Timestamp>,
    /// See [`ApiKey::grants`].
    pub grants: Vec<Grant>,
    /// See [`ApiKey::networks`].
    pub networks: Vec<Network>,
    /// See [`ApiKey::enabled`].
    pub enabled: bool,
    /// See [`ApiKey::version`].
    pub version: i64,
    /// See [`ApiKey::created_at`].
    pub created_at: Timestamp,
    /// See [`ApiKey::updated_at`].
    pub updated_at: Timestamp,
    /// See [`ApiKey::last_refreshed_at`].
    pub last_refreshed_at: Option<Timestamp>,
    /// See [`ApiKey::last_used_at`].
    pub last_used_at: Option<Timestamp>,
    /// Argon2id PHC hash of the current secret.
    pub secret_hash: String,
    /// Credential generation: advanced by refresh and by disabling.
    pub generation: i64,
    /// The previous secret, while a refresh grace lasts.
    pub previous: Option<PreviousSecret>,
    /// Who created the key: the actor of the create, or the name of the admin key
    /// that created it through the Key Admin API.
    pub creator: Option<String>,
    /// The admin key that created it through the Key Admin API.
    pub creator_key_id: Option<String>,
}

impl KeyRecord {
    /// The caller's view of this key at `now`.
    pub fn to_api_key(&self, now: Timestamp) -> ApiKey {
        ApiKey {
            id: self.id.clone(),
            org: self.org.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            expires_at: self.expires_at,
            grants: self.grants.clone(),
            networks: self.networks.clone(),
            enabled: self.enabled,
            status: KeyStatus::at(self.enabled, self.expires_at, now),
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_refreshed_at: self.last_refreshed_at,
            last_used_at: self.last_used_at,
        }
    }
}

/// A position in a store's access log: the revision of the newest change a handle has
/// applied, and that change's random nonce. The nonce tells a restored database (whose
/// log went back and then forward again over other changes) from the one the handle
/// followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SyncPoint {
    /// Revision of the newest applied change (0: none yet).
    pub rev: i64,
    /// That change's nonce (0 for rows written before nonces existed).
    pub nonce: i64,
}

/// What changed in the access log after a [`SyncPoint`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessChanges {
    /// Nothing changed.
    None,
    /// These keys' access changed (possibly repeated); the log now ends at `to`.
    Keys {
        /// The new position.
        to: SyncPoint,
        /// Keys to reload.
        key_ids: Vec<String>,
    },
    /// The handle cannot tell what changed — it fell behind the log's retention, or
    /// the log went backwards (a restore from a backup): reload every key.
    Everything {
        /// The new position.
        to: SyncPoint,
    },
}

/// Everything a store holds, read from one snapshot: what `migrate` copies.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Every key of every organization, credentials included, in creation order.
    pub keys: Vec<KeyRecord>,
    /// Every audit record with its organization, oldest first.
    pub audit: Vec<(String, AuditRecord)>,
    /// The store's signing-key table (empty when its processes take their keys from
    /// the option or the environment).
    pub signing: SigningTable,
    /// Revoked token ids that are still denied, with the Unix ms they are denied
    /// until.
    pub revoked: Vec<(String, i64)>,
}

/// The access-log entry that tells every handle to reload the signing keys. Key ids
/// are hex, so no key id can look like it.
pub const SIGNING_CHANGED: &str = "~signing";
/// The access-log entry that tells every handle to reload the revoked token ids.
pub const TOKENS_REVOKED: &str = "~revoked";

/// A change of the signing-key table inside one write transaction: it returns the
/// audit entries to append (to org `audit_org`), `None` for no change (nothing is
/// written), or an error that aborts the transaction.
pub type SigningChange<'a> = dyn FnMut(&mut SigningTable) -> Result<Option<Vec<AuditRecord>>> + 'a;

/// A random non-zero nonce for an access-log row.
pub(crate) fn new_nonce() -> Result<i64> {
    let mut b = [0u8; 8];
    crate::secret::random_bytes(&mut b)?;
    Ok(i64::from_le_bytes(b) | 1)
}

/// Decides what a handle at `since` must reload, from the log rows with revision
/// `since.rev` and newer (`(rev, key_id, nonce)`, ascending) and, when there are none,
/// the log's head. The row at `since.rev` must still be the one the handle applied:
/// if it is gone (trimmed) or different (a restore), everything is reloaded.
pub(crate) fn classify_changes(
    since: SyncPoint,
    head: SyncPoint,
    rows: Vec<(i64, String, i64)>,
) -> AccessChanges {
    let Some(last) = rows.last() else {
        return if since.rev == 0 {
            AccessChanges::None
        } else {
            // The log went backwards past the handle's position: a restore.
            AccessChanges::Everything { to: head }
        };
    };
    let to = SyncPoint {
        rev: last.0,
        nonce: last.2,
    };
    let first = &rows[0];
    if since.rev == 0 {
        if first.0 != 1 {
            return AccessChanges::Everything { to };
        }
        return AccessChanges::Keys {
            to,
            key_ids: rows.into_iter().map(|r| r.1).collect(),
        };
    }
    if first.0 != since.rev || first.2 != since.nonce {
        return AccessChanges::Everything { to };
    }
    if rows.len() == 1 {
        return AccessChanges::None;
    }
    AccessChanges::Keys {
        to,
        key_ids: rows.into_iter().skip(1).map(|r| r.1).collect(),
    }
}

/// An audit record about to be written.
pub type AuditEntry = AuditRecord;

/// A page request of keys, in insertion order.
#[derive(Debug, Clone)]
pub struct KeyScan<'a> {
    /// The organization.
    pub org: &'a str,
    /// Status filter, evaluated at `now`.
    pub status: StatusFilter,
    /// Lower-cased substring of name or description.
    pub search: Option<&'a str>,
    /// Only keys with `seq` greater than this.
    pub after_seq: i64,
    /// At most this many rows.
    pub limit: i64,
    /// The instant for status.
    pub now: Timestamp,
    /// Horizon of `expiring`.
    pub expiring_until: Timestamp,
}

/// A change applied to a stored key inside one write transaction. It returns the
/// audit entry to append, or an error that aborts the transaction.
pub type Mutation<'a> = dyn FnMut(&mut KeyRecord) -> Result<AuditEntry> + 'a;

/// Persistence for keys and the audit log. Every write is one atomic transaction;
/// a duplicate `(org, name)` is reported as `conflict`.
pub trait Backend: Send + Sync {
    /// Inserts a new key and its audit entry; sets `rec.seq`.
    fn insert_key(&self, rec: &mut KeyRecord, audit: &AuditEntry) -> Result<()>;
    /// Reads one key, of `org` if given, else of any organization.
    fn get_key(&self, org: Option<&str>, id: &str) -> Result<Option<KeyRecord>>;
    /// Reads, changes and writes one key of `org` atomically (`not_found` if absent).
    fn update_key(&self, org: &str, id: &str, change: &mut Mutation<'_>) -> Result<KeyRecord>;
    /// Deletes one key of `org` and appends the audit entry made from it; an error
    /// from `audit` (a stale expected version) aborts the delete.
    fn delete_key(
        &self,
        org: &str,
        id: &str,
        audit: &dyn Fn(&KeyRecord) -> Result<AuditEntry>,
    ) -> Result<()>;
    /// One page of keys.
    fn scan_keys(&self, scan: &KeyScan<'_>) -> Result<Vec<KeyRecord>>;
    /// The counts of `org` at `now`, with "expiring" up to `expiring_until`.
    fn summary(&self, org: &str, now: Timestamp, expiring_until: Timestamp) -> Result<Summary>;
    /// Audit records of `org` (of one key if given), newest first, with sequence
    /// numbers below `before_seq`.
    fn audit_log(
        &self,
        org: &str,
        key_id: Option<&str>,
        before_seq: i64,
        limit: i64,
    ) -> Result<Vec<(i64, AuditRecord)>>;
    /// Sets `last_used_at` (no version change, no audit record, no access change).
    fn touch_last_used(&self, id: &str, at: Timestamp) -> Result<()>;
    /// Replaces the secret hash with a re-hash of the same secret at another cost,
    /// only if it is still `old`.
    fn replace_hash(&self, id: &str, old: &str, new: &str) -> Result<()>;
    /// The newest position of the access log.
    fn sync_point(&self) -> Result<SyncPoint>;
    /// What changed after `since`. Cheap when nothing did (SQLite answers from
    /// `PRAGMA data_version` without reading the log).
    fn access_changes(&self, since: SyncPoint) -> Result<AccessChanges>;
    /// The signing-key table.
    fn signing_table(&self) -> Result<SigningTable>;
    /// Reads, changes and writes the signing-key table atomically; when `change`
    /// changed it, appends its audit entries to `audit_org` and tells every handle
    /// ([`SIGNING_CHANGED`]).
    fn update_signing_table(&self, audit_org: &str, change: &mut SigningChange<'_>) -> Result<()>;
    /// The keys of a previous version's key file, imported once into an empty table
    /// (SQLite only).
    fn legacy_signing_keys(&self) -> Result<Option<KeyPairs>> {
        Ok(None)
    }
    /// Denies token id `jti` until `until` (Unix ms), forgets ids whose time is over
    /// at `now`, and tells every handle ([`TOKENS_REVOKED`]).
    fn revoke_token_id(&self, jti: &str, until: i64, now: Timestamp) -> Result<()>;
    /// The token ids denied after `now`.
    fn revoked_token_ids(&self, now: Timestamp) -> Result<Vec<String>>;
    /// True when this backend keeps the handle current from a thread of its own
    /// (started by [`Backend::watch`]), so `authorize` never polls it inline.
    fn syncs_in_background(&self) -> bool {
        false
    }
    /// Starts keeping the handle current: `on_change` is called after every
    /// notification and at least every `interval`; it returns false once the handle
    /// is gone. The default does nothing (the handle polls inline).
    fn watch(&self, interval: Duration, on_change: Box<dyn Fn() -> bool + Send>) {
        let _ = (interval, on_change);
    }
    /// True when this backend counts failed secret verifications itself, for a
    /// throttle that holds across every handle and host of the store; otherwise each
    /// handle counts its own in memory.
    fn counts_failures(&self) -> bool {
        false
    }
    /// Counts a failed secret verification of `key_id` at `at`, forgetting that key's
    /// failures before `forget_before`.
    fn record_failure(&self, key_id: &str, at: Timestamp, forget_before: Timestamp) -> Result<()> {
        let _ = (key_id, at, forget_before);
        Ok(())
    }
    /// The instants (Unix ms, ascending) of `key_id`'s latest failures after `since`,
    /// at most `max` of them.
    fn recent_failures(&self, key_id: &str, since: Timestamp, max: u32) -> Result<Vec<i64>> {
        let _ = (key_id, since, max);
        Ok(Vec::new())
    }
    /// Reads every key, audit record and stored signing key from one snapshot.
    fn export(&self) -> Result<Snapshot>;
    /// Writes `snapshot` into this store in one transaction, keys in their order and
    /// with their credentials, generations and graces; stored signing keys replace the
    /// store's own. A store that already holds keys is refused (`conflict`).
    fn import(&self, snapshot: &Snapshot) -> Result<()>;
    /// Releases the backend; every later call fails with `storage`.
    fn close(&self);
}

/// Options of the storage layer: how long to wait, and (PostgreSQL only) where the
/// tables live and how many connections a handle keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// How long a call waits for a lock or a connection, in milliseconds (default
    /// 5000, at most 600 000).
    pub busy_timeout_ms: u64,
    /// PostgreSQL schema holding keyscope's tables (default `keyscope`).
    pub schema: Option<String>,
    /// PostgreSQL connections per handle, 1–64 (default 4).
    pub pool_size: Option<u32>,
    /// PostgreSQL: follow changes by LISTEN/NOTIFY as well as by polling (default
    /// true; false for poolers that break LISTEN).
    pub listen: Option<bool>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            busy_timeout_ms: 5000,
            schema: None,
            pool_size: None,
            listen: None,
        }
    }
}

impl StoreOptions {
    /// Checks the ranges every backend shares.
    pub fn validate(&self) -> Result<()> {
        if self.busy_timeout_ms > 600_000 {
            return Err(Error::invalid(
                "busy_timeout",
                "must be at most 600 seconds",
            ));
        }
        Ok(())
    }

    /// `invalid_input` for each PostgreSQL-only option set on another backend.
    fn refuse_postgres_only(&self) -> Result<()> {
        let set = [
            ("schema", self.schema.is_some()),
            ("pool_size", self.pool_size.is_some()),
            ("listen", self.listen.is_some()),
        ];
        match set.iter().find(|(_, s)| *s) {
            Some((name, _)) => Err(Error::invalid(
                *name,
                "applies to PostgreSQL stores only (a postgres:// or postgresql:// URL)",
            )),
            None => Ok(()),
        }
    }
}

/// True when `location` names a PostgreSQL database rather than an SQLite file.
pub fn is_postgres_url(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// Opens the backend that `location` names: a `postgres://` or `postgresql://` URL, an
/// SQLite file path, or `":memory:"`.
pub fn open(location: &str, options: &StoreOptions) -> Result<Box<dyn Backend>> {
    options.validate()?;
    if location.is_empty() {
        return Err(Error::invalid("path", "must not be empty"));
    }
    if is_postgres_url(location) {
        #[cfg(feature = "postgres")]
        return Ok(Box::new(postgres::PostgresBackend::open(
            location, options,
        )?));
        #[cfg(not(feature = "postgres"))]
        return Err(Error::invalid(
            "path",
            "this build of keyscope has no PostgreSQL backend (cargo feature `postgres`)",
        ));
    }
    options.refuse_postgres_only()?;
    let busy = Duration::from_millis(options.busy_timeout_ms);
    Ok(Box::new(sqlite::SqliteBackend::open(location, busy)?))
}
