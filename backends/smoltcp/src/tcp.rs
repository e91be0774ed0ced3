//! TCP: a fixed pool of sockets, connections, listeners with a backlog, and
//! split halves.
//!
//! Every socket of the pool sits in smoltcp's socket set for the stack's whole
//! life; a connection or listener claims one and gives it back. A dropped
//! connection finishes closing in the background (bounded by
//! [`Config::linger`](crate::Config::linger)) before its socket is reused; a
//! socket in TIME-WAIT is reused at once, as lwIP and Linux do under pressure.

use crate::zeroed::Unset;
use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::{Future, poll_fn};
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll};

use portnet::{ErrorType, SocketOption, SocketOptionName};
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, State};
use smoltcp::wire::IpListenEndpoint;

use crate::stack::{Core, Stack};
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

/// Who holds a socket of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
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
enum Ending {
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
    fn error(self) -> Error {
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
    handle: Option<SocketHandle>,
    owner: Owner,
    /// The socket's state when last looked at, to tell how it closed.
    last_state: State,
    ending: Unset<Ending>,
    /// Arrival order of a listener's connection.
    arrival: u64,
    /// EOF was returned: reads stay at EOF.
    eof: bool,
    /// The write half was closed here.
    write_closed: bool,
    local: Unset<SocketAddr>,
    remote: Unset<SocketAddr>,
    /// The acknowledgement number that would acknowledge our FIN, once sent.
    fin_ack: Cell<Option<u32>>,
    /// Pure ACKs seen that acknowledge everything but our FIN.
    acks_before_fin: Cell<u8>,
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
    fn claim(&mut self, owner: Owner) {
        *self = Self {
            handle: self.handle,
            owner,
            ..Self::empty()
        };
    }
}

fn socket<'s, 'a>(set: &'s mut SocketSet<'a>, slot: &TcpSlot) -> &'s mut tcp::Socket<'a> {
    // Every installed slot has a handle; `slots()` only yields those.
    set.get_mut::<tcp::Socket<'a>>(slot.handle.expect("installed slot"))
}

/// Looks at a socket's state after something happened to it, and records how
/// its connection ended. `cause` is what closed it if it is newly closed.
fn observe(set: &mut SocketSet<'_>, slot: &mut TcpSlot, timed_out_here: bool) {
    let state = socket(set, slot).state();
    if state == slot.last_state {
        return;
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
}

/// The TCP header fields of a frame (Ethernet, or a bare IP packet on a
/// medium-IP link) that the filters below need.
struct Segment {
    src: SocketAddr,
    dst: SocketAddr,
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    seq: u32,
    ack_number: u32,
    payload_len: usize,
}

/// The IP packet of a frame, and whether it is IPv6.
fn ip_packet(frame: &[u8], medium: smoltcp::phy::Medium) -> Option<(bool, &[u8])> {
    use smoltcp::wire::{EthernetFrame, EthernetProtocol};
    match medium {
        smoltcp::phy::Medium::Ethernet => {
            let ethernet = EthernetFrame::new_checked(frame).ok()?;
            let v6 = match ethernet.ethertype() {
                EthernetProtocol::Ipv4 => false,
                EthernetProtocol::Ipv6 => true,
                _ => return None,
            };
            Some((v6, frame.get(EthernetFrame::<&[u8]>::header_len()..)?))
        }
        #[cfg(feature = "medium-ip")]
        smoltcp::phy::Medium::Ip => match frame.first()? >> 4 {
            4 => Some((false, frame)),
            6 => Some((true, frame)),
            _ => None,
        },
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

fn parse_segment(frame: &[u8], medium: smoltcp::phy::Medium) -> Option<Segment> {
    use smoltcp::wire::{IpProtocol, Ipv4Packet, TcpPacket};
    let (v6, packet) = ip_packet(frame, medium)?;
    let (src, dst, payload): (IpAddr, IpAddr, &[u8]) = if !v6 {
        let ip = Ipv4Packet::new_checked(packet).ok()?;
        if ip.next_header() != IpProtocol::Tcp {
            return None;
        }
        (
            IpAddr::from(ip.src_addr()),
            IpAddr::from(ip.dst_addr()),
            ip.payload(),
        )
    } else {
        #[cfg(feature = "proto-ipv6")]
        {
            let ip = smoltcp::wire::Ipv6Packet::new_checked(packet).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            (
                IpAddr::from(ip.src_addr()),
                IpAddr::from(ip.dst_addr()),
                ip.payload(),
            )
        }
        #[cfg(not(feature = "proto-ipv6"))]
        return None;
    };
    let tcp = TcpPacket::new_checked(payload).ok()?;
    Some(Segment {
        src: SocketAddr::new(src, tcp.src_port()),
        dst: SocketAddr::new(dst, tcp.dst_port()),
        syn: tcp.syn(),
        ack: tcp.ack(),
        fin: tcp.fin(),
        rst: tcp.rst(),
        seq: tcp.seq_number().0 as u32,
        ack_number: tcp.ack_number().0 as u32,
        payload_len: tcp.payload().len(),
    })
}

/// The slot of the connection a segment from the peer belongs to.
fn slot_for<'s>(slots: &'s [TcpSlot], segment: &Segment) -> Option<&'s TcpSlot> {
    slots.iter().find(|slot| {
        slot.owner != Owner::Free
            && !matches!(slot.last_state, State::Listen | State::Closed)
            && slot.local.get() == Some(segment.dst)
            && slot.remote.get() == Some(segment.src)
    })
}

/// Whether an incoming frame must not reach smoltcp. Two kinds are held back,
/// each the trigger of a stall in smoltcp 0.14:
///
/// - a repeated SYN of a connection the stack already has. smoltcp hands a SYN
///   to the first socket that accepts it, in socket order; with several
///   sockets listening on a port (a backlog), a duplicated or retransmitted SYN
///   can reach a second listening socket before the connection's own, which
///   then answers with a conflicting SYN-ACK, and the peer resets the
///   connection. The owner retransmits its SYN-ACK on its own timer anyway.
/// - the third and later duplicate ACKs that acknowledge all our data but not
///   our FIN. smoltcp answers three duplicates with a fast retransmit, which
///   has no data to resend, stops the retransmission timer, and never resends
///   the FIN: the connection hangs in FIN-WAIT-1 or LAST-ACK. Without the
///   duplicates, the timer resends the FIN.
pub(crate) fn is_held_back(slots: &[TcpSlot], frame: &[u8], medium: smoltcp::phy::Medium) -> bool {
    let Some(segment) = parse_segment(frame, medium) else {
        return false;
    };
    let Some(slot) = slot_for(slots, &segment) else {
        return false;
    };
    if segment.syn && !segment.ack {
        return true;
    }
    let pure_ack =
        segment.ack && !segment.syn && !segment.fin && !segment.rst && segment.payload_len == 0;
    match slot.fin_ack.get() {
        Some(fin_ack) if pure_ack && segment.ack_number == fin_ack.wrapping_sub(1) => {
            let seen = slot.acks_before_fin.get().saturating_add(1);
            slot.acks_before_fin.set(seen);
            seen > 2
        }
        _ => false,
    }
}

/// Notes the FIN of an outgoing frame, for [`is_held_back`].
pub(crate) fn note_sent(slots: &[TcpSlot], frame: &[u8], medium: smoltcp::phy::Medium) {
    let Some(segment) = parse_segment(frame, medium) else {
        return;
    };
    if !segment.fin {
        return;
    }
    let mine = slots.iter().find(|slot| {
        slot.owner != Owner::Free
            && slot.local.get() == Some(segment.src)
            && slot.remote.get() == Some(segment.dst)
    });
    if let Some(slot) = mine {
        let end = segment
            .seq
            .wrapping_add(segment.payload_len as u32)
            .wrapping_add(u32::from(segment.syn))
            .wrapping_add(1);
        slot.fin_ack.set(Some(end));
    }
}

/// The runner's work after each incoming frame: record how connections end and
/// the order in which listeners' connections arrive.
pub(crate) fn after_ingress(core: &mut Core<'_>) {
    for slot in core.tcp.iter_mut().filter(|slot| slot.handle.is_some()) {
        observe(&mut core.sockets, slot, false);
        if let Owner::Listener(_) = slot.owner
            && slot.arrival == 0
            && slot.last_state != State::Listen
        {
            core.arrivals += 1;
            slot.arrival = core.arrivals;
        }
    }
}

/// The runner's work after sending: a socket that closed while sending closed
/// on its timeout.
pub(crate) fn after_egress(core: &mut Core<'_>) {
    for slot in core.tcp.iter_mut().filter(|slot| slot.handle.is_some()) {
        observe(&mut core.sockets, slot, true);
    }
}

/// Frees released sockets whose connection has ended; returns the next
/// deadline at which one must be reset.
pub(crate) fn reclaim(core: &mut Core<'_>) -> Option<portnet::Instant> {
    let mut next: Option<smoltcp::time::Instant> = None;
    let mut freed = false;
    for slot in core.tcp.iter_mut() {
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
        core.wake_pool_waiter();
    }
    next.map(time::from_smoltcp)
}

/// Claims a free socket: a closed one first, else one in TIME-WAIT.
fn claim(core: &mut Core<'_>, owner: Owner) -> Result<usize, Error> {
    let sockets = &mut core.sockets;
    let mut time_wait = None;
    for (index, slot) in core.tcp.iter().enumerate() {
        if slot.handle.is_none() || slot.owner != Owner::Free {
            continue;
        }
        match socket(sockets, slot).state() {
            State::Closed => {
                core.tcp[index].claim(owner);
                return Ok(index);
            }
            State::TimeWait if time_wait.is_none() => time_wait = Some(index),
            _ => {}
        }
    }
    let index = time_wait.ok_or(Error::NoSocket)?;
    core.tcp[index].claim(owner);
    Ok(index)
}

/// Gives a claimed socket back: frees it, or lets it finish closing first.
fn release(core: &mut Core<'_>, index: usize) {
    let linger = time::duration_to_smoltcp(core.config.linger);
    let slot = &mut core.tcp[index];
    let socket = socket(&mut core.sockets, slot);
    match socket.state() {
        State::Listen => {
            socket.close();
            slot.owner = Owner::Free;
            core.wake_pool_waiter();
        }
        State::Closed if slot.ending != Unset::Some(Ending::Aborted) => {
            slot.owner = Owner::Free;
            core.wake_pool_waiter();
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
fn port_in_use(core: &Core<'_>, port: u16, listeners_only: bool) -> bool {
    core.tcp.iter().any(|slot| {
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
fn listen_endpoint(local: SocketAddr) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: if local.ip().is_unspecified() {
            None
        } else {
            crate::addr::to_smoltcp(local.ip())
        },
        port: local.port(),
    }
}

/// A socket of the pool as seen by a connection or one of its halves.
#[derive(Clone, Copy)]
struct SocketRef<'s, 'a> {
    core: &'s RefCell<Core<'a>>,
    index: usize,
}

impl SocketRef<'_, '_> {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, Error>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut core = self.core.borrow_mut();
        let core = &mut *core;
        let slot = &mut core.tcp[self.index];
        observe(&mut core.sockets, slot, false);
        if slot.eof {
            return Poll::Ready(Ok(0));
        }
        let socket = socket(&mut core.sockets, slot);
        let result = match socket.recv_slice(buf) {
            Ok(0) if socket.may_recv() || socket.state() == State::SynReceived => {
                socket.register_recv_waker(cx.waker());
                return Poll::Pending;
            }
            Ok(0) | Err(tcp::RecvError::InvalidState) => match slot.ending.get() {
                Some(Ending::Finished) | None => {
                    slot.eof = true;
                    Ok(0)
                }
                Some(ending) => Err(ending.error()),
            },
            Ok(n) => Ok(n),
            Err(tcp::RecvError::Finished) => {
                slot.eof = true;
                Ok(0)
            }
        };
        // Reading opened the window: the runner may have to say so.
        core.wake_runner();
        Poll::Ready(result)
    }

    fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Result<usize, Error>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut core = self.core.borrow_mut();
        let core = &mut *core;
        let slot = &mut core.tcp[self.index];
        observe(&mut core.sockets, slot, false);
        if let Some(ending) = slot.ending.get().filter(|e| *e != Ending::Finished) {
            return Poll::Ready(Err(ending.error()));
        }
        if slot.write_closed {
            return Poll::Ready(Err(Error::WriteClosed));
        }
        let socket = socket(&mut core.sockets, slot);
        match socket.send_slice(buf) {
            Ok(0) if socket.may_send() => {
                socket.register_send_waker(cx.waker());
                Poll::Pending
            }
            Ok(0) | Err(tcp::SendError::InvalidState) => Poll::Ready(Err(Error::WriteClosed)),
            Ok(n) => {
                core.wake_runner();
                Poll::Ready(Ok(n))
            }
        }
    }

    fn poll_flush(&self) -> Poll<Result<(), Error>> {
        // The socket's buffer is the network layer's: nothing waits above it,
        // and the write that filled it has woken the runner already. Waking it
        // here again would make a caller that flushes on every poll (hyper
        // does) and shares a task with the runner wake itself forever.
        Poll::Ready(Ok(()))
    }

    fn poll_close(&self) -> Poll<Result<(), Error>> {
        let mut core = self.core.borrow_mut();
        let core = &mut *core;
        let slot = &mut core.tcp[self.index];
        slot.write_closed = true;
        socket(&mut core.sockets, slot).close();
        core.wake_runner();
        Poll::Ready(Ok(()))
    }
}

/// A TCP connection of a smoltcp [`Stack`].
///
/// Dropping it closes it gracefully: the FIN goes after the data written, in
/// the background.
pub struct TcpConnection<'s, 'a> {
    socket: SocketRef<'s, 'a>,
}

impl fmt::Debug for TcpConnection<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = self.socket.core.try_borrow();
        let slot = core.as_ref().ok().map(|core| &core.tcp[self.socket.index]);
        f.debug_struct("TcpConnection")
            .field("slot", &self.socket.index)
            .field("local", &slot.and_then(|s| s.local.get()))
            .field("remote", &slot.and_then(|s| s.remote.get()))
            .finish()
    }
}

impl Drop for TcpConnection<'_, '_> {
    fn drop(&mut self) {
        if let Ok(mut core) = self.socket.core.try_borrow_mut() {
            release(&mut core, self.socket.index);
        }
    }
}

impl ErrorType for TcpConnection<'_, '_> {
    type Error = Error;
}

/// `Read` through the [`SocketRef`] of a connection or its read half.
macro_rules! read_through_socket {
    ($type:ident) => {
        impl portnet::Read for $type<'_, '_> {
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<Result<usize, Error>> {
                self.socket.poll_read(cx, buf)
            }
        }
    };
}

/// `Write` through the [`SocketRef`] of a connection or its write half.
macro_rules! write_through_socket {
    ($type:ident) => {
        impl portnet::Write for $type<'_, '_> {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<Result<usize, Error>> {
                self.socket.poll_write(cx, buf)
            }
            fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.socket.poll_flush()
            }
            fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                self.socket.poll_close()
            }
        }
    };
}

