//! `ErrorKind` maps one to one onto `std::io::ErrorKind` and `embedded_io::ErrorKind`
//! where they have the same kind, and `std::io::Error` reports portnet kinds.

use std::io;

use portnet::{Error, ErrorKind};

const SHARED: [ErrorKind; 16] = [
    ErrorKind::ConnectionRefused,
    ErrorKind::ConnectionReset,
    ErrorKind::ConnectionAborted,
    ErrorKind::TimedOut,
    ErrorKind::AddrInUse,
    ErrorKind::AddrNotAvailable,
    ErrorKind::HostUnreachable,
    ErrorKind::NetworkUnreachable,
    ErrorKind::NotConnected,
    ErrorKind::BrokenPipe,
    ErrorKind::InvalidInput,
    ErrorKind::InvalidData,
    ErrorKind::WriteZero,
    ErrorKind::Unsupported,
    ErrorKind::PermissionDenied,
    ErrorKind::UnexpectedEof,
];

#[test]
fn std_kinds_round_trip() {
    for kind in SHARED {
        let std_kind = io::ErrorKind::from(kind);
        assert_eq!(ErrorKind::from(std_kind), kind, "{kind:?} via {std_kind:?}");
    }
}

#[test]
fn io_errors_carry_portnet_kinds() {
    let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
    assert_eq!(Error::kind(&refused), ErrorKind::ConnectionRefused);
    let built = io::Error::from(ErrorKind::NameNotResolved);
    assert_eq!(
        Error::kind(&built),
        ErrorKind::NameNotResolved,
        "a kind std lacks survives"
    );
    let too_many_files = io::Error::from_raw_os_error(24);
    assert_eq!(Error::kind(&too_many_files), ErrorKind::OutOfResources);
}

#[test]
fn embedded_io_kinds_match_by_name() {
    use embedded_io::ErrorKind as E;
    assert_eq!(E::from(ErrorKind::ConnectionReset), E::ConnectionReset);
    assert_eq!(E::from(ErrorKind::OutOfResources), E::OutOfMemory);
    assert_eq!(E::from(ErrorKind::NameNotResolved), E::Other);
}

#[test]
fn a_parse_error_is_invalid_input() {
    let err = portnet::net::Endpoint::parse("no port here").unwrap_err();
    assert_eq!(
        portnet::ErrorKind::from(err),
        portnet::ErrorKind::InvalidInput
    );
}
