//! In-memory authorization state: what `authorize` needs of each key, held in
//! lock-free snapshots so the hot path touches no disk and takes no store-wide lock.
//!
//! Freshness across handles, processes and hosts comes from the store's access log,
//! which names the keys to reload. An embedded store is polled inline at most once per
//! `revocation_staleness`; a remote one is followed by a thread of the backend's
//! (notifications plus a poll), so `authorize` never waits for the network. Either
//! way, state that could not be refreshed for `revocation_staleness + offline_grace`
//! is not used: `authorize` fails with `storage` until a refresh succeeds.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::error::{Error, Result};
use crate::grant::Grant;
use crate::network::Network;
use crate::signing::{Kek, SigningKeys};
use crate::store::{AccessChanges, Backend, KeyRecord, SIGNING_CHANGED, SyncPoint, TOKENS_REVOKED};
use crate::time::{Timestamp, coarse_monotonic_ns};
use crate::token_cache::TokenCache;

const SHARDS: usize = 256;

/// What authorization needs to know of one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyAuth {
    pub org: String,
    pub name: String,
    pub enabled: bool,
    pub generation: i64,
    /// End of the grace of generation `generation - 1`, if any.
    pub prev_until: Option<Timestamp>,
    pub expires_at: Option<Timestamp>,
    pub networks: Vec<Network>,
    pub grants: Vec<Grant>,
    /// The grants as text, and whether none covers another: with both, a token whose
    /// every grant is one of these keeps its scope as written (see
    /// [`crate::grant::intersect_scope_with`]).
    pub grant_texts: Vec<String>,
    /// The grant texts, each followed by a space: the scope text of a token issued
    /// for all of them, and of its Principal.
    pub grants_spaced: String,
    pub grants_cover_free: bool,
}

impl From<&KeyRecord> for KeyAuth {
    fn from(r: &KeyRecord) -> Self {
        KeyAuth {
            org: r.org.clone(),
            name: r.name.clone(),
            enabled: r.enabled,
            generation: r.generation,
            prev_until: r.previous.as_ref().map(|p| p.until),
            expires_at: r.expires_at,
            networks: r.networks.clone(),
            grants: r.grants.clone(),
            grant_texts: r.grants.iter().map(ToString::to_string).collect(),
            grants_spaced: r.grants.iter().map(|g| format!("{g} ")).collect(),
            grants_cover_free: crate::grant::cover_free(&r.grants),
        }
    }
}

/// A cached lookup: the key's state, or `None` for a key that does not exist.
type Entry = Option<Arc<KeyAuth>>;

/// The hash of the key maps: a multiply-and-rotate over eight bytes at a time, a
/// few instructions for a 32-character id where SipHash takes some 200.
///
/// It is not keyed, and need not be: the maps are filled only by `with`, from the `sub`
/// of a token whose signature verified, so every id in them names a key this store
/// issued a token for (random ids from the operating system's generator); nobody
/// outside can choose what goes in, so nobody can choose ids that collide.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHash;

/// The state of an [`IdHash`] hash.
pub(crate) struct IdHasher(u64);

impl std::hash::BuildHasher for IdHash {
    type Hasher = IdHasher;
    fn build_hasher(&self) -> IdHasher {
        IdHasher(0)
    }
}

impl std::hash::Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0xf135_7aea_2e62_a9c5;
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            self.0 = (self.0 ^ w).wrapping_mul(K).rotate_left(26);
        }
        let mut last = [0u8; 8];
        last[..words.remainder().len()].copy_from_slice(words.remainder());
        self.0 = (self.0 ^ u64::from_le_bytes(last) ^ bytes.len() as u64)
            .wrapping_mul(K)
            .rotate_left(26);
    }

    fn finish(&self) -> u64 {
        // The table takes its bucket from the low bits and a tag from the top seven:
        // one more multiply spreads every input bit into both.
        (self.0 ^ self.0 >> 29).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }
}

type KeyMap = HashMap<String, Entry, IdHash>;

struct Shard {
    map: ArcSwap<KeyMap>,
    /// Bumped by every eviction, so a load that raced a change is not cached.
    epoch: AtomicU64,
    write: Mutex<()>,
}

/// After a failed inline refresh, the next attempt comes this soon (or sooner, with a
/// smaller staleness).
const RETRY_NS: u64 = 50_000_000;
/// A remote store is followed by a thread when the staleness is at least this; below
/// it `authorize` polls inline.
const BACKGROUND_MIN_NS: u64 = 50_000_000;

