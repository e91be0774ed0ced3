//! A fake broker on a tokio listener sends bad bytes: the client fails with a clear
//! error of the right kind (and in 5.0 sends DISCONNECT with the matching reason
//! code), never a panic or a hang.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::time::Duration;

use portnet_mqtt::codec::{ReasonCode, Version};
use portnet_mqtt::{ConnectOptions, Error, ErrorKind, Session, Storage};
use portnet_tokio::Tokio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Runs a client against a fake broker that answers CONNECT with `reply`, and
/// returns the client's error and the bytes it sent after its CONNECT.
async fn against(version: Version, reply: &'static [u8]) -> (Error, Vec<u8>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        // Read the CONNECT: fixed header, then its remaining length.
        let mut head = [0u8; 2];
        sock.read_exact(&mut head).await.unwrap();
        assert_eq!(head[0], 0x10, "CONNECT first");
        let mut body = vec![0u8; usize::from(head[1])];
        sock.read_exact(&mut body).await.unwrap();
        sock.write_all(reply).await.unwrap();
        // Half-close: a reply the client accepts ends in EOF rather than a wait.
        sock.shutdown().await.unwrap();
        let mut after = Vec::new();
        let _ = sock.read_to_end(&mut after).await;
        after
    };
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4, 2>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, _client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "victim").version(version);
    let client = async {
        driver
            .run(&opts)
            .await
            .expect_err("bad input must fail the connection")
    };
    tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(client, broker)
    })
    .await
    .expect("no hang")
}

const CONNACK_V3: &[u8] = b"\x20\x02\x00\x00";
const CONNACK_V5: &[u8] = b"\x20\x03\x00\x00\x00";

#[tokio::test]
async fn reserved_packet_type_is_malformed() {
    let (e, _) = against(Version::V3_1_1, b"\x20\x02\x00\x00\x00\x00").await;
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(matches!(e, Error::Malformed(_)), "{e}");
    let (e, sent) = against(Version::V5, b"\x20\x03\x00\x00\x00\x00\x00").await;
    assert_eq!(e.reason_code(), Some(ReasonCode::MALFORMED_PACKET));
    assert_eq!(sent, b"\xe0\x01\x81", "DISCONNECT with Malformed Packet");
}

#[tokio::test]
async fn oversized_packet_is_too_large() {
    // A PUBLISH announcing 10,000 bytes against a 256-byte receive buffer.
    let mut reply = CONNACK_V5.to_vec();
    reply.extend_from_slice(b"\x30\x90\x4e\x00\x01a");
    let reply: &'static [u8] = reply.leak();
    let (e, sent) = against(Version::V5, reply).await;
    assert_eq!(e.reason_code(), Some(ReasonCode::PACKET_TOO_LARGE), "{e}");
    assert_eq!(sent, b"\xe0\x01\x95");
}

#[tokio::test]
async fn broken_properties_and_strings() {
    // CONNACK with a topic alias property: protocol error.
    let (e, sent) = against(Version::V5, b"\x20\x06\x00\x00\x03\x23\x00\x01").await;
    assert_eq!(e.reason_code(), Some(ReasonCode::PROTOCOL_ERROR), "{e}");
    assert_eq!(sent, b"\xe0\x01\x82");
    // PUBLISH with invalid UTF-8 in its topic.
    let mut reply = CONNACK_V3.to_vec();
    reply.extend_from_slice(b"\x30\x04\x00\x02\xc3\x28");
    let (e, _) = against(Version::V3_1_1, reply.leak()).await;
    assert!(matches!(e, Error::Malformed(_)), "{e}");
    // Unknown topic alias.
    let mut reply = CONNACK_V5.to_vec();
    reply.extend_from_slice(b"\x30\x06\x00\x00\x03\x23\x00\x07");
    let (e, sent) = against(Version::V5, reply.leak()).await;
    assert_eq!(
        e.reason_code(),
        Some(ReasonCode::TOPIC_ALIAS_INVALID),
        "{e}"
    );
    assert_eq!(sent, b"\xe0\x01\x94");
}

