#![doc = include_str!("../README.md")]

use core::future::Future;
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use core::time::Duration;
use std::io;

use portnet::{
    AddrFamily, Clock, Dns, ErrorKind, ErrorType, Instant, ListenOptions, Read, SocketOption,
    SocketOptionName, SocketOptions, TcpConnect, TcpListen, TcpListener, TcpStream, UdpBind,
    UdpSocket, Write,
};
use portnet_os::Kind;
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};

/// The tokio stack. Cheap to create; every value shares the OS stack, and each has
/// its own clock epoch.
#[derive(Debug, Clone, Copy)]
pub struct Tokio {
    epoch: tokio::time::Instant,
}

impl Tokio {
    /// A stack on the current tokio runtime's reactor; its clock starts now.
    pub fn new() -> Self {
        Self {
            epoch: tokio::time::Instant::now(),
        }
    }
}

impl Default for Tokio {
    fn default() -> Self {
        Self::new()
    }
}

use portnet_os::{check_remote, error};

impl ErrorType for Tokio {
    type Error = io::Error;
}

impl TcpConnect for Tokio {
    type Connection<'a> = Connection;

    async fn connect(&self, remote: SocketAddr) -> io::Result<Connection> {
        check_remote(remote)?;
        let stream = tokio::net::TcpStream::connect(remote).await?;
        Ok(Connection::new(stream))
    }
}

impl TcpListen for Tokio {
    type Connection<'a> = Connection;
    type Listener<'a> = Listener;

    async fn listen_with(&self, local: SocketAddr, options: ListenOptions) -> io::Result<Listener> {
        let listener = tokio::net::TcpListener::from_std(portnet_os::listener(local, options)?)?;
        Ok(Listener { inner: listener })
    }
}

/// A TCP connection of the [`Tokio`] stack.
#[derive(Debug)]
pub struct Connection {
    inner: tokio::net::TcpStream,
    write_closed: bool,
}

impl Connection {
    fn new(inner: tokio::net::TcpStream) -> Self {
        Self {
            inner,
            write_closed: false,
        }
    }

    /// Wraps a tokio stream, for code that opened it itself.
    pub fn from_tokio(inner: tokio::net::TcpStream) -> Self {
        Self::new(inner)
    }

    /// The tokio stream inside.
    pub fn into_tokio(self) -> tokio::net::TcpStream {
        self.inner
    }
}

fn poll_read_tokio<R: AsyncRead + Unpin>(
    reader: &mut R,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let mut read_buf = ReadBuf::new(buf);
    ready!(Pin::new(reader).poll_read(cx, &mut read_buf))?;
    Poll::Ready(Ok(read_buf.filled().len()))
}

fn poll_write_tokio<W: AsyncWrite + Unpin>(
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

fn poll_close_tokio<W: AsyncWrite + Unpin>(
    writer: &mut W,
    write_closed: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    if *write_closed {
        return Poll::Ready(Ok(()));
    }
    ready!(Pin::new(writer).poll_shutdown(cx))?;
    *write_closed = true;
    Poll::Ready(Ok(()))
}

impl ErrorType for Connection {
    type Error = io::Error;
}

// `#[inline]` on the hot poll methods: they are not generic, so without it every
// read and write through the helper futures of another crate is an outlined call
// (one per poll; measured with `--only cpu`, docs/benchmarks.md).
impl Read for Connection {
    #[inline]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read_tokio(&mut self.get_mut().inner, cx, buf)
    }
}

impl Write for Connection {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        poll_write_tokio(&mut this.inner, this.write_closed, cx, buf)
    }

    #[inline]
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        poll_close_tokio(&mut this.inner, &mut this.write_closed, cx)
    }
}

impl TcpStream for Connection {
    type ReadHalf<'a> = ReadHalf<'a>;
    type WriteHalf<'a> = WriteHalf<'a>;

