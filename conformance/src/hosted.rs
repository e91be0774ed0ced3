//! Harnesses of the hosted backends, used by the runner and by the suite's own
//! tests.

use alloc::vec::Vec;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::OnceLock;

use portnet_async_std::AsyncStd;
use portnet_smol::Smol;
use portnet_tokio::Tokio;

use crate::host::{BlackHole, open_socket_fds};
use crate::{Family, Harness, report::Row};

/// Loopback on both families: where the host stack under test and its peer live.
pub(crate) fn loopback(family: Family) -> Option<IpAddr> {
    Some(match family {
        Family::V4 => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Family::V6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
    })
}

/// A host backend against itself over loopback: each case's peer is a second use
/// of the host kernel's stack. The harness of every OS backend.
#[derive(Debug, Default)]
pub struct LoopbackHarness<S> {
    stack: S,
    black_hole: OnceLock<Option<BlackHole>>,
}

/// The tokio backend against itself, on a current-thread runtime per case.
pub type TokioHarness = LoopbackHarness<Tokio>;

/// The smol backend against itself, on async-io's `block_on`.
pub type SmolHarness = LoopbackHarness<Smol>;

/// The async-std backend against itself, on async-std's `block_on`.
pub type AsyncStdHarness = LoopbackHarness<AsyncStd>;

/// How a backend runs a future to completion.
pub trait BlockOn {
    /// Runs `future` on this backend's executor.
    fn block_on<F: Future>(future: F) -> F::Output;
}

impl BlockOn for Tokio {
    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
            .block_on(future)
    }
}

impl BlockOn for Smol {
    fn block_on<F: Future>(future: F) -> F::Output {
        async_io::block_on(future)
    }
}

impl BlockOn for AsyncStd {
    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }
}

impl<S> Harness for LoopbackHarness<S>
where
    S: portnet::TcpConnect
        + portnet::TcpListen
        + portnet::UdpBind
        + portnet::Dns
        + portnet::Clock
        + BlockOn,
{
    type Connect = S;
    type Listen = S;
    type Udp = S;
    type Dns = S;
    type Peer = S;
    type Clock = S;

    fn connector(&self) -> Option<&S> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&S> {
        Some(&self.stack)
    }
    fn udp(&self) -> Option<&S> {
        Some(&self.stack)
    }
    fn dns(&self) -> Option<&S> {
        Some(&self.stack)
    }
    fn dns_name(&self) -> Option<&str> {
        Some("localhost")
    }
    fn peer(&self) -> &S {
        &self.stack
    }
    fn clock(&self) -> &S {
        &self.stack
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        loopback(family)
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        loopback(family)
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        self.black_hole
            .get_or_init(|| BlackHole::new().ok())
            .as_ref()
            .map(BlackHole::addr)
    }
    fn open_sockets(&self) -> Option<usize> {
        open_socket_fds()
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        // Cases are large futures in debug builds; on the heap they leave the test
        // thread's stack to the executor.
        S::block_on(alloc::boxed::Box::pin(future))
    }
}

/// The foreign stack std-embedded-nal-async (the async half of the
/// std-embedded-nal project: the host's sockets behind the embedded-nal-async
/// traits) seen through `portnet-embedded`'s embedded-nal-async → portnet adapters:
/// [`PortnetTcp`](portnet_embedded::PortnetTcp) for `TcpConnect` and
/// [`PortnetUdp`](portnet_embedded::PortnetUdp) for `UdpBind`.
/// embedded-nal-async has no listening sockets, so `Listen` is [`crate::Missing`].
///
/// The peer and the clock are the tokio backend; cases run on a current-thread
/// tokio runtime, and std-embedded-nal-async's async-io sources are driven by
/// async-io's own reactor thread.
///
/// TCP uses [`WakePolicy::Registered`](portnet_embedded::WakePolicy): its reads and
/// writes are futures-io polls that keep their waker in the socket. UDP uses
/// [`WakePolicy::Rewake`](portnet_embedded::WakePolicy): its futures are built on
/// async-io's `readable()`/`writable()`, which remove the waker when dropped, so a
/// poll bridge that drops them would never be woken.
#[derive(Debug)]
pub struct StdEmbeddedNalHarness {
    tcp: portnet_embedded::PortnetTcp<std_embedded_nal_async::Stack>,
    udp: portnet_embedded::PortnetUdp<std_embedded_nal_async::Stack>,
    peer: Tokio,
    black_hole: OnceLock<Option<BlackHole>>,
}

