//! The foreign stack embassy-net under the suite: embassy-net on one port of the
//! in-memory link (through its `embassy-net-driver`, which
//! [`Port`] implements), portnet's smoltcp backend on the
//! other port as its peer, both in the link's virtual time.
//!
//! Three pieces make that work:
//! - an `embassy-time` driver over [`VirtualClock`]: embassy-net keeps time
//!   through `embassy-time`, whose driver is one global per program. This one
//!   reads and arms the virtual clock of the harness that runs on the calling
//!   thread (set by [`EmbassyNetHarness`]), so embassy-net's retransmission
//!   timers jump with the rest of the simulation and a run stays deterministic;
//! - [`EmbassyStack`], a harness-local adapter from embassy-net's own socket API
//!   (`TcpSocket`, `UdpSocket`) to portnet's `TcpConnect`, `TcpListen` and
//!   `UdpBind`. It goes to the native API rather than through embassy-net's
//!   embedded-nal-async client, because that API has no listening sockets, no
//!   half-close and no abort, and the suite would then test embedded-nal-async
//!   instead of embassy-net;
//! - [`EmbassyNetHarness`], which runs embassy-net's `Runner`, the peer stack and
//!   the link next to each case.
//!
//! What the adapter adds, and nothing more, is the shape portnet needs: a fixed
//! pool of sockets (embassy-net sockets borrow their buffers; a pool lets a
//! connection borrow the stack shared, as portnet's connections do), a
//! listener as a set of accepting sockets, and socket polls made from embassy-net's
//! futures polled once per call (exact: their wakers live in the smoltcp
//! socket). Where embassy-net answers differently from the portnet contract, the
//! adapter passes the answer on; `docs/conformance.md` lists the results.
//!
//! Only one `embassy-time` driver may be linked into a program: a binary that
//! links this module (feature `runner`) must not link another one.

#![allow(clippy::std_instead_of_core)]

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::{Pin, pin};
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};

use embassy_net::tcp::{AcceptError, ConnectError, State, TcpSocket};
use embassy_net::udp::{BindError, PacketMetadata, SendError, UdpSocket};
use embassy_net::{IpAddress, IpEndpoint, IpListenEndpoint};
use portnet::future::{Either, join, select};
use portnet::{Clock, ErrorKind, ErrorType, Instant};
use portnet_links::{Faults, Limits, Link, Port, VirtualClock};
use portnet_smoltcp::sim::{A_V4, A_V6, B_V4, B_V6, SimStack};

use portnet_conformance::{Family, Harness};

// ---------------------------------------------------------------------------
// The embassy-time driver over the virtual clock.

std::thread_local! {
    /// The virtual clock of the harness on this thread.
    static CLOCK: RefCell<Option<VirtualClock>> = const { RefCell::new(None) };
}

/// Makes `clock` the time of embassy-net on this thread.
fn use_clock(clock: &VirtualClock) {
    CLOCK.with_borrow_mut(|current| *current = Some(clock.clone()));
}

/// embassy-time's driver: the calling thread's [`VirtualClock`], one tick per
/// microsecond (embassy-time's default tick rate, as the clock counts).
struct VirtualTimeDriver;

impl embassy_time_driver::Driver for VirtualTimeDriver {
    fn now(&self) -> u64 {
        CLOCK.with_borrow(|clock| clock.as_ref().map_or(0, |c| c.now().as_micros()))
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        CLOCK.with_borrow(|clock| match clock {
            Some(clock) => clock.wake_at(Instant::from_micros(at), waker),
            // No clock on this thread: time stands still at zero, so every
            // deadline is in the future; waking at once keeps callers polling
            // instead of sleeping forever.
            None => waker.wake_by_ref(),
        });
    }
}

const _: () = assert!(embassy_time_driver::TICK_HZ == 1_000_000);

// The macro defines the two `#[unsafe(no_mangle)]` functions through which
// embassy-time finds its driver; no unsafe operation is involved.
#[allow(unsafe_code)]
mod driver {
    embassy_time_driver::time_driver_impl!(static DRIVER: super::VirtualTimeDriver = super::VirtualTimeDriver);
}

// ---------------------------------------------------------------------------
// Errors.

