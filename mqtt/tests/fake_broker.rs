//! A fake broker on a tokio listener sends bad bytes: the client fails with a clear
//! error of the right kind (and in 5.0 sends DISCONNECT with the matching reason
//! code), never a panic or a hang.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::time::Duration;

use portnet_mqtt::codec::{Packet, Property, ReasonCode, Version, decode};
use portnet_mqtt::{ConnectOptions, Error, ErrorKind, PublishOptions, Session, Storage};
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
    use portnet_mqtt::codec::{Properties, Publish, QoS};
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

/// Reads one whole packet (fixed header with its remaining length, then the body).
async fn read_packet(sock: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut packet = vec![0u8; 1];
    sock.read_exact(&mut packet).await.unwrap();
    let mut len = 0usize;
    for shift in [0, 7, 14, 21] {
        let mut b = [0u8; 1];
        sock.read_exact(&mut b).await.unwrap();
        packet.push(b[0]);
        len |= usize::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    let start = packet.len();
    packet.resize(start + len, 0);
    sock.read_exact(&mut packet[start..]).await.unwrap();
    packet
}

/// Outgoing topic aliases on the wire: with a broker topic alias maximum of 2 and
/// storage for 4, the client uses 2; a topic seen before goes out as an empty topic
/// plus its alias (fewer bytes); a third topic replaces the least recently used.
#[tokio::test]
async fn outgoing_topic_aliases_shrink_publishes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let topics = [
        "sensors/a/temperature",
        "sensors/a/temperature",
        "sensors/b/humidity",
        "sensors/a/temperature",
        "sensors/c/pressure", // replaces b (least recently used)
        "sensors/a/temperature",
        "sensors/b/humidity", // replaces c
    ];
    let broker = async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let connect = read_packet(&mut sock).await;
        assert_eq!(connect[0], 0x10);
        // CONNACK with topic alias maximum 2.
        sock.write_all(b"\x20\x06\x00\x00\x03\x22\x00\x02")
            .await
            .unwrap();
        let mut packets = Vec::new();
        for _ in 0..topics.len() {
            packets.push(read_packet(&mut sock).await);
        }
        let disconnect = read_packet(&mut sock).await;
        assert_eq!(disconnect[0], 0xe0);
        packets
    };
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4, 4, 1>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "aliaser");
    let app = async {
        let info = client.connected().await.expect("connected");
        assert_eq!(info.topic_alias_maximum, 2);
        for t in topics {
            client
                .publish(t, b"21.5", PublishOptions::default())
                .await
                .unwrap();
        }
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let ((run, ()), packets) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(async { tokio::join!(driver.run(&opts), app) }, broker)
    })
    .await
    .expect("no hang");
    run.unwrap();
    let decoded: Vec<(String, u16, usize)> = packets
        .iter()
        .map(
            |bytes| match decode(bytes, Version::V5).unwrap().unwrap().0 {
                Packet::Publish(p) => {
                    let alias = match p.properties.find(0x23) {
                        Some(Property::TopicAlias(a)) => a,
                        other => panic!("no topic alias: {other:?}"),
                    };
                    assert_eq!(p.payload, b"21.5");
                    (p.topic.to_owned(), alias, bytes.len())
                }
                other => panic!("not a PUBLISH: {other:?}"),
            },
        )
        .collect();
    let expected = [
        ("sensors/a/temperature", 1),
        ("", 1),
        ("sensors/b/humidity", 2),
        ("", 1),
        ("sensors/c/pressure", 2),
        ("", 1),
        ("sensors/b/humidity", 2),
    ];
    let got: Vec<(&str, u16)> = decoded.iter().map(|(t, a, _)| (t.as_str(), *a)).collect();
    assert_eq!(got, expected);
    // The aliased packet is smaller by the topic's length.
    let full = decoded[0].2;
    let short = decoded[1].2;
    assert_eq!(full - short, "sensors/a/temperature".len());
}

