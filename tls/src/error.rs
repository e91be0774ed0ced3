//! Errors: a TLS failure, or a failure of the wrapped transport.

use core::fmt;

use portnet::ErrorKind;

/// What kind of TLS failure an error is: finer than [`portnet::ErrorKind`], so a
/// caller can tell an untrusted certificate from a hostname mismatch from a peer
/// that does not speak TLS. Match it with a wildcard arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsKind {
    /// The server's certificate chain does not lead to a trusted root (unknown
    /// issuer, self-signed, bad signature). Kind `PermissionDenied`.
    CertificateNotTrusted,
    /// The certificate is valid but not for the server name asked for. Kind
    /// `PermissionDenied`.
    HostnameMismatch,
    /// The certificate is expired, not yet valid, revoked, malformed or not meant
    /// for a TLS server. Kind `PermissionDenied`.
    CertificateInvalid,
    /// The handshake did not complete: the peer closed or reset the connection
    /// during it (what a server that does not speak TLS does), refused it with a
    /// `handshake_failure` alert, or shares no protocol version or cipher suite.
    /// Kind `ConnectionAborted`.
    HandshakeFailure,
    /// The peer sent something that is not valid TLS (a plaintext server,
    /// malformed or unexpected records, a record that fails to decrypt). Kind
    /// `InvalidData`.
    Protocol,
    /// The peer ended the session with a fatal alert. Kind `ConnectionAborted`.
    PeerAlert,
    /// The transport ended without the peer's `close_notify`: the data may have
    /// been truncated by an attacker. Kind `UnexpectedEof`.
    Truncated,
    /// The server name is not a valid DNS name or IP address. Kind `InvalidInput`.
    InvalidServerName,
    /// A record did not fit in the record buffers, or a TLS buffer is full. Kind
    /// `OutOfResources`.
    BufferTooSmall,
    /// The connection's buffers are taken by another open connection (the
    /// `embedded-tls` wrapper lends one set at a time). Kind `OutOfResources`.
    InUse,
    /// Writing after the TLS write half was closed (`close_notify` sent). Kind
    /// `BrokenPipe`.
    Closed,
    /// Any other TLS failure (a configuration error, a crypto provider failure).
    /// Kind `Other`.
    Other,
}

impl TlsKind {
    /// The portnet kind a generic library acts on.
    pub const fn error_kind(self) -> ErrorKind {
        match self {
            Self::CertificateNotTrusted | Self::HostnameMismatch | Self::CertificateInvalid => {
                ErrorKind::PermissionDenied
            }
            Self::HandshakeFailure | Self::PeerAlert => ErrorKind::ConnectionAborted,
            Self::Protocol => ErrorKind::InvalidData,
            Self::Truncated => ErrorKind::UnexpectedEof,
            Self::InvalidServerName => ErrorKind::InvalidInput,
            Self::BufferTooSmall | Self::InUse => ErrorKind::OutOfResources,
            Self::Closed => ErrorKind::BrokenPipe,
            Self::Other => ErrorKind::Other,
        }
    }

    /// A short lowercase description.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CertificateNotTrusted => "certificate not trusted",
            Self::HostnameMismatch => "certificate not valid for the server name",
            Self::CertificateInvalid => "certificate invalid",
            Self::HandshakeFailure => "TLS handshake failed",
            Self::Protocol => "TLS protocol violation",
            Self::PeerAlert => "fatal alert from the peer",
            Self::Truncated => "connection closed without close_notify",
            Self::InvalidServerName => "invalid server name",
            Self::BufferTooSmall => "TLS buffer too small",
            Self::InUse => "TLS buffers in use by another connection",
            Self::Closed => "TLS write half closed",
            Self::Other => "TLS failure",
        }
    }
}