read_through_socket!(TcpConnection);
write_through_socket!(TcpConnection);
read_through_socket!(TcpReadHalf);
write_through_socket!(TcpWriteHalf);

/// The read half of a [`TcpConnection`].
pub struct TcpReadHalf<'c, 'a> {
    socket: SocketRef<'c, 'a>,
}

/// The write half of a [`TcpConnection`].
pub struct TcpWriteHalf<'c, 'a> {
    socket: SocketRef<'c, 'a>,
}

impl fmt::Debug for TcpReadHalf<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpReadHalf")
            .field("slot", &self.socket.index)
            .finish()
    }
}

impl fmt::Debug for TcpWriteHalf<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpWriteHalf")
            .field("slot", &self.socket.index)
            .finish()
    }
}

impl ErrorType for TcpReadHalf<'_, '_> {
    type Error = Error;
}

impl ErrorType for TcpWriteHalf<'_, '_> {
    type Error = Error;
}

impl<'s, 'a> portnet::TcpStream for TcpConnection<'s, 'a> {
    type ReadHalf<'c>
        = TcpReadHalf<'c, 'a>
    where
        Self: 'c;
    type WriteHalf<'c>
        = TcpWriteHalf<'c, 'a>
    where
        Self: 'c;

    fn split(&mut self) -> (TcpReadHalf<'_, 'a>, TcpWriteHalf<'_, 'a>) {
        let socket = SocketRef {
            core: self.socket.core,
            index: self.socket.index,
        };
        (TcpReadHalf { socket }, TcpWriteHalf { socket })
    }

    fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.socket.core.borrow().tcp[self.socket.index]
            .local
            .get()
            .ok_or(Error::NotConnected)
    }

    fn peer_addr(&self) -> Result<SocketAddr, Error> {
        self.socket.core.borrow().tcp[self.socket.index]
            .remote
            .get()
            .ok_or(Error::NotConnected)
    }

    fn abort(self) {
        {
            let mut core = self.socket.core.borrow_mut();
            let core = &mut *core;
            let slot = &mut core.tcp[self.socket.index];
            socket(&mut core.sockets, slot).abort();
            slot.ending = Unset::Some(Ending::Aborted);
            slot.last_state = State::Closed;
        }
        // Drop releases the socket; the runner sends the RST before reusing it.
    }
}

impl portnet::SocketOptions for TcpConnection<'_, '_> {
    fn set_option(&self, option: SocketOption) -> Result<(), Error> {
        let mut core = self.socket.core.borrow_mut();
        let core = &mut *core;
        let socket = socket(&mut core.sockets, &core.tcp[self.socket.index]);
        match option {
            SocketOption::NoDelay(on) => socket.set_nagle_enabled(!on),
            SocketOption::KeepAlive(interval) => {
                socket.set_keep_alive(interval.map(time::duration_to_smoltcp));
            }
            SocketOption::Timeout(timeout) => {
                socket.set_timeout(timeout.map(time::duration_to_smoltcp));
            }
            SocketOption::Ttl(0) => return Err(Error::InvalidAddress),
            SocketOption::Ttl(ttl) => socket.set_hop_limit(Some(ttl)),
            _ => return Err(Error::Unsupported),
        }
        core.wake_runner();
        Ok(())
    }

