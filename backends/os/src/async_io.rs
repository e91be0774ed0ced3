//! A UDP socket on async-io's reactor: what the smol and async-std backends
//! share, since both run their sockets on async-io.

use core::net::SocketAddr;
use core::task::{Context, Poll, ready};
use std::io;
use std::net::UdpSocket as StdUdp;

use async_io::Async;
use portnet::{ErrorKind, ErrorType, SocketOption, SocketOptionName, SocketOptions, UdpSocket};
use socket2::SockRef;

use crate::{Kind, check_remote, connect_udp, error, recv_from_truncating};

/// A UDP socket registered with async-io's reactor: portnet's `UdpSocket` with
/// the OS backends' rules (destination checks, the full length of a truncated
/// datagram, a connected socket's peer).
#[derive(Debug)]
pub struct AsyncIoDatagram {
    inner: Async<StdUdp>,
    peer: Option<SocketAddr>,
}

impl AsyncIoDatagram {
    /// Binds a non-blocking UDP socket to `local` and registers it with the reactor.
    ///
    /// # Errors
    ///
    /// The operating system's error (`AddrInUse`, `AddrNotAvailable`, …).
    pub fn bind(local: SocketAddr) -> io::Result<Self> {
        Ok(Self {
            inner: Async::<StdUdp>::bind(local)?,
            peer: None,
        })
    }
}

impl ErrorType for AsyncIoDatagram {
    type Error = io::Error;
}

/// Retries a non-blocking socket call until it stops saying `WouldBlock`, waiting
/// for readiness with `poll_ready`, which registers the waker first: async-io's
/// readiness is edge-like, so the call after the registration is the re-check
/// that no wake is lost between the two.
fn poll_io<T>(
    cx: &mut Context<'_>,
    mut poll_ready: impl FnMut(&mut Context<'_>) -> Poll<io::Result<()>>,
    mut op: impl FnMut() -> io::Result<T>,
) -> Poll<io::Result<T>> {
    loop {
        ready!(poll_ready(cx))?;
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            result => return Poll::Ready(result),
        }
    }
}

impl UdpSocket for AsyncIoDatagram {
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<io::Result<()>> {
        check_remote(remote)?;
        let sent = ready!(poll_io(
            cx,
            |cx| self.inner.poll_writable(cx),
            || self.inner.get_ref().send_to(buf, remote)
        ))?;
        // The kernel sends a datagram whole or fails; anything else is a broken OS.
        Poll::Ready(if sent == buf.len() {
            Ok(())
        } else {
            Err(error(ErrorKind::Other))
        })
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        poll_io(
            cx,
            |cx| self.inner.poll_readable(cx),
            || recv_from_truncating(&self.inner, buf),
        )
    }

    fn connect(&mut self, remote: SocketAddr) -> io::Result<()> {
        connect_udp(&self.inner, remote)?;
        self.peer = Some(remote);
        Ok(())
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

impl SocketOptions for AsyncIoDatagram {
    fn set_option(&self, option: SocketOption) -> io::Result<()> {
        crate::set_option(SockRef::from(&self.inner), Kind::Udp, option)
    }

    fn option(&self, name: SocketOptionName) -> io::Result<SocketOption> {
        crate::get_option(SockRef::from(&self.inner), Kind::Udp, name)
    }
}