impl Default for StdEmbeddedNalHarness {
    fn default() -> Self {
        use portnet_embedded::{PortnetTcp, PortnetUdp, WakePolicy};
        use std_embedded_nal_async::Stack;
        Self {
            tcp: PortnetTcp::with_policy(Stack::default(), WakePolicy::Registered),
            udp: PortnetUdp::with_policy(Stack::default(), WakePolicy::Rewake),
            peer: Tokio::new(),
            black_hole: OnceLock::new(),
        }
    }
}

impl Harness for StdEmbeddedNalHarness {
    type Connect = portnet_embedded::PortnetTcp<std_embedded_nal_async::Stack>;
    type Listen = crate::Missing;
    type Udp = portnet_embedded::PortnetUdp<std_embedded_nal_async::Stack>;
    type Dns = crate::Missing;
    type Peer = Tokio;
    type Clock = Tokio;

    fn connector(&self) -> Option<&Self::Connect> {
        Some(&self.tcp)
    }
    fn listener(&self) -> Option<&crate::Missing> {
        None
    }
    fn udp(&self) -> Option<&Self::Udp> {
        Some(&self.udp)
    }
    fn peer(&self) -> &Tokio {
        &self.peer
    }
    fn clock(&self) -> &Tokio {
        &self.peer
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        loopback(family)
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        loopback(family)
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        self.black_hole
            .get_or_init(|| BlackHole::new().ok())
            .as_ref()
            .map(BlackHole::addr)
    }
    fn open_sockets(&self) -> Option<usize> {
        open_socket_fds()
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        Tokio::block_on(alloc::boxed::Box::pin(future))
    }
}

/// A backend the runner knows: its name and how to run the suite on it.
#[derive(Debug, Clone, Copy)]
pub struct Backend {
    /// The name in the table and the report.
    pub name: &'static str,
    /// Runs the cases whose id contains `filter` (all for ""), plainly and
    /// adversarially, and returns one row per case and mode.
    pub run: fn(filter: &str) -> Vec<Row>,
    /// A foreign stack, shown for information: its failures are findings about
    /// that stack (listed in `docs/conformance.md`) and do not make the runner
    /// exit with status 1.
    pub foreign: bool,
}

/// Every hosted backend in this build.
pub fn backends() -> Vec<Backend> {
    use crate::report::run_backend;
    #[allow(unused_mut)]
    let mut list = alloc::vec![
        Backend {
            name: "tokio",
            run: run_backend::<TokioHarness>,
            foreign: false,
        },
        Backend {
            name: "smol",
            run: run_backend::<SmolHarness>,
            foreign: false,
        },
        Backend {
            name: "async-std",
            run: run_backend::<AsyncStdHarness>,
            foreign: false,
        },
        Backend {
            name: "smoltcp-memory",
            run: run_backend::<crate::smoltcp::MemoryHarness>,
            foreign: false,
        },
        Backend {
            name: "smoltcp-lossy",
            run: run_backend::<crate::smoltcp::LossyHarness>,
            foreign: false,
        },
        Backend {
            name: "lwip-memory",
            run: run_backend::<crate::lwip::MemoryHarness>,
            foreign: false,
        },
        Backend {
            name: "lwip-lossy",
            run: run_backend::<crate::lwip::LossyHarness>,
            foreign: false,
        },
        Backend {
            name: "smoltcp-slip",
            run: run_backend::<crate::slip::SlipHarness>,
            foreign: false,
        },
        Backend {
            name: "std-embedded-nal",
            run: run_backend::<StdEmbeddedNalHarness>,
            foreign: true,
        },
        Backend {
            name: "embassy-net",
            run: run_backend::<crate::embassy::EmbassyNetHarness>,
            foreign: true,
        },
    ];
    #[cfg(target_os = "linux")]
    {
        // Both rows need a network namespace with a TAP device.
        let tap = crate::tap::TapHarness::available();
        match &tap {
            Ok(()) => list.insert(
                6,
                Backend {
                    name: "smoltcp-tap",
                    run: run_backend::<crate::tap::TapHarness>,
                    foreign: false,
                },
            ),
            Err(reason) => {
                std::eprintln!("smoltcp-tap: skipped, this machine cannot run it: {reason}");
            }
        }
        let row = crate::qemu::ROW_NAME;
        match (crate::qemu::firmware(), &tap) {
            (Some(_), Ok(())) => list.push(Backend {
                name: row,
                run: crate::qemu::rows,
                foreign: false,
            }),
            (Some(_), Err(reason)) => {
                std::eprintln!("{row}: skipped, this machine cannot run it: {reason}");
            }
            (None, _) => std::eprintln!(
                "{row}: skipped, no firmware: `cargo xtask conformance` builds it and sets {}",
                crate::qemu::FIRMWARE_ENV
            ),
        }
    }
    list
}
