#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod buf;
mod dns;
mod error;
pub mod future;
mod io;
mod options;
pub mod send;
mod tcp;
pub mod time;
mod udp;

pub use dns::{AddrFamily, Dns, MAX_ENDPOINT_ADDRS, NoDns, bind_endpoint, connect_endpoint};
pub use error::{Error, ErrorKind, ErrorType, ResultExt};
pub use io::{
    CloseFuture, CopyError, CopyFuture, FlushFuture, Read, ReadExactFuture, ReadExt, ReadFuture,
    ReadToEndFuture, Write, WriteAllFuture, WriteExt, WriteFmtFuture, WriteFuture, copy,
};
pub use options::{SocketOption, SocketOptionName, SocketOptions};
pub use tcp::{ListenOptions, TcpConnect, TcpListen, TcpListener, TcpStream};
pub use time::{Clock, Instant};
pub use udp::{
    RecvFromFuture, RecvFuture, SendFuture, SendToFuture, UdpBind, UdpSocket, UdpSocketExt,
};

/// The address types, re-exported from `core::net` and `portnet-core-net`.
pub use core_net as net;

/// Everything a library over portnet usually imports.
pub mod prelude {
    pub use crate::{
        Clock as _, Dns as _, Error as _, ReadExt as _, ResultExt as _, SocketOptions as _,
        TcpConnect as _, TcpListen as _, TcpListener as _, TcpStream as _, UdpBind as _,
        UdpSocket as _, UdpSocketExt as _, WriteExt as _,
    };
}
