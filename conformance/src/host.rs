//! The harness of a stack on an operating system (for stack authors): a stack
//! that uses the host's kernel sockets runs the whole suite against itself over
//! loopback with [`LoopbackHarness`], given its executor:
//!
//! ```ignore
//! use portnet_conformance::BlockOn;
//! use portnet_conformance::host::LoopbackHarness;
//!
//! #[derive(Debug, Default)]
//! struct CurrentThread;
//!
//! impl BlockOn for CurrentThread {
//!     fn block_on<F: core::future::Future>(&self, future: F) -> F::Output {
//!         my_runtime::block_on(future)
//!     }
//! }
//!
//! portnet_conformance::conformance_tests!(LoopbackHarness<my_stack::Stack, CurrentThread>);
//! ```
//!
//! A harness written by hand (a stack with its own addresses, or a peer that is
//! not the stack itself) uses the same two helpers [`LoopbackHarness`] does: a
//! black hole on loopback for `Harness::black_hole`, and the count of the
//! process's sockets for `Harness::open_sockets`.
//!
//! ```no_run
//! use portnet_conformance::host::{BlackHole, open_socket_fds};
//!
//! let hole = BlackHole::new().expect("loopback");
//! // In the harness: `fn black_hole(&self) -> Option<SocketAddr> { Some(self.hole.addr()) }`
//! // and `fn open_sockets(&self) -> Option<usize> { open_socket_fds() }`.
//! let _ = (hole.addr(), open_socket_fds());
//! ```

use alloc::vec::Vec;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use crate::{BlockOn, Family, Harness};

/// A stack on the host's kernel against itself over loopback: each case's peer
/// is a second use of the same stack, both families on `127.0.0.1` and `::1`,
/// `localhost` as the name to resolve, a [`BlackHole`] for the connect
/// timeouts, and [`open_socket_fds`] as the socket count (the process's
/// sockets, the peer's included, which is what catches a leaked descriptor).
///
/// `S` is the stack (made with `Default`), `E` the executor that runs each case.
/// The peer being the stack itself means a bug shared by both ends can hide;
/// where another stack on the same kernel exists (`portnet-tokio`), a
/// hand-written harness with that one as the peer blames the right end.
#[derive(Debug, Default)]
pub struct LoopbackHarness<S, E> {
    stack: S,
    executor: E,
}

impl<S, E> LoopbackHarness<S, E> {
    /// The harness of `stack`, whose cases run on `executor`.
    pub fn new(stack: S, executor: E) -> Self {
        Self { stack, executor }
    }
}

/// The address of one [`BlackHole`] for the whole process, made on first use
/// (`None` when loopback refuses it): every harness on the host can share it,
/// since no case changes its state, and a harness made per case then opens no
/// listener of its own each time.
pub fn shared_black_hole() -> Option<SocketAddr> {
    static HOLE: OnceLock<Option<BlackHole>> = OnceLock::new();
    HOLE.get_or_init(|| BlackHole::new().ok())
        .as_ref()
        .map(BlackHole::addr)
}

/// Loopback on `family`.
pub fn loopback(family: Family) -> IpAddr {
    match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Family::V6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
    }
}

impl<S, E> Harness for LoopbackHarness<S, E>
where
    S: portnet::TcpConnect + portnet::TcpListen + portnet::UdpBind + portnet::Dns + portnet::Clock,
    E: BlockOn,
{
    type Connect = S;
    type Listen = S;
    type Udp = S;
    type Dns = S;
    type Peer = S;
    type Clock = S;

    fn connector(&self) -> Option<&S> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&S> {
        Some(&self.stack)
    }
    fn udp(&self) -> Option<&S> {
        Some(&self.stack)
    }
    fn dns(&self) -> Option<&S> {
        Some(&self.stack)
    }
    fn dns_name(&self) -> Option<&str> {
        Some("localhost")
    }
    fn peer(&self) -> &S {
        &self.stack
    }
    fn clock(&self) -> &S {
        &self.stack
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        Some(loopback(family))
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        Some(loopback(family))
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        shared_black_hole()
    }
    fn open_sockets(&self) -> Option<usize> {
        open_socket_fds()
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        // Cases are large futures in debug builds; on the heap they leave the
        // test thread's stack to the executor.
        self.executor.block_on(alloc::boxed::Box::pin(future))
    }
}

/// A loopback listener whose accept queue is full, so the kernel drops new SYNs:
/// connecting to it neither succeeds nor fails, as with a host that is gone. It
/// sends nothing off the machine.
#[derive(Debug)]
pub struct BlackHole {
    _listener: socket2::Socket,
    _queued: Vec<std::net::TcpStream>,
    addr: SocketAddr,
}

impl BlackHole {
    /// Creates the listener and fills its accept queue.
    ///
    /// # Errors
    ///
    /// The operating system's error when loopback cannot be bound or listened on.
    pub fn new() -> std::io::Result<Self> {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        listener.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
        // Backlog 0: the kernel queues one connection, then drops SYNs.
        listener.listen(0)?;
        let addr = listener
            .local_addr()?
            .as_socket()
            .ok_or_else(|| std::io::Error::other("listener has no IP address"))?;
        let mut queued = Vec::new();
        for _ in 0..2 {
            if let Ok(stream) =
                std::net::TcpStream::connect_timeout(&addr, core::time::Duration::from_millis(300))
            {
                queued.push(stream);
            }
        }
        Ok(Self {
            _listener: listener,
            _queued: queued,
            addr,
        })
    }

    /// Where connection attempts go unanswered: the value for
    /// [`crate::Harness::black_hole`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Open socket descriptors of this process, from `/proc/self/fd` (Linux).
pub fn open_socket_fds() -> Option<usize> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(
        entries
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count(),
    )
}
