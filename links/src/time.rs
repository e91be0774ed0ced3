//! Virtual time: a clock that only moves when everything waits, and the executor
//! that moves it.
//!
//! Simulated networks run in virtual time so that a retransmission timeout of
//! seconds costs no wall time and a run is the same on a loaded machine as on an
//! idle one. [`VirtualClock::run`] polls a future until it is ready; whenever the
//! future and everything it drives are waiting, it jumps the clock to the earliest
//! deadline any sleep is waiting for.

use alloc::rc::Rc;
use alloc::sync::Arc;
use alloc::task::Wake;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::Future;
use core::pin::{Pin, pin};
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use portnet::{Clock, Instant};

/// A clock whose time advances only when [`VirtualClock::run`] finds nothing to do.
///
/// Clones share one time line. Not `Send`: a simulation runs on one thread.
#[derive(Clone, Default)]
pub struct VirtualClock {
    shared: Rc<Shared>,
}

#[derive(Default)]
struct Shared {
    now: Cell<u64>,
    next_id: Cell<u64>,
    /// Pending sleeps: id, deadline in microseconds, waker.
    sleepers: RefCell<Vec<(u64, u64, Waker)>>,
    /// Alarms set with [`VirtualClock::wake_at`]: deadline in microseconds, waker.
    alarms: RefCell<Vec<(u64, Waker)>>,
    /// Live [`Hold`]s: while there are any, [`VirtualClock::run`] waits in real
    /// time for a wake-up before it advances.
    holds: Cell<usize>,
}

/// Keeps a [`VirtualClock`] from jumping ahead while the simulation waits for
/// something outside it (a real process over real sockets): see
/// [`VirtualClock::hold`]. Released when dropped.
#[derive(Debug)]
pub struct Hold {
    shared: Rc<Shared>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        self.shared.holds.set(self.shared.holds.get() - 1);
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("holds", &self.holds.get())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for VirtualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VirtualClock")
            .field("now_micros", &self.shared.now.get())
            .field("sleepers", &self.shared.sleepers.borrow().len())
            .field("alarms", &self.shared.alarms.borrow().len())
            .finish()
    }
}

/// Why [`VirtualClock::run`] gave up on a future.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stall {
    /// Nothing was ready and no sleep was pending: the future can never finish.
    Deadlock {
        /// Virtual time when it happened.
        at: Instant,
    },
    /// The virtual time limit passed before the future finished.
    TimeLimit {
        /// The limit.
        limit: Duration,
    },
    /// The poll limit passed before the future finished (a busy loop).
    PollLimit {
        /// The limit.
        polls: u64,
    },
}

impl fmt::Display for Stall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Deadlock { at } => write!(
                f,
                "deadlock at virtual time {} ms: nothing ready and no timer pending",
                at.as_millis()
            ),
            Self::TimeLimit { limit } => {
                write!(f, "virtual time limit of {} s passed", limit.as_secs())
            }
            Self::PollLimit { polls } => write!(f, "poll limit of {polls} polls passed"),
        }
    }
}

impl core::error::Error for Stall {}

/// Bounds on one [`VirtualClock::run`].
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The most virtual time the run may take.
    pub time: Duration,
    /// The most times the future may be polled.
    pub polls: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: Duration::from_secs(3600),
            polls: 200_000_000,
        }
    }
}

/// The longest [`VirtualClock::run`] waits in real time for a wake-up while a
/// [`Hold`] lives, before it advances virtual time anyway.
pub const HOLD_PATIENCE: Duration = Duration::from_millis(200);

/// The waker of [`VirtualClock::run`]: a flag, set from any thread, which also
/// unparks the running thread (for a [`Hold`]).
struct Flag(AtomicBool, std::thread::Thread);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::Release);
        self.1.unpark();
    }
}

