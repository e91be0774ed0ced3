//! The remote peer checked on the host: the tokio backend under test, its peer
//! the tokio backend again but behind a [`RemotePeer`] whose agent runs on its
//! own thread at the other end of a Unix socket pair. The whole suite passing
//! here is what makes the remote peer trustworthy where it is needed: as the
//! peer of firmware in an emulator.

use alloc::boxed::Box;
use core::future::{Future, poll_fn};
use core::pin::Pin;
use std::os::unix::net::UnixStream;
use std::thread::JoinHandle;

use portnet_tokio::Tokio;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use portnet_conformance::BlockOn;
use portnet_conformance::Family;
use portnet_conformance::host::loopback;
use portnet_conformance::host::{open_socket_fds, shared_black_hole};
use portnet_conformance::remote::{Addresses, RemoteHarness, RemotePeer};

/// An `embedded-io-async` byte stream over a tokio stream half: how the
/// [`RemotePeer`] driver reaches its agent on the host.
#[derive(Debug)]
pub struct TokioIo<T>(pub T);

/// The failure of a [`TokioIo`] stream.
#[derive(Debug)]
pub struct TokioIoError(pub std::io::Error);

impl core::fmt::Display for TokioIoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

impl core::error::Error for TokioIoError {}

impl embedded_io_async::Error for TokioIoError {
    fn kind(&self) -> embedded_io_async::ErrorKind {
        use embedded_io_async::ErrorKind as Io;
        match self.0.kind() {
            std::io::ErrorKind::ConnectionReset => Io::ConnectionReset,
            std::io::ErrorKind::BrokenPipe => Io::BrokenPipe,
            std::io::ErrorKind::TimedOut => Io::TimedOut,
            std::io::ErrorKind::Interrupted => Io::Interrupted,
            _ => Io::Other,
        }
    }
}

impl<T> embedded_io_async::ErrorType for TokioIo<T> {
    type Error = TokioIoError;
}

impl<T: AsyncRead + Unpin> embedded_io_async::Read for TokioIo<T> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, TokioIoError> {
        poll_fn(|cx| {
            let mut read = ReadBuf::new(buf);
            Pin::new(&mut self.0)
                .poll_read(cx, &mut read)
                .map_ok(|()| read.filled().len())
        })
        .await
        .map_err(TokioIoError)
    }
}

impl<T: AsyncWrite + Unpin> embedded_io_async::Write for TokioIo<T> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, TokioIoError> {
        self.0.write(buf).await.map_err(TokioIoError)
    }

    async fn flush(&mut self) -> Result<(), TokioIoError> {
        self.0.flush().await.map_err(TokioIoError)
    }
}

/// The tokio runtime as the harness's executor, and the agent thread it waits
/// for when dropped (after the harness's link, dropped first, ended the agent).
#[derive(Debug)]
pub struct TokioBlockOn {
    runtime: tokio::runtime::Runtime,
    agent: Option<JoinHandle<std::io::Result<()>>>,
}

impl BlockOn for TokioBlockOn {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }
}

impl Drop for TokioBlockOn {
    fn drop(&mut self) {
        if let Some(agent) = self.agent.take() {
            let _ = agent.join();
        }
    }
}

/// The tokio backend under test; its peer is the tokio backend behind a
/// [`RemotePeer`] whose agent runs on a thread of its own, at the other end of a
/// Unix socket pair.
pub type RemotePeerHarness = RemoteHarness<Tokio, Tokio, TokioBlockOn>;

/// A new [`RemotePeerHarness`]: a stack, a peer with its agent thread, and the
/// link between them.
pub fn remote_peer_harness() -> RemotePeerHarness {
    let (near, far) = UnixStream::pair().expect("a Unix socket pair");
    // The agent's sockets borrow its stack for as long as they live.
    let agent_stack: &'static Tokio = Box::leak(Box::new(Tokio::new()));
    let agent = std::thread::Builder::new()
        .name("remote-peer-agent".into())
        .spawn(move || crate::agent::run_unix(agent_stack, far))
        .expect("the agent thread");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let peer = RemotePeer::new();
    let driver = {
        let _context = runtime.enter();
        near.set_nonblocking(true).expect("a non-blocking socket");
        let near = tokio::net::UnixStream::from_std(near).expect("a tokio Unix stream");
        let (rx, tx) = near.into_split();
        peer.driver(TokioIo(rx), TokioIo(tx))
    };
    let stack: &'static Tokio = Box::leak(Box::new(Tokio::new()));
    let loopback = Addresses {
        stack_v4: Some(loopback(Family::V4)),
        peer_v4: Some(loopback(Family::V4)),
        stack_v6: Some(loopback(Family::V6)),
        peer_v6: Some(loopback(Family::V6)),
    };
    let executor = TokioBlockOn {
        runtime,
        agent: Some(agent),
    };
    let harness = RemoteHarness::new(stack, stack, peer, driver, executor, loopback)
        .with_open_sockets(|_| open_socket_fds().unwrap_or(0));
    match shared_black_hole() {
        Some(hole) => harness.with_black_hole(hole),
        None => harness,
    }
}
