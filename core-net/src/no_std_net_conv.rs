//! Conversions to and from `no-std-net` 0.6, for crates still on it.

/// Converts a `core::net` value into its `no-std-net` twin.
pub fn to_no_std_net(addr: core::net::SocketAddr) -> no_std_net::SocketAddr {
    match addr {
        core::net::SocketAddr::V4(v4) => no_std_net::SocketAddr::V4(no_std_net::SocketAddrV4::new(
            no_std_net::Ipv4Addr::from(v4.ip().octets()),
            v4.port(),
        )),
        core::net::SocketAddr::V6(v6) => no_std_net::SocketAddr::V6(no_std_net::SocketAddrV6::new(
            no_std_net::Ipv6Addr::from(v6.ip().octets()),
            v6.port(),
            v6.flowinfo(),
            v6.scope_id(),
        )),
    }
}

/// Converts a `no-std-net` socket address into `core::net`.
pub fn from_no_std_net(addr: no_std_net::SocketAddr) -> core::net::SocketAddr {
    match addr {
        no_std_net::SocketAddr::V4(v4) => core::net::SocketAddr::V4(core::net::SocketAddrV4::new(
            core::net::Ipv4Addr::from(v4.ip().octets()),
            v4.port(),
        )),
        no_std_net::SocketAddr::V6(v6) => core::net::SocketAddr::V6(core::net::SocketAddrV6::new(
            core::net::Ipv6Addr::from(v6.ip().octets()),
            v6.port(),
            v6.flowinfo(),
            v6.scope_id(),
        )),
    }
}

/// Converts an IP address into its `no-std-net` twin.
pub fn ip_to_no_std_net(ip: core::net::IpAddr) -> no_std_net::IpAddr {
    match ip {
        core::net::IpAddr::V4(v4) => no_std_net::IpAddr::V4(v4.octets().into()),
        core::net::IpAddr::V6(v6) => no_std_net::IpAddr::V6(v6.octets().into()),
    }
}

/// Converts a `no-std-net` IP address into `core::net`.
pub fn ip_from_no_std_net(ip: no_std_net::IpAddr) -> core::net::IpAddr {
    match ip {
        no_std_net::IpAddr::V4(v4) => core::net::IpAddr::V4(v4.octets().into()),
        no_std_net::IpAddr::V6(v6) => core::net::IpAddr::V6(v6.octets().into()),
    }
}