#[tokio::test]
async fn unexpected_packets_and_refusals() {
    // A server never sends SUBSCRIBE.
    let mut reply = CONNACK_V3.to_vec();
    reply.extend_from_slice(b"\x82\x08\x00\x01\x00\x03a/b\x01");
    let (e, _) = against(Version::V3_1_1, reply.leak()).await;
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    // First packet not a CONNACK.
    let (e, _) = against(Version::V3_1_1, b"\xd0\x00").await;
    assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
    // Refused (3.1.1 return code 5 = not authorized).
    let (e, _) = against(Version::V3_1_1, b"\x20\x02\x00\x05").await;
    assert_eq!(e, Error::Refused(ReasonCode::NOT_AUTHORIZED));
    // The broker's DISCONNECT reason surfaces.
    let mut reply = CONNACK_V5.to_vec();
    reply.extend_from_slice(b"\xe0\x01\x8e");
    let (e, _) = against(Version::V5, reply.leak()).await;
    assert_eq!(e, Error::ServerDisconnect(ReasonCode::SESSION_TAKEN_OVER));
    // Closing without a word.
    let (e, _) = against(Version::V3_1_1, CONNACK_V3).await;
    assert!(
        matches!(e, Error::Closed | Error::Network(_) | Error::Timeout),
        "{e}"
    );
}

#[tokio::test]
async fn garbage_stream_never_panics() {
    // Every single-byte corruption of a valid session start fails cleanly or runs.
    let base: &[u8] = b"\x20\x03\x00\x00\x00\x32\x09\x00\x03a/b\x00\x07hi\xd0\x01\x00";
    for i in 0..base.len() {
        for b in [0x00u8, 0x7f, 0x80, 0xff] {
            let mut reply = base.to_vec();
            reply[i] = b;
            let (_e, _) = against(Version::V5, reply.leak()).await;
        }
    }
}

/// Accepts one client, reads its CONNECT, sends `script`, then keeps the
/// connection open until the client closes it; returns what the client sent.
async fn scripted_broker(listener: TcpListener, script: Vec<u8>) -> Vec<u8> {
    let (mut sock, _) = listener.accept().await.unwrap();
    let mut head = [0u8; 2];
    sock.read_exact(&mut head).await.unwrap();
    assert_eq!(head[0], 0x10, "CONNECT first");
    let mut body = vec![0u8; usize::from(head[1])];
    sock.read_exact(&mut body).await.unwrap();
    sock.write_all(&script).await.unwrap();
    let mut after = Vec::new();
    let _ = sock.read_to_end(&mut after).await;
    after
}

/// Encodes a 5.0 QoS 0 PUBLISH with a topic alias.
fn aliased_publish(topic: &str, alias: u16, payload: &[u8]) -> Vec<u8> {
    use portnet_mqtt::codec::{Packet, Properties, Property, Publish, QoS};
    let props = [Property::TopicAlias(alias)];
    let packet = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic,
        packet_id: None,
        properties: Properties::new(&props),
        payload,
    });
    let mut buf = vec![0u8; 256];
    let n = packet.encode(Version::V5, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Messages wait in the receive buffer while the application holds one; the
/// broker redefines a topic alias among them: each message gets the topic the
/// alias stood for when it was sent.
#[tokio::test]
async fn topic_aliases_resolve_in_arrival_order_while_messages_wait() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut script = CONNACK_V5.to_vec();
    script.extend(aliased_publish("a/x", 1, b"1"));
    script.extend(aliased_publish("", 1, b"2"));
    script.extend(aliased_publish("b/y", 1, b"3"));
    script.extend(aliased_publish("", 1, b"4"));
    let broker = scripted_broker(listener, script);
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4, 2, 1>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "aliases");
    let app = async {
        let mut got = Vec::new();
        for _ in 0..4 {
            let m = rx.recv().await;
            got.push((m.topic().to_owned(), m.payload().to_vec()));
        }
        client.disconnect(ReasonCode::SUCCESS).await;
        got
    };
    let ((run, got), _sent) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(async { tokio::join!(driver.run(&opts), app) }, broker)
    })
    .await
    .expect("no hang");
    run.unwrap();
    let expected: Vec<(String, Vec<u8>)> =
        [("a/x", b"1"), ("a/x", b"2"), ("b/y", b"3"), ("b/y", b"4")]
            .iter()
            .map(|(t, p)| ((*t).to_owned(), p.to_vec()))
            .collect();
    assert_eq!(got, expected);
}