/// An error of embassy-net, or of the adapter, with its portnet kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmbassyError {
    /// A read, write or flush failed (embassy-net's only I/O error is a reset).
    Io(embassy_net::tcp::Error),
    /// `TcpSocket::connect` failed.
    Connect(ConnectError),
    /// `TcpSocket::accept` (listening) failed.
    Accept(AcceptError),
    /// `UdpSocket::bind` failed.
    Bind(BindError),
    /// `UdpSocket::send_to` failed.
    Send(SendError),
    /// Every socket of the adapter's pool is in use.
    NoSocket,
    /// The socket has no address (embassy-net returned none).
    NotConnected,
    /// A failure reported by generic code over the adapter, with its kind.
    Kind(ErrorKind),
}

impl From<ErrorKind> for EmbassyError {
    fn from(kind: ErrorKind) -> Self {
        Self::Kind(kind)
    }
}

impl fmt::Display for EmbassyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "embassy-net I/O: {e:?}"),
            Self::Connect(e) => write!(f, "embassy-net connect: {e:?}"),
            Self::Accept(e) => write!(f, "embassy-net accept: {e:?}"),
            Self::Bind(e) => write!(f, "embassy-net bind: {e:?}"),
            Self::Send(e) => write!(f, "embassy-net send: {e:?}"),
            Self::NoSocket => f.write_str("no free socket in the adapter's pool"),
            Self::NotConnected => f.write_str("the socket has no address"),
            Self::Kind(kind) => write!(f, "{kind}"),
        }
    }
}

impl core::error::Error for EmbassyError {}

impl portnet::Error for EmbassyError {
    /// Each kind follows embassy-net's documentation of the variant.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Io(embassy_net::tcp::Error::ConnectionReset) => ErrorKind::ConnectionReset,
            // "The remote host rejected the connection with a RST packet."
            Self::Connect(ConnectError::ConnectionReset) => ErrorKind::ConnectionRefused,
            Self::Connect(ConnectError::TimedOut) => ErrorKind::TimedOut,
            Self::Connect(ConnectError::NoRoute) => ErrorKind::HostUnreachable,
            Self::Connect(ConnectError::InvalidState) | Self::Accept(AcceptError::InvalidState) => {
                ErrorKind::Other
            }
            Self::Accept(AcceptError::InvalidPort) => ErrorKind::InvalidInput,
            Self::Accept(AcceptError::ConnectionReset) => ErrorKind::ConnectionReset,
            Self::Bind(BindError::InvalidState) => ErrorKind::Other,
            Self::Bind(BindError::NoRoute) => ErrorKind::AddrNotAvailable,
            Self::Send(SendError::NoRoute) => ErrorKind::HostUnreachable,
            Self::Send(SendError::SocketNotBound) => ErrorKind::NotConnected,
            Self::Send(SendError::PacketTooLarge) => ErrorKind::InvalidInput,
            Self::NoSocket => ErrorKind::OutOfResources,
            Self::NotConnected => ErrorKind::NotConnected,
            Self::Kind(kind) => *kind,
        }
    }
}

// ---------------------------------------------------------------------------
// Address conversions.

fn socket_addr(endpoint: IpEndpoint) -> SocketAddr {
    let ip = match endpoint.addr {
        IpAddress::Ipv4(a) => IpAddr::V4(a),
        IpAddress::Ipv6(a) => IpAddr::V6(a),
    };
    SocketAddr::new(ip, endpoint.port)
}

fn ip_address(ip: IpAddr) -> IpAddress {
    match ip {
        IpAddr::V4(a) => IpAddress::Ipv4(a),
        IpAddr::V6(a) => IpAddress::Ipv6(a),
    }
}

fn endpoint(addr: SocketAddr) -> IpEndpoint {
    IpEndpoint::new(ip_address(addr.ip()), addr.port())
}

fn listen_endpoint(addr: SocketAddr) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: (!addr.ip().is_unspecified()).then(|| ip_address(addr.ip())),
        port: addr.port(),
    }
}

fn listen_addr(endpoint: IpListenEndpoint) -> SocketAddr {
    match endpoint.addr {
        Some(addr) => socket_addr(IpEndpoint::new(addr, endpoint.port)),
        None => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), endpoint.port),
    }
}

/// Polls a fresh future once. Exact for embassy-net's socket futures: they
/// register the waker in the smoltcp socket and keep no state of their own.
fn poll_once<F: Future>(future: F, cx: &mut Context<'_>) -> Poll<F::Output> {
    pin!(future).poll(cx)
}

// ---------------------------------------------------------------------------
// The adapter.

