//! The key store: every lifecycle rule of docs/keys.md, over any [`Backend`].

use std::sync::Arc;
use std::time::Duration;

use crate::authz::AuthCache;
use crate::cursor;
use crate::error::{Error, ErrorKind, Result};
use crate::exchange::{Throttle, VerifiedCache};
use crate::grant::{Grant, parse_grants};
use crate::jose::Alg;
use crate::key::{
    ApiKey, AuditAction, AuditRecord, DEFAULT_WITHIN_MS, KeyUpdate, ListQuery, MAX_GRACE_MS,
    MAX_WITHIN_MS, NewKey, Page, StatusFilter, Summary,
};
use crate::network::{Network, parse_network_list, parse_networks};
use crate::options::Options;
use crate::secret::{self, Secret, is_key_id};
use crate::signing::{self, Kek, SigningKeys};
use crate::store::{self, Backend, KeyRecord, KeyScan, PreviousSecret};
use crate::text::{DEFAULT_ORG, validate_actor, validate_description, validate_name, validate_org};
use crate::time::Timestamp;

/// `conflict` (on field `expected_version`) unless `rec` is at `expected`.
fn check_version(id: &str, expected: Option<i64>, rec: &KeyRecord) -> Result<()> {
    match expected {
        Some(v) if v != rec.version => Err(Error::new(
            ErrorKind::Conflict,
            format!("key {id} is at version {}, not {v}", rec.version),
        )
        .with_field("expected_version")),
        _ => Ok(()),
    }
}

/// Largest page of `list_keys` and `audit_log`.
pub const MAX_PAGE: i64 = 1000;

/// What every handle and view of one store shares.
pub(crate) struct Shared {
    pub backend: Box<dyn Backend>,
    pub options: Options,
    pub auth: AuthCache,
    pub throttle: Throttle,
    pub verified: VerifiedCache,
    pub trusted_proxies: Vec<Network>,
    /// Set by `close`: `authorize` answers from memory, so it checks this instead of
    /// meeting the closed connection.
    pub closed: std::sync::atomic::AtomicBool,
}

/// A handle on a key store. Cheap to clone; clones and org views share one
/// connection. `Send + Sync`: use it from many threads.
#[derive(Clone)]
pub struct KeyStore {
    shared: Arc<Shared>,
    org: String,
    view: bool,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("org", &self.org)
            .field("view", &self.view)
            .finish()
    }
}

impl KeyStore {
    /// Opens (creating if missing) the store at `location`: an SQLite file path,
    /// `":memory:"` for a private in-memory store, or a `postgres://` /
    /// `postgresql://` URL for a database shared by a fleet.
    pub fn open(location: &str, options: Options) -> Result<KeyStore> {
        options.validate()?;
        let backend = store::open(location, &options.store)?;
        Self::with_backend(backend, options)
    }

