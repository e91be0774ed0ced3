//! Listeners: a group of sockets listening on one port, the backlog, and
//! `accept`.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::Pin;
use core::task::{Context, Poll};

use portnet::ErrorType;
use smoltcp::socket::tcp::State;
use smoltcp::wire::IpListenEndpoint;

use super::pool::{Ending, Owner, claim, listen_endpoint, observe, port_in_use, release, socket};
use super::stream::{SocketRef, TcpConnection};
use crate::Error;
use crate::stack::{Core, Stack};
use crate::zeroed::Unset;

/// A TCP listener of a smoltcp [`Stack`]: a group of sockets listening on one
/// port. Dropping it frees the port at once and resets connections that were
/// not accepted.
pub struct TcpListener<'s, 'a> {
    core: &'s RefCell<Core<'a>>,
    id: u32,
    endpoint: IpListenEndpoint,
    backlog: usize,
    /// `accept` futures pending now: each gets a listening socket of its own
    /// next to the backlog, so a burst finds `backlog + waiting` of them.
    waiting: Cell<usize>,
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
        let id = core.tcp.next_listener;
        core.tcp.next_listener = core.tcp.next_listener.wrapping_add(1);
        let listener = TcpListener {
            core: &self.core,
            id,
            endpoint: listen_endpoint(SocketAddr::new(local.ip(), port)),
            backlog: backlog.max(1),
            waiting: Cell::new(0),
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
            .slots
            .iter()
            .filter(|slot| slot.owner == Owner::Listener(self.id))
            .count()
    }

    /// Claims one more socket and listens on it.
    fn add_socket(&self, core: &mut Core<'a>) -> Result<(), Error> {
        let index = claim(core, Owner::Listener(self.id))?;
        let slot = &mut core.tcp.slots[index];
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

    /// How many sockets the listener wants: the backlog, plus one for each
    /// pending `accept`.
    fn target(&self) -> usize {
        self.backlog + self.waiting.get()
    }

    /// Refills the backlog with listening sockets as far as the pool allows, so
    /// that a burst of SYNs after the pool freed finds as many sockets as the
    /// first one did (with one listening socket, all but one SYN of a burst
    /// would be refused); waits for the pool when it is empty.
    fn replenish(&self, core: &mut Core<'a>, cx: &mut Context<'_>, target: usize) {
        for _ in 0..target {
            if self.held(core) >= target {
                return;
            }
            if self.add_socket(core).is_err() {
                core.tcp.pool_waiters.register(cx.waker());
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
        for index in 0..core.tcp.slots.len() {
            let slot = &mut core.tcp.slots[index];
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
                let slot = &mut core.tcp.slots[index];
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
            None => Poll::Pending,
        };
        // An accept that returns now needs no socket of its own any more: once
        // no accept is pending, the listener holds just its backlog.
        let target = self.target() - usize::from(result.is_ready() && self.waiting.get() > 0);
        self.replenish(core, cx, target);
        if result.is_pending() {
            // Not the sockets' own wakers: each keeps one, and accepts pending in
            // several tasks would overwrite each other's.
            core.tcp.accept_waiters.register(cx.waker());
            if self.held(core) == 0 {
                core.tcp.pool_waiters.register(cx.waker());
            }
        }
        result
    }
}

/// A pending [`TcpListener`] accept, counted in the listener's `waiting`.
struct Accept<'l, 's, 'a> {
    listener: &'l TcpListener<'s, 'a>,
    counted: bool,
}

impl<'s, 'a> Future for Accept<'_, 's, 'a> {
    type Output = Result<(TcpConnection<'s, 'a>, SocketAddr), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let listener = self.listener;
        if !self.counted {
            self.counted = true;
            listener.waiting.set(listener.waiting.get() + 1);
        }
        let result = listener.poll_accept(cx);
        if result.is_ready() {
            self.counted = false;
            listener.waiting.set(listener.waiting.get() - 1);
        }
        result
    }
}

impl Drop for Accept<'_, '_, '_> {
    fn drop(&mut self) {
        if !self.counted {
            return;
        }
        let listener = self.listener;
        listener.waiting.set(listener.waiting.get() - 1);
        // A cancelled accept gives back the listening socket it had beyond the
        // backlog, unless a connection already arrived on it.
        let Ok(mut core) = listener.core.try_borrow_mut() else {
            return;
        };
        let core = &mut *core;
        let mut surplus = listener.held(core).saturating_sub(listener.target());
        for index in 0..core.tcp.slots.len() {
            if surplus == 0 {
                break;
            }
            let slot = &mut core.tcp.slots[index];
            if slot.owner != Owner::Listener(listener.id) || slot.last_state != State::Listen {
                continue;
            }
            let socket = socket(&mut core.sockets, slot);
            if socket.state() == State::Listen {
                socket.close();
                slot.owner = Owner::Free;
                surplus -= 1;
            }
        }
        core.tcp.pool_waiters.wake_all();
    }
}

impl Drop for TcpListener<'_, '_> {
    fn drop(&mut self) {
        let Ok(mut core) = self.core.try_borrow_mut() else {
            return;
        };
        let core = &mut *core;
        for index in 0..core.tcp.slots.len() {
            if core.tcp.slots[index].owner != Owner::Listener(self.id) {
                continue;
            }
            let slot = &mut core.tcp.slots[index];
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
        core.tcp.pool_waiters.wake_all();
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

    /// Waits for the next connection, in arrival order. Several `accept`s may
    /// be pending at once, in several tasks: each gets a connection of its own,
    /// and each has a listening socket of its own next to the backlog while it
    /// waits, as far as the pool allows.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection that arrives stays with the listener.
    fn accept(&self) -> impl Future<Output = Result<(TcpConnection<'s, 'a>, SocketAddr), Error>> {
        Accept {
            listener: self,
            counted: false,
        }
    }

    fn local_addr(&self) -> Result<SocketAddr, Error> {
        let ip = match self.endpoint.addr {
            Some(addr) => crate::addr::from_smoltcp(addr),
            None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        };
        Ok(SocketAddr::new(ip, self.endpoint.port))
    }
}
