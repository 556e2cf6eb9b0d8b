//! API keys as callers see them, and the parameters of the lifecycle calls (docs/keys.md).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::grant::Grant;
use crate::network::Network;
use crate::time::{DAY_MS, Timestamp};

/// Default horizon of "expiring soon": 30 days, in milliseconds.
pub const DEFAULT_WITHIN_MS: i64 = 30 * DAY_MS;
/// Longest refresh grace: 7 days, in milliseconds.
pub const MAX_GRACE_MS: i64 = 7 * DAY_MS;
/// Longest `within` horizon accepted: 100 years, in milliseconds.
pub const MAX_WITHIN_MS: i64 = 36_500 * DAY_MS;

/// A key's status, derived at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyStatus {
    /// Enabled and not expired.
    Active,
    /// Enabled, with `expires_at ≤ now`.
    Expired,
    /// Not enabled (whatever its expiry).
    Disabled,
}

impl KeyStatus {
    /// `"active"`, `"expired"` or `"disabled"`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Expired => "expired",
            KeyStatus::Disabled => "disabled",
        }
    }

    /// The status of a key with these fields at `now`.
    pub fn at(enabled: bool, expires_at: Option<Timestamp>, now: Timestamp) -> Self {
        if !enabled {
            KeyStatus::Disabled
        } else if expires_at.is_some_and(|e| e <= now) {
            KeyStatus::Expired
        } else {
            KeyStatus::Active
        }
    }
}

impl fmt::Display for KeyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API key. Never holds the secret or its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// 32 lowercase hex characters; the OAuth `client_id`. Not a secret.
    pub id: String,
    /// The organization the key belongs to.
    pub org: String,
    /// Unique within the organization.
    pub name: String,
    /// Free text, if any.
    pub description: Option<String>,
    /// When the key stops working; `None` means never.
    pub expires_at: Option<Timestamp>,
    /// What the key may do.
    pub grants: Vec<Grant>,
    /// Where it may be used from; empty means anywhere.
    pub networks: Vec<Network>,
    /// False once disabled.
    pub enabled: bool,
    /// Derived from `enabled` and `expires_at` at the time of the call.
    pub status: KeyStatus,
    /// 1 at creation, +1 on every update and refresh.
    pub version: i64,
    /// When the key was created.
    pub created_at: Timestamp,
    /// When the key was last created, updated or refreshed.
    pub updated_at: Timestamp,
    /// When the secret was last refreshed; `None` if never.
    pub last_refreshed_at: Option<Timestamp>,
    /// When the key was last exchanged for a token (to the minute); `None` if never.
    pub last_used_at: Option<Timestamp>,
}

/// The fields of a new key. `name` and `grants` are required.
#[derive(Debug, Clone, Default)]
pub struct NewKey {
    /// 1–255 characters, unique within the organization.
    pub name: String,
    /// Up to 1024 characters; an empty one is stored as none.
    pub description: Option<String>,
    /// Must be after `now`; `None` means the key never expires.
    pub expires_at: Option<Timestamp>,
    /// 1–64 grants (`scope:read`, `scope.resource:write`).
    pub grants: Vec<String>,
    /// 0–10 addresses or CIDR blocks.
    pub networks: Vec<String>,
    /// Defaults to true.
    pub enabled: Option<bool>,
    /// Who made the change, for the audit log.
    pub actor: Option<String>,
    /// The instant that drives every rule of the call; defaults to the clock.
    pub now: Option<Timestamp>,
}

/// A patch of a key: `None` leaves a field unchanged; `Some(None)` clears the
/// description or the expiry.
#[derive(Debug, Clone, Default)]
pub struct KeyUpdate {
    /// A new name.
    pub name: Option<String>,
    /// A new description, or `Some(None)` to clear it.
    pub description: Option<Option<String>>,
    /// A new expiry, or `Some(None)` for "never expires".
    pub expires_at: Option<Option<Timestamp>>,
    /// New grants, replacing the old ones whole.
    pub grants: Option<Vec<String>>,
    /// New networks, replacing the old ones whole.
    pub networks: Option<Vec<String>>,
    /// Enable or disable. Disabling revokes outstanding tokens for good.
    pub enabled: Option<bool>,
    /// Refuse the update (`conflict`) unless the key is at this version.
    pub expected_version: Option<i64>,
    /// Who made the change, for the audit log.
    pub actor: Option<String>,
    /// The instant that drives every rule of the call; defaults to the clock.
    pub now: Option<Timestamp>,
}

/// Which keys `list_keys` returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatusFilter {
    /// Every key.
    #[default]
    All,
    /// Enabled and not expired.
    Active,
    /// Enabled and expired.
    Expired,
    /// Active and expiring within the horizon.
    Expiring,
    /// Not enabled.
    Disabled,
}

