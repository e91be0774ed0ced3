#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![forbid(unsafe_code)]

// Without a socket kind the stack can do nothing; say so before the errors that
// follow from smoltcp having no sockets.
#[cfg(not(any(feature = "tcp", feature = "udp")))]
compile_error!(
    "portnet-smoltcp needs a socket kind: enable feature `tcp`, `udp` or both \
     (`dns` and `dhcpv4` bring `udp`), e.g. `--features tcp`"
);

mod addr;
mod config;
mod device;
#[cfg(feature = "dns")]
mod dns;
mod error;
#[cfg(feature = "sim")]
pub mod sim;
mod stack;
#[cfg(feature = "tcp")]
mod tcp;
mod time;
#[cfg(feature = "udp")]
mod udp;
mod wakers;
mod zeroed;

#[cfg(feature = "proto-ipv6")]
pub use config::Ipv6Config;
pub use config::{Cidr, Config, Ipv4Config};
pub use embassy_net_driver as driver;
pub use error::Error;
pub use stack::{Sockets, Stack, StackResources};
#[cfg(feature = "tcp")]
pub use tcp::{TcpConnection, TcpListener, TcpPool, TcpReadHalf, TcpSlot, TcpWriteHalf};
#[cfg(feature = "udp")]
pub use udp::{UdpPool, UdpSlot, UdpSocket};
