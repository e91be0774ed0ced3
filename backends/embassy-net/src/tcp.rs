//! TCP: connections, their halves and listeners, over pooled `TcpSocket`s.

use core::cell::{Cell, RefCell};
use core::fmt;
use core::future::Future;
use core::net::SocketAddr;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};

use embassy_net::IpListenEndpoint;
use embassy_net::tcp::{State, TcpSocket};
use portnet::{ErrorKind, ErrorType};

use crate::pool::{EmbassyStack, Pools, TcpSlot, Use};
use crate::{Error, endpoint, listen_addr, listen_endpoint, poll_once, socket_addr};

/// Sockets a listener keeps in `accept` when [`portnet::ListenOptions::backlog`]
/// is `None`, as far as the pool has them.
pub const LISTEN_BACKLOG: usize = 4;

/// A TCP socket lent by the pool, given back when dropped.
struct Loan<'s, 'd> {
    pools: Pools<'s, 'd>,
    slot: &'s TcpSlot<'d>,
}

impl<'d> Loan<'_, 'd> {
    fn socket(&self) -> &RefCell<TcpSocket<'d>> {
        &self.slot.socket
    }
}

impl Drop for Loan<'_, '_> {
    fn drop(&mut self) {
        self.pools.give_back_tcp(self.slot);
    }
}

impl<const TCP: usize, const UDP: usize> ErrorType for EmbassyStack<'_, TCP, UDP> {
    type Error = Error;
}

impl<'d, const TCP: usize, const UDP: usize> portnet::TcpConnect for EmbassyStack<'d, TCP, UDP> {
    type Connection<'a>
        = EmbassyConnection<'a, 'd>
    where
        Self: 'a;

    /// Takes a socket from the pool (none free: [`Error::NoSocket`], kind
    /// `OutOfResources`) and runs `TcpSocket::connect`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future aborts the attempt and gives the socket back; it is
    /// free again once embassy-net has sent the reset (on the runner's next
    /// poll).
    #[allow(
        clippy::await_holding_refcell_ref,
        reason = "a lent socket is borrowed by its loan alone"
    )]
    async fn connect(&self, remote: SocketAddr) -> Result<EmbassyConnection<'_, 'd>, Error> {
        let remote = endpoint(remote)?;
        let pools = self.pools();
        let slot = pools.take_tcp().ok_or(Error::NoSocket)?;
        let loan = Loan { pools, slot };
        {
            // Nothing else borrows a lent socket: the pool and the listeners
            // look only at idle and accepting ones.
            let mut socket = loan.socket().borrow_mut();
            socket.connect(remote).await.map_err(Error::Connect)?;
        }
        Ok(EmbassyConnection { loan })
    }
}

/// A TCP connection of [`EmbassyStack`]: one pooled embassy-net `TcpSocket`,
/// lent until the connection is dropped.
///
/// Dropping it closes the socket (a FIN after the queued data), or resets it
/// when data it never read is left, as a kernel does; the socket lingers in
/// the pool until the connection has ended.
pub struct EmbassyConnection<'s, 'd> {
    loan: Loan<'s, 'd>,
}

impl fmt::Debug for EmbassyConnection<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyConnection").finish_non_exhaustive()
    }
}

/// One half of a split [`EmbassyConnection`]. Each half polls one direction,
/// so each keeps its own waker in the smoltcp socket (embassy-net keeps one
/// read and one write waker per socket).
pub struct EmbassyHalf<'c, 'd> {
    socket: &'c RefCell<TcpSocket<'d>>,
}

impl fmt::Debug for EmbassyHalf<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyHalf").finish_non_exhaustive()
    }
}

// Each poll polls a fresh embassy-net future once. Exact: those futures
// register the waker in the smoltcp socket and keep no state of their own.

fn poll_read(
    cell: &RefCell<TcpSocket<'_>>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<Result<usize, Error>> {
    poll_once(cell.borrow_mut().read(buf), cx).map_err(Error::Io)
}

fn poll_write(
    cell: &RefCell<TcpSocket<'_>>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<Result<usize, Error>> {
    poll_once(cell.borrow_mut().write(buf), cx).map_err(Error::Io)
}

fn poll_flush(cell: &RefCell<TcpSocket<'_>>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
    poll_once(cell.borrow_mut().flush(), cx).map_err(Error::Io)
}

/// `TcpSocket::close` (a FIN after the queued data; idempotent in smoltcp),
/// then `flush`, which waits until the data and the FIN are acknowledged.
fn poll_close(cell: &RefCell<TcpSocket<'_>>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
    let mut socket = cell.borrow_mut();
    socket.close();
    poll_once(socket.flush(), cx).map_err(Error::Io)
}

