//! `Host` and `Endpoint`: what users write to name a server (`broker.local:1883`,
//! `[fe80::1%eth0]:80`), parsed and validated without allocation.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::error::{ParseError, ParseErrorKind as Kind};

/// Longest zone name kept (Linux interface names are at most 15 bytes).
const MAX_ZONE_NAME: usize = 15;
/// Longest DNS name without its trailing dot (RFC 1035 / RFC 1123).
const MAX_NAME: usize = 253;
/// Longest DNS label.
const MAX_LABEL: usize = 63;

/// An IPv6 zone id (`%eth0`, `%3`): the interface a link-local address belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Zone<'a> {
    /// A numeric interface index.
    Index(u32),
    /// An interface name: 1 to 15 bytes of printable ASCII other than `%`, `[`, `]`.
    Name(&'a str),
}

impl<'a> Zone<'a> {
    /// Parses a zone id (the text after `%`).
    pub fn parse(text: &'a str) -> Result<Self, ParseError> {
        if text.is_empty() {
            return Err(ParseError::new(Kind::InvalidZone, 0));
        }
        if text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse()
                .map(Zone::Index)
                .map_err(|_| ParseError::new(Kind::InvalidZone, 0));
        }
        if text.len() > MAX_ZONE_NAME {
            return Err(ParseError::new(Kind::InvalidZone, MAX_ZONE_NAME));
        }
        match text
            .bytes()
            .position(|b| !(0x21..=0x7e).contains(&b) || matches!(b, b'%' | b'[' | b']'))
        {
            Some(at) => Err(ParseError::new(Kind::InvalidZone, at)),
            None => Ok(Zone::Name(text)),
        }
    }
}

impl fmt::Display for Zone<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Index(index) => write!(f, "{index}"),
            Self::Name(name) => f.write_str(name),
        }
    }
}

/// A DNS host name that follows RFC 1123: labels of 1 to 63 letters, digits and
/// hyphens, not starting or ending with a hyphen, at most 253 bytes (plus an
/// optional trailing dot), and not all-numeric in its last label (that would be
/// an IPv4 address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DnsName<'a>(&'a str);

impl<'a> DnsName<'a> {
    /// Validates `text` as a host name.
    pub fn parse(text: &'a str) -> Result<Self, ParseError> {
        if text.is_empty() {
            return Err(ParseError::new(Kind::Empty, 0));
        }
        let body = text.strip_suffix('.').unwrap_or(text);
        if body.len() > MAX_NAME {
            return Err(ParseError::new(Kind::NameTooLong, MAX_NAME));
        }
        let mut start = 0;
        let mut last_all_digits = false;
        for label in body.split('.') {
            check_label(label).map_err(|e| e.offset(start))?;
            last_all_digits = label.bytes().all(|b| b.is_ascii_digit());
            start += label.len() + 1;
        }
        if last_all_digits {
            return Err(ParseError::new(Kind::InvalidIpv4, 0));
        }
        Ok(Self(text))
    }

    /// The name as written.
    pub const fn as_str(&self) -> &'a str {
        self.0
    }

    /// Whether two names are the same name (DNS names compare without case and
    /// without a trailing dot).
    pub fn eq_ignore_case(&self, other: &DnsName<'_>) -> bool {
        let a = self.0.strip_suffix('.').unwrap_or(self.0);
        let b = other.0.strip_suffix('.').unwrap_or(other.0);
        a.eq_ignore_ascii_case(b)
    }
}

fn check_label(label: &str) -> Result<(), ParseError> {
    if label.is_empty() {
        return Err(ParseError::new(Kind::EmptyLabel, 0));
    }
    if label.len() > MAX_LABEL {
        return Err(ParseError::new(Kind::LabelTooLong, MAX_LABEL));
    }
    if let Some(at) = label
        .bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'-'))
    {
        return Err(ParseError::new(Kind::UnexpectedCharacter, at));
    }
    if label.starts_with('-') {
        return Err(ParseError::new(Kind::HyphenAtLabelEdge, 0));
    }
    if label.ends_with('-') {
        return Err(ParseError::new(Kind::HyphenAtLabelEdge, label.len() - 1));
    }
    Ok(())
}

impl fmt::Display for DnsName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A host: an IPv4 address, an IPv6 address with an optional zone, or a DNS name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address, with its zone if it has one.
    Ipv6 {
        /// The address.
        addr: Ipv6Addr,
        /// The zone id (`%eth0`), if any.
        zone: Option<Zone<'a>>,
    },
    /// A DNS name, to be resolved.
    Name(DnsName<'a>),
}

