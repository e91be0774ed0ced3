//! The `embedded-tls` wrapper (TLS 1.3, no alloc, caller-provided buffers) on a
//! host backend (tokio): the portnet MQTT client to a mosquitto TLS listener
//! whose certificates the test makes, and the failures told apart.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

#[path = "../../mqtt/tests/common/mod.rs"]
mod mosquitto;
mod support;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use mosquitto::{Mosquitto, free_port};
use portnet::{Error as _, ErrorKind, ReadExt as _, TcpConnect as _, WriteExt as _};
use portnet_tls::embedded::TlsConnect;
use portnet_tls::{Error, TlsKind};
use portnet_tokio::Tokio;
use support::{Ca, Pki, mqtt_round_trip};

/// Buffers for one connection: 2 × 16 640 for reading, 2 × 4 096 for writing.
fn buffers() -> (&'static mut [u8], &'static mut [u8]) {
    (
        Box::leak(vec![0u8; 2 * 16_640].into_boxed_slice()),
        Box::leak(vec![0u8; 2 * 4_096].into_boxed_slice()),
    )
}

fn wrapper(name: &'static str, ca: &'static [u8]) -> TlsConnect<'static, Tokio, rand_core::OsRng> {
    let (read, write) = buffers();
    TlsConnect::new(Tokio::new(), name, ca, rand_core::OsRng, read, write)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

fn leak_der(ca: &Ca) -> &'static [u8] {
    Box::leak(ca.der().to_vec().into_boxed_slice())
}

fn handshake(
    name: &'static str,
    ca: &'static [u8],
    addr: SocketAddr,
) -> Result<(), Error<std::io::Error>> {
    let tls = wrapper(name, ca);
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            tls.connect(addr).await.map(drop)
        })
        .await
        .expect("the handshake ends within 10 s")
    })
}

#[test]
fn embedded_tls_mqtt_and_failures_on_tokio() {
    let pki = Pki::new("embedded");
    let (tls_port, wrong_port) = (free_port(), free_port());
    let extra = pki.listener("127.0.0.1", tls_port, "server")
        + &pki.listener("127.0.0.1", wrong_port, "wrong");
    let broker = Mosquitto::start_with(&extra);
    let tls_addr = SocketAddr::from(([127, 0, 0, 1], tls_port));
    let wrong_addr = SocketAddr::from(([127, 0, 0, 1], wrong_port));
    support::wait_listening(&[tls_addr, wrong_addr]);
    let ca = leak_der(&pki.ca);

    // MQTT over embedded-tls, twice: the buffers are lent again after the first
    // connection is dropped.
    let tls = wrapper("localhost", ca);
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    for round in 0..2 {
        let id = format!("portnet-embedded-tls-{round}");
        let result =
            runtime().block_on(mqtt_round_trip(&tls, Tokio::new(), tls_addr, &id, &payload));
        if let Err(e) = result {
            panic!("round {round}: {e}\nbroker log:\n{}", broker.log());
        }
    }
    // One connection at a time per set of buffers.
    runtime().block_on(async {
        let first = tls.connect(tls_addr).await.expect("a connection");
        let e = tls
            .connect(tls_addr)
            .await
            .expect_err("the buffers are taken");
        assert_eq!(e.tls_kind(), Some(TlsKind::InUse));
        assert_eq!(e.kind(), ErrorKind::OutOfResources);
        drop(first);
        // Raw MQTT over the next one: CONNECT, CONNACK, then close (close_notify
        // and FIN), after which the session is over both ways.
        let mut conn = tls.connect(tls_addr).await.expect("the buffers are back");
        let connect = [
            0x10, 0x10, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 30, 0, 4, b'h', b'a', b'l', b'f',
        ];
        conn.write_all(&connect).await.expect("CONNECT");
        conn.flush().await.expect("flush");
        let mut connack = [0u8; 4];
        conn.read_exact(&mut connack).await.expect("CONNACK");
        assert_eq!(connack, [0x20, 2, 0, 0]);
        conn.close().await.expect("close_notify and FIN");
        conn.close().await.expect("close again");
        let e = conn.write_all(b"x").await.expect_err("writing after close");
        assert_eq!(e.kind(), ErrorKind::BrokenPipe);
        let e = conn
            .read(&mut connack)
            .await
            .expect_err("reading after close");
        assert_eq!(e.tls_kind(), Some(TlsKind::Closed));
    });

    let other = leak_der(&Ca::new("some other CA"));
    let e = handshake("localhost", other, tls_addr).expect_err("an untrusted CA");
    assert_eq!(e.tls_kind(), Some(TlsKind::CertificateNotTrusted), "{e}");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);

    let e = handshake("localhost", ca, wrong_addr).expect_err("a wrong host");
    assert_eq!(e.tls_kind(), Some(TlsKind::HostnameMismatch), "{e}");

    let e = handshake("localhost", ca, broker.addr()).expect_err("a plaintext listener");
    assert!(
        matches!(
            e.tls_kind(),
            Some(TlsKind::HandshakeFailure | TlsKind::Protocol)
        ),
        "{e}"
    );
    let log = broker.log();
    assert!(log.contains("portnet-embedded-tls-1"), "{log}");
}

