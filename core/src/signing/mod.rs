//! Token signing keys (docs/signing-keys.md).
//!
//! A store keeps its own keys in a table of the database (both backends), in three
//! states: `next` (published, not yet signing), `current` (signs; exactly one) and
//! `retired` (verifies until the longest token it signed has expired). Rotation moves
//! every key one state along and generates a new `next`. Private keys may be sealed
//! with a key-encryption key (AES-256-GCM, the kid and algorithm bound as associated
//! data). Keys given by the `signing_keys` option or `KEYSCOPE_SIGNING_KEYS` are HS256
//! secrets and then the only keys: the table is not used.

mod keyfile;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::json;
use zeroize::Zeroizing;

pub(crate) use keyfile::existing_key_file_keys;
pub use keyfile::{ENV_VAR, FILE_SUFFIX, KeyPairs, parse_key_list};

use crate::error::{Error, ErrorKind, Result};
use crate::jose::{self, Alg, Signer, Verifier};
use crate::key::{AuditAction, AuditRecord};
use crate::secret::random_bytes;
use crate::time::Timestamp;

/// The environment variable holding the key-encryption key (base64 of 32 bytes) when
/// the `key_encryption_key` option is not given.
pub const KEK_ENV_VAR: &str = "KEYSCOPE_KEY_ENCRYPTION_KEY";
/// How long a retired key keeps verifying after it stopped signing: the longest token
/// lifetime (`token_ttl` is at most a day), before the leeway.
pub const RETIRED_VERIFY_MS: i64 = 86_400_000;
/// Length of a key-encryption key.
pub const KEK_BYTES: usize = 32;

const CHECK_PLAINTEXT: &[u8] = b"keyscope key-encryption check v1";
const CHECK_AAD: &[u8] = b"keyscope key-encryption check";

/// The state of a stored signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Published in the JWK Set, not yet signing.
    Next,
    /// Signs new tokens.
    Current,
    /// No longer signs; verifies until its tokens have expired.
    Retired,
}

impl KeyState {
    /// `"next"`, `"current"` or `"retired"`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Current => "current",
            KeyState::Retired => "retired",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "next" => KeyState::Next,
            "current" => KeyState::Current,
            "retired" => KeyState::Retired,
            _ => {
                return Err(Error::storage(format!(
                    "unknown signing key state {s:?} in the database"
                )));
            }
        })
    }
}

/// A signing key as the database holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningRow {
    /// Key id (the JWT header's `kid`).
    pub kid: String,
    /// JWS algorithm name.
    pub alg: String,
    /// `next`, `current` or `retired`.
    pub state: String,
    /// When the key was made, Unix ms.
    pub created_at: i64,
    /// When it stopped signing, Unix ms.
    pub retired_at: Option<i64>,
    /// PKCS#8 (asymmetric) or the secret (HS256); sealed when `sealed`. `None` when
    /// the private half is not kept.
    pub private: Option<Vec<u8>>,
    /// True when `private` is sealed with the key-encryption key.
    pub sealed: bool,
    /// Public verification bytes (empty for HS256).
    pub public: Vec<u8>,
    /// The public JWK (with `kid`, `alg`, `use`), JSON text; `None` for HS256.
    pub public_jwk: Option<String>,
}

impl std::fmt::Debug for SigningRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningRow")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("retired_at", &self.retired_at)
            .field("sealed", &self.sealed)
            .field("private", &self.private.as_ref().map(|_| "(redacted)"))
            .finish()
    }
}

impl Drop for SigningRow {
    fn drop(&mut self) {
        if let Some(p) = &mut self.private {
            zeroize::Zeroize::zeroize(p);
        }
    }
}

/// Every stored signing key, and the check value of the key-encryption key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningTable {
    /// The keys, in no particular order.
    pub keys: Vec<SigningRow>,
    /// A value sealed with the key-encryption key, when private keys are sealed.
    pub kek_check: Option<Vec<u8>>,
}

