//! A peer stack in another place: the cases run where the stack under test is
//! (firmware in an emulator), the peer's sockets live on the host, and a byte
//! stream (a serial port) joins them.
//!
//! [`RemotePeer`] is the peer as the cases see it: a full portnet stack
//! (`TcpConnect + TcpListen + UdpBind`) whose operations travel as [`wire`]
//! requests to the [`agent`], which performs them on a real stack and sends back
//! the results. The data of the peer's connections travels over the same stream.
//! Every operation keeps its contract across the link: reads and accepts are
//! cancel safe (a reply that arrives after its future was dropped waits for the
//! next call), writes are acknowledged within a window so a peer whose other end
//! does not read sees `Pending`, and a dropped connection still delivers what was
//! written before the drop.

#[cfg(feature = "runner")]
pub mod agent;
#[cfg(feature = "runner")]
pub mod hosted;
mod peer;
pub mod wire;

pub use peer::{
    LinkError, RemoteConnection, RemoteError, RemoteListener, RemotePeer, RemoteReadHalf,
    RemoteSocket, RemoteWriteHalf,
};