/// The least `revocation_staleness + offline_grace` timed by the coarse clock.
const COARSE_MIN_NS: u64 = 1_000_000_000;

/// The per-handle authorization state cache.
pub(crate) struct AuthCache {
    shards: Box<[Shard]>,
    /// When the cache was made, on the precise and on the coarse monotonic clock.
    start: Instant,
    start_ns: u64,
    /// Whether freshness is timed by the coarse clock: when the age it allows is
    /// at least [`COARSE_MIN_NS`].
    coarse: bool,
    staleness_ns: u64,
    grace_ns: u64,
    background: bool,
    next_check_ns: AtomicU64,
    /// When the last successful refresh began (monotonic, since `start`): the state is
    /// at least that fresh.
    synced_ns: AtomicU64,
    sync: Mutex<SyncPoint>,
    /// Tokens whose signature verified, for repeat requests.
    pub tokens: TokenCache,
    /// The signing keys in use; replaced when the store's table changes.
    signing: ArcSwap<SigningKeys>,
    /// Numbers each signing-key set, so a token verified under an older set is
    /// verified again (a key retired immediately must stop verifying).
    signing_epoch: AtomicU64,
    kek: Option<Kek>,
    leeway_ms: i64,
    /// Revoked token ids still denied.
    revoked: ArcSwap<HashSet<String>>,
    /// False when `revoked` is empty (the usual case): a check then reads one word,
    /// not the set. Changed only with `revoked`, under `revoked_write`.
    any_revoked: AtomicBool,
    revoked_write: Mutex<()>,
}

/// The value of each hex digit (anything else is 0), by table: the same instructions
/// whatever the id.
const HEX: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => 0,
        };
        c += 1;
    }
    t
};

fn shard_of(id: &str) -> usize {
    // Key ids are random hex: their first two characters spread evenly.
    let b = id.as_bytes();
    let hex = |c: u8| HEX[c as usize] as usize;
    match b {
        [a, c, ..] => (hex(*a) << 4 | hex(*c)) % SHARDS,
        _ => 0,
    }
}

impl AuthCache {
    /// A cache synchronized with `backend` as of now, verifying with `signing` (the
    /// store's table is read again on every change of it unless `signing` is fixed).
    pub fn new(
        backend: &dyn Backend,
        staleness: Duration,
        grace: Duration,
        signing: SigningKeys,
        kek: Option<Kek>,
        leeway_ms: i64,
    ) -> Result<Self> {
        let shards = (0..SHARDS)
            .map(|_| Shard {
                map: ArcSwap::from_pointee(KeyMap::default()),
                epoch: AtomicU64::new(0),
                write: Mutex::new(()),
            })
            .collect();
        let staleness_ns = staleness.as_nanos() as u64;
        let sync_point = backend.sync_point()?;
        let revoked: HashSet<String> = backend
            .revoked_token_ids(Timestamp::now())?
            .into_iter()
            .collect();
        Ok(AuthCache {
            shards,
            start: Instant::now(),
            start_ns: coarse_monotonic_ns(),
            coarse: staleness_ns.saturating_add(grace.as_nanos() as u64) >= COARSE_MIN_NS,
            staleness_ns,
            grace_ns: grace.as_nanos() as u64,
            background: backend.syncs_in_background() && staleness_ns >= BACKGROUND_MIN_NS,
            next_check_ns: AtomicU64::new(0),
            synced_ns: AtomicU64::new(0),
            sync: Mutex::new(sync_point),
            tokens: TokenCache::new(),
            signing: ArcSwap::from_pointee(signing),
            signing_epoch: AtomicU64::new(0),
            kek,
            leeway_ms,
            any_revoked: AtomicBool::new(!revoked.is_empty()),
            revoked: ArcSwap::from_pointee(revoked),
            revoked_write: Mutex::new(()),
        })
    }

    /// The signing keys in use, and the number of their set.
    pub fn signing(&self) -> (arc_swap::Guard<Arc<SigningKeys>>, u64) {
        // The epoch is read first: a set stored after it can only be newer, so a
        // token verified with it is at worst verified once more.
        let epoch = self.signing_epoch.load(Ordering::Acquire);
        (self.signing.load(), epoch)
    }

    /// The key-encryption key this handle was given.
    pub fn kek(&self) -> Option<&Kek> {
        self.kek.as_ref()
    }