/// TCP sockets in the adapter's pool.
pub const TCP_SOCKETS: usize = 8;
/// Bytes of buffer each way per TCP socket.
pub const TCP_BUFFER: usize = 16 * 1024;
/// UDP sockets in the adapter's pool.
pub const UDP_SOCKETS: usize = 4;
/// Bytes of buffer each way per UDP socket.
pub const UDP_BUFFER: usize = 8 * 1024;
/// Datagrams queued each way per UDP socket.
pub const UDP_PACKETS: usize = 16;
/// Polls after which a case counts as a busy loop (a bulk transfer of the
/// suite takes about a tenth of this).
pub const POLL_LIMIT: u64 = 3_000_000;
/// Sockets a listener keeps accepting at once.
pub const LISTEN_BACKLOG: usize = 4;

fn leak_buffer(len: usize) -> &'static mut [u8] {
    Box::leak(alloc::vec![0; len].into_boxed_slice())
}

/// embassy-net's sockets as portnet's `TcpConnect`, `TcpListen` and `UdpBind`.
///
/// embassy-net sockets borrow their buffers for as long as they live, so the
/// adapter creates a fixed pool of them (buffers leaked: a harness lives as long
/// as a test case) and lends them out. A connection that is dropped closes its
/// socket (or resets it, when data it never read is left, as a kernel does) and
/// gives it back; the socket lingers in the pool until its connection has ended.
pub struct EmbassyStack {
    stack: embassy_net::Stack<'static>,
    tcp: RefCell<VecDeque<TcpSocket<'static>>>,
    udp: RefCell<Vec<UdpSocket<'static>>>,
    next_port: Cell<u16>,
}

impl fmt::Debug for EmbassyStack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyStack")
            .field("idle_tcp", &self.tcp.borrow().len())
            .field("idle_udp", &self.udp.borrow().len())
            .finish()
    }
}

/// Whether a pooled TCP socket is free for a new use: closed, with no reset
/// still to send, or in TIME-WAIT (which smoltcp lets a new use end).
fn is_free(socket: &TcpSocket<'_>) -> bool {
    match socket.state() {
        State::Closed => socket.remote_endpoint().is_none(),
        State::TimeWait => true,
        _ => false,
    }
}

impl EmbassyStack {
    /// Wraps `stack` with a pool of [`TCP_SOCKETS`] TCP and [`UDP_SOCKETS`] UDP
    /// sockets.
    pub fn new(stack: embassy_net::Stack<'static>) -> Self {
        let tcp = (0..TCP_SOCKETS)
            .map(|_| TcpSocket::new(stack, leak_buffer(TCP_BUFFER), leak_buffer(TCP_BUFFER)))
            .collect();
        let udp = (0..UDP_SOCKETS)
            .map(|_| {
                let meta = || -> &'static mut [PacketMetadata] {
                    Box::leak(alloc::vec![PacketMetadata::EMPTY; UDP_PACKETS].into_boxed_slice())
                };
                UdpSocket::new(
                    stack,
                    meta(),
                    leak_buffer(UDP_BUFFER),
                    meta(),
                    leak_buffer(UDP_BUFFER),
                )
            })
            .collect();
        Self {
            stack,
            tcp: RefCell::new(tcp),
            udp: RefCell::new(udp),
            next_port: Cell::new(50_000),
        }
    }

    /// The next port for a listener on port 0.
    fn ephemeral_port(&self) -> u16 {
        let port = self.next_port.get();
        self.next_port
            .set(if port == u16::MAX { 50_000 } else { port + 1 });
        port
    }

    /// The embassy-net stack.
    pub fn stack(&self) -> embassy_net::Stack<'static> {
        self.stack
    }

    /// Sockets lent out or still ending their connection: the leak count of the
    /// suite.
    pub fn sockets_in_use(&self) -> usize {
        let tcp = self.tcp.borrow();
        let idle_free = tcp.iter().filter(|s| is_free(s)).count();
        (TCP_SOCKETS - idle_free) + (UDP_SOCKETS - self.udp.borrow().len())
    }

    /// Takes a free TCP socket, the one given back longest ago first.
    fn take_tcp(&self) -> Result<Pooled<'_>, EmbassyError> {
        let mut pool = self.tcp.borrow_mut();
        for socket in pool.iter_mut() {
            // Nobody reads a lingering socket any more: drop what arrives, so
            // that the peer can finish its side.
            if socket.state() != State::Closed && socket.recv_queue() > 0 {
                let _ = poll_once(
                    socket.read_with(|data| (data.len(), ())),
                    &mut Context::from_waker(Waker::noop()),
                );
            }
        }
        let index = pool
            .iter()
            .position(is_free)
            .ok_or(EmbassyError::NoSocket)?;
        let socket = pool.remove(index).ok_or(EmbassyError::NoSocket)?;
        Ok(Pooled {
            owner: self,
            socket: Some(socket),
        })
    }
}

