//! An interrupt-driven CMSDK APB UART as `embedded_io_async::{Read, Write}`.
//!
//! Received bytes go from the RX interrupt into a ring buffer the reader drains;
//! bytes to send go into a ring buffer the TX interrupt drains. When the receive
//! ring is full the driver stops taking bytes (it masks the RX interrupt and
//! leaves the byte in the UART), so the sender is held back instead of bytes
//! being lost; the next read takes them.

use core::cell::RefCell;
use core::future::poll_fn;
use core::task::{Poll, Waker};

use critical_section::{CriticalSection, Mutex};

/// UART0's base address.
pub const UART0_BASE: usize = 0x4000_4000;
/// UART1's base address.
pub const UART1_BASE: usize = 0x4000_5000;

const DATA: usize = 0x0;
const STATE: usize = 0x4;
const CTRL: usize = 0x8;
const INTCLEAR: usize = 0xc;
const BAUDDIV: usize = 0x10;
const STATE_TXFULL: u32 = 1;
const STATE_RXFULL: u32 = 1 << 1;
const CTRL_TX_EN: u32 = 1;
const CTRL_RX_EN: u32 = 1 << 1;
const CTRL_TX_INTEN: u32 = 1 << 2;
const CTRL_RX_INTEN: u32 = 1 << 3;
const INT_TX: u32 = 1;
const INT_RX: u32 = 1 << 1;

const RING: usize = 1024;

struct Ring {
    bytes: [u8; RING],
    head: usize,
    len: usize,
}

impl Ring {
    const fn new() -> Self {
        Self {
            bytes: [0; RING],
            head: 0,
            len: 0,
        }
    }

    fn push(&mut self, byte: u8) -> bool {
        if self.len == RING {
            return false;
        }
        self.bytes[(self.head + self.len) % RING] = byte;
        self.len += 1;
        true
    }

    fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let byte = self.bytes[self.head];
        self.head = (self.head + 1) % RING;
        self.len -= 1;
        Some(byte)
    }
}

struct State {
    rx: Ring,
    tx: Ring,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
    /// The RX interrupt is masked because the ring was full.
    rx_paused: bool,
    /// A byte is on its way out; the TX interrupt sends the next.
    tx_busy: bool,
}

/// One CMSDK UART, at address `BASE`.
///
/// The address is a type parameter rather than a field so that a `static`
/// UART is all zero bytes until started: it lands in `.bss`, and its rings
/// cost no flash for an initial image in `.data`.
pub struct Uart<const BASE: usize> {
    state: Mutex<RefCell<State>>,
}

impl<const BASE: usize> core::fmt::Debug for Uart<BASE> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Uart({BASE:#x})")
    }
}

/// A UART cannot fail once started; the error type says so.
pub type Error = core::convert::Infallible;

impl<const BASE: usize> Uart<BASE> {
    /// The UART at `BASE` (not started). Only the board makes them, with
    /// `BASE` one of its UARTs: that is what makes the register accesses sound.
    pub(crate) const fn new() -> Self {
        Self {
            state: Mutex::new(RefCell::new(State {
                rx: Ring::new(),
                tx: Ring::new(),
                rx_waker: None,
                tx_waker: None,
                rx_paused: false,
                tx_busy: false,
            })),
        }
    }

    fn read_reg(&self, offset: usize) -> u32 {
        // SAFETY: `BASE` is one of the board's CMSDK UARTs (the constants above;
        // only the board constructs a `Uart`),
        // whose 32-bit registers lie at offsets 0x0..0x14.
        unsafe { core::ptr::read_volatile((BASE + offset) as *const u32) }
    }

    fn write_reg(&self, offset: usize, value: u32) {
        // SAFETY: as in `read_reg`.
        unsafe { core::ptr::write_volatile((BASE + offset) as *mut u32, value) }
    }

    /// Enables the UART and its interrupts (the board unmasks them in the NVIC).
    pub(crate) fn start(&self) {
        // QEMU's model sends nothing with a divider below 16; it does not pace
        // the bytes, so the fastest valid one costs nothing.
        self.write_reg(BAUDDIV, 16);
        self.write_reg(INTCLEAR, INT_TX | INT_RX);
        self.write_reg(
            CTRL,
            CTRL_TX_EN | CTRL_RX_EN | CTRL_TX_INTEN | CTRL_RX_INTEN,
        );
    }