    /// Reads the store's signing keys again (nothing to do for fixed keys).
    pub fn reload_signing(&self, backend: &dyn Backend) -> Result<()> {
        if self.signing.load().is_fixed() {
            return Ok(());
        }
        let table = backend.signing_table()?;
        let keys = SigningKeys::from_table(
            &table,
            self.kek.as_ref(),
            Timestamp::now().as_millis(),
            self.leeway_ms,
        )?;
        self.signing.store(Arc::new(keys));
        self.signing_epoch.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    /// True when token id `jti` was revoked.
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.any_revoked.load(Ordering::Acquire) && self.revoked.load().contains(jti)
    }

    /// Denies `jti` on this handle at once (the store tells the others).
    pub fn add_revoked(&self, jti: &str) {
        let _write = self.revoked_write.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = HashSet::clone(&self.revoked.load());
        next.insert(jti.to_owned());
        self.store_revoked(next);
    }

    fn reload_revoked(&self, backend: &dyn Backend) -> Result<()> {
        let ids = backend.revoked_token_ids(Timestamp::now())?;
        let _write = self.revoked_write.lock().unwrap_or_else(|p| p.into_inner());
        self.store_revoked(ids.into_iter().collect());
        Ok(())
    }

    /// Replaces the revoked set (the caller holds `revoked_write`). The flag is raised
    /// before a non-empty set is stored and lowered only after an empty one is, so a
    /// check that sees the flag down never misses a set that was complete before it.
    fn store_revoked(&self, set: HashSet<String>) {
        if set.is_empty() {
            self.revoked.store(Arc::new(set));
            self.any_revoked.store(false, Ordering::Release);
        } else {
            self.any_revoked.store(true, Ordering::Release);
            self.revoked.store(Arc::new(set));
        }
    }

    /// Monotonic nanoseconds since the cache was made. `authorize` reads it on every
    /// call: from the kernel's coarse clock (to its last tick, at most 10 ms behind)
    /// when the age allowed is a second or more, so the tick is at most 1 % of it;
    /// from the precise clock below that (a zero allowance must see every
    /// nanosecond).
    fn now_ns(&self) -> u64 {
        if self.coarse {
            coarse_monotonic_ns().saturating_sub(self.start_ns)
        } else {
            self.start.elapsed().as_nanos() as u64
        }
    }

    /// True when the backend's thread keeps this cache current.
    pub fn syncs_in_background(&self) -> bool {
        self.background
    }

    /// How often the backend's thread polls, notifications or not.
    pub fn background_interval(&self) -> Duration {
        Duration::from_nanos((self.staleness_ns / 2).max(10_000_000))
    }

    /// Reads the changes made through other handles and evicts the keys they touched
    /// (everything, when the log cannot tell). Returns false when the store could not
    /// be read; the state then ages toward the offline limit.
    pub fn sync(&self, backend: &dyn Backend) -> bool {
        let mut point = self.sync.lock().unwrap_or_else(|p| p.into_inner());
        self.sync_locked(&mut point, backend)
    }

    fn sync_locked(&self, point: &mut SyncPoint, backend: &dyn Backend) -> bool {
        let began = self.now_ns();
        let (to, signing, revoked) = match backend.access_changes(*point) {
            Ok(AccessChanges::None) => (None, false, false),
            Ok(AccessChanges::Keys { to, key_ids }) => {
                let (mut signing, mut revoked) = (false, false);
                for id in &key_ids {
                    match id.as_str() {
                        SIGNING_CHANGED => signing = true,
                        TOKENS_REVOKED => revoked = true,
                        _ => self.evict(id),
                    }
                }
                (Some(to), signing, revoked)
            }
            Ok(AccessChanges::Everything { to }) => {
                self.clear();
                (Some(to), true, true)
            }
            Err(_) => return false,
        };
        // The position moves on only once everything it names is reloaded.
        if signing && self.reload_signing(backend).is_err() {
            return false;
        }
        if revoked && self.reload_revoked(backend).is_err() {
            return false;
        }
        if let Some(to) = to {
            *point = to;
        }
        self.synced_ns.fetch_max(began, Ordering::AcqRel);
        true
    }

