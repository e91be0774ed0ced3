//! The BBC micro:bit v1 as QEMU's `microbit` models it: nRF51822, Cortex-M0
//! at 16 MHz, 16 KiB of RAM, one UART (QEMU's first `-serial`), TIMER0-2 (no
//! RTC in the model). Interrupts are dispatched from cortex-m-rt's
//! `DefaultHandler` by IRQ number, so the board needs no device crate.
//!
//! | IRQ | device |
//! |---|---|
//! | 2 | UART0 (0x4000_2000): the SLIP line |
//! | 8 | TIMER0 (0x4000_8000): time and the alarm |
//!
//! The one UART carries the network, so the firmware's messages go through
//! semihosting (QEMU's standard output) instead.

#![allow(unsafe_code)]

pub mod net;
pub mod stack_use;

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;
use portnet_executor::{Executor, Timer, WfiPark};

use crate::regs::Mmio;
use crate::timer::TimerAlarm;
use crate::uart::Uart;

/// The board's interrupt lines that its drivers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Irq {
    /// UART0.
    Uart0 = 2,
    /// TIMER0.
    Timer0 = 8,
}

// SAFETY: every variant is an interrupt line of the nRF51 (it has 32), and
// `number` returns exactly the variant's discriminant.
unsafe impl InterruptNumber for Irq {
    fn number(self) -> u16 {
        self as u16
    }
}

/// Bytes the UART's receive ring holds. The line is held back when it is full
/// (no byte is lost), so it need not hold a frame: it only smooths bursts.
pub const UART_RX_RING: usize = 64;
/// Bytes the UART's transmit ring holds.
pub const UART_TX_RING: usize = 64;

/// The board's UART type.
pub type BoardUart = Uart<Mmio, UART_RX_RING, UART_TX_RING>;

/// UART0, the micro:bit's USB serial port (QEMU's first `-serial`).
// SAFETY: the nRF51 maps UART0 at 0x4000_2000, and nothing on the board but
// this driver and its interrupt handler touches it.
pub static UART: BoardUart = Uart::new(unsafe { Mmio::new(0x4000_2000) });

/// The board's alarm type.
pub type BoardAlarm = TimerAlarm<Mmio>;

/// Sleeps the executor's timer queue holds at once.
pub const TIMER_QUEUE: usize = 8;

/// The board's clock, a `portnet::Clock`: a timer queue on TIMER0.
pub type Clock = Timer<BoardAlarm, TIMER_QUEUE>;

/// The board's clock.
// SAFETY: the nRF51 maps TIMER0 at 0x4000_8000, and nothing on the board but
// this driver and its interrupt handler touches it.
pub static CLOCK: Clock = Timer::new(TimerAlarm::new(unsafe { Mmio::new(0x4000_8000) }));

/// The board's executor, sleeping with WFI.
pub static EXECUTOR: Executor<WfiPark> = Executor::new(WfiPark::new());

/// The GPIO port's registers (the LED matrix).
// SAFETY: the nRF51 maps GPIO at 0x5000_0000, and nothing on the board but
// the LED pins touches it.
pub const GPIO: Mmio = unsafe { Mmio::new(0x5000_0000) };

/// The first row of the LED matrix, lit = high.
pub fn leds() -> [crate::leds::Led<Mmio>; 3] {
    crate::leds::first_row(GPIO)
}

/// `embedded-hal-async`'s delay on the board's clock (microsecond
/// resolution: never shorter than asked).
#[derive(Debug, Clone, Copy, Default)]
pub struct Delay;

impl Delay {
    async fn sleep_nanos(nanos: u64) {
        use portnet::Clock as _;
        let micros = crate::delay::sleep_micros(nanos);
        if micros > 0 {
            CLOCK.sleep(core::time::Duration::from_micros(micros)).await;
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

/// Starts the clock and the UART, and unmasks their interrupts.
pub fn init() {
    CLOCK.alarm().start();
    UART.start();
    for irq in [Irq::Uart0, Irq::Timer0] {
        // SAFETY: each handler below is ready before its line is unmasked, and
        // none relies on running inside a critical section set up by the caller.
        unsafe { NVIC::unmask(irq) };
    }
}

/// Ends the program: QEMU exits with status 0 (`success`) or 1, through
/// semihosting. On a real board without a debugger it sleeps forever.
pub fn exit(success: bool) -> ! {
    use cortex_m_semihosting::debug;
    debug::exit(if success {
        debug::EXIT_SUCCESS
    } else {
        debug::EXIT_FAILURE
    });
    loop {
        cortex_m::asm::wfi();
    }
}

/// Prints `what` and the error over semihosting, then [`exit`]s with failure:
/// for start-up errors and panic handlers.
pub fn fail(what: &str, error: impl core::fmt::Display) -> ! {
    cortex_m_semihosting::hprintln!("{}: {}", what, error);
    exit(false)
}

#[cortex_m_rt::exception]
unsafe fn DefaultHandler(irqn: i16) {
    match irqn {
        2 => UART.on_interrupt(),
        8 if CLOCK.alarm().on_interrupt() => CLOCK.on_alarm(),
        _ => {}
    }
}
