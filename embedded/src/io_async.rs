//! `embedded-io-async` streams and portnet streams, each as the other.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};

use portnet::{ErrorKind, ReadExt, WriteExt};

use crate::poll::poll_once;
use crate::{EmbeddedError, PortnetError, WakePolicy};

/// A portnet stream (`portnet::Read`/`Write` + `Unpin`, for example a TCP
/// connection) as an `embedded_io_async::{Read, Write}` stream.
///
/// Each `async fn` is the portnet helper of the same name, so cancel safety is
/// portnet's: a dropped `read` takes no byte, a dropped `write` writes nothing,
/// a dropped `write_all` may have written a prefix. embedded-io has no close;
/// [`EmbeddedIo::close`] sends the FIN (portnet's `close`).
pub struct EmbeddedIo<S> {
    inner: S,
}

impl<S> EmbeddedIo<S> {
    /// Wraps a portnet stream.
    pub fn new(inner: S) -> Self {
        Self { inner }
    }

    /// The portnet stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The portnet stream, mutably (for `split`, addresses, options).
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the portnet stream.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: portnet::Write + Unpin> EmbeddedIo<S> {
    /// Closes the write half after everything written (TCP: FIN); portnet's
    /// `WriteExt::close`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: calling it again finishes a close that was started.
    pub async fn close(&mut self) -> Result<(), EmbeddedError<S::Error>> {
        self.inner.close().await.map_err(EmbeddedError::Stack)
    }
}

impl<S> fmt::Debug for EmbeddedIo<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedIo").finish_non_exhaustive()
    }
}

impl<S: portnet::ErrorType> embedded_io_async::ErrorType for EmbeddedIo<S> {
    type Error = EmbeddedError<S::Error>;
}

impl<S: portnet::Read + Unpin> embedded_io_async::Read for EmbeddedIo<S> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.inner.read(buf).await.map_err(EmbeddedError::Stack)
    }
}

impl<S: portnet::Write + Unpin> embedded_io_async::Write for EmbeddedIo<S> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.inner.write(buf).await.map_err(EmbeddedError::Stack)
    }

    async fn flush(&mut self) -> Result<(), Self::Error> {
        self.inner.flush().await.map_err(EmbeddedError::Stack)
    }
}

/// An `embedded_io_async::{Read, Write}` stream as a portnet `Read`/`Write`.
///
/// # How the `async fn`s become poll methods, and what that asks of the stream
///
/// Each `poll_read`/`poll_write`/`poll_flush` creates the stream's future, polls
/// it **once** and drops it if it is pending (see [`WakePolicy`] for why it cannot
/// be kept without an allocator or `unsafe`). That is correct when the stream's
/// futures are
///
/// - **cancel safe**: a `read` or `write` future dropped while pending has taken or
///   written nothing (embedded-io-async asks implementations to be so for `read`);
/// - **wake-persistent** (with [`WakePolicy::Registered`]): the waker a pending
///   future registered stays registered after it is dropped. If your stream's
///   futures remove it on drop, use [`WakePolicy::Rewake`], which busy-polls.
///
/// A stream whose futures make progress across several polls that a fresh future
/// does not remember (a write that sends in stages, say) does not work through this
/// adapter at all.
///
/// # What portnet has and embedded-io lacks
///
/// `poll_close` flushes and then fails with `Unsupported`: embedded-io has no
/// way to close one direction of a stream, so the adapter cannot send a FIN.
pub struct PortnetIo<S> {
    inner: S,
    policy: WakePolicy,
}

impl<S> PortnetIo<S> {
    /// Wraps an embedded-io-async stream, trusting its waker registration
    /// ([`WakePolicy::Registered`]).
    pub fn new(inner: S) -> Self {
        Self::with_policy(inner, WakePolicy::Registered)
    }

    /// Wraps an embedded-io-async stream with the given wake policy.
    pub fn with_policy(inner: S, policy: WakePolicy) -> Self {
        Self { inner, policy }
    }

    /// The embedded stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The embedded stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the embedded stream.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S> fmt::Debug for PortnetIo<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortnetIo")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

// The adapter never pins the stream: every future it creates is pinned on the
// stack of one poll call and borrows the stream only for that call.
impl<S> Unpin for PortnetIo<S> {}

impl<S: embedded_io_async::ErrorType<Error: 'static>> portnet::ErrorType for PortnetIo<S> {
    type Error = PortnetError<S::Error>;
}

/// One `read` of an embedded stream, as a poll.
pub(crate) fn poll_embedded_read<S: embedded_io_async::Read>(
    stream: &mut S,
    policy: WakePolicy,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<Result<usize, PortnetError<S::Error>>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let len = buf.len();
    poll_once(policy, cx, stream.read(buf)).map(|r| match r {
        // A stream that claims more than it was given breaks embedded-io's
        // contract; portnet callers must never see that.
        Ok(n) if n > len => Err(PortnetError::Adapter(ErrorKind::InvalidData)),
        Ok(n) => Ok(n),
        Err(e) => Err(PortnetError::Stack(e)),
    })
}

/// One `write` of an embedded stream, as a poll.
pub(crate) fn poll_embedded_write<S: embedded_io_async::Write>(
    stream: &mut S,
    policy: WakePolicy,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<Result<usize, PortnetError<S::Error>>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let len = buf.len();
    poll_once(policy, cx, stream.write(buf)).map(|r| match r {
        Ok(n) if n > len => Err(PortnetError::Adapter(ErrorKind::InvalidData)),
        Ok(n) => Ok(n),
        Err(e) => Err(PortnetError::Stack(e)),
    })
}

/// One `flush` of an embedded stream, as a poll.
pub(crate) fn poll_embedded_flush<S: embedded_io_async::Write>(
    stream: &mut S,
    policy: WakePolicy,
    cx: &mut Context<'_>,
) -> Poll<Result<(), PortnetError<S::Error>>> {
    poll_once(policy, cx, stream.flush()).map_err(PortnetError::Stack)
}

impl<S: embedded_io_async::Read<Error: 'static>> portnet::Read for PortnetIo<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let this = self.get_mut();
        poll_embedded_read(&mut this.inner, this.policy, cx, buf)
    }
}

impl<S: embedded_io_async::Write<Error: 'static>> portnet::Write for PortnetIo<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let this = self.get_mut();
        poll_embedded_write(&mut this.inner, this.policy, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        poll_embedded_flush(&mut this.inner, this.policy, cx)
    }

    /// Flushes, then fails with `Unsupported`: embedded-io cannot half-close.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        match poll_embedded_flush(&mut this.inner, this.policy, cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Err(PortnetError::Adapter(ErrorKind::Unsupported))),
            other => other,
        }
    }
}
