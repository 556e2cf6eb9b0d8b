//! Network restrictions and client addresses (docs/grants-and-networks.md).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

use ipnet::IpNet;

use crate::error::{Error, Result};

/// Most networks one key may hold.
pub const MAX_NETWORKS: usize = 10;

/// The address blocks that are not globally reachable, compiled in.
const NON_GLOBAL_JSON: &str = include_str!("../data/non-global-ranges.json");

/// An IPv4 or IPv6 address or CIDR block in canonical form: a single address is
/// written without a prefix (`64.100.10.7`, never `64.100.10.7/32`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Network(IpNet);

impl Network {
    /// Parses one network strictly: no zone ids, no leading zeros in IPv4 octets, no
    /// host bits set, a decimal prefix within the address family's length.
    pub fn parse(text: &str, field: &str) -> Result<Network> {
        let bad = |why: String| Error::invalid(field, why);
        if text.contains('%') {
            return Err(bad(format!(
                "{text:?} has a zone id; zone ids are not allowed"
            )));
        }
        let (addr_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr = parse_addr(addr_text).map_err(|why| bad(format!("{text:?} {why}")))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_text {
            None => max,
            Some(p) => {
                let ok = !p.is_empty()
                    && p.len() <= 3
                    && p.bytes().all(|b| b.is_ascii_digit())
                    && (p == "0" || !p.starts_with('0'));
                match p.parse::<u8>() {
                    Ok(n) if ok && n <= max => n,
                    _ => {
                        return Err(bad(format!(
                            "{text:?} has prefix length {p:?}; it must be 0 to {max}"
                        )));
                    }
                }
            }
        };
        let net = IpNet::new(addr, prefix).map_err(|e| bad(format!("{text:?}: {e}")))?;
        if net.trunc() != net {
            return Err(bad(format!(
                "{text:?} has host bits set; did you mean {}?",
                Network(net.trunc())
            )));
        }
        Ok(Network(net))
    }

    /// The underlying `ipnet` value.
    pub fn ipnet(&self) -> IpNet {
        self.0
    }

    /// True when `addr` lies inside this network.
    pub fn contains(&self, addr: IpAddr) -> bool {
        self.0.contains(&addr)
    }

    fn overlaps(&self, other: &IpNet) -> bool {
        self.0.contains(&other.network()) || other.contains(&self.0.network())
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.prefix_len() == self.0.max_prefix_len() {
            write!(f, "{}", self.0.addr())
        } else {
            write!(f, "{}", self.0)
        }
    }
}

fn parse_addr(text: &str) -> std::result::Result<IpAddr, &'static str> {
    if text.contains(':') {
        return text
            .parse::<Ipv6Addr>()
            .map(IpAddr::V6)
            .map_err(|_| "is not a valid IPv6 address or network");
    }
    let leading_zero =
        |o: &&str| o.len() > 1 && o.starts_with('0') && o.bytes().all(|b| b.is_ascii_digit());
    if text.split('.').count() == 4 && text.split('.').any(|o| leading_zero(&o)) {
        return Err("has an IPv4 octet with a leading zero");
    }
    text.parse::<Ipv4Addr>()
        .map(IpAddr::V4)
        .map_err(|_| "is not a valid IPv4 or IPv6 address or network")
}

struct Block {
    net: IpNet,
    what: String,
}

fn non_global_blocks() -> &'static [Block] {
    static BLOCKS: OnceLock<Vec<Block>> = OnceLock::new();
    BLOCKS.get_or_init(|| {
        let v: serde_json::Value =
            serde_json::from_str(NON_GLOBAL_JSON).expect("built-in ranges are JSON");
        let mut out = Vec::new();
        for family in ["ipv4", "ipv6"] {
            for entry in v[family].as_array().expect("built-in ranges list") {
                out.push(Block {
                    net: entry["net"]
                        .as_str()
                        .and_then(|s| s.parse().ok())
                        .expect("built-in CIDR"),
                    what: entry["what"].as_str().unwrap_or("").to_owned(),
                });
            }
        }
        out
    })
}

