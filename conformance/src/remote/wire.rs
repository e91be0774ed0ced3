//! The remote peer's wire format: length-prefixed frames, one message each.
//!
//! ```text
//! frame   = length:u32le  tag:u8  fields…      (length counts tag + fields)
//! addr    = family:u8 (4 | 6)  ip:[u8; 4 | 16]  port:u16le
//! bytes   = length:u32le  data
//! kind    = u8, the index of an ErrorKind in KINDS
//! ```
//!
//! Requests go from the side that runs the cases to the agent; replies come back.
//! Every handle (connection, listener, UDP socket) is a `u32` the requesting side
//! chooses, so no request waits for a handle before the next can be sent.

use alloc::vec::Vec;
use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use portnet::ErrorKind;

/// The largest frame either side accepts; a longer one is a protocol error.
pub const MAX_FRAME: usize = 1 << 17;

/// The largest data payload in one frame.
pub const MAX_DATA: usize = 1 << 16;

/// What the side running the cases asks the agent to do on the peer's stack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    /// Connect connection `conn` to `remote`.
    Connect {
        /// The new connection's handle.
        conn: u32,
        /// Where to.
        remote: SocketAddr,
    },
    /// Listen on `local` as listener `listener`.
    Listen {
        /// The new listener's handle.
        listener: u32,
        /// Where.
        local: SocketAddr,
    },
    /// Accept the next connection of `listener` as connection `conn`.
    Accept {
        /// The listener.
        listener: u32,
        /// The handle the accepted connection gets.
        conn: u32,
    },
    /// Drop a listener.
    DropListener {
        /// The listener.
        listener: u32,
    },
    /// Read up to `max` bytes.
    Read {
        /// The connection.
        conn: u32,
        /// How many bytes at most.
        max: u32,
    },
    /// Write all of `data`, in order after earlier writes.
    Write {
        /// The connection.
        conn: u32,
        /// The bytes.
        data: &'a [u8],
    },
    /// Close the write half after earlier writes.
    Close {
        /// The connection.
        conn: u32,
    },
    /// Reset the connection at once.
    Abort {
        /// The connection.
        conn: u32,
    },
    /// Drop the connection after earlier writes (as dropping a socket does).
    DropConn {
        /// The connection.
        conn: u32,
    },
    /// Bind UDP socket `socket` to `local`.
    Bind {
        /// The new socket's handle.
        socket: u32,
        /// Where.
        local: SocketAddr,
    },
    /// Send one datagram.
    SendTo {
        /// The socket.
        socket: u32,
        /// Where to.
        remote: SocketAddr,
        /// The datagram.
        data: &'a [u8],
    },
    /// Receive one datagram into a buffer of `max` bytes.
    RecvFrom {
        /// The socket.
        socket: u32,
        /// The buffer's size.
        max: u32,
    },
    /// Drop a UDP socket.
    DropSocket {
        /// The socket.
        socket: u32,
    },
}

/// What the agent answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply<'a> {
    /// A connection is established.
    Connected {
        /// The connection.
        conn: u32,
        /// Its local address.
        local: SocketAddr,
        /// Its peer's address.
        peer: SocketAddr,
    },
    /// A listener listens.
    Listening {
        /// The listener.
        listener: u32,
        /// Where.
        local: SocketAddr,
    },
    /// A listener accepted a connection.
    Accepted {
        /// The listener.
        listener: u32,
        /// The new connection.
        conn: u32,
        /// Its local address.
        local: SocketAddr,
        /// Its peer's address.
        peer: SocketAddr,
    },
    /// Bytes read; empty means end of stream.
    Data {
        /// The connection.
        conn: u32,
        /// The bytes.
        data: &'a [u8],
    },
    /// `len` bytes of earlier writes are written.
    Wrote {
        /// The connection.
        conn: u32,
        /// How many.
        len: u32,
    },
    /// The write half is closed.
    Closed {
        /// The connection.
        conn: u32,
    },
    /// A UDP socket is bound.
    Bound {
        /// The socket.
        socket: u32,
        /// Where.
        local: SocketAddr,
    },
    /// A datagram was sent.
    Sent {
        /// The socket.
        socket: u32,
    },
    /// A datagram arrived.
    Received {
        /// The socket.
        socket: u32,
        /// Its sender.
        from: SocketAddr,
        /// Its full length (more than `data` holds when it was truncated).
        len: u32,
        /// As much of it as the buffer held.
        data: &'a [u8],
    },
    /// A request failed.
    Failed {
        /// The failed request's tag.
        op: u8,
        /// Its handle.
        handle: u32,
        /// Why.
        kind: ErrorKind,
    },
}

