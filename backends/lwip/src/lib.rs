#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![deny(unsafe_code)]

mod error;
#[allow(unsafe_code)]
mod ffi;
#[cfg(feature = "sim")]
pub mod sim;
mod stack;
pub(crate) mod state;
mod tcp;
mod udp;

pub use embassy_net_driver as driver;
pub use error::Error;
pub use stack::{Config, Stack};
pub use tcp::{TcpConnection, TcpListener, TcpReadHalf, TcpWriteHalf};
pub use udp::UdpSocket;

/// Bytes of RAM one TCP connection takes, without its buffers: lwIP's pcb (one
/// element of its static `MEMP_TCP_PCB` pool), this crate's slot for it (the
/// state lwIP's callbacks record, wakers included) and the
/// [`TcpConnection`] handle. Buffers are not per connection in lwIP: segments
/// and pbufs come from pools every connection shares (`c/lwipopts.h`).
///
/// The figure of the benchmark row "RAM per TCP socket" (docs/benchmarks.md).
pub fn tcp_socket_ram() -> usize {
    ffi::tcp_pcb_pool_size()
        + core::mem::size_of::<state::TcpSlot>()
        + core::mem::size_of::<TcpConnection<'static, (), ()>>()
}
