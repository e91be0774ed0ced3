//! An in-memory Ethernet link between two ports, with seeded fault injection.
//!
//! Each [`Port`] is an `embassy_net_driver::Driver`, so any stack that runs on a
//! network device (portnet's smoltcp backend, embassy-net) runs on it. Frames
//! travel through the link's [`Faults`]: loss, duplication, reordering,
//! corruption, delay and a bandwidth limit, each drawn from one seeded generator
//! so a failing run is replayed exactly from its seed. Delivery happens on the
//! link's clock, driven by [`Link::run`], which must be polled alongside the
//! stacks.

use alloc::collections::VecDeque;
use alloc::rc::Rc;
use core::cell::RefCell;
use core::fmt;
use core::future::poll_fn;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};
use portnet::future::{Either, select};
use portnet::{Clock, Instant};

use crate::rng::SplitMix64;

/// The largest Ethernet frame the link carries (no FCS): 1500 bytes of payload
/// plus the 14-byte header.
pub const MAX_FRAME: usize = 1514;

/// What the link does to frames. Probabilities are in `0.0..=1.0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// Chance that a frame is dropped.
    pub loss: f64,
    /// Chance that a frame is delivered twice.
    pub duplicate: f64,
    /// Chance that one byte of a frame is flipped (the stack's checksums must
    /// catch it).
    pub corrupt: f64,
    /// Chance that a frame is held back by up to `reorder_delay`, so later frames
    /// overtake it.
    pub reorder: f64,
    /// How far a reordered frame is held back at most.
    pub reorder_delay: Duration,
    /// One-way delay of every frame.
    pub latency: Duration,
    /// Random extra delay, uniform in `0..=jitter`; frames keep their order unless
    /// reordered.
    pub jitter: Duration,
    /// Bytes per second each way; `None` for no limit.
    pub bandwidth: Option<u64>,
    /// Frames waiting for delivery each way; more are dropped, as by a full switch
    /// queue.
    pub queue: usize,
    /// Whether UDP datagrams pass untouched (and undelayed). UDP does not
    /// recover from loss by design, so tests of UDP semantics over an
    /// otherwise faulty link spare it.
    pub spare_udp: bool,
}

impl Faults {
    /// A perfect link: no loss, no delay, no limit beyond a 1024-frame queue.
    pub const NONE: Self = Self {
        loss: 0.0,
        duplicate: 0.0,
        corrupt: 0.0,
        reorder: 0.0,
        reorder_delay: Duration::ZERO,
        latency: Duration::ZERO,
        jitter: Duration::ZERO,
        bandwidth: None,
        queue: 1024,
        spare_udp: false,
    };

    /// A bad link: 2 % loss, 1 % duplication, 1 % corruption, 2 % reordering,
    /// 2 ms ± 1 ms delay, 10 MB/s.
    pub const LOSSY: Self = Self {
        loss: 0.02,
        duplicate: 0.01,
        corrupt: 0.01,
        reorder: 0.02,
        reorder_delay: Duration::from_millis(5),
        latency: Duration::from_millis(2),
        jitter: Duration::from_millis(1),
        bandwidth: Some(10_000_000),
        queue: 256,
        spare_udp: false,
    };

    /// This, except that UDP datagrams pass untouched.
    pub const fn sparing_udp(self) -> Self {
        Self {
            spare_udp: true,
            ..self
        }
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self::NONE
    }
}

/// What a link did, counted over both directions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Frames handed to the link by a port.
    pub sent: u64,
    /// Frames handed by the link to a port.
    pub delivered: u64,
    /// Frames dropped by loss.
    pub lost: u64,
    /// Extra copies delivered.
    pub duplicated: u64,
    /// Frames with a flipped byte.
    pub corrupted: u64,
    /// Frames held back for reordering.
    pub reordered: u64,
    /// Frames dropped because the queue was full.
    pub overflowed: u64,
    /// Frames dropped because they were larger than [`MAX_FRAME`].
    pub oversized: u64,
}

impl LinkStats {
    /// Faults injected in all.
    pub fn faults(&self) -> u64 {
        self.lost + self.duplicated + self.corrupted + self.reordered
    }
}

/// A frame on its way, due at `at`.
struct InFlight {
    at: Instant,
    frame: Vec<u8>,
}