/// The tags of the requests, as [`Reply::Failed`] names them.
pub mod op {
    /// [`super::Request::Connect`].
    pub const CONNECT: u8 = 1;
    /// [`super::Request::Listen`].
    pub const LISTEN: u8 = 2;
    /// [`super::Request::Accept`].
    pub const ACCEPT: u8 = 3;
    /// [`super::Request::DropListener`].
    pub const DROP_LISTENER: u8 = 4;
    /// [`super::Request::Read`].
    pub const READ: u8 = 5;
    /// [`super::Request::Write`].
    pub const WRITE: u8 = 6;
    /// [`super::Request::Close`].
    pub const CLOSE: u8 = 7;
    /// [`super::Request::Abort`].
    pub const ABORT: u8 = 8;
    /// [`super::Request::DropConn`].
    pub const DROP_CONN: u8 = 9;
    /// [`super::Request::Bind`].
    pub const BIND: u8 = 10;
    /// [`super::Request::SendTo`].
    pub const SEND_TO: u8 = 11;
    /// [`super::Request::RecvFrom`].
    pub const RECV_FROM: u8 = 12;
    /// [`super::Request::DropSocket`].
    pub const DROP_SOCKET: u8 = 13;
}

mod reply_tag {
    pub(super) const CONNECTED: u8 = 101;
    pub(super) const LISTENING: u8 = 102;
    pub(super) const ACCEPTED: u8 = 103;
    pub(super) const DATA: u8 = 104;
    pub(super) const WROTE: u8 = 105;
    pub(super) const CLOSED: u8 = 106;
    pub(super) const BOUND: u8 = 107;
    pub(super) const SENT: u8 = 108;
    pub(super) const RECEIVED: u8 = 109;
    pub(super) const FAILED: u8 = 110;
}

/// Error kinds in their wire order. A kind this list lacks travels as `Other`.
const KINDS: [ErrorKind; 20] = [
    ErrorKind::Other,
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
    ErrorKind::OutOfResources,
    ErrorKind::Unsupported,
    ErrorKind::NameNotResolved,
    ErrorKind::PermissionDenied,
    ErrorKind::Interrupted,
    ErrorKind::UnexpectedEof,
];

/// A frame that does not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireError {
    /// The frame ends before its fields do.
    Truncated,
    /// Bytes are left after the fields.
    TrailingBytes,
    /// The tag names no message.
    UnknownTag(u8),
    /// An address family other than 4 or 6.
    BadFamily(u8),
    /// An error kind index out of range.
    BadKind(u8),
    /// A frame longer than [`MAX_FRAME`] or a payload longer than [`MAX_DATA`].
    TooLong(usize),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("frame ends early"),
            Self::TrailingBytes => f.write_str("bytes after the last field"),
            Self::UnknownTag(tag) => write!(f, "unknown message tag {tag}"),
            Self::BadFamily(family) => write!(f, "address family {family}"),
            Self::BadKind(kind) => write!(f, "error kind index {kind}"),
            Self::TooLong(len) => write!(f, "{len} bytes is too long"),
        }
    }
}

/// Builds one frame.
struct Encoder(Vec<u8>);

impl Encoder {
    fn new(tag: u8) -> Self {
        let mut bytes = Vec::with_capacity(32);
        bytes.extend_from_slice(&[0; 4]);
        bytes.push(tag);
        Self(bytes)
    }

    fn u32(mut self, value: u32) -> Self {
        self.0.extend_from_slice(&value.to_le_bytes());
        self
    }

    fn u8(mut self, value: u8) -> Self {
        self.0.push(value);
        self
    }

    fn addr(mut self, addr: SocketAddr) -> Self {
        match addr.ip() {
            IpAddr::V4(ip) => {
                self.0.push(4);
                self.0.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                self.0.push(6);
                self.0.extend_from_slice(&ip.octets());
            }
        }
        self.0.extend_from_slice(&addr.port().to_le_bytes());
        self
    }

