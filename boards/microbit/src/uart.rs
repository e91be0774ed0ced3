//! The nRF51 UART, interrupt driven, as `embedded_io_async::{Read, Write}`.
//!
//! The peripheral has a one-byte transmit register and a six-byte receive
//! FIFO, each with a level event (`TXDRDY`, `RXDRDY`) that holds its interrupt
//! line up until software clears it. Received bytes go from the interrupt into
//! a ring the reader drains; bytes to send go into a ring the interrupt drains.
//! When the receive ring is full the driver stops taking bytes (it masks
//! `RXDRDY` and leaves them in the FIFO), so the sender is held back (QEMU's
//! model stops taking input from its character device) instead of bytes being
//! lost; the next read takes them.
//!
//! The ring sizes are type parameters: the board picks them for its RAM.

use core::cell::RefCell;
use core::future::poll_fn;
use core::task::{Poll, Waker};

use critical_section::Mutex;

use crate::regs::Registers;

/// Register offsets and bits (nRF51 Reference Manual, UART).
pub mod reg {
    /// Task: start receiving.
    pub const STARTRX: u32 = 0x000;
    /// Task: start transmitting.
    pub const STARTTX: u32 = 0x008;
    /// Event: a byte is in `RXD`.
    pub const RXDRDY: u32 = 0x108;
    /// Event: the byte written to `TXD` is sent.
    pub const TXDRDY: u32 = 0x11c;
    /// Set bits of the interrupt enable mask.
    pub const INTENSET: u32 = 0x304;
    /// Clear bits of the interrupt enable mask.
    pub const INTENCLR: u32 = 0x308;
    /// `4` enables the UART.
    pub const ENABLE: u32 = 0x500;
    /// The pin of TXD.
    pub const PSELTXD: u32 = 0x50c;
    /// The pin of RXD.
    pub const PSELRXD: u32 = 0x514;
    /// The received byte; reading it takes it from the FIFO.
    pub const RXD: u32 = 0x518;
    /// The byte to send.
    pub const TXD: u32 = 0x51c;
    /// The baud rate.
    pub const BAUDRATE: u32 = 0x524;
    /// `ENABLE`'s value that turns the UART on.
    pub const ENABLE_ON: u32 = 4;
    /// Interrupt on `RXDRDY`.
    pub const INT_RXDRDY: u32 = 1 << 2;
    /// Interrupt on `TXDRDY`.
    pub const INT_TXDRDY: u32 = 1 << 7;
    /// 115200 baud.
    pub const BAUD_115200: u32 = 0x01d7_e000;
}

/// The micro:bit's interface MCU bridges these pins to USB serial.
const MICROBIT_TX_PIN: u32 = 24;
const MICROBIT_RX_PIN: u32 = 25;

struct Ring<const N: usize> {
    bytes: [u8; N],
    head: usize,
    len: usize,
}

impl<const N: usize> Ring<N> {
    const fn new() -> Self {
        Self {
            bytes: [0; N],
            head: 0,
            len: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == N
    }

    fn push(&mut self, byte: u8) -> bool {
        if self.is_full() {
            return false;
        }
        self.bytes[(self.head + self.len) % N] = byte;
        self.len += 1;
        true
    }

    fn pop(&mut self) -> Option<u8> {
        if self.len == 0 {
            return None;
        }
        let byte = self.bytes[self.head];
        self.head = (self.head + 1) % N;
        self.len -= 1;
        Some(byte)
    }
}

struct State<const RX: usize, const TX: usize> {
    rx: Ring<RX>,
    tx: Ring<TX>,
    rx_waker: Option<Waker>,
    tx_waker: Option<Waker>,
    /// `RXDRDY` is masked because the ring was full.
    rx_paused: bool,
    /// A byte is in `TXD` whose `TXDRDY` has not been seen yet.
    tx_busy: bool,
}

/// One nRF51 UART on registers `R`, with a receive ring of `RX` bytes and a
/// transmit ring of `TX` bytes.
pub struct Uart<R, const RX: usize, const TX: usize> {
    regs: R,
    state: Mutex<RefCell<State<RX, TX>>>,
}

impl<R, const RX: usize, const TX: usize> core::fmt::Debug for Uart<R, RX, TX> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Uart")
            .field("rx_ring", &RX)
            .field("tx_ring", &TX)
            .finish_non_exhaustive()
    }
}

/// A UART cannot fail once started; the error type says so.
pub type Error = core::convert::Infallible;

impl<R: Registers, const RX: usize, const TX: usize> Uart<R, RX, TX> {
    const NONEMPTY: () = assert!(RX > 0 && TX > 0, "a UART ring holds at least one byte");

