//! How the interface gets its addresses, and the stack's tunables.

#[cfg(feature = "proto-ipv6")]
use core::net::Ipv6Addr;
use core::net::{IpAddr, Ipv4Addr};
use core::time::Duration;

/// An address with its prefix length, as in `10.0.0.2/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Cidr<A> {
    /// The address.
    pub address: A,
    /// The prefix length in bits.
    pub prefix: u8,
}

impl<A> Cidr<A> {
    /// `address/prefix`.
    pub const fn new(address: A, prefix: u8) -> Self {
        Self { address, prefix }
    }
}

/// How the interface gets its IPv4 address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Ipv4Config {
    /// No IPv4 address.
    #[default]
    None,
    /// A fixed address, and a default gateway if there is one.
    Static {
        /// The interface's address.
        address: Cidr<Ipv4Addr>,
        /// The default gateway.
        gateway: Option<Ipv4Addr>,
    },
    /// An address leased by DHCPv4; DNS servers come from the lease too.
    #[cfg(feature = "dhcpv4")]
    Dhcp,
}

/// The interface's IPv6 address (static; IPv6 is optional).
#[cfg(feature = "proto-ipv6")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Ipv6Config {
    /// No IPv6 address.
    #[default]
    None,
    /// A fixed address, and a default gateway if there is one.
    Static {
        /// The interface's address.
        address: Cidr<Ipv6Addr>,
        /// The default gateway.
        gateway: Option<Ipv6Addr>,
    },
}

/// The stack's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub struct Config {
    /// IPv4 addressing.
    pub ipv4: Ipv4Config,
    /// IPv6 addressing.
    #[cfg(feature = "proto-ipv6")]
    pub ipv6: Ipv6Config,
    /// DNS servers used before (or without) DHCP, asked in turn when one does
    /// not answer. smoltcp keeps only the first `DNS_MAX_SERVER_COUNT` of them:
    /// one, unless the application enables smoltcp's `dns-max-server-count-3`
    /// feature (or sets `SMOLTCP_DNS_MAX_SERVER_COUNT`).
    pub dns_servers: [Option<IpAddr>; 3],
    /// Seeds TCP initial sequence numbers and the first ephemeral port. Give
    /// each boot a different seed (from a hardware RNG or a unique id).
    pub random_seed: u64,
    /// How many sockets a listener holds ready at once: connections that can
    /// complete before `accept` is called. At least 1.
    pub listen_backlog: usize,
    /// How long a dropped connection may take to finish closing before its
    /// socket is reset and reused.
    pub linger: Duration,
}

impl Config {
    /// A stack with a fixed IPv4 address.
    pub fn ipv4_static(address: Cidr<Ipv4Addr>, gateway: Option<Ipv4Addr>) -> Self {
        Self {
            ipv4: Ipv4Config::Static { address, gateway },
            ..Self::default()
        }
    }

    /// A stack that leases its IPv4 address by DHCP.
    #[cfg(feature = "dhcpv4")]
    pub fn dhcpv4() -> Self {
        Self {
            ipv4: Ipv4Config::Dhcp,
            ..Self::default()
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ipv4: Ipv4Config::None,
            #[cfg(feature = "proto-ipv6")]
            ipv6: Ipv6Config::None,
            dns_servers: [None; 3],
            random_seed: 0,
            listen_backlog: 2,
            linger: Duration::from_secs(30),
        }
    }
}
