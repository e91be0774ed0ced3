//! Adversarial polling: the stack under test wrapped so that every poll may be
//! answered `Pending` (with an immediate wake), buffers shrink to one byte, and the
//! whole case hops between wakers as if it moved from task to task.
//!
//! A stack that keeps the readiness contract passes every case under this
//! treatment too; one that, for example, wakes a stale waker hangs and fails.

use core::cell::Cell;
use core::future::Future;
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll};

use portnet::{
    AddrFamily, Dns, ErrorType, ListenOptions, Read, SocketOption, SocketOptionName, SocketOptions,
    TcpConnect, TcpListen, TcpListener, TcpStream, UdpBind, UdpSocket, Write,
};

use crate::probe::WakeProbe;
use crate::{Family, Harness};

/// A small seeded generator (xorshift64*): the same seed gives the same run.
#[derive(Debug)]
pub struct Rng {
    state: Cell<u64>,
}

impl Rng {
    /// A generator from `seed` (0 is replaced, as xorshift cannot leave it).
    pub fn new(seed: u64) -> Self {
        Self {
            state: Cell::new(if seed == 0 {
                0x9E37_79B9_7F4A_7C15
            } else {
                seed
            }),
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&self) -> u64 {
        let mut x = self.state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// True with probability `1 / n`.
    pub fn one_in(&self, n: u64) -> bool {
        self.next_u64().is_multiple_of(n)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Returns `Pending` (after waking itself) one poll in four.
fn inject_pending(rng: &Rng, cx: &mut Context<'_>) -> bool {
    if rng.one_in(4) {
        cx.waker().wake_by_ref();
        true
    } else {
        false
    }
}

/// Half the time, only the first byte of the buffer.
fn shrink(rng: &Rng, len: usize) -> usize {
    if len > 1 && rng.one_in(2) { 1 } else { len }
}

/// A wrapper that makes every operation of `T` adversarial.
#[derive(Debug)]
pub struct Chaos<'r, T> {
    inner: T,
    rng: &'r Rng,
}

impl<'r, T> Chaos<'r, T> {
    fn new(inner: T, rng: &'r Rng) -> Self {
        Self { inner, rng }
    }
}

impl<T: ErrorType> ErrorType for Chaos<'_, T> {
    type Error = T::Error;
}

impl<T: Read + Unpin> Read for Chaos<'_, T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let this = self.get_mut();
        // An empty buffer must be answered at once: the contract the chaos keeps too.
        if !buf.is_empty() && inject_pending(this.rng, cx) {
            return Poll::Pending;
        }
        let len = shrink(this.rng, buf.len());
        Pin::new(&mut this.inner).poll_read(cx, &mut buf[..len])
    }
}

impl<T: Write + Unpin> Write for Chaos<'_, T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let this = self.get_mut();
        if !buf.is_empty() && inject_pending(this.rng, cx) {
            return Poll::Pending;
        }
        let len = shrink(this.rng, buf.len());
        Pin::new(&mut this.inner).poll_write(cx, &buf[..len])
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if inject_pending(this.rng, cx) {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let this = self.get_mut();
        if inject_pending(this.rng, cx) {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_close(cx)
    }
}

impl<T: SocketOptions> SocketOptions for Chaos<'_, T> {
    fn set_option(&self, option: SocketOption) -> Result<(), Self::Error> {
        self.inner.set_option(option)
    }
    fn option(&self, name: SocketOptionName) -> Result<SocketOption, Self::Error> {
        self.inner.option(name)
    }
}

impl<'r, T: TcpStream> TcpStream for Chaos<'r, T> {
    type ReadHalf<'a>
        = Chaos<'r, T::ReadHalf<'a>>
    where
        Self: 'a;
    type WriteHalf<'a>
        = Chaos<'r, T::WriteHalf<'a>>
    where
        Self: 'a;

    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        let (read, write) = self.inner.split();
        (Chaos::new(read, self.rng), Chaos::new(write, self.rng))
    }

    fn local_addr(&self) -> Result<SocketAddr, Self::Error> {
        self.inner.local_addr()
    }

    fn peer_addr(&self) -> Result<SocketAddr, Self::Error> {
        self.inner.peer_addr()
    }

    fn abort(self) {
        self.inner.abort();
    }
}

