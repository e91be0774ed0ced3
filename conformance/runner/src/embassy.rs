//! The foreign stack embassy-net under the suite: embassy-net on one port of the
//! in-memory link (through its `embassy-net-driver`, which
//! [`Port`] implements), portnet's smoltcp backend on the
//! other port as its peer, both in the link's virtual time.
//!
//! Three pieces make that work:
//! - an `embassy-time` driver over [`VirtualClock`]: embassy-net keeps time
//!   through `embassy-time`, whose driver is one global per program. This one
//!   reads and arms the virtual clock of the harness that runs on the calling
//!   thread (set by [`EmbassyNetHarness`]), so embassy-net's retransmission
//!   timers jump with the rest of the simulation and a run stays deterministic;
//! - the adapter under test, [`portnet_embassy_net::EmbassyStack`] (the crate
//!   `portnet-embassy-net`, which users depend on), with this row's pool
//!   ([`RowStack`]);
//! - [`EmbassyNetHarness`], which runs embassy-net's `Runner`, the peer stack and
//!   the link next to each case.
//!
//! The driver stays here, not in the adapter's crate: a firmware brings its
//! own embassy-time driver, and a second one collides at link time. Where
//! embassy-net answers differently from the portnet contract, the adapter
//! passes the answer on; `docs/backends/embassy-net.md` lists the results.
//!
//! Only one `embassy-time` driver may be linked into a program: a binary that
//! links this module must not link another one.

#![allow(clippy::std_instead_of_core)]

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::task::Wake;
use core::cell::RefCell;
use core::fmt;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};

use portnet::future::{Either, join, select};
use portnet::{Clock, Instant};
use portnet_embassy_net::{EmbassyStack, Resources};
use portnet_links::{Faults, Limits, Link, Port, VirtualClock};
use portnet_smoltcp::sim::{A_V4, A_V6, B_V4, B_V6, SimStack};

use portnet_conformance::{Family, Harness};

// ---------------------------------------------------------------------------
// The embassy-time driver over the virtual clock.

std::thread_local! {
    /// The virtual clock of the harness on this thread.
    static CLOCK: RefCell<Option<VirtualClock>> = const { RefCell::new(None) };
}

/// Makes `clock` the time of embassy-net on this thread.
fn use_clock(clock: &VirtualClock) {
    CLOCK.with_borrow_mut(|current| *current = Some(clock.clone()));
}

/// embassy-time's driver: the calling thread's [`VirtualClock`], one tick per
/// microsecond (embassy-time's default tick rate, as the clock counts).
struct VirtualTimeDriver;

impl embassy_time_driver::Driver for VirtualTimeDriver {
    fn now(&self) -> u64 {
        CLOCK.with_borrow(|clock| clock.as_ref().map_or(0, |c| c.now().as_micros()))
    }

    fn schedule_wake(&self, at: u64, waker: &Waker) {
        CLOCK.with_borrow(|clock| match clock {
            Some(clock) => clock.wake_at(Instant::from_micros(at), waker),
            // No clock on this thread: time stands still at zero, so every
            // deadline is in the future; waking at once keeps callers polling
            // instead of sleeping forever.
            None => waker.wake_by_ref(),
        });
    }
}

const _: () = assert!(embassy_time_driver::TICK_HZ == 1_000_000);

// The macro defines the two `#[unsafe(no_mangle)]` functions through which
// embassy-time finds its driver; no unsafe operation is involved.
#[allow(unsafe_code)]
mod driver {
    embassy_time_driver::time_driver_impl!(static DRIVER: super::VirtualTimeDriver = super::VirtualTimeDriver);
}

// ---------------------------------------------------------------------------
// The adapter's sizes in this row.

/// TCP sockets in the adapter's pool.
pub const TCP_SOCKETS: usize = 8;
/// Bytes of buffer each way per TCP socket.
pub const TCP_BUFFER: usize = 16 * 1024;
/// UDP sockets in the adapter's pool.
pub const UDP_SOCKETS: usize = 4;
/// Bytes of buffer each way per UDP socket.
pub const UDP_BUFFER: usize = 8 * 1024;
/// Datagrams queued each way per UDP socket.
pub const UDP_PACKETS: usize = 16;
/// Polls after which a case counts as a busy loop (a bulk transfer of the
/// suite takes about a tenth of this).
pub const POLL_LIMIT: u64 = 3_000_000;
/// Sockets a listener keeps accepting at once.
pub const LISTEN_BACKLOG: usize = portnet_embassy_net::LISTEN_BACKLOG;

