//! The resources a user places in a `static`, and the stack's fixed pools of
//! sockets built on them.
//!
//! embassy-net sockets borrow their buffers for as long as they live, and a
//! socket is tied to its buffers from creation. So the adapter creates every
//! socket once, in [`EmbassyStack::new`], and lends them out: a connection is a
//! loan of one slot, which is what lets connections borrow the stack shared, as
//! portnet's connections do. A slot never leaves its array; what moves is its
//! [`Use`], so a connection cannot outlive or lose its socket.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::task::{Context, Waker};

use embassy_net::tcp::{State, TcpSocket};
use embassy_net::udp::{PacketMetadata, UdpSocket};

use crate::poll_once;

/// The buffers of an [`EmbassyStack`]: `TCP` TCP sockets with `TCP_BUF` bytes
/// each way, `UDP` UDP sockets with `UDP_BUF` bytes and `UDP_PACKETS` datagrams
/// each way.
///
/// Place it in a `static` (for example a `static_cell::StaticCell`, as with
/// embassy-net's own `StackResources`) and hand it to [`EmbassyStack::new`],
/// which borrows it for as long as the stack lives. It is plain memory:
/// `TCP * 2 * TCP_BUF + UDP * 2 * (UDP_BUF + UDP_PACKETS * metadata)` bytes,
/// in `.bss`.
///
/// Every socket of the pool is also an entry in embassy-net's socket set, so
/// the `StackResources<N>` given to `embassy_net::new` must have room for
/// [`Resources::SOCKETS`] more sockets than embassy-net uses by itself (one for
/// DHCP, one for DNS when those features are on): smoltcp panics when a socket
/// is added to a full set, and embassy-net offers no way to ask first.
pub struct Resources<
    const TCP: usize,
    const UDP: usize,
    const TCP_BUF: usize = 4096,
    const UDP_BUF: usize = 1536,
    const UDP_PACKETS: usize = 4,
> {
    tcp: [TcpBuffers<TCP_BUF>; TCP],
    udp: [UdpBuffers<UDP_BUF, UDP_PACKETS>; UDP],
}

struct TcpBuffers<const N: usize> {
    rx: [u8; N],
    tx: [u8; N],
}

struct UdpBuffers<const N: usize, const P: usize> {
    rx_meta: [PacketMetadata; P],
    rx: [u8; N],
    tx_meta: [PacketMetadata; P],
    tx: [u8; N],
}

impl<
    const TCP: usize,
    const UDP: usize,
    const TCP_BUF: usize,
    const UDP_BUF: usize,
    const UDP_PACKETS: usize,
> Resources<TCP, UDP, TCP_BUF, UDP_BUF, UDP_PACKETS>
{
    /// How many entries of embassy-net's socket set the pool takes.
    pub const SOCKETS: usize = TCP + UDP;

    /// Zeroed buffers. A size that could never carry data is refused at
    /// compile time, where a pool of sockets that cannot move a byte would
    /// otherwise only show up as connections that hang:
    ///
    /// ```compile_fail
    /// // error: TCP_BUF must be at least 1 byte
    /// static POOL: portnet_embassy_net::Resources<1, 0, 0> = portnet_embassy_net::Resources::new();
    /// ```
    ///
    /// ```compile_fail
    /// // error: UDP_BUF and UDP_PACKETS must be at least 1
    /// static POOL: portnet_embassy_net::Resources<0, 1, 1024, 512, 0> =
    ///     portnet_embassy_net::Resources::new();
    /// ```
    ///
    /// ```
    /// // No TCP at all, or no UDP, is fine.
    /// static POOL: portnet_embassy_net::Resources<0, 2> = portnet_embassy_net::Resources::new();
    /// ```
    pub const fn new() -> Self {
        const {
            assert!(
                TCP == 0 || TCP_BUF > 0,
                "portnet-embassy-net: TCP_BUF must be at least 1 byte (a TCP socket with an empty buffer has a zero window)"
            );
            assert!(
                UDP == 0 || (UDP_BUF > 0 && UDP_PACKETS > 0),
                "portnet-embassy-net: UDP_BUF and UDP_PACKETS must be at least 1 (a UDP socket without them drops every datagram)"
            );
        }
        Self {
            tcp: [const {
                TcpBuffers {
                    rx: [0; TCP_BUF],
                    tx: [0; TCP_BUF],
                }
            }; TCP],
            udp: [const {
                UdpBuffers {
                    rx_meta: [PacketMetadata::EMPTY; UDP_PACKETS],
                    rx: [0; UDP_BUF],
                    tx_meta: [PacketMetadata::EMPTY; UDP_PACKETS],
                    tx: [0; UDP_BUF],
                }
            }; UDP],
        }
    }
}

impl<
    const TCP: usize,
    const UDP: usize,
    const TCP_BUF: usize,
    const UDP_BUF: usize,
    const UDP_PACKETS: usize,