/// What the broker says beyond reason codes is kept for the application: CONNACK's
/// reason string, response information and server keep alive, then a DISCONNECT
/// "use another server" with its server reference and reason string.
#[tokio::test]
async fn server_properties_and_disconnect_reason_surface() {
    use portnet_mqtt::codec::{ConnAck, Disconnect, Properties};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let encode = |p: Packet<'_>| {
        let mut buf = vec![0u8; 256];
        let n = p.encode(Version::V5, &mut buf).unwrap();
        buf.truncate(n);
        buf
    };
    let connack_props = [
        Property::ReasonString("welcome"),
        Property::ResponseInformation("resp/base"),
        Property::ServerKeepAlive(7),
    ];
    let disconnect_props = [
        Property::ServerReference("backup.example:1883"),
        Property::ReasonString("maintenance"),
    ];
    let script = encode(Packet::ConnAck(ConnAck {
        session_present: false,
        reason: ReasonCode::SUCCESS,
        properties: Properties::new(&connack_props),
    }));
    let disconnect = encode(Packet::Disconnect(Disconnect {
        reason: ReasonCode::USE_ANOTHER_SERVER,
        properties: Properties::new(&disconnect_props),
    }));
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel::<()>();
    let broker = async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let connect = read_packet(&mut sock).await;
        assert_eq!(connect[0], 0x10);
        sock.write_all(&script).await.unwrap();
        // Once the application has seen the connection, the broker leaves.
        seen_rx.await.unwrap();
        sock.write_all(&disconnect).await.unwrap();
        let mut rest = Vec::new();
        let _ = sock.read_to_end(&mut rest).await;
    };
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4, 0, 1>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let props = [Property::RequestResponseInformation(1)];
    let mut opts = ConnectOptions::new(addr, "told");
    opts.properties = &props;
    let watch = async {
        let info = client.connected().await.expect("connected");
        assert_eq!(info.keep_alive, 7);
        let mut buf = [0u8; 64];
        assert_eq!(client.server_reason_string(&mut buf), Some("welcome"));
        assert_eq!(client.response_information(&mut buf), Some("resp/base"));
        seen_tx.send(()).unwrap();
    };
    let ((run, ()), ()) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(async { tokio::join!(driver.run(&opts), watch) }, broker)
    })
    .await
    .expect("no hang");
    assert_eq!(
        run,
        Err(Error::ServerDisconnect(ReasonCode::USE_ANOTHER_SERVER))
    );
    assert_eq!(
        client.server_disconnect(),
        Some(ReasonCode::USE_ANOTHER_SERVER)
    );
    let mut buf = [0u8; 64];
    assert_eq!(
        client.server_reference(&mut buf),
        Some("backup.example:1883")
    );
    assert_eq!(client.server_reason_string(&mut buf), Some("maintenance"));
    assert!(client.connection_info().is_none());
}