    fn split(&mut self) -> (ReadHalf<'_>, WriteHalf<'_>) {
        let write_closed = &mut self.write_closed;
        let (read, write) = self.inner.split();
        (
            ReadHalf { inner: read },
            WriteHalf {
                inner: write,
                write_closed,
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
    inner: tokio::net::tcp::ReadHalf<'a>,
}

/// The write half of a [`Connection`].
#[derive(Debug)]
pub struct WriteHalf<'a> {
    inner: tokio::net::tcp::WriteHalf<'a>,
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
        poll_read_tokio(&mut self.get_mut().inner, cx, buf)
    }
}

impl Write for WriteHalf<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        poll_write_tokio(&mut this.inner, *this.write_closed, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        poll_close_tokio(&mut this.inner, this.write_closed, cx)
    }
}

/// A TCP listener of the [`Tokio`] stack.
#[derive(Debug)]
pub struct Listener {
    inner: tokio::net::TcpListener,
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

impl UdpBind for Tokio {
    type Socket<'a> = Datagram;

    async fn bind(&self, local: SocketAddr) -> io::Result<Datagram> {
        let socket = tokio::net::UdpSocket::bind(local).await?;
        Ok(Datagram {
            inner: socket,
            peer: None,
        })
    }
}

/// A UDP socket of the [`Tokio`] stack.
#[derive(Debug)]
pub struct Datagram {
    inner: tokio::net::UdpSocket,
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
        let sent = ready!(self.inner.poll_send_to(cx, buf, remote))?;
        // The kernel sends a datagram whole or fails; anything else is a broken OS.
        if sent != buf.len() {
            return Poll::Ready(Err(error(ErrorKind::Other)));
        }
        Poll::Ready(Ok(()))
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        loop {
            ready!(self.inner.poll_recv_ready(cx))?;
            let received = self.inner.try_io(Interest::READABLE, || {
                portnet_os::recv_from_truncating(&self.inner, buf)
            });
            match received {
                Ok(datagram) => return Poll::Ready(Ok(datagram)),
                // Readiness was stale; `poll_recv_ready` registers the waker again.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Poll::Ready(Err(e)),
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
        self.inner.local_addr()
    }
}

impl Dns for Tokio {
    async fn resolve(&self, host: &str, family: AddrFamily) -> io::Result<IpAddr> {
        if let Some(ip) = portnet_os::resolve_locally(host, family)? {
            return Ok(ip);
        }
        let addrs = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|_| error(ErrorKind::NameNotResolved))?;
        portnet_os::pick_address(addrs.map(|addr| addr.ip()), family)
    }

    async fn resolve_all(
        &self,
        host: &str,
        family: AddrFamily,
        out: &mut [IpAddr],
    ) -> io::Result<usize> {
        if let Some(ip) = portnet_os::resolve_locally(host, family)? {
            return portnet_os::fill_addresses([ip], family, out);
        }
        let addrs = tokio::net::lookup_host((host, 0))
            .await
            .map_err(|_| error(ErrorKind::NameNotResolved))?;
        portnet_os::fill_addresses(addrs.map(|addr| addr.ip()), family, out)
    }
}

impl Clock for Tokio {
    fn now(&self) -> Instant {
        let micros = self.epoch.elapsed().as_micros();
        Instant::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        // A deadline already past completes on the first poll (the contract);
        // tokio's `Sleep` would wait for its timer driver's next turn.
        let past = deadline <= self.now();
        let deadline = self
            .epoch
            .checked_add(Duration::from_micros(deadline.as_micros()))
            // Beyond tokio's range: a day is "never" for every caller we know of,
            // and tokio re-arms long timers itself.
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(86_400 * 365));
        let sleep = (!past).then(|| tokio::time::sleep_until(deadline));
        async move {
            if let Some(sleep) = sleep {
                sleep.await;
            }
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

impl SocketOptions for Listener {
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

portnet::impl_send!(Tokio: TcpConnect, TcpListen, UdpBind, Dns, Clock);
portnet::impl_send!(Listener: TcpListener);