/// Parses and checks a key's networks: at most ten, each canonical, no duplicates
/// after canonicalization, and — unless `allow_private` — none overlapping a block
/// that is not globally reachable.
pub fn parse_networks<S: AsRef<str>>(networks: &[S], allow_private: bool) -> Result<Vec<Network>> {
    if networks.len() > MAX_NETWORKS {
        return Err(Error::invalid(
            "networks",
            format!(
                "{} networks given; the limit is {MAX_NETWORKS}",
                networks.len()
            ),
        ));
    }
    let mut out: Vec<Network> = Vec::with_capacity(networks.len());
    for (i, n) in networks.iter().enumerate() {
        let field = format!("networks[{i}]");
        let net = Network::parse(n.as_ref(), &field)?;
        check_global(&net, allow_private, &field)?;
        if let Some(j) = out.iter().position(|o| *o == net) {
            return Err(Error::invalid(
                field,
                format!("{net} duplicates networks[{j}]"),
            ));
        }
        out.push(net);
    }
    Ok(out)
}

fn check_global(net: &Network, allow_private: bool, field: &str) -> Result<()> {
    if allow_private {
        return Ok(());
    }
    if let Some(b) = non_global_blocks().iter().find(|b| net.overlaps(&b.net)) {
        return Err(Error::invalid(
            field,
            format!(
                "{net} overlaps {} ({}), which is not globally reachable; \
                 open the store with allow_private_networks to allow it",
                b.net, b.what
            ),
        ));
    }
    Ok(())
}

/// Parses the comma-separated list an administrator types
/// (`"64.100.10.7, 2001:4860::/32"`); a bad entry is reported by its 1-based position.
pub fn parse_network_list(text: &str, allow_private: bool) -> Result<Vec<Network>> {
    let entries: Vec<&str> = if text.trim().is_empty() {
        Vec::new()
    } else {
        text.split(',').map(str::trim).collect()
    };
    if let Some(i) = entries.iter().position(|e| e.is_empty()) {
        return Err(Error::invalid(
            format!("networks entry {}", i + 1),
            "is empty",
        ));
    }
    parse_networks(&entries, allow_private).map_err(|e| match e.field().and_then(index_of) {
        Some(i) => e.in_field(format!("networks entry {}", i + 1)),
        None => e,
    })
}

fn index_of(field: &str) -> Option<usize> {
    field
        .strip_prefix("networks[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Parses a client address: one IPv4 or IPv6 address; `::ffff:a.b.c.d` becomes
/// `a.b.c.d`.
pub fn parse_client_ip(text: &str) -> Result<IpAddr> {
    // Most clients are a plain dotted quad: read it in one pass. Anything else
    // (IPv6, errors) goes through the full parser, which accepts the same quads.
    if let Some(v4) = dotted_quad(text.as_bytes()) {
        return Ok(IpAddr::V4(v4));
    }
    let addr = match parse_addr(text) {
        Ok(a) if !text.contains('/') && !text.contains('%') => a,
        _ => {
            return Err(Error::invalid(
                "client_ip",
                format!("{text:?} is not a single IPv4 or IPv6 address"),
            ));
        }
    };
    Ok(canonical_client(addr))
}

/// `a.b.c.d`, each part a decimal number 0–255 without a leading zero: exactly the
/// IPv4 texts [`parse_client_ip`] accepts, read in one pass. `None` for anything else.
fn dotted_quad(text: &[u8]) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut part = 0;
    let mut value = 0u32;
    let mut digits = 0;
    for &b in text {
        match b {
            b'0'..=b'9' => {
                // A leading zero, a fourth digit or a value above 255 is not this form.
                if digits == 3 || (digits == 1 && value == 0) {
                    return None;
                }
                value = value * 10 + u32::from(b - b'0');
                digits += 1;
            }
            b'.' if digits > 0 && part < 3 => {
                octets[part] = u8::try_from(value).ok()?;
                part += 1;
                (value, digits) = (0, 0);
            }
            _ => return None,
        }
    }
    if part != 3 || digits == 0 {
        return None;
    }
    octets[3] = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(octets))
}