    fn bytes(self, data: &[u8]) -> Self {
        let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let mut this = self.u32(len);
        this.0.extend_from_slice(data);
        this
    }

    fn finish(mut self) -> Vec<u8> {
        let len = u32::try_from(self.0.len() - 4).unwrap_or(u32::MAX);
        self.0[..4].copy_from_slice(&len.to_le_bytes());
        self.0
    }
}

/// Reads the fields of one frame.
struct Decoder<'a>(&'a [u8]);

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.0.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn addr(&mut self) -> Result<SocketAddr, WireError> {
        let ip = match self.u8()? {
            4 => {
                let b = self.take(4)?;
                IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
            }
            6 => {
                let mut octets = [0; 16];
                octets.copy_from_slice(self.take(16)?);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
            family => return Err(WireError::BadFamily(family)),
        };
        Ok(SocketAddr::new(ip, self.u16()?))
    }

    fn bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.u32()? as usize;
        if len > MAX_DATA {
            return Err(WireError::TooLong(len));
        }
        self.take(len)
    }

    fn kind(&mut self) -> Result<ErrorKind, WireError> {
        let index = self.u8()?;
        KINDS
            .get(usize::from(index))
            .copied()
            .ok_or(WireError::BadKind(index))
    }

    fn end<T>(self, value: T) -> Result<T, WireError> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(WireError::TrailingBytes)
        }
    }
}

fn kind_index(kind: ErrorKind) -> u8 {
    KINDS
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| u8::try_from(i).ok())
        .unwrap_or(0)
}

/// A frame's body and the bytes after the frame.
pub type Split<'a> = (&'a [u8], &'a [u8]);

/// Splits the first complete frame off `buf`: `Ok(Some((body, rest)))` where body
/// is the frame without its length, `Ok(None)` when more bytes are needed.
///
/// # Errors
///
/// [`WireError::TooLong`] when the length prefix exceeds [`MAX_FRAME`].
pub fn split_frame(buf: &[u8]) -> Result<Option<Split<'_>>, WireError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLong(len));
    }
    Ok(buf.get(4..4 + len).map(|body| (body, &buf[4 + len..])))
}

impl<'a> Request<'a> {
    /// Encodes the request as one frame.
    pub fn encode(&self) -> Vec<u8> {
        match *self {
            Self::Connect { conn, remote } => Encoder::new(op::CONNECT).u32(conn).addr(remote),
            Self::Listen { listener, local } => Encoder::new(op::LISTEN).u32(listener).addr(local),
            Self::Accept { listener, conn } => Encoder::new(op::ACCEPT).u32(listener).u32(conn),
            Self::DropListener { listener } => Encoder::new(op::DROP_LISTENER).u32(listener),
            Self::Read { conn, max } => Encoder::new(op::READ).u32(conn).u32(max),
            Self::Write { conn, data } => Encoder::new(op::WRITE).u32(conn).bytes(data),
            Self::Close { conn } => Encoder::new(op::CLOSE).u32(conn),
            Self::Abort { conn } => Encoder::new(op::ABORT).u32(conn),
            Self::DropConn { conn } => Encoder::new(op::DROP_CONN).u32(conn),
            Self::Bind { socket, local } => Encoder::new(op::BIND).u32(socket).addr(local),
            Self::SendTo {
                socket,
                remote,
                data,
            } => Encoder::new(op::SEND_TO)
                .u32(socket)
                .addr(remote)
                .bytes(data),
            Self::RecvFrom { socket, max } => Encoder::new(op::RECV_FROM).u32(socket).u32(max),
            Self::DropSocket { socket } => Encoder::new(op::DROP_SOCKET).u32(socket),
        }
        .finish()
    }

