//! The SLIP link: an `embassy_net_driver::Driver` for the IP stack, and the
//! runner that moves its frames over a serial port.

use core::cell::{Cell, RefCell};
use core::convert::Infallible;
use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};
use embedded_io_async::{Read, Write};

use crate::codec::{DecodeError, Decoder, Encoder};

/// Bytes the runner reads from, and writes to, the serial port at a time.
pub const CHUNK: usize = 512;

/// What the link has done (each counter wraps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames received and handed to the stack.
    pub rx_frames: u32,
    /// Frames the stack sent, written to the serial port.
    pub tx_frames: u32,
    /// Empty frames received (a sender's leading `END` makes one).
    pub rx_empty: u32,
    /// Frames dropped for an invalid escape sequence.
    pub rx_bad_escape: u32,
    /// Frames dropped for being longer than the MTU.
    pub rx_overlong: u32,
    /// Frames the stack sent while every transmit slot was full (replies it
    /// built while receiving), or larger than the MTU: dropped, as a busy line
    /// would.
    pub tx_dropped: u32,
}

struct Slot<const MTU: usize> {
    len: usize,
    buf: [u8; MTU],
}

/// A ring of frame slots: `count` full ones from `head` on.
#[derive(Clone, Copy)]
struct Ring {
    head: usize,
    count: usize,
}

impl Ring {
    fn tail(&self, slots: usize) -> usize {
        (self.head + self.count) % slots
    }
    fn pop(&mut self, slots: usize) {
        if self.count > 0 {
            self.head = (self.head + 1) % slots;
            self.count -= 1;
        }
    }
}

struct Control {
    rx: Ring,
    tx: Ring,
    link_up: bool,
    /// The stack's runner, waiting for a frame, a free transmit slot or a
    /// change of link state.
    stack: Option<Waker>,
    /// The link runner's reader, waiting for a free receive slot.
    reader: Option<Waker>,
    /// The link runner's writer, waiting for a frame to send.
    writer: Option<Waker>,
}

fn register(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(old) if old.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

fn wake(slot: &Option<Waker>) {
    if let Some(waker) = slot {
        waker.wake_by_ref();
    }
}

/// The memory of one SLIP link: `SLOTS` frames of up to `MTU` bytes each way,
/// plus one frame of scratch space. The stack side ([`Device`]) and the
/// serial side ([`Runner`]) come from [`State::split`].
///
/// `MTU` is the largest IP packet (SLIP carries IP packets, no link header):
/// at least 576 for IPv4, 1280 for IPv6; 1006 is SLIP's traditional size,
/// 1500 matches Ethernet. It lives as long as the device and the runner: on a
/// microcontroller in a `static` (through a cell such as `static_cell`), on a
/// host wherever the stack lives. Not `Sync`: the device and the runner run
/// on one executor.
pub struct State<const MTU: usize, const SLOTS: usize> {
    control: RefCell<Control>,
    stats: Cell<Stats>,
    rx: [RefCell<Slot<MTU>>; SLOTS],
    tx: [RefCell<Slot<MTU>>; SLOTS],
    /// Where a frame the stack sends with every transmit slot full goes.
    scratch: RefCell<[u8; MTU]>,
}

impl<const MTU: usize, const SLOTS: usize> fmt::Debug for State<MTU, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("State")
            .field("mtu", &MTU)
            .field("slots", &SLOTS)
            .field("stats", &self.stats.get())
            .finish_non_exhaustive()
    }
}

impl<const MTU: usize, const SLOTS: usize> Default for State<MTU, SLOTS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const MTU: usize, const SLOTS: usize> State<MTU, SLOTS> {
    /// Empty slots. `MTU` and `SLOTS` must be at least 1 (checked when the
    /// program is built).
    pub const fn new() -> Self {
        const {
            assert!(MTU > 0, "a SLIP link needs an MTU of at least one byte");
            assert!(SLOTS > 0, "a SLIP link needs at least one slot each way");
        }
        Self {
            control: RefCell::new(Control {
                rx: Ring { head: 0, count: 0 },
                tx: Ring { head: 0, count: 0 },
                link_up: false,
                stack: None,
                reader: None,
                writer: None,
            }),
            stats: Cell::new(Stats {
                rx_frames: 0,
                tx_frames: 0,
                rx_empty: 0,
                rx_bad_escape: 0,
                rx_overlong: 0,
                tx_dropped: 0,
            }),
            rx: [const {
                RefCell::new(Slot {
                    len: 0,
                    buf: [0; MTU],
                })
            }; SLOTS],
            tx: [const {
                RefCell::new(Slot {
                    len: 0,
                    buf: [0; MTU],
                })
            }; SLOTS],
            scratch: RefCell::new([0; MTU]),
        }
    }