/// A TCP socket lent out by the pool; given back on drop.
struct Pooled<'s> {
    owner: &'s EmbassyStack,
    socket: Option<TcpSocket<'static>>,
}

impl Pooled<'_> {
    fn get(&mut self) -> &mut TcpSocket<'static> {
        self.socket.as_mut().expect("a pooled socket until dropped")
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        let Some(mut socket) = self.socket.take() else {
            return;
        };
        match socket.state() {
            State::Closed | State::TimeWait => {}
            // Not connected yet, or listening: nothing to say to anyone.
            State::Listen | State::SynSent | State::SynReceived => socket.abort(),
            // Data nobody will read: reset, as a kernel does on close.
            _ if socket.recv_queue() > 0 => socket.abort(),
            // A FIN after whatever is still queued.
            _ => socket.close(),
        }
        if let Ok(mut pool) = self.owner.tcp.try_borrow_mut() {
            pool.push_back(socket);
        }
    }
}

impl ErrorType for EmbassyStack {
    type Error = EmbassyError;
}

impl portnet::TcpConnect for EmbassyStack {
    type Connection<'a> = EmbassyConnection<'a>;

    /// Takes a socket from the pool and runs `TcpSocket::connect`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the attempt and gives the socket back.
    async fn connect(&self, remote: SocketAddr) -> Result<EmbassyConnection<'_>, EmbassyError> {
        let mut pooled = self.take_tcp()?;
        pooled
            .get()
            .connect(endpoint(remote))
            .await
            .map_err(EmbassyError::Connect)?;
        Ok(EmbassyConnection {
            socket: RefCell::new(pooled),
        })
    }
}

/// A TCP connection of [`EmbassyStack`]: one pooled embassy-net `TcpSocket`.
pub struct EmbassyConnection<'s> {
    socket: RefCell<Pooled<'s>>,
}

impl fmt::Debug for EmbassyConnection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyConnection").finish_non_exhaustive()
    }
}

/// One half of a split [`EmbassyConnection`] (each half polls one direction, so
/// each keeps its own waker in the smoltcp socket).
pub struct EmbassyHalf<'c, 's> {
    socket: &'c RefCell<Pooled<'s>>,
}

impl fmt::Debug for EmbassyHalf<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyHalf").finish_non_exhaustive()
    }
}

fn poll_read(
    cell: &RefCell<Pooled<'_>>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<Result<usize, EmbassyError>> {
    let mut pooled = cell.borrow_mut();
    poll_once(pooled.get().read(buf), cx).map_err(EmbassyError::Io)
}

fn poll_write(
    cell: &RefCell<Pooled<'_>>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<Result<usize, EmbassyError>> {
    let mut pooled = cell.borrow_mut();
    poll_once(pooled.get().write(buf), cx).map_err(EmbassyError::Io)
}

fn poll_flush(cell: &RefCell<Pooled<'_>>, cx: &mut Context<'_>) -> Poll<Result<(), EmbassyError>> {
    let mut pooled = cell.borrow_mut();
    poll_once(pooled.get().flush(), cx).map_err(EmbassyError::Io)
}

/// `TcpSocket::close` (FIN after the queued data; idempotent in smoltcp), then
/// `flush`, which waits until the data and the FIN are acknowledged.
fn poll_close(cell: &RefCell<Pooled<'_>>, cx: &mut Context<'_>) -> Poll<Result<(), EmbassyError>> {
    let mut pooled = cell.borrow_mut();
    let socket = pooled.get();
    socket.close();
    poll_once(socket.flush(), cx).map_err(EmbassyError::Io)
}