/// Completes with `future`'s output after first yielding `Pending` a random number
/// of times (zero to two), each with an immediate wake.
async fn after_yields<F: Future>(rng: &Rng, future: F) -> F::Output {
    for _ in 0..rng.below(3) {
        YieldOnce(false).await;
    }
    future.await
}

struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl<'r, T: TcpConnect> TcpConnect for Chaos<'r, &'r T> {
    type Connection<'a>
        = Chaos<'r, T::Connection<'r>>
    where
        Self: 'a;

    async fn connect(&self, remote: SocketAddr) -> Result<Self::Connection<'_>, Self::Error> {
        let conn = after_yields(self.rng, T::connect(self.inner, remote)).await?;
        Ok(Chaos::new(conn, self.rng))
    }
}

impl<'r, T: TcpListen> TcpListen for Chaos<'r, &'r T> {
    type Connection<'a>
        = Chaos<'r, T::Connection<'r>>
    where
        Self: 'a;
    type Listener<'a>
        = Chaos<'r, T::Listener<'r>>
    where
        Self: 'a;

    async fn listen_with(
        &self,
        local: SocketAddr,
        options: ListenOptions,
    ) -> Result<Self::Listener<'_>, Self::Error> {
        let listener = after_yields(self.rng, T::listen_with(self.inner, local, options)).await?;
        Ok(Chaos::new(listener, self.rng))
    }
}

impl<'r, L: TcpListener> TcpListener for Chaos<'r, L> {
    type Connection = Chaos<'r, L::Connection>;

    async fn accept(&self) -> Result<(Self::Connection, SocketAddr), Self::Error> {
        let (conn, peer) = after_yields(self.rng, self.inner.accept()).await?;
        Ok((Chaos::new(conn, self.rng), peer))
    }

    fn local_addr(&self) -> Result<SocketAddr, Self::Error> {
        self.inner.local_addr()
    }
}

impl<'r, T: UdpBind> UdpBind for Chaos<'r, &'r T> {
    type Socket<'a>
        = Chaos<'r, T::Socket<'r>>
    where
        Self: 'a;

    async fn bind(&self, local: SocketAddr) -> Result<Self::Socket<'_>, Self::Error> {
        let socket = after_yields(self.rng, T::bind(self.inner, local)).await?;
        Ok(Chaos::new(socket, self.rng))
    }

    async fn bind_connected(&self, remote: SocketAddr) -> Result<Self::Socket<'_>, Self::Error> {
        let socket = after_yields(self.rng, T::bind_connected(self.inner, remote)).await?;
        Ok(Chaos::new(socket, self.rng))
    }
}

impl<'r, T: Dns> Dns for Chaos<'r, &'r T> {
    async fn resolve(&self, host: &str, family: AddrFamily) -> Result<IpAddr, Self::Error> {
        after_yields(self.rng, T::resolve(self.inner, host, family)).await
    }

    async fn resolve_all(
        &self,
        host: &str,
        family: AddrFamily,
        out: &mut [IpAddr],
    ) -> Result<usize, Self::Error> {
        after_yields(self.rng, T::resolve_all(self.inner, host, family, out)).await
    }
}

impl<T: UdpSocket> UdpSocket for Chaos<'_, T> {
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<Result<(), Self::Error>> {
        if inject_pending(self.rng, cx) {
            return Poll::Pending;
        }
        self.inner.poll_send_to(cx, buf, remote)
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr), Self::Error>> {
        if inject_pending(self.rng, cx) {
            return Poll::Pending;
        }
        self.inner.poll_recv_from(cx, buf)
    }

    fn poll_send(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<(), Self::Error>> {
        if inject_pending(self.rng, cx) {
            return Poll::Pending;
        }
        self.inner.poll_send(cx, buf)
    }

    fn poll_recv(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, Self::Error>> {
        if inject_pending(self.rng, cx) {
            return Poll::Pending;
        }
        self.inner.poll_recv(cx, buf)
    }

    fn connect(&mut self, remote: SocketAddr) -> Result<(), Self::Error> {
        self.inner.connect(remote)
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.inner.peer_addr()
    }

    fn local_addr(&self) -> Result<SocketAddr, Self::Error> {
        self.inner.local_addr()
    }
}

/// A harness whose stack under test is wrapped in [`Chaos`]; the peer is not.
#[derive(Debug)]
pub struct ChaosHarness<'r, H: Harness> {
    inner: &'r H,
    connect: Option<Chaos<'r, &'r H::Connect>>,
    listen: Option<Chaos<'r, &'r H::Listen>>,
    udp: Option<Chaos<'r, &'r H::Udp>>,
    dns: Option<Chaos<'r, &'r H::Dns>>,
}

