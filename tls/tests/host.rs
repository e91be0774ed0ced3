//! TLS over a host backend (tokio): the portnet MQTT client, unchanged, to a
//! mosquitto TLS listener whose certificates the test makes; and the failures a
//! user must be able to tell apart (untrusted CA, wrong hostname, plaintext
//! server, garbage), each with its kind, without a panic or a hang.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

#[path = "../../mqtt/tests/common/mod.rs"]
mod mosquitto;
mod support;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use mosquitto::{Mosquitto, free_port};
use portnet::{
    Error as _, ErrorKind, ReadExt as _, TcpConnect as _, TcpStream as _, WriteExt as _,
};
use portnet_tls::{Error, TlsConnect, TlsKind};
use portnet_tokio::Tokio;
use support::{Ca, Pki, mqtt_round_trip};

/// A broker with its plain listener, a TLS listener for `localhost` and one
/// whose certificate names another host.
struct Brokers {
    pki: Pki,
    broker: Mosquitto,
    tls: SocketAddr,
    wrong: SocketAddr,
}

fn brokers(label: &str) -> Brokers {
    let pki = Pki::new(label);
    let (tls, wrong) = (free_port(), free_port());
    let extra =
        pki.listener("127.0.0.1", tls, "server") + &pki.listener("127.0.0.1", wrong, "wrong");
    let broker = Mosquitto::start_with(&extra);
    let (tls, wrong) = (
        SocketAddr::from(([127, 0, 0, 1], tls)),
        SocketAddr::from(([127, 0, 0, 1], wrong)),
    );
    support::wait_listening(&[tls, wrong]);
    Brokers {
        pki,
        broker,
        tls,
        wrong,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// Connects with `roots` as `name` to `addr`: the handshake's outcome, bounded.
fn handshake(
    roots: portnet_tls::rustls::RootCertStore,
    name: &str,
    addr: SocketAddr,
) -> Result<(), Error<std::io::Error>> {
    let tls = TlsConnect::new(Tokio::new(), name, roots).expect("a valid name");
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            tls.connect(addr).await.map(drop)
        })
        .await
        .expect("the handshake ends within 10 s")
    })
}

#[test]
fn mqtt_client_over_tls_on_tokio() {
    let b = brokers("mqtt");
    let tls = TlsConnect::new(Tokio::new(), "localhost", b.pki.ca.roots()).expect("a valid name");
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let result = runtime().block_on(mqtt_round_trip(
        &tls,
        Tokio::new(),
        b.tls,
        "portnet-tls-tokio",
        &payload,
    ));
    if let Err(e) = result {
        panic!("{e}\nbroker log:\n{}", b.broker.log());
    }
    // The broker saw this client on its TLS listener.
    let log = b.broker.log();
    assert!(log.contains("portnet-tls-tokio"), "{log}");
}

#[test]
fn a_session_by_ip_address_and_half_close() {
    let b = brokers("ip");
    let tls = TlsConnect::new(Tokio::new(), "127.0.0.1", b.pki.ca.roots()).expect("an IP address");
    runtime().block_on(async {
        let mut conn = tls
            .connect(b.tls)
            .await
            .expect("TLS to the broker by IP address");
        let version = conn.with_session(|s| s.protocol_version());
        assert_eq!(version, Some(portnet_tls::rustls::ProtocolVersion::TLSv1_3));
        assert_eq!(conn.peer_addr().expect("peer address"), b.tls);
        // An MQTT 3.1.1 CONNECT, then close_notify + FIN: the broker answers
        // CONNACK, then ends the session (close_notify, so a clean EOF).
        let connect = [
            0x10, 0x10, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 30, 0, 4, b'h', b'a', b'l', b'f',
        ];
        conn.write_all(&connect).await.expect("CONNECT");
        conn.flush().await.expect("flush");
        let mut connack = [0u8; 4];
        conn.read_exact(&mut connack).await.expect("CONNACK");
        assert_eq!(connack, [0x20, 2, 0, 0]);
        conn.close().await.expect("close_notify and FIN");
        let e = conn.write_all(b"x").await.expect_err("writing after close");
        assert_eq!(e.kind(), ErrorKind::BrokenPipe);
        let mut rest = [0u8; 16];
        let end = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut rest))
            .await
            .expect("the broker ends the session within 10 s");
        match end {
            Ok(0) => {}
            Ok(n) => panic!("{n} unexpected bytes after CONNACK"),
            // mosquitto may close TCP without its own close_notify.
            Err(e) => assert_eq!(e.tls_kind(), Some(TlsKind::Truncated), "{e:?}"),
        }
    });
}