/// What `signing_keys()` shows of a key: never its private half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyInfo {
    /// Key id.
    pub kid: String,
    /// JWS algorithm.
    pub alg: String,
    /// `next`, `current` or `retired`.
    pub state: String,
    /// When the key was made.
    pub created_at: Timestamp,
    /// When it stopped signing.
    pub retired_at: Option<Timestamp>,
    /// The public JWK as JSON text (`None` for HS256 keys, which are never
    /// published).
    pub public_jwk: Option<String>,
}

/// Where a handle's keys come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// The `signing_keys` option.
    Option,
    /// The `KEYSCOPE_SIGNING_KEYS` environment variable.
    Environment,
    /// The store's signing-key table.
    Store,
}

/// The key-encryption key: seals private keys at rest.
pub struct Kek(LessSafeKey);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek(redacted)")
    }
}

fn key_aad(kid: &str, alg: &str) -> Vec<u8> {
    format!("keyscope signing key\0{kid}\0{alg}").into_bytes()
}

impl Kek {
    /// A key-encryption key from 32 bytes.
    pub fn new(bytes: &[u8]) -> Result<Kek> {
        if bytes.len() != KEK_BYTES {
            return Err(Error::invalid(
                "key_encryption_key",
                format!("must be {KEK_BYTES} bytes, not {}", bytes.len()),
            ));
        }
        let key = UnboundKey::new(&AES_256_GCM, bytes)
            .map_err(|_| Error::internal("cannot load the key-encryption key"))?;
        Ok(Kek(LessSafeKey::new(key)))
    }

    /// The option's key, else the environment's (base64), else none.
    pub fn resolve(option: Option<&[u8]>) -> Result<Option<Kek>> {
        if let Some(bytes) = option {
            return Kek::new(bytes).map(Some);
        }
        match std::env::var(KEK_ENV_VAR) {
            Ok(v) if !v.trim().is_empty() => {
                let bytes = Zeroizing::new(
                    STANDARD
                        .decode(v.trim())
                        .or_else(|_| URL_SAFE_NO_PAD.decode(v.trim()))
                        .map_err(|_| Error::invalid(KEK_ENV_VAR, "is not valid base64"))?,
                );
                Kek::new(&bytes)
                    .map(Some)
                    .map_err(|e| Error::invalid(KEK_ENV_VAR, e.message()))
            }
            _ => Ok(None),
        }
    }

    fn seal_with(&self, aad: &[u8], plain: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let mut data = plain.to_vec();
        self.0
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut data,
            )
            .map_err(|_| Error::internal("cannot seal a private key"))?;
        let mut out = nonce.to_vec();
        out.append(&mut data);
        Ok(out)
    }

    fn open_with(&self, aad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[..NONCE_LEN]).ok()?;
        let mut data = Zeroizing::new(sealed[NONCE_LEN..].to_vec());
        let n = self
            .0
            .open_in_place(nonce, Aad::from(aad), &mut data)
            .ok()?
            .len();
        data.truncate(n);
        Some(data)
    }

    /// Seals the private half of key `kid` of `alg`.
    pub fn seal(&self, kid: &str, alg: &str, private: &[u8]) -> Result<Vec<u8>> {
        self.seal_with(&key_aad(kid, alg), private)
    }

    /// Opens the sealed private half of key `kid` of `alg`; a wrong key, or a row whose
    /// kid or algorithm was changed, is `storage`.
    pub fn open(&self, kid: &str, alg: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.open_with(&key_aad(kid, alg), sealed).ok_or_else(|| {
            Error::storage(format!(
                "the private key of signing key {kid:?} does not open with this \
                 key_encryption_key (a wrong key, or a changed row)"
            ))
        })
    }

    fn check_value(&self) -> Result<Vec<u8>> {
        self.seal_with(CHECK_AAD, CHECK_PLAINTEXT)
    }

    fn verify_check(&self, check: &[u8]) -> Result<()> {
        match self.open_with(CHECK_AAD, check) {
            Some(p) if p.as_slice() == CHECK_PLAINTEXT => Ok(()),
            _ => Err(Error::storage(
                "the key_encryption_key is not the one this store's private keys are \
                 encrypted with",
            )),
        }
    }
}

