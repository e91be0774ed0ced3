//! Errors: every error type of a portnet stack says what kind of failure it is.

use core::fmt;

/// What kind of failure an error is.
///
/// Generic code decides what to do about an error by its kind: retry after
/// `TimedOut`, reconnect after `ConnectionReset`, give up after `InvalidInput`.
/// The enum is `#[non_exhaustive]`: match it with a wildcard arm.
///
/// Where a kind exists in `embedded_io::ErrorKind` or `std::io::ErrorKind` it has
/// the same name and meaning, and the conversions (features `embedded-io`, `std`)
/// map it one to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ErrorKind {
    /// The remote host actively refused the connection (TCP RST to a SYN, or ICMP
    /// port unreachable for a connected UDP socket).
    ConnectionRefused,
    /// The peer reset the connection.
    ConnectionReset,
    /// The connection was aborted locally (for example by `abort` or by the stack
    /// giving up on retransmissions).
    ConnectionAborted,
    /// An operation did not complete within its deadline.
    TimedOut,
    /// The local address is already bound by another socket.
    AddrInUse,
    /// The local address does not belong to this stack, or no local address can
    /// reach the destination.
    AddrNotAvailable,
    /// The remote host cannot be reached.
    HostUnreachable,
    /// The remote network cannot be reached (no route).
    NetworkUnreachable,
    /// The socket is not connected.
    NotConnected,
    /// Writing is impossible because the write half is closed or the peer is gone.
    BrokenPipe,
    /// A parameter was wrong (an unspecified remote address, port 0 as a
    /// destination, a buffer too large for a datagram, …).
    InvalidInput,
    /// Data received from the network is not valid for the protocol.
    InvalidData,
    /// A write accepted zero bytes where progress was required.
    WriteZero,
    /// The stack ran out of sockets, buffers or memory.
    OutOfResources,
    /// The stack does not offer this operation or option.
    Unsupported,
    /// A name could not be resolved to an address.
    NameNotResolved,
    /// The operation lacks the permission it needs (a privileged port, a firewall).
    PermissionDenied,
    /// The operation was interrupted and can be retried.
    Interrupted,
    /// The stream ended before the operation could complete.
    UnexpectedEof,
    /// Any other failure.
    Other,
}