macro_rules! stream_io {
    ($type:ty, $this:ident => $cell:expr) => {
        impl ErrorType for $type {
            type Error = Error;
        }

        impl portnet::Read for $type {
            /// `TcpSocket::read`: `Ok(0)` at the end of the stream, kind
            /// `ConnectionReset` after a reset.
            fn poll_read(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<Result<usize, Error>> {
                let $this = &*self;
                poll_read($cell, cx, buf)
            }
        }

        impl portnet::Write for $type {
            /// `TcpSocket::write`. embassy-net waits for buffer space even for
            /// an empty `buf`, so a write of nothing stays `Pending` (see
            /// `docs/backends/embassy-net.md`).
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<Result<usize, Error>> {
                let $this = &*self;
                poll_write($cell, cx, buf)
            }

            /// `TcpSocket::flush`: until every queued byte is acknowledged.
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                let $this = &*self;
                poll_flush($cell, cx)
            }

            /// A FIN after the queued data (`TcpSocket::close`), then until the
            /// data and the FIN are acknowledged; reading goes on.
            fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
                let $this = &*self;
                poll_close($cell, cx)
            }
        }
    };
}

stream_io!(EmbassyConnection<'_, '_>, this => this.loan.socket());
stream_io!(EmbassyHalf<'_, '_>, this => this.socket);

impl<'d> portnet::TcpStream for EmbassyConnection<'_, 'd> {
    type ReadHalf<'a>
        = EmbassyHalf<'a, 'd>
    where
        Self: 'a;
    type WriteHalf<'a>
        = EmbassyHalf<'a, 'd>
    where
        Self: 'a;

    fn split(&mut self) -> (EmbassyHalf<'_, 'd>, EmbassyHalf<'_, 'd>) {
        let socket = self.loan.socket();
        (EmbassyHalf { socket }, EmbassyHalf { socket })
    }

    fn local_addr(&self) -> Result<SocketAddr, Error> {
        let local = self.loan.socket().borrow().local_endpoint();
        local.map(socket_addr).ok_or(Error::NotConnected)
    }

    fn peer_addr(&self) -> Result<SocketAddr, Error> {
        let remote = self.loan.socket().borrow().remote_endpoint();
        remote.map(socket_addr).ok_or(Error::NotConnected)
    }

    /// `TcpSocket::abort`: the reset goes out on the runner's next poll, from
    /// the socket lingering in the pool.
    fn abort(self) {
        self.loan.socket().borrow_mut().abort();
    }
}

impl<'d, const TCP: usize, const UDP: usize> portnet::TcpListen for EmbassyStack<'d, TCP, UDP> {
    type Connection<'a>
        = EmbassyConnection<'a, 'd>
    where
        Self: 'a;
    type Listener<'a>
        = EmbassyListener<'a, 'd>
    where
        Self: 'a;

    /// Puts `options.backlog` (default [`LISTEN_BACKLOG`]) pooled sockets into
    /// `TcpSocket::accept` on `local`, as many as the pool has free, at least
    /// one (none free: [`Error::NoSocket`], kind `OutOfResources`).
    ///
    /// embassy-net refuses to listen on port 0 (`AcceptError::InvalidPort`)
    /// and keeps its ephemeral port allocator private, so for port 0 the
    /// adapter picks a port of its own, from 50000 upwards, per stack.
    ///
    /// # Cancel safety
    ///
    /// Ready at once.
    fn listen_with(
        &self,
        local: SocketAddr,
        options: portnet::ListenOptions,
    ) -> impl Future<Output = Result<EmbassyListener<'_, 'd>, Error>> {
        let pools = self.pools();
        let result = listen_endpoint(local).and_then(|mut local| {
            if local.port == 0 {
                local.port = pools.shared.ephemeral_port();
            }
            let listener = EmbassyListener {
                pools,
                id: pools.shared.new_listener(),
                local,
                backlog: options.backlog.unwrap_or(LISTEN_BACKLOG).max(1),
                arrivals: Cell::new(0),
            };
            listener.replenish().map(|()| listener)
        });
        core::future::ready(result)
    }
}

/// A listener of [`EmbassyStack`]. embassy-net has none, so this is a set of
/// pooled sockets in `TcpSocket::accept` on one endpoint, put back into
/// `accept` as they are taken. Connections are accepted in the order the
/// listener first sees them established.
///
/// Dropping it resets the connections it has not accepted yet and gives their
/// sockets back.
pub struct EmbassyListener<'s, 'd> {
    pools: Pools<'s, 'd>,
    /// Marks this listener's sockets in the pool.
    id: u32,
    local: IpListenEndpoint,
    /// How many sockets wait in `accept`.
    backlog: usize,
    arrivals: Cell<u64>,
}

impl fmt::Debug for EmbassyListener<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbassyListener")
            .field("local", &self.local)
            .field("accepting", &self.accepting().count())
            .finish()
    }
}