impl VirtualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `future` to completion, advancing virtual time whenever nothing is
    /// ready. Gives up with a [`Stall`] on a deadlock or past `limits`.
    pub fn run<F: Future>(&self, future: F, limits: Limits) -> Result<F::Output, Stall> {
        let flag = Arc::new(Flag(AtomicBool::new(true), std::thread::current()));
        let waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let start = self.now();
        let mut polls = 0u64;
        loop {
            if flag.0.swap(false, Ordering::AcqRel) {
                polls += 1;
                if polls > limits.polls {
                    return Err(Stall::PollLimit {
                        polls: limits.polls,
                    });
                }
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return Ok(output);
                }
                continue;
            }
            if self.shared.holds.get() > 0 && self.wait_real(&flag) {
                continue;
            }
            let Some(next) = self.advance() else {
                return Err(Stall::Deadlock { at: self.now() });
            };
            if next - start > limits.time {
                return Err(Stall::TimeLimit { limit: limits.time });
            }
        }
    }

    /// Keeps the clock still while the returned guard lives: when nothing is
    /// ready, [`VirtualClock::run`] first waits up to [`HOLD_PATIENCE`] of real time
    /// for a wake-up (from any thread) and only then advances. For a simulation
    /// that waits for a real process, such as a broker on a loopback socket, so
    /// that its answer is not taken for a timeout.
    pub fn hold(&self) -> Hold {
        self.shared.holds.set(self.shared.holds.get() + 1);
        Hold {
            shared: self.shared.clone(),
        }
    }

    /// Waits in real time, at most [`HOLD_PATIENCE`], for `flag`; true if it was
    /// set.
    fn wait_real(&self, flag: &Flag) -> bool {
        let deadline = std::time::Instant::now() + HOLD_PATIENCE;
        // Bounded: each round parks until the deadline or a wake-up.
        for _ in 0..10_000 {
            if flag.0.load(Ordering::Acquire) {
                return true;
            }
            let now = std::time::Instant::now();
            if now >= deadline {
                return false;
            }
            std::thread::park_timeout(deadline - now);
        }
        flag.0.load(Ordering::Acquire)
    }

    /// Wakes `waker` once the clock reaches `deadline` (at once if it has), without
    /// a future: the primitive of timer queues that keep their own deadlines, such
    /// as an `embassy-time` driver. A waker that already has an alarm (by
    /// [`Waker::will_wake`]) keeps one, at the earlier of the two deadlines; an
    /// alarm wakes once and is then forgotten.
    pub fn wake_at(&self, deadline: Instant, waker: &Waker) {
        let deadline = deadline.as_micros();
        if deadline <= self.shared.now.get() {
            waker.wake_by_ref();
            return;
        }
        let mut alarms = self.shared.alarms.borrow_mut();
        match alarms.iter_mut().find(|(_, w)| w.will_wake(waker)) {
            Some((at, _)) => *at = (*at).min(deadline),
            None => alarms.push((deadline, waker.clone())),
        }
    }

    /// Jumps to the earliest pending deadline and wakes the sleeps and alarms that
    /// are due. Returns the new time, or `None` when nothing is pending.
    fn advance(&self) -> Option<Instant> {
        let due: Vec<Waker> = {
            let mut sleepers = self.shared.sleepers.borrow_mut();
            let mut alarms = self.shared.alarms.borrow_mut();
            let next = sleepers
                .iter()
                .map(|&(_, deadline, _)| deadline)
                .chain(alarms.iter().map(|&(deadline, _)| deadline))
                .min()?;
            self.shared.now.set(self.shared.now.get().max(next));
            let now = self.shared.now.get();
            let mut due = Vec::new();
            sleepers.retain(|(_, deadline, waker)| {
                let keep = *deadline > now;
                if !keep {
                    due.push(waker.clone());
                }
                keep
            });
            alarms.retain(|(deadline, waker)| {
                let keep = *deadline > now;
                if !keep {
                    due.push(waker.clone());
                }
                keep
            });
            due
        };
        for waker in due {
            waker.wake();
        }
        Some(self.now())
    }
}

impl Clock for VirtualClock {
    fn now(&self) -> Instant {
        Instant::from_micros(self.shared.now.get())
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        let id = self.shared.next_id.get();
        self.shared.next_id.set(id + 1);
        Sleep {
            shared: &self.shared,
            id,
            deadline: deadline.as_micros(),
        }
    }
}

/// A pending sleep on a [`VirtualClock`].
struct Sleep<'a> {
    shared: &'a Shared,
    id: u64,
    deadline: u64,
}

impl Future for Sleep<'_> {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.shared.now.get() >= self.deadline {
            return Poll::Ready(());
        }
        let mut sleepers = self.shared.sleepers.borrow_mut();
        match sleepers.iter_mut().find(|(id, _, _)| *id == self.id) {
            Some((_, _, waker)) => waker.clone_from(cx.waker()),
            None => sleepers.push((self.id, self.deadline, cx.waker().clone())),
        }
        Poll::Pending
    }
}

