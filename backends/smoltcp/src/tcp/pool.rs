//! The pool's bookkeeping: which socket is whose, how each connection ended,
//! claiming, releasing and reclaiming sockets, and the runner's TCP work.

use core::cell::Cell;
use core::fmt;
use core::net::SocketAddr;

use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State};
use smoltcp::wire::IpListenEndpoint;

use crate::stack::Core;
use crate::wakers::WakerSet;
use crate::zeroed::Unset;
use crate::{Error, time};

/// The TCP sockets of a stack: `N` sockets with `RX` bytes of receive and `TX`
/// bytes of send buffer each. RAM: `N * (RX + TX)` plus about 400 bytes per
/// socket of smoltcp state.
pub struct TcpPool<const N: usize, const RX: usize, const TX: usize> {
    rx: [[u8; RX]; N],
    tx: [[u8; TX]; N],
    slots: [TcpSlot; N],
}

impl<const N: usize, const RX: usize, const TX: usize> fmt::Debug for TcpPool<N, RX, TX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpPool")
            .field("sockets", &N)
            .field("rx", &RX)
            .field("tx", &TX)
            .finish()
    }
}

impl<const N: usize, const RX: usize, const TX: usize> Default for TcpPool<N, RX, TX> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const RX: usize, const TX: usize> TcpPool<N, RX, TX> {
    /// A pool of unused sockets.
    pub const fn new() -> Self {
        Self {
            rx: [[0; RX]; N],
            tx: [[0; TX]; N],
            slots: [const { TcpSlot::empty() }; N],
        }
    }

    /// Puts every socket of the pool into `set`; returns the slots.
    pub(crate) fn install<'a>(&'a mut self, set: &mut SocketSet<'a>) -> &'a mut [TcpSlot] {
        let Self { rx, tx, slots } = self;
        for ((rx, tx), slot) in rx.iter_mut().zip(tx.iter_mut()).zip(slots.iter_mut()) {
            let socket = tcp::Socket::new(
                tcp::SocketBuffer::new(&mut rx[..]),
                tcp::SocketBuffer::new(&mut tx[..]),
            );
            *slot = TcpSlot {
                handle: Some(set.add(socket)),
                ..TcpSlot::empty()
            };
        }
        slots
    }
}

/// Tasks that may wait for a free TCP socket at once without re-polls: each
/// listener whose backlog the pool cannot refill, and each `connect` waiting
/// for a socket that is closing in the background.
const POOL_WAITERS: usize = 4;
/// `accept` futures that may wait at once (on all listeners together) without
/// re-polls; more still get every connection, at the cost of re-polls.
const ACCEPT_WAITERS: usize = 8;

/// TCP's part of the stack's core.
pub(crate) struct TcpState<'a> {
    /// The pool's slot records, one per socket.
    pub(crate) slots: &'a mut [TcpSlot],
    /// Orders connections by arrival for `accept`.
    pub(super) arrivals: u64,
    pub(super) next_listener: u32,
    /// Tasks waiting for a socket of a full pool to free (listeners that
    /// refill their backlog, connects).
    pub(super) pool_waiters: WakerSet<POOL_WAITERS>,
    /// Pending `accept`s: each socket keeps one waker, which several accepts in
    /// several tasks would overwrite; the runner wakes these when a listener's
    /// socket changes state.
    pub(super) accept_waiters: WakerSet<ACCEPT_WAITERS>,
}

impl<'a> TcpState<'a> {
    pub(crate) fn new(slots: &'a mut [TcpSlot]) -> Self {
        Self {
            slots,
            arrivals: 0,
            next_listener: 0,
            pool_waiters: WakerSet::new(),
            accept_waiters: WakerSet::new(),
        }
    }
}

