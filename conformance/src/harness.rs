//! What a stack's author provides to run the suite: the `Harness`.

use core::future::Future;
use core::net::{IpAddr, SocketAddr};

use portnet::{Clock, Dns, TcpConnect, TcpListen, UdpBind};

pub use crate::missing::Missing;

/// An IP address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

/// How the suite reaches a stack under test and its peer.
///
/// The stack under test offers up to four capabilities (`Connect`, `Listen`,
/// `Udp`, `Dns`); one it lacks is set to [`Missing`] and its method returns `None`, and
/// every case that needs it is skipped, naming it. The peer is a full stack: a
/// second instance of the same stack, or the host kernel through `portnet-tokio`.
pub trait Harness {
    /// The stack's `TcpConnect`, or [`Missing`].
    type Connect: TcpConnect;
    /// The stack's `TcpListen`, or [`Missing`].
    type Listen: TcpListen;
    /// The stack's `UdpBind`, or [`Missing`].
    type Udp: UdpBind;
    /// The stack's `Dns`, or [`Missing`] (then [`Harness::dns`] keeps its default,
    /// `None`, and the `dns.*` cases skip naming `dns`).
    type Dns: Dns;
    /// The other end of every case.
    type Peer: TcpConnect + TcpListen + UdpBind;
    /// The clock the suite measures deadlines with.
    type Clock: Clock;

    /// The stack under test, as it can connect.
    fn connector(&self) -> Option<&Self::Connect>;
    /// The stack under test, as it can listen.
    fn listener(&self) -> Option<&Self::Listen>;
    /// The stack under test, as it can bind UDP sockets.
    fn udp(&self) -> Option<&Self::Udp>;
    /// The stack under test, as it resolves names.
    fn dns(&self) -> Option<&Self::Dns> {
        None
    }
    /// The peer.
    fn peer(&self) -> &Self::Peer;
    /// The clock.
    fn clock(&self) -> &Self::Clock;

    /// The address at which the peer reaches the stack under test.
    fn stack_ip(&self, family: Family) -> Option<IpAddr>;
    /// The address at which the stack under test reaches the peer.
    fn peer_ip(&self, family: Family) -> Option<IpAddr>;

    /// An address where connection attempts go unanswered (SYNs are dropped).
    fn black_hole(&self) -> Option<SocketAddr> {
        None
    }

    /// How many sockets the process holds open now, for leak checks: every socket
    /// of the stack under test, its peer's included where they share the process
    /// (counting the process's descriptors caught a real descriptor leak that
    /// counting only the stack's own registrations missed). `None` skips
    /// `tcp.resources.no_leak`, naming `socket-count`.
    fn open_sockets(&self) -> Option<usize> {
        None
    }

    /// How many TCP sockets the stack under test has in all (connections and
    /// listening sockets), for a stack with a fixed pool; `None` for a stack
    /// without one (the full-pool cases then skip, naming `socket-pool`).
    fn tcp_pool(&self) -> Option<usize> {
        None
    }

    /// How many UDP sockets the stack under test has in all, for a stack with a
    /// fixed pool; `None` for a stack without one.
    fn udp_pool(&self) -> Option<usize> {
        None
    }

    /// A name the stack's resolver answers with at least one address (`localhost`
    /// on an operating system), for the `dns.resolve_all.*` cases that need a real
    /// answer; `None` skips them, naming `dns-name`.
    fn dns_name(&self) -> Option<&str> {
        None
    }

    /// A valid name for which the stack's resolver gets no answer from any
    /// server it asks (its servers' addresses are silent), for case
    /// `dns.resolve.no_answer`; `None` skips it, naming `dns-silent`.
    fn dns_silent_name(&self) -> Option<&str> {
        None
    }

    /// The address, on the peer, that the resolver of the stack under test
    /// sends its queries to (a DNS server the peer can play), for case
    /// `dns.resolve.no_such_name`, which binds the peer's UDP there and answers;
    /// `None` skips it, naming `dns-server`.
    fn dns_server(&self) -> Option<SocketAddr> {
        None
    }

    /// How many connections one listener must be able to hold open at once.
    fn listen_pool(&self) -> usize {
        4
    }

    /// How many times longer than on one machine's loopback the stack may take
    /// for what should be prompt: a stack on a lossy link waits for
    /// retransmission timeouts, one in an emulator runs slower. Every deadline
    /// of the cases is multiplied by it.
    fn patience(&self) -> u32 {
        1
    }

    /// How many bytes the bulk cases move each way. Stacks in slow emulators lower it.
    fn bulk_bytes(&self) -> usize {
        1 << 20
    }

    /// Runs a case to completion: the harness's executor, plus whatever drives the
    /// stack (an interface poller, a simulated link) alongside.
    fn run<F: Future>(&self, future: F) -> F::Output;
}

/// Runs a future to completion: the executor a harness runs its cases on (a
/// runtime's `block_on` on a host, the firmware's executor on a board).
pub trait BlockOn {
    /// Runs `future` until it is ready.
    fn block_on<F: Future>(&self, future: F) -> F::Output;
}
