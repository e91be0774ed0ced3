//! The `no_std` implementation: embedded-tls (TLS 1.3, no alloc) over a portnet
//! stream, with caller-provided buffers.
//!
//! embedded-tls offers `async fn`s, not poll functions, and its futures are not
//! cancel safe in general: a transport read that pends in the middle of a record
//! would lose the bytes already taken. So the TLS connection's transport is a
//! shim over staging buffers, not the stream: its reads hand over only whole
//! records and pend (consuming nothing) at a record boundary when no whole record
//! is staged; its writes only stage, and always fit because the staged output is
//! sent before the TLS layer gets to write again. The portnet side moves bytes
//! between the stream and the staging, and polls the embedded-tls future once
//! per step; dropping it when it pends is safe at exactly those points.
#![allow(unsafe_code)] // one UnsafeCell: the buffers lent to one connection at a time

use core::cell::{Cell, RefCell, UnsafeCell};
use core::future::{Future, poll_fn};
use core::net::SocketAddr;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, ready};

use embedded_tls::pki::CertVerifier;
use embedded_tls::{
    Aes128GcmSha256, Certificate, CertificateRef, CertificateVerifyRef, CryptoProvider,
    CryptoRngCore, FlushPolicy, NoClock, TlsCipherSuite, TlsConfig, TlsConnection, TlsContext,
    TlsVerifier,
};
use portnet::{
    ErrorKind, ErrorType, Read, SocketOption, SocketOptionName, SocketOptions, TcpConnect,
    TcpStream, Write,
};

use crate::{Error, TlsError, TlsKind};

/// The largest server certificate (DER) the verifier keeps between the
/// Certificate and CertificateVerify messages.
const CERT_SIZE: usize = 2048;

/// The ciphertext lengths of an encrypted record under TLS_AES_128_GCM_SHA256:
/// the inner plaintext (content, type, padding: 1 to 2^14 + 1 bytes) and the
/// 16-byte tag.
const ENCRYPTED_RECORD: core::ops::RangeInclusive<usize> = 1 + 16..=16_384 + 1 + 16;

/// Sorts an embedded-tls error into a [`TlsKind`].
pub(crate) fn classify(error: &embedded_tls::TlsError) -> TlsKind {
    use embedded_tls::TlsError as E;
    use embedded_tls::alert::AlertDescription as A;
    match error {
        E::InvalidSignature => TlsKind::CertificateNotTrusted,
        E::InvalidCertificate | E::InvalidCertificateEntry | E::InvalidCertificateRequest => {
            TlsKind::CertificateInvalid
        }
        E::HandshakeAborted(_, A::HandshakeFailure | A::ProtocolVersion) => {
            TlsKind::HandshakeFailure
        }
        E::HandshakeAborted(..) => TlsKind::PeerAlert,
        E::InsufficientSpace | E::OutOfMemory => TlsKind::BufferTooSmall,
        E::ConnectionClosed => TlsKind::Closed,
        E::Io(embedded_io::ErrorKind::OutOfMemory) => TlsKind::BufferTooSmall,
        E::AbortHandshake(..)
        | E::InvalidRecord
        | E::UnknownContentType
        | E::InvalidNonceLength
        | E::InvalidTicketLength
        | E::UnknownExtensionType
        | E::InvalidHandshake
        | E::InvalidCipherSuite
        | E::InvalidSignatureScheme
        | E::InvalidExtensionsLength
        | E::InvalidSessionIdLength
        | E::InvalidSupportedVersions
        | E::InvalidApplicationData
        | E::InvalidKeyShare
        | E::ParseError(_)
        | E::CryptoError
        | E::DecodeError
        | E::InternalError => TlsKind::Protocol,
        _ => TlsKind::Other,
    }
}

/// The verifier: embedded-tls' own (the chain up to one CA certificate, then the
/// server name), remembering which step failed so that an untrusted chain and a
/// wrong name come back as different kinds.
struct Verifier<'c> {
    inner: CertVerifier<'c, Aes128GcmSha256, NoClock, CERT_SIZE>,
    host: &'c str,
    verified: bool,
    failure: Option<TlsKind>,
}