    /// The stack's side (an `embassy_net_driver::Driver`) and the serial
    /// side (the [`Runner`]) of the link.
    pub fn split(&mut self) -> (Device<'_, MTU, SLOTS>, Runner<'_, MTU, SLOTS>) {
        let state = &*self;
        (
            Device { state },
            Runner {
                state,
                rx: RxHalf {
                    buf: [0; CHUNK],
                    start: 0,
                    end: 0,
                    decoder: Decoder::new(),
                },
                tx: TxHalf {
                    buf: [0; CHUNK],
                    start: 0,
                    end: 0,
                    encoder: None,
                    idle: true,
                    flushed: true,
                },
            },
        )
    }

    fn update_stats(&self, f: impl FnOnce(&mut Stats)) {
        let mut stats = self.stats.get();
        f(&mut stats);
        self.stats.set(stats);
    }

    fn set_link(&self, up: bool) {
        let mut control = self.control.borrow_mut();
        if control.link_up != up {
            control.link_up = up;
            wake(&control.stack);
        }
    }
}

fn bump(counter: &mut u32) {
    *counter = counter.wrapping_add(1);
}

/// The stack's side of a SLIP link: an `embassy_net_driver::Driver` of medium
/// IP (no hardware address, no ARP). Give it to the IP stack
/// (`portnet_smoltcp::Stack::new` with feature `medium-ip`, or embassy-net).
///
/// The link is down until its [`Runner`] runs, and again after the runner
/// stops.
pub struct Device<'a, const MTU: usize, const SLOTS: usize> {
    state: &'a State<MTU, SLOTS>,
}

impl<const MTU: usize, const SLOTS: usize> fmt::Debug for Device<'_, MTU, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Device")
            .field("mtu", &MTU)
            .field("stats", &self.state.stats.get())
            .finish()
    }
}

impl<const MTU: usize, const SLOTS: usize> Device<'_, MTU, SLOTS> {
    /// What the link has done so far.
    pub fn stats(&self) -> Stats {
        self.state.stats.get()
    }
}

/// A received frame, for the stack.
pub struct RxToken<'a, const MTU: usize, const SLOTS: usize> {
    state: &'a State<MTU, SLOTS>,
}

/// Room for one frame to send.
pub struct TxToken<'a, const MTU: usize, const SLOTS: usize> {
    state: &'a State<MTU, SLOTS>,
}

impl<const MTU: usize, const SLOTS: usize> fmt::Debug for RxToken<'_, MTU, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RxToken")
    }
}

impl<const MTU: usize, const SLOTS: usize> fmt::Debug for TxToken<'_, MTU, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TxToken")
    }
}

impl<const MTU: usize, const SLOTS: usize> embassy_net_driver::RxToken for RxToken<'_, MTU, SLOTS> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let state = self.state;
        // The control block is not borrowed while `f` runs: the stack may
        // send a reply (consume a transmit token) from inside `f`.
        let (head, full) = {
            let control = state.control.borrow();
            (control.rx.head, control.rx.count > 0)
        };
        let result = match state.rx[head].try_borrow_mut() {
            Ok(mut slot) if full => {
                let len = slot.len.min(MTU);
                f(&mut slot.buf[..len])
            }
            // A token that outlived its frame: nothing to receive.
            _ => return f(&mut []),
        };
        let mut control = state.control.borrow_mut();
        if control.rx.head == head && control.rx.count > 0 {
            control.rx.pop(SLOTS);
            wake(&control.reader);
        }
        result
    }
}

