//! [`RemoteHarness`]: the suite inside firmware (or anywhere the peer cannot
//! live), with a [`RemotePeer`] as the peer, and the line protocol that reports
//! each case to the host.

use alloc::boxed::Box;
use core::cell::RefCell;
use core::fmt;
use core::future::{Future, poll_fn};
use core::net::{IpAddr, SocketAddr};
use core::pin::Pin;
use core::task::Poll;

use portnet::{Clock, TcpConnect, TcpListen, UdpBind};

use super::{LinkError, RemotePeer};
use crate::{BlockOn, Family, Harness, Mode, Outcome, cases, default_seed};

/// The addresses of the stack under test and of the peer, per family.
#[derive(Debug, Clone, Copy, Default)]
pub struct Addresses {
    /// The stack's IPv4 address.
    pub stack_v4: Option<IpAddr>,
    /// The peer's IPv4 address.
    pub peer_v4: Option<IpAddr>,
    /// The stack's IPv6 address.
    pub stack_v6: Option<IpAddr>,
    /// The peer's IPv6 address.
    pub peer_v6: Option<IpAddr>,
}

type Background = Pin<Box<dyn Future<Output = LinkError>>>;

/// A stack under test with a [`RemotePeer`]: what firmware builds to run the
/// suite on its own stack.
///
/// `background` is polled alongside every case and between none: the peer's
/// driver (and the stack's runner, if it has one) joined into one future that
/// ends only when the link to the agent fails.
pub struct RemoteHarness<S: 'static, C: 'static, E> {
    stack: &'static S,
    clock: &'static C,
    peer: RemotePeer,
    background: RefCell<Option<Background>>,
    executor: E,
    addresses: Addresses,
    open_sockets: Option<fn(&S) -> usize>,
    black_hole: Option<SocketAddr>,
    patience: u32,
    bulk_bytes: usize,
    listen_pool: usize,
}

impl<S, C, E> fmt::Debug for RemoteHarness<S, C, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteHarness")
            .field("addresses", &self.addresses)
            .field("patience", &self.patience)
            .field("bulk_bytes", &self.bulk_bytes)
            .finish_non_exhaustive()
    }
}

impl<S, C, E> RemoteHarness<S, C, E>
where
    S: TcpConnect + TcpListen + UdpBind,
    C: Clock,
    E: BlockOn,
{
    /// The stack under test, its clock, the peer, the future that drives the
    /// peer's link (and the stack), the executor and the addresses.
    pub fn new(
        stack: &'static S,
        clock: &'static C,
        peer: RemotePeer,
        background: impl Future<Output = LinkError> + 'static,
        executor: E,
        addresses: Addresses,
    ) -> Self {
        Self {
            stack,
            clock,
            peer,
            background: RefCell::new(Some(Box::pin(background))),
            executor,
            addresses,
            open_sockets: None,
            black_hole: None,
            patience: 1,
            bulk_bytes: 1 << 20,
            listen_pool: 4,
        }
    }

    /// Counts the stack's open sockets, for the leak checks.
    #[must_use]
    pub fn with_open_sockets(mut self, count: fn(&S) -> usize) -> Self {
        self.open_sockets = Some(count);
        self
    }

    /// See [`Harness::black_hole`].
    #[must_use]
    pub fn with_black_hole(mut self, addr: SocketAddr) -> Self {
        self.black_hole = Some(addr);
        self
    }

    /// See [`Harness::patience`].
    #[must_use]
    pub fn with_patience(mut self, patience: u32) -> Self {
        self.patience = patience;
        self
    }

    /// See [`Harness::bulk_bytes`].
    #[must_use]
    pub fn with_bulk_bytes(mut self, bytes: usize) -> Self {
        self.bulk_bytes = bytes;
        self
    }

    /// See [`Harness::listen_pool`].
    #[must_use]
    pub fn with_listen_pool(mut self, pool: usize) -> Self {
        self.listen_pool = pool;
        self
    }
}

