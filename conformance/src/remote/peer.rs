//! The side that runs the cases: [`RemotePeer`], a full portnet stack whose every
//! socket lives in the agent, reached over a byte stream.
//!
//! All state sits in one `RefCell` shared by the handles and the driver; replies
//! land in per-socket queues, so a cancelled operation loses nothing: the reply to
//! a read whose future was dropped is kept for the next read.

use alloc::collections::{BTreeMap, VecDeque};
use alloc::rc::Rc;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt;
use core::future::{Future, poll_fn};
use core::net::SocketAddr;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};

use portnet::future::{Either, select};
use portnet::{ErrorKind, ErrorType, TcpConnect, TcpListen, TcpListener, TcpStream, UdpBind};

use super::wire::{MAX_DATA, Reply, Request, WireError, op, split_frame};

/// How many bytes written to a peer connection may wait for the agent's
/// acknowledgement by default ([`RemotePeer::with_write_window`]); beyond it
/// writes are `Pending`, as on a full socket buffer.
const WRITE_WINDOW: usize = 16 * 1024;

/// The bytes the driver copies at a time, each way. Small, so the driver's
/// future fits where RAM is scarce (16 KiB boards); the queues behind it hold
/// whole frames.
const DRIVER_CHUNK: usize = 512;

/// How many datagrams a peer socket may have on their way to the agent.
const SENDS_IN_FLIGHT: usize = 8;

/// A failure of the remote peer: the peer stack's error kind, carried over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteError(pub ErrorKind);

impl fmt::Display for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "remote peer: {}", self.0)
    }
}

impl core::error::Error for RemoteError {}

impl From<ErrorKind> for RemoteError {
    fn from(kind: ErrorKind) -> Self {
        Self(kind)
    }
}

impl portnet::Error for RemoteError {
    fn kind(&self) -> ErrorKind {
        self.0
    }
}

/// Why the driver stopped: the link to the agent broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// The byte stream failed.
    Io(ErrorKind),
    /// The byte stream ended.
    Closed,
    /// The agent sent something that is not a reply.
    Wire(WireError),
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(kind) => write!(f, "link to the agent failed: {kind}"),
            Self::Closed => f.write_str("link to the agent closed"),
            Self::Wire(e) => write!(f, "bad reply from the agent: {e}"),
        }
    }
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(w) = waker.take() {
        w.wake();
    }
}

fn park(slot: &mut Option<Waker>, cx: &Context<'_>) {
    match slot {
        Some(w) if w.will_wake(cx.waker()) => {}
        _ => *slot = Some(cx.waker().clone()),
    }
}

#[derive(Debug)]
enum Opening<T> {
    Waiting,
    Open(T),
    Failed(ErrorKind),
}

#[derive(Debug)]
struct Conn {
    opening: Opening<(SocketAddr, SocketAddr)>,
    open_waker: Option<Waker>,
    rx: VecDeque<u8>,
    eof: bool,
    read_error: Option<ErrorKind>,
    read_asked: bool,
    read_waker: Option<Waker>,
    unacked: usize,
    write_error: Option<ErrorKind>,
    close: CloseState,
    write_waker: Option<Waker>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseState {
    Open,
    Asked,
    Done,
}

impl Conn {
    fn new(opening: Opening<(SocketAddr, SocketAddr)>) -> Self {
        Self {
            opening,
            open_waker: None,
            rx: VecDeque::new(),
            eof: false,
            read_error: None,
            read_asked: false,
            read_waker: None,
            unacked: 0,
            write_error: None,
            close: CloseState::Open,
            write_waker: None,
        }
    }

