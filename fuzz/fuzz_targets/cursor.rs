//! Page cursors, through `list_keys` on a store of a dozen keys (the cursor module is
//! private: this is its only way in). Properties: no panic; a refused cursor is
//! `invalid_input`; an accepted one gives a page that is a run of consecutive keys of
//! the full listing with the same filters, in order, at most `limit` long, and its
//! own `next_cursor` continues right after it.
//!
//! Input: a filter byte (status and search), a limit byte, then either the cursor
//! text, or `@` + a page number + (position, byte) pairs: a real `next_cursor` of
//! that listing with those bytes replaced.
#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use keyscope_core::{ErrorKind, KeyStore, ListQuery, NewKey, StatusFilter, Timestamp};
use libfuzzer_sys::fuzz_target;

const FILTERS: [StatusFilter; 5] = [
    StatusFilter::All,
    StatusFilter::Active,
    StatusFilter::Expired,
    StatusFilter::Expiring,
    StatusFilter::Disabled,
];
const SEARCHES: [Option<&str>; 3] = [None, Some("svc"), Some("odd")];

fn fixture() -> &'static KeyStore {
    static F: OnceLock<KeyStore> = OnceLock::new();
    F.get_or_init(|| {
        let store = common::store(&[]);
        for i in 0..12i64 {
            let expires = match i % 3 {
                0 => None,
                1 => {
                    Some(Timestamp::from_unix_seconds(common::T0 + 86_400 * (1 + i), "e").unwrap())
                }
                _ => Some(Timestamp::from_unix_seconds(common::T0 + 86_400 * 400, "e").unwrap()),
            };
            store
                .create_key(NewKey {
                    name: format!("svc-{i}{}", if i % 2 == 1 { "-odd" } else { "" }),
                    grants: vec!["reports:read".into()],
                    expires_at: expires,
                    enabled: Some(i % 5 != 4),
                    now: common::now(),
                    ..NewKey::default()
                })
                .unwrap();
        }
        store
    })
}

/// The store never changes, so the full listing of each filter and the real cursors of
/// each (filter, limit) walk are computed once, not on every execution.
struct Memo {
    full: HashMap<usize, Vec<String>>,
    cursors: HashMap<(usize, i64), Vec<String>>,
}

fn memo() -> &'static Mutex<Memo> {
    static M: OnceLock<Mutex<Memo>> = OnceLock::new();
    M.get_or_init(|| {
        Mutex::new(Memo {
            full: HashMap::new(),
            cursors: HashMap::new(),
        })
    })
}

/// The ids of the whole listing under `filter`.
fn full_listing(store: &KeyStore, filter: u8) -> Vec<String> {
    let f = filter as usize % (FILTERS.len() * SEARCHES.len());
    let mut m = memo().lock().unwrap();
    m.full
        .entry(f)
        .or_insert_with(|| {
            store
                .list_keys(&query(filter, 1000, None))
                .unwrap()
                .items
                .into_iter()
                .map(|k| k.id)
                .collect()
        })
        .clone()
}

/// Every `next_cursor` of the walk through the listing under `filter`, `limit` a page.
fn real_cursors(store: &KeyStore, filter: u8, limit: i64) -> Vec<String> {
    let f = filter as usize % (FILTERS.len() * SEARCHES.len());
    let mut m = memo().lock().unwrap();
    m.cursors
        .entry((f, limit))
        .or_insert_with(|| {
            let mut out: Vec<String> = Vec::new();
            while let Some(c) = store
                .list_keys(&query(filter, limit, out.last().cloned()))
                .unwrap()
                .next_cursor
            {
                out.push(c);
            }
            out
        })
        .clone()
}

fn query(filter: u8, limit: i64, cursor: Option<String>) -> ListQuery {
    ListQuery {
        status: FILTERS[filter as usize % FILTERS.len()],
        search: SEARCHES[(filter as usize / FILTERS.len()) % SEARCHES.len()].map(str::to_owned),
        limit,
        cursor,
        // Past the 1-day expiries, before the 400-day ones.
        now: Some(Timestamp::from_unix_seconds(common::T0 + 86_400 * 5, "now").unwrap()),
        ..ListQuery::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let [filter, limit, rest @ ..] = data else {
        return;
    };
    let store = fixture();
    let limit = (*limit % 6) as i64 + 1;
    let full = full_listing(store, *filter);
    let cursor = match rest {
        [b'@', page, edits @ ..] => {
            // The cursor of page `page` (or the last one that has a cursor).
            let cursors = real_cursors(store, *filter, limit);
            let Some(c) = cursors.get((*page % 8) as usize).or(cursors.last()) else {
                return;
            };
            let mut bytes = c.clone().into_bytes();
            for pair in edits.chunks_exact(2) {
                let at = pair[0] as usize % bytes.len();
                bytes[at] = pair[1];
            }
            match String::from_utf8(bytes) {
                Ok(c) => c,
                Err(_) => return,
            }
        }
        _ => match std::str::from_utf8(rest) {
            Ok(c) => c.to_owned(),
            Err(_) => return,
        },
    };
    let page = match store.list_keys(&query(*filter, limit, Some(cursor.clone()))) {
        Ok(p) => p,
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            return;
        }
    };
    let ids: Vec<String> = page.items.iter().map(|k| k.id.clone()).collect();
    assert!(ids.len() as i64 <= limit);
    let start = match ids.first() {
        Some(first) => full
            .iter()
            .position(|id| id == first)
            .expect("a listed key"),
        None => {
            assert!(
                page.next_cursor.is_none(),
                "an empty page has no next cursor"
            );
            return;
        }
    };
    assert_eq!(
        &full[start..start + ids.len()],
        &ids[..],
        "a page is a consecutive run"
    );
    if let Some(next) = page.next_cursor {
        let after = store.list_keys(&query(*filter, limit, Some(next))).unwrap();
        let first_after = after.items.first().map(|k| k.id.clone());
        assert_eq!(
            first_after.as_ref(),
            full.get(start + ids.len()),
            "next continues"
        );
    } else {
        assert_eq!(
            start + ids.len(),
            full.len(),
            "no next cursor only at the end"
        );
    }
});