    /// The UART on `regs`, not started.
    pub const fn new(regs: R) -> Self {
        let () = Self::NONEMPTY;
        Self {
            regs,
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

    /// Enables the UART (on the micro:bit's USB-serial pins, 115200 baud),
    /// starts both directions and enables its interrupts (the board unmasks
    /// the line in the NVIC).
    pub fn start(&self) {
        self.regs.write(reg::PSELTXD, MICROBIT_TX_PIN);
        self.regs.write(reg::PSELRXD, MICROBIT_RX_PIN);
        self.regs.write(reg::BAUDRATE, reg::BAUD_115200);
        self.regs.write(reg::ENABLE, reg::ENABLE_ON);
        self.regs.write(reg::RXDRDY, 0);
        self.regs.write(reg::TXDRDY, 0);
        self.regs.write(reg::STARTRX, 1);
        self.regs.write(reg::STARTTX, 1);
        self.regs
            .write(reg::INTENSET, reg::INT_RXDRDY | reg::INT_TXDRDY);
    }

    /// Moves received bytes into the ring; pauses when it is full. `true` if
    /// it took any.
    fn take_received(&self, state: &mut State<RX, TX>) -> bool {
        let mut took = false;
        // Bounded: each round takes a byte into the ring or returns.
        for _ in 0..=RX {
            if self.regs.read(reg::RXDRDY) == 0 {
                break;
            }
            if state.rx.is_full() {
                state.rx_paused = true;
                self.regs.write(reg::INTENCLR, reg::INT_RXDRDY);
                return took;
            }
            // Cleared before the read: reading RXD raises it again if the FIFO
            // holds more.
            self.regs.write(reg::RXDRDY, 0);
            state.rx.push(self.regs.read(reg::RXD) as u8);
            took = true;
        }
        if state.rx_paused {
            state.rx_paused = false;
            self.regs.write(reg::INTENSET, reg::INT_RXDRDY);
        }
        took
    }

    /// Hands the next bytes to the UART as fast as it takes them. `true` if
    /// it sent any.
    fn send_pending(&self, state: &mut State<RX, TX>) -> bool {
        let mut sent = false;
        // Bounded: each round sends a byte from the ring or returns.
        for _ in 0..=TX {
            if state.tx_busy {
                if self.regs.read(reg::TXDRDY) == 0 {
                    return sent;
                }
                // Cleared before the next byte, whose own TXDRDY must not be
                // lost; cleared also when there is none, or its interrupt
                // would never let go.
                self.regs.write(reg::TXDRDY, 0);
                state.tx_busy = false;
            }
            match state.tx.pop() {
                Some(byte) => {
                    self.regs.write(reg::TXD, u32::from(byte));
                    state.tx_busy = true;
                    sent = true;
                }
                None => return sent,
            }
        }
        sent
    }

    fn with<T>(&self, f: impl FnOnce(&mut State<RX, TX>) -> T) -> T {
        critical_section::with(|cs| f(&mut self.state.borrow_ref_mut(cs)))
    }

    /// The UART's interrupt handler.
    pub fn on_interrupt(&self) {
        let (rx_waker, tx_waker) = self.with(|state| {
            let received = self.take_received(state);
            let sent = self.send_pending(state);
            if !state.tx_busy && self.regs.read(reg::TXDRDY) != 0 {
                // Not a byte of ours (none is on the line): cleared all the
                // same, or the level interrupt would never let go.
                self.regs.write(reg::TXDRDY, 0);
            }
            let done = !state.tx_busy && state.tx.len == 0;
            (
                if received {
                    state.rx_waker.take()
                } else {
                    None
                },
                if sent || done {
                    state.tx_waker.take()
                } else {
                    None
                },
            )
        });
        for waker in [rx_waker, tx_waker].into_iter().flatten() {
            waker.wake();
        }
    }

    /// Sends `bytes` without interrupts or the executor (for messages after
    /// a panic). Each byte waits a bounded time for the previous one.
    pub fn write_blocking(&self, bytes: &[u8]) {
        self.with(|state| {
            for &byte in bytes {
                // Bounded: at 115200 baud a byte takes 87 µs, far below this.
                for _ in 0..100_000 {
                    if !state.tx_busy || self.regs.read(reg::TXDRDY) != 0 {
                        break;
                    }
                }
                self.regs.write(reg::TXDRDY, 0);
                self.regs.write(reg::TXD, u32::from(byte));
                state.tx_busy = true;
            }
        });
    }
}

impl<R: Registers, const RX: usize, const TX: usize> embedded_io_async::ErrorType
    for &Uart<R, RX, TX>
{
    type Error = Error;
}

impl<R: Registers, const RX: usize, const TX: usize> embedded_io_async::Read for &Uart<R, RX, TX> {
    /// # Cancel safety
    ///
    /// Cancel safe: bytes stay in the ring until a read takes them.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let uart: &Uart<R, RX, TX> = self;
        poll_fn(|cx| {
            uart.with(|state| {
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

impl<R: Registers, const RX: usize, const TX: usize> embedded_io_async::Write for &Uart<R, RX, TX> {
    /// # Cancel safety
    ///
    /// Cancel safe: a write either took its bytes (and returned) or took none.
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        if buf.is_empty() {
            return Ok(0);
        }
        let uart: &Uart<R, RX, TX> = self;
        poll_fn(|cx| {
            uart.with(|state| {
                if state.tx.is_full() {
                    // The UART may have taken bytes without an interrupt yet.
                    uart.send_pending(state);
                }
                let mut n = 0;
                while n < buf.len() && state.tx.push(buf[n]) {
                    n += 1;
                }
                if n == 0 {
                    // Still full: a byte is on the line, and its TXDRDY
                    // interrupt wakes this write.
                    state.tx_waker = Some(cx.waker().clone());
                    return Poll::Pending;
                }
                uart.send_pending(state);
                Poll::Ready(Ok(n))
            })
        })
        .await
    }

    /// # Cancel safety
    ///
    /// Cancel safe.
    async fn flush(&mut self) -> Result<(), Error> {
        let uart: &Uart<R, RX, TX> = self;
        poll_fn(|cx| {
            uart.with(|state| {
                uart.send_pending(state);
                if state.tx.len == 0 && !state.tx_busy {
                    Poll::Ready(Ok(()))
                } else {
                    state.tx_waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
        })
        .await
    }
}
