//! lwIP against smoltcp on an in-memory link, in virtual time (feature `sim`).
//!
//! Stack `a` is lwIP at 10.0.0.1, stack `b` is `portnet-smoltcp` at 10.0.0.2
//! (the peer: lwIP is one per process), on one [`Link`] with seeded
//! [`Faults`], both on one [`VirtualClock`]. A [`Pair`] holds the process's
//! lwIP lock for its life, so tests on several threads (`cargo test`) take
//! turns instead of failing on the one-stack rule.

extern crate alloc;
extern crate std;

use alloc::boxed::Box;
use core::future::Future;
use core::net::Ipv4Addr;
use core::pin::pin;
use std::sync::{Mutex, MutexGuard};

use portnet::future::{Either, join, select};
use portnet_links::{Faults, Limits, Link, Port, Stall, VirtualClock};

use crate::{Config, Stack};

/// The lwIP stack of the simulation.
pub type SimStack = Stack<Port<VirtualClock>, VirtualClock>;
/// The smoltcp peer.
pub type PeerStack = portnet_smoltcp::sim::SimStack;

/// The lwIP stack's address.
pub const A_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The peer's address.
pub const B_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

/// TCP connections the lwIP stack can hold (its slot table).
pub const TCP_SOCKETS: usize = crate::state::TCP_SLOTS;
/// UDP sockets the lwIP stack can hold.
pub const UDP_SOCKETS: usize = crate::state::UDP_SLOTS;

static LOCK: Mutex<()> = Mutex::new(());

/// lwIP and a smoltcp peer on one in-memory link, in virtual time.
#[derive(Debug)]
pub struct Pair {
    /// The shared clock.
    pub clock: VirtualClock,
    /// The link.
    pub link: &'static Link<VirtualClock>,
    /// The lwIP stack (dropped with the pair, which frees lwIP for the next).
    pub a: SimStack,
    /// The smoltcp peer (leaked: it lives as long as the process).
    pub b: &'static PeerStack,
    _turn: MutexGuard<'static, ()>,
}

impl Pair {
    /// The pair on a link with `faults` drawn from `seed`.
    pub fn new(faults: Faults, seed: u64) -> Self {
        // A test that panicked while holding the lock leaves lwIP clean (its
        // stack dropped while unwinding): the poison says nothing about it.
        let turn = LOCK
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let clock = VirtualClock::new();
        let link: &'static Link<VirtualClock> =
            Box::leak(Box::new(Link::new(clock.clone(), faults, seed)));
        let mut config = Config::ipv4_static(A_V4, 24, None);
        config.random_seed = (seed as u32) ^ 0xa;
        let a = Stack::new(
            link.port(0, [0x02, 0, 0, 0, 0, 0x01]),
            clock.clone(),
            config,
        )
        .expect("the lock guarantees no other lwIP stack lives");
        let b = portnet_smoltcp::sim::leak_stack(
            link.port(1, [0x02, 0, 0, 0, 0, 0x02]),
            clock.clone(),
            portnet_smoltcp::sim::config(B_V4, portnet_smoltcp::sim::B_V6, seed ^ 0xb, 4),
        );
        Self {
            clock,
            link,
            a,
            b,
            _turn: turn,
        }
    }

    /// Runs `future` with both stacks and the link, within `limits`.
    ///
    /// # Errors
    ///
    /// A [`Stall`] when the future cannot finish or passes the limits.
    pub fn run_with<F: Future>(&self, future: F, limits: Limits) -> Result<F::Output, Stall> {
        let drivers = join(
            Box::pin(join(Box::pin(self.a.run()), Box::pin(self.b.run()))),
            Box::pin(self.link.run()),
        );
        let future = pin!(future);
        match self.clock.run(select(future, drivers), limits)? {
            Either::Left(output) => Ok(output),
            Either::Right(_) => unreachable!("the runners never return"),
        }
    }

    /// Runs `future` within the default limits (an hour of virtual time).
    ///
    /// # Errors
    ///
    /// As [`Pair::run_with`].
    pub fn run<F: Future>(&self, future: F) -> Result<F::Output, Stall> {
        self.run_with(future, Limits::default())
    }
}
