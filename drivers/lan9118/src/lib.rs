#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

use core::cell::RefCell;
use core::task::{Context, Waker};

use critical_section::Mutex;
use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};

/// Register offsets (bytes from the chip's base).
pub mod reg {
    /// RX data FIFO (0x00–0x1c alias it).
    pub const RX_DATA_FIFO: u32 = 0x00;
    /// TX data FIFO (0x20–0x3c alias it).
    pub const TX_DATA_FIFO: u32 = 0x20;
    /// RX status FIFO (pops one status word).
    pub const RX_STATUS_FIFO: u32 = 0x40;
    /// TX status FIFO (pops one status word).
    pub const TX_STATUS_FIFO: u32 = 0x48;
    /// Chip id and revision.
    pub const ID_REV: u32 = 0x50;
    /// Interrupt pin configuration.
    pub const IRQ_CFG: u32 = 0x54;
    /// Interrupt status (write 1 to clear).
    pub const INT_STS: u32 = 0x58;
    /// Interrupt enable.
    pub const INT_EN: u32 = 0x5c;
    /// Reads 0x8765_4321 when the bus works.
    pub const BYTE_TEST: u32 = 0x64;
    /// FIFO interrupt levels.
    pub const FIFO_INT: u32 = 0x68;
    /// RX configuration.
    pub const RX_CFG: u32 = 0x6c;
    /// TX configuration.
    pub const TX_CFG: u32 = 0x70;
    /// Hardware configuration (soft reset).
    pub const HW_CFG: u32 = 0x74;
    /// RX FIFO information: used status entries and data bytes.
    pub const RX_FIFO_INF: u32 = 0x7c;
    /// TX FIFO information: used status entries and free data bytes.
    pub const TX_FIFO_INF: u32 = 0x80;
    /// The last register offset (the chip decodes 0x100 bytes).
    pub const LAST: u32 = 0xfc;
    /// MAC CSR command (indirect MAC register access).
    pub const MAC_CSR_CMD: u32 = 0xa4;
    /// MAC CSR data.
    pub const MAC_CSR_DATA: u32 = 0xa8;
}

/// Indirect MAC registers (through `MAC_CSR_CMD`/`MAC_CSR_DATA`).
pub mod mac {
    /// MAC control.
    pub const CR: u32 = 1;
    /// MAC address, high part (bytes 4 and 5).
    pub const ADDRH: u32 = 2;
    /// MAC address, low part (bytes 0 to 3).
    pub const ADDRL: u32 = 3;
    /// MII (PHY) access.
    pub const MII_ACC: u32 = 6;
    /// MII (PHY) data.
    pub const MII_DATA: u32 = 7;

    /// `CR`: receiver enable.
    pub const CR_RXEN: u32 = 1 << 2;
    /// `CR`: transmitter enable.
    pub const CR_TXEN: u32 = 1 << 3;
    /// `CR`: full duplex.
    pub const CR_FDPX: u32 = 1 << 20;
    /// `CR`: pass all multicast (IPv6 neighbour discovery needs it).
    pub const CR_MCPAS: u32 = 1 << 19;
}

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1;
const IRQ_CFG_EN_PUSH_PULL_HIGH: u32 = (1 << 8) | (1 << 4) | 1;
const INT_RSFL: u32 = 1 << 3;
/// `INT_STS`/`INT_EN`: TX data FIFO available (free space above `FIFO_INT`'s level).
const INT_TDFA: u32 = 1 << 9;
/// `INT_STS`/`INT_EN`: the PHY's interrupt.
const INT_PHY: u32 = 1 << 18;
/// Interrupts the handler masks until the task has serviced them: their cause
/// does not go away when `INT_STS` is acknowledged.
const INT_HELD: u32 = INT_TDFA | INT_PHY;
const TX_CFG_TX_ON: u32 = 1 << 1;
const MAC_CSR_BUSY: u32 = 1 << 31;
const MAC_CSR_READ: u32 = 1 << 30;
const RX_STATUS_ERROR: u32 = 1 << 15;
/// `RX_CFG`: empty both RX FIFOs (QEMU implements it; its `RX_DP_CTRL`
/// fast-forward leaves the FIFO's fill count wrong, so the driver never uses it).
const RX_CFG_RX_DUMP: u32 = 1 << 15;
const TX_CMD_A_FIRST: u32 = 1 << 13;
const TX_CMD_A_LAST: u32 = 1 << 12;
const PHY_BASIC_STATUS: u32 = 1;
const PHY_LINK_UP: u32 = 1 << 2;
/// PHY interrupt source (read to acknowledge).
const PHY_INT_SOURCE: u32 = 29;
/// PHY interrupt mask.
const PHY_INT_MASK: u32 = 30;
/// PHY interrupts for link changes: link down, auto-negotiation complete (up).
const PHY_INT_LINK: u32 = 0x10 | 0x40;
/// TX FIFO room one frame needs: its bytes, two command words, up to 3 bytes
/// of padding.
const TX_ROOM: usize = MTU + 8 + 3;
/// `FIFO_INT`: TX data available level (64-byte units, bits 31:24) for
/// [`TX_ROOM`]; RX status level 0 (`RSFL` as soon as one frame waits).
const FIFO_INT_LEVELS: u32 = (TX_ROOM.div_ceil(64) as u32) << 24;

