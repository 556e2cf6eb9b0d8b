//! A cache of tokens whose signature already verified, so a client's repeat
//! requests skip the HMAC, base64 and JSON work. Every check of the token's claims
//! and of the key's current state still runs on each request.

use std::mem::MaybeUninit;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::{ArcSwapOption, Guard};

use crate::error::Result;
use crate::signing::SigningKeys;
use crate::token::{
    Claims, MAX_CLAIMS_BYTES, Parsed, Spans, decode_payload_into, parse_claims, verified_payload,
};

const SLOTS: usize = 4096;

/// A verified token and its claims, owned, in one allocation: the token's text, then
/// its claims JSON (or, when that was not keyscope's canonical text, the claim strings
/// one after another), with where each claim string is.
#[derive(Debug)]
pub(crate) struct VerifiedToken {
    data: String,
    token_len: usize,
    spans: Spans,
    /// The signing-key set it verified under.
    pub epoch: u64,
}

impl VerifiedToken {
    /// Verifies `token` ([`crate::token::decode`]'s checks, in its order) and keeps
    /// exactly the bytes that verified, with their claims.
    pub fn decode(token: &str, keys: &SigningKeys, now_ms: i64, epoch: u64) -> Result<Self> {
        let payload = verified_payload(token, keys, now_ms)?;
        // The claims are decoded and scanned on the stack; the scan checks their
        // UTF-8 once, and the entry is then two copies of text already known to be
        // UTF-8 (no second check over token and claims).
        let mut scratch = [const { MaybeUninit::<u8>::uninit() }; MAX_CLAIMS_BYTES];
        let json = decode_payload_into(payload, &mut scratch)?;
        match parse_claims(json)? {
            Parsed::Canonical(mut spans, text) => {
                let base = token.len();
                let mut data = String::with_capacity(base + text.len());
                data.push_str(token);
                data.push_str(text);
                for (a, b) in &mut spans.strs {
                    *a += base as u32;
                    *b += base as u32;
                }
                Ok(VerifiedToken {
                    data,
                    token_len: base,
                    spans,
                    epoch,
                })
            }
            Parsed::Other(claims) => Ok(Self::new(token, &claims, epoch)),
        }
    }

    /// `token` with its already verified `claims`.
    pub fn new(token: &str, claims: &Claims<'_>, epoch: u64) -> Self {
        let strs = [
            &claims.iss,
            &claims.aud,
            &claims.sub,
            &claims.client_id,
            &claims.org,
            &claims.jti,
            &claims.scope,
        ];
        let mut data =
            String::with_capacity(token.len() + strs.iter().map(|s| s.len()).sum::<usize>());
        data.push_str(token);
        let mut spans = Spans {
            strs: [(0, 0); 7],
            iat: claims.iat,
            exp: claims.exp,
            r#gen: claims.r#gen,
        };
        for (span, s) in spans.strs.iter_mut().zip(strs) {
            let a = data.len() as u32;
            data.push_str(s);
            *span = (a, data.len() as u32);
        }
        VerifiedToken {
            data,
            token_len: token.len(),
            spans,
            epoch,
        }
    }

    /// The token's text.
    pub fn token(&self) -> &str {
        &self.data[..self.token_len]
    }

    /// The claims, borrowed.
    pub fn claims(&self) -> Claims<'_> {
        self.spans.claims(&self.data)
    }
}

/// A token found in the cache, held without touching its reference count (so
/// threads authorizing the same token share no written cache line).
pub(crate) struct Cached(Guard<Option<Arc<VerifiedToken>>>);

impl Deref for Cached {
    type Target = VerifiedToken;
    fn deref(&self) -> &VerifiedToken {
        self.0.as_deref().expect("only a hit is a Cached")
    }
}

impl Cached {
    /// The token, owned.
    pub fn into_arc(self) -> Arc<VerifiedToken> {
        Guard::into_inner(self.0).expect("only a hit is a Cached")
    }
}

/// A direct-mapped table of verified tokens, indexed by their signature. Lookups
/// are lock-free; a new token replaces whatever shared its slot.
pub(crate) struct TokenCache {
    slots: Box<[Slot]>,
}

/// One slot: the cached token and a tag made from its signature.
///
/// The tag is a hint and never decides a hit: `get` still compares the whole token.
/// It is written after the entry, so a reader may see a new entry with the old tag
/// or the reverse; either way the worst outcome is a miss, and the token is verified
/// again. It keeps a lookup that misses (every first sight, with the slot held by
/// another token) from reading the other token's memory, a cache miss of its own.
struct Slot {
    tag: AtomicU64,
    entry: ArcSwapOption<VerifiedToken>,
}