/// One key in memory: what verifies with it, and (for the current key, when its
/// private half is at hand) what signs.
pub struct SigningKey {
    kid: String,
    alg: Alg,
    header_b64: String,
    verifier: Verifier,
    signer: Option<Signer>,
    /// Unix ms after which a retired key no longer verifies.
    verify_until_ms: Option<i64>,
    /// The public JWK, JSON text (asymmetric keys).
    jwk: Option<String>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("signs", &self.signer.is_some())
            .finish()
    }
}

impl SigningKey {
    fn new(kid: &str, alg: Alg, verifier: Verifier, signer: Option<Signer>) -> Self {
        let header = format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{kid}"}}"#);
        let header_b64 = URL_SAFE_NO_PAD.encode(header);
        // Every token this key signs starts with its header, a dot and canonical
        // claims, whose first six bytes, `{"iss"`, are always the same eight
        // characters: an HMAC key compresses the whole blocks of that once.
        let start = format!("{header_b64}.{}", URL_SAFE_NO_PAD.encode(br#"{"iss""#));
        let (verifier, signer) = match (verifier, signer) {
            (Verifier::Hs(v), s) => (
                Verifier::Hs(v.expecting(start.as_bytes())),
                s.map(|s| match s {
                    Signer::Hs(m) => Signer::Hs(m.expecting(start.as_bytes())),
                    other => other,
                }),
            ),
            other => other,
        };
        SigningKey {
            kid: kid.to_owned(),
            alg,
            header_b64,
            verifier,
            signer,
            verify_until_ms: None,
            jwk: None,
        }
    }

    /// The key id written in the JWT header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The key's algorithm.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The base64url JWT header naming this key (tokens must carry exactly it).
    pub fn header_b64(&self) -> &str {
        &self.header_b64
    }

    /// Signs `message`; `storage` when this handle holds no private half.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match &self.signer {
            Some(s) => s.sign(message),
            None => Err(Error::storage(
                "this signing key's private half is not available",
            )),
        }
    }

    /// True when `signature` signs `message` and the key still verifies at `now_ms`.
    pub fn verify(&self, message: &[u8], signature: &[u8], now_ms: i64) -> bool {
        self.verify_until_ms.is_none_or(|u| now_ms < u) && self.verifier.verify(message, signature)
    }
}

/// The keys a handle signs and verifies with.
pub struct SigningKeys {
    keys: Vec<SigningKey>,
    signer: Option<usize>,
    source: KeySource,
    /// Why nothing signs, when `signer` is `None`.
    no_signer: Option<String>,
}

impl std::fmt::Debug for SigningKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<(&str, &str)> = self
            .keys
            .iter()
            .map(|k| (k.kid.as_str(), k.alg.as_str()))
            .collect();
        f.debug_struct("SigningKeys")
            .field("keys", &kids)
            .field("source", &self.source)
            .finish()
    }
}