    fn fail_all(&mut self, kind: ErrorKind) {
        if matches!(self.opening, Opening::Waiting) {
            self.opening = Opening::Failed(kind);
        }
        self.read_error.get_or_insert(kind);
        self.write_error.get_or_insert(kind);
        wake(&mut self.open_waker);
        wake(&mut self.read_waker);
        wake(&mut self.write_waker);
    }
}

#[derive(Debug)]
struct Listener {
    opening: Opening<SocketAddr>,
    open_waker: Option<Waker>,
    accepted: VecDeque<(u32, SocketAddr)>,
    asked: bool,
    error: Option<ErrorKind>,
    accept_waker: Option<Waker>,
}

#[derive(Debug)]
struct Datagram {
    from: SocketAddr,
    len: usize,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Socket {
    opening: Opening<SocketAddr>,
    open_waker: Option<Waker>,
    connected: Option<SocketAddr>,
    in_flight: usize,
    send_error: Option<ErrorKind>,
    send_waker: Option<Waker>,
    received: VecDeque<Datagram>,
    recv_asked: bool,
    recv_error: Option<ErrorKind>,
    recv_waker: Option<Waker>,
}

#[derive(Debug)]
struct Shared {
    write_window: usize,
    max_read: usize,
    next_handle: u32,
    out: VecDeque<u8>,
    out_waker: Option<Waker>,
    broken: Option<LinkError>,
    conns: BTreeMap<u32, Conn>,
    listeners: BTreeMap<u32, Listener>,
    sockets: BTreeMap<u32, Socket>,
}

impl Default for Shared {
    fn default() -> Self {
        Self {
            write_window: WRITE_WINDOW,
            max_read: MAX_DATA,
            next_handle: 0,
            out: VecDeque::new(),
            out_waker: None,
            broken: None,
            conns: BTreeMap::new(),
            listeners: BTreeMap::new(),
            sockets: BTreeMap::new(),
        }
    }
}

impl Shared {
    fn handle(&mut self) -> u32 {
        self.next_handle = self.next_handle.wrapping_add(1);
        self.next_handle
    }

    fn send(&mut self, request: Request<'_>) {
        self.out.extend(request.encode());
        wake(&mut self.out_waker);
    }

    fn fail_everything(&mut self, error: LinkError) {
        self.broken = Some(error);
        for conn in self.conns.values_mut() {
            conn.fail_all(ErrorKind::Other);
        }
        for listener in self.listeners.values_mut() {
            if matches!(listener.opening, Opening::Waiting) {
                listener.opening = Opening::Failed(ErrorKind::Other);
            }
            listener.error = Some(ErrorKind::Other);
            wake(&mut listener.open_waker);
            wake(&mut listener.accept_waker);
        }
        for socket in self.sockets.values_mut() {
            if matches!(socket.opening, Opening::Waiting) {
                socket.opening = Opening::Failed(ErrorKind::Other);
            }
            socket.send_error = Some(ErrorKind::Other);
            socket.recv_error = Some(ErrorKind::Other);
            wake(&mut socket.open_waker);
            wake(&mut socket.send_waker);
            wake(&mut socket.recv_waker);
        }
    }

