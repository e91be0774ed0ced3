//! Records a hostile server seals under the session's own keys after an honest
//! handshake (what the `records` fuzz targets in tls/fuzz found): both wrappers
//! fail with `TlsKind::Protocol` (`InvalidData`) after the data sent before,
//! never a panic and never the record's content.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

mod support;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use portnet::{Error as _, ErrorKind, ReadExt as _, TcpConnect as _};
use portnet_tls::rustls::{self, ConnectionTrafficSecrets};
use portnet_tls::{Error, TlsKind};
use portnet_tokio::Tokio;
use support::Ca;

/// What the server sends after `hello`.
#[derive(Clone)]
enum Then {
    /// One record whose inner plaintext (content, type, padding: RFC 8446
    /// §5.4) is this, sealed under the server's traffic keys.
    Sealed(Vec<u8>),
    /// These bytes as they are: what anyone on the path can inject.
    Raw(Vec<u8>),
    /// The first bytes as they are, then the second as a sealed inner plaintext.
    GarbageThenSealed(Vec<u8>, Vec<u8>),
}

fn sealing_server(ca: &Ca, inner: Vec<u8>) -> SocketAddr {
    server(ca, Then::Sealed(inner))
}

/// A TLS 1.3 server (a std thread) that completes the handshake, sends `hello`
/// as application data, then `then`.
fn server(ca: &Ca, then: Then) -> SocketAddr {
    // The one suite both clients offer and the sealer below implements.
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites = vec![rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256];
    let (cert, key) = ca.server_pair(&["localhost"]);
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .expect("a certificate and key");
    config.enable_secret_extraction = true;
    config.send_tls13_tickets = 0;
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        let Ok((mut socket, _)) = listener.accept() else {
            return;
        };
        let _ = socket.set_read_timeout(Some(Duration::from_secs(10)));
        let mut session = rustls::ServerConnection::new(config).expect("a session");
        while session.is_handshaking() {
            if session.complete_io(&mut socket).is_err() {
                return;
            }
        }
        // `hello` and what follows leave in one write, so that the client
        // reads them together where the stack allows.
        let _ = session.writer().write_all(b"hello");
        let mut out = Vec::new();
        while session.wants_write() {
            if session.write_tls(&mut out).is_err() {
                return;
            }
        }
        let inner = match then {
            Then::Raw(bytes) => {
                out.extend_from_slice(&bytes);
                let _ = socket.write_all(&out);
                let mut sink = [0u8; 512];
                while matches!(socket.read(&mut sink), Ok(n) if n > 0) {}
                return;
            }
            Then::Sealed(inner) => inner,
            Then::GarbageThenSealed(garbage, inner) => {
                out.extend_from_slice(&garbage);
                inner
            }
        };
        let secrets = session
            .dangerous_extract_secrets()
            .expect("extractable keys");
        let (seq, ConnectionTrafficSecrets::Aes128Gcm { key, iv }) = secrets.tx else {
            panic!("both clients speak TLS_AES_128_GCM_SHA256");
        };
        let mut nonce: [u8; 12] = iv.as_ref().try_into().expect("a 12-byte IV");
        for (n, s) in nonce[4..].iter_mut().zip(seq.to_be_bytes()) {
            *n ^= s;
        }
        let key = ring::aead::UnboundKey::new(&ring::aead::AES_128_GCM, key.as_ref())
            .expect("an AES-128 key");
        let length = u16::try_from(inner.len() + 16).expect("a record length");
        let mut record = vec![23, 3, 3];
        record.extend_from_slice(&length.to_be_bytes());
        let mut body = inner;
        ring::aead::LessSafeKey::new(key)
            .seal_in_place_append_tag(
                ring::aead::Nonce::assume_unique_for_key(nonce),
                ring::aead::Aad::from(&record[..5]),
                &mut body,
            )
            .expect("sealing");
        record.extend_from_slice(&body);
        out.extend_from_slice(&record);
        let _ = socket.write_all(&out);
        // Until the client closes (bounded by the read timeout).
        let mut sink = [0u8; 512];
        while matches!(socket.read(&mut sink), Ok(n) if n > 0) {}
    });
    addr
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// What a client read after `hello`: up to three failed reads, or up to the
/// first that did not fail.
type Reads = Vec<Result<Vec<u8>, Error<std::io::Error>>>;

async fn reads_after_hello<S>(conn: &mut S) -> Reads
where
    S: portnet::Read + portnet::ErrorType<Error = Error<std::io::Error>> + Unpin,
{
    let mut buf = vec![0u8; 20_000];
    let n = conn.read(&mut buf).await.expect("the data before");
    assert_eq!(&buf[..n], b"hello");
    let mut reads = Vec::new();
    for _ in 0..3 {
        let read = conn.read(&mut buf).await.map(|n| buf[..n].to_vec());
        let done = read.is_ok();
        reads.push(read);
        if done {
            break;
        }
    }
    reads
}

