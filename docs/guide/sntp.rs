//! The guide's example library: an SNTP client (RFC 4330) written only against
//! the portnet traits. The chapter "Write a library against portnet" shows it
//! piece by piece (the `ANCHOR` comments mark the pieces).

// ANCHOR: errors
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::time::Duration;

use portnet::{Clock, Error as _, ErrorKind, UdpBind, UdpSocket, UdpSocketExt};

/// What can go wrong when asking a server for the time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SntpError {
    /// The network failed with this kind.
    Network(ErrorKind),
    /// No valid answer within the attempts.
    TimedOut,
    /// An answer came but is not a valid server reply.
    BadReply(&'static str),
    /// The server is unsynchronised or asks us to go away ("kiss of death").
    Refused,
}

impl core::fmt::Display for SntpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Network(kind) => write!(f, "sntp: network: {kind}"),
            Self::TimedOut => f.write_str("sntp: no valid answer"),
            Self::BadReply(why) => write!(f, "sntp: bad reply: {why}"),
            Self::Refused => f.write_str("sntp: server refused (kiss of death)"),
        }
    }
}

impl core::error::Error for SntpError {}

impl portnet::Error for SntpError {
    fn kind(&self) -> ErrorKind {
        match self {
            Self::Network(kind) => *kind,
            Self::TimedOut => ErrorKind::TimedOut,
            Self::BadReply(_) => ErrorKind::InvalidData,
            Self::Refused => ErrorKind::ConnectionRefused,
        }
    }
}
// ANCHOR_END: errors

// ANCHOR: codec
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const UNIX_OFFSET: u64 = 2_208_988_800;
/// An SNTP packet without extensions.
pub const PACKET_LEN: usize = 48;

/// A client request: version 4, mode 3 (client), and `nonce` in the transmit
/// timestamp, which the server must copy back (how we match the reply).
pub fn request(nonce: u64) -> [u8; PACKET_LEN] {
    let mut packet = [0u8; PACKET_LEN];
    packet[0] = (4 << 3) | 3;
    packet[40..48].copy_from_slice(&nonce.to_be_bytes());
    packet
}

/// The server's transmit time as a duration since the Unix epoch, after checking
/// the reply answers `nonce`.
///
/// # Errors
///
/// [`SntpError::BadReply`] for anything but a well-formed server reply to our
/// request; [`SntpError::Refused`] for a kiss-of-death or unsynchronised server.
pub fn parse_reply(reply: &[u8], nonce: u64) -> Result<Duration, SntpError> {
    let Some(reply) = reply.get(..PACKET_LEN) else {
        return Err(SntpError::BadReply("shorter than 48 bytes"));
    };
    let mode = reply[0] & 7;
    let leap = reply[0] >> 6;
    let stratum = reply[1];
    if mode != 4 {
        return Err(SntpError::BadReply("not a server reply"));
    }
    if reply[24..32] != nonce.to_be_bytes() {
        return Err(SntpError::BadReply("answers another request"));
    }
    if stratum == 0 || leap == 3 {
        return Err(SntpError::Refused);
    }
    let seconds = u64::from(u32::from_be_bytes([
        reply[40], reply[41], reply[42], reply[43],
    ]));
    let fraction = u64::from(u32::from_be_bytes([
        reply[44], reply[45], reply[46], reply[47],
    ]));
    let unix = seconds
        .checked_sub(UNIX_OFFSET)
        .ok_or(SntpError::BadReply("a time before 1970"))?;
    let nanos = (fraction * 1_000_000_000) >> 32;
    Ok(Duration::new(unix, nanos as u32))
}
// ANCHOR_END: codec

// ANCHOR: query
/// Asks `server` for the time: up to `attempts` requests, each waiting `wait`
/// for its answer. Replies that do not answer the current request (late answers
/// to an earlier one, spoofed packets) are skipped, not trusted.
///
/// # Errors
///
/// [`SntpError`], whose [`kind`](portnet::Error::kind) says what kind of failure.
///
/// # Cancel safety
///
/// Cancel safe: dropping the future drops its socket; nothing else is left.
pub async fn query<S, C>(
    stack: &S,
    clock: &C,
    server: SocketAddr,
    attempts: u32,
    wait: Duration,
) -> Result<Duration, SntpError>
where
    S: UdpBind,
    C: Clock,
{
    let any: IpAddr = match server {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let mut socket = stack
        .bind(SocketAddr::new(any, 0))
        .await
        .map_err(|e| SntpError::Network(e.kind()))?;
    // Datagrams from anyone but the server are dropped by the stack.
    socket
        .connect(server)
        .map_err(|e| SntpError::Network(e.kind()))?;
    for attempt in 0..attempts {
        let nonce = clock.now().as_millis() ^ (u64::from(attempt) << 56);
        socket
            .send_to(&request(nonce), server)
            .await
            .map_err(|e| SntpError::Network(e.kind()))?;
        let deadline = clock.now() + wait;
        let mut buf = [0u8; 128];
        loop {
            let received = portnet::time::timeout_at(clock, deadline, socket.recv_from(&mut buf));
            match received.await {
                Err(_elapsed) => break, // this attempt is over
                Ok(Err(e)) => return Err(SntpError::Network(e.kind())),
                Ok(Ok((len, _from))) => match parse_reply(&buf[..len.min(buf.len())], nonce) {
                    Ok(time) => return Ok(time),
                    Err(SntpError::Refused) => return Err(SntpError::Refused),
                    Err(_) => continue, // not ours: keep waiting
                },
            }
        }
    }
    Err(SntpError::TimedOut)
}
// ANCHOR_END: query

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_is_checked_field_by_field() {
        let mut reply = [0u8; PACKET_LEN];
        reply[0] = (4 << 3) | 4;
        reply[1] = 2;
        reply[24..32].copy_from_slice(&7u64.to_be_bytes());
        reply[40..44].copy_from_slice(&((UNIX_OFFSET + 5) as u32).to_be_bytes());
        reply[44..48].copy_from_slice(&0x8000_0000u32.to_be_bytes());
        assert_eq!(parse_reply(&reply, 7), Ok(Duration::from_millis(5500)));
        assert!(matches!(
            parse_reply(&reply, 8),
            Err(SntpError::BadReply(_))
        ));
        assert!(matches!(
            parse_reply(&reply[..47], 7),
            Err(SntpError::BadReply(_))
        ));
        reply[1] = 0;
        assert_eq!(parse_reply(&reply, 7), Err(SntpError::Refused));
        reply[0] = (4 << 3) | 3;
        assert!(matches!(
            parse_reply(&reply, 7),
            Err(SntpError::BadReply(_))
        ));
    }
}