impl ErrorKind {
    /// A short lowercase description, as used in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ConnectionRefused => "connection refused",
            Self::ConnectionReset => "connection reset",
            Self::ConnectionAborted => "connection aborted",
            Self::TimedOut => "timed out",
            Self::AddrInUse => "address in use",
            Self::AddrNotAvailable => "address not available",
            Self::HostUnreachable => "host unreachable",
            Self::NetworkUnreachable => "network unreachable",
            Self::NotConnected => "not connected",
            Self::BrokenPipe => "broken pipe",
            Self::InvalidInput => "invalid input",
            Self::InvalidData => "invalid data",
            Self::WriteZero => "write zero",
            Self::OutOfResources => "out of resources",
            Self::Unsupported => "unsupported",
            Self::NameNotResolved => "name not resolved",
            Self::PermissionDenied => "permission denied",
            Self::Interrupted => "interrupted",
            Self::UnexpectedEof => "unexpected end of stream",
            Self::Other => "other error",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of a portnet stack.
///
/// Implementations must return the kind that describes the failure best, and must
/// return the same kind every time for the same error value. Every error is a
/// [`core::error::Error`]: its `Display` is the message for a log, and wrappers
/// (helpers' errors, adapters, TLS) return the error they wrap from `source()`
/// (no case can check "best" in general; every case that expects an error checks
/// its kind).
pub trait Error: fmt::Debug + core::error::Error {
    /// The kind of this error.
    fn kind(&self) -> ErrorKind;
}

/// Turns a result's error into its [`ErrorKind`], for code that decides by kind
/// only: `conn.read(&mut buf).await.kind()?` in a function returning
/// `Result<_, ErrorKind>`.
///
/// A library that wants the stack's message as well keeps `S::Error` instead: every
/// stack error converts from an [`ErrorKind`] (see [`ErrorType`]), so one error type
/// serves the stack's own failures and the library's (`S::Error::from(ErrorKind::InvalidData)`).
pub trait ResultExt<T> {
    /// The result with its error replaced by the error's kind.
    fn kind(self) -> Result<T, ErrorKind>;
}

impl<T, E: Error> ResultExt<T> for Result<T, E> {
    fn kind(self) -> Result<T, ErrorKind> {
        self.map_err(|e| e.kind())
    }
}

impl Error for ErrorKind {
    fn kind(&self) -> ErrorKind {
        *self
    }
}

impl Error for core::convert::Infallible {
    fn kind(&self) -> ErrorKind {
        match *self {}
    }
}

impl core::error::Error for ErrorKind {}

/// Text that is not an address or an endpoint is bad input: with it,
/// `Endpoint::parse(text).map_err(ErrorKind::from)?` reads as what it is.
impl From<core_net::ParseError> for ErrorKind {
    fn from(_: core_net::ParseError) -> Self {
        Self::InvalidInput
    }
}

/// Types with an associated error type, shared by the I/O traits.
pub trait ErrorType {
    /// The error this object's operations return.
    ///
    /// It converts from an [`ErrorKind`], so generic code (the helpers of this crate,
    /// wrappers, libraries) can report a failure of its own — a timeout, a name that
    /// did not resolve, a reply that does not parse — in the stack's error type, and
    /// a library needs one error type, not one per helper. The converted error's
    /// [`Error::kind`] must be the kind it was built from. It is `'static`, so
    /// wrappers can return it from [`core::error::Error::source`] (no case checks
    /// the conversion yet).
    type Error: Error + From<ErrorKind> + 'static;
}

impl<T: ?Sized + ErrorType> ErrorType for &mut T {
    type Error = T::Error;
}

#[cfg(feature = "embedded-io")]
impl From<ErrorKind> for embedded_io::ErrorKind {
    fn from(kind: ErrorKind) -> Self {
        use embedded_io::ErrorKind as E;
        match kind {
            ErrorKind::ConnectionRefused => E::ConnectionRefused,
            ErrorKind::ConnectionReset => E::ConnectionReset,
            ErrorKind::ConnectionAborted => E::ConnectionAborted,
            ErrorKind::TimedOut => E::TimedOut,
            ErrorKind::AddrInUse => E::AddrInUse,
            ErrorKind::AddrNotAvailable => E::AddrNotAvailable,
            ErrorKind::NotConnected => E::NotConnected,
            ErrorKind::BrokenPipe => E::BrokenPipe,
            ErrorKind::InvalidInput => E::InvalidInput,
            ErrorKind::InvalidData => E::InvalidData,
            ErrorKind::WriteZero => E::WriteZero,
            ErrorKind::OutOfResources => E::OutOfMemory,
            ErrorKind::Unsupported => E::Unsupported,
            ErrorKind::PermissionDenied => E::PermissionDenied,
            ErrorKind::Interrupted => E::Interrupted,
            ErrorKind::HostUnreachable
            | ErrorKind::NetworkUnreachable
            | ErrorKind::NameNotResolved
            | ErrorKind::UnexpectedEof
            | ErrorKind::Other => E::Other,
        }
    }
}

#[cfg(feature = "std")]
mod std_impls {
    extern crate std;
    use super::{Error, ErrorKind};
    use std::io;

