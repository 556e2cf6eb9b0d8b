//! A cache of tokens whose signature already verified, so a client's repeat
//! requests skip the HMAC, base64 and JSON work. Every check of the token's claims
//! and of the key's current state still runs on each request.

use std::mem::MaybeUninit;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

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
        Self::verify(token, keys, now_ms, |content| {
            Self::from_content(content, epoch)
        })
    }

    /// Verifies `token` and hands what verified to `place`, which makes the entry:
    /// the claims are decoded and scanned on the stack, and nothing is kept unless
    /// the token verified.
    fn verify<R>(
        token: &str,
        keys: &SigningKeys,
        now_ms: i64,
        place: impl FnOnce(&Content<'_>) -> R,
    ) -> Result<R> {
        let payload = verified_payload(token, keys, now_ms)?;
        // The scan checks the claims' UTF-8 once; the entry is then two copies of
        // text already known to be UTF-8 (no second check over token and claims).
        let mut scratch = [const { MaybeUninit::<u8>::uninit() }; MAX_CLAIMS_BYTES];
        let json = decode_payload_into(payload, &mut scratch)?;
        let parsed = parse_claims(json)?;
        Ok(place(&Content { token, parsed }))
    }

    /// `token` with its already verified `claims`.
    #[cfg(test)]
    pub fn new(token: &str, claims: &Claims<'_>, epoch: u64) -> Self {
        let content = Content {
            token,
            parsed: Parsed::Other(claims.clone()),
        };
        Self::from_content(&content, epoch)
    }

    fn from_content(content: &Content<'_>, epoch: u64) -> Self {
        let mut v = VerifiedToken {
            data: String::with_capacity(content.len()),
            token_len: 0,
            spans: Spans::default(),
            epoch,
        };
        v.fill(content, epoch);
        v
    }

    /// Whether [`VerifiedToken::fill`] with `content` would reuse this entry's buffer
    /// without growing it and without keeping much more than it needs (an entry
    /// that once held a long token does not keep its memory for short ones).
    fn fits(&self, content: &Content<'_>) -> bool {
        let (need, cap) = (content.len(), self.data.capacity());
        need <= cap && cap <= 2 * need
    }

    /// Becomes `content`, in this entry's buffer: the token's text, then its claims
    /// JSON (or, when that was not keyscope's canonical text, the claim strings one
    /// after another), with where each claim string is.
    fn fill(&mut self, content: &Content<'_>, epoch: u64) {
        let token = content.token;
        let data = &mut self.data;
        data.clear();
        data.push_str(token);
        let base = token.len() as u32;
        self.spans = match &content.parsed {
            Parsed::Canonical(spans, text) => {
                data.push_str(text);
                let mut spans = *spans;
                for (a, b) in &mut spans.strs {
                    *a += base;
                    *b += base;
                }
                spans
            }
            Parsed::Other(claims) => {
                let strs = claim_strings(claims);
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
                spans
            }
        };
        self.token_len = token.len();
        self.epoch = epoch;
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

/// A token that verified, with its claims as parsed (borrowed from the token and
/// the stack), before it becomes an entry.
struct Content<'a> {
    token: &'a str,
    parsed: Parsed<'a>,
}

impl Content<'_> {
    /// The bytes of the entry it makes.
    fn len(&self) -> usize {
        self.token.len()
            + match &self.parsed {
                Parsed::Canonical(_, text) => text.len(),
                Parsed::Other(claims) => claim_strings(claims).iter().map(|s| s.len()).sum(),
            }
    }
}

