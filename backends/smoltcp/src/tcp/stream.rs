//! Connections: stream I/O, split halves, options, and `connect`.

use core::cell::RefCell;
use core::fmt;
use core::future::{Future, poll_fn};
use core::net::SocketAddr;
use core::pin::Pin;
use core::task::{Context, Poll};

use portnet::{ErrorType, SocketOption, SocketOptionName};
use smoltcp::socket::tcp::{self, State};

use super::pool::{
    Ending, Owner, claim, closing_in_background, observe, port_in_use, release, socket,
};
use crate::stack::{Core, Stack};
use crate::zeroed::Unset;
use crate::{Error, time};

/// A socket of the pool as seen by a connection or one of its halves.
#[derive(Clone, Copy)]
pub(super) struct SocketRef<'s, 'a> {
    pub(super) core: &'s RefCell<Core<'a>>,
    pub(super) index: usize,
}

impl SocketRef<'_, '_> {
    fn poll_read(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Result<usize, Error>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut core = self.core.borrow_mut();
        let core = &mut *core;
        let slot = &mut core.tcp.slots[self.index];
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
        let slot = &mut core.tcp.slots[self.index];
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
        let slot = &mut core.tcp.slots[self.index];
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
    pub(super) socket: SocketRef<'s, 'a>,
}

impl fmt::Debug for TcpConnection<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let core = self.socket.core.try_borrow();
        let slot = core
            .as_ref()
            .ok()
            .map(|core| &core.tcp.slots[self.socket.index]);
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
        self.socket.core.borrow().tcp.slots[self.socket.index]
            .local
            .get()
            .ok_or(Error::NotConnected)
    }

    fn peer_addr(&self) -> Result<SocketAddr, Error> {
        self.socket.core.borrow().tcp.slots[self.socket.index]
            .remote
            .get()
            .ok_or(Error::NotConnected)
    }

    fn abort(self) {
        {
            let mut core = self.socket.core.borrow_mut();
            let core = &mut *core;
            let slot = &mut core.tcp.slots[self.socket.index];
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
        let socket = socket(&mut core.sockets, &core.tcp.slots[self.socket.index]);
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
        let socket = socket(&mut core.sockets, &core.tcp.slots[self.socket.index]);
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

    /// Connects to `remote`. When every socket is taken and some are still
    /// closing connections the application dropped, waits for one of those
    /// (until the peer acknowledges its FIN, at most `Config::linger`) instead
    /// of failing; `NoSocket` when every socket is held.
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
            let connection = match started {
                Err(Error::NoSocket) => {
                    poll_fn(|cx| match start_connect(&self.core, remote) {
                        Err(Error::NoSocket) => {
                            let mut core = self.core.borrow_mut();
                            if !closing_in_background(&core) {
                                return Poll::Ready(Err(Error::NoSocket));
                            }
                            core.tcp.pool_waiters.register(cx.waker());
                            Poll::Pending
                        }
                        other => Poll::Ready(other),
                    })
                    .await?
                }
                other => other?,
            };
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
    let slot = &mut tcp.slots[index];
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
        let slot = &mut core.tcp.slots[self.socket.index];
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