impl fmt::Display for TlsKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A TLS failure: its [`TlsKind`] and, where the TLS library gave one, its own
/// error for diagnostics.
#[derive(Debug, Clone)]
pub struct TlsError {
    kind: TlsKind,
    #[cfg(feature = "rustls")]
    source: Option<rustls::Error>,
    #[cfg(feature = "embedded-tls")]
    embedded: Option<embedded_tls::TlsError>,
}

impl TlsError {
    /// A failure of `kind` with no library error behind it.
    pub const fn new(kind: TlsKind) -> Self {
        Self {
            kind,
            #[cfg(feature = "rustls")]
            source: None,
            #[cfg(feature = "embedded-tls")]
            embedded: None,
        }
    }

    /// Its TLS kind.
    pub const fn tls_kind(&self) -> TlsKind {
        self.kind
    }

    /// The rustls error behind it, if any.
    #[cfg(feature = "rustls")]
    pub fn rustls_error(&self) -> Option<&rustls::Error> {
        self.source.as_ref()
    }

    #[cfg(feature = "rustls")]
    pub(crate) fn from_rustls(error: rustls::Error) -> Self {
        Self {
            kind: crate::rustls_impl::classify(&error),
            source: Some(error),
            #[cfg(feature = "embedded-tls")]
            embedded: None,
        }
    }

    /// The embedded-tls error behind it, if any.
    #[cfg(feature = "embedded-tls")]
    pub fn embedded_tls_error(&self) -> Option<embedded_tls::TlsError> {
        self.embedded
    }

    #[cfg(feature = "embedded-tls")]
    pub(crate) fn from_embedded(kind: TlsKind, error: embedded_tls::TlsError) -> Self {
        Self {
            kind,
            #[cfg(feature = "rustls")]
            source: None,
            embedded: Some(error),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_str())?;
        #[cfg(feature = "rustls")]
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        #[cfg(feature = "embedded-tls")]
        if let Some(embedded) = &self.embedded {
            write!(f, ": {embedded:?}")?;
        }
        Ok(())
    }
}

impl portnet::Error for TlsError {
    fn kind(&self) -> ErrorKind {
        self.kind.error_kind()
    }
}

/// `source()` is the rustls error, where there is one.
impl core::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        #[cfg(feature = "rustls")]
        if let Some(source) = &self.source {
            return Some(source);
        }
        None
    }
}

/// The error of a [`crate::TlsConnect`] and its connections: a TLS failure, or a
/// failure of the wrapped stack, `E`, passed through with its own kind.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error<E> {
    /// The TLS layer failed.
    Tls(TlsError),
    /// The wrapped stack failed (a network failure: reset, refused, timed out, …).
    Transport(E),
}

impl<E> Error<E> {
    /// The TLS kind, or `None` for a transport failure.
    pub fn tls_kind(&self) -> Option<TlsKind> {
        match self {
            Self::Tls(e) => Some(e.tls_kind()),
            Self::Transport(_) => None,
        }
    }

    /// A TLS failure of `kind` (for wrappers and tests of code that handles these errors).
    pub const fn tls(kind: TlsKind) -> Self {
        Self::Tls(TlsError::new(kind))
    }
}

impl<E: portnet::Error + 'static> portnet::Error for Error<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Tls(e) => portnet::Error::kind(e),
            Self::Transport(e) => e.kind(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for Error<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tls(e) => fmt::Display::fmt(e, f),
            Self::Transport(e) => write!(f, "transport: {e}"),
        }
    }
}

/// `source()` is the transport's error, or the TLS library's.
impl<E: core::error::Error + 'static> core::error::Error for Error<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Tls(e) => core::error::Error::source(e),
            Self::Transport(e) => Some(e),
        }
    }
}

/// A failure that generic code over the wrapper reports is the transport's kind
/// of failure, in the transport's error type.
impl<E: From<ErrorKind>> From<ErrorKind> for Error<E> {
    fn from(kind: ErrorKind) -> Self {
        Self::Transport(E::from(kind))
    }
}