/// The seven string claims, in the order of [`Spans::strs`].
fn claim_strings<'c>(claims: &'c Claims<'_>) -> [&'c str; 7] {
    [
        &claims.iss,
        &claims.aud,
        &claims.sub,
        &claims.client_id,
        &claims.org,
        &claims.jti,
        &claims.scope,
    ]
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

thread_local! {
    /// The entry this thread last evicted, to be rewritten by its next first sight
    /// if no one else holds it by then (one per thread; reused only for a token it
    /// fits, [`VerifiedToken::fits`], else dropped).
    static SPARE: std::cell::Cell<Option<Arc<VerifiedToken>>> =
        const { std::cell::Cell::new(None) };
}

/// A direct-mapped table of verified tokens, indexed by their signature. Lookups
/// are lock-free; a new token replaces whatever shared its slot.
pub(crate) struct TokenCache {
    /// Each slot's tag, made from its token's signature, apart from the entries:
    /// sixteen to a cache line (16 KiB in all), so that a lookup in a busy process
    /// finds its tag's line in the processor's caches more often than not.
    ///
    /// The tag is a hint and never decides a hit: `get` still compares the whole
    /// token. It is written after the entry, so a reader may see a new entry with
    /// the old tag or the reverse; either way the worst outcome is a miss, and the
    /// token is verified again. It keeps a lookup that misses (every first sight,
    /// with the slot held by another token) from reading the other token's memory,
    /// a cache miss of its own.
    tags: Box<[AtomicU32]>,
    /// Each slot's token.
    entries: Box<[ArcSwapOption<VerifiedToken>]>,
}

/// The tag of an empty slot: no signature's tag, as [`tag_of`] sets the top bit.
const NO_TAG: u32 = 0;

/// Signature characters 2 to 5 (the two before them choose the slot), in one word,
/// with the top bit set. Comparing it is one word comparison: it tells whether all
/// four characters are equal and nothing about any of them alone.
fn tag_of(sig: &[u8]) -> u32 {
    let mut word = [0u8; 4];
    for (w, c) in word.iter_mut().zip(sig.iter().skip(2)) {
        *w = *c;
    }
    u32::from_le_bytes(word) | 1 << 31
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
            tags: (0..SLOTS).map(|_| AtomicU32::new(NO_TAG)).collect(),
            entries: (0..SLOTS).map(|_| ArcSwapOption::empty()).collect(),
        }
    }

    /// The verified token equal to `token`. The slot's tag is compared first (one
    /// word, so a token that only shares the slot is told apart without reading the
    /// cached entry's memory); then the signature in constant time, then the (public)
    /// header and claims text.
    pub fn get(&self, token: &str) -> Option<Cached> {
        let sig = signature(token);
        let slot = slot_of(sig);
        let entry = &self.entries[slot];
        // Both lines of the slot at once: the tag's, read now, and the entry's, read
        // next whichever way the tag compares.
        prefetch((entry as *const ArcSwapOption<VerifiedToken>).cast());
        if self.tags[slot].load(Ordering::Acquire) != tag_of(sig) {
            // A first sight (or a token that only shares the slot). If it verifies,
            // its insert writes the token into this thread's spare entry: in a busy
            // process, memory last touched one first sight ago. Its lines are asked
            // for now (the spare's header was asked for when it became the spare),
            // so they arrive while the signature is checked.
            SPARE.with(|spare| {
                let held = spare.take();
                if let Some(v) = &held {
                    prefetch_lines(v.data.as_bytes());
                }
                spare.set(held);
            });
            return None;
        }
        let guard = entry.load();
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
        let slot = &self.entries[slot_of(signature(token))];
        if slot
            .load()
            .as_ref()
            .is_some_and(|c| c.token().as_bytes() == token.as_bytes())
        {
            slot.store(None);
        }
    }

    pub fn clear(&self) {
        for entry in self.entries.iter() {
            entry.store(None);
        }
    }

    /// Verifies `token` ([`VerifiedToken::decode`]) and caches it in its slot. The
    /// entry it replaces is kept by the thread, and the thread's next first sight is
    /// written into that memory when no one else holds it by then (no reader in
    /// another thread, no request still using it): a first sight in a busy process
    /// then allocates and frees nothing. A token that does not verify leaves the
    /// slot as it was.
    pub fn verify_and_insert(
        &self,
        token: &str,
        keys: &SigningKeys,
        now_ms: i64,
        epoch: u64,
    ) -> Result<Arc<VerifiedToken>> {
        let sig = signature(token);
        let slot = slot_of(sig);
        let tag = tag_of(sig);
        VerifiedToken::verify(token, keys, now_ms, |content| {
            let entry = SPARE
                .with(|spare| spare.take())
                .and_then(|mut spare| {
                    let v = Arc::get_mut(&mut spare).filter(|v| v.fits(content))?;
                    v.fill(content, epoch);
                    Some(spare)
                })
                .unwrap_or_else(|| Arc::new(VerifiedToken::from_content(content, epoch)));
            let old = self.entries[slot].swap(Some(Arc::clone(&entry)));
            self.tags[slot].store(tag, Ordering::Release);
            // The evicted entry becomes the spare, unread: whether anyone still holds
            // it is asked when it is reused (once swapped out no new reader can find
            // it, and the swap turned every reader's claim on it into a count, so
            // unique then means unheld). Its header, which that question and the
            // next miss read, is asked for now, by address only.
            if let Some(old) = old {
                let at = Arc::as_ptr(&old).cast::<u8>();
                prefetch(at.wrapping_sub(24));
                prefetch(at);
                SPARE.with(|spare| spare.set(Some(old)));
            }
            entry
        })
    }

    #[cfg(test)]
    pub fn insert(&self, verified: Arc<VerifiedToken>) {
        let sig = signature(verified.token());
        let slot = slot_of(sig);
        let tag = tag_of(sig);
        self.entries[slot].store(Some(verified));
        self.tags[slot].store(tag, Ordering::Release);
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

    fn signing_keys() -> SigningKeys {
        SigningKeys::from_pairs(
            &[("k1".into(), vec![7; 32])],
            crate::signing::KeySource::Option,
        )
        .unwrap()
    }

    fn signed(keys: &SigningKeys, jti: &str) -> String {
        let base = entry("a.b.c");
        let claims = Claims {
            jti: jti.into(),
            ..base.claims()
        };
        crate::token::encode(keys.signer().unwrap(), &claims).unwrap()
    }

    /// A signed token with a `jti` of `jti_len` characters, and a shorter one that
    /// lands in the same slot.
    fn pair_in_one_slot(keys: &SigningKeys, jti_len: usize) -> (String, String) {
        let first = signed(keys, &"x".repeat(jti_len));
        let slot = slot_of(signature(&first));
        let second = (0..)
            .map(|i| signed(keys, &format!("s{i}")))
            .find(|t| slot_of(signature(t)) == slot)
            .unwrap();
        (first, second)
    }

    /// This thread's spare entry, taken (so a test starts without one).
    fn take_spare() -> Option<Arc<VerifiedToken>> {
        SPARE.with(|spare| spare.take())
    }

    #[test]
    fn a_first_sight_reuses_the_memory_of_an_entry_no_one_holds() {
        let keys = signing_keys();
        let (a, b) = pair_in_one_slot(&keys, 60);
        let c = signed(&keys, "c0");
        take_spare();
        let cache = TokenCache::new();
        let first = cache.verify_and_insert(&a, &keys, 0, 7).unwrap();
        let (len, cap) = (first.data.len(), first.data.capacity());
        assert_eq!(cap, len, "a new entry is allocated to its size");
        drop(first);
        // b evicts a, which no one holds: it becomes the thread's spare...
        drop(cache.verify_and_insert(&b, &keys, 0, 7).unwrap());
        // ...and the next first sight, in any slot, is written into it: the
        // buffer kept its size.
        let third = cache.verify_and_insert(&c, &keys, 0, 8).unwrap();
        assert!(third.data.len() < len);
        assert_eq!(
            third.data.capacity(),
            cap,
            "the unheld entry was not reused"
        );
        assert_eq!(third.token(), c);
        assert_eq!(third.epoch, 8);
        assert_eq!(
            third.claims(),
            VerifiedToken::decode(&c, &keys, 0, 8).unwrap().claims()
        );
        assert!(cache.get(&a).is_none());
        assert_eq!(cache.get(&b).unwrap().token(), b);
        assert_eq!(cache.get(&c).unwrap().token(), c);
    }

    /// A new cache and no spare, then `a` (its `jti` `jti_len` long) and `b` inserted
    /// in one slot, neither held: `a` is this thread's spare.
    fn a_then_b(jti_len: usize) -> (SigningKeys, TokenCache, String, String) {
        let keys = signing_keys();
        let (a, b) = pair_in_one_slot(&keys, jti_len);
        take_spare();
        let cache = TokenCache::new();
        drop(cache.verify_and_insert(&a, &keys, 0, 7).unwrap());
        drop(cache.verify_and_insert(&b, &keys, 0, 7).unwrap());
        (keys, cache, a, b)
    }

    #[test]
    fn a_miss_leaves_the_spare_where_it_was() {
        // The miss path asks for the spare's lines: the spare stays, unchanged.
        let (_, cache, a, _) = a_then_b(60);
        assert!(cache.get(&a).is_none());
        let spare = take_spare().expect("a is the spare");
        assert_eq!(spare.token(), a);
    }

    #[test]
    fn an_entry_someone_holds_is_never_written() {
        let keys = signing_keys();
        let (a, b) = pair_in_one_slot(&keys, 60);
        take_spare();
        let cache = TokenCache::new();
        let held = cache.verify_and_insert(&a, &keys, 0, 7).unwrap();
        // A reader of the cache holds it too (a guard, not a count).
        let reader = cache.get(&a).unwrap();
        let second = cache.verify_and_insert(&b, &keys, 0, 7).unwrap();
        // a is now the spare, still held: the next first sight allocates anew.
        let third = cache
            .verify_and_insert(&signed(&keys, "c0"), &keys, 0, 7)
            .unwrap();
        assert_eq!(third.data.capacity(), third.data.len(), "a new entry");
        assert_eq!(held.token(), a);
        assert_eq!(reader.token(), a);
        assert_eq!(
            held.claims(),
            VerifiedToken::decode(&a, &keys, 0, 7).unwrap().claims()
        );
        assert_eq!(cache.get(&b).unwrap().token(), b);
        drop(second);
    }

    #[test]
    fn a_token_that_does_not_verify_leaves_the_slot_alone() {
        let keys = signing_keys();
        let (a, b) = pair_in_one_slot(&keys, 2);
        let cache = TokenCache::new();
        drop(cache.verify_and_insert(&a, &keys, 0, 7).unwrap());
        // b's slot, b's signature, another payload.
        let (head, rest) = b.split_once('.').unwrap();
        let forged = format!("{head}.e30{}", &rest[rest.find('.').unwrap()..]);
        assert_eq!(slot_of(signature(&forged)), slot_of(signature(&a)));
        assert!(cache.verify_and_insert(&forged, &keys, 0, 7).is_err());
        assert_eq!(cache.get(&a).expect("a is still cached").token(), a);
    }

    #[test]
    fn an_entry_is_not_kept_for_a_much_shorter_token() {
        // The spare held a 2 000-character jti: too big for a short token.
        let (keys, cache, _, _) = a_then_b(2000);
        let third = cache
            .verify_and_insert(&signed(&keys, "c0"), &keys, 0, 7)
            .unwrap();
        assert_eq!(third.data.capacity(), third.data.len(), "a new entry");
    }

    #[test]
    fn claims_that_are_not_canonical_fill_an_entry_as_well() {
        // Escapes and spaces go through serde; the entry holds the claim strings.
        let keys = signing_keys();
        let canonical = signed(&keys, "abc");
        let json = serde_json::to_string(&entry("a.b.c").claims()).unwrap();
        let json = json
            .replace(",", ", ")
            .replace("\"jti\":\"j\"", "\"jti\":\"a\\u0062c\"");
        let header = canonical.split('.').next().unwrap();
        let mut other = format!(
            "{header}.{}",
            base64_simd::URL_SAFE_NO_PAD.encode_to_string(json)
        );
        let sig = keys.signer().unwrap().sign(other.as_bytes()).unwrap();
        other.push('.');
        other.push_str(&base64_simd::URL_SAFE_NO_PAD.encode_to_string(sig));
        let cache = TokenCache::new();
        for t in [&canonical, &other, &canonical] {
            let v = cache.verify_and_insert(t, &keys, 0, 7).unwrap();
            assert_eq!(v.token(), t.as_str());
            assert_eq!(*v.claims().jti, *"abc");
            assert_eq!(v.claims().scope, "s:read");
        }
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
        // Same slot and same tag (characters 0 to 5 of the signature), then another
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
        let slot = slot_of(signature(a));
        cache.entries[slot].store(Some(entry(b)));
        assert!(cache.get(a).is_none() && cache.get(b).is_none());
        cache.tags[slot].store(tag_of(signature(b)), Ordering::Release);
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