impl SigningKeys {
    /// HS256 keys from `(kid, secret)` pairs (secrets of at least 32 bytes); the
    /// first signs, all verify.
    pub fn from_pairs(pairs: &[(String, Vec<u8>)], source: KeySource) -> Result<Self> {
        if pairs.is_empty() {
            return Err(Error::invalid(
                "signing_keys",
                "at least one key is required",
            ));
        }
        let keys = pairs
            .iter()
            .map(|(kid, secret)| {
                let verifier = Verifier::load(Alg::Hs256, &[], Some(secret))
                    .map_err(|_| Error::invalid("signing_keys", "unusable key length"))?;
                let signer = Signer::load(Alg::Hs256, secret)?;
                Ok(SigningKey::new(kid, Alg::Hs256, verifier, Some(signer)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(SigningKeys {
            keys,
            signer: Some(0),
            source,
            no_signer: None,
        })
    }

    /// The keys of a store's table as of `now_ms`: retired keys past their time are
    /// left out, and sealed private halves are opened with `kek` (without it, only
    /// the asymmetric keys verify and nothing signs).
    pub fn from_table(
        table: &SigningTable,
        kek: Option<&Kek>,
        now_ms: i64,
        leeway_ms: i64,
    ) -> Result<Self> {
        if let (Some(kek), Some(check)) = (kek, &table.kek_check) {
            kek.verify_check(check)?;
        }
        let mut rows: Vec<&SigningRow> = table.keys.iter().collect();
        let rank = |r: &SigningRow| match r.state.as_str() {
            "current" => 0,
            "next" => 1,
            _ => 2,
        };
        rows.sort_by_key(|r| (rank(r), std::cmp::Reverse(r.created_at)));
        let mut keys = Vec::new();
        let mut signer = None;
        let mut no_signer = Some("the store has no current signing key".to_owned());
        for row in rows {
            let state = KeyState::parse(&row.state)?;
            let alg = Alg::parse(&row.alg, "alg").map_err(|_| {
                Error::storage(format!("unknown algorithm {:?} in the database", row.alg))
            })?;
            let verify_until = match state {
                KeyState::Retired => {
                    let until = row.retired_at.unwrap_or(0) + RETIRED_VERIFY_MS + leeway_ms;
                    if until <= now_ms {
                        continue;
                    }
                    Some(until)
                }
                _ => None,
            };
            let private: Option<Zeroizing<Vec<u8>>> = match (&row.private, row.sealed, kek) {
                (None, _, _) => None,
                (Some(p), false, _) => Some(Zeroizing::new(p.clone())),
                (Some(p), true, Some(kek)) => Some(kek.open(&row.kid, &row.alg, p)?),
                (Some(_), true, None) => None,
            };
            if alg == Alg::Hs256 && private.is_none() {
                // Without its secret an HS256 key verifies nothing.
                continue;
            }
            let verifier = Verifier::load(alg, &row.public, private.as_deref().map(|p| &p[..]))?;
            let sign_with = match (state, &private) {
                (KeyState::Current, Some(p)) => Some(Signer::load(alg, p)?),
                (KeyState::Current, None) => {
                    no_signer = Some(
                        "the store's private keys are encrypted and this handle has no \
                         key_encryption_key (option) or KEYSCOPE_KEY_ENCRYPTION_KEY"
                            .to_owned(),
                    );
                    None
                }
                _ => None,
            };
            let mut key = SigningKey::new(&row.kid, alg, verifier, sign_with);
            key.verify_until_ms = verify_until;
            key.jwk = row.public_jwk.clone();
            if key.signer.is_some() && signer.is_none() {
                signer = Some(keys.len());
                no_signer = None;
            }
            keys.push(key);
        }
        Ok(SigningKeys {
            keys,
            signer,
            source: KeySource::Store,
            no_signer,
        })
    }

    /// The key that signs new tokens; `storage` (saying why) when none can.
    pub fn signer(&self) -> Result<&SigningKey> {
        match self.signer {
            Some(i) => Ok(&self.keys[i]),
            None => Err(Error::storage(
                self.no_signer
                    .clone()
                    .unwrap_or_else(|| "no signing key can sign".to_owned()),
            )),
        }
    }

    /// The key whose encoded header is exactly `header_b64`.
    pub fn by_header(&self, header_b64: &[u8]) -> Option<&SigningKey> {
        self.keys
            .iter()
            .find(|k| k.header_b64.as_bytes() == header_b64)
    }

    /// The key with this id.
    pub fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The ids of every key that verifies.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|k| k.kid.as_str())
    }

    /// The JWK Set (RFC 7517) of the public keys that verify at `now_ms`: `next`,
    /// `current`, and `retired` until their time is over. HS256 keys never appear.
    pub fn jwks(&self, now_ms: i64) -> String {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .filter(|k| k.verify_until_ms.is_none_or(|u| now_ms < u))
            .filter_map(|k| k.jwk.as_deref())
            .filter_map(|j| serde_json::from_str(j).ok())
            .collect();
        json!({ "keys": keys }).to_string()
    }

    /// Where the keys came from.
    pub fn source(&self) -> KeySource {
        self.source
    }

    /// True for keys given by the option or the environment (not the store's table).
    pub fn is_fixed(&self) -> bool {
        self.source != KeySource::Store
    }
}

/// The option's HS256 keys, else the environment's, else `None` (the store's table).
pub fn fixed_keys(option: &[(String, Vec<u8>)]) -> Result<Option<SigningKeys>> {
    if !option.is_empty() {
        return SigningKeys::from_pairs(option, KeySource::Option).map(Some);
    }
    if let Ok(value) = std::env::var(ENV_VAR)
        && !value.trim().is_empty()
    {
        let pairs = parse_key_list(&value, ENV_VAR)?;
        keyfile::check_pairs(&pairs, ENV_VAR)?;
        return SigningKeys::from_pairs(&pairs, KeySource::Environment).map(Some);
    }
    Ok(None)
}

/// A new key id: 16 base64url characters.
fn new_kid() -> Result<String> {
    let mut b = [0u8; 12];
    random_bytes(&mut b)?;
    Ok(URL_SAFE_NO_PAD.encode(b))
}

/// A new row of `alg` in `state`, its private half sealed when `kek` is given.
fn new_row(alg: Alg, state: KeyState, kek: Option<&Kek>, now_ms: i64) -> Result<SigningRow> {
    let kid = new_kid()?;
    let g = jose::generate(alg)?;
    let public_jwk = g.jwk.map(|mut m| {
        m.insert("kid".into(), kid.clone().into());
        m.insert("alg".into(), alg.as_str().into());
        m.insert("use".into(), "sig".into());
        serde_json::Value::Object(m).to_string()
    });
    let (private, sealed) = match kek {
        Some(k) => (k.seal(&kid, alg.as_str(), &g.private)?, true),
        None => (g.private.to_vec(), false),
    };
    Ok(SigningRow {
        kid,
        alg: alg.as_str().to_owned(),
        state: state.as_str().to_owned(),
        created_at: now_ms,
        retired_at: None,
        private: Some(private),
        sealed,
        public: g.public,
        public_jwk,
    })
}

/// An audit entry about signing key `kid`.
pub(crate) fn audit(
    action: AuditAction,
    row: &SigningRow,
    actor: Option<&str>,
    now: Timestamp,
    changes: Vec<String>,
) -> AuditRecord {
    AuditRecord {
        at: now,
        actor: actor.map(str::to_owned),
        action,
        key_id: row.kid.clone(),
        key_name: format!("{} signing key", row.alg),
        changes,
    }
}

/// The audit entries of one change of the table, and whether it changed at all.
pub(crate) type TableChange = Option<Vec<AuditRecord>>;

fn sealing_ok(table: &SigningTable, kek: Option<&Kek>) -> Result<()> {
    match (kek, &table.kek_check) {
        (Some(k), Some(check)) => k.verify_check(check),
        (None, Some(_)) => Err(Error::storage(
            "the store's private keys are encrypted: new signing keys need the \
             key_encryption_key (option) or KEYSCOPE_KEY_ENCRYPTION_KEY",
        )),
        _ => Ok(()),
    }
}

/// Brings a table to its steady state when a handle opens: seals clear private keys
/// once a key-encryption key is given, imports `legacy` keys (a previous version's
/// key file: the first becomes `current`, the others `retired`), and makes sure
/// there is a `current` and a `next` key (of `alg`).
pub(crate) fn bootstrap(
    table: &mut SigningTable,
    kek: Option<&Kek>,
    alg: Alg,
    legacy: impl FnOnce() -> Result<Option<KeyPairs>>,
    now_ms: i64,
) -> Result<TableChange> {
    let mut changed = false;
    if let Some(k) = kek {
        match &table.kek_check {
            Some(check) => k.verify_check(check)?,
            None => {
                table.kek_check = Some(k.check_value()?);
                changed = true;
            }
        }
        for row in &mut table.keys {
            if let (Some(p), false) = (&row.private, row.sealed) {
                let sealed = k.seal(&row.kid, &row.alg, p)?;
                row.private = Some(sealed);
                row.sealed = true;
                changed = true;
            }
        }
    }
    let has = |t: &SigningTable, s: KeyState| t.keys.iter().any(|r| r.state == s.as_str());
    if table.keys.is_empty()
        && let Some(pairs) = legacy()?
    {
        for (i, (kid, secret)) in pairs.iter().enumerate() {
            let (private, sealed) = match kek {
                Some(k) => (k.seal(kid, "HS256", secret)?, true),
                None => (secret.clone(), false),
            };
            table.keys.push(SigningRow {
                kid: kid.clone(),
                alg: "HS256".into(),
                state: if i == 0 { "current" } else { "retired" }.into(),
                created_at: now_ms,
                retired_at: (i > 0).then_some(now_ms),
                private: Some(private),
                sealed,
                public: Vec::new(),
                public_jwk: None,
            });
        }
        changed = true;
    }
    let can_make = sealing_ok(table, kek).is_ok();
    if !has(table, KeyState::Current) && can_make {
        table
            .keys
            .push(new_row(alg, KeyState::Current, kek, now_ms)?);
        changed = true;
    }
    if !has(table, KeyState::Next) && can_make {
        table.keys.push(new_row(alg, KeyState::Next, kek, now_ms)?);
        changed = true;
    }
    Ok(changed.then(Vec::new))
}

/// Drops retired keys whose verification time is over.
fn purge(table: &mut SigningTable, now_ms: i64, leeway_ms: i64) {
    table.keys.retain(|r| {
        r.state != "retired" || r.retired_at.unwrap_or(0) + RETIRED_VERIFY_MS + leeway_ms > now_ms
    });
}

/// Rotates the table: `next` becomes `current`, `current` becomes `retired`, and a new
/// `next` of `alg` is made.
pub(crate) fn rotate(
    table: &mut SigningTable,
    kek: Option<&Kek>,
    alg: Alg,
    actor: Option<&str>,
    now: Timestamp,
    leeway_ms: i64,
) -> Result<Vec<AuditRecord>> {
    sealing_ok(table, kek)?;
    let now_ms = now.as_millis();
    purge(table, now_ms, leeway_ms);
    let fresh = new_row(alg, KeyState::Next, kek, now_ms)?;
    let mut changes = Vec::new();
    let mut promoted = None;
    for row in &mut table.keys {
        match row.state.as_str() {
            "current" => {
                row.state = "retired".into();
                row.retired_at = Some(now_ms);
                changes.push(format!("retired: {}", row.kid));
            }
            "next" => {
                row.state = "current".into();
                changes.push(format!("current: {}", row.kid));
                promoted = Some(row.clone());
            }
            _ => {}
        }
    }
    let Some(promoted) = promoted else {
        return Err(Error::storage(
            "the store has no next signing key to rotate to",
        ));
    };
    changes.push(format!("next: {} ({alg})", fresh.kid));
    table.keys.push(fresh);
    Ok(vec![audit(
        AuditAction::SigningKeyRotated,
        &promoted,
        actor,
        now,
        changes,
    )])
}

/// Retires key `kid`: it stops signing (a `current` key rotates first; a `next` key is
/// replaced by a new `next`) and verifies until its tokens have expired — or, with
/// `immediately`, not at all from now on, and it leaves the JWK Set.
#[allow(clippy::too_many_arguments)]
pub(crate) fn retire(
    table: &mut SigningTable,
    kek: Option<&Kek>,
    kid: &str,
    immediately: bool,
    alg: Alg,
    actor: Option<&str>,
    now: Timestamp,
    leeway_ms: i64,
) -> Result<Vec<AuditRecord>> {
    let now_ms = now.as_millis();
    let Some(state) = table
        .keys
        .iter()
        .find(|r| r.kid == kid)
        .map(|r| r.state.clone())
    else {
        return Err(Error::new(
            ErrorKind::NotFound,
            format!("no signing key with kid {kid:?}"),
        ));
    };
    let mut out = Vec::new();
    match state.as_str() {
        "current" => out.extend(rotate(table, kek, alg, actor, now, leeway_ms)?),
        "next" => {
            sealing_ok(table, kek)?;
            table.keys.push(new_row(alg, KeyState::Next, kek, now_ms)?);
        }
        _ => {}
    }
    let row = table
        .keys
        .iter_mut()
        .find(|r| r.kid == kid)
        .expect("the key is still in the table");
    let mut changes = Vec::new();
    if row.state != "retired" {
        changes.push(format!("state: {} -> retired", row.state));
        row.state = "retired".into();
        row.retired_at = Some(now_ms);
    }
    if immediately {
        changes.push("verifies: no longer (retired immediately)".into());
    }
    let entry = audit(AuditAction::SigningKeyRetired, row, actor, now, changes);
    if immediately {
        table.keys.retain(|r| r.kid != kid);
    }
    purge(table, now_ms, leeway_ms);
    out.push(entry);
    Ok(out)
}

/// What `signing_keys()` lists, newest first within each state, as of `now_ms`.
pub(crate) fn infos(
    table: &SigningTable,
    now_ms: i64,
    leeway_ms: i64,
) -> Result<Vec<SigningKeyInfo>> {
    let mut t = table.clone();
    purge(&mut t, now_ms, leeway_ms);
    let rank = |s: &str| match s {
        "current" => 0,
        "next" => 1,
        _ => 2,
    };
    t.keys
        .sort_by_key(|r| (rank(&r.state), std::cmp::Reverse(r.created_at)));
    t.keys
        .iter()
        .map(|r| {
            Ok(SigningKeyInfo {
                kid: r.kid.clone(),
                alg: r.alg.clone(),
                state: r.state.clone(),
                created_at: Timestamp::from_millis(r.created_at, "created_at")?,
                retired_at: r
                    .retired_at
                    .map(|t| Timestamp::from_millis(t, "retired_at"))
                    .transpose()?,
                public_jwk: r.public_jwk.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(1_800_000_000_000 + ms, "now").unwrap()
    }

    fn fresh(alg: Alg, kek: Option<&Kek>) -> SigningTable {
        let mut t = SigningTable::default();
        bootstrap(&mut t, kek, alg, || Ok(None), at(0).as_millis()).unwrap();
        t
    }

    #[test]
    fn the_first_key_signs_and_all_verify() {
        let keys = SigningKeys::from_pairs(
            &[("a".into(), vec![1; 32]), ("b".into(), vec![2; 32])],
            KeySource::Option,
        )
        .unwrap();
        assert_eq!(keys.signer().unwrap().kid(), "a");
        let hb = keys.by_kid("b").unwrap().header_b64().to_owned();
        assert_eq!(keys.by_header(hb.as_bytes()).unwrap().kid(), "b");
        assert!(keys.by_kid("c").is_none());
    }

    #[test]
    fn a_new_table_has_a_current_and_a_next_key_with_16_character_kids() {
        let t = fresh(Alg::Es256, None);
        let states: Vec<&str> = t.keys.iter().map(|r| r.state.as_str()).collect();
        assert_eq!(states, ["current", "next"]);
        assert!(t.keys.iter().all(|r| r.kid.len() == 16 && r.alg == "ES256"));
        let keys = SigningKeys::from_table(&t, None, at(0).as_millis(), 0).unwrap();
        assert_eq!(keys.signer().unwrap().kid(), t.keys[0].kid);
    }

    #[test]
    fn rotation_moves_every_key_one_state_along() {
        let mut t = fresh(Alg::Es256, None);
        let (cur, next) = (t.keys[0].kid.clone(), t.keys[1].kid.clone());
        rotate(&mut t, None, Alg::EdDsa, None, at(10), 0).unwrap();
        let state = |kid: &str| t.keys.iter().find(|r| r.kid == kid).unwrap().state.clone();
        assert_eq!(state(&cur), "retired");
        assert_eq!(state(&next), "current");
        let new = t.keys.iter().find(|r| r.state == "next").unwrap();
        assert_eq!(new.alg, "EdDSA");
    }

    #[test]
    fn a_retired_key_verifies_for_a_day_plus_leeway_then_is_gone() {
        let mut t = fresh(Alg::Es256, None);
        let old = t.keys[0].kid.clone();
        rotate(&mut t, None, Alg::Es256, None, at(0), 0).unwrap();
        let with = |ms: i64| SigningKeys::from_table(&t, None, at(ms).as_millis(), 5_000).unwrap();
        assert!(with(RETIRED_VERIFY_MS + 4_999).by_kid(&old).is_some());
        assert!(with(RETIRED_VERIFY_MS + 5_000).by_kid(&old).is_none());
    }

    #[test]
    fn retiring_immediately_removes_the_key() {
        let mut t = fresh(Alg::Es256, None);
        let cur = t.keys[0].kid.clone();
        retire(&mut t, None, &cur, true, Alg::Es256, None, at(0), 0).unwrap();
        assert!(t.keys.iter().all(|r| r.kid != cur));
        assert_eq!(t.keys.iter().filter(|r| r.state == "current").count(), 1);
        assert_eq!(t.keys.iter().filter(|r| r.state == "next").count(), 1);
        let e = retire(&mut t, None, "nope", false, Alg::Es256, None, at(0), 0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn sealed_keys_open_only_with_their_kek() {
        let kek = Kek::new(&[7; 32]).unwrap();
        let t = fresh(Alg::Es256, Some(&kek));
        assert!(t.keys.iter().all(|r| r.sealed));
        let ok = SigningKeys::from_table(&t, Some(&kek), at(0).as_millis(), 0).unwrap();
        assert!(ok.signer().is_ok());
        // Without the key: verifying works, signing says why it cannot.
        let public_only = SigningKeys::from_table(&t, None, at(0).as_millis(), 0).unwrap();
        assert!(public_only.by_kid(&t.keys[0].kid).is_some());
        let e = public_only.signer().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Storage);
        assert!(e.message().contains("encrypted"), "{e}");
        // A wrong key is detected by the check value.
        let wrong = Kek::new(&[8; 32]).unwrap();
        let e = SigningKeys::from_table(&t, Some(&wrong), at(0).as_millis(), 0).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Storage);
        // A row whose kid was swapped does not open (the kid is associated data).
        let mut swapped = t.clone();
        swapped.keys[0].kid = swapped.keys[1].kid.clone() + "x";
        assert!(SigningKeys::from_table(&swapped, Some(&kek), at(0).as_millis(), 0).is_err());
    }

    #[test]
    fn a_kek_given_later_seals_the_clear_keys() {
        let mut t = fresh(Alg::Es256, None);
        let kek = Kek::new(&[9; 32]).unwrap();
        let changed = bootstrap(&mut t, Some(&kek), Alg::Es256, || Ok(None), 0).unwrap();
        assert!(changed.is_some());
        assert!(t.keys.iter().all(|r| r.sealed) && t.kek_check.is_some());
    }

    #[test]
    fn legacy_keys_are_imported_as_hs256_current_then_retired() {
        let mut t = SigningTable::default();
        let pairs = vec![
            ("old1".to_owned(), vec![1; 32]),
            ("old2".to_owned(), vec![2; 32]),
        ];
        bootstrap(&mut t, None, Alg::Es256, || Ok(Some(pairs)), 0).unwrap();
        let find = |kid: &str| t.keys.iter().find(|r| r.kid == kid).unwrap();
        assert_eq!(
            (find("old1").alg.as_str(), find("old1").state.as_str()),
            ("HS256", "current")
        );
        assert_eq!(find("old2").state, "retired");
        assert!(t.keys.iter().any(|r| r.state == "next" && r.alg == "ES256"));
    }

    #[test]
    fn the_jwk_set_has_public_keys_only() {
        let mut t = fresh(Alg::Es256, None);
        rotate(&mut t, None, Alg::Rs256, None, at(1), 0).unwrap();
        assert_eq!(infos(&t, at(2).as_millis(), 0).unwrap().len(), 3);
        let keys = SigningKeys::from_table(&t, None, at(2).as_millis(), 0).unwrap();
        let set: serde_json::Value = serde_json::from_str(&keys.jwks(at(2).as_millis())).unwrap();
        let keys = set["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 3);
        for k in keys {
            assert_eq!(k["use"], "sig");
            assert!(k.get("d").is_none() && k.get("p").is_none());
        }
        assert!(keys.iter().any(|k| k["kty"] == "RSA" && k["e"] == "AQAB"));
    }

    #[test]
    fn debug_output_never_shows_private_keys() {
        let t = fresh(Alg::Hs256, None);
        let text = format!("{t:?}");
        assert!(text.contains("redacted"));
        let secret = t.keys[0].private.as_ref().unwrap();
        assert!(!text.contains(&format!("{secret:?}")));
    }
}
