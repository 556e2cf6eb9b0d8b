//! Property tests (proptest): networks canonicalize idempotently and round-trip,
//! grants print back to what parses them, and the secret checksum catches every
//! single-character change. Cursors have theirs in `src/cursor.rs` (the module is
//! private).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use keyscope_core::grant::{Grant, parse_grants, split_grant};
use keyscope_core::network::{Network, parse_network_list, parse_networks};
use keyscope_core::secret::{self, is_well_formed};
use proptest::prelude::*;

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Any IPv4 or IPv6 network, host bits cleared.
fn network() -> impl Strategy<Value = IpNet> {
    prop_oneof![
        (any::<u32>(), 0u8..=32).prop_map(|(a, p)| IpNet::new(IpAddr::V4(Ipv4Addr::from(a)), p)
            .unwrap()
            .trunc()),
        (any::<u128>(), 0u8..=128).prop_map(|(a, p)| IpNet::new(IpAddr::V6(Ipv6Addr::from(a)), p)
            .unwrap()
            .trunc()),
        // Few hosts, so that single addresses and IPv4-mapped ones come up often.
        (any::<u32>(), 96u8..=128).prop_map(|(a, p)| {
            let v6 = Ipv4Addr::from(a).to_ipv6_mapped();
            IpNet::new(IpAddr::V6(v6), p).unwrap().trunc()
        }),
    ]
}

/// Other spellings of the same network that the parser accepts.
fn spellings(net: IpNet) -> Vec<String> {
    let mut out = vec![net.to_string()];
    match net.addr() {
        IpAddr::V6(a) => {
            let s = a.segments();
            out.push(format!(
                "{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}:{:x}/{}",
                s[0],
                s[1],
                s[2],
                s[3],
                s[4],
                s[5],
                s[6],
                s[7],
                net.prefix_len()
            ));
            out.push(format!(
                "{:04X}:{:04X}:{:04X}:{:04X}:{:04X}:{:04X}:{:04X}:{:04X}/{}",
                s[0],
                s[1],
                s[2],
                s[3],
                s[4],
                s[5],
                s[6],
                s[7],
                net.prefix_len()
            ));
        }
        IpAddr::V4(_) => {}
    }
    if net.prefix_len() == net.max_prefix_len() {
        out.push(net.addr().to_string());
    }
    out
}

fn identifier() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9_-]{0,63}"
}

fn grant_text() -> impl Strategy<Value = String> {
    (
        identifier(),
        proptest::option::of(identifier()),
        prop_oneof![Just("read"), Just("write")],
    )
        .prop_map(|(s, r, p)| match r {
            Some(r) => format!("{s}.{r}:{p}"),
            None => format!("{s}:{p}"),
        })
}

/// The checksum as docs/keys.md defines it: the CRC-32 of the random part in six
/// base62 digits, most significant first (written here independently of core).
fn checksum(random: &[u8]) -> String {
    let mut n = crc32fast::hash(random) as u64;
    let mut out = [b'0'; 6];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).unwrap()
}

