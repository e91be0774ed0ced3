//! Stable versions of the `IpAddr` helpers that `core` still keeps unstable, with
//! the answers of the IANA IPv4 and IPv6 Special-Purpose Address Registries.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The scope of an IPv6 multicast address (RFC 7346).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Ipv6MulticastScope {
    /// Interface-local (1).
    InterfaceLocal,
    /// Link-local (2).
    LinkLocal,
    /// Realm-local (3).
    RealmLocal,
    /// Admin-local (4).
    AdminLocal,
    /// Site-local (5).
    SiteLocal,
    /// Organization-local (8).
    OrganizationLocal,
    /// Global (14).
    Global,
}

/// Address classification helpers. Each answers as the IANA special-purpose
/// registries do; see each method for the blocks it covers.
///
/// Some of these names exist as unstable inherent methods in `core`; call them as
/// `IpAddrExt::is_global(&addr)` so that code keeps meaning this trait when they
/// are stabilised.
pub trait IpAddrExt {
    /// Globally reachable, per the "Globally Reachable" column of the IANA
    /// special-purpose registries (blocks marked N/A count as not global). An IPv6
    /// multicast address is global when its scope is.
    fn is_global(&self) -> bool;
    /// In the shared address space `100.64.0.0/10` (RFC 6598). Never for IPv6.
    fn is_shared(&self) -> bool;
    /// In a benchmarking block: `198.18.0.0/15` (RFC 2544), `2001:2::/48` (RFC 5180).
    fn is_benchmarking(&self) -> bool;
    /// In a documentation block: `192.0.2.0/24`, `198.51.100.0/24`, `203.0.113.0/24`
    /// (RFC 5737), `2001:db8::/32` (RFC 3849), `3fff::/20` (RFC 9637).
    fn is_documentation(&self) -> bool;
    /// Reserved for future use: `240.0.0.0/4` except the broadcast address. Never for IPv6.
    fn is_reserved(&self) -> bool;
    /// Unicast link-local: `169.254.0.0/16`, `fe80::/10`.
    fn is_unicast_link_local(&self) -> bool;
    /// Unique local: `fc00::/7` (RFC 4193). Never for IPv4.
    fn is_unique_local(&self) -> bool;
    /// The scope of an IPv6 multicast address; `None` otherwise.
    fn multicast_scope(&self) -> Option<Ipv6MulticastScope>;
    /// A global unicast address (not multicast, and [`IpAddrExt::is_global`]).
    fn is_unicast_global(&self) -> bool;
    /// The address with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) turned into
    /// IPv4; any other address unchanged.
    fn to_canonical(&self) -> IpAddr;
}

const fn in_v4(addr: u32, prefix: u32, len: u32) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    addr & mask == prefix & mask
}

const fn in_v6(addr: u128, prefix: u128, len: u32) -> bool {
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len)
    };
    addr & mask == prefix & mask
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> u32 {
    u32::from_be_bytes([a, b, c, d])
}

impl IpAddrExt for Ipv4Addr {
    fn is_global(&self) -> bool {
        let a = self.to_bits();
        // 192.0.0.0/24 is not global, except the PCP and TURN anycast addresses.
        if a == v4(192, 0, 0, 9) || a == v4(192, 0, 0, 10) {
            return true;
        }
        !(in_v4(a, v4(0, 0, 0, 0), 8)
            || self.is_private()
            || IpAddrExt::is_shared(self)
            || self.is_loopback()
            || self.is_link_local()
            || in_v4(a, v4(192, 0, 0, 0), 24)
            || IpAddrExt::is_documentation(self)
            || IpAddrExt::is_benchmarking(self)
            || IpAddrExt::is_reserved(self)
            || self.is_broadcast())
    }
    fn is_shared(&self) -> bool {
        in_v4(self.to_bits(), v4(100, 64, 0, 0), 10)
    }
    fn is_benchmarking(&self) -> bool {
        in_v4(self.to_bits(), v4(198, 18, 0, 0), 15)
    }
    fn is_documentation(&self) -> bool {
        let a = self.to_bits();
        in_v4(a, v4(192, 0, 2, 0), 24)
            || in_v4(a, v4(198, 51, 100, 0), 24)
            || in_v4(a, v4(203, 0, 113, 0), 24)
    }
    fn is_reserved(&self) -> bool {
        in_v4(self.to_bits(), v4(240, 0, 0, 0), 4) && !self.is_broadcast()
    }
    fn is_unicast_link_local(&self) -> bool {
        self.is_link_local()
    }
    fn is_unique_local(&self) -> bool {
        false
    }
    fn multicast_scope(&self) -> Option<Ipv6MulticastScope> {
        None
    }
    fn is_unicast_global(&self) -> bool {
        !self.is_multicast() && IpAddrExt::is_global(self)
    }
    fn to_canonical(&self) -> IpAddr {
        IpAddr::V4(*self)
    }
}

const fn v6(segments: [u16; 8]) -> u128 {
    let mut bits = 0u128;
    let mut i = 0;
    while i < 8 {
        bits = (bits << 16) | segments[i] as u128;
        i += 1;
    }
    bits
}