impl<'a> crate::Sockets<'a> {
    /// Adds the TCP pool: `N` sockets with `RX` and `TX` bytes of buffer each.
    /// A stack has at most one TCP pool.
    pub fn tcp<const N: usize, const RX: usize, const TX: usize>(
        mut self,
        pool: &'a mut TcpPool<N, RX, TX>,
    ) -> Result<Self, Error> {
        if !self.tcp.is_empty() {
            return Err(Error::InvalidConfig);
        }
        self.reserve(N)?;
        self.tcp = pool.install(&mut self.set);
        Ok(self)
    }
}

/// Who holds a socket of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    /// Nobody: free to claim (its socket is closed or in TIME-WAIT).
    Free,
    /// A connection (or a connect in progress).
    Connection,
    /// A listener, by id: listening, or connected and waiting for `accept`.
    Listener(u32),
    /// Dropped while its connection was still open: closing in the background,
    /// until the runner reclaims it.
    Released {
        /// The runner poll it was released in.
        epoch: u64,
        /// When it is reset if still not closed.
        deadline: smoltcp::time::Instant,
    },
}

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ending {
    /// Both FINs exchanged.
    Finished,
    /// A reset in answer to the SYN.
    Refused,
    /// A reset from the peer.
    Reset,
    /// The connection's timeout passed.
    TimedOut,
    /// Aborted here.
    Aborted,
}

impl Ending {
    pub(super) fn error(self) -> Error {
        match self {
            Self::Finished => Error::NotConnected,
            Self::Refused => Error::ConnectionRefused,
            Self::Reset => Error::ConnectionReset,
            Self::TimedOut => Error::TimedOut,
            Self::Aborted => Error::ConnectionAborted,
        }
    }
}

/// The stack's record of one socket of the pool.
#[derive(Debug)]
pub struct TcpSlot {
    pub(super) handle: Option<SocketHandle>,
    pub(super) owner: Owner,
    /// The socket's state when last looked at, to tell how it closed.
    pub(super) last_state: State,
    pub(super) ending: Unset<Ending>,
    /// Arrival order of a listener's connection.
    pub(super) arrival: u64,
    /// EOF was returned: reads stay at EOF.
    pub(super) eof: bool,
    /// The write half was closed here.
    pub(super) write_closed: bool,
    pub(super) local: Unset<SocketAddr>,
    pub(super) remote: Unset<SocketAddr>,
    /// The acknowledgement number that would acknowledge our FIN, once sent.
    pub(super) fin_ack: Cell<Option<u32>>,
    /// Pure ACKs seen that acknowledge everything but our FIN.
    pub(super) acks_before_fin: Cell<u8>,
}

impl TcpSlot {
    const fn empty() -> Self {
        Self {
            handle: None,
            owner: Owner::Free,
            last_state: State::Closed,
            ending: Unset::None,
            arrival: 0,
            eof: false,
            write_closed: false,
            local: Unset::None,
            remote: Unset::None,
            fin_ack: Cell::new(None),
            acks_before_fin: Cell::new(0),
        }
    }

    /// Whether the socket is held or still closing.
    pub(crate) fn in_use(&self) -> bool {
        self.handle.is_some() && self.owner != Owner::Free
    }

    /// Starts a new use of the slot.
    pub(super) fn claim(&mut self, owner: Owner) {
        *self = Self {
            handle: self.handle,
            owner,
            ..Self::empty()
        };
    }
}

pub(super) fn socket<'s, 'a>(
    set: &'s mut SocketSet<'a>,
    slot: &TcpSlot,
) -> &'s mut tcp::Socket<'a> {
    // Every installed slot has a handle; `slots()` only yields those.
    set.get_mut::<tcp::Socket<'a>>(slot.handle.expect("installed slot"))
}

