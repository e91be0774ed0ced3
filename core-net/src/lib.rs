#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod endpoint;
mod error;
mod ip;
#[cfg(feature = "no-std-net")]
pub mod no_std_net_conv;
#[cfg(feature = "serde")]
mod serde_impls;

pub use core::net::{
    AddrParseError, IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6,
};

pub use endpoint::{DnsName, Endpoint, Host, Zone};
pub use error::{ParseError, ParseErrorKind};
pub use ip::{IpAddrExt, Ipv6MulticastScope};