impl<S, C, E> Harness for RemoteHarness<S, C, E>
where
    S: TcpConnect + TcpListen + UdpBind,
    C: Clock,
    E: BlockOn,
{
    type Connect = S;
    type Listen = S;
    type Udp = S;
    type Dns = crate::Missing;
    type Peer = RemotePeer;
    type Clock = C;

    fn connector(&self) -> Option<&S> {
        Some(self.stack)
    }
    fn listener(&self) -> Option<&S> {
        Some(self.stack)
    }
    fn udp(&self) -> Option<&S> {
        Some(self.stack)
    }
    fn peer(&self) -> &RemotePeer {
        &self.peer
    }
    fn clock(&self) -> &C {
        self.clock
    }
    fn stack_ip(&self, family: Family) -> Option<IpAddr> {
        match family {
            Family::V4 => self.addresses.stack_v4,
            Family::V6 => self.addresses.stack_v6,
        }
    }
    fn peer_ip(&self, family: Family) -> Option<IpAddr> {
        match family {
            Family::V4 => self.addresses.peer_v4,
            Family::V6 => self.addresses.peer_v6,
        }
    }
    fn black_hole(&self) -> Option<SocketAddr> {
        self.black_hole
    }
    fn open_sockets(&self) -> Option<usize> {
        self.open_sockets.map(|count| count(self.stack))
    }
    fn listen_pool(&self) -> usize {
        self.listen_pool
    }
    fn patience(&self) -> u32 {
        self.patience
    }
    fn bulk_bytes(&self) -> usize {
        self.bulk_bytes
    }
    fn run<F: Future>(&self, future: F) -> F::Output {
        let mut background = self.background.borrow_mut();
        let mut future = Box::pin(future);
        self.executor.block_on(poll_fn(|cx| {
            if let Some(link) = background.as_mut()
                && let Poll::Ready(_) = link.as_mut().poll(cx)
            {
                // The link is gone; the peer's operations fail from now on,
                // and the cases that need it with them.
                *background = None;
            }
            future.as_mut().poll(cx)
        }))
    }
}

/// The first word of every line of the report.
pub const LINE_PREFIX: &str = "portnet-conformance";

/// Runs every case whose id contains `filter`, plainly and adversarially, on one
/// harness, and reports each as a line through `emit`:
///
/// ```text
/// portnet-conformance begin <cases>
/// portnet-conformance case <plain|chaos> <id> pass
/// portnet-conformance case <plain|chaos> <id> fail <detail>
/// portnet-conformance case <plain|chaos> <id> skip <capability>
/// portnet-conformance end <passed> <failed> <skipped>
/// ```
///
/// Returns the number of failures. The adversarial seed of a case is
/// [`default_seed`] of its id, as in the runner.
pub fn run_and_report<H: Harness>(
    harness: &H,
    filter: &str,
    emit: impl FnMut(fmt::Arguments<'_>),
) -> usize {
    let all = cases::all::<H>().map(Some);
    report(harness, &all, filter, emit)
}

/// As [`run_and_report`], for the cases of part `PART` of `PARTS` only
/// ([`cases::part`]): firmware whose flash cannot hold the whole suite is
/// built once per part, and only that part's cases are linked into it. The
/// report has the same lines; `begin` counts the part's cases.
pub fn run_and_report_part<H: Harness, const PART: usize, const PARTS: usize>(
    harness: &H,
    filter: &str,
    emit: impl FnMut(fmt::Arguments<'_>),
) -> usize {
    report(harness, &cases::part::<H, PART, PARTS>(), filter, emit)
}

fn report<H: Harness>(
    harness: &H,
    cases: &[Option<crate::Case<H>>],
    filter: &str,
    mut emit: impl FnMut(fmt::Arguments<'_>),
) -> usize {
    let selected = || cases.iter().flatten().filter(|c| c.id.contains(filter));
    emit(format_args!("{LINE_PREFIX} begin {}", selected().count()));
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for case in selected() {
        for (mode, name) in [
            (Mode::Plain, "plain"),
            (
                Mode::Adversarial {
                    seed: default_seed(case.id),
                },
                "chaos",
            ),
        ] {
            let id = case.id;
            match (case.run)(harness, mode) {
                Outcome::Pass => {
                    passed += 1;
                    emit(format_args!("{LINE_PREFIX} case {name} {id} pass"));
                }
                Outcome::Fail(detail) => {
                    failed += 1;
                    emit(format_args!("{LINE_PREFIX} case {name} {id} fail {detail}"));
                }
                Outcome::Skip(capability) => {
                    skipped += 1;
                    emit(format_args!(
                        "{LINE_PREFIX} case {name} {id} skip {capability}"
                    ));
                }
            }
        }
    }
    emit(format_args!(
        "{LINE_PREFIX} end {passed} {failed} {skipped}"
    ));
    failed
}
