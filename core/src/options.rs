//! Store options, with their defaults and limits (docs/tokens.md, docs/storage.md).

use crate::catalog::Catalog;
use crate::error::{Error, Result};
use crate::jose::Alg;
use crate::network::Network;
use crate::secret::{Argon2Params, DEFAULT_PREFIX, validate_prefix};
use crate::store::StoreOptions;
use zeroize::Zeroizing;

/// Options of `KeyStore::open`. `Options::default()` gives the documented defaults.
/// Its `Debug` output never shows a signing key's secret.
#[derive(Clone)]
pub struct Options {
    /// HS256 signing keys `(kid, secret ≥ 32 bytes)`; the first signs, all verify,
    /// and the store's own keys are not used. Empty: `KEYSCOPE_SIGNING_KEYS`, else the
    /// store's signing-key table (docs/signing-keys.md).
    pub signing_keys: Vec<(String, Vec<u8>)>,
    /// The algorithm of keys the store generates (default ES256). With fixed
    /// `signing_keys` only HS256 is accepted.
    pub token_alg: Option<Alg>,
    /// 32 bytes that seal the store's private keys at rest (AES-256-GCM); default:
    /// `KEYSCOPE_KEY_ENCRYPTION_KEY` (base64), else private keys are stored in the clear.
    pub key_encryption_key: Option<Zeroizing<Vec<u8>>>,
    /// When set, grants are checked against it at create and update.
    pub catalog: Option<Catalog>,
    /// Access-token lifetime in seconds, 60–86 400.
    pub token_ttl: i64,
    /// The `iss` claim written and required.
    pub issuer: String,
    /// The `aud` claim written and required; defaults to the issuer.
    pub audience: Option<String>,
    /// Clock skew in seconds tolerated on `exp`/`iat`, 0–60.
    pub leeway: i64,
    /// Accept networks that are not globally reachable in keys.
    pub allow_private_networks: bool,
    /// The Argon2id cost for new hashes.
    pub argon2: Argon2Params,
    /// The prefix of generated secrets, `[a-z0-9]{2,8}`.
    pub secret_prefix: String,
    /// Failed secret checks per key per minute before `rate_limited`.
    pub max_failed_exchanges_per_minute: u32,
    /// Seconds another handle's change may take to reach `authorize` (0–60).
    pub revocation_staleness: f64,
    /// Addresses or CIDRs whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<String>,
    /// Seconds `authorize` keeps answering from memory after a refresh of its state
    /// that failed was due (0–3600, default 30); then `storage` until one succeeds.
    pub offline_grace: f64,
    /// The storage layer's own options (busy timeout; PostgreSQL schema, pool, LISTEN).
    pub store: StoreOptions,
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<&str> = self.signing_keys.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("Options")
            .field("signing_keys", &format_args!("{kids:?} (secrets redacted)"))
            .field("token_alg", &self.token_alg)
            .field(
                "key_encryption_key",
                &self.key_encryption_key.as_ref().map(|_| "(redacted)"),
            )
            .field("catalog", &self.catalog.as_ref().map(|_| "…"))
            .field("token_ttl", &self.token_ttl)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &self.leeway)
            .field("allow_private_networks", &self.allow_private_networks)
            .field("argon2", &self.argon2)
            .field("secret_prefix", &self.secret_prefix)
            .field(
                "max_failed_exchanges_per_minute",
                &self.max_failed_exchanges_per_minute,
            )
            .field("revocation_staleness", &self.revocation_staleness)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("offline_grace", &self.offline_grace)
            .field("store", &self.store)
            .finish()
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            signing_keys: Vec::new(),
            token_alg: None,
            key_encryption_key: None,
            catalog: None,
            token_ttl: 3600,
            issuer: "keyscope".to_owned(),
            audience: None,
            leeway: 0,
            allow_private_networks: false,
            argon2: Argon2Params::default(),
            secret_prefix: DEFAULT_PREFIX.to_owned(),
            max_failed_exchanges_per_minute: 20,
            revocation_staleness: 1.0,
            trusted_proxies: Vec::new(),
            offline_grace: 30.0,
            store: StoreOptions::default(),
        }
    }
}

