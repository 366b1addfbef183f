//! Who the client is: the TCP peer, or the address its trusted proxies forwarded.
//!
//! A reverse proxy or CDN in front of onair connects from its own address and says
//! whom it serves in `X-Forwarded-For`, appending the address that connected to it
//! to whatever the request already carried (nginx `$proxy_add_x_forwarded_for`,
//! HAProxy `option forwardfor` as a field line of its own). Everything left of the
//! last proxy's entry was written by someone else, the client included, so it is
//! worth only what the proxy that passed it on is worth.
//!
//! The rule (the "rightmost trusted" walk): the header is read only when the TCP
//! peer is a [trusted proxy](TrustedProxies) (none by default: `--trusted-proxy`).
//! Its entries, every field line joined in order (RFC 9110 §5.3), are walked from
//! the right; each trusted address is a proxy hop and is skipped, and the first
//! untrusted address is the client. An entry that is not an address (`unknown`,
//! garbage, an empty entry) ends the walk with no client: nobody can say who sent
//! the request, and an origin whitelist refuses it. When every entry is trusted,
//! the left-most is the client.
//!
//! ```
//! use api::forwarded::TrustedProxies;
//! let proxies = TrustedProxies::new(vec!["127.0.0.1/32".parse().unwrap()]);
//! let peer = "127.0.0.1".parse().unwrap();
//! // nginx appended the address that reached it after the client's own claim.
//! let client = proxies.client(peer, ["10.1.2.3, 198.51.100.7"].into_iter());
//! assert_eq!(client, Some("198.51.100.7".parse().unwrap()));
//! ```

use std::net::{IpAddr, SocketAddr};

pub use ipnet::IpNet;

/// The networks whose connections are believed about `X-Forwarded-For`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

/// The client address a request was answered for (an extension the HTTP front puts
/// on every request it hands to the router): `None` when a trusted proxy forwarded
/// something that is not an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddress(pub Option<IpAddr>);

impl TrustedProxies {
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies { nets }
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    /// The configured networks, in the order given.
    pub fn nets(&self) -> &[IpNet] {
        &self.nets
    }

    /// Whether `ip` is in a trusted network (an IPv4-mapped IPv6 address as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client of a request from `peer` carrying the `X-Forwarded-For` field
    /// lines `lines` (in the order received): see the [module](self) for the walk.
    /// Costs nothing beyond one comparison while no proxy is configured.
    pub fn client<'a, I>(&self, peer: IpAddr, lines: I) -> Option<IpAddr>
    where
        I: DoubleEndedIterator<Item = &'a str>,
    {
        if self.nets.is_empty() || !self.contains(peer) {
            return Some(peer);
        }
        let mut client = peer;
        for entry in lines.rev().flat_map(|line| line.rsplit(',')) {
            let ip = parse_entry(entry)?;
            client = ip;
            if !self.contains(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// One `X-Forwarded-For` entry: `192.0.2.1`, `192.0.2.1:443`, `2001:db8::1`,
/// `[2001:db8::1]` or `[2001:db8::1]:443`, with optional surrounding whitespace and
/// quotes. IPv4-mapped IPv6 addresses come out as IPv4.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim().trim_matches('"');
    let ip = match entry.parse::<IpAddr>() {
        Ok(ip) => ip,
        Err(_) => match entry.parse::<SocketAddr>() {
            Ok(addr) => addr.ip(),
            Err(_) => entry
                .strip_prefix('[')?
                .strip_suffix(']')?
                .parse::<std::net::Ipv6Addr>()
                .ok()?
                .into(),
        },
    };
    Some(ip.to_canonical())
}

/// Parses a `--trusted-proxy` value: a network (`10.0.0.0/8`, `2001:db8::/32`) or
/// one address (`192.0.2.10`, a /32 or /128).
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("'{s}' is not an address or a network (10.0.0.0/8, 2001:db8::/32)"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| parse_net(n).unwrap()).collect())
    }

