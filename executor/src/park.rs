//! How the executor sleeps when nothing is ready.

/// The platform's way to sleep until something happens: the executor's idle hook.
///
/// The executor calls [`Park::wait_for_event`] when it has polled everything that was
/// ready; wakers call [`Park::signal`] after they have recorded their wake-up (set a
/// flag or queued a task). The pair must not lose a wake-up: the classic race is a wake
/// that lands between the executor's "nothing to do" check and its going to sleep.
///
/// # Contract
///
/// An implementation must keep these rules; the executor relies on them for liveness:
///
/// - `wait_for_event(has_work)` must call `has_work` and must return without sleeping
///   when it returns `true`.
/// - The check and the sleep must be atomic with respect to wake-ups: a wake-up whose
///   effect `has_work` did not see (because it happened after the check) must still end
///   the sleep. On a single-core microcontroller this means checking with interrupts
///   masked and sleeping with an instruction that wakes on a pending interrupt even
///   while masked (Cortex-M `WFI`); on a host it means a token that `signal` sets and
///   `wait_for_event` consumes, as `std::thread::park` has.
/// - `signal` must be callable from any context that may wake a task: interrupt
///   handlers and, on a host, other threads. It must not block for long and must not
///   call back into the executor.
/// - `wait_for_event` may return spuriously (the executor then polls and waits again),
///   but it must not spin forever without sleeping when `has_work` stays `false`,
///   unless that is the implementation's documented purpose ([`SpinPark`]).
///
/// `has_work` only reads atomics: it is cheap, takes no lock and may be called with
/// interrupts masked or under the implementation's own lock.
pub trait Park: Sync {
    /// Sleeps until an event, unless `has_work()` is already `true`.
    fn wait_for_event(&self, has_work: &dyn Fn() -> bool);

    /// Ends the current or the next [`Park::wait_for_event`].
    fn signal(&self);
}

impl<P: Park + ?Sized> Park for &P {
    fn wait_for_event(&self, has_work: &dyn Fn() -> bool) {
        (**self).wait_for_event(has_work);
    }
    fn signal(&self) {
        (**self).signal();
    }
}

/// A [`Park`] that never sleeps: the executor polls in a loop.
///
/// For targets without a sleep instruction or for measurements; it burns a core.
#[derive(Debug, Default, Clone, Copy)]
pub struct SpinPark;

impl SpinPark {
    /// A spinning park.
    pub const fn new() -> Self {
        Self
    }
}

impl Park for SpinPark {
    fn wait_for_event(&self, has_work: &dyn Fn() -> bool) {
        if !has_work() {
            core::hint::spin_loop();
        }
    }
    fn signal(&self) {}
}

/// A [`Park`] for Cortex-M: checks for work with interrupts masked, then `WFI`.
///
/// `WFI` ends on a pending interrupt even while `PRIMASK` masks it, so an interrupt
/// that arrives after the check wakes the core; its handler runs as soon as the mask is
/// lifted, before the executor polls again. [`Park::signal`] has nothing to do: the
/// interrupt that ran the waker has already woken the core, and a wake from thread
/// mode is seen by the check.
///
/// The executor must run in thread mode with interrupts enabled; `wait_for_event`
/// restores the `PRIMASK` state it found.
#[cfg(all(feature = "cortex-m", target_arch = "arm"))]
#[derive(Debug, Default, Clone, Copy)]
pub struct WfiPark;

#[cfg(all(feature = "cortex-m", target_arch = "arm"))]
impl WfiPark {
    /// The Cortex-M park.
    pub const fn new() -> Self {
        Self
    }
}

#[cfg(all(feature = "cortex-m", target_arch = "arm"))]
impl Park for WfiPark {
    fn wait_for_event(&self, has_work: &dyn Fn() -> bool) {
        let was_enabled = cortex_m::register::primask::read().is_active();
        cortex_m::interrupt::disable();
        if !has_work() {
            cortex_m::asm::wfi();
        }
        if was_enabled {
            #[allow(unsafe_code)]
            // SAFETY: interrupts were enabled when this function was entered and we
            // restore exactly that state; no critical section of ours is open here (the
            // mask was set by `disable` above, not by a `critical_section::with`).
            unsafe {
                cortex_m::interrupt::enable();
            }
        }
    }

    fn signal(&self) {}
}

/// A [`Park`] for hosts: a wake-up token under a mutex, and a condition variable.
///
/// [`Park::signal`] sets the token and notifies; [`Park::wait_for_event`] returns at
/// once if the token is set or `has_work()` holds, otherwise waits on the condition
/// variable, and consumes the token. A signal between the check and the wait finds the
/// mutex held until the wait has released it, so it is never lost.
#[cfg(feature = "std")]
#[derive(Debug, Default)]
pub struct ThreadPark {
    token: std::sync::Mutex<bool>,
    condvar: std::sync::Condvar,
}

#[cfg(feature = "std")]
impl ThreadPark {
    /// A host park; `const`, so it can live in a `static` executor.
    pub const fn new() -> Self {
        Self {
            token: std::sync::Mutex::new(false),
            condvar: std::sync::Condvar::new(),
        }
    }

    fn token(&self) -> std::sync::MutexGuard<'_, bool> {
        self.token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(feature = "std")]
impl Park for ThreadPark {
    fn wait_for_event(&self, has_work: &dyn Fn() -> bool) {
        let mut token = self.token();
        while !*token && !has_work() {
            token = self
                .condvar
                .wait(token)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *token = false;
    }

    fn signal(&self) {
        *self.token() = true;
        self.condvar.notify_one();
    }
}
