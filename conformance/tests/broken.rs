//! The suite catches broken stacks: each flaw below breaks one contract of the
//! standard, and the cases meant for it must fail (while the same cases pass on
//! the unbroken stack). This is how the suite proves its cases can fail.

use core::future::{Future, poll_fn};
use core::net::{IpAddr, Ipv6Addr, SocketAddr};
use core::pin::{Pin, pin};
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll, Waker};
extern crate alloc;

use alloc::sync::Arc;
use alloc::task::Wake;
use std::io;
use std::sync::Mutex;

use portnet::{
    AddrFamily, Clock, Dns, ErrorKind, ErrorType, Instant, Read, TcpConnect, TcpListen,
    TcpListener, TcpStream, UdpBind, UdpSocket, Write,
};
mod tokio_harness;
use portnet_conformance::{Family, Harness, Mode, Outcome, cases};
use portnet_tokio::Tokio;
use tokio_harness::TokioHarness;

/// One broken contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flaw {
    /// No flaw: the cases must pass.
    None,
    /// Holds back the last bytes of every write and forgets them on close.
    DropsBytesOnClose,
    /// Keeps polling with the first waker it was given.
    KeepsFirstWaker,
    /// Accepts every write in full, into an ever-growing buffer.
    UnboundedBuffering,
    /// After EOF, the next reads fail instead of returning 0.
    EofNotSticky,
    /// A read at EOF fails with `ConnectionReset` instead of returning 0.
    EofIsError,
    /// Wakes the reader on every poll (a busy loop).
    SpuriousWakes,
    /// `abort` closes gracefully (FIN) instead of resetting.
    AbortSendsFin,
    /// Reports every connect and listen error as `Other`.
    LosesErrorKinds,
    /// Reports the copied length of a truncated datagram, not its full length.
    TruncationLength,
    /// Ignores the backlog asked for: the kernel queues one connection.
    IgnoresBacklog,
    /// A listener keeps one waker for all its pending accepts (the latest).
    OneAcceptWaker,
    /// Reports a full pool as `Other` instead of `OutOfResources`.
    PoolErrorIsOther,
    /// A connect claims its pool slot when it starts and keeps it if dropped.
    LeaksCancelledConnect,
    /// Accepts writes after the local close, and drops them.
    WritesAfterClose,
    /// A second close fails with `NotConnected`.
    CloseNotIdempotent,
    /// A write that returns `Pending` keeps the bytes and sends them later.
    LateWrite,
    /// The two halves of a split connection share one waker slot.
    SharedSplitWaker,
    /// Closing the write half of a split connection sends no FIN.
    SplitCloseSendsNothing,
    /// Once a read has failed, `close` stays `Pending` for good (no wake).
    CloseHangsAfterReset,
    /// `send`/`recv` of a connected socket fail with `NotConnected`.
    NoConnectedIo,
    /// `bind_connected` binds but does not connect.
    BindConnectedUnconnected,
    /// `send` on an unconnected socket claims success and sends nothing.
    SendUnconnectedSilently,
    /// Once a connected send went out, every later `recv` fails with
    /// `ConnectionRefused` (an ICMP error that is never cleared).
    RefusedForever,
    /// Reports a datagram too large to send as `Other`.
    OversizeIsOther,
    /// A dropped UDP socket keeps its port bound.
    UdpDropKeepsPort,
    /// `resolve_all` writes a literal twice.
    DnsLiteralTwice,
    /// Sends invalid names to the resolver, reporting `NameNotResolved`.
    DnsQueriesInvalidNames,
    /// `resolve_all` of a name gives IPv4 addresses as IPv4-mapped IPv6 ones.
    DnsMapsV4ToV6,
    /// `resolve_all` into an empty buffer succeeds with 0.
    DnsEmptyOutOk,
    /// Servers that never answer end as `NameNotResolved` ("no such name").
    DnsSilenceIsNotFound,
    /// A server's NXDOMAIN ends as `TimedOut` ("no answer").
    DnsNotFoundIsTimeout,
    /// `set_option` claims success and does nothing.
    OptionsNoOp,
    /// Reading a set-only option succeeds.
    SetOnlyReadable,
    /// A sleep wakes its task on every poll until the deadline (a busy loop).
    BusySleep,
    /// A sleep whose deadline has passed waits for the next timer tick.
    SleepPendsOnce,
    /// Every other `now` is a millisecond earlier than the one before.
    ClockGoesBack,
}

/// A waker slot shared by several futures: whoever polled last is woken.
#[derive(Debug, Default)]
struct SharedSlot(Mutex<Option<Waker>>);

