//! The JWS algorithms keyscope signs and verifies with (docs/signing-keys.md): ES256,
//! EdDSA (Ed25519) and RS256 on AWS-LC (constant-time, maintained), and HS256 on the
//! RustCrypto HMAC. Each key verifies only with its own algorithm.

use crate::hmac256::HmacSha256;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::random_bytes;

/// Largest signature of any algorithm keyscope accepts (RSA 4096).
pub const MAX_SIGNATURE_BYTES: usize = 512;

/// A JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// ECDSA P-256 with SHA-256 (the default for generated keys).
    Es256,
    /// Ed25519.
    EdDsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256, 2048-bit keys or larger.
    Rs256,
    /// HMAC-SHA-256 with a shared secret.
    Hs256,
}

impl Alg {
    /// Every algorithm, in the order the docs list them.
    pub const ALL: [Alg; 4] = [Alg::Es256, Alg::EdDsa, Alg::Rs256, Alg::Hs256];

    /// The JWS `alg` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Alg::Es256 => "ES256",
            Alg::EdDsa => "EdDSA",
            Alg::Rs256 => "RS256",
            Alg::Hs256 => "HS256",
        }
    }

    /// Parses a JWS `alg` name (exact spelling); `field` names the argument in errors.
    pub fn parse(text: &str, field: &str) -> Result<Alg> {
        Alg::ALL
            .into_iter()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| {
                Error::invalid(
                    field,
                    "must be one of \"ES256\", \"EdDSA\", \"RS256\", \"HS256\"",
                )
            })
    }

    /// True for the algorithms whose public key can be published.
    pub fn is_asymmetric(self) -> bool {
        self != Alg::Hs256
    }
}

impl std::fmt::Display for Alg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A freshly generated key: its private material (PKCS#8 for the asymmetric
/// algorithms, the raw secret for HS256), its public verification bytes and its
/// public JWK members (none for HS256).
pub struct Generated {
    /// Private key material; wiped on drop.
    pub private: Zeroizing<Vec<u8>>,
    /// Public key bytes as the verifier takes them (empty for HS256).
    pub public: Vec<u8>,
    /// The public JWK without `kid`, or `None` for HS256.
    pub jwk: Option<serde_json::Map<String, serde_json::Value>>,
}

fn internal(what: &str) -> Error {
    Error::internal(format!("the cryptography library failed to {what}"))
}

fn b64(bytes: &[u8]) -> serde_json::Value {
    serde_json::Value::String(URL_SAFE_NO_PAD.encode(bytes))
}

fn jwk(members: &[(&str, serde_json::Value)]) -> serde_json::Map<String, serde_json::Value> {
    members
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// Generates a key of `alg`.
pub fn generate(alg: Alg) -> Result<Generated> {
    let rng = SystemRandom::new();
    match alg {
        Alg::Es256 => {
            let doc =
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| internal("generate a P-256 key"))?;
            let private = Zeroizing::new(doc.as_ref().to_vec());
            let pair =
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &private)
                    .map_err(|_| internal("load a P-256 key"))?;
            let public = pair.public_key().as_ref().to_vec();
            let jwk = public_jwk(alg, &public)?;
            Ok(Generated {
                private,
                public,
                jwk,
            })
        }
        Alg::EdDsa => {
            let doc = Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| internal("generate an Ed25519 key"))?;
            let private = Zeroizing::new(doc.as_ref().to_vec());
            let pair = Ed25519KeyPair::from_pkcs8(&private)
                .map_err(|_| internal("load an Ed25519 key"))?;
            let public = pair.public_key().as_ref().to_vec();
            let jwk = public_jwk(alg, &public)?;
            Ok(Generated {
                private,
                public,
                jwk,
            })
        }
        Alg::Rs256 => {
            use aws_lc_rs::encoding::AsDer;
            let pair = RsaKeyPair::generate(KeySize::Rsa2048)
                .map_err(|_| internal("generate an RSA key"))?;
            let der = pair.as_der().map_err(|_| internal("encode an RSA key"))?;
            let private = Zeroizing::new(der.as_ref().to_vec());
            let public = pair.public_key().as_ref().to_vec();
            let jwk = Some(jwk(&[
                ("kty", "RSA".into()),
                (
                    "n",
                    b64(pair
                        .public_key()
                        .modulus()
                        .big_endian_without_leading_zero()),
                ),
                (
                    "e",
                    b64(pair
                        .public_key()
                        .exponent()
                        .big_endian_without_leading_zero()),
                ),
            ]));
            Ok(Generated {
                private,
                public,
                jwk,
            })
        }
        Alg::Hs256 => {
            let mut secret = Zeroizing::new(vec![0u8; 32]);
            random_bytes(&mut secret)?;
            Ok(Generated {
                private: secret,
                public: Vec::new(),
                jwk: None,
            })
        }
    }
}