    fn dispatch(&mut self, reply: Reply<'_>) {
        match reply {
            Reply::Connected { conn, local, peer } => match self.conns.get_mut(&conn) {
                Some(c) if matches!(c.opening, Opening::Waiting) => {
                    c.opening = Opening::Open((local, peer));
                    wake(&mut c.open_waker);
                }
                _ => self.send(Request::DropConn { conn }),
            },
            Reply::Listening { listener, local } => match self.listeners.get_mut(&listener) {
                Some(l) => {
                    l.opening = Opening::Open(local);
                    wake(&mut l.open_waker);
                }
                None => self.send(Request::DropListener { listener }),
            },
            Reply::Accepted {
                listener,
                conn,
                local,
                peer,
            } => match self.listeners.get_mut(&listener) {
                Some(l) => {
                    l.asked = false;
                    l.accepted.push_back((conn, peer));
                    wake(&mut l.accept_waker);
                    self.conns
                        .insert(conn, Conn::new(Opening::Open((local, peer))));
                }
                None => self.send(Request::DropConn { conn }),
            },
            Reply::Data { conn, data } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.read_asked = false;
                    if data.is_empty() {
                        c.eof = true;
                    } else {
                        c.rx.extend(data);
                    }
                    wake(&mut c.read_waker);
                }
            }
            Reply::Wrote { conn, len } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.unacked = c.unacked.saturating_sub(len as usize);
                    wake(&mut c.write_waker);
                }
            }
            Reply::Closed { conn } => {
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.close = CloseState::Done;
                    wake(&mut c.write_waker);
                }
            }
            Reply::Bound { socket, local } => match self.sockets.get_mut(&socket) {
                Some(s) => {
                    s.opening = Opening::Open(local);
                    wake(&mut s.open_waker);
                }
                None => self.send(Request::DropSocket { socket }),
            },
            Reply::Sent { socket } => {
                if let Some(s) = self.sockets.get_mut(&socket) {
                    s.in_flight = s.in_flight.saturating_sub(1);
                    wake(&mut s.send_waker);
                }
            }
            Reply::Received {
                socket,
                from,
                len,
                data,
            } => {
                if let Some(s) = self.sockets.get_mut(&socket) {
                    s.recv_asked = false;
                    s.received.push_back(Datagram {
                        from,
                        len: len as usize,
                        data: data.to_vec(),
                    });
                    wake(&mut s.recv_waker);
                }
            }
            Reply::Failed { op, handle, kind } => self.failed(op, handle, kind),
        }
    }

    fn failed(&mut self, failed_op: u8, handle: u32, kind: ErrorKind) {
        match failed_op {
            op::CONNECT | op::READ | op::WRITE | op::CLOSE => {
                let Some(c) = self.conns.get_mut(&handle) else {
                    return;
                };
                match failed_op {
                    op::CONNECT => {
                        c.opening = Opening::Failed(kind);
                        wake(&mut c.open_waker);
                    }
                    op::READ => {
                        c.read_asked = false;
                        c.read_error = Some(kind);
                        wake(&mut c.read_waker);
                    }
                    _ => {
                        c.unacked = 0;
                        c.write_error = Some(kind);
                        wake(&mut c.write_waker);
                    }
                }
            }
            op::LISTEN | op::ACCEPT => {
                let Some(l) = self.listeners.get_mut(&handle) else {
                    return;
                };
                if failed_op == op::LISTEN {
                    l.opening = Opening::Failed(kind);
                    wake(&mut l.open_waker);
                } else {
                    l.asked = false;
                    l.error = Some(kind);
                    wake(&mut l.accept_waker);
                }
            }
            op::BIND | op::SEND_TO | op::RECV_FROM => {
                let Some(s) = self.sockets.get_mut(&handle) else {
                    return;
                };
                match failed_op {
                    op::BIND => {
                        s.opening = Opening::Failed(kind);
                        wake(&mut s.open_waker);
                    }
                    op::SEND_TO => {
                        s.in_flight = s.in_flight.saturating_sub(1);
                        s.send_error = Some(kind);
                        wake(&mut s.send_waker);
                    }
                    _ => {
                        s.recv_asked = false;
                        s.recv_error = Some(kind);
                        wake(&mut s.recv_waker);
                    }
                }
            }
            _ => {}
        }
    }
}

/// A peer stack reached through an agent over a byte stream (a serial port, a
/// socket): what a harness uses as its [`crate::Harness::Peer`] where the cases run
/// in one place (firmware in an emulator) and the peer's stack in another (the
/// host). This repository's agent is `portnet_conformance_runner::agent`.
///
/// Nothing moves until [`RemotePeer::driver`]'s future is polled alongside.
#[derive(Debug, Clone, Default)]
pub struct RemotePeer {
    shared: Rc<RefCell<Shared>>,
}

impl RemotePeer {
    /// A peer with no link yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lets at most `bytes` (at least 1) written to each peer connection wait
    /// for the agent's acknowledgement (16 KiB by default); beyond it the
    /// peer's writes are `Pending`, as on a full socket buffer. Where RAM is
    /// scarce this bounds what the peer's side queues for the link. Set it
    /// before the peer is used.
    #[must_use]
    pub fn with_write_window(self, bytes: usize) -> Self {
        self.with(|s| s.write_window = bytes.max(1));
        self
    }

    /// Asks the agent for at most `bytes` (at least 1) per read of a peer
    /// connection (64 KiB by default), so no reply frame is larger than the
    /// RAM that receives it. A read still returns as soon as some bytes are
    /// there, as `Read` allows; only the largest single read is smaller.
    #[must_use]
    pub fn with_max_read(self, bytes: usize) -> Self {
        self.with(|s| s.max_read = bytes.clamp(1, MAX_DATA));
        self
    }

