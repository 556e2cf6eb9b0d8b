//! Token exchange and access tokens (docs/tokens.md) and authorization
//! (docs/authorization.md), one test per rule, through the public API.

mod common;
use common::Store;

use keyscope_core::{
    Argon2Params, ErrorKind, KeyStore, KeyUpdate, NewKey, Options, Permission, Secret, Timestamp,
};

const T0: i64 = 1_800_000_000_000;
const READ: Permission = Permission::Read;
const WRITE: Permission = Permission::Write;

fn at(ms: i64) -> Option<Timestamp> {
    Some(Timestamp::from_millis(ms, "now").unwrap())
}

fn opts() -> Options {
    Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        signing_keys: vec![("k1".into(), vec![7; 32])],
        ..Options::default()
    }
}

fn mem() -> Store {
    common::private(opts()).unwrap()
}

fn key(s: &KeyStore, new: NewKey) -> (String, Secret) {
    let new = NewKey {
        name: if new.name.is_empty() {
            "k".into()
        } else {
            new.name
        },
        grants: if new.grants.is_empty() {
            vec!["deployments.networks:write".into(), "reports:read".into()]
        } else {
            new.grants
        },
        now: new.now.or(at(T0)),
        ..new
    };
    let (k, secret) = s.create_key(new).unwrap();
    (k.id, secret)
}

fn kind<T: std::fmt::Debug>(r: keyscope_core::Result<T>) -> ErrorKind {
    r.unwrap_err().kind()
}

#[test]
fn exchange_then_authorize() {
    let s = mem();
    let (id, secret) = key(
        &s,
        NewKey {
            networks: vec!["64.100.10.0/24".into()],
            ..Default::default()
        },
    );
    let tok = s
        .issue_token(&id, &secret, Some("64.100.10.7"), None, at(T0))
        .unwrap();
    assert_eq!(tok.token_type, "Bearer");
    assert_eq!(tok.expires_in, 3600);
    assert_eq!(tok.scope, "deployments.networks:write reports:read");
    let p = s
        .authorize(
            &tok.access_token,
            "deployments.networks",
            WRITE,
            Some("64.100.10.7"),
            at(T0 + 1000),
        )
        .unwrap();
    assert_eq!(p.key_id(), id);
    assert_eq!(p.key_name(), "k");
    assert_eq!(p.org(), "default");
    assert_eq!(
        p.scope().collect::<Vec<_>>(),
        ["deployments.networks:write", "reports:read"]
    );
    assert_eq!(p.expires_at(), tok.expires_at);
    assert_eq!(p.token_id().len(), 22);
}

#[test]
fn bad_credentials_all_look_the_same() {
    let s = mem();
    let (id, secret) = key(&s, NewKey::default());
    let other = keyscope_core::secret::generate("kss").unwrap();
    let unknown = "0".repeat(32);
    let mut errors = vec![
        s.issue_token(&unknown, &secret, None, None, at(T0))
            .unwrap_err(),
        s.issue_token(&id, &Secret::new("kss_short"), None, None, at(T0))
            .unwrap_err(),
        s.issue_token(&id, &other, None, None, at(T0)).unwrap_err(),
        s.issue_token("not-an-id", &secret, None, None, at(T0))
            .unwrap_err(),
    ];
    let mut wrong_prefix = secret.expose().to_owned();
    wrong_prefix.replace_range(0..3, "abc");
    errors.push(
        s.issue_token(&id, &Secret::new(wrong_prefix), None, None, at(T0))
            .unwrap_err(),
    );
    for e in &errors {
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::InvalidCredentials, "invalid client credentials")
        );
    }
}

