#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use core::net::SocketAddr;
use std::io;
use std::os::fd::AsFd;

use portnet::ErrorKind;

mod options;
mod stream;

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

/// Picks the address to use among a resolver's answers: the first of `family`, and
/// for `Any` the first IPv4 one if there is one (every stack that reaches IPv6
/// reaches IPv4 on the same host, not the other way round).
pub fn pick_address(
    addrs: impl IntoIterator<Item = core::net::IpAddr>,
    family: portnet::AddrFamily,
) -> io::Result<core::net::IpAddr> {
    let mut fallback = None;
    for ip in addrs {
        if family.matches(ip) {
            if family != portnet::AddrFamily::Any || ip.is_ipv4() {
                return Ok(ip);
            }
            fallback.get_or_insert(ip);
        }
    }
    fallback.ok_or_else(|| error(ErrorKind::NameNotResolved))
}
