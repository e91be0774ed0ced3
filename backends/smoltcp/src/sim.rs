//! Two stacks on an in-memory link, in virtual time (feature `sim`).
//!
//! The fixture of the tests, the conformance runner and the benchmarks: stack
//! `a` at 10.0.0.1 / fd00::1 and stack `b` at 10.0.0.2 / fd00::2 on one
//! [`Link`] with seeded [`Faults`], both keeping time with one
//! [`VirtualClock`]. [`Pair::run`] polls a future together with both runners
//! and the link, jumping the clock whenever all of them wait.

extern crate alloc;
extern crate std;

use alloc::boxed::Box;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use core::pin::pin;

use alloc::format;
use alloc::string::String;
use core::net::SocketAddr;
use core::time::Duration;

use portnet::future::{Either, join, select};
use portnet::{ReadExt, TcpConnect, TcpListen, TcpListener, WriteExt};
use portnet_links::{Faults, Limits, Link, Port, Stall, VirtualClock};

use crate::{Cidr, Config, Stack, StackResources, TcpPool, UdpPool};

/// A stack of the simulation.
pub type SimStack = Stack<'static, Port<VirtualClock>, VirtualClock>;

/// Stack `a`'s IPv4 address.
pub const A_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// Stack `b`'s IPv4 address.
pub const B_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Stack `a`'s IPv6 address.
pub const A_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);
/// Stack `b`'s IPv6 address.
pub const B_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);

/// TCP sockets per simulated stack.
pub const TCP_SOCKETS: usize = 8;
/// Bytes of TCP buffer each way per socket.
pub const TCP_BUFFER: usize = 16 * 1024;

/// Two stacks on one in-memory link, in virtual time.
#[derive(Debug)]
pub struct Pair {
    /// The shared clock.
    pub clock: VirtualClock,
    /// The link between the stacks.
    pub link: &'static Link<VirtualClock>,
    /// Stack `a`.
    pub a: &'static SimStack,
    /// Stack `b`.
    pub b: &'static SimStack,
}

/// A stack's configuration in the simulation, with `listen_backlog` and the
/// addresses of side `a` or `b`.
pub fn config(v4: Ipv4Addr, v6: Ipv6Addr, seed: u64, listen_backlog: usize) -> Config {
    let mut config = Config::ipv4_static(Cidr::new(v4, 24), None);
    #[cfg(feature = "proto-ipv6")]
    {
        config.ipv6 = crate::Ipv6Config::Static {
            address: Cidr::new(v6, 64),
            gateway: None,
        };
    }
    #[cfg(not(feature = "proto-ipv6"))]
    let _ = v6;
    config.random_seed = seed;
    config.listen_backlog = listen_backlog;
    config.dns_servers[0] = Some(IpAddr::V4(B_V4));
    config
}

/// A stack on `port` with the simulation's pools. Its memory is leaked: a
/// simulated stack lives as long as the test process.
pub fn leak_stack(
    port: Port<VirtualClock>,
    clock: VirtualClock,
    config: Config,
) -> &'static SimStack {
    let resources: &'static mut StackResources<'static, 16> =
        Box::leak(Box::new(StackResources::new()));
    let tcp: &'static mut TcpPool<TCP_SOCKETS, TCP_BUFFER, TCP_BUFFER> =
        Box::leak(Box::new(TcpPool::new()));
    let udp: &'static mut UdpPool<4, 4096, 8> = Box::leak(Box::new(UdpPool::new()));
    let sockets = resources
        .sockets()
        .tcp(tcp)
        .and_then(|s| s.udp(udp))
        .expect("the resources fit the pools");
    Box::leak(Box::new(
        Stack::new(port, clock, config, sockets).expect("a valid simulation config"),
    ))
}

impl Pair {
    /// Two stacks joined by a link with `faults` drawn from `seed`.
    pub fn new(faults: Faults, seed: u64) -> Self {
        Self::with_backlog(faults, seed, 4)
    }

    /// Like [`Pair::new`], with each listener holding `listen_backlog` sockets.
    pub fn with_backlog(faults: Faults, seed: u64, listen_backlog: usize) -> Self {
        let clock = VirtualClock::new();
        let link: &'static Link<VirtualClock> =
            Box::leak(Box::new(Link::new(clock.clone(), faults, seed)));
        let a = leak_stack(
            link.port(0, [0x02, 0, 0, 0, 0, 0x01]),
            clock.clone(),
            config(A_V4, A_V6, seed ^ 0xa, listen_backlog),
        );
        let b = leak_stack(
            link.port(1, [0x02, 0, 0, 0, 0, 0x02]),
            clock.clone(),
            config(B_V4, B_V6, seed ^ 0xb, listen_backlog),
        );
        Self { clock, link, a, b }
    }

    /// Runs `future` with both stacks and the link, within `limits`.
    ///
    /// # Errors
    ///
    /// A [`Stall`] when the future cannot finish (nothing left to wait for) or
    /// passes the limits.
    pub fn run_with<F: Future>(&self, future: F, limits: Limits) -> Result<F::Output, Stall> {
        let drivers = join(
            Box::pin(join(Box::pin(self.a.run()), Box::pin(self.b.run()))),
            Box::pin(self.link.run()),
        );
        let future = pin!(future);
        let both = select(future, drivers);
        match self.clock.run(both, limits)? {
            Either::Left(output) => Ok(output),
            Either::Right(_) => unreachable!("the runners never return"),
        }
    }