impl Drop for Sleep<'_> {
    fn drop(&mut self) {
        self.shared
            .sleepers
            .borrow_mut()
            .retain(|(id, _, _)| *id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portnet::future::join;

    #[test]
    fn sleeps_end_in_deadline_order_without_wall_time() {
        let clock = VirtualClock::new();
        let order = RefCell::new(Vec::new());
        let sleeper = |ms: u64| {
            let clock = &clock;
            let order = &order;
            Box::pin(async move {
                clock.sleep(Duration::from_millis(ms)).await;
                order.borrow_mut().push((ms, clock.now().as_millis()));
            })
        };
        let wall = std::time::Instant::now();
        clock
            .run(
                join(join(sleeper(3_000), sleeper(10)), sleeper(600_000)),
                Limits::default(),
            )
            .unwrap();
        assert_eq!(
            *order.borrow(),
            [(10, 10), (3_000, 3_000), (600_000, 600_000)]
        );
        assert!(wall.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn alarms_wake_once_at_the_earliest_deadline_of_their_waker() {
        let clock = VirtualClock::new();
        let woken = RefCell::new(Vec::new());
        let mut armed = false;
        let alarmed = core::future::poll_fn(|cx| {
            if !armed {
                armed = true;
                // The same waker twice: one alarm, at the earlier deadline.
                clock.wake_at(Instant::from_micros(5_000), cx.waker());
                clock.wake_at(Instant::from_micros(2_000), cx.waker());
                return Poll::Pending;
            }
            woken.borrow_mut().push(clock.now().as_micros());
            if woken.borrow().len() == 1 {
                // A deadline already passed wakes at once, without time moving.
                clock.wake_at(Instant::from_micros(1_000), cx.waker());
                return Poll::Pending;
            }
            Poll::Ready(())
        });
        clock.run(alarmed, Limits::default()).unwrap();
        assert_eq!(*woken.borrow(), [2_000, 2_000]);
        // Nothing is left behind: a run with no sleeper now deadlocks at once.
        let stalled = clock.run(core::future::pending::<()>(), Limits::default());
        assert_eq!(
            stalled,
            Err(Stall::Deadlock {
                at: Instant::from_micros(2_000)
            })
        );
    }

    #[test]
    fn a_future_that_can_never_finish_is_a_deadlock() {
        let clock = VirtualClock::new();
        let stalled = clock.run(core::future::pending::<()>(), Limits::default());
        assert_eq!(stalled, Err(Stall::Deadlock { at: Instant::ZERO }));
    }

    #[test]
    fn the_time_limit_stops_an_endless_timer_loop() {
        let clock = VirtualClock::new();
        let endless = async {
            loop {
                clock.sleep(Duration::from_secs(1)).await;
            }
        };
        let limits = Limits {
            time: Duration::from_secs(60),
            ..Limits::default()
        };
        assert!(matches!(
            clock.run(endless, limits),
            Err(Stall::TimeLimit { .. })
        ));
    }

    #[test]
    fn a_hold_waits_for_a_wake_from_outside_before_jumping() {
        use std::sync::Mutex;
        // Something outside the simulation (a thread standing in for a real
        // process) completes after a few real milliseconds. With a hold, the
        // clock waits for it instead of jumping to the pending one-second sleep;
        // without one, the sleep wins at once.
        for held in [true, false] {
            let clock = VirtualClock::new();
            let hold = held.then(|| clock.hold());
            let done = Arc::new(AtomicBool::new(false));
            let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
            let outside = {
                let (done, waker) = (done.clone(), waker.clone());
                std::thread::spawn(move || {
                    // The outside process's own latency, not a synchronisation.
                    std::thread::sleep(Duration::from_millis(20));
                    done.store(true, Ordering::Release);
                    if let Some(w) = waker.lock().unwrap().take() {
                        w.wake();
                    }
                })
            };
            let external = core::future::poll_fn(|cx| {
                *waker.lock().unwrap() = Some(cx.waker().clone());
                if done.load(Ordering::Acquire) {
                    Poll::Ready(true)
                } else {
                    Poll::Pending
                }
            });
            let timer = async {
                clock.sleep(Duration::from_secs(1)).await;
                false
            };
            let first = clock
                .run(
                    portnet::future::select(pin!(external), pin!(timer)),
                    Limits::default(),
                )
                .unwrap();
            let external_first = matches!(first, portnet::future::Either::Left(true));
            assert_eq!(external_first, held, "held {held}");
            drop(hold);
            outside.join().unwrap();
        }
    }
}
