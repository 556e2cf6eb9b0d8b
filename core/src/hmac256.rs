//! HMAC-SHA256 (RFC 2104) on SHA-256's compression function.
//!
//! The key's inner and outer states (the compression of `key ⊕ ipad` and
//! `key ⊕ opad`) are computed once; a MAC then compresses the message's whole
//! 64-byte blocks straight from the caller's slice, pads the tail on the stack and
//! finishes with one outer block. The `hmac` crate's generic state does the same
//! work through a block buffer that every byte is copied into, and is cloned for
//! every MAC: on a token's first sight that copying cost about a tenth as much as the
//! compression itself. `sha2` still does the compression (with the processor's SHA
//! instructions when it has them); a test holds this module to the `hmac` crate and
//! to RFC 4231's vectors.

use sha2::block_api::compress256;
use sha2::{Digest, Sha256};
use zeroize::Zeroize;

const BLOCK: usize = 64;

/// SHA-256's initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The most message a key keeps precompressed: two blocks.
const MAX_PREFIX: usize = 2 * BLOCK;

/// An HMAC-SHA256 key, as its two precomputed states (wiped on drop), and
/// optionally the inner state after the whole blocks that every message it sees is
/// expected to start with ([`HmacSha256::expecting`]).
#[derive(Clone)]
pub struct HmacSha256 {
    inner: [u32; 8],
    outer: [u32; 8],
    prefix: Option<Box<Prefix>>,
}

/// The expected first bytes of a message (whole blocks, public) and the inner state
/// after them (as secret as the key's own; wiped on drop).
#[derive(Clone)]
struct Prefix {
    bytes: [u8; MAX_PREFIX],
    len: usize,
    state: [u32; 8],
}

impl Drop for HmacSha256 {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

impl Drop for Prefix {
    fn drop(&mut self) {
        self.state.zeroize();
    }
}

impl std::fmt::Debug for HmacSha256 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HmacSha256 { .. }")
    }
}

impl HmacSha256 {
    /// The key `key`, of any length (one longer than a block is hashed first, as
    /// RFC 2104 says).
    pub fn new(key: &[u8]) -> Self {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let state = |pad: u8, block: &[u8; BLOCK]| {
            let mut padded = block.map(|b| b ^ pad);
            let mut state = IV;
            compress256(&mut state, std::slice::from_ref(&padded));
            padded.zeroize();
            state
        };
        let inner = state(0x36, &block);
        let mac = HmacSha256 {
            inner,
            outer: state(0x5c, &block),
            prefix: None,
        };
        block.zeroize();
        mac
    }

    /// This key, knowing that most messages start with `start` (public text: a
    /// token's header and the first characters of its claims). The whole 64-byte
    /// blocks of it (at most two) are compressed once, here; a MAC of a message
    /// that starts with them begins from that state, one compression fewer per
    /// block. A message that starts otherwise is MACed in full. Either way the MAC
    /// is the same (a test holds it to the `hmac` crate).
    pub fn expecting(mut self, start: &[u8]) -> Self {
        let len = (start.len() / BLOCK * BLOCK).min(MAX_PREFIX);
        self.prefix = (len > 0).then(|| {
            let mut p = Box::new(Prefix {
                bytes: [0; MAX_PREFIX],
                len,
                state: self.inner,
            });
            p.bytes[..len].copy_from_slice(&start[..len]);
            let (blocks, _) = start[..len].as_chunks::<BLOCK>();
            compress256(&mut p.state, blocks);
            p
        });
        self
    }

    /// How many bytes [`HmacSha256::expecting`] precompressed.
    #[cfg(test)]
    fn prefix_len(&self) -> usize {
        self.prefix.as_ref().map_or(0, |p| p.len)
    }