impl TlsVerifier<Aes128GcmSha256> for Verifier<'_> {
    fn set_hostname_verification(&mut self, hostname: &str) -> Result<(), embedded_tls::TlsError> {
        self.inner.set_hostname_verification(hostname)
    }

    fn verify_certificate(
        &mut self,
        transcript: &<Aes128GcmSha256 as TlsCipherSuite>::Hash,
        cert: CertificateRef<'_>,
    ) -> Result<(), embedded_tls::TlsError> {
        let named = match cert.entries.first() {
            Some(embedded_tls::CertificateEntryRef::X509(der)) => names_host(der, self.host),
            _ => false,
        };
        self.inner
            .verify_certificate(transcript, cert)
            .inspect(|()| self.verified = true)
            .inspect_err(|e| {
                // embedded-tls says InvalidCertificate both for a chain that does
                // not end at the CA and for a name that does not match (without a
                // clock, NoClock, nothing else): tell them apart by whether the
                // leaf names the host.
                self.failure = Some(match e {
                    embedded_tls::TlsError::InvalidCertificate if named => {
                        TlsKind::CertificateNotTrusted
                    }
                    embedded_tls::TlsError::InvalidCertificate => TlsKind::HostnameMismatch,
                    embedded_tls::TlsError::InvalidSignature => TlsKind::CertificateNotTrusted,
                    _ => TlsKind::CertificateInvalid,
                });
            })
    }

    fn verify_signature(
        &mut self,
        verify: CertificateVerifyRef<'_>,
    ) -> Result<(), embedded_tls::TlsError> {
        // The inner verifier expects a verified certificate first (and would
        // panic without one): a CertificateVerify out of order is an error.
        if !self.verified {
            self.failure = Some(TlsKind::Protocol);
            return Err(embedded_tls::TlsError::InvalidHandshake);
        }
        self.inner
            .verify_signature(verify)
            .inspect_err(|_| self.failure = Some(TlsKind::CertificateNotTrusted))
    }
}

/// Whether the certificate `der` carries `host` as a DNS name (a
/// subjectAltName `dNSName`, context tag 2, short form; `*.` wildcards in the
/// leftmost label). A scan of the DER, not a parse: used only to explain a
/// failure the verifier already decided, never to accept a certificate.
fn names_host(der: &[u8], host: &str) -> bool {
    let host = host.as_bytes();
    let mut i = 0;
    while i + 2 <= der.len() {
        let length = usize::from(der[i + 1]);
        if der[i] == 0x82 && length < 0x80 && i + 2 + length <= der.len() {
            let name = &der[i + 2..i + 2 + length];
            if dns_match(name, host) {
                return true;
            }
        }
        i += 1;
    }
    false
}

fn dns_match(pattern: &[u8], host: &[u8]) -> bool {
    if pattern.eq_ignore_ascii_case(host) {
        return true;
    }
    match (
        pattern.strip_prefix(b"*."),
        host.iter().position(|&b| b == b'.'),
    ) {
        (Some(rest), Some(dot)) => rest.eq_ignore_ascii_case(&host[dot + 1..]),
        _ => false,
    }
}

struct Provider<'r, 'c, R> {
    rng: &'r mut R,
    verifier: Verifier<'c>,
}

impl<R: CryptoRngCore> CryptoProvider for Provider<'_, '_, R> {
    type CipherSuite = Aes128GcmSha256;
    type Signature = [u8; 0];

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut *self.rng
    }

    fn verifier(
        &mut self,
    ) -> Result<&mut impl TlsVerifier<Self::CipherSuite>, embedded_tls::TlsError> {
        Ok(&mut self.verifier)
    }
}

/// Bytes between the stream and the TLS layer.
struct Staging<'b> {
    rx: &'b mut [u8],
    rx_start: usize,
    rx_end: usize,
    /// Bytes of the record being handed over that are still staged.
    record_left: usize,
    eof: bool,
    /// A record header that is not TLS was seen.
    malformed: bool,
    /// The handshake is over: every record from now on is encrypted.
    established: bool,
    tx: &'b mut [u8],
    tx_start: usize,
    tx_end: usize,
}

