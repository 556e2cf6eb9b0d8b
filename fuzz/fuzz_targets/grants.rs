//! Grants: `Grant::parse`, `split_grant`, `parse_grants`, `list_covers` and
//! `intersect_scope`. Properties: no panic; an accepted grant prints back to exactly
//! its input (only the canonical form is accepted) and the borrowed parser agrees
//! with the owned one; an accepted list re-parses from its printed form to the same
//! grants; every grant of an intersection is covered by both the token's list and
//! the key's grants.
//!
//! Input: text; the first line is the token's space-separated scope, the other lines
//! are a key's grants.
#![no_main]

use keyscope_core::grant::{
    Grant, Permission, intersect_scope, list_covers, parse_grants, split_grant,
};
use libfuzzer_sys::fuzz_target;

fn check_one(s: &str) {
    let owned = Grant::parse(s, "grant");
    let borrowed = split_grant(s);
    match (&owned, borrowed) {
        (Ok(g), Some((scope, resource, permission))) => {
            assert_eq!(g.to_string(), s, "an accepted grant is canonical");
            assert_eq!(Grant::parse(&g.to_string(), "grant").as_ref().ok(), Some(g));
            assert_eq!(g.target.scope, scope);
            assert_eq!(g.target.resource.as_deref(), resource);
            assert_eq!(g.permission, permission);
            assert!(g.covers(&g.target, permission));
            assert!(g.covers(&g.target, Permission::Read));
        }
        (Err(_), None) => {}
        (o, b) => panic!("Grant::parse and split_grant disagree on {s:?}: {o:?} / {b:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let scope_list = lines.next().unwrap_or("");
    let key_lines: Vec<&str> = lines.collect();
    for g in scope_list.split(' ').chain(key_lines.iter().copied()) {
        check_one(g);
    }
    let Ok(grants) = parse_grants(&key_lines) else {
        return;
    };
    let printed: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
    assert_eq!(printed, key_lines, "accepted grants are canonical");
    assert_eq!(parse_grants(&printed).unwrap(), grants);
    for meet in intersect_scope(scope_list, &grants) {
        let g = Grant::parse(&meet, "meet").expect("an intersection is made of grants");
        let (scope, resource) = (&g.target.scope, g.target.resource.as_deref());
        assert!(
            list_covers(scope_list, scope, resource, g.permission),
            "{meet} is not covered by the token's scope {scope_list:?}"
        );
        assert!(
            grants.iter().any(|k| k.covers(&g.target, g.permission)),
            "{meet} is not covered by the key's grants"
        );
    }
});
