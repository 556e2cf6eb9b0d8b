//! Token exchange (docs/tokens.md): key id + secret for a short-lived access token, with
//! the failed-exchange throttle and the verified-secret cache.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use crate::hmac256::HmacSha256;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};
use crate::grant::split_grant;
use crate::keystore::KeyStore;
use crate::network::{allows, parse_client_ip};
use crate::secret::{self, Secret, is_key_id, is_well_formed, random_bytes};
use crate::store::KeyRecord;
use crate::time::Timestamp;
use crate::token::{AccessToken, Claims, encode};

/// The throttle's sliding window.
const WINDOW_MS: i64 = 60_000;
/// Most keys the throttle tracks at once.
const THROTTLE_KEYS: usize = 10_000;
/// Most verified secrets remembered.
const VERIFIED_CAP: usize = 10_000;
/// `last_used_at` is written at most this often per key.
const LAST_USED_EVERY_MS: i64 = 60_000;

/// Failed secret checks per key in a sliding window, in a bounded table.
pub(crate) struct Throttle {
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

impl Throttle {
    pub fn new() -> Self {
        Throttle {
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Seconds until the next attempt may run, when `max` failures are in the window.
    pub fn limited(&self, key_id: &str, now: Timestamp, max: u32) -> Option<u64> {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let q = map.get_mut(key_id)?;
        let start = now.as_millis() - WINDOW_MS;
        while q.front().is_some_and(|&t| t <= start) {
            q.pop_front();
        }
        let recent: Vec<i64> = q.iter().rev().take(max as usize).rev().copied().collect();
        wait_for(&recent, now, max)
    }

    /// Counts a failed check. When the table is full, keys without failures in the
    /// window go first, then the key whose latest failure is oldest, one at a time:
    /// a flood of other keys never hands a locked-out key fresh guesses at once.
    pub fn record_failure(&self, key_id: &str, now: Timestamp, max: u32) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        if map.len() >= THROTTLE_KEYS && !map.contains_key(key_id) {
            let start = now.as_millis() - WINDOW_MS;
            map.retain(|_, q| q.back().is_some_and(|&t| t > start));
            while map.len() >= THROTTLE_KEYS {
                let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, q)| q.back().copied().unwrap_or(i64::MIN))
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        let q = map.entry(key_id.to_owned()).or_default();
        q.push_back(now.as_millis());
        while q.len() > max as usize {
            q.pop_front();
        }
    }
}

/// Given a key's latest failures in the window (at most `max`, ascending), the seconds
/// until the next attempt may run, or `None` when fewer than `max` are counted: the
/// wait ends when the oldest of them leaves the window.
fn wait_for(recent: &[i64], now: Timestamp, max: u32) -> Option<u64> {
    if recent.len() < max as usize {
        return None;
    }
    let oldest = *recent.first()?;
    Some(((oldest + WINDOW_MS - now.as_millis()).max(1) as u64).div_ceil(1000))
}

/// Keyed digests of secrets that passed Argon2, so repeat exchanges skip it. The
/// digest covers the credential generation, so a refresh or disable makes every
/// earlier entry unreachable.
pub(crate) struct VerifiedCache {
    mac: HmacSha256,
    seen: Mutex<HashSet<[u8; 32]>>,
}

impl VerifiedCache {
    pub fn new() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; 32]);
        random_bytes(&mut k[..])?;
        Ok(VerifiedCache {
            mac: HmacSha256::new(&k[..]),
            seen: Mutex::new(HashSet::new()),
        })
    }

    pub fn digest(&self, key_id: &str, generation: i64, secret: &Secret) -> [u8; 32] {
        self.mac.mac_secret(&[
            key_id.as_bytes(),
            &generation.to_be_bytes(),
            secret.expose().as_bytes(),
        ])
    }

    pub fn contains(&self, d: &[u8; 32]) -> bool {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(d)
    }

    pub fn clear(&self) {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn insert(&self, d: [u8; 32]) {
        let mut set = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if set.len() >= VERIFIED_CAP {
            set.clear();
        }
        set.insert(d);
    }
}

fn invalid_credentials() -> Error {
    Error::new(ErrorKind::InvalidCredentials, "invalid client credentials")
}

/// Parses a requested scope: space-separated grants, each covered by the key.
fn narrow_scope(requested: &str, key: &KeyRecord) -> Result<String> {
    let mut out: Vec<&str> = Vec::new();
    for g in requested.split(' ').filter(|g| !g.is_empty()) {
        let Some((scope, resource, perm)) = split_grant(g) else {
            return Err(Error::new(
                ErrorKind::InvalidScope,
                format!("requested scope {g:?} is malformed"),
            ));
        };
        if !key
            .grants
            .iter()
            .any(|kg| kg.covers_parts(scope, resource, perm))
        {
            return Err(Error::new(
                ErrorKind::InvalidScope,
                format!("the key does not hold {g:?}"),
            ));
        }
        if !out.contains(&g) {
            out.push(g);
        }
    }
    if out.is_empty() {
        return Ok(key
            .grants
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" "));
    }
    Ok(out.join(" "))
}

