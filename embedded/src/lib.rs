#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod block_on;
mod error;
mod poll;

#[cfg(feature = "edge-nal")]
mod edge_nal;
#[cfg(feature = "embedded-io-async")]
mod io_async;
#[cfg(feature = "embedded-io")]
mod io_blocking;
#[cfg(feature = "embedded-nal")]
mod nal;
#[cfg(feature = "embedded-nal-async")]
mod nal_async;

pub use block_on::{BlockOn, Spin};
pub use error::{EmbeddedError, PortnetError};
pub use poll::WakePolicy;

#[cfg(feature = "edge-nal")]
pub use edge_nal::{
    AcceptorSlots, DEFAULT_UDP_AHEAD, EdgeAcceptor, EdgeNal, EdgeTcp, EdgeTcpRead, EdgeTcpWrite,
    EdgeUdp, EdgeUdpReceive, EdgeUdpSend, PortnetEdge, PortnetEdgeConnection, PortnetEdgeHalf,
    PortnetEdgeListen, PortnetEdgeListenIn, PortnetEdgeListener, PortnetEdgeListenerIn,
    PortnetEdgeUdp, PortnetEdgeUdpSocket,
};
#[cfg(feature = "embedded-io-async")]
pub use io_async::{EmbeddedIo, PortnetIo};
#[cfg(feature = "embedded-io")]
pub use io_blocking::BlockingIo;
#[cfg(feature = "embedded-nal")]
pub use nal::{NbNal, NbTcpSocket, NbUdpSocket};
#[cfg(feature = "embedded-nal-async")]
pub use nal_async::{
    EmbeddedNal, EmbeddedUdp, PortnetConnection, PortnetReadHalf, PortnetTcp, PortnetUdp,
    PortnetUdpSocket, PortnetWriteHalf,
};
