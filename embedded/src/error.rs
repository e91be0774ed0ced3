//! The adapters' error types: a portnet error seen by embedded code, and an
//! embedded error seen by portnet code.

use core::fmt;

use portnet::ErrorKind;

/// The error of the adapters that present a **portnet** stack or stream to
/// embedded code ([`EmbeddedIo`](crate::EmbeddedIo), [`EmbeddedNal`](crate::EmbeddedNal),
/// [`BlockingIo`](crate::BlockingIo), [`NbNal`](crate::NbNal)).
///
/// Its `embedded_io::Error::kind` is the portnet kind converted with portnet's
/// `From<ErrorKind> for embedded_io::ErrorKind` (kinds embedded-io lacks, such as
/// `HostUnreachable`, become `Other`; `OutOfResources` becomes `OutOfMemory`); its
/// `portnet::Error::kind` keeps the exact portnet kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EmbeddedError<E> {
    /// The portnet stack failed.
    Stack(E),
    /// The adapter refused the operation (a socket in the wrong state, an operation
    /// the adapter cannot express), with the kind that describes it.
    Adapter(ErrorKind),
}

impl<E: portnet::Error> EmbeddedError<E> {
    /// The portnet kind of the error.
    pub fn portnet_kind(&self) -> ErrorKind {
        match self {
            Self::Stack(e) => e.kind(),
            Self::Adapter(kind) => *kind,
        }
    }

    /// The stack's error, if it came from the stack.
    pub fn into_stack(self) -> Option<E> {
        match self {
            Self::Stack(e) => Some(e),
            Self::Adapter(_) => None,
        }
    }
}

impl<E: fmt::Display> fmt::Display for EmbeddedError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stack(e) => write!(f, "portnet stack: {e}"),
            Self::Adapter(kind) => write!(f, "portnet adapter: {kind}"),
        }
    }
}

/// `source()` is the stack's error.
impl<E: core::error::Error + 'static> core::error::Error for EmbeddedError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Stack(e) => Some(e),
            Self::Adapter(_) => None,
        }
    }
}

impl<E> From<ErrorKind> for EmbeddedError<E> {
    fn from(kind: ErrorKind) -> Self {
        Self::Adapter(kind)
    }
}

impl<E: portnet::Error + 'static> portnet::Error for EmbeddedError<E> {
    fn kind(&self) -> ErrorKind {
        self.portnet_kind()
    }
}

#[cfg(any(feature = "embedded-io", feature = "embedded-io-async"))]
impl<E: portnet::Error + 'static> embedded_io::Error for EmbeddedError<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        self.portnet_kind().into()
    }
}

#[cfg(feature = "embedded-nal")]
impl<E: portnet::Error> embedded_nal::TcpError for EmbeddedError<E> {
    /// `PipeClosed` for the kinds that mean the connection is gone
    /// (`ConnectionReset`, `ConnectionAborted`, `BrokenPipe`, `NotConnected`),
    /// `Other` for the rest.
    fn kind(&self) -> embedded_nal::TcpErrorKind {
        match self.portnet_kind() {
            ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::NotConnected => embedded_nal::TcpErrorKind::PipeClosed,
            _ => embedded_nal::TcpErrorKind::Other,
        }
    }
}

/// The error of the adapters that present an **embedded** stream or stack to
/// portnet code ([`PortnetIo`](crate::PortnetIo), [`PortnetTcp`](crate::PortnetTcp),
/// [`PortnetUdp`](crate::PortnetUdp)).
///
/// Its `portnet::Error::kind` maps `embedded_io::ErrorKind` one to one where
/// portnet has the kind (`OutOfMemory` becomes `OutOfResources`; `NotFound` and
/// `AlreadyExists`, which mean nothing for a socket, become `Other`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortnetError<E> {
    /// The embedded stack failed.
    Stack(E),
    /// The adapter cannot do what portnet asks (`Unsupported` for an operation
    /// the embedded traits lack, `InvalidInput` for a remote address portnet
    /// rejects, `BrokenPipe` for a write after close, …).
    Adapter(ErrorKind),
}

impl<E> PortnetError<E> {
    /// The stack's error, if it came from the stack.
    pub fn into_stack(self) -> Option<E> {
        match self {
            Self::Stack(e) => Some(e),
            Self::Adapter(_) => None,
        }
    }
}

impl<E: fmt::Debug> fmt::Display for PortnetError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Debug`, because an embedded stack's error need not be `Display`
        // (embedded-io before 0.7, embedded-nal).
        match self {
            Self::Stack(e) => write!(f, "embedded stack: {e:?}"),
            Self::Adapter(kind) => write!(f, "embedded adapter: {kind}"),
        }
    }
}

// No `source()`: an embedded stack's error need not be `core::error::Error` or
// `'static`; its `Debug` is in the message instead.
impl<E: fmt::Debug> core::error::Error for PortnetError<E> {}

impl<E> From<ErrorKind> for PortnetError<E> {
    fn from(kind: ErrorKind) -> Self {
        Self::Adapter(kind)
    }
}

/// The portnet kind of an `embedded_io` kind.
#[cfg(feature = "embedded-io-async")]
pub(crate) fn kind_from_embedded(kind: embedded_io::ErrorKind) -> ErrorKind {
    use embedded_io::ErrorKind as E;
    match kind {
        E::PermissionDenied => ErrorKind::PermissionDenied,
        E::ConnectionRefused => ErrorKind::ConnectionRefused,
        E::ConnectionReset => ErrorKind::ConnectionReset,
        E::ConnectionAborted => ErrorKind::ConnectionAborted,
        E::NotConnected => ErrorKind::NotConnected,
        E::AddrInUse => ErrorKind::AddrInUse,
        E::AddrNotAvailable => ErrorKind::AddrNotAvailable,
        E::BrokenPipe => ErrorKind::BrokenPipe,
        E::InvalidInput => ErrorKind::InvalidInput,
        E::InvalidData => ErrorKind::InvalidData,
        E::TimedOut => ErrorKind::TimedOut,
        E::Interrupted => ErrorKind::Interrupted,
        E::Unsupported => ErrorKind::Unsupported,
        E::OutOfMemory => ErrorKind::OutOfResources,
        E::WriteZero => ErrorKind::WriteZero,
        _ => ErrorKind::Other,
    }
}

#[cfg(feature = "embedded-io-async")]
impl<E: embedded_io::Error> portnet::Error for PortnetError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Stack(e) => kind_from_embedded(e.kind()),
            Self::Adapter(kind) => *kind,
        }
    }
}

#[cfg(feature = "embedded-io-async")]
impl<E: embedded_io::Error> embedded_io::Error for PortnetError<E> {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self {
            Self::Stack(e) => e.kind(),
            Self::Adapter(kind) => (*kind).into(),
        }
    }
}
