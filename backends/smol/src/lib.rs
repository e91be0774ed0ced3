#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use core::future::Future;
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;
use std::io;
use std::net::{Shutdown, TcpListener as StdListener, TcpStream as StdStream, UdpSocket as StdUdp};
use std::time::Instant as StdInstant;

use async_io::{Async, Timer};
use futures_io::{AsyncRead, AsyncWrite};
use portnet::{
    AddrFamily, Clock, Dns, ErrorKind, ErrorType, Instant, Read, SocketOption, SocketOptionName,
    SocketOptions, TcpConnect, TcpListen, TcpListener, TcpStream, UdpBind, UdpSocket, Write,
};
use portnet_os::{Kind, check_remote, error};
use socket2::SockRef;

/// The smol stack. Cheap to create; every value shares the OS stack and async-io's
/// reactor, and each has its own clock epoch.
#[derive(Debug, Clone, Copy)]
pub struct Smol {
    epoch: StdInstant,
}

impl Smol {
    /// A stack whose clock starts now.
    pub fn new() -> Self {
        Self {
            epoch: StdInstant::now(),
        }
    }
}

impl Default for Smol {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrorType for Smol {
    type Error = io::Error;
}

impl TcpConnect for Smol {
    type Connection<'a> = Connection;

    async fn connect(&self, remote: SocketAddr) -> io::Result<Connection> {
        check_remote(remote)?;
        Ok(Connection::new(Async::<StdStream>::connect(remote).await?))
    }
}

impl TcpListen for Smol {
    type Connection<'a> = Connection;
    type Listener<'a> = Listener;

    async fn listen(&self, local: SocketAddr) -> io::Result<Listener> {
        Ok(Listener {
            inner: Async::<StdListener>::bind(local)?,
        })
    }
}

/// A TCP connection of the [`Smol`] stack.
#[derive(Debug)]
pub struct Connection {
    inner: Async<StdStream>,
    write_closed: bool,
}

impl Connection {
    fn new(inner: Async<StdStream>) -> Self {
        Self {
            inner,
            write_closed: false,
        }
    }

    /// The async-io stream inside.
    pub fn into_inner(self) -> Async<StdStream> {
        self.inner
    }
}

/// Reads through any async-io handle of the stream (`&Async` or `Async`).
fn poll_read_io<R: AsyncRead + Unpin>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    Pin::new(reader).poll_read(cx, buf)
}

fn poll_write_io<W: AsyncWrite + Unpin>(
    writer: &mut W,
    write_closed: bool,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    if write_closed {
        return Poll::Ready(Err(error(ErrorKind::BrokenPipe)));
    }
    Pin::new(writer).poll_write(cx, buf)
}

/// Half-closes: the FIN follows the data the kernel already has (there is no
/// user-space buffer to flush). Idempotent.
fn close_write(stream: &Async<StdStream>, write_closed: &mut bool) -> io::Result<()> {
    if !*write_closed {
        stream.get_ref().shutdown(Shutdown::Write)?;
        *write_closed = true;
    }
    Ok(())
}

impl ErrorType for Connection {
    type Error = io::Error;
}

impl Read for Connection {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read_io(&mut self.get_mut().inner, cx, buf)
    }
}

impl Write for Connection {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        poll_write_io(&mut this.inner, this.write_closed, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        Poll::Ready(close_write(&this.inner, &mut this.write_closed))
    }
}

impl TcpStream for Connection {
    type ReadHalf<'a> = ReadHalf<'a>;
    type WriteHalf<'a> = WriteHalf<'a>;

    fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        // async-io keeps one waker per direction on the shared source, so two
        // shared handles poll independently.
        let inner = &self.inner;
        (
            ReadHalf { inner },
            WriteHalf {
                inner,
                write_closed: &mut self.write_closed,
            },
        )
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }

    fn abort(self) {
        portnet_os::reset_on_close(&self.inner);
        drop(self.inner);
    }
}

/// The read half of a [`Connection`].
#[derive(Debug)]
pub struct ReadHalf<'a> {
    inner: &'a Async<StdStream>,
}

/// The write half of a [`Connection`].
#[derive(Debug)]
pub struct WriteHalf<'a> {
    inner: &'a Async<StdStream>,
    write_closed: &'a mut bool,
}

impl ErrorType for ReadHalf<'_> {
    type Error = io::Error;
}

impl ErrorType for WriteHalf<'_> {
    type Error = io::Error;
}

impl Read for ReadHalf<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read_io(&mut self.get_mut().inner, cx, buf)
    }
}

impl Write for WriteHalf<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        poll_write_io(&mut this.inner, *this.write_closed, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        Poll::Ready(close_write(this.inner, this.write_closed))
    }
}

/// A TCP listener of the [`Smol`] stack.
#[derive(Debug)]
pub struct Listener {
    inner: Async<StdListener>,
}

impl ErrorType for Listener {
    type Error = io::Error;
}

impl TcpListener for Listener {
    type Connection = Connection;

    async fn accept(&self) -> io::Result<(Connection, SocketAddr)> {
        let (stream, peer) = self.inner.accept().await?;
        Ok((Connection::new(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
}

impl UdpBind for Smol {
    type Socket<'a> = Datagram;

    async fn bind(&self, local: SocketAddr) -> io::Result<Datagram> {
        Ok(Datagram {
            inner: Async::<StdUdp>::bind(local)?,
            peer: None,
        })
    }
}

/// A UDP socket of the [`Smol`] stack.
#[derive(Debug)]
pub struct Datagram {
    inner: Async<StdUdp>,
    peer: Option<SocketAddr>,
}

impl ErrorType for Datagram {
    type Error = io::Error;
}

/// Retries a non-blocking socket call until it stops saying `WouldBlock`, waiting
/// for readiness with `poll_ready` (which registers the waker).
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

impl UdpSocket for Datagram {
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
            || portnet_os::recv_from_truncating(&self.inner, buf),
        )
    }

    fn connect(&mut self, remote: SocketAddr) -> io::Result<()> {
        portnet_os::connect_udp(&self.inner, remote)?;
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

impl Dns for Smol {
    async fn resolve(&self, host: &str, family: AddrFamily) -> io::Result<IpAddr> {
        if let Some(ip) = portnet_os::resolve_locally(host, family)? {
            return Ok(ip);
        }
        let addrs = async_net::resolve((host, 0))
            .await
            .map_err(|_| error(ErrorKind::NameNotResolved))?;
        portnet_os::pick_address(addrs.into_iter().map(|a| a.ip()), family)
    }
}

impl Clock for Smol {
    fn now(&self) -> Instant {
        Instant::from_micros(u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        let timer = match self
            .epoch
            .checked_add(Duration::from_micros(deadline.as_micros()))
        {
            Some(at) => Timer::at(at),
            None => Timer::never(),
        };
        async move {
            timer.await;
        }
    }
}

impl SocketOptions for Connection {
    fn set_option(&self, option: SocketOption) -> io::Result<()> {
        portnet_os::set_option(SockRef::from(&self.inner), Kind::Tcp, option)
    }

    fn option(&self, name: SocketOptionName) -> io::Result<SocketOption> {
        portnet_os::get_option(SockRef::from(&self.inner), Kind::Tcp, name)
    }
}

impl SocketOptions for Datagram {
    fn set_option(&self, option: SocketOption) -> io::Result<()> {
        portnet_os::set_option(SockRef::from(&self.inner), Kind::Udp, option)
    }

    fn option(&self, name: SocketOptionName) -> io::Result<SocketOption> {
        portnet_os::get_option(SockRef::from(&self.inner), Kind::Udp, name)
    }
}
