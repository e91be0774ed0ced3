//! Byte-stream I/O: poll-based `Read` and `Write`, and `async` helpers over them.
//!
//! The poll methods are what a stack implements; the extension traits
//! [`ReadExt`] and [`WriteExt`] are what a library calls. Every helper returns a
//! named future type, so a library's own future is `Send` exactly when the
//! stream it uses is `Send`.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::{Error, ErrorKind, ErrorType};

/// A byte stream that can be read from, polled like `futures_io::AsyncRead`.
pub trait Read: ErrorType {
    /// Attempts to read bytes into `buf`.
    ///
    /// # Contract
    ///
    /// - It must return `Ready(Ok(n))` with `1 <= n <= buf.len()` as soon as at least
    ///   one byte is available, without waiting to fill `buf`.
    /// - `Ready(Ok(0))` for a non-empty `buf` means end of stream (the peer closed
    ///   its write half); every later call must return `Ready(Ok(0))` again.
    /// - An empty `buf` must return `Ready(Ok(0))` at once, and says nothing about EOF.
    /// - `Pending` must only be returned after the waker of `cx` has been registered
    ///   to be woken when the stream becomes readable; only the waker of the most
    ///   recent call needs to be woken.
    /// - An error must carry the kind that describes it (`ConnectionReset` after a
    ///   reset, …), and must never be a panic, whatever the peer sent.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>>;
}

/// A byte stream that can be written to, polled like `futures_io::AsyncWrite`.
pub trait Write: ErrorType {
    /// Attempts to write bytes from `buf`.
    ///
    /// # Contract
    ///
    /// - It may accept fewer bytes than given; `Ready(Ok(n))` with `n >= 1` for a
    ///   non-empty `buf` means the first `n` bytes are now the stack's to deliver.
    /// - An empty `buf` must return `Ready(Ok(0))` at once.
    /// - When the stack cannot take more (the peer does not read and the buffers are
    ///   full), it must return `Pending` after registering the waker, never buffer
    ///   without bound.
    /// - After the peer has reset the connection, it must return an error of kind
    ///   `ConnectionReset` or `BrokenPipe` (never hang, never panic). After the local
    ///   write half was closed, an error of kind `BrokenPipe` or `NotConnected`.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>>;

    /// Attempts to push buffered bytes towards the peer.
    ///
    /// # Contract
    ///
    /// `Ready(Ok(()))` means every byte accepted by earlier writes has been handed to
    /// the network layer (a stack with no user-space buffer returns it at once); it
    /// does not mean the peer has received them.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>>;

    /// Attempts to close the write half (TCP: send FIN).
    ///
    /// # Contract
    ///
    /// - The FIN must follow every byte written before; those bytes must reach the
    ///   peer (the stack keeps retransmitting them after `close` returns).
    /// - Reading stays possible after closing the write half (half-close).
    /// - Calling it again after it returned `Ready(Ok(()))` must return `Ready(Ok(()))`.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>>;
}

impl<T: ?Sized + Read + Unpin> Read for &mut T {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        Pin::new(&mut **self.get_mut()).poll_read(cx, buf)
    }
}

impl<T: ?Sized + Write + Unpin> Write for &mut T {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        Pin::new(&mut **self.get_mut()).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut **self.get_mut()).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut **self.get_mut()).poll_close(cx)
    }
}

/// The error of [`ReadExt::read_exact`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadExactError<E> {
    /// The stream ended before the buffer was full.
    UnexpectedEof,
    /// The stream failed.
    Other(E),
}

impl<E: Error> Error for ReadExactError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::UnexpectedEof => ErrorKind::UnexpectedEof,
            Self::Other(e) => e.kind(),
        }
    }
}

