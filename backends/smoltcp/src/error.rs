//! The stack's error: what failed, with its portnet kind.

use core::fmt;

use portnet::ErrorKind;

/// An error of the smoltcp stack.
///
/// Each variant is one failure a caller can act on; [`portnet::Error::kind`]
/// gives its portable kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// Every socket of the needed kind is in use; one frees when a connection,
    /// listener or socket is dropped and its connection has ended.
    NoSocket,
    /// [`StackResources`](crate::StackResources) has no room for another socket.
    NoSocketStorage,
    /// The local port is taken by another socket.
    AddrInUse,
    /// The local address is not one of the interface's.
    AddrNotAvailable,
    /// No local address or route reaches the destination.
    NoRoute,
    /// An address the operation cannot use: unspecified, port 0, or a family
    /// the stack was built without.
    InvalidAddress,
    /// A datagram larger than the socket's send buffer can ever hold.
    DatagramTooLarge,
    /// The peer refused the connection (reset in reply to the SYN).
    ConnectionRefused,
    /// The peer reset the connection.
    ConnectionReset,
    /// The connection was aborted here.
    ConnectionAborted,
    /// The connection's timeout passed without an answer from the peer.
    TimedOut,
    /// The write half is closed.
    WriteClosed,
    /// The socket is not connected.
    NotConnected,
    /// The stack does not offer this option or operation.
    Unsupported,
    /// A configuration value is out of range (a multicast MAC address, a prefix
    /// longer than the address).
    InvalidConfig,
    /// The name is not valid for a DNS query.
    InvalidName,
    /// No DNS server is known, or every server failed to answer.
    DnsFailed,
    /// The name has no address of the asked family.
    NameNotResolved,
    /// A failure that generic code over the stack (a portnet helper, a library)
    /// reported in the stack's error type, with its kind.
    Kind(ErrorKind),
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self::Kind(kind)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoSocket => "no free socket in the pool",
            Self::NoSocketStorage => "no room for another socket in the stack resources",
            Self::AddrInUse => "local port already in use",
            Self::AddrNotAvailable => "local address not assigned to the interface",
            Self::NoRoute => "no local address or route reaches the destination",
            Self::InvalidAddress => "address not usable for this operation",
            Self::DatagramTooLarge => "datagram larger than the socket's send buffer",
            Self::ConnectionRefused => "connection refused",
            Self::ConnectionReset => "connection reset by peer",
            Self::ConnectionAborted => "connection aborted",
            Self::TimedOut => "connection timed out",
            Self::WriteClosed => "write half closed",
            Self::NotConnected => "socket not connected",
            Self::Unsupported => "not supported by the smoltcp stack",
            Self::InvalidConfig => "invalid stack configuration",
            Self::InvalidName => "invalid DNS name",
            Self::DnsFailed => "DNS query failed",
            Self::NameNotResolved => "name has no address of the requested family",
            Self::Kind(kind) => kind.as_str(),
        })
    }
}

impl portnet::Error for Error {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::NoSocket | Self::NoSocketStorage => ErrorKind::OutOfResources,
            Self::AddrInUse => ErrorKind::AddrInUse,
            Self::AddrNotAvailable => ErrorKind::AddrNotAvailable,
            Self::NoRoute => ErrorKind::NetworkUnreachable,
            Self::InvalidAddress | Self::DatagramTooLarge | Self::InvalidConfig => {
                ErrorKind::InvalidInput
            }
            Self::ConnectionRefused => ErrorKind::ConnectionRefused,
            Self::ConnectionReset => ErrorKind::ConnectionReset,
            Self::ConnectionAborted => ErrorKind::ConnectionAborted,
            Self::TimedOut => ErrorKind::TimedOut,
            Self::WriteClosed => ErrorKind::BrokenPipe,
            Self::NotConnected => ErrorKind::NotConnected,
            Self::Unsupported => ErrorKind::Unsupported,
            Self::InvalidName => ErrorKind::InvalidInput,
            Self::DnsFailed | Self::NameNotResolved => ErrorKind::NameNotResolved,
            Self::Kind(kind) => *kind,
        }
    }
}

impl core::error::Error for Error {}
