//! The stack's error: a portnet kind, with lwIP's `err_t` when lwIP said it.

use core::fmt;

use portnet::ErrorKind;

use crate::ffi::Err;

/// An error of the lwIP stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    /// lwIP's `err_t`, 0 when the failure is this crate's own finding.
    code: i8,
}

impl Error {
    pub(crate) const fn lwip(code: Err) -> Self {
        Self {
            kind: kind_of(code),
            code,
        }
    }

    /// lwIP's `err_t` behind the error, if lwIP reported it.
    pub const fn lwip_code(&self) -> Option<i8> {
        if self.code == 0 {
            None
        } else {
            Some(self.code)
        }
    }
}

/// The kind of an lwIP `err_t` (lwip/err.h), where it arises in the raw API.
pub(crate) const fn kind_of(code: Err) -> ErrorKind {
    match code {
        -1 | -2 => ErrorKind::OutOfResources, // ERR_MEM, ERR_BUF
        -3 => ErrorKind::TimedOut,            // ERR_TIMEOUT
        -4 => ErrorKind::NetworkUnreachable,  // ERR_RTE: no route
        -5 | -7 => ErrorKind::Interrupted,    // ERR_INPROGRESS, ERR_WOULDBLOCK
        -6 | -16 => ErrorKind::InvalidInput,  // ERR_VAL, ERR_ARG
        -8 => ErrorKind::AddrInUse,           // ERR_USE
        -9 | -10 => ErrorKind::Other,         // ERR_ALREADY, ERR_ISCONN
        -11 | -15 => ErrorKind::NotConnected, // ERR_CONN, ERR_CLSD
        -12 => ErrorKind::NetworkUnreachable, // ERR_IF: the interface is down
        -13 => ErrorKind::ConnectionAborted,  // ERR_ABRT
        -14 => ErrorKind::ConnectionReset,    // ERR_RST
        _ => ErrorKind::Other,
    }
}

fn name(code: i8) -> &'static str {
    match code {
        -1 => "ERR_MEM",
        -2 => "ERR_BUF",
        -3 => "ERR_TIMEOUT",
        -4 => "ERR_RTE",
        -5 => "ERR_INPROGRESS",
        -6 => "ERR_VAL",
        -7 => "ERR_WOULDBLOCK",
        -8 => "ERR_USE",
        -9 => "ERR_ALREADY",
        -10 => "ERR_ISCONN",
        -11 => "ERR_CONN",
        -12 => "ERR_IF",
        -13 => "ERR_ABRT",
        -14 => "ERR_RST",
        -15 => "ERR_CLSD",
        -16 => "ERR_ARG",
        _ => "unknown err_t",
    }
}

impl From<ErrorKind> for Error {
    fn from(kind: ErrorKind) -> Self {
        Self { kind, code: 0 }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code {
            0 => write!(f, "lwIP stack: {}", self.kind),
            code => write!(f, "lwIP: {} ({}, {code})", self.kind, name(code)),
        }
    }
}

impl core::error::Error for Error {}

impl portnet::Error for Error {
    fn kind(&self) -> ErrorKind {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lwip_codes_map_to_their_kinds() {
        assert_eq!(kind_of(-1), ErrorKind::OutOfResources);
        assert_eq!(kind_of(-8), ErrorKind::AddrInUse);
        assert_eq!(kind_of(-14), ErrorKind::ConnectionReset);
        assert_eq!(kind_of(-100), ErrorKind::Other);
        let e = Error::lwip(-8);
        assert_eq!(portnet::Error::kind(&e), ErrorKind::AddrInUse);
        assert_eq!(e.lwip_code(), Some(-8));
        assert_eq!(Error::from(ErrorKind::InvalidInput).lwip_code(), None);
    }
}