impl KeyStore {
    /// Exchanges a key id and secret for an access token (OAuth 2.0 client
    /// credentials). Checks, in order: the secret's form and the key's existence
    /// (`invalid_credentials`), the throttle (`rate_limited`), the client address
    /// (`network_denied`, before any Argon2), the secret (cache, else Argon2),
    /// `enabled` and expiry, then the requested `scope` (`invalid_scope`).
    pub fn issue_token(
        &self,
        key_id: &str,
        secret: &Secret,
        client_ip: Option<&str>,
        scope: Option<&str>,
        now: Option<Timestamp>,
    ) -> Result<AccessToken> {
        let now = Timestamp::or_now(now);
        let (rec, generation) = self.authenticate_client(key_id, secret, client_ip, now)?;
        let shared = self.shared();
        let opts = &shared.options;

        // 6. Scope.
        let scope = narrow_scope(scope.unwrap_or(""), &rec)?;

        let now_s = now.unix_seconds();
        let mut exp = now_s + opts.token_ttl;
        if let Some(e) = rec.expires_at {
            exp = exp.min(e.unix_seconds());
        }
        if generation != rec.generation
            && let Some(p) = &rec.previous
        {
            exp = exp.min(p.until.unix_seconds());
        }
        let mut jti = [0u8; 16];
        random_bytes(&mut jti)?;
        let claims = Claims {
            iss: opts.issuer.as_str().into(),
            aud: opts.audience().into(),
            sub: key_id.into(),
            client_id: key_id.into(),
            org: rec.org.as_str().into(),
            iat: now_s,
            exp,
            jti: URL_SAFE_NO_PAD.encode(jti).into(),
            scope: scope.as_str().into(),
            r#gen: generation,
        };
        // The signing keys as fresh as authorization's: a key another handle retired
        // or rotated away signs nothing here after revocation_staleness.
        shared.auth.refresh_if_due(shared.backend.as_ref(), true)?;
        let token = encode(shared.auth.signing().0.signer()?, &claims)?;
        if rec
            .last_used_at
            .is_none_or(|t| now.as_millis() - t.as_millis() >= LAST_USED_EVERY_MS)
        {
            shared.backend.touch_last_used(key_id, now)?;
        }
        Ok(AccessToken {
            access_token: token,
            token_type: "Bearer",
            expires_in: exp - now_s,
            expires_at: Timestamp::from_unix_seconds(exp, "exp")?,
            scope,
        })
    }