fn encode(packet: Packet<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 256];
    let n = packet.encode(Version::V5, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn qos1_publish(id: u16, dup: bool, payload: &[u8]) -> Vec<u8> {
    use portnet_mqtt::codec::{Properties, Publish, QoS};
    encode(Packet::Publish(Publish {
        dup,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "t/q1",
        packet_id: Some(id),
        properties: Properties::empty(),
        payload,
    }))
}

fn suback_for(subscribe: &[u8]) -> Vec<u8> {
    use portnet_mqtt::codec::{List, Properties, SubAck};
    let Packet::Subscribe(s) = decode(subscribe, Version::V5).unwrap().unwrap().0 else {
        panic!("expected SUBSCRIBE, got {subscribe:02x?}");
    };
    encode(Packet::SubAck(SubAck {
        packet_id: s.packet_id,
        properties: Properties::empty(),
        reason_codes: List::new(&[ReasonCode::GRANTED_QOS_1]),
    }))
}

/// The packets the client sends up to and including its DISCONNECT.
async fn packets_until_disconnect(sock: &mut tokio::net::TcpStream) -> Vec<Vec<u8>> {
    let mut after = Vec::new();
    loop {
        let packet = read_packet(sock).await;
        let last = packet[0] == 0xe0;
        after.push(packet);
        if last {
            return after;
        }
    }
}

/// Issue 20 §1.1. Connection 1 delivers QoS 1 messages "a" and "b" into the two
/// message buffers (the SUBACK behind them proves they were handled); the
/// application takes "a" and leaves "b"; the broker drops the connection.
/// Connection 2 either resumes the session (the broker then sends both again
/// with DUP, then a new "c") or starts a new one (the broker sends a new message
/// that reuses packet identifier 1). Returns the payloads the application
/// received on connection 2 and the packets the broker got after its SUBACK.
async fn after_a_reconnect(session_present: bool) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    use portnet_mqtt::codec::{QoS, Subscription};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        assert_eq!(read_packet(&mut sock).await[0], 0x10);
        sock.write_all(CONNACK_V5).await.unwrap();
        let subscribe = read_packet(&mut sock).await;
        let mut script = qos1_publish(1, false, b"a");
        script.extend(qos1_publish(2, false, b"b"));
        script.extend(suback_for(&subscribe));
        sock.write_all(&script).await.unwrap();
        drop(sock);

        let (mut sock, _) = listener.accept().await.unwrap();
        let connect = read_packet(&mut sock).await;
        assert_eq!(connect[9] & 0x02, 0, "no clean start: {connect:02x?}");
        let mut script = vec![0x20, 0x03, u8::from(session_present), 0x00, 0x00];
        if session_present {
            // MQTT 4.4: unacknowledged messages go again, with DUP.
            script.extend(qos1_publish(1, true, b"a"));
            script.extend(qos1_publish(2, true, b"b"));
        }
        sock.write_all(&script).await.unwrap();
        let subscribe = read_packet(&mut sock).await;
        let mut script = if session_present {
            qos1_publish(3, false, b"c")
        } else {
            qos1_publish(1, false, b"new")
        };
        script.extend(suback_for(&subscribe));
        sock.write_all(&script).await.unwrap();
        packets_until_disconnect(&mut sock).await
    };
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4, 0, 2>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "resumer").persistent(600);
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
    let connection = async {
        let first = driver.run(&opts).await;
        assert_eq!(first, Err(Error::Closed));
        ended_tx.send(()).unwrap();
        driver.run(&opts).await
    };
    let filter = [Subscription::new("t/#", QoS::AtLeastOnce)];
    let app = async {
        client.connected().await.expect("connected");
        client.subscribe(&filter, &[]).await.unwrap();
        let a = rx.recv().await;
        assert_eq!(a.payload(), b"a");
        assert_eq!(rx.ready(), 1, "\"b\" waits in its buffer");
        ended_rx.await.unwrap();
        client.connected().await.expect("connected");
        // Its SUBACK comes after everything the broker sent again.
        client.subscribe(&filter, &[]).await.unwrap();
        drop(a);
        let mut got = Vec::new();
        let last: &[u8] = if session_present { b"c" } else { b"new" };
        loop {
            let m = rx.recv().await;
            let payload = m.payload().to_vec();
            drop(m);
            let done = payload == last;
            got.push(payload);
            if done {
                break;
            }
        }
        assert!(rx.try_recv().is_none());
        client.disconnect(ReasonCode::SUCCESS).await;
        got
    };
    let ((run, got), after) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(async { tokio::join!(connection, app) }, broker)
    })
    .await
    .expect("no hang");
    run.unwrap();
    (got, after)
}

/// The stale copy of a resumed session's message takes the place of the
/// broker's resend: each message is delivered once and acknowledged once, in
/// order, on the new connection.
#[tokio::test]
async fn qos1_resend_after_resumed_session_is_delivered_once() {
    let (got, after) = after_a_reconnect(true).await;
    assert_eq!(got, [b"b".to_vec(), b"c".to_vec()]);
    let pubacks: Vec<&[u8]> = vec![
        b"\x40\x02\x00\x01",
        b"\x40\x02\x00\x02",
        b"\x40\x02\x00\x03",
        b"\xe0\x00",
    ];
    assert_eq!(after, pubacks);
}