/// The stack under test: the adapter with this row's pool.
pub type RowStack = EmbassyStack<'static, TCP_SOCKETS, UDP_SOCKETS>;

/// This row's pool: the buffers of [`RowStack`].
type RowResources = Resources<TCP_SOCKETS, UDP_SOCKETS, TCP_BUFFER, UDP_BUFFER, UDP_PACKETS>;

// ---------------------------------------------------------------------------
// The harness.

/// A future polled only when its own waker was woken (and on the first poll).
///
/// Its waker stays the same object while the task's waker does: embassy-net's
/// waker registrations wake the previous waker when given a different one.
struct WokenOnly<F> {
    future: Pin<Box<F>>,
    woken: Arc<AtomicBool>,
    /// The task's waker, and this future's waker made from it.
    wakers: Option<(Waker, Waker)>,
}

impl<F: Future> WokenOnly<F> {
    fn new(future: F) -> Self {
        Self {
            future: Box::pin(future),
            woken: Arc::new(AtomicBool::new(true)),
            wakers: None,
        }
    }
}

/// The waker of a [`WokenOnly`]: marks it, then wakes the task.
struct Mark {
    woken: Arc<AtomicBool>,
    task: Waker,
}

impl Wake for Mark {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        self.task.wake_by_ref();
    }
}

impl<F: Future> Future for WokenOnly<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        if !self.woken.swap(false, Ordering::AcqRel) {
            return Poll::Pending;
        }
        let this = &mut *self;
        let current = this
            .wakers
            .as_ref()
            .is_some_and(|(task, _)| task.will_wake(cx.waker()));
        if !current {
            let mark = Waker::from(Arc::new(Mark {
                woken: this.woken.clone(),
                task: cx.waker().clone(),
            }));
            this.wakers = Some((cx.waker().clone(), mark));
        }
        let Some((_, mark)) = &this.wakers else {
            return Poll::Pending;
        };
        this.future.as_mut().poll(&mut Context::from_waker(mark))
    }
}

/// embassy-net at 10.0.0.1 / fd00::1 on side 0 of a clean in-memory link, with
/// portnet's smoltcp backend at 10.0.0.2 / fd00::2 on side 1 as its peer, in
/// virtual time: what a row on embassy-net stands on, whichever layer above
/// embassy-net it judges (this crate's `embassy-net` and `edge-nal-embassy`
/// rows).
pub struct EmbassyRig {
    clock: VirtualClock,
    link: &'static Link<VirtualClock>,
    net: embassy_net::Stack<'static>,
    runner: RefCell<embassy_net::Runner<'static, Port<VirtualClock>>>,
    peer: &'static SimStack,
}

impl fmt::Debug for EmbassyRig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyRig")
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