/// The tag of an empty slot: no signature's tag, as [`tag_of`] sets the top bit.
const NO_TAG: u64 = 0;

/// Signature characters 2 to 9 (the two before them choose the slot), in one word,
/// with the top bit set. Comparing it is one word comparison: it tells whether all
/// eight characters are equal and nothing about any of them alone.
fn tag_of(sig: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    for (w, c) in word.iter_mut().zip(sig.iter().skip(2)) {
        *w = *c;
    }
    u64::from_le_bytes(word) | 1 << 63
}

/// Asks the processor to bring every 64-byte line of `bytes` into its caches, all at
/// once, without waiting for any of them. `authorize` calls it first thing with the
/// token: a token that is not in the caches (a queue of requests, a benchmark
/// cycling through thousands) then costs one memory latency, overlapped with the
/// argument checks, instead of one per line as the searches for its dots reach it.
/// For a token already in the caches it is a few instructions.
#[inline]
pub(crate) fn prefetch_lines(bytes: &[u8]) {
    let mut i = 0;
    while i < bytes.len() {
        prefetch(bytes.as_ptr().wrapping_add(i));
        i += 64;
    }
    if let Some(last) = bytes.last() {
        prefetch(last);
    }
}

/// A hint to load the line holding `at`; no-op where there is no such instruction.
#[inline(always)]
fn prefetch(at: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch only moves memory between caches: it gives the program no
    // value and never faults, whatever the address (even one never allocated).
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

fn signature(token: &str) -> &[u8] {
    let bytes = token.as_bytes();
    memchr::memrchr(b'.', bytes).map_or(&[][..], |dot| &bytes[dot + 1..])
}

/// The 6-bit value of each base64url character (anything else folds into 0..64), by
/// table: the same instructions whatever the signature, so instruction counts of
/// `authorize` do not depend on which characters a random signature has.
const SEXTET: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            other => other & 63,
        };
        c += 1;
    }
    t
};

fn sextet(c: u8) -> usize {
    SEXTET[c as usize] as usize
}

fn slot_of(sig: &[u8]) -> usize {
    // The signature is random: the 12 bits of its first two base64url characters
    // spread evenly over exactly the 4096 slots.
    const _: () = assert!(SLOTS == 1 << 12);
    let at = |i: usize| sig.get(i).map_or(0, |&c| sextet(c));
    (at(0) << 6 | at(1)) % SLOTS
}

impl TokenCache {
    pub fn new() -> Self {
        TokenCache {
            slots: (0..SLOTS)
                .map(|_| Slot {
                    tag: AtomicU64::new(NO_TAG),
                    entry: ArcSwapOption::empty(),
                })
                .collect(),
        }
    }

    /// The verified token equal to `token`. The slot's tag is compared first (one
    /// word, so a token that only shares the slot is told apart without reading the
    /// cached entry's memory); then the signature in constant time, then the (public)
    /// header and claims text.
    pub fn get(&self, token: &str) -> Option<Cached> {
        let sig = signature(token);
        let slot = &self.slots[slot_of(sig)];
        if slot.tag.load(Ordering::Acquire) != tag_of(sig) {
            // A first sight (or a token that only shares the slot). If it verifies,
            // its insert replaces this slot's entry, and dropping that entry reads
            // the entry's reference counts and the allocator's header before them:
            // in a busy process, memory no one has touched for a while. Their lines
            // are asked for now, by address only (nothing of the entry is read), so
            // they arrive while the signature is checked.
            if let Some(old) = slot.entry.load().as_ref() {
                let at = Arc::as_ptr(old).cast::<u8>();
                prefetch(at.wrapping_sub(24));
                prefetch(at);
            }
            return None;
        }
        let guard = slot.entry.load();
        let cached = guard.as_deref()?;
        let cached = cached.token().as_bytes();
        // Equal lengths first: then the cached signature is where `token`'s is, and
        // any other layout fails the full comparison below.
        if cached.len() != token.len() {
            return None;
        }
        let sig_at = token.len() - sig.len();
        let hit = crate::ct::eq(&cached[sig_at..], sig) && cached == token.as_bytes();
        hit.then_some(Cached(guard))
    }

    /// Forgets `token` if it is cached.
    pub fn remove(&self, token: &str) {
        let slot = &self.slots[slot_of(signature(token))].entry;
        if slot
            .load()
            .as_ref()
            .is_some_and(|c| c.token().as_bytes() == token.as_bytes())
        {
            slot.store(None);
        }
    }