proptest! {
    #[test]
    fn network_canonicalization_is_idempotent_and_round_trips(net in network()) {
        let canonical = Network::parse(&net.to_string(), "n").unwrap();
        prop_assert_eq!(canonical.ipnet(), net);
        let text = canonical.to_string();
        for spelling in spellings(net) {
            let n = Network::parse(&spelling, "n").unwrap();
            prop_assert_eq!(n, canonical, "{}", spelling);
            prop_assert_eq!(n.to_string(), text.clone(), "{}", spelling);
        }
        let again = Network::parse(&text, "n").unwrap();
        prop_assert_eq!(again, canonical);
        prop_assert_eq!(again.to_string(), text.clone());
        // A single address is written without its prefix.
        prop_assert_eq!(text.contains('/'), net.prefix_len() != net.max_prefix_len());
    }

    #[test]
    fn host_bits_are_refused(net in network(), bit in any::<u128>()) {
        let host_bits = match net.addr() {
            IpAddr::V4(a) => {
                let mask = u32::MAX.checked_shr(u32::from(net.prefix_len())).unwrap_or(0);
                let b = (bit as u32) & mask;
                (b != 0).then(|| IpAddr::V4(Ipv4Addr::from(u32::from(a) | b)))
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX.checked_shr(u32::from(net.prefix_len())).unwrap_or(0);
                let b = bit & mask;
                (b != 0).then(|| IpAddr::V6(Ipv6Addr::from(u128::from(a) | b)))
            }
        };
        if let Some(addr) = host_bits {
            let text = format!("{addr}/{}", net.prefix_len());
            prop_assert!(Network::parse(&text, "n").is_err(), "{}", text);
        }
    }

    #[test]
    fn network_lists_round_trip_through_their_canonical_text(
        nets in proptest::collection::vec(network(), 0..10),
        sep in prop_oneof![Just(","), Just(", "), Just(" ,  ")],
    ) {
        let mut unique: Vec<IpNet> = Vec::new();
        for n in nets {
            if !unique.contains(&n) {
                unique.push(n);
            }
        }
        let text = unique.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(sep);
        let list = parse_network_list(&text, true).unwrap();
        prop_assert_eq!(list.iter().map(Network::ipnet).collect::<Vec<_>>(), unique.clone());
        let canonical: Vec<String> = list.iter().map(|n| n.to_string()).collect();
        let again = parse_network_list(&canonical.join(", "), true).unwrap();
        prop_assert_eq!(&again, &list);
        prop_assert_eq!(parse_networks(&canonical, true).unwrap(), list);
    }

    #[test]
    fn grants_print_back_to_their_text(text in grant_text()) {
        let g = Grant::parse(&text, "g").unwrap();
        prop_assert_eq!(g.to_string(), text.clone());
        prop_assert_eq!(Grant::parse(&g.to_string(), "g").unwrap(), g.clone());
        let (scope, resource, permission) = split_grant(&text).unwrap();
        prop_assert_eq!(scope, g.target.scope.as_str());
        prop_assert_eq!(resource, g.target.resource.as_deref());
        prop_assert_eq!(permission, g.permission);
        // Any other case of the permission, or a stray space, is refused.
        prop_assert!(Grant::parse(&text.to_uppercase(), "g").is_err());
        let spaced = format!("{text} ");
        prop_assert!(Grant::parse(&spaced, "g").is_err());
    }

    #[test]
    fn grant_lists_round_trip(texts in proptest::collection::vec(grant_text(), 1..64)) {
        let mut seen = std::collections::HashSet::new();
        let texts: Vec<String> = texts
            .into_iter()
            .filter(|t| seen.insert(t.rsplit_once(':').unwrap().0.to_owned()))
            .collect();
        let grants = parse_grants(&texts).unwrap();
        let printed: Vec<String> = grants.iter().map(|g| g.to_string()).collect();
        prop_assert_eq!(&printed, &texts);
        prop_assert_eq!(parse_grants(&printed).unwrap(), grants);
    }

    #[test]
    fn the_checksum_catches_every_single_character_change(
        random in proptest::collection::vec(proptest::sample::select(BASE62), 43),
        prefix in "[a-z0-9]{2,8}",
    ) {
        let random = String::from_utf8(random).unwrap();
        let good = format!("{prefix}_{random}{}", checksum(random.as_bytes()));
        prop_assert!(is_well_formed(&good, &prefix), "{}", good);
        let start = prefix.len() + 1;
        let mut bytes = good.clone().into_bytes();
        for i in start..bytes.len() {
            let original = bytes[i];
            for &c in BASE62.iter().chain(b"_-+/=.!~ ").filter(|&&c| c != original) {
                bytes[i] = c;
                let changed = std::str::from_utf8(&bytes).unwrap();
                prop_assert!(!is_well_formed(changed, &prefix), "{} passes", changed);
            }
            bytes[i] = original;
        }
        // Dropping or adding a character is caught too.
        prop_assert!(!is_well_formed(&good[..good.len() - 1], &prefix));
        let longer = format!("{good}0");
        prop_assert!(!is_well_formed(&longer, &prefix));
    }

    #[test]
    fn generated_secrets_are_well_formed(prefix in "[a-z0-9]{2,8}") {
        let s = secret::generate(&prefix).unwrap();
        prop_assert!(is_well_formed(s.expose(), &prefix));
        let body = &s.expose()[prefix.len() + 1..];
        prop_assert_eq!(&body[43..], checksum(&body.as_bytes()[..43]));
    }
}