/// A server that answers the ClientHello with `reply` and closes.
fn hostile(reply: Vec<u8>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        if let Ok((mut s, _)) = listener.accept() {
            let mut hello = [0u8; 512];
            let _ = s.read(&mut hello);
            let _ = s.write_all(&reply);
            let _ = s.shutdown(std::net::Shutdown::Write);
            // Drain until the client closes, so the close is a FIN, not a reset.
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            while matches!(s.read(&mut hello), Ok(n) if n > 0) {}
        }
    });
    addr
}

#[test]
fn embedded_tls_hostile_records_are_errors_not_panics() {
    let ca = leak_der(&Ca::new("ca"));
    let e = handshake(
        "localhost",
        ca,
        hostile(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
    )
    .expect_err("plaintext");
    assert_eq!(e.tls_kind(), Some(TlsKind::Protocol), "{e}");
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    // A record header announcing more than a record may hold.
    let e = handshake("localhost", ca, hostile(vec![0x16, 3, 3, 0xff, 0xff, 0]))
        .expect_err("oversized record");
    assert_eq!(e.tls_kind(), Some(TlsKind::Protocol), "{e}");
    // A fatal handshake_failure alert.
    let e = handshake("localhost", ca, hostile(vec![0x15, 3, 3, 0, 2, 2, 40])).expect_err("alert");
    assert_eq!(e.tls_kind(), Some(TlsKind::HandshakeFailure), "{e}");
    // Pseudo-random bytes in a handshake record, seeded.
    let mut x = 0x1234_5678_u32;
    for round in 0..16 {
        let mut reply = vec![0x16, 3, 3, 0, 200];
        reply.extend((0..200).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        }));
        let e = handshake("localhost", ca, hostile(reply)).expect_err("garbage");
        assert!(e.tls_kind().is_some(), "round {round}: {e}");
    }
    // A server that closes at once.
    let e = handshake("localhost", ca, hostile(Vec::new())).expect_err("closed");
    assert_eq!(e.tls_kind(), Some(TlsKind::HandshakeFailure), "{e}");
}

/// embedded-tls 0.19 does not implement KeyUpdate: the read fails with an error
/// (not a panic) after the data sent before it.
#[test]
fn embedded_tls_key_update_is_an_error_not_a_panic() {
    let ca = Ca::new("ca");
    let addr = support::key_updating_server(&ca);
    let tls = wrapper("localhost", leak_der(&ca));
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut conn = tls.connect(addr).await.expect("TLS");
            conn.write_all(b"hello").await.expect("write");
            conn.flush().await.expect("flush");
            let mut buf = [0u8; 16];
            let n = conn
                .read(&mut buf)
                .await
                .expect("the data before the key update");
            assert_eq!(&buf[..n], b"one");
            let e = conn
                .read(&mut buf)
                .await
                .expect_err("KeyUpdate is not implemented");
            assert_eq!(e.tls_kind(), Some(TlsKind::Other), "{e}");
        })
        .await
        .expect("within 10 s");
    });
}
