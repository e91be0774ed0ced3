//! The LAN9118 driver against a model of the chip's registers, on the host. The
//! model implements the registers QEMU's model implements, and fails the test on
//! any other access (QEMU stops the emulator there).
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};

use embassy_net_driver::{Driver, HardwareAddress, LinkState, RxToken, TxToken};
use portnet_lan9118::{IrqWaker, Lan9118, MTU, Registers, mac, reg};

const EEPROM_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

#[derive(Default)]
struct Chip {
    rx_status: VecDeque<u32>,
    rx_data: VecDeque<u32>,
    tx_words: Vec<u32>,
    sent: Vec<Vec<u8>>,
    tx_status: VecDeque<u32>,
    int_sts: u32,
    int_en: u32,
    mac_cr: u32,
    mac_addr: [u8; 6],
    mac_data: u32,
    mii_data: u32,
    /// What the driver wrote to MII_DATA for a PHY write.
    mii_write: u32,
    accesses: usize,
    dumps: usize,
    /// Free bytes in the TX data FIFO (TDFREE).
    tx_free: u32,
    fifo_int: u32,
    link_down: bool,
    /// PHY interrupt source (register 29) and mask (register 30).
    phy_int: u32,
    phy_int_mask: u32,
}

const INT_TDFA: u32 = 1 << 9;
const INT_PHY: u32 = 1 << 18;

impl Chip {
    /// The link goes down or up, as QEMU's PHY reports it.
    fn set_link(&mut self, up: bool) {
        self.link_down = !up;
        self.phy_int |= if up { 0x80 | 0x40 } else { 0x10 };
        self.update_phy_irq();
    }

    fn update_phy_irq(&mut self) {
        if self.phy_int & self.phy_int_mask != 0 {
            self.int_sts |= INT_PHY;
        } else {
            self.int_sts &= !INT_PHY;
        }
    }

    /// TX FIFO room frees (QEMU never does this: it sends as frames are written).
    fn free_tx_room(&mut self) {
        self.tx_free = 4608;
        if self.tx_free > (self.fifo_int >> 24) * 64 {
            self.int_sts |= INT_TDFA;
        }
    }

    fn phy_read(&mut self, register: u32) -> u32 {
        match register {
            1 => 0x7809 | if self.link_down { 0 } else { 0x24 },
            29 => {
                let source = std::mem::take(&mut self.phy_int);
                self.update_phy_irq();
                source
            }
            30 => self.phy_int_mask,
            other => panic!("read of PHY register {other}"),
        }
    }

    fn phy_write(&mut self, register: u32, value: u32) {
        match register {
            30 => {
                self.phy_int_mask = value & 0xff;
                self.update_phy_irq();
            }
            other => panic!("write of PHY register {other}"),
        }
    }

    /// A frame arrives: status word (length with CRC, `error` bit 15) and data
    /// words, little-endian, CRC included.
    fn arrive(&mut self, frame: &[u8], error: bool) {
        let mut bytes = frame.to_vec();
        bytes.extend_from_slice(&[0xc0, 0xc1, 0xc2, 0xc3]);
        let status = ((bytes.len() as u32) << 16) | if error { 1 << 15 } else { 0 };
        self.rx_status.push_back(status);
        for chunk in bytes.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            self.rx_data.push_back(u32::from_le_bytes(word));
        }
        self.int_sts |= 1 << 3;
    }

    /// Assembles a frame from the TX FIFO words once complete.
    fn push_tx(&mut self, word: u32) {
        self.tx_words.push(word);
        let cmd_a = self.tx_words[0];
        let len = (cmd_a & 0x7ff) as usize;
        assert_eq!(cmd_a & (3 << 12), 3 << 12, "one segment per frame");
        if self.tx_words.len() == 2 {
            assert_eq!(self.tx_words[1] & 0x7ff, len as u32, "cmd B length");
        }
        if self.tx_words.len() == 2 + len.div_ceil(4) {
            let bytes: Vec<u8> = self.tx_words[2..]
                .iter()
                .flat_map(|w| w.to_le_bytes())
                .take(len)
                .collect();
            self.sent.push(bytes);
            self.tx_words.clear();
            self.tx_status.push_back(0);
        }
    }
}