    impl From<ErrorKind> for io::ErrorKind {
        fn from(kind: ErrorKind) -> Self {
            match kind {
                ErrorKind::ConnectionRefused => io::ErrorKind::ConnectionRefused,
                ErrorKind::ConnectionReset => io::ErrorKind::ConnectionReset,
                ErrorKind::ConnectionAborted => io::ErrorKind::ConnectionAborted,
                ErrorKind::TimedOut => io::ErrorKind::TimedOut,
                ErrorKind::AddrInUse => io::ErrorKind::AddrInUse,
                ErrorKind::AddrNotAvailable => io::ErrorKind::AddrNotAvailable,
                ErrorKind::HostUnreachable => io::ErrorKind::HostUnreachable,
                ErrorKind::NetworkUnreachable => io::ErrorKind::NetworkUnreachable,
                ErrorKind::NotConnected => io::ErrorKind::NotConnected,
                ErrorKind::BrokenPipe => io::ErrorKind::BrokenPipe,
                ErrorKind::InvalidInput => io::ErrorKind::InvalidInput,
                ErrorKind::InvalidData => io::ErrorKind::InvalidData,
                ErrorKind::WriteZero => io::ErrorKind::WriteZero,
                ErrorKind::OutOfResources => io::ErrorKind::OutOfMemory,
                ErrorKind::Unsupported => io::ErrorKind::Unsupported,
                ErrorKind::PermissionDenied => io::ErrorKind::PermissionDenied,
                ErrorKind::Interrupted => io::ErrorKind::Interrupted,
                ErrorKind::UnexpectedEof => io::ErrorKind::UnexpectedEof,
                ErrorKind::NameNotResolved | ErrorKind::Other => io::ErrorKind::Other,
            }
        }
    }

    impl From<io::ErrorKind> for ErrorKind {
        fn from(kind: io::ErrorKind) -> Self {
            match kind {
                io::ErrorKind::ConnectionRefused => Self::ConnectionRefused,
                io::ErrorKind::ConnectionReset => Self::ConnectionReset,
                io::ErrorKind::ConnectionAborted => Self::ConnectionAborted,
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => Self::TimedOut,
                io::ErrorKind::AddrInUse => Self::AddrInUse,
                io::ErrorKind::AddrNotAvailable => Self::AddrNotAvailable,
                io::ErrorKind::HostUnreachable => Self::HostUnreachable,
                io::ErrorKind::NetworkUnreachable | io::ErrorKind::NetworkDown => {
                    Self::NetworkUnreachable
                }
                io::ErrorKind::NotConnected => Self::NotConnected,
                io::ErrorKind::BrokenPipe => Self::BrokenPipe,
                io::ErrorKind::InvalidInput => Self::InvalidInput,
                io::ErrorKind::InvalidData => Self::InvalidData,
                io::ErrorKind::WriteZero => Self::WriteZero,
                io::ErrorKind::OutOfMemory => Self::OutOfResources,
                io::ErrorKind::Unsupported => Self::Unsupported,
                io::ErrorKind::PermissionDenied => Self::PermissionDenied,
                io::ErrorKind::Interrupted => Self::Interrupted,
                io::ErrorKind::UnexpectedEof => Self::UnexpectedEof,
                _ => Self::Other,
            }
        }
    }

    /// The kind of an OS error, refined by its errno where `std` has no kind of
    /// its own for it (for example `ENOBUFS` becomes `OutOfResources`).
    impl Error for io::Error {
        fn kind(&self) -> ErrorKind {
            // An error built from a portnet kind (`io::Error::from(ErrorKind)`) keeps it,
            // including the kinds std has no name for.
            if let Some(kind) = self
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<ErrorKind>())
            {
                return *kind;
            }
            // errno values for the cases std leaves as Other.
            #[cfg(unix)]
            if let Some(code) = self.raw_os_error() {
                const EMFILE: i32 = 24;
                const ENFILE: i32 = 23;
                const ENOBUFS_LINUX: i32 = 105;
                const EMSGSIZE_LINUX: i32 = 90;
                let linux = cfg!(target_os = "linux");
                match code {
                    EMFILE | ENFILE => return ErrorKind::OutOfResources,
                    ENOBUFS_LINUX if linux => return ErrorKind::OutOfResources,
                    EMSGSIZE_LINUX if linux => return ErrorKind::InvalidInput,
                    _ => {}
                }
            }
            ErrorKind::from(io::Error::kind(self))
        }
    }

    impl From<ErrorKind> for io::Error {
        fn from(kind: ErrorKind) -> Self {
            io::Error::new(io::ErrorKind::from(kind), kind)
        }
    }
}