impl<const MTU: usize, const SLOTS: usize> embassy_net_driver::TxToken for TxToken<'_, MTU, SLOTS> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let state = self.state;
        let tail = {
            let control = state.control.borrow();
            (control.tx.count < SLOTS && len <= MTU).then(|| control.tx.tail(SLOTS))
        };
        if let Some(tail) = tail
            && let Ok(mut slot) = state.tx[tail].try_borrow_mut()
        {
            let result = f(&mut slot.buf[..len]);
            slot.len = len;
            drop(slot);
            let mut control = state.control.borrow_mut();
            if control.tx.tail(SLOTS) == tail && control.tx.count < SLOTS {
                control.tx.count += 1;
                wake(&control.writer);
            }
            return result;
        }
        state.update_stats(|s| bump(&mut s.tx_dropped));
        match state.scratch.try_borrow_mut() {
            Ok(mut scratch) => f(&mut scratch[..len.min(MTU)]),
            Err(_) => f(&mut []),
        }
    }
}

impl<const MTU: usize, const SLOTS: usize> Driver for Device<'_, MTU, SLOTS> {
    type RxToken<'b>
        = RxToken<'b, MTU, SLOTS>
    where
        Self: 'b;
    type TxToken<'b>
        = TxToken<'b, MTU, SLOTS>
    where
        Self: 'b;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let mut control = self.state.control.borrow_mut();
        if control.rx.count == 0 {
            register(&mut control.stack, cx.waker());
            return None;
        }
        // The transmit token does not wait for a free slot: receiving never
        // depends on sending, so a full transmit queue cannot stop the
        // receive queue from draining (a reply that finds no slot is dropped
        // and counted).
        Some((RxToken { state: self.state }, TxToken { state: self.state }))
    }

    fn transmit(&mut self, cx: &mut Context<'_>) -> Option<Self::TxToken<'_>> {
        let mut control = self.state.control.borrow_mut();
        if control.tx.count >= SLOTS {
            register(&mut control.stack, cx.waker());
            return None;
        }
        Some(TxToken { state: self.state })
    }

    fn link_state(&mut self, cx: &mut Context<'_>) -> LinkState {
        let mut control = self.state.control.borrow_mut();
        register(&mut control.stack, cx.waker());
        if control.link_up {
            LinkState::Up
        } else {
            LinkState::Down
        }
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(SLOTS);
        // SLIP has no checksum of its own: the stack computes and verifies
        // every checksum (the default, `Checksum::Both`).
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ip
    }
}

/// Why a [`Runner`] stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunError<R, W> {
    /// Reading the serial port failed.
    Read(R),
    /// Writing to the serial port failed.
    Write(W),
    /// The serial port's read side ended (it read 0 bytes): the other end
    /// is gone.
    Eof,
    /// The serial port took no byte of a write.
    WriteZero,
}

impl<R: fmt::Debug, W: fmt::Debug> fmt::Display for RunError<R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(e) => write!(f, "reading the serial port failed: {e:?}"),
            Self::Write(e) => write!(f, "writing to the serial port failed: {e:?}"),
            Self::Eof => f.write_str("the serial port was closed by the other end"),
            Self::WriteZero => f.write_str("the serial port accepted no byte of a write"),
        }
    }
}

impl<R: fmt::Debug, W: fmt::Debug> core::error::Error for RunError<R, W> {}

impl<R: embedded_io_async::Error, W: embedded_io_async::Error> embedded_io_async::Error
    for RunError<R, W>
{
    fn kind(&self) -> embedded_io_async::ErrorKind {
        match self {
            Self::Read(e) => e.kind(),
            Self::Write(e) => e.kind(),
            Self::Eof => embedded_io_async::ErrorKind::NotConnected,
            Self::WriteZero => embedded_io_async::ErrorKind::WriteZero,
        }
    }
}

struct RxHalf {
    buf: [u8; CHUNK],
    start: usize,
    end: usize,
    decoder: Decoder,
}

struct TxHalf {
    buf: [u8; CHUNK],
    start: usize,
    end: usize,
    /// The frame at the head of the transmit queue, part-way encoded.
    encoder: Option<Encoder>,
    /// Nothing was sent since the last flush: open the next frame with `END`.
    idle: bool,
    flushed: bool,
}