/// One direction of the link: the frames on their way to one port.
#[derive(Default)]
struct Lane {
    /// Sorted by due time.
    in_flight: VecDeque<InFlight>,
    /// When the sending side's serialisation is free again (bandwidth limit).
    busy_until: Instant,
    /// The latest due time given to an in-order frame, so jitter does not reorder.
    last_due: Instant,
    /// The receiving port's waker.
    receiver: Option<Waker>,
}

struct Shared<C> {
    clock: C,
    state: RefCell<State>,
}

struct State {
    faults: Faults,
    rng: SplitMix64,
    lanes: [Lane; 2],
    stats: LinkStats,
    /// The waker of [`Link::run`], woken when a frame enters a lane.
    runner: Option<Waker>,
}

/// An in-memory Ethernet link with two ports, 0 and 1.
pub struct Link<C> {
    shared: Rc<Shared<C>>,
    seed: u64,
}

impl<C> fmt::Debug for Link<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.shared.state.borrow();
        f.debug_struct("Link")
            .field("seed", &self.seed)
            .field("faults", &state.faults)
            .field("stats", &state.stats)
            .finish()
    }
}

impl<C: Clock> Link<C> {
    /// A link on `clock` with `faults` drawn from `seed`.
    pub fn new(clock: C, faults: Faults, seed: u64) -> Self {
        Self {
            shared: Rc::new(Shared {
                clock,
                state: RefCell::new(State {
                    faults,
                    rng: SplitMix64::new(seed),
                    lanes: [Lane::default(), Lane::default()],
                    stats: LinkStats::default(),
                    runner: None,
                }),
            }),
            seed,
        }
    }

    /// The seed the faults are drawn from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// What the link has done so far.
    pub fn stats(&self) -> LinkStats {
        self.shared.state.borrow().stats
    }

    /// Changes the faults from now on (frames on their way keep theirs).
    pub fn set_faults(&self, faults: Faults) {
        self.shared.state.borrow_mut().faults = faults;
    }

    /// The port at one end (`side` 0 or 1), with its MAC address.
    ///
    /// # Panics
    ///
    /// If `side` is not 0 or 1.
    pub fn port(&self, side: usize, mac: [u8; 6]) -> Port<C> {
        assert!(side < 2, "a link has ports 0 and 1");
        Port {
            shared: self.shared.clone(),
            side,
            mac,
        }
    }

    /// Delivers frames when they are due. Never returns; poll it alongside the
    /// stacks on the link.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: frames wait in the link until it runs again.
    pub async fn run(&self) {
        loop {
            let next_due = poll_fn(|cx| self.poll_due(cx)).await;
            let new_frame = pin!(poll_fn(|cx| self.poll_new_frame(cx)));
            if next_due == Instant::NEVER {
                new_frame.await;
            } else {
                let due = pin!(self.shared.clock.sleep_until(next_due));
                let (Either::Left(()) | Either::Right(())) = select(new_frame, due).await;
            }
        }
    }

    /// Wakes the ports whose frames are due; returns the next due time.
    fn poll_due(&self, cx: &mut Context<'_>) -> Poll<Instant> {
        let now = self.shared.clock.now();
        let mut state = self.shared.state.borrow_mut();
        let mut next = Instant::NEVER;
        for lane in &mut state.lanes {
            if let Some(first) = lane.in_flight.front() {
                if first.at <= now {
                    if let Some(waker) = lane.receiver.take() {
                        waker.wake();
                    }
                } else {
                    next = next.min(first.at);
                }
            }
        }
        state.runner = Some(cx.waker().clone());
        Poll::Ready(next)
    }

