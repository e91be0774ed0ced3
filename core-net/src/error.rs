//! Parse errors: what went wrong, and where.

use core::fmt;

/// What is wrong with a host or endpoint text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The text is empty.
    Empty,
    /// Digits and dots that are not a valid IPv4 address (`1.2.3`, `256.1.1.1`).
    InvalidIpv4,
    /// The text between `[` and `]` is not a valid IPv6 address.
    InvalidIpv6,
    /// A `[` without its `]`.
    UnclosedBracket,
    /// A port was required and is missing.
    MissingPort,
    /// The port is not a decimal number.
    InvalidPort,
    /// The port is above 65535.
    PortOutOfRange,
    /// A character that cannot appear there.
    UnexpectedCharacter,
    /// A DNS label longer than 63 bytes.
    LabelTooLong,
    /// A DNS name longer than 253 bytes (254 with a trailing dot).
    NameTooLong,
    /// An empty DNS label (`a..b`, a leading dot).
    EmptyLabel,
    /// A DNS label that starts or ends with `-`.
    HyphenAtLabelEdge,
    /// A zone id that is empty, too long, or has a character outside printable ASCII.
    InvalidZone,
    /// A zone id on an address that cannot have one (IPv4, or an IPv6 address outside
    /// `[...]`).
    ZoneNotAllowed,
    /// Text after a complete host or endpoint.
    TrailingCharacters,
}

impl ParseErrorKind {
    /// A short description.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Empty => "empty input",
            Self::InvalidIpv4 => "invalid IPv4 address",
            Self::InvalidIpv6 => "invalid IPv6 address",
            Self::UnclosedBracket => "'[' without ']'",
            Self::MissingPort => "missing port",
            Self::InvalidPort => "invalid port",
            Self::PortOutOfRange => "port out of range",
            Self::UnexpectedCharacter => "unexpected character",
            Self::LabelTooLong => "DNS label longer than 63 bytes",
            Self::NameTooLong => "DNS name longer than 253 bytes",
            Self::EmptyLabel => "empty DNS label",
            Self::HyphenAtLabelEdge => "DNS label starts or ends with '-'",
            Self::InvalidZone => "invalid zone id",
            Self::ZoneNotAllowed => "zone id not allowed here",
            Self::TrailingCharacters => "trailing characters",
        }
    }
}

/// A parse error: its kind and the byte offset in the input where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ParseError {
    kind: ParseErrorKind,
    position: usize,
}

impl ParseError {
    pub(crate) const fn new(kind: ParseErrorKind, position: usize) -> Self {
        Self { kind, position }
    }

    pub(crate) const fn offset(self, by: usize) -> Self {
        Self {
            kind: self.kind,
            position: self.position + by,
        }
    }

    /// What is wrong.
    pub const fn kind(&self) -> ParseErrorKind {
        self.kind
    }

    /// The byte offset in the input where the problem is.
    pub const fn position(&self) -> usize {
        self.position
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind.as_str(), self.position)
    }
}

impl core::error::Error for ParseError {}
