//! Harnesses of the lwIP backend: lwIP under test, a smoltcp stack as its peer
//! (lwIP runs one stack per process), on the in-memory link in virtual time,
//! clean or lossy.

use core::future::Future;
use core::marker::PhantomData;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};

use portnet_links::{Faults, VirtualClock};
use portnet_lwip::sim::{A_V4, B_V4, Pair, PeerStack, SimStack};

use crate::smoltcp::{Clean, LinkProfile, Lossy, link_seed};
use portnet_conformance::{Family, Harness, Missing};

/// lwIP against smoltcp on one link with the faults of `P`.
#[derive(Debug)]
pub struct LwipHarness<P> {
    pair: Pair,
    _profile: PhantomData<P>,
}

/// lwIP against smoltcp on a clean in-memory link.
pub type MemoryHarness = LwipHarness<Clean>;

/// lwIP against smoltcp on a lossy in-memory link.
pub type LossyHarness = LwipHarness<Lossy>;

impl<P: LinkProfile> Default for LwipHarness<P> {
    fn default() -> Self {
        Self {
            pair: Pair::new(P::FAULTS, link_seed()),
            _profile: PhantomData,
        }
    }
}

impl<P: LinkProfile> Harness for LwipHarness<P> {
    type Connect = SimStack;
    type Listen = SimStack;
    type Udp = SimStack;
    type Dns = Missing;
    type Peer = PeerStack;
    type Clock = VirtualClock;

    fn connector(&self) -> Option<&SimStack> {
        Some(&self.pair.a)
    }
    fn listener(&self) -> Option<&SimStack> {
        Some(&self.pair.a)
    }
    fn udp(&self) -> Option<&SimStack> {
        Some(&self.pair.a)
    }
    fn peer(&self) -> &PeerStack {
        self.pair.b
    }
    fn clock(&self) -> &VirtualClock {
        &self.pair.clock
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        // The port is IPv4-only (LWIP_IPV6 0): the IPv6 cases skip.
        (family == Family::V4).then_some(A_V4.into())
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        (family == Family::V4).then_some(B_V4.into())
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99)), 9))
    }
    fn open_sockets(&self) -> Option<usize> {
        Some(self.pair.a.sockets_in_use())
    }
    fn tcp_pool(&self) -> Option<usize> {
        Some(portnet_lwip::sim::TCP_SOCKETS)
    }
    fn udp_pool(&self) -> Option<usize> {
        Some(portnet_lwip::sim::UDP_SOCKETS)
    }
    fn patience(&self) -> u32 {
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

/// The results of an lwIP row that are neither a pass nor a skip for what the
/// port lacks (IPv6: `LWIP_IPV6 0`; DNS: no resolver), each as
/// "case on backend: why": what a test of an lwIP row asserts is empty.
pub fn unexpected(
    rows: &[portnet_conformance::report::Row],
) -> alloc::vec::Vec<alloc::string::String> {
    use portnet_conformance::{Capability, Outcome};
    rows.iter()
        .filter(|row| {
            !matches!(
                row.outcome,
                Outcome::Pass | Outcome::Skip(Capability::Ipv6 | Capability::Dns)
            )
        })
        .map(|row| alloc::format!("{} on {}: {}", row.case, row.backend, row.detail()))
        .collect()
}