    /// Checks a client's key id and secret (steps 1–5 of the exchange: form and
    /// existence, throttle, networks, secret, enabled and expiry) and returns its key
    /// and the credential generation the secret belongs to. The token endpoint,
    /// introspection and revocation authenticate their callers with it.
    pub(crate) fn authenticate_client(
        &self,
        key_id: &str,
        secret: &Secret,
        client_ip: Option<&str>,
        now: Timestamp,
    ) -> Result<(KeyRecord, i64)> {
        let client = client_ip.map(parse_client_ip).transpose()?;
        let shared = self.shared();
        let opts = &shared.options;

        // 1. Form, prefix and checksum, and existence (in this org, for a view).
        if !is_key_id(key_id) || !is_well_formed(secret.expose(), &opts.secret_prefix) {
            return Err(invalid_credentials());
        }
        let org = self.is_view().then(|| self.org_name());
        let rec = shared
            .backend
            .get_key(org, key_id)?
            .ok_or_else(invalid_credentials)?;

        // 2. The throttle, unless the cache already knows this secret.
        let grace_open = rec.previous.as_ref().is_some_and(|p| now < p.until);
        let current = shared.verified.digest(key_id, rec.generation, secret);
        let previous =
            grace_open.then(|| shared.verified.digest(key_id, rec.generation - 1, secret));
        let mut matched = if shared.verified.contains(&current) {
            Some(rec.generation)
        } else if previous.is_some_and(|d| shared.verified.contains(&d)) {
            Some(rec.generation - 1)
        } else {
            None
        };
        let max = opts.max_failed_exchanges_per_minute;
        let window_start = now.plus_millis(-WINDOW_MS);
        let limited = if matched.is_some() {
            None
        } else if shared.backend.counts_failures() {
            // Counted in the store: the limit holds across every handle and host.
            let recent = shared.backend.recent_failures(key_id, window_start, max)?;
            wait_for(&recent, now, max)
        } else {
            shared.throttle.limited(key_id, now, max)
        };
        if let Some(wait) = limited {
            return Err(Error::new(
                ErrorKind::RateLimited,
                format!("too many failed exchanges for this key; retry in {wait} s"),
            )
            .with_retry_after(wait));
        }

        // 3. Networks, before any Argon2.
        if !allows(&rec.networks, client) {
            return Err(Error::new(
                ErrorKind::NetworkDenied,
                match client {
                    Some(ip) => format!("{ip} is outside the key's networks"),
                    None => "the key is restricted to networks and no client address was given"
                        .to_owned(),
                },
            ));
        }

        // 4. The secret.
        if matched.is_none() {
            let v = secret::verify(secret, &rec.secret_hash, &opts.argon2)?;
            if v.matches {
                matched = Some(rec.generation);
                shared.verified.insert(current);
                if v.needs_rehash {
                    let new = secret::hash(secret, &opts.argon2)?;
                    shared
                        .backend
                        .replace_hash(key_id, &rec.secret_hash, &new)?;
                }
            } else if let (Some(prev), Some(d)) =
                (rec.previous.as_ref().filter(|_| grace_open), previous)
                && secret::verify(secret, &prev.hash, &opts.argon2)?.matches
            {
                matched = Some(rec.generation - 1);
                shared.verified.insert(d);
            }
        }
        let Some(generation) = matched else {
            if shared.backend.counts_failures() {
                shared.backend.record_failure(key_id, now, window_start)?;
            } else {
                shared.throttle.record_failure(key_id, now, max);
            }
            return Err(invalid_credentials());
        };

        // 5. Enabled, then expiry.
        if !rec.enabled {
            return Err(Error::new(ErrorKind::KeyDisabled, "the key is disabled"));
        }
        if rec.expires_at.is_some_and(|e| e <= now) {
            return Err(Error::new(ErrorKind::KeyExpired, "the key has expired"));
        }

        Ok((rec, generation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttle_table_stays_bounded() {
        let t = Throttle::new();
        let now = Timestamp::from_millis(1_800_000_000_000, "now").unwrap();
        for i in 0..THROTTLE_KEYS + 10 {
            t.record_failure(&format!("{i:032x}"), now, 20);
        }
        assert!(t.failures.lock().unwrap().len() <= THROTTLE_KEYS);
    }

    #[test]
    fn a_full_throttle_table_evicts_the_oldest_key_not_everything() {
        let t = Throttle::new();
        let at = |ms: i64| Timestamp::from_millis(1_800_000_000_000 + ms, "now").unwrap();
        for i in 0..THROTTLE_KEYS - 1 {
            t.record_failure(&format!("{i:032x}"), at(i as i64), 2);
        }
        let locked = "locked";
        let late = THROTTLE_KEYS as i64;
        t.record_failure(locked, at(late), 2);
        t.record_failure(locked, at(late), 2);
        assert!(t.limited(locked, at(late + 1), 2).is_some());
        // The table is full; each newcomer pushes out the oldest key only.
        for n in 0..3 {
            t.record_failure(&format!("new{n}"), at(late + 2), 2);
        }
        let map = t.failures.lock().unwrap();
        assert_eq!(map.len(), THROTTLE_KEYS);
        assert!(!map.contains_key(&format!("{:032x}", 0)));
        assert!(!map.contains_key(&format!("{:032x}", 2)));
        assert!(map.contains_key(&format!("{:032x}", 3)));
        drop(map);
        assert!(
            t.limited(locked, at(late + 3), 2).is_some(),
            "the locked-out key keeps its failures"
        );
    }

    #[test]
    fn throttle_counts_failures_in_a_sliding_window() {
        let t = Throttle::new();
        let at = |ms: i64| Timestamp::from_millis(1_800_000_000_000 + ms, "now").unwrap();
        t.record_failure("k", at(0), 2);
        assert_eq!(t.limited("k", at(10), 2), None);
        t.record_failure("k", at(30_000), 2);
        assert_eq!(
            t.limited("k", at(30_001), 2),
            Some(30),
            "until the first failure leaves the window"
        );
        assert_eq!(
            t.limited("k", at(60_000), 2),
            None,
            "a failure 60 s old no longer counts"
        );
    }

    #[test]
    fn verified_cache_stays_bounded_and_is_keyed_by_generation() {
        let c = VerifiedCache::new().unwrap();
        let secret = Secret::new("kss_x");
        let d1 = c.digest("id", 1, &secret);
        assert_ne!(
            d1,
            c.digest("id", 2, &secret),
            "a refresh changes the digest"
        );
        assert_ne!(d1, c.digest("id", 1, &Secret::new("kss_y")));
        for i in 0..VERIFIED_CAP as i64 + 5 {
            c.insert(c.digest("id", i, &secret));
        }
        assert!(c.seen.lock().unwrap().len() <= VERIFIED_CAP);
    }
}