/// The largest Ethernet frame the driver passes on (without the CRC).
pub const MTU: usize = 1514;
/// The CRC the chip appends to every received frame.
const CRC_LEN: usize = 4;
/// How many times a register that should settle at once is polled at start-up.
const SETTLE_POLLS: u32 = 10_000;

/// The chip's registers: 32-bit reads and writes at byte offsets.
///
/// The board implements it with volatile accesses at the chip's base address;
/// tests implement it with a model.
pub trait Registers {
    /// Reads the register at `offset`.
    fn read(&self, offset: u32) -> u32;
    /// Writes `value` to the register at `offset`.
    fn write(&self, offset: u32, value: u32);
}

/// The chip's registers in memory at a base address: volatile 32-bit accesses.
///
/// Board support creates one for where the board maps the chip (QEMU's
/// `mps2-an385`: 0x4020_0000).
#[derive(Debug, Clone, Copy)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// The registers of the chip mapped at `base`.
    ///
    /// # Safety
    ///
    /// `base` must be the address of a LAN9118 (or a compatible LAN9220) in
    /// 32-bit mode: 0x100 bytes of device memory, valid for volatile reads and
    /// writes for as long as the value is used, and touched by nothing that
    /// does not go through this driver.
    #[allow(unsafe_code)]
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    fn address(&self, offset: u32) -> usize {
        // Word aligned and inside the chip's window, whatever the caller passes.
        self.base + (offset & reg::LAST) as usize
    }
}

impl Registers for Mmio {
    fn read(&self, offset: u32) -> u32 {
        // SAFETY: `Mmio::new`'s contract makes `base..base + 0x100` the chip's
        // registers, and `address` keeps the access word aligned inside them.
        #[allow(unsafe_code)]
        unsafe {
            core::ptr::read_volatile(self.address(offset) as *const u32)
        }
    }

    fn write(&self, offset: u32, value: u32) {
        // SAFETY: as in `read`.
        #[allow(unsafe_code)]
        unsafe {
            core::ptr::write_volatile(self.address(offset) as *mut u32, value)
        }
    }
}

impl<R: Registers + ?Sized> Registers for &R {
    fn read(&self, offset: u32) -> u32 {
        (**self).read(offset)
    }

    fn write(&self, offset: u32, value: u32) {
        (**self).write(offset, value)
    }
}

/// A waker the interrupt handler wakes: registered by the task, taken by the
/// interrupt, both inside critical sections.
#[derive(Debug)]
pub struct IrqWaker(Mutex<RefCell<Option<Waker>>>);

impl IrqWaker {
    /// An empty slot.
    pub const fn new() -> Self {
        Self(Mutex::new(RefCell::new(None)))
    }

    /// Keeps `waker` to be woken by the next [`IrqWaker::wake`].
    pub fn register(&self, waker: &Waker) {
        critical_section::with(|cs| {
            let mut slot = self.0.borrow_ref_mut(cs);
            match slot.as_ref() {
                Some(w) if w.will_wake(waker) => {}
                _ => *slot = Some(waker.clone()),
            }
        });
    }

    /// Wakes the registered waker, if any.
    pub fn wake(&self) {
        if let Some(waker) = critical_section::with(|cs| self.0.borrow_ref_mut(cs).take()) {
            waker.wake();
        }
    }
}

