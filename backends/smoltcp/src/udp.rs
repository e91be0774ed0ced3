//! UDP: a fixed pool of sockets.

use crate::zeroed::Unset;
use core::cell::RefCell;
use core::fmt;
use core::future::Future;
use core::net::SocketAddr;
use core::task::{Context, Poll};

use portnet::{ErrorType, SocketOption, SocketOptionName};
use smoltcp::iface::{SocketHandle, SocketSet};
use smoltcp::socket::udp::{self, PacketMetadata};
use smoltcp::wire::IpListenEndpoint;

use crate::stack::{Core, Stack};
use crate::{Error, time};

/// The UDP sockets of a stack: `N` sockets, each with `BUF` bytes for up to
/// `PACKETS` datagrams each way. RAM: `N * 2 * (BUF + PACKETS * 32)` bytes,
/// about.
pub struct UdpPool<const N: usize, const BUF: usize, const PACKETS: usize = 4> {
    rx_meta: [[PacketMetadata; PACKETS]; N],
    rx: [[u8; BUF]; N],
    tx_meta: [[PacketMetadata; PACKETS]; N],
    tx: [[u8; BUF]; N],
    slots: [UdpSlot; N],
}

impl<const N: usize, const BUF: usize, const PACKETS: usize> fmt::Debug
    for UdpPool<N, BUF, PACKETS>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpPool")
            .field("sockets", &N)
            .field("buffer", &BUF)
            .field("packets", &PACKETS)
            .finish()
    }
}

impl<const N: usize, const BUF: usize, const PACKETS: usize> Default for UdpPool<N, BUF, PACKETS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const BUF: usize, const PACKETS: usize> UdpPool<N, BUF, PACKETS> {
    /// A pool of unused sockets.
    pub const fn new() -> Self {
        Self {
            rx_meta: [[PacketMetadata::EMPTY; PACKETS]; N],
            rx: [[0; BUF]; N],
            tx_meta: [[PacketMetadata::EMPTY; PACKETS]; N],
            tx: [[0; BUF]; N],
            slots: [UdpSlot::EMPTY; N],
        }
    }

    /// Puts every socket of the pool into `set`; returns the slots.
    pub(crate) fn install<'a>(&'a mut self, set: &mut SocketSet<'a>) -> &'a mut [UdpSlot] {
        let Self {
            rx_meta,
            rx,
            tx_meta,
            tx,
            slots,
        } = self;
        let buffers = rx_meta
            .iter_mut()
            .zip(rx.iter_mut())
            .zip(tx_meta.iter_mut().zip(tx.iter_mut()));
        for (((rx_meta, rx), (tx_meta, tx)), slot) in buffers.zip(slots.iter_mut()) {
            let socket = udp::Socket::new(
                udp::PacketBuffer::new(&mut rx_meta[..], &mut rx[..]),
                udp::PacketBuffer::new(&mut tx_meta[..], &mut tx[..]),
            );
            *slot = UdpSlot {
                handle: Some(set.add(socket)),
                ..UdpSlot::EMPTY
            };
        }
        slots
    }
}

impl<'a> crate::Sockets<'a> {
    /// Adds the UDP pool: `N` sockets with `BUF` bytes for up to `PACKETS`
    /// datagrams each way. A stack has at most one UDP pool.
    pub fn udp<const N: usize, const BUF: usize, const PACKETS: usize>(
        mut self,
        pool: &'a mut UdpPool<N, BUF, PACKETS>,
    ) -> Result<Self, Error> {
        if !self.udp.is_empty() {
            return Err(Error::InvalidConfig);
        }
        self.reserve(N)?;
        self.udp = pool.install(&mut self.set);
        Ok(self)
    }
}

/// Who holds a UDP socket of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Free,
    Socket,
    /// Dropped with datagrams still to send: closed once they are out, or at
    /// the deadline.
    Released {
        deadline: smoltcp::time::Instant,
    },
}

/// The stack's record of one UDP socket of the pool.
#[derive(Debug)]
pub struct UdpSlot {
    handle: Option<SocketHandle>,
    owner: Owner,
    /// The connected peer: datagrams from anyone else are dropped.
    peer: Unset<SocketAddr>,
}

impl UdpSlot {
    const EMPTY: Self = Self {
        handle: None,
        owner: Owner::Free,
        peer: Unset::None,
    };