#[test]
fn network_is_checked_before_the_secret() {
    let s = mem();
    let (id, _) = key(
        &s,
        NewKey {
            networks: vec!["64.100.10.0/24".into()],
            ..Default::default()
        },
    );
    let wrong = keyscope_core::secret::generate("kss").unwrap();
    assert_eq!(
        kind(s.issue_token(&id, &wrong, Some("8.8.8.8"), None, at(T0))),
        ErrorKind::NetworkDenied
    );
    assert_eq!(
        kind(s.issue_token(&id, &wrong, None, None, at(T0))),
        ErrorKind::NetworkDenied,
        "missing address denied"
    );
    assert_eq!(
        kind(s.issue_token(&id, &wrong, Some("::ffff:64.100.10.9"), None, at(T0))),
        ErrorKind::InvalidCredentials,
        "mapped IPv6 passes the network check"
    );
}

#[test]
fn disabled_and_expired_are_reported_only_after_the_secret() {
    let s = mem();
    let (id, secret) = key(
        &s,
        NewKey {
            expires_at: at(T0 + 10_000),
            ..Default::default()
        },
    );
    let wrong = keyscope_core::secret::generate("kss").unwrap();
    assert_eq!(
        kind(s.issue_token(&id, &secret, None, None, at(T0 + 10_000))),
        ErrorKind::KeyExpired
    );
    assert_eq!(
        kind(s.issue_token(&id, &wrong, None, None, at(T0 + 10_000))),
        ErrorKind::InvalidCredentials
    );
    s.update_key(
        &id,
        KeyUpdate {
            enabled: Some(false),
            now: at(T0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        kind(s.issue_token(&id, &secret, None, None, at(T0))),
        ErrorKind::KeyDisabled
    );
    assert_eq!(
        kind(s.issue_token(&id, &wrong, None, None, at(T0))),
        ErrorKind::InvalidCredentials
    );
}

#[test]
fn scope_narrows_and_cannot_widen() {
    let s = mem();
    let (id, secret) = key(
        &s,
        NewKey {
            grants: vec!["deployments:write".into(), "reports:read".into()],
            ..Default::default()
        },
    );
    let t = s
        .issue_token(
            &id,
            &secret,
            None,
            Some("deployments.networks:read"),
            at(T0),
        )
        .unwrap();
    assert_eq!(t.scope, "deployments.networks:read");
    assert!(
        s.authorize(&t.access_token, "deployments.networks", READ, None, at(T0))
            .is_ok()
    );
    assert_eq!(
        kind(s.authorize(&t.access_token, "deployments.networks", WRITE, None, at(T0))),
        ErrorKind::InsufficientScope
    );
    assert_eq!(
        kind(s.authorize(&t.access_token, "reports", READ, None, at(T0))),
        ErrorKind::InsufficientScope
    );
    for bad in ["reports:write", "admin:read", "nonsense", "reports"] {
        assert_eq!(
            kind(s.issue_token(&id, &secret, None, Some(bad), at(T0))),
            ErrorKind::InvalidScope,
            "{bad}"
        );
    }
}

#[test]
fn token_never_outlives_its_key() {
    let s = mem();
    let (id, secret) = key(
        &s,
        NewKey {
            expires_at: at(T0 + 600_000),
            ..Default::default()
        },
    );
    let t = s.issue_token(&id, &secret, None, None, at(T0)).unwrap();
    assert_eq!(t.expires_in, 600);
    assert_eq!(t.expires_at, at(T0 + 600_000).unwrap());
}

#[test]
fn throttle_limits_failures_but_not_a_known_secret() {
    let s = common::private(Options {
        max_failed_exchanges_per_minute: 3,
        ..opts()
    })
    .unwrap();
    let (id, secret) = key(&s, NewKey::default());
    s.issue_token(&id, &secret, None, None, at(T0)).unwrap(); // now cached
    let wrong = keyscope_core::secret::generate("kss").unwrap();
    for _ in 0..3 {
        assert_eq!(
            kind(s.issue_token(&id, &wrong, None, None, at(T0 + 1000))),
            ErrorKind::InvalidCredentials
        );
    }
    let e = s
        .issue_token(&id, &wrong, None, None, at(T0 + 2000))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), Some(59));
    assert!(
        s.issue_token(&id, &secret, None, None, at(T0 + 2000))
            .is_ok(),
        "the legitimate client is not locked out"
    );
    assert_eq!(
        kind(s.issue_token(&id, &wrong, None, None, at(T0 + 61_001))),
        ErrorKind::InvalidCredentials,
        "window slid"
    );
}

