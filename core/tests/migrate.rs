//! `migrate`: SQLite to PostgreSQL and back, with every key, hash, generation, grace,
//! audit record and signing key equal, and tokens issued before the move still
//! authorizing after it. Needs the PostgreSQL server of `common`.

mod common;

use keyscope_core::key::DEFAULT_WITHIN_MS;
use keyscope_core::migrate::migrate;
use keyscope_core::store::StoreOptions;
use keyscope_core::{
    Argon2Params, ErrorKind, KeyStore, KeyUpdate, NewKey, Options, Permission, Secret,
};

fn cheap(store: StoreOptions) -> Options {
    Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        store,
        ..Options::default()
    }
}

fn schema(s: &str) -> StoreOptions {
    StoreOptions {
        schema: Some(s.to_owned()),
        ..Default::default()
    }
}

#[test]
fn a_store_goes_to_postgres_and_back_with_everything_equal() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.db");
    let first = first.to_str().unwrap();
    let back = dir.path().join("back.db");
    let back = back.to_str().unwrap();
    let pg = common::Db::new_postgres();
    let pg_opts = schema(pg.schema().unwrap());
    let read = Permission::Read;

    // A store with a bit of everything: views, a refresh grace, a disabled key.
    let (tokens, graced_secret, graced_id, disabled_id) = {
        let s = KeyStore::open(first, cheap(StoreOptions::default())).unwrap();
        let mut tokens = Vec::new();
        for (org, name) in [("default", "a"), ("acme", "b"), ("acme", "c")] {
            let (k, secret) = s
                .org(org)
                .unwrap()
                .create_key(NewKey {
                    name: name.into(),
                    grants: vec!["reports:read".into()],
                    description: Some(format!("key {name}")),
                    actor: Some("admin".into()),
                    ..Default::default()
                })
                .unwrap();
            tokens.push(
                s.issue_token(&k.id, &secret, None, None, None)
                    .unwrap()
                    .access_token,
            );
        }
        let (g, old_secret) = s
            .create_key(NewKey {
                name: "graced".into(),
                grants: vec!["reports:read".into()],
                ..Default::default()
            })
            .unwrap();
        s.refresh_key(&g.id, 3_600_000, Some("admin".into()), None)
            .unwrap();
        let (d, _) = s
            .create_key(NewKey {
                name: "disabled".into(),
                grants: vec!["reports:read".into()],
                ..Default::default()
            })
            .unwrap();
        s.update_key(
            &d.id,
            KeyUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
        (tokens, old_secret.expose().to_owned(), g.id, d.id)
    };

    let report = migrate(first, &StoreOptions::default(), pg.location(), &pg_opts).unwrap();
    assert_eq!(
        (report.keys, report.signing_keys),
        (5, 2),
        "a current and a next key"
    );
    assert_eq!(report.audit_records, 7);

    // On PostgreSQL: tokens from before work, the graced old secret still exchanges,
    // the disabled key stays disabled, the counts are the same.
    {
        let s = KeyStore::open(pg.location(), cheap(pg_opts.clone())).unwrap();
        for t in &tokens {
            s.authorize(t, "reports", read, None, None).unwrap();
        }
        s.issue_token(
            &graced_id,
            &Secret::new(graced_secret.clone()),
            None,
            None,
            None,
        )
        .unwrap();
        assert_eq!(
            s.get_key(&disabled_id, None).unwrap().status.as_str(),
            "disabled"
        );
        assert_eq!(
            s.org("acme")
                .unwrap()
                .summary(DEFAULT_WITHIN_MS, None)
                .unwrap()
                .total,
            2
        );
    }

    // A destination that holds keys is refused; so is the source itself.
    let e = migrate(first, &StoreOptions::default(), pg.location(), &pg_opts).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict, "{e}");
    let e = migrate(
        first,
        &StoreOptions::default(),
        first,
        &StoreOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");

    // And back to a new SQLite file.
    migrate(pg.location(), &pg_opts, back, &StoreOptions::default()).unwrap();
    // (compared with the PostgreSQL store, where the exchange above set a last use)
    let a = KeyStore::open(pg.location(), cheap(pg_opts.clone())).unwrap();
    let b = KeyStore::open(back, cheap(StoreOptions::default())).unwrap();
    for t in &tokens {
        b.authorize(t, "reports", read, None, None).unwrap();
    }
    for org in ["default", "acme"] {
        let (va, vb) = (a.org(org).unwrap(), b.org(org).unwrap());
        let q = keyscope_core::ListQuery::default();
        assert_eq!(
            va.list_keys(&q).unwrap().items,
            vb.list_keys(&q).unwrap().items
        );
        assert_eq!(
            va.audit_log(None, 100, None).unwrap().items,
            vb.audit_log(None, 100, None).unwrap().items
        );
    }
    let kids = |s: &KeyStore| {
        let mut k: Vec<(String, String, String)> = s
            .signing_keys(None)
            .unwrap()
            .into_iter()
            .map(|k| (k.kid, k.alg, k.state))
            .collect();
        k.sort();
        k
    };
    let first_store = KeyStore::open(first, cheap(StoreOptions::default())).unwrap();
    assert_eq!(
        kids(&first_store),
        kids(&b),
        "the signing keys travel with the keys"
    );
    assert!(!std::path::Path::new(&format!("{back}.signing-keys")).exists());
}

#[test]
fn a_missing_source_or_a_memory_store_is_refused() {
    let e = migrate(
        "/nonexistent/keys.db",
        &StoreOptions::default(),
        "/tmp/x.db",
        &StoreOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.field(), Some("source"), "{e}");
    let e = migrate(
        ":memory:",
        &StoreOptions::default(),
        "/tmp/x.db",
        &StoreOptions::default(),
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn a_store_of_the_previous_version_brings_its_key_file_along() {
    let dir = tempfile::tempdir().unwrap();
    let old = dir.path().join("old.db");
    let old = old.to_str().unwrap();
    let pair = ("ks-legacy1".to_owned(), vec![9u8; 32]);
    // An old-version store: HS256 tokens from its key file, schema version 3.
    let t = {
        let s = KeyStore::open(
            old,
            Options {
                signing_keys: vec![pair.clone()],
                ..cheap(StoreOptions::default())
            },
        )
        .unwrap();
        let (k, secret) = s
            .create_key(NewKey {
                name: "old".into(),
                grants: vec!["reports:read".into()],
                ..Default::default()
            })
            .unwrap();
        let t = s.issue_token(&k.id, &secret, None, None, None).unwrap();
        s.close();
        t.access_token
    };
    common::make_previous_version_store(old, std::slice::from_ref(&pair));
    let new = dir.path().join("new.db");
    let new = new.to_str().unwrap();
    let report = migrate(old, &StoreOptions::default(), new, &StoreOptions::default()).unwrap();
    assert_eq!(report.signing_keys, 2, "the imported key and a next one");
    let s = KeyStore::open(new, cheap(StoreOptions::default())).unwrap();
    s.authorize(&t, "reports", Permission::Read, None, None)
        .unwrap();
}