    /// A store over any backend: its signing keys are the option's or the
    /// environment's HS256 keys, else the backend's table, brought to a `current` and
    /// a `next` key (importing a previous version's key file once) when it lacks them.
    pub fn with_backend(backend: Box<dyn Backend>, options: Options) -> Result<KeyStore> {
        options.validate()?;
        let kek = Kek::resolve(options.key_encryption_key.as_deref().map(|k| &k[..]))?;
        let leeway_ms = options.leeway * 1000;
        let signing = match signing::fixed_keys(&options.signing_keys)? {
            Some(fixed) => {
                if options.token_alg.is_some_and(|a| a != Alg::Hs256) {
                    return Err(Error::invalid(
                        "token_alg",
                        "with keys from signing_keys or KEYSCOPE_SIGNING_KEYS (HS256 secrets) \
                         only HS256 is possible",
                    ));
                }
                fixed
            }
            None => {
                let alg = options.token_alg.unwrap_or(Alg::Es256);
                let now_ms = Timestamp::now().as_millis();
                let mut table = backend.signing_table()?;
                let needs = signing::bootstrap(
                    &mut table.clone(),
                    kek.as_ref(),
                    alg,
                    || backend.legacy_signing_keys(),
                    now_ms,
                )?
                .is_some();
                if needs {
                    backend.update_signing_table(DEFAULT_ORG, &mut |t| {
                        signing::bootstrap(
                            t,
                            kek.as_ref(),
                            alg,
                            || backend.legacy_signing_keys(),
                            now_ms,
                        )
                    })?;
                    table = backend.signing_table()?;
                }
                SigningKeys::from_table(&table, kek.as_ref(), now_ms, leeway_ms)?
            }
        };
        let staleness = Duration::from_secs_f64(options.revocation_staleness);
        let grace = Duration::from_secs_f64(options.offline_grace);
        let auth = AuthCache::new(backend.as_ref(), staleness, grace, signing, kek, leeway_ms)?;
        let trusted_proxies = options
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, p)| Network::parse(p, &format!("trusted_proxies[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        let shared = Arc::new(Shared {
            backend,
            options,
            auth,
            throttle: Throttle::new(),
            verified: VerifiedCache::new()?,
            trusted_proxies,
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        if shared.auth.syncs_in_background() {
            let weak = Arc::downgrade(&shared);
            shared.backend.watch(
                shared.auth.background_interval(),
                Box::new(move || match weak.upgrade() {
                    Some(s) if !s.closed.load(std::sync::atomic::Ordering::Relaxed) => {
                        s.auth.sync(s.backend.as_ref());
                        true
                    }
                    _ => false,
                }),
            );
        }
        Ok(KeyStore {
            shared,
            org: DEFAULT_ORG.to_owned(),
            view: false,
        })
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    /// A view limited to organization `org`, with every method of the store and no
    /// way to reach another organization's keys. A view can only make views of its
    /// own organization.
    pub fn org(&self, org: &str) -> Result<KeyStore> {
        validate_org(org)?;
        if self.view && org != self.org {
            return Err(Error::invalid(
                "org",
                format!("this handle is limited to org {:?}", self.org),
            ));
        }
        Ok(KeyStore {
            shared: Arc::clone(&self.shared),
            org: org.to_owned(),
            view: true,
        })
    }

    /// The organization this handle manages.
    pub fn org_name(&self) -> &str {
        &self.org
    }

    /// True for a view made by [`KeyStore::org`].
    pub fn is_view(&self) -> bool {
        self.view
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &Options {
        &self.shared.options
    }

    /// Forgets every verified secret and verified token this handle remembers, so the
    /// next exchanges run Argon2 and the next authorizations verify signatures again.
    /// Correctness never needs it (the caches cannot outlive a refresh, disable or
    /// delete); it frees memory and lets benchmarks measure the uncached paths.
    pub fn clear_caches(&self) {
        self.shared.verified.clear();
        self.shared.auth.tokens.clear();
    }

    /// Closes the store; every later call on it or its views fails with `storage`.
    pub fn close(&self) {
        self.shared
            .closed
            .store(true, std::sync::atomic::Ordering::Release);
        self.shared.backend.close();
    }

    /// `storage` once the store is closed.
    pub(crate) fn check_open(&self) -> Result<()> {
        if self
            .shared
            .closed
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(Error::storage("the store is closed"));
        }
        Ok(())
    }

    fn backend(&self) -> &dyn Backend {
        self.shared.backend.as_ref()
    }

    fn check_grants<S: AsRef<str>>(&self, grants: &[S]) -> Result<Vec<Grant>> {
        let parsed = parse_grants(grants)?;
        if let Some(catalog) = &self.shared.options.catalog {
            for (i, g) in parsed.iter().enumerate() {
                catalog.check(g, &format!("grants[{i}]"))?;
            }
        }
        Ok(parsed)
    }

    fn check_networks<S: AsRef<str>>(&self, networks: &[S]) -> Result<Vec<Network>> {
        parse_networks(networks, self.shared.options.allow_private_networks)
    }

    /// Parses the comma-separated networks an administrator types, with this store's
    /// `allow_private_networks` rule.
    pub fn parse_networks(&self, text: &str) -> Result<Vec<Network>> {
        parse_network_list(text, self.shared.options.allow_private_networks)
    }

    /// Creates a key; returns it with its secret, which is never shown again.
    pub fn create_key(&self, new: NewKey) -> Result<(ApiKey, Secret)> {
        self.create_key_by(new, None)
            .map(|(rec, secret, now)| (rec.to_api_key(now), secret))
    }

    /// [`KeyStore::create_key`], recording the admin key `(id, name)` that made it
    /// through the Key Admin API as its creator (else the actor is the creator).
    pub(crate) fn create_key_by(
        &self,
        new: NewKey,
        admin: Option<(&str, &str)>,
    ) -> Result<(KeyRecord, Secret, Timestamp)> {
        let now = Timestamp::or_now(new.now);
        validate_name(&new.name)?;
        let description = normalize_description(new.description)?;
        check_expiry(new.expires_at, now)?;
        let grants = self.check_grants(&new.grants)?;
        let networks = self.check_networks(&new.networks)?;
        check_actor(new.actor.as_deref())?;

        let secret = secret::generate(&self.shared.options.secret_prefix)?;
        let hash = secret::hash(&secret, &self.shared.options.argon2)?;
        let mut rec = KeyRecord {
            seq: 0,
            id: secret::new_key_id()?,
            org: self.org.clone(),
            name: new.name,
            description,
            expires_at: new.expires_at,
            grants,
            networks,
            enabled: new.enabled.unwrap_or(true),
            version: 1,
            created_at: now,
            updated_at: now,
            last_refreshed_at: None,
            last_used_at: None,
            secret_hash: hash,
            generation: 1,
            previous: None,
            creator: admin.map(|(_, name)| name.to_owned()).or(new.actor.clone()),
            creator_key_id: admin.map(|(id, _)| id.to_owned()),
        };
        let mut changes = vec!["name", "grants"];
        if rec.description.is_some() {
            changes.push("description");
        }
        if rec.expires_at.is_some() {
            changes.push("expires_at");
        }
        if !rec.networks.is_empty() {
            changes.push("networks");
        }
        if !rec.enabled {
            changes.push("enabled");
        }
        let audit = audit_entry(now, new.actor, AuditAction::Create, &rec, &changes);
        self.backend().insert_key(&mut rec, &audit)?;
        Ok((rec, secret, now))
    }

    /// The key `id` of this organization.
    pub fn get_key(&self, id: &str, now: Option<Timestamp>) -> Result<ApiKey> {
        check_id(id)?;
        let now = Timestamp::or_now(now);
        self.backend()
            .get_key(Some(&self.org), id)?
            .map(|r| r.to_api_key(now))
            .ok_or_else(|| Error::not_found(id))
    }

    /// One page of keys in creation order, filtered by status and search text.
    pub fn list_keys(&self, q: &ListQuery) -> Result<Page<ApiKey>> {
        let now = Timestamp::or_now(q.now);
        check_limit(q.limit)?;
        check_within(q.within_ms)?;
        let search = match &q.search {
            Some(s) if s.chars().count() > 255 => {
                return Err(Error::invalid("search", "is longer than 255 characters"));
            }
            Some(s) if !s.is_empty() => Some(crate::text::fold(s)),
            _ => None,
        };
        let within = if q.status == StatusFilter::Expiring {
            q.within_ms
        } else {
            DEFAULT_WITHIN_MS
        };
        let fingerprint = format!(
            "keys\0{}\0{}\0{}\0{}",
            self.org,
            q.status.as_str(),
            search.as_deref().unwrap_or(""),
            within
        );
        let after_seq = match &q.cursor {
            Some(c) => cursor::decode(c, &fingerprint)?,
            None => 0,
        };
        let mut rows = self.backend().scan_keys(&KeyScan {
            org: &self.org,
            status: q.status,
            search: search.as_deref(),
            after_seq,
            limit: q.limit + 1,
            now,
            expiring_until: now.plus_millis(within),
        })?;
        let more = rows.len() as i64 > q.limit;
        rows.truncate(q.limit as usize);
        let next_cursor = match (more, rows.last()) {
            (true, Some(last)) => Some(cursor::encode(last.seq, &fingerprint)),
            _ => None,
        };
        Ok(Page {
            items: rows.iter().map(|r| r.to_api_key(now)).collect(),
            next_cursor,
        })
    }

    /// Changes the fields set in `update`; grants and networks are replaced whole.
    /// Disabling a key revokes its outstanding tokens for good and ends any refresh
    /// grace.
    pub fn update_key(&self, id: &str, update: KeyUpdate) -> Result<ApiKey> {
        let now = Timestamp::or_now(update.now);
        check_id(id)?;
        if let Some(name) = &update.name {
            validate_name(name)?;
        }
        let description = update.description.map(normalize_description).transpose()?;
        if let Some(expiry) = update.expires_at {
            check_expiry(expiry, now)?;
        }
        let grants = update
            .grants
            .as_deref()
            .map(|g| self.check_grants(g))
            .transpose()?;
        let networks = update
            .networks
            .as_deref()
            .map(|n| self.check_networks(n))
            .transpose()?;
        check_actor(update.actor.as_deref())?;
        if let Some(v) = update.expected_version
            && v < 1
        {
            return Err(Error::invalid("expected_version", "must be at least 1"));
        }

        let rec = self.backend().update_key(&self.org, id, &mut |rec| {
            check_version(id, update.expected_version, rec)?;
            let mut changes = Vec::new();
            if let Some(name) = &update.name
                && *name != rec.name
            {
                rec.name = name.clone();
                changes.push("name");
            }
            if let Some(d) = &description
                && *d != rec.description
            {
                rec.description = d.clone();
                changes.push("description");
            }
            if let Some(e) = update.expires_at
                && e != rec.expires_at
            {
                rec.expires_at = e;
                changes.push("expires_at");
            }
            if let Some(g) = &grants
                && *g != rec.grants
            {
                rec.grants = g.clone();
                changes.push("grants");
            }
            if let Some(n) = &networks
                && *n != rec.networks
            {
                rec.networks = n.clone();
                changes.push("networks");
            }
            if let Some(enabled) = update.enabled
                && enabled != rec.enabled
            {
                rec.enabled = enabled;
                changes.push("enabled");
                if !enabled {
                    // Tokens of every earlier generation stop working, for good.
                    rec.generation += 1;
                    rec.previous = None;
                }
            }
            rec.version += 1;
            rec.updated_at = now;
            Ok(audit_entry(
                now,
                update.actor.clone(),
                AuditAction::Update,
                rec,
                &changes,
            ))
        });
        self.shared.auth.evict(id);
        Ok(rec?.to_api_key(now))
    }

    /// Issues a new secret for the same key id. With `grace_ms = 0` the old secret
    /// stops working at once; with up to 7 days it keeps working until `now + grace`.
    /// A later refresh ends any earlier grace.
    pub fn refresh_key(
        &self,
        id: &str,
        grace_ms: i64,
        actor: Option<String>,
        now: Option<Timestamp>,
    ) -> Result<(ApiKey, Secret)> {
        self.refresh_key_if(id, grace_ms, None, actor, now)
    }

    /// [`KeyStore::refresh_key`] only if the key is still at `expected_version`
    /// (checked inside the write; a stale one is `conflict` on field
    /// `expected_version`).
    pub fn refresh_key_if(
        &self,
        id: &str,
        grace_ms: i64,
        expected_version: Option<i64>,
        actor: Option<String>,
        now: Option<Timestamp>,
    ) -> Result<(ApiKey, Secret)> {
        let now = Timestamp::or_now(now);
        check_id(id)?;
        if !(0..=MAX_GRACE_MS).contains(&grace_ms) {
            return Err(Error::invalid(
                "grace",
                "must be 0 to 7 days (604800 seconds)",
            ));
        }
        check_actor(actor.as_deref())?;
        // Report an unknown key before spending an Argon2 hash on it.
        if self.backend().get_key(Some(&self.org), id)?.is_none() {
            return Err(Error::not_found(id));
        }
        let secret = secret::generate(&self.shared.options.secret_prefix)?;
        let hash = secret::hash(&secret, &self.shared.options.argon2)?;
        let rec = self.backend().update_key(&self.org, id, &mut |rec| {
            check_version(id, expected_version, rec)?;
            let old = std::mem::replace(&mut rec.secret_hash, hash.clone());
            rec.previous = (grace_ms > 0).then(|| PreviousSecret {
                hash: old,
                until: now.plus_millis(grace_ms),
            });
            rec.generation += 1;
            rec.version += 1;
            rec.updated_at = now;
            rec.last_refreshed_at = Some(now);
            Ok(audit_entry(
                now,
                actor.clone(),
                AuditAction::Refresh,
                rec,
                &["secret"],
            ))
        });
        self.shared.auth.evict(id);
        Ok((rec?.to_api_key(now), secret))
    }

    /// Deletes a key: it and every token issued for it stop working. Its audit
    /// records are kept.
    pub fn delete_key(
        &self,
        id: &str,
        actor: Option<String>,
        now: Option<Timestamp>,
    ) -> Result<()> {
        self.delete_key_if(id, None, actor, now)
    }

    /// [`KeyStore::delete_key`] only if the key is still at `expected_version`
    /// (checked inside the write; a stale one is `conflict` on field
    /// `expected_version`).
    pub fn delete_key_if(
        &self,
        id: &str,
        expected_version: Option<i64>,
        actor: Option<String>,
        now: Option<Timestamp>,
    ) -> Result<()> {
        let now = Timestamp::or_now(now);
        check_id(id)?;
        check_actor(actor.as_deref())?;
        let result = self.backend().delete_key(&self.org, id, &|rec| {
            check_version(id, expected_version, rec)?;
            Ok(audit_entry(
                now,
                actor.clone(),
                AuditAction::Delete,
                rec,
                &[],
            ))
        });
        self.shared.auth.evict(id);
        result
    }

    /// The counts of this organization's keys at `now`; "expiring soon" means active
    /// and expiring within `within_ms`.
    pub fn summary(&self, within_ms: i64, now: Option<Timestamp>) -> Result<Summary> {
        check_within(within_ms)?;
        let now = Timestamp::or_now(now);
        self.backend()
            .summary(&self.org, now, now.plus_millis(within_ms))
    }

    /// Audit records of this organization (of one key if given), newest first.
    pub fn audit_log(
        &self,
        key_id: Option<&str>,
        limit: i64,
        cursor: Option<&str>,
    ) -> Result<Page<AuditRecord>> {
        if let Some(id) = key_id {
            check_id(id)?;
        }
        check_limit(limit)?;
        let fingerprint = format!("audit\0{}\0{}", self.org, key_id.unwrap_or(""));
        let before = match cursor {
            Some(c) => cursor::decode(c, &fingerprint)?,
            None => i64::MAX,
        };
        let mut rows = self
            .backend()
            .audit_log(&self.org, key_id, before, limit + 1)?;
        let more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = match (more, rows.last()) {
            (true, Some((seq, _))) => Some(cursor::encode(*seq, &fingerprint)),
            _ => None,
        };
        Ok(Page {
            items: rows.into_iter().map(|(_, r)| r).collect(),
            next_cursor,
        })
    }
}

fn audit_entry(
    now: Timestamp,
    actor: Option<String>,
    action: AuditAction,
    rec: &KeyRecord,
    changes: &[&str],
) -> AuditRecord {
    AuditRecord {
        at: now,
        actor,
        action,
        key_id: rec.id.clone(),
        key_name: rec.name.clone(),
        changes: changes.iter().map(|c| (*c).to_owned()).collect(),
    }
}

fn check_id(id: &str) -> Result<()> {
    if is_key_id(id) {
        Ok(())
    } else {
        Err(Error::invalid(
            "id",
            "must be 32 lowercase hexadecimal characters",
        ))
    }
}

fn check_actor(actor: Option<&str>) -> Result<()> {
    actor.map_or(Ok(()), validate_actor)
}

fn check_limit(limit: i64) -> Result<()> {
    if (1..=MAX_PAGE).contains(&limit) {
        Ok(())
    } else {
        Err(Error::invalid(
            "limit",
            format!("{limit} must be 1 to {MAX_PAGE}"),
        ))
    }
}

fn check_within(within_ms: i64) -> Result<()> {
    if (0..=MAX_WITHIN_MS).contains(&within_ms) {
        Ok(())
    } else {
        Err(Error::invalid("within", "must be 0 to 36500 days"))
    }
}

fn check_expiry(expires_at: Option<Timestamp>, now: Timestamp) -> Result<()> {
    match expires_at {
        Some(e) if e <= now => Err(Error::invalid(
            "expires_at",
            format!("{e} is not after now ({now})"),
        )),
        _ => Ok(()),
    }
}

/// An empty description is stored as none.
fn normalize_description(d: Option<String>) -> Result<Option<String>> {
    match d {
        Some(d) if d.is_empty() => Ok(None),
        Some(d) => {
            validate_description(&d)?;
            Ok(Some(d))
        }
        None => Ok(None),
    }
}
