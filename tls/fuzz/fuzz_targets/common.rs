//! What both record targets share: a fake portnet stack with one in-memory
//! connection, a rustls server the target drives, the script the fuzzer's bytes
//! become after an honest handshake, and the checks on what the client makes of
//! it (issue 25 §1: hostile records after the handshake).
//!
//! After the handshake the server is either still a rustls `ServerConnection`
//! ("live": legitimate data, close_notify and key updates come from rustls
//! itself, TLS 1.2 or 1.3) or its TLS 1.3 keys are extracted and the target seals
//! records itself ("sealed"): hostile content then reaches the client's handling
//! of decrypted records (alerts, handshake messages, unknown inner types, records
//! over the limit), not only its record framing and decryption. Raw records
//! (wrong types, lengths beyond the maximum, garbage ciphertext, truncation) go
//! into the stream in both.
#![allow(dead_code)] // each target uses its part

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Waker};

use portnet::{Error as _, ErrorKind};
use ring::aead;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ConnectionTrafficSecrets, ServerConfig, ServerConnection};

/// The name the server's certificate is for.
pub const HOST: &str = "localhost";
/// At most this many script steps per input: every run is short.
const MAX_STEPS: usize = 48;
/// Polls the handshake may take, and polls beyond one per byte in flight that
/// a client operation may take (a drain of reads, a write): every poll that
/// returns `Ready` has moved at least a byte, so only a spinning future reaches
/// it.
const MAX_POLLS_PER_OP: u32 = 2_000;
/// TLS: the largest plaintext fragment, and the largest ciphertext a record may
/// announce (TLS 1.3, RFC 8446 §5.2; TLS 1.2 allows 2^14 + 2048).
const MAX_FRAGMENT: usize = 16_384;
const MAX_CIPHERTEXT_12: usize = MAX_FRAGMENT + 2_048;

/// The certificate, made once per process: a CA and a leaf for [`HOST`], ECDSA
/// P-256 (what embedded-tls verifies), and the server configurations.
pub struct Pki {
    pub ca_der: CertificateDer<'static>,
    /// TLS 1.3, TLS_AES_128_GCM_SHA256 only, keys extractable.
    pub tls13: Arc<ServerConfig>,
    /// TLS 1.2 only.
    pub tls12: Arc<ServerConfig>,
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = CertifiedIssuer::self_signed(params, ca_key).expect("CA");
        let key = KeyPair::generate().expect("server key");
        let leaf = CertificateParams::new(vec![HOST.to_owned()])
            .expect("leaf params")
            .signed_by(&key, &ca)
            .expect("leaf");
        let config = |versions: &[&'static rustls::SupportedProtocolVersion]| {
            let mut provider = rustls::crypto::ring::default_provider();
            // One suite: the one embedded-tls speaks, and the one the sealer
            // implements.
            provider.cipher_suites = vec![
                rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256,
                rustls::crypto::ring::cipher_suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ];
            let mut config = ServerConfig::builder_with_provider(Arc::new(provider))
                .with_protocol_versions(versions)
                .expect("versions")
                .with_no_client_auth()
                .with_single_cert(
                    vec![leaf.der().clone()],
                    PrivateKeyDer::Pkcs8(key.serialize_der().into()),
                )
                .expect("certificate and key");
            config.enable_secret_extraction = true;
            // Session tickets would be records the script does not choose.
            config.send_tls13_tickets = 0;
            Arc::new(config)
        };
        Pki {
            ca_der: ca.der().clone(),
            tls13: config(&[&rustls::version::TLS13]),
            tls12: config(&[&rustls::version::TLS12]),
        }
    })
}

/// The one connection's two directions.
#[derive(Default)]
pub struct Wire {
    pub to_client: VecDeque<u8>,
    pub from_client: Vec<u8>,
    /// The server's FIN: reads return 0 once `to_client` is empty.
    pub eof: bool,
    /// At most this many bytes per client read.
    pub chunk: usize,
    pub connects: u32,
}

pub type W = Rc<RefCell<Wire>>;

/// A portnet stack with one connection, to the wire.
pub struct Stack(pub W);

impl portnet::ErrorType for Stack {
    type Error = ErrorKind;
}

