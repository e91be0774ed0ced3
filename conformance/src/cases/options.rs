//! Socket option cases: what is set is what is read back, `Unsupported` where a
//! stack lacks an option, `InvalidInput` for a value out of range.

use core::net::SocketAddr;
use core::time::Duration;

use portnet::{Error, ErrorKind, SocketOption, SocketOptionName, SocketOptions, TcpListener};

use crate::support::{Check, ips, need, stack_listener, stack_to_peer};
use crate::{Capability, CaseResult, Family, Harness, fail};

/// Whether `read` is what a stack that accepted `set` may report: the same
/// value, or for buffer sizes any size the stack rounded it to.
fn same(set: SocketOption, read: SocketOption) -> bool {
    match (set, read) {
        (SocketOption::RecvBufferSize(_), SocketOption::RecvBufferSize(n))
        | (SocketOption::SendBufferSize(_), SocketOption::SendBufferSize(n)) => n > 0,
        _ => set == read,
    }
}

/// Sets each option in turn and reads it back: a set that succeeded must read
/// back as set (a stack that only pretends fails here), a set the stack lacks
/// must fail with `Unsupported`, and no valid value may fail otherwise.
fn round_trip<S: SocketOptions>(socket: &S, options: &[SocketOption], what: &str) -> CaseResult {
    for &option in options {
        match socket.set_option(option) {
            Ok(()) => match socket.option(option.name()) {
                Ok(read) if same(option, read) => {}
                Ok(read) => {
                    fail!("{what}: set {option:?} succeeded, but it reads back as {read:?}")
                }
                Err(e) => fail!(
                    "{what}: set {option:?} succeeded, but reading it failed with kind {:?}",
                    e.kind()
                ),
            },
            Err(e) if e.kind() == ErrorKind::Unsupported => {}
            Err(e) => fail!(
                "{what}: set {option:?} (a valid value) failed with kind {:?}, expected success or Unsupported",
                e.kind()
            ),
        }
    }
    Ok(())
}

/// Values for a TCP socket, each option twice so that a set that does nothing
/// cannot pass by matching the default.
const TCP_OPTIONS: [SocketOption; 10] = [
    SocketOption::NoDelay(true),
    SocketOption::NoDelay(false),
    SocketOption::KeepAlive(Some(Duration::from_secs(30))),
    SocketOption::KeepAlive(None),
    SocketOption::Timeout(Some(Duration::from_secs(20))),
    SocketOption::Timeout(None),
    SocketOption::Ttl(42),
    SocketOption::Ttl(64),
    SocketOption::RecvBufferSize(32 * 1024),
    SocketOption::SendBufferSize(32 * 1024),
];

/// Case `options.tcp.read_back`: on a connection, an option whose set succeeded
/// reads back as set (buffer sizes as the stack rounded them); one the stack
/// lacks fails with `Unsupported`; no valid value fails otherwise.
pub async fn tcp_read_back<H: Harness>(h: &H) -> CaseResult {
    let (conn, _peer_conn, _listener) = stack_to_peer(h, Family::V4).await?;
    round_trip(&conn, &TCP_OPTIONS, "connection")
}

/// Case `options.listener.read_back`: as `options.tcp.read_back`, on a listener
/// (whose options a stack may answer all with `Unsupported`).
pub async fn listener_read_back<H: Harness>(h: &H) -> CaseResult {
    let (listener, _) = stack_listener(h, Family::V4).await?;
    round_trip(
        &listener,
        &[SocketOption::Ttl(42), SocketOption::Ttl(64)],
        "listener",
    )?;
    listener.local_addr().check("listener address")?;
    Ok(())
}

/// Values for a UDP socket.
const UDP_OPTIONS: [SocketOption; 8] = [
    SocketOption::Ttl(42),
    SocketOption::Ttl(64),
    SocketOption::Broadcast(true),
    SocketOption::Broadcast(false),
    SocketOption::MulticastTtl(3),
    SocketOption::MulticastTtl(1),
    SocketOption::MulticastLoop(false),
    SocketOption::MulticastLoop(true),
];

async fn udp_socket<H: Harness>(
    h: &H,
) -> Result<<H::Udp as portnet::UdpBind>::Socket<'_>, crate::Outcome> {
    let stack = need(h.udp(), Capability::Udp)?;
    let (ip, _) = ips(h, Family::V4)?;
    portnet::UdpBind::bind(stack, SocketAddr::new(ip, 0))
        .await
        .check("bind")
}

/// Case `options.udp.read_back`: as `options.tcp.read_back`, on a UDP socket.
pub async fn udp_read_back<H: Harness>(h: &H) -> CaseResult {
    let socket = udp_socket(h).await?;
    round_trip(&socket, &UDP_OPTIONS, "UDP socket")
}

fn expect_kinds<T: core::fmt::Debug, E: Error>(
    result: Result<T, E>,
    kinds: &[ErrorKind],
    what: &str,
) -> CaseResult {
    crate::support::expect_error(result, kinds, what)
}

/// Case `options.invalid_value`: a value out of range (a TTL of 0) fails with
/// `InvalidInput` (or `Unsupported` where the stack lacks the option), on a
/// connection and on a UDP socket.
pub async fn invalid_value<H: Harness>(h: &H) -> CaseResult {
    let kinds = [ErrorKind::InvalidInput, ErrorKind::Unsupported];
    if h.connector().is_some() {
        let (conn, _peer_conn, _listener) = stack_to_peer(h, Family::V4).await?;
        expect_kinds(
            conn.set_option(SocketOption::Ttl(0)),
            &kinds,
            "TTL 0 on a connection",
        )?;
    }
    if h.udp().is_some() {
        let socket = udp_socket(h).await?;
        expect_kinds(
            socket.set_option(SocketOption::Ttl(0)),
            &kinds,
            "TTL 0 on a UDP socket",
        )?;
    }
    Ok(())
}

/// Case `options.set_only`: reading a set-only option (joining or leaving a
/// multicast group) fails with `Unsupported`.
pub async fn set_only<H: Harness>(h: &H) -> CaseResult {
    let socket = udp_socket(h).await?;
    let unsupported = [ErrorKind::Unsupported];
    for name in [
        SocketOptionName::JoinMulticast,
        SocketOptionName::LeaveMulticast,
    ] {
        expect_kinds(
            socket.option(name),
            &unsupported,
            "reading a set-only option",
        )?;
    }
    Ok(())
}

/// Case `options.wrong_kind`: an option of another kind of socket (`NoDelay` on
/// UDP, `Broadcast` on TCP) fails with `Unsupported`, to set and to read.
pub async fn wrong_kind<H: Harness>(h: &H) -> CaseResult {
    if h.connector().is_none() {
        need(h.udp(), Capability::Udp)?;
    }
    let unsupported = [ErrorKind::Unsupported];
    if h.udp().is_some() {
        let socket = udp_socket(h).await?;
        expect_kinds(
            socket.set_option(SocketOption::NoDelay(true)),
            &unsupported,
            "NoDelay set on UDP",
        )?;
        expect_kinds(
            socket.option(SocketOptionName::NoDelay),
            &unsupported,
            "NoDelay read on UDP",
        )?;
    }
    if h.connector().is_some() {
        let (conn, _peer_conn, _listener) = stack_to_peer(h, Family::V4).await?;
        expect_kinds(
            conn.set_option(SocketOption::Broadcast(true)),
            &unsupported,
            "Broadcast set on TCP",
        )?;
        expect_kinds(
            conn.option(SocketOptionName::Broadcast),
            &unsupported,
            "Broadcast read on TCP",
        )?;
    }
    Ok(())
}
