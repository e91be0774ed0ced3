//! A TCP connection over any futures-io socket handle: the whole `TcpStream`
//! implementation of the backends whose runtime speaks futures-io (smol,
//! async-std). It needs only that `&T` reads and writes, and that `T` is a socket.

use core::net::SocketAddr;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;
use std::net::Shutdown;
use std::os::fd::AsFd;

use futures_io::{AsyncRead, AsyncWrite};
use portnet::{
    ErrorKind, ErrorType, Read, SocketOption, SocketOptionName, SocketOptions, TcpStream, Write,
};
use socket2::SockRef;

use crate::{Kind, error};

/// A TCP connection over the socket handle `T`.
#[derive(Debug)]
pub struct Stream<T> {
    inner: T,
    write_closed: bool,
}

impl<T> Stream<T> {
    /// Wraps a connected socket handle.
    pub const fn new(inner: T) -> Self {
        Self {
            inner,
            write_closed: false,
        }
    }

    /// The handle inside.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

/// The read half of a [`Stream`].
#[derive(Debug)]
pub struct ReadHalf<'a, T> {
    inner: &'a T,
}

/// The write half of a [`Stream`].
#[derive(Debug)]
pub struct WriteHalf<'a, T> {
    inner: &'a T,
    write_closed: &'a mut bool,
}

fn poll_read<T>(inner: &T, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>
where
    for<'a> &'a T: AsyncRead,
{
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let mut handle = inner;
    Pin::new(&mut handle).poll_read(cx, buf)
}

fn poll_write<T>(
    inner: &T,
    write_closed: bool,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a T: AsyncWrite,
{
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    if write_closed {
        return Poll::Ready(Err(error(ErrorKind::BrokenPipe)));
    }
    let mut handle = inner;
    Pin::new(&mut handle).poll_write(cx, buf)
}

/// Half-closes: the FIN follows what the kernel already holds (these runtimes keep
/// no user-space write buffer). Idempotent.
fn close_write<T: AsFd>(inner: &T, write_closed: &mut bool) -> Poll<io::Result<()>> {
    if !*write_closed {
        SockRef::from(inner).shutdown(Shutdown::Write)?;
        *write_closed = true;
    }
    Poll::Ready(Ok(()))
}

fn socket_addr(addr: io::Result<socket2::SockAddr>) -> io::Result<SocketAddr> {
    addr?.as_socket().ok_or_else(|| error(ErrorKind::Other))
}

impl<T> ErrorType for Stream<T> {
    type Error = io::Error;
}
impl<T> ErrorType for ReadHalf<'_, T> {
    type Error = io::Error;
}
impl<T> ErrorType for WriteHalf<'_, T> {
    type Error = io::Error;
}

impl<T: Unpin> Read for Stream<T>
where
    for<'a> &'a T: AsyncRead,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read(&self.inner, cx, buf)
    }
}

impl<T: AsFd + Unpin> Write for Stream<T>
where
    for<'a> &'a T: AsyncWrite,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write(&self.inner, self.write_closed, cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        close_write(&this.inner, &mut this.write_closed)
    }
}

impl<T> Read for ReadHalf<'_, T>
where
    for<'a> &'a T: AsyncRead,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read(self.inner, cx, buf)
    }
}

impl<T: AsFd> Write for WriteHalf<'_, T>
where
    for<'a> &'a T: AsyncWrite,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write(self.inner, *self.write_closed, cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        close_write(this.inner, this.write_closed)
    }
}

impl<T: AsFd + Unpin> TcpStream for Stream<T>
where
    for<'a> &'a T: AsyncRead + AsyncWrite,
{
    type ReadHalf<'a>
        = ReadHalf<'a, T>
    where
        T: 'a;
    type WriteHalf<'a>
        = WriteHalf<'a, T>
    where
        T: 'a;

    fn split(&mut self) -> (ReadHalf<'_, T>, WriteHalf<'_, T>) {
        // The reactors keep one waker per direction on the shared socket source, so
        // two shared handles poll independently.
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
        socket_addr(SockRef::from(&self.inner).local_addr())
    }

    fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket_addr(SockRef::from(&self.inner).peer_addr())
    }

    fn abort(self) {
        crate::reset_on_close(&self.inner);
        drop(self.inner);
    }
}

impl<T: AsFd> SocketOptions for Stream<T> {
    fn set_option(&self, option: SocketOption) -> io::Result<()> {
        crate::set_option(SockRef::from(&self.inner), Kind::Tcp, option)
    }

    fn option(&self, name: SocketOptionName) -> io::Result<SocketOption> {
        crate::get_option(SockRef::from(&self.inner), Kind::Tcp, name)
    }
}
