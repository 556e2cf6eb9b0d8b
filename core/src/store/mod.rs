//! The storage backend behind a key store. Domain rules live in [`crate::KeyStore`];
//! a backend only persists records atomically, so a second backend (PostgreSQL) can
//! be added without touching them.

pub mod sqlite;

use crate::error::Result;
use crate::grant::Grant;
use crate::key::{ApiKey, AuditRecord, KeyStatus, StatusFilter, Summary};
use crate::network::Network;
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

/// What changed in the access log since a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessChanges {
    /// The newest revision seen.
    pub latest_rev: i64,
    /// Keys whose access changed (possibly repeated).
    pub key_ids: Vec<String>,
    /// False when older rows were trimmed: reload every key.
    pub complete: bool,
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
    /// Deletes one key of `org` and appends the audit entry made from it.
    fn delete_key(
        &self,
        org: &str,
        id: &str,
        audit: &dyn Fn(&KeyRecord) -> AuditEntry,
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
    /// A number that changes when another connection commits (SQLite's
    /// `PRAGMA data_version`): cheap to poll.
    fn data_version(&self) -> Result<i64>;
    /// The newest access-log revision.
    fn latest_access_rev(&self) -> Result<i64>;
    /// The keys whose access changed after access-log revision `after_rev`.
    fn access_changes(&self, after_rev: i64) -> Result<AccessChanges>;
    /// Releases the backend; every later call fails with `storage`.
    fn close(&self);
}
