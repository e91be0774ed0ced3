//! portnet streams as blocking `embedded-io` streams.

use core::fmt;

use portnet::{ReadExt, WriteExt};

use crate::{BlockOn, EmbeddedError};

/// A portnet stream as a blocking `embedded_io::{Read, Write}` stream: every call
/// runs the portnet future to completion on the executor `B`.
///
/// # Why an executor parameter
///
/// A portnet stream is asynchronous: its bytes arrive only while whatever drives
/// the stack runs (a tokio or async-io reactor, an interface poller in firmware).
/// A blocking `read` therefore has to *run* that machinery until the future is
/// ready, and only the application knows what it is. Rather than guess (and spin a
/// core on a no-op waker, which never finishes on a stack driven by the same
/// thread), the adapter takes a [`BlockOn`]: a newtype around the application's
/// executor, or [`Spin`](crate::Spin) for stacks that are driven elsewhere (from
/// interrupts or by another thread).
///
/// Use it from a thread that is not one of that executor's tasks. Blocking calls
/// have no timeout of their own: wrap the stream's reads in the executor's timeout
/// if you need one, or use the async adapter.
pub struct BlockingIo<S, B> {
    inner: S,
    executor: B,
}

impl<S, B> BlockingIo<S, B> {
    /// Wraps `inner`; every blocking call runs on `executor`.
    pub fn new(inner: S, executor: B) -> Self {
        Self { inner, executor }
    }

    /// The portnet stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The portnet stream, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the portnet stream and the executor.
    pub fn into_parts(self) -> (S, B) {
        (self.inner, self.executor)
    }
}

impl<S: portnet::Write + Unpin, B: BlockOn> BlockingIo<S, B> {
    /// Closes the write half after everything written (TCP: FIN), blocking until
    /// done.
    pub fn close(&mut self) -> Result<(), EmbeddedError<S::Error>> {
        self.executor
            .block_on(self.inner.close())
            .map_err(EmbeddedError::Stack)
    }
}

impl<S, B> fmt::Debug for BlockingIo<S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockingIo").finish_non_exhaustive()
    }
}

impl<S: portnet::ErrorType, B> embedded_io::ErrorType for BlockingIo<S, B> {
    type Error = EmbeddedError<S::Error>;
}

impl<S: portnet::Read + Unpin, B: BlockOn> embedded_io::Read for BlockingIo<S, B> {
    /// Blocks until at least one byte is there (or EOF, `Ok(0)`).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.executor
            .block_on(self.inner.read(buf))
            .map_err(EmbeddedError::Stack)
    }
}

impl<S: portnet::Write + Unpin, B: BlockOn> embedded_io::Write for BlockingIo<S, B> {
    /// Blocks until the stack takes at least one byte.
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.executor
            .block_on(self.inner.write(buf))
            .map_err(EmbeddedError::Stack)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        self.executor
            .block_on(self.inner.flush())
            .map_err(EmbeddedError::Stack)
    }
}
