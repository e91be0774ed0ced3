//! The API of issue 20 §1.5 against a fake broker that records every byte the
//! client sends: builders, advertised limits independent of the storage's
//! sizes (and clear errors when they exceed it), outgoing topic aliases sized
//! apart from incoming ones, what the CONNACK said as `Option`s, and the
//! client's DISCONNECT with properties.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::net::SocketAddr;
use std::time::Duration;

use portnet_mqtt::codec::{
    ConnAck, Packet, Properties, Property, Publish, QoS, ReasonCode, Version, Will, decode,
};
use portnet_mqtt::{
    ConnectOptions, DisconnectOptions, Error, ErrorKind, PublishOptions, ServerProperties, Session,
    Storage,
};
use portnet_tokio::Tokio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Reads one whole packet; `None` at the end of the stream.
async fn read_packet(sock: &mut TcpStream) -> Option<Vec<u8>> {
    let mut packet = vec![0u8; 1];
    sock.read_exact(&mut packet).await.ok()?;
    let mut len = 0usize;
    for shift in [0, 7, 14, 21] {
        let mut b = [0u8; 1];
        sock.read_exact(&mut b).await.ok()?;
        packet.push(b[0]);
        len |= usize::from(b[0] & 0x7f) << shift;
        if b[0] & 0x80 == 0 {
            break;
        }
    }
    let start = packet.len();
    packet.resize(start + len, 0);
    sock.read_exact(&mut packet[start..]).await.ok()?;
    Some(packet)
}

fn encode(packet: Packet<'_>) -> Vec<u8> {
    let mut buf = vec![0u8; 1024];
    let n = packet.encode(Version::V5, &mut buf).unwrap();
    buf.truncate(n);
    buf
}

fn connack(properties: &[Property<'_>]) -> Vec<u8> {
    encode(Packet::ConnAck(ConnAck {
        session_present: false,
        reason: ReasonCode::SUCCESS,
        properties: Properties::new(properties),
    }))
}

/// A broker that answers the CONNECT with `script` and records the packets
/// the client sends until its DISCONNECT (after which it closes, as a broker
/// does) or the end of the stream. Returns the CONNECT and the packets after it.
async fn recording_broker(listener: TcpListener, script: Vec<u8>) -> (Vec<u8>, Vec<Vec<u8>>) {
    let (mut sock, _) = listener.accept().await.unwrap();
    let connect = read_packet(&mut sock).await.expect("a CONNECT");
    assert_eq!(connect[0], 0x10, "CONNECT first");
    sock.write_all(&script).await.unwrap();
    let mut after = Vec::new();
    while let Some(packet) = read_packet(&mut sock).await {
        let last = packet[0] == 0xE0;
        after.push(packet);
        if last {
            break;
        }
    }
    (connect, after)
}

async fn listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    (l, addr)
}

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("no hang")
}

/// The builders put every setting on the wire: clean start, session expiry,
/// keep alive, will with properties, user name and password, user properties,
/// and the three advertised limits below the storage's sizes.
#[tokio::test]
async fn builders_and_advertised_limits_reach_the_connect() {
    let (l, addr) = listener().await;
    let will_props = [Property::WillDelayInterval(5)];
    let user = [Property::UserProperty("site", "lab")];
    let opts = ConnectOptions::new(addr, "built")
        .clean_start(false)
        .session_expiry(600)
        .keep_alive(30)
        .will(
            Will::new("dev/built/status", b"gone", QoS::AtLeastOnce)
                .retain(true)
                .properties(&will_props),
        )
        .username("user")
        .password(b"secret")
        .properties(&user)
        .receive_maximum(3)
        .maximum_packet_size(300)
        .topic_alias_maximum(1)
        .connect_timeout(Duration::from_secs(5))
        .ping_timeout(Duration::from_secs(5));
    // RX 512, INBOUND 8, ALIASES 4: the advertised values are the options'.
    let mut storage = Storage::<512, 256, 4, 8, 4, 1>::new();
    let mut session = Session::new(&mut storage);
    let stack = Tokio::new();
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let app = async {
        let info = client.connected().await.expect("connected");
        client.disconnect(ReasonCode::SUCCESS).await;
        info
    };
    let ((run, info), (connect, _)) = bounded(async {
        tokio::join!(
            async { tokio::join!(driver.run(&opts), app) },
            recording_broker(l, connack(&[]))
        )
    })
    .await;
    run.expect("a clean disconnect");
    assert_eq!(info.server, ServerProperties::default());
    let Some((Packet::Connect(c), _)) = decode(&connect, Version::V5).unwrap() else {
        panic!("a CONNECT")
    };
    assert!(!c.clean_start);
    assert_eq!(c.keep_alive, 30);
    assert_eq!(c.username, Some("user"));
    assert_eq!(c.password, Some(&b"secret"[..]));
    let will = c.will.expect("a will");
    assert!(will.retain);
    assert_eq!(will.qos, QoS::AtLeastOnce);
    assert_eq!(will.properties.will_delay_interval(), Some(5));
    let p = c.properties;
    assert_eq!(p.session_expiry_interval(), Some(600));
    assert_eq!(p.receive_maximum(), Some(3));
    assert_eq!(p.maximum_packet_size(), Some(300));
    assert_eq!(p.topic_alias_maximum(), Some(1));
    assert_eq!(p.user_properties().collect::<Vec<_>>(), [("site", "lab")]);
}