struct Model(RefCell<Chip>);

impl Registers for Model {
    fn read(&self, offset: u32) -> u32 {
        let mut chip = self.0.borrow_mut();
        chip.accesses += 1;
        match offset {
            0x00..=0x1c => chip.rx_data.pop_front().expect("RX data FIFO underflow"),
            reg::RX_STATUS_FIFO => chip.rx_status.pop_front().expect("RX status FIFO empty"),
            reg::TX_STATUS_FIFO => chip.tx_status.pop_front().unwrap_or(0),
            reg::BYTE_TEST => 0x8765_4321,
            reg::HW_CFG => 0x0005_0004,
            reg::INT_STS => chip.int_sts,
            reg::INT_EN => chip.int_en,
            reg::RX_FIFO_INF => {
                ((chip.rx_status.len() as u32) << 16) | ((chip.rx_data.len() as u32) * 4)
            }
            reg::TX_FIFO_INF => ((chip.tx_status.len() as u32) << 16) | chip.tx_free,
            reg::FIFO_INT => chip.fifo_int,
            reg::MAC_CSR_CMD => 0,
            reg::MAC_CSR_DATA => chip.mac_data,
            other => panic!("read of register {other:#x}, which QEMU does not implement"),
        }
    }

    fn write(&self, offset: u32, value: u32) {
        let mut chip = self.0.borrow_mut();
        chip.accesses += 1;
        match offset {
            0x20..=0x3c => chip.push_tx(value),
            reg::INT_STS => chip.int_sts &= !value,
            reg::INT_EN => chip.int_en = value,
            reg::RX_CFG => {
                // RX_DUMP empties both RX FIFOs, as QEMU's model does.
                if value & (1 << 15) != 0 {
                    chip.rx_status.clear();
                    chip.rx_data.clear();
                    chip.dumps += 1;
                }
            }
            reg::FIFO_INT => chip.fifo_int = value,
            reg::HW_CFG | reg::IRQ_CFG | reg::TX_CFG => {}
            reg::MAC_CSR_DATA => chip.mac_data = value,
            reg::MAC_CSR_CMD => {
                let register = value & 0xf;
                let read = value & (1 << 30) != 0;
                match (register, read) {
                    (mac::CR, false) => chip.mac_cr = chip.mac_data,
                    (mac::ADDRL, true) => {
                        let m = chip.mac_addr;
                        chip.mac_data = u32::from_le_bytes([m[0], m[1], m[2], m[3]]);
                    }
                    (mac::ADDRH, true) => {
                        let m = chip.mac_addr;
                        chip.mac_data = u32::from(u16::from_le_bytes([m[4], m[5]]));
                    }
                    (mac::ADDRL, false) => {
                        let b = chip.mac_data.to_le_bytes();
                        chip.mac_addr[..4].copy_from_slice(&b);
                    }
                    (mac::ADDRH, false) => {
                        let b = chip.mac_data.to_le_bytes();
                        chip.mac_addr[4..].copy_from_slice(&b[..2]);
                    }
                    (mac::MII_ACC, false) => {
                        let access = chip.mac_data;
                        assert_eq!(access & 0xf800, 1 << 11, "PHY address 1");
                        let register = (access >> 6) & 0x1f;
                        if access & 2 != 0 {
                            let data = chip.mii_write;
                            chip.phy_write(register, data);
                        } else {
                            chip.mii_data = chip.phy_read(register);
                        }
                    }
                    (mac::MII_DATA, false) => chip.mii_write = chip.mac_data,
                    (mac::MII_ACC, true) => chip.mac_data = 0,
                    (mac::MII_DATA, true) => chip.mac_data = chip.mii_data,
                    other => panic!("MAC register access {other:?}"),
                }
            }
            other => panic!("write of register {other:#x}, which QEMU does not implement"),
        }
    }
}

fn model() -> &'static Model {
    Box::leak(Box::new(Model(RefCell::new(Chip {
        mac_addr: EEPROM_MAC,
        tx_free: 4608,
        ..Chip::default()
    }))))
}