/// The serial side of a SLIP link: reads bytes from the port, decodes frames
/// into the receive slots, and encodes the stack's frames onto the port.
/// Poll [`Runner::run`] for as long as the link is used, next to the stack's
/// own runner.
pub struct Runner<'a, const MTU: usize, const SLOTS: usize> {
    state: &'a State<MTU, SLOTS>,
    rx: RxHalf,
    tx: TxHalf,
}

impl<const MTU: usize, const SLOTS: usize> fmt::Debug for Runner<'_, MTU, SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("mtu", &MTU)
            .field("stats", &self.state.stats.get())
            .finish_non_exhaustive()
    }
}

/// Takes the link down when the runner stops or is dropped.
struct LinkUp<'a, const MTU: usize, const SLOTS: usize>(&'a State<MTU, SLOTS>);

impl<const MTU: usize, const SLOTS: usize> Drop for LinkUp<'_, MTU, SLOTS> {
    fn drop(&mut self) {
        self.0.set_link(false);
    }
}

impl<const MTU: usize, const SLOTS: usize> Runner<'_, MTU, SLOTS> {
    /// What the link has done so far.
    pub fn stats(&self) -> Stats {
        self.state.stats.get()
    }

    /// Runs the link over a serial port given as its read and write sides
    /// (both may be `&mut` of one port that implements both, if its reads
    /// and writes can wait at the same time; otherwise split the port). The
    /// link is up while this runs. It sleeps on the port's and the stack's
    /// wakers: no busy polling.
    ///
    /// Returns only when the port fails or its read side ends.
    ///
    /// Incoming frames wait in the receive slots until the stack takes them;
    /// while all are full the runner stops reading, so the port's own flow
    /// control (or its buffer overflowing) applies. A line that garbles
    /// bytes costs frames, each counted in [`Stats`], never a panic.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe as far as the port's `read` and `write` are: bytes read
    /// but not decoded, and encoded bytes not yet written, stay in the
    /// runner, and calling `run` again continues where it stopped. A port
    /// whose dropped `write` may have written a prefix can leave the peer a
    /// torn frame, which it drops at the next `END` (a bad or short frame,
    /// caught by the IP checksums at the latest).
    pub async fn run<R: Read, W: Write>(
        &mut self,
        reader: R,
        writer: W,
    ) -> RunError<R::Error, W::Error> {
        let state = self.state;
        state.set_link(true);
        let _down = LinkUp(state);
        let mut rx = pin!(read_loop(state, &mut self.rx, reader));
        let mut tx = pin!(write_loop(state, &mut self.tx, writer));
        poll_fn(|cx| {
            if let Poll::Ready(Err(e)) = rx.as_mut().poll(cx) {
                return Poll::Ready(e);
            }
            if let Poll::Ready(Err(e)) = tx.as_mut().poll(cx) {
                return Poll::Ready(e);
            }
            Poll::Pending
        })
        .await
    }

    /// Runs the link over a portnet byte stream (for example a TCP connection
    /// to the socket behind an emulator's serial port), split into its
    /// halves, each seen through portnet-embedded's `EmbeddedIo`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`Runner::run`]: portnet's `read` and `write` are.
    #[cfg(feature = "portnet")]
    pub async fn run_stream<S: portnet::TcpStream>(
        &mut self,
        stream: &mut S,
    ) -> RunError<
        portnet_embedded::EmbeddedError<S::Error>,
        portnet_embedded::EmbeddedError<S::Error>,
    > {
        let (reader, writer) = stream.split();
        self.run(
            portnet_embedded::EmbeddedIo::new(reader),
            portnet_embedded::EmbeddedIo::new(writer),
        )
        .await
    }
}

/// A free receive slot to decode into (the same one until a frame is
/// complete); waits while all are full.
fn poll_rx_slot<const MTU: usize, const SLOTS: usize>(
    state: &State<MTU, SLOTS>,
    cx: &mut Context<'_>,
) -> Poll<usize> {
    let mut control = state.control.borrow_mut();
    if control.rx.count < SLOTS {
        Poll::Ready(control.rx.tail(SLOTS))
    } else {
        register(&mut control.reader, cx.waker());
        Poll::Pending
    }
}