> Default for Resources<TCP, UDP, TCP_BUF, UDP_BUF, UDP_PACKETS>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<
    const TCP: usize,
    const UDP: usize,
    const TCP_BUF: usize,
    const UDP_BUF: usize,
    const UDP_PACKETS: usize,
> fmt::Debug for Resources<TCP, UDP, TCP_BUF, UDP_BUF, UDP_PACKETS>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resources")
            .field("tcp", &TCP)
            .field("tcp_buf", &TCP_BUF)
            .field("udp", &UDP)
            .field("udp_buf", &UDP_BUF)
            .field("udp_packets", &UDP_PACKETS)
            .finish()
    }
}

/// What a pooled TCP socket is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Use {
    /// In the pool; it may still be ending the connection it last carried.
    Idle,
    /// Lent to a connection (or to a connect in progress).
    Lent,
    /// In `TcpSocket::accept` for the listener `listener`; `arrival` is the
    /// order in which that listener first saw its connection established (0:
    /// not yet).
    Accepting { listener: u32, arrival: u64 },
}

/// One TCP socket of the pool.
pub(crate) struct TcpSlot<'d> {
    pub(crate) socket: RefCell<TcpSocket<'d>>,
    pub(crate) state: Cell<Use>,
    /// When it was last given back: the pool lends the socket given back
    /// longest ago first, so a socket ending its connection has the longest
    /// time to finish before it is needed again.
    returned: Cell<u64>,
}

/// One UDP socket of the pool.
pub(crate) struct UdpSlot<'d> {
    pub(crate) socket: RefCell<UdpSocket<'d>>,
    lent: Cell<bool>,
    /// When it was last given back: the pool lends the socket given back last
    /// first (a closed UDP socket has nothing left to finish).
    returned: Cell<u64>,
    /// Datagrams its receive queue holds: the bound on one receive's search.
    pub(crate) packets: usize,
}

/// What the pools share: counters, and the stack's ephemeral ports.
pub(crate) struct Shared {
    clock: Cell<u64>,
    next_port: Cell<u16>,
    listeners: Cell<u32>,
}

/// Where a listener's port-0 ports start, inside the dynamic range (RFC 6335):
/// embassy-net refuses to listen on port 0 and keeps its own allocator private.
const EPHEMERAL_FIRST: u16 = 50_000;

impl Shared {
    fn tick(&self) -> u64 {
        let now = self.clock.get() + 1;
        self.clock.set(now);
        now
    }

    pub(crate) fn ephemeral_port(&self) -> u16 {
        let port = self.next_port.get();
        self.next_port.set(if port == u16::MAX {
            EPHEMERAL_FIRST
        } else {
            port + 1
        });
        port
    }

    pub(crate) fn new_listener(&self) -> u32 {
        let id = self.listeners.get().wrapping_add(1);
        self.listeners.set(id);
        id
    }
}

/// The pools seen from a connection or listener: no const generics, so their
/// types name only lifetimes.
#[derive(Clone, Copy)]
pub(crate) struct Pools<'s, 'd> {
    pub(crate) tcp: &'s [TcpSlot<'d>],
    pub(crate) udp: &'s [UdpSlot<'d>],
    pub(crate) shared: &'s Shared,
}

/// Whether a pooled TCP socket is free for a new use: closed, with no reset
/// still to send, or in TIME-WAIT (which smoltcp lets a new use end).
fn is_free(socket: &TcpSocket<'_>) -> bool {
    match socket.state() {
        State::Closed => socket.remote_endpoint().is_none(),
        State::TimeWait => true,
        _ => false,
    }
}

impl<'s, 'd> Pools<'s, 'd> {
    /// Lends a free TCP socket, the one given back longest ago first.
    pub(crate) fn take_tcp(self) -> Option<&'s TcpSlot<'d>> {
        for slot in self.tcp.iter().filter(|s| s.state.get() == Use::Idle) {
            let mut socket = slot.socket.borrow_mut();
            // Nobody reads a lingering socket any more: drop what arrives, so
            // that the peer can finish its side.
            if socket.state() != State::Closed && socket.recv_queue() > 0 {
                let _ = poll_once(
                    socket.read_with(|data| (data.len(), ())),
                    &mut Context::from_waker(Waker::noop()),
                );
            }
        }
        let slot = self
            .tcp
            .iter()
            .filter(|s| s.state.get() == Use::Idle && is_free(&s.socket.borrow()))
            .min_by_key(|s| s.returned.get())?;
        slot.state.set(Use::Lent);
        Some(slot)
    }

    /// Ends a TCP socket's use and gives it back: what a kernel does on
    /// `close`.
    pub(crate) fn give_back_tcp(self, slot: &TcpSlot<'d>) {
        {
            let mut socket = slot.socket.borrow_mut();
            match socket.state() {
                State::Closed | State::TimeWait => {}
                // Not connected yet, or listening: nothing to say to anyone.
                State::Listen | State::SynSent | State::SynReceived => socket.abort(),
                // Data nobody will read: reset, as a kernel does on close.
                _ if socket.recv_queue() > 0 => socket.abort(),
                // A FIN after whatever is still queued; the socket lingers in
                // the pool (not free) until the connection has ended.
                _ => socket.close(),
            }
        }
        slot.returned.set(self.shared.tick());
        slot.state.set(Use::Idle);
    }