    pub(crate) fn in_use(&self) -> bool {
        self.handle.is_some() && self.owner != Owner::Free
    }
}

fn socket<'s, 'a>(set: &'s mut SocketSet<'a>, slot: &UdpSlot) -> &'s mut udp::Socket<'a> {
    set.get_mut::<udp::Socket<'a>>(slot.handle.expect("installed slot"))
}

/// Closes released sockets whose datagrams are out; returns the next deadline.
pub(crate) fn reclaim(core: &mut Core<'_>) -> Option<portnet::Instant> {
    let mut next: Option<smoltcp::time::Instant> = None;
    for slot in core.udp.iter_mut() {
        let Owner::Released { deadline } = slot.owner else {
            continue;
        };
        let socket = socket(&mut core.sockets, slot);
        if socket.send_queue() == 0 || core.now >= deadline {
            socket.close();
            slot.owner = Owner::Free;
        } else {
            next = Some(next.map_or(deadline, |n| n.min(deadline)));
        }
    }
    next.map(time::from_smoltcp)
}

fn port_in_use(core: &Core<'_>, port: u16) -> bool {
    core.udp.iter().any(|slot| {
        slot.owner == Owner::Socket
            && slot
                .handle
                .is_some_and(|h| core.sockets.get::<udp::Socket<'_>>(h).endpoint().port == port)
    })
}

/// A UDP socket of a smoltcp [`Stack`]. Dropping it closes it once the
/// datagrams it accepted have been sent.
pub struct UdpSocket<'s, 'a> {
    core: &'s RefCell<Core<'a>>,
    index: usize,
    local: SocketAddr,
}

impl fmt::Debug for UdpSocket<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("slot", &self.index)
            .field("local", &self.local)
            .finish()
    }
}

impl Drop for UdpSocket<'_, '_> {
    fn drop(&mut self) {
        let Ok(mut core) = self.core.try_borrow_mut() else {
            return;
        };
        let core = &mut *core;
        let linger = time::duration_to_smoltcp(core.config.linger);
        let deadline = core.now + linger;
        let slot = &mut core.udp[self.index];
        slot.owner = Owner::Released { deadline };
        slot.peer = Unset::None;
        core.wake_runner();
    }
}

impl ErrorType for UdpSocket<'_, '_> {
    type Error = Error;
}

impl<'a, D, C: portnet::Clock> portnet::UdpBind for Stack<'a, D, C> {
    type Socket<'s>
        = UdpSocket<'s, 'a>
    where
        Self: 's;

    /// Binds a UDP socket to `local` (port 0: an ephemeral port).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it completes at its first poll.
    fn bind(&self, local: SocketAddr) -> impl Future<Output = Result<UdpSocket<'_, 'a>, Error>> {
        core::future::ready(bind(&self.core, local))
    }
}

fn bind<'s, 'a>(
    core_cell: &'s RefCell<Core<'a>>,
    local: SocketAddr,
) -> Result<UdpSocket<'s, 'a>, Error> {
    let mut core = core_cell.borrow_mut();
    let core = &mut *core;
    if !local.ip().is_unspecified() && !core.has_ip(local.ip()) {
        return Err(Error::AddrNotAvailable);
    }
    let port = match local.port() {
        0 => core.ephemeral_port(port_in_use)?,
        port if port_in_use(core, port) => return Err(Error::AddrInUse),
        port => port,
    };
    let endpoint = IpListenEndpoint {
        addr: if local.ip().is_unspecified() {
            None
        } else {
            crate::addr::to_smoltcp(local.ip())
        },
        port,
    };
    // A dropped socket on this port still sending its last datagrams: the new
    // socket takes it over (keeping those datagrams) if it is bound the same
    // way, else it ends now.
    let mut taken_over = None;
    for (index, slot) in core.udp.iter_mut().enumerate() {
        if !matches!(slot.owner, Owner::Released { .. }) {
            continue;
        }
        let socket = socket(&mut core.sockets, slot);
        if socket.endpoint() == endpoint && taken_over.is_none() {
            while socket.recv().is_ok() {}
            taken_over = Some(index);
        } else if socket.endpoint().port == port {
            socket.close();
            slot.owner = Owner::Free;
        }
    }
    let index = match taken_over {
        Some(index) => index,
        None => core
            .udp
            .iter()
            .position(|slot| slot.handle.is_some() && slot.owner == Owner::Free)
            .ok_or(Error::NoSocket)?,
    };
    let slot = &mut core.udp[index];
    let socket = socket(&mut core.sockets, slot);
    if taken_over.is_none() {
        socket.close();
        socket.bind(endpoint).map_err(|_| Error::InvalidAddress)?;
    }
    slot.owner = Owner::Socket;
    slot.peer = Unset::None;
    Ok(UdpSocket {
        core: core_cell,
        index,
        local: SocketAddr::new(local.ip(), port),
    })
}