/// Without session present the broker forgot the old messages: the copies in
/// the buffers are still delivered (never acknowledged: their session is gone),
/// and a new message reusing an old packet identifier is a new message.
#[tokio::test]
async fn new_session_reusing_an_id_is_a_new_message() {
    let (got, after) = after_a_reconnect(false).await;
    assert_eq!(got, [b"b".to_vec(), b"new".to_vec()]);
    let expected: Vec<&[u8]> = vec![b"\x40\x02\x00\x01", b"\xe0\x00"];
    assert_eq!(after, expected);
}

/// A broker that accepts one client, reads its CONNECT, answers `connack`, reads
/// one more packet if `read_one`, then closes the connection.
async fn closing_broker(listener: TcpListener, connack: &'static [u8], read_one: bool) -> Vec<u8> {
    let (mut sock, _) = listener.accept().await.unwrap();
    assert_eq!(read_packet(&mut sock).await[0], 0x10);
    sock.write_all(connack).await.unwrap();
    if read_one {
        read_packet(&mut sock).await
    } else {
        Vec::new()
    }
}

/// Issue 20 §1.3: a refused CONNECT is seen from the handles: `connected()`
/// resolves with the broker's reason, and so does a publish that was waiting for
/// the connection.
#[tokio::test]
async fn refused_connect_resolves_connected_with_the_reason() {
    use portnet_mqtt::codec::QoS;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = closing_broker(listener, b"\x20\x03\x00\x87\x00", false);
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "refused");
    let app = async {
        let publish = client.publish("t", b"x", PublishOptions::qos(QoS::AtLeastOnce));
        let (connected, published) = tokio::join!(client.connected(), publish);
        // Started after the refusal: fails at once rather than waiting.
        let later = client.connected().await;
        (connected, published, later)
    };
    let ((run, (connected, published, later)), _) =
        tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(async { tokio::join!(driver.run(&opts), app) }, broker)
        })
        .await
        .expect("no hang");
    let refused = Err(Error::Refused(ReasonCode::NOT_AUTHORIZED));
    assert_eq!(run, refused);
    assert_eq!(connected.map(|_| ()), refused);
    assert_eq!(published.map(|_| ()), refused);
    assert_eq!(later.map(|_| ()), refused);
}

/// Issue 20 §1.4, the default policy: when the broker closes the connection, a
/// publish waiting for its PUBACK fails with the reason `run` ended, and
/// operations started afterwards fail at once.
#[tokio::test]
async fn pending_publish_fails_when_the_broker_closes() {
    use portnet_mqtt::codec::QoS;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = closing_broker(listener, CONNACK_V5, true);
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "closed-on");
    let app = async {
        client.connected().await.expect("connected");
        let pending = client
            .publish("t", b"x", PublishOptions::qos(QoS::AtLeastOnce))
            .await;
        let later = client.publish("t", b"y", PublishOptions::default()).await;
        let subscribe = client
            .subscribe(
                &[portnet_mqtt::codec::Subscription::new("t", QoS::AtMostOnce)],
                &[],
            )
            .await;
        (pending, later, subscribe.map(|_| ()))
    };
    let ((run, (pending, later, subscribe)), publish) =
        tokio::time::timeout(Duration::from_secs(10), async {
            tokio::join!(async { tokio::join!(driver.run(&opts), app) }, broker)
        })
        .await
        .expect("no hang");
    assert_eq!(publish[0] & 0xf0, 0x30, "the broker got the PUBLISH");
    assert_eq!(run, Err(Error::Closed));
    assert_eq!(pending, Err(Error::Closed));
    assert_eq!(later, Err(Error::Closed));
    assert_eq!(subscribe, Err(Error::Closed));
}

