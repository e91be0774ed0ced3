//! The UART and TIMER drivers against models of the nRF51 peripherals as QEMU
//! implements them (hw/char/nrf51_uart.c, hw/timer/nrf51_timer.c): the level
//! events, the six-byte receive FIFO that holds the sender back when full, the
//! transmit register that ignores a byte while one is pending, and compare
//! events on a 32-bit counter.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::collections::VecDeque;
use std::future::Future;
use std::pin::pin;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use embedded_io_async::{Read as _, Write as _};
use portnet_board_microbit::regs::Registers;
use portnet_board_microbit::timer::{TimerAlarm, reg as treg};
use portnet_board_microbit::uart::{Uart, reg};
use portnet_executor::Alarm;

/// QEMU's nRF51 UART, as far as the driver uses it.
#[derive(Default)]
struct UartModel {
    state: Mutex<UartState>,
}

#[derive(Default)]
struct UartState {
    enabled: bool,
    rx_started: bool,
    tx_started: bool,
    inten: u32,
    rxdrdy: u32,
    txdrdy: u32,
    fifo: VecDeque<u8>,
    /// Bytes the host has not yet been able to put in the FIFO.
    host_input: VecDeque<u8>,
    /// A byte written to TXD that the line has not taken yet.
    pending_tx: Option<u8>,
    /// Whether the line takes a byte at once (QEMU with a free socket) or
    /// only when the test says so (a real line, or a full socket).
    line_instant: bool,
    sent: Vec<u8>,
    /// Bytes written to TXD while one was pending: lost.
    dropped: usize,
}

const FIFO: usize = 6;

impl UartState {
    fn refill(&mut self) {
        while self.rx_started && self.fifo.len() < FIFO {
            match self.host_input.pop_front() {
                Some(byte) => {
                    self.fifo.push_back(byte);
                    self.rxdrdy = 1;
                }
                None => break,
            }
        }
    }

    fn irq(&self) -> bool {
        (self.rxdrdy != 0 && self.inten & reg::INT_RXDRDY != 0)
            || (self.txdrdy != 0 && self.inten & reg::INT_TXDRDY != 0)
    }
}

impl UartModel {
    fn instant() -> Self {
        let model = Self::default();
        model.state.lock().unwrap().line_instant = true;
        model
    }

    fn host_sends(&self, bytes: &[u8]) {
        let mut s = self.state.lock().unwrap();
        s.host_input.extend(bytes);
        s.refill();
    }

    /// The line takes the pending byte (a slow line's bit time elapsed).
    fn line_takes(&self) {
        let mut s = self.state.lock().unwrap();
        if let Some(byte) = s.pending_tx.take() {
            s.sent.push(byte);
            s.txdrdy = 1;
        }
    }

    fn irq(&self) -> bool {
        self.state.lock().unwrap().irq()
    }
}

impl Registers for UartModel {
    fn read(&self, offset: u32) -> u32 {
        let mut s = self.state.lock().unwrap();
        if !s.enabled {
            return 0;
        }
        match offset {
            reg::RXD => {
                let byte = s.fifo.pop_front().unwrap_or(0);
                if !s.fifo.is_empty() {
                    s.rxdrdy = 1;
                }
                s.refill();
                u32::from(byte)
            }
            reg::RXDRDY => s.rxdrdy,
            reg::TXDRDY => s.txdrdy,
            reg::INTENSET | reg::INTENCLR => s.inten,
            _ => 0,
        }
    }

    fn write(&self, offset: u32, value: u32) {
        let mut s = self.state.lock().unwrap();
        if !s.enabled && offset != reg::ENABLE {
            return;
        }
        match offset {
            reg::ENABLE => s.enabled = value == reg::ENABLE_ON,
            reg::STARTRX => {
                s.rx_started = true;
                s.refill();
            }
            reg::STARTTX => s.tx_started = true,
            reg::RXDRDY => s.rxdrdy = value,
            reg::TXDRDY => s.txdrdy = value,
            reg::INTENSET => s.inten |= value,
            reg::INTENCLR => s.inten &= !value,
            reg::TXD if s.tx_started => {
                if s.pending_tx.is_some() {
                    s.dropped += 1;
                } else if s.line_instant {
                    s.sent.push(value as u8);
                    s.txdrdy = 1;
                } else {
                    s.pending_tx = Some(value as u8);
                }
            }
            _ => {}
        }
    }
}

/// Polls `future` once with a waker that does nothing.
fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    future.poll(&mut Context::from_waker(Waker::noop()))
}

