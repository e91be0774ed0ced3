#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use core::net::SocketAddr;
use std::io;
use std::os::fd::AsFd;

use portnet::ErrorKind;

#[cfg(feature = "async-io")]
mod async_io;
mod options;
mod stream;

#[cfg(feature = "async-io")]
pub use async_io::AsyncIoDatagram;
pub use options::{Kind, get as get_option, set as set_option};
pub use stream::{ReadHalf, Stream, WriteHalf};

/// An `io::Error` that reports `kind` as its portnet kind.
pub fn error(kind: ErrorKind) -> io::Error {
    io::Error::from(kind)
}

/// Rejects destinations no OS accepts (unspecified address, port 0) with
/// `InvalidInput`, instead of an OS-specific error.
pub fn check_remote(remote: SocketAddr) -> io::Result<()> {
    if remote.ip().is_unspecified() || remote.port() == 0 {
        return Err(error(ErrorKind::InvalidInput));
    }
    Ok(())
}

/// Receives one datagram without blocking: copies what fits into `buf` and returns
/// the datagram's **full** length (`MSG_TRUNC`) and its sender. `WouldBlock` when
/// there is none; the caller waits for readability and calls again.
pub fn recv_from_truncating(socket: impl AsFd, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
    let (_, full_len, from) = rustix::net::recvfrom(socket, buf, rustix::net::RecvFlags::TRUNC)?;
    let from = from
        .and_then(|addr| SocketAddr::try_from(addr).ok())
        .ok_or_else(|| error(ErrorKind::Other))?;
    Ok((full_len, from))
}

/// Sets a zero linger, so that closing the socket sends RST and drops unsent data
/// (what `abort` means). Failing to set it leaves a normal close (FIN).
pub fn reset_on_close(socket: impl AsFd) {
    let _ = socket2::SockRef::from(&socket).set_linger(Some(core::time::Duration::ZERO));
}

/// Connects a UDP socket to `remote`, so the kernel filters incoming datagrams and
/// reports ICMP errors.
pub fn connect_udp(socket: impl AsFd, remote: SocketAddr) -> io::Result<()> {
    check_remote(remote)?;
    socket2::SockRef::from(&socket).connect(&remote.into())
}

/// What a resolver must do with `host` before asking the system: an IP literal
/// resolves to itself (if of `family`), an invalid name fails with `InvalidInput`.
/// `Ok(None)` means: ask the system resolver.
pub fn resolve_locally(
    host: &str,
    family: portnet::AddrFamily,
) -> io::Result<Option<core::net::IpAddr>> {
    if let Ok(ip) = host.parse::<core::net::IpAddr>() {
        return if family.matches(ip) {
            Ok(Some(ip))
        } else {
            Err(error(ErrorKind::NameNotResolved))
        };
    }
    if portnet::net::DnsName::parse(host).is_err() {
        return Err(error(ErrorKind::InvalidInput));
    }
    Ok(None)
}

/// Writes a resolver's answers into `out` in the order [`portnet::Dns::resolve_all`]
/// states: those of `family`, and for `Any` the IPv4 ones first (every host that
/// reaches IPv6 reaches IPv4 on the same host, not the other way round), each
/// family in the resolver's order. `NameNotResolved` when none is of `family`,
/// `InvalidInput` for an empty `out`.
pub fn fill_addresses(
    addrs: impl IntoIterator<Item = core::net::IpAddr>,
    family: portnet::AddrFamily,
    out: &mut [core::net::IpAddr],
) -> io::Result<usize> {
    if out.is_empty() {
        return Err(error(ErrorKind::InvalidInput));
    }
    let addrs: Vec<_> = addrs.into_iter().filter(|ip| family.matches(*ip)).collect();
    let ordered = addrs
        .iter()
        .filter(|ip| ip.is_ipv4())
        .chain(addrs.iter().filter(|ip| ip.is_ipv6()));
    let mut n = 0;
    for (slot, ip) in out.iter_mut().zip(ordered) {
        *slot = *ip;
        n += 1;
    }
    if n == 0 {
        return Err(error(ErrorKind::NameNotResolved));
    }
    Ok(n)
}

/// The first address [`fill_addresses`] would write.
pub fn pick_address(
    addrs: impl IntoIterator<Item = core::net::IpAddr>,
    family: portnet::AddrFamily,
) -> io::Result<core::net::IpAddr> {
    let mut first = [core::net::IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED)];
    fill_addresses(addrs, family, &mut first)?;
    Ok(first[0])
}

/// The backlog of a listener whose options leave it to the stack: the common
/// `SOMAXCONN` of Linux before 5.4, which the kernel caps to its own limit.
pub const DEFAULT_BACKLOG: usize = 128;

/// A bound, listening, non-blocking socket for `local` with `options`' backlog,
/// ready to hand to a runtime. `SO_REUSEADDR` is set as std and tokio set it, so
/// a port in `TIME_WAIT` can be listened on again at once; a port with a live
/// listener still fails with `AddrInUse`.
pub fn listener(
    local: SocketAddr,
    options: portnet::ListenOptions,
) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let backlog = options.backlog.unwrap_or(DEFAULT_BACKLOG);
    if backlog == 0 {
        return Err(error(ErrorKind::InvalidInput));
    }
    let socket = Socket::new(
        Domain::for_address(local),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&local.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}
