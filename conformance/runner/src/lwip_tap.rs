//! The lwIP backend against the Linux kernel's TCP/IP stack, through a TAP
//! device in a network namespace the harness creates (and deletes): the
//! network of the `smoltcp-tap` row ([`crate::tap::namespace`]), IPv4 only
//! (the port's `LWIP_IPV6 0`).

use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;

use alloc::format;
use alloc::string::String;
use portnet::future::{Either, select};
use portnet_links::tap::{Entered, NetNs, Tap};
use portnet_lwip::{Config, Stack};
use portnet_tokio::Tokio;

use crate::hosted::TokioCurrentThread;
use crate::tap::{KERNEL_V4, STACK_V4, namespace};
use portnet_conformance::BlockOn as _;
use portnet_conformance::{Family, Harness, Missing};

/// The lwIP stack on a TAP device.
pub type LwipTapStack = Stack<Tap, Tokio>;

/// lwIP (under test) against the Linux kernel (peer) over a TAP device.
///
/// The thread that creates the harness is in the harness's namespace until it
/// is dropped. lwIP is one stack per process: harnesses take turns (the
/// runner makes one per case, one at a time).
#[derive(Debug)]
pub struct LwipTapHarness {
    // Dropped in this order: the stack (which frees lwIP and closes the TAP
    // device), leave the namespace, then delete it.
    stack: LwipTapStack,
    kernel: Tokio,
    _entered: Entered,
    _netns: NetNs,
}

impl LwipTapHarness {
    /// Creates the namespace, the TAP interface and the stack.
    ///
    /// # Errors
    ///
    /// Why not, where this machine cannot (as [`crate::tap::namespace`]), or
    /// while another lwIP stack lives in the process.
    pub fn new() -> Result<Self, String> {
        let (netns, entered, tap) = namespace()?;
        let kernel = Tokio::new();
        let mut config = Config::ipv4_static(STACK_V4, 24, None);
        config.random_seed = std::process::id();
        let stack = Stack::new(tap, kernel, config).map_err(|e| format!("lwIP stack: {e:?}"))?;
        Ok(Self {
            stack,
            kernel,
            _entered: entered,
            _netns: netns,
        })
    }

    /// Whether this machine can run the harness, and why not.
    ///
    /// # Errors
    ///
    /// As [`LwipTapHarness::new`].
    pub fn available() -> Result<(), String> {
        Self::new().map(drop)
    }
}

impl Default for LwipTapHarness {
    fn default() -> Self {
        Self::new()
            .unwrap_or_else(|reason| panic!("the lwIP TAP harness cannot run here: {reason}"))
    }
}

impl Harness for LwipTapHarness {
    type Connect = LwipTapStack;
    type Listen = LwipTapStack;
    type Udp = LwipTapStack;
    type Dns = Missing;
    type Peer = Tokio;
    type Clock = Tokio;

    fn connector(&self) -> Option<&LwipTapStack> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&LwipTapStack> {
        Some(&self.stack)
    }
    fn udp(&self) -> Option<&LwipTapStack> {
        Some(&self.stack)
    }
    fn peer(&self) -> &Tokio {
        &self.kernel
    }
    fn clock(&self) -> &Tokio {
        &self.kernel
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        // IPv4 only: the IPv6 cases skip.
        (family == Family::V4).then_some(STACK_V4.into())
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        (family == Family::V4).then_some(KERNEL_V4.into())
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        // On the TAP subnet, where no station answers.
        Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 0, 99)), 9))
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
        let stack = &self.stack;
        TokioCurrentThread.block_on(async move {
            let runner = pin!(stack.run());
            match select(pin!(future), runner).await {
                Either::Left(output) => output,
                Either::Right(never) => match never {},
            }
        })
    }
}
