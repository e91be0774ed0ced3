//! What lwIP's callbacks record, and the wakers they wake: the slot tables of
//! TCP connections, listeners and UDP sockets, and the queue of outgoing frames.
//!
//! Every table is fixed in size, smaller than lwIP's matching pool
//! (`c/lwipopts.h`), so a full table is what reports `OutOfResources`.

use core::net::{Ipv4Addr, SocketAddrV4};
use core::task::Waker;

use portnet::ErrorKind;

use crate::error::kind_of;
use crate::ffi::{self, Err, Pbuf, TcpPcb, UdpPcb};

/// TCP connections (accepted, connecting or open) at once.
pub(crate) const TCP_SLOTS: usize = 8;
/// Listeners at once (lwIP's `MEMP_NUM_TCP_PCB_LISTEN`).
pub(crate) const LISTENERS: usize = 4;
/// UDP sockets at once (lwIP's `MEMP_NUM_UDP_PCB`).
pub(crate) const UDP_SLOTS: usize = 4;
/// Completed handshakes one listener may hold for `accept`.
pub(crate) const MAX_BACKLOG: usize = TCP_SLOTS;
/// Datagrams one UDP socket queues; more are dropped, as a full socket buffer does.
pub(crate) const UDP_QUEUE: usize = 8;
/// lwIP's `TCP_SND_QUEUELEN` (c/lwipopts.h).
pub(crate) const TCP_SND_QUEUELEN: usize = 4 * 8;
/// Accept futures of one listener that keep their own waker.
const ACCEPT_WAKERS: usize = 4;
/// Outgoing frames waiting for the driver.
const TX_FRAMES: usize = 32;
/// The largest Ethernet frame (without FCS) lwIP sends at MTU 1500.
pub(crate) const FRAME: usize = 1514;

/// What lwIP's `arg` says: the kind of slot and its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    Tcp(usize),
    Listener(usize),
    Udp(usize),
}

impl Arg {
    pub(crate) fn encode(self) -> usize {
        match self {
            Self::Tcp(i) => 0x1000 + i,
            Self::Listener(i) => 0x2000 + i,
            Self::Udp(i) => 0x3000 + i,
        }
    }
    fn decode(arg: usize) -> Option<Self> {
        let (kind, i) = (arg & !0xfff, arg & 0xfff);
        match kind {
            0x1000 if i < TCP_SLOTS => Some(Self::Tcp(i)),
            0x2000 if i < LISTENERS => Some(Self::Listener(i)),
            0x3000 if i < UDP_SLOTS => Some(Self::Udp(i)),
            _ => None,
        }
    }
}

pub(crate) fn to_addr(ip: u32, port: u16) -> SocketAddrV4 {
    // lwIP keeps addresses in network byte order in a host integer.
    SocketAddrV4::new(Ipv4Addr::from(u32::from_be(ip)), port)
}

pub(crate) fn from_ip(ip: Ipv4Addr) -> u32 {
    u32::from(ip).to_be()
}

/// A connection's error as lwIP reported it. Not an `Option<ErrorKind>`:
/// that `None` is a niche value of `ErrorKind`, not zero, and one non-zero
/// byte puts the whole state (its 48 KB transmit queue too) in `.data`, which
/// a firmware carries in flash as well as in RAM. This `Clear` is all zeros,
/// so the state is in `.bss`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Failure {
    #[default]
    Clear = 0,
    Failed(ErrorKind) = 1,
}

impl Failure {
    pub(crate) const fn get(self) -> Option<ErrorKind> {
        match self {
            Self::Clear => None,
            Self::Failed(kind) => Some(kind),
        }
    }
}

impl From<Option<ErrorKind>> for Failure {
    fn from(error: Option<ErrorKind>) -> Self {
        error.map_or(Self::Clear, Self::Failed)
    }
}

