//! `X-Forwarded-For` and the client address (`client_address`, on a store and with an
//! explicit list). Properties: no panic; the store and the function agree; an
//! untrusted peer is the client; otherwise the answer is the peer or one of the
//! forwarded entries, and it is a trusted proxy only when every entry read is one
//! (then it is the leftmost); a malformed entry on the way gives `None`.
//!
//! Input: the peer on the first line, then one `X-Forwarded-For` header per line.
#![no_main]

#[path = "common.rs"]
mod common;

use std::net::IpAddr;
use std::sync::OnceLock;

use keyscope_core::network::{Network, canonical_client, parse_client_ip};
use keyscope_core::{KeyStore, http};
use libfuzzer_sys::fuzz_target;

const TRUSTED: [&str; 3] = ["10.0.0.0/8", "64.100.10.7", "2001:db8::/32"];

fn fixture() -> &'static (KeyStore, Vec<Network>) {
    static F: OnceLock<(KeyStore, Vec<Network>)> = OnceLock::new();
    F.get_or_init(|| {
        let trusted = TRUSTED
            .iter()
            .map(|t| Network::parse(t, "trusted").unwrap())
            .collect();
        (common::store(&TRUSTED), trusted)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (store, trusted) = fixture();
    let mut lines = text.split('\n');
    let peer = lines.next().unwrap_or("");
    let headers: Vec<&str> = lines.collect();
    let got = http::client_address(trusted, peer, &headers);
    assert_eq!(
        store.client_address(peer, &headers),
        got,
        "store and function agree"
    );
    let is_trusted = |ip: IpAddr| trusted.iter().any(|n| n.contains(canonical_client(ip)));
    let Ok(peer_ip) = parse_client_ip(peer.trim()) else {
        assert_eq!(got, None, "a malformed peer gives no client");
        return;
    };
    if !is_trusted(peer_ip) {
        assert_eq!(got, Some(peer_ip), "an untrusted peer is the client");
        return;
    }
    let entries: Vec<&str> = headers
        .iter()
        .flat_map(|h| h.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    // Reference: right to left, skipping trusted proxies.
    let mut expected = Some(peer_ip);
    for e in entries.iter().rev() {
        match parse_client_ip(e) {
            Err(_) => {
                expected = None;
                break;
            }
            Ok(ip) if !is_trusted(ip) => {
                expected = Some(ip);
                break;
            }
            Ok(ip) => expected = Some(ip),
        }
    }
    assert_eq!(got, expected, "peer {peer:?}, headers {headers:?}");
    if let Some(ip) = got {
        assert_eq!(ip, canonical_client(ip), "the client address is canonical");
        assert!(
            ip == peer_ip || entries.iter().any(|e| parse_client_ip(e).ok() == Some(ip)),
            "the client is the peer or a forwarded entry"
        );
    }
});
