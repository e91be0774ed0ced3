//! What the cases share: turning results into outcomes, deadlines, addresses,
//! connected pairs and test patterns.

use core::fmt::Debug;
use core::future::Future;
use core::net::{IpAddr, SocketAddr};
use core::pin::pin;
use core::time::Duration;

use portnet::future::{Either, join, select};
use portnet::{Error, ErrorKind, TcpConnect, TcpListen, TcpListener};

use crate::{Capability, Detail, Family, Harness, Outcome};

/// Turns a stack's result into the case's.
pub(crate) trait Check<T> {
    /// On error: fail the case, saying what was being done and the error's kind.
    fn check(self, what: &str) -> Result<T, Outcome>;
}

impl<T, E: Error> Check<T> for Result<T, E> {
    fn check(self, what: &str) -> Result<T, Outcome> {
        self.map_err(|e| {
            Outcome::Fail(Detail::from_args(format_args!(
                "{what}: error of kind {:?} ({e:?})",
                e.kind()
            )))
        })
    }
}

/// The capability, or a skip naming it.
pub(crate) fn need<T>(value: Option<T>, capability: Capability) -> Result<T, Outcome> {
    value.ok_or(Outcome::Skip(capability))
}

/// Awaits `future` for at most `limit` on the harness's clock.
pub(crate) async fn within<H: Harness, F: Future>(
    h: &H,
    limit: Duration,
    what: &str,
    future: F,
) -> Result<F::Output, Outcome> {
    let limit = limit.saturating_mul(h.patience());
    portnet::time::timeout(h.clock(), limit, future)
        .await
        .map_err(|_| {
            Outcome::Fail(Detail::from_args(format_args!(
                "{what}: no result within {} ms",
                limit.as_millis()
            )))
        })
}

/// Awaits a stack operation for at most [`PROMPT`]; a timeout or an error fails
/// the case, saying `what` was being done.
pub(crate) async fn prompt<H: Harness, T, E: Error>(
    h: &H,
    what: &str,
    future: impl Future<Output = Result<T, E>>,
) -> Result<T, Outcome> {
    within(h, PROMPT, what, future).await?.check(what)
}

/// A generous limit for things that should happen promptly on any stack.
pub(crate) const PROMPT: Duration = Duration::from_secs(5);

/// Fails unless `result` is an error of one of `kinds`.
pub(crate) fn expect_error<T: Debug, E: Error>(
    result: Result<T, E>,
    kinds: &[ErrorKind],
    what: &str,
) -> Result<(), Outcome> {
    match result {
        Err(e) if kinds.contains(&e.kind()) => Ok(()),
        Err(e) => Err(Outcome::Fail(Detail::from_args(format_args!(
            "{what}: expected an error of kind {kinds:?}, got kind {:?} ({e:?})",
            e.kind()
        )))),
        Ok(value) => Err(Outcome::Fail(Detail::from_args(format_args!(
            "{what}: expected an error of kind {kinds:?}, got success ({value:?})"
        )))),
    }
}

/// The stack's and the peer's IP for `family`, or a skip.
pub(crate) fn ips<H: Harness>(h: &H, family: Family) -> Result<(IpAddr, IpAddr), Outcome> {
    match (h.stack_ip(family), h.peer_ip(family)) {
        (Some(stack), Some(peer)) => Ok((stack, peer)),
        _ if family == Family::V6 => Err(Outcome::Skip(Capability::Ipv6)),
        _ => Err(Outcome::Fail(Detail::from_args(format_args!(
            "the harness gives no IPv4 address for the stack or the peer"
        )))),
    }
}

/// The byte at offset `i` of the suite's test pattern: not periodic at any
/// power-of-two length, so a lost, repeated or reordered chunk shows.
pub(crate) fn pattern(i: usize) -> u8 {
    let x = i as u64;
    (x ^ (x >> 8) ^ (x >> 16)).wrapping_mul(167) as u8 ^ (x % 251) as u8
}

/// Fills `buf` with the pattern starting at `offset`.
pub(crate) fn fill_pattern(buf: &mut [u8], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = pattern(offset + i);
    }
}

/// Checks `buf` against the pattern starting at `offset`.
pub(crate) fn check_pattern(buf: &[u8], offset: usize, what: &str) -> Result<(), Outcome> {
    match buf
        .iter()
        .enumerate()
        .find(|&(i, &b)| b != pattern(offset + i))
    {
        None => Ok(()),
        Some((i, &b)) => Err(Outcome::Fail(Detail::from_args(format_args!(
            "{what}: byte {} is {b:#04x}, expected {:#04x} (lost, duplicated or reordered data)",
            offset + i,
            pattern(offset + i)
        )))),
    }
}

