//! The smoltcp backend over a serial line: SLIP (`portnet-slip`) on a real OS
//! byte stream, in real time.
//!
//! [`SlipEnd`] is the host end of a serial network path: a portnet-smoltcp
//! stack whose only device is a SLIP link over a connected TCP socket — the
//! socket behind an emulator's serial port (QEMU's `-serial tcp:…` or
//! `-chardev socket,…`), or, in [`SlipHarness`], the other end of a loopback
//! connection with a second `SlipEnd` on it.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::cell::RefCell;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;

use async_io::Async;
use portnet::future::{Either, select};
use portnet_slip::{Device, Runner, State};
use portnet_smoltcp::sim::{A_V4, A_V6, B_V4, B_V6};
use portnet_smoltcp::{Config, Stack, StackResources, TcpPool, UdpPool};
use portnet_tokio::Tokio;

use crate::hosted::TokioCurrentThread;
use portnet_conformance::BlockOn as _;
use portnet_conformance::{Family, Harness};

/// The largest IP packet on the link (Ethernet's, so TCP segments are as
/// large as on the other smoltcp rows).
pub const MTU: usize = 1500;
/// Frames queued each way in the link.
pub const SLOTS: usize = 8;

/// The SLIP device of a [`SlipEnd`].
pub type SlipDevice = Device<'static, MTU, SLOTS>;
/// A smoltcp stack on a SLIP link, keeping time with tokio.
pub type SlipStack = Stack<'static, SlipDevice, Tokio>;

/// A byte stream the link runs on: a TCP connection through portnet-smol
/// (async-io's reactor, so it outlives any one executor).
type Line = portnet_smol::Connection;

/// The host end of a serial network path: a smoltcp stack on a SLIP link
/// over a connected TCP socket.
///
/// Its memory (stack, pools, link slots) is leaked: an end lives as long as
/// the process, as the stacks of the other hosted harnesses do. The socket is
/// closed when the end is dropped.
pub struct SlipEnd {
    stack: &'static SlipStack,
    line: SlipLine,
}

impl core::fmt::Debug for SlipEnd {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SlipEnd")
            .field("stack", &self.stack)
            .field("link", &self.line.runner)
            .finish_non_exhaustive()
    }
}

/// One end of the serial line without its stack: a SLIP link's runner and
/// the socket it runs on, for any stack on the link's [`SlipDevice`] (the
/// smoltcp one of [`SlipEnd`], lwIP in `lwip-slip`).
///
/// The link's state is leaked, as [`SlipEnd`]'s memory is.
pub struct SlipLine {
    runner: Runner<'static, MTU, SLOTS>,
    line: Line,
}

impl core::fmt::Debug for SlipLine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SlipLine")
            .field("link", &self.runner)
            .finish_non_exhaustive()
    }
}

impl SlipLine {
    /// A SLIP link over `socket`, and the device a stack puts on it.
    ///
    /// # Errors
    ///
    /// Why not: the socket cannot be configured or registered with the reactor.
    pub fn new(socket: std::net::TcpStream) -> Result<(SlipDevice, Self), String> {
        // SLIP writes many small frames (ACKs); Nagle would hold them back.
        socket
            .set_nodelay(true)
            .map_err(|e| format!("TCP_NODELAY: {e}"))?;
        let line = Line::new(Async::new(socket).map_err(|e| format!("socket: {e}"))?);
        let state: &'static mut State<MTU, SLOTS> = Box::leak(Box::new(State::new()));
        let (device, runner) = state.split();
        Ok((device, Self { runner, line }))
    }

    /// What the link has done so far.
    pub fn stats(&self) -> portnet_slip::Stats {
        self.runner.stats()
    }

    /// Moves frames between the device and the socket. Returns only when the
    /// link stops (the socket fails or the other end closes it), with the
    /// reason.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the runner is, and calling it again resumes.
    pub async fn run(&mut self) -> String {
        let stopped = self.runner.run_stream(&mut self.line).await;
        format!("the SLIP link stopped: {stopped}")
    }
}

impl SlipEnd {
    /// A stack configured by `config` on a SLIP link over `socket`.
    ///
    /// # Errors
    ///
    /// Why not: the socket cannot be registered with the reactor, or the
    /// configuration is invalid.
    pub fn new(socket: std::net::TcpStream, config: Config) -> Result<Self, String> {
        let (device, line) = SlipLine::new(socket)?;
        let resources: &'static mut StackResources<'static, 16> =
            Box::leak(Box::new(StackResources::new()));
        let tcp: &'static mut TcpPool<8, 16384, 16384> = Box::leak(Box::new(TcpPool::new()));
        let udp: &'static mut UdpPool<4, 4096, 8> = Box::leak(Box::new(UdpPool::new()));
        let sockets = resources
            .sockets()
            .tcp(tcp)
            .and_then(|s| s.udp(udp))
            .map_err(|e| format!("socket pools: {e}"))?;
        let stack =
            Stack::new(device, Tokio::new(), config, sockets).map_err(|e| format!("stack: {e}"))?;
        Ok(Self {
            stack: Box::leak(Box::new(stack)),
            line,
        })
    }