impl<E: fmt::Debug> fmt::Display for ReadExactError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedEof => f.write_str("stream ended before the buffer was filled"),
            Self::Other(e) => write!(f, "read failed: {e:?}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for ReadExactError<E> {}

/// `async` helpers for every [`Read`] stream.
pub trait ReadExt: Read {
    /// Reads some bytes into `buf`; resolves to the count, `0` meaning end of stream.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no byte has been
    /// taken from the stream.
    fn read<'a>(&'a mut self, buf: &'a mut [u8]) -> ReadFuture<'a, Self>
    where
        Self: Unpin,
    {
        ReadFuture { stream: self, buf }
    }

    /// Reads exactly `buf.len()` bytes.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, the bytes read so far are in a
    /// prefix of `buf` but their count is lost. Use [`ReadExt::read`] in a loop where
    /// cancellation must be possible.
    fn read_exact<'a>(&'a mut self, buf: &'a mut [u8]) -> ReadExactFuture<'a, Self>
    where
        Self: Unpin,
    {
        ReadExactFuture {
            stream: self,
            buf,
            filled: 0,
        }
    }
}

impl<T: ?Sized + Read> ReadExt for T {}

/// `async` helpers for every [`Write`] stream.
pub trait WriteExt: Write {
    /// Writes some bytes from `buf`; resolves to how many were accepted.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no byte was written.
    fn write<'a>(&'a mut self, buf: &'a [u8]) -> WriteFuture<'a, Self>
    where
        Self: Unpin,
    {
        WriteFuture { stream: self, buf }
    }

    /// Writes all of `buf`. A write that accepts zero bytes of a non-empty buffer
    /// fails with kind `WriteZero`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, a prefix of `buf` may have been
    /// written and the stream does not say how long it was.
    fn write_all<'a>(&'a mut self, buf: &'a [u8]) -> WriteAllFuture<'a, Self>
    where
        Self: Unpin,
    {
        WriteAllFuture { stream: self, buf }
    }

    /// Flushes buffered bytes towards the peer.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses nothing; the bytes stay buffered.
    fn flush(&mut self) -> FlushFuture<'_, Self>
    where
        Self: Unpin,
    {
        FlushFuture { stream: self }
    }

    /// Closes the write half after all written bytes (TCP: FIN).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future before it completes may or may not have
    /// started the close; calling `close` again finishes it.
    fn close(&mut self) -> CloseFuture<'_, Self>
    where
        Self: Unpin,
    {
        CloseFuture { stream: self }
    }
}

impl<T: ?Sized + Write> WriteExt for T {}

/// Future of [`ReadExt::read`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReadFuture<'a, S: ?Sized> {
    stream: &'a mut S,
    buf: &'a mut [u8],
}

impl<S: ?Sized + Read + Unpin> Future for ReadFuture<'_, S> {
    type Output = Result<usize, S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut *this.stream).poll_read(cx, this.buf)
    }
}

/// Future of [`ReadExt::read_exact`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReadExactFuture<'a, S: ?Sized> {
    stream: &'a mut S,
    buf: &'a mut [u8],
    filled: usize,
}

impl<S: ?Sized + Read + Unpin> Future for ReadExactFuture<'_, S> {
    type Output = Result<(), ReadExactError<S::Error>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        while this.filled < this.buf.len() {
            let rest = &mut this.buf[this.filled..];
            match Pin::new(&mut *this.stream).poll_read(cx, rest) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(ReadExactError::Other(e))),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(ReadExactError::UnexpectedEof)),
                // A stream that claims more than it was given breaks its contract; clamp
                // rather than index out of bounds.
                Poll::Ready(Ok(n)) => this.filled += n.min(rest.len()),
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Future of [`WriteExt::write`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct WriteFuture<'a, S: ?Sized> {
    stream: &'a mut S,
    buf: &'a [u8],
}

impl<S: ?Sized + Write + Unpin> Future for WriteFuture<'_, S> {
    type Output = Result<usize, S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        Pin::new(&mut *this.stream).poll_write(cx, this.buf)
    }
}

/// The error of [`WriteExt::write_all`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAllError<E> {
    /// The stream accepted zero bytes of a non-empty buffer.
    WriteZero,
    /// The stream failed.
    Other(E),
}

impl<E: Error> Error for WriteAllError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::WriteZero => ErrorKind::WriteZero,
            Self::Other(e) => e.kind(),
        }
    }
}

impl<E: fmt::Debug> fmt::Display for WriteAllError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WriteZero => f.write_str("stream accepted zero bytes"),
            Self::Other(e) => write!(f, "write failed: {e:?}"),
        }
    }
}

impl<E: fmt::Debug> core::error::Error for WriteAllError<E> {}

/// Future of [`WriteExt::write_all`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct WriteAllFuture<'a, S: ?Sized> {
    stream: &'a mut S,
    buf: &'a [u8],
}

impl<S: ?Sized + Write + Unpin> Future for WriteAllFuture<'_, S> {
    type Output = Result<(), WriteAllError<S::Error>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        while !this.buf.is_empty() {
            match Pin::new(&mut *this.stream).poll_write(cx, this.buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(WriteAllError::Other(e))),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(WriteAllError::WriteZero)),
                Poll::Ready(Ok(n)) => this.buf = &this.buf[n.min(this.buf.len())..],
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Future of [`WriteExt::flush`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct FlushFuture<'a, S: ?Sized> {
    stream: &'a mut S,
}

impl<S: ?Sized + Write + Unpin> Future for FlushFuture<'_, S> {
    type Output = Result<(), S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut *self.get_mut().stream).poll_flush(cx)
    }
}

/// Future of [`WriteExt::close`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct CloseFuture<'a, S: ?Sized> {
    stream: &'a mut S,
}

impl<S: ?Sized + Write + Unpin> Future for CloseFuture<'_, S> {
    type Output = Result<(), S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut *self.get_mut().stream).poll_close(cx)
    }
}
