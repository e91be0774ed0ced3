//! The std implementation: rustls' sans-io `ClientConnection`, driven by polling
//! the wrapped portnet stream.

extern crate std;

use alloc::sync::Arc;
use core::future::poll_fn;
use core::net::SocketAddr;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::io;
use std::sync::{Mutex, PoisonError};

use portnet::{
    ErrorType, Read, SocketOption, SocketOptionName, SocketOptions, TcpConnect, TcpStream, Write,
};
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig, ClientConnection, RootCertStore};

use crate::{Error, TlsError, TlsKind};

/// Sorts a rustls error into a [`TlsKind`].
pub(crate) fn classify(error: &rustls::Error) -> TlsKind {
    use rustls::AlertDescription as A;
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                TlsKind::CertificateNotTrusted
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                TlsKind::HostnameMismatch
            }
            _ => TlsKind::CertificateInvalid,
        },
        rustls::Error::NoCertificatesPresented | rustls::Error::InvalidCertRevocationList(_) => {
            TlsKind::CertificateInvalid
        }
        rustls::Error::PeerIncompatible(_) => TlsKind::HandshakeFailure,
        rustls::Error::AlertReceived(A::HandshakeFailure | A::ProtocolVersion) => {
            TlsKind::HandshakeFailure
        }
        rustls::Error::AlertReceived(_) => TlsKind::PeerAlert,
        rustls::Error::InappropriateMessage { .. }
        | rustls::Error::InappropriateHandshakeMessage { .. }
        | rustls::Error::InvalidMessage(_)
        | rustls::Error::DecryptError
        | rustls::Error::PeerMisbehaved(_)
        | rustls::Error::PeerSentOversizedRecord => TlsKind::Protocol,
        rustls::Error::UnsupportedNameType => TlsKind::InvalidServerName,
        _ => TlsKind::Other,
    }
}

/// A [`portnet::TcpConnect`] that opens TLS connections over the stack it wraps.
///
/// Every connection it opens authenticates the server as `server_name` (a DNS
/// name or an IP address) against the configured roots; the address given to
/// [`TcpConnect::connect`] only says where to connect. Verification is always on:
/// an untrusted chain fails with [`TlsKind::CertificateNotTrusted`], a certificate
/// for another name with [`TlsKind::HostnameMismatch`], an expired one with
/// [`TlsKind::CertificateInvalid`] (all `PermissionDenied`).
///
/// Cloning is cheap for a cheap `C` (the configuration is shared), so a
/// spawning library can give each task its own.
#[derive(Clone)]
pub struct TlsConnect<C> {
    inner: C,
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

// Only the server name: the configuration may hold a client key, and `Debug` output
// ends up in logs (tests/verification.rs checks it).
impl<C> core::fmt::Debug for TlsConnect<C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsConnect")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl<C> TlsConnect<C> {
    /// Wraps `inner`: connections authenticate the server as `server_name`
    /// against `roots`, with rustls' safe defaults (TLS 1.3 and 1.2) on the `ring`
    /// crypto provider, and no client certificate.
    ///
    /// Fails with [`TlsKind::InvalidServerName`] if `server_name` is neither a DNS
    /// name nor an IP address.
    pub fn new(inner: C, server_name: &str, roots: RootCertStore) -> Result<Self, TlsError> {
        let name = ServerName::try_from(server_name)
            .map_err(|_| TlsError::new(TlsKind::InvalidServerName))?
            .to_owned();
        let config =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .map_err(TlsError::from_rustls)?
                .with_root_certificates(roots)
                .with_no_client_auth();
        Ok(Self::with_config(inner, name, Arc::new(config)))
    }

    /// Wraps `inner` with a rustls configuration of your own (other roots,
    /// client certificates, ALPN, another crypto provider).
    ///
    /// The configuration decides how the server is verified. This crate has no
    /// switch that turns verification off; the only way is a custom verifier
    /// through rustls' `ClientConfig::dangerous()`, which rustls names so for a
    /// reason: without verification anyone on the path can read and change the
    /// connection.
    pub fn with_config(
        inner: C,
        server_name: ServerName<'static>,
        config: Arc<ClientConfig>,
    ) -> Self {
        Self {
            inner,
            config,
            server_name,
        }
    }

