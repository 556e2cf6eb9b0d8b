//! The key lifecycle of docs/keys.md through the public API, one test per rule.

mod common;
use common::Store;

use keyscope_core::key::DEFAULT_WITHIN_MS;
use keyscope_core::time::DAY_MS;
use keyscope_core::{
    Argon2Params, AuditAction, ErrorKind, KeyStatus, KeyStore, KeyUpdate, ListQuery, NewKey,
    Options, StatusFilter, Timestamp,
};

const T0: i64 = 1_800_000_000_000;

fn at(ms: i64) -> Option<Timestamp> {
    Some(Timestamp::from_millis(ms, "now").unwrap())
}

fn cheap() -> Options {
    Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..Options::default()
    }
}

fn mem() -> Store {
    common::private(cheap()).unwrap()
}

fn new_key(name: &str) -> NewKey {
    NewKey {
        name: name.into(),
        grants: vec!["reports:read".into()],
        now: at(T0),
        ..Default::default()
    }
}

fn kind<T: std::fmt::Debug>(r: keyscope_core::Result<T>) -> ErrorKind {
    r.unwrap_err().kind()
}

#[test]
fn create_returns_key_and_secret_once_with_defaults() {
    let s = mem();
    let (k, secret) = s.create_key(new_key("ci")).unwrap();
    assert_eq!(k.id.len(), 32);
    assert_eq!(k.org, "default");
    assert_eq!(k.version, 1);
    assert!(k.enabled);
    assert_eq!(k.status, KeyStatus::Active);
    assert_eq!(k.expires_at, None, "default: never expires");
    assert_eq!(k.created_at, at(T0).unwrap());
    assert_eq!(k.updated_at, k.created_at);
    assert_eq!(k.last_refreshed_at, None);
    assert!(secret.expose().starts_with("kss_"));
    assert_eq!(s.get_key(&k.id, at(T0)).unwrap(), k);
}

#[test]
fn names_are_unique_within_an_org_only() {
    let s = mem();
    s.create_key(new_key("ci")).unwrap();
    assert_eq!(kind(s.create_key(new_key("ci"))), ErrorKind::Conflict);
    assert!(s.create_key(new_key("CI")).is_ok(), "exact match only");
    let acme = s.org("acme").unwrap();
    assert!(acme.create_key(new_key("ci")).is_ok());
}

#[test]
fn expiry_must_be_after_now() {
    let s = mem();
    let past = NewKey {
        expires_at: at(T0),
        ..new_key("a")
    };
    let e = s.create_key(past).unwrap_err();
    assert_eq!(e.field(), Some("expires_at"));
    assert!(
        s.create_key(NewKey {
            expires_at: at(T0 + 1),
            ..new_key("b")
        })
        .is_ok()
    );
}

#[test]
fn update_refuses_an_expiry_that_is_not_after_now() {
    let s = mem();
    let (k, _) = s.create_key(new_key("a")).unwrap();
    let past = KeyUpdate {
        expires_at: Some(at(T0)),
        now: at(T0),
        ..Default::default()
    };
    let e = s.update_key(&k.id, past).unwrap_err();
    assert_eq!(
        (e.kind(), e.field()),
        (ErrorKind::InvalidInput, Some("expires_at"))
    );
    assert_eq!(
        s.get_key(&k.id, at(T0)).unwrap().version,
        1,
        "nothing changed"
    );
}

#[test]
fn bad_input_is_refused_and_nothing_is_stored() {
    let s = mem();
    let cases = [
        (
            NewKey {
                name: "".into(),
                ..new_key("")
            },
            "name",
        ),
        (
            NewKey {
                name: "a\u{202e}b".into(),
                ..new_key("")
            },
            "name",
        ),
        (
            NewKey {
                grants: vec![],
                ..new_key("x")
            },
            "grants",
        ),
        (
            NewKey {
                grants: vec!["reports:admin".into()],
                ..new_key("x")
            },
            "grants[0]",
        ),
        (
            NewKey {
                networks: (0..11).map(|i| format!("64.100.{i}.0/24")).collect(),
                ..new_key("x")
            },
            "networks",
        ),
        (
            NewKey {
                networks: vec!["64.100.10.5/24".into()],
                ..new_key("x")
            },
            "networks[0]",
        ),
        (
            NewKey {
                networks: vec!["10.0.0.0/8".into()],
                ..new_key("x")
            },
            "networks[0]",
        ),
        (
            NewKey {
                description: Some("x".repeat(1 << 20)),
                ..new_key("x")
            },
            "description",
        ),
        (
            NewKey {
                actor: Some(" ".into()),
                ..new_key("x")
            },
            "actor",
        ),
    ];
    for (new, field) in cases {
        let e = s.create_key(new).unwrap_err();
        assert_eq!(
            (e.kind(), e.field()),
            (ErrorKind::InvalidInput, Some(field)),
            "{e}"
        );
    }
    assert_eq!(s.summary(DEFAULT_WITHIN_MS, at(T0)).unwrap().total, 0);
}