impl<'a> Host<'a> {
    /// Parses a host: `192.0.2.1`, `::1`, `[::1]`, `fe80::1%eth0`, `broker.local`.
    pub fn parse(text: &'a str) -> Result<Self, ParseError> {
        if let Some(inner) = text.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                return Err(ParseError::new(Kind::UnclosedBracket, 0));
            };
            if close + 2 != text.len() {
                return Err(ParseError::new(Kind::TrailingCharacters, close + 2));
            }
            return parse_ipv6(&inner[..close]).map_err(|e| e.offset(1));
        }
        if text.contains(':') {
            return parse_ipv6(text);
        }
        if text.is_empty() {
            return Err(ParseError::new(Kind::Empty, 0));
        }
        if let Some(at) = text.find('%') {
            return Err(ParseError::new(Kind::ZoneNotAllowed, at));
        }
        if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return text
                .parse()
                .map(Host::Ipv4)
                .map_err(|_| ParseError::new(Kind::InvalidIpv4, 0));
        }
        DnsName::parse(text).map(Host::Name)
    }

    /// The IP address, if the host is one (ignoring any zone).
    pub const fn ip(&self) -> Option<IpAddr> {
        match *self {
            Self::Ipv4(addr) => Some(IpAddr::V4(addr)),
            Self::Ipv6 { addr, .. } => Some(IpAddr::V6(addr)),
            Self::Name(_) => None,
        }
    }

    /// The DNS name, if the host is one.
    pub const fn name(&self) -> Option<DnsName<'a>> {
        match *self {
            Self::Name(name) => Some(name),
            _ => None,
        }
    }
}

/// Parses `addr[%zone]` (no brackets).
fn parse_ipv6(text: &str) -> Result<Host<'_>, ParseError> {
    let (addr_text, zone) = match text.find('%') {
        Some(at) => (
            &text[..at],
            Some(Zone::parse(&text[at + 1..]).map_err(|e| e.offset(at + 1))?),
        ),
        None => (text, None),
    };
    if addr_text.is_empty() {
        return Err(ParseError::new(Kind::InvalidIpv6, 0));
    }
    let addr = addr_text
        .parse()
        .map_err(|_| ParseError::new(Kind::InvalidIpv6, 0))?;
    Ok(Host::Ipv6 { addr, zone })
}

impl From<IpAddr> for Host<'_> {
    fn from(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(addr) => Self::Ipv4(addr),
            IpAddr::V6(addr) => Self::Ipv6 { addr, zone: None },
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipv4(addr) => write!(f, "{addr}"),
            Self::Ipv6 { addr, zone: None } => write!(f, "{addr}"),
            Self::Ipv6 {
                addr,
                zone: Some(zone),
            } => write!(f, "{addr}%{zone}"),
            Self::Name(name) => write!(f, "{name}"),
        }
    }
}

/// A host and a port: `broker.local:1883`, `192.0.2.1:80`, `[::1]:80`,
/// `[fe80::1%eth0]:80`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoint<'a> {
    host: Host<'a>,
    port: u16,
}

impl<'a> Endpoint<'a> {
    /// An endpoint from its parts.
    pub const fn new(host: Host<'a>, port: u16) -> Self {
        Self { host, port }
    }

    /// Parses `host:port`; an IPv6 address must be in brackets.
    pub fn parse(text: &'a str) -> Result<Self, ParseError> {
        Self::parse_inner(text, None)
    }

    /// Parses `host:port` or just `host`, which then gets `default_port`
    /// (`"broker.local"` → port 1883 for MQTT). A bare IPv6 address without
    /// brackets is taken as a host without a port.
    pub fn parse_with_default_port(text: &'a str, default_port: u16) -> Result<Self, ParseError> {
        Self::parse_inner(text, Some(default_port))
    }

