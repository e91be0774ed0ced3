//! An SNTP client (RFC 4330), written only against the portnet traits: it asks a
//! time server for the current time over UDP, with retries, and honours the
//! server's Kiss-o'-Death. `no_std`, no allocation; it runs on tokio, smol, the
//! smoltcp backend in firmware, and any stack that passes the conformance suite.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use core::time::Duration;
//! let stack = portnet_tokio::Tokio::new();
//! let server = "192.0.2.1:123".parse()?;
//! let since_1970 = portnet_sntp::query(&stack, server, 3, Duration::from_secs(1)).await?;
//! # let _ = since_1970; Ok(()) }
//! ```
//!
//! The guide's chapter "Write a library against portnet" walks through this file
//! piece by piece (the `ANCHOR` comments mark the pieces).
#![no_std]
#![deny(missing_docs)]

// ANCHOR: errors
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;

use portnet::net::{Endpoint, Host};
use portnet::{AddrFamily, Clock, Dns, ErrorKind, UdpBind, UdpSocket, UdpSocketExt};

/// What can go wrong when asking for the time: the stack's own error `E` (which
/// also carries the library's failures as kinds), or the server's refusal.
///
/// - no valid answer within the attempts: `Stack` of kind `TimedOut`;
/// - answers came, but none was a valid reply to our request: kind `InvalidData`;
/// - the server's port is closed (ICMP, on stacks that report it): `ConnectionRefused`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SntpError<E> {
    /// The stack failed, or the library did, with this kind.
    Stack(E),
    /// The server sent a Kiss-o'-Death (stratum 0): stop asking *this* server.
    KissOfDeath(KissCode),
}

/// The four ASCII letters of a Kiss-o'-Death (`DENY`, `RSTR`, `RATE`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KissCode(pub [u8; 4]);

impl KissCode {
    /// The code as text, if it is ASCII.
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.0).ok().filter(|s| s.is_ascii())
    }

    /// `RATE`: the client asks too often. The others (`DENY`, `RSTR`) mean
    /// access is refused for good.
    pub fn is_rate(&self) -> bool {
        &self.0 == b"RATE"
    }
}

// `?` on any stack call turns its error into `SntpError::Stack`.
impl<E> From<E> for SntpError<E> {
    fn from(e: E) -> Self {
        Self::Stack(e)
    }
}

impl<E: fmt::Display> fmt::Display for SntpError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stack(e) => write!(f, "sntp: {e}"),
            Self::KissOfDeath(code) => match code.as_str() {
                Some(code) => write!(f, "sntp: kiss-o'-death {code}"),
                None => write!(f, "sntp: kiss-o'-death {:?}", code.0),
            },
        }
    }
}

impl<E: core::error::Error + 'static> core::error::Error for SntpError<E> {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Self::Stack(e) => Some(e),
            Self::KissOfDeath(_) => None,
        }
    }
}

impl<E: portnet::Error + 'static> portnet::Error for SntpError<E> {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Stack(e) => e.kind(),
            // A refusal by the server, as a reset would be for TCP.
            Self::KissOfDeath(_) => ErrorKind::ConnectionRefused,
        }
    }
}
// ANCHOR_END: errors

// ANCHOR: codec
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const UNIX_OFFSET: u64 = 2_208_988_800;
/// An SNTP packet without extensions.
pub const PACKET_LEN: usize = 48;
/// The server port.
pub const PORT: u16 = 123;

/// A client request: version 4, mode 3 (client), and `nonce` in the transmit
/// timestamp, which the server must copy back (how we match the reply).
pub fn request(nonce: u64) -> [u8; PACKET_LEN] {
    let mut packet = [0u8; PACKET_LEN];
    packet[0] = (4 << 3) | 3;
    packet[40..48].copy_from_slice(&nonce.to_be_bytes());
    packet
}

/// What a datagram from the server turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// The server's transmit time, as a duration since the Unix epoch.
    Time(Duration),
    /// A Kiss-o'-Death answering our request.
    Kiss(KissCode),
    /// Not a valid server reply to our request (why, for a log).
    Invalid(&'static str),
}