    fn option(&self, name: SocketOptionName) -> Result<SocketOption, Error> {
        let mut core = self.socket.core.borrow_mut();
        let core = &mut *core;
        let socket = socket(&mut core.sockets, &core.tcp[self.socket.index]);
        Ok(match name {
            SocketOptionName::NoDelay => SocketOption::NoDelay(!socket.nagle_enabled()),
            SocketOptionName::KeepAlive => {
                SocketOption::KeepAlive(socket.keep_alive().map(time::duration_from_smoltcp))
            }
            SocketOptionName::Timeout => {
                SocketOption::Timeout(socket.timeout().map(time::duration_from_smoltcp))
            }
            SocketOptionName::Ttl => SocketOption::Ttl(socket.hop_limit().unwrap_or(64)),
            SocketOptionName::RecvBufferSize => {
                SocketOption::RecvBufferSize(socket.recv_capacity())
            }
            SocketOptionName::SendBufferSize => {
                SocketOption::SendBufferSize(socket.send_capacity())
            }
            _ => return Err(Error::Unsupported),
        })
    }
}

impl<'a, D, C: portnet::Clock> portnet::TcpConnect for Stack<'a, D, C> {
    type Connection<'s>
        = TcpConnection<'s, 'a>
    where
        Self: 's;

    /// Connects to `remote`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future resets the half-open connection and
    /// frees its socket.
    fn connect(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<TcpConnection<'_, 'a>, Error>> {
        let started = start_connect(&self.core, remote);
        async move {
            let connection = started?;
            poll_fn(|cx| connection.poll_established(cx)).await?;
            Ok(connection)
        }
    }
}

/// Claims a socket and sends the SYN.
fn start_connect<'s, 'a>(
    core_cell: &'s RefCell<Core<'a>>,
    remote: SocketAddr,
) -> Result<TcpConnection<'s, 'a>, Error> {
    if remote.ip().is_unspecified() || remote.port() == 0 {
        return Err(Error::InvalidAddress);
    }
    let mut core = core_cell.borrow_mut();
    let core = &mut *core;
    if !core.can_reach(remote.ip()) {
        return Err(Error::NoRoute);
    }
    let port = core.ephemeral_port(|core, port| port_in_use(core, port, false))?;
    let index = claim(core, Owner::Connection)?;
    let Core {
        iface,
        sockets,
        tcp,
        ..
    } = core;
    let slot = &mut tcp[index];
    let connected = socket(sockets, slot).connect(
        iface.context(),
        crate::addr::endpoint(remote).ok_or(Error::InvalidAddress)?,
        port,
    );
    if let Err(e) = connected {
        slot.owner = Owner::Free;
        return Err(match e {
            tcp::ConnectError::Unaddressable => Error::NoRoute,
            tcp::ConnectError::InvalidState => Error::NoSocket,
        });
    }
    slot.last_state = State::SynSent;
    core.wake_runner();
    Ok(TcpConnection {
        socket: SocketRef {
            core: core_cell,
            index,
        },
    })
}

impl TcpConnection<'_, '_> {
    /// Ready once the handshake is done, or with the error that ended it.
    fn poll_established(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut core = self.socket.core.borrow_mut();
        let core = &mut *core;
        let slot = &mut core.tcp[self.socket.index];
        observe(&mut core.sockets, slot, false);
        if let Some(ending) = slot.ending.get() {
            return Poll::Ready(Err(ending.error()));
        }
        let socket = socket(&mut core.sockets, slot);
        match socket.state() {
            State::SynSent | State::SynReceived => {
                socket.register_send_waker(cx.waker());
                Poll::Pending
            }
            _ => {
                slot.local = socket.local_endpoint().map(crate::addr::socket_addr).into();
                slot.remote = socket
                    .remote_endpoint()
                    .map(crate::addr::socket_addr)
                    .into();
                Poll::Ready(Ok(()))
            }
        }
    }
}

/// A TCP listener of a smoltcp [`Stack`]: a group of sockets listening on one
/// port. Dropping it frees the port at once and resets connections that were
/// not accepted.
pub struct TcpListener<'s, 'a> {
    core: &'s RefCell<Core<'a>>,
    id: u32,
    endpoint: IpListenEndpoint,
    backlog: usize,
}

impl fmt::Debug for TcpListener<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("port", &self.endpoint.port)
            .field("backlog", &self.backlog)
            .finish()
    }
}

