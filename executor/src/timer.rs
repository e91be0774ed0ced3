//! A timer queue on a hardware alarm, and the `portnet::Clock` it provides.

use core::cell::{Cell, RefCell};
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use critical_section::{CriticalSection, Mutex};
use portnet::{Clock, Instant};

/// A board's monotonic counter with one compare alarm, in microseconds.
///
/// The board implements it on a hardware timer and calls [`Timer::on_alarm`] from that
/// timer's interrupt handler.
///
/// # Contract
///
/// - `now` must never go backwards and must not wrap within the device's lifetime (a
///   32-bit hardware counter is extended to 64 bits, e.g. by counting overflows).
/// - `set_alarm(at)` replaces any earlier alarm. It must return `false` without arming
///   if `at <= now()`: the caller then handles the deadline itself. When it returns
///   `true`, the board must call [`Timer::on_alarm`] at or after `at` (calling it
///   earlier, or more often, is harmless). An implementation must close the race
///   between its check and the arming, e.g. by reading `now` again after arming and
///   returning `false` (or pending the interrupt) if `at` has passed meanwhile.
/// - `set_alarm` is called inside a critical section (from tasks and from
///   `on_alarm`): it must not block and must not call back into the [`Timer`].
pub trait Alarm: Sync {
    /// Microseconds since the counter started.
    fn now(&self) -> u64;

    /// Arms the alarm for `at`; `false` if `at` has already passed.
    fn set_alarm(&self, at: u64) -> bool;
}

impl<A: Alarm + ?Sized> Alarm for &A {
    fn now(&self) -> u64 {
        (**self).now()
    }
    fn set_alarm(&self, at: u64) -> bool {
        (**self).set_alarm(at)
    }
}

/// One place in the timer queue: 16 bytes on a 32-bit target, where an enum of the
/// three states below would take 24.
///
/// - a waker: a sleep waits for `deadline`;
/// - no waker and deadline 0: the place is free (all zeros, so a `Timer` lives in
///   `.bss`);
/// - no waker and any other deadline: the alarm woke the sleep; the place stays its
///   own until it completes or drops. A sleep registers only while its deadline is
///   still ahead of `now`, so that deadline is never 0.
struct Entry {
    deadline: u64,
    waker: Option<Waker>,
}

impl Entry {
    /// The deadline of a free place: no registered sleep has it.
    const FREE_DEADLINE: u64 = 0;

    const fn free() -> Self {
        Self {
            deadline: Self::FREE_DEADLINE,
            waker: None,
        }
    }

    fn is_free(&self) -> bool {
        self.waker.is_none() && self.deadline == Self::FREE_DEADLINE
    }

    /// The deadline of a waiting sleep.
    fn waiting(&self) -> Option<u64> {
        self.waker.as_ref().map(|_| self.deadline)
    }
}

/// A timer queue of `N` places on an [`Alarm`]; it implements [`portnet::Clock`].
///
/// Declare it as a `static` (or keep it where every sleeping future can borrow it) and
/// call [`Timer::on_alarm`] from the alarm's interrupt handler. Each pending
/// [`Sleep`] holds one place; the alarm is always armed for the earliest deadline.
///
/// # A full queue
///
/// A sleep that finds no free place does not panic and does not fail: it wakes its
/// own task at once and returns `Pending`, so the executor polls it again on its next
/// round, until its deadline passes or a place frees up. Timing stays correct (a sleep
/// never completes early), but the executor does not idle while such a sleep is
/// pending, so size `N` for the number of concurrent sleeps; [`Timer::overflows`]
/// counts the polls that found the queue full.
pub struct Timer<A, const N: usize> {
    alarm: A,
    entries: Mutex<RefCell<[Entry; N]>>,
    overflows: Mutex<Cell<u32>>,
}

/// What `on_alarm` does next.
enum Step {
    Wake(Waker),
    Again,
    Done,
}

impl<A: Alarm, const N: usize> Timer<A, N> {
    /// A timer queue on `alarm`.
    pub const fn new(alarm: A) -> Self {
        const { assert!(N <= u16::MAX as usize, "a Timer has at most 65 535 places") };
        Self {
            alarm,
            entries: Mutex::new(RefCell::new([const { Entry::free() }; N])),
            overflows: Mutex::new(Cell::new(0)),
        }
    }

    /// The alarm.
    pub fn alarm(&self) -> &A {
        &self.alarm
    }