#[test]
fn untrusted_ca_is_a_certificate_error() {
    let b = brokers("untrusted");
    let other = Ca::new("some other CA");
    let e = handshake(other.roots(), "localhost", b.tls).expect_err("an untrusted CA");
    assert_eq!(e.tls_kind(), Some(TlsKind::CertificateNotTrusted), "{e}");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
}

#[test]
fn wrong_hostname_is_a_hostname_error() {
    let b = brokers("wrong");
    // The certificate is trusted, but for wrong.example.
    let e = handshake(b.pki.ca.roots(), "localhost", b.wrong).expect_err("a wrong host");
    assert_eq!(e.tls_kind(), Some(TlsKind::HostnameMismatch), "{e}");
    assert_eq!(e.kind(), ErrorKind::PermissionDenied);
    // And the good certificate under a name it does not carry.
    let e = handshake(b.pki.ca.roots(), "other.example", b.tls).expect_err("another name");
    assert_eq!(e.tls_kind(), Some(TlsKind::HostnameMismatch), "{e}");
}

#[test]
fn plaintext_mqtt_listener_is_a_handshake_failure() {
    let b = brokers("plain");
    let e = handshake(b.pki.ca.roots(), "localhost", b.broker.addr()).expect_err("no TLS there");
    assert!(
        matches!(
            e.tls_kind(),
            Some(TlsKind::HandshakeFailure | TlsKind::Protocol)
        ),
        "{e}"
    );
}

#[test]
fn invalid_server_name_is_invalid_input() {
    let e =
        TlsConnect::new(Tokio::new(), "not a name!", Ca::new("ca").roots()).expect_err("bad name");
    assert_eq!(e.tls_kind(), TlsKind::InvalidServerName);
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
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
fn hostile_records_are_errors_not_panics() {
    let roots = || Ca::new("ca").roots();
    // A plaintext protocol's greeting.
    let e = handshake(
        roots(),
        "localhost",
        hostile(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
    )
    .expect_err("plaintext");
    assert_eq!(e.tls_kind(), Some(TlsKind::Protocol), "{e}");
    assert_eq!(e.kind(), ErrorKind::InvalidData);
    // A handshake record header announcing more than a record may hold.
    let e = handshake(
        roots(),
        "localhost",
        hostile(vec![0x16, 3, 3, 0xff, 0xff, 0]),
    )
    .expect_err("oversized record");
    assert_eq!(e.tls_kind(), Some(TlsKind::Protocol), "{e}");
    // A fatal handshake_failure alert.
    let e =
        handshake(roots(), "localhost", hostile(vec![0x15, 3, 3, 0, 2, 2, 40])).expect_err("alert");
    assert_eq!(e.tls_kind(), Some(TlsKind::HandshakeFailure), "{e}");
    // Pseudo-random bytes after a valid-looking record header, seeded.
    let mut x = 0x1234_5678_u32;
    for round in 0..16 {
        let mut reply = vec![0x16, 3, 3, 0, 200];
        reply.extend((0..200).map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        }));
        let e = handshake(roots(), "localhost", hostile(reply)).expect_err("garbage");
        assert!(e.tls_kind().is_some(), "round {round}: {e}");
    }
    // A server that closes at once: the handshake fails, it does not hang.
    let e = handshake(roots(), "localhost", hostile(Vec::new())).expect_err("closed");
    assert_eq!(e.tls_kind(), Some(TlsKind::HandshakeFailure), "{e}");
}

#[test]
fn a_key_update_from_the_server_is_followed() {
    let ca = Ca::new("ca");
    let addr = support::key_updating_server(&ca);
    let tls = TlsConnect::new(Tokio::new(), "localhost", ca.roots()).expect("a valid name");
    runtime().block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut conn = tls.connect(addr).await.expect("TLS");
            conn.write_all(b"hello").await.expect("write");
            conn.flush().await.expect("flush");
            let mut got = Vec::new();
            let mut buf = [0u8; 16];
            // "one", "two" (after the key update), then close_notify: at most a
            // handful of reads.
            for _ in 0..8 {
                match conn.read(&mut buf).await.expect("read") {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
            assert_eq!(got, b"onetwo");
            // The key update rustls owes in answer leaves with the close.
            conn.close().await.expect("close");
        })
        .await
        .expect("within 10 s");
    });
}
