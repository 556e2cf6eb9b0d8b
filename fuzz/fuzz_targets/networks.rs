//! Networks: `Network::parse`, `parse_networks` and the comma-separated
//! `parse_network_list`, `parse_client_ip` and `allows`. Properties: no panic; an
//! accepted network's canonical text parses back to the same network and prints the
//! same (canonicalization is idempotent); an accepted list re-parses from its
//! canonical text (joined by ", ") to the same list; the client-address parser agrees
//! with `Network::parse` on single addresses.
//!
//! Input: one byte (bit 0: allow private networks), then the text.
#![no_main]

use keyscope_core::network::{
    Network, allows, canonical_client, parse_client_ip, parse_network_list, parse_networks,
};
use libfuzzer_sys::fuzz_target;

fn check_one(s: &str, allow_private: bool) {
    if let Ok(n) = Network::parse(s, "network") {
        let canonical = n.to_string();
        let again = Network::parse(&canonical, "network").expect("canonical text parses");
        assert_eq!(again, n, "{s:?} -> {canonical:?}");
        assert_eq!(
            again.to_string(),
            canonical,
            "canonicalization is idempotent"
        );
        assert!(n.contains(n.ipnet().network()));
        // A single address is also a client address (IPv4-mapped ones become IPv4).
        if n.ipnet().prefix_len() == n.ipnet().max_prefix_len() {
            let ip = parse_client_ip(&canonical).expect("a single address is a client");
            assert_eq!(ip, canonical_client(n.ipnet().addr()));
        }
        if let Ok(list) = parse_networks(&[s], allow_private) {
            assert_eq!(list, [n]);
        }
    }
    if let Ok(ip) = parse_client_ip(s) {
        assert_eq!(ip, canonical_client(ip), "client addresses come canonical");
        assert!(allows(&[], Some(ip)));
        assert!(allows(&[], None));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let allow_private = flags & 1 == 1;
    check_one(text, allow_private);
    for entry in text.split(',') {
        check_one(entry.trim(), allow_private);
    }
    if let Ok(list) = parse_network_list(text, allow_private) {
        let canonical: Vec<String> = list.iter().map(|n| n.to_string()).collect();
        let joined = canonical.join(", ");
        let again = parse_network_list(&joined, allow_private).expect("canonical list parses");
        assert_eq!(again, list, "{text:?} -> {joined:?}");
        let printed: Vec<String> = again.iter().map(|n| n.to_string()).collect();
        assert_eq!(printed, canonical, "list canonicalization is idempotent");
        assert_eq!(parse_networks(&canonical, allow_private).unwrap(), list);
        // Every network admits its own first address, and nothing is admitted
        // without a client address when the list is not empty.
        for n in &list {
            assert!(
                allows(&list, Some(canonical_client(n.ipnet().network())))
                    || n.ipnet().network().is_ipv6()
            );
        }
        assert_eq!(allows(&list, None), list.is_empty());
    }
});