/// Looks at a socket's state after something happened to it, and records how
/// its connection ended (`timed_out_here`: what closed it, if it is newly
/// closed, was its own timeout). Whether the state changed.
pub(super) fn observe(set: &mut SocketSet<'_>, slot: &mut TcpSlot, timed_out_here: bool) -> bool {
    let state = socket(set, slot).state();
    if state == slot.last_state {
        return false;
    }
    if state == State::Closed && slot.ending.get().is_none() {
        slot.ending = Unset::Some(match slot.last_state {
            State::LastAck | State::TimeWait | State::Closing => Ending::Finished,
            State::SynSent if !timed_out_here => Ending::Refused,
            _ if timed_out_here => Ending::TimedOut,
            _ => Ending::Reset,
        });
    }
    if slot.local.get().is_none() {
        let socket = socket(set, slot);
        slot.local = socket.local_endpoint().map(crate::addr::socket_addr).into();
        slot.remote = socket
            .remote_endpoint()
            .map(crate::addr::socket_addr)
            .into();
    }
    slot.last_state = state;
    true
}

/// Whether a connection closing in the background has done what graceful close
/// promises: the peer acknowledged all data and the FIN (FIN-WAIT-2,
/// TIME-WAIT), or it is gone. Its socket may then be taken for a new
/// connection.
pub(super) fn done_sending(state: State) -> bool {
    matches!(state, State::FinWait2 | State::TimeWait | State::Closed)
}

/// The runner's work after each incoming frame: record how connections end and
/// the order in which listeners' connections arrive.
pub(crate) fn after_ingress(core: &mut Core<'_>) {
    note_changes(core, false);
}

/// The runner's work after sending: a socket that closed while sending closed
/// on its timeout.
pub(crate) fn after_egress(core: &mut Core<'_>) {
    note_changes(core, true);
}

/// Observes every socket; wakes the pending accepts when a listener's socket
/// changed state (a connection arrived or was reset), and the pool's waiters
/// when a background close no longer needs its socket.
fn note_changes(core: &mut Core<'_>, timed_out_here: bool) {
    let mut accept_event = false;
    let mut pool_event = false;
    for slot in core
        .tcp
        .slots
        .iter_mut()
        .filter(|slot| slot.handle.is_some())
    {
        let changed = observe(&mut core.sockets, slot, timed_out_here);
        match slot.owner {
            Owner::Listener(_) => {
                if slot.arrival == 0 && slot.last_state != State::Listen {
                    core.tcp.arrivals += 1;
                    slot.arrival = core.tcp.arrivals;
                }
                accept_event |= changed;
            }
            Owner::Released { .. } => pool_event |= changed && done_sending(slot.last_state),
            _ => {}
        }
    }
    if accept_event {
        core.tcp.accept_waiters.wake_all();
    }
    if pool_event {
        core.tcp.pool_waiters.wake_all();
    }
}

/// Frees released sockets whose connection has ended; returns the next
/// deadline at which one must be reset.
pub(crate) fn reclaim(core: &mut Core<'_>) -> Option<portnet::Instant> {
    let mut next: Option<smoltcp::time::Instant> = None;
    let mut freed = false;
    for slot in core.tcp.slots.iter_mut() {
        let Owner::Released { epoch, deadline } = slot.owner else {
            continue;
        };
        let socket = socket(&mut core.sockets, slot);
        // Nobody reads any more: drop what arrives, so the peer can finish.
        while socket
            .recv(|data| (data.len(), ()))
            .is_ok_and(|()| socket.recv_queue() > 0)
        {}
        let ended = matches!(socket.state(), State::Closed | State::TimeWait);
        if ended && epoch < core.epoch {
            slot.owner = Owner::Free;
            freed = true;
        } else if !ended && core.now >= deadline {
            socket.abort();
        } else {
            next = Some(next.map_or(deadline, |n| n.min(deadline)));
        }
    }
    if freed {
        core.tcp.pool_waiters.wake_all();
    }
    next.map(time::from_smoltcp)
}

