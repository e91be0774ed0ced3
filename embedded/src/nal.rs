//! portnet stacks as the blocking (`nb`) traits of embedded-nal 0.9.

use core::fmt;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use core::task::Poll;

use portnet::{
    ErrorKind, TcpConnect, TcpListen, TcpListener, UdpBind, UdpSocket, UdpSocketExt, WriteExt,
};

use crate::poll::poll_noop;
use crate::{BlockOn, EmbeddedError};

/// A portnet stack as embedded-nal 0.9's `TcpClientStack`, `TcpFullStack`,
/// `UdpClientStack` and `UdpFullStack`.
///
/// # The `nb` mapping
///
/// Socket I/O (`send`, `receive`, `send_to`) and `accept` poll the portnet
/// operation **once with a no-op waker**: `Pending` becomes `nb::WouldBlock`, and
/// the caller retries when it likes (that is what `nb` means; `nb::block!` retries
/// at once, in a busy loop). This is sound because portnet's poll methods are
/// re-callable and `accept` is cancel safe: a dropped pending accept loses no
/// connection. Nothing is ever woken: the stack must make progress on its own
/// (a reactor thread, interrupts, a multi-threaded runtime's I/O driver).
///
/// Steps that portnet exposes as futures which must run to completion — TCP
/// `connect`, `listen`, UDP `bind` and `connect`, and `close` (which sends the
/// FIN) — cannot be restarted from scratch on every `nb` call (a restarted TCP
/// connect would never finish), and the future cannot be kept between calls
/// without an allocator. They run to completion on the executor `B` you pass in
/// ([`BlockOn`]); `connect` therefore blocks rather than returning `WouldBlock`.
///
/// # Other limits
///
/// - TCP: the stack must offer both `TcpConnect` and `TcpListen` (one socket type
///   serves both traits); `bind` then `connect` (a chosen source port) is
///   `Unsupported`. `receive` returns `Ok(0)` at end of stream.
/// - `bind` takes only a port: the address is [`NbNal::with_bind_ip`]'s (IPv4
///   unspecified by default). `UdpClientStack::connect` binds an ephemeral port on
///   the unspecified address of the remote's family.
/// - UDP `receive` reports the datagram's **full** length, as portnet does, which
///   can exceed the buffer when the datagram was truncated.
pub struct NbNal<'s, S: ?Sized, B> {
    stack: &'s S,
    executor: B,
    bind_ip: IpAddr,
}

impl<'s, S: ?Sized, B> NbNal<'s, S, B> {
    /// Presents `stack` to embedded-nal code; blocking steps run on `executor`.
    pub fn new(stack: &'s S, executor: B) -> Self {
        Self {
            stack,
            executor,
            bind_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        }
    }

    /// Sets the local address `bind` uses with its port.
    pub fn with_bind_ip(mut self, ip: IpAddr) -> Self {
        self.bind_ip = ip;
        self
    }
}

impl<S: ?Sized, B> fmt::Debug for NbNal<'_, S, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NbNal")
            .field("bind_ip", &self.bind_ip)
            .finish_non_exhaustive()
    }
}

fn adapter<E>(kind: ErrorKind) -> nb::Error<EmbeddedError<E>> {
    nb::Error::Other(EmbeddedError::Adapter(kind))
}

fn nb_poll<T, E>(poll: Poll<Result<T, E>>) -> nb::Result<T, EmbeddedError<E>> {
    match poll {
        Poll::Pending => Err(nb::Error::WouldBlock),
        Poll::Ready(Ok(value)) => Ok(value),
        Poll::Ready(Err(e)) => Err(nb::Error::Other(EmbeddedError::Stack(e))),
    }
}

/// A TCP socket of [`NbNal`]: its state in embedded-nal's life cycle.
pub enum NbTcpSocket<'s, S: TcpConnect + TcpListen + ?Sized + 's> {
    /// Created by `socket`, not yet used.
    Fresh,
    /// Given a port by `bind`.
    Bound(u16),
    /// Listening.
    Listening(<S as TcpListen>::Listener<'s>),
    /// Connected by `connect`.
    Connected(<S as TcpConnect>::Connection<'s>),
    /// Returned by `accept`.
    Accepted(<S as TcpListen>::Connection<'s>),
}

impl<'s, S: TcpConnect + TcpListen + ?Sized + 's> fmt::Debug for NbTcpSocket<'s, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fresh => f.write_str("Fresh"),
            Self::Bound(port) => f.debug_tuple("Bound").field(port).finish(),
            Self::Listening(_) => f.write_str("Listening"),
            Self::Connected(_) => f.write_str("Connected"),
            Self::Accepted(_) => f.write_str("Accepted"),
        }
    }
}