    /// The future that carries requests to the agent over `tx` and replies from
    /// `rx`. It ends only when the link fails; then every pending and later
    /// operation fails with `ErrorKind::Other`.
    ///
    /// # Cancel safety
    ///
    /// Dropping it between polls loses nothing if `rx.read` and `tx.write` are
    /// cancel safe; keep it alive for the peer's lifetime otherwise.
    pub fn driver<R, W>(&self, rx: R, tx: W) -> impl Future<Output = LinkError> + 'static
    where
        R: embedded_io_async::Read + 'static,
        W: embedded_io_async::Write + 'static,
    {
        let shared = self.shared.clone();
        async move {
            let error = {
                let reading = pin!(read_replies(&shared, rx));
                let writing = pin!(write_requests(&shared, tx));
                match select(reading, writing).await {
                    Either::Left(e) | Either::Right(e) => e,
                }
            };
            shared.borrow_mut().fail_everything(error);
            error
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Shared) -> T) -> T {
        f(&mut self.shared.borrow_mut())
    }
}

async fn read_replies<R: embedded_io_async::Read>(
    shared: &RefCell<Shared>,
    mut rx: R,
) -> LinkError {
    let mut buf = [0u8; DRIVER_CHUNK];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match rx.read(&mut buf).await {
            Ok(0) => return LinkError::Closed,
            Ok(n) => n,
            Err(e) => return LinkError::Io(io_kind(&e)),
        };
        pending.extend_from_slice(&buf[..n]);
        let mut consumed = 0;
        loop {
            match split_frame(&pending[consumed..]) {
                Ok(Some((body, rest))) => {
                    let reply = match Reply::decode(body) {
                        Ok(reply) => reply,
                        Err(e) => return LinkError::Wire(e),
                    };
                    shared.borrow_mut().dispatch(reply);
                    consumed = pending.len() - rest.len();
                }
                Ok(None) => break,
                Err(e) => return LinkError::Wire(e),
            }
        }
        pending.drain(..consumed);
    }
}

async fn write_requests<W: embedded_io_async::Write>(
    shared: &RefCell<Shared>,
    mut tx: W,
) -> LinkError {
    let mut chunk = [0u8; DRIVER_CHUNK];
    loop {
        let len = poll_fn(|cx| {
            let mut s = shared.borrow_mut();
            if s.out.is_empty() {
                park(&mut s.out_waker, cx);
                return Poll::Pending;
            }
            let len = s.out.len().min(chunk.len());
            for (dst, src) in chunk.iter_mut().zip(s.out.iter()) {
                *dst = *src;
            }
            Poll::Ready(len)
        })
        .await;
        // Bytes leave the queue only once written, so a cancelled write resends them.
        let written = match tx.write(&chunk[..len]).await {
            Ok(0) => return LinkError::Closed,
            Ok(n) => n,
            Err(e) => return LinkError::Io(io_kind(&e)),
        };
        let drained = {
            let mut s = shared.borrow_mut();
            s.out.drain(..written);
            s.out.is_empty()
        };
        if drained && let Err(e) = tx.flush().await {
            return LinkError::Io(io_kind(&e));
        }
    }
}

fn io_kind<E: embedded_io_async::Error>(e: &E) -> ErrorKind {
    use embedded_io_async::ErrorKind as Io;
    match e.kind() {
        Io::ConnectionReset => ErrorKind::ConnectionReset,
        Io::BrokenPipe => ErrorKind::BrokenPipe,
        Io::TimedOut => ErrorKind::TimedOut,
        Io::Interrupted => ErrorKind::Interrupted,
        _ => ErrorKind::Other,
    }
}

/// Waits for an opening handle's outcome, sharing the logic of connect, listen
/// and bind.
fn poll_opening<T: Copy>(
    opening: &mut Opening<T>,
    waker: &mut Option<Waker>,
    cx: &Context<'_>,
) -> Poll<Result<T, RemoteError>> {
    match opening {
        Opening::Waiting => {
            park(waker, cx);
            Poll::Pending
        }
        Opening::Open(value) => Poll::Ready(Ok(*value)),
        Opening::Failed(kind) => Poll::Ready(Err(RemoteError(*kind))),
    }
}