/// One TCP connection's record.
#[derive(Debug, Default)]
pub(crate) struct TcpSlot {
    pub(crate) used: bool,
    /// The pcb while lwIP calls us about it.
    pub(crate) pcb: Option<TcpPcb>,
    /// Received bytes not yet read (bounded by lwIP's receive window: the
    /// window opens only as the application reads).
    pub(crate) rx: Option<Pbuf>,
    pub(crate) eof: bool,
    pub(crate) connected: bool,
    pub(crate) error: Failure,
    pub(crate) tx_closed: bool,
    pub(crate) local: Option<SocketAddrV4>,
    pub(crate) remote: Option<SocketAddrV4>,
    pub(crate) read_waker: Option<Waker>,
    pub(crate) write_waker: Option<Waker>,
}

impl TcpSlot {
    fn wake(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
        if let Some(w) = self.write_waker.take() {
            w.wake();
        }
    }
}

/// One listener's record.
#[derive(Debug, Default)]
pub(crate) struct ListenSlot {
    pub(crate) used: bool,
    pub(crate) pcb: Option<TcpPcb>,
    pub(crate) local: Option<SocketAddrV4>,
    pub(crate) backlog: usize,
    /// Pending accept futures: each may take a handshake beyond the backlog.
    pub(crate) waiting: usize,
    /// TCP slots of completed handshakes, oldest first.
    pub(crate) queue: [usize; MAX_BACKLOG],
    pub(crate) queued: usize,
    pub(crate) wakers: [Option<Waker>; ACCEPT_WAKERS],
}

impl ListenSlot {
    pub(crate) fn register(&mut self, waker: &Waker) {
        if self.wakers.iter().flatten().any(|w| w.will_wake(waker)) {
            return;
        }
        if let Some(free) = self.wakers.iter_mut().find(|w| w.is_none()) {
            *free = Some(waker.clone());
            return;
        }
        // More waiting tasks than places: wake them all, so that each registers
        // again, rather than lose one.
        for w in self.wakers.iter_mut() {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
        self.wakers[0] = Some(waker.clone());
    }
    fn wake_all(&mut self) {
        for w in self.wakers.iter_mut() {
            if let Some(w) = w.take() {
                w.wake();
            }
        }
    }
    pub(crate) fn pop(&mut self) -> Option<usize> {
        if self.queued == 0 {
            return None;
        }
        let first = self.queue[0];
        self.queue.copy_within(1..self.queued, 0);
        self.queued -= 1;
        Some(first)
    }
}

/// One UDP socket's record.
#[derive(Debug, Default)]
pub(crate) struct UdpSlot {
    pub(crate) used: bool,
    pub(crate) pcb: Option<UdpPcb>,
    pub(crate) peer: Option<SocketAddrV4>,
    pub(crate) queue: [Option<(Pbuf, SocketAddrV4)>; UDP_QUEUE],
    pub(crate) recv_waker: Option<Waker>,
}

impl UdpSlot {
    pub(crate) fn pop(&mut self) -> Option<(Pbuf, SocketAddrV4)> {
        let first = self.queue[0].take()?;
        self.queue.rotate_left(1);
        Some(first)
    }
}

/// Frames lwIP sent that the driver has not taken yet.
pub(crate) struct TxQueue {
    frames: [[u8; FRAME]; TX_FRAMES],
    lens: [u16; TX_FRAMES],
    head: usize,
    len: usize,
}

impl core::fmt::Debug for TxQueue {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TxQueue").field("len", &self.len).finish()
    }
}

impl TxQueue {
    const fn new() -> Self {
        Self {
            frames: [[0; FRAME]; TX_FRAMES],
            lens: [0; TX_FRAMES],
            head: 0,
            len: 0,
        }
    }
    fn push(&mut self, frame: &[u8]) -> bool {
        if self.len == TX_FRAMES || frame.len() > FRAME {
            return false;
        }
        let at = (self.head + self.len) % TX_FRAMES;
        self.frames[at][..frame.len()].copy_from_slice(frame);
        self.lens[at] = frame.len() as u16;
        self.len += 1;
        true
    }
    /// The oldest frame, if any.
    pub(crate) fn front(&self) -> Option<&[u8]> {
        (self.len > 0).then(|| &self.frames[self.head][..usize::from(self.lens[self.head])])
    }
    pub(crate) fn pop(&mut self) {
        if self.len > 0 {
            self.head = (self.head + 1) % TX_FRAMES;
            self.len -= 1;
        }
    }
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }
}