/// Polls a write (then a flush, best effort) on whichever connection the socket holds.
fn nb_send<W: portnet::Write + Unpin>(
    conn: &mut W,
    buffer: &[u8],
) -> nb::Result<usize, EmbeddedError<W::Error>> {
    let written = nb_poll(poll_noop(conn.write(buffer)))?;
    // A stack with a user-space buffer sends on flush; a pending flush finishes
    // on a later send or on close.
    if let Poll::Ready(Err(e)) = poll_noop(conn.flush()) {
        return Err(nb::Error::Other(EmbeddedError::Stack(e)));
    }
    Ok(written)
}

fn nb_receive<R: portnet::Read + Unpin>(
    conn: &mut R,
    buffer: &mut [u8],
) -> nb::Result<usize, EmbeddedError<R::Error>> {
    use portnet::ReadExt as _;
    nb_poll(poll_noop(conn.read(buffer)))
}

impl<'s, S, B> embedded_nal::TcpClientStack for NbNal<'s, S, B>
where
    S: TcpConnect + TcpListen + ?Sized,
    B: BlockOn,
{
    type TcpSocket = NbTcpSocket<'s, S>;
    type Error = EmbeddedError<S::Error>;

    fn socket(&mut self) -> Result<Self::TcpSocket, Self::Error> {
        Ok(NbTcpSocket::Fresh)
    }

    /// Connects, blocking on the executor until the handshake is done (see
    /// [`NbNal`]); `Ok` at once for a socket that is already connected.
    fn connect(
        &mut self,
        socket: &mut Self::TcpSocket,
        remote: SocketAddr,
    ) -> nb::Result<(), Self::Error> {
        match socket {
            NbTcpSocket::Fresh => {
                let stack: &'s S = self.stack;
                let conn = self
                    .executor
                    .block_on(TcpConnect::connect(stack, remote))
                    .map_err(|e| nb::Error::Other(EmbeddedError::Stack(e)))?;
                *socket = NbTcpSocket::Connected(conn);
                Ok(())
            }
            NbTcpSocket::Connected(_) | NbTcpSocket::Accepted(_) => Ok(()),
            NbTcpSocket::Bound(_) => Err(adapter(ErrorKind::Unsupported)),
            NbTcpSocket::Listening(_) => Err(adapter(ErrorKind::InvalidInput)),
        }
    }

    fn send(
        &mut self,
        socket: &mut Self::TcpSocket,
        buffer: &[u8],
    ) -> nb::Result<usize, Self::Error> {
        match socket {
            NbTcpSocket::Connected(conn) => nb_send(conn, buffer),
            NbTcpSocket::Accepted(conn) => nb_send(conn, buffer),
            _ => Err(adapter(ErrorKind::NotConnected)),
        }
    }

    fn receive(
        &mut self,
        socket: &mut Self::TcpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<usize, Self::Error> {
        match socket {
            NbTcpSocket::Connected(conn) => nb_receive(conn, buffer),
            NbTcpSocket::Accepted(conn) => nb_receive(conn, buffer),
            _ => Err(adapter(ErrorKind::NotConnected)),
        }
    }

    /// Sends the FIN after all written data (blocking on the executor), then drops
    /// the socket. A listening or unused socket is just dropped.
    fn close(&mut self, socket: Self::TcpSocket) -> Result<(), Self::Error> {
        match socket {
            NbTcpSocket::Connected(mut conn) => self
                .executor
                .block_on(conn.close())
                .map_err(EmbeddedError::Stack),
            NbTcpSocket::Accepted(mut conn) => self
                .executor
                .block_on(conn.close())
                .map_err(EmbeddedError::Stack),
            NbTcpSocket::Fresh | NbTcpSocket::Bound(_) | NbTcpSocket::Listening(_) => Ok(()),
        }
    }
}

impl<'s, S, B> embedded_nal::TcpFullStack for NbNal<'s, S, B>
where
    S: TcpConnect + TcpListen + ?Sized,
    B: BlockOn,
{
    fn bind(&mut self, socket: &mut Self::TcpSocket, local_port: u16) -> Result<(), Self::Error> {
        match socket {
            NbTcpSocket::Fresh => {
                *socket = NbTcpSocket::Bound(local_port);
                Ok(())
            }
            _ => Err(EmbeddedError::Adapter(ErrorKind::InvalidInput)),
        }
    }

    /// Starts listening on the bound port (blocking on the executor while the
    /// stack sets up the listener).
    fn listen(&mut self, socket: &mut Self::TcpSocket) -> Result<(), Self::Error> {
        let NbTcpSocket::Bound(port) = *socket else {
            return Err(EmbeddedError::Adapter(ErrorKind::InvalidInput));
        };
        let stack: &'s S = self.stack;
        let local = SocketAddr::new(self.bind_ip, port);
        let listener = self
            .executor
            .block_on(TcpListen::listen(stack, local))
            .map_err(EmbeddedError::Stack)?;
        *socket = NbTcpSocket::Listening(listener);
        Ok(())
    }

    fn accept(
        &mut self,
        socket: &mut Self::TcpSocket,
    ) -> nb::Result<(Self::TcpSocket, SocketAddr), Self::Error> {
        let NbTcpSocket::Listening(listener) = socket else {
            return Err(adapter(ErrorKind::InvalidInput));
        };
        let (conn, remote) = nb_poll(poll_noop(listener.accept()))?;
        Ok((NbTcpSocket::Accepted(conn), remote))
    }
}

/// A UDP socket of [`NbNal`].
pub enum NbUdpSocket<'s, S: UdpBind + ?Sized + 's> {
    /// Created by `socket`, not yet bound.
    Fresh,
    /// Bound (by `bind`, or by `connect` to an ephemeral port).
    Open(S::Socket<'s>),
}

impl<'s, S: UdpBind + ?Sized + 's> fmt::Debug for NbUdpSocket<'s, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Fresh => f.write_str("Fresh"),
            Self::Open(socket) => f
                .debug_struct("Open")
                .field("peer", &socket.peer_addr())
                .finish_non_exhaustive(),
        }
    }
}