impl portnet::TcpConnect for Stack {
    type Connection<'c>
        = Conn
    where
        Self: 'c;
    async fn connect(&self, _remote: SocketAddr) -> Result<Conn, ErrorKind> {
        let mut wire = self.0.borrow_mut();
        wire.connects += 1;
        if wire.connects > 1 {
            return Err(ErrorKind::ConnectionRefused);
        }
        Ok(Conn(self.0.clone()))
    }
}

#[derive(Clone)]
pub struct Conn(W);

impl portnet::ErrorType for Conn {
    type Error = ErrorKind;
}

impl portnet::Read for Conn {
    /// Pending without a waker: the driver polls again after the server moved.
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, ErrorKind>> {
        let mut wire = self.0.borrow_mut();
        if wire.to_client.is_empty() {
            return if wire.eof {
                Poll::Ready(Ok(0))
            } else {
                Poll::Pending
            };
        }
        let n = wire.to_client.len().min(buf.len()).min(wire.chunk.max(1));
        for (dst, src) in buf.iter_mut().zip(wire.to_client.drain(..n)) {
            *dst = src;
        }
        Poll::Ready(Ok(n))
    }
}

impl portnet::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, ErrorKind>> {
        self.0.borrow_mut().from_client.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        Poll::Ready(Ok(()))
    }
}

impl portnet::SocketOptions for Conn {
    fn set_option(&self, _option: portnet::SocketOption) -> Result<(), ErrorKind> {
        Ok(())
    }
    fn option(&self, _name: portnet::SocketOptionName) -> Result<portnet::SocketOption, ErrorKind> {
        Err(ErrorKind::Unsupported)
    }
}

impl portnet::TcpStream for Conn {
    type ReadHalf<'a>
        = Conn
    where
        Self: 'a;
    type WriteHalf<'a>
        = Conn
    where
        Self: 'a;
    fn split(&mut self) -> (Conn, Conn) {
        (self.clone(), self.clone())
    }
    fn local_addr(&self) -> Result<SocketAddr, ErrorKind> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 50000)))
    }
    fn peer_addr(&self) -> Result<SocketAddr, ErrorKind> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 443)))
    }
    fn abort(self) {}
}