#[test]
fn catalog_is_checked_at_write_time() {
    let s = common::private(Options {
        catalog: Some(keyscope_core::Catalog::named("secure_access").unwrap()),
        ..cheap()
    })
    .unwrap();
    let ok = NewKey {
        grants: vec!["deployments.networks:write".into(), "reports:read".into()],
        ..new_key("a")
    };
    let (k, _) = s.create_key(ok).unwrap();
    let e = s
        .create_key(NewKey {
            grants: vec!["deployments.regions:write".into()],
            ..new_key("b")
        })
        .unwrap_err();
    assert!(e.message().contains("deployments.regions:write"), "{e}");
    let upd = KeyUpdate {
        grants: Some(vec!["nosuch:read".into()]),
        now: at(T0),
        ..Default::default()
    };
    assert_eq!(kind(s.update_key(&k.id, upd)), ErrorKind::InvalidInput);
}

#[test]
fn private_networks_are_allowed_by_option() {
    let s = common::private(Options {
        allow_private_networks: true,
        ..cheap()
    })
    .unwrap();
    let (k, _) = s
        .create_key(NewKey {
            networks: vec!["10.0.0.0/8".into(), "64.100.10.7/32".into()],
            ..new_key("a")
        })
        .unwrap();
    let shown: Vec<String> = k.networks.iter().map(|n| n.to_string()).collect();
    assert_eq!(shown, ["10.0.0.0/8", "64.100.10.7"]);
}