/// Runs the UART's interrupt handler while its line is up, as the NVIC would;
/// bounded, and fails if the line never lets go.
fn service<R: Registers, const RX: usize, const TX: usize>(
    uart: &Uart<R, RX, TX>,
    irq: impl Fn() -> bool,
) {
    for _ in 0..1000 {
        if !irq() {
            return;
        }
        uart.on_interrupt();
    }
    panic!("the UART's interrupt line stays up");
}

#[test]
fn bytes_from_the_host_arrive_in_order_and_none_is_lost_when_the_ring_fills() {
    let model = UartModel::instant();
    let uart: Uart<&UartModel, 8, 8> = Uart::new(&model);
    uart.start();
    let input: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
    model.host_sends(&input);
    let mut got = Vec::new();
    for _ in 0..1000 {
        service(&uart, || model.irq());
        let mut buf = [0u8; 5];
        let n = {
            let mut reader = &uart;
            match poll_once(pin!(reader.read(&mut buf))) {
                Poll::Ready(Ok(n)) => n,
                _ => 0,
            }
        };
        got.extend_from_slice(&buf[..n]);
        if got.len() == input.len() {
            break;
        }
    }
    assert_eq!(got, input);
}

#[test]
fn a_full_ring_masks_the_receive_interrupt_until_a_read_makes_room() {
    let model = UartModel::instant();
    let uart: Uart<&UartModel, 4, 4> = Uart::new(&model);
    uart.start();
    model.host_sends(&[1, 2, 3, 4, 5, 6, 7, 8]);
    service(&uart, || model.irq());
    assert_eq!(
        model.state.lock().unwrap().inten & reg::INT_RXDRDY,
        0,
        "RXDRDY masked with the ring full and bytes waiting"
    );
    let mut buf = [0u8; 4];
    let polled = {
        let mut reader = &uart;
        poll_once(pin!(reader.read(&mut buf)))
    };
    assert_eq!(polled, Poll::Ready(Ok(4)));
    assert_eq!(buf, [1, 2, 3, 4]);
    assert_ne!(
        model.state.lock().unwrap().inten & reg::INT_RXDRDY,
        0,
        "unmasked once the ring had room again"
    );
}

#[test]
fn writes_reach_the_line_in_order_on_an_instant_line() {
    let model = UartModel::instant();
    let uart: Uart<&UartModel, 4, 4> = Uart::new(&model);
    uart.start();
    let data: Vec<u8> = (0..50).collect();
    let mut at = 0;
    for _ in 0..1000 {
        if at == data.len() {
            break;
        }
        let mut writer = &uart;
        if let Poll::Ready(Ok(n)) = poll_once(pin!(writer.write(&data[at..]))) {
            at += n;
        }
        service(&uart, || model.irq());
    }
    let mut writer = &uart;
    assert_eq!(poll_once(pin!(writer.flush())), Poll::Ready(Ok(())));
    let s = model.state.lock().unwrap();
    assert_eq!(s.sent, data);
    assert_eq!(s.dropped, 0);
    assert!(!s.irq(), "no interrupt left up once everything is sent");
}

#[test]
fn on_a_slow_line_no_byte_is_written_over_a_pending_one() {
    let model = UartModel::default();
    let uart: Uart<&UartModel, 4, 4> = Uart::new(&model);
    uart.start();
    let data: Vec<u8> = (100..130).collect();
    let mut at = 0;
    for _ in 0..1000 {
        if at < data.len() {
            let mut writer = &uart;
            if let Poll::Ready(Ok(n)) = poll_once(pin!(writer.write(&data[at..]))) {
                at += n;
            }
        }
        model.line_takes();
        service(&uart, || model.irq());
        if at == data.len() {
            let mut writer = &uart;
            if poll_once(pin!(writer.flush())).is_ready() {
                break;
            }
        }
    }
    let s = model.state.lock().unwrap();
    assert_eq!(s.sent, data);
    assert_eq!(s.dropped, 0);
}

/// QEMU's nRF51 TIMER in 32-bit timer mode, with time moved by the test.
#[derive(Default)]
struct TimerModel {
    state: Mutex<TimerState>,
}

#[derive(Default)]
struct TimerState {
    running: bool,
    counter: u64,
    cc: [u32; 4],
    events: [u32; 4],
    inten: u32,
}

impl TimerModel {
    /// Moves the counter on by `ticks`, raising the compare events it passes.
    fn advance(&self, ticks: u64) {
        let mut s = self.state.lock().unwrap();
        if !s.running {
            return;
        }
        let from = s.counter;
        let to = from + ticks;
        for n in 0..4 {
            // The first point after `from` where the low 32 bits equal CC[n].
            let cc = u64::from(s.cc[n]);
            let base = from & !0xffff_ffff;
            let mut hit = base + cc;
            if hit <= from {
                hit += 1 << 32;
            }
            if hit <= to {
                s.events[n] = 1;
            }
        }
        s.counter = to;
    }