#[test]
fn authorize_checks_resource_and_permission() {
    let s = mem();
    let (id, secret) = key(
        &s,
        NewKey {
            grants: vec!["deployments.networks:write".into(), "reports:read".into()],
            ..Default::default()
        },
    );
    let t = s
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    assert!(s.authorize(&t, "reports", READ, None, at(T0)).is_ok());
    assert!(
        s.authorize(&t, "reports.summary", READ, None, at(T0))
            .is_ok(),
        "scope-wide grant covers resources"
    );
    assert!(
        s.authorize(&t, "deployments.networks", READ, None, at(T0))
            .is_ok(),
        "write covers read"
    );
    let e = s
        .authorize(&t, "deployments", READ, None, at(T0))
        .unwrap_err();
    assert_eq!(
        e.kind(),
        ErrorKind::InsufficientScope,
        "a resource grant does not cover its scope"
    );
    assert_eq!(e.required_scope(), Some("deployments:read"));
    assert_eq!(
        kind(s.authorize(&t, "reports", WRITE, None, at(T0))),
        ErrorKind::InsufficientScope
    );
    for bad in ["", "a.b.c", "1x", "reports:read"] {
        assert_eq!(
            kind(s.authorize(&t, bad, READ, None, at(T0))),
            ErrorKind::InvalidInput,
            "{bad}"
        );
    }
    assert_eq!(
        kind(s.authorize(&t, "reports", READ, Some("64.100.10.0/24"), at(T0))),
        ErrorKind::InvalidInput
    );
}

#[test]
fn expiry_and_issue_time_with_leeway() {
    let s = common::private(Options {
        leeway: 30,
        token_ttl: 60,
        ..opts()
    })
    .unwrap();
    let (id, secret) = key(&s, NewKey::default());
    let t = s
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    assert!(
        s.authorize(&t, "reports", READ, None, at(T0 + 89_999))
            .is_ok()
    );
    assert_eq!(
        kind(s.authorize(&t, "reports", READ, None, at(T0 + 90_000))),
        ErrorKind::TokenExpired
    );
    assert!(
        s.authorize(&t, "reports", READ, None, at(T0 - 30_000))
            .is_ok()
    );
    assert_eq!(
        kind(s.authorize(&t, "reports", READ, None, at(T0 - 30_001))),
        ErrorKind::InvalidToken
    );
    let strict = mem();
    let (id2, secret2) = key(&strict, NewKey::default());
    let t2 = strict
        .issue_token(&id2, &secret2, None, None, at(T0))
        .unwrap()
        .access_token;
    assert_eq!(
        kind(strict.authorize(&t2, "reports", READ, None, at(T0 + 3_600_000))),
        ErrorKind::TokenExpired,
        "exp ≤ now is expired"
    );
}

#[test]
fn issuer_audience_and_signing_key_must_match() {
    let a = mem();
    let (id, secret) = key(&a, NewKey::default());
    let t = a
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    let other_aud = common::private(Options {
        audience: Some("other".into()),
        ..opts()
    })
    .unwrap();
    assert_eq!(
        kind(other_aud.authorize(&t, "reports", READ, None, at(T0))),
        ErrorKind::InvalidToken
    );
    let other_key = common::private(Options {
        signing_keys: vec![("k1".into(), vec![8; 32])],
        ..opts()
    })
    .unwrap();
    assert_eq!(
        kind(other_key.authorize(&t, "reports", READ, None, at(T0))),
        ErrorKind::InvalidToken
    );
    let rotated = common::private(Options {
        signing_keys: vec![("k2".into(), vec![9; 32]), ("k1".into(), vec![7; 32])],
        ..opts()
    })
    .unwrap();
    assert_eq!(
        kind(rotated.authorize(&t, "reports", READ, None, at(T0))),
        ErrorKind::TokenRevoked,
        "verifies with the old kid; key unknown in this store"
    );
}