impl<'r, H: Harness> ChaosHarness<'r, H> {
    /// Wraps `inner`'s stack; every random choice comes from `rng`.
    pub fn new(inner: &'r H, rng: &'r Rng) -> Self {
        Self {
            inner,
            connect: inner.connector().map(|s| Chaos::new(s, rng)),
            listen: inner.listener().map(|s| Chaos::new(s, rng)),
            udp: inner.udp().map(|s| Chaos::new(s, rng)),
            dns: inner.dns().map(|s| Chaos::new(s, rng)),
        }
    }
}

impl<'r, H: Harness> Harness for ChaosHarness<'r, H> {
    type Connect = Chaos<'r, &'r H::Connect>;
    type Listen = Chaos<'r, &'r H::Listen>;
    type Udp = Chaos<'r, &'r H::Udp>;
    type Dns = Chaos<'r, &'r H::Dns>;
    type Peer = H::Peer;
    type Clock = H::Clock;

    fn connector(&self) -> Option<&Self::Connect> {
        self.connect.as_ref()
    }
    fn listener(&self) -> Option<&Self::Listen> {
        self.listen.as_ref()
    }
    fn udp(&self) -> Option<&Self::Udp> {
        self.udp.as_ref()
    }
    fn dns(&self) -> Option<&Self::Dns> {
        self.dns.as_ref()
    }
    fn peer(&self) -> &Self::Peer {
        self.inner.peer()
    }
    fn clock(&self) -> &Self::Clock {
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
    fn open_sockets(&self) -> Option<usize> {
        self.inner.open_sockets()
    }
    fn tcp_pool(&self) -> Option<usize> {
        self.inner.tcp_pool()
    }
    fn udp_pool(&self) -> Option<usize> {
        self.inner.udp_pool()
    }
    fn dns_name(&self) -> Option<&str> {
        self.inner.dns_name()
    }
    fn dns_silent_name(&self) -> Option<&str> {
        self.inner.dns_silent_name()
    }
    fn dns_server(&self) -> Option<SocketAddr> {
        self.inner.dns_server()
    }
    fn listen_pool(&self) -> usize {
        self.inner.listen_pool()
    }
    fn patience(&self) -> u32 {
        self.inner.patience()
    }
    fn bulk_bytes(&self) -> usize {
        // One-byte I/O is slow by design; a quarter of the bulk still crosses every
        // buffer boundary many times.
        self.inner.bulk_bytes() / 4
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        self.inner.run(future)
    }
}

/// Polls a future as if it moved between tasks: each poll hands it a different
/// waker (two probes, alternating), and only the latest one passes wakes on to the
/// real task. A stack that wakes a stale waker leaves the case hanging.
pub struct Hopping<'p, F> {
    future: F,
    probes: [&'p WakeProbe; 2],
    polls: usize,
}

impl<'p, F> Hopping<'p, F> {
    /// Wraps `future`, hopping between the wakers of `probes`.
    pub fn new(future: F, probes: [&'p WakeProbe; 2]) -> Self {
        Self {
            future,
            probes,
            polls: 0,
        }
    }
}

impl<F: Future + Unpin> Future for Hopping<'_, F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        this.polls += 1;
        let current = this.probes[this.polls % 2];
        let stale = this.probes[(this.polls + 1) % 2];
        stale.forward_to(None);
        current.forward_to(Some(cx.waker()));
        let waker = current.waker();
        let mut hop_cx = Context::from_waker(&waker);
        Pin::new(&mut this.future).poll(&mut hop_cx)
    }
}

impl<F> core::fmt::Debug for Hopping<'_, F> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hopping")
            .field("polls", &self.polls)
            .finish_non_exhaustive()
    }
}
