//! Buffered reading over any [`Read`] stream, in a buffer the caller sizes.
//!
//! Line protocols (HTTP/1.1 headers, SMTP, a chunked body's size lines, a text
//! command server) read up to a delimiter; a byte stream returns whatever arrived.
//! [`BufReader`] keeps what was read past the delimiter for the next call, with no
//! allocation: the caller lends it the buffer (`&mut [u8]`), so firmware sizes it
//! to its longest line.
//!
//! ```
//! use portnet::buf::BufReader;
//! use portnet::{Read, Write, WriteExt};
//!
//! /// Answers every line of `conn` with its length.
//! async fn serve<C: Read + Write + Unpin>(conn: C) -> Result<(), C::Error> {
//!     let mut storage = [0u8; 256];
//!     let mut lines = BufReader::new(conn, &mut storage);
//!     let mut line = [0u8; 128];
//!     let mut reply = [0u8; 16];
//!     loop {
//!         let n = lines.read_line(&mut line).await?;
//!         if n == 0 {
//!             return Ok(()); // end of stream
//!         }
//!         lines.write_fmt(&mut reply, format_args!("{n}\n")).await?;
//!     }
//! }
//! ```

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

use crate::{ErrorKind, ErrorType, Read, Write};

/// A [`Read`] stream with a read-ahead buffer borrowed from the caller.
///
/// It is itself a [`Read`] (buffered bytes first) and passes [`Write`] through to
/// the stream unbuffered, so a request/response protocol keeps one object.
pub struct BufReader<'b, R> {
    inner: R,
    buf: &'b mut [u8],
    /// Start of the bytes not yet consumed.
    pos: usize,
    /// End of the bytes read from the stream.
    filled: usize,
}

impl<R> fmt::Debug for BufReader<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufReader")
            .field("capacity", &self.buf.len())
            .field("buffered", &(self.filled - self.pos))
            .finish_non_exhaustive()
    }
}

impl<'b, R> BufReader<'b, R> {
    /// Wraps `inner`, reading ahead into `buf`. An empty `buf` makes every
    /// `fill_buf` fail with kind `InvalidInput`.
    pub fn new(inner: R, buf: &'b mut [u8]) -> Self {
        Self {
            inner,
            buf,
            pos: 0,
            filled: 0,
        }
    }

    /// The bytes read ahead and not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// Marks the first `amount` buffered bytes as used (at most what is buffered).
    pub fn consume(&mut self, amount: usize) {
        self.pos = self.filled.min(self.pos.saturating_add(amount));
    }

    /// The stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The stream. Reading from it directly skips the buffered bytes.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The stream and the buffered bytes not yet consumed.
    pub fn into_parts(self) -> (R, &'b [u8]) {
        let Self {
            inner,
            buf,
            pos,
            filled,
        } = self;
        (inner, &buf[pos..filled])
    }
}

impl<'b, R: Read + Unpin> BufReader<'b, R> {
    /// Returns the buffered bytes, reading from the stream first when none are
    /// buffered. An empty slice means end of stream.
    ///
    /// The contract of [`Read::poll_read`] applies: `Pending` after registering the
    /// waker.
    pub fn poll_fill_buf(&mut self, cx: &mut Context<'_>) -> Poll<Result<&[u8], R::Error>> {
        if self.pos == self.filled {
            if self.buf.is_empty() {
                return Poll::Ready(Err(ErrorKind::InvalidInput.into()));
            }
            let n = match Pin::new(&mut self.inner).poll_read(cx, self.buf) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(n)) => n.min(self.buf.len()),
            };
            self.pos = 0;
            self.filled = n;
        }
        Poll::Ready(Ok(&self.buf[self.pos..self.filled]))
    }

    /// Returns the buffered bytes, reading from the stream when none are buffered;
    /// empty at end of stream. Call [`BufReader::consume`] with what was used.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: bytes read while the future was pending stay buffered.
    pub fn fill_buf(&mut self) -> FillBufFuture<'_, 'b, R> {
        FillBufFuture { reader: Some(self) }
    }

    /// Reads up to and including `delimiter` into `out`; resolves to the count.
    ///
    /// `0` means end of stream before any byte; a final piece without the
    /// delimiter is returned as it is (check its last byte). A piece longer than
    /// `out` fails with kind `OutOfResources`, and the bytes of it read so far are
    /// consumed: the stream is then in the middle of that piece.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: bytes copied into `out` before the future is dropped are
    /// consumed from the buffer, and their count is lost.
    pub fn read_until<'a>(
        &'a mut self,
        delimiter: u8,
        out: &'a mut [u8],
    ) -> ReadUntilFuture<'a, 'b, R> {
        ReadUntilFuture {
            reader: self,
            delimiter,
            out,
            len: 0,
        }
    }

    /// Reads one line, up to and including `\n`, into `out`; as
    /// [`BufReader::read_until`] with `b'\n'`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe, as [`BufReader::read_until`].
    pub fn read_line<'a>(&'a mut self, out: &'a mut [u8]) -> ReadUntilFuture<'a, 'b, R> {
        self.read_until(b'\n', out)
    }
}

impl<R: ErrorType> ErrorType for BufReader<'_, R> {
    type Error = R::Error;
}

impl<R: Read + Unpin> Read for BufReader<'_, R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let this = self.get_mut();
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // A read at least as large as the buffer bypasses it: no copy twice.
        if this.pos == this.filled && out.len() >= this.buf.len() {
            return Pin::new(&mut this.inner).poll_read(cx, out);
        }
        let available = match this.poll_fill_buf(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(available)) => available,
        };
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        this.consume(n);
        Poll::Ready(Ok(n))
    }
}

impl<R: Write + Unpin> Write for BufReader<'_, R> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

/// Future of [`BufReader::fill_buf`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct FillBufFuture<'a, 'b, R> {
    /// Taken when the future completes, so the returned slice can borrow the
    /// reader for the future's whole lifetime.
    reader: Option<&'a mut BufReader<'b, R>>,
}

impl<'a, R: Read + Unpin> Future for FillBufFuture<'a, '_, R> {
    type Output = Result<&'a [u8], R::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let Some(reader) = this.reader.take() else {
            // Polled after completion: answer as a stream at rest would, empty.
            return Poll::Ready(Ok(&[]));
        };
        match reader.poll_fill_buf(cx) {
            Poll::Pending => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(_)) => {
                return Poll::Ready(Ok(&reader.buf[reader.pos..reader.filled]));
            }
        }
        this.reader = Some(reader);
        Poll::Pending
    }
}

/// Future of [`BufReader::read_until`] and [`BufReader::read_line`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct ReadUntilFuture<'a, 'b, R> {
    reader: &'a mut BufReader<'b, R>,
    delimiter: u8,
    out: &'a mut [u8],
    len: usize,
}

impl<R: Read + Unpin> Future for ReadUntilFuture<'_, '_, R> {
    type Output = Result<usize, R::Error>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let available = match this.reader.poll_fill_buf(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(available)) => available,
            };
            if available.is_empty() {
                return Poll::Ready(Ok(this.len));
            }
            let (take, done) = match available.iter().position(|&b| b == this.delimiter) {
                Some(at) => (at + 1, true),
                None => (available.len(), false),
            };
            let room = this.out.len() - this.len;
            let copied = take.min(room);
            this.out[this.len..this.len + copied].copy_from_slice(&available[..copied]);
            this.len += copied;
            this.reader.consume(copied);
            if copied < take {
                return Poll::Ready(Err(ErrorKind::OutOfResources.into()));
            }
            if done {
                return Poll::Ready(Ok(this.len));
            }
        }
    }
}