impl<'a, D, C: portnet::Clock> portnet::TcpListen for Stack<'a, D, C> {
    type Connection<'s>
        = TcpConnection<'s, 'a>
    where
        Self: 's;
    type Listener<'s>
        = TcpListener<'s, 'a>
    where
        Self: 's;

    /// Listens on `local` with `options.backlog`, or the configured
    /// [`Config::listen_backlog`](crate::Config) when it is `None`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it completes at its first poll.
    fn listen_with(
        &self,
        local: SocketAddr,
        options: portnet::ListenOptions,
    ) -> impl Future<Output = Result<TcpListener<'_, 'a>, Error>> {
        let backlog = options
            .backlog
            .unwrap_or_else(|| self.core.borrow().config.listen_backlog);
        core::future::ready(self.listen_with_backlog(local, backlog))
    }
}

impl<'a, D, C> Stack<'a, D, C> {
    /// Listens on `local` with `backlog` sockets ready for connections that
    /// arrive before `accept` is called (at least 1).
    ///
    /// # Errors
    ///
    /// `AddrNotAvailable` for an address that is not the interface's,
    /// `AddrInUse` for a port another listener has, `NoSocket` when the pool has
    /// no free socket.
    pub fn listen_with_backlog(
        &self,
        local: SocketAddr,
        backlog: usize,
    ) -> Result<TcpListener<'_, 'a>, Error> {
        let mut core = self.core.borrow_mut();
        let core = &mut *core;
        if !local.ip().is_unspecified() && !core.has_ip(local.ip()) {
            return Err(Error::AddrNotAvailable);
        }
        let port = match local.port() {
            0 => core.ephemeral_port(|core, port| port_in_use(core, port, false))?,
            port if port_in_use(core, port, true) => return Err(Error::AddrInUse),
            port => port,
        };
        let id = core.next_listener;
        core.next_listener = core.next_listener.wrapping_add(1);
        let listener = TcpListener {
            core: &self.core,
            id,
            endpoint: listen_endpoint(SocketAddr::new(local.ip(), port)),
            backlog: backlog.max(1),
        };
        for _ in 0..listener.backlog {
            match listener.add_socket(core) {
                Ok(()) => {}
                Err(Error::NoSocket) if listener.held(core) > 0 => break,
                Err(e) => return Err(e),
            }
        }
        Ok(listener)
    }
}