#[test]
fn update_patches_only_given_fields_and_bumps_version() {
    let s = mem();
    let (k, _) = s
        .create_key(NewKey {
            description: Some("d".into()),
            expires_at: at(T0 + DAY_MS),
            ..new_key("a")
        })
        .unwrap();
    let u = s
        .update_key(
            &k.id,
            KeyUpdate {
                name: Some("b".into()),
                now: at(T0 + 5),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(u.name, "b");
    assert_eq!(u.description.as_deref(), Some("d"));
    assert_eq!(u.expires_at, k.expires_at);
    assert_eq!(u.version, 2);
    assert_eq!(u.updated_at, at(T0 + 5).unwrap());
    let cleared = s
        .update_key(
            &k.id,
            KeyUpdate {
                description: Some(None),
                expires_at: Some(None),
                now: at(T0 + 6),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        (cleared.description, cleared.expires_at, cleared.version),
        (None, None, 3)
    );
}

#[test]
fn update_replaces_grants_and_networks_whole() {
    let s = mem();
    let (k, _) = s
        .create_key(NewKey {
            networks: vec!["64.100.10.0/24".into()],
            ..new_key("a")
        })
        .unwrap();
    let u = s
        .update_key(
            &k.id,
            KeyUpdate {
                grants: Some(vec!["admin:write".into()]),
                networks: Some(vec![]),
                now: at(T0),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(
        u.grants.iter().map(|g| g.to_string()).collect::<Vec<_>>(),
        ["admin:write"]
    );
    assert!(u.networks.is_empty());
}

#[test]
fn error_order_is_input_then_not_found_then_conflict() {
    let s = mem();
    let (a, _) = s.create_key(new_key("a")).unwrap();
    s.create_key(new_key("b")).unwrap();
    let missing = "0".repeat(32);
    let bad_and_missing = KeyUpdate {
        name: Some("".into()),
        ..Default::default()
    };
    assert_eq!(
        kind(s.update_key(&missing, bad_and_missing)),
        ErrorKind::InvalidInput
    );
    let stale_dup = || KeyUpdate {
        name: Some("b".into()),
        expected_version: Some(7),
        ..Default::default()
    };
    assert_eq!(
        kind(s.update_key(&missing, stale_dup())),
        ErrorKind::NotFound
    );
    let e = s.update_key(&a.id, stale_dup()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Conflict);
    assert!(
        e.message().contains("version"),
        "stale version reported first: {e}"
    );
    let e = s
        .update_key(
            &a.id,
            KeyUpdate {
                name: Some("b".into()),
                expected_version: Some(1),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.message().contains("already exists"), "{e}");
    assert_eq!(
        s.get_key(&a.id, None).unwrap().version,
        1,
        "a failed update changes nothing"
    );
}

#[test]
fn malformed_ids_are_invalid_input() {
    let s = mem();
    for bad in ["", "xyz", &"A".repeat(32), &"0".repeat(33)] {
        assert_eq!(kind(s.get_key(bad, None)), ErrorKind::InvalidInput, "{bad}");
    }
    assert_eq!(kind(s.get_key(&"0".repeat(32), None)), ErrorKind::NotFound);
    assert_eq!(
        kind(s.delete_key(&"0".repeat(32), None, None)),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(s.refresh_key(&"0".repeat(32), 0, None, None)),
        ErrorKind::NotFound
    );
}

#[test]
fn status_is_derived_at_now() {
    let s = mem();
    let (k, _) = s
        .create_key(NewKey {
            expires_at: at(T0 + 1000),
            ..new_key("a")
        })
        .unwrap();
    assert_eq!(
        s.get_key(&k.id, at(T0 + 999)).unwrap().status,
        KeyStatus::Active
    );
    assert_eq!(
        s.get_key(&k.id, at(T0 + 1000)).unwrap().status,
        KeyStatus::Expired,
        "expired at T"
    );
    s.update_key(
        &k.id,
        KeyUpdate {
            enabled: Some(false),
            now: at(T0),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        s.get_key(&k.id, at(T0 + 1000)).unwrap().status,
        KeyStatus::Disabled
    );
}

#[test]
fn summary_counts_the_triangles() {
    let s = mem();
    s.create_key(new_key("never")).unwrap();
    s.create_key(NewKey {
        expires_at: at(T0 + 10),
        ..new_key("soon-expired")
    })
    .unwrap();
    s.create_key(NewKey {
        expires_at: at(T0 + 10 * DAY_MS),
        ..new_key("expiring")
    })
    .unwrap();
    s.create_key(NewKey {
        expires_at: at(T0 + 30 * DAY_MS),
        ..new_key("edge")
    })
    .unwrap();
    s.create_key(NewKey {
        expires_at: at(T0 + 90 * DAY_MS),
        ..new_key("later")
    })
    .unwrap();
    let (d, _) = s.create_key(new_key("disabled")).unwrap();
    s.update_key(
        &d.id,
        KeyUpdate {
            enabled: Some(false),
            now: at(T0),
            ..Default::default()
        },
    )
    .unwrap();
    let sm = s.summary(DEFAULT_WITHIN_MS, at(T0 + 100)).unwrap();
    assert_eq!(sm.total, 6);
    assert_eq!(sm.expired, 1);
    assert_eq!(sm.expiring_soon, 2, "T0+10d and T0+30d are within now+30d");
    assert_eq!(sm.never_expires, 2);
    assert_eq!(sm.disabled, 1);
    assert_eq!(sm.active, 4);
    let at_edge = s.summary(30 * DAY_MS - 1, at(T0)).unwrap();
    assert_eq!(
        at_edge.expiring_soon, 2,
        "T0+30d is past now + within by 1 ms"
    );
    let exact = s.summary(30 * DAY_MS, at(T0)).unwrap();
    assert_eq!(exact.expiring_soon, 3, "expires_at = now + within counts");
    assert_eq!(
        s.org("acme")
            .unwrap()
            .summary(DEFAULT_WITHIN_MS, None)
            .unwrap()
            .total,
        0
    );
}

#[test]
fn list_filters_by_status_and_search() {
    let s = mem();
    s.create_key(NewKey {
        description: Some("Deploys from CI".into()),
        ..new_key("alpha")
    })
    .unwrap();
    s.create_key(NewKey {
        expires_at: at(T0 + 10),
        ..new_key("Ünïcode")
    })
    .unwrap();
    s.create_key(NewKey {
        expires_at: at(T0 + DAY_MS),
        ..new_key("gamma")
    })
    .unwrap();
    let names = |status: StatusFilter, search: Option<&str>| -> Vec<String> {
        let q = ListQuery {
            status,
            search: search.map(Into::into),
            now: at(T0 + 100),
            ..Default::default()
        };
        s.list_keys(&q)
            .unwrap()
            .items
            .into_iter()
            .map(|k| k.name)
            .collect()
    };
    assert_eq!(
        names(StatusFilter::All, None),
        ["alpha", "Ünïcode", "gamma"]
    );
    assert_eq!(names(StatusFilter::Expired, None), ["Ünïcode"]);
    assert_eq!(names(StatusFilter::Expiring, None), ["gamma"]);
    assert_eq!(names(StatusFilter::Active, None), ["alpha", "gamma"]);
    assert_eq!(names(StatusFilter::Disabled, None), Vec::<String>::new());
    assert_eq!(
        names(StatusFilter::All, Some("deploys")),
        ["alpha"],
        "description, case-insensitive"
    );
    assert_eq!(
        names(StatusFilter::All, Some("ÜNÏ")),
        ["Ünïcode"],
        "Unicode case folding"
    );
    assert_eq!(
        names(StatusFilter::All, Some("%")),
        Vec::<String>::new(),
        "no LIKE wildcards"
    );
}

#[test]
fn list_pages_with_cursor_in_creation_order() {
    let s = mem();
    for i in 0..7 {
        s.create_key(new_key(&format!("k{i}"))).unwrap();
    }
    let mut q = ListQuery {
        limit: 3,
        ..Default::default()
    };
    let mut seen = Vec::new();
    loop {
        let page = s.list_keys(&q).unwrap();
        seen.extend(page.items.into_iter().map(|k| k.name));
        match page.next_cursor {
            Some(c) => q.cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(seen, ["k0", "k1", "k2", "k3", "k4", "k5", "k6"]);
}

#[test]
fn cursor_is_valid_only_with_the_same_filters_and_org() {
    let s = mem();
    for i in 0..3 {
        s.create_key(new_key(&format!("k{i}"))).unwrap();
    }
    let c = s
        .list_keys(&ListQuery {
            limit: 1,
            ..Default::default()
        })
        .unwrap()
        .next_cursor
        .unwrap();
    let other = ListQuery {
        limit: 1,
        status: StatusFilter::Active,
        cursor: Some(c.clone()),
        ..Default::default()
    };
    assert_eq!(kind(s.list_keys(&other)), ErrorKind::InvalidInput);
    let acme = s.org("acme").unwrap();
    assert_eq!(
        kind(acme.list_keys(&ListQuery {
            limit: 1,
            cursor: Some(c),
            ..Default::default()
        })),
        ErrorKind::InvalidInput
    );
}

#[test]
fn list_limit_is_1_to_1000() {
    let s = mem();
    for limit in [0, -1, 1001] {
        assert_eq!(
            kind(s.list_keys(&ListQuery {
                limit,
                ..Default::default()
            })),
            ErrorKind::InvalidInput
        );
    }
    assert!(
        s.list_keys(&ListQuery {
            limit: 1000,
            ..Default::default()
        })
        .is_ok()
    );
}

#[test]
fn refresh_changes_the_secret_not_the_id() {
    let s = mem();
    let (k, old) = s.create_key(new_key("a")).unwrap();
    let (r, new) = s
        .refresh_key(&k.id, 0, Some("admin".into()), at(T0 + 5))
        .unwrap();
    assert_eq!(r.id, k.id);
    assert_ne!(new, old);
    assert_eq!(r.version, 2);
    assert_eq!(r.last_refreshed_at, at(T0 + 5));
}

#[test]
fn refresh_grace_is_0_to_7_days() {
    let s = mem();
    let (k, _) = s.create_key(new_key("a")).unwrap();
    assert_eq!(
        kind(s.refresh_key(&k.id, -1, None, None)),
        ErrorKind::InvalidInput
    );
    assert_eq!(
        kind(s.refresh_key(&k.id, 7 * DAY_MS + 1, None, None)),
        ErrorKind::InvalidInput
    );
    assert!(s.refresh_key(&k.id, 7 * DAY_MS, None, None).is_ok());
}

#[test]
fn delete_removes_the_key_and_keeps_its_audit_records() {
    let s = mem();
    let (k, _) = s
        .create_key(NewKey {
            actor: Some("alice".into()),
            ..new_key("a")
        })
        .unwrap();
    s.update_key(
        &k.id,
        KeyUpdate {
            description: Some(Some("x".into())),
            actor: Some("bob".into()),
            ..Default::default()
        },
    )
    .unwrap();
    s.refresh_key(&k.id, 0, None, None).unwrap();
    s.delete_key(&k.id, Some("carol".into()), None).unwrap();
    assert_eq!(kind(s.get_key(&k.id, None)), ErrorKind::NotFound);
    let log = s.audit_log(Some(&k.id), 50, None).unwrap().items;
    let actions: Vec<_> = log.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        [
            AuditAction::Delete,
            AuditAction::Refresh,
            AuditAction::Update,
            AuditAction::Create
        ]
    );
    assert_eq!(log[0].actor.as_deref(), Some("carol"));
    assert_eq!(log[2].changes, ["description"]);
    assert_eq!(log[3].actor.as_deref(), Some("alice"));
    assert!(log.iter().all(|r| r.key_name == "a"));
}

#[test]
fn audit_log_pages_newest_first_and_is_per_org() {
    let s = mem();
    for i in 0..5 {
        s.create_key(new_key(&format!("k{i}"))).unwrap();
    }
    let p1 = s.audit_log(None, 2, None).unwrap();
    assert_eq!(
        p1.items
            .iter()
            .map(|r| r.key_name.as_str())
            .collect::<Vec<_>>(),
        ["k4", "k3"]
    );
    let p2 = s.audit_log(None, 2, p1.next_cursor.as_deref()).unwrap();
    assert_eq!(
        p2.items
            .iter()
            .map(|r| r.key_name.as_str())
            .collect::<Vec<_>>(),
        ["k2", "k1"]
    );
    assert!(
        s.org("acme")
            .unwrap()
            .audit_log(None, 50, None)
            .unwrap()
            .items
            .is_empty()
    );
}

#[test]
fn org_view_cannot_reach_other_orgs() {
    let s = mem();
    let (k, _) = s.create_key(new_key("a")).unwrap();
    let acme = s.org("acme").unwrap();
    assert_eq!(kind(acme.get_key(&k.id, None)), ErrorKind::NotFound);
    assert_eq!(
        kind(acme.update_key(&k.id, KeyUpdate::default())),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(acme.refresh_key(&k.id, 0, None, None)),
        ErrorKind::NotFound
    );
    assert_eq!(
        kind(acme.delete_key(&k.id, None, None)),
        ErrorKind::NotFound
    );
    assert!(
        acme.list_keys(&ListQuery::default())
            .unwrap()
            .items
            .is_empty()
    );
    assert_eq!(kind(acme.org("other")), ErrorKind::InvalidInput);
    assert_eq!(kind(s.org("bad org")), ErrorKind::InvalidInput);
    let (ak, _) = acme.create_key(new_key("a")).unwrap();
    assert_eq!(ak.org, "acme");
    assert_eq!(
        kind(s.get_key(&ak.id, None)),
        ErrorKind::NotFound,
        "the store handle manages \"default\""
    );
}

#[test]
fn closed_store_fails_every_call_with_storage() {
    let s = mem();
    let view = s.org("acme").unwrap();
    s.close();
    assert_eq!(kind(s.create_key(new_key("a"))), ErrorKind::Storage);
    assert_eq!(kind(s.get_key(&"0".repeat(32), None)), ErrorKind::Storage);
    assert_eq!(
        kind(view.summary(DEFAULT_WITHIN_MS, None)),
        ErrorKind::Storage
    );
}

#[test]
fn disabling_then_enabling_changes_only_enabled_and_version() {
    let s = mem();
    let (k, _) = s.create_key(new_key("a")).unwrap();
    let d = s
        .update_key(
            &k.id,
            KeyUpdate {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(!d.enabled);
    let e = s
        .update_key(
            &k.id,
            KeyUpdate {
                enabled: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
    assert!(e.enabled);
    assert_eq!(e.version, 3);
}

#[test]
fn file_store_persists_across_handles_and_refuses_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k.db");
    let path = path.to_str().unwrap();
    let id = {
        let s = KeyStore::open(path, cheap()).unwrap();
        s.create_key(new_key("a")).unwrap().0.id
    };
    let s = KeyStore::open(path, cheap()).unwrap();
    assert_eq!(s.get_key(&id, None).unwrap().name, "a");
    s.close();
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("PRAGMA user_version = 99").unwrap();
    drop(conn);
    let e = KeyStore::open(path, cheap()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Storage);
    assert!(e.message().contains("newer"), "{e}");
}

#[test]
fn threads_sharing_one_handle_lose_no_write() {
    let s = mem();
    std::thread::scope(|scope| {
        for t in 0..4 {
            let s = s.clone();
            scope.spawn(move || {
                for i in 0..10 {
                    s.create_key(new_key(&format!("t{t}-{i}"))).unwrap();
                }
            });
        }
    });
    assert_eq!(s.summary(DEFAULT_WITHIN_MS, None).unwrap().total, 40);
}

#[test]
fn many_handles_opening_one_new_file_at_once_all_succeed() {
    for round in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("race-{round}.db"));
        let path = path.to_str().unwrap().to_owned();
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|scope| {
            for i in 0..8 {
                let (path, barrier) = (&path, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let s = KeyStore::open(path, cheap()).unwrap();
                    s.create_key(new_key(&format!("k{i}"))).unwrap();
                });
            }
        });
        let s = KeyStore::open(&path, cheap()).unwrap();
        assert_eq!(s.summary(DEFAULT_WITHIN_MS, None).unwrap().total, 8);
    }
}