    /// Decodes a frame body (without its length prefix).
    ///
    /// # Errors
    ///
    /// Why the body is not a request.
    pub fn decode(body: &'a [u8]) -> Result<Self, WireError> {
        let mut d = Decoder(body);
        let request = match d.u8()? {
            op::CONNECT => Self::Connect {
                conn: d.u32()?,
                remote: d.addr()?,
            },
            op::LISTEN => Self::Listen {
                listener: d.u32()?,
                local: d.addr()?,
            },
            op::ACCEPT => Self::Accept {
                listener: d.u32()?,
                conn: d.u32()?,
            },
            op::DROP_LISTENER => Self::DropListener { listener: d.u32()? },
            op::READ => Self::Read {
                conn: d.u32()?,
                max: d.u32()?,
            },
            op::WRITE => Self::Write {
                conn: d.u32()?,
                data: d.bytes()?,
            },
            op::CLOSE => Self::Close { conn: d.u32()? },
            op::ABORT => Self::Abort { conn: d.u32()? },
            op::DROP_CONN => Self::DropConn { conn: d.u32()? },
            op::BIND => Self::Bind {
                socket: d.u32()?,
                local: d.addr()?,
            },
            op::SEND_TO => Self::SendTo {
                socket: d.u32()?,
                remote: d.addr()?,
                data: d.bytes()?,
            },
            op::RECV_FROM => Self::RecvFrom {
                socket: d.u32()?,
                max: d.u32()?,
            },
            op::DROP_SOCKET => Self::DropSocket { socket: d.u32()? },
            tag => return Err(WireError::UnknownTag(tag)),
        };
        d.end(request)
    }
}

impl<'a> Reply<'a> {
    /// Encodes the reply as one frame.
    pub fn encode(&self) -> Vec<u8> {
        use reply_tag as t;
        match *self {
            Self::Connected { conn, local, peer } => {
                Encoder::new(t::CONNECTED).u32(conn).addr(local).addr(peer)
            }
            Self::Listening { listener, local } => {
                Encoder::new(t::LISTENING).u32(listener).addr(local)
            }
            Self::Accepted {
                listener,
                conn,
                local,
                peer,
            } => Encoder::new(t::ACCEPTED)
                .u32(listener)
                .u32(conn)
                .addr(local)
                .addr(peer),
            Self::Data { conn, data } => Encoder::new(t::DATA).u32(conn).bytes(data),
            Self::Wrote { conn, len } => Encoder::new(t::WROTE).u32(conn).u32(len),
            Self::Closed { conn } => Encoder::new(t::CLOSED).u32(conn),
            Self::Bound { socket, local } => Encoder::new(t::BOUND).u32(socket).addr(local),
            Self::Sent { socket } => Encoder::new(t::SENT).u32(socket),
            Self::Received {
                socket,
                from,
                len,
                data,
            } => Encoder::new(t::RECEIVED)
                .u32(socket)
                .addr(from)
                .u32(len)
                .bytes(data),
            Self::Failed { op, handle, kind } => Encoder::new(t::FAILED)
                .u8(op)
                .u32(handle)
                .u8(kind_index(kind)),
        }
        .finish()
    }