macro_rules! stream_io {
    ($type:ty, $cell:ident => $expr:expr) => {
        impl ErrorType for $type {
            type Error = EmbassyError;
        }

        impl portnet::Read for $type {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<Result<usize, EmbassyError>> {
                let $cell = &*self;
                poll_read($expr, cx, buf)
            }
        }

        impl portnet::Write for $type {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<Result<usize, EmbassyError>> {
                let $cell = &*self;
                poll_write($expr, cx, buf)
            }
            fn poll_flush(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Result<(), EmbassyError>> {
                let $cell = &*self;
                poll_flush($expr, cx)
            }
            fn poll_close(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Result<(), EmbassyError>> {
                let $cell = &*self;
                poll_close($expr, cx)
            }
        }
    };
}

stream_io!(EmbassyConnection<'_>, this => &this.socket);
stream_io!(EmbassyHalf<'_, '_>, this => this.socket);

impl<'s> portnet::TcpStream for EmbassyConnection<'s> {
    type ReadHalf<'a>
        = EmbassyHalf<'a, 's>
    where
        Self: 'a;
    type WriteHalf<'a>
        = EmbassyHalf<'a, 's>
    where
        Self: 'a;

    fn split(&mut self) -> (EmbassyHalf<'_, 's>, EmbassyHalf<'_, 's>) {
        (
            EmbassyHalf {
                socket: &self.socket,
            },
            EmbassyHalf {
                socket: &self.socket,
            },
        )
    }

    fn local_addr(&self) -> Result<SocketAddr, EmbassyError> {
        let mut pooled = self.socket.borrow_mut();
        let local = pooled.get().local_endpoint();
        local.map(socket_addr).ok_or(EmbassyError::NotConnected)
    }

    fn peer_addr(&self) -> Result<SocketAddr, EmbassyError> {
        let mut pooled = self.socket.borrow_mut();
        let remote = pooled.get().remote_endpoint();
        remote.map(socket_addr).ok_or(EmbassyError::NotConnected)
    }

    /// `TcpSocket::abort`: the RST goes out on the runner's next poll, from the
    /// socket lingering in the pool.
    fn abort(self) {
        self.socket.borrow_mut().get().abort();
    }
}

impl portnet::TcpListen for EmbassyStack {
    type Connection<'a> = EmbassyConnection<'a>;
    type Listener<'a> = EmbassyListener<'a>;

    /// embassy-net refuses to listen on port 0 (`AcceptError::InvalidPort`) and
    /// keeps its ephemeral port allocator private, so for port 0 the adapter
    /// picks a port of its own (from 50000 upwards, per adapter).
    ///
    /// Puts [`LISTEN_BACKLOG`] pooled sockets into `TcpSocket::accept` on
    /// `local`, each through the first poll of its accept future (which starts
    /// listening and keeps no state).
    ///
    /// # Cancel safety
    ///
    /// Ready at once.
    fn listen_with(
        &self,
        local: SocketAddr,
        options: portnet::ListenOptions,
    ) -> impl Future<Output = Result<EmbassyListener<'_>, EmbassyError>> {
        let mut local = listen_endpoint(local);
        if local.port == 0 {
            local.port = self.ephemeral_port();
        }
        let listener = EmbassyListener {
            owner: self,
            local,
            backlog: options.backlog.unwrap_or(LISTEN_BACKLOG).max(1),
            sockets: RefCell::new(Vec::new()),
            arrivals: Cell::new(0),
        };
        let result = listener.replenish().map(|()| listener);
        core::future::ready(result)
    }
}

/// A listener of [`EmbassyStack`]: embassy-net has none, so this is a set of
/// sockets in `TcpSocket::accept` on one endpoint, re-armed as they are taken.
pub struct EmbassyListener<'s> {
    owner: &'s EmbassyStack,
    local: IpListenEndpoint,
    /// How many sockets wait in `accept`.
    backlog: usize,
    /// The accepting sockets, each with the order in which its connection was
    /// first seen (0: none yet).
    sockets: RefCell<Vec<(u64, Pooled<'s>)>>,
    arrivals: Cell<u64>,
}

impl fmt::Debug for EmbassyListener<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyListener")
            .field("local", &self.local)
            .field("sockets", &self.sockets.borrow().len())
            .finish()
    }
}

/// Starts `socket` listening on `local`: the first poll of `accept` does that
/// and returns `Pending`, or fails.
fn arm(socket: &mut TcpSocket<'_>, local: IpListenEndpoint) -> Result<(), EmbassyError> {
    match poll_once(
        socket.accept(local),
        &mut Context::from_waker(Waker::noop()),
    ) {
        Poll::Ready(Err(e)) => Err(EmbassyError::Accept(e)),
        _ => Ok(()),
    }
}

