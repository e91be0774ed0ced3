//! Harnesses of the hosted backends: tokio, smol and async-std against
//! themselves over loopback (the suite's [`LoopbackHarness`]), and the foreign
//! std-embedded-nal-async with tokio as its peer.

use core::future::Future;
use core::net::{IpAddr, SocketAddr};

use portnet_async_std::AsyncStd;
use portnet_smol::Smol;
use portnet_tokio::Tokio;

use portnet_conformance::host::{LoopbackHarness, loopback, open_socket_fds, shared_black_hole};
use portnet_conformance::{BlockOn, Family, Harness};

/// The tokio backend against itself, on a current-thread runtime per case.
pub type TokioHarness = LoopbackHarness<Tokio, TokioCurrentThread>;

/// The smol backend against itself, on async-io's `block_on`.
pub type SmolHarness = LoopbackHarness<Smol, AsyncIo>;

/// The async-std backend against itself, on async-std's `block_on`.
pub type AsyncStdHarness = LoopbackHarness<AsyncStd, AsyncStdTask>;

/// A new current-thread tokio runtime for each `block_on`: how the tokio rows
/// and the rigs beside a row (a SLIP or TAP peer, the QEMU row) run a future.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioCurrentThread;

impl BlockOn for TokioCurrentThread {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(future)
    }
}

/// async-io's `block_on` (smol's executor of a single future).
#[derive(Debug, Default, Clone, Copy)]
pub struct AsyncIo;

impl BlockOn for AsyncIo {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_io::block_on(future)
    }
}

/// async-std's `task::block_on`.
#[derive(Debug, Default, Clone, Copy)]
pub struct AsyncStdTask;

impl BlockOn for AsyncStdTask {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        async_std::task::block_on(future)
    }
}

/// The foreign stack std-embedded-nal-async (the async half of the
/// std-embedded-nal project: the host's sockets behind the embedded-nal-async
/// traits) seen through `portnet-embedded`'s embedded-nal-async → portnet adapters:
/// [`PortnetTcp`](portnet_embedded::PortnetTcp) for `TcpConnect` and
/// [`PortnetUdp`](portnet_embedded::PortnetUdp) for `UdpBind`.
/// embedded-nal-async has no listening sockets, so `Listen` is [`portnet_conformance::Missing`].
///
/// The peer and the clock are the tokio backend; cases run on a current-thread
/// tokio runtime, and std-embedded-nal-async's async-io sources are driven by
/// async-io's own reactor thread.
///
/// TCP uses [`WakePolicy::Registered`](portnet_embedded::WakePolicy): its reads and
/// writes are futures-io polls that keep their waker in the socket. UDP uses
/// [`WakePolicy::Rewake`](portnet_embedded::WakePolicy): its futures are built on
/// async-io's `readable()`/`writable()`, which remove the waker when dropped, so a
/// poll bridge that drops them would never be woken.
#[derive(Debug)]
pub struct StdEmbeddedNalHarness {
    tcp: portnet_embedded::PortnetTcp<std_embedded_nal_async::Stack>,
    udp: portnet_embedded::PortnetUdp<std_embedded_nal_async::Stack>,
    peer: Tokio,
}

impl Default for StdEmbeddedNalHarness {
    fn default() -> Self {
        use portnet_embedded::{PortnetTcp, PortnetUdp, WakePolicy};
        use std_embedded_nal_async::Stack;
        Self {
            tcp: PortnetTcp::with_policy(Stack::default(), WakePolicy::Registered),
            udp: PortnetUdp::with_policy(Stack::default(), WakePolicy::Rewake),
            peer: Tokio::new(),
        }
    }
}

impl Harness for StdEmbeddedNalHarness {
    type Connect = portnet_embedded::PortnetTcp<std_embedded_nal_async::Stack>;
    type Listen = portnet_conformance::Missing;
    type Udp = portnet_embedded::PortnetUdp<std_embedded_nal_async::Stack>;
    type Dns = portnet_conformance::Missing;
    type Peer = Tokio;
    type Clock = Tokio;

    fn connector(&self) -> Option<&Self::Connect> {
        Some(&self.tcp)
    }
    fn listener(&self) -> Option<&portnet_conformance::Missing> {
        None
    }
    fn udp(&self) -> Option<&Self::Udp> {
        Some(&self.udp)
    }
    fn peer(&self) -> &Tokio {
        &self.peer
    }
    fn clock(&self) -> &Tokio {
        &self.peer
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
        TokioCurrentThread.block_on(alloc::boxed::Box::pin(future))
    }
}

/// The foreign stack edge-nal-std (edge-net's host implementation of the
/// edge-nal traits: the host's sockets on async-io) seen through
/// `portnet-embedded`'s edge-nal → portnet adapters:
/// [`PortnetEdge`](portnet_embedded::PortnetEdge) (`TcpConnect`, `Dns`),
/// [`PortnetEdgeListen`](portnet_embedded::PortnetEdgeListen) (`TcpListen`) and
/// [`PortnetEdgeUdp`](portnet_embedded::PortnetEdgeUdp) (`UdpBind`). The peer
/// and the clock are the tokio backend, and cases run on a current-thread tokio
/// runtime while async-io's own reactor thread drives edge-nal-std's sockets.
pub struct EdgeNalStdHarness {
    stack: portnet_embedded::PortnetEdge<edge_nal_std::Stack>,
    listen: portnet_embedded::PortnetEdgeListen<edge_nal_std::Stack>,
    udp: portnet_embedded::PortnetEdgeUdp<edge_nal_std::Stack>,
    peer: Tokio,
}

impl core::fmt::Debug for EdgeNalStdHarness {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // edge-nal-std's stack has nothing to show (and no `Debug`).
        f.debug_struct("EdgeNalStdHarness").finish_non_exhaustive()
    }
}

impl Default for EdgeNalStdHarness {
    fn default() -> Self {
        Self {
            stack: portnet_embedded::PortnetEdge::new(edge_nal_std::Stack::new()),
            listen: portnet_embedded::PortnetEdgeListen::new(edge_nal_std::Stack::new()),
            udp: portnet_embedded::PortnetEdgeUdp::new(edge_nal_std::Stack::new()),
            peer: Tokio::new(),
        }
    }
}

impl Harness for EdgeNalStdHarness {
    type Connect = portnet_embedded::PortnetEdge<edge_nal_std::Stack>;
    type Listen = portnet_embedded::PortnetEdgeListen<edge_nal_std::Stack>;
    type Udp = portnet_embedded::PortnetEdgeUdp<edge_nal_std::Stack>;
    type Dns = portnet_embedded::PortnetEdge<edge_nal_std::Stack>;
    type Peer = Tokio;
    type Clock = Tokio;

    fn connector(&self) -> Option<&Self::Connect> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&Self::Listen> {
        Some(&self.listen)
    }
    fn udp(&self) -> Option<&Self::Udp> {
        Some(&self.udp)
    }
    fn dns(&self) -> Option<&Self::Dns> {
        Some(&self.stack)
    }
    fn dns_name(&self) -> Option<&str> {
        Some("localhost")
    }
    fn peer(&self) -> &Tokio {
        &self.peer
    }
    fn clock(&self) -> &Tokio {
        &self.peer
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
        TokioCurrentThread.block_on(alloc::boxed::Box::pin(future))
    }
}
