//! portnet on [embassy-net]: an embassy-net 0.9 stack as portnet's
//! [`TcpConnect`](portnet::TcpConnect), [`TcpListen`](portnet::TcpListen) and
//! [`UdpBind`](portnet::UdpBind), so that a library written once against
//! portnet (an MQTT client, an HTTP client, a CoAP server) runs on the most
//! used embedded IP stack. `no_std`, no `alloc`, no `unsafe`.
//!
//! # For firmware developers
//!
//! Your firmware already has an `embassy_net::Stack`, its `Runner` in a task
//! of its own, and an embassy-time driver (from your HAL or your own). Add a
//! [`Resources`] in a `static` (the sockets' buffers, sized by its const
//! parameters), wrap the stack in an [`EmbassyStack`], and hand a reference to
//! the portnet library:
//!
//! ```
//! use embassy_net::{Config, Runner, StackResources};
//! use portnet_embassy_net::{EmbassyStack, Resources};
//! use static_cell::{ConstStaticCell, StaticCell};
//!
//! /// Two TCP sockets with 2 KiB each way, one UDP socket of the default size.
//! type Pool = Resources<2, 1, 2048>;
//!
//! /// A portnet library: it knows only the traits.
//! async fn echo_once<S: portnet::TcpListen>(stack: &S) -> Result<(), S::Error> {
//!     use portnet::{ReadExt, TcpListener, WriteExt};
//!     let listener = stack.listen("0.0.0.0:7".parse().unwrap()).await?;
//!     let (mut connection, _peer) = listener.accept().await?;
//!     let mut buf = [0; 256];
//!     loop {
//!         let n = connection.read(&mut buf).await?;
//!         if n == 0 {
//!             return connection.close().await;
//!         }
//!         connection.write_all(&buf[..n]).await?;
//!     }
//! }
//!
//! /// Start-up: embassy-net as usual, then the adapter over it.
//! fn start<D: embassy_net_driver::Driver>(
//!     device: D,
//!     seed: u64,
//! ) -> (EmbassyStack<'static, 2, 1>, Runner<'static, D>) {
//!     // The pool's sockets are entries of embassy-net's socket set too: room
//!     // for them, and one more for DHCP.
//!     static SOCKETS: StaticCell<StackResources<{ Pool::SOCKETS + 1 }>> = StaticCell::new();
//!     // Built at compile time, in `.bss`: no copy of the buffers on the stack.
//!     static POOL: ConstStaticCell<Pool> = ConstStaticCell::new(Pool::new());
//!
//!     let config = Config::dhcpv4(Default::default());
//!     let (stack, runner) =
//!         embassy_net::new(device, config, SOCKETS.init(StackResources::new()), seed);
//!     (EmbassyStack::new(stack, POOL.take()), runner)
//! }
//!
//! /// The application task; `runner.run()` runs in a task of its own.
//! async fn app(stack: &EmbassyStack<'static, 2, 1>) {
//!     stack.stack().wait_config_up().await;
//!     let _ = echo_once(stack).await;
//! }
//! # fn main() {}
//! ```
//!
//! Run embassy-net's `Runner` in its **own task**, not joined with the code
//! that uses the sockets: every embassy-net socket call wakes the runner, and
//! a runner and a caller polled together on one waker wake each other forever.
//!
//! This crate links no embassy-time driver (a second one would collide with
//! yours at link time) and starts no task. An [`EmbassyStack`] is used from one
//! executor (it is neither `Send` nor `Sync`, as embassy-net's `Stack` is not).
//!
//! Sizing: `Resources<TCP, UDP, TCP_BUF, UDP_BUF, UDP_PACKETS>` holds
//! `TCP * 2 * TCP_BUF` bytes for TCP and `UDP * 2 * UDP_BUF` plus
//! `UDP * 2 * UDP_PACKETS` metadata entries for UDP. A listener takes
//! `backlog` sockets of the pool while it listens (default
//! [`LISTEN_BACKLOG`], at most what is free), and a closed connection's
//! socket stays taken until its FIN or reset is through, so size `TCP` for the
//! connections and listeners open at once plus the ones still closing. The
//! `StackResources<N>` of `embassy_net::new` needs [`Resources::SOCKETS`] free
//! entries, or [`EmbassyStack::new`] panics (smoltcp's socket set is fixed and
//! cannot be asked).
//!
//! # For library authors
//!
//! A library generic over portnet's traits runs on an [`EmbassyStack`]
//! unchanged, within these limits:
//!
//! - **No [`Dns`](portnet::Dns)** and no [`Clock`](portnet::Clock): use
//!   embassy-net's `DnsSocket` and embassy-time directly, or take them as
//!   separate parameters (which portnet recommends anyway).
//! - **No socket options**: every [`SocketOptions`](portnet::SocketOptions)
//!   call is `Unsupported` (embassy-net's `set_timeout`, `set_keep_alive`,
//!   `set_nagle_enabled` are not mapped yet).
//! - **A fixed pool**: connect, listen and bind fail with kind
//!   `OutOfResources` ([`Error::NoSocket`]) when every socket is in use.
//! - **Where embassy-net differs from the portnet contract, the answer is
//!   passed on.** The conformance suite's `embassy-net` row lists each case
//!   (`docs/backends/embassy-net.md`): a second listener or UDP socket on a
//!   bound port succeeds (smoltcp has no port table), listening on an
//!   address the interface lacks succeeds, a write of an empty buffer stays
//!   `Pending`, a write after `close` is kind `ConnectionReset` (not
//!   `BrokenPipe`), an unspecified remote is `HostUnreachable`, and two
//!   accepts pending at once on one listener may not both be woken.
//! - **Connected UDP** is a receive filter (embassy-net has no connected
//!   sockets): an ICMP refusal is never reported.
//!
//! # Why embassy-net's own API
//!
//! embassy-net also implements embedded-nal-async's `TcpConnect`; portnet has
//! an adapter from that (`portnet-embedded`). This crate uses embassy-net's
//! own `TcpSocket` and `UdpSocket` instead, because through embedded-nal-async
//! there is no listening socket, no half-close and no abort. What the adapter
//! adds is only the shape portnet needs: a fixed pool of sockets (embassy-net
//! sockets borrow their buffers; a pool lets connections borrow the stack
//! shared), a listener as a set of sockets in `TcpSocket::accept` (embassy-net
//! has none), closing a dropped connection or resetting it when unread data is
//! left (as a kernel does), a receive filter for connected UDP sockets, and an
//! ephemeral port for a listener on port 0 (embassy-net refuses port 0). Each
//! poll polls a fresh embassy-net future once, which is exact: their wakers
//! live in the smoltcp socket.
//!
//! # Features
//!
//! - `proto-ipv6` (default): IPv6 addresses (embassy-net's `proto-ipv6`).
//!   Enable it whenever your embassy-net has `proto-ipv6`; without it IPv6
//!   addresses are refused with `Unsupported`.
//!
//! [embassy-net]: https://docs.rs/embassy-net