/// Input bytes, front to back; zeros once used up.
pub struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Self(data)
    }
    pub fn u8(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (taken, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        taken
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `n` bytes: the input's, then a pattern, so that lengths are not limited
    /// by the input's size.
    fn payload(&mut self, n: usize, counter: &mut u8) -> Vec<u8> {
        let mut out = self.take(n).to_vec();
        while out.len() < n {
            *counter = counter.wrapping_add(1);
            out.push(*counter);
        }
        out
    }
}

/// The TLS 1.3 server's record protection after `dangerous_extract_secrets`:
/// TLS_AES_128_GCM_SHA256, RFC 8446 §5.2–5.3.
struct Sealer {
    key: aead::LessSafeKey,
    iv: [u8; 12],
    seq: u64,
}

impl Sealer {
    fn new(seq: u64, secrets: ConnectionTrafficSecrets) -> Self {
        let ConnectionTrafficSecrets::Aes128Gcm { key, iv } = secrets else {
            panic!("the server's only TLS 1.3 suite is AES-128-GCM");
        };
        let key = aead::UnboundKey::new(&aead::AES_128_GCM, key.as_ref()).expect("a key");
        Self {
            key: aead::LessSafeKey::new(key),
            iv: iv.as_ref().try_into().expect("a 12-byte IV"),
            seq,
        }
    }

    /// Stands in for the live server while its keys are taken out; never seals.
    fn placeholder() -> Self {
        let key = aead::UnboundKey::new(&aead::AES_128_GCM, &[0; 16]).expect("a key");
        Self {
            key: aead::LessSafeKey::new(key),
            iv: [0; 12],
            seq: 0,
        }
    }

    /// One record whose inner plaintext is `inner` (content, type, padding).
    fn seal(&mut self, inner: &[u8]) -> Vec<u8> {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        self.seq += 1;
        let length = u16::try_from(inner.len() + 16).expect("a record length");
        let mut record = vec![0x17, 3, 3];
        record.extend_from_slice(&length.to_be_bytes());
        let mut body = inner.to_vec();
        self.key
            .seal_in_place_append_tag(
                aead::Nonce::assume_unique_for_key(nonce),
                aead::Aad::from(&record[..5]),
                &mut body,
            )
            .expect("sealing");
        record.extend_from_slice(&body);
        record
    }
}

enum Server {
    Live(Box<ServerConnection>),
    Sealed(Sealer),
}

/// What the client may answer a step of the script with.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Verdict {
    /// Legitimate: the client goes on.
    Fine,
    /// The client may go on or fail with one of these kinds.
    May(&'static [ErrorKind]),
    /// The client must fail, with one of these kinds.
    Must(&'static [ErrorKind]),
}

const BAD_RECORD: &[ErrorKind] = &[ErrorKind::InvalidData];
const ALERT: &[ErrorKind] = &[ErrorKind::ConnectionAborted, ErrorKind::InvalidData];
const TRUNCATED: &[ErrorKind] = &[ErrorKind::UnexpectedEof];
const NOT_IMPLEMENTED: &[ErrorKind] = &[
    ErrorKind::InvalidData,
    ErrorKind::ConnectionAborted,
    ErrorKind::Other,
];

/// embedded-tls 0.19 panics (`unimplemented!()`) on a handshake message after
/// the handshake that it can parse and that is not a NewSessionTicket
/// (ServerHello, EncryptedExtensions, Certificate, CertificateRequest,
/// CertificateVerify, Finished): a finding the wrapper cannot prevent, since the
/// message is encrypted (docs/reliability.md). So that the target goes on
/// finding other things, those types become KeyUpdate (which it rejects with
/// an error) in every message of the record. Bounded by the record's length.
fn avoid_embedded_tls_panic(content: &mut [u8]) {
    let mut at = 0;
    while at + 4 <= content.len() {
        if matches!(content[at], 2 | 8 | 11 | 13 | 15 | 20) {
            content[at] = 24;
        }
        let length = usize::from(content[at + 1]) << 16
            | usize::from(content[at + 2]) << 8
            | usize::from(content[at + 3]);
        at += 4 + length;
    }
}

/// Which client: what its documentation lets it do differently.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Client {
    Rustls,
    /// embedded-tls: TLS 1.3 only, and KeyUpdate is not implemented (the read
    /// fails with `TlsKind::Other`, as tls/tests/embedded_tls.rs documents).
    Embedded,
}

/// The server side and the bookkeeping of what it sent.
pub struct Script<'a> {
    input: Bytes<'a>,
    wire: W,
    server: Server,
    client: Client,
    /// Application data the server sent, in order, up to the first step the
    /// client must fail on: what the client may deliver.
    pub expected: Vec<u8>,
    /// Whether every step so far was legitimate and certain (then the client
    /// must deliver all of `expected`).
    certain: bool,
    /// Kinds the client may fail with so far, and whether it must.
    allowed: Vec<ErrorKind>,
    must_fail: bool,
    /// The server sent close_notify (in a certain run: the end is clean).
    closed: bool,
    counter: u8,
    /// What the live server received from the client, decrypted.
    pub server_got: Vec<u8>,
    server_failed: bool,
    /// The sealer's keys are older than the client's (after a KeyUpdate).
    stale: bool,
    /// KeyUpdates since the last application data: rustls refuses more than
    /// 32 in a row (a peer that only updates keys is tying it up).
    key_updates: u32,
}

impl<'a> Script<'a> {
    /// The end of the script: the server's FIN.
    fn finish(&mut self) {
        self.flush_server();
        self.wire.borrow_mut().eof = true;
    }

    fn judge(&mut self, verdict: Verdict) {
        // After close_notify the client may have stopped reading: what follows
        // it can no longer be required to fail.
        let verdict = match verdict {
            Verdict::Must(kinds) if self.closed => Verdict::May(kinds),
            v => v,
        };
        match verdict {
            Verdict::Fine => {}
            Verdict::May(kinds) => {
                self.certain = false;
                self.allowed.extend_from_slice(kinds);
            }
            Verdict::Must(kinds) => {
                self.certain = false;
                self.allowed.extend_from_slice(kinds);
                self.must_fail = true;
            }
        }
    }

    /// Data the client may deliver: only before anything it must fail on, and
    /// before the end.
    fn data(&mut self, data: &[u8]) {
        if !data.is_empty() {
            self.key_updates = 0;
        }
        if !self.must_fail && !self.closed {
            self.expected.extend_from_slice(data);
        }
    }