impl<'s, 'a> TcpListener<'s, 'a> {
    /// Sockets this listener holds (listening, or connected and not accepted).
    fn held(&self, core: &Core<'_>) -> usize {
        core.tcp
            .iter()
            .filter(|slot| slot.owner == Owner::Listener(self.id))
            .count()
    }

    /// Claims one more socket and listens on it.
    fn add_socket(&self, core: &mut Core<'a>) -> Result<(), Error> {
        let index = claim(core, Owner::Listener(self.id))?;
        let slot = &mut core.tcp[index];
        match socket(&mut core.sockets, slot).listen(self.endpoint) {
            Ok(()) => {
                slot.last_state = State::Listen;
                Ok(())
            }
            Err(_) => {
                slot.owner = Owner::Free;
                Err(Error::InvalidAddress)
            }
        }
    }

    /// Refills the backlog with listening sockets as far as the pool allows, so
    /// that a burst of SYNs after the pool freed finds as many sockets as the
    /// first one did (with one listening socket, all but one SYN of a burst
    /// would be refused); waits for the pool when it is empty.
    fn replenish(&self, core: &mut Core<'a>, cx: &mut Context<'_>) {
        for _ in 0..self.backlog {
            if self.held(core) >= self.backlog {
                return;
            }
            if self.add_socket(core).is_err() {
                core.pool_waiter = Some(cx.waker().clone());
                return;
            }
        }
    }

    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(TcpConnection<'s, 'a>, SocketAddr), Error>> {
        let mut core = self.core.borrow_mut();
        let core = &mut *core;
        let mut best: Option<(u64, usize)> = None;
        for index in 0..core.tcp.len() {
            let slot = &mut core.tcp[index];
            if slot.owner != Owner::Listener(self.id) {
                continue;
            }
            observe(&mut core.sockets, slot, false);
            match slot.last_state {
                State::Listen | State::SynReceived => {}
                State::Closed => {
                    // Reset before it was accepted: back to listening.
                    let socket = socket(&mut core.sockets, slot);
                    slot.claim(Owner::Listener(self.id));
                    if socket.listen(self.endpoint).is_ok() {
                        slot.last_state = State::Listen;
                    } else {
                        slot.owner = Owner::Free;
                    }
                }
                _ if best.is_none_or(|(arrival, _)| slot.arrival < arrival) => {
                    best = Some((slot.arrival, index));
                }
                _ => {}
            }
        }
        let result = match best {
            Some((_, index)) => {
                let slot = &mut core.tcp[index];
                slot.owner = Owner::Connection;
                let socket = socket(&mut core.sockets, slot);
                slot.local = socket.local_endpoint().map(crate::addr::socket_addr).into();
                slot.remote = socket
                    .remote_endpoint()
                    .map(crate::addr::socket_addr)
                    .into();
                let remote = slot
                    .remote
                    .get()
                    .unwrap_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0));
                Poll::Ready(Ok((
                    TcpConnection {
                        socket: SocketRef {
                            core: self.core,
                            index,
                        },
                    },
                    remote,
                )))
            }
            None => {
                for slot in core
                    .tcp
                    .iter()
                    .filter(|slot| slot.owner == Owner::Listener(self.id))
                {
                    socket(&mut core.sockets, slot).register_recv_waker(cx.waker());
                }
                Poll::Pending
            }
        };
        self.replenish(core, cx);
        if result.is_pending() && self.held(core) == 0 {
            core.pool_waiter = Some(cx.waker().clone());
        }
        result
    }
}