impl Staging<'_> {
    fn reset(&mut self) {
        self.rx_start = 0;
        self.rx_end = 0;
        self.record_left = 0;
        self.eof = false;
        self.malformed = false;
        self.established = false;
        self.tx_start = 0;
        self.tx_end = 0;
    }

    /// Hands over bytes of whole records only; `None` when no whole record is
    /// staged (nothing consumed).
    fn read(&mut self, buf: &mut [u8]) -> Option<Result<usize, embedded_io::ErrorKind>> {
        if buf.is_empty() {
            return Some(Ok(0));
        }
        let staged = self.rx_end - self.rx_start;
        if self.record_left == 0 && staged >= 5 {
            let header = &self.rx[self.rx_start..self.rx_start + 5];
            let length = usize::from(u16::from_be_bytes([header[3], header[4]]));
            // Content types 20..=24, version 3.x, at most 2^14 + 256 bytes of
            // ciphertext: anything else is not TLS (a plaintext server).
            let not_tls =
                !(20..=24).contains(&header[0]) || header[1] != 3 || length > 16_384 + 256;
            // Every encrypted record is TLS_AES_128_GCM_SHA256 (the one suite
            // offered): a 16-byte tag on an inner plaintext of 1 to 2^14 + 1
            // bytes (RFC 8446 §5.2, §5.4). embedded-tls checks neither bound:
            // it panics on an empty inner plaintext and delivers an oversized
            // one, so those records stop here.
            let sealed = header[0] == 23 && !(ENCRYPTED_RECORD.contains(&length));
            // After the handshake every TLS 1.3 record is encrypted
            // (application_data on the wire, RFC 8446 §5.1, §5.2). embedded-tls
            // would take a plaintext one as it is: anyone on the path could end
            // the session with a forged close_notify (a clean end where the data
            // was cut) or make it panic with a handshake message.
            let plaintext = self.established && header[0] != 23;
            if not_tls || sealed || plaintext {
                self.malformed = true;
                return Some(Err(embedded_io::ErrorKind::InvalidData));
            }
            if staged >= 5 + length {
                self.record_left = 5 + length;
            }
        }
        if self.record_left > 0 {
            let n = buf.len().min(self.record_left);
            buf[..n].copy_from_slice(&self.rx[self.rx_start..self.rx_start + n]);
            self.rx_start += n;
            self.record_left -= n;
            return Some(Ok(n));
        }
        if self.eof {
            // A clean end between records; a partial record is a truncation.
            return Some(if staged == 0 {
                Ok(0)
            } else {
                Err(embedded_io::ErrorKind::InvalidData)
            });
        }
        None
    }

    /// Stages output; `None` when the staging is full.
    fn write(&mut self, buf: &[u8]) -> Option<usize> {
        if buf.is_empty() {
            return Some(0);
        }
        let n = buf.len().min(self.tx.len() - self.tx_end);
        if n == 0 {
            return None;
        }
        self.tx[self.tx_end..self.tx_end + n].copy_from_slice(&buf[..n]);
        self.tx_end += n;
        Some(n)
    }

    /// Room for more input: compacts, and fails if a record does not fit.
    fn make_room(&mut self) -> Result<(), TlsKind> {
        if self.rx_start > 0 {
            self.rx.copy_within(self.rx_start..self.rx_end, 0);
            self.rx_end -= self.rx_start;
            self.rx_start = 0;
        }
        if self.rx_end == self.rx.len() {
            return Err(TlsKind::BufferTooSmall);
        }
        Ok(())
    }
}

/// The transport embedded-tls talks to: a handle on the staging.
struct Shim<'a, 'b> {
    staging: &'a RefCell<Staging<'b>>,
}

impl embedded_io::ErrorType for Shim<'_, '_> {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io_async::Read for Shim<'_, '_> {
    /// Pends without a waker when no whole record is staged: the portnet side
    /// polls the TLS future again after it staged more.
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        poll_fn(|_| {
            let Ok(mut staging) = self.staging.try_borrow_mut() else {
                return Poll::Ready(Err(embedded_io::ErrorKind::Other));
            };
            match staging.read(buf) {
                Some(result) => Poll::Ready(result),
                None => Poll::Pending,
            }
        })
        .await
    }
}