/// Starts `socket` listening on `local`: the first poll of `accept` does that
/// and returns `Pending`, or fails.
fn arm(socket: &mut TcpSocket<'_>, local: IpListenEndpoint) -> Result<(), Error> {
    match poll_once(
        socket.accept(local),
        &mut Context::from_waker(Waker::noop()),
    ) {
        Poll::Ready(Err(e)) => Err(Error::Accept(e)),
        _ => Ok(()),
    }
}

impl<'s, 'd> EmbassyListener<'s, 'd> {
    /// This listener's sockets, with their arrival (0: none yet).
    fn accepting(&self) -> impl Iterator<Item = (&'s TcpSlot<'d>, u64)> + use<'s, 'd, '_> {
        self.pools
            .tcp
            .iter()
            .filter_map(|slot| match slot.state.get() {
                Use::Accepting { listener, arrival } if listener == self.id => {
                    Some((slot, arrival))
                }
                _ => None,
            })
    }

    /// Tops the accepting sockets up to the backlog, as far as the pool allows;
    /// fails only when none is left listening.
    fn replenish(&self) -> Result<(), Error> {
        let mut count = self.accepting().count();
        while count < self.backlog {
            let Some(slot) = self.pools.take_tcp() else {
                break;
            };
            let armed = arm(&mut slot.socket.borrow_mut(), self.local);
            if let Err(e) = armed {
                self.pools.give_back_tcp(slot);
                return Err(e);
            }
            slot.state.set(Use::Accepting {
                listener: self.id,
                arrival: 0,
            });
            count += 1;
        }
        if count == 0 {
            return Err(Error::NoSocket);
        }
        Ok(())
    }

    fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(EmbassyConnection<'s, 'd>, SocketAddr), Error>> {
        self.replenish()?;
        let mut best: Option<(u64, &'s TcpSlot<'d>)> = None;
        for (slot, mut arrival) in self.accepting() {
            let mut socket = slot.socket.borrow_mut();
            match socket.state() {
                State::Listen | State::SynReceived => {
                    // Not established, so it cannot send: this registers `cx`'s
                    // waker for the socket's next change of state.
                    let _ = poll_once(socket.wait_write_ready(), cx);
                }
                State::Closed | State::TimeWait => {
                    // Ended before it was accepted: listen again.
                    arrival = 0;
                    arm(&mut socket, self.local)?;
                    let _ = poll_once(socket.wait_write_ready(), cx);
                }
                _ => {
                    if arrival == 0 {
                        arrival = self.arrivals.get() + 1;
                        self.arrivals.set(arrival);
                    }
                    if best.is_none_or(|(first, _)| arrival < first) {
                        best = Some((arrival, slot));
                    }
                }
            }
            slot.state.set(Use::Accepting {
                listener: self.id,
                arrival,
            });
        }
        let Some((_, slot)) = best else {
            return Poll::Pending;
        };
        slot.state.set(Use::Lent);
        let connection = EmbassyConnection {
            loan: Loan {
                pools: self.pools,
                slot,
            },
        };
        let remote = slot.socket.borrow().remote_endpoint().map(socket_addr);
        // Keep the backlog listening; a full pool is the next accept's error.
        let _ = self.replenish();
        Poll::Ready(
            remote
                .map(|remote| (connection, remote))
                .ok_or(Error::NotConnected),
        )
    }
}

impl Drop for EmbassyListener<'_, '_> {
    fn drop(&mut self) {
        for (slot, _) in self.accepting() {
            self.pools.give_back_tcp(slot);
        }
    }
}

impl ErrorType for EmbassyListener<'_, '_> {
    type Error = Error;
}

impl<'s, 'd> portnet::TcpListener for EmbassyListener<'s, 'd> {
    type Connection = EmbassyConnection<'s, 'd>;

    /// Waits until one of the accepting sockets has a connection; with several,
    /// takes the one this listener saw first. A full pool is
    /// [`Error::NoSocket`] (kind `OutOfResources`) once no socket is left
    /// listening.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection stays in its socket until an accept takes it.
    fn accept(
        &self,
    ) -> impl Future<Output = Result<(EmbassyConnection<'s, 'd>, SocketAddr), Error>> {
        core::future::poll_fn(move |cx| self.poll_accept(cx))
    }

    fn local_addr(&self) -> Result<SocketAddr, Error> {
        Ok(listen_addr(self.local))
    }
}

/// The adapter maps no option onto embassy-net's: every one is `Unsupported`.
impl portnet::SocketOptions for EmbassyConnection<'_, '_> {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), Error> {
        Err(Error::Kind(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, Error> {
        Err(Error::Kind(ErrorKind::Unsupported))
    }
}

/// The adapter maps no option onto embassy-net's: every one is `Unsupported`.
impl portnet::SocketOptions for EmbassyListener<'_, '_> {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), Error> {
        Err(Error::Kind(ErrorKind::Unsupported))
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, Error> {
        Err(Error::Kind(ErrorKind::Unsupported))
    }
}