/// With `wait_for_reconnect` (set by `persistent`), a publish under way waits
/// across the end of `run` for the next connection; dropping the driver, after
/// which no connection can come, fails it with `Error::Stopped`.
#[tokio::test]
async fn waiting_publish_fails_when_the_driver_is_dropped() {
    use portnet_mqtt::codec::QoS;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = closing_broker(listener, CONNACK_V5, true);
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "patient").persistent(60);
    assert!(opts.wait_for_reconnect);
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        let mut publish =
            std::pin::pin!(client.publish("t", b"x", PublishOptions::qos(QoS::AtLeastOnce)));
        let (run, _) = tokio::join!(
            async {
                tokio::select! {
                    r = driver.run(&opts) => r,
                    r = &mut publish => panic!("publish ended with the connection: {r:?}"),
                }
            },
            broker
        );
        assert_eq!(run, Err(Error::Closed));
        assert_eq!(client.unacknowledged(), 1, "kept for the next connection");
        // Still waiting: one more poll after the end of `run` leaves it pending.
        tokio::select! {
            biased;
            r = &mut publish => panic!("publish ended without a reconnect: {r:?}"),
            () = std::future::ready(()) => {}
        }
        drop(driver);
        publish.await
    })
    .await
    .expect("no hang");
    assert_eq!(outcome, Err(Error::Stopped));
}

/// Encodes a 5.0 QoS 2 PUBLISH with packet id `id` and, if given, a topic alias.
fn qos2_publish(topic: &str, id: u16, alias: Option<u16>, dup: bool) -> Vec<u8> {
    use portnet_mqtt::codec::{Properties, Publish, QoS};
    let props: Vec<Property<'_>> = alias.map(Property::TopicAlias).into_iter().collect();
    let packet = Packet::Publish(Publish {
        dup,
        qos: QoS::ExactlyOnce,
        retain: false,
        topic,
        packet_id: Some(id),
        properties: Properties::new(&props),
        payload: b"x",
    });
    let mut buf = vec![0u8; 256];
    let n = packet.encode(Version::V5, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

/// Found by the `broker` fuzz target: the resend of a QoS 2 message still
/// waiting for its PUBREL was acknowledged without looking at its topic alias, so
/// an alias that was never set went unnoticed. A resend is not delivered again,
/// but its alias counts: a protocol error, with DISCONNECT 0x82.
#[tokio::test]
async fn qos2_resend_with_an_unset_topic_alias_is_a_protocol_error() {
    let mut reply = CONNACK_V5.to_vec();
    reply.extend(qos2_publish("a/b", 1, None, false));
    reply.extend(qos2_publish("", 1, Some(1), true));
    let (e, sent) = against(Version::V5, reply.leak()).await;
    assert_eq!(e.reason_code(), Some(ReasonCode::PROTOCOL_ERROR), "{e}");
    assert!(sent.ends_with(b"\xe0\x01\x82"), "{sent:02x?}");
}

/// The other side of the same rule: a resend may set an alias, and a later
/// message that uses it gets its topic.
#[tokio::test]
async fn a_topic_alias_set_by_a_qos2_resend_is_kept() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut script = CONNACK_V5.to_vec();
    script.extend(qos2_publish("a/b", 1, None, false));
    script.extend(qos2_publish("c/d", 1, Some(1), true));
    script.extend(aliased_publish("", 1, b"after"));
    let broker = scripted_broker(listener, script);
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4, 2, 1>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "resend-alias");
    let app = async {
        let mut got = Vec::new();
        for _ in 0..2 {
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
    assert_eq!(
        got,
        vec![
            ("a/b".to_owned(), b"x".to_vec()),
            ("c/d".to_owned(), b"after".to_vec())
        ]
    );
}

/// A SUBACK must carry one reason code per filter: two codes for one filter is a
/// protocol error (DISCONNECT 0x82), and the subscribe fails instead of taking a
/// code that answers nothing it asked.
#[tokio::test]
async fn suback_with_more_codes_than_filters_is_a_protocol_error() {
    use portnet_mqtt::codec::{List, Properties, QoS, SubAck, Subscription};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let connect = read_packet(&mut sock).await;
        assert_eq!(connect[0], 0x10, "CONNECT first");
        sock.write_all(CONNACK_V5).await.unwrap();
        let subscribe = read_packet(&mut sock).await;
        let Packet::Subscribe(s) = decode(&subscribe, Version::V5).unwrap().unwrap().0 else {
            panic!("expected SUBSCRIBE, got {subscribe:02x?}");
        };
        assert_eq!(s.subscriptions.len(), 1);
        let suback = encode(Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            properties: Properties::empty(),
            reason_codes: List::new(&[ReasonCode::GRANTED_QOS_1, ReasonCode::SUCCESS]),
        }));
        sock.write_all(&suback).await.unwrap();
        let mut after = Vec::new();
        let _ = sock.read_to_end(&mut after).await;
        after
    };
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4, 2>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "suback-count").version(Version::V5);
    let app = async {
        client.connected().await.unwrap();
        client
            .subscribe(&[Subscription::new("a/b", QoS::AtLeastOnce)], &[])
            .await
    };
    let ((run, subscribed), sent) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(async { tokio::join!(driver.run(&opts), app) }, broker)
    })
    .await
    .expect("no hang");
    let e = run.expect_err("a miscounted SUBACK ends the connection");
    assert_eq!(e.reason_code(), Some(ReasonCode::PROTOCOL_ERROR), "{e}");
    assert!(subscribed.is_err(), "the subscribe fails: {subscribed:?}");
    assert!(sent.ends_with(b"\xe0\x01\x82"), "{sent:02x?}");
}