impl Drop for TcpListener<'_, '_> {
    fn drop(&mut self) {
        let Ok(mut core) = self.core.try_borrow_mut() else {
            return;
        };
        let core = &mut *core;
        for index in 0..core.tcp.len() {
            if core.tcp[index].owner != Owner::Listener(self.id) {
                continue;
            }
            let slot = &mut core.tcp[index];
            let socket = socket(&mut core.sockets, slot);
            if socket.state() == State::Listen {
                socket.close();
                slot.owner = Owner::Free;
            } else {
                // A connection nobody accepted: reset it.
                socket.abort();
                slot.ending = Unset::Some(Ending::Aborted);
                release(core, index);
            }
        }
        core.wake_pool_waiter();
        core.wake_runner();
    }
}

impl ErrorType for TcpListener<'_, '_> {
    type Error = Error;
}

/// A listener has no option of its own on this stack: each accepted connection
/// takes its options from the connection's own [`portnet::SocketOptions`].
impl portnet::SocketOptions for TcpListener<'_, '_> {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), Error> {
        Err(Error::Unsupported)
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, Error> {
        Err(Error::Unsupported)
    }
}

impl<'s, 'a> portnet::TcpListener for TcpListener<'s, 'a> {
    type Connection = TcpConnection<'s, 'a>;