    fn irq(&self) -> bool {
        let s = self.state.lock().unwrap();
        (0..4).any(|n| s.events[n] != 0 && s.inten & treg::int_compare(n as u32) != 0)
    }
}

impl Registers for TimerModel {
    fn read(&self, offset: u32) -> u32 {
        let s = self.state.lock().unwrap();
        match offset {
            o if (treg::COMPARE0..treg::COMPARE0 + 16).contains(&o) => {
                s.events[((o - treg::COMPARE0) / 4) as usize]
            }
            o if (treg::CC0..treg::CC0 + 16).contains(&o) => s.cc[((o - treg::CC0) / 4) as usize],
            treg::INTENSET | treg::INTENCLR => s.inten,
            _ => 0,
        }
    }

    fn write(&self, offset: u32, value: u32) {
        let mut s = self.state.lock().unwrap();
        match offset {
            treg::START => s.running = true,
            treg::STOP => s.running = false,
            treg::CLEAR => s.counter = 0,
            treg::INTENSET => s.inten |= value,
            treg::INTENCLR => s.inten &= !value,
            o if (treg::CAPTURE0..treg::CAPTURE0 + 16).contains(&o) => {
                let n = ((o - treg::CAPTURE0) / 4) as usize;
                s.cc[n] = s.counter as u32;
            }
            o if (treg::COMPARE0..treg::COMPARE0 + 16).contains(&o) => {
                s.events[((o - treg::COMPARE0) / 4) as usize] = value;
            }
            o if (treg::CC0..treg::CC0 + 16).contains(&o) => {
                s.cc[((o - treg::CC0) / 4) as usize] = value;
            }
            _ => {}
        }
    }
}

#[test]
fn time_is_microseconds_and_keeps_counting_across_wraps() {
    let model = TimerModel::default();
    let alarm = TimerAlarm::new(&model);
    alarm.start();
    model.advance(1_000);
    assert_eq!(alarm.now(), 1_000);
    // Across a wrap, once with the interrupt taken and once without it (the
    // read happens inside a critical section, before the handler runs).
    model.advance(u64::from(u32::MAX));
    assert_eq!(alarm.now(), 1_000 + u64::from(u32::MAX));
    assert!(!model.irq(), "the read counted the wrap and took its event");
    assert!(!alarm.on_interrupt(), "a wrap is not the alarm");
    assert_eq!(alarm.now(), 1_000 + u64::from(u32::MAX), "counted once");
    model.advance(1 << 32);
    alarm.on_interrupt();
    assert_eq!(alarm.now(), 1_000 + u64::from(u32::MAX) + (1 << 32));
}

#[test]
fn a_wrap_just_after_the_capture_is_not_counted_early() {
    let model = TimerModel::default();
    let alarm = TimerAlarm::new(&model);
    alarm.start();
    model.advance(u64::from(u32::MAX) - 5);
    let before = alarm.now();
    // The wrap's event is up but the capture below shows a counter near the
    // top: a read must not add the wrap to it.
    model.state.lock().unwrap().events[2] = 1;
    let read = alarm.now();
    assert!(
        read >= before && read < before + 100,
        "{before} then {read}"
    );
}

#[test]
fn the_alarm_fires_at_its_deadline_and_not_before() {
    let model = TimerModel::default();
    let alarm = TimerAlarm::new(&model);
    alarm.start();
    model.advance(500);
    assert!(alarm.set_alarm(2_500));
    model.advance(1_999);
    assert!(!model.irq(), "one microsecond early");
    model.advance(1);
    assert!(model.irq());
    assert!(alarm.on_interrupt(), "the alarm fired");
    assert!(!model.irq(), "disarmed once handled");
}

#[test]
fn a_deadline_already_past_is_refused() {
    let model = TimerModel::default();
    let alarm = TimerAlarm::new(&model);
    alarm.start();
    model.advance(10_000);
    assert!(!alarm.set_alarm(10_000));
    assert!(!alarm.set_alarm(3));
}

#[test]
fn a_far_deadline_fires_early_within_half_the_range_and_can_be_armed_again() {
    let model = TimerModel::default();
    let alarm = TimerAlarm::new(&model);
    alarm.start();
    let far = 10 * (1u64 << 32);
    assert!(alarm.set_alarm(far));
    model.advance(1 << 31);
    alarm.on_interrupt();
    assert!(alarm.now() < far);
    assert!(alarm.set_alarm(far), "armed again, still ahead");
}