    /// Before `authorize` answers from memory: polls the store inline when due (not
    /// when a backend thread follows it), and fails with `storage` once the state is
    /// older than `revocation_staleness + offline_grace`. A failed poll never counts
    /// as a refresh, so a lasting fault cannot keep revoked keys working.
    ///
    /// With `may_wait` false it never polls: it returns `Ok(false)` when a poll is due,
    /// so the caller can first let go of what it holds (Python's GIL) and call again.
    pub fn refresh_if_due(&self, backend: &dyn Backend, may_wait: bool) -> Result<bool> {
        let now = self.now_ns();
        let due = !self.background && now >= self.next_check_ns.load(Ordering::Relaxed);
        if due && !may_wait {
            return Ok(false);
        }
        if due && let Ok(mut point) = self.sync.try_lock() {
            let ok = self.sync_locked(&mut point, backend);
            let wait = if ok {
                self.staleness_ns
            } else {
                self.staleness_ns.min(RETRY_NS)
            };
            self.next_check_ns.store(now + wait, Ordering::Relaxed);
        }
        let synced = self.synced_ns.load(Ordering::Acquire);
        let limit = synced
            .saturating_add(self.staleness_ns)
            .saturating_add(self.grace_ns);
        if now > limit {
            return Err(Error::storage(format!(
                "the key state could not be refreshed from the store for {:.1} s \
                 (revocation_staleness + offline_grace is {:.1} s)",
                (now - synced) as f64 / 1e9,
                (self.staleness_ns + self.grace_ns) as f64 / 1e9
            )));
        }
        Ok(true)
    }

    /// Runs `f` on the cached state of key `id` if it is in memory; `None` on a miss.
    pub fn with_cached<T>(&self, id: &str, f: impl FnOnce(Option<&KeyAuth>) -> T) -> Option<T> {
        let map = self.shards[shard_of(id)].map.load();
        map.get(id).map(|entry| f(entry.as_deref()))
    }

    /// Runs `f` on the cached state of key `id`, loading it on a miss.
    pub fn with<T>(
        &self,
        backend: &dyn Backend,
        id: &str,
        f: impl FnOnce(Option<&KeyAuth>) -> T,
    ) -> Result<T> {
        let shard = &self.shards[shard_of(id)];
        {
            let map = shard.map.load();
            if let Some(entry) = map.get(id) {
                return Ok(f(entry.as_deref()));
            }
        }
        let epoch = shard.epoch.load(Ordering::Acquire);
        let entry: Entry = backend
            .get_key(None, id)?
            .map(|r| Arc::new(KeyAuth::from(&r)));
        let out = f(entry.as_deref());
        let _guard = shard.write.lock().unwrap_or_else(|p| p.into_inner());
        if shard.epoch.load(Ordering::Acquire) == epoch {
            let mut next = KeyMap::clone(&shard.map.load());
            next.insert(id.to_owned(), entry);
            shard.map.store(Arc::new(next));
        }
        Ok(out)
    }

    /// Forgets key `id`: the next lookup reads it from the store.
    pub fn evict(&self, id: &str) {
        let shard = &self.shards[shard_of(id)];
        let _guard = shard.write.lock().unwrap_or_else(|p| p.into_inner());
        shard.epoch.fetch_add(1, Ordering::AcqRel);
        if shard.map.load().contains_key(id) {
            let mut next = KeyMap::clone(&shard.map.load());
            next.remove(id);
            shard.map.store(Arc::new(next));
        }
    }

    /// Forgets every key.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let _guard = shard.write.lock().unwrap_or_else(|p| p.into_inner());
            shard.epoch.fetch_add(1, Ordering::AcqRel);
            shard.map.store(Arc::new(KeyMap::default()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn id_hashes_spread_random_and_similar_ids_over_buckets_and_tags() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut random_id = || {
            (0..32)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    b"0123456789abcdef"[(rng >> 60) as usize] as char
                })
                .collect::<String>()
        };
        // Random ids, then ids that differ in one character only.
        let base = random_id();
        let similar = (0..32).flat_map(|at| {
            let base = base.clone();
            b"0123456789abcdef".iter().map(move |&c| {
                let mut id = base.clone().into_bytes();
                id[at] = c;
                String::from_utf8(id).unwrap()
            })
        });
        for ids in [
            (0..16_384).map(|_| random_id()).collect::<HashSet<_>>(),
            similar.collect::<HashSet<_>>(),
        ] {
            let (mut buckets, mut tags) = ([0u32; 256], [0u32; 128]);
            for id in &ids {
                let h = IdHash.hash_one(id.as_str());
                buckets[(h & 255) as usize] += 1;
                tags[(h >> 57) as usize] += 1;
            }
            let n = ids.len() as u32;
            // No bucket or tag holds more than three times its share (plus a little,
            // for small sets).
            assert!(buckets.iter().all(|&b| b <= 3 * n / 256 + 4), "{buckets:?}");
            assert!(tags.iter().all(|&t| t <= 3 * n / 128 + 4), "{tags:?}");
        }
        assert_eq!(IdHash.hash_one("abc"), IdHash.hash_one(String::from("abc")));
    }
}