    /// Waits for the next connection, in arrival order.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection that arrives stays with the listener.
    fn accept(&self) -> impl Future<Output = Result<(TcpConnection<'s, 'a>, SocketAddr), Error>> {
        poll_fn(|cx| self.poll_accept(cx))
    }

    fn local_addr(&self) -> Result<SocketAddr, Error> {
        let ip = match self.endpoint.addr {
            Some(addr) => crate::addr::from_smoltcp(addr),
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        Ok(SocketAddr::new(ip, self.endpoint.port))
    }
}

#[cfg(test)]
mod tests {
    use super::parse_segment;
    use core::net::{Ipv4Addr, SocketAddr};
    use smoltcp::phy::Medium;

    /// An IPv4 packet with a TCP header (FIN + ACK, seq 7, ack 9, no payload)
    /// from 10.0.0.2:1234 to 10.0.0.1:80; checksums are not checked by the parse.
    fn ipv4_tcp_fin() -> [u8; 40] {
        let mut p = [0u8; 40];
        p[0] = 0x45; // IPv4, 5-word header
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        p[8] = 64; // TTL
        p[9] = 6; // TCP
        p[12..16].copy_from_slice(&[10, 0, 0, 2]);
        p[16..20].copy_from_slice(&[10, 0, 0, 1]);
        let t = &mut p[20..];
        t[0..2].copy_from_slice(&1234u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[4..8].copy_from_slice(&7u32.to_be_bytes());
        t[8..12].copy_from_slice(&9u32.to_be_bytes());
        t[12] = 5 << 4; // 5-word header
        t[13] = 0x11; // FIN + ACK
        p
    }

    fn check(frame: &[u8], medium: Medium) {
        let segment = parse_segment(frame, medium).expect("a TCP segment");
        assert_eq!(
            segment.src,
            SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 1234))
        );
        assert_eq!(
            segment.dst,
            SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80))
        );
        assert!(segment.fin && segment.ack && !segment.syn && !segment.rst);
        assert_eq!((segment.seq, segment.ack_number), (7, 9));
        assert_eq!(segment.payload_len, 0);
    }

    #[test]
    fn segments_are_found_in_ethernet_frames() {
        let mut frame = [0u8; 54];
        frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        frame[14..].copy_from_slice(&ipv4_tcp_fin());
        check(&frame, Medium::Ethernet);
        // Without the Ethernet header it is no Ethernet frame of IPv4.
        assert!(parse_segment(&ipv4_tcp_fin(), Medium::Ethernet).is_none());
    }

    #[cfg(feature = "medium-ip")]
    #[test]
    fn segments_are_found_in_bare_ip_packets_on_a_medium_ip_link() {
        check(&ipv4_tcp_fin(), Medium::Ip);
        assert!(parse_segment(&[], Medium::Ip).is_none());
        assert!(parse_segment(&[0x15; 40], Medium::Ip).is_none());
    }
}