    /// The wrapped stack.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

impl<C: ErrorType> ErrorType for TlsConnect<C> {
    type Error = Error<C::Error>;
}

impl<C: TcpConnect> TcpConnect for TlsConnect<C> {
    type Connection<'a>
        = TlsStream<C::Connection<'a>>
    where
        Self: 'a;

    /// Opens a TCP connection to `remote` through the wrapped stack and completes
    /// the TLS handshake on it.
    ///
    /// Fails with [`Error::Transport`] if the wrapped stack fails (refused, reset,
    /// timed out, …), with [`Error::Tls`] if the handshake does: a certificate
    /// that is not trusted or not for the server name, a peer that does not speak
    /// TLS or closes during the handshake.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future drops the TCP connection (and with it any
    /// half-done handshake); nothing is left open.
    async fn connect(&self, remote: SocketAddr) -> Result<Self::Connection<'_>, Self::Error> {
        self.handshake(self.inner.connect(remote)).await
    }
}

/// With a `Send` wrapped stack, the wrapper is one too: generic code that spawns
/// (over [`portnet::send`]) gets TLS unchanged.
impl<C: portnet::send::TcpConnect> portnet::send::TcpConnect for TlsConnect<C> {
    type Connection<'a>
        = TlsStream<<C as portnet::send::TcpConnect>::Connection<'a>>
    where
        Self: 'a;

    /// As [`portnet::TcpConnect::connect`] on this wrapper.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as the root trait's.
    fn connect(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Connection<'_>, Self::Error>> + Send {
        self.handshake(portnet::send::TcpConnect::connect(&self.inner, remote))
    }
}

impl<C> TlsConnect<C> {
    /// The TLS handshake over the TCP connection `connecting` yields: one body for
    /// both connect traits, `Send` when `connecting` is.
    async fn handshake<S, E>(
        &self,
        connecting: impl Future<Output = Result<S, E>>,
    ) -> Result<TlsStream<S>, Error<E>>
    where
        S: TcpStream<Error = E>,
    {
        let io = connecting.await.map_err(Error::Transport)?;
        let session = ClientConnection::new(self.config.clone(), self.server_name.clone())
            .map_err(|e| Error::Tls(TlsError::from_rustls(e)))?;
        let mut stream = TlsStream {
            state: Mutex::new(State {
                io,
                tls: session,
                close_sent: false,
                failed: None,
            }),
        };
        let state = stream.state_mut();
        poll_fn(|cx| state.poll_handshake(cx)).await?;
        Ok(stream)
    }
}

/// A TLS connection over a portnet stream `S`: a portnet [`TcpStream`] itself.
///
/// - Reading returns the decrypted data; end of stream (`Ok(0)`) after the
///   peer's `close_notify`. A transport that ends without `close_notify` fails
///   with [`TlsKind::Truncated`] instead: the end may have been forged.
/// - A record that fails (malformed, not decrypting, an alert) fails every read
///   from then on, after the data of the records before it.
/// - [`Write::poll_close`] sends `close_notify`, then closes the TCP write half.
///   Reading stays possible.
/// - Nothing is written from the read side: what TLS wants to send in answer to
///   a received record (a key update) leaves with the next write, flush or close.
pub struct TlsStream<S> {
    state: Mutex<State<S>>,
}

// Nothing of the session: it holds the traffic secrets.
impl<S> core::fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsStream").finish_non_exhaustive()
    }
}

struct State<S> {
    io: S,
    tls: ClientConnection,
    close_sent: bool,
    /// The session's TLS failure: every later read returns it.
    failed: Option<TlsError>,
}