impl StatusFilter {
    /// This filter as an SQL condition — the rule of [`KeyStatus::at`] written once for
    /// every backend — over the columns `enabled` (boolean) and `expires_at` (Unix
    /// milliseconds or NULL), with the parameters `:now` and, for `expiring`, `:until`.
    pub fn sql_condition(self) -> &'static str {
        match self {
            StatusFilter::All => "TRUE",
            StatusFilter::Active => "(enabled AND (expires_at IS NULL OR expires_at > :now))",
            StatusFilter::Expired => "(enabled AND expires_at <= :now)",
            StatusFilter::Expiring => "(enabled AND expires_at > :now AND expires_at <= :until)",
            StatusFilter::Disabled => "(NOT enabled)",
        }
    }

    /// The SQL select list behind [`Summary`], built from [`Self::sql_condition`]: the
    /// columns total, disabled, expired, expiring (to `:until`) and never-expiring,
    /// each a 64-bit count.
    pub fn summary_sql_columns() -> String {
        let count = |cond: &str| format!("COALESCE(SUM(CASE WHEN {cond} THEN 1 ELSE 0 END), 0)");
        format!(
            "COUNT(*), {}, {}, {}, {}",
            count(StatusFilter::Disabled.sql_condition()),
            count(StatusFilter::Expired.sql_condition()),
            count(StatusFilter::Expiring.sql_condition()),
            count("expires_at IS NULL"),
        )
    }

    /// The filter's name as callers spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            StatusFilter::All => "all",
            StatusFilter::Active => "active",
            StatusFilter::Expired => "expired",
            StatusFilter::Expiring => "expiring",
            StatusFilter::Disabled => "disabled",
        }
    }
}

impl FromStr for StatusFilter {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "all" => StatusFilter::All,
            "active" => StatusFilter::Active,
            "expired" => StatusFilter::Expired,
            "expiring" => StatusFilter::Expiring,
            "disabled" => StatusFilter::Disabled,
            _ => {
                return Err(Error::invalid(
                    "status",
                    format!("{s:?} is not one of all, active, expired, expiring, disabled"),
                ));
            }
        })
    }
}

/// The arguments of `list_keys`.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// Which keys.
    pub status: StatusFilter,
    /// A case-insensitive substring of the name or description.
    pub search: Option<String>,
    /// Page size, 1–1000.
    pub limit: i64,
    /// The `next_cursor` of the previous page, with the same filters.
    pub cursor: Option<String>,
    /// The "expiring" horizon in milliseconds.
    pub within_ms: i64,
    /// The instant that drives status; defaults to the clock.
    pub now: Option<Timestamp>,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            status: StatusFilter::All,
            search: None,
            limit: 50,
            cursor: None,
            within_ms: DEFAULT_WITHIN_MS,
            now: None,
        }
    }
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items, in order.
    pub items: Vec<T>,
    /// Pass to the next call for the following page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The counts behind the red and yellow triangles of the key list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    /// Every key.
    pub total: u64,
    /// Enabled and not expired.
    pub active: u64,
    /// Enabled and expired.
    pub expired: u64,
    /// Active and expiring within the horizon.
    pub expiring_soon: u64,
    /// No expiry date, whatever the status.
    pub never_expires: u64,
    /// Not enabled.
    pub disabled: u64,
}

/// A lifecycle action recorded in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// `create_key`.
    Create,
    /// `update_key`.
    Update,
    /// `refresh_key`.
    Refresh,
    /// `delete_key`.
    Delete,
    /// `rotate_signing_key` (the record's `key_id` is the kid now signing).
    SigningKeyRotated,
    /// `retire_signing_key` (the record's `key_id` is the retired kid).
    SigningKeyRetired,
}

impl AuditAction {
    /// `"create"`, `"update"`, `"refresh"`, `"delete"`, `"signing_key_rotated"` or
    /// `"signing_key_retired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Create => "create",
            AuditAction::Update => "update",
            AuditAction::Refresh => "refresh",
            AuditAction::Delete => "delete",
            AuditAction::SigningKeyRotated => "signing_key_rotated",
            AuditAction::SigningKeyRetired => "signing_key_retired",
        }
    }

    pub(crate) fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "create" => AuditAction::Create,
            "update" => AuditAction::Update,
            "refresh" => AuditAction::Refresh,
            "delete" => AuditAction::Delete,
            "signing_key_rotated" => AuditAction::SigningKeyRotated,
            "signing_key_retired" => AuditAction::SigningKeyRetired,
            _ => {
                return Err(Error::storage(format!(
                    "unknown audit action {s:?} in the database"
                )));
            }
        })
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit record. Never holds a secret or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// When it happened.
    pub at: Timestamp,
    /// Who did it, if the caller said.
    pub actor: Option<String>,
    /// What was done.
    pub action: AuditAction,
    /// The key acted on.
    pub key_id: String,
    /// The key's name at the time (its new name after a rename).
    pub key_name: String,
    /// The names of the fields that changed.
    pub changes: Vec<String>,
}