/// A limit above what the storage holds, or zero, or given twice, fails `run`
/// before it connects, with the kind `InvalidInput`, and never panics.
#[tokio::test]
async fn bad_limits_are_clear_errors() {
    // Nothing listens here: the options are refused before any connect.
    let (l, addr) = listener().await;
    drop(l);
    let mut storage = Storage::<512, 256, 4, 8, 4, 1>::new();
    let mut session = Session::new(&mut storage);
    let stack = Tokio::new();
    let (mut driver, _client, _rx) = session.split(&stack, stack);
    let base = ConnectOptions::new(addr, "bad");
    let twice = [Property::MaximumPacketSize(100)];
    let cases = [
        ("receive maximum 0", base.receive_maximum(0)),
        ("receive maximum above INBOUND", base.receive_maximum(9)),
        ("maximum packet size 0", base.maximum_packet_size(0)),
        (
            "maximum packet size above RX",
            base.maximum_packet_size(513),
        ),
        (
            "topic alias maximum above ALIASES",
            base.topic_alias_maximum(5),
        ),
        (
            "a limit as field and property",
            base.maximum_packet_size(100).properties(&twice),
        ),
    ];
    for (what, opts) in cases {
        let e = bounded(driver.run(&opts)).await.expect_err(what);
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{what}: {e}");
        assert!(matches!(e, Error::InvalidInput(_)), "{what}: {e}");
    }
    // At the storage's sizes exactly, the options pass the checks (and the
    // run fails on the connect, nothing listening).
    let fits = base
        .receive_maximum(8)
        .maximum_packet_size(512)
        .topic_alias_maximum(4);
    let e = bounded(driver.run(&fits))
        .await
        .expect_err("nobody listens");
    assert_ne!(e.kind(), ErrorKind::InvalidInput, "{e}");
    // 3.1.1 advertises none of them: ignored, not an error.
    let v3 = base.version(Version::V3_1_1).maximum_packet_size(100_000);
    let e = bounded(driver.run(&v3)).await.expect_err("nobody listens");
    assert_ne!(e.kind(), ErrorKind::InvalidInput, "{e}");
}

/// The client holds the broker to the maximum packet size it advertised, not
/// to its receive buffer: a 200-byte PUBLISH under an advertised 100 bytes
/// ends the connection with 0x95 although the 512-byte buffer would hold it.
#[tokio::test]
async fn advertised_maximum_packet_size_is_enforced() {
    let (l, addr) = listener().await;
    let payload = [7u8; 190];
    let mut script = connack(&[]);
    script.extend(encode(Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "big",
        packet_id: None,
        properties: Properties::empty(),
        payload: &payload,
    })));
    let mut storage = Storage::<512, 256, 4, 8, 0, 1>::new();
    let mut session = Session::new(&mut storage);
    let stack = Tokio::new();
    let (mut driver, _client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "small").maximum_packet_size(100);
    let (run, (_, after)) =
        bounded(async { tokio::join!(driver.run(&opts), recording_broker(l, script)) }).await;
    let e = run.expect_err("too large");
    assert_eq!(e.reason_code(), Some(ReasonCode::PACKET_TOO_LARGE), "{e}");
    assert_eq!(after, [b"\xe0\x01\x95".to_vec()]);
}