    /// Lends the UDP socket given back last.
    pub(crate) fn take_udp(self) -> Option<&'s UdpSlot<'d>> {
        let slot = self
            .udp
            .iter()
            .filter(|s| !s.lent.get())
            .max_by_key(|s| s.returned.get())?;
        slot.lent.set(true);
        Some(slot)
    }

    pub(crate) fn give_back_udp(self, slot: &UdpSlot<'d>) {
        slot.socket.borrow_mut().close();
        slot.returned.set(self.shared.tick());
        slot.lent.set(false);
    }
}

/// An embassy-net stack as portnet's [`TcpConnect`](portnet::TcpConnect),
/// [`TcpListen`](portnet::TcpListen) and [`UdpBind`](portnet::UdpBind), with
/// `TCP` TCP and `UDP` UDP sockets.
///
/// See the [crate documentation](crate) for how to build one and what it does.
pub struct EmbassyStack<'d, const TCP: usize, const UDP: usize> {
    stack: embassy_net::Stack<'d>,
    tcp: [TcpSlot<'d>; TCP],
    udp: [UdpSlot<'d>; UDP],
    shared: Shared,
}

impl<const TCP: usize, const UDP: usize> fmt::Debug for EmbassyStack<'_, TCP, UDP> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let idle_tcp = self.tcp.iter().filter(|s| s.state.get() == Use::Idle);
        let idle_udp = self.udp.iter().filter(|s| !s.lent.get());
        f.debug_struct("EmbassyStack")
            .field("tcp", &TCP)
            .field("idle_tcp", &idle_tcp.count())
            .field("udp", &UDP)
            .field("idle_udp", &idle_udp.count())
            .finish()
    }
}

impl<'d, const TCP: usize, const UDP: usize> EmbassyStack<'d, TCP, UDP> {
    /// Wraps `stack` with a pool of `TCP` TCP and `UDP` UDP sockets made from
    /// `resources`, which it borrows for as long as it lives.
    ///
    /// # Panics
    ///
    /// When embassy-net's socket set (the `StackResources<N>` given to
    /// `embassy_net::new`) has fewer than [`Resources::SOCKETS`] free entries:
    /// smoltcp panics on adding a socket to a full set, and embassy-net has no
    /// way to ask how many are free. This is the only panic of the adapter; it
    /// happens at start-up, once, whatever the traffic.
    pub fn new<const TCP_BUF: usize, const UDP_BUF: usize, const UDP_PACKETS: usize>(
        stack: embassy_net::Stack<'d>,
        resources: &'d mut Resources<TCP, UDP, TCP_BUF, UDP_BUF, UDP_PACKETS>,
    ) -> Self {
        let mut order = 0;
        let mut next = || {
            order += 1;
            order
        };
        let tcp = resources.tcp.each_mut().map(|buffers| TcpSlot {
            socket: RefCell::new(TcpSocket::new(stack, &mut buffers.rx, &mut buffers.tx)),
            state: Cell::new(Use::Idle),
            returned: Cell::new(next()),
        });
        let udp = resources.udp.each_mut().map(|b| UdpSlot {
            socket: RefCell::new(UdpSocket::new(
                stack,
                &mut b.rx_meta,
                &mut b.rx,
                &mut b.tx_meta,
                &mut b.tx,
            )),
            lent: Cell::new(false),
            returned: Cell::new(next()),
            packets: UDP_PACKETS,
        });
        Self {
            stack,
            tcp,
            udp,
            shared: Shared {
                clock: Cell::new(next()),
                next_port: Cell::new(EPHEMERAL_FIRST),
                listeners: Cell::new(0),
            },
        }
    }

    /// The embassy-net stack, for what the adapter does not cover (its
    /// configuration, DNS, link state).
    pub fn stack(&self) -> embassy_net::Stack<'d> {
        self.stack
    }

    /// Sockets lent out, or given back but still ending their connection (a
    /// FIN or a reset not yet through; TIME-WAIT counts as free, since a new
    /// use may end it): the count a leak check wants.
    pub fn sockets_in_use(&self) -> usize {
        let free_tcp = self
            .tcp
            .iter()
            .filter(|s| s.state.get() == Use::Idle && is_free(&s.socket.borrow()))
            .count();
        let lent_udp = self.udp.iter().filter(|s| s.lent.get()).count();
        (TCP - free_tcp) + lent_udp
    }

    pub(crate) fn pools(&self) -> Pools<'_, 'd> {
        Pools {
            tcp: &self.tcp,
            udp: &self.udp,
            shared: &self.shared,
        }
    }
}