impl ErrorType for RemotePeer {
    type Error = RemoteError;
}

impl TcpConnect for RemotePeer {
    type Connection<'a> = RemoteConnection<'a>;

    /// # Cancel safety
    ///
    /// Cancel safe: a dropped connect drops the connection the agent opens.
    async fn connect(&self, remote: SocketAddr) -> Result<RemoteConnection<'_>, RemoteError> {
        let conn = self.with(|s| {
            let conn = s.handle();
            s.conns.insert(conn, Conn::new(Opening::Waiting));
            s.send(Request::Connect { conn, remote });
            conn
        });
        // Owns the handle from here: dropping it drops the agent's connection.
        let connection = RemoteConnection { peer: self, conn };
        poll_fn(|cx| {
            self.with(|s| match s.conns.get_mut(&conn) {
                Some(c) => poll_opening(&mut c.opening, &mut c.open_waker, cx).map_ok(|_| ()),
                None => Poll::Ready(Err(RemoteError(ErrorKind::Other))),
            })
        })
        .await?;
        Ok(connection)
    }
}

impl TcpListen for RemotePeer {
    type Connection<'a> = RemoteConnection<'a>;
    type Listener<'a> = RemoteListener<'a>;

    /// # Cancel safety
    ///
    /// Cancel safe: a dropped listen drops the agent's listener.
    /// The agent's listener has the firmware stack's default backlog; asking for
    /// another is refused with `Unsupported` rather than ignored.
    async fn listen_with(
        &self,
        local: SocketAddr,
        options: portnet::ListenOptions,
    ) -> Result<RemoteListener<'_>, RemoteError> {
        if options.backlog.is_some() {
            return Err(RemoteError(ErrorKind::Unsupported));
        }
        let listener = self.with(|s| {
            let listener = s.handle();
            s.listeners.insert(
                listener,
                Listener {
                    opening: Opening::Waiting,
                    open_waker: None,
                    accepted: VecDeque::new(),
                    asked: false,
                    error: None,
                    accept_waker: None,
                },
            );
            s.send(Request::Listen { listener, local });
            listener
        });
        let mut handle = RemoteListener {
            peer: self,
            listener,
            local,
        };
        handle.local = poll_fn(|cx| {
            self.with(|s| match s.listeners.get_mut(&listener) {
                Some(l) => poll_opening(&mut l.opening, &mut l.open_waker, cx),
                None => Poll::Ready(Err(RemoteError(ErrorKind::Other))),
            })
        })
        .await?;
        Ok(handle)
    }
}

impl UdpBind for RemotePeer {
    type Socket<'a> = RemoteSocket<'a>;

    /// # Cancel safety
    ///
    /// Cancel safe: a dropped bind drops the agent's socket.
    async fn bind(&self, local: SocketAddr) -> Result<RemoteSocket<'_>, RemoteError> {
        let socket = self.with(|s| {
            let socket = s.handle();
            s.sockets.insert(
                socket,
                Socket {
                    opening: Opening::Waiting,
                    open_waker: None,
                    connected: None,
                    in_flight: 0,
                    send_error: None,
                    send_waker: None,
                    received: VecDeque::new(),
                    recv_asked: false,
                    recv_error: None,
                    recv_waker: None,
                },
            );
            s.send(Request::Bind { socket, local });
            socket
        });
        let handle = RemoteSocket { peer: self, socket };
        poll_fn(|cx| {
            self.with(|s| match s.sockets.get_mut(&socket) {
                Some(sock) => {
                    poll_opening(&mut sock.opening, &mut sock.open_waker, cx).map_ok(|_| ())
                }
                None => Poll::Ready(Err(RemoteError(ErrorKind::Other))),
            })
        })
        .await?;
        Ok(handle)
    }
}

/// A listener in the agent.
#[derive(Debug)]
pub struct RemoteListener<'a> {
    peer: &'a RemotePeer,
    listener: u32,
    local: SocketAddr,
}

impl Drop for RemoteListener<'_> {
    fn drop(&mut self) {
        self.peer.with(|s| {
            if let Some(l) = s.listeners.remove(&self.listener) {
                s.send(Request::DropListener {
                    listener: self.listener,
                });
                for (conn, _) in l.accepted {
                    s.conns.remove(&conn);
                    s.send(Request::DropConn { conn });
                }
            }
        });
    }
}