/// Everything lwIP's callbacks record.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) tcp: [TcpSlot; TCP_SLOTS],
    pub(crate) listeners: [ListenSlot; LISTENERS],
    pub(crate) udp: [UdpSlot; UDP_SLOTS],
    pub(crate) tx: TxQueue,
    pub(crate) runner: Option<Waker>,
    /// Events a callback could not record because the state was borrowed: a
    /// bug of this crate, counted so the tests can insist on zero.
    pub(crate) conflicts: u32,
    /// Frames lwIP sent while the queue was full (lwIP retransmits).
    pub(crate) tx_dropped: u32,
}

impl State {
    pub(crate) const fn new() -> Self {
        Self {
            tcp: [const {
                TcpSlot {
                    used: false,
                    pcb: None,
                    rx: None,
                    eof: false,
                    connected: false,
                    error: Failure::Clear,
                    tx_closed: false,
                    local: None,
                    remote: None,
                    read_waker: None,
                    write_waker: None,
                }
            }; TCP_SLOTS],
            listeners: [const {
                ListenSlot {
                    used: false,
                    pcb: None,
                    local: None,
                    backlog: 0,
                    waiting: 0,
                    queue: [0; MAX_BACKLOG],
                    queued: 0,
                    wakers: [const { None }; ACCEPT_WAKERS],
                }
            }; LISTENERS],
            udp: [const {
                UdpSlot {
                    used: false,
                    pcb: None,
                    peer: None,
                    queue: [const { None }; UDP_QUEUE],
                    recv_waker: None,
                }
            }; UDP_SLOTS],
            tx: TxQueue::new(),
            runner: None,
            conflicts: 0,
            tx_dropped: 0,
        }
    }

    /// Forgets every slot (their pcbs are lwIP's to free) and queued frame.
    pub(crate) fn reset(&mut self) {
        for slot in &mut self.tcp {
            *slot = TcpSlot::default();
        }
        for slot in &mut self.listeners {
            *slot = ListenSlot::default();
        }
        for slot in &mut self.udp {
            *slot = UdpSlot::default();
        }
        self.tx.clear();
        self.runner = None;
    }

    pub(crate) fn wake_runner(&self) {
        if let Some(w) = &self.runner {
            w.wake_by_ref();
        }
    }
}

/// Runs `f` on the state, or counts a conflict and returns `None`.
fn with<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    let cell = ffi::state();
    match cell.try_borrow_mut() {
        Ok(mut st) => Some(f(&mut st)),
        Err(_) => {
            if let Ok(mut st) = cell.try_borrow_mut() {
                st.conflicts += 1;
            }
            None
        }
    }
}

pub(crate) fn on_output(frame: &[u8]) -> Err {
    with(|st| {
        st.wake_runner();
        if st.tx.push(frame) {
            ffi::ERR_OK
        } else {
            st.tx_dropped += 1;
            ffi::ERR_MEM
        }
    })
    .unwrap_or(ffi::ERR_MEM)
}

/// Data (or, with `None`, the peer's FIN) for a connection. `Err` gives the
/// pbuf back for lwIP to offer again later.
pub(crate) fn on_tcp_recv(arg: usize, p: Option<Pbuf>, err: Err) -> Result<(), Pbuf> {
    let Some(Arg::Tcp(i)) = Arg::decode(arg) else {
        return Ok(()); // `p` drops: nobody reads this connection
    };
    let _ = err; // lwIP only passes ERR_OK to recv
    let cell = ffi::state();
    let Ok(mut st) = cell.try_borrow_mut() else {
        return match p {
            Some(p) => Err(p),
            None => Ok(()),
        };
    };
    let slot = &mut st.tcp[i];
    match p {
        Some(p) => match &mut slot.rx {
            Some(rx) => rx.append(p),
            None => slot.rx = Some(p),
        },
        None => {
            slot.eof = true;
            if slot.tx_closed {
                // Both directions are done: hand the pcb to lwIP now, as it may
                // free it in TIME_WAIT without a callback. (tcp_close in this
                // state only marks it; the pcb outlives this callback.)
                if let Some(pcb) = slot.pcb.take() {
                    pcb.detach();
                    let _ = pcb.close();
                }
            }
        }
    }
    slot.wake();
    Ok(())
}