impl<'s> EmbassyListener<'s> {
    /// Tops the accepting sockets up to the backlog, as far as the pool allows;
    /// fails only when none is left listening.
    fn replenish(&self) -> Result<(), EmbassyError> {
        let mut sockets = self.sockets.borrow_mut();
        while sockets.len() < self.backlog {
            let Ok(mut pooled) = self.owner.take_tcp() else {
                break;
            };
            arm(pooled.get(), self.local)?;
            sockets.push((0, pooled));
        }
        if sockets.is_empty() {
            return Err(EmbassyError::NoSocket);
        }
        Ok(())
    }

    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(EmbassyConnection<'s>, SocketAddr), EmbassyError>> {
        if let Err(e) = self.replenish() {
            return Poll::Ready(Err(e));
        }
        let mut sockets = self.sockets.borrow_mut();
        let mut best: Option<(u64, usize)> = None;
        for (index, (arrival, pooled)) in sockets.iter_mut().enumerate() {
            let socket = pooled.get();
            match socket.state() {
                State::Listen | State::SynReceived => {
                    // Not established, so it cannot send: this registers `cx`'s
                    // waker for the socket's next change of state.
                    let _ = poll_once(socket.wait_write_ready(), cx);
                }
                State::Closed | State::TimeWait => {
                    // Ended before it was accepted: listen again.
                    *arrival = 0;
                    if let Err(e) = arm(socket, self.local) {
                        return Poll::Ready(Err(e));
                    }
                    let _ = poll_once(socket.wait_write_ready(), cx);
                }
                _ => {
                    if *arrival == 0 {
                        self.arrivals.set(self.arrivals.get() + 1);
                        *arrival = self.arrivals.get();
                    }
                    if best.is_none_or(|(first, _)| *arrival < first) {
                        best = Some((*arrival, index));
                    }
                }
            }
        }
        let Some((_, index)) = best else {
            return Poll::Pending;
        };
        let (_, mut pooled) = sockets.swap_remove(index);
        drop(sockets);
        let remote = pooled.get().remote_endpoint().map(socket_addr);
        let connection = EmbassyConnection {
            socket: RefCell::new(pooled),
        };
        // Keep the backlog listening; a full pool is the next accept's error.
        let _ = self.replenish();
        Poll::Ready(
            remote
                .map(|remote| (connection, remote))
                .ok_or(EmbassyError::NotConnected),
        )
    }
}

impl ErrorType for EmbassyListener<'_> {
    type Error = EmbassyError;
}

impl<'s> portnet::TcpListener for EmbassyListener<'s> {
    type Connection = EmbassyConnection<'s>;

    /// Waits until one of the accepting sockets has a connection; with several,
    /// takes the one this listener saw first.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection stays in its socket until an accept takes it.
    fn accept(
        &self,
    ) -> impl Future<Output = Result<(EmbassyConnection<'s>, SocketAddr), EmbassyError>> {
        core::future::poll_fn(move |cx| self.poll_accept(cx))
    }

    fn local_addr(&self) -> Result<SocketAddr, EmbassyError> {
        Ok(listen_addr(self.local))
    }
}

impl ErrorType for EmbassyUdp<'_> {
    type Error = EmbassyError;
}

/// A UDP socket of [`EmbassyStack`]: one pooled embassy-net `UdpSocket`.
pub struct EmbassyUdp<'s> {
    owner: &'s EmbassyStack,
    socket: Option<RefCell<UdpSocket<'static>>>,
    peer: Option<SocketAddr>,
}

impl fmt::Debug for EmbassyUdp<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyUdp")
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

impl Drop for EmbassyUdp<'_> {
    fn drop(&mut self) {
        if let Some(socket) = self.socket.take() {
            let mut socket = socket.into_inner();
            socket.close();
            if let Ok(mut pool) = self.owner.udp.try_borrow_mut() {
                pool.push(socket);
            }
        }
    }
}

impl EmbassyUdp<'_> {
    fn cell(&self) -> &RefCell<UdpSocket<'static>> {
        self.socket.as_ref().expect("a pooled socket until dropped")
    }
}

impl portnet::UdpBind for EmbassyStack {
    type Socket<'a> = EmbassyUdp<'a>;

    /// Takes a socket from the pool and runs `UdpSocket::bind`.
    ///
    /// # Cancel safety
    ///
    /// Ready at once.
    fn bind(
        &self,
        local: SocketAddr,
    ) -> impl Future<Output = Result<EmbassyUdp<'_>, EmbassyError>> {
        let result = (|| {
            let mut socket = self.udp.borrow_mut().pop().ok_or(EmbassyError::NoSocket)?;
            if let Err(e) = socket.bind(listen_endpoint(local)) {
                socket.close();
                self.udp.borrow_mut().push(socket);
                return Err(EmbassyError::Bind(e));
            }
            Ok(EmbassyUdp {
                owner: self,
                socket: Some(RefCell::new(socket)),
                peer: None,
            })
        })();
        core::future::ready(result)
    }
}