/// Decodes `datagram` as the answer to the request carrying `nonce`.
///
/// A datagram is hostile input: every length and field is checked, and one that
/// does not answer *our* request is `Invalid` (a late answer to an earlier
/// attempt, or a spoofed one); so is a server that says it is unsynchronised.
pub fn parse_reply(datagram: &[u8], nonce: u64) -> Reply {
    let Some(reply) = datagram.first_chunk::<PACKET_LEN>() else {
        return Reply::Invalid("shorter than 48 bytes");
    };
    let leap = reply[0] >> 6;
    let version = (reply[0] >> 3) & 7;
    let mode = reply[0] & 7;
    let stratum = reply[1];
    if mode != 4 || !(1..=4).contains(&version) {
        return Reply::Invalid("not a server reply");
    }
    if reply[24..32] != nonce.to_be_bytes() {
        return Reply::Invalid("answers another request");
    }
    if stratum == 0 {
        // RFC 4330 §8: the reference identifier holds the kiss code.
        return Reply::Kiss(KissCode([reply[12], reply[13], reply[14], reply[15]]));
    }
    if leap == 3 {
        return Reply::Invalid("server unsynchronised");
    }
    let seconds = u64::from(u32::from_be_bytes([
        reply[40], reply[41], reply[42], reply[43],
    ]));
    let fraction = u64::from(u32::from_be_bytes([
        reply[44], reply[45], reply[46], reply[47],
    ]));
    let Some(unix) = seconds.checked_sub(UNIX_OFFSET) else {
        return Reply::Invalid("a time before 1970");
    };
    // `fraction < 2^32`, so the product fits a u64 and the quotient is < 10^9.
    let nanos = ((fraction * 1_000_000_000) >> 32) as u32;
    Reply::Time(Duration::new(unix, nanos))
}

/// The transmit timestamp of attempt `attempt`: distinct per attempt, so a late
/// answer to the previous one is told apart. It is no defence against an
/// on-path attacker, who sees it (SNTP has none without NTS).
fn nonce(now: portnet::Instant, attempt: u32) -> u64 {
    now.as_micros() ^ (u64::from(attempt) << 56) ^ 0x5a5a_0000_0000
}
// ANCHOR_END: codec

// ANCHOR: answer
/// How one attempt ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Time(Duration),
    Kiss(KissCode),
}

/// Waits for the reply to `nonce` on a connected socket, skipping datagrams that
/// do not answer it (noting in `saw_invalid` that some came). Written over the
/// socket alone, so its future is `Send` whenever the socket is: the root and the
/// [`send`] versions of [`query`] share it.
async fn answer<U: UdpSocket>(
    socket: &U,
    nonce: u64,
    saw_invalid: &mut bool,
) -> Result<Outcome, U::Error> {
    // Room for a reply with a MAC (68 bytes) and more; a longer one is truncated
    // by the stack and its first 48 bytes are still the header.
    let mut buf = [0u8; 128];
    loop {
        let len = socket.recv(&mut buf).await?;
        match parse_reply(&buf[..len.min(buf.len())], nonce) {
            Reply::Time(time) => return Ok(Outcome::Time(time)),
            Reply::Kiss(code) => return Ok(Outcome::Kiss(code)),
            Reply::Invalid(_) => *saw_invalid = true,
        }
    }
}

/// The error after every attempt went by without a valid answer.
fn unanswered<E: From<ErrorKind>>(saw_invalid: bool) -> SntpError<E> {
    let kind = match saw_invalid {
        true => ErrorKind::InvalidData,
        false => ErrorKind::TimedOut,
    };
    SntpError::Stack(kind.into())
}

fn finish<E>(outcome: Outcome) -> Result<Duration, SntpError<E>> {
    match outcome {
        Outcome::Time(time) => Ok(time),
        Outcome::Kiss(code) => Err(SntpError::KissOfDeath(code)),
    }
}
// ANCHOR_END: answer

// ANCHOR: query
/// Asks `server` for the time, as a duration since the Unix epoch: up to
/// `attempts` requests, each waiting `wait` for its answer on the stack's clock.
///
/// The socket is connected (`bind_connected`), so the stack drops datagrams from
/// anyone else; replies that do not answer the current request are skipped, and
/// a flood of them cannot extend the wait. A Kiss-o'-Death ends the query at once.
///
/// # Errors
///
/// [`SntpError`]: the stack's error (kinds `TimedOut`, `InvalidData`,
/// `ConnectionRefused`, or whatever the stack reports), or the kiss code.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future drops its socket; nothing else is left.
pub async fn query<S>(
    stack: &S,
    server: SocketAddr,
    attempts: u32,
    wait: Duration,
) -> Result<Duration, SntpError<S::Error>>
where
    S: UdpBind + Clock,
{
    let socket = stack.bind_connected(server).await?;
    let mut saw_invalid = false;
    for attempt in 0..attempts {
        let nonce = nonce(stack.now(), attempt);
        socket.send(&request(nonce)).await?;
        let answered =
            portnet::time::timeout(stack, wait, answer(&socket, nonce, &mut saw_invalid));
        match answered.await {
            Ok(outcome) => return finish(outcome?),
            Err(_elapsed) => {} // this attempt is over: ask again
        }
    }
    Err(unanswered(saw_invalid))
}
// ANCHOR_END: query

