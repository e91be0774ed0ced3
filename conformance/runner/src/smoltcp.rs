//! Harnesses of the smoltcp backend: two smoltcp stacks on the in-memory link
//! of `portnet-links`, in virtual time, on a clean or a lossy link.

use core::future::Future;
use core::marker::PhantomData;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use portnet_links::{Faults, VirtualClock};
use portnet_smoltcp::sim::{A_V4, A_V6, B_V4, B_V6, Pair, SimStack};

use portnet_conformance::{Family, Harness};

/// What the link between the two stacks does to frames.
pub trait LinkProfile {
    /// The faults.
    const FAULTS: Faults;
}

/// A perfect link.
#[derive(Debug, Default)]
pub struct Clean;

impl LinkProfile for Clean {
    const FAULTS: Faults = Faults::NONE;
}

/// [`Faults::LOSSY`]: loss, duplication, corruption, reordering, delay, and a
/// bandwidth limit, on every frame but UDP datagrams: the UDP cases check UDP's
/// semantics, which promise nothing on a lossy link.
#[derive(Debug, Default)]
pub struct Lossy;

impl LinkProfile for Lossy {
    const FAULTS: Faults = Faults::LOSSY.sparing_udp();
}

/// The smoltcp stack `a` under test, stack `b` as its peer, on one link.
///
/// The link's faults are drawn from `PORTNET_LINK_SEED` (default 1).
#[derive(Debug)]
pub struct SmoltcpHarness<P> {
    pair: Pair,
    _profile: PhantomData<P>,
}

/// smoltcp against smoltcp on a clean in-memory link.
pub type MemoryHarness = SmoltcpHarness<Clean>;

/// smoltcp against smoltcp on a lossy in-memory link.
pub type LossyHarness = SmoltcpHarness<Lossy>;

/// The seed of the link's faults.
pub fn link_seed() -> u64 {
    std::env::var("PORTNET_LINK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1)
}

impl<P: LinkProfile> Default for SmoltcpHarness<P> {
    fn default() -> Self {
        Self {
            pair: Pair::with_backlog(P::FAULTS, link_seed(), 4),
            _profile: PhantomData,
        }
    }
}

impl<P: LinkProfile> Harness for SmoltcpHarness<P> {
    type Connect = SimStack;
    type Listen = SimStack;
    type Udp = SimStack;
    type Dns = SimStack;
    type Peer = SimStack;
    type Clock = VirtualClock;

    fn connector(&self) -> Option<&SimStack> {
        Some(self.pair.a)
    }
    fn listener(&self) -> Option<&SimStack> {
        Some(self.pair.a)
    }
    fn udp(&self) -> Option<&SimStack> {
        Some(self.pair.a)
    }
    fn dns(&self) -> Option<&SimStack> {
        Some(self.pair.a)
    }
    fn peer(&self) -> &SimStack {
        self.pair.b
    }
    fn clock(&self) -> &VirtualClock {
        &self.pair.clock
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        Some(match family {
            Family::V4 => A_V4.into(),
            Family::V6 => A_V6.into(),
        })
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        Some(match family {
            Family::V4 => B_V4.into(),
            Family::V6 => B_V6.into(),
        })
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        // On the link's subnet, but no station answers for it.
        Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99)), 9))
    }
    fn open_sockets(&self) -> Option<usize> {
        Some(self.pair.a.sockets_in_use())
    }
    fn tcp_pool(&self) -> Option<usize> {
        Some(portnet_smoltcp::sim::TCP_SOCKETS)
    }
    fn udp_pool(&self) -> Option<usize> {
        Some(4)
    }
    fn dns_silent_name(&self) -> Option<&str> {
        // Stack `a` asks stack `b`, which runs no DNS server (but in the case
        // that plays one there).
        Some("silent.portnet.example")
    }
    fn dns_server(&self) -> Option<SocketAddr> {
        Some(SocketAddr::new(B_V4.into(), 53))
    }
    fn patience(&self) -> u32 {
        // A lost segment costs a retransmission timeout of at least a second,
        // doubling on each loss in a row (RFC 6298).
        if P::FAULTS == Faults::NONE { 1 } else { 12 }
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        match self.pair.run(future) {
            Ok(output) => output,
            Err(stall) => panic!(
                "the simulation stalled: {stall} (link seed {}, {:?})",
                self.pair.link.seed(),
                self.pair.link.stats()
            ),
        }
    }
}