impl portnet::UdpSocket for EmbassyUdp<'_> {
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<Result<(), EmbassyError>> {
        self.cell()
            .borrow()
            .poll_send_to(buf, endpoint(remote), cx)
            .map_err(EmbassyError::Send)
    }

    /// Through `UdpSocket::recv_from_with`, which shows the whole datagram:
    /// embassy-net's `recv_from` fails with `Truncated` and loses the datagram
    /// when the buffer is too small, where portnet's rule is to fill the buffer
    /// and report the full length.
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr), EmbassyError>> {
        let mut socket = self.cell().borrow_mut();
        // Each round takes one datagram; the queue is finite.
        for _ in 0..=UDP_PACKETS {
            let received = poll_once(
                socket.recv_from_with(|data, meta| {
                    let from = socket_addr(meta.endpoint);
                    if self.peer.is_some_and(|peer| peer != from) {
                        return None;
                    }
                    let n = data.len().min(buf.len());
                    buf[..n].copy_from_slice(&data[..n]);
                    Some((data.len(), from))
                }),
                cx,
            );
            match received {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(datagram)) => return Poll::Ready(Ok(datagram)),
                Poll::Ready(None) => {}
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// embassy-net has no connected UDP sockets: the adapter filters receives.
    fn connect(&mut self, remote: SocketAddr) -> Result<(), EmbassyError> {
        self.peer = Some(remote);
        Ok(())
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    fn local_addr(&self) -> Result<SocketAddr, EmbassyError> {
        Ok(listen_addr(self.cell().borrow().endpoint()))
    }
}

// ---------------------------------------------------------------------------
// The harness.

/// A future polled only when its own waker was woken (and on the first poll).
///
/// Its waker stays the same object while the task's waker does: embassy-net's
/// waker registrations wake the previous waker when given a different one.
struct WokenOnly<F> {
    future: Pin<Box<F>>,
    woken: Arc<AtomicBool>,
    /// The task's waker, and this future's waker made from it.
    wakers: Option<(Waker, Waker)>,
}

impl<F: Future> WokenOnly<F> {
    fn new(future: F) -> Self {
        Self {
            future: Box::pin(future),
            woken: Arc::new(AtomicBool::new(true)),
            wakers: None,
        }
    }
}

/// The waker of a [`WokenOnly`]: marks it, then wakes the task.
struct Mark {
    woken: Arc<AtomicBool>,
    task: Waker,
}

impl Wake for Mark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

impl<F: Future> Future for WokenOnly<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if !self.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let this = &mut *self;
        let current = this
            .wakers
            .as_ref()
            .is_some_and(|(task, _)| task.will_wake(cx.waker()));
        if !current {
            let mark = Waker::from(Arc::new(Mark {
                woken: this.woken.clone(),
                task: cx.waker().clone(),
            }));
            this.wakers = Some((cx.waker().clone(), mark));
        }
        let Some((_, mark)) = &this.wakers else {
            return Poll::Pending;
        };
        this.future.as_mut().poll(&mut Context::from_waker(mark))
    }
}

/// embassy-net at 10.0.0.1 / fd00::1 on side 0 of a clean in-memory link, with
/// portnet's smoltcp backend at 10.0.0.2 / fd00::2 on side 1 as its peer, in
/// virtual time.
pub struct EmbassyNetHarness {
    clock: VirtualClock,
    link: &'static Link<VirtualClock>,
    stack: EmbassyStack,
    runner: RefCell<embassy_net::Runner<'static, Port<VirtualClock>>>,
    peer: &'static SimStack,
}

impl fmt::Debug for EmbassyNetHarness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyNetHarness")
            .field("clock", &self.clock)
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