    /// The current time in microseconds.
    pub fn now_micros(&self) -> u64 {
        self.alarm.now()
    }

    /// How many times a sleep found the queue full (saturating).
    pub fn overflows(&self) -> u32 {
        critical_section::with(|cs| self.overflows.borrow(cs).get())
    }

    /// How many sleeps hold a place in the queue now.
    pub fn len(&self) -> usize {
        critical_section::with(|cs| {
            let entries = self.entries.borrow_ref(cs);
            entries.iter().filter(|e| !e.is_free()).count()
        })
    }

    /// Whether no sleep holds a place.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A future that completes at or after `deadline` (microseconds on this timer).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future gives its place in the queue back.
    pub fn sleep_until_micros(&self, deadline: u64) -> Sleep<'_, A, N> {
        Sleep {
            timer: self,
            deadline,
            place: None,
        }
    }

    /// Wakes every sleep whose deadline has passed and re-arms the alarm for the
    /// earliest remaining one. The board calls this from the alarm's interrupt
    /// handler; calling it at any other time is harmless.
    pub fn on_alarm(&self) {
        loop {
            let step = critical_section::with(|cs| {
                let now = self.alarm.now();
                let mut entries = self.entries.borrow_ref_mut(cs);
                for entry in entries.iter_mut() {
                    if entry.waiting().is_some_and(|deadline| deadline <= now)
                        && let Some(waker) = entry.waker.take()
                    {
                        // The place is now woken: it keeps its deadline, which is
                        // not `FREE_DEADLINE`.
                        return Step::Wake(waker);
                    }
                }
                drop(entries);
                if self.rearm(cs) {
                    Step::Done
                } else {
                    Step::Again
                }
            });
            match step {
                // Outside the critical section: a waker may run arbitrary code.
                Step::Wake(waker) => waker.wake(),
                Step::Again => {}
                Step::Done => return,
            }
        }
    }

    /// Arms the alarm for the earliest waiting deadline; `false` if that deadline
    /// has already passed (the caller must run `on_alarm`'s loop).
    fn rearm(&self, cs: CriticalSection<'_>) -> bool {
        // One pass with `u64::MAX` as "none" (`filter_map().min()` compiles to two
        // loops): a sleep until `u64::MAX` never fires, so it needs no alarm either.
        let entries = self.entries.borrow_ref(cs);
        let earliest = entries
            .iter()
            .fold(u64::MAX, |min, e| e.waiting().map_or(min, |d| d.min(min)));
        drop(entries);
        earliest == u64::MAX || self.alarm.set_alarm(earliest)
    }
}

impl<A: fmt::Debug, const N: usize> fmt::Debug for Timer<A, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer")
            .field("alarm", &self.alarm)
            .field("capacity", &N)
            .finish_non_exhaustive()
    }
}

use core::fmt;

impl<A: Alarm, const N: usize> Clock for Timer<A, N> {
    fn now(&self) -> Instant {
        Instant::from_micros(self.alarm.now())
    }

    /// See [`Clock::sleep_until`]; when the queue is full the sleep re-polls (see
    /// [`Timer`]).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future gives its place in the queue back.
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        self.sleep_until_micros(deadline.as_micros())
    }
}

/// The future of [`Timer::sleep_until_micros`] and of the timer's
/// [`Clock::sleep_until`].
///
/// # Cancel safety
///
/// Cancel safe: dropping it gives its place in the queue back.
#[must_use = "futures do nothing unless polled"]
pub struct Sleep<'a, A: Alarm, const N: usize> {
    timer: &'a Timer<A, N>,
    deadline: u64,
    /// Index of this sleep's place in the queue (a `u16` keeps the future 8 bytes
    /// smaller on a 32-bit target; `Timer::new` refuses more places).
    place: Option<u16>,
}

impl<A: Alarm, const N: usize> Sleep<'_, A, N> {
    /// The deadline, in microseconds.
    pub fn deadline(&self) -> u64 {
        self.deadline
    }

    fn release(&mut self) {
        if let Some(place) = self.place.take() {
            let old = critical_section::with(|cs| {
                core::mem::replace(
                    &mut self.timer.entries.borrow_ref_mut(cs)[usize::from(place)],
                    Entry::free(),
                )
            });
            drop(old);
        }
    }
}

