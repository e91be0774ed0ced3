//! A peer stack in another place: the cases run where the stack under test is
//! (firmware in an emulator), the peer's sockets live on the host, and a byte
//! stream (a serial port) joins them.
//!
//! [`RemotePeer`] is the peer as the cases see it: a full portnet stack
//! (`TcpConnect + TcpListen + UdpBind`) whose operations travel as [`wire`]
//! requests to an agent (this repository's is `portnet_conformance_runner::agent`,
//! on the tokio backend), which performs them on a real stack and sends back
//! the results. The data of the peer's connections travels over the same stream.
//! Every operation keeps its contract across the link: reads and accepts are
//! cancel safe (a reply that arrives after its future was dropped waits for the
//! next call), writes are acknowledged within a window so a peer whose other end
//! does not read sees `Pending`, and a dropped connection still delivers what was
//! written before the drop.

mod harness;
mod peer;
pub mod wire;

pub use crate::BlockOn;
pub use harness::{Addresses, LINE_PREFIX, RemoteHarness, run_and_report, run_and_report_part};
pub use peer::{
    LinkError, RemoteConnection, RemoteError, RemoteListener, RemotePeer, RemoteReadHalf,
    RemoteSocket, RemoteWriteHalf,
};

/// The network of the firmware row: the firmware's stack and the host (the
/// agent's stack, the peer) on a TAP device in a network namespace of their own.
pub mod tap_net {
    use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4};

    /// The firmware's IPv4 address (/24).
    pub const STACK_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 1, 2);
    /// The host's IPv4 address on the TAP device (/24).
    pub const PEER_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 1, 1);
    /// The firmware's IPv6 address (/64).
    pub const STACK_V6: Ipv6Addr = Ipv6Addr::new(0xfd09, 1, 0, 0, 0, 0, 0, 2);
    /// The host's IPv6 address on the TAP device (/64).
    pub const PEER_V6: Ipv6Addr = Ipv6Addr::new(0xfd09, 1, 0, 0, 0, 0, 0, 1);
    /// An address on the subnet where no station answers.
    pub const BLACK_HOLE: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 9, 1, 99), 9));
}
