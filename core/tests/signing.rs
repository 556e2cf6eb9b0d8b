//! Signing keys kept in the store (docs/signing-keys.md), on the backend under test:
//! algorithms, rotation, retirement, sealed private keys, propagation to other
//! handles, and the attacks a verifier must refuse.

mod common;
use common::Db;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyscope_core::{
    Alg, Argon2Params, AuditAction, ErrorKind, KeyStore, NewKey, Options, Permission, Secret,
};

const READ: Permission = Permission::Read;

fn opts(alg: Alg) -> Options {
    Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        token_alg: Some(alg),
        revocation_staleness: 0.0,
        ..Options::default()
    }
}

fn key(s: &KeyStore, name: &str) -> (String, Secret) {
    let (k, secret) = s
        .create_key(NewKey {
            name: name.into(),
            grants: vec!["reports:read".into()],
            ..Default::default()
        })
        .unwrap();
    (k.id, secret)
}

fn token(s: &KeyStore, id: &str, secret: &Secret) -> String {
    s.issue_token(id, secret, None, None, None)
        .unwrap()
        .access_token
}

fn header(token: &str) -> serde_json::Value {
    let h = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    serde_json::from_slice(&h).unwrap()
}

fn state_of(s: &KeyStore, kid: &str) -> Option<String> {
    s.signing_keys(None)
        .unwrap()
        .into_iter()
        .find(|k| k.kid == kid)
        .map(|k| k.state)
}

fn current(s: &KeyStore) -> String {
    s.signing_keys(None)
        .unwrap()
        .into_iter()
        .find(|k| k.state == "current")
        .unwrap()
        .kid
}

fn next(s: &KeyStore) -> String {
    s.signing_keys(None)
        .unwrap()
        .into_iter()
        .find(|k| k.state == "next")
        .unwrap()
        .kid
}