    fn push(&self, bytes: &[u8]) {
        self.wire.borrow_mut().to_client.extend(bytes);
    }

    /// Moves the live server's records onto the wire and the client's into it.
    pub fn flush_server(&mut self) {
        let Server::Live(server) = &mut self.server else {
            return;
        };
        let mut wire = self.wire.borrow_mut();
        // After its close_notify the server reads no more: embedded-tls answers
        // one with a close_notify in plaintext, which rustls rejects, and rustls'
        // debug assertions do not expect an error after close_notify.
        if self.closed {
            self.server_failed = true;
        }
        if !self.server_failed && !wire.from_client.is_empty() {
            let input = std::mem::take(&mut wire.from_client);
            let mut slice = &input[..];
            // Each round takes at least one byte or stops.
            while !slice.is_empty() {
                match server.read_tls(&mut slice) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                if let Err(e) = server.process_new_packets() {
                    if trace() {
                        eprintln!("the server failed: {e}");
                    }
                    // The client's alert after a hostile record, or its
                    // close_notify followed by more: the server is done.
                    self.server_failed = true;
                    break;
                }
            }
            let mut buf = [0u8; 4096];
            // Each round drains some plaintext or stops.
            loop {
                match server.reader().read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.server_got.extend_from_slice(&buf[..n]),
                }
            }
        }
        // Each round moves at least one byte or stops.
        while server.wants_write() {
            let mut out = Vec::new();
            match server.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => wire.to_client.extend(out),
            }
        }
    }

    /// One step of the script; false when the script is over.
    fn step(&mut self) -> bool {
        if self.input.is_empty() {
            return false;
        }
        let op = self.input.u8();
        match op % 12 {
            // Application data, up to a little over two full records.
            0..=2 => {
                let n = match op / 12 % 4 {
                    0 => usize::from(self.input.u8()),
                    1 => usize::from(self.input.u16()) % 40_000,
                    _ => usize::from(self.input.u8() % 32),
                };
                let data = self.input.payload(n, &mut self.counter);
                if matches!(self.server, Server::Live(_)) {
                    let mut rest = &data[..];
                    // rustls takes what fits its send buffer; what it took
                    // leaves before the next round. Bounded: 40 000 bytes.
                    for _ in 0..64 {
                        let Server::Live(server) = &mut self.server else {
                            unreachable!("checked above");
                        };
                        let k = match server.writer().write(rest) {
                            Ok(k) if k > 0 => k,
                            _ => break,
                        };
                        self.data(&rest[..k]);
                        rest = &rest[k..];
                        self.flush_server();
                        if rest.is_empty() {
                            break;
                        }
                    }
                } else {
                    // Records of at most one fragment, as a server sends them.
                    for fragment in data.chunks(MAX_FRAGMENT) {
                        let mut inner = fragment.to_vec();
                        inner.push(23);
                        if self.seal(&inner, Verdict::Fine) {
                            self.data(fragment);
                        }
                    }
                }
            }
            3 => {
                match &mut self.server {
                    Server::Live(server) => server.send_close_notify(),
                    Server::Sealed(_) => {
                        self.seal(&[1, 0, 21], Verdict::Fine);
                    }
                }
                self.closed = true;
            }
            // A raw record: a content type, a version, a length and a body.
            4 | 5 => {
                let kind = self.input.u8();
                let typ = match kind % 4 {
                    0 => self.input.u8(),
                    // Plaintext under the session's keys: an alert, a handshake
                    // message (a second ServerHello, say), a ChangeCipherSpec.
                    1 => 21 + self.input.u8() % 2,
                    2 => 20,
                    _ => 23,
                };
                let n = usize::from(self.input.u8()) + if kind & 4 != 0 { 256 } else { 0 };
                let body = self.input.payload(n, &mut self.counter);
                let mut record = vec![typ, 3, 3];
                record.extend_from_slice(&(body.len() as u16).to_be_bytes());
                record.extend_from_slice(&body);
                self.push(&record);
                // Nothing in plaintext is acceptable after the handshake, and
                // garbage under the session's keys fails to decrypt.
                self.judge(Verdict::Must(BAD_RECORD));
            }
            // A record longer than any record may be (TLS 1.2's limit, the
            // larger one), and some of its body.
            6 => {
                let length = MAX_CIPHERTEXT_12 + 1 + usize::from(self.input.u16()) % 20_000;
                let mut record = vec![23, 3, 3];
                record.extend_from_slice(&(length as u16).to_be_bytes());
                let n = usize::from(self.input.u8());
                record.extend_from_slice(&self.input.payload(n, &mut self.counter));
                self.push(&record);
                self.judge(Verdict::Must(BAD_RECORD));
            }
            // A record cut short, then the FIN.
            7 => {
                self.flush_server();
                let length = 1 + usize::from(self.input.u16()) % MAX_FRAGMENT;
                let cut = usize::from(self.input.u16()) % (length + 5);
                let mut record = vec![23, 3, 3];
                record.extend_from_slice(&(length as u16).to_be_bytes());
                record.extend_from_slice(&self.input.payload(length, &mut self.counter));
                record.truncate(cut);
                self.push(&record);
                self.finish();
                // The embedded-tls wrapper refuses an encrypted record too short
                // for the suite by its header, before it sees the cut.
                let kinds: &'static [ErrorKind] = match self.client {
                    Client::Embedded if length < 17 && cut >= 5 => {
                        &[ErrorKind::UnexpectedEof, ErrorKind::InvalidData]
                    }
                    _ => TRUNCATED,
                };
                if !self.closed {
                    self.judge(Verdict::Must(kinds));
                }
                return false;
            }
            // A sealed record of the fuzzer's making (sealed server only).
            8 | 9 => {
                if matches!(self.server, Server::Live(_)) {
                    return true;
                }
                self.sealed_content();
            }
            // A key update (the live server), or one sealed by hand after which
            // the sealer's keys are stale (it cannot derive the next ones).
            10 => match &mut self.server {
                Server::Live(server) => {
                    // As many input bytes as the sealed case takes.
                    self.input.u8();
                    if server.refresh_traffic_keys().is_ok() {
                        self.key_updates += 1;
                        match self.client {
                            Client::Embedded => self.judge(Verdict::Must(&[ErrorKind::Other])),
                            Client::Rustls if self.key_updates > 32 => {
                                self.judge(Verdict::May(BAD_RECORD));
                            }
                            Client::Rustls => {}
                        }
                    }
                }
                Server::Sealed(_) => {
                    // update_not_requested or update_requested.
                    let request = self.input.u8() & 1;
                    let verdict = match self.client {
                        Client::Rustls => Verdict::Fine,
                        Client::Embedded => Verdict::Must(&[ErrorKind::Other]),
                    };
                    if self.seal(&[24, 0, 0, 1, request, 22], verdict) {
                        // Later records are under the old keys: the client must
                        // fail on the next one.
                        self.stale = true;
                    }
                }
            },
            // The read size.
            _ => self.wire.borrow_mut().chunk = 1 + usize::from(self.input.u16()) % 20_000,
        }
        self.flush_server();
        true
    }

    /// Seals `inner` as the server's next record with `verdict`; false when the
    /// keys are stale (then the client must fail on it, whatever it holds).
    fn seal(&mut self, inner: &[u8], verdict: Verdict) -> bool {
        let Server::Sealed(sealer) = &mut self.server else {
            unreachable!("sealing needs the sealed server");
        };
        let record = sealer.seal(inner);
        self.push(&record);
        if self.stale {
            self.judge(Verdict::Must(BAD_RECORD));
            false
        } else {
            self.judge(verdict);
            true
        }
    }

    /// A sealed record with the fuzzer's inner content type, content and padding.
    fn sealed_content(&mut self) {
        let shape = self.input.u8();
        let n = match shape >> 5 {
            0 | 1 => usize::from(self.input.u8()),
            // Around the limit of one fragment.
            2 => MAX_FRAGMENT - 8 + usize::from(self.input.u8() % 16),
            _ => usize::from(self.input.u8() % 8),
        };
        let mut inner = self.input.payload(n, &mut self.counter);
        match shape % 8 {
            0 => inner.push(21),
            1 => inner.push(22),
            2 => inner.push(23),
            3 => inner.push(20),
            // No type byte: the content's last non-zero byte is the type, and
            // an empty record has none.
            4 => {}
            5 => inner.push(24),
            _ => inner.push(self.input.u8()),
        }
        let padding = usize::from(self.input.u8() % 8) * if shape & 8 != 0 { 64 } else { 1 };
        inner.resize(inner.len() + padding, 0);
        // As the receiver sees it (RFC 8446 §5.4): the last non-zero byte is
        // the type, and the inner plaintext is at most 2^14 + 1 bytes.
        let (typ, content) = match inner.iter().rposition(|&b| b != 0) {
            Some(i) => (inner[i], inner[..i].to_vec()),
            None => (0, Vec::new()),
        };
        if typ == 22 && self.client == Client::Embedded {
            let i = inner.iter().rposition(|&b| b != 0).expect("a type");
            avoid_embedded_tls_panic(&mut inner[..i]);
        }
        let content = if typ == 22 {
            inner[..content.len()].to_vec()
        } else {
            content
        };
        let oversized = inner.len() > MAX_FRAGMENT + 1;
        let verdict = match (typ, self.client) {
            _ if oversized => Verdict::Must(BAD_RECORD),
            (23, _) => Verdict::Fine,
            // close_notify: in TLS 1.3 the level is implied by the alert and
            // may be ignored (RFC 8446 §6).
            (21, _) if content.len() == 2 && content[1] == 0 && matches!(content[0], 1 | 2) => {
                Verdict::Fine
            }
            // Every alert but close_notify and user_canceled is an error alert
            // whatever its level; rustls names a fatal one a peer alert and a
            // warning one misbehaviour. embedded-tls reports every alert but
            // close_notify as an internal error after the handshake, so its
            // wrapper cannot tell it from a bad record.
            (21, Client::Rustls) if content.len() == 2 && content[0] == 2 => {
                Verdict::Must(&[ErrorKind::ConnectionAborted])
            }
            (21, Client::Rustls) if content.len() == 2 && content[0] == 1 && content[1] != 90 => {
                Verdict::Must(ALERT)
            }
            (21, Client::Embedded) if content.len() == 2 && matches!(content[0], 1 | 2) => {
                Verdict::Must(BAD_RECORD)
            }
            (21, _) => Verdict::May(ALERT),
            // A session ticket may be fine, a KeyUpdate makes the sealer's keys
            // stale; anything else is an unexpected message.
            (22, Client::Rustls) => Verdict::May(ALERT),
            (22, Client::Embedded) => Verdict::May(NOT_IMPLEMENTED),
            // embedded-tls reports the inner types it does not implement
            // (ChangeCipherSpec, none, unknown) as `Unimplemented`, the error
            // KeyUpdate gets: `TlsKind::Other`.
            (_, Client::Embedded) => Verdict::Must(NOT_IMPLEMENTED),
            _ => Verdict::Must(BAD_RECORD),
        };
        if self.seal(&inner, verdict) {
            match typ {
                23 if !oversized => self.data(&content),
                21 if content.len() == 2 && content[1] == 0 => self.closed = true,
                _ => {}
            }
        }
    }
}