/// The public JWK members of an ES256 or EdDSA key from its public bytes (RSA keys
/// keep the JWK made at generation).
fn public_jwk(
    alg: Alg,
    public: &[u8],
) -> Result<Option<serde_json::Map<String, serde_json::Value>>> {
    Ok(match alg {
        Alg::Es256 => {
            if public.len() != 65 || public[0] != 4 {
                return Err(internal("encode a P-256 public key"));
            }
            Some(jwk(&[
                ("kty", "EC".into()),
                ("crv", "P-256".into()),
                ("x", b64(&public[1..33])),
                ("y", b64(&public[33..65])),
            ]))
        }
        Alg::EdDsa => Some(jwk(&[
            ("kty", "OKP".into()),
            ("crv", "Ed25519".into()),
            ("x", b64(public)),
        ])),
        Alg::Rs256 | Alg::Hs256 => None,
    })
}

/// What signs with a key.
pub enum Signer {
    /// The HMAC key's precomputed states.
    Hs(HmacSha256),
    /// A P-256 private key.
    Es(Box<EcdsaKeyPair>),
    /// An Ed25519 private key.
    Ed(Box<Ed25519KeyPair>),
    /// An RSA private key.
    Rs(Box<RsaKeyPair>),
}

impl Signer {
    /// Loads the private material of a key of `alg`.
    pub fn load(alg: Alg, private: &[u8]) -> Result<Signer> {
        let bad = |what: &str| Error::storage(format!("the stored {alg} private key {what}"));
        Ok(match alg {
            Alg::Hs256 => Signer::Hs(HmacSha256::new(private)),
            Alg::Es256 => Signer::Es(Box::new(
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, private)
                    .map_err(|_| bad("is not a P-256 PKCS#8 key"))?,
            )),
            Alg::EdDsa => Signer::Ed(Box::new(
                Ed25519KeyPair::from_pkcs8(private)
                    .map_err(|_| bad("is not an Ed25519 PKCS#8 key"))?,
            )),
            Alg::Rs256 => Signer::Rs(Box::new(
                RsaKeyPair::from_pkcs8(private).map_err(|_| bad("is not an RSA PKCS#8 key"))?,
            )),
        })
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        match self {
            Signer::Hs(mac) => Ok(mac.mac(&[message]).to_vec()),
            Signer::Es(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| internal("sign with ES256")),
            Signer::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
            Signer::Rs(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &signature::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut sig,
                )
                .map_err(|_| internal("sign with RS256"))?;
                Ok(sig)
            }
        }
    }
}

/// What verifies with a key: the HMAC state, or a parsed public key.
pub enum Verifier {
    /// A pre-keyed HMAC state.
    Hs(HmacSha256),
    /// A public key parsed once.
    Public(Box<ParsedPublicKey>),
}

impl Verifier {
    /// The verifier of a key of `alg`: from its secret for HS256, else from its
    /// public bytes.
    pub fn load(alg: Alg, public: &[u8], secret: Option<&[u8]>) -> Result<Verifier> {
        let bad = |what: &str| Error::storage(format!("the stored {alg} key {what}"));
        let algorithm: &'static dyn signature::VerificationAlgorithm = match alg {
            Alg::Hs256 => {
                let secret = secret.ok_or_else(|| bad("has no secret"))?;
                return Ok(Verifier::Hs(HmacSha256::new(secret)));
            }
            Alg::Es256 => &signature::ECDSA_P256_SHA256_FIXED,
            Alg::EdDsa => &signature::ED25519,
            Alg::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
        };
        Ok(Verifier::Public(Box::new(
            ParsedPublicKey::new(algorithm, public)
                .map_err(|_| bad("has a malformed public key"))?,
        )))
    }

    /// True when `signature` is a valid signature of `message` (HMACs compared in
    /// constant time).
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Verifier::Hs(mac) => crate::ct::eq(&mac.mac(&[message]), signature),
            Verifier::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_and_verifies_and_refuses_a_changed_message() {
        for alg in Alg::ALL {
            let g = generate(alg).unwrap();
            let signer = Signer::load(alg, &g.private).unwrap();
            let secret = (alg == Alg::Hs256).then_some(&g.private[..]);
            let verifier = Verifier::load(alg, &g.public, secret).unwrap();
            let sig = signer.sign(b"header.claims").unwrap();
            assert!(sig.len() <= MAX_SIGNATURE_BYTES);
            assert!(verifier.verify(b"header.claims", &sig), "{alg}");
            assert!(!verifier.verify(b"header.claimz", &sig), "{alg}");
            assert_eq!(g.jwk.is_some(), alg.is_asymmetric());
        }
    }

    #[test]
    fn a_key_verifies_only_with_its_own_algorithm() {
        let es = generate(Alg::Es256).unwrap();
        assert!(Verifier::load(Alg::EdDsa, &es.public, None).is_err());
        assert!(Verifier::load(Alg::Rs256, &es.public, None).is_err());
    }

    #[test]
    fn alg_names_are_exact() {
        assert_eq!(Alg::parse("EdDSA", "alg").unwrap(), Alg::EdDsa);
        let e = Alg::parse("es256", "token_alg").unwrap_err();
        assert!(e.message().contains("token_alg"), "{e}");
        assert!(Alg::parse("none", "alg").is_err());
    }
}