/// embassy-net's configuration: the static addresses of side `a`.
fn embassy_config() -> embassy_net::Config {
    let mut config = embassy_net::Config::ipv4_static(embassy_net::StaticConfigV4 {
        address: embassy_net::Ipv4Cidr::new(A_V4, 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    config.ipv6 = embassy_net::ConfigV6::Static(embassy_net::StaticConfigV6 {
        address: embassy_net::Ipv6Cidr::new(A_V6, 64),
        gateway: None,
        dns_servers: Default::default(),
    });
    config
}

impl Default for EmbassyRig {
    fn default() -> Self {
        let seed = crate::smoltcp::link_seed();
        let clock = VirtualClock::new();
        use_clock(&clock);
        // A rig lives as long as a test case: its link and buffers are leaked.
        let link: &'static Link<VirtualClock> =
            Box::leak(Box::new(Link::new(clock.clone(), Faults::NONE, seed)));
        let resources: &'static mut embassy_net::StackResources<16> =
            Box::leak(Box::new(embassy_net::StackResources::new()));
        let (net, runner) = embassy_net::new(
            link.port(0, [0x02, 0, 0, 0, 0, 0x01]),
            embassy_config(),
            resources,
            seed ^ 0xa,
        );
        let peer = portnet_smoltcp::sim::leak_stack(
            link.port(1, [0x02, 0, 0, 0, 0, 0x02]),
            clock.clone(),
            portnet_smoltcp::sim::config(B_V4, B_V6, seed ^ 0xb, LISTEN_BACKLOG),
        );
        Self {
            clock,
            link,
            net,
            runner: RefCell::new(runner),
            peer,
        }
    }
}

impl EmbassyRig {
    /// embassy-net's stack, on side 0 of the link (16 sockets in its set).
    pub fn net(&self) -> embassy_net::Stack<'static> {
        self.net
    }

    /// The peer: portnet's smoltcp backend on side 1.
    pub fn peer(&self) -> &'static SimStack {
        self.peer
    }

    /// The link's virtual clock.
    pub fn clock(&self) -> &VirtualClock {
        &self.clock
    }

    /// The address of embassy-net's side.
    pub fn stack_ip(family: Family) -> IpAddr {
        match family {
            Family::V4 => A_V4.into(),
            Family::V6 => A_V6.into(),
        }
    }

    /// The address of the peer's side.
    pub fn peer_ip(family: Family) -> IpAddr {
        match family {
            Family::V4 => B_V4.into(),
            Family::V6 => B_V6.into(),
        }
    }

    /// On the link's subnet, but no station answers for it.
    pub fn black_hole() -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 99)), 9)
    }

    /// Runs `future` next to embassy-net's runner, the peer and the link, in
    /// the link's virtual time; panics when the simulation stalls.
    pub fn run<F: Future>(&self, future: F) -> F::Output {
        use_clock(&self.clock);
        let mut runner = self.runner.borrow_mut();
        // Each part is polled only when its own waker fired: every socket call
        // of embassy-net wakes its runner, so a case and the runner polled
        // together on every wake-up would wake each other forever.
        let drivers = join(
            Box::pin(join(
                Box::pin(WokenOnly::new(runner.run())),
                Box::pin(WokenOnly::new(self.peer.run())),
            )),
            Box::pin(WokenOnly::new(self.link.run())),
        );
        let both = select(WokenOnly::new(future), drivers);
        // The default limit of polls takes minutes to reach; a case here needs
        // far fewer polls than this, so reaching it means a busy loop.
        let limits = Limits {
            polls: POLL_LIMIT,
            ..Limits::default()
        };
        match self.clock.run(both, limits) {
            Ok(Either::Left(output)) => output,
            Ok(Either::Right(_)) => unreachable!("the runners never return"),
            Err(stall) => panic!(
                "the simulation stalled: {stall}, at virtual time {} ms (link seed {}, {:?})",
                self.clock.now().as_millis(),
                self.link.seed(),
                self.link.stats()
            ),
        }
    }
}

/// The adapter `portnet-embassy-net` on an [`EmbassyRig`]: the `embassy-net` row.
pub struct EmbassyNetHarness {
    rig: EmbassyRig,
    stack: RowStack,
}

impl fmt::Debug for EmbassyNetHarness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyNetHarness")
            .field("rig", &self.rig)
            .field("stack", &self.stack)
            .finish_non_exhaustive()
    }
}

impl Default for EmbassyNetHarness {
    fn default() -> Self {
        let rig = EmbassyRig::default();
        // A harness lives as long as a test case: its buffers are leaked.
        let stack = EmbassyStack::new(rig.net(), Box::leak(Box::new(RowResources::new())));
        Self { rig, stack }
    }
}

impl EmbassyNetHarness {
    /// The stack under test.
    pub fn stack(&self) -> &RowStack {
        &self.stack
    }
}

impl Harness for EmbassyNetHarness {
    type Connect = RowStack;
    type Listen = RowStack;
    type Udp = RowStack;
    type Dns = portnet_conformance::Missing;
    type Peer = SimStack;
    type Clock = VirtualClock;

    fn connector(&self) -> Option<&RowStack> {
        Some(&self.stack)
    }
    fn listener(&self) -> Option<&RowStack> {
        Some(&self.stack)
    }
    fn udp(&self) -> Option<&RowStack> {
        Some(&self.stack)
    }
    fn peer(&self) -> &SimStack {
        self.rig.peer()
    }
    fn clock(&self) -> &VirtualClock {
        self.rig.clock()
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        Some(EmbassyRig::stack_ip(family))
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        Some(EmbassyRig::peer_ip(family))
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        Some(EmbassyRig::black_hole())
    }
    fn open_sockets(&self) -> Option<usize> {
        Some(self.stack.sockets_in_use())
    }
    fn listen_pool(&self) -> usize {
        LISTEN_BACKLOG
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        self.rig.run(future)
    }
}