/// The session: a script driven by `data` against a connected client `conn`.
pub struct Session<'a> {
    pub script: Script<'a>,
    delivered: Vec<u8>,
    client_sent: Vec<u8>,
    /// The client's first failure.
    failed: Option<ErrorKind>,
    /// The client's read returned 0: the end.
    ended: bool,
    read_size: usize,
    polls: u32,
}

/// The server's half before the handshake, and the wire.
pub fn start(data: &[u8], client: Client) -> (Script<'_>, W, bool) {
    let mut input = Bytes::new(data);
    let mode = input.u8();
    let (config, sealed) = match (client, mode % 3) {
        (Client::Rustls, 1) => (pki().tls12.clone(), false),
        (_, 2) => (pki().tls13.clone(), true),
        _ => (pki().tls13.clone(), false),
    };
    let wire = W::default();
    wire.borrow_mut().chunk = [1, 5, 64, 1500, 20_000][usize::from(mode >> 2) % 5];
    let server = ServerConnection::new(config).expect("a server session");
    let script = Script {
        input,
        wire: wire.clone(),
        server: Server::Live(Box::new(server)),
        client,
        expected: Vec::new(),
        certain: true,
        allowed: Vec::new(),
        must_fail: false,
        closed: false,
        counter: 0,
        server_got: Vec::new(),
        server_failed: false,
        stale: false,
        key_updates: 0,
    };
    (script, wire, sealed)
}

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

