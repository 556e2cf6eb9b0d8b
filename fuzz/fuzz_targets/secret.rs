//! Secret well-formedness (`is_well_formed`). Properties: no panic; an accepted
//! secret is `<prefix>_` + 43 base62 + 6 base62, and changing any one of its
//! characters to any other base62 character makes it rejected (the CRC-32 checksum
//! catches every single-character change).
//!
//! Input: one byte choosing the prefix, then the secret text.
#![no_main]

use keyscope_core::secret::{CHECKSUM_CHARS, RANDOM_CHARS, is_well_formed, validate_prefix};
use libfuzzer_sys::fuzz_target;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const PREFIXES: [&str; 4] = ["kss", "ab", "k2s4x9zz", "acme"];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let Ok(secret) = std::str::from_utf8(rest) else {
        return;
    };
    let prefix = PREFIXES[choice as usize % PREFIXES.len()];
    assert!(validate_prefix(prefix).is_ok());
    if !is_well_formed(secret, prefix) {
        return;
    }
    let body = secret
        .strip_prefix(prefix)
        .and_then(|s| s.strip_prefix('_'))
        .expect("an accepted secret starts with its prefix and _");
    assert_eq!(body.len(), RANDOM_CHARS + CHECKSUM_CHARS);
    assert!(body.bytes().all(|b| BASE62.contains(&b)), "{secret:?}");
    // Every single-character change of the random part or the checksum is caught.
    let start = prefix.len() + 1;
    let mut bytes = secret.as_bytes().to_vec();
    for i in start..bytes.len() {
        let original = bytes[i];
        for &c in BASE62.iter().filter(|&&c| c != original) {
            bytes[i] = c;
            let changed = std::str::from_utf8(&bytes).unwrap();
            assert!(!is_well_formed(changed, prefix), "{changed:?} passes too");
        }
        bytes[i] = original;
    }
});