#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![forbid(unsafe_code)]

mod error;
mod pool;
mod tcp;
mod udp;

use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;
use core::task::{Context, Poll};

use embassy_net::{IpAddress, IpEndpoint, IpListenEndpoint};

pub use error::Error;
pub use pool::{EmbassyStack, Resources};
pub use tcp::{EmbassyConnection, EmbassyHalf, EmbassyListener, LISTEN_BACKLOG};
pub use udp::EmbassyUdp;

fn socket_addr(endpoint: IpEndpoint) -> SocketAddr {
    endpoint.into()
}

fn ip_address(ip: IpAddr) -> Result<IpAddress, Error> {
    match ip {
        IpAddr::V4(a) => Ok(IpAddress::Ipv4(a)),
        #[cfg(feature = "proto-ipv6")]
        IpAddr::V6(a) => Ok(IpAddress::Ipv6(a)),
        #[cfg(not(feature = "proto-ipv6"))]
        IpAddr::V6(_) => Err(Error::Kind(portnet::ErrorKind::Unsupported)),
    }
}

fn endpoint(addr: SocketAddr) -> Result<IpEndpoint, Error> {
    Ok(IpEndpoint::new(ip_address(addr.ip())?, addr.port()))
}

/// An unspecified address listens on every address of the interface.
fn listen_endpoint(addr: SocketAddr) -> Result<IpListenEndpoint, Error> {
    let ip = addr.ip();
    Ok(IpListenEndpoint {
        addr: if ip.is_unspecified() {
            None
        } else {
            Some(ip_address(ip)?)
        },
        port: addr.port(),
    })
}

fn listen_addr(endpoint: IpListenEndpoint) -> SocketAddr {
    match endpoint.addr {
        Some(addr) => SocketAddr::new(addr.into(), endpoint.port),
        None => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), endpoint.port),
    }
}

/// Polls a fresh future once. Exact for embassy-net's socket futures: they
/// register the waker in the smoltcp socket and keep no state of their own.
fn poll_once<F: Future>(future: F, cx: &mut Context<'_>) -> Poll<F::Output> {
    pin!(future).poll(cx)
}