/// Claims a socket: a free closed one first, else a free one in TIME-WAIT,
/// else the one released longest ago whose background close has done what it
/// promises (`done_sending`: the peer acknowledged all data and the FIN).
///
/// The last keeps a dropped connection from holding a socket a new one needs:
/// what is left of its close is the peer's FIN, whose data nobody would read.
/// The socket is forgotten without an RST (the `connect` or `listen` that
/// follows resets it before the runner sends anything); the peer's later
/// segments meet a reset, after it has everything that was written.
pub(super) fn claim(core: &mut Core<'_>, owner: Owner) -> Result<usize, Error> {
    let sockets = &mut core.sockets;
    let mut time_wait = None;
    let mut closing: Option<(u64, usize)> = None;
    for (index, slot) in core.tcp.slots.iter().enumerate() {
        if slot.handle.is_none() {
            continue;
        }
        match slot.owner {
            Owner::Free => match socket(sockets, slot).state() {
                State::Closed => {
                    core.tcp.slots[index].claim(owner);
                    return Ok(index);
                }
                State::TimeWait if time_wait.is_none() => time_wait = Some(index),
                _ => {}
            },
            // Closed ones wait for the runner: their RST goes out first.
            Owner::Released { epoch, .. }
                if matches!(
                    socket(sockets, slot).state(),
                    State::FinWait2 | State::TimeWait
                ) && closing.is_none_or(|(oldest, _)| epoch < oldest) =>
            {
                closing = Some((epoch, index));
            }
            _ => {}
        }
    }
    let index = time_wait
        .or(closing.map(|(_, index)| index))
        .ok_or(Error::NoSocket)?;
    let slot = &mut core.tcp.slots[index];
    let from_closing = matches!(slot.owner, Owner::Released { .. });
    if from_closing {
        // FIN-WAIT-2 is open: connect and listen refuse an open socket.
        socket(&mut core.sockets, slot).abort();
    }
    slot.claim(owner);
    if from_closing {
        // A `connect` may be waiting for this background close; if it was the
        // last one, that connect must poll again and fail rather than wait for
        // a close that will not come.
        core.tcp.pool_waiters.wake_all();
    }
    Ok(index)
}

/// Whether a connection is closing in the background: its socket will be
/// claimable once the peer acknowledges the FIN, or after `Config::linger`.
pub(super) fn closing_in_background(core: &Core<'_>) -> bool {
    core.tcp
        .slots
        .iter()
        .any(|slot| matches!(slot.owner, Owner::Released { .. }))
}

/// Gives a claimed socket back: frees it, or lets it finish closing first.
pub(super) fn release(core: &mut Core<'_>, index: usize) {
    let linger = time::duration_to_smoltcp(core.config.linger);
    let slot = &mut core.tcp.slots[index];
    let socket = socket(&mut core.sockets, slot);
    match socket.state() {
        State::Listen => {
            socket.close();
            slot.owner = Owner::Free;
            core.tcp.pool_waiters.wake_all();
        }
        State::Closed if slot.ending != Unset::Some(Ending::Aborted) => {
            slot.owner = Owner::Free;
            core.tcp.pool_waiters.wake_all();
        }
        _ => {
            // Graceful close of whatever is open; the runner frees it once closed.
            socket.close();
            socket.set_timeout(Some(linger));
            slot.owner = Owner::Released {
                epoch: core.epoch,
                deadline: core.now + linger,
            };
        }
    }
    core.wake_runner();
}

/// Whether a TCP socket other than a free one uses local `port` on an address
/// overlapping `ip` (`None`: every address).
pub(super) fn port_in_use(core: &Core<'_>, port: u16, listeners_only: bool) -> bool {
    core.tcp.slots.iter().any(|slot| {
        let Some(handle) = slot.handle else {
            return false;
        };
        let socket = core.sockets.get::<tcp::Socket<'_>>(handle);
        match slot.owner {
            Owner::Listener(_) => socket.listen_endpoint().port == port,
            _ if listeners_only => false,
            Owner::Free if socket.state() == State::Closed => false,
            _ => socket.local_endpoint().is_some_and(|e| e.port == port),
        }
    })
}

/// The unspecified address means "any address" to smoltcp's listen.
pub(super) fn listen_endpoint(local: SocketAddr) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: if local.ip().is_unspecified() {
            None
        } else {
            crate::addr::to_smoltcp(local.ip())
        },
        port: local.port(),
    }
}
