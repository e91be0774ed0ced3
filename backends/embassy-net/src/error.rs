//! The adapter's error: embassy-net's own errors, kept as they are, each with
//! the portnet kind its documentation implies.

use core::fmt;

use embassy_net::tcp::{AcceptError, ConnectError};
use embassy_net::udp::{BindError, SendError};
use portnet::ErrorKind;

/// An error of embassy-net, or of the adapter, with its [`portnet::ErrorKind`].
///
/// embassy-net's errors are kept unchanged inside (a firmware developer who
/// knows embassy-net recognises them in a log); generic code reads only
/// [`portnet::Error::kind`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A read, write or flush failed (embassy-net's only I/O error is a reset).
    Io(embassy_net::tcp::Error),
    /// `TcpSocket::connect` failed.
    Connect(ConnectError),
    /// `TcpSocket::accept` (listening) failed.
    Accept(AcceptError),
    /// `UdpSocket::bind` failed.
    Bind(BindError),
    /// `UdpSocket::send_to` failed.
    Send(SendError),
    /// Every socket of the adapter's pool is in use (kind `OutOfResources`):
    /// the pool is as large as the [`Resources`](crate::Resources) it was
    /// built from.
    NoSocket,
    /// The socket has no address (embassy-net returned none).
    NotConnected,
    /// Any other failure, by its kind alone: an option the adapter does not
    /// map (`Unsupported`), an IPv6 address without feature `proto-ipv6`
    /// (`Unsupported`), or a failure reported by generic code over the adapter.
    Kind(ErrorKind),
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::Kind(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "embassy-net I/O: {e:?}"),
            Self::Connect(e) => write!(f, "embassy-net connect: {e:?}"),
            Self::Accept(e) => write!(f, "embassy-net accept: {e:?}"),
            Self::Bind(e) => write!(f, "embassy-net bind: {e:?}"),
            Self::Send(e) => write!(f, "embassy-net send: {e:?}"),
            Self::NoSocket => f.write_str("no free socket in the adapter's pool"),
            Self::NotConnected => f.write_str("the socket has no address"),
            Self::Kind(kind) => write!(f, "{kind}"),
        }
    }
}

impl core::error::Error for Error {}

impl portnet::Error for Error {
    /// Each kind follows embassy-net's documentation of the variant.
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Io(embassy_net::tcp::Error::ConnectionReset) => ErrorKind::ConnectionReset,
            // "The remote host rejected the connection with a RST packet."
            Self::Connect(ConnectError::ConnectionReset) => ErrorKind::ConnectionRefused,
            Self::Connect(ConnectError::TimedOut) => ErrorKind::TimedOut,
            Self::Connect(ConnectError::NoRoute) => ErrorKind::HostUnreachable,
            Self::Connect(ConnectError::InvalidState) | Self::Accept(AcceptError::InvalidState) => {
                ErrorKind::Other
            }
            Self::Accept(AcceptError::InvalidPort) => ErrorKind::InvalidInput,
            Self::Accept(AcceptError::ConnectionReset) => ErrorKind::ConnectionReset,
            Self::Bind(BindError::InvalidState) => ErrorKind::Other,
            Self::Bind(BindError::NoRoute) => ErrorKind::AddrNotAvailable,
            Self::Send(SendError::NoRoute) => ErrorKind::HostUnreachable,
            Self::Send(SendError::SocketNotBound) => ErrorKind::NotConnected,
            Self::Send(SendError::PacketTooLarge) => ErrorKind::InvalidInput,
            Self::NoSocket => ErrorKind::OutOfResources,
            Self::NotConnected => ErrorKind::NotConnected,
            Self::Kind(kind) => *kind,
        }
    }
}