/// Runs one connection whose CONNACK allows 5 outgoing aliases, publishes to
/// "a/topic" twice at QoS 0 and disconnects; returns the CONNECT and the
/// PUBLISHes as decoded (topic, alias).
async fn two_publishes<const ALIASES: usize, const OUT: usize>()
-> (Option<u16>, Vec<(String, Option<u16>)>) {
    let (l, addr) = listener().await;
    let mut storage = Storage::<256, 256, 4, 4, ALIASES, 1, OUT>::new();
    let mut session = Session::new(&mut storage);
    let stack = Tokio::new();
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "aliases");
    let app = async {
        client.connected().await.expect("connected");
        for _ in 0..2 {
            client
                .publish("a/topic", b"x", PublishOptions::qos(QoS::AtMostOnce))
                .await
                .expect("queued");
        }
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let ((run, ()), (connect, after)) = bounded(async {
        tokio::join!(
            async { tokio::join!(driver.run(&opts), app) },
            recording_broker(l, connack(&[Property::TopicAliasMaximum(5)]))
        )
    })
    .await;
    run.expect("a clean disconnect");
    let Some((Packet::Connect(c), _)) = decode(&connect, Version::V5).unwrap() else {
        panic!("a CONNECT")
    };
    let publishes = after
        .iter()
        .filter_map(|bytes| match decode(bytes, Version::V5) {
            Ok(Some((Packet::Publish(p), _))) => {
                Some((p.topic.to_owned(), p.properties.topic_alias()))
            }
            _ => None,
        })
        .collect();
    (c.properties.topic_alias_maximum(), publishes)
}

/// `ALIASES` (incoming, advertised) and `OUT_ALIASES` (outgoing) are sized
/// apart: no incoming table still allows outgoing aliases, and the other way
/// round; by default `OUT_ALIASES` is `ALIASES`.
#[tokio::test]
async fn incoming_and_outgoing_aliases_are_independent() {
    let aliased = vec![("a/topic".to_owned(), Some(1)), (String::new(), Some(1))];
    let plain = vec![("a/topic".to_owned(), None), ("a/topic".to_owned(), None)];
    // Outgoing only: nothing advertised, the second publish has no topic.
    assert_eq!(two_publishes::<0, 2>().await, (None, aliased.clone()));
    // Incoming only: 3 advertised, publishes in full.
    assert_eq!(two_publishes::<3, 0>().await, (Some(3), plain));
    // The default: both ways.
    assert!(format!("{:?}", Storage::<64, 64, 1, 1, 2>::new()).contains("out_aliases: 2"));
}

/// `ConnectionInfo::server` says which limits the CONNACK carried; the
/// effective fields keep their defaults for the others.
#[tokio::test]
async fn connection_info_says_what_the_server_sent() {
    let (l, addr) = listener().await;
    let mut storage = Storage::<256, 256, 4, 4, 0, 1>::new();
    let mut session = Session::new(&mut storage);
    let stack = Tokio::new();
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(addr, "info");
    let app = async {
        let info = client.connected().await.expect("connected");
        client.disconnect(ReasonCode::SUCCESS).await;
        info
    };
    let script = connack(&[
        Property::ReceiveMaximum(5),
        Property::MaximumQoS(1),
        Property::SharedSubscriptionAvailable(0),
    ]);
    let ((run, info), _) = bounded(async {
        tokio::join!(
            async { tokio::join!(driver.run(&opts), app) },
            recording_broker(l, script)
        )
    })
    .await;
    run.expect("a clean disconnect");
    assert_eq!(
        info.server,
        ServerProperties {
            receive_maximum: Some(5),
            maximum_qos: Some(QoS::AtLeastOnce),
            shared_subscription_available: Some(false),
            ..ServerProperties::default()
        }
    );
    assert_eq!(info.receive_maximum, 5);
    assert_eq!(info.maximum_packet_size, u32::MAX, "not sent: no limit");
    assert_eq!(info.server.maximum_packet_size, None);
    assert!(info.retain_available);
    assert_eq!(info.server.retain_available, None);
    assert!(!info.shared_subscriptions);
}

