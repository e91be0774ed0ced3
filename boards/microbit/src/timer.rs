//! Time and the executor's alarm from one nRF51 TIMER: 32 bits at 1 MHz,
//! extended to 64 bits by counting wraps (compare channel 2 at 0), with the
//! alarm on compare channel 0 and reads through a capture into channel 1.
//!
//! A TIMER, not the RTC: QEMU's `microbit` does not model the RTC. The TIMER
//! runs from the 16 MHz clock, so on a real board it costs more power in
//! sleep than the RTC would; the firmware here is for the emulator first.

use core::cell::Cell;

use critical_section::Mutex;
use portnet_executor::Alarm;

use crate::regs::Registers;

/// Register offsets and bits (nRF51 Reference Manual, TIMER).
pub mod reg {
    /// Task: start counting.
    pub const START: u32 = 0x000;
    /// Task: stop counting.
    pub const STOP: u32 = 0x004;
    /// Task: set the counter to 0.
    pub const CLEAR: u32 = 0x00c;
    /// Task: copy the counter into `CC[n]`, at `CAPTURE0 + 4 n`.
    pub const CAPTURE0: u32 = 0x040;
    /// Event: the counter reached `CC[n]`, at `COMPARE0 + 4 n`.
    pub const COMPARE0: u32 = 0x140;
    /// Set bits of the interrupt enable mask.
    pub const INTENSET: u32 = 0x304;
    /// Clear bits of the interrupt enable mask.
    pub const INTENCLR: u32 = 0x308;
    /// Timer (0) or counter (1).
    pub const MODE: u32 = 0x504;
    /// The counter's width: 3 is 32 bits.
    pub const BITMODE: u32 = 0x508;
    /// The clock is 16 MHz / 2^PRESCALER.
    pub const PRESCALER: u32 = 0x510;
    /// Compare and capture register `n`, at `CC0 + 4 n`.
    pub const CC0: u32 = 0x540;
    /// `BITMODE` for 32 bits.
    pub const BITMODE_32: u32 = 3;
    /// `PRESCALER` for 1 MHz.
    pub const PRESCALER_1MHZ: u32 = 4;
    /// The interrupt of compare channel `n` is bit `16 + n` of the mask.
    pub const fn int_compare(n: u32) -> u32 {
        1 << (16 + n)
    }
}

const ALARM: u32 = 0;
const CAPTURE: u32 = 1;
const WRAP: u32 = 2;
const HALF_RANGE: u32 = 1 << 31;

fn compare(n: u32) -> u32 {
    reg::COMPARE0 + 4 * n
}

fn cc(n: u32) -> u32 {
    reg::CC0 + 4 * n
}

/// A TIMER on registers `R` as the executor's [`Alarm`], in microseconds.
pub struct TimerAlarm<R> {
    regs: R,
    /// Wraps of the 32-bit counter seen so far.
    wraps: Mutex<Cell<u32>>,
}

impl<R> core::fmt::Debug for TimerAlarm<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TimerAlarm").finish_non_exhaustive()
    }
}

impl<R: Registers> TimerAlarm<R> {
    /// The alarm on `regs`, not started.
    pub const fn new(regs: R) -> Self {
        Self {
            regs,
            wraps: Mutex::new(Cell::new(0)),
        }
    }

    /// Starts the counter at 0, 32 bits at 1 MHz, with the wrap interrupt on
    /// (the board unmasks the line in the NVIC).
    pub fn start(&self) {
        let r = &self.regs;
        r.write(reg::STOP, 1);
        r.write(reg::INTENCLR, u32::MAX);
        r.write(reg::MODE, 0);
        r.write(reg::BITMODE, reg::BITMODE_32);
        r.write(reg::PRESCALER, reg::PRESCALER_1MHZ);
        r.write(cc(WRAP), 0);
        r.write(reg::CLEAR, 1);
        for n in 0..4 {
            r.write(compare(n), 0);
        }
        r.write(reg::INTENSET, reg::int_compare(WRAP));
        r.write(reg::START, 1);
    }

    /// Counts a wrap whose event is pending. Inside a critical section.
    fn count_wrap(&self, wraps: &Cell<u32>) {
        self.regs.write(compare(WRAP), 0);
        wraps.set(wraps.get().wrapping_add(1));
    }

    /// The TIMER's interrupt handler: counts a wrap, and disarms a fired
    /// alarm. `true` if the alarm fired (the board then calls the timer
    /// queue's `on_alarm`).
    pub fn on_interrupt(&self) -> bool {
        critical_section::with(|cs| {
            if self.regs.read(compare(WRAP)) != 0 {
                self.count_wrap(self.wraps.borrow(cs));
            }
            // Channel 0 also matches while no alarm is armed (its CC stays
            // where it was): only an armed one counts.
            let armed = self.regs.read(reg::INTENSET) & reg::int_compare(ALARM) != 0;
            if self.regs.read(compare(ALARM)) == 0 {
                return false;
            }
            self.regs.write(reg::INTENCLR, reg::int_compare(ALARM));
            self.regs.write(compare(ALARM), 0);
            armed
        })
    }
}

impl<R: Registers + Sync> Alarm for TimerAlarm<R> {
    fn now(&self) -> u64 {
        critical_section::with(|cs| {
            let wraps = self.wraps.borrow(cs);
            self.regs.write(reg::CAPTURE0 + 4 * CAPTURE, 1);
            let counter = self.regs.read(cc(CAPTURE));
            // A wrap the interrupt has not counted yet (interrupts are masked
            // here). The capture tells whether it came before the capture (a
            // small counter) or just after (a counter near the top): wraps are
            // 71 minutes apart, so the two cannot be confused.
            if self.regs.read(compare(WRAP)) != 0 && counter < HALF_RANGE {
                self.count_wrap(wraps);
            }
            (u64::from(wraps.get()) << 32) | u64::from(counter)
        })
    }

    fn set_alarm(&self, at: u64) -> bool {
        // Bounded: a second round happens only if a deadline more than half
        // the counter's range away was cut short and that point passed while
        // arming, which cannot happen twice in a row.
        for _ in 0..3 {
            let now = self.now();
            if at <= now {
                return false;
            }
            // Past half the range the compare would be ambiguous: fire early
            // and let the queue arm again, which is harmless.
            let target = at.min(now + u64::from(HALF_RANGE));
            critical_section::with(|_| {
                self.regs.write(reg::INTENCLR, reg::int_compare(ALARM));
                self.regs.write(compare(ALARM), 0);
                self.regs.write(cc(ALARM), target as u32);
                self.regs.write(reg::INTENSET, reg::int_compare(ALARM));
            });
            // Closes the race with a target that passed while arming: its
            // compare would come only after a wrap.
            if target > self.now() {
                return true;
            }
        }
        at > self.now()
    }
}