impl Default for IrqWaker {
    fn default() -> Self {
        Self::new()
    }
}

/// Why the chip could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InitError {
    /// `BYTE_TEST` did not read 0x8765_4321: no chip, or a bus problem.
    NoChip(u32),
    /// The soft reset did not finish.
    ResetTimeout,
    /// A MAC register access did not finish.
    MacTimeout,
}

impl core::fmt::Display for InitError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::NoChip(value) => write!(f, "no LAN9118: BYTE_TEST reads {value:#010x}"),
            Self::ResetTimeout => f.write_str("LAN9118 soft reset did not finish"),
            Self::MacTimeout => f.write_str("LAN9118 MAC register access did not finish"),
        }
    }
}

/// Counters of what the driver dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames received.
    pub received: u32,
    /// Frames sent.
    pub sent: u32,
    /// Received frames dropped: error status, too short or too long, or a
    /// status the data FIFO does not hold (counted in `resyncs` too).
    pub dropped: u32,
    /// Times the RX FIFOs were emptied because a status word claimed more
    /// bytes than the data FIFO held: what was queued then is lost.
    pub resyncs: u32,
}

/// The LAN9118 driver over registers `R`, woken through `waker`.
pub struct Lan9118<R: Registers> {
    regs: R,
    waker: &'static IrqWaker,
    mac: [u8; 6],
    rx: [u8; MTU + CRC_LEN + 3],
    tx: [u8; MTU],
    counters: Counters,
}

