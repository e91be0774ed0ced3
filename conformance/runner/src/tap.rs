//! The smoltcp stack against the Linux kernel's TCP/IP stack, through a TAP
//! device in a network namespace the harness creates (and deletes).
//!
//! The kernel side of the TAP interface is 10.9.0.1 / fd09::1, reached by the
//! tokio backend as the peer; the smoltcp stack is 10.9.0.2 / fd09::2. Nothing
//! leaves the namespace.

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::pin::pin;
use core::sync::atomic::{AtomicU32, Ordering};

use portnet::future::{Either, select};
use portnet_links::tap::{Entered, NetNs, Tap};
use portnet_smoltcp::{Cidr, Config, Ipv6Config, Stack, StackResources, TcpPool, UdpPool};
use portnet_tokio::Tokio;

use crate::hosted::TokioCurrentThread;
use portnet_conformance::BlockOn as _;
use portnet_conformance::{Family, Harness};

/// The kernel's IPv4 address on the TAP device.
pub const KERNEL_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);
/// The stack under test's IPv4 address.
pub const STACK_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 2);
/// The kernel's IPv6 address on the TAP device.
pub const KERNEL_V6: Ipv6Addr = Ipv6Addr::new(0xfd09, 0, 0, 0, 0, 0, 0, 1);
/// The stack under test's IPv6 address.
pub const STACK_V6: Ipv6Addr = Ipv6Addr::new(0xfd09, 0, 0, 0, 0, 0, 0, 2);
/// The TAP device's name in its namespace.
pub const TAP_NAME: &str = "pntap0";

/// The smoltcp stack on a TAP device.
pub type TapStack = Stack<'static, Tap, Tokio>;

/// smoltcp (under test) against the Linux kernel (peer) over a TAP device.
///
/// The thread that creates the harness is in the harness's namespace until it
/// is dropped.
#[derive(Debug)]
pub struct TapHarness {
    stack: &'static TapStack,
    kernel: Tokio,
    // Dropped in this order: leave the namespace, then delete it.
    _entered: Entered,
    _netns: NetNs,
}

static NAMESPACES: AtomicU32 = AtomicU32::new(0);

impl TapHarness {
    /// Creates the namespace, the TAP interface and the stack.
    ///
    /// # Errors
    ///
    /// Why not, where this machine cannot (no permission to create network
    /// namespaces, no `/dev/net/tun`, no `ip` command).
    pub fn new() -> Result<Self, String> {
        let (netns, entered, tap) = namespace()?;
        let kernel = Tokio::new();
        let mut config = Config::ipv4_static(Cidr::new(STACK_V4, 24), None);
        config.ipv6 = Ipv6Config::Static {
            address: Cidr::new(STACK_V6, 64),
            gateway: None,
        };
        config.random_seed = u64::from(std::process::id());
        config.listen_backlog = 4;
        let resources: &'static mut StackResources<'static, 16> =
            Box::leak(Box::new(StackResources::new()));
        let tcp: &'static mut TcpPool<8, 16384, 16384> = Box::leak(Box::new(TcpPool::new()));
        let udp: &'static mut UdpPool<4, 4096, 8> = Box::leak(Box::new(UdpPool::new()));
        let sockets = resources
            .sockets()
            .tcp(tcp)
            .and_then(|s| s.udp(udp))
            .map_err(|e| format!("socket pools: {e}"))?;
        let stack = Stack::new(tap, kernel, config, sockets).map_err(|e| format!("stack: {e}"))?;
        Ok(Self {
            stack: Box::leak(Box::new(stack)),
            kernel,
            _entered: entered,
            _netns: netns,
        })
    }

    /// Whether this machine can run the harness, and why not.
    ///
    /// # Errors
    ///
    /// As [`TapHarness::new`].
    pub fn available() -> Result<(), String> {
        Self::new().map(drop)
    }
}

/// A fresh namespace, entered by this thread, holding the TAP device
/// [`TAP_NAME`] whose kernel side is 10.9.0.1/24 and fd09::1/64: the network of
/// every TAP row (the stack under test takes 10.9.0.2 / fd09::2).
///
/// # Errors
///
/// Why not, where this machine cannot (no permission to create network
/// namespaces, no `/dev/net/tun`, no `ip` command).
pub fn namespace() -> Result<(NetNs, Entered, Tap), String> {
    let name = format!(
        "portnet-{}-{}",
        std::process::id(),
        NAMESPACES.fetch_add(1, Ordering::Relaxed)
    );
    let netns = NetNs::create(&name).map_err(|e| format!("network namespace: {e}"))?;
    let entered = netns.enter().map_err(|e| format!("entering {name}: {e}"))?;
    let tap =
        Tap::open(TAP_NAME, [0x02, 0, 0, 0, 0x09, 0x02]).map_err(|e| format!("TAP device: {e}"))?;
    for command in [
        &["ip", "addr", "add", "10.9.0.1/24", "dev", TAP_NAME][..],
        &[
            "ip",
            "-6",
            "addr",
            "add",
            "fd09::1/64",
            "dev",
            TAP_NAME,
            "nodad",
        ],
        &["ip", "link", "set", TAP_NAME, "up"],
    ] {
        netns
            .exec(command)
            .map_err(|e| format!("configuring {TAP_NAME}: {e}"))?;
    }
    Ok((netns, entered, tap))
}

impl Default for TapHarness {
    fn default() -> Self {
        Self::new().unwrap_or_else(|reason| panic!("the TAP harness cannot run here: {reason}"))
    }
}

impl Harness for TapHarness {
    type Connect = TapStack;
    type Listen = TapStack;
    type Udp = TapStack;
    type Dns = TapStack;
    type Peer = Tokio;
    type Clock = Tokio;

    fn connector(&self) -> Option<&TapStack> {
        Some(self.stack)
    }
    fn listener(&self) -> Option<&TapStack> {
        Some(self.stack)
    }
    fn udp(&self) -> Option<&TapStack> {
        Some(self.stack)
    }
    fn dns(&self) -> Option<&TapStack> {
        Some(self.stack)
    }
    fn peer(&self) -> &Tokio {
        &self.kernel
    }
    fn clock(&self) -> &Tokio {
        &self.kernel
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        Some(match family {
            Family::V4 => STACK_V4.into(),
            Family::V6 => STACK_V6.into(),
        })
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        Some(match family {
            Family::V4 => KERNEL_V4.into(),
            Family::V6 => KERNEL_V6.into(),
        })
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        // On the TAP subnet, where no station answers.
        Some(SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 9, 0, 99)), 9))
    }
    fn open_sockets(&self) -> Option<usize> {
        Some(self.stack.sockets_in_use())
    }
    fn tcp_pool(&self) -> Option<usize> {
        Some(8)
    }
    fn udp_pool(&self) -> Option<usize> {
        Some(4)
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        let stack = self.stack;
        TokioCurrentThread.block_on(Box::pin(async move {
            let runner = pin!(stack.run());
            match select(pin!(future), runner).await {
                Either::Left(output) => output,
                Either::Right(never) => match never {},
            }
        }))
    }
}