// ANCHOR: endpoint
/// Asks the server at `endpoint` (`"pool.ntp.org:123"`, `"10.0.2.2:123"`): an IP
/// literal is asked at once, a name is resolved ([`Dns::resolve_all`], IPv4
/// first) and each address asked in turn with [`query`] until one answers. A
/// stack without DNS passes [`portnet::NoDns`] around itself to use literals.
///
/// # Errors
///
/// The last address's error; `InvalidInput` for a host that is not an IP or a name.
///
/// # Cancel safety
///
/// Cancel safe, as [`query`] and [`Dns::resolve_all`].
pub async fn query_endpoint<S>(
    stack: &S,
    endpoint: &Endpoint<'_>,
    attempts: u32,
    wait: Duration,
) -> Result<Duration, SntpError<S::Error>>
where
    S: UdpBind + Clock + Dns,
{
    let mut ips = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); 4];
    let found = match endpoint.host() {
        Host::Ipv4(ip) => {
            ips[0] = ip.into();
            1
        }
        Host::Ipv6 { addr, .. } => {
            ips[0] = addr.into();
            1
        }
        Host::Name(name) => {
            stack
                .resolve_all(name.as_str(), AddrFamily::Any, &mut ips)
                .await?
        }
    };
    let mut last = SntpError::Stack(ErrorKind::NameNotResolved.into());
    for ip in &ips[..found.min(ips.len())] {
        match query(stack, SocketAddr::new(*ip, endpoint.port()), attempts, wait).await {
            Ok(time) => return Ok(time),
            Err(e) => last = e,
        }
    }
    Err(last)
}
// ANCHOR_END: endpoint

/// [`query`] over the [`portnet::send`] traits: its future is `Send`, for generic
/// code that spawns it on a multi-threaded runtime.
pub mod send {
    use core::net::SocketAddr;
    use core::time::Duration;

    use portnet::UdpSocketExt;
    use portnet::send::{Clock, UdpBind};

    use super::{SntpError, answer, finish, nonce, request, unanswered};

    /// As [`super::query`] (contract, errors).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future drops its socket; nothing else is left.
    pub async fn query<S>(
        stack: &S,
        server: SocketAddr,
        attempts: u32,
        wait: Duration,
    ) -> Result<Duration, SntpError<S::Error>>
    where
        S: UdpBind + Clock,
    {
        let socket = stack.bind_connected(server).await?;
        let mut saw_invalid = false;
        for attempt in 0..attempts {
            let nonce = nonce(stack.now(), attempt);
            socket.send(&request(nonce)).await?;
            let answered =
                portnet::send::timeout(stack, wait, answer(&socket, nonce, &mut saw_invalid));
            if let Ok(outcome) = answered.await {
                return finish(outcome?);
            }
        }
        Err(unanswered(saw_invalid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(nonce: u64, stratum: u8) -> [u8; PACKET_LEN] {
        let mut reply = [0u8; PACKET_LEN];
        reply[0] = (4 << 3) | 4;
        reply[1] = stratum;
        reply[12..16].copy_from_slice(b"RATE");
        reply[24..32].copy_from_slice(&nonce.to_be_bytes());
        reply[40..44].copy_from_slice(&((UNIX_OFFSET + 5) as u32).to_be_bytes());
        reply[44..48].copy_from_slice(&0x8000_0000u32.to_be_bytes());
        reply
    }

    #[test]
    fn a_reply_is_checked_field_by_field() {
        let good = reply(7, 2);
        assert_eq!(
            parse_reply(&good, 7),
            Reply::Time(Duration::from_millis(5500))
        );
        assert!(matches!(parse_reply(&good, 8), Reply::Invalid(_)));
        assert!(matches!(parse_reply(&good[..47], 7), Reply::Invalid(_)));
        assert!(matches!(parse_reply(&[], 7), Reply::Invalid(_)));
        let mut client = good;
        client[0] = (4 << 3) | 3;
        assert!(matches!(parse_reply(&client, 7), Reply::Invalid(_)));
        let mut alarm = good;
        alarm[0] |= 3 << 6;
        assert!(matches!(parse_reply(&alarm, 7), Reply::Invalid(_)));
        let mut early = good;
        early[40..44].copy_from_slice(&5u32.to_be_bytes());
        assert!(matches!(parse_reply(&early, 7), Reply::Invalid(_)));
    }

    #[test]
    fn stratum_zero_is_a_kiss_of_death_with_its_code() {
        let kiss = parse_reply(&reply(7, 0), 7);
        assert_eq!(kiss, Reply::Kiss(KissCode(*b"RATE")));
        let Reply::Kiss(code) = kiss else { return };
        assert!(code.is_rate());
        assert_eq!(code.as_str(), Some("RATE"));
        // A kiss that does not answer our request is not trusted either.
        assert!(matches!(parse_reply(&reply(7, 0), 9), Reply::Invalid(_)));
    }

    #[test]
    fn every_byte_pattern_parses_without_panicking() {
        // Hostile input: a cheap sweep over the header bytes that steer parsing.
        let mut datagram = reply(1, 1);
        for first in 0..=255u8 {
            for stratum in [0u8, 1, 16, 255] {
                datagram[0] = first;
                datagram[1] = stratum;
                let _ = parse_reply(&datagram, 1);
            }
        }
    }
}