impl<R: Registers> core::fmt::Debug for Lan9118<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Lan9118")
            .field("mac", &self.mac)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl<R: Registers> Lan9118<R> {
    /// Resets the chip, keeps its MAC address (from its EEPROM) unless `mac`
    /// gives one, enables the receiver and transmitter and the receive
    /// interrupt.
    ///
    /// # Errors
    ///
    /// [`InitError`] when the chip does not answer as a LAN9118.
    pub fn new(regs: R, waker: &'static IrqWaker, mac: Option<[u8; 6]>) -> Result<Self, InitError> {
        let test = regs.read(reg::BYTE_TEST);
        if test != BYTE_TEST_VALUE {
            return Err(InitError::NoChip(test));
        }
        regs.write(reg::HW_CFG, HW_CFG_SRST);
        settle(|| regs.read(reg::HW_CFG) & HW_CFG_SRST == 0).ok_or(InitError::ResetTimeout)?;
        let mut driver = Self {
            regs,
            waker,
            mac: [0; 6],
            rx: [0; MTU + CRC_LEN + 3],
            tx: [0; MTU],
            counters: Counters::default(),
        };
        match mac {
            Some(mac) => {
                driver.mac_write(
                    mac::ADDRL,
                    u32::from_le_bytes([mac[0], mac[1], mac[2], mac[3]]),
                )?;
                driver.mac_write(mac::ADDRH, u32::from(u16::from_le_bytes([mac[4], mac[5]])))?;
                driver.mac = mac;
            }
            None => {
                let low = driver.mac_read(mac::ADDRL)?.to_le_bytes();
                let high = driver.mac_read(mac::ADDRH)?.to_le_bytes();
                driver.mac = [low[0], low[1], low[2], low[3], high[0], high[1]];
            }
        }
        driver.mac_write(
            mac::CR,
            mac::CR_RXEN | mac::CR_TXEN | mac::CR_FDPX | mac::CR_MCPAS,
        )?;
        let regs = &driver.regs;
        regs.write(reg::TX_CFG, TX_CFG_TX_ON);
        // No offset or end padding around received frames.
        regs.write(reg::RX_CFG, 0);
        regs.write(reg::FIFO_INT, FIFO_INT_LEVELS);
        // Link changes raise the PHY's interrupt.
        driver
            .phy_write(PHY_INT_MASK, PHY_INT_LINK)
            .ok_or(InitError::MacTimeout)?;
        let regs = &driver.regs;
        regs.write(reg::INT_STS, u32::MAX);
        regs.write(reg::INT_EN, INT_RSFL | INT_PHY);
        regs.write(reg::IRQ_CFG, IRQ_CFG_EN_PUSH_PULL_HIGH);
        Ok(driver)
    }

    /// The counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Call from the chip's interrupt handler: acknowledges the interrupt and
    /// wakes the task that polls the driver.
    ///
    /// The PHY's interrupt and the TX room interrupt last as long as their
    /// cause, so the handler masks them; the driver unmasks them when the task
    /// has looked at the link or waits for room again.
    pub fn on_interrupt(regs: &R, waker: &IrqWaker) {
        let status = regs.read(reg::INT_STS);
        let held = status & INT_HELD;
        if held != 0 {
            critical_section::with(|_| {
                regs.write(reg::INT_EN, regs.read(reg::INT_EN) & !held);
            });
        }
        regs.write(reg::INT_STS, status);
        waker.wake();
    }

    /// Acknowledges and unmasks the interrupts `bits` (a read-modify-write of
    /// `INT_EN` that the interrupt handler cannot split).
    fn unmask(&self, bits: u32) {
        critical_section::with(|_| {
            self.regs.write(reg::INT_STS, bits);
            let enabled = self.regs.read(reg::INT_EN);
            self.regs.write(reg::INT_EN, enabled | bits);
        });
    }

    fn mac_wait(&self) -> Result<(), InitError> {
        settle(|| self.regs.read(reg::MAC_CSR_CMD) & MAC_CSR_BUSY == 0).ok_or(InitError::MacTimeout)
    }

    fn mac_read(&self, register: u32) -> Result<u32, InitError> {
        self.mac_wait()?;
        self.regs
            .write(reg::MAC_CSR_CMD, MAC_CSR_BUSY | MAC_CSR_READ | register);
        self.mac_wait()?;
        Ok(self.regs.read(reg::MAC_CSR_DATA))
    }

    fn mac_write(&self, register: u32, value: u32) -> Result<(), InitError> {
        self.mac_wait()?;
        self.regs.write(reg::MAC_CSR_DATA, value);
        self.regs.write(reg::MAC_CSR_CMD, MAC_CSR_BUSY | register);
        self.mac_wait()
    }

    fn phy_write(&self, register: u32, value: u32) -> Option<()> {
        self.mac_write(mac::MII_DATA, value).ok()?;
        // MII_ACC: PHY address 1, register, write, busy.
        self.mac_write(mac::MII_ACC, (1 << 11) | (register << 6) | 2 | 1)
            .ok()?;
        settle(|| self.mac_read(mac::MII_ACC).is_ok_and(|v| v & 1 == 0))
    }

    fn phy_read(&self, register: u32) -> Option<u32> {
        // MII_ACC: PHY address 1, register, read, busy.
        self.mac_write(mac::MII_ACC, (1 << 11) | (register << 6) | 1)
            .ok()?;
        settle(|| self.mac_read(mac::MII_ACC).is_ok_and(|v| v & 1 == 0))?;
        self.mac_read(mac::MII_DATA).ok()
    }

    fn frames_waiting(&self) -> u32 {
        (self.regs.read(reg::RX_FIFO_INF) >> 16) & 0xff
    }

    /// Pops the next good frame into the RX buffer; returns its length. Bad
    /// frames are read out and dropped.
    fn pop_frame(&mut self) -> Option<usize> {
        // Bounded by what is queued: each turn pops one status entry.
        for _ in 0..self.frames_waiting() {
            let status = self.regs.read(reg::RX_STATUS_FIFO);
            let len = ((status >> 16) & 0x3fff) as usize;
            let words = len.div_ceil(4);
            // RXDUSED: bytes in the RX data FIFO. A status that claims more
            // than that cannot be read out word by word without taking the
            // next frames' words (or underflowing the FIFO): the FIFOs are out
            // of step, so empty both and start again.
            let in_fifo = (self.regs.read(reg::RX_FIFO_INF) & 0xffff) as usize;
            if words * 4 > in_fifo {
                self.regs.write(reg::RX_CFG, RX_CFG_RX_DUMP);
                self.counters.dropped = self.counters.dropped.wrapping_add(1);
                self.counters.resyncs = self.counters.resyncs.wrapping_add(1);
                return None;
            }
            let good =
                status & RX_STATUS_ERROR == 0 && (14 + CRC_LEN..=MTU + CRC_LEN).contains(&len);
            if !good {
                for _ in 0..words {
                    self.regs.read(reg::RX_DATA_FIFO);
                }
                self.counters.dropped = self.counters.dropped.wrapping_add(1);
                continue;
            }
            for chunk in self.rx[..words * 4].chunks_exact_mut(4) {
                chunk.copy_from_slice(&self.regs.read(reg::RX_DATA_FIFO).to_le_bytes());
            }
            self.counters.received = self.counters.received.wrapping_add(1);
            return Some(len - CRC_LEN);
        }
        None
    }

    fn tx_room(&self) -> bool {
        // TDFREE: free bytes in the TX data FIFO.
        (self.regs.read(reg::TX_FIFO_INF) & 0xffff) as usize >= TX_ROOM
    }

    /// Whether a frame fits in the TX FIFO; if not, the TX room interrupt
    /// wakes the task when it does. (QEMU sends each frame as it is written,
    /// so there the room is always there.)
    fn tx_ready(&self, cx: &Context<'_>) -> bool {
        if self.tx_room() {
            return true;
        }
        self.waker.register(cx.waker());
        self.unmask(INT_TDFA);
        // Room that came before the unmask raises nothing: look again.
        self.tx_room()
    }
}