/// embassy-net's configuration: the static addresses of side `a`.
fn embassy_config() -> embassy_net::Config {
    let mut config = embassy_net::Config::ipv4_static(embassy_net::StaticConfigV4 {
        address: embassy_net::Ipv4Cidr::new(A_V4, 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    config.ipv6 = embassy_net::ConfigV6::Static(embassy_net::StaticConfigV6 {
        address: embassy_net::Ipv6Cidr::new(A_V6, 64),
        gateway: None,
        dns_servers: Default::default(),
    });
    config
}

impl Default for EmbassyNetHarness {
    fn default() -> Self {
        let seed = crate::smoltcp::link_seed();
        let clock = VirtualClock::new();
        use_clock(&clock);
        let link: &'static Link<VirtualClock> =
            Box::leak(Box::new(Link::new(clock.clone(), Faults::NONE, seed)));
        let resources: &'static mut embassy_net::StackResources<16> =
            Box::leak(Box::new(embassy_net::StackResources::new()));
        let (stack, runner) = embassy_net::new(
            link.port(0, [0x02, 0, 0, 0, 0, 0x01]),
            embassy_config(),
            resources,
            seed ^ 0xa,
        );
        let peer = portnet_smoltcp::sim::leak_stack(
            link.port(1, [0x02, 0, 0, 0, 0, 0x02]),
            clock.clone(),
            portnet_smoltcp::sim::config(B_V4, B_V6, seed ^ 0xb, LISTEN_BACKLOG),
        );
        Self {
            clock,
            link,
            stack: EmbassyStack::new(stack),
            runner: RefCell::new(runner),
            peer,
        }
    }
}

impl EmbassyNetHarness {
    /// The stack under test.
    pub fn stack(&self) -> &EmbassyStack {
        &self.stack
    }
}

impl Harness for EmbassyNetHarness {
    type Connect = EmbassyStack;
    type Listen = EmbassyStack;
    type Udp = EmbassyStack;
    type Dns = portnet_conformance::Missing;
    type Peer = SimStack;
    type Clock = VirtualClock;

    fn connector(&self) -> Option<&EmbassyStack> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&EmbassyStack> {
        Some(&self.stack)
    }
    fn udp(&self) -> Option<&EmbassyStack> {
        Some(&self.stack)
    }
    fn peer(&self) -> &SimStack {
        self.peer
    }
    fn clock(&self) -> &VirtualClock {
        &self.clock
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        Some(match family {
            Family::V4 => A_V4.into(),
            Family::V6 => A_V6.into(),
        })
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        Some(match family {
            Family::V4 => B_V4.into(),
            Family::V6 => B_V6.into(),
        })
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        // On the link's subnet, but no station answers for it.
        Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99)), 9))
    }
    fn open_sockets(&self) -> Option<usize> {
        Some(self.stack.sockets_in_use())
    }
    fn listen_pool(&self) -> usize {
        LISTEN_BACKLOG
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        use_clock(&self.clock);
        let mut runner = self.runner.borrow_mut();
        // Each part is polled only when its own waker fired: every socket call
        // of embassy-net wakes its runner, so a case and the runner polled
        // together on every wake-up would wake each other forever.
        let drivers = join(
            Box::pin(join(
                Box::pin(WokenOnly::new(runner.run())),
                Box::pin(WokenOnly::new(self.peer.run())),
            )),
            Box::pin(WokenOnly::new(self.link.run())),
        );
        let both = select(WokenOnly::new(future), drivers);
        // The default limit of polls takes minutes to reach; a case here needs
        // far fewer polls than this, so reaching it means a busy loop.
        let limits = Limits {
            polls: POLL_LIMIT,
            ..Limits::default()
        };
        match self.clock.run(both, limits) {
            Ok(Either::Left(output)) => output,
            Ok(Either::Right(_)) => unreachable!("the runners never return"),
            Err(stall) => panic!(
                "the simulation stalled: {stall}, at virtual time {} ms (link seed {}, {:?})",
                self.clock.now().as_millis(),
                self.link.seed(),
                self.link.stats()
            ),
        }
    }
}

/// The adapter maps no option onto embassy-net's: every one is `Unsupported`.
impl portnet::SocketOptions for EmbassyConnection<'_> {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), EmbassyError> {
        Err(EmbassyError::Kind(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, EmbassyError> {
        Err(EmbassyError::Kind(ErrorKind::Unsupported))
    }
}

/// The adapter maps no option onto embassy-net's: every one is `Unsupported`.
impl portnet::SocketOptions for EmbassyListener<'_> {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), EmbassyError> {
        Err(EmbassyError::Kind(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, EmbassyError> {
        Err(EmbassyError::Kind(ErrorKind::Unsupported))
    }
}

/// The adapter maps no option onto embassy-net's: every one is `Unsupported`.
impl portnet::SocketOptions for EmbassyUdp<'_> {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), EmbassyError> {
        Err(EmbassyError::Kind(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, EmbassyError> {
        Err(EmbassyError::Kind(ErrorKind::Unsupported))
    }
}