impl ErrorType for RemoteListener<'_> {
    type Error = RemoteError;
}

impl<'a> TcpListener for RemoteListener<'a> {
    type Connection = RemoteConnection<'a>;

    /// # Cancel safety
    ///
    /// Cancel safe: a connection the agent accepts after the future is dropped
    /// goes to the next accept.
    async fn accept(&self) -> Result<(RemoteConnection<'a>, SocketAddr), RemoteError> {
        let listener = self.listener;
        let peer = self.peer;
        poll_fn(|cx| {
            peer.with(|s| {
                let Some(l) = s.listeners.get_mut(&listener) else {
                    return Poll::Ready(Err(RemoteError(ErrorKind::Other)));
                };
                if let Some((conn, from)) = l.accepted.pop_front() {
                    return Poll::Ready(Ok((RemoteConnection { peer, conn }, from)));
                }
                if let Some(kind) = l.error.take() {
                    return Poll::Ready(Err(RemoteError(kind)));
                }
                park(&mut l.accept_waker, cx);
                if !l.asked {
                    l.asked = true;
                    let conn = s.handle();
                    s.send(Request::Accept { listener, conn });
                }
                Poll::Pending
            })
        })
        .await
    }

    fn local_addr(&self) -> Result<SocketAddr, RemoteError> {
        Ok(self.local)
    }
}

/// A TCP connection in the agent.
#[derive(Debug)]
pub struct RemoteConnection<'a> {
    peer: &'a RemotePeer,
    conn: u32,
}

impl Drop for RemoteConnection<'_> {
    fn drop(&mut self) {
        self.peer.with(|s| {
            if s.conns.remove(&self.conn).is_some() {
                s.send(Request::DropConn { conn: self.conn });
            }
        });
    }
}

fn gone() -> RemoteError {
    RemoteError(ErrorKind::NotConnected)
}

fn poll_read_conn(
    peer: &RemotePeer,
    conn: u32,
    cx: &Context<'_>,
    buf: &mut [u8],
) -> Poll<Result<usize, RemoteError>> {
    peer.with(|s| {
        let Some(c) = s.conns.get_mut(&conn) else {
            return Poll::Ready(Err(gone()));
        };
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if !c.rx.is_empty() {
            let n = buf.len().min(c.rx.len());
            for (dst, src) in buf.iter_mut().zip(c.rx.drain(..n)) {
                *dst = src;
            }
            return Poll::Ready(Ok(n));
        }
        if let Some(kind) = c.read_error {
            return Poll::Ready(Err(RemoteError(kind)));
        }
        if c.eof {
            return Poll::Ready(Ok(0));
        }
        park(&mut c.read_waker, cx);
        if !c.read_asked {
            c.read_asked = true;
            let max = u32::try_from(buf.len().min(s.max_read)).unwrap_or(u32::MAX);
            s.send(Request::Read { conn, max });
        }
        Poll::Pending
    })
}