    /// Ready once a port has put a frame on the link since the last call.
    fn poll_new_frame(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.shared.state.borrow_mut();
        match &state.runner {
            // `send` takes the waker when it queues a frame.
            None => Poll::Ready(()),
            Some(_) => {
                state.runner = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl State {
    /// Puts `frame` from port `from` on the link at `now`, through the faults.
    fn send(&mut self, now: Instant, from: usize, mut frame: Vec<u8>) {
        self.stats.sent += 1;
        if frame.len() > MAX_FRAME {
            self.stats.oversized += 1;
            return;
        }
        let faults = if self.faults.spare_udp && is_udp(&frame) {
            Faults {
                queue: self.faults.queue,
                ..Faults::NONE
            }
        } else {
            self.faults
        };
        if self.rng.chance(faults.loss) {
            self.stats.lost += 1;
            return;
        }
        if !frame.is_empty() && self.rng.chance(faults.corrupt) {
            let at = self.rng.below(frame.len() as u64) as usize;
            let bit = 1u8 << self.rng.below(8);
            frame[at] ^= bit;
            self.stats.corrupted += 1;
        }
        let copies = if self.rng.chance(faults.duplicate) {
            self.stats.duplicated += 1;
            2
        } else {
            1
        };
        let reorder = self.rng.chance(faults.reorder);
        let jitter = self.rng.duration_up_to(faults.jitter);
        let hold_back = if reorder {
            self.stats.reordered += 1;
            self.rng.duration_up_to(faults.reorder_delay)
        } else {
            Duration::ZERO
        };
        let lane = &mut self.lanes[1 - from];
        if lane.in_flight.len() + copies > faults.queue {
            self.stats.overflowed += 1;
            return;
        }
        let on_wire = match faults.bandwidth {
            Some(bytes_per_second) if bytes_per_second > 0 => {
                Duration::from_micros((frame.len() as u64 * 1_000_000).div_ceil(bytes_per_second))
            }
            _ => Duration::ZERO,
        };
        let start = lane.busy_until.max(now);
        lane.busy_until = start + on_wire;
        let mut due = lane.busy_until + faults.latency + jitter;
        if reorder {
            due = due + hold_back;
        } else {
            // In-order frames never overtake each other, whatever their jitter.
            due = due.max(lane.last_due);
            lane.last_due = due;
        }
        for copy in 0..copies {
            let frame = if copy + 1 == copies {
                core::mem::take(&mut frame)
            } else {
                frame.clone()
            };
            let at = due + Duration::from_micros(copy as u64);
            let index = lane.in_flight.partition_point(|f| f.at <= at);
            lane.in_flight.insert(index, InFlight { at, frame });
        }
        if let Some(waker) = self.runner.take() {
            waker.wake();
        }
    }
}

/// Whether an Ethernet frame carries a UDP datagram (IPv4 or IPv6 without
/// extension headers).
fn is_udp(frame: &[u8]) -> bool {
    const UDP: u8 = 17;
    match frame.get(12..14) {
        Some([0x08, 0x00]) => frame.get(14 + 9) == Some(&UDP),
        Some([0x86, 0xdd]) => frame.get(14 + 6) == Some(&UDP),
        _ => false,
    }
}

/// One end of a [`Link`]: a network device for a stack.
pub struct Port<C> {
    shared: Rc<Shared<C>>,
    side: usize,
    mac: [u8; 6],
}

impl<C> fmt::Debug for Port<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Port")
            .field("side", &self.side)
            .field("mac", &self.mac)
            .finish()
    }
}

/// A received frame.
#[derive(Debug)]
pub struct RxToken {
    frame: Vec<u8>,
}

impl embassy_net_driver::RxToken for RxToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.frame)
    }
}

/// Room for a frame to send.
pub struct TxToken<'a, C> {
    port: &'a Port<C>,
}

impl<C> fmt::Debug for TxToken<'_, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TxToken")
            .field("side", &self.port.side)
            .finish()
    }
}

impl<C: Clock> embassy_net_driver::TxToken for TxToken<'_, C> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let result = f(&mut frame);
        let shared = &self.port.shared;
        let now = shared.clock.now();
        shared.state.borrow_mut().send(now, self.port.side, frame);
        result
    }
}

impl<C: Clock> Driver for Port<C> {
    type RxToken<'a>
        = RxToken
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, C>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(RxToken, TxToken<'_, C>)> {
        let frame = {
            let now = self.shared.clock.now();
            let mut state = self.shared.state.borrow_mut();
            let lane = &mut state.lanes[self.side];
            match lane.in_flight.front() {
                Some(first) if first.at <= now => lane.in_flight.pop_front().map(|f| f.frame),
                _ => {
                    lane.receiver = Some(cx.waker().clone());
                    None
                }
            }
        }?;
        self.shared.state.borrow_mut().stats.delivered += 1;
        Some((RxToken { frame }, TxToken { port: self }))
    }

    fn transmit(&mut self, _cx: &mut Context<'_>) -> Option<TxToken<'_, C>> {
        // The link always takes a frame; a full queue drops it, as a switch would.
        Some(TxToken { port: self })
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut capabilities = Capabilities::default();
        capabilities.max_transmission_unit = MAX_FRAME;
        capabilities
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