impl<S> TlsStream<S> {
    fn state_mut(&mut self) -> &mut State<S> {
        self.state.get_mut().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rustls session, to read what the handshake negotiated (protocol
    /// version, cipher suite, ALPN, the peer's certificates).
    pub fn with_session<T>(&self, f: impl FnOnce(&ClientConnection) -> T) -> T {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        f(&state.tls)
    }
}

/// `std::io::Write` over a portnet stream for one poll: `Pending` is `WouldBlock`,
/// and the stream's own error is kept aside.
struct IoWrite<'s, 'c, 'w, S: Write> {
    io: &'s mut S,
    cx: &'c mut Context<'w>,
    error: Option<S::Error>,
}

impl<S: Write + Unpin> io::Write for IoWrite<'_, '_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write(self.cx, buf) {
            Poll::Ready(Ok(n)) => Ok(n),
            Poll::Ready(Err(e)) => {
                self.error = Some(e);
                Err(io::ErrorKind::Other.into())
            }
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `std::io::Read` over a portnet stream for one poll.
struct IoRead<'s, 'c, 'w, S: Read> {
    io: &'s mut S,
    cx: &'c mut Context<'w>,
    error: Option<S::Error>,
}

impl<S: Read + Unpin> io::Read for IoRead<'_, '_, '_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_read(self.cx, buf) {
            Poll::Ready(Ok(n)) => Ok(n),
            Poll::Ready(Err(e)) => {
                self.error = Some(e);
                Err(io::ErrorKind::Other.into())
            }
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

type Res<T, S> = Result<T, Error<<S as ErrorType>::Error>>;

impl<S: Read + Write + Unpin> State<S> {
    /// Sends every TLS record rustls has queued.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Res<(), S>> {
        // Each round hands at least one byte to the stream or returns.
        while self.tls.wants_write() {
            let mut out = IoWrite {
                io: &mut self.io,
                cx,
                error: None,
            };
            match self.tls.write_tls(&mut out) {
                Ok(0) => return Poll::Ready(Err(Error::tls(TlsKind::Other))),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(_) => {
                    return Poll::Ready(Err(match out.error.take() {
                        Some(e) => Error::Transport(e),
                        None => Error::tls(TlsKind::Other),
                    }));
                }
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Reads TLS bytes from the stream and processes them; `Ok(0)` at the end of
    /// the transport.
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<Res<usize, S>> {
        let mut input = IoRead {
            io: &mut self.io,
            cx,
            error: None,
        };
        let n = match self.tls.read_tls(&mut input) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Err(_) => {
                return Poll::Ready(Err(match input.error.take() {
                    Some(e) => Error::Transport(e),
                    // rustls refuses more input while its plaintext buffer is full.
                    None => Error::tls(TlsKind::BufferTooSmall),
                }));
            }
        };
        match self.tls.process_new_packets() {
            Ok(_) => Poll::Ready(Ok(n)),
            Err(e) => Poll::Ready(Err(Error::Tls(TlsError::from_rustls(e)))),
        }
    }

    fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<Res<(), S>> {
        loop {
            ready!(self.poll_send(cx))?;
            if !self.tls.is_handshaking() {
                return Poll::Ready(Ok(()));
            }
            match ready!(self.poll_receive(cx)) {
                Ok(0) => return Poll::Ready(Err(Error::tls(TlsKind::HandshakeFailure))),
                Ok(_) => {}
                // A peer that resets the connection on a ClientHello (what a
                // plaintext server does when it cannot parse it) refused the
                // handshake; other transport failures stay what they are.
                Err(Error::Transport(e))
                    if matches!(
                        portnet::Error::kind(&e),
                        portnet::ErrorKind::ConnectionReset | portnet::ErrorKind::UnexpectedEof
                    ) =>
                {
                    return Poll::Ready(Err(Error::tls(TlsKind::HandshakeFailure)));
                }
                Err(error) => {
                    // Best effort: tell the peer why (rustls queued an alert).
                    let _ = self.poll_send(cx);
                    return Poll::Ready(Err(error));
                }
            }
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Res<usize, S>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Each round either returns, or has taken bytes (or the end) from the
        // stream, or has recorded the failure (then the next round returns).
        loop {
            match io::Read::read(&mut self.tls.reader(), buf) {
                // 0: the peer's close_notify, the end of the stream.
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Err(Error::tls(TlsKind::Truncated)));
                }
                Err(_) => return Poll::Ready(Err(Error::tls(TlsKind::Other))),
            }
            // rustls keeps the plaintext of the records before a bad one, and
            // would hand it out after the failure was returned: it goes first
            // (it was authenticated), then the failure, for good.
            if let Some(e) = &self.failed {
                return Poll::Ready(Err(Error::Tls(e.clone())));
            }
            match ready!(self.poll_receive(cx)) {
                Ok(_) => {}
                Err(Error::Tls(e)) => self.failed = Some(e),
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Res<usize, S>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if self.close_sent {
            return Poll::Ready(Err(Error::tls(TlsKind::Closed)));
        }
        // Earlier records leave first: what rustls buffers stays bounded by one
        // write (and by its own buffer limit).
        ready!(self.poll_send(cx))?;
        let n = match io::Write::write(&mut self.tls.writer(), buf) {
            Ok(0) => return Poll::Ready(Err(Error::tls(TlsKind::BufferTooSmall))),
            Ok(n) => n,
            Err(_) => return Poll::Ready(Err(Error::tls(TlsKind::Other))),
        };
        // Start sending now; what the stream cannot take yet leaves on the next
        // write, flush or close (an error shows again there).
        let _ = self.poll_send(cx);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Res<(), S>> {
        ready!(self.poll_send(cx))?;
        Pin::new(&mut self.io)
            .poll_flush(cx)
            .map_err(Error::Transport)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Res<(), S>> {
        if !self.close_sent {
            self.tls.send_close_notify();
            self.close_sent = true;
        }
        ready!(self.poll_send(cx))?;
        Pin::new(&mut self.io)
            .poll_close(cx)
            .map_err(Error::Transport)
    }
}

impl<S: ErrorType> ErrorType for TlsStream<S> {
    type Error = Error<S::Error>;
}

impl<S: Read + Write + Unpin> Read for TlsStream<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        self.get_mut().state_mut().poll_read(cx, buf)
    }
}

impl<S: Read + Write + Unpin> Write for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        self.get_mut().state_mut().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().state_mut().poll_flush(cx)
    }

