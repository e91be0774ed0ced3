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
