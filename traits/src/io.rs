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
    ///   one byte is available, without waiting to fill `buf` (case
    ///   `tcp.stream.partial_read`).
    /// - `Ready(Ok(0))` for a non-empty `buf` means end of stream (the peer closed
    ///   its write half); every later call must return `Ready(Ok(0))` again (case
    ///   `tcp.stream.eof_sticky`).
    /// - An empty `buf` must return `Ready(Ok(0))` at once, and says nothing about EOF
    ///   (case `tcp.stream.zero_length`).
    /// - `Pending` must only be returned after the waker of `cx` has been registered
    ///   to be woken when the stream becomes readable; only the waker of the most
    ///   recent call needs to be woken. A stack on an edge-triggered reactor (epoll
    ///   with `EPOLLET`, an interrupt) checks readiness again after registering,
    ///   since an edge between its first check and the registration wakes nobody
    ///   (cases `tcp.wake.latest_waker`, `tcp.wake.split_halves`).
    /// - An error must carry the kind that describes it (`ConnectionReset` after a
    ///   reset, …), and must never be a panic, whatever the peer sent (case
    ///   `tcp.reset.read_after_peer_reset`).
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
    /// - An empty `buf` must return `Ready(Ok(0))` at once (case `tcp.stream.zero_length`).
    /// - When the stack cannot take more (the peer does not read and the buffers are
    ///   full), it must return `Pending` after registering the waker, never buffer
    ///   without bound (cases `tcp.stream.backpressure`, `tcp.wake.write_latest_waker`).
    /// - After the peer has reset the connection, it must return an error of kind
    ///   `ConnectionReset` or `BrokenPipe` (never hang, never panic). After the local
    ///   write half was closed, an error of kind `BrokenPipe` or `NotConnected` (cases
    ///   `tcp.reset.write_after_peer_reset`, `tcp.close.write_after_close`).
    /// - `Pending` must take nothing: no byte of `buf` is the stack's until a call
    ///   returns `Ready(Ok(n))`, so a write dropped after `Pending` has sent nothing
    ///   and the caller may offer other bytes next (case `tcp.cancel.write`).
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
    ///   peer (the stack keeps retransmitting them after `close` returns) (case
    ///   `tcp.close.delivers_all_data`).
    /// - Reading stays possible after closing the write half (half-close).
    /// - Calling it again after it returned `Ready(Ok(()))` must return `Ready(Ok(()))`
    ///   (case `tcp.close.idempotent`).
    /// - On the write half of [`TcpStream::split`](crate::TcpStream::split) it must do
    ///   what it does on the whole connection (the FIN after every byte written), and
    ///   the read half must keep reading (case `tcp.close.split_write_half`).
    /// - After the peer reset the connection it must complete at once, with `Ok(())`
    ///   or an error of kind `ConnectionReset`, `BrokenPipe` or `NotConnected`, and
    ///   never hang (case `tcp.close.after_peer_reset`).
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

    /// Reads exactly `buf.len()` bytes. A stream that ends first fails with kind
    /// `UnexpectedEof`, in the stream's own error type.
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

    /// Reads until end of stream into `buf`; resolves to the count.
    ///
    /// Bounded: when the stream has more than `buf.len()` bytes it fails with kind
    /// `OutOfResources` — never a silent truncation. To tell "exactly full" from
    /// "too long" it reads one byte past a full `buf`; that byte is lost with the
    /// error.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, the bytes read so far are in a
    /// prefix of `buf` but their count is lost.
    fn read_to_end<'a>(&'a mut self, buf: &'a mut [u8]) -> ReadToEndFuture<'a, Self>
    where
        Self: Unpin,
    {
        ReadToEndFuture {
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
    /// fails with kind `WriteZero`, in the stream's own error type.
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

    /// Formats `args` into `scratch`, then writes the result whole (as
    /// [`WriteExt::write_all`]): `conn.write_fmt(&mut buf, format_args!("GET {path} HTTP/1.1\r\n"))`.
    ///
    /// Text that does not fit `scratch` fails with kind `OutOfResources` before any
    /// byte is written.
    ///
    /// The text is formatted when `write_fmt` is called, so the returned future
    /// holds no `fmt::Arguments`; but `conn.write_fmt(&mut b, format_args!(…)).await`
    /// in one expression keeps the arguments' temporaries alive across the
    /// `.await`, which makes an `async fn` that must be `Send` fail to compile. Bind
    /// the future first: `let write = conn.write_fmt(&mut b, format_args!(…)); write.await?`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`WriteExt::write_all`].
    fn write_fmt<'a>(
        &'a mut self,
        scratch: &'a mut [u8],
        args: fmt::Arguments<'_>,
    ) -> WriteFmtFuture<'a, Self>
    where
        Self: Unpin,
    {
        let formatted = format_into(scratch, args);
        WriteFmtFuture {
            inner: match formatted {
                Some(len) => Ok(WriteAllFuture {
                    stream: self,
                    buf: &scratch[..len],
                }),
                None => Err(()),
            },
        }
    }
}

/// Formats `args` into `buf`; `None` when it does not fit.
pub(crate) fn format_into(buf: &mut [u8], args: fmt::Arguments<'_>) -> Option<usize> {
    struct Cursor<'b> {
        buf: &'b mut [u8],
        len: usize,
    }
    impl fmt::Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len.checked_add(s.len()).ok_or(fmt::Error)?;
            let dest = self.buf.get_mut(self.len..end).ok_or(fmt::Error)?;
            dest.copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
    let mut cursor = Cursor { buf, len: 0 };
    fmt::write(&mut cursor, args).ok()?;
    Some(cursor.len)
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
    type Output = Result<(), S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        while this.filled < this.buf.len() {
            let rest = &mut this.buf[this.filled..];
            match Pin::new(&mut *this.stream).poll_read(cx, rest) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(ErrorKind::UnexpectedEof.into())),
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