impl embedded_io_async::Write for Shim<'_, '_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        poll_fn(|_| {
            let Ok(mut staging) = self.staging.try_borrow_mut() else {
                return Poll::Ready(Err(embedded_io::ErrorKind::Other));
            };
            match staging.write(buf) {
                Some(n) => Poll::Ready(Ok(n)),
                None => Poll::Pending,
            }
        })
        .await
    }

    /// The staged output is sent by the portnet side.
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Gives the record buffers back when the connection that borrowed them is
/// dropped.
struct Lease<'a> {
    taken: &'a Cell<bool>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        self.taken.set(false);
    }
}

/// A [`portnet::TcpConnect`] that opens TLS 1.3 connections with embedded-tls
/// (`no_std`, no alloc) over the stack it wraps.
///
/// Every connection authenticates the server as `server_name` (a DNS name,
/// matched against the certificate's DNS names and common name) with a chain
/// that ends at the one CA certificate given. The cipher suite is
/// TLS_AES_128_GCM_SHA256, certificates ECDSA P-256; without a clock the
/// validity period is not checked. Verification is always on, with no switch to
/// turn it off: an untrusted chain fails with [`TlsKind::CertificateNotTrusted`],
/// a certificate for another name with [`TlsKind::HostnameMismatch`] (both
/// `PermissionDenied`).
///
/// It owns the buffers the caller lends it and lends them to one connection at a
/// time: a second `connect` while a connection is open fails with
/// [`TlsKind::InUse`]. Not `Sync`: its connections are for one executor thread.
pub struct TlsConnect<'b, C, R> {
    inner: C,
    server_name: &'b str,
    ca: &'b [u8],
    rng: RefCell<R>,
    records: UnsafeCell<(&'b mut [u8], &'b mut [u8])>,
    taken: Cell<bool>,
    staging: RefCell<Staging<'b>>,
}

// Only the server name: never the random-number generator (its state) or the
// buffers (plaintext and records of the open connection).
impl<C, R> core::fmt::Debug for TlsConnect<'_, C, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsConnect")
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

impl<'b, C, R: CryptoRngCore> TlsConnect<'b, C, R> {
    /// Wraps `inner`: connections authenticate the server as `server_name` with
    /// a chain ending at `ca_der` (a DER CA certificate), draw their randomness
    /// from `rng`, and use `read` and `write` as their buffers.
    ///
    /// Each buffer is split in two halves: the TLS layer's record buffer and the
    /// staging of whole records for the stream. `read` must hold twice the largest
    /// record the server sends (2 × 16 640 bytes for any server); `write` twice the
    /// largest record this side sends plus 128 bytes of overhead (2 × 4 096 is
    /// reasonable; the ClientHello must fit in half of the larger buffer). A record
    /// that does not fit fails with [`TlsKind::BufferTooSmall`].
    pub fn new(
        inner: C,
        server_name: &'b str,
        ca_der: &'b [u8],
        rng: R,
        read: &'b mut [u8],
        write: &'b mut [u8],
    ) -> Self {
        let (record_read, rx) = read.split_at_mut(read.len() / 2);
        let (record_write, tx) = write.split_at_mut(write.len() / 2);
        Self {
            inner,
            server_name,
            ca: ca_der,
            rng: RefCell::new(rng),
            records: UnsafeCell::new((record_read, record_write)),
            taken: Cell::new(false),
            staging: RefCell::new(Staging {
                rx,
                rx_start: 0,
                rx_end: 0,
                record_left: 0,
                eof: false,
                malformed: false,
                established: false,
                tx,
                tx_start: 0,
                tx_end: 0,
            }),
        }
    }

    /// The wrapped stack.
    pub fn inner(&self) -> &C {
        &self.inner
    }
}

impl<C: ErrorType, R> ErrorType for TlsConnect<'_, C, R> {
    type Error = Error<C::Error>;
}

type Session<'a, 'b> = TlsConnection<'a, Shim<'a, 'b>, Aes128GcmSha256>;

/// Moves bytes between a stream and the staging.
struct Pump<'a, 'b, S> {
    io: S,
    staging: &'a RefCell<Staging<'b>>,
}