    /// Decodes a frame body (without its length prefix).
    ///
    /// # Errors
    ///
    /// Why the body is not a reply.
    pub fn decode(body: &'a [u8]) -> Result<Self, WireError> {
        use reply_tag as t;
        let mut d = Decoder(body);
        let reply = match d.u8()? {
            t::CONNECTED => Self::Connected {
                conn: d.u32()?,
                local: d.addr()?,
                peer: d.addr()?,
            },
            t::LISTENING => Self::Listening {
                listener: d.u32()?,
                local: d.addr()?,
            },
            t::ACCEPTED => Self::Accepted {
                listener: d.u32()?,
                conn: d.u32()?,
                local: d.addr()?,
                peer: d.addr()?,
            },
            t::DATA => Self::Data {
                conn: d.u32()?,
                data: d.bytes()?,
            },
            t::WROTE => Self::Wrote {
                conn: d.u32()?,
                len: d.u32()?,
            },
            t::CLOSED => Self::Closed { conn: d.u32()? },
            t::BOUND => Self::Bound {
                socket: d.u32()?,
                local: d.addr()?,
            },
            t::SENT => Self::Sent { socket: d.u32()? },
            t::RECEIVED => Self::Received {
                socket: d.u32()?,
                from: d.addr()?,
                len: d.u32()?,
                data: d.bytes()?,
            },
            t::FAILED => Self::Failed {
                op: d.u8()?,
                handle: d.u32()?,
                kind: d.kind()?,
            },
            tag => return Err(WireError::UnknownTag(tag)),
        };
        d.end(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn v4(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 2, 2)), port)
    }

    fn v6(port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), port)
    }

    fn requests() -> Vec<Request<'static>> {
        vec![
            Request::Connect {
                conn: 1,
                remote: v4(80),
            },
            Request::Listen {
                listener: 2,
                local: v6(0),
            },
            Request::Accept {
                listener: 2,
                conn: 3,
            },
            Request::DropListener { listener: 2 },
            Request::Read { conn: 3, max: 4096 },
            Request::Write {
                conn: 3,
                data: b"hello",
            },
            Request::Close { conn: 3 },
            Request::Abort { conn: 3 },
            Request::DropConn { conn: 3 },
            Request::Bind {
                socket: 4,
                local: v4(0),
            },
            Request::SendTo {
                socket: 4,
                remote: v6(53),
                data: &[],
            },
            Request::RecvFrom { socket: 4, max: 9 },
            Request::DropSocket { socket: 4 },
        ]
    }

    fn replies() -> Vec<Reply<'static>> {
        vec![
            Reply::Connected {
                conn: 1,
                local: v4(4000),
                peer: v4(80),
            },
            Reply::Listening {
                listener: 2,
                local: v6(5000),
            },
            Reply::Accepted {
                listener: 2,
                conn: 3,
                local: v6(5000),
                peer: v6(6000),
            },
            Reply::Data {
                conn: 3,
                data: b"\x00\xff",
            },
            Reply::Wrote { conn: 3, len: 5 },
            Reply::Closed { conn: 3 },
            Reply::Bound {
                socket: 4,
                local: v4(7),
            },
            Reply::Sent { socket: 4 },
            Reply::Received {
                socket: 4,
                from: v4(9),
                len: 100,
                data: b"abc",
            },
            Reply::Failed {
                op: op::CONNECT,
                handle: 1,
                kind: ErrorKind::ConnectionRefused,
            },
        ]
    }

    #[test]
    fn every_message_round_trips() {
        for request in requests() {
            let frame = request.encode();
            let (body, rest) = split_frame(&frame).unwrap().unwrap();
            assert!(rest.is_empty());
            assert_eq!(Request::decode(body).unwrap(), request);
        }
        for reply in replies() {
            let frame = reply.encode();
            let (body, rest) = split_frame(&frame).unwrap().unwrap();
            assert!(rest.is_empty());
            assert_eq!(Reply::decode(body).unwrap(), reply);
        }
    }

    #[test]
    fn every_kind_round_trips() {
        for kind in KINDS {
            let frame = Reply::Failed {
                op: op::READ,
                handle: 0,
                kind,
            }
            .encode();
            let (body, _) = split_frame(&frame).unwrap().unwrap();
            assert!(matches!(Reply::decode(body), Ok(Reply::Failed { kind: k, .. }) if k == kind));
        }
    }

    #[test]
    fn every_prefix_of_a_frame_is_incomplete_or_an_error() {
        for frame in requests().iter().map(Request::encode) {
            for cut in 0..frame.len() {
                assert_eq!(split_frame(&frame[..cut]), Ok(None));
            }
            let (body, _) = split_frame(&frame).unwrap().unwrap();
            for cut in 0..body.len() {
                assert!(Request::decode(&body[..cut]).is_err(), "{cut} of {body:?}");
            }
        }
    }

    #[test]
    fn hostile_frames_are_errors() {
        assert_eq!(
            split_frame(&u32::MAX.to_le_bytes()),
            Err(WireError::TooLong(u32::MAX as usize))
        );
        assert_eq!(Request::decode(&[200]), Err(WireError::UnknownTag(200)));
        assert_eq!(Reply::decode(&[op::CONNECT]), Err(WireError::UnknownTag(1)));
        assert_eq!(
            Request::decode(&[op::CONNECT, 1, 0, 0, 0, 5]),
            Err(WireError::BadFamily(5))
        );
        assert_eq!(
            Reply::decode(&[reply_tag::FAILED, op::READ, 0, 0, 0, 0, 200]),
            Err(WireError::BadKind(200))
        );
        assert_eq!(
            Request::decode(&[op::CLOSE, 1, 0, 0, 0, 9]),
            Err(WireError::TrailingBytes)
        );
        let mut write = vec![op::WRITE, 1, 0, 0, 0];
        write.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Request::decode(&write),
            Err(WireError::TooLong(u32::MAX as usize))
        );
    }
}