/// Polls `done` until it holds, a bounded number of times.
fn settle(mut done: impl FnMut() -> bool) -> Option<()> {
    (0..SETTLE_POLLS).any(|_| done()).then_some(())
}

/// A received frame, borrowed from the driver's RX buffer.
#[derive(Debug)]
pub struct RxToken<'a> {
    frame: &'a mut [u8],
}

/// Room for one frame to send.
pub struct TxToken<'a, R: Registers> {
    regs: &'a R,
    buf: &'a mut [u8; MTU],
    sent: &'a mut u32,
}

impl<R: Registers> core::fmt::Debug for TxToken<'_, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("TxToken")
    }
}

impl embassy_net_driver::RxToken for RxToken<'_> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, f: F) -> T {
        f(self.frame)
    }
}

impl<R: Registers> embassy_net_driver::TxToken for TxToken<'_, R> {
    fn consume<T, F: FnOnce(&mut [u8]) -> T>(self, len: usize, f: F) -> T {
        let len = len.min(MTU);
        let result = f(&mut self.buf[..len]);
        let regs = self.regs;
        let length = len as u32;
        regs.write(reg::TX_DATA_FIFO, TX_CMD_A_FIRST | TX_CMD_A_LAST | length);
        regs.write(reg::TX_DATA_FIFO, (length << 16) | length);
        for chunk in self.buf[..len].chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            regs.write(reg::TX_DATA_FIFO, u32::from_le_bytes(word));
        }
        // Keep the TX status FIFO from filling: one status per frame sent.
        for _ in 0..(regs.read(reg::TX_FIFO_INF) >> 16) & 0xff {
            regs.read(reg::TX_STATUS_FIFO);
        }
        *self.sent = self.sent.wrapping_add(1);
        result
    }
}

impl<R: Registers> Driver for Lan9118<R> {
    type RxToken<'a>
        = RxToken<'a>
    where
        Self: 'a;
    type TxToken<'a>
        = TxToken<'a, R>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(RxToken<'_>, TxToken<'_, R>)> {
        // The stack may answer a frame at once: only hand one out with room to.
        if !self.tx_ready(cx) {
            return None;
        }
        let len = match self.pop_frame() {
            Some(len) => len,
            None => {
                // Register first, then look again: a frame that arrived in between
                // has raised the interrupt after the registration.
                self.waker.register(cx.waker());
                self.pop_frame()?
            }
        };
        Some((
            RxToken {
                frame: &mut self.rx[..len],
            },
            TxToken {
                regs: &self.regs,
                buf: &mut self.tx,
                sent: &mut self.counters.sent,
            },
        ))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<TxToken<'_, R>> {
        if !self.tx_ready(cx) {
            return None;
        }
        Some(TxToken {
            regs: &self.regs,
            buf: &mut self.tx,
            sent: &mut self.counters.sent,
        })
    }

    fn link_state(&mut self, cx: &mut Context<'_>) -> LinkState {
        // Register, acknowledge the PHY's interrupt source and unmask it, then
        // read the link: a change after the read raises the interrupt again.
        self.waker.register(cx.waker());
        let _ = self.phy_read(PHY_INT_SOURCE);
        self.unmask(INT_PHY);
        match self.phy_read(PHY_BASIC_STATUS) {
            Some(status) if status & PHY_LINK_UP != 0 => LinkState::Up,
            // An unreadable PHY counts as no link.
            _ => LinkState::Down,
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