impl<'s, S, B> embedded_nal::UdpClientStack for NbNal<'s, S, B>
where
    S: UdpBind + ?Sized,
    B: BlockOn,
{
    type UdpSocket = NbUdpSocket<'s, S>;
    type Error = EmbeddedError<S::Error>;

    fn socket(&mut self) -> Result<Self::UdpSocket, Self::Error> {
        Ok(NbUdpSocket::Fresh)
    }

    /// Binds an ephemeral port (if the socket is not bound yet; blocking on the
    /// executor) and connects the socket to `remote`.
    fn connect(
        &mut self,
        socket: &mut Self::UdpSocket,
        remote: SocketAddr,
    ) -> Result<(), Self::Error> {
        if let NbUdpSocket::Fresh = socket {
            let any = match remote {
                SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            };
            let stack: &'s S = self.stack;
            let bound = self
                .executor
                .block_on(stack.bind(SocketAddr::new(any, 0)))
                .map_err(EmbeddedError::Stack)?;
            *socket = NbUdpSocket::Open(bound);
        }
        let NbUdpSocket::Open(open) = socket else {
            return Err(EmbeddedError::Adapter(ErrorKind::Other));
        };
        open.connect(remote).map_err(EmbeddedError::Stack)
    }

    fn send(&mut self, socket: &mut Self::UdpSocket, buffer: &[u8]) -> nb::Result<(), Self::Error> {
        let NbUdpSocket::Open(open) = socket else {
            return Err(adapter(ErrorKind::NotConnected));
        };
        let remote = open
            .peer_addr()
            .ok_or_else(|| adapter(ErrorKind::NotConnected))?;
        nb_poll(poll_noop(open.send_to(buffer, remote)))
    }

    fn receive(
        &mut self,
        socket: &mut Self::UdpSocket,
        buffer: &mut [u8],
    ) -> nb::Result<(usize, SocketAddr), Self::Error> {
        let NbUdpSocket::Open(open) = socket else {
            return Err(adapter(ErrorKind::NotConnected));
        };
        nb_poll(poll_noop(open.recv_from(buffer)))
    }

    fn close(&mut self, socket: Self::UdpSocket) -> Result<(), Self::Error> {
        drop(socket);
        Ok(())
    }
}

impl<'s, S, B> embedded_nal::UdpFullStack for NbNal<'s, S, B>
where
    S: UdpBind + ?Sized,
    B: BlockOn,
{
    /// Binds the socket to `local_port` on [`NbNal::with_bind_ip`]'s address,
    /// blocking on the executor while the stack binds.
    fn bind(&mut self, socket: &mut Self::UdpSocket, local_port: u16) -> Result<(), Self::Error> {
        if !matches!(socket, NbUdpSocket::Fresh) {
            return Err(EmbeddedError::Adapter(ErrorKind::InvalidInput));
        }
        let stack: &'s S = self.stack;
        let bound = self
            .executor
            .block_on(stack.bind(SocketAddr::new(self.bind_ip, local_port)))
            .map_err(EmbeddedError::Stack)?;
        *socket = NbUdpSocket::Open(bound);
        Ok(())
    }

    fn send_to(
        &mut self,
        socket: &mut Self::UdpSocket,
        remote: SocketAddr,
        buffer: &[u8],
    ) -> nb::Result<(), Self::Error> {
        let NbUdpSocket::Open(open) = socket else {
            return Err(adapter(ErrorKind::NotConnected));
        };
        nb_poll(poll_noop(open.send_to(buffer, remote)))
    }
}
