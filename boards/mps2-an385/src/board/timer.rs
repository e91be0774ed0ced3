//! Time from the two CMSDK timers: TIMER1 counts down from `u32::MAX` at 25 MHz
//! and its wrap interrupt extends it to 64 bits; TIMER0 is the one-shot alarm
//! behind the executor's timer queue.

use core::sync::atomic::{AtomicU32, Ordering};

use portnet_executor::Alarm;

const TIMER0_BASE: usize = 0x4000_0000;
const TIMER1_BASE: usize = 0x4000_1000;
const CTRL: usize = 0x0;
const VALUE: usize = 0x4;
const RELOAD: usize = 0x8;
const INTCLEAR: usize = 0xc;
const CTRL_ENABLE: u32 = 1;
const CTRL_IRQ_ENABLE: u32 = 1 << 3;
const TICKS_PER_MICRO: u64 = 25;

/// Wraps of TIMER1 counted by its interrupt.
static WRAPS: AtomicU32 = AtomicU32::new(0);

fn read(base: usize, offset: usize) -> u32 {
    // SAFETY: TIMER0 and TIMER1 are CMSDK APB timers at these addresses on the
    // mps2-an385, with 32-bit registers at offsets 0x0..0x10.
    unsafe { core::ptr::read_volatile((base + offset) as *const u32) }
}

fn write(base: usize, offset: usize, value: u32) {
    // SAFETY: as in `read`.
    unsafe { core::ptr::write_volatile((base + offset) as *mut u32, value) }
}

/// Starts TIMER1 free-running.
pub(crate) fn start() {
    write(TIMER1_BASE, CTRL, 0);
    write(TIMER1_BASE, RELOAD, u32::MAX);
    write(TIMER1_BASE, VALUE, u32::MAX);
    write(TIMER1_BASE, INTCLEAR, 1);
    write(TIMER1_BASE, CTRL, CTRL_ENABLE | CTRL_IRQ_ENABLE);
    write(TIMER0_BASE, CTRL, 0);
    write(TIMER0_BASE, INTCLEAR, 1);
}

/// TIMER1's interrupt: one more wrap.
pub(crate) fn on_overflow_interrupt() {
    write(TIMER1_BASE, INTCLEAR, 1);
    WRAPS.fetch_add(1, Ordering::AcqRel);
}

/// TIMER0's interrupt: the alarm fired; stop it until it is armed again.
pub(crate) fn on_alarm_interrupt() {
    write(TIMER0_BASE, CTRL, 0);
    write(TIMER0_BASE, INTCLEAR, 1);
}

fn ticks() -> u64 {
    // A wrap between the reads shows as a changed count or a changed pending
    // flag; then read again. Two rounds suffice (wraps are 171 s apart); the
    // bound only keeps the loop finite whatever the hardware does.
    let mut last = 0;
    for _ in 0..4 {
        let wraps = WRAPS.load(Ordering::Acquire);
        let pending_before = read(TIMER1_BASE, INTCLEAR) & 1;
        let value = read(TIMER1_BASE, VALUE);
        let pending_after = read(TIMER1_BASE, INTCLEAR) & 1;
        // A wrap the interrupt has not counted yet (we may be in a critical
        // section) is pending.
        let high = u64::from(wraps) + u64::from(pending_after);
        last = (high << 32) | u64::from(u32::MAX - value);
        if wraps == WRAPS.load(Ordering::Acquire) && pending_before == pending_after {
            break;
        }
    }
    last
}

/// The board's [`Alarm`]: microseconds from TIMER1, the alarm on TIMER0.
#[derive(Debug)]
pub struct BoardAlarm(());

impl BoardAlarm {
    /// The alarm (one per board).
    pub const fn new() -> Self {
        Self(())
    }
}

impl Default for BoardAlarm {
    fn default() -> Self {
        Self::new()
    }
}

impl Alarm for BoardAlarm {
    fn now(&self) -> u64 {
        ticks() / TICKS_PER_MICRO
    }

    fn set_alarm(&self, at: u64) -> bool {
        let now = self.now();
        if at <= now {
            return false;
        }
        // Longer waits fire early and re-arm: harmless for the timer queue.
        let ticks = (at - now)
            .saturating_mul(TICKS_PER_MICRO)
            .clamp(1, u64::from(u32::MAX)) as u32;
        write(TIMER0_BASE, CTRL, 0);
        write(TIMER0_BASE, INTCLEAR, 1);
        write(TIMER0_BASE, RELOAD, u32::MAX);
        write(TIMER0_BASE, VALUE, ticks);
        write(TIMER0_BASE, CTRL, CTRL_ENABLE | CTRL_IRQ_ENABLE);
        // Closes the race with a deadline that passed while arming.
        at > self.now()
    }
}

/// `embedded-hal-async`'s delay on the board's clock (microsecond resolution:
/// a delay lasts at least what was asked, and at most about 2 µs more, plus
/// the time the executor takes to come back to the task).
#[derive(Debug, Clone, Copy, Default)]
pub struct Delay;

impl Delay {
    async fn sleep_nanos(nanos: u64) {
        use portnet::Clock as _;
        let micros = crate::delay::sleep_micros(nanos);
        if micros > 0 {
            super::CLOCK
                .sleep(core::time::Duration::from_micros(micros))
                .await;
        }
    }
}

impl embedded_hal_async::delay::DelayNs for Delay {
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it gives its place in the timer queue back.
    async fn delay_ns(&mut self, ns: u32) {
        Self::sleep_nanos(u64::from(ns)).await;
    }

    /// # Cancel safety
    ///
    /// Cancel safe, as `delay_ns`.
    async fn delay_us(&mut self, us: u32) {
        Self::sleep_nanos(u64::from(us) * 1_000).await;
    }

    /// # Cancel safety
    ///
    /// Cancel safe, as `delay_ns`.
    async fn delay_ms(&mut self, ms: u32) {
        Self::sleep_nanos(u64::from(ms) * 1_000_000).await;
    }
}