/// A 3.1.1 PUBLISH of `payload` to `t/v3` at QoS 0 (`id` 0) or QoS 2.
fn v3_publish(id: u16, payload: &[u8]) -> Vec<u8> {
    let mut body = b"\x00\x04t/v3".to_vec();
    if id != 0 {
        body.extend_from_slice(&id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    let first = if id == 0 { 0x30 } else { 0x34 };
    let mut packet = vec![first, u8::try_from(body.len()).unwrap()];
    packet.extend(body);
    packet
}

/// Found by the `broker` fuzz target (mqtt/fuzz/regressions/broker): a PUBREL
/// right behind its QoS 2 message, while that message waited for the application
/// to drop the one it held, was handled first; it released nothing, and the
/// message then kept its place for good, so with room for one QoS 2 message the
/// next one waited forever. The PUBREL now waits in line with its message, while
/// an acknowledgement behind it (the application's QoS 1 publish) still goes through.
#[tokio::test]
async fn pubrel_behind_its_waiting_qos2_message_releases_it() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let broker = async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        assert_eq!(read_packet(&mut sock).await[0], 0x10, "CONNECT first");
        let mut script = CONNACK_V3.to_vec();
        script.extend(v3_publish(0, b"held"));
        script.extend(v3_publish(7, b"seven"));
        script.extend(b"\x62\x02\x00\x07"); // PUBREL 7, before any PUBREC 7
        sock.write_all(&script).await.unwrap();
        let publish = read_packet(&mut sock).await;
        assert_eq!(publish[0] & 0xf6, 0x32, "the application's QoS 1 PUBLISH");
        let id = &publish[publish.len() - 4..publish.len() - 2]; // before the payload "q1"
        sock.write_all(&[0x40, 2, id[0], id[1]]).await.unwrap();
        // PUBREC 7 (when the application drops it) and PUBCOMP 7, in either order.
        let mut acks = [read_packet(&mut sock).await, read_packet(&mut sock).await];
        acks.sort();
        assert_eq!(
            acks,
            [b"\x50\x02\x00\x07".to_vec(), b"\x70\x02\x00\x07".to_vec()]
        );
        sock.write_all(&v3_publish(8, b"eight")).await.unwrap();
        assert_eq!(
            read_packet(&mut sock).await,
            b"\x50\x02\x00\x08",
            "PUBREC 8"
        );
        let mut after = Vec::new();
        let _ = sock.read_to_end(&mut after).await;
        after
    };
    let stack = Tokio::new();
    // Room for one incoming QoS 2 message and one held message.
    let mut storage = Storage::<256, 256, 4, 1, 0, 1>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "pubrel-order").version(Version::V3_1_1);
    let app = async {
        let held = rx.recv().await;
        assert_eq!(held.payload(), b"held");
        client
            .publish(
                "c/t",
                b"q1",
                PublishOptions::qos(portnet_mqtt::codec::QoS::AtLeastOnce),
            )
            .await
            .expect("PUBACK behind the waiting PUBREL");
        drop(held);
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(rx.recv().await.payload().to_vec());
        }
        client.disconnect(ReasonCode::SUCCESS).await;
        got
    };
    let ((run, got), after) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(async { tokio::join!(driver.run(&opts), app) }, broker)
    })
    .await
    .expect("no hang");
    run.unwrap();
    assert_eq!(got, [b"seven".to_vec(), b"eight".to_vec()], "each once");
    assert_eq!(after, b"\xe0\x00", "DISCONNECT");
}

