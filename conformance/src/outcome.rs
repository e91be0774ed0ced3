//! What a case says: pass, fail with a reason, or skip for a missing capability.

use core::fmt;

/// A capability a case needs; a case skipped for lack of one names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Capability {
    /// `TcpConnect` on the stack under test.
    TcpConnect,
    /// `TcpListen` on the stack under test.
    TcpListen,
    /// `UdpBind` on the stack under test.
    Udp,
    /// An IPv6 address on both ends.
    Ipv6,
    /// A destination that drops every packet (for connect timeouts).
    BlackHole,
    /// A count of the stack's open sockets (for leak checks).
    SocketCount,
    /// ICMP errors reported to UDP sockets.
    IcmpErrors,
    /// `Dns` on the stack under test.
    Dns,
    /// A name the stack's resolver answers ([`crate::Harness::dns_name`]).
    DnsName,
    /// A name for which the stack's resolver gets no answer from any server
    /// ([`crate::Harness::dns_silent_name`]).
    DnsSilent,
    /// The address on the peer that the stack's resolver asks
    /// ([`crate::Harness::dns_server`]).
    DnsServer,
    /// A fixed socket pool of known size ([`crate::Harness::tcp_pool`],
    /// [`crate::Harness::udp_pool`]).
    SocketPool,
}

impl Capability {
    /// The name used in reports.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::TcpConnect => "tcp-connect",
            Self::TcpListen => "tcp-listen",
            Self::Udp => "udp",
            Self::Ipv6 => "ipv6",
            Self::BlackHole => "black-hole",
            Self::SocketCount => "socket-count",
            Self::IcmpErrors => "icmp-errors",
            Self::Dns => "dns",
            Self::DnsName => "dns-name",
            Self::DnsSilent => "dns-silent",
            Self::DnsServer => "dns-server",
            Self::SocketPool => "socket-pool",
        }
    }
}

impl Capability {
    /// The capability named `name` in reports ([`Capability::as_str`]).
    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::TcpConnect,
            Self::TcpListen,
            Self::Udp,
            Self::Ipv6,
            Self::BlackHole,
            Self::SocketCount,
            Self::IcmpErrors,
            Self::Dns,
            Self::DnsName,
            Self::DnsSilent,
            Self::DnsServer,
            Self::SocketPool,
        ]
        .into_iter()
        .find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure's explanation: a fixed-capacity text, so the suite needs no allocator.
/// Longer text is cut and ends with `…`.
#[derive(Clone, PartialEq, Eq)]
pub struct Detail {
    bytes: [u8; Self::CAPACITY],
    len: usize,
}

impl Detail {
    /// Most bytes a detail keeps.
    pub const CAPACITY: usize = 200;

    /// An empty detail.
    pub const fn new() -> Self {
        Self {
            bytes: [0; Self::CAPACITY],
            len: 0,
        }
    }

    /// A detail made of `args`.
    pub fn from_args(args: fmt::Arguments<'_>) -> Self {
        let mut detail = Self::new();
        // `write_str` never fails: it truncates.
        let _ = fmt::Write::write_fmt(&mut detail, args);
        detail
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only whole characters are ever copied in (see `write_str`).
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }
}

impl Default for Detail {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for Detail {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        const ELLIPSIS: &str = "…";
        let room = Self::CAPACITY - self.len;
        if s.len() <= room {
            self.bytes[self.len..self.len + s.len()].copy_from_slice(s.as_bytes());
            self.len += s.len();
            return Ok(());
        }
        if room < ELLIPSIS.len() {
            return Ok(());
        }
        let mut cut = room - ELLIPSIS.len();
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        for part in [&s[..cut], ELLIPSIS] {
            self.bytes[self.len..self.len + part.len()].copy_from_slice(part.as_bytes());
            self.len += part.len();
        }
        Ok(())
    }
}

impl fmt::Debug for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Detail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The stack keeps the rule.
    Pass,
    /// The stack broke the rule; the detail says how.
    Fail(Detail),
    /// The case could not run: the stack or harness lacks this capability.
    Skip(Capability),
}

impl Outcome {
    /// `pass`, `fail` or `skip`, as in the JSON report.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Fail(_) => "fail",
            Self::Skip(_) => "skip",
        }
    }

    /// Whether the case failed.
    pub const fn is_fail(&self) -> bool {
        matches!(self, Self::Fail(_))
    }
}

/// A case's early exit: `?` on a [`Result`] with this error ends the case.
pub type CaseResult = Result<(), Outcome>;

/// Ends the case with a failure whose detail is formatted like `format!`.
#[macro_export]
macro_rules! fail {
    ($($arg:tt)*) => {
        return ::core::result::Result::Err($crate::Outcome::Fail(
            $crate::Detail::from_args(::core::format_args!($($arg)*)),
        ))
    };
}

/// Fails the case unless the condition holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($arg:tt)*) => {
        if !$cond {
            $crate::fail!($($arg)*);
        }
    };
}
