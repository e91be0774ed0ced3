//! Errors of the codec.

use core::fmt;

use super::ReasonCode;

/// What kind of decoding failure happened; each maps to the MQTT 5.0 reason code a
/// receiver sends in its DISCONNECT ([`DecodeErrorKind::reason_code`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The bytes do not follow the packet format (a length that overruns the packet,
    /// invalid UTF-8, a reserved bit set, …). Reason code 0x81.
    Malformed,
    /// The packet is well formed but breaks a protocol rule (a packet identifier of
    /// zero, a property in the wrong packet, a reason code the packet may not carry,
    /// …). Reason code 0x82.
    ProtocolError,
    /// A PUBLISH topic name with a wildcard or an empty topic without an alias.
    /// Reason code 0x90.
    TopicNameInvalid,
    /// The packet is larger than the receiver accepts. Reason code 0x95.
    TooLarge,
    /// A CONNECT asks for a protocol version this codec does not speak. Reason
    /// code 0x84.
    UnsupportedProtocolVersion,
}

impl DecodeErrorKind {
    /// The MQTT 5.0 reason code to disconnect with.
    pub const fn reason_code(self) -> ReasonCode {
        match self {
            Self::Malformed => ReasonCode::MALFORMED_PACKET,
            Self::ProtocolError => ReasonCode::PROTOCOL_ERROR,
            Self::TopicNameInvalid => ReasonCode::TOPIC_NAME_INVALID,
            Self::TooLarge => ReasonCode::PACKET_TOO_LARGE,
            Self::UnsupportedProtocolVersion => ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
        }
    }
}

/// A packet could not be decoded: a kind and a fixed description of the rule broken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodeError {
    kind: DecodeErrorKind,
    detail: &'static str,
}

impl DecodeError {
    pub(crate) const fn new(kind: DecodeErrorKind, detail: &'static str) -> Self {
        Self { kind, detail }
    }
    pub(crate) const fn malformed(detail: &'static str) -> Self {
        Self::new(DecodeErrorKind::Malformed, detail)
    }
    pub(crate) const fn protocol(detail: &'static str) -> Self {
        Self::new(DecodeErrorKind::ProtocolError, detail)
    }
    /// The kind of failure.
    pub const fn kind(&self) -> DecodeErrorKind {
        self.kind
    }
    /// Which rule the packet broke, in words.
    pub const fn detail(&self) -> &'static str {
        self.detail
    }
    /// The MQTT 5.0 reason code to disconnect with.
    pub const fn reason_code(&self) -> ReasonCode {
        self.kind.reason_code()
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DecodeErrorKind::Malformed => "malformed packet",
            DecodeErrorKind::ProtocolError => "protocol error",
            DecodeErrorKind::TopicNameInvalid => "topic name invalid",
            DecodeErrorKind::TooLarge => "packet too large",
            DecodeErrorKind::UnsupportedProtocolVersion => "unsupported protocol version",
        };
        write!(f, "{kind}: {}", self.detail)
    }
}

impl core::error::Error for DecodeError {}

/// A packet could not be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// The output buffer is too small; the packet needs this many bytes.
    BufferTooSmall {
        /// The packet's full encoded length.
        needed: usize,
    },
    /// The packet would be longer than MQTT's limit of 268,435,455 bytes after the
    /// fixed header, or a field longer than its length prefix can say.
    TooLong,
    /// A field breaks a rule of the protocol (an invalid topic, a string with
    /// U+0000, a packet identifier of zero, a field the chosen version lacks, …).
    Invalid(&'static str),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BufferTooSmall { needed } => {
                write!(f, "buffer too small: the packet needs {needed} bytes")
            }
            Self::TooLong => f.write_str("packet or field longer than MQTT allows"),
            Self::Invalid(what) => write!(f, "invalid packet: {what}"),
        }
    }
}

impl core::error::Error for EncodeError {}