fn embedded_client(ca: &Ca, addr: SocketAddr) -> Reads {
    let ca = Box::leak(ca.der().to_vec().into_boxed_slice());
    let read = Box::leak(vec![0u8; 2 * 16_640].into_boxed_slice());
    let write = Box::leak(vec![0u8; 2 * 4_096].into_boxed_slice());
    let tls = portnet_tls::embedded::TlsConnect::new(
        Tokio::new(),
        "localhost",
        ca,
        rand_core::OsRng,
        read,
        write,
    );
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut conn = tls.connect(addr).await.expect("an honest handshake");
            reads_after_hello(&mut conn).await
        })
        .await
        .expect("within 10 s")
    })
}

fn rustls_client(ca: &Ca, addr: SocketAddr) -> Reads {
    let tls = portnet_tls::TlsConnect::new(Tokio::new(), "localhost", ca.roots()).expect("a name");
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut conn = tls.connect(addr).await.expect("an honest handshake");
            reads_after_hello(&mut conn).await
        })
        .await
        .expect("within 10 s")
    })
}

/// The read after `hello` fails with `Protocol`, and so does every read after
/// it: no data after the failure.
#[track_caller]
fn protocol_error(reads: Reads) {
    let e = reads[0].as_ref().expect_err("a hostile record is an error");
    assert_eq!(e.tls_kind(), Some(TlsKind::Protocol), "{e}");
    assert_eq!(e.kind(), ErrorKind::InvalidData, "{e}");
    assert_eq!(reads.len(), 3, "{reads:?}");
    for later in &reads[1..] {
        let e = later.as_ref().expect_err("no data after the failure");
        assert_eq!(e.tls_kind(), Some(TlsKind::Protocol), "{e}");
    }
}

/// A record whose inner plaintext is empty (no content type at all: only the
/// tag). embedded-tls 0.19 unwraps the missing type byte and panics; the
/// wrapper refuses the record by its length before embedded-tls sees it.
#[test]
fn an_empty_sealed_record_is_a_protocol_error() {
    let ca = Ca::new("ca");
    protocol_error(embedded_client(&ca, sealing_server(&ca, Vec::new())));
    protocol_error(rustls_client(&ca, sealing_server(&ca, Vec::new())));
}

/// Application data one byte over the 2^14 a record may carry (RFC 8446 §5.4:
/// record_overflow). embedded-tls 0.19 delivers it; the wrapper refuses a
/// ciphertext longer than the one suite's largest record.
#[test]
fn an_oversized_sealed_record_is_a_protocol_error() {
    let ca = Ca::new("ca");
    let mut inner = vec![b'x'; 16_385];
    inner.push(23);
    protocol_error(embedded_client(&ca, sealing_server(&ca, inner.clone())));
    protocol_error(rustls_client(&ca, sealing_server(&ca, inner)));
}

/// The control: the largest legal record (2^14 bytes of data and its type)
/// still arrives whole through both wrappers.
#[test]
fn a_full_sealed_record_is_delivered() {
    let ca = Ca::new("ca");
    let mut inner = vec![b'y'; 16_384];
    inner.push(23);
    for client in [embedded_client, rustls_client] {
        let reads = client(&ca, sealing_server(&ca, inner.clone()));
        let data = reads[0].as_ref().expect("a full record");
        assert!(
            !data.is_empty() && data.iter().all(|&b| b == b'y'),
            "{data:?}"
        );
    }
}

/// Plaintext records after the handshake, injected by someone on the path
/// (no keys needed). embedded-tls 0.19 took them as they were: a plaintext
/// close_notify ended the session cleanly (a truncation that looks like the
/// end), and a plaintext Finished made it panic (`unimplemented!()`). The
/// wrapper refuses every unencrypted record once the handshake is over.
#[test]
fn injected_plaintext_records_are_protocol_errors() {
    let ca = Ca::new("ca");
    let close_notify = vec![21, 3, 3, 0, 2, 1, 0];
    let mut finished = vec![22, 3, 3, 0, 36, 20, 0, 0, 32];
    finished.extend_from_slice(&[7; 32]);
    let change_cipher_spec = vec![20, 3, 3, 0, 1, 1];
    for record in [close_notify, finished, change_cipher_spec] {
        let then = Then::Raw(record);
        protocol_error(embedded_client(&ca, server(&ca, then.clone())));
        protocol_error(rustls_client(&ca, server(&ca, then)));
    }
}

/// A record that fails to decrypt, then a good one: the session failed at the
/// first and stays failed. embedded-tls drops the bad record and decrypted the
/// next (data after the error); rustls kept the plaintext before a bad record
/// and handed it out after the error. Now the data before comes first (it was
/// authenticated: `hello`), then the failure, for good.
#[test]
fn after_a_bad_record_no_read_returns_data() {
    let ca = Ca::new("ca");
    let mut garbage = vec![23, 3, 3, 0, 40];
    garbage.extend(0..40);
    let mut after = b"after".to_vec();
    after.push(23);
    let then = Then::GarbageThenSealed(garbage, after);
    protocol_error(embedded_client(&ca, server(&ca, then.clone())));
    protocol_error(rustls_client(&ca, server(&ca, then)));
}
