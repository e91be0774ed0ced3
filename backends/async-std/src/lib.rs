#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use core::future::Future;
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;
use std::io;
use std::net::{Shutdown, UdpSocket as StdUdp};
use std::time::Instant as StdInstant;

use async_io::Async;
use async_std::net::{TcpListener as AsyncListener, TcpStream as AsyncStream, ToSocketAddrs};
use futures_io::{AsyncRead, AsyncWrite};
use portnet::{
    AddrFamily, Clock, Dns, ErrorKind, ErrorType, Instant, Read, SocketOption, SocketOptionName,
    SocketOptions, TcpConnect, TcpListen, TcpListener, TcpStream, UdpBind, UdpSocket, Write,
};
use portnet_os::{Kind, check_remote, error};
use socket2::SockRef;

/// The async-std stack. Cheap to create; each value has its own clock epoch.
#[derive(Debug, Clone, Copy)]
pub struct AsyncStd {
    epoch: StdInstant,
}

impl AsyncStd {
    /// A stack whose clock starts now.
    pub fn new() -> Self {
        Self {
            epoch: StdInstant::now(),
        }
    }
}

impl Default for AsyncStd {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrorType for AsyncStd {
    type Error = io::Error;
}

impl TcpConnect for AsyncStd {
    type Connection<'a> = Connection;

    async fn connect(&self, remote: SocketAddr) -> io::Result<Connection> {
        check_remote(remote)?;
        Ok(Connection::new(AsyncStream::connect(remote).await?))
    }
}

impl TcpListen for AsyncStd {
    type Connection<'a> = Connection;
    type Listener<'a> = Listener;

    async fn listen(&self, local: SocketAddr) -> io::Result<Listener> {
        Ok(Listener {
            inner: AsyncListener::bind(local).await?,
        })
    }
}

/// A TCP connection of the [`AsyncStd`] stack.
#[derive(Debug)]
pub struct Connection {
    inner: AsyncStream,
    write_closed: bool,
}

impl Connection {
    fn new(inner: AsyncStream) -> Self {
        Self {
            inner,
            write_closed: false,
        }
    }

    /// The async-std stream inside.
    pub fn into_inner(self) -> AsyncStream {
        self.inner
    }
}

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

/// Half-closes (FIN after what the kernel already holds). Idempotent.
fn close_write(stream: &AsyncStream, write_closed: &mut bool) -> io::Result<()> {
    if !*write_closed {
        stream.shutdown(Shutdown::Write)?;
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
        self.inner.local_addr()
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }

    fn abort(self) {
        portnet_os::reset_on_close(&self.inner);
        drop(self.inner);
    }
}

/// The read half of a [`Connection`].
#[derive(Debug)]
pub struct ReadHalf<'a> {
    inner: &'a AsyncStream,
}

/// The write half of a [`Connection`].
#[derive(Debug)]
pub struct WriteHalf<'a> {
    inner: &'a AsyncStream,
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

/// A TCP listener of the [`AsyncStd`] stack.
#[derive(Debug)]
pub struct Listener {
    inner: AsyncListener,
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
        self.inner.local_addr()
    }
}

impl UdpBind for AsyncStd {
    type Socket<'a> = Datagram;

    async fn bind(&self, local: SocketAddr) -> io::Result<Datagram> {
        Ok(Datagram {
            inner: Async::<StdUdp>::bind(local)?,
            peer: None,
        })
    }
}

/// A UDP socket of the [`AsyncStd`] stack (on async-io, async-std's reactor).
#[derive(Debug)]
pub struct Datagram {
    inner: Async<StdUdp>,
    peer: Option<SocketAddr>,
}

impl ErrorType for Datagram {
    type Error = io::Error;
}

impl UdpSocket for Datagram {
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<io::Result<()>> {
        check_remote(remote)?;
        loop {
            ready!(self.inner.poll_writable(cx))?;
            match self.inner.get_ref().send_to(buf, remote) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
                Ok(sent) if sent == buf.len() => return Poll::Ready(Ok(())),
                Ok(_) => return Poll::Ready(Err(error(ErrorKind::Other))),
            }
        }
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        loop {
            ready!(self.inner.poll_readable(cx))?;
            match portnet_os::recv_from_truncating(&self.inner, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(result),
            }
        }
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

impl Dns for AsyncStd {
    async fn resolve(&self, host: &str, family: AddrFamily) -> io::Result<IpAddr> {
        if let Some(ip) = portnet_os::resolve_locally(host, family)? {
            return Ok(ip);
        }
        let addrs = (host, 0)
            .to_socket_addrs()
            .await
            .map_err(|_| error(ErrorKind::NameNotResolved))?;
        portnet_os::pick_address(addrs.map(|a| a.ip()), family)
    }
}

impl Clock for AsyncStd {
    fn now(&self) -> Instant {
        Instant::from_micros(u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        let wait =
            Duration::from_micros(deadline.as_micros().saturating_sub(self.now().as_micros()));
        async_std::task::sleep(wait)
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