impl portnet::UdpSocket for UdpSocket<'_, '_> {
    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        remote: SocketAddr,
    ) -> Poll<Result<(), Error>> {
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Poll::Ready(Err(Error::InvalidAddress));
        }
        let mut core = self.core.borrow_mut();
        let core = &mut *core;
        if !core.can_reach(remote.ip()) {
            return Poll::Ready(Err(Error::NoRoute));
        }
        let socket = socket(&mut core.sockets, &core.udp[self.index]);
        if buf.len() > socket.payload_send_capacity() {
            return Poll::Ready(Err(Error::DatagramTooLarge));
        }
        let Some(remote) = crate::addr::endpoint(remote) else {
            return Poll::Ready(Err(Error::InvalidAddress));
        };
        match socket.send_slice(buf, remote) {
            Ok(()) => {
                core.wake_runner();
                Poll::Ready(Ok(()))
            }
            Err(udp::SendError::BufferFull) => {
                socket.register_send_waker(cx.waker());
                core.wake_runner();
                Poll::Pending
            }
            Err(udp::SendError::Unaddressable) => Poll::Ready(Err(Error::NoRoute)),
        }
    }

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<(usize, SocketAddr), Error>> {
        let mut core = self.core.borrow_mut();
        let core = &mut *core;
        let peer = core.udp[self.index].peer.get();
        let socket = socket(&mut core.sockets, &core.udp[self.index]);
        // Bounded: each round takes one datagram out of a finite buffer.
        loop {
            let (len, from) = match socket.peek() {
                Ok((payload, meta)) => {
                    let copied = payload.len().min(buf.len());
                    buf[..copied].copy_from_slice(&payload[..copied]);
                    (payload.len(), crate::addr::socket_addr(meta.endpoint))
                }
                Err(_) => {
                    socket.register_recv_waker(cx.waker());
                    return Poll::Pending;
                }
            };
            let _ = socket.recv();
            if peer.is_none_or(|peer| peer == from) {
                return Poll::Ready(Ok((len, from)));
            }
        }
    }

    fn connect(&mut self, remote: SocketAddr) -> Result<(), Error> {
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(Error::InvalidAddress);
        }
        self.core.borrow_mut().udp[self.index].peer = Unset::Some(remote);
        Ok(())
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.core.borrow().udp[self.index].peer.get()
    }

    fn local_addr(&self) -> Result<SocketAddr, Error> {
        Ok(self.local)
    }
}

impl portnet::SocketOptions for UdpSocket<'_, '_> {
    fn set_option(&self, option: SocketOption) -> Result<(), Error> {
        let mut core = self.core.borrow_mut();
        let core = &mut *core;
        let socket = socket(&mut core.sockets, &core.udp[self.index]);
        match option {
            SocketOption::Ttl(0) => Err(Error::InvalidAddress),
            SocketOption::Ttl(ttl) => {
                socket.set_hop_limit(Some(ttl));
                Ok(())
            }
            _ => Err(Error::Unsupported),
        }
    }

    fn option(&self, name: SocketOptionName) -> Result<SocketOption, Error> {
        let mut core = self.core.borrow_mut();
        let core = &mut *core;
        let socket = socket(&mut core.sockets, &core.udp[self.index]);
        Ok(match name {
            SocketOptionName::Ttl => SocketOption::Ttl(socket.hop_limit().unwrap_or(64)),
            SocketOptionName::RecvBufferSize => {
                SocketOption::RecvBufferSize(socket.payload_recv_capacity())
            }
            SocketOptionName::SendBufferSize => {
                SocketOption::SendBufferSize(socket.payload_send_capacity())
            }
            _ => return Err(Error::Unsupported),
        })
    }
}