fn poll_write_conn(
    peer: &RemotePeer,
    conn: u32,
    cx: &Context<'_>,
    buf: &[u8],
) -> Poll<Result<usize, RemoteError>> {
    peer.with(|s| {
        let window = s.write_window;
        let Some(c) = s.conns.get_mut(&conn) else {
            return Poll::Ready(Err(gone()));
        };
        if let Some(kind) = c.write_error {
            return Poll::Ready(Err(RemoteError(kind)));
        }
        if c.close != CloseState::Open {
            return Poll::Ready(Err(RemoteError(ErrorKind::BrokenPipe)));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let room = window.saturating_sub(c.unacked);
        if room == 0 {
            park(&mut c.write_waker, cx);
            return Poll::Pending;
        }
        let n = buf.len().min(room).min(MAX_DATA);
        c.unacked += n;
        s.send(Request::Write {
            conn,
            data: &buf[..n],
        });
        Poll::Ready(Ok(n))
    })
}

fn poll_flush_conn(
    peer: &RemotePeer,
    conn: u32,
    cx: &Context<'_>,
) -> Poll<Result<(), RemoteError>> {
    peer.with(|s| {
        let Some(c) = s.conns.get_mut(&conn) else {
            return Poll::Ready(Err(gone()));
        };
        if let Some(kind) = c.write_error {
            return Poll::Ready(Err(RemoteError(kind)));
        }
        if c.unacked == 0 {
            return Poll::Ready(Ok(()));
        }
        park(&mut c.write_waker, cx);
        Poll::Pending
    })
}

fn poll_close_conn(
    peer: &RemotePeer,
    conn: u32,
    cx: &Context<'_>,
) -> Poll<Result<(), RemoteError>> {
    peer.with(|s| {
        let Some(c) = s.conns.get_mut(&conn) else {
            return Poll::Ready(Err(gone()));
        };
        if let Some(kind) = c.write_error {
            return Poll::Ready(Err(RemoteError(kind)));
        }
        match c.close {
            CloseState::Done => Poll::Ready(Ok(())),
            CloseState::Asked => {
                park(&mut c.write_waker, cx);
                Poll::Pending
            }
            CloseState::Open => {
                c.close = CloseState::Asked;
                park(&mut c.write_waker, cx);
                s.send(Request::Close { conn });
                Poll::Pending
            }
        }
    })
}

/// `Read` (arm `read`) or `Write` (arm `write`) for a type with `peer` and
/// `conn` fields: the connection and its halves share one implementation.
macro_rules! stream_io {
    ($ty:ident, read) => {
        impl portnet::Read for $ty<'_> {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<Result<usize, RemoteError>> {
                poll_read_conn(self.peer, self.conn, cx, buf)
            }
        }
    };
    ($ty:ident, write) => {
        impl portnet::Write for $ty<'_> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<Result<usize, RemoteError>> {
                poll_write_conn(self.peer, self.conn, cx, buf)
            }

            fn poll_flush(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Result<(), RemoteError>> {
                poll_flush_conn(self.peer, self.conn, cx)
            }

            fn poll_close(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Result<(), RemoteError>> {
                poll_close_conn(self.peer, self.conn, cx)
            }
        }
    };
}

impl ErrorType for RemoteConnection<'_> {
    type Error = RemoteError;
}

stream_io!(RemoteConnection, read);
stream_io!(RemoteConnection, write);

impl TcpStream for RemoteConnection<'_> {
    type ReadHalf<'h>
        = RemoteReadHalf<'h>
    where
        Self: 'h;
    type WriteHalf<'h>
        = RemoteWriteHalf<'h>
    where
        Self: 'h;

    fn split(&mut self) -> (RemoteReadHalf<'_>, RemoteWriteHalf<'_>) {
        (
            RemoteReadHalf {
                peer: self.peer,
                conn: self.conn,
            },
            RemoteWriteHalf {
                peer: self.peer,
                conn: self.conn,
            },
        )
    }

    fn local_addr(&self) -> Result<SocketAddr, RemoteError> {
        self.addrs().map(|(local, _)| local)
    }

    fn peer_addr(&self) -> Result<SocketAddr, RemoteError> {
        self.addrs().map(|(_, peer)| peer)
    }

    fn abort(self) {
        self.peer.with(|s| {
            if s.conns.remove(&self.conn).is_some() {
                s.send(Request::Abort { conn: self.conn });
            }
        });
    }
}

impl RemoteConnection<'_> {
    fn addrs(&self) -> Result<(SocketAddr, SocketAddr), RemoteError> {
        self.peer.with(|s| match s.conns.get(&self.conn) {
            Some(Conn {
                opening: Opening::Open(addrs),
                ..
            }) => Ok(*addrs),
            _ => Err(gone()),
        })
    }
}

/// The read half of a [`RemoteConnection`].
#[derive(Debug)]
pub struct RemoteReadHalf<'a> {
    peer: &'a RemotePeer,
    conn: u32,
}

/// The write half of a [`RemoteConnection`].
#[derive(Debug)]
pub struct RemoteWriteHalf<'a> {
    peer: &'a RemotePeer,
    conn: u32,
}

impl ErrorType for RemoteReadHalf<'_> {
    type Error = RemoteError;
}