impl<S: Read + Write + Unpin> Pump<'_, '_, S> {
    /// Sends staged output: `Ready(Ok(()))` once all of it is with the stream.
    fn poll_send(&mut self, cx: &mut Context<'_>) -> Poll<Res<(), S>> {
        let Ok(mut staging) = self.staging.try_borrow_mut() else {
            return Poll::Ready(Err(Error::tls(TlsKind::Other)));
        };
        let st = &mut *staging;
        while st.tx_start < st.tx_end {
            match Pin::new(&mut self.io).poll_write(cx, &st.tx[st.tx_start..st.tx_end]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(Error::tls(TlsKind::Other))),
                Poll::Ready(Ok(n)) => st.tx_start += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Transport(e))),
                Poll::Pending => return Poll::Pending,
            }
        }
        st.tx_start = 0;
        st.tx_end = 0;
        Poll::Ready(Ok(()))
    }

    /// Stages input: `Ready(Ok(()))` once some bytes (or the end) arrived.
    fn poll_receive(&mut self, cx: &mut Context<'_>) -> Poll<Res<(), S>> {
        let Ok(mut staging) = self.staging.try_borrow_mut() else {
            return Poll::Ready(Err(Error::tls(TlsKind::Other)));
        };
        let st = &mut *staging;
        if st.eof {
            return Poll::Ready(Ok(()));
        }
        st.make_room().map_err(Error::tls)?;
        match Pin::new(&mut self.io).poll_read(cx, &mut st.rx[st.rx_end..]) {
            Poll::Ready(Ok(0)) => st.eof = true,
            Poll::Ready(Ok(n)) => st.rx_end += n,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::Transport(e))),
            Poll::Pending => return Poll::Pending,
        }
        Poll::Ready(Ok(()))
    }
}

type Res<T, S> = Result<T, Error<<S as ErrorType>::Error>>;

fn tls_failure<E>(kind: TlsKind, e: embedded_tls::TlsError) -> Error<E> {
    Error::Tls(TlsError::from_embedded(kind, e))
}

/// The kind of an embedded-tls error after the handshake.
fn session_kind(e: &embedded_tls::TlsError) -> TlsKind {
    match e {
        // The end of the stream between records (read_exact's end) or inside one.
        embedded_tls::TlsError::IoError
        | embedded_tls::TlsError::Io(
            embedded_io::ErrorKind::InvalidData | embedded_io::ErrorKind::Other,
        ) => TlsKind::Truncated,
        e => classify(e),
    }
}

impl<'b, C: TcpConnect, R: CryptoRngCore> TcpConnect for TlsConnect<'b, C, R> {
    type Connection<'a>
        = TlsStream<'a, 'b, C::Connection<'a>>
    where
        Self: 'a;

