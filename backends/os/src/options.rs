//! Socket options through `socket2`, shared by TCP and UDP sockets.

use core::net::IpAddr;
use std::io;

use portnet::{ErrorKind, SocketOption, SocketOptionName};
use socket2::{SockRef, TcpKeepalive};

/// Which protocol the socket speaks, since some options apply to one only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A TCP socket.
    Tcp,
    /// A UDP socket.
    Udp,
}

fn unsupported() -> io::Error {
    io::Error::from(ErrorKind::Unsupported)
}

fn is_ipv6(socket: &SockRef<'_>) -> io::Result<bool> {
    Ok(socket.local_addr()?.is_ipv6())
}

fn hops(value: u8) -> io::Result<u32> {
    if value == 0 {
        return Err(io::Error::from(ErrorKind::InvalidInput));
    }
    Ok(u32::from(value))
}

fn to_u8(value: u32) -> u8 {
    u8::try_from(value).unwrap_or(u8::MAX)
}

/// Sets `option` on `socket`; `Unsupported` for an option that does not apply.
pub fn set(socket: SockRef<'_>, kind: Kind, option: SocketOption) -> io::Result<()> {
    use SocketOption as O;
    match (option, kind) {
        (O::NoDelay(on), Kind::Tcp) => socket.set_tcp_nodelay(on),
        (O::KeepAlive(None), Kind::Tcp) => socket.set_keepalive(false),
        (O::KeepAlive(Some(idle)), Kind::Tcp) => {
            socket.set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))
        }
        (O::Timeout(timeout), Kind::Tcp) => socket.set_tcp_user_timeout(timeout),
        (O::Linger(linger), Kind::Tcp) => socket.set_linger(linger),
        (O::Ttl(ttl), _) => {
            if is_ipv6(&socket)? {
                socket.set_unicast_hops_v6(hops(ttl)?)
            } else {
                socket.set_ttl_v4(hops(ttl)?)
            }
        }
        (O::RecvBufferSize(size), _) => socket.set_recv_buffer_size(size),
        (O::SendBufferSize(size), _) => socket.set_send_buffer_size(size),
        (O::Broadcast(on), Kind::Udp) => socket.set_broadcast(on),
        (O::MulticastTtl(ttl), Kind::Udp) => {
            if is_ipv6(&socket)? {
                socket.set_multicast_hops_v6(u32::from(ttl))
            } else {
                socket.set_multicast_ttl_v4(u32::from(ttl))
            }
        }
        (O::MulticastLoop(on), Kind::Udp) => {
            if is_ipv6(&socket)? {
                socket.set_multicast_loop_v6(on)
            } else {
                socket.set_multicast_loop_v4(on)
            }
        }
        (O::JoinMulticast(group), Kind::Udp) => match group {
            IpAddr::V4(group) => {
                socket.join_multicast_v4(&group, &core::net::Ipv4Addr::UNSPECIFIED)
            }
            IpAddr::V6(group) => socket.join_multicast_v6(&group, 0),
        },
        (O::LeaveMulticast(group), Kind::Udp) => match group {
            IpAddr::V4(group) => {
                socket.leave_multicast_v4(&group, &core::net::Ipv4Addr::UNSPECIFIED)
            }
            IpAddr::V6(group) => socket.leave_multicast_v6(&group, 0),
        },
        _ => Err(unsupported()),
    }
}

/// Reads option `name` of `socket`; `Unsupported` for an option that does not apply.
pub fn get(socket: SockRef<'_>, kind: Kind, name: SocketOptionName) -> io::Result<SocketOption> {
    use SocketOptionName as N;
    Ok(match (name, kind) {
        (N::NoDelay, Kind::Tcp) => SocketOption::NoDelay(socket.tcp_nodelay()?),
        (N::KeepAlive, Kind::Tcp) => SocketOption::KeepAlive(if socket.keepalive()? {
            Some(socket.tcp_keepalive_time()?)
        } else {
            None
        }),
        (N::Timeout, Kind::Tcp) => SocketOption::Timeout(socket.tcp_user_timeout()?),
        (N::Linger, Kind::Tcp) => SocketOption::Linger(socket.linger()?),
        (N::Ttl, _) => SocketOption::Ttl(to_u8(if is_ipv6(&socket)? {
            socket.unicast_hops_v6()?
        } else {
            socket.ttl_v4()?
        })),
        (N::RecvBufferSize, _) => SocketOption::RecvBufferSize(socket.recv_buffer_size()?),
        (N::SendBufferSize, _) => SocketOption::SendBufferSize(socket.send_buffer_size()?),
        (N::Broadcast, Kind::Udp) => SocketOption::Broadcast(socket.broadcast()?),
        (N::MulticastTtl, Kind::Udp) => SocketOption::MulticastTtl(to_u8(if is_ipv6(&socket)? {
            socket.multicast_hops_v6()?
        } else {
            socket.multicast_ttl_v4()?
        })),
        (N::MulticastLoop, Kind::Udp) => SocketOption::MulticastLoop(if is_ipv6(&socket)? {
            socket.multicast_loop_v6()?
        } else {
            socket.multicast_loop_v4()?
        }),
        _ => return Err(unsupported()),
    })
}