    /// Moves received bytes into the ring; pauses when it is full.
    fn take_received(&self, state: &mut State) {
        while self.read_reg(STATE) & STATE_RXFULL != 0 {
            if state.rx.len == RING {
                state.rx_paused = true;
                self.write_reg(CTRL, self.read_reg(CTRL) & !CTRL_RX_INTEN);
                return;
            }
            state.rx.push(self.read_reg(DATA) as u8);
        }
        if state.rx_paused {
            state.rx_paused = false;
            self.write_reg(CTRL, self.read_reg(CTRL) | CTRL_RX_INTEN);
        }
    }

    /// Hands the next bytes to the UART while it has room.
    fn send_pending(&self, state: &mut State) {
        while self.read_reg(STATE) & STATE_TXFULL == 0 {
            match state.tx.pop() {
                Some(byte) => {
                    self.write_reg(DATA, u32::from(byte));
                    state.tx_busy = true;
                }
                None => {
                    state.tx_busy = false;
                    return;
                }
            }
        }
    }

    fn with<T>(&self, f: impl FnOnce(CriticalSection<'_>, &mut State) -> T) -> T {
        critical_section::with(|cs| f(cs, &mut self.state.borrow_ref_mut(cs)))
    }

    /// The RX interrupt handler.
    pub(crate) fn on_rx_interrupt(&self) {
        self.write_reg(INTCLEAR, INT_RX);
        let waker = self.with(|_, state| {
            self.take_received(state);
            state.rx_waker.take()
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The TX interrupt handler.
    pub(crate) fn on_tx_interrupt(&self) {
        self.write_reg(INTCLEAR, INT_TX);
        let waker = self.with(|_, state| {
            self.send_pending(state);
            state.tx_waker.take()
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Writes `bytes` and waits until they are handed to the UART (blocking
    /// helper for panic messages and start-up logs is [`Uart::write_blocking`]).
    pub fn write_blocking(&self, bytes: &[u8]) {
        for &byte in bytes {
            // Bounded: QEMU's UART frees its one-byte buffer as soon as the host
            // side takes the byte.
            for _ in 0..1_000_000 {
                if self.read_reg(STATE) & STATE_TXFULL == 0 {
                    break;
                }
            }
            self.write_reg(DATA, u32::from(byte));
        }
    }
}

impl<const BASE: usize> embedded_io_async::ErrorType for &Uart<BASE> {
    type Error = Error;
}

impl<const BASE: usize> embedded_io_async::Read for &Uart<BASE> {
    /// # Cancel safety
    ///
    /// Cancel safe: bytes stay in the ring until a read takes them.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let uart: &Uart<BASE> = self;
        poll_fn(|cx| {
            uart.with(|_, state| {
                if state.rx.len == 0 {
                    uart.take_received(state);
                }
                let mut n = 0;
                while n < buf.len() {
                    match state.rx.pop() {
                        Some(byte) => {
                            buf[n] = byte;
                            n += 1;
                        }
                        None => break,
                    }
                }
                if n > 0 {
                    if state.rx_paused {
                        uart.take_received(state);
                    }
                    Poll::Ready(Ok(n))
                } else {
                    state.rx_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
        })
        .await
    }
}

impl<const BASE: usize> embedded_io_async::Write for &Uart<BASE> {
    /// # Cancel safety
    ///
    /// Cancel safe: a write either took its bytes (and returned) or took none.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let uart: &Uart<BASE> = self;
        poll_fn(|cx| {
            uart.with(|_, state| {
                let mut n = 0;
                while n < buf.len() && state.tx.push(buf[n]) {
                    n += 1;
                }
                if n == 0 {
                    state.tx_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                if !state.tx_busy {
                    uart.send_pending(state);
                }
                Poll::Ready(Ok(n))
            })
        })
        .await
    }

    /// # Cancel safety
    ///
    /// Cancel safe.
    async fn flush(&mut self) -> Result<(), Error> {
        let uart: &Uart<BASE> = self;
        poll_fn(|cx| {
            uart.with(|_, state| {
                if state.tx.len == 0 && !state.tx_busy {
                    Poll::Ready(Ok(()))
                } else {
                    if !state.tx_busy {
                        uart.send_pending(state);
                    }
                    state.tx_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
        })
        .await
    }
}