    /// Opens a TCP connection to `remote` through the wrapped stack and completes
    /// the TLS 1.3 handshake on it.
    ///
    /// Fails with [`TlsKind::InUse`] while another connection holds the buffers,
    /// with [`Error::Transport`] if the wrapped stack fails, with [`Error::Tls`]
    /// if the handshake does.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future drops the TCP connection and the half-done
    /// handshake, and gives the buffers back.
    // The RNG stays borrowed through the handshake: only one handshake runs at a
    // time (`taken`), and a failed borrow is an error, not a panic.
    #[allow(clippy::await_holding_refcell_ref)]
    async fn connect(&self, remote: SocketAddr) -> Result<Self::Connection<'_>, Self::Error> {
        if self.taken.replace(true) {
            return Err(Error::tls(TlsKind::InUse));
        }
        let lease = Lease { taken: &self.taken };
        // SAFETY: `taken` was false and is now true: no other connection holds
        // the record buffers, and none can take them until `lease` is dropped.
        // The borrows made here live in the session, which is dropped before
        // `lease`: as a local of this future (declared after it) or as a field
        // of `TlsStream` (declared before `_lease`).
        let (record_read, record_write) = unsafe { &mut *self.records.get() };
        match self.staging.try_borrow_mut() {
            Ok(mut staging) => staging.reset(),
            Err(_) => return Err(Error::tls(TlsKind::InUse)),
        }
        let io = self.inner.connect(remote).await.map_err(Error::Transport)?;
        let local = io.local_addr().map_err(Error::Transport)?;
        let peer = io.peer_addr().map_err(Error::Transport)?;
        let mut pump = Pump {
            io,
            staging: &self.staging,
        };
        let mut session: Session<'_, 'b> = TlsConnection::new(
            Shim {
                staging: &self.staging,
            },
            record_read,
            record_write,
        );
        session.set_flush_policy(FlushPolicy::Relaxed);
        let config = TlsConfig::new().with_server_name(self.server_name);
        let Ok(mut rng) = self.rng.try_borrow_mut() else {
            return Err(Error::tls(TlsKind::InUse));
        };
        let mut provider = Provider {
            rng: &mut *rng,
            verifier: Verifier {
                inner: CertVerifier::new(Certificate::X509(self.ca)),
                host: self.server_name,
                verified: false,
                failure: None,
            },
        };
        let opened = {
            let mut open = pin!(session.open(TlsContext::new(&config, &mut provider)));
            poll_fn(|cx| {
                // Each round returns, or has moved bytes between the stream and
                // the staging.
                loop {
                    if let Poll::Ready(result) = open.as_mut().poll(cx) {
                        return Poll::Ready(Ok(result));
                    }
                    let sent = match pump.poll_send(cx) {
                        Poll::Ready(Ok(())) => true,
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => false,
                    };
                    match pump.poll_receive(cx) {
                        Poll::Ready(Ok(())) => {}
                        // The peer reset on our ClientHello (a plaintext server).
                        Poll::Ready(Err(Error::Transport(e)))
                            if portnet::Error::kind(&e) == ErrorKind::ConnectionReset =>
                        {
                            return Poll::Ready(Err(Error::tls(TlsKind::HandshakeFailure)));
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending if sent => return Poll::Pending,
                        Poll::Pending => return Poll::Pending,
                    }
                }
            })
            .await?
        };
        if let Err(e) = opened {
            let malformed = self.staging.try_borrow().is_ok_and(|s| s.malformed);
            let kind = match (provider.verifier.failure, e) {
                (Some(kind), _) => kind,
                _ if malformed => TlsKind::Protocol,
                // A peer that closed during the handshake refused it.
                (
                    None,
                    embedded_tls::TlsError::IoError
                    | embedded_tls::TlsError::Io(
                        embedded_io::ErrorKind::InvalidData | embedded_io::ErrorKind::Other,
                    ),
                ) => TlsKind::HandshakeFailure,
                (None, e) => classify(&e),
            };
            return Err(tls_failure(kind, e));
        }
        drop(provider);
        drop(rng);
        match self.staging.try_borrow_mut() {
            Ok(mut staging) => staging.established = true,
            Err(_) => return Err(Error::tls(TlsKind::InUse)),
        }
        // The handshake's last flight (Finished) is staged: send it.
        poll_fn(|cx| pump.poll_send(cx)).await?;
        Ok(TlsStream {
            state: RefCell::new(State {
                session: Some(session),
                pump,
                failed: None,
            }),
            local,
            peer,
            _lease: lease,
        })
    }
}

/// A TLS 1.3 connection over a portnet stream `S` (embedded-tls): a portnet
/// [`TcpStream`] itself.
///
/// - Reading returns the decrypted data; `Ok(0)` after the peer's `close_notify`.
///   A transport that ends without it fails with [`TlsKind::Truncated`].
/// - [`Write::poll_close`] sends `close_notify`, then closes the TCP write half.
///   embedded-tls ends the whole session on close: reading after `close` fails
///   with [`TlsKind::Closed`].
/// - [`TcpStream::abort`] drops the TCP connection (embedded-tls does not give
///   the stream back without `close_notify`).
/// - After the handshake, embedded-tls reports a fatal alert from the peer as an
///   internal error: reading fails with [`TlsKind::Protocol`], not
///   [`TlsKind::PeerAlert`]. What it does not implement (KeyUpdate, a
///   ChangeCipherSpec, no or an unknown type inside an encrypted record) fails
///   with [`TlsKind::Other`].
/// - A record that fails (malformed, not decrypting, an alert) fails every read
///   from then on.
/// - After the handshake any record that is not encrypted, and any encrypted
///   record too short or too long for the suite, fails with
///   [`TlsKind::Protocol`] before embedded-tls sees it.
/// - embedded-tls 0.19 panics (`unimplemented!()`) on an encrypted handshake
///   message after the handshake other than NewSessionTicket (a second
///   ServerHello, a Finished, …). Only the authenticated server can send one,
///   and this wrapper cannot see inside it to stop it (docs/reliability.md,
///   "Fuzzing").
pub struct TlsStream<'a, 'b, S> {
    // Declared before `_lease`: dropped before the buffers are given back.
    state: RefCell<State<'a, 'b, S>>,
    local: SocketAddr,
    peer: SocketAddr,
    _lease: Lease<'a>,
}