    /// The stack.
    pub fn stack(&self) -> &'static SlipStack {
        self.stack
    }

    /// What the link has done so far.
    pub fn link_stats(&self) -> portnet_slip::Stats {
        self.line.stats()
    }

    /// Drives the stack and its link. Returns only when the link stops (the
    /// socket fails or the other end closes it), with the reason.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: both runners are, and calling it again resumes.
    pub async fn run(&mut self) -> String {
        let stack = pin!(self.stack.run());
        let link = pin!(self.line.run());
        match select(stack, link).await {
            Either::Left(never) => match never {},
            Either::Right(stopped) => stopped,
        }
    }
}

/// Two connected loopback TCP sockets, with `SO_LINGER` unset.
pub(crate) fn socket_pair() -> std::io::Result<(std::net::TcpStream, std::net::TcpStream)> {
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    let a = std::net::TcpStream::connect(listener.local_addr()?)?;
    let (b, _) = listener.accept()?;
    Ok((a, b))
}

/// Smoltcp stack `a` (under test) and stack `b` (the peer), each on its own
/// SLIP link, the two links joined by a TCP connection on loopback: the
/// serial line. Real time (tokio's clock); cases run on a current-thread
/// tokio runtime with both stacks and both links.
///
/// Addresses are those of the in-memory smoltcp rows: `a` 10.0.0.1 / fd00::1,
/// `b` 10.0.0.2 / fd00::2.
#[derive(Debug)]
pub struct SlipHarness {
    a: &'static SlipStack,
    b: &'static SlipStack,
    /// Borrowed by [`Harness::run`] for the whole run.
    ends: RefCell<(SlipEnd, SlipEnd)>,
}

impl SlipHarness {
    /// Both ends on a new loopback connection.
    ///
    /// # Errors
    ///
    /// Why not, as [`SlipEnd::new`], or when loopback TCP is unavailable.
    pub fn new() -> Result<Self, String> {
        let (a, b) = socket_pair().map_err(|e| format!("loopback socket pair: {e}"))?;
        let seed = u64::from(std::process::id());
        let config = |v4, v6, seed| portnet_smoltcp::sim::config(v4, v6, seed, 4);
        let a = SlipEnd::new(a, config(A_V4, A_V6, seed ^ 0xa))?;
        let b = SlipEnd::new(b, config(B_V4, B_V6, seed ^ 0xb))?;
        Ok(Self {
            a: a.stack(),
            b: b.stack(),
            ends: RefCell::new((a, b)),
        })
    }

    /// Stack `a`, under test.
    pub fn a(&self) -> &'static SlipStack {
        self.a
    }

    /// Stack `b`, the peer.
    pub fn b(&self) -> &'static SlipStack {
        self.b
    }

    /// What each link (`a`'s, `b`'s) has done so far; `None` while a case runs.
    pub fn link_stats(&self) -> Option<(portnet_slip::Stats, portnet_slip::Stats)> {
        let ends = self.ends.try_borrow().ok()?;
        Some((ends.0.link_stats(), ends.1.link_stats()))
    }
}

impl Default for SlipHarness {
    fn default() -> Self {
        Self::new().unwrap_or_else(|reason| panic!("the SLIP harness cannot run: {reason}"))
    }
}

impl Harness for SlipHarness {
    type Connect = SlipStack;
    type Listen = SlipStack;
    type Udp = SlipStack;
    type Dns = SlipStack;
    type Peer = SlipStack;
    type Clock = SlipStack;

    fn connector(&self) -> Option<&SlipStack> {
        Some(self.a())
    }
    fn listener(&self) -> Option<&SlipStack> {
        Some(self.a())
    }
    fn udp(&self) -> Option<&SlipStack> {
        Some(self.a())
    }
    fn dns(&self) -> Option<&SlipStack> {
        Some(self.a())
    }
    fn peer(&self) -> &SlipStack {
        self.b()
    }
    fn clock(&self) -> &SlipStack {
        self.a()
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
        // On the link's subnet; the peer drops packets not addressed to it.
        Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99)), 9))
    }
    fn open_sockets(&self) -> Option<usize> {
        Some(self.a().sockets_in_use())
    }
    fn tcp_pool(&self) -> Option<usize> {
        Some(8)
    }
    fn udp_pool(&self) -> Option<usize> {
        Some(4)
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        let mut ends = self.ends.borrow_mut();
        let (a, b) = &mut *ends;
        TokioCurrentThread.block_on(Box::pin(async move {
            let links = pin!(async {
                let a = pin!(a.run());
                let b = pin!(b.run());
                match select(a, b).await {
                    Either::Left(reason) | Either::Right(reason) => reason,
                }
            });
            match select(pin!(future), links).await {
                Either::Left(output) => output,
                Either::Right(reason) => panic!("{reason}"),
            }
        }))
    }
}