/// Polls the client's connect to the end, the server answering between polls.
pub fn handshake<F: Future>(script: &mut Script<'_>, connect: F) -> F::Output {
    let mut connect = std::pin::pin!(connect);
    for _ in 0..MAX_POLLS_PER_OP {
        if let Poll::Ready(out) = connect.as_mut().poll(&mut cx()) {
            script.flush_server();
            return out;
        }
        let before = script.wire.borrow().to_client.len();
        script.flush_server();
        let wire = script.wire.borrow();
        assert!(
            wire.to_client.len() > before || !wire.to_client.is_empty(),
            "the handshake stalled"
        );
    }
    panic!("the handshake took more than {MAX_POLLS_PER_OP} polls");
}

type TlsError = portnet_tls::Error<ErrorKind>;

/// `PORTNET_FUZZ_TRACE=1` prints each run's outcome (to see what a seed does).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("PORTNET_FUZZ_TRACE").is_some())
}

fn budget(bytes: usize) -> u32 {
    u32::try_from(bytes)
        .unwrap_or(u32::MAX)
        .saturating_add(MAX_POLLS_PER_OP)
}

impl<'a> Session<'a> {
    /// After an honest handshake: extracts the keys if the script seals.
    pub fn new(mut script: Script<'a>, sealed: bool) -> Self {
        let Server::Live(server) = &script.server else {
            unreachable!("the server starts live");
        };
        assert!(
            !server.is_handshaking(),
            "the server's handshake is complete"
        );
        if sealed {
            let Server::Live(server) =
                std::mem::replace(&mut script.server, Server::Sealed(Sealer::placeholder()))
            else {
                unreachable!("checked above");
            };
            let secrets = server
                .dangerous_extract_secrets()
                .expect("extractable keys");
            script.server = Server::Sealed(Sealer::new(secrets.tx.0, secrets.tx.1));
        }
        Self {
            script,
            delivered: Vec::new(),
            client_sent: Vec::new(),
            failed: None,
            ended: false,
            read_size: 4096,
            polls: 0,
        }
    }