// The addresses only: the session holds the traffic secrets.
impl<S> core::fmt::Debug for TlsStream<'_, '_, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsStream")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .finish_non_exhaustive()
    }
}

struct State<'a, 'b, S> {
    /// `None` after `close`.
    session: Option<Session<'a, 'b>>,
    pump: Pump<'a, 'b, S>,
    /// The session's TLS failure: every later read returns it. embedded-tls
    /// drops a record that fails to decrypt and would decrypt the next one.
    failed: Option<TlsError>,
}

/// Polls an embedded-tls future once; dropping it when it pends is safe because
/// the shim pends only where nothing was consumed (see the module docs).
fn poll_once<F: Future>(cx: &mut Context<'_>, future: F) -> Poll<F::Output> {
    pin!(future).poll(cx)
}

impl<S: Read + Write + Unpin> State<'_, '_, S> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<Res<usize, S>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(session) = self.session.as_mut() else {
            // embedded-tls ends the whole session on close.
            return Poll::Ready(Err(Error::tls(TlsKind::Closed)));
        };
        if let Some(e) = &self.failed {
            return Poll::Ready(Err(Error::Tls(e.clone())));
        }
        // Each round returns or has staged bytes (or the end) from the stream.
        loop {
            match poll_once(cx, session.read(buf)) {
                Poll::Ready(Ok(n)) => return Poll::Ready(Ok(n)),
                // The peer's close_notify: the end of the stream, every time.
                Poll::Ready(Err(embedded_tls::TlsError::ConnectionClosed)) => {
                    return Poll::Ready(Ok(0));
                }
                Poll::Ready(Err(e)) => {
                    let malformed = self.pump.staging.try_borrow().is_ok_and(|s| s.malformed);
                    let kind = if malformed {
                        TlsKind::Protocol
                    } else {
                        session_kind(&e)
                    };
                    let failure = TlsError::from_embedded(kind, e);
                    self.failed = Some(failure.clone());
                    return Poll::Ready(Err(Error::Tls(failure)));
                }
                Poll::Pending => {}
            }
            ready!(self.pump.poll_receive(cx))?;
        }
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<Res<usize, S>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(session) = self.session.as_mut() else {
            return Poll::Ready(Err(Error::tls(TlsKind::Closed)));
        };
        // Staged records leave first, so the one this write may produce fits.
        ready!(self.pump.poll_send(cx))?;
        match poll_once(cx, session.write(buf)) {
            Poll::Ready(Ok(n)) => {
                // Start sending now; the rest leaves with the next call.
                let _ = self.pump.poll_send(cx);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(tls_failure(classify(&e), e))),
            // The staging had no room for one record: smaller than promised.
            Poll::Pending => Poll::Ready(Err(Error::tls(TlsKind::BufferTooSmall))),
        }
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Res<(), S>> {
        ready!(self.pump.poll_send(cx))?;
        if let Some(session) = self.session.as_mut() {
            match poll_once(cx, session.flush()) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(tls_failure(classify(&e), e))),
                Poll::Pending => return Poll::Ready(Err(Error::tls(TlsKind::BufferTooSmall))),
            }
            ready!(self.pump.poll_send(cx))?;
        }
        Pin::new(&mut self.pump.io)
            .poll_flush(cx)
            .map_err(Error::Transport)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Res<(), S>> {
        if self.session.is_some() {
            // Everything written leaves first, so close_notify fits the staging.
            ready!(self.poll_flush(cx))?;
            if let Some(session) = self.session.take() {
                match poll_once(cx, session.close()) {
                    Poll::Ready(Ok(_shim)) => {}
                    Poll::Ready(Err((_shim, e))) => {
                        return Poll::Ready(Err(tls_failure(classify(&e), e)));
                    }
                    Poll::Pending => {
                        return Poll::Ready(Err(Error::tls(TlsKind::BufferTooSmall)));
                    }
                }
            }
        }
        ready!(self.pump.poll_send(cx))?;
        Pin::new(&mut self.pump.io)
            .poll_close(cx)
            .map_err(Error::Transport)
    }
}

