//! The foreign stack edge-nal-embassy under the suite: edge-net's edge-nal
//! implementation over embassy-net, on the same rig as the `embassy-net` row
//! ([`EmbassyRig`]: embassy-net on the in-memory link, portnet's smoltcp
//! backend as the peer, virtual time through this crate's embassy-time driver),
//! seen by the suite through `portnet-embedded`'s edge-nal → portnet adapters
//! [`PortnetEdge`], [`PortnetEdgeListenIn`] and [`PortnetEdgeUdp`].
//!
//! The two rows share embassy-net, its driver and its peer: what differs
//! between their tables is what edge-nal-embassy (and the adapter) make of
//! embassy-net's sockets. `docs/conformance.md` lists the findings.

use alloc::boxed::Box;
use core::fmt;
use core::future::Future;
use core::net::{IpAddr, SocketAddr};

use portnet_conformance::{Family, Harness};
use portnet_embedded::{AcceptorSlots, PortnetEdge, PortnetEdgeListenIn, PortnetEdgeUdp};
use portnet_links::VirtualClock;
use portnet_smoltcp::sim::SimStack;

use crate::embassy::{EmbassyRig, TCP_BUFFER, TCP_SOCKETS, UDP_BUFFER, UDP_PACKETS, UDP_SOCKETS};

/// edge-nal-embassy's TCP factory with this row's buffers (as many sockets as
/// the `embassy-net` row's pool, each with its buffer size).
pub type EdgeTcp = edge_nal_embassy::Tcp<'static>;

/// The stack under test: edge-nal-embassy's TCP factory through the adapter.
pub type RowStack = PortnetEdge<EdgeTcp>;

/// How many listens one harness (one case) may make: each port-0 listen takes
/// a slot of its own.
pub const ACCEPTOR_SLOTS: usize = 32;

/// edge-nal-embassy's listening side through the adapter for acceptors that
/// sockets borrow.
pub type RowListen = PortnetEdgeListenIn<'static, EdgeTcp, ACCEPTOR_SLOTS>;

/// edge-nal-embassy's UDP factory through the adapter, with as many sockets and
/// as much buffer as the `embassy-net` row's UDP pool.
pub type RowUdp = PortnetEdgeUdp<edge_nal_embassy::Udp<'static>>;

/// edge-nal-embassy over embassy-net at 10.0.0.1 / fd00::1 on a clean
/// in-memory link, portnet's smoltcp backend at 10.0.0.2 / fd00::2 its peer.
pub struct EdgeNalEmbassyHarness {
    rig: EmbassyRig,
    stack: RowStack,
    listen: RowListen,
    udp: RowUdp,
}

impl fmt::Debug for EdgeNalEmbassyHarness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // edge-nal-embassy's factories have no `Debug`.
        f.debug_struct("EdgeNalEmbassyHarness")
            .field("rig", &self.rig)
            .finish_non_exhaustive()
    }
}

impl Default for EdgeNalEmbassyHarness {
    fn default() -> Self {
        let rig = EmbassyRig::default();
        // A harness lives as long as a test case: its buffers are leaked.
        let buffers: &'static edge_nal_embassy::TcpBuffers<TCP_SOCKETS, TCP_BUFFER, TCP_BUFFER> =
            Box::leak(Box::new(edge_nal_embassy::TcpBuffers::new()));
        let tcp = edge_nal_embassy::Tcp::new(rig.net(), buffers);
        // The listening side's stack and acceptors live as long as its
        // connections may: leaked, as the buffers are.
        let listen_tcp: &'static EdgeTcp = Box::leak(Box::new(tcp));
        let slots: &'static AcceptorSlots<_, ACCEPTOR_SLOTS> =
            Box::leak(Box::new(AcceptorSlots::new()));
        let udp_buffers: &'static edge_nal_embassy::UdpBuffers<
            UDP_SOCKETS,
            UDP_BUFFER,
            UDP_BUFFER,
            UDP_PACKETS,
        > = Box::leak(Box::new(edge_nal_embassy::UdpBuffers::new()));
        let udp = edge_nal_embassy::Udp::new(rig.net(), udp_buffers);
        Self {
            rig,
            stack: PortnetEdge::new(tcp),
            listen: PortnetEdgeListenIn::new(listen_tcp, slots),
            udp: PortnetEdgeUdp::new(udp),
        }
    }
}

impl Harness for EdgeNalEmbassyHarness {
    type Connect = RowStack;
    type Listen = RowListen;
    type Udp = RowUdp;
    type Dns = portnet_conformance::Missing;
    type Peer = SimStack;
    type Clock = VirtualClock;

    fn connector(&self) -> Option<&RowStack> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&RowListen> {
        Some(&self.listen)
    }
    fn udp(&self) -> Option<&RowUdp> {
        Some(&self.udp)
    }
    fn peer(&self) -> &SimStack {
        self.rig.peer()
    }
    fn clock(&self) -> &VirtualClock {
        self.rig.clock()
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        Some(EmbassyRig::stack_ip(family))
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        Some(EmbassyRig::peer_ip(family))
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        Some(EmbassyRig::black_hole())
    }
    fn tcp_pool(&self) -> Option<usize> {
        Some(TCP_SOCKETS)
    }
    fn udp_pool(&self) -> Option<usize> {
        Some(UDP_SOCKETS)
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        self.rig.run(future)
    }
}
