//! Client secrets: generation, the checksummed format, and Argon2id hashes (docs/keys.md).
//!
//! A secret is `<prefix>_<43 base62 chars of randomness><6-char base62 CRC-32>`. The
//! checksum lets any caller reject a mistyped or invented secret without touching the
//! store or running Argon2; the prefix lets secret scanners find leaked secrets.

use std::fmt;

use std::sync::Mutex;

use argon2::password_hash::phc::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Version};
use rand::TryRng;
use rand::rngs::SysRng;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::{Error, ErrorKind, Result};

/// The base62 alphabet, in the order the checksum encoding uses.
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// Characters of randomness (43 × log2 62 ≈ 256 bits).
pub const RANDOM_CHARS: usize = 43;
/// Characters of checksum.
pub const CHECKSUM_CHARS: usize = 6;
/// The default secret prefix.
pub const DEFAULT_PREFIX: &str = "kss";

/// A secret held in memory that is wiped when dropped. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps secret text received from a caller.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(Zeroizing::new(text.into()))
    }

    /// The secret text. Show it to the user once; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Fills `buf` from the operating system's random source.
pub(crate) fn random_bytes(buf: &mut [u8]) -> Result<()> {
    SysRng.try_fill_bytes(buf).map_err(|e| {
        Error::new(
            ErrorKind::Internal,
            format!("no randomness from the OS: {e}"),
        )
    })
}

/// A new key id: 32 lowercase hex characters, 128 random bits.
pub fn new_key_id() -> Result<String> {
    let mut b = [0u8; 16];
    random_bytes(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// True for a well-formed key id (32 lowercase hex characters).
pub fn is_key_id(s: &str) -> bool {
    // By table, without a branch per character: as fast, and the same instructions
    // for every id (instruction-count benchmarks stay exact).
    const LOWER_HEX: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            t[c] = matches!(c as u8, b'0'..=b'9' | b'a'..=b'f');
            c += 1;
        }
        t
    };
    s.len() == 32 && s.bytes().fold(true, |ok, b| ok & LOWER_HEX[b as usize])
}

/// Checks a secret prefix: `[a-z0-9]{2,8}`.
pub fn validate_prefix(prefix: &str) -> Result<()> {
    let ok = (2..=8).contains(&prefix.len())
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "secret_prefix",
            format!("{prefix:?} must be 2 to 8 characters of a-z and 0-9"),
        ))
    }
}

/// The 6-character base62 CRC-32 of the random part, most significant digit first.
fn checksum(random: &[u8]) -> [u8; CHECKSUM_CHARS] {
    let mut n = crc32fast::hash(random) as u64;
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    out
}

/// Generates a new secret with `prefix`, uniformly random over base62.
pub fn generate(prefix: &str) -> Result<Secret> {
    let mut text = Zeroizing::new(String::with_capacity(
        prefix.len() + 1 + RANDOM_CHARS + CHECKSUM_CHARS,
    ));
    text.push_str(prefix);
    text.push('_');
    let mut random = Zeroizing::new(Vec::with_capacity(RANDOM_CHARS));
    let mut pool = Zeroizing::new([0u8; 64]);
    while random.len() < RANDOM_CHARS {
        random_bytes(&mut pool[..])?;
        // Rejection sampling: 248 = 4 × 62, so every kept byte maps uniformly.
        for &b in pool.iter().filter(|&&b| b < 248) {
            if random.len() == RANDOM_CHARS {
                break;
            }
            random.push(ALPHABET[(b % 62) as usize]);
        }
    }
    let sum = checksum(&random);
    text.push_str(std::str::from_utf8(&random).expect("base62 is ASCII"));
    text.push_str(std::str::from_utf8(&sum).expect("base62 is ASCII"));
    Ok(Secret(Zeroizing::new(std::mem::take(&mut *text))))
}