    /// The MAC of the concatenation of `parts`, a public message (a token's signing
    /// input): the blocks copied to the stack are left there.
    pub fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.mac_of::<false>(parts)
    }

    /// The MAC of the concatenation of `parts`, some of them secret: the stack copies
    /// of the message's last bytes and of the inner hash are wiped before returning.
    pub fn mac_secret(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.mac_of::<true>(parts)
    }

    fn mac_of<const WIPE: bool>(&self, parts: &[&[u8]]) -> [u8; 32] {
        // Whether the message starts with the precompressed blocks (a comparison
        // of public bytes): then its first `skip` bytes are already in the state.
        let (mut state, skip) = match (&self.prefix, parts.first()) {
            (Some(p), Some(first)) if first.starts_with(&p.bytes[..p.len]) => (p.state, p.len),
            _ => (self.inner, 0),
        };
        let mut tail = [0u8; 2 * BLOCK];
        let mut held = 0;
        let mut total = BLOCK as u64;
        for (i, part) in parts.iter().enumerate() {
            total += part.len() as u64;
            let mut part = if i == 0 { &part[skip..] } else { *part };
            if held > 0 {
                let take = part.len().min(BLOCK - held);
                tail[held..held + take].copy_from_slice(&part[..take]);
                held += take;
                part = &part[take..];
                if held < BLOCK {
                    continue;
                }
                let (first, _) = tail.as_chunks::<BLOCK>();
                compress256(&mut state, &first[..1]);
            }
            let (blocks, rest) = part.as_chunks::<BLOCK>();
            compress256(&mut state, blocks);
            tail[..rest.len()].copy_from_slice(rest);
            held = rest.len();
        }
        // Padding: 0x80, zeros, and the message's length in bits (the key block's
        // included), big-endian, ending a block.
        tail[held] = 0x80;
        let end = if held < BLOCK - 8 { BLOCK } else { 2 * BLOCK };
        tail[held + 1..end - 8].fill(0);
        tail[end - 8..end].copy_from_slice(&(total * 8).to_be_bytes());
        let (blocks, _) = tail[..end].as_chunks::<BLOCK>();
        compress256(&mut state, blocks);
        if WIPE {
            tail.zeroize();
        }

        let mut outer = [0u8; BLOCK];
        for (out, word) in outer.chunks_exact_mut(4).zip(state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        if WIPE {
            state.zeroize();
        }
        outer[32] = 0x80;
        outer[BLOCK - 8..].copy_from_slice(&((BLOCK as u64 + 32) * 8).to_be_bytes());
        let mut state = self.outer;
        compress256(&mut state, std::slice::from_ref(&outer));
        if WIPE {
            outer.zeroize();
        }
        let mut out = [0u8; 32];
        for (out, word) in out.chunks_exact_mut(4).zip(state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, KeyInit, Mac};
    use proptest::prelude::*;

    fn reference(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).unwrap();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc_4231_vectors() {
        // Test cases 1, 2, 3, 4, 6 and 7 (5 is a truncated MAC).
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                hex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                vec![0xaa; 131],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                vec![0xaa; 131],
                b"This is a test using a larger than block-size key and a larger than \
                  block-size data. The key needs to be hashed before being used by the \
                  HMAC algorithm."
                    .to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, data, want) in cases {
            assert_eq!(HmacSha256::new(&key).mac(&[&data]).to_vec(), hex(want));
        }
    }

    #[test]
    fn every_length_around_the_block_edges_matches_the_hmac_crate() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for key_len in [0, 1, 32, 63, 64, 65, 200] {
            let key = &data[..key_len];
            let mac = HmacSha256::new(key);
            for len in 0..=200 {
                assert_eq!(
                    mac.mac(&[&data[..len]]),
                    reference(key, &[&data[..len]]),
                    "key {key_len}, message {len}"
                );
            }
        }
    }

    #[test]
    fn a_precompressed_start_changes_no_mac() {
        let data: Vec<u8> = (0..400u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut other = data.clone();
        other[5] ^= 1;
        let key = [7u8; 32];
        for start in [0, 1, 63, 64, 65, 127, 128, 129, 300] {
            let mac = HmacSha256::new(&key).expecting(&data[..start]);
            assert_eq!(mac.prefix_len(), (start / 64 * 64).min(128));
            for len in (0..=260).step_by(3) {
                for msg in [&data[..len], &other[..len]] {
                    let want = reference(&key, &[msg]);
                    assert_eq!(mac.mac(&[msg]), want, "start {start}, message {len}");
                    assert_eq!(mac.mac_secret(&[msg]), want);
                    // The same message in two parts, the first shorter than the start.
                    let cut = len.min(10);
                    assert_eq!(mac.mac(&[&msg[..cut], &msg[cut..]]), want);
                }
            }
        }
    }

    proptest! {
        #[test]
        fn any_start_key_and_message_matches_the_hmac_crate(
            key in proptest::collection::vec(any::<u8>(), 0..100),
            start in proptest::collection::vec(any::<u8>(), 0..200),
            rest in proptest::collection::vec(any::<u8>(), 0..140),
            prefixed in any::<bool>(),
        ) {
            let mac = HmacSha256::new(&key).expecting(&start);
            let msg: Vec<u8> = if prefixed {
                start.iter().chain(&rest).copied().collect()
            } else {
                rest.clone()
            };
            prop_assert_eq!(mac.mac(&[&msg]), reference(&key, &[&msg]));
        }

        #[test]
        fn any_key_and_split_message_matches_the_hmac_crate(
            key in proptest::collection::vec(any::<u8>(), 0..150),
            parts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..140), 0..5),
        ) {
            let parts: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
            let mac = HmacSha256::new(&key);
            prop_assert_eq!(mac.mac(&parts), reference(&key, &parts));
            prop_assert_eq!(mac.mac_secret(&parts), reference(&key, &parts));
        }
    }
}