    fn parse_inner(text: &'a str, default_port: Option<u16>) -> Result<Self, ParseError> {
        if text.is_empty() {
            return Err(ParseError::new(Kind::Empty, 0));
        }
        if text.starts_with('[') {
            let Some(close) = text.find(']') else {
                return Err(ParseError::new(Kind::UnclosedBracket, 0));
            };
            let host = parse_ipv6(&text[1..close]).map_err(|e| e.offset(1))?;
            let rest = &text[close + 1..];
            let port = match (rest.strip_prefix(':'), default_port) {
                (Some(port), _) => parse_port(port).map_err(|e| e.offset(close + 2))?,
                (None, Some(default)) if rest.is_empty() => default,
                (None, _) if rest.is_empty() => {
                    return Err(ParseError::new(Kind::MissingPort, text.len()));
                }
                (None, _) => return Err(ParseError::new(Kind::UnexpectedCharacter, close + 1)),
            };
            return Ok(Self { host, port });
        }
        let colons = text.bytes().filter(|&b| b == b':').count();
        match (colons, default_port) {
            (0, Some(default)) => Ok(Self {
                host: Host::parse(text)?,
                port: default,
            }),
            (0, None) => Err(ParseError::new(Kind::MissingPort, text.len())),
            (1, _) => {
                let at = text.find(':').unwrap_or(text.len());
                let host = Host::parse(&text[..at])?;
                let port = parse_port(&text[at + 1..]).map_err(|e| e.offset(at + 1))?;
                Ok(Self { host, port })
            }
            (_, Some(default)) => Ok(Self {
                host: parse_ipv6(text)?,
                port: default,
            }),
            // `::1:80` is ambiguous: an IPv6 address with a port needs brackets.
            (_, None) => Err(ParseError::new(
                Kind::UnexpectedCharacter,
                text.find(':').unwrap_or(0),
            )),
        }
    }

    /// The host.
    pub const fn host(&self) -> Host<'a> {
        self.host
    }

    /// The port.
    pub const fn port(&self) -> u16 {
        self.port
    }

    /// The socket address, when the host is an IP address (a numeric zone becomes
    /// the scope id). `None` for a DNS name, and for a named zone, whose index only
    /// the operating system knows.
    pub fn to_socket_addr(&self) -> Option<SocketAddr> {
        match self.host {
            Host::Ipv4(addr) => Some(SocketAddr::V4(SocketAddrV4::new(addr, self.port))),
            Host::Ipv6 { addr, zone: None } => {
                Some(SocketAddr::V6(SocketAddrV6::new(addr, self.port, 0, 0)))
            }
            Host::Ipv6 {
                addr,
                zone: Some(Zone::Index(scope)),
            } => Some(SocketAddr::V6(SocketAddrV6::new(addr, self.port, 0, scope))),
            Host::Ipv6 {
                zone: Some(Zone::Name(_)),
                ..
            }
            | Host::Name(_) => None,
        }
    }
}

fn parse_port(text: &str) -> Result<u16, ParseError> {
    if text.is_empty() {
        return Err(ParseError::new(Kind::MissingPort, 0));
    }
    if let Some(at) = text.bytes().position(|b| !b.is_ascii_digit()) {
        return Err(ParseError::new(Kind::InvalidPort, at));
    }
    // At most five digits can be in range; more is out of range (or padding we refuse).
    let value = text.bytes().try_fold(0u32, |acc, b| {
        let next = acc * 10 + u32::from(b - b'0');
        (next <= u32::from(u16::MAX)).then_some(next)
    });
    match value {
        Some(port) => Ok(port as u16),
        None => Err(ParseError::new(Kind::PortOutOfRange, 0)),
    }
}

impl From<SocketAddr> for Endpoint<'_> {
    fn from(addr: SocketAddr) -> Self {
        let host = match addr {
            SocketAddr::V4(v4) => Host::Ipv4(*v4.ip()),
            SocketAddr::V6(v6) if v6.scope_id() != 0 => Host::Ipv6 {
                addr: *v6.ip(),
                zone: Some(Zone::Index(v6.scope_id())),
            },
            SocketAddr::V6(v6) => Host::Ipv6 {
                addr: *v6.ip(),
                zone: None,
            },
        };
        Self {
            host,
            port: addr.port(),
        }
    }
}

impl fmt::Display for Endpoint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.host {
            Host::Ipv6 { .. } => write!(f, "[{}]:{}", self.host, self.port),
            _ => write!(f, "{}:{}", self.host, self.port),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Zone<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Self::Index(index) => defmt::write!(f, "{}", index),
            Self::Name(name) => defmt::write!(f, "{=str}", name),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for DnsName<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.0)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Host<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        match self {
            Self::Ipv4(addr) => defmt::write!(f, "{}", addr.octets()),
            Self::Ipv6 { addr, zone: None } => defmt::write!(f, "{}", addr.segments()),
            Self::Ipv6 {
                addr,
                zone: Some(zone),
            } => defmt::write!(f, "{}%{}", addr.segments(), zone),
            Self::Name(name) => defmt::write!(f, "{}", name),
        }
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Endpoint<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}:{}", self.host, self.port)
    }
}