#[test]
fn every_algorithm_signs_tokens_that_authorize_with_the_rfc9068_header() {
    for alg in [Alg::Es256, Alg::EdDsa, Alg::Rs256] {
        let s = common::private(opts(alg)).unwrap();
        let (id, secret) = key(&s, "svc");
        let t = token(&s, &id, &secret);
        let h = header(&t);
        assert_eq!(h["alg"], alg.as_str());
        assert_eq!(h["typ"], "at+jwt");
        assert_eq!(h["kid"].as_str().unwrap(), current(&s));
        assert_eq!(h["kid"].as_str().unwrap().len(), 16);
        s.authorize(&t, "reports", READ, None, None).unwrap();
        // The JWK Set publishes the current and the next key, never a private part.
        let set: serde_json::Value = serde_json::from_str(&s.jwks(None).unwrap()).unwrap();
        let kids: Vec<&str> = set["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert!(kids.contains(&current(&s).as_str()) && kids.contains(&next(&s).as_str()));
        for k in set["keys"].as_array().unwrap() {
            assert_eq!(k["alg"], alg.as_str());
            assert!(k.get("d").is_none(), "{k}");
        }
    }
}

#[test]
fn a_rotation_keeps_old_tokens_valid_and_the_new_key_was_published_first() {
    let db = Db::new();
    let a = db.open(opts(Alg::Es256)).unwrap();
    let b = db.open(opts(Alg::Es256)).unwrap();
    let (id, secret) = key(&a, "svc");
    let before = token(&a, &id, &secret);
    let published = a.jwks(None).unwrap();
    let upcoming = next(&a);
    assert!(published.contains(&upcoming));
    let now_signing = a
        .rotate_signing_key(Some(Alg::EdDsa), Some("ops"), None)
        .unwrap();
    assert_eq!(now_signing.kid, upcoming, "the next key signs");
    let after = token(&a, &id, &secret);
    assert_eq!(header(&after)["kid"].as_str().unwrap(), upcoming);
    // Both handles verify both tokens; the other handle also signs with the new key.
    for s in [&a, &b] {
        s.authorize(&before, "reports", READ, None, None).unwrap();
        s.authorize(&after, "reports", READ, None, None).unwrap();
    }
    assert_eq!(
        header(&token(&b, &id, &secret))["kid"].as_str().unwrap(),
        upcoming
    );
    // The new next key is EdDSA, and the rotation is audited.
    let keys = a.signing_keys(None).unwrap();
    assert_eq!(
        keys.iter().map(|k| k.state.as_str()).collect::<Vec<_>>(),
        ["current", "next", "retired"]
    );
    assert_eq!(keys[1].alg, "EdDSA");
    let log = a.audit_log(None, 10, None).unwrap().items;
    let r = log
        .iter()
        .find(|r| r.action == AuditAction::SigningKeyRotated)
        .unwrap();
    assert_eq!(
        (r.key_id.as_str(), r.actor.as_deref()),
        (upcoming.as_str(), Some("ops"))
    );
}

#[test]
fn a_key_retired_immediately_stops_verifying_everywhere_and_leaves_the_jwk_set() {
    let db = Db::new();
    let a = db.open(opts(Alg::Es256)).unwrap();
    let b = db.open(opts(Alg::Es256)).unwrap();
    let issuer_only = db.open(opts(Alg::Es256)).unwrap();
    let (id, secret) = key(&a, "svc");
    let leaked = current(&a);
    let t = token(&a, &id, &secret);
    b.authorize(&t, "reports", READ, None, None).unwrap(); // cached on b
    assert_eq!(
        header(&token(&issuer_only, &id, &secret))["kid"].as_str(),
        Some(leaked.as_str())
    );
    a.retire_signing_key(&leaked, true, None, None).unwrap();
    // A handle that only issues tokens stops signing with the leaked key too.
    assert_ne!(
        header(&token(&issuer_only, &id, &secret))["kid"].as_str(),
        Some(leaked.as_str())
    );
    for s in [&a, &b] {
        let e = s.authorize(&t, "reports", READ, None, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidToken, "{e}");
        assert!(!s.jwks(None).unwrap().contains(&leaked));
    }
    assert_eq!(state_of(&a, &leaked), None);
    // New tokens come from the key that was next.
    let fresh = token(&a, &id, &secret);
    b.authorize(&fresh, "reports", READ, None, None).unwrap();
    let log = a.audit_log(None, 10, None).unwrap().items;
    assert!(
        log.iter()
            .any(|r| r.action == AuditAction::SigningKeyRetired && r.key_id == leaked)
    );
}

#[test]
fn a_key_retired_normally_verifies_its_tokens_but_signs_no_more() {
    let s = common::private(opts(Alg::Es256)).unwrap();
    let (id, secret) = key(&s, "svc");
    let old = current(&s);
    let t = token(&s, &id, &secret);
    s.retire_signing_key(&old, false, None, None).unwrap();
    assert_eq!(state_of(&s, &old).as_deref(), Some("retired"));
    s.authorize(&t, "reports", READ, None, None).unwrap();
    assert!(
        s.jwks(None).unwrap().contains(&old),
        "published until its tokens expire"
    );
    assert_ne!(
        header(&token(&s, &id, &secret))["kid"].as_str().unwrap(),
        old
    );
    // Retiring the next key replaces it; an unknown kid is not_found.
    let n = next(&s);
    s.retire_signing_key(&n, false, None, None).unwrap();
    assert_ne!(next(&s), n);
    let e = s
        .retire_signing_key("no-such-kid", false, None, None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound);
}

/// A token with `header` over the claims of `model`, signed with `sig`.
fn forge(model: &str, header: &str, sig: &[u8]) -> String {
    let claims = model.split('.').nth(1).unwrap();
    format!(
        "{}.{claims}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

#[test]
fn algorithm_confusion_and_unknown_kids_are_refused() {
    use hmac::{Hmac, KeyInit, Mac};
    let s = common::private(opts(Alg::Rs256)).unwrap();
    let (id, secret) = key(&s, "svc");
    let t = token(&s, &id, &secret);
    let kid = current(&s);
    let jwk: serde_json::Value =
        serde_json::from_str(&s.signing_keys(None).unwrap()[0].public_jwk.clone().unwrap())
            .unwrap();
    // The classic attack: an HMAC keyed with the public key, under an HS256 header
    // naming the RSA kid, and under the RS256 header itself.
    for h in [
        format!(r#"{{"alg":"HS256","typ":"at+jwt","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"RS256","typ":"at+jwt","kid":"{kid}"}}"#),
    ] {
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&h),
            t.split('.').nth(1).unwrap()
        );
        for public in [
            jwk.to_string().into_bytes(),
            jwk["n"].as_str().unwrap().as_bytes().to_vec(),
        ] {
            let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&public).unwrap();
            mac.update(signing_input.as_bytes());
            let forged = forge(&t, &h, &mac.finalize().into_bytes());
            let e = s
                .authorize(&forged, "reports", READ, None, None)
                .unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidToken, "{h}");
        }
    }
    // A kid that is not in the set, and a real signature under a swapped alg.
    let real_sig = URL_SAFE_NO_PAD
        .decode(t.split('.').nth(2).unwrap())
        .unwrap();
    for h in [
        r#"{"alg":"RS256","typ":"at+jwt","kid":"AAAAAAAAAAAAAAAA"}"#.to_owned(),
        format!(r#"{{"alg":"ES256","typ":"at+jwt","kid":"{kid}"}}"#),
        format!(r#"{{"alg":"none","typ":"at+jwt","kid":"{kid}"}}"#),
    ] {
        let e = s
            .authorize(&forge(&t, &h, &real_sig), "reports", READ, None, None)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidToken, "{h}");
    }
}

#[test]
fn fixed_hs256_keys_are_the_only_keys() {
    let fixed = Options {
        signing_keys: vec![("k1".into(), vec![7; 32])],
        ..opts(Alg::Hs256)
    };
    let s = common::private(fixed.clone()).unwrap();
    assert_eq!(s.jwks(None).unwrap(), r#"{"keys":[]}"#);
    let e = s.rotate_signing_key(None, None, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let e = s.retire_signing_key("k1", false, None, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    let Err(e) = common::private(Options {
        token_alg: Some(Alg::Es256),
        ..fixed
    }) else {
        panic!("token_alg ES256 with fixed HS256 keys was accepted");
    };
    assert_eq!(e.field(), Some("token_alg"), "{e}");
}

#[test]
fn signing_key_calls_on_an_org_view_are_refused() {
    let s = common::private(opts(Alg::Es256)).unwrap();
    let v = s.org("acme").unwrap();
    assert_eq!(
        v.signing_keys(None).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        v.rotate_signing_key(None, None, None).unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        v.retire_signing_key(&current(&s), true, None, None)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn sealed_private_keys_need_the_right_key_encryption_key() {
    let db = Db::new();
    let kek = |b: u8| Options {
        key_encryption_key: Some(zeroize::Zeroizing::new(vec![b; 32])),
        ..opts(Alg::Es256)
    };
    let a = db.open(kek(1)).unwrap();
    let (id, secret) = key(&a, "svc");
    let t = token(&a, &id, &secret);
    // A wrong key is detected at open.
    let Err(e) = db.open(kek(2)) else {
        panic!("a wrong key_encryption_key was accepted");
    };
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(e.message().contains("key_encryption_key"), "{e}");
    // Without a key: verifying works, signing says why it cannot.
    let public_only = db.open(opts(Alg::Es256)).unwrap();
    public_only
        .authorize(&t, "reports", READ, None, None)
        .unwrap();
    let e = public_only
        .issue_token(&id, &secret, None, None, None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(e.message().contains("encrypted"), "{e}");
    let e = public_only
        .rotate_signing_key(None, None, None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage);
    // The right key signs and rotates.
    let b = db.open(kek(1)).unwrap();
    b.rotate_signing_key(None, None, None).unwrap();
    token(&b, &id, &secret);
}

#[test]
fn revoked_tokens_are_refused_everywhere_until_they_expire() {
    let db = Db::new();
    let a = db.open(opts(Alg::Es256)).unwrap();
    let b = db.open(opts(Alg::Es256)).unwrap();
    let (id, secret) = key(&a, "svc");
    let t = token(&a, &id, &secret);
    let other = token(&a, &id, &secret);
    b.authorize(&t, "reports", READ, None, None).unwrap();
    assert!(a.revoke_token(&t, None).unwrap());
    for s in [&a, &b] {
        let e = s.authorize(&t, "reports", READ, None, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TokenRevoked, "{e}");
        s.authorize(&other, "reports", READ, None, None).unwrap();
    }
    // A handle opened later knows it too; garbage and foreign tokens are not "valid".
    let c = db.open(opts(Alg::Es256)).unwrap();
    assert_eq!(
        c.authorize(&t, "reports", READ, None, None)
            .unwrap_err()
            .kind(),
        ErrorKind::TokenRevoked
    );
    assert!(!a.revoke_token("not-a-token", None).unwrap());
    let foreign = common::private(opts(Alg::Es256)).unwrap();
    let (fid, fsecret) = key(&foreign, "svc");
    assert!(
        !a.revoke_token(&token(&foreign, &fid, &fsecret), None)
            .unwrap()
    );
    // A view revokes only its own org's tokens.
    assert!(!a.org("acme").unwrap().revoke_token(&other, None).unwrap());
}

#[test]
fn a_store_of_the_first_postgres_schema_keeps_its_hs256_key() {
    let db = Db::new_postgres();
    let schema = db.schema().unwrap().to_owned();
    // What version 1 of the schema held: one HS256 key at position 0.
    {
        let s = db.open(opts(Alg::Es256)).unwrap();
        s.close();
    }
    let mut c = common::admin_client();
    c.batch_execute(&format!(
        r#"DROP TABLE "{schema}".signing_keys; DROP TABLE "{schema}".settings;
           DROP TABLE "{schema}".revoked_tokens;
           ALTER TABLE "{schema}".keys DROP COLUMN creator, DROP COLUMN creator_key_id;
           CREATE TABLE "{schema}".signing_keys (kid TEXT PRIMARY KEY, secret BYTEA NOT NULL,
               position INTEGER NOT NULL);
           INSERT INTO "{schema}".signing_keys VALUES ('ks-v1', decode(repeat('2a', 32), 'hex'), 0);
           UPDATE "{schema}".meta SET schema_version = 1;"#
    ))
    .unwrap();
    let s = db.open(opts(Alg::Es256)).unwrap();
    let keys = s.signing_keys(None).unwrap();
    assert_eq!(
        (keys[0].kid.as_str(), keys[0].alg.as_str()),
        ("ks-v1", "HS256")
    );
    assert_eq!(keys[0].state, "current");
    assert!(keys.iter().any(|k| k.state == "next" && k.alg == "ES256"));
    // The imported key signs (as the old version's processes do) until a rotation.
    let (id, secret) = key(&s, "svc");
    let t = token(&s, &id, &secret);
    assert_eq!(
        header(&t)["alg"],
        "HS256",
        "the imported key signs until a rotation"
    );
    s.authorize(&t, "reports", READ, None, None).unwrap();
}