/// Connects with `opts` and calls `disconnect_with(disconnect)`; returns its
/// result, `run`'s, and the packets the broker got after the CONNECT.
async fn disconnecting(
    opts: ConnectOptions<'_>,
    disconnect: DisconnectOptions<'_>,
) -> (Result<(), Error>, Result<(), Error>, Vec<Vec<u8>>) {
    let (l, addr) = listener().await;
    let opts = ConnectOptions {
        broker: addr,
        ..opts
    };
    let mut storage = Storage::<256, 256, 4, 4, 0, 1>::new();
    let mut session = Session::new(&mut storage);
    let stack = Tokio::new();
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let app = async {
        client.connected().await.expect("connected");
        let result = client.disconnect_with(&disconnect).await;
        if result.is_err() {
            // Refused before anything was sent: the connection is still up.
            assert!(client.connection_info().is_some());
            client.disconnect(ReasonCode::SUCCESS).await;
        }
        result
    };
    let script = if opts.version == Version::V5 {
        connack(&[])
    } else {
        b"\x20\x02\x00\x00".to_vec()
    };
    let ((run, result), (_, after)) = bounded(async {
        tokio::join!(
            async { tokio::join!(driver.run(&opts), app) },
            recording_broker(l, script)
        )
    })
    .await;
    (result, run, after)
}

/// The client's DISCONNECT carries a session expiry, a reason string and user
/// properties, encoded by the codec; what the codec or the protocol refuses
/// is refused before anything is sent, and the connection stays usable.
#[tokio::test]
async fn disconnect_with_properties() {
    let unused: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let persistent = ConnectOptions::new(unused, "bye").session_expiry(3600);
    let user = [Property::UserProperty("why", "update")];
    let d = DisconnectOptions::new(ReasonCode(0x04))
        .session_expiry(0)
        .reason_string("rebooting")
        .properties(&user);
    let (result, run, after) = disconnecting(persistent, d).await;
    result.expect("disconnected");
    run.expect("a clean end");
    let last = after.last().expect("a DISCONNECT");
    let Some((Packet::Disconnect(got), _)) = decode(last, Version::V5).unwrap() else {
        panic!("a DISCONNECT: {last:x?}")
    };
    assert_eq!(got.reason, ReasonCode(0x04));
    assert_eq!(got.properties.session_expiry_interval(), Some(0));
    assert_eq!(got.properties.reason_string(), Some("rebooting"));
    assert_eq!(
        got.properties.user_properties().collect::<Vec<_>>(),
        [("why", "update")]
    );

    // Refused, each with its kind, and then a plain DISCONNECT goes out.
    let plain = ConnectOptions::new(unused, "bye");
    let content = [Property::ContentType("text/plain")];
    let twice = [Property::ReasonString("again")];
    let reference = [Property::ServerReference("elsewhere")];
    let long = "x".repeat(200);
    let cases: [(&str, ConnectOptions<'_>, DisconnectOptions<'_>, ErrorKind); 6] = [
        (
            "session expiry after a CONNECT with 0",
            plain,
            DisconnectOptions::new(ReasonCode::SUCCESS).session_expiry(10),
            ErrorKind::InvalidInput,
        ),
        (
            "a property a DISCONNECT may not carry",
            plain,
            DisconnectOptions::new(ReasonCode::SUCCESS).properties(&content),
            ErrorKind::InvalidInput,
        ),
        (
            "a reason string twice",
            plain,
            DisconnectOptions::new(ReasonCode::SUCCESS)
                .reason_string("once")
                .properties(&twice),
            ErrorKind::InvalidInput,
        ),
        (
            "the server's server reference",
            plain,
            DisconnectOptions::new(ReasonCode::SUCCESS).properties(&reference),
            ErrorKind::InvalidInput,
        ),
        (
            "longer than MAX_DISCONNECT_LEN",
            plain,
            DisconnectOptions::new(ReasonCode::SUCCESS).reason_string(&long),
            ErrorKind::TooLarge,
        ),
        (
            "properties on 3.1.1",
            plain.version(Version::V3_1_1),
            DisconnectOptions::new(ReasonCode::SUCCESS).reason_string("no"),
            ErrorKind::Unsupported,
        ),
    ];
    for (what, opts, d, kind) in cases {
        let (result, run, after) = disconnecting(opts, d).await;
        let e = result.expect_err(what);
        assert_eq!(e.kind(), kind, "{what}: {e}");
        run.expect("the plain disconnect after it");
        assert_eq!(after, [b"\xe0\x00".to_vec()], "{what}");
    }
    // Without properties, `disconnect_with` is `disconnect`.
    let (result, run, after) =
        disconnecting(plain, DisconnectOptions::new(ReasonCode::SUCCESS)).await;
    result.unwrap();
    run.unwrap();
    assert_eq!(after, [b"\xe0\x00".to_vec()]);
}