/// True when `secret` has the form `<prefix>_<43 base62><checksum>` and its checksum
/// matches: a cheap filter run before any store access or Argon2.
pub fn is_well_formed(secret: &str, prefix: &str) -> bool {
    let Some(rest) = secret
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('_'))
    else {
        return false;
    };
    let b = rest.as_bytes();
    // By table, without a branch per character (the same instructions for every
    // secret, so instruction-count benchmarks stay exact).
    const ALNUM: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            t[c] = (c as u8).is_ascii_alphanumeric();
            c += 1;
        }
        t
    };
    if b.len() != RANDOM_CHARS + CHECKSUM_CHARS
        || !b.iter().fold(true, |ok, &c| ok & ALNUM[c as usize])
    {
        return false;
    }
    let (random, sum) = b.split_at(RANDOM_CHARS);
    checksum(random) == sum
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB (default 19 456).
    pub memory_kib: u32,
    /// Passes over memory (default 2).
    pub iterations: u32,
    /// Lanes (default 1).
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// The OWASP-recommended cost: m = 19 456 KiB, t = 2, p = 1.
    fn default() -> Self {
        Argon2Params {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Sane bounds for Argon2 costs: a stored hash outside them is refused, not run, so a
/// tampered database cannot make a verification take minutes or gigabytes.
pub const MAX_MEMORY_KIB: u32 = 1 << 20;
/// Most passes keyscope will run.
pub const MAX_ITERATIONS: u32 = 64;
/// Most lanes keyscope will run.
pub const MAX_PARALLELISM: u32 = 16;

impl Argon2Params {
    /// Checks the cost against keyscope's sane bounds.
    pub fn validate(&self) -> Result<()> {
        let p = self.parallelism;
        if !(1..=MAX_PARALLELISM).contains(&p) {
            return Err(Error::invalid(
                "argon2.parallelism",
                format!("{p} must be 1 to {MAX_PARALLELISM}"),
            ));
        }
        let t = self.iterations;
        if !(1..=MAX_ITERATIONS).contains(&t) {
            return Err(Error::invalid(
                "argon2.iterations",
                format!("{t} must be 1 to {MAX_ITERATIONS}"),
            ));
        }
        let m = self.memory_kib;
        if m < 8 * p || m > MAX_MEMORY_KIB {
            return Err(Error::invalid(
                "argon2.memory_kib",
                format!(
                    "{m} must be 8 × parallelism ({}) to {MAX_MEMORY_KIB}",
                    8 * p
                ),
            ));
        }
        Ok(())
    }

    fn hasher(&self) -> Result<Argon2<'static>> {
        let params = argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map_err(|e| Error::invalid("argon2", e))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Hashes a whole secret with Argon2id and a fresh 16-byte salt into a PHC string.
pub fn hash(secret: &Secret, params: &Argon2Params) -> Result<String> {
    let mut salt = [0u8; 16];
    random_bytes(&mut salt)?;
    let failed =
        |e: &dyn std::fmt::Display| Error::new(ErrorKind::Internal, format!("argon2 failed: {e}"));
    let hasher = params.hasher()?;
    let argon2_params = hasher.params().clone();
    let mut out = Zeroizing::new([0u8; 32]);
    with_argon2_memory(argon2_params.block_count(), true, |blocks| {
        hasher.hash_password_into_with_memory(
            secret.expose().as_bytes(),
            &salt,
            &mut out[..],
            blocks,
        )
    })
    .map_err(|e| failed(&e))?;
    let phc = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: (&argon2_params).try_into().map_err(|e| failed(&e))?,
        salt: Some(argon2::password_hash::phc::Salt::new(&salt).map_err(|e| failed(&e))?),
        hash: Some(argon2::password_hash::phc::Output::new(&out[..]).map_err(|e| failed(&e))?),
    };
    Ok(phc.to_string())
}

/// The outcome of checking a secret against a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// The secret matches.
    pub matches: bool,
    /// The stored hash was made with another cost than `configured`: re-hash it.
    pub needs_rehash: bool,
}

/// Argon2 working memory kept for reuse: a fresh 19 MiB block costs page faults and
/// zeroing on every verification. Only buffers of a store's configured cost are kept,
/// at most one per CPU (up to 4); a stored hash of another cost (an old one, or a
/// tampered one asking for far more memory) gets a buffer of its own, freed after use.
struct MemoryPool {
    bufs: Vec<Vec<Block>>,
}

impl MemoryPool {
    const fn new() -> Self {
        MemoryPool { bufs: Vec::new() }
    }

    /// A pooled buffer of exactly `blocks` blocks, if one is kept.
    fn take(&mut self, blocks: usize) -> Option<Vec<Block>> {
        let i = self.bufs.iter().position(|b| b.len() == blocks)?;
        Some(self.bufs.swap_remove(i))
    }

    /// Keeps `buf` for reuse if it has the configured cost and there is room.
    fn give(&mut self, buf: Vec<Block>, configured: bool, cap: usize) {
        if configured && self.bufs.len() < cap {
            self.bufs.push(buf);
        }
    }
}

static MEMORY_POOL: Mutex<MemoryPool> = Mutex::new(MemoryPool::new());

/// Runs `f` on `blocks` blocks of Argon2 memory; `configured` says whether they are
/// of the store's configured cost (only those return to the pool).
fn with_argon2_memory<T>(blocks: usize, configured: bool, f: impl FnOnce(&mut [Block]) -> T) -> T {
    let pooled = if configured {
        MEMORY_POOL
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take(blocks)
    } else {
        None
    };
    let mut buf = pooled.unwrap_or_else(|| vec![Block::new(); blocks]);
    let out = f(&mut buf[..]);
    let cap = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    MEMORY_POOL
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .give(buf, configured, cap);
    out
}

/// Checks `secret` against a stored PHC hash in constant time. A hash that is not
/// Argon2id, or whose cost is outside the sane bounds, is a `storage` error.
pub fn verify(secret: &Secret, phc: &str, configured: &Argon2Params) -> Result<Verified> {
    let hash = PasswordHash::new(phc)
        .map_err(|e| Error::storage(format!("stored secret hash is malformed: {e}")))?;
    if hash.algorithm.as_str() != "argon2id" {
        return Err(Error::storage(format!(
            "stored secret hash uses {}, not argon2id",
            hash.algorithm
        )));
    }
    let params = argon2::Params::try_from(&hash)
        .map_err(|e| Error::storage(format!("stored secret hash has bad parameters: {e}")))?;
    let stored = Argon2Params {
        memory_kib: params.m_cost(),
        iterations: params.t_cost(),
        parallelism: params.p_cost(),
    };
    stored.validate().map_err(|e| {
        Error::storage(format!(
            "stored secret hash refused: its cost is outside sane bounds ({e})"
        ))
    })?;
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Err(Error::storage(
            "stored secret hash has no salt or no output",
        ));
    };
    let version = match hash.version {
        None => Version::V0x13,
        Some(v) => {
            Version::try_from(v).map_err(|e| Error::storage(format!("stored secret hash: {e}")))?
        }
    };
    let argon2 = Argon2::new(Algorithm::Argon2id, version, params.clone());
    let mut computed = Zeroizing::new(vec![0u8; expected.len()]);
    with_argon2_memory(params.block_count(), stored == *configured, |blocks| {
        argon2.hash_password_into_with_memory(
            secret.expose().as_bytes(),
            salt,
            &mut computed,
            blocks,
        )
    })
    .map_err(|e| Error::storage(format!("stored secret hash cannot be checked: {e}")))?;
    let matches: bool = computed.as_slice().ct_eq(expected.as_bytes()).into();
    Ok(Verified {
        matches,
        needs_rehash: stored != *configured,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHEAP: Argon2Params = Argon2Params {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn generated_secrets_have_the_documented_form() {
        let s = generate("kss").unwrap();
        let text = s.expose();
        assert_eq!(text.len(), 3 + 1 + 43 + 6);
        assert!(text.starts_with("kss_"));
        assert!(is_well_formed(text, "kss"));
        assert_ne!(generate("kss").unwrap(), s);
    }

    #[test]
    fn checksum_is_crc32_in_base62_msd_first() {
        // crc32("0"*43) computed independently with zlib.
        let random = [b'0'; 43];
        let crc = crc32fast::hash(&random) as u64;
        let mut expect = String::new();
        let mut n = crc;
        for _ in 0..6 {
            expect.insert(0, ALPHABET[(n % 62) as usize] as char);
            n /= 62;
        }
        assert_eq!(checksum(&random).as_slice(), expect.as_bytes());
        assert_eq!(checksum(b"").as_slice(), b"000000");
    }

    #[test]
    fn rejects_mistyped_or_invented_secrets() {
        let s = generate("kss").unwrap();
        let text = s.expose().to_owned();
        assert!(!is_well_formed(&text, "abc"), "wrong prefix");
        assert!(!is_well_formed(&text[..text.len() - 1], "kss"), "short");
        let mut flipped = text.clone().into_bytes();
        flipped[10] = if flipped[10] == b'a' { b'b' } else { b'a' };
        assert!(!is_well_formed(
            std::str::from_utf8(&flipped).unwrap(),
            "kss"
        ));
        assert!(!is_well_formed(&format!("kss_{}", "!".repeat(49)), "kss"));
        assert!(!is_well_formed("", "kss"));
    }

    #[test]
    fn prefixes_are_2_to_8_lowercase_alphanumerics() {
        for ok in ["kss", "ab", "abcd1234"] {
            assert!(validate_prefix(ok).is_ok());
        }
        for bad in ["a", "abcdefghi", "KSS", "k_s", ""] {
            assert!(validate_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn key_ids_are_32_lowercase_hex() {
        let id = new_key_id().unwrap();
        assert!(is_key_id(&id));
        assert!(!is_key_id(&id.to_uppercase()));
        assert!(!is_key_id(&id[1..]));
    }

    #[test]
    fn hash_verifies_only_the_same_secret() {
        let s = generate("kss").unwrap();
        let h = hash(&s, &CHEAP).unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=64,t=1,p=1$"));
        assert!(!h.contains(s.expose()));
        assert!(verify(&s, &h, &CHEAP).unwrap().matches);
        assert!(
            !verify(&generate("kss").unwrap(), &h, &CHEAP)
                .unwrap()
                .matches
        );
        assert!(
            verify(&s, &h, &Argon2Params::default())
                .unwrap()
                .needs_rehash
        );
    }

    #[test]
    fn hashes_are_standard_phc_both_ways() {
        use argon2::{PasswordHasher, PasswordVerifier};
        let s = generate("kss").unwrap();
        let ours = hash(&s, &CHEAP).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert_eq!(parsed.salt.unwrap().len(), 16);
        assert_eq!(parsed.hash.unwrap().len(), 32);
        // The argon2 crate's own verifier accepts our hash...
        assert!(
            CHEAP
                .hasher()
                .unwrap()
                .verify_password(s.expose().as_bytes(), &parsed)
                .is_ok()
        );
        // ...and we accept the crate's own hash, of any output length it allows.
        let theirs = CHEAP
            .hasher()
            .unwrap()
            .hash_password_with_salt(s.expose().as_bytes(), b"somesalt")
            .unwrap()
            .to_string();
        assert!(verify(&s, &theirs, &CHEAP).unwrap().matches);
        assert!(
            !verify(&generate("kss").unwrap(), &theirs, &CHEAP)
                .unwrap()
                .matches
        );
    }

    #[test]
    fn the_memory_pool_keeps_only_buffers_of_the_configured_cost() {
        let mut pool = MemoryPool::new();
        pool.give(vec![Block::new(); 64], true, 4);
        pool.give(vec![Block::new(); 4096], false, 4);
        assert_eq!(pool.bufs.len(), 1, "a buffer of another cost is not kept");
        assert!(pool.take(4096).is_none());
        assert_eq!(pool.take(64).map(|b| b.len()), Some(64));
        for _ in 0..6 {
            pool.give(vec![Block::new(); 64], true, 4);
        }
        assert_eq!(pool.bufs.len(), 4, "at most cap buffers");
    }

    #[test]
    fn verifying_a_hash_of_another_cost_pools_nothing_of_that_size() {
        // A cost no other test uses, so the process-wide pool is ours to inspect.
        let odd = Argon2Params {
            memory_kib: 1032,
            iterations: 1,
            parallelism: 1,
        };
        let s = generate("kss").unwrap();
        let h = hash(&s, &odd).unwrap();
        // Room in the pool, so that only the rule can keep the buffer out of it.
        MEMORY_POOL.lock().unwrap().bufs.clear();
        let v = verify(&s, &h, &CHEAP).unwrap();
        assert!(v.matches && v.needs_rehash);
        assert!(
            !MEMORY_POOL
                .lock()
                .unwrap()
                .bufs
                .iter()
                .any(|b| b.len() == 1032),
            "the stored hash's cost is not the configured one: its memory is freed"
        );
    }

    #[test]
    fn pooled_memory_gives_the_same_answers_from_many_threads() {
        let secrets: Vec<Secret> = (0..6).map(|_| generate("kss").unwrap()).collect();
        let hashes: Vec<String> = secrets.iter().map(|s| hash(s, &CHEAP).unwrap()).collect();
        std::thread::scope(|scope| {
            for t in 0..4 {
                let (secrets, hashes) = (&secrets, &hashes);
                scope.spawn(move || {
                    for (i, h) in hashes.iter().enumerate() {
                        for (j, s) in secrets.iter().enumerate() {
                            assert_eq!(verify(s, h, &CHEAP).unwrap().matches, i == j, "thread {t}");
                        }
                    }
                });
            }
        });
    }

    #[test]
    fn refuses_stored_hashes_with_insane_costs() {
        let s = generate("kss").unwrap();
        let h = hash(&s, &CHEAP).unwrap().replace("m=64", "m=4000000");
        assert_eq!(
            verify(&s, &h, &CHEAP).unwrap_err().kind(),
            ErrorKind::Storage
        );
        let argon2i = hash(&s, &CHEAP).unwrap().replace("argon2id", "argon2i");
        assert_eq!(
            verify(&s, &argon2i, &CHEAP).unwrap_err().kind(),
            ErrorKind::Storage
        );
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let s = generate("kss").unwrap();
        assert!(!format!("{s:?}").contains(&s.expose()[4..]));
    }

    #[test]
    fn argon2_params_have_bounds() {
        assert!(Argon2Params::default().validate().is_ok());
        assert!(
            Argon2Params {
                memory_kib: 7,
                ..CHEAP
            }
            .validate()
            .is_err()
        );
        assert!(
            Argon2Params {
                iterations: 0,
                ..CHEAP
            }
            .validate()
            .is_err()
        );
        assert!(
            Argon2Params {
                parallelism: 0,
                ..CHEAP
            }
            .validate()
            .is_err()
        );
        assert!(
            Argon2Params {
                memory_kib: MAX_MEMORY_KIB + 1,
                ..CHEAP
            }
            .validate()
            .is_err()
        );
    }
}