    pub fn clear(&self) {
        for slot in self.slots.iter() {
            slot.entry.store(None);
        }
    }

    pub fn insert(&self, verified: Arc<VerifiedToken>) {
        let sig = signature(verified.token());
        let slot = &self.slots[slot_of(sig)];
        let tag = tag_of(sig);
        slot.entry.store(Some(verified));
        slot.tag.store(tag, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    #[test]
    fn prefetching_takes_any_length_and_changes_nothing() {
        for len in [0, 1, 63, 64, 65, 450, 4096] {
            let bytes: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let before = bytes.clone();
            prefetch_lines(&bytes);
            assert_eq!(bytes, before);
        }
    }

    #[test]
    fn a_first_sight_in_a_held_slot_still_finds_the_holder() {
        // The miss path asks for the holder's lines; the holder stays cached and
        // is found again.
        let cache = TokenCache::new();
        let a = entry("e30.e30.AAxxxxxxxxxx");
        cache.insert(Arc::clone(&a));
        assert!(cache.get("e30.e30.AAyyyyyyyyyy").is_none());
        let hit = cache
            .get("e30.e30.AAxxxxxxxxxx")
            .expect("the holder is still there");
        assert_eq!(hit.token(), a.token());
    }

    #[test]
    fn signatures_reach_every_slot() {
        let mut hit = vec![false; SLOTS];
        for &a in B64URL {
            for &b in B64URL {
                hit[slot_of(&[a, b, b'x', b'y'])] = true;
            }
        }
        assert_eq!(hit.iter().filter(|&&h| h).count(), SLOTS);
    }

    fn entry(token: &str) -> Arc<VerifiedToken> {
        let claims = Claims {
            iss: "keyscope".into(),
            aud: "keyscope".into(),
            sub: "k".into(),
            client_id: "k".into(),
            org: "o".into(),
            iat: 1,
            exp: 2,
            jti: "j".into(),
            scope: "s:read".into(),
            r#gen: 1,
        };
        Arc::new(VerifiedToken::new(token, &claims, 7))
    }

    #[test]
    fn a_hit_is_the_same_token_and_nothing_else() {
        let cache = TokenCache::new();
        let token = "h.c.ABcdefghijKLM";
        cache.insert(entry(token));
        assert_eq!(
            cache.get(token).map(|c| c.token().to_owned()).as_deref(),
            Some(token)
        );
        // Same slot and same tag (characters 0 to 9 of the signature), then another
        // character; another claims part; another length; a prefix.
        for other in [
            "h.c.ABcdefghijKLN",
            "h.d.ABcdefghijKLM",
            "h.c.ABcdefghijKLMN",
            "hh.c.ABcdefghijKL",
            "h.c.ABcdefghij",
        ] {
            assert!(cache.get(other).is_none(), "{other}");
        }
        // Same slot, another tag: not found, and the cached one still is.
        assert!(cache.get("h.c.ABzdefghijKLM").is_none());
        assert!(cache.get(token).is_some());
    }

    #[test]
    fn a_stale_tag_only_makes_a_miss() {
        let cache = TokenCache::new();
        let (a, b) = ("h.c.ABaaaaaaaaaa", "h.c.ABbbbbbbbbbb");
        cache.insert(entry(a));
        // What a reader may see while another thread inserts: the new entry under
        // the old tag, or the reverse.
        let slot = &cache.slots[slot_of(signature(a))];
        slot.entry.store(Some(entry(b)));
        assert!(cache.get(a).is_none() && cache.get(b).is_none());
        slot.tag.store(tag_of(signature(b)), Ordering::Release);
        assert!(cache.get(a).is_none());
        assert_eq!(
            cache.get(b).map(|c| c.token().to_owned()).as_deref(),
            Some(b)
        );
        cache.remove(b);
        assert!(cache.get(b).is_none());
    }

    #[test]
    fn empty_slots_have_a_tag_no_signature_has() {
        for sig in [&b""[..], b"AB", b"ABAAAAAAAA", b"\0\0\0\0\0\0\0\0\0\0"] {
            assert_ne!(tag_of(sig), NO_TAG);
        }
    }

    #[test]
    fn odd_signatures_still_land_in_a_slot() {
        for sig in [&b""[..], b"A", b"\xff\xfe", b"=="] {
            assert!(slot_of(sig) < SLOTS);
        }
    }
}