    /// Runs `future` with both stacks and the link, within the default limits
    /// (an hour of virtual time).
    ///
    /// # Errors
    ///
    /// As [`Pair::run_with`].
    pub fn run<F: Future>(&self, future: F) -> Result<F::Output, Stall> {
        self.run_with(future, Limits::default())
    }
}

/// The byte at offset `i` of a patterned transfer: no short period, so a
/// lost, duplicated or reordered segment shows.
pub fn pattern(i: usize) -> u8 {
    let x = i as u64;
    ((x ^ (x >> 8) ^ (x >> 16)).wrapping_mul(167) as u8) ^ (x % 251) as u8
}

/// Sends `total` patterned bytes from `a` to `b` over a new connection (port
/// 7000), checks every byte, and returns how many arrived.
///
/// # Errors
///
/// What went wrong first, with the byte offset where it applies.
pub async fn transfer(pair: &Pair, total: usize) -> Result<usize, String> {
    transfer_from(pair.a, pair.b, total).await
}

/// [`transfer`] from any stack `a` at [`A_V4`] (another backend on the same
/// link, such as `portnet-lwip`'s simulation) to the smoltcp stack `b` at
/// [`B_V4`].
///
/// # Errors
///
/// As [`transfer`].
pub async fn transfer_from<A: TcpConnect>(
    a: &A,
    b: &SimStack,
    total: usize,
) -> Result<usize, String> {
    let listener = b
        .listen(SocketAddr::new(B_V4.into(), 7000))
        .await
        .map_err(|e| format!("listen: {e}"))?;
    let send = async {
        let mut conn = a
            .connect(SocketAddr::new(B_V4.into(), 7000))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut chunk = [0u8; 3000];
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            for (i, b) in chunk[..n].iter_mut().enumerate() {
                *b = pattern(sent + i);
            }
            conn.write_all(&chunk[..n])
                .await
                .map_err(|e| format!("write at {sent}: {e}"))?;
            sent += n;
        }
        conn.close().await.map_err(|e| format!("close: {e}"))?;
        Ok::<_, String>(sent)
    };
    let receive = async {
        let (mut conn, from) = listener
            .accept()
            .await
            .map_err(|e| format!("accept: {e}"))?;
        if from.ip() != A_V4 {
            return Err(format!("accepted from {from}"));
        }
        let mut buf = [0u8; 4096];
        let mut received = 0;
        loop {
            let n = conn
                .read(&mut buf)
                .await
                .map_err(|e| format!("read at {received}: {e}"))?;
            if n == 0 {
                break;
            }
            if let Some(i) = (0..n).find(|&i| buf[i] != pattern(received + i)) {
                return Err(format!("byte {} corrupted", received + i));
            }
            received += n;
        }
        Ok::<_, String>(received)
    };
    let (sent, received) = join(Box::pin(send), Box::pin(receive)).await;
    let (sent, received) = (sent?, received?);
    if sent != received {
        return Err(format!("sent {sent}, received {received}"));
    }
    Ok(received)
}

/// Runs `cycles` connect/exchange/close cycles from `a` to a listener on `b`,
/// each checking one byte each way and EOF on both ends, each step within two
/// minutes of virtual time.
///
/// # Errors
///
/// The first cycle and step that failed.
pub async fn connect_close_cycles(pair: &Pair, cycles: u32) -> Result<(), String> {
    connect_close_cycles_from(pair.a, pair.b, &pair.clock, cycles).await
}

/// [`connect_close_cycles`] from any stack `a` (another backend on the same
/// link) to a listener on the smoltcp stack `b`, timed by `clock`.
///
/// # Errors
///
/// As [`connect_close_cycles`].
pub async fn connect_close_cycles_from<A: TcpConnect, C: portnet::Clock>(
    a: &A,
    b: &SimStack,
    clock: &C,
    cycles: u32,
) -> Result<(), String> {
    let listener = b
        .listen(SocketAddr::new(B_V4.into(), 0))
        .await
        .map_err(|e| format!("listen: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("local address: {e}"))?;
    for cycle in 0..cycles {
        let connect = pin!(a.connect(addr));
        let accept = pin!(listener.accept());
        let both = join(connect, accept);
        let (connected, accepted) = portnet::time::timeout(clock, Duration::from_secs(120), both)
            .await
            .map_err(|_| format!("cycle {cycle}: connect hangs"))?;
        let mut conn = connected.map_err(|e| format!("cycle {cycle}: connect: {e}"))?;
        let (mut peer, _) = accepted.map_err(|e| format!("cycle {cycle}: accept: {e}"))?;
        conn.write_all(&[cycle as u8])
            .await
            .map_err(|e| format!("cycle {cycle}: write: {e}"))?;
        let mut byte = [0u8; 1];
        peer.read_exact(&mut byte)
            .await
            .map_err(|e| format!("cycle {cycle}: read: {e:?}"))?;
        peer.close()
            .await
            .map_err(|e| format!("cycle {cycle}: close: {e}"))?;
        let eof =
            portnet::time::timeout(clock, Duration::from_secs(120), conn.read(&mut byte)).await;
        if !matches!(eof, Ok(Ok(0))) {
            return Err(format!(
                "cycle {cycle}: no EOF after the peer's FIN: {eof:?}"
            ));
        }
        conn.close()
            .await
            .map_err(|e| format!("cycle {cycle}: close: {e}"))?;
        let eof =
            portnet::time::timeout(clock, Duration::from_secs(120), peer.read(&mut byte)).await;
        if !matches!(eof, Ok(Ok(0))) {
            return Err(format!("cycle {cycle}: peer got no EOF: {eof:?}"));
        }
    }
    Ok(())
}