impl<S: ErrorType> ErrorType for TlsStream<'_, '_, S> {
    type Error = Error<S::Error>;
}

impl<S: ErrorType> TlsStream<'_, '_, S> {
    fn with_state<T>(
        &self,
        f: impl FnOnce(&mut State<'_, '_, S>) -> Poll<Result<T, Error<S::Error>>>,
    ) -> Poll<Result<T, Error<S::Error>>> {
        match self.state.try_borrow_mut() {
            Ok(mut state) => f(&mut state),
            // Only if a half is polled from inside the other's poll.
            Err(_) => Poll::Ready(Err(Error::tls(TlsKind::InUse))),
        }
    }
}

impl<S: Read + Write + Unpin> Read for TlsStream<'_, '_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        self.get_mut().state.get_mut().poll_read(cx, buf)
    }
}

impl<S: Read + Write + Unpin> Write for TlsStream<'_, '_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        self.get_mut().state.get_mut().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().state.get_mut().poll_flush(cx)
    }

    /// Sends `close_notify`, then closes the TCP write half (FIN).
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.get_mut().state.get_mut().poll_close(cx)
    }
}

/// A half of [`TlsStream::split`]: borrows the session only while polled.
pub struct TlsHalf<'s, 'a, 'b, S> {
    stream: &'s TlsStream<'a, 'b, S>,
}

impl<S> core::fmt::Debug for TlsHalf<'_, '_, '_, S> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsHalf").finish_non_exhaustive()
    }
}

impl<S: ErrorType> ErrorType for TlsHalf<'_, '_, '_, S> {
    type Error = Error<S::Error>;
}

impl<S: Read + Write + Unpin> Read for TlsHalf<'_, '_, '_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        self.stream.with_state(|state| state.poll_read(cx, buf))
    }
}

impl<S: Read + Write + Unpin> Write for TlsHalf<'_, '_, '_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        self.stream.with_state(|state| state.poll_write(cx, buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.stream.with_state(|state| state.poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.stream.with_state(|state| state.poll_close(cx))
    }
}

/// The options are the TCP connection's. Ready at once; `InUse` only if called
/// from inside a poll of the same stream.
impl<S: TcpStream> SocketOptions for TlsStream<'_, '_, S> {
    fn set_option(&self, option: SocketOption) -> Result<(), Self::Error> {
        let state = self
            .state
            .try_borrow()
            .map_err(|_| Error::tls(TlsKind::InUse))?;
        state.pump.io.set_option(option).map_err(Error::Transport)
    }
    fn option(&self, name: SocketOptionName) -> Result<SocketOption, Self::Error> {
        let state = self
            .state
            .try_borrow()
            .map_err(|_| Error::tls(TlsKind::InUse))?;
        state.pump.io.option(name).map_err(Error::Transport)
    }
}

impl<'a, 'b, S: TcpStream> TcpStream for TlsStream<'a, 'b, S> {
    type ReadHalf<'s>
        = TlsHalf<'s, 'a, 'b, S>
    where
        Self: 's;
    type WriteHalf<'s>
        = TlsHalf<'s, 'a, 'b, S>
    where
        Self: 's;

    /// Splits the connection for one executor thread: each half borrows the
    /// session only while it is polled.
    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        let stream = &*self;
        (TlsHalf { stream }, TlsHalf { stream })
    }

    fn local_addr(&self) -> Result<SocketAddr, Self::Error> {
        Ok(self.local)
    }

    fn peer_addr(&self) -> Result<SocketAddr, Self::Error> {
        Ok(self.peer)
    }

    /// Drops the TCP connection without `close_notify`.
    fn abort(self) {
        drop(self);
    }
}