fn waker_slot() -> &'static IrqWaker {
    Box::leak(Box::new(IrqWaker::new()))
}

struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counting_waker() -> (Arc<Counter>, Waker) {
    let counter = Arc::new(Counter(AtomicUsize::new(0)));
    (counter.clone(), Waker::from(counter))
}

fn frame(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[test]
fn start_up_keeps_the_eeprom_mac_and_enables_the_mac() {
    let chip = model();
    let driver = Lan9118::new(chip, waker_slot(), None).unwrap();
    assert_eq!(
        driver.hardware_address(),
        HardwareAddress::Ethernet(EEPROM_MAC)
    );
    let cr = chip.0.borrow().mac_cr;
    assert_ne!(cr & mac::CR_RXEN, 0);
    assert_ne!(cr & mac::CR_TXEN, 0);
    assert_eq!(
        chip.0.borrow().int_en,
        (1 << 3) | INT_PHY,
        "the RX status level and PHY interrupts"
    );
    assert_eq!(chip.0.borrow().phy_int_mask, 0x50, "link down and up");
}

#[test]
fn a_given_mac_is_programmed() {
    let chip = model();
    let mac = [0x02, 1, 2, 3, 4, 5];
    let driver = Lan9118::new(chip, waker_slot(), Some(mac)).unwrap();
    assert_eq!(driver.hardware_address(), HardwareAddress::Ethernet(mac));
    assert_eq!(chip.0.borrow().mac_addr, mac);
}

#[test]
fn frames_of_every_length_come_out_whole_without_their_crc() {
    let chip = model();
    let mut driver = Lan9118::new(chip, waker_slot(), None).unwrap();
    let (_, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    for len in [14, 60, 61, 62, 63, 64, 1000, 1513, MTU] {
        let sent = frame(len, len as u8);
        chip.0.borrow_mut().arrive(&sent, false);
        let (rx, _tx) = driver.receive(&mut cx).expect("a frame");
        let got = rx.consume(|bytes| bytes.to_vec());
        assert_eq!(got, sent, "length {len}");
    }
    assert!(chip.0.borrow().rx_data.is_empty(), "every word read");
    assert_eq!(driver.counters().received, 9);
}

#[test]
fn bad_frames_are_dropped_and_counted_and_the_next_one_comes_through() {
    let chip = model();
    let mut driver = Lan9118::new(chip, waker_slot(), None).unwrap();
    let (_, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let good = frame(100, 7);
    {
        let mut c = chip.0.borrow_mut();
        c.arrive(&frame(80, 1), true); // error status
        c.arrive(&frame(MTU + 1, 2), false); // too long
        c.arrive(&frame(5, 3), false); // shorter than a header
        c.arrive(&good, false);
    }
    let (rx, _) = driver.receive(&mut cx).expect("the good frame");
    assert_eq!(rx.consume(|b| b.to_vec()), good);
    assert_eq!(driver.counters().dropped, 3);
    assert!(
        chip.0.borrow().rx_data.is_empty(),
        "dropped frames are read out"
    );
    assert!(driver.receive(&mut cx).is_none());
}

#[test]
fn sent_frames_reach_the_fifo_intact() {
    let chip = model();
    let mut driver = Lan9118::new(chip, waker_slot(), None).unwrap();
    let (_, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut expected = Vec::new();
    for len in [42, 43, 60, 1514] {
        let bytes = frame(len, 9);
        let tx = driver.transmit(&mut cx).expect("room");
        tx.consume(len, |buf| buf.copy_from_slice(&bytes));
        expected.push(bytes);
    }
    assert_eq!(chip.0.borrow().sent, expected);
    assert!(
        chip.0.borrow().tx_status.is_empty(),
        "TX status entries popped"
    );
    assert_eq!(driver.counters().sent, 4);
}

#[test]
fn an_empty_chip_parks_the_task_until_the_interrupt() {
    static SLOT: IrqWaker = IrqWaker::new();
    let chip = model();
    let mut driver = Lan9118::new(chip, &SLOT, None).unwrap();
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(driver.receive(&mut cx).is_none());
    assert_eq!(count.0.load(Ordering::SeqCst), 0, "no busy wake-up");
    chip.0.borrow_mut().arrive(&frame(60, 1), false);
    Lan9118::on_interrupt(&chip, &SLOT);
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "the interrupt wakes the task"
    );
    assert_eq!(chip.0.borrow().int_sts, 0, "and acknowledges the chip");
    assert!(driver.receive(&mut cx).is_some());
}

#[test]
fn no_chip_is_an_error_not_a_hang() {
    struct Absent;
    impl Registers for Absent {
        fn read(&self, _: u32) -> u32 {
            0xffff_ffff
        }
        fn write(&self, _: u32, _: u32) {}
    }
    let err = Lan9118::new(Absent, waker_slot(), None).unwrap_err();
    assert_eq!(err.to_string(), "no LAN9118: BYTE_TEST reads 0xffffffff");
}

#[test]
fn a_status_longer_than_the_data_fifo_empties_the_fifos_instead_of_reading_past_them() {
    let chip = model();
    let mut driver = Lan9118::new(chip, waker_slot(), None).unwrap();
    let (_, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    {
        let mut c = chip.0.borrow_mut();
        // A status word claiming the largest length (16383 bytes) over a FIFO
        // that holds one small frame: reading it word by word would underflow.
        c.arrive(&frame(60, 1), false);
        c.rx_status[0] = (0x3fff << 16) | (1 << 15);
    }
    assert!(driver.receive(&mut cx).is_none(), "nothing to deliver");
    let counters = driver.counters();
    assert_eq!((counters.dropped, counters.resyncs), (1, 1));
    assert_eq!(chip.0.borrow().dumps, 1, "RX_DUMP written once");
    assert!(chip.0.borrow().rx_data.is_empty());
    // The FIFOs are in step again: the next frame comes through whole.
    let next = frame(333, 4);
    chip.0.borrow_mut().arrive(&next, false);
    let (rx, _) = driver.receive(&mut cx).expect("the next frame");
    assert_eq!(rx.consume(|b| b.to_vec()), next);
}

#[test]
fn an_oversized_errored_status_is_dropped_without_a_panic() {
    let chip = model();
    let mut driver = Lan9118::new(chip, waker_slot(), None).unwrap();
    let (_, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let good = frame(61, 5);
    {
        let mut c = chip.0.borrow_mut();
        // 2000 bytes with the error bit (a runt, CRC or length error in the
        // real chip), its data really in the FIFO.
        c.arrive(&frame(2000, 2), true);
        c.arrive(&good, false);
    }
    let (rx, _) = driver.receive(&mut cx).expect("the good frame");
    assert_eq!(rx.consume(|b| b.to_vec()), good);
    let counters = driver.counters();
    assert_eq!((counters.dropped, counters.resyncs), (1, 0));
    assert_eq!(chip.0.borrow().dumps, 0, "read out, not dumped");
}

#[test]
fn status_flags_other_than_the_error_summary_do_not_drop_a_frame() {
    let chip = model();
    let mut driver = Lan9118::new(chip, waker_slot(), None).unwrap();
    let (_, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    let mut frames = Vec::new();
    // Broadcast (bit 13), multicast (bit 10), filtering failed (bit 30, which
    // QEMU sets for frames let through by a pass-all mode).
    for (i, flag) in [1u32 << 13, 1 << 10, 1 << 30].into_iter().enumerate() {
        let bytes = frame(64 + i, i as u8);
        let mut c = chip.0.borrow_mut();
        c.arrive(&bytes, false);
        *c.rx_status.back_mut().unwrap() |= flag;
        frames.push(bytes);
    }
    for expected in frames {
        let (rx, _) = driver.receive(&mut cx).expect("a frame");
        assert_eq!(rx.consume(|b| b.to_vec()), expected);
    }
    assert_eq!(driver.counters().dropped, 0);
}

#[test]
fn an_interrupt_with_no_task_waiting_only_acknowledges() {
    static SLOT: IrqWaker = IrqWaker::new();
    let chip = model();
    let _driver = Lan9118::new(chip, &SLOT, None).unwrap();
    chip.0.borrow_mut().arrive(&frame(60, 1), false);
    Lan9118::on_interrupt(&chip, &SLOT);
    assert_eq!(chip.0.borrow().int_sts, 0);
    assert_eq!(chip.0.borrow().rx_status.len(), 1, "the frame stays queued");
}

#[test]
fn mmio_accesses_stay_word_aligned_inside_the_chip_window() {
    use portnet_lan9118::Mmio;
    // A stand-in for the chip's 0x100-byte window, plus one guard word.
    let mut window = Box::new([0u32; 65]);
    let base = window.as_mut_ptr() as usize;
    #[allow(unsafe_code)]
    // SAFETY: `window` is 0x104 bytes of ordinary memory, word aligned, alive
    // and otherwise untouched until `regs` is last used.
    let regs = unsafe { Mmio::new(base) };
    regs.write(reg::BYTE_TEST, 0x8765_4321);
    regs.write(0xfe, 7); // unaligned: lands on 0xfc
    regs.write(0x100, 9); // past the window: wraps to 0x00
    assert_eq!(regs.read(reg::BYTE_TEST), 0x8765_4321);
    assert_eq!(regs.read(0xfc), 7);
    assert_eq!(regs.read(0x00), 9);
    assert_eq!(window[64], 0, "the guard word is never written");
    assert_eq!(window[(reg::BYTE_TEST / 4) as usize], 0x8765_4321);
}

#[test]
fn the_phy_interrupt_wakes_the_task_on_link_changes() {
    static SLOT: IrqWaker = IrqWaker::new();
    let chip = model();
    let mut driver = Lan9118::new(chip, &SLOT, None).unwrap();
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    assert!(driver.link_state(&mut cx) == LinkState::Up);
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
    for (up, wakes) in [(false, 1), (true, 2), (false, 3)] {
        chip.0.borrow_mut().set_link(up);
        assert_ne!(chip.0.borrow().int_sts & INT_PHY, 0);
        Lan9118::on_interrupt(&chip, &SLOT);
        assert_eq!(count.0.load(Ordering::SeqCst), wakes, "woken once");
        assert_eq!(chip.0.borrow().int_en & INT_PHY, 0, "masked until serviced");
        let expected = if up { LinkState::Up } else { LinkState::Down };
        assert!(driver.link_state(&mut cx) == expected, "link up: {up}");
        let c = chip.0.borrow();
        assert_ne!(c.int_en & INT_PHY, 0, "unmasked again");
        assert_eq!(c.phy_int, 0, "the PHY's source acknowledged");
        assert_eq!(c.int_sts & INT_PHY, 0);
    }
}

#[test]
fn a_full_tx_fifo_waits_for_the_room_interrupt_without_busy_waking() {
    static SLOT: IrqWaker = IrqWaker::new();
    let chip = model();
    let mut driver = Lan9118::new(chip, &SLOT, None).unwrap();
    let (count, waker) = counting_waker();
    let mut cx = Context::from_waker(&waker);
    chip.0.borrow_mut().tx_free = 1000; // less than a full frame needs
    chip.0.borrow_mut().arrive(&frame(60, 1), false);
    assert!(driver.transmit(&mut cx).is_none());
    assert!(
        driver.receive(&mut cx).is_none(),
        "no frame without room to answer it"
    );
    assert_eq!(count.0.load(Ordering::SeqCst), 0, "no busy wake-up");
    let level = (chip.0.borrow().fifo_int >> 24) * 64;
    assert!(level >= 1514 + 8, "the room level fits a frame: {level}");
    assert_ne!(chip.0.borrow().int_en & INT_TDFA, 0, "room interrupt armed");
    chip.0.borrow_mut().free_tx_room();
    Lan9118::on_interrupt(&chip, &SLOT);
    assert_eq!(
        count.0.load(Ordering::SeqCst),
        1,
        "the interrupt wakes the task"
    );
    assert_eq!(chip.0.borrow().int_en & INT_TDFA, 0, "and masks itself");
    let (rx, tx) = driver.receive(&mut cx).expect("the frame, with room");
    assert_eq!(rx.consume(|b| b.len()), 60);
    tx.consume(42, |buf| buf.fill(7));
    assert_eq!(chip.0.borrow().sent, vec![vec![7u8; 42]]);
}
