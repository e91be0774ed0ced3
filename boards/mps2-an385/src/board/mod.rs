//! The QEMU `mps2-an385` board: Cortex-M3 at 25 MHz, CMSDK UARTs and timers, a
//! LAN9118 Ethernet controller. Interrupts are dispatched from cortex-m-rt's
//! `DefaultHandler` by IRQ number, so the board needs no device crate.
//!
//! | IRQ | device |
//! |---|---|
//! | 0, 1 | UART0 RX, TX (0x4000_4000) |
//! | 2, 3 | UART1 RX, TX (0x4000_5000) |
//! | 8 | TIMER0 (0x4000_0000): the alarm |
//! | 9 | TIMER1 (0x4000_1000): the free-running counter |
//! | 13 | LAN9118 (0x4020_0000) |
//!
//! The user LEDs (FPGAIO, 0x4002_8000) are in [`leds`].

#![allow(unsafe_code)]

pub mod leds;
#[cfg(feature = "lwip")]
#[cfg_attr(docsrs, doc(cfg(feature = "lwip")))]
pub mod lwip;
pub mod net;
pub mod timer;
pub mod uart;

use cortex_m::interrupt::InterruptNumber;
use cortex_m::peripheral::NVIC;
use portnet_executor::{Executor, Timer, WfiPark};

use crate::lan9118::{IrqWaker, Lan9118, Mmio};

/// The board's interrupt lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Irq {
    /// UART0 receive.
    Uart0Rx = 0,
    /// UART0 transmit.
    Uart0Tx = 1,
    /// UART1 receive.
    Uart1Rx = 2,
    /// UART1 transmit.
    Uart1Tx = 3,
    /// TIMER0.
    Timer0 = 8,
    /// TIMER1.
    Timer1 = 9,
    /// The LAN9118.
    Ethernet = 13,
}

// SAFETY: every variant is an interrupt line of the mps2-an385 (AN385 maps 32),
// and `number` returns exactly the variant's discriminant.
unsafe impl InterruptNumber for Irq {
    fn number(self) -> u16 {
        self as u16
    }
}

const ETHERNET_BASE: usize = 0x4020_0000;

/// The LAN9118's registers, at 0x4020_0000.
// SAFETY: QEMU's mps2-an385 maps the LAN9118 (32-bit mode) at 0x4020_0000, and
// nothing on the board but its driver and interrupt handler touches it.
pub const ETHERNET_REGISTERS: Mmio = unsafe { Mmio::new(ETHERNET_BASE) };

/// The Ethernet driver type of this board.
pub type Ethernet = Lan9118<Mmio>;

/// Woken by the Ethernet interrupt.
pub static ETHERNET_WAKER: IrqWaker = IrqWaker::new();

/// The board's clock: a timer queue on TIMER0/TIMER1.
pub type Clock = Timer<timer::BoardAlarm, 16>;

/// The board's clock, a `portnet::Clock`.
pub static CLOCK: Clock = Timer::new(timer::BoardAlarm::new());

/// The board's executor, sleeping with WFI.
pub static EXECUTOR: Executor<WfiPark> = Executor::new(WfiPark::new());

/// UART0: the console.
pub static UART0: uart::Uart<{ uart::UART0_BASE }> = uart::Uart::new();

/// UART1: a second serial port (a link to the host).
pub static UART1: uart::Uart<{ uart::UART1_BASE }> = uart::Uart::new();

/// Starts the clock, the UARTs and their interrupts, and brings up the
/// Ethernet controller (with its EEPROM's MAC address).
///
/// # Errors
///
/// The Ethernet controller did not come up.
pub fn init() -> Result<Ethernet, crate::lan9118::InitError> {
    timer::start();
    UART0.start();
    UART1.start();
    let ethernet = Lan9118::new(ETHERNET_REGISTERS, &ETHERNET_WAKER, None)?;
    for irq in [
        Irq::Uart0Rx,
        Irq::Uart0Tx,
        Irq::Uart1Rx,
        Irq::Uart1Tx,
        Irq::Timer0,
        Irq::Timer1,
        Irq::Ethernet,
    ] {
        // SAFETY: each handler below is ready before its line is unmasked, and
        // none relies on running inside a critical section set up by the caller.
        unsafe { NVIC::unmask(irq) };
    }
    Ok(ethernet)
}

/// The host's loopback as QEMU's user networking shows it to the board.
pub const QEMU_HOST: core::net::Ipv4Addr = core::net::Ipv4Addr::new(10, 0, 2, 2);

/// Reads a port number from the console (UART0): decimal digits ended by a
/// newline. This is how a host tool tells firmware in QEMU where its peer
/// listens, when the port is chosen at run time.
///
/// # Errors
///
/// Anything but one to five digits and a newline, or a number above 65535.
///
/// # Cancel safety
///
/// Not cancel safe: the digits read so far are lost.
pub async fn read_port() -> Result<u16, &'static str> {
    use embedded_io_async::Read as _;
    let mut console = &UART0;
    let mut port: u32 = 0;
    let mut digits = 0;
    loop {
        let mut byte = [0u8; 1];
        match console.read(&mut byte).await {
            Ok(_) => {}
            Err(never) => match never {},
        }
        match byte[0] {
            b'0'..=b'9' if digits < 5 => {
                port = port * 10 + u32::from(byte[0] - b'0');
                digits += 1;
            }
            b'\n' | b'\r' if digits > 0 => break,
            _ => return Err("the console sent something other than a port"),
        }
    }
    u16::try_from(port).map_err(|_| "port out of range")
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
        0 => UART0.on_rx_interrupt(),
        1 => UART0.on_tx_interrupt(),
        2 => UART1.on_rx_interrupt(),
        3 => UART1.on_tx_interrupt(),
        8 => {
            timer::on_alarm_interrupt();
            CLOCK.on_alarm();
        }
        9 => timer::on_overflow_interrupt(),
        13 => Lan9118::on_interrupt(&ETHERNET_REGISTERS, &ETHERNET_WAKER),
        _ => {}
    }
}
