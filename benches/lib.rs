//! Benchmarks live in `benches/`; run `cargo bench -p keyscope-benches`. This
//! library holds what the criterion benches and `icount` share.

/// The verified-token cache's slot of `token` (core/src/token_cache.rs: the 12 bits
/// of the signature's first two base64url characters). Keep the two in step: if they
/// differ, first-sight counts vary from run to run and the "hot" first sights hit.
pub fn cache_slot(token: &str) -> usize {
    let sig = token.rsplit_once('.').map_or("", |(_, s)| s).as_bytes();
    let sextet = |i: usize| -> usize {
        let c = sig.get(i).copied().unwrap_or(b'A');
        (match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            _ => 63,
        }) as usize
    };
    (sextet(0) << 6) | sextet(1)
}

/// How many tokens [`pair_by_slot`] wants to find 64 and more pairs among 4096 slots.
pub const PAIRING_TOKENS: usize = 4000;

/// `n` pairs from `tokens`, the two of a pair in one cache slot and every pair in a
/// slot of its own: authorizing the two of a pair in turn makes every call a first
/// sight (each evicts the other) of a token that stays in the processor's caches.
/// Panics when `tokens` holds fewer than `n` such pairs.
pub fn pair_by_slot(tokens: Vec<String>, n: usize) -> Vec<(String, String)> {
    const TAKEN: usize = usize::MAX - 1;
    let mut first = vec![usize::MAX; 4096];
    let mut pairs_at = Vec::with_capacity(tokens.len());
    for (i, t) in tokens.iter().enumerate() {
        let slot = &mut first[cache_slot(t)];
        match *slot {
            usize::MAX => *slot = i,
            // The slot has served a pair already.
            TAKEN => {}
            j => {
                pairs_at.push((j, i));
                *slot = TAKEN;
            }
        }
    }
    assert!(
        pairs_at.len() >= n,
        "{} tokens gave {} pairs",
        tokens.len(),
        pairs_at.len()
    );
    let mut tokens: Vec<Option<String>> = tokens.into_iter().map(Some).collect();
    pairs_at[..n]
        .iter()
        .map(|&(a, b)| (tokens[a].take().unwrap(), tokens[b].take().unwrap()))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn pairs_share_a_slot_and_no_two_pairs_do() {
        let b64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        // Tokens 2k and 2k + 1 share slot k; then a third token in each of the first
        // ten slots, which has served its pair already.
        let slot_chars = |k: usize| (b64[k % 64] as char, b64[k / 64] as char);
        let tokens: Vec<String> = (0..200)
            .map(|i| i / 2)
            .chain(0..10)
            .enumerate()
            .map(|(i, k)| {
                let (a, b) = slot_chars(k);
                format!("h.c.{a}{b}rest{i}")
            })
            .collect();
        let pairs = super::pair_by_slot(tokens, 100);
        assert_eq!(
            pairs[0],
            ("h.c.AArest0".to_owned(), "h.c.AArest1".to_owned())
        );
        let mut seen = std::collections::HashSet::new();
        for (a, b) in &pairs {
            assert_ne!(a, b);
            assert_eq!(super::cache_slot(a), super::cache_slot(b));
            assert!(seen.insert(super::cache_slot(a)));
        }
    }
}
