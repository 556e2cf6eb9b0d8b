//! A cache of tokens whose signature already verified, so a client's repeat
//! requests skip the HMAC, base64 and JSON work. Every check of the token's claims
//! and of the key's current state still runs on each request.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use subtle::ConstantTimeEq;

use crate::token::Claims;

const SLOTS: usize = 4096;

/// A verified token and its claims, owned.
#[derive(Debug)]
pub(crate) struct VerifiedToken {
    token: Box<str>,
    /// The signing-key set it verified under.
    pub epoch: u64,
    /// The claims, borrowing nothing.
    pub claims: Claims<'static>,
}

impl VerifiedToken {
    pub fn new(token: &str, claims: Claims<'_>, epoch: u64) -> Self {
        VerifiedToken {
            token: token.into(),
            epoch,
            claims: Claims {
                iss: claims.iss.into_owned().into(),
                aud: claims.aud.into_owned().into(),
                sub: claims.sub.into_owned().into(),
                client_id: claims.client_id.into_owned().into(),
                org: claims.org.into_owned().into(),
                jti: claims.jti.into_owned().into(),
                scope: claims.scope.into_owned().into(),
                ..claims
            },
        }
    }
}

/// A direct-mapped table of verified tokens, indexed by their signature. Lookups
/// are lock-free; a new token replaces whatever shared its slot.
pub(crate) struct TokenCache {
    slots: Box<[ArcSwapOption<VerifiedToken>]>,
}

fn signature(token: &str) -> &[u8] {
    token
        .rsplit_once('.')
        .map_or(&[][..], |(_, s)| s.as_bytes())
}

/// The 6-bit value of a base64url character (anything else folds into 0..64).
fn sextet(c: u8) -> usize {
    (match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        other => other & 63,
    }) as usize
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
            slots: (0..SLOTS).map(|_| ArcSwapOption::empty()).collect(),
        }
    }

    /// The verified token equal to `token`: the signature is compared in constant
    /// time, then the (public) header and claims text.
    pub fn get(&self, token: &str) -> Option<Arc<VerifiedToken>> {
        let sig = signature(token);
        let cached = self.slots[slot_of(sig)].load_full()?;
        let same_len = cached.token.len() == token.len();
        let sig_eq: bool = signature(&cached.token).ct_eq(sig).into();
        (same_len && sig_eq && cached.token.as_bytes() == token.as_bytes()).then_some(cached)
    }

    /// Forgets `token` if it is cached.
    pub fn remove(&self, token: &str) {
        let slot = &self.slots[slot_of(signature(token))];
        if slot
            .load()
            .as_ref()
            .is_some_and(|c| c.token.as_bytes() == token.as_bytes())
        {
            slot.store(None);
        }
    }

    pub fn clear(&self) {
        for slot in self.slots.iter() {
            slot.store(None);
        }
    }

    pub fn insert(&self, verified: Arc<VerifiedToken>) {
        let slot = slot_of(signature(&verified.token));
        self.slots[slot].store(Some(verified));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

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

    #[test]
    fn odd_signatures_still_land_in_a_slot() {
        for sig in [&b""[..], b"A", b"\xff\xfe", b"=="] {
            assert!(slot_of(sig) < SLOTS);
        }
    }
}
