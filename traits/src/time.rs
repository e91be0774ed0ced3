//! Time: a monotonic clock with timers, and timeouts built on it.

use core::future::Future;
use core::ops::{Add, Sub};
use core::pin::pin;
use core::time::Duration;

use crate::future::{Either, select};

/// A point in time of a [`Clock`], in microseconds since the clock's own epoch.
///
/// Only differences between instants of the same clock mean anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant {
    micros: u64,
}

impl Instant {
    /// The clock's epoch.
    pub const ZERO: Self = Self { micros: 0 };
    /// An instant that is never reached.
    pub const NEVER: Self = Self { micros: u64::MAX };

    /// The instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Self { micros }
    }

    /// The instant `millis` milliseconds after the epoch (saturating).
    pub const fn from_millis(millis: u64) -> Self {
        Self {
            micros: millis.saturating_mul(1000),
        }
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.micros
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.micros / 1000
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_micros(self.micros.saturating_sub(earlier.micros))
    }

    /// `self + d`, saturating at [`Instant::NEVER`].
    pub fn saturating_add(self, d: Duration) -> Self {
        let add = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Self {
            micros: self.micros.saturating_add(add),
        }
    }
}

impl Add<Duration> for Instant {
    type Output = Self;
    fn add(self, d: Duration) -> Self {
        self.saturating_add(d)
    }
}

impl Sub for Instant {
    type Output = Duration;
    fn sub(self, earlier: Self) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// A monotonic clock with timers.
///
/// Hosted stacks use the runtime's timer; firmware a hardware alarm; tests a
/// virtual clock that advances only when told.
pub trait Clock {
    /// The current instant. It must never go backwards (case `clock.monotonic`).
    fn now(&self) -> Instant;

    /// Completes at or after `deadline`.
    ///
    /// # Contract
    ///
    /// While pending it must not wake its task before the deadline (no busy loop);
    /// a deadline already past completes on the first poll (cases
    /// `clock.no_early_wake`, `clock.past_deadline`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future cancels the timer.
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()>;

    /// Completes after `duration` has passed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Clock::sleep_until`].
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> {
        self.sleep_until(self.now() + duration)
    }
}

impl<T: ?Sized + Clock> Clock for &T {
    fn now(&self) -> Instant {
        (**self).now()
    }
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        (**self).sleep_until(deadline)
    }
}

/// The deadline of [`timeout`] or [`timeout_at`] passed first.
///
/// It converts to [`crate::ErrorKind::TimedOut`], and from there to any stack's
/// error: `timeout(&clock, d, conn.read(buf)).await.map_err(ErrorKind::from)??`
/// leaves one error type, `S::Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Elapsed;

impl core::fmt::Display for Elapsed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("deadline elapsed")
    }
}

impl crate::Error for Elapsed {
    fn kind(&self) -> crate::ErrorKind {
        crate::ErrorKind::TimedOut
    }
}

impl core::error::Error for Elapsed {}

/// Runs `future` until it completes or `duration` passes on `clock`.
///
/// # Cancel safety
///
/// As cancel safe as `future`: on timeout, `future` is dropped.
pub async fn timeout<C, F>(clock: &C, duration: Duration, future: F) -> Result<F::Output, Elapsed>
where
    C: Clock + ?Sized,
    F: Future,
{
    timeout_at(clock, clock.now() + duration, future).await
}

/// Runs `future` until it completes or `deadline` is reached on `clock`.
///
/// # Cancel safety
///
/// As cancel safe as `future`: on timeout, `future` is dropped.
pub async fn timeout_at<C, F>(clock: &C, deadline: Instant, future: F) -> Result<F::Output, Elapsed>
where
    C: Clock + ?Sized,
    F: Future,
{
    race_sleep(clock.sleep_until(deadline), future).await
}

/// `future`'s output, or [`Elapsed`] if `sleep` completes first. The one body
/// behind both families of timeouts, so that its future is `Send` exactly when
/// `sleep` and `future` are.
pub(crate) async fn race_sleep<S, F>(sleep: S, future: F) -> Result<F::Output, Elapsed>
where
    S: Future<Output = ()>,
    F: Future,
{
    let future = pin!(future);
    let sleep = pin!(sleep);
    match select(future, sleep).await {
        Either::Left(output) => Ok(output),
        Either::Right(()) => Err(Elapsed),
    }
}

impl From<Elapsed> for crate::ErrorKind {
    fn from(_: Elapsed) -> Self {
        crate::ErrorKind::TimedOut
    }
}