/// Issue 20 §4, found by the soak's resumed-session case: the application takes
/// and drops the stale copies right after the reconnect, before the broker's
/// resends arrive. The client keeps their identifiers until then, so the
/// resends are not delivered again; each is acknowledged once, in order, on the
/// new connection, and the next new message is delivered.
#[tokio::test]
async fn qos1_stale_copy_dropped_before_the_resend_is_not_delivered_again() {
    use portnet_mqtt::codec::{QoS, Subscription};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
    let broker = async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        assert_eq!(read_packet(&mut sock).await[0], 0x10);
        sock.write_all(CONNACK_V5).await.unwrap();
        let subscribe = read_packet(&mut sock).await;
        let mut script = suback_for(&subscribe);
        script.extend(qos1_publish(1, false, b"a"));
        script.extend(qos1_publish(2, false, b"b"));
        sock.write_all(&script).await.unwrap();
        // Nothing acknowledged: both wait untaken in the client's buffers.
        drop(sock);

        let (mut sock, _) = listener.accept().await.unwrap();
        assert_eq!(read_packet(&mut sock).await[0], 0x10);
        sock.write_all(&[0x20, 0x03, 0x01, 0x00, 0x00])
            .await
            .unwrap();
        // The application has taken and dropped both copies by now.
        dropped_rx.await.unwrap();
        let mut script = qos1_publish(1, true, b"a");
        script.extend(qos1_publish(2, true, b"b"));
        script.extend(qos1_publish(3, false, b"c"));
        sock.write_all(&script).await.unwrap();
        packets_until_disconnect(&mut sock).await
    };
    let stack = Tokio::new();
    let mut storage = Storage::<256, 256, 4, 4, 0, 2>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "resumer").persistent(600);
    let (ended_tx, ended_rx) = tokio::sync::oneshot::channel::<()>();
    let connection = async {
        assert_eq!(driver.run(&opts).await, Err(Error::Closed));
        ended_tx.send(()).unwrap();
        driver.run(&opts).await
    };
    let app = async {
        client.connected().await.expect("connected");
        let filter = [Subscription::new("t/#", QoS::AtLeastOnce)];
        client.subscribe(&filter, &[]).await.unwrap();
        ended_rx.await.unwrap();
        client.connected().await.expect("connected again");
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(
                rx.try_recv()
                    .expect("held across the cut")
                    .payload()
                    .to_vec(),
            );
        }
        dropped_tx.send(()).unwrap();
        got.push(rx.recv().await.payload().to_vec());
        assert!(rx.try_recv().is_none(), "a resend delivered again");
        client.disconnect(ReasonCode::SUCCESS).await;
        got
    };
    let ((run, got), after) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(async { tokio::join!(connection, app) }, broker)
    })
    .await
    .expect("no hang");
    run.unwrap();
    assert_eq!(got, [b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
    let expected: Vec<&[u8]> = vec![
        b"\x40\x02\x00\x01",
        b"\x40\x02\x00\x02",
        b"\x40\x02\x00\x03",
        b"\xe0\x00",
    ];
    assert_eq!(after, expected);
}