impl Options {
    /// Checks every option, naming the first one that is out of range.
    pub fn validate(&self) -> Result<()> {
        for (i, (kid, secret)) in self.signing_keys.iter().enumerate() {
            if kid.is_empty()
                || kid.len() > 64
                || !kid
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            {
                return Err(Error::invalid(
                    format!("signing_keys[{i}].kid"),
                    "must be 1 to 64 printable ASCII characters without quotes or backslashes",
                ));
            }
            if secret.len() < 32 {
                return Err(Error::invalid(
                    format!("signing_keys[{i}].secret"),
                    format!("is {} bytes; at least 32 are required", secret.len()),
                ));
            }
            if self.signing_keys[..i].iter().any(|(k, _)| k == kid) {
                return Err(Error::invalid(
                    format!("signing_keys[{i}].kid"),
                    format!("{kid:?} is listed twice"),
                ));
            }
        }
        if let Some(k) = &self.key_encryption_key
            && k.len() != crate::signing::KEK_BYTES
        {
            return Err(Error::invalid(
                "key_encryption_key",
                format!(
                    "must be {} bytes, not {}",
                    crate::signing::KEK_BYTES,
                    k.len()
                ),
            ));
        }
        if !(60..=86_400).contains(&self.token_ttl) {
            return Err(Error::invalid(
                "token_ttl",
                format!("{} must be 60 to 86400 seconds", self.token_ttl),
            ));
        }
        check_claim("issuer", &self.issuer)?;
        if let Some(aud) = &self.audience {
            check_claim("audience", aud)?;
        }
        if !(0..=60).contains(&self.leeway) {
            return Err(Error::invalid(
                "leeway",
                format!("{} must be 0 to 60 seconds", self.leeway),
            ));
        }
        self.argon2.validate()?;
        validate_prefix(&self.secret_prefix)?;
        if self.max_failed_exchanges_per_minute == 0 {
            return Err(Error::invalid(
                "max_failed_exchanges_per_minute",
                "must be at least 1",
            ));
        }
        if !(0.0..=60.0).contains(&self.revocation_staleness) {
            return Err(Error::invalid(
                "revocation_staleness",
                "must be 0 to 60 seconds",
            ));
        }
        for (i, p) in self.trusted_proxies.iter().enumerate() {
            Network::parse(p, &format!("trusted_proxies[{i}]"))?;
        }
        if !(0.0..=3600.0).contains(&self.offline_grace) {
            return Err(Error::invalid("offline_grace", "must be 0 to 3600 seconds"));
        }
        self.store.validate()
    }

    /// The audience actually written and required.
    pub fn audience(&self) -> &str {
        self.audience.as_deref().unwrap_or(&self.issuer)
    }
}

fn check_claim(field: &str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > 255 || value.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "must be 1 to 255 characters without control characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_redacts_signing_key_secrets() {
        let o = Options {
            signing_keys: vec![("k1".into(), b"0123456789abcdef-SECRET-0123456789".to_vec())],
            ..Default::default()
        };
        let shown = format!("{o:?}");
        assert!(shown.contains("k1"), "{shown}");
        assert!(!shown.contains("SECRET"), "{shown}");
        assert!(!shown.contains("48, 49"), "{shown}");
    }

    #[test]
    fn defaults_are_valid() {
        assert!(Options::default().validate().is_ok());
        assert_eq!(Options::default().audience(), "keyscope");
    }

    #[test]
    fn refuses_out_of_range_options_naming_them() {
        let cases: Vec<(Options, &str)> = vec![
            (
                Options {
                    token_ttl: 59,
                    ..Default::default()
                },
                "token_ttl",
            ),
            (
                Options {
                    token_ttl: 86_401,
                    ..Default::default()
                },
                "token_ttl",
            ),
            (
                Options {
                    leeway: 61,
                    ..Default::default()
                },
                "leeway",
            ),
            (
                Options {
                    secret_prefix: "X".into(),
                    ..Default::default()
                },
                "secret_prefix",
            ),
            (
                Options {
                    signing_keys: vec![("k".into(), vec![0; 31])],
                    ..Default::default()
                },
                "signing_keys[0].secret",
            ),
            (
                Options {
                    signing_keys: vec![("k".into(), vec![0; 32]), ("k".into(), vec![0; 32])],
                    ..Default::default()
                },
                "signing_keys[1].kid",
            ),
            (
                Options {
                    issuer: String::new(),
                    ..Default::default()
                },
                "issuer",
            ),
            (
                Options {
                    max_failed_exchanges_per_minute: 0,
                    ..Default::default()
                },
                "max_failed_exchanges_per_minute",
            ),
            (
                Options {
                    trusted_proxies: vec!["10.0.0.1/8".into()],
                    ..Default::default()
                },
                "trusted_proxies[0]",
            ),
            (
                Options {
                    offline_grace: 3600.5,
                    ..Default::default()
                },
                "offline_grace",
            ),
        ];
        for (o, field) in cases {
            assert_eq!(o.validate().unwrap_err().field(), Some(field));
        }
    }
}
