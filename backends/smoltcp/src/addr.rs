//! Between `core::net` addresses and smoltcp's, in every protocol build.

use core::net::{IpAddr, SocketAddr};

use smoltcp::wire::{IpAddress, IpEndpoint};

/// smoltcp's form of `ip`, or `None` for a family this build lacks.
pub(crate) fn to_smoltcp(ip: IpAddr) -> Option<IpAddress> {
    match ip {
        IpAddr::V4(v4) => Some(IpAddress::Ipv4(v4)),
        #[cfg(feature = "proto-ipv6")]
        IpAddr::V6(v6) => Some(IpAddress::Ipv6(v6)),
        #[cfg(not(feature = "proto-ipv6"))]
        IpAddr::V6(_) => None,
    }
}

/// smoltcp's form of `addr`, or `None` for a family this build lacks.
pub(crate) fn endpoint(addr: SocketAddr) -> Option<IpEndpoint> {
    Some(IpEndpoint::new(to_smoltcp(addr.ip())?, addr.port()))
}

/// `core::net`'s form of a smoltcp address.
pub(crate) fn from_smoltcp(ip: IpAddress) -> IpAddr {
    match ip {
        IpAddress::Ipv4(v4) => IpAddr::V4(v4),
        #[cfg(feature = "proto-ipv6")]
        IpAddress::Ipv6(v6) => IpAddr::V6(v6),
    }
}

/// `core::net`'s form of a smoltcp endpoint.
pub(crate) fn socket_addr(endpoint: IpEndpoint) -> SocketAddr {
    SocketAddr::new(from_smoltcp(endpoint.addr), endpoint.port)
}
