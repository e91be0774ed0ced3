//! Errors of the client.

use core::fmt;

use crate::codec::{DecodeError, EncodeError, ReasonCode};

/// What went wrong, in a few kinds an application can act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The network failed (connect refused, reset, …): reconnect later.
    Network,
    /// The broker did not answer in time (CONNACK, PINGRESP).
    Timeout,
    /// The broker refused the connection (CONNACK with a failure code).
    Refused,
    /// The broker closed the connection, with a DISCONNECT (5.0) or without.
    Disconnected,
    /// The broker sent a packet that is malformed or breaks the protocol.
    Protocol,
    /// The application asked for something invalid (a bad topic, a string with
    /// U+0000, more filters than a SUBACK can report, …).
    InvalidInput,
    /// A packet is larger than a buffer or the broker's maximum packet size.
    TooLarge,
    /// The broker answered a PUBLISH, SUBSCRIBE or UNSUBSCRIBE with a failure code.
    Rejected,
    /// What was asked is not offered: by the broker (a QoS above its maximum,
    /// retain), by the connection's protocol version, or by this build (a
    /// protocol version whose feature is off).
    Unsupported,
    /// Enhanced authentication failed on the client's side (the
    /// [`Authenticator`](crate::Authenticator) refused).
    Authentication,
}

/// An error of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection failed with this kind.
    Network(portnet::ErrorKind),
    /// The broker did not send CONNACK or PINGRESP in time.
    Timeout,
    /// The broker refused the connection with this reason code.
    Refused(ReasonCode),
    /// The broker sent DISCONNECT with this reason code (5.0).
    ServerDisconnect(ReasonCode),
    /// The broker closed the TCP connection.
    Closed,
    /// The driver stopped: its `run` returned after
    /// [`Client::disconnect`](crate::Client::disconnect) or was cancelled, or the
    /// [`Driver`](crate::Driver) was dropped. Operations that were waiting fail with
    /// it (see [`ConnectOptions::wait_for_reconnect`](crate::ConnectOptions::wait_for_reconnect)).
    Stopped,
    /// The broker sent bytes that do not decode; the client sent DISCONNECT with
    /// [`DecodeError::reason_code`] (5.0) and closed the connection.
    Malformed(DecodeError),
    /// The broker sent a well-formed packet that breaks the protocol (an unexpected
    /// packet type, an invalid topic alias, too many QoS 2 messages, …); the client
    /// sent DISCONNECT with this reason code (5.0) and closed the connection.
    Protocol(ReasonCode, &'static str),
    /// A packet the application asked for could not be encoded.
    Encode(EncodeError),
    /// The packet exceeds the transmit buffer or the broker's maximum packet size.
    TooLarge,
    /// The broker rejected the operation with this reason code.
    Rejected(ReasonCode),
    /// What was asked is not offered (see [`ErrorKind::Unsupported`]).
    Unsupported(&'static str),
    /// The application passed invalid arguments.
    InvalidInput(&'static str),
    /// The [`Authenticator`](crate::Authenticator) refused (a challenge it cannot
    /// answer, a server proof that does not verify); a 5.0 client sent DISCONNECT
    /// with 0x87 (not authorized) when this ended a connection.
    Auth(&'static str),
}

impl Error {
    /// The kind of error.
    pub const fn kind(&self) -> ErrorKind {
        match self {
            Self::Network(_) => ErrorKind::Network,
            Self::Timeout => ErrorKind::Timeout,
            Self::Refused(_) => ErrorKind::Refused,
            Self::ServerDisconnect(_) | Self::Closed | Self::Stopped => ErrorKind::Disconnected,
            Self::Malformed(_) | Self::Protocol(..) => ErrorKind::Protocol,
            Self::Encode(EncodeError::BufferTooSmall { .. } | EncodeError::TooLong)
            | Self::TooLarge => ErrorKind::TooLarge,
            Self::Encode(_) | Self::InvalidInput(_) => ErrorKind::InvalidInput,
            Self::Rejected(_) => ErrorKind::Rejected,
            Self::Unsupported(_) => ErrorKind::Unsupported,
            Self::Auth(_) => ErrorKind::Authentication,
        }
    }

    /// The reason code that the broker sent or that the client disconnected with,
    /// if there is one.
    pub const fn reason_code(&self) -> Option<ReasonCode> {
        match self {
            Self::Refused(c)
            | Self::ServerDisconnect(c)
            | Self::Rejected(c)
            | Self::Protocol(c, _) => Some(*c),
            Self::Malformed(e) => Some(e.reason_code()),
            _ => None,
        }
    }

    pub(crate) fn network<E: portnet::Error>(e: E) -> Self {
        Self::Network(e.kind())
    }
}

impl From<EncodeError> for Error {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Network(kind) => write!(f, "network error: {kind}"),
            Self::Timeout => f.write_str("the broker did not answer in time"),
            Self::Refused(c) => write!(f, "connection refused: {c}"),
            Self::ServerDisconnect(c) => write!(f, "the broker disconnected: {c}"),
            Self::Closed => f.write_str("the broker closed the connection"),
            Self::Stopped => f.write_str("the client's driver is not running"),
            Self::Malformed(e) => write!(f, "bad packet from the broker: {e}"),
            Self::Protocol(c, what) => write!(f, "protocol violation by the broker: {what} ({c})"),
            Self::Encode(e) => write!(f, "cannot encode: {e}"),
            Self::TooLarge => f.write_str("packet larger than the buffer or the broker accepts"),
            Self::Rejected(c) => write!(f, "rejected by the broker: {c}"),
            Self::Unsupported(what) => write!(f, "not supported: {what}"),
            Self::InvalidInput(what) => write!(f, "invalid input: {what}"),
            Self::Auth(what) => write!(f, "authentication failed: {what}"),
        }
    }
}

impl core::error::Error for Error {}

impl portnet::Error for Error {
    fn kind(&self) -> portnet::ErrorKind {
        match self.kind() {
            ErrorKind::Network => match self {
                Self::Network(k) => *k,
                _ => portnet::ErrorKind::Other,
            },
            ErrorKind::Timeout => portnet::ErrorKind::TimedOut,
            ErrorKind::Refused => portnet::ErrorKind::ConnectionRefused,
            ErrorKind::Disconnected => portnet::ErrorKind::ConnectionReset,
            ErrorKind::Protocol => portnet::ErrorKind::InvalidData,
            ErrorKind::InvalidInput | ErrorKind::TooLarge => portnet::ErrorKind::InvalidInput,
            ErrorKind::Unsupported => portnet::ErrorKind::Unsupported,
            ErrorKind::Rejected | ErrorKind::Authentication => portnet::ErrorKind::PermissionDenied,
        }
    }
}
