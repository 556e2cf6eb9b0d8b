//! In-memory authorization state (SPEC §6): what `authorize` needs of each key, held
//! in lock-free snapshots so the hot path touches no disk and takes no store-wide
//! lock. Freshness across handles and processes comes from SQLite's
//! `PRAGMA data_version`, polled at most once per `revocation_staleness`, and the
//! access log, which names the keys to reload.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use crate::error::Result;
use crate::grant::Grant;
use crate::network::Network;
use crate::store::{Backend, KeyRecord};
use crate::time::Timestamp;

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
        }
    }
}

/// A cached lookup: the key's state, or `None` for a key that does not exist.
type Entry = Option<Arc<KeyAuth>>;

struct Shard {
    map: ArcSwap<HashMap<String, Entry>>,
    /// Bumped by every eviction, so a load that raced a change is not cached.
    epoch: AtomicU64,
    write: Mutex<()>,
}

struct SyncState {
    data_version: i64,
    last_rev: i64,
}

/// The per-handle authorization state cache.
pub(crate) struct AuthCache {
    shards: Box<[Shard]>,
    start: Instant,
    staleness_ns: u64,
    next_check_ns: AtomicU64,
    sync: Mutex<SyncState>,
}

fn shard_of(id: &str) -> usize {
    // Key ids are random hex: their first two characters spread evenly.
    let b = id.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as usize;
    match b {
        [a, c, ..] => (hex(*a) << 4 | hex(*c)) % SHARDS,
        _ => 0,
    }
}

impl AuthCache {
    /// A cache synchronized with `backend` as of now.
    pub fn new(backend: &dyn Backend, staleness: Duration) -> Result<Self> {
        let shards = (0..SHARDS)
            .map(|_| Shard {
                map: ArcSwap::from_pointee(HashMap::new()),
                epoch: AtomicU64::new(0),
                write: Mutex::new(()),
            })
            .collect();
        Ok(AuthCache {
            shards,
            start: Instant::now(),
            staleness_ns: staleness.as_nanos() as u64,
            next_check_ns: AtomicU64::new(0),
            sync: Mutex::new(SyncState {
                data_version: backend.data_version()?,
                last_rev: backend.latest_access_rev()?,
            }),
        })
    }

    /// Polls the store for changes made through other connections, at most once per
    /// `revocation_staleness`, and evicts the keys they touched.
    pub fn refresh_if_due(&self, backend: &dyn Backend) -> Result<()> {
        let now_ns = self.start.elapsed().as_nanos() as u64;
        if now_ns < self.next_check_ns.load(Ordering::Relaxed) {
            return Ok(());
        }
        let Ok(mut sync) = self.sync.try_lock() else {
            return Ok(()); // another thread is checking right now
        };
        self.next_check_ns
            .store(now_ns + self.staleness_ns, Ordering::Relaxed);
        let version = backend.data_version()?;
        if version == sync.data_version {
            return Ok(());
        }
        let changes = backend.access_changes(sync.last_rev)?;
        if changes.complete {
            for id in &changes.key_ids {
                self.evict(id);
            }
        } else {
            self.clear();
        }
        sync.last_rev = changes.latest_rev;
        sync.data_version = version;
        Ok(())
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
            let mut next = HashMap::clone(&shard.map.load());
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
            let mut next = HashMap::clone(&shard.map.load());
            next.remove(id);
            shard.map.store(Arc::new(next));
        }
    }

    /// Forgets every key.
    pub fn clear(&self) {
        for shard in self.shards.iter() {
            let _guard = shard.write.lock().unwrap_or_else(|p| p.into_inner());
            shard.epoch.fetch_add(1, Ordering::AcqRel);
            shard.map.store(Arc::new(HashMap::new()));
        }
    }
}