    /// Runs the script against `conn` and checks the client's behaviour.
    pub fn run<S>(mut self, conn: &mut S)
    where
        S: portnet::Read + portnet::Write + portnet::ErrorType<Error = TlsError> + Unpin,
    {
        let mut buf = vec![0u8; 20_000];
        for _ in 0..MAX_STEPS {
            let more = self.script.step();
            let choice = self.script.input.u8();
            self.read_size = [1, 7, 512, 16_384, 20_000][usize::from(choice % 5)];
            // Reading only after some steps puts records of several steps (good
            // ones and a bad one) into one read.
            if choice & 0x40 == 0 {
                self.drain(conn, &mut buf);
            }
            if choice & 0x80 != 0 {
                let n = usize::from(self.script.input.u8()) * 8;
                let data = self.script.input.payload(n, &mut self.script.counter);
                self.write(conn, &data);
            }
            if !more {
                break;
            }
        }
        self.script.finish();
        self.drain(conn, &mut buf);
        assert!(
            self.ended || self.failed.is_some(),
            "the client neither ended nor failed after the server's FIN"
        );
        // Nothing more once the end or an error was seen.
        self.drain(conn, &mut buf);
        self.close(conn);
        self.script.flush_server();
        let s = &self.script;
        if trace() {
            eprintln!(
                "failed {:?}, ended {}, delivered {} of {} expected, allowed {:?}, must fail {}, certain {}, client wrote {}, server got {}",
                self.failed,
                self.ended,
                self.delivered.len(),
                s.expected.len(),
                s.allowed,
                s.must_fail,
                s.certain,
                self.client_sent.len(),
                s.server_got.len()
            );
        }
        assert!(
            s.server_got.len() <= self.client_sent.len()
                && s.server_got == self.client_sent[..s.server_got.len()],
            "the server received what the client did not write"
        );
        if s.must_fail {
            assert!(
                self.failed.is_some(),
                "the client accepted a hostile record (allowed: {:?})",
                s.allowed
            );
        }
        if s.certain {
            assert_eq!(
                self.delivered.len(),
                s.expected.len(),
                "a clean stream was not delivered in full"
            );
            let want = if s.closed {
                None
            } else {
                Some(ErrorKind::UnexpectedEof)
            };
            assert_eq!(self.failed, want, "a clean stream's end");
            // The sealed server does not read (its keys are with the sealer).
            if !s.server_failed && matches!(s.server, Server::Live(_)) {
                assert_eq!(
                    s.server_got.len(),
                    self.client_sent.len(),
                    "the client's writes did not all arrive"
                );
            }
        }
    }

