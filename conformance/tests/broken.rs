//! The suite catches broken stacks: each flaw below breaks one contract of the
//! standard, and the cases meant for it must fail (while the same cases pass on
//! the unbroken stack). This is how the suite proves its cases can fail.

use core::future::Future;
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::io;

use portnet::{
    ErrorKind, ErrorType, Read, TcpConnect, TcpListen, TcpListener, TcpStream, UdpBind, UdpSocket,
    Write,
};
use portnet_conformance::hosted::TokioHarness;
use portnet_conformance::{Family, Harness, Mode, Outcome, cases};
use portnet_tokio::Tokio;

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
    /// Wakes the reader on every poll (a busy loop).
    SpuriousWakes,
    /// `abort` closes gracefully (FIN) instead of resetting.
    AbortSendsFin,
    /// Reports every connect error as `Other`.
    LosesErrorKinds,
    /// Reports the copied length of a truncated datagram, not its full length.
    TruncationLength,
}

#[derive(Debug, Clone, Copy)]
struct Flawed {
    stack: Tokio,
    flaw: Flaw,
}

#[derive(Debug)]
struct Conn {
    inner: portnet_tokio::Connection,
    flaw: Flaw,
    held: Vec<u8>,
    first_waker: Option<Waker>,
    eof_seen: bool,
}

impl Conn {
    fn new(inner: portnet_tokio::Connection, flaw: Flaw) -> Self {
        Self {
            inner,
            flaw,
            held: Vec::new(),
            first_waker: None,
            eof_seen: false,
        }
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
        if let Poll::Ready(Ok(0)) = result {
            this.eof_seen = !buf.is_empty();
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
        match this.flaw {
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
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.flaw == Flaw::UnboundedBuffering {
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
        Pin::new(&mut this.inner).poll_close(cx)
    }
}

/// Forwards the options of a flawed stack's socket to the real one.
macro_rules! forward_options {
    ($($ty:ty),+) => {$(
        impl portnet::SocketOptions for $ty {
            fn set_option(&self, option: portnet::SocketOption) -> io::Result<()> {
                self.inner.set_option(option)
            }
            fn option(&self, name: portnet::SocketOptionName) -> io::Result<portnet::SocketOption> {
                self.inner.option(name)
            }
        }
    )+};
}

forward_options!(Conn, Listener, Datagram);

impl TcpStream for Conn {
    type ReadHalf<'a> = portnet_tokio::ReadHalf<'a>;
    type WriteHalf<'a> = portnet_tokio::WriteHalf<'a>;
    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        self.inner.split()
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

impl TcpConnect for Flawed {
    type Connection<'a> = Conn;
    async fn connect(&self, remote: SocketAddr) -> io::Result<Conn> {
        match self.stack.connect(remote).await {
            Ok(conn) => Ok(Conn::new(conn, self.flaw)),
            Err(e) if self.flaw == Flaw::LosesErrorKinds => Err(io::Error::other(e.to_string())),
            Err(e) => Err(e),
        }
    }
}

#[derive(Debug)]
struct Listener {
    inner: portnet_tokio::Listener,
    flaw: Flaw,
}

impl ErrorType for Listener {
    type Error = io::Error;
}

impl TcpListener for Listener {
    type Connection = Conn;
    async fn accept(&self) -> io::Result<(Conn, SocketAddr)> {
        let (conn, peer) = self.inner.accept().await?;
        Ok((Conn::new(conn, self.flaw), peer))
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
        Ok(Listener {
            inner: self.stack.listen_with(local, options).await?,
            flaw: self.flaw,
        })
    }
}

#[derive(Debug)]
struct Datagram {
    inner: portnet_tokio::Datagram,
    flaw: Flaw,
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
        self.inner.poll_send_to(cx, buf, remote)
    }
    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let result = self.inner.poll_recv_from(cx, buf);
        match result {
            Poll::Ready(Ok((n, from))) if self.flaw == Flaw::TruncationLength => {
                Poll::Ready(Ok((n.min(buf.len()), from)))
            }
            other => other,
        }
    }
    fn connect(&mut self, remote: SocketAddr) -> io::Result<()> {
        self.inner.connect(remote)
    }
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr()
    }
    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl UdpBind for Flawed {
    type Socket<'a> = Datagram;
    async fn bind(&self, local: SocketAddr) -> io::Result<Datagram> {
        Ok(Datagram {
            inner: self.stack.bind(local).await?,
            flaw: self.flaw,
        })
    }
}

/// The tokio harness with its stack under test replaced by a flawed one.
#[derive(Debug)]
struct FlawedHarness {
    inner: TokioHarness,
    stack: Flawed,
}

impl FlawedHarness {
    fn new(flaw: Flaw) -> Self {
        let inner = TokioHarness::default();
        let stack = Flawed {
            stack: *inner.peer(),
            flaw,
        };
        Self { inner, stack }
    }
}

impl Harness for FlawedHarness {
    type Connect = Flawed;
    type Listen = Flawed;
    type Udp = Flawed;
    type Peer = Tokio;
    type Clock = Tokio;
    fn connector(&self) -> Option<&Flawed> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&Flawed> {
        Some(&self.stack)
    }
    fn udp(&self) -> Option<&Flawed> {
        Some(&self.stack)
    }
    fn peer(&self) -> &Tokio {
        self.inner.peer()
    }
    fn clock(&self) -> &Tokio {
        self.inner.clock()
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
    fn run<F: Future>(&self, future: F) -> F::Output {
        self.inner.run(future)
    }
}

fn outcome(flaw: Flaw, id: &str) -> Outcome {
    let case = cases::all::<FlawedHarness>()
        .into_iter()
        .find(|case| case.id == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    (case.run)(&FlawedHarness::new(flaw), Mode::Plain)
}

/// The case passes on the sound stack and fails on the flawed one.
fn caught(flaw: Flaw, id: &str) {
    assert_eq!(
        outcome(Flaw::None, id),
        Outcome::Pass,
        "{id} must pass on the sound stack"
    );
    match outcome(flaw, id) {
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