pub(crate) fn on_tcp_sent(arg: usize) {
    if let Some(Arg::Tcp(i)) = Arg::decode(arg) {
        with(|st| {
            if let Some(w) = st.tcp[i].write_waker.take() {
                w.wake();
            }
        });
    }
}

/// lwIP has freed the pcb: it was reset, timed out, or (`ERR_CLSD`) closed by
/// both ends.
pub(crate) fn on_tcp_err(arg: usize, err: Err) {
    let Some(Arg::Tcp(i)) = Arg::decode(arg) else {
        return;
    };
    with(|st| {
        let slot = &mut st.tcp[i];
        slot.pcb = None;
        const ERR_ABRT: Err = -13;
        const ERR_RST: Err = -14;
        const ERR_CLSD: Err = -15;
        slot.error = match err {
            ERR_CLSD => {
                slot.eof = true;
                None
            }
            ERR_RST if !slot.connected => Some(ErrorKind::ConnectionRefused),
            ERR_RST => Some(ErrorKind::ConnectionReset),
            // lwIP aborts on its own only when retransmissions or keep-alive
            // probes go unanswered; this crate's own aborts are detached first.
            ERR_ABRT => Some(ErrorKind::TimedOut),
            other => Some(kind_of(other)),
        }
        .into();
        slot.wake();
    });
}

pub(crate) fn on_tcp_connected(arg: usize, err: Err) {
    let Some(Arg::Tcp(i)) = Arg::decode(arg) else {
        return;
    };
    with(|st| {
        let slot = &mut st.tcp[i];
        if err == ffi::ERR_OK {
            slot.connected = true;
            if let Some(pcb) = slot.pcb {
                let (ip, port) = pcb.local();
                slot.local = Some(to_addr(ip, port));
            }
        } else {
            slot.error = Failure::Failed(kind_of(err));
        }
        slot.wake();
    });
}

/// A completed handshake on a listener: queued if the backlog and the table
/// have room; `false` makes lwIP reset it.
pub(crate) fn on_tcp_accept(arg: usize, pcb: TcpPcb) -> bool {
    let Some(Arg::Listener(l)) = Arg::decode(arg) else {
        return false;
    };
    with(|st| {
        let listener = &st.listeners[l];
        if !listener.used
            || listener.queued >= (listener.backlog + listener.waiting).min(MAX_BACKLOG)
        {
            return false;
        }
        let Some(i) = st.tcp.iter().position(|s| !s.used) else {
            return false;
        };
        let (lip, lport) = pcb.local();
        let (rip, rport) = pcb.remote();
        st.tcp[i] = TcpSlot {
            used: true,
            pcb: Some(pcb),
            connected: true,
            local: Some(to_addr(lip, lport)),
            remote: Some(to_addr(rip, rport)),
            ..TcpSlot::default()
        };
        pcb.attach(Arg::Tcp(i).encode());
        let listener = &mut st.listeners[l];
        listener.queue[listener.queued] = i;
        listener.queued += 1;
        listener.wake_all();
        true
    })
    .unwrap_or(false)
}

pub(crate) fn on_udp_recv(arg: usize, p: Pbuf, ip: u32, port: u16) {
    let Some(Arg::Udp(i)) = Arg::decode(arg) else {
        return;
    };
    let from = to_addr(ip, port);
    with(move |st| {
        let slot = &mut st.udp[i];
        if slot.peer.is_some_and(|peer| peer != from) {
            return;
        }
        if let Some(free) = slot.queue.iter_mut().find(|q| q.is_none()) {
            *free = Some((p, from));
            if let Some(w) = slot.recv_waker.take() {
                w.wake();
            }
        }
    });
}