    /// Counts one poll against the current operation's budget.
    fn poll_budget(&mut self) {
        self.polls = self.polls.saturating_sub(1);
        assert!(
            self.polls > 0,
            "a client operation took more polls than it has bytes to move"
        );
    }

    /// Reads until the client waits for the server, ends or fails.
    fn drain<S>(&mut self, conn: &mut S, buf: &mut [u8])
    where
        S: portnet::Read + portnet::ErrorType<Error = TlsError> + Unpin,
    {
        self.polls = budget(self.script.wire.borrow().to_client.len());
        let size = self.read_size.min(buf.len());
        loop {
            self.poll_budget();
            match Pin::new(&mut *conn).poll_read(&mut cx(), &mut buf[..size]) {
                Poll::Ready(Ok(0)) => {
                    self.ended = true;
                    return;
                }
                Poll::Ready(Ok(n)) => {
                    assert!(
                        self.failed.is_none(),
                        "data after the error {:?}",
                        self.failed
                    );
                    assert!(!self.ended, "data after the end");
                    self.delivered.extend_from_slice(&buf[..n]);
                    let s = &self.script;
                    assert!(
                        self.delivered.len() <= s.expected.len()
                            && self.delivered == s.expected[..self.delivered.len()],
                        "the client delivered what the server did not send as application data"
                    );
                }
                Poll::Ready(Err(e)) => {
                    self.failure(&e);
                    return;
                }
                Poll::Pending => {
                    let wire = self.script.wire.borrow();
                    assert!(
                        wire.to_client.is_empty() && !wire.eof,
                        "the client waits with bytes or the end to read"
                    );
                    return;
                }
            }
        }
    }

    fn failure(&mut self, e: &TlsError) {
        assert!(
            e.tls_kind().is_some(),
            "a transport error from a perfect transport: {e}"
        );
        let kind = e.kind();
        if self.failed.is_some() || self.ended {
            // Failing again is what a failed or finished session does.
            return;
        }
        let s = &self.script;
        let truncated = kind == ErrorKind::UnexpectedEof && s.wire.borrow().eof && !s.closed;
        assert!(
            truncated || s.allowed.contains(&kind),
            "the client failed with {kind:?} ({e}); the script allows {:?}",
            s.allowed
        );
        self.failed = Some(kind);
    }

    /// The client writes `data` and flushes; bounded, whatever the outcome.
    fn write<S>(&mut self, conn: &mut S, data: &[u8])
    where
        S: portnet::Write + portnet::ErrorType<Error = TlsError> + Unpin,
    {
        self.polls = budget(data.len());
        let mut rest = data;
        while !rest.is_empty() {
            self.poll_budget();
            match Pin::new(&mut *conn).poll_write(&mut cx(), rest) {
                Poll::Ready(Ok(n)) => {
                    assert!(n > 0 && n <= rest.len(), "a write of {n} bytes");
                    self.client_sent.extend_from_slice(&rest[..n]);
                    rest = &rest[n..];
                }
                Poll::Ready(Err(e)) => return self.write_failure(&e),
                Poll::Pending => panic!("a write pends on a stack that never does"),
            }
        }
        self.poll_budget();
        match Pin::new(&mut *conn).poll_flush(&mut cx()) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return self.write_failure(&e),
            Poll::Pending => panic!("a flush pends on a stack that never does"),
        }
        self.script.flush_server();
    }

    fn write_failure(&mut self, e: &TlsError) {
        assert!(
            e.tls_kind().is_some(),
            "a transport error from a perfect transport: {e}"
        );
        assert!(
            self.failed.is_some() || self.ended,
            "a write failed ({e}) on a session that had not"
        );
    }

    fn close<S>(&mut self, conn: &mut S)
    where
        S: portnet::Write + portnet::ErrorType<Error = TlsError> + Unpin,
    {
        self.polls = budget(0);
        self.poll_budget();
        match Pin::new(&mut *conn).poll_close(&mut cx()) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => self.write_failure(&e),
            Poll::Pending => panic!("a close pends on a stack that never does"),
        }
    }
}
