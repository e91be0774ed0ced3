//! The remote peer checked on the host: the tokio backend under test, its peer
//! the tokio backend again but behind a [`RemotePeer`] whose agent runs on its
//! own thread at the other end of a Unix socket pair. The whole suite passing
//! here is what makes the remote peer trustworthy where it is needed: as the
//! peer of firmware in an emulator.

extern crate std;

use alloc::boxed::Box;
use core::cell::RefCell;
use core::future::{Future, poll_fn};
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::Poll;
use std::os::unix::net::UnixStream;
use std::sync::OnceLock;
use std::thread::JoinHandle;

use portnet_tokio::Tokio;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

use super::{LinkError, RemotePeer};
use crate::hosted::{BlackHole, loopback, open_socket_fds};
use crate::{Family, Harness};

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

type Driver = Pin<Box<dyn Future<Output = LinkError>>>;

/// The tokio backend under test; its peer is the tokio backend behind a
/// [`RemotePeer`] and an agent thread.
#[derive(Debug)]
pub struct RemotePeerHarness {
    stack: Tokio,
    peer: RemotePeer,
    runtime: tokio::runtime::Runtime,
    driver: RefCell<Option<DriverSlot>>,
    black_hole: OnceLock<Option<BlackHole>>,
    agent: Option<JoinHandle<std::io::Result<()>>>,
}

struct DriverSlot(Driver);

impl core::fmt::Debug for DriverSlot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("DriverSlot")
    }
}

impl Default for RemotePeerHarness {
    fn default() -> Self {
        let (near, far) = UnixStream::pair().expect("a Unix socket pair");
        // The agent's sockets borrow its stack for as long as they live.
        let agent_stack: &'static Tokio = Box::leak(Box::new(Tokio::new()));
        let agent = std::thread::Builder::new()
            .name("remote-peer-agent".into())
            .spawn(move || super::agent::run_unix(agent_stack, far))
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
            Box::pin(peer.driver(TokioIo(rx), TokioIo(tx)))
        };
        Self {
            stack: Tokio::new(),
            peer,
            runtime,
            driver: RefCell::new(Some(DriverSlot(driver))),
            black_hole: OnceLock::new(),
            agent: Some(agent),
        }
    }
}

impl Drop for RemotePeerHarness {
    fn drop(&mut self) {
        // Closing our end ends the agent's stream, and with it the agent.
        self.driver.get_mut().take();
        if let Some(agent) = self.agent.take() {
            let _ = agent.join();
        }
    }
}

impl Harness for RemotePeerHarness {
    type Connect = Tokio;
    type Listen = Tokio;
    type Udp = Tokio;
    type Peer = RemotePeer;
    type Clock = Tokio;

    fn connector(&self) -> Option<&Tokio> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&Tokio> {
        Some(&self.stack)
    }
    fn udp(&self) -> Option<&Tokio> {
        Some(&self.stack)
    }
    fn peer(&self) -> &RemotePeer {
        &self.peer
    }
    fn clock(&self) -> &Tokio {
        &self.stack
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        loopback(family)
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        loopback(family)
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        self.black_hole
            .get_or_init(|| BlackHole::new().ok())
            .as_ref()
            .map(|hole| hole.addr)
    }
    fn open_sockets(&self) -> Option<usize> {
        open_socket_fds()
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        let mut slot = self.driver.borrow_mut();
        let mut future = Box::pin(future);
        self.runtime.block_on(poll_fn(|cx| {
            if let Some(DriverSlot(driver)) = slot.as_mut()
                && let Poll::Ready(error) = driver.as_mut().poll(cx)
            {
                std::eprintln!("remote peer: {error}");
                *slot = None;
            }
            future.as_mut().poll(cx)
        }))
    }
}