#[test]
fn revocation_reaches_issued_tokens_at_once() {
    let s = mem();
    let (id, secret) = key(
        &s,
        NewKey {
            networks: vec!["64.100.10.0/24".into()],
            ..Default::default()
        },
    );
    let t = s
        .issue_token(&id, &secret, Some("64.100.10.7"), None, at(T0))
        .unwrap()
        .access_token;
    let ok = |s: &KeyStore| {
        s.authorize(
            &t,
            "deployments.networks",
            WRITE,
            Some("64.100.10.7"),
            at(T0),
        )
    };
    assert!(ok(&s).is_ok());
    s.update_key(
        &id,
        KeyUpdate {
            networks: Some(vec!["64.100.11.0/24".into()]),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(kind(ok(&s)), ErrorKind::NetworkDenied, "current networks");
    s.update_key(
        &id,
        KeyUpdate {
            networks: Some(vec![]),
            grants: Some(vec!["reports:read".into()]),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(kind(ok(&s)), ErrorKind::InsufficientScope, "current grants");
    s.update_key(
        &id,
        KeyUpdate {
            grants: Some(vec!["deployments:write".into()]),
            expires_at: Some(at(T0 + 1)),
            now: at(T0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        kind(s.authorize(&t, "deployments.networks", WRITE, None, at(T0 + 1))),
        ErrorKind::KeyExpired
    );
    s.update_key(
        &id,
        KeyUpdate {
            expires_at: Some(None),
            enabled: Some(false),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(kind(ok(&s)), ErrorKind::KeyDisabled);
    s.update_key(
        &id,
        KeyUpdate {
            enabled: Some(true),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        kind(ok(&s)),
        ErrorKind::TokenRevoked,
        "re-enabling does not revive tokens"
    );
    s.delete_key(&id, None, None).unwrap();
    assert_eq!(kind(ok(&s)), ErrorKind::TokenRevoked);
}

#[test]
fn refresh_without_grace_revokes_at_once() {
    let s = mem();
    let (id, secret) = key(&s, NewKey::default());
    let t = s
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    let (_, new) = s.refresh_key(&id, 0, None, at(T0)).unwrap();
    assert_eq!(
        kind(s.authorize(&t, "reports", READ, None, at(T0))),
        ErrorKind::TokenRevoked
    );
    assert_eq!(
        kind(s.issue_token(&id, &secret, None, None, at(T0))),
        ErrorKind::InvalidCredentials,
        "cache does not outlive a refresh"
    );
    let t2 = s
        .issue_token(&id, &new, None, None, at(T0))
        .unwrap()
        .access_token;
    assert!(s.authorize(&t2, "reports", READ, None, at(T0)).is_ok());
}

#[test]
fn refresh_grace_keeps_old_secret_and_tokens_until_it_ends() {
    let s = mem();
    let (id, old) = key(&s, NewKey::default());
    let before = s
        .issue_token(&id, &old, None, None, at(T0))
        .unwrap()
        .access_token;
    let (_, new) = s.refresh_key(&id, 600_000, None, at(T0)).unwrap();
    assert!(
        s.authorize(&before, "reports", READ, None, at(T0 + 599_999))
            .is_ok()
    );
    assert_eq!(
        kind(s.authorize(&before, "reports", READ, None, at(T0 + 600_000))),
        ErrorKind::TokenRevoked
    );
    let during = s
        .issue_token(&id, &old, None, None, at(T0 + 300_000))
        .unwrap();
    assert_eq!(during.expires_in, 300, "capped at the end of the grace");
    assert_eq!(
        kind(s.issue_token(&id, &old, None, None, at(T0 + 600_000))),
        ErrorKind::InvalidCredentials
    );
    assert!(
        s.issue_token(&id, &new, None, None, at(T0 + 600_000))
            .is_ok()
    );
    // A later refresh ends the earlier grace.
    let (_, _newer) = s.refresh_key(&id, 600_000, None, at(T0 + 1000)).unwrap();
    assert_eq!(
        kind(s.authorize(&before, "reports", READ, None, at(T0 + 2000))),
        ErrorKind::TokenRevoked
    );
    assert_eq!(
        kind(s.issue_token(&id, &old, None, None, at(T0 + 2000))),
        ErrorKind::InvalidCredentials
    );
    assert!(
        s.issue_token(&id, &new, None, None, at(T0 + 2000)).is_ok(),
        "the latest previous secret is kept"
    );
}

#[test]
fn disabling_ends_a_refresh_grace() {
    let s = mem();
    let (id, old) = key(&s, NewKey::default());
    s.refresh_key(&id, 600_000, None, at(T0)).unwrap();
    s.update_key(
        &id,
        KeyUpdate {
            enabled: Some(false),
            now: at(T0),
            ..Default::default()
        },
    )
    .unwrap();
    s.update_key(
        &id,
        KeyUpdate {
            enabled: Some(true),
            now: at(T0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        kind(s.issue_token(&id, &old, None, None, at(T0 + 1000))),
        ErrorKind::InvalidCredentials
    );
}

#[test]
fn org_views_are_closed_for_tokens() {
    let s = mem();
    let acme = s.org("acme").unwrap();
    let (id, secret) = key(&acme, NewKey::default());
    let other = s.org("other").unwrap();
    assert_eq!(
        kind(other.issue_token(&id, &secret, None, None, at(T0))),
        ErrorKind::InvalidCredentials
    );
    let t = acme
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    assert_eq!(
        kind(other.authorize(&t, "reports", READ, None, at(T0))),
        ErrorKind::InvalidToken
    );
    assert_eq!(
        acme.authorize(&t, "reports", READ, None, at(T0))
            .unwrap()
            .org(),
        "acme"
    );
    assert!(
        s.authorize(&t, "reports", READ, None, at(T0)).is_ok(),
        "the store handle serves every org"
    );
    assert!(s.issue_token(&id, &secret, None, None, at(T0)).is_ok());
}

#[test]
fn last_used_is_written_at_most_once_a_minute() {
    let s = mem();
    let (id, secret) = key(&s, NewKey::default());
    s.issue_token(&id, &secret, None, None, at(T0)).unwrap();
    assert_eq!(s.get_key(&id, None).unwrap().last_used_at, at(T0));
    s.issue_token(&id, &secret, None, None, at(T0 + 59_999))
        .unwrap();
    let k = s.get_key(&id, None).unwrap();
    assert_eq!(k.last_used_at, at(T0));
    assert_eq!(k.version, 1, "last_used_at does not bump the version");
    s.issue_token(&id, &secret, None, None, at(T0 + 60_000))
        .unwrap();
    assert_eq!(s.get_key(&id, None).unwrap().last_used_at, at(T0 + 60_000));
}

#[test]
fn a_hash_with_another_cost_is_rehashed_after_success() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let path = path.to_str().unwrap();
    let (id, secret) = key(&KeyStore::open(path, opts()).unwrap(), NewKey::default());
    let stronger = Options {
        argon2: Argon2Params {
            memory_kib: 128,
            iterations: 1,
            parallelism: 1,
        },
        ..opts()
    };
    let s = KeyStore::open(path, stronger).unwrap();
    s.issue_token(&id, &secret, None, None, at(T0)).unwrap();
    let conn = rusqlite::Connection::open(path).unwrap();
    let hash: String = conn
        .query_row("SELECT secret_hash FROM keys", [], |r| r.get(0))
        .unwrap();
    assert!(hash.contains("m=128"), "{hash}");
}

#[test]
fn a_stored_hash_with_insane_cost_is_refused_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let path = path.to_str().unwrap();
    let s = KeyStore::open(path, opts()).unwrap();
    let (id, secret) = key(&s, NewKey::default());
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute(
        "UPDATE keys SET secret_hash = replace(secret_hash, 'm=64', 'm=4000000')",
        [],
    )
    .unwrap();
    assert_eq!(
        kind(s.issue_token(&id, &secret, None, None, at(T0))),
        ErrorKind::Storage
    );
}

#[test]
fn another_handle_sees_revocation_within_staleness() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let path = path.to_str().unwrap();
    let writer = KeyStore::open(path, opts()).unwrap();
    let reader = KeyStore::open(
        path,
        Options {
            revocation_staleness: 0.05,
            ..opts()
        },
    )
    .unwrap();
    let (id, secret) = key(&writer, NewKey::default());
    let t = writer
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    assert!(reader.authorize(&t, "reports", READ, None, at(T0)).is_ok());
    writer.refresh_key(&id, 0, None, at(T0)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(120));
    assert_eq!(
        kind(reader.authorize(&t, "reports", READ, None, at(T0))),
        ErrorKind::TokenRevoked
    );
}

#[test]
fn the_store_keeps_its_signing_keys_and_every_handle_shares_them() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real.db");
    let no_keys = Options {
        signing_keys: vec![],
        ..opts()
    };
    let a = KeyStore::open(real.to_str().unwrap(), no_keys.clone()).unwrap();
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let b = KeyStore::open(link.to_str().unwrap(), no_keys).unwrap();
    let (id, secret) = key(&a, NewKey::default());
    let t = a
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    assert!(
        b.authorize(&t, "reports", READ, None, at(T0)).is_ok(),
        "both handles share the store's keys"
    );
    assert!(t.starts_with("eyJhbGciOiJFUzI1NiIs"), "ES256 by default");
    for f in ["real.db.signing-keys", "link.db.signing-keys"] {
        assert!(!dir.path().join(f).exists(), "no key file: {f}");
    }
}

#[test]
fn a_store_of_the_previous_version_imports_its_key_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("old.db");
    let old_key = ("ks-0badc0de".to_owned(), vec![42u8; 32]);
    // What the previous version wrote: HS256 tokens signed with its key file's key
    // (the same header and claims as keys given by option), and schema version 3.
    let (id, secret, old_token) = {
        let s = KeyStore::open(
            real.to_str().unwrap(),
            Options {
                signing_keys: vec![old_key.clone()],
                ..opts()
            },
        )
        .unwrap();
        let (id, secret) = key(&s, NewKey::default());
        let t = s.issue_token(&id, &secret, None, None, at(T0)).unwrap();
        s.close();
        (id, secret, t.access_token)
    };
    common::make_previous_version_store(real.to_str().unwrap(), std::slice::from_ref(&old_key));

    // Opened through a symbolic link: the file next to the real path is found.
    let link = dir.path().join("link.db");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let no_keys = Options {
        signing_keys: vec![],
        ..opts()
    };
    let s = KeyStore::open(link.to_str().unwrap(), no_keys.clone()).unwrap();
    s.authorize(&old_token, "reports", READ, None, at(T0))
        .unwrap();
    let keys = s.signing_keys(None).unwrap();
    let states: Vec<(&str, &str, &str)> = keys
        .iter()
        .map(|k| (k.kid.as_str(), k.alg.as_str(), k.state.as_str()))
        .collect();
    assert_eq!(states[0], ("ks-0badc0de", "HS256", "current"));
    assert_eq!((states[1].1, states[1].2), ("ES256", "next"));
    assert!(
        keys[0].public_jwk.is_none(),
        "HS256 keys are never published"
    );
    assert_eq!(s.jwks(None).unwrap().matches("\"kid\"").count(), 1);
    s.close();

    // The file is not read again: without it the store still verifies old tokens.
    std::fs::remove_file(dir.path().join("old.db.signing-keys")).unwrap();
    let s = KeyStore::open(real.to_str().unwrap(), no_keys).unwrap();
    s.authorize(&old_token, "reports", READ, None, at(T0))
        .unwrap();
    // A rotation moves signing to ES256; the old token keeps working until it expires.
    s.rotate_signing_key(None, Some("admin"), at(T0)).unwrap();
    let t = s.issue_token(&id, &secret, None, None, at(T0)).unwrap();
    assert!(t.access_token.starts_with("eyJhbGciOiJFUzI1NiIs"));
    s.authorize(&old_token, "reports", READ, None, at(T0))
        .unwrap();
}

#[test]
fn oversized_and_garbage_tokens_are_invalid() {
    let s = mem();
    for t in ["", "a.b.c", "...", &"x".repeat(64 * 1024), "eyJ.eyJ.sig"] {
        assert_eq!(
            kind(s.authorize(t, "reports", READ, None, at(T0))),
            ErrorKind::InvalidToken,
            "{t:.20}"
        );
    }
}

#[test]
fn many_threads_authorize_at_once() {
    let s = mem();
    let (id, secret) = key(&s, NewKey::default());
    let t = s
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                for _ in 0..1000 {
                    s.authorize(&t, "reports", READ, None, at(T0)).unwrap();
                }
            });
        }
    });
}

#[test]
fn a_closed_store_refuses_even_warm_authorizations() {
    let s = mem();
    let (id, secret) = key(&s, NewKey::default());
    let t = s
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    s.authorize(&t, "reports", READ, None, at(T0)).unwrap(); // state and token now in memory
    let view = s.org("default").unwrap();
    s.close();
    assert_eq!(
        kind(s.authorize(&t, "reports", READ, None, at(T0))),
        ErrorKind::Storage
    );
    assert_eq!(
        kind(view.authorize(&t, "reports", READ, None, at(T0))),
        ErrorKind::Storage
    );
    assert_eq!(
        kind(s.issue_token(&id, &secret, None, None, at(T0))),
        ErrorKind::Storage
    );
    let r = s.token_endpoint(
        None,
        Some("application/x-www-form-urlencoded"),
        format!(
            "grant_type=client_credentials&client_id={id}&client_secret={}",
            secret.expose()
        )
        .as_bytes(),
        None,
        at(T0),
    );
    assert_eq!(r.status, 500);
}

#[test]
fn clearing_caches_changes_nothing_but_speed() {
    let s = mem();
    let (id, secret) = key(&s, NewKey::default());
    let t = s
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    s.authorize(&t, "reports", READ, None, at(T0)).unwrap();
    s.clear_caches();
    assert!(s.authorize(&t, "reports", READ, None, at(T0)).is_ok());
    assert!(s.issue_token(&id, &secret, None, None, at(T0)).is_ok());
    s.refresh_key(&id, 0, None, at(T0)).unwrap();
    assert_eq!(
        kind(s.authorize(&t, "reports", READ, None, at(T0))),
        ErrorKind::TokenRevoked,
        "a cached token still meets every check"
    );
}

#[test]
fn a_remembered_signature_does_not_vouch_for_other_claims() {
    let s = mem();
    let (id, secret) = key(&s, NewKey::default());
    let t = s
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    s.authorize(&t, "reports", READ, None, at(T0)).unwrap(); // remembered now
    let parts: Vec<&str> = t.split('.').collect();
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let claims = String::from_utf8(engine.decode(parts[1]).unwrap()).unwrap();
    let widened = claims.replace(
        "\"scope\":\"deployments.networks:write reports:read\"",
        "\"scope\":\"admin:write\"",
    );
    assert_ne!(claims, widened);
    let forged = format!("{}.{}.{}", parts[0], engine.encode(widened), parts[2]);
    assert_eq!(
        kind(s.authorize(&forged, "admin", WRITE, None, at(T0))),
        ErrorKind::InvalidToken
    );
}

#[test]
fn secrets_carry_the_configured_prefix() {
    let s = common::private(Options {
        secret_prefix: "acme".into(),
        ..opts()
    })
    .unwrap();
    let (id, secret) = key(&s, NewKey::default());
    assert!(secret.expose().starts_with("acme_"));
    assert!(s.issue_token(&id, &secret, None, None, at(T0)).is_ok());
    let kss = secret.expose().replacen("acme_", "kss_", 1);
    assert_eq!(
        kind(s.issue_token(&id, &Secret::new(kss), None, None, at(T0))),
        ErrorKind::InvalidCredentials
    );
}

#[test]
fn randomly_mutated_tokens_are_refused_and_never_panic() {
    // A small deterministic generator (xorshift), so failures reproduce.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let s = mem();
    let (id, secret) = key(&s, NewKey::default());
    let good = s
        .issue_token(&id, &secret, None, None, at(T0))
        .unwrap()
        .access_token;
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ {}\"";
    for round in 0..20_000 {
        let mut t = good.clone().into_bytes();
        for _ in 0..1 + next() % 4 {
            if t.is_empty() {
                break;
            }
            let i = (next() as usize) % t.len();
            match next() % 4 {
                0 => t[i] = alphabet[(next() as usize) % alphabet.len()],
                1 => {
                    t.remove(i);
                }
                2 => t.insert(i, alphabet[(next() as usize) % alphabet.len()]),
                _ => t.truncate(i.max(1)),
            }
        }
        let Ok(mutated) = String::from_utf8(t) else {
            continue;
        };
        if mutated == good {
            continue;
        }
        let r = s.authorize(&mutated, "reports", READ, None, at(T0));
        assert!(
            r.is_err(),
            "round {round}: a mutated token was accepted: {mutated}"
        );
    }
}

/// `authorize` without a `now` reads the kernel's coarse clock, which may show the
/// previous second for a few milliseconds after the precise clock has passed into
/// the next. A token stamped with that next second and presented the moment it
/// begins, with no leeway, is not "issued in the future".
#[test]
fn a_token_used_as_it_is_issued_is_never_from_the_future() {
    let s = mem();
    // A key of the real clock (not the suite's fixed T0).
    let (id, secret) = key(
        &s,
        NewKey {
            now: Some(Timestamp::now()),
            ..Default::default()
        },
    );
    // The next whole second at least 100 ms away, and a token issued at it.
    let boundary = (Timestamp::now().as_millis() + 100).div_euclid(1000) * 1000 + 1000;
    let at = Timestamp::from_millis(boundary, "now").unwrap();
    let tok = s
        .issue_token(&id, &secret, None, None, Some(at))
        .unwrap()
        .access_token;
    let left = boundary - Timestamp::now().as_millis() - 5;
    if left > 0 {
        std::thread::sleep(std::time::Duration::from_millis(left as u64));
    }
    while Timestamp::now().as_millis() < boundary {
        std::hint::spin_loop();
    }
    // From the first moment of that second, for 20 ms (a few ticks).
    let mut calls = 0;
    while Timestamp::now().as_millis() < boundary + 20 {
        s.authorize(&tok, "reports", READ, None, None)
            .unwrap_or_else(|e| panic!("call {calls}: {e}"));
        calls += 1;
    }
    assert!(calls > 0);
}

/// The precise clock decides a token that looks issued in the future on the coarse
/// one: a token stamped two seconds ahead is still refused without a `now`.
#[test]
fn a_token_from_the_future_is_refused_without_a_now() {
    let s = mem();
    // A key of the real clock (not the suite's fixed T0).
    let (id, secret) = key(
        &s,
        NewKey {
            now: Some(Timestamp::now()),
            ..Default::default()
        },
    );
    let ahead = Timestamp::now().plus_millis(2_000);
    let tok = s
        .issue_token(&id, &secret, None, None, Some(ahead))
        .unwrap();
    let e = s
        .authorize(&tok.access_token, "reports", READ, None, None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidToken);
    assert!(e.message().contains("future"), "{e}");
}
