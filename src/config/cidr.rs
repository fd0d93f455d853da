//! A tiny IP network type for `sip.trusted_peers`: one address ("127.0.0.1") or a CIDR
//! block ("10.1.0.0/16", "2001:db8::/32"). Small enough that a crate is not worth it.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// An IPv4 or IPv6 network: the address with its host bits cleared, and the prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

/// Why a text is not an address or CIDR block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    /// The part before the slash is not an IP address.
    #[error("{0:?} is not an IP address or CIDR block")]
    BadAddress(String),
    /// The prefix length is not a number or too long for the address family.
    #[error("{0:?} has a prefix length that is not 0..=32 (IPv4) or 0..=128 (IPv6)")]
    BadPrefix(String),
}

impl Cidr {
    /// The network covering exactly one address.
    pub fn host(address: IpAddr) -> Self {
        Cidr {
            network: address,
            prefix_len: max_prefix_len(address),
        }
    }

    /// The network address (host bits cleared).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The number of leading bits that identify the network.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// True when `address` lies inside this network. An IPv4 address never matches an
    /// IPv6 network and vice versa (no mapping of `::ffff:a.b.c.d`).
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address) {
            (IpAddr::V4(net), IpAddr::V4(a)) => {
                let mask = mask_u32(self.prefix_len);
                u32::from(net) == u32::from(a) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(a)) => {
                let mask = mask_u128(self.prefix_len);
                u128::from(net) == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

fn max_prefix_len(address: IpAddr) -> u8 {
    match address {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn mask_u32(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0)
}

fn mask_u128(prefix_len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix_len))
        .unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Parses "a.b.c.d", "a.b.c.d/n", "v6" or "v6/n"; host bits in the address are cleared
    /// so "10.1.2.3/16" means 10.1.0.0/16.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (address_text, prefix_text) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let address: IpAddr = address_text
            .trim()
            .parse()
            .map_err(|_| CidrError::BadAddress(text.to_owned()))?;
        let max = max_prefix_len(address);
        let prefix_len = match prefix_text {
            None => max,
            Some(p) => match p.trim().parse::<u8>() {
                Ok(n) if n <= max => n,
                _ => return Err(CidrError::BadPrefix(text.to_owned())),
            },
        };
        let network = match address {
            IpAddr::V4(a) => IpAddr::V4((u32::from(a) & mask_u32(prefix_len)).into()),
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & mask_u128(prefix_len)).into()),
        };
        Ok(Cidr {
            network,
            prefix_len,
        })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address")
    }

    #[test]
    fn single_address_matches_only_itself() {
        let peer: Cidr = "127.0.0.1".parse().expect("valid");
        assert!(peer.contains(ip("127.0.0.1")));
        assert!(!peer.contains(ip("127.0.0.2")));
        assert_eq!(peer.prefix_len(), 32);
    }

    #[test]
    fn block_matches_its_range_and_clears_host_bits() {
        let block: Cidr = "10.1.2.3/16".parse().expect("valid");
        assert_eq!(block.to_string(), "10.1.0.0/16");
        assert!(block.contains(ip("10.1.255.7")));
        assert!(!block.contains(ip("10.2.0.1")));
        assert!(!block.contains(ip("::1")));
    }

    #[test]
    fn zero_prefix_matches_everything_of_its_family() {
        let all: Cidr = "0.0.0.0/0".parse().expect("valid");
        assert!(all.contains(ip("192.0.2.9")));
        let v6: Cidr = "2001:db8::/32".parse().expect("valid");
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::1")));
    }

    #[test]
    fn rejects_garbage_and_long_prefixes() {
        assert!(matches!(
            "10.0.0.0/33".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            "10.0.0/8".parse::<Cidr>(),
            Err(CidrError::BadAddress(_))
        ));
        assert!(matches!(
            "::/129".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
        assert!(matches!(
            "10.0.0.0/x".parse::<Cidr>(),
            Err(CidrError::BadPrefix(_))
        ));
    }
}