impl<A: Alarm, const N: usize> Future for Sleep<'_, A, N> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let timer = this.timer;
        if timer.alarm.now() >= this.deadline {
            this.release();
            return Poll::Ready(());
        }
        let deadline = this.deadline;
        let (registered, replaced, armed) = critical_section::with(|cs| {
            let mut entries = timer.entries.borrow_ref_mut(cs);
            let place = this.place.or_else(|| {
                let free = entries.iter().position(Entry::is_free)?;
                u16::try_from(free).ok()
            });
            let mut replaced = None;
            if let Some(place) = place {
                this.place = Some(place);
                let entry = &mut entries[usize::from(place)];
                if !entry
                    .waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(cx.waker()))
                {
                    entry.deadline = deadline;
                    replaced = entry.waker.replace(cx.waker().clone());
                }
            } else {
                let overflows = timer.overflows.borrow(cs);
                overflows.set(overflows.get().saturating_add(1));
            }
            drop(entries);
            (place.is_some(), replaced, timer.rearm(cs))
        });
        // A replaced waker is dropped outside the critical section.
        drop(replaced);
        if !registered {
            // The queue is full: come back on the executor's next round.
            cx.waker().wake_by_ref();
        } else if !armed {
            // The earliest deadline (maybe ours) passed while we registered.
            timer.on_alarm();
        }
        Poll::Pending
    }
}

impl<A: Alarm, const N: usize> Drop for Sleep<'_, A, N> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<A: Alarm, const N: usize> fmt::Debug for Sleep<'_, A, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

/// A host [`Alarm`]: `std::time::Instant` for the counter and a thread that calls
/// [`Timer::on_alarm`] when the alarm is due (see [`Timer::start`]).
#[cfg(feature = "std")]
#[derive(Debug, Default)]
pub struct StdAlarm {
    epoch: std::sync::OnceLock<std::time::Instant>,
    state: std::sync::Mutex<StdAlarmState>,
    condvar: std::sync::Condvar,
}

#[cfg(feature = "std")]
#[derive(Debug, Default)]
struct StdAlarmState {
    at: Option<u64>,
    stopped: bool,
}

#[cfg(feature = "std")]
impl StdAlarm {
    /// An alarm whose epoch is its first use; `const`, so it can live in a `static`.
    pub const fn new() -> Self {
        Self {
            epoch: std::sync::OnceLock::new(),
            state: std::sync::Mutex::new(StdAlarmState {
                at: None,
                stopped: false,
            }),
            condvar: std::sync::Condvar::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, StdAlarmState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Calls `on_alarm` each time the alarm is due, until [`StdAlarm::stop`]: the body
    /// of the alarm thread (the host's "interrupt handler").
    pub fn run(&self, on_alarm: impl Fn()) {
        loop {
            let mut state = self.state();
            loop {
                if state.stopped {
                    return;
                }
                match state.at {
                    Some(at) => {
                        let now = self.now();
                        if now >= at {
                            state.at = None;
                            break;
                        }
                        let wait = core::time::Duration::from_micros(at - now);
                        state = self
                            .condvar
                            .wait_timeout(state, wait)
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .0;
                    }
                    None => {
                        state = self
                            .condvar
                            .wait(state)
                            .unwrap_or_else(std::sync::PoisonError::into_inner);
                    }
                }
            }
            drop(state);
            on_alarm();
        }
    }

    /// Makes [`StdAlarm::run`] return.
    pub fn stop(&self) {
        self.state().stopped = true;
        self.condvar.notify_all();
    }
}

#[cfg(feature = "std")]
impl Alarm for StdAlarm {
    fn now(&self) -> u64 {
        let epoch = self.epoch.get_or_init(std::time::Instant::now);
        u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    fn set_alarm(&self, at: u64) -> bool {
        let mut state = self.state();
        // Checked under the lock the alarm thread needs, so it cannot be missed.
        if at <= self.now() {
            return false;
        }
        state.at = Some(at);
        drop(state);
        self.condvar.notify_all();
        true
    }
}

#[cfg(feature = "std")]
impl<const N: usize> Timer<StdAlarm, N> {
    /// Starts the alarm thread that drives this timer; [`Timer::stop`] ends it.
    pub fn start(&'static self) -> std::thread::JoinHandle<()> {
        std::thread::spawn(move || self.alarm.run(|| self.on_alarm()))
    }

    /// Ends the alarm thread started by [`Timer::start`].
    pub fn stop(&self) {
        self.alarm.stop();
    }
}
