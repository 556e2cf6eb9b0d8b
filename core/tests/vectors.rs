//! Replays the shared vectors of `tests/vectors/` (the Python, Node and C suites
//! replay the same files).

mod common;
use common::Store;

use keyscope_core::secret::is_well_formed;
use keyscope_core::{Argon2Params, ErrorKind, KeyStore, NewKey, Options, Permission, Timestamp};
use serde_json::Value;

fn load(name: &str) -> Value {
    let path = format!("{}/tests/vectors/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

fn store() -> Store {
    let opts = Options {
        argon2: Argon2Params {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        },
        ..Options::default()
    };
    common::private(opts).unwrap()
}

fn create(
    s: &KeyStore,
    name: &str,
    grant: &str,
    networks: Vec<String>,
) -> keyscope_core::Result<keyscope_core::ApiKey> {
    let new = NewKey {
        name: name.into(),
        grants: vec![grant.into()],
        networks,
        ..Default::default()
    };
    s.create_key(new).map(|(k, _)| k)
}

#[test]
fn names() {
    let v = load("names.json");
    let s = store();
    for name in strings(&v["valid"]) {
        assert!(
            create(&s, &name, "reports:read", vec![]).is_ok(),
            "{name:?}"
        );
    }
    for name in strings(&v["invalid"]) {
        assert_eq!(
            create(&s, &name, "reports:read", vec![])
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput,
            "{name:?}"
        );
    }
}

#[test]
fn grants() {
    let v = load("grants.json");
    let s = store();
    for (i, g) in strings(&v["valid"]).iter().enumerate() {
        assert!(create(&s, &format!("g{i}"), g, vec![]).is_ok(), "{g:?}");
    }
    for g in strings(&v["invalid"]) {
        assert_eq!(
            create(&s, "bad", &g, vec![]).unwrap_err().kind(),
            ErrorKind::InvalidInput,
            "{g:?}"
        );
    }
}

#[test]
fn networks() {
    let v = load("networks.json");
    let s = store();
    for (i, case) in v["valid"].as_array().unwrap().iter().enumerate() {
        let k = create(
            &s,
            &format!("n{i}"),
            "reports:read",
            vec![case["input"].as_str().unwrap().into()],
        )
        .unwrap();
        assert_eq!(
            k.networks[0].to_string(),
            case["canonical"].as_str().unwrap()
        );
    }
    for n in strings(&v["invalid"]) {
        assert_eq!(
            create(&s, "bad", "reports:read", vec![n.clone()])
                .unwrap_err()
                .kind(),
            ErrorKind::InvalidInput,
            "{n:?}"
        );
    }
}

#[test]
fn secrets() {
    let v = load("secrets.json");
    let prefix = v["prefix"].as_str().unwrap();
    for s in strings(&v["valid"]) {
        assert!(is_well_formed(&s, prefix), "{s:?}");
    }
    for s in strings(&v["invalid"]) {
        assert!(!is_well_formed(&s, prefix), "{s:?}");
    }
}

#[test]
fn tokens() {
    let v = load("tokens.json");
    let secret: Vec<u8> = (0..v["secret_hex"].as_str().unwrap().len() / 2)
        .map(|i| {
            u8::from_str_radix(&v["secret_hex"].as_str().unwrap()[2 * i..2 * i + 2], 16).unwrap()
        })
        .collect();
    let opts = Options {
        signing_keys: vec![(v["kid"].as_str().unwrap().into(), secret)],
        ..Options::default()
    };
    let s = common::private(opts).unwrap();
    let now = Timestamp::from_unix_seconds(v["now"].as_i64().unwrap(), "now").unwrap();
    for case in v["cases"].as_array().unwrap() {
        let e = s
            .authorize(
                case["token"].as_str().unwrap(),
                v["resource"].as_str().unwrap(),
                Permission::Read,
                None,
                Some(now),
            )
            .unwrap_err();
        assert_eq!(
            e.code(),
            case["expect"].as_str().unwrap(),
            "{}",
            case["why"]
        );
    }
}