/// A listener of the stack under test on an ephemeral port, and its address.
pub(crate) async fn stack_listener<H: Harness>(
    h: &H,
    family: Family,
) -> Result<(<H::Listen as TcpListen>::Listener<'_>, SocketAddr), Outcome> {
    let stack = need(h.listener(), Capability::TcpListen)?;
    let (ip, _) = ips(h, family)?;
    let listener = stack.listen(SocketAddr::new(ip, 0)).await.check("listen")?;
    let addr = listener.local_addr().check("listener address")?;
    Ok((listener, addr))
}

/// A listener of the peer on an ephemeral port, and its address.
pub(crate) async fn peer_listener<H: Harness>(
    h: &H,
    family: Family,
) -> Result<(<H::Peer as TcpListen>::Listener<'_>, SocketAddr), Outcome> {
    let (_, peer_ip) = ips(h, family)?;
    let listener = h
        .peer()
        .listen(SocketAddr::new(peer_ip, 0))
        .await
        .check("peer listen")?;
    let addr = listener.local_addr().check("peer listener address")?;
    Ok((listener, addr))
}

/// Connects with `connector` to `addr` while `listener` accepts, both within
/// [`PROMPT`]; returns the connecting end, the accepted end and the address the
/// listener reported for its peer.
pub(crate) async fn connect_accept<'c, H, C, L>(
    h: &H,
    connector: &'c C,
    listener: &L,
    addr: SocketAddr,
) -> Result<(C::Connection<'c>, L::Connection, SocketAddr), Outcome>
where
    H: Harness,
    C: TcpConnect + ?Sized,
    L: TcpListener,
{
    let (connected, accepted) = {
        let connect = pin!(connector.connect(addr));
        let accept = pin!(listener.accept());
        within(h, PROMPT, "connect and accept", join(connect, accept)).await?
    };
    let conn = connected.check("connect")?;
    let (accepted, peer) = accepted.check("accept")?;
    Ok((conn, accepted, peer))
}

/// A connection from the stack under test (client) to the peer (server), and the
/// peer's end of it.
pub(crate) async fn stack_to_peer<'s, H: Harness>(
    h: &'s H,
    family: Family,
) -> Result<
    (
        <H::Connect as TcpConnect>::Connection<'s>,
        <<H::Peer as TcpListen>::Listener<'s> as TcpListener>::Connection,
        <H::Peer as TcpListen>::Listener<'s>,
    ),
    Outcome,
> {
    let stack = need(h.connector(), Capability::TcpConnect)?;
    let (listener, addr) = peer_listener(h, family).await?;
    let (conn, peer_conn, _) = connect_accept(h, stack, &listener, addr).await?;
    Ok((conn, peer_conn, listener))
}

/// A connection from the peer (client) to the stack under test (server), and the
/// stack's end of it.
pub(crate) async fn peer_to_stack<'s, H: Harness>(
    h: &'s H,
    family: Family,
) -> Result<
    (
        <<H::Listen as TcpListen>::Listener<'s> as TcpListener>::Connection,
        <H::Peer as TcpConnect>::Connection<'s>,
        <H::Listen as TcpListen>::Listener<'s>,
    ),
    Outcome,
> {
    let (listener, addr) = stack_listener(h, family).await?;
    let (peer_conn, conn, _) = connect_accept(h, h.peer(), &listener, addr).await?;
    Ok((conn, peer_conn, listener))
}

/// Runs the two halves of a case at once and ends with the first failure as soon
/// as either half fails: a side that failed (a wrong error on a read at EOF, say)
/// usually leaves the other waiting for bytes that never come, and joining both
/// would report that wait as a hang instead of the error that caused it.
pub(crate) async fn both<A, B>(a: A, b: B) -> Result<(), Outcome>
where
    A: Future<Output = Result<(), Outcome>>,
    B: Future<Output = Result<(), Outcome>>,
{
    let mut a = pin!(a);
    let mut b = pin!(b);
    match select(a.as_mut(), b.as_mut()).await {
        Either::Left(first) => {
            first?;
            b.await
        }
        Either::Right(first) => {
            first?;
            a.await
        }
    }
}