impl ErrorType for RemoteWriteHalf<'_> {
    type Error = RemoteError;
}

stream_io!(RemoteReadHalf, read);
stream_io!(RemoteWriteHalf, write);

/// A UDP socket in the agent.
#[derive(Debug)]
pub struct RemoteSocket<'a> {
    peer: &'a RemotePeer,
    socket: u32,
}

impl Drop for RemoteSocket<'_> {
    fn drop(&mut self) {
        self.peer.with(|s| {
            if s.sockets.remove(&self.socket).is_some() {
                s.send(Request::DropSocket {
                    socket: self.socket,
                });
            }
        });
    }
}

impl ErrorType for RemoteSocket<'_> {
    type Error = RemoteError;
}

impl portnet::UdpSocket for RemoteSocket<'_> {
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<Result<(), RemoteError>> {
        let socket = self.socket;
        self.peer.with(|s| {
            let Some(sock) = s.sockets.get_mut(&socket) else {
                return Poll::Ready(Err(gone()));
            };
            if let Some(kind) = sock.send_error.take() {
                return Poll::Ready(Err(RemoteError(kind)));
            }
            if buf.len() > MAX_DATA {
                return Poll::Ready(Err(RemoteError(ErrorKind::InvalidInput)));
            }
            if sock.in_flight >= SENDS_IN_FLIGHT {
                park(&mut sock.send_waker, cx);
                return Poll::Pending;
            }
            sock.in_flight += 1;
            s.send(Request::SendTo {
                socket,
                remote,
                data: buf,
            });
            Poll::Ready(Ok(()))
        })
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr), RemoteError>> {
        let socket = self.socket;
        self.peer.with(|s| {
            let Some(sock) = s.sockets.get_mut(&socket) else {
                return Poll::Ready(Err(gone()));
            };
            while let Some(datagram) = sock.received.pop_front() {
                if sock.connected.is_some_and(|peer| peer != datagram.from) {
                    continue;
                }
                let n = buf.len().min(datagram.data.len());
                buf[..n].copy_from_slice(&datagram.data[..n]);
                return Poll::Ready(Ok((datagram.len, datagram.from)));
            }
            if let Some(kind) = sock.recv_error.take() {
                return Poll::Ready(Err(RemoteError(kind)));
            }
            park(&mut sock.recv_waker, cx);
            if !sock.recv_asked {
                sock.recv_asked = true;
                // The agent receives into a full-size buffer; the truncation to
                // `buf` happens here, so a later, larger buffer loses nothing.
                let max = MAX_DATA as u32;
                s.send(Request::RecvFrom { socket, max });
            }
            Poll::Pending
        })
    }

    fn connect(&mut self, remote: SocketAddr) -> Result<(), RemoteError> {
        self.peer.with(|s| match s.sockets.get_mut(&self.socket) {
            Some(sock) => {
                sock.connected = Some(remote);
                Ok(())
            }
            None => Err(gone()),
        })
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
            .with(|s| s.sockets.get(&self.socket).and_then(|sock| sock.connected))
    }

    fn local_addr(&self) -> Result<SocketAddr, RemoteError> {
        self.peer.with(|s| match s.sockets.get(&self.socket) {
            Some(Socket {
                opening: Opening::Open(local),
                ..
            }) => Ok(*local),
            _ => Err(gone()),
        })
    }
}

/// The agent's wire protocol carries no option: every one is `Unsupported`.
impl portnet::SocketOptions for RemoteConnection<'_> {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), RemoteError> {
        Err(RemoteError(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, RemoteError> {
        Err(RemoteError(ErrorKind::Unsupported))
    }
}

/// The agent's wire protocol carries no option: every one is `Unsupported`.
impl portnet::SocketOptions for RemoteListener<'_> {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), RemoteError> {
        Err(RemoteError(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, RemoteError> {
        Err(RemoteError(ErrorKind::Unsupported))
    }
}

/// The agent's wire protocol carries no option: every one is `Unsupported`.
impl portnet::SocketOptions for RemoteSocket<'_> {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), RemoteError> {
        Err(RemoteError(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, RemoteError> {
        Err(RemoteError(ErrorKind::Unsupported))
    }
}