/// Maps an IPv4-mapped IPv6 address to its IPv4 form.
pub fn canonical_client(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(addr),
        v4 => v4,
    }
}

/// True when a key with `networks` accepts a request from `client`: any address when
/// the key has no networks, otherwise only a known address inside one of them.
pub fn allows(networks: &[Network], client: Option<IpAddr>) -> bool {
    if networks.is_empty() {
        return true;
    }
    match client {
        Some(addr) => networks.iter().any(|n| n.contains(addr)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `parse_client_ip` answered before the dotted-quad fast path.
    fn full_parse(text: &str) -> Option<IpAddr> {
        parse_addr(text)
            .ok()
            .filter(|_| !text.contains('/') && !text.contains('%'))
            .map(canonical_client)
    }

    #[test]
    fn the_dotted_quad_fast_path_accepts_what_the_full_parser_accepts() {
        for text in [
            "0.0.0.0",
            "255.255.255.255",
            "64.100.10.7",
            "1.2.3.4",
            "10.0.0.10",
            "100.200.250.199",
        ] {
            assert_eq!(
                dotted_quad(text.as_bytes()).map(IpAddr::V4),
                full_parse(text)
            );
            assert!(full_parse(text).is_some(), "{text}");
        }
        for text in [
            "",
            ".",
            "1.2.3",
            "1.2.3.4.",
            ".1.2.3.4",
            "1..2.3",
            "1.2.3.4.5",
            "256.1.1.1",
            "1.2.3.256",
            "01.2.3.4",
            "1.2.3.04",
            "00.1.1.1",
            "1.2.3.0000",
            "1000.1.1.1",
            "1.2.3.4/32",
            "1.2.3.4%eth0",
            " 1.2.3.4",
            "1.2.3.4 ",
            "+1.2.3.4",
            "1.2.3.-4",
            "::ffff:1.2.3.4",
            "1.2.3.4:80",
            "1.2.3.a",
            "１.2.3.4",
        ] {
            assert_eq!(dotted_quad(text.as_bytes()), None, "{text:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_fast_path_never_disagrees(text in "[0-9./:%a-f]{0,20}") {
            if let Some(v4) = dotted_quad(text.as_bytes()) {
                proptest::prop_assert_eq!(Some(IpAddr::V4(v4)), full_parse(&text));
            }
            proptest::prop_assert_eq!(parse_client_ip(&text).ok(), full_parse(&text));
        }

        #[test]
        fn every_quad_takes_the_fast_path(a: u8, b: u8, c: u8, d: u8) {
            let text = format!("{a}.{b}.{c}.{d}");
            proptest::prop_assert_eq!(dotted_quad(text.as_bytes()), Some(Ipv4Addr::new(a, b, c, d)));
        }
    }

    fn one(s: &str) -> Result<Network> {
        Network::parse(s, "networks[0]")
    }

    #[test]
    fn canonicalizes_single_addresses() {
        assert_eq!(one("64.100.10.7").unwrap().to_string(), "64.100.10.7");
        assert_eq!(one("64.100.10.7/32").unwrap().to_string(), "64.100.10.7");
        assert_eq!(
            one("2001:4860:0:0::/32").unwrap().to_string(),
            "2001:4860::/32"
        );
        assert_eq!(one("2001:4860::1/128").unwrap().to_string(), "2001:4860::1");
        assert_eq!(one("0.0.0.0/0").unwrap().to_string(), "0.0.0.0/0");
    }

    #[test]
    fn refuses_host_bits_and_suggests_the_network() {
        let e = one("64.100.10.5/24").unwrap_err();
        assert!(e.message().contains("did you mean 64.100.10.0/24"), "{e}");
    }

    #[test]
    fn refuses_bad_prefixes_zone_ids_and_leading_zeros() {
        for bad in [
            "64.100.10.0/33",
            "2001:db8::/129",
            "64.100.10.0/",
            "64.100.10.0/024",
            "64.100.10.0/-1",
            "64.100.10.0/+8",
            "fe80::1%eth0",
            "fe80::%1/64",
            "064.100.10.7",
            "64.100.010.7",
            "64.100.10.07/32",
            "64.100.10",
            "host",
            "",
            " 64.100.10.7",
            "64.100.10.7 ",
            "1.2.3.4.5",
            "::g",
        ] {
            assert!(one(bad).is_err(), "{bad:?}");
        }
        assert!(
            one("fe80::1%eth0")
                .unwrap_err()
                .message()
                .contains("zone id")
        );
        assert!(
            one("064.1.1.1")
                .unwrap_err()
                .message()
                .contains("leading zero")
        );
        assert!(one("64.100.10.0/0").is_err(), "host bits set for /0");
    }

    #[test]
    fn refuses_more_than_ten_networks() {
        let nets: Vec<String> = (1..=11).map(|i| format!("64.100.{i}.0/24")).collect();
        assert!(parse_networks(&nets[..10], false).is_ok());
        let e = parse_networks(&nets, false).unwrap_err();
        assert_eq!(e.field(), Some("networks"));
    }

    #[test]
    fn refuses_duplicates_after_canonicalization() {
        let e = parse_networks(&["64.100.10.7", "64.100.10.7/32"], false).unwrap_err();
        assert_eq!(e.field(), Some("networks[1]"));
    }

    #[test]
    fn refuses_non_global_networks_unless_allowed() {
        for private in [
            "10.1.2.3",
            "192.168.0.0/16",
            "127.0.0.1",
            "::1",
            "fe80::/10",
            "fc00::/7",
            "8.0.0.0/5",
            "0.0.0.0/0",
            "::/0",
            "100.64.0.1",
            "224.0.0.1",
        ] {
            assert!(parse_networks(&[private], false).is_err(), "{private}");
            assert!(parse_networks(&[private], true).is_ok(), "{private}");
        }
        assert!(parse_networks(&["64.100.10.0/24", "2001:4860::/32", "8.8.8.8"], false).is_ok());
    }

    #[test]
    fn comma_list_reports_bad_entry_by_position() {
        let v = parse_network_list("64.100.10.7, 2001:4860::/32", false).unwrap();
        assert_eq!(v.len(), 2);
        let e = parse_network_list("64.100.10.7, 64.100.10.5/24", false).unwrap_err();
        assert_eq!(e.field(), Some("networks entry 2"));
        assert!(e.message().contains("64.100.10.0/24"));
        assert!(parse_network_list("64.100.10.7,,8.8.8.8", false).is_err());
        assert!(parse_network_list("  ", false).unwrap().is_empty());
    }

    #[test]
    fn client_addresses_are_single_and_mapped_ipv6_matches_ipv4() {
        let nets = parse_networks(&["64.100.10.0/24"], false).unwrap();
        let mapped = parse_client_ip("::ffff:64.100.10.7").unwrap();
        assert_eq!(mapped.to_string(), "64.100.10.7");
        assert!(allows(&nets, Some(mapped)));
        assert!(!allows(
            &nets,
            Some(parse_client_ip("64.100.11.7").unwrap())
        ));
        assert!(
            !allows(&nets, None),
            "a key with networks denies a missing address"
        );
        assert!(allows(&[], None));
        for bad in ["64.100.10.0/24", "fe80::1%eth0", "x", "", "064.1.1.1"] {
            assert!(parse_client_ip(bad).is_err(), "{bad:?}");
        }
    }
}