    /// Sends `close_notify`, then closes the TCP write half (FIN).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().state_mut().poll_close(cx)
    }
}

/// The read half of [`TlsStream::split`]: holds the session's lock only while
/// it is polled, never across `Pending`.
pub struct TlsReadHalf<'a, S> {
    state: &'a Mutex<State<S>>,
}

/// The write half of [`TlsStream::split`].
pub struct TlsWriteHalf<'a, S> {
    state: &'a Mutex<State<S>>,
}

impl<S> core::fmt::Debug for TlsReadHalf<'_, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsReadHalf").finish_non_exhaustive()
    }
}

impl<S> core::fmt::Debug for TlsWriteHalf<'_, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsWriteHalf").finish_non_exhaustive()
    }
}

impl<S: ErrorType> ErrorType for TlsReadHalf<'_, S> {
    type Error = Error<S::Error>;
}

impl<S: ErrorType> ErrorType for TlsWriteHalf<'_, S> {
    type Error = Error<S::Error>;
}

impl<S: Read + Write + Unpin> Read for TlsReadHalf<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.poll_read(cx, buf)
    }
}

impl<S: Read + Write + Unpin> Write for TlsWriteHalf<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.poll_close(cx)
    }
}

/// The options are the TCP connection's.
impl<S: TcpStream> SocketOptions for TlsStream<S> {
    fn set_option(&self, option: SocketOption) -> Result<(), Self::Error> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.io.set_option(option).map_err(Error::Transport)
    }
    fn option(&self, name: SocketOptionName) -> Result<SocketOption, Self::Error> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.io.option(name).map_err(Error::Transport)
    }
}

impl<S: TcpStream> TcpStream for TlsStream<S> {
    type ReadHalf<'a>
        = TlsReadHalf<'a, S>
    where
        Self: 'a;
    type WriteHalf<'a>
        = TlsWriteHalf<'a, S>
    where
        Self: 'a;

    /// Splits the connection; each half locks the session only while it is
    /// polled. The read half only reads from the TCP stream and the write half
    /// only writes to it, so each keeps its own waker in the stream below.
    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        let state = &self.state;
        (TlsReadHalf { state }, TlsWriteHalf { state })
    }

    fn local_addr(&self) -> Result<SocketAddr, Self::Error> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.io.local_addr().map_err(Error::Transport)
    }

    fn peer_addr(&self) -> Result<SocketAddr, Self::Error> {
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.io.peer_addr().map_err(Error::Transport)
    }

    /// Resets the TCP connection without `close_notify`.
    fn abort(self) {
        let state = self
            .state
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        state.io.abort();
    }
}