    #[test]
    fn the_walk() {
        let lan = proxies(&["127.0.0.1", "10.0.0.0/8", "2001:db8:1::/48"]);
        let none = TrustedProxies::default();
        // (trusted, peer, field lines, client)
        let table: &[(&TrustedProxies, &str, &[&str], Option<&str>)] = &[
            // No proxy configured: the header is never read.
            (&none, "127.0.0.1", &["203.0.113.9"], Some("127.0.0.1")),
            (&none, "198.51.100.1", &["garbage"], Some("198.51.100.1")),
            // An untrusted peer is the client, whatever it says.
            (&lan, "198.51.100.1", &["10.1.2.3"], Some("198.51.100.1")),
            (
                &lan,
                "::ffff:198.51.100.1",
                &["10.1.2.3"],
                Some("::ffff:198.51.100.1"),
            ),
            // A trusted peer without the header is the client.
            (&lan, "127.0.0.1", &[], Some("127.0.0.1")),
            // nginx: the client's own claim, then the address nginx saw.
            (
                &lan,
                "127.0.0.1",
                &["10.9.9.9, 203.0.113.9"],
                Some("203.0.113.9"),
            ),
            (&lan, "127.0.0.1", &["203.0.113.9"], Some("203.0.113.9")),
            // Trusted hops are skipped from the right.
            (
                &lan,
                "127.0.0.1",
                &["198.51.100.3, 203.0.113.9, 10.0.0.2, 10.0.0.1"],
                Some("203.0.113.9"),
            ),
            (
                &lan,
                "::ffff:127.0.0.1",
                &["203.0.113.9 , 10.0.0.1"],
                Some("203.0.113.9"),
            ),
            // HAProxy: a field line of its own; lines are read last first.
            (
                &lan,
                "127.0.0.1",
                &["198.51.100.3", "10.0.0.2", "203.0.113.9"],
                Some("203.0.113.9"),
            ),
            (
                &lan,
                "127.0.0.1",
                &["198.51.100.3", "203.0.113.9, 10.0.0.2"],
                Some("203.0.113.9"),
            ),
            // Every entry trusted: the left-most.
            (&lan, "127.0.0.1", &["10.1.2.3, 10.0.0.1"], Some("10.1.2.3")),
            // Ports, brackets, quotes, IPv6, mapped addresses.
            (
                &lan,
                "127.0.0.1",
                &["203.0.113.9:5555"],
                Some("203.0.113.9"),
            ),
            (
                &lan,
                "127.0.0.1",
                &["[2001:db8::7]:443"],
                Some("2001:db8::7"),
            ),
            (
                &lan,
                "127.0.0.1",
                &["\"[2001:db8::7]\""],
                Some("2001:db8::7"),
            ),
            (
                &lan,
                "127.0.0.1",
                &["2001:db8::7, 2001:db8:1::5"],
                Some("2001:db8::7"),
            ),
            (
                &lan,
                "2001:db8:1::1",
                &["::ffff:203.0.113.9"],
                Some("203.0.113.9"),
            ),
            // Garbage where a trusted hop would have written an address: no client.
            (&lan, "127.0.0.1", &["unknown"], None),
            (&lan, "127.0.0.1", &["203.0.113.9, , 10.0.0.1"], None),
            (&lan, "127.0.0.1", &[""], None),
            (&lan, "127.0.0.1", &["203.0.113.9, fe80::1%eth0"], None),
            // Garbage left of the client is never read.
            (
                &lan,
                "127.0.0.1",
                &["unknown, garbage, 203.0.113.9"],
                Some("203.0.113.9"),
            ),
        ];
        for (trusted, peer, lines, client) in table {
            let got = trusted.client(ip(peer), lines.iter().copied());
            assert_eq!(got, client.map(ip), "peer {peer}, lines {lines:?}");
        }
    }

    #[test]
    fn trusted_proxy_values() {
        assert_eq!(parse_net("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(
            parse_net(" 192.0.2.10 ").unwrap().to_string(),
            "192.0.2.10/32"
        );
        assert_eq!(parse_net("::1").unwrap().to_string(), "::1/128");
        for bad in ["", "10.0.0.0/33", "example.com", "10.0.0.0/8,10.1.0.0/16"] {
            assert!(parse_net(bad).is_err(), "{bad}");
        }
        assert!(proxies(&["127.0.0.0/8"]).contains(ip("::ffff:127.0.0.9")));
        assert!(!proxies(&["::1"]).contains(ip("127.0.0.1")));
    }

    proptest::proptest! {
        /// Whatever the header, the walk ends, and its client is the peer or an
        /// address written in the header.
        #[test]
        fn any_header_gives_the_peer_or_one_of_its_addresses(
            lines in proptest::collection::vec("[0-9a-f:.\\[\\], \"%]{0,48}", 0..4),
            peer_trusted in proptest::bool::ANY,
        ) {
            let trusted = proxies(&["127.0.0.1", "10.0.0.0/8"]);
            let peer = if peer_trusted { ip("127.0.0.1") } else { ip("198.51.100.1") };
            let got = trusted.client(peer, lines.iter().map(String::as_str));
            if let Some(client) = got {
                let written = lines
                    .iter()
                    .flat_map(|l| l.split(','))
                    .filter_map(parse_entry)
                    .any(|a| a == client);
                proptest::prop_assert!(client == peer || written, "{client} from {lines:?}");
            } else {
                proptest::prop_assert!(peer_trusted);
            }
        }

        #[test]
        fn entries_never_panic(entry in "\\PC{0,64}") {
            let _ = parse_entry(&entry);
            let _ = parse_net(&entry);
        }
    }
}