impl IpAddrExt for Ipv6Addr {
    fn is_global(&self) -> bool {
        if let Some(scope) = IpAddrExt::multicast_scope(self) {
            return scope == Ipv6MulticastScope::Global;
        }
        if self.is_multicast() {
            // Multicast with a scope RFC 7346 does not name: not known to be global.
            return false;
        }
        let a = self.to_bits();
        let global_in_2001_23 = a == v6([0x2001, 1, 0, 0, 0, 0, 0, 1])
            || a == v6([0x2001, 1, 0, 0, 0, 0, 0, 2])
            || a == v6([0x2001, 1, 0, 0, 0, 0, 0, 3])
            || in_v6(a, v6([0x2001, 3, 0, 0, 0, 0, 0, 0]), 32)
            || in_v6(a, v6([0x2001, 4, 0x112, 0, 0, 0, 0, 0]), 48)
            || in_v6(a, v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0]), 28)
            || in_v6(a, v6([0x2001, 0x30, 0, 0, 0, 0, 0, 0]), 28);
        !(self.is_unspecified()
            || self.is_loopback()
            || in_v6(a, v6([0, 0, 0, 0, 0, 0xffff, 0, 0]), 96)
            || in_v6(a, v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0]), 48)
            || in_v6(a, v6([0x100, 0, 0, 0, 0, 0, 0, 0]), 64)
            || in_v6(a, v6([0x100, 0, 0, 1, 0, 0, 0, 0]), 64)
            || (in_v6(a, v6([0x2001, 0, 0, 0, 0, 0, 0, 0]), 23) && !global_in_2001_23)
            || in_v6(a, v6([0x2002, 0, 0, 0, 0, 0, 0, 0]), 16)
            || IpAddrExt::is_documentation(self)
            || in_v6(a, v6([0x5f00, 0, 0, 0, 0, 0, 0, 0]), 16)
            || IpAddrExt::is_unique_local(self)
            || IpAddrExt::is_unicast_link_local(self))
    }
    fn is_shared(&self) -> bool {
        false
    }
    fn is_benchmarking(&self) -> bool {
        in_v6(self.to_bits(), v6([0x2001, 2, 0, 0, 0, 0, 0, 0]), 48)
    }
    fn is_documentation(&self) -> bool {
        let a = self.to_bits();
        in_v6(a, v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0]), 32)
            || in_v6(a, v6([0x3fff, 0, 0, 0, 0, 0, 0, 0]), 20)
    }
    fn is_reserved(&self) -> bool {
        false
    }
    fn is_unicast_link_local(&self) -> bool {
        in_v6(self.to_bits(), v6([0xfe80, 0, 0, 0, 0, 0, 0, 0]), 10)
    }
    fn is_unique_local(&self) -> bool {
        in_v6(self.to_bits(), v6([0xfc00, 0, 0, 0, 0, 0, 0, 0]), 7)
    }
    fn multicast_scope(&self) -> Option<Ipv6MulticastScope> {
        if !self.is_multicast() {
            return None;
        }
        Some(match self.segments()[0] & 0x000f {
            1 => Ipv6MulticastScope::InterfaceLocal,
            2 => Ipv6MulticastScope::LinkLocal,
            3 => Ipv6MulticastScope::RealmLocal,
            4 => Ipv6MulticastScope::AdminLocal,
            5 => Ipv6MulticastScope::SiteLocal,
            8 => Ipv6MulticastScope::OrganizationLocal,
            14 => Ipv6MulticastScope::Global,
            _ => return None,
        })
    }
    fn is_unicast_global(&self) -> bool {
        !self.is_multicast() && IpAddrExt::is_global(self)
    }
    fn to_canonical(&self) -> IpAddr {
        match self.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(*self),
        }
    }
}

impl IpAddrExt for IpAddr {
    fn is_global(&self) -> bool {
        match self {
            Self::V4(a) => IpAddrExt::is_global(a),
            Self::V6(a) => IpAddrExt::is_global(a),
        }
    }
    fn is_shared(&self) -> bool {
        match self {
            Self::V4(a) => IpAddrExt::is_shared(a),
            Self::V6(a) => IpAddrExt::is_shared(a),
        }
    }
    fn is_benchmarking(&self) -> bool {
        match self {
            Self::V4(a) => IpAddrExt::is_benchmarking(a),
            Self::V6(a) => IpAddrExt::is_benchmarking(a),
        }
    }
    fn is_documentation(&self) -> bool {
        match self {
            Self::V4(a) => IpAddrExt::is_documentation(a),
            Self::V6(a) => IpAddrExt::is_documentation(a),
        }
    }
    fn is_reserved(&self) -> bool {
        match self {
            Self::V4(a) => IpAddrExt::is_reserved(a),
            Self::V6(a) => IpAddrExt::is_reserved(a),
        }
    }
    fn is_unicast_link_local(&self) -> bool {
        match self {
            Self::V4(a) => IpAddrExt::is_unicast_link_local(a),
            Self::V6(a) => IpAddrExt::is_unicast_link_local(a),
        }
    }
    fn is_unique_local(&self) -> bool {
        match self {
            Self::V4(a) => IpAddrExt::is_unique_local(a),
            Self::V6(a) => IpAddrExt::is_unique_local(a),
        }
    }
    fn multicast_scope(&self) -> Option<Ipv6MulticastScope> {
        match self {
            Self::V4(a) => IpAddrExt::multicast_scope(a),
            Self::V6(a) => IpAddrExt::multicast_scope(a),
        }
    }
    fn is_unicast_global(&self) -> bool {
        match self {
            Self::V4(a) => IpAddrExt::is_unicast_global(a),
            Self::V6(a) => IpAddrExt::is_unicast_global(a),
        }
    }
    fn to_canonical(&self) -> IpAddr {
        match self {
            Self::V4(a) => IpAddrExt::to_canonical(a),
            Self::V6(a) => IpAddrExt::to_canonical(a),
        }
    }
}