async fn read_loop<R: Read, W, const MTU: usize, const SLOTS: usize>(
    state: &State<MTU, SLOTS>,
    rx: &mut RxHalf,
    mut reader: R,
) -> Result<Infallible, RunError<R::Error, W>> {
    loop {
        while rx.start < rx.end {
            let index = poll_fn(|cx| poll_rx_slot(state, cx)).await;
            let Ok(mut slot) = state.rx[index].try_borrow_mut() else {
                // Unreachable: the stack only reads full slots, and this one
                // is not. Drop the frame rather than panic.
                rx.decoder.reset();
                continue;
            };
            let (used, outcome) = rx.decoder.decode(&rx.buf[rx.start..rx.end], &mut slot.buf);
            rx.start += used;
            match outcome {
                None => {}
                Some(Ok(len)) => {
                    slot.len = len;
                    drop(slot);
                    let mut control = state.control.borrow_mut();
                    if control.rx.count < SLOTS {
                        control.rx.count += 1;
                    }
                    wake(&control.stack);
                    drop(control);
                    state.update_stats(|s| bump(&mut s.rx_frames));
                }
                Some(Err(error)) => state.update_stats(|s| match error {
                    DecodeError::Empty => bump(&mut s.rx_empty),
                    DecodeError::BadEscape => bump(&mut s.rx_bad_escape),
                    DecodeError::Overlong => bump(&mut s.rx_overlong),
                }),
            }
        }
        let n = reader.read(&mut rx.buf).await.map_err(RunError::Read)?;
        if n == 0 {
            return Err(RunError::Eof);
        }
        rx.start = 0;
        rx.end = n.min(CHUNK);
    }
}

/// Encodes queued frames into the write buffer until it is full or the queue
/// is empty; returns whether it added anything.
fn fill<const MTU: usize, const SLOTS: usize>(state: &State<MTU, SLOTS>, tx: &mut TxHalf) -> bool {
    let before = tx.end;
    while tx.end < CHUNK {
        let head = {
            let control = state.control.borrow();
            if control.tx.count == 0 {
                break;
            }
            control.tx.head
        };
        let done = match state.tx[head].try_borrow() {
            Ok(slot) => {
                let encoder = tx
                    .encoder
                    .get_or_insert_with(|| Encoder::new(core::mem::take(&mut tx.idle)));
                let frame = &slot.buf[..slot.len.min(MTU)];
                tx.end += encoder.encode(frame, &mut tx.buf[tx.end..]);
                encoder.is_done()
            }
            // Unreachable: the stack only writes free slots. Skip the frame.
            Err(_) => true,
        };
        if done {
            tx.encoder = None;
            let mut control = state.control.borrow_mut();
            control.tx.pop(SLOTS);
            wake(&control.stack);
            drop(control);
            state.update_stats(|s| bump(&mut s.tx_frames));
        }
    }
    tx.end > before
}

fn poll_tx_frame<const MTU: usize, const SLOTS: usize>(
    state: &State<MTU, SLOTS>,
    cx: &mut Context<'_>,
) -> Poll<()> {
    let mut control = state.control.borrow_mut();
    if control.tx.count > 0 {
        Poll::Ready(())
    } else {
        register(&mut control.writer, cx.waker());
        Poll::Pending
    }
}

async fn write_loop<W: Write, R, const MTU: usize, const SLOTS: usize>(
    state: &State<MTU, SLOTS>,
    tx: &mut TxHalf,
    mut writer: W,
) -> Result<Infallible, RunError<R, W::Error>> {
    loop {
        if tx.start < tx.end {
            let n = writer
                .write(&tx.buf[tx.start..tx.end])
                .await
                .map_err(RunError::Write)?;
            if n == 0 {
                return Err(RunError::WriteZero);
            }
            tx.start = (tx.start + n).min(tx.end);
            continue;
        }
        tx.start = 0;
        tx.end = 0;
        if fill(state, tx) {
            tx.flushed = false;
            continue;
        }
        if !tx.flushed {
            writer.flush().await.map_err(RunError::Write)?;
            tx.flushed = true;
            tx.idle = true;
        }
        poll_fn(|cx| poll_tx_frame(state, cx)).await;
    }
}