/// Future of [`WriteExt::write_all`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct WriteAllFuture<'a, S: ?Sized> {
    stream: &'a mut S,
    buf: &'a [u8],
}

impl<S: ?Sized + Write + Unpin> Future for WriteAllFuture<'_, S> {
    type Output = Result<(), S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        while !this.buf.is_empty() {
            match Pin::new(&mut *this.stream).poll_write(cx, this.buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(ErrorKind::WriteZero.into())),
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

/// Future of [`ReadExt::read_to_end`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReadToEndFuture<'a, S: ?Sized> {
    stream: &'a mut S,
    buf: &'a mut [u8],
    filled: usize,
}

impl<S: ?Sized + Read + Unpin> Future for ReadToEndFuture<'_, S> {
    type Output = Result<usize, S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let mut probe = [0u8; 1];
            let rest = match this.buf.get_mut(this.filled..) {
                Some(rest) if !rest.is_empty() => rest,
                _ => &mut probe[..],
            };
            let room = rest.len();
            match Pin::new(&mut *this.stream).poll_read(cx, rest) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(this.filled)),
                Poll::Ready(Ok(_)) if this.filled == this.buf.len() => {
                    return Poll::Ready(Err(ErrorKind::OutOfResources.into()));
                }
                Poll::Ready(Ok(n)) => this.filled += n.min(room),
            }
        }
    }
}

/// Future of [`WriteExt::write_fmt`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct WriteFmtFuture<'a, S: ?Sized> {
    /// `Err` when the text did not fit the scratch buffer.
    inner: Result<WriteAllFuture<'a, S>, ()>,
}

impl<S: ?Sized + Write + Unpin> Future for WriteFmtFuture<'_, S> {
    type Output = Result<(), S::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.get_mut().inner {
            Ok(write) => Pin::new(write).poll(cx),
            Err(()) => Poll::Ready(Err(ErrorKind::OutOfResources.into())),
        }
    }
}

/// Copies `reader` to `writer` until end of stream through `buf`, then flushes
/// `writer` (it does not close it); resolves to the number of bytes copied.
///
/// An empty `buf` fails with kind `InvalidInput`. Errors keep their side: a
/// [`CopyError`] says whether reading or writing failed.
///
/// # Cancel safety
///
/// Not cancel safe: bytes read into `buf` and not yet written are lost with the
/// future.
pub fn copy<'a, R, W>(
    reader: &'a mut R,
    writer: &'a mut W,
    buf: &'a mut [u8],
) -> CopyFuture<'a, R, W>
where
    R: Read + Unpin + ?Sized,
    W: Write + Unpin + ?Sized,
{
    CopyFuture {
        reader,
        writer,
        buf,
        start: 0,
        end: 0,
        copied: 0,
        eof: false,
    }
}

/// The error of [`copy`]: which side failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyError<R, W> {
    /// Reading failed.
    Read(R),
    /// Writing (or the final flush) failed.
    Write(W),
}

impl<R: Error + 'static, W: Error + 'static> Error for CopyError<R, W> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Read(e) => e.kind(),
            Self::Write(e) => e.kind(),
        }
    }
}

impl<R: fmt::Display, W: fmt::Display> fmt::Display for CopyError<R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => write!(f, "copy: reading failed: {e}"),
            Self::Write(e) => write!(f, "copy: writing failed: {e}"),
        }
    }
}

impl<R: core::error::Error + 'static, W: core::error::Error + 'static> core::error::Error
    for CopyError<R, W>
{
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Read(e) => Some(e),
            Self::Write(e) => Some(e),
        }
    }
}

/// Future of [`copy`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct CopyFuture<'a, R: ?Sized, W: ?Sized> {
    reader: &'a mut R,
    writer: &'a mut W,
    buf: &'a mut [u8],
    start: usize,
    end: usize,
    copied: u64,
    eof: bool,
}

impl<R, W> Future for CopyFuture<'_, R, W>
where
    R: Read + Unpin + ?Sized,
    W: Write + Unpin + ?Sized,
{
    type Output = Result<u64, CopyError<R::Error, W::Error>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.buf.is_empty() {
            return Poll::Ready(Err(CopyError::Read(ErrorKind::InvalidInput.into())));
        }
        loop {
            if this.start < this.end {
                let pending = &this.buf[this.start..this.end];
                match Pin::new(&mut *this.writer).poll_write(cx, pending) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(CopyError::Write(e))),
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(CopyError::Write(ErrorKind::WriteZero.into())));
                    }
                    Poll::Ready(Ok(n)) => {
                        let n = n.min(pending.len());
                        this.start += n;
                        this.copied += n as u64;
                    }
                }
                continue;
            }
            if this.eof {
                return Pin::new(&mut *this.writer)
                    .poll_flush(cx)
                    .map(|flushed| flushed.map(|()| this.copied).map_err(CopyError::Write));
            }
            match Pin::new(&mut *this.reader).poll_read(cx, this.buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(CopyError::Read(e))),
                Poll::Ready(Ok(0)) => this.eof = true,
                Poll::Ready(Ok(n)) => {
                    this.start = 0;
                    this.end = n.min(this.buf.len());
                }
            }
        }
    }
}