impl SharedSlot {
    /// Stores `waker` as the one to wake, and returns the waker the inner
    /// socket gets: it wakes whatever the slot holds when it fires.
    fn register(self: &Arc<Self>, waker: &Waker) -> Waker {
        *self.0.lock().unwrap() = Some(waker.clone());
        Waker::from(self.clone())
    }
}

impl Wake for SharedSlot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(waker) = self.0.lock().unwrap().as_ref() {
            waker.wake_by_ref();
        }
    }
}

/// The pool a pooled flawed stack keeps: sockets in use of each kind.
#[derive(Debug, Default)]
struct Pool {
    size: Option<usize>,
    tcp: AtomicUsize,
    udp: AtomicUsize,
}

/// One claimed slot of the pool, given back on drop.
#[derive(Debug)]
struct Claim {
    pool: Arc<Pool>,
    udp: bool,
}

impl Drop for Claim {
    fn drop(&mut self) {
        let count = if self.udp {
            &self.pool.udp
        } else {
            &self.pool.tcp
        };
        count.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Pool {
    /// Claims a slot, or fails with `OutOfResources` (or `Other`, for that flaw).
    fn claim(self: &Arc<Self>, udp: bool, flaw: Flaw) -> io::Result<Option<Claim>> {
        let Some(size) = self.size else {
            return Ok(None);
        };
        let count = if udp { &self.udp } else { &self.tcp };
        if count.fetch_add(1, Ordering::SeqCst) >= size {
            count.fetch_sub(1, Ordering::SeqCst);
            return Err(if flaw == Flaw::PoolErrorIsOther {
                io::Error::other("no socket")
            } else {
                io::Error::from(ErrorKind::OutOfResources)
            });
        }
        Ok(Some(Claim {
            pool: self.clone(),
            udp,
        }))
    }
}

#[derive(Debug, Clone)]
struct Flawed {
    stack: Tokio,
    flaw: Flaw,
    pool: Arc<Pool>,
}

#[derive(Debug)]
struct Conn {
    inner: portnet_tokio::Connection,
    flaw: Flaw,
    held: Vec<u8>,
    first_waker: Option<Waker>,
    first_write_waker: Option<Waker>,
    eof_seen: bool,
    read_failed: bool,
    closed: bool,
    split_slot: Arc<SharedSlot>,
    _claim: Option<Claim>,
}

impl Conn {
    fn new(inner: portnet_tokio::Connection, flaw: Flaw, claim: Option<Claim>) -> Self {
        Self {
            inner,
            flaw,
            held: Vec::new(),
            first_waker: None,
            first_write_waker: None,
            eof_seen: false,
            read_failed: false,
            closed: false,
            split_slot: Arc::default(),
            _claim: claim,
        }
    }

    /// Pushes held bytes into the socket; `Ready(Ok)` once none are left.
    fn push_held(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.held.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.held) {
                Poll::Ready(Ok(n)) => drop(self.held.drain(..n)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl ErrorType for Flawed {
    type Error = io::Error;
}
impl ErrorType for Conn {
    type Error = io::Error;
}

impl Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.flaw == Flaw::EofNotSticky && this.eof_seen && !buf.is_empty() {
            return Poll::Ready(Err(io::Error::from(ErrorKind::NotConnected)));
        }
        let waker = match (this.flaw, &this.first_waker) {
            (Flaw::KeepsFirstWaker, Some(first)) => first.clone(),
            _ => cx.waker().clone(),
        };
        if this.flaw == Flaw::KeepsFirstWaker && this.first_waker.is_none() {
            this.first_waker = Some(waker.clone());
        }
        let result = Pin::new(&mut this.inner).poll_read(&mut Context::from_waker(&waker), buf);
        if this.flaw == Flaw::EofIsError && matches!(result, Poll::Ready(Ok(0))) && !buf.is_empty()
        {
            return Poll::Ready(Err(io::Error::from(ErrorKind::ConnectionReset)));
        }
        match &result {
            Poll::Ready(Ok(0)) => this.eof_seen = !buf.is_empty(),
            Poll::Ready(Err(_)) => this.read_failed = true,
            _ => {}
        }
        if this.flaw == Flaw::SpuriousWakes && result.is_pending() {
            cx.waker().wake_by_ref();
        }
        result
    }
}

impl Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.flaw == Flaw::WritesAfterClose && this.closed {
            return Poll::Ready(Ok(buf.len()));
        }
        if this.flaw == Flaw::KeepsFirstWaker {
            let waker = this
                .first_write_waker
                .get_or_insert_with(|| cx.waker().clone())
                .clone();
            return Pin::new(&mut this.inner).poll_write(&mut Context::from_waker(&waker), buf);
        }
        match this.flaw {
            Flaw::LateWrite => {
                if this.push_held(cx)?.is_pending() {
                    return Poll::Pending;
                }
                match Pin::new(&mut this.inner).poll_write(cx, buf) {
                    Poll::Pending => {
                        // Keeps the bytes of a write it said Pending to.
                        this.held.extend_from_slice(buf);
                        Poll::Pending
                    }
                    other => other,
                }
            }
            Flaw::UnboundedBuffering => {
                this.held.extend_from_slice(buf);
                // Push what the socket takes, never report Pending.
                while !this.held.is_empty() {
                    match Pin::new(&mut this.inner).poll_write(cx, &this.held) {
                        Poll::Ready(Ok(n)) => drop(this.held.drain(..n)),
                        _ => break,
                    }
                }
                Poll::Ready(Ok(buf.len()))
            }
            Flaw::DropsBytesOnClose if buf.len() > 1 => {
                // Write all but the last byte now; hold the last byte back.
                while !this.held.is_empty() {
                    match Pin::new(&mut this.inner).poll_write(cx, &this.held) {
                        Poll::Ready(Ok(n)) => drop(this.held.drain(..n)),
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                this.held.push(buf[buf.len() - 1]);
                match Pin::new(&mut this.inner).poll_write(cx, &buf[..buf.len() - 1]) {
                    Poll::Ready(Ok(n)) if n == buf.len() - 1 => Poll::Ready(Ok(buf.len())),
                    Poll::Ready(Ok(n)) => {
                        this.held.pop();
                        Poll::Ready(Ok(n))
                    }
                    other => {
                        this.held.pop();
                        other
                    }
                }
            }
            _ => Pin::new(&mut this.inner).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.flaw == Flaw::LateWrite && this.push_held(cx)?.is_pending() {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.flaw == Flaw::CloseNotIdempotent && this.closed {
            return Poll::Ready(Err(io::Error::from(ErrorKind::NotConnected)));
        }
        if this.flaw == Flaw::CloseHangsAfterReset && this.read_failed {
            return Poll::Pending;
        }
        if matches!(this.flaw, Flaw::UnboundedBuffering | Flaw::LateWrite) {
            while !this.held.is_empty() {
                match Pin::new(&mut this.inner).poll_write(cx, &this.held) {
                    Poll::Ready(Ok(n)) => drop(this.held.drain(..n)),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
        }
        // DropsBytesOnClose: the held byte is forgotten here.
        this.held.clear();
        let result = Pin::new(&mut this.inner).poll_close(cx);
        if let Poll::Ready(Ok(())) = result {
            this.closed = true;
        }
        result
    }
}

/// A half of a flawed connection's split.
#[derive(Debug)]
struct Half<T> {
    inner: T,
    /// With `SharedSplitWaker`, the slot both halves register in.
    slot: Option<Arc<SharedSlot>>,
    /// With `SplitCloseSendsNothing` (the write half): `close` claims success.
    close_sends_nothing: bool,
}

impl<T> Half<T> {
    fn waker(&self, cx: &Context<'_>) -> Waker {
        match &self.slot {
            Some(slot) => slot.register(cx.waker()),
            None => cx.waker().clone(),
        }
    }
}

impl<T: ErrorType> ErrorType for Half<T> {
    type Error = T::Error;
}

impl<T: Read + Unpin> Read for Half<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, T::Error>> {
        let this = self.get_mut();
        let waker = this.waker(cx);
        Pin::new(&mut this.inner).poll_read(&mut Context::from_waker(&waker), buf)
    }
}

impl<T: Write + Unpin> Write for Half<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, T::Error>> {
        let this = self.get_mut();
        let waker = this.waker(cx);
        Pin::new(&mut this.inner).poll_write(&mut Context::from_waker(&waker), buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), T::Error>> {
        let this = self.get_mut();
        let waker = this.waker(cx);
        Pin::new(&mut this.inner).poll_flush(&mut Context::from_waker(&waker))
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), T::Error>> {
        let this = self.get_mut();
        if this.close_sends_nothing {
            return Poll::Ready(Ok(()));
        }
        let waker = this.waker(cx);
        Pin::new(&mut this.inner).poll_close(&mut Context::from_waker(&waker))
    }
}

/// Forwards the options of a flawed stack's socket to the real one.
macro_rules! forward_options {
    ($($ty:ty),+) => {$(
        impl portnet::SocketOptions for $ty {
            fn set_option(&self, option: portnet::SocketOption) -> io::Result<()> {
                if self.flaw == Flaw::OptionsNoOp {
                    return Ok(());
                }
                self.inner().set_option(option)
            }
            fn option(&self, name: portnet::SocketOptionName) -> io::Result<portnet::SocketOption> {
                use portnet::{SocketOption as O, SocketOptionName as N};
                match name {
                    N::JoinMulticast | N::LeaveMulticast if self.flaw == Flaw::SetOnlyReadable => {
                        Ok(O::JoinMulticast(IpAddr::V6(Ipv6Addr::UNSPECIFIED)))
                    }
                    _ => self.inner().option(name),
                }
            }
        }
    )+};
}

forward_options!(Conn, Listener, Datagram);

impl Conn {
    fn inner(&self) -> &portnet_tokio::Connection {
        &self.inner
    }
}

impl Listener {
    fn inner(&self) -> &portnet_tokio::Listener {
        &self.inner
    }
}

impl TcpStream for Conn {
    type ReadHalf<'a> = Half<portnet_tokio::ReadHalf<'a>>;
    type WriteHalf<'a> = Half<portnet_tokio::WriteHalf<'a>>;
    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        let slot = (self.flaw == Flaw::SharedSplitWaker).then(|| self.split_slot.clone());
        let (read, write) = self.inner.split();
        (
            Half {
                inner: read,
                slot: slot.clone(),
                close_sends_nothing: false,
            },
            Half {
                inner: write,
                slot,
                close_sends_nothing: self.flaw == Flaw::SplitCloseSendsNothing,
            },
        )
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
    fn abort(self) {
        if self.flaw == Flaw::AbortSendsFin {
            drop(self.inner);
        } else {
            self.inner.abort();
        }
    }
}

/// Gives a claim back unless forgotten (a connect that leaks its claim when dropped).
struct Reservation(Option<Claim>, bool);

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.1 {
            core::mem::forget(self.0.take());
        }
    }
}

impl TcpConnect for Flawed {
    type Connection<'a> = Conn;
    async fn connect(&self, remote: SocketAddr) -> io::Result<Conn> {
        let claim = self.pool.claim(false, self.flaw)?;
        let mut reservation = Reservation(claim, self.flaw == Flaw::LeaksCancelledConnect);
        match self.stack.connect(remote).await {
            Ok(conn) => Ok(Conn::new(conn, self.flaw, reservation.0.take())),
            Err(e) if self.flaw == Flaw::LosesErrorKinds => Err(io::Error::other(e.to_string())),
            Err(e) => {
                reservation.1 = false;
                Err(e)
            }
        }
    }
}

#[derive(Debug)]
struct Listener {
    inner: portnet_tokio::Listener,
    flaw: Flaw,
    slot: Arc<SharedSlot>,
}

impl ErrorType for Listener {
    type Error = io::Error;
}

impl TcpListener for Listener {
    type Connection = Conn;
    async fn accept(&self) -> io::Result<(Conn, SocketAddr)> {
        let (conn, peer) = if self.flaw == Flaw::OneAcceptWaker {
            let mut accept = pin!(self.inner.accept());
            poll_fn(|cx| {
                let waker = self.slot.register(cx.waker());
                accept.as_mut().poll(&mut Context::from_waker(&waker))
            })
            .await?
        } else {
            self.inner.accept().await?
        };
        Ok((Conn::new(conn, self.flaw, None), peer))
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl TcpListen for Flawed {
    type Connection<'a> = Conn;
    type Listener<'a> = Listener;
    async fn listen_with(
        &self,
        local: SocketAddr,
        options: portnet::ListenOptions,
    ) -> io::Result<Listener> {
        let options = if self.flaw == Flaw::IgnoresBacklog {
            portnet::ListenOptions::new().backlog(0)
        } else {
            options
        };
        match self.stack.listen_with(local, options).await {
            Ok(inner) => Ok(Listener {
                inner,
                flaw: self.flaw,
                slot: Arc::default(),
            }),
            Err(e) if self.flaw == Flaw::LosesErrorKinds => Err(io::Error::other(e.to_string())),
            Err(e) => Err(e),
        }
    }
}

#[derive(Debug)]
struct Datagram {
    /// `None` only while dropping.
    inner: Option<portnet_tokio::Datagram>,
    flaw: Flaw,
    refused: core::sync::atomic::AtomicBool,
    _claim: Option<Claim>,
}

impl Datagram {
    fn inner(&self) -> &portnet_tokio::Datagram {
        self.inner.as_ref().expect("a socket until dropped")
    }
}

impl Drop for Datagram {
    fn drop(&mut self) {
        if let Some(socket) = self.inner.take()
            && self.flaw == Flaw::UdpDropKeepsPort
        {
            core::mem::forget(socket);
        }
    }
}

impl ErrorType for Datagram {
    type Error = io::Error;
}

impl UdpSocket for Datagram {
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<io::Result<()>> {
        match self.inner().poll_send_to(cx, buf, remote) {
            Poll::Ready(Err(e))
                if self.flaw == Flaw::OversizeIsOther
                    && portnet::Error::kind(&e) == ErrorKind::InvalidInput =>
            {
                Poll::Ready(Err(io::Error::other(e.to_string())))
            }
            other => other,
        }
    }
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let result = self.inner().poll_recv_from(cx, buf);
        match result {
            Poll::Ready(Ok((n, from))) if self.flaw == Flaw::TruncationLength => {
                Poll::Ready(Ok((n.min(buf.len()), from)))
            }
            other => other,
        }
    }
    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<()>> {
        match (self.flaw, self.peer_addr()) {
            (Flaw::NoConnectedIo, _) => Poll::Ready(Err(io::Error::from(ErrorKind::NotConnected))),
            (Flaw::SendUnconnectedSilently, None) => Poll::Ready(Ok(())),
            (Flaw::RefusedForever, Some(peer)) => {
                // As if an ICMP port unreachable came back, and was never cleared.
                let sent = self.poll_send_to(cx, buf, peer);
                self.refused.store(true, Ordering::SeqCst);
                sent
            }
            (_, Some(peer)) => self.poll_send_to(cx, buf, peer),
            (_, None) => Poll::Ready(Err(io::Error::from(ErrorKind::NotConnected))),
        }
    }
    fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        if self.flaw == Flaw::NoConnectedIo || self.peer_addr().is_none() {
            return Poll::Ready(Err(io::Error::from(ErrorKind::NotConnected)));
        }
        if self.flaw == Flaw::RefusedForever && self.refused.load(Ordering::SeqCst) {
            return Poll::Ready(Err(io::Error::from(ErrorKind::ConnectionRefused)));
        }
        self.poll_recv_from(cx, buf).map(|r| r.map(|(n, _)| n))
    }
    fn connect(&mut self, remote: SocketAddr) -> io::Result<()> {
        self.inner
            .as_mut()
            .expect("a socket until dropped")
            .connect(remote)
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner().peer_addr()
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner().local_addr()
    }
}

impl UdpBind for Flawed {
    type Socket<'a> = Datagram;
    async fn bind(&self, local: SocketAddr) -> io::Result<Datagram> {
        let claim = self.pool.claim(true, self.flaw)?;
        let inner = match self.stack.bind(local).await {
            Err(e) if self.flaw == Flaw::LosesErrorKinds => {
                return Err(io::Error::other(e.to_string()));
            }
            other => other?,
        };
        Ok(Datagram {
            inner: Some(inner),
            flaw: self.flaw,
            refused: Default::default(),
            _claim: claim,
        })
    }
    async fn bind_connected(&self, remote: SocketAddr) -> io::Result<Datagram> {
        let local = match remote {
            SocketAddr::V4(_) => SocketAddr::from(([0, 0, 0, 0], 0)),
            SocketAddr::V6(_) => SocketAddr::from(([0u16; 8], 0)),
        };
        let mut socket = self.bind(local).await?;
        if self.flaw != Flaw::BindConnectedUnconnected {
            socket.connect(remote)?;
        }
        Ok(socket)
    }
}

impl Flawed {
    /// A resolver of one name and one server ([`DNS_SERVER`]): an A query, and
    /// `NameNotResolved` for an answer with NXDOMAIN or no record.
    async fn ask_server(&self, host: &str) -> io::Result<usize> {
        use portnet::UdpSocketExt;
        let socket = self
            .stack
            .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await?;
        let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in host.split('.') {
            query.push(u8::try_from(label.len()).map_err(|_| io::ErrorKind::InvalidInput)?);
            query.extend_from_slice(label.as_bytes());
        }
        query.extend_from_slice(&[0, 0, 1, 0, 1]);
        socket.send_to(&query, DNS_SERVER).await?;
        let mut reply = [0u8; 512];
        let (n, _) = socket.recv_from(&mut reply).await?;
        let answers = n >= 12 && reply[6..8] != [0, 0];
        if n < 12 || reply[..2] != [0x12, 0x34] || answers {
            return Err(io::Error::from(ErrorKind::InvalidData));
        }
        let kind = if self.flaw == Flaw::DnsNotFoundIsTimeout && reply[3] & 0x0f == 3 {
            ErrorKind::TimedOut
        } else {
            ErrorKind::NameNotResolved
        };
        Err(io::Error::from(kind))
    }
}

impl Dns for Flawed {
    async fn resolve(&self, host: &str, family: AddrFamily) -> io::Result<IpAddr> {
        let mut out = [IpAddr::V6(Ipv6Addr::UNSPECIFIED); 1];
        self.resolve_all(host, family, &mut out).await?;
        Ok(out[0])
    }
    async fn resolve_all(
        &self,
        host: &str,
        family: AddrFamily,
        out: &mut [IpAddr],
    ) -> io::Result<usize> {
        let literal = host.parse::<IpAddr>().ok();
        if host == cases::dns::NO_SUCH_NAME {
            return self.ask_server(host).await;
        }
        if host == SILENT_NAME {
            // The sound stack's resolver gives up after a (short) timeout of its own.
            let deadline = self.stack.now() + core::time::Duration::from_millis(50);
            self.stack.sleep_until(deadline).await;
            let kind = if self.flaw == Flaw::DnsSilenceIsNotFound {
                ErrorKind::NameNotResolved
            } else {
                ErrorKind::TimedOut
            };
            return Err(io::Error::from(kind));
        }
        match self.flaw {
            Flaw::DnsEmptyOutOk if out.is_empty() => return Ok(0),
            Flaw::DnsQueriesInvalidNames if literal.is_none() && host != "localhost" => {
                return Err(io::Error::from(ErrorKind::NameNotResolved));
            }
            Flaw::DnsLiteralTwice if literal.is_some() && out.len() >= 2 => {
                let ip = literal.unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
                out[..2].copy_from_slice(&[ip, ip]);
                return Ok(2);
            }
            _ => {}
        }
        let n = self.stack.resolve_all(host, family, out).await?;
        if self.flaw == Flaw::DnsMapsV4ToV6 && literal.is_none() {
            for ip in &mut out[..n] {
                if let IpAddr::V4(v4) = *ip {
                    *ip = IpAddr::V6(v4.to_ipv6_mapped());
                }
            }
        }
        Ok(n)
    }
}

/// The flawed stack's clock: tokio's, with the clock flaws.
#[derive(Debug, Clone)]
struct FlawedClock {
    inner: Tokio,
    flaw: Flaw,
    reads: Arc<AtomicUsize>,
}

impl Clock for FlawedClock {
    fn now(&self) -> Instant {
        let now = self.inner.now();
        let odd = self.reads.fetch_add(1, Ordering::SeqCst) % 2 == 1;
        if self.flaw == Flaw::ClockGoesBack && odd {
            return Instant::from_micros(now.as_micros().saturating_sub(1000));
        }
        now
    }
    async fn sleep_until(&self, deadline: Instant) {
        match self.flaw {
            Flaw::BusySleep => {
                poll_fn(|cx| {
                    if self.inner.now() >= deadline {
                        Poll::Ready(())
                    } else {
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    }
                })
                .await;
            }
            Flaw::SleepPendsOnce if self.inner.now() >= deadline => {
                // A deadline already past waits for the next timer tick.
                self.inner.sleep(core::time::Duration::from_millis(1)).await;
            }
            _ => self.inner.sleep_until(deadline).await,
        }
    }
}

/// The tokio harness with its stack under test replaced by a flawed one.
#[derive(Debug)]
struct FlawedHarness {
    inner: TokioHarness,
    stack: Flawed,
    clock: FlawedClock,
}

impl FlawedHarness {
    /// With a pool of `size` TCP connections and `size` UDP sockets, reported by
    /// `tcp_pool` and `udp_pool`.
    fn with_pool(flaw: Flaw, size: Option<usize>) -> Self {
        let inner = TokioHarness::default();
        let stack = Flawed {
            stack: *inner.peer(),
            flaw,
            pool: Arc::new(Pool {
                size,
                ..Pool::default()
            }),
        };
        let clock = FlawedClock {
            inner: *inner.peer(),
            flaw,
            reads: Arc::default(),
        };
        Self {
            inner,
            stack,
            clock,
        }
    }
}

impl Harness for FlawedHarness {
    type Connect = Flawed;
    type Listen = Flawed;
    type Udp = Flawed;
    type Dns = Flawed;
    type Peer = Tokio;
    type Clock = FlawedClock;
    fn connector(&self) -> Option<&Flawed> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&Flawed> {
        Some(&self.stack)
    }
    fn udp(&self) -> Option<&Flawed> {
        Some(&self.stack)
    }
    fn dns(&self) -> Option<&Flawed> {
        Some(&self.stack)
    }
    fn dns_name(&self) -> Option<&str> {
        self.inner.dns_name()
    }
    fn dns_silent_name(&self) -> Option<&str> {
        Some(SILENT_NAME)
    }
    fn dns_server(&self) -> Option<SocketAddr> {
        Some(DNS_SERVER)
    }
    fn peer(&self) -> &Tokio {
        self.inner.peer()
    }
    fn clock(&self) -> &FlawedClock {
        &self.clock
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        self.inner.stack_ip(family)
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        self.inner.peer_ip(family)
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        self.inner.black_hole()
    }
    fn tcp_pool(&self) -> Option<usize> {
        self.stack.pool.size
    }
    fn udp_pool(&self) -> Option<usize> {
        self.stack.pool.size
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        self.inner.run(future)
    }
}

fn outcome(harness: &FlawedHarness, id: &str) -> Outcome {
    let case = cases::all::<FlawedHarness>()
        .into_iter()
        .find(|case| case.id == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    (case.run)(harness, Mode::Plain)
}

/// The case passes on the sound stack and fails on the flawed one.
fn caught(flaw: Flaw, id: &str) {
    caught_with(flaw, id, None);
}

/// As [`caught`], with both stacks keeping a pool of [`POOL`] sockets of each kind.
fn caught_pooled(flaw: Flaw, id: &str) {
    caught_with(flaw, id, Some(POOL));
}

/// Where the flawed stack's resolver sends its queries for
/// [`cases::dns::NO_SUCH_NAME`] (the peer plays the server there).
const DNS_SERVER: SocketAddr = SocketAddr::new(IpAddr::V4(core::net::Ipv4Addr::LOCALHOST), 39_453);

/// The name the flawed stack's resolver gets no answer for.
const SILENT_NAME: &str = "silent.portnet.example";

/// The pool of the pooled flawed stacks.
const POOL: usize = 4;

fn caught_with(flaw: Flaw, id: &str, pool: Option<usize>) {
    assert_eq!(
        outcome(&FlawedHarness::with_pool(Flaw::None, pool), id),
        Outcome::Pass,
        "{id} must pass on the sound stack"
    );
    match outcome(&FlawedHarness::with_pool(flaw, pool), id) {
        Outcome::Fail(detail) => eprintln!("{id} caught {flaw:?}: {detail}"),
        other => panic!("{id} did not catch {flaw:?}: {other:?}"),
    }
}

#[test]
fn dropped_bytes_on_close_are_caught() {
    caught(Flaw::DropsBytesOnClose, "tcp.close.delivers_all_data");
}

#[test]
fn a_stale_waker_is_caught() {
    caught(Flaw::KeepsFirstWaker, "tcp.wake.latest_waker");
    caught(Flaw::KeepsFirstWaker, "tcp.wake.write_latest_waker");
}

#[test]
fn a_clock_that_goes_back_is_caught() {
    caught(Flaw::ClockGoesBack, "clock.monotonic");
}

#[test]
fn unbounded_buffering_is_caught() {
    caught(Flaw::UnboundedBuffering, "tcp.stream.backpressure");
}

#[test]
fn eof_that_is_not_sticky_is_caught() {
    caught(Flaw::EofNotSticky, "tcp.stream.eof_sticky");
}

#[test]
fn spurious_wakes_are_caught() {
    caught(Flaw::SpuriousWakes, "tcp.wake.no_spurious");
}

#[test]
fn abort_without_rst_is_caught() {
    caught(Flaw::AbortSendsFin, "tcp.reset.abort_sends_rst");
}

#[test]
fn lost_error_kinds_are_caught() {
    caught(Flaw::LosesErrorKinds, "tcp.connect.refused");
}

#[test]
fn wrong_truncation_length_is_caught() {
    caught(Flaw::TruncationLength, "udp.truncate");
}

#[test]
fn an_ignored_backlog_is_caught() {
    caught(Flaw::IgnoresBacklog, "tcp.listen.backlog");
}

#[test]
fn a_lost_listen_error_kind_is_caught() {
    caught(Flaw::LosesErrorKinds, "tcp.listen.addr_not_available");
}

#[test]
fn one_waker_for_all_accepts_is_caught() {
    caught(Flaw::OneAcceptWaker, "tcp.accept.concurrent");
}

#[test]
fn a_full_pool_reported_as_other_is_caught() {
    caught_pooled(Flaw::PoolErrorIsOther, "tcp.connect.pool_exhausted");
    caught_pooled(Flaw::PoolErrorIsOther, "udp.bind.pool_exhausted");
}

#[test]
fn a_cancelled_connect_keeping_its_socket_is_caught() {
    caught_pooled(Flaw::LeaksCancelledConnect, "tcp.cancel.connect");
}

#[test]
fn writes_after_close_are_caught() {
    caught(Flaw::WritesAfterClose, "tcp.close.write_after_close");
}

#[test]
fn a_close_that_is_not_idempotent_is_caught() {
    caught(Flaw::CloseNotIdempotent, "tcp.close.idempotent");
}

#[test]
fn an_error_at_eof_is_reported_as_itself_not_as_a_hang() {
    for id in ["tcp.echo.ipv4", "tcp.echo.ipv6"] {
        assert_eq!(
            outcome(&FlawedHarness::with_pool(Flaw::None, None), id),
            Outcome::Pass
        );
        match outcome(&FlawedHarness::with_pool(Flaw::EofIsError, None), id) {
            Outcome::Fail(detail) => {
                let detail = format!("{detail}");
                assert!(
                    detail.contains("echo read") && detail.contains("ConnectionReset"),
                    "{id}: the failure does not name the read's error: {detail}"
                );
            }
            other => panic!("{id} did not catch an error at EOF: {other:?}"),
        }
    }
}

#[test]
fn a_split_write_half_whose_close_sends_nothing_is_caught() {
    caught(Flaw::SplitCloseSendsNothing, "tcp.close.split_write_half");
}

#[test]
fn a_close_that_hangs_after_a_reset_is_caught() {
    caught(Flaw::CloseHangsAfterReset, "tcp.close.after_peer_reset");
}

#[test]
fn a_pending_write_that_took_bytes_is_caught() {
    caught(Flaw::LateWrite, "tcp.cancel.write");
}

#[test]
fn split_halves_sharing_a_waker_are_caught() {
    caught(Flaw::SharedSplitWaker, "tcp.wake.split_halves");
}

#[test]
fn connected_udp_without_send_and_recv_is_caught() {
    caught(Flaw::NoConnectedIo, "udp.connected.send_recv");
}

#[test]
fn an_unconnected_bind_connected_is_caught() {
    caught(
        Flaw::BindConnectedUnconnected,
        "udp.connected.bind_connected",
    );
}

#[test]
fn an_unconnected_send_that_claims_success_is_caught() {
    caught(Flaw::SendUnconnectedSilently, "udp.connected.not_connected");
}

#[test]
fn a_refusal_reported_forever_is_caught() {
    caught(Flaw::RefusedForever, "udp.connected.refused_once");
}

#[test]
fn an_oversized_datagram_reported_as_other_is_caught() {
    caught(Flaw::OversizeIsOther, "udp.send.too_large");
}

#[test]
fn a_udp_port_kept_after_drop_is_caught() {
    caught(Flaw::UdpDropKeepsPort, "udp.bind.drop_frees_port");
}

#[test]
fn a_literal_resolved_twice_is_caught() {
    caught(Flaw::DnsLiteralTwice, "dns.resolve.literal");
}

#[test]
fn invalid_names_sent_to_the_resolver_are_caught() {
    caught(Flaw::DnsQueriesInvalidNames, "dns.resolve.invalid_name");
}

#[test]
fn addresses_of_the_wrong_family_are_caught() {
    caught(Flaw::DnsMapsV4ToV6, "dns.resolve_all.order");
}

#[test]
fn an_empty_buffer_accepted_is_caught() {
    caught(Flaw::DnsEmptyOutOk, "dns.resolve_all.empty_out");
}

#[test]
fn silence_reported_as_no_such_name_is_caught() {
    caught(Flaw::DnsSilenceIsNotFound, "dns.resolve.no_answer");
}

#[test]
fn no_such_name_reported_as_silence_is_caught() {
    caught(Flaw::DnsNotFoundIsTimeout, "dns.resolve.no_such_name");
}

#[test]
fn options_that_only_pretend_are_caught() {
    for id in [
        "options.tcp.read_back",
        "options.listener.read_back",
        "options.udp.read_back",
        "options.invalid_value",
        "options.wrong_kind",
    ] {
        caught(Flaw::OptionsNoOp, id);
    }
}

#[test]
fn a_readable_set_only_option_is_caught() {
    caught(Flaw::SetOnlyReadable, "options.set_only");
}

#[test]
fn a_busy_sleep_is_caught() {
    caught(Flaw::BusySleep, "clock.no_early_wake");
}

#[test]
fn a_past_deadline_that_pends_is_caught() {
    caught(Flaw::SleepPendsOnce, "clock.past_deadline");
}

#[test]
fn split_halves_sharing_a_waker_are_caught_under_every_adversarial_seed() {
    // The case used to miss this flaw in most adversarial runs: a wake for the
    // writer during the fill counted as the reader's.
    for seed in 1..=4 {
        let harness = FlawedHarness::with_pool(Flaw::SharedSplitWaker, None);
        let case = cases::all::<FlawedHarness>()
            .into_iter()
            .find(|case| case.id == "tcp.wake.split_halves")
            .expect("the case");
        match (case.run)(&harness, Mode::Adversarial { seed }) {
            Outcome::Fail(_) => {}
            other => panic!("seed {seed}: the shared waker was not caught: {other:?}"),
        }
    }
}
