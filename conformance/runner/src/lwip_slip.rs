//! The lwIP backend over a serial line (the `lwip-slip` row): lwIP on a SLIP
//! link of `portnet-slip` (an IP-medium device: no link header, no ARP) over
//! a real OS byte stream, a loopback TCP connection, whose other end is a
//! smoltcp [`SlipEnd`], the peer. Real time (tokio's clock), IPv4 only (the
//! port's `LWIP_IPV6 0`).

use alloc::format;
use alloc::string::String;
use core::cell::RefCell;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;
use std::sync::{Mutex, MutexGuard};

use portnet::future::{Either, select};
use portnet_lwip::sim::{A_V4, B_V4};
use portnet_lwip::{Config, Stack};
use portnet_smoltcp::sim::B_V6;
use portnet_tokio::Tokio;

use crate::hosted::TokioCurrentThread;
use crate::slip::{SlipDevice, SlipEnd, SlipLine, SlipStack, socket_pair};
use portnet_conformance::BlockOn as _;
use portnet_conformance::{Family, Harness, Missing};

/// The lwIP stack on a SLIP link.
pub type LwipSlipStack = Stack<SlipDevice, Tokio>;

/// lwIP (under test, 10.0.0.1) on a SLIP link, and a smoltcp stack (the peer,
/// 10.0.0.2) on the other end of the line.
///
/// lwIP is one stack per process: a harness holds the process's turn for
/// its life, so harnesses on several threads (`cargo test`) wait for each
/// other instead of failing on the one-stack rule.
#[derive(Debug)]
pub struct LwipSlipHarness {
    // Dropped first: the stack frees lwIP for the next harness.
    stack: LwipSlipStack,
    clock: Tokio,
    peer: &'static SlipStack,
    /// Borrowed by [`Harness::run`] for the whole run.
    ends: RefCell<(SlipLine, SlipEnd)>,
    _turn: MutexGuard<'static, ()>,
}

static TURN: Mutex<()> = Mutex::new(());

impl LwipSlipHarness {
    /// Both ends on a new loopback connection.
    ///
    /// # Errors
    ///
    /// Why not: loopback TCP is unavailable, a link or stack cannot be made,
    /// or another lwIP stack lives in the process.
    pub fn new() -> Result<Self, String> {
        // A harness that panicked while holding the turn dropped its stack
        // while unwinding: the poison says nothing about lwIP.
        let turn = TURN
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (a, b) = socket_pair().map_err(|e| format!("loopback socket pair: {e}"))?;
        let seed = std::process::id();
        let (device, line) = SlipLine::new(a)?;
        let peer = SlipEnd::new(
            b,
            portnet_smoltcp::sim::config(B_V4, B_V6, u64::from(seed) ^ 0xb, 4),
        )?;
        let clock = Tokio::new();
        let mut config = Config::ipv4_static(A_V4, 24, None);
        config.random_seed = seed;
        let stack = Stack::new(device, clock, config).map_err(|e| format!("lwIP stack: {e:?}"))?;
        Ok(Self {
            stack,
            clock,
            peer: peer.stack(),
            ends: RefCell::new((line, peer)),
            _turn: turn,
        })
    }

    /// The lwIP stack, under test.
    pub fn stack(&self) -> &LwipSlipStack {
        &self.stack
    }

    /// What each link (lwIP's, the peer's) has done so far; `None` while a
    /// case runs.
    pub fn link_stats(&self) -> Option<(portnet_slip::Stats, portnet_slip::Stats)> {
        let ends = self.ends.try_borrow().ok()?;
        Some((ends.0.stats(), ends.1.link_stats()))
    }
}

impl Default for LwipSlipHarness {
    fn default() -> Self {
        Self::new().unwrap_or_else(|reason| panic!("the lwIP SLIP harness cannot run: {reason}"))
    }
}

impl Harness for LwipSlipHarness {
    type Connect = LwipSlipStack;
    type Listen = LwipSlipStack;
    type Udp = LwipSlipStack;
    type Dns = Missing;
    type Peer = SlipStack;
    type Clock = Tokio;

    fn connector(&self) -> Option<&LwipSlipStack> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&LwipSlipStack> {
        Some(&self.stack)
    }
    fn udp(&self) -> Option<&LwipSlipStack> {
        Some(&self.stack)
    }
    fn peer(&self) -> &SlipStack {
        self.peer
    }
    fn clock(&self) -> &Tokio {
        &self.clock
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        // IPv4 only: the IPv6 cases skip.
        (family == Family::V4).then_some(A_V4.into())
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        (family == Family::V4).then_some(B_V4.into())
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        // On the link's subnet; the peer drops packets not addressed to it.
        Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99)), 9))
    }
    fn open_sockets(&self) -> Option<usize> {
        Some(self.stack.sockets_in_use())
    }
    fn tcp_pool(&self) -> Option<usize> {
        Some(portnet_lwip::sim::TCP_SOCKETS)
    }
    fn udp_pool(&self) -> Option<usize> {
        Some(portnet_lwip::sim::UDP_SOCKETS)
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        let mut ends = self.ends.borrow_mut();
        let (line, peer) = &mut *ends;
        let stack = &self.stack;
        TokioCurrentThread.block_on(alloc::boxed::Box::pin(async move {
            let links = pin!(async {
                let runner = pin!(stack.run());
                let line = pin!(line.run());
                let peer = pin!(peer.run());
                match select(runner, select(line, peer)).await {
                    Either::Left(never) => match never {},
                    Either::Right(Either::Left(reason) | Either::Right(reason)) => reason,
                }
            });
            match select(pin!(future), links).await {
                Either::Left(output) => output,
                Either::Right(reason) => panic!("{reason}"),
            }
        }))
    }
}
