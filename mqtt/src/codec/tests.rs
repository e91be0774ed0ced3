//! Codec tests: hand-written byte vectors from the specification's layouts,
//! round trips of every packet in both versions, the error kinds of broken input,
//! and property-based round trips.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

extern crate std;
use std::string::String;
use std::vec::Vec;

use super::*;

const V3: Version = Version::V3_1_1;
const V5: Version = Version::V5;

/// Decodes `bytes` as exactly one packet, checks that it re-encodes to the same
/// bytes, and returns it.
fn exact(bytes: &[u8], v: Version) -> Packet<'_> {
    let (packet, used) = decode(bytes, v).expect("decodes").expect("complete");
    assert_eq!(used, bytes.len(), "whole input used");
    let mut out = [0u8; 512];
    let n = packet.encode(v, &mut out).expect("encodes");
    assert_eq!(&out[..n], bytes, "re-encodes to the same bytes");
    assert_eq!(packet.encoded_len(v), Ok(n));
    packet
}

/// Encodes `packet`, decodes it back and checks equality; returns the bytes.
fn round_trip(packet: &Packet<'_>, v: Version) -> Vec<u8> {
    let mut out = std::vec![0u8; 4096];
    let n = packet.encode(v, &mut out).expect("encodes");
    out.truncate(n);
    let (decoded, used) = decode(&out, v).expect("decodes").expect("complete");
    assert_eq!(used, n);
    assert_eq!(&decoded, packet);
    // Every strict prefix is incomplete, never an error.
    for cut in 0..n {
        assert_eq!(decode(&out[..cut], v), Ok(None), "prefix of {cut} bytes");
    }
    out
}

fn err_kind(bytes: &[u8], v: Version) -> DecodeErrorKind {
    match decode(bytes, v) {
        Err(e) => e.kind(),
        other => panic!("expected an error for {bytes:02x?}, got {other:?}"),
    }
}

#[test]
fn connect_v3_spec_layout() {
    let bytes = b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03abc";
    let Packet::Connect(c) = exact(bytes, V3) else {
        panic!()
    };
    assert_eq!(c.version, V3);
    assert!(c.clean_start);
    assert_eq!((c.keep_alive, c.client_id), (60, "abc"));
    assert_eq!((c.will, c.username, c.password), (None, None, None));
}

#[test]
fn connect_v5_with_will_and_credentials() {
    let will_props = [
        Property::WillDelayInterval(5),
        Property::ContentType("text"),
    ];
    let props = [
        Property::SessionExpiryInterval(10),
        Property::ReceiveMaximum(20),
    ];
    let c = Packet::Connect(Connect {
        version: V5,
        clean_start: false,
        keep_alive: 30,
        client_id: "dev-1",
        will: Some(Will {
            topic: "dev/1/status",
            payload: b"offline",
            qos: QoS::AtLeastOnce,
            retain: true,
            properties: props_of(&will_props),
        }),
        username: Some("user"),
        password: Some(b"pass"),
        properties: props_of(&props),
    });
    let bytes = round_trip(&c, V5);
    // protocol name, level 5, flags: user, password, will retain, will QoS 1, will.
    assert_eq!(
        &bytes[2..10],
        b"\x00\x04MQTT\x05\xec\x00\x1e".get(..8).unwrap()
    );
    assert_eq!(bytes[9], 0xEC);
    // The same CONNECT in 3.1.1 needs no properties.
    let mut c3 = match c {
        Packet::Connect(c) => c,
        _ => unreachable!(),
    };
    assert!(matches!(
        Packet::Connect(c3).encode(V3, &mut [0; 128]),
        Err(EncodeError::Invalid(_))
    ));
    c3.version = V3;
    c3.properties = Properties::empty();
    c3.will.as_mut().unwrap().properties = Properties::empty();
    round_trip(&Packet::Connect(c3), V3);
}

fn props_of<'a>(p: &'a [Property<'a>]) -> Properties<'a> {
    Properties::new(p)
}

#[test]
fn connect_v5_spec_layout_with_property() {
    let bytes = b"\x10\x15\x00\x04MQTT\x05\x02\x00\x3c\x05\x11\x00\x00\x00\x0a\x00\x03abc";
    let Packet::Connect(c) = exact(bytes, V5) else {
        panic!()
    };
    assert_eq!(
        c.properties.iter().collect::<Vec<_>>(),
        [Property::SessionExpiryInterval(10)]
    );
}

#[test]
fn connect_rules() {
    // Protocol level 3 (MQTT 3.1) is unsupported.
    let v31 = b"\x10\x11\x00\x06MQIsdp\x03\x02\x00\x3c\x00\x03abc";
    assert_eq!(
        err_kind(v31, V3),
        DecodeErrorKind::UnsupportedProtocolVersion
    );
    let level6 = b"\x10\x0f\x00\x04MQTT\x06\x02\x00\x3c\x00\x03abc";
    assert_eq!(
        err_kind(level6, V3),
        DecodeErrorKind::UnsupportedProtocolVersion
    );
    // Reserved flag bit.
    let reserved = b"\x10\x0f\x00\x04MQTT\x04\x03\x00\x3c\x00\x03abc";
    assert_eq!(err_kind(reserved, V3), DecodeErrorKind::Malformed);
    // Will QoS without will flag.
    let will_qos = b"\x10\x0f\x00\x04MQTT\x04\x0a\x00\x3c\x00\x03abc";
    assert_eq!(err_kind(will_qos, V3), DecodeErrorKind::Malformed);
    // Password without user name is malformed in 3.1.1 only.
    let pw = b"\x10\x13\x00\x04MQTT\x04\x42\x00\x3c\x00\x03abc\x00\x02pw";
    assert_eq!(err_kind(pw, V3), DecodeErrorKind::Malformed);
    let pw5 = b"\x10\x14\x00\x04MQTT\x05\x42\x00\x3c\x00\x00\x03abc\x00\x02pw";
    exact(pw5, V5);
    // Trailing garbage.
    let trailing = b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x03abcX";
    assert_eq!(err_kind(trailing, V3), DecodeErrorKind::Malformed);
}

#[test]
fn connack_both_versions() {
    let Packet::ConnAck(a) = exact(b"\x20\x02\x01\x00", V3) else {
        panic!()
    };
    assert!(a.session_present);
    assert_eq!(a.reason, ReasonCode::SUCCESS);
    let Packet::ConnAck(a) = exact(b"\x20\x02\x00\x05", V3) else {
        panic!()
    };
    assert_eq!(a.reason, ReasonCode::NOT_AUTHORIZED);
    assert_eq!(
        err_kind(b"\x20\x02\x00\x06", V3),
        DecodeErrorKind::ProtocolError
    );
    assert_eq!(
        err_kind(b"\x20\x02\x02\x00", V3),
        DecodeErrorKind::Malformed
    );
    assert_eq!(
        err_kind(b"\x20\x02\x01\x05", V3),
        DecodeErrorKind::ProtocolError
    );

    let bytes = b"\x20\x06\x00\x00\x03\x21\x00\x0a";
    let Packet::ConnAck(a) = exact(bytes, V5) else {
        panic!()
    };
    assert_eq!(a.properties.find(0x21), Some(Property::ReceiveMaximum(10)));
    assert_eq!(
        err_kind(b"\x20\x03\x00\x8d\x00", V5),
        DecodeErrorKind::ProtocolError
    );
    // Topic alias is not a CONNACK property.
    assert_eq!(
        err_kind(b"\x20\x06\x00\x00\x03\x23\x00\x01", V5),
        DecodeErrorKind::ProtocolError
    );
    // A property twice.
    let twice = b"\x20\x09\x00\x00\x06\x21\x00\x0a\x21\x00\x0b";
    assert_eq!(err_kind(twice, V5), DecodeErrorKind::ProtocolError);
    // Receive maximum 0.
    assert_eq!(
        err_kind(b"\x20\x06\x00\x00\x03\x21\x00\x00", V5),
        DecodeErrorKind::ProtocolError
    );
    // Property length beyond the packet.
    assert_eq!(
        err_kind(b"\x20\x06\x00\x00\x09\x21\x00\x0a", V5),
        DecodeErrorKind::Malformed
    );
    // Unknown property.
    assert_eq!(
        err_kind(b"\x20\x05\x00\x00\x02\x7f\x00", V5),
        DecodeErrorKind::Malformed
    );
    let all = [
        Property::SessionExpiryInterval(1),
        Property::ReceiveMaximum(5),
        Property::MaximumQoS(1),
        Property::RetainAvailable(0),
        Property::MaximumPacketSize(1000),
        Property::AssignedClientIdentifier("auto-1"),
        Property::TopicAliasMaximum(3),
        Property::ReasonString("ok"),
        Property::UserProperty("a", "b"),
        Property::UserProperty("a", "c"),
        Property::WildcardSubscriptionAvailable(1),
        Property::SubscriptionIdentifierAvailable(1),
        Property::SharedSubscriptionAvailable(0),
        Property::ServerKeepAlive(20),
        Property::ResponseInformation("r/"),
        Property::ServerReference("other"),
        Property::AuthenticationMethod("m"),
        Property::AuthenticationData(b"d"),
    ];
    round_trip(
        &Packet::ConnAck(ConnAck {
            session_present: false,
            reason: ReasonCode::SUCCESS,
            properties: props_of(&all),
        }),
        V5,
    );
}

#[test]
fn publish_both_versions() {
    let Packet::Publish(p) = exact(b"\x32\x09\x00\x03a/b\x00\x07hi", V3) else {
        panic!()
    };
    assert_eq!(
        (p.topic, p.packet_id, p.payload, p.qos),
        ("a/b", Some(7), &b"hi"[..], QoS::AtLeastOnce)
    );
    let Packet::Publish(p) = exact(b"\x31\x07\x00\x03a/bhi", V3) else {
        panic!()
    };
    assert!(p.retain && p.packet_id.is_none());
    let Packet::Publish(p) = exact(b"\x30\x08\x00\x03a/b\x00hi", V5) else {
        panic!()
    };
    assert!(p.properties.is_empty());
    let Packet::Publish(p) = exact(b"\x3c\x0d\x00\x03a/b\x00\x09\x03\x23\x00\x02hi", V5) else {
        panic!()
    };
    assert!(p.dup);
    assert_eq!(p.qos, QoS::ExactlyOnce);
    // Empty topic with an alias is fine in 5.0, not without.
    exact(b"\x30\x06\x00\x00\x03\x23\x00\x02", V5);
    assert_eq!(
        err_kind(b"\x30\x03\x00\x00\x00", V5),
        DecodeErrorKind::TopicNameInvalid
    );
    assert_eq!(
        err_kind(b"\x30\x02\x00\x00", V3),
        DecodeErrorKind::TopicNameInvalid
    );
    assert_eq!(
        err_kind(b"\x30\x05\x00\x03a/+", V3),
        DecodeErrorKind::TopicNameInvalid
    );
    // QoS 3, DUP on QoS 0, packet id 0.
    assert_eq!(
        err_kind(b"\x36\x05\x00\x03a/b", V3),
        DecodeErrorKind::Malformed
    );
    assert_eq!(
        err_kind(b"\x38\x05\x00\x03a/b", V3),
        DecodeErrorKind::Malformed
    );
    assert_eq!(
        err_kind(b"\x32\x07\x00\x03a/b\x00\x00", V3),
        DecodeErrorKind::ProtocolError
    );
    // Invalid UTF-8 and U+0000 in the topic.
    assert_eq!(
        err_kind(b"\x30\x04\x00\x02\xc3\x28", V3),
        DecodeErrorKind::Malformed
    );
    assert_eq!(
        err_kind(b"\x30\x04\x00\x02a\x00", V3),
        DecodeErrorKind::Malformed
    );
    // String length beyond the packet.
    assert_eq!(
        err_kind(b"\x30\x04\x00\x09ab", V3),
        DecodeErrorKind::Malformed
    );
    // Subscription identifiers may repeat in PUBLISH.
    exact(b"\x30\x0c\x00\x03a/b\x04\x0b\x01\x0b\x02hi", V5);
    let props = [
        Property::PayloadFormatIndicator(1),
        Property::MessageExpiryInterval(60),
        Property::ContentType("text/plain"),
        Property::ResponseTopic("reply/to"),
        Property::CorrelationData(b"\x01\x02"),
        Property::UserProperty("k", "v"),
        Property::SubscriptionIdentifier(268_435_455),
        Property::TopicAlias(4),
    ];
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QoS::ExactlyOnce,
        retain: true,
        topic: "x/y",
        packet_id: Some(65535),
        properties: props_of(&props),
        payload: &[0xff; 300],
    });
    round_trip(&p, V5);
    assert!(matches!(
        p.encode(V3, &mut [0; 512]),
        Err(EncodeError::Invalid(_))
    ));
}

#[test]
fn publish_large_remaining_length() {
    let payload = std::vec![7u8; 20_000];
    let p = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "t",
        packet_id: None,
        properties: Properties::empty(),
        payload: &payload,
    });
    let mut out = std::vec![0u8; 30_000];
    let n = p.encode(V3, &mut out).unwrap();
    // 20,003 bytes of remaining length take three varint bytes.
    assert_eq!(&out[..4], &[0x30, 0xA3, 0x9C, 0x01]);
    assert_eq!(n, 20_007);
    assert_eq!(decode(&out[..n], V3).unwrap().unwrap().0, p);
    assert_eq!(
        p.encode(V3, &mut out[..100]),
        Err(EncodeError::BufferTooSmall { needed: n })
    );
}

#[test]
fn acknowledgements_both_versions() {
    for (t, first) in [(4u8, 0x40u8), (5, 0x50), (6, 0x62), (7, 0x70)] {
        let bytes = [first, 2, 0, 7];
        let p = exact(&bytes, V3);
        assert_eq!(p.packet_type(), t);
        exact(&bytes, V5);
        // 3.1.1 acknowledgements are exactly two bytes long.
        assert_eq!(
            err_kind(&[first, 3, 0, 7, 0], V3),
            DecodeErrorKind::Malformed
        );
        assert_eq!(
            err_kind(&[first, 2, 0, 0], V3),
            DecodeErrorKind::ProtocolError
        );
    }
    let Packet::PubAck(a) = exact(b"\x40\x03\x00\x07\x10", V5) else {
        panic!()
    };
    assert_eq!(a.reason, ReasonCode::NO_MATCHING_SUBSCRIBERS);
    let Packet::PubRec(a) = exact(b"\x50\x08\x00\x07\x80\x04\x1f\x00\x01x", V5) else {
        panic!()
    };
    assert_eq!(a.properties.reason_string(), Some("x"));
    let Packet::PubComp(a) = exact(b"\x70\x03\x00\x07\x92", V5) else {
        panic!()
    };
    assert_eq!(a.reason, ReasonCode::PACKET_IDENTIFIER_NOT_FOUND);
    // A success code with an empty property list re-encodes in the short form.
    let (p, _) = decode(b"\x40\x04\x00\x07\x00\x00", V5).unwrap().unwrap();
    assert_eq!(p, Packet::PubAck(PubResp::new(7)));
    // PUBREL may not carry 0x10, PUBACK may not carry 0x92.
    assert_eq!(
        err_kind(b"\x62\x03\x00\x07\x10", V5),
        DecodeErrorKind::ProtocolError
    );
    assert_eq!(
        err_kind(b"\x40\x03\x00\x07\x92", V5),
        DecodeErrorKind::ProtocolError
    );
    // Wrong fixed flags.
    assert_eq!(
        err_kind(b"\x60\x02\x00\x07", V5),
        DecodeErrorKind::Malformed
    );
    assert_eq!(
        err_kind(b"\x41\x02\x00\x07", V5),
        DecodeErrorKind::Malformed
    );
}

#[test]
fn subscribe_both_versions() {
    let Packet::Subscribe(s) = exact(b"\x82\x08\x00\x01\x00\x03a/b\x01", V3) else {
        panic!()
    };
    assert_eq!(
        s.subscriptions.iter().collect::<Vec<_>>(),
        [Subscription::new("a/b", QoS::AtLeastOnce)]
    );
    // No local + retain as published + retain handling 2 at QoS 2.
    let Packet::Subscribe(s) = exact(b"\x82\x0b\x00\x01\x02\x0b\x05\x00\x03a/#\x2e", V5) else {
        panic!()
    };
    let sub = s.subscriptions.iter().next().unwrap();
    assert_eq!(sub.options.qos, QoS::ExactlyOnce);
    assert!(sub.options.no_local && sub.options.retain_as_published);
    assert_eq!(sub.options.retain_handling, RetainHandling::DoNotSend);
    assert_eq!(
        s.properties.find(0x0B),
        Some(Property::SubscriptionIdentifier(5))
    );
    // 5.0 option bits are reserved in 3.1.1.
    assert_eq!(
        err_kind(b"\x82\x08\x00\x01\x00\x03a/b\x05", V3),
        DecodeErrorKind::Malformed
    );
    assert_eq!(
        err_kind(b"\x82\x08\x00\x01\x00\x03a/b\x03", V3),
        DecodeErrorKind::Malformed
    );
    assert_eq!(
        err_kind(b"\x82\x09\x00\x01\x00\x00\x03a/b\x30", V5),
        DecodeErrorKind::Malformed
    );
    // Empty payload, invalid filter, wrong flags.
    assert_eq!(
        err_kind(b"\x82\x02\x00\x01", V3),
        DecodeErrorKind::ProtocolError
    );
    assert_eq!(
        err_kind(b"\x82\x08\x00\x01\x00\x03a#b\x01", V3),
        DecodeErrorKind::ProtocolError
    );
    assert_eq!(
        err_kind(b"\x80\x08\x00\x01\x00\x03a/b\x01", V3),
        DecodeErrorKind::Malformed
    );
    let subs = [
        Subscription::new("a/+/c", QoS::AtMostOnce),
        Subscription::new("#", QoS::ExactlyOnce),
        Subscription::new("$share/g/x/#", QoS::AtLeastOnce),
    ];
    let p = Packet::Subscribe(Subscribe {
        packet_id: 9,
        properties: Properties::empty(),
        subscriptions: List::new(&subs),
    });
    round_trip(&p, V3);
    round_trip(&p, V5);
}

#[test]
fn suback_unsubscribe_unsuback() {
    let Packet::SubAck(a) = exact(b"\x90\x05\x00\x01\x00\x02\x80", V3) else {
        panic!()
    };
    assert_eq!(
        a.reason_codes.iter().collect::<Vec<_>>(),
        [
            ReasonCode::SUCCESS,
            ReasonCode::GRANTED_QOS_2,
            ReasonCode::UNSPECIFIED_ERROR
        ]
    );
    assert_eq!(
        err_kind(b"\x90\x03\x00\x01\x87", V3),
        DecodeErrorKind::ProtocolError
    );
    exact(b"\x90\x04\x00\x01\x00\x87", V5);
    assert_eq!(
        err_kind(b"\x90\x03\x00\x01\x00", V5),
        DecodeErrorKind::ProtocolError
    );

    let Packet::Unsubscribe(u) = exact(b"\xa2\x07\x00\x02\x00\x03a/b", V3) else {
        panic!()
    };
    assert_eq!(u.filters.iter().collect::<Vec<_>>(), ["a/b"]);
    exact(b"\xa2\x08\x00\x02\x00\x00\x03a/b", V5);
    assert_eq!(
        err_kind(b"\xa2\x02\x00\x02", V3),
        DecodeErrorKind::ProtocolError
    );

    exact(b"\xb0\x02\x00\x02", V3);
    let Packet::UnsubAck(u) = exact(b"\xb0\x05\x00\x02\x00\x00\x11", V5) else {
        panic!()
    };
    assert_eq!(
        u.reason_codes.iter().collect::<Vec<_>>(),
        [ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
    );
    assert_eq!(
        err_kind(b"\xb0\x03\x00\x02\x00", V3),
        DecodeErrorKind::Malformed
    );
    assert_eq!(
        err_kind(b"\xb0\x03\x00\x02\x00", V5),
        DecodeErrorKind::ProtocolError
    );
}

#[test]
fn ping_disconnect_auth() {
    for v in [V3, V5] {
        assert_eq!(exact(b"\xc0\x00", v), Packet::PingReq);
        assert_eq!(exact(b"\xd0\x00", v), Packet::PingResp);
        assert_eq!(err_kind(b"\xd0\x01\x00", v), DecodeErrorKind::Malformed);
        let Packet::Disconnect(d) = exact(b"\xe0\x00", v) else {
            panic!()
        };
        assert_eq!(d.reason, ReasonCode::SUCCESS);
    }
    let Packet::Disconnect(d) = exact(b"\xe0\x01\x8e", V5) else {
        panic!()
    };
    assert_eq!(d.reason, ReasonCode::SESSION_TAKEN_OVER);
    let Packet::Disconnect(d) = exact(b"\xe0\x08\x9c\x06\x1c\x00\x03srv", V5) else {
        panic!()
    };
    assert_eq!(
        d.properties.find(0x1C),
        Some(Property::ServerReference("srv"))
    );
    assert_eq!(err_kind(b"\xe0\x01\x8e", V3), DecodeErrorKind::Malformed);
    assert_eq!(
        err_kind(b"\xe0\x01\x92", V5),
        DecodeErrorKind::ProtocolError
    );
    assert_eq!(
        exact(b"\xf0\x00", V5),
        Packet::Auth(Auth {
            reason: ReasonCode::SUCCESS,
            properties: Properties::empty()
        })
    );
    exact(b"\xf0\x07\x18\x05\x15\x00\x02ab", V5);
    assert_eq!(err_kind(b"\xf0\x00", V3), DecodeErrorKind::Malformed);
    assert!(matches!(
        Packet::Disconnect(Disconnect {
            reason: ReasonCode::SERVER_BUSY,
            properties: Properties::empty()
        })
        .encode(V3, &mut [0; 8]),
        Err(EncodeError::Invalid(_))
    ));
}

#[test]
fn headers_and_varints() {
    assert_eq!(decode(b"", V5), Ok(None));
    assert_eq!(decode(b"\x30", V5), Ok(None));
    assert_eq!(decode(b"\x30\x80", V5), Ok(None));
    assert_eq!(decode(b"\x30\x05\x00\x03a", V5), Ok(None));
    assert_eq!(err_kind(b"\x00\x00", V5), DecodeErrorKind::Malformed);
    assert_eq!(err_kind(b"\x30\x80\x00", V5), DecodeErrorKind::Malformed);
    assert_eq!(
        err_kind(b"\x30\xff\xff\xff\xff\x01", V5),
        DecodeErrorKind::Malformed
    );
    for (value, bytes) in [
        (0u32, &[0x00][..]),
        (127, &[0x7f]),
        (128, &[0x80, 0x01]),
        (16_383, &[0xff, 0x7f]),
        (16_384, &[0x80, 0x80, 0x01]),
        (2_097_151, &[0xff, 0xff, 0x7f]),
        (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
        (VARINT_MAX, &[0xff, 0xff, 0xff, 0x7f]),
    ] {
        let mut out = [0u8; 4];
        let n = encode_varint(value, &mut out).unwrap();
        assert_eq!(&out[..n], bytes);
        assert_eq!(varint_len(value), n);
        assert_eq!(decode_varint(bytes), Ok(Some((value, n))));
    }
    assert_eq!(
        encode_varint(VARINT_MAX + 1, &mut [0; 8]),
        Err(EncodeError::TooLong)
    );
    let h = decode_header(b"\x30\x80\x01", V5).unwrap().unwrap();
    assert_eq!(
        (h.packet_type(), h.remaining_len, h.packet_len()),
        (3, 128, 131)
    );
}

#[test]
fn error_kinds_map_to_reason_codes() {
    let e = decode(b"\x00\x00", V5).unwrap_err();
    assert_eq!(e.reason_code(), ReasonCode::MALFORMED_PACKET);
    assert!(std::format!("{e}").starts_with("malformed packet"));
    assert_eq!(
        DecodeErrorKind::ProtocolError.reason_code(),
        ReasonCode::PROTOCOL_ERROR
    );
    assert_eq!(
        DecodeErrorKind::TooLarge.reason_code(),
        ReasonCode::PACKET_TOO_LARGE
    );
    assert_eq!(
        DecodeErrorKind::TopicNameInvalid.reason_code(),
        ReasonCode::TOPIC_NAME_INVALID
    );
    assert_eq!(ReasonCode(0x87).name(), Some("Not authorized"));
    assert_eq!(ReasonCode(0x03).name(), None);
}

#[test]
fn encoder_refuses_invalid_fields() {
    let bad = |p: Packet<'_>, v| {
        assert!(
            matches!(p.encode(v, &mut [0; 128]), Err(EncodeError::Invalid(_))),
            "{p:?}"
        )
    };
    let publish = Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "a",
        packet_id: None,
        properties: Properties::empty(),
        payload: b"",
    };
    bad(
        Packet::Publish(Publish {
            topic: "a/#",
            ..publish
        }),
        V5,
    );
    bad(
        Packet::Publish(Publish {
            topic: "",
            ..publish
        }),
        V5,
    );
    bad(
        Packet::Publish(Publish {
            topic: "a\0",
            ..publish
        }),
        V5,
    );
    bad(
        Packet::Publish(Publish {
            dup: true,
            ..publish
        }),
        V5,
    );
    bad(
        Packet::Publish(Publish {
            packet_id: Some(1),
            ..publish
        }),
        V5,
    );
    bad(
        Packet::Publish(Publish {
            qos: QoS::AtLeastOnce,
            ..publish
        }),
        V5,
    );
    bad(
        Packet::Publish(Publish {
            qos: QoS::AtLeastOnce,
            packet_id: Some(0),
            ..publish
        }),
        V5,
    );
    let ra = [Property::ReceiveMaximum(1)];
    bad(
        Packet::Publish(Publish {
            properties: props_of(&ra),
            ..publish
        }),
        V5,
    );
    bad(Packet::PubAck(PubResp::new(0)), V5);
    bad(
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Properties::empty(),
            subscriptions: List::empty(),
        }),
        V5,
    );
    let subs = [Subscription::new("a/b#", QoS::AtMostOnce)];
    bad(
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Properties::empty(),
            subscriptions: List::new(&subs),
        }),
        V5,
    );
    bad(
        Packet::Auth(Auth {
            reason: ReasonCode::SUCCESS,
            properties: Properties::empty(),
        }),
        V3,
    );
    let long = "x".repeat(70_000);
    assert_eq!(
        Packet::Publish(Publish {
            topic: &long,
            ..publish
        })
        .encode(V5, &mut [0; 8]),
        Err(EncodeError::Invalid("string longer than 65535 bytes"))
    );
}

#[test]
fn topic_rules_and_matching() {
    for ok in ["a", "a/b", "/", "a//b", "$SYS/x", "ä/ö"] {
        assert_eq!(validate_topic_name(ok), Ok(()), "{ok}");
    }
    for bad in ["", "a/+", "#", "a\0b"] {
        assert!(validate_topic_name(bad).is_err(), "{bad}");
    }
    for ok in [
        "#",
        "+",
        "a/+/b",
        "a/#",
        "+/+",
        "/+",
        "$share/g/a/#",
        "$SYS/#",
    ] {
        assert_eq!(validate_topic_filter(ok), Ok(()), "{ok}");
    }
    for bad in [
        "",
        "a#",
        "a/#/b",
        "a+",
        "+a/b",
        "$share/g",
        "$share//a",
        "$share/g+/a",
        "$share/g/",
    ] {
        assert!(validate_topic_filter(bad).is_err(), "{bad}");
    }
    let cases = [
        ("a/b", "a/b", true),
        ("a/+", "a/b", true),
        ("a/+", "a/b/c", false),
        ("a/#", "a", true),
        ("a/#", "a/b/c", true),
        ("#", "a/b", true),
        ("+/+", "/x", true),
        ("+", "/x", false),
        ("#", "$SYS/x", false),
        ("+/x", "$SYS/x", false),
        ("$SYS/#", "$SYS/x", true),
        ("$share/g/a/+", "a/b", true),
        ("a/b", "a/c", false),
        ("a/b/c", "a/b", false),
        ("a/+/c", "a//c", true),
    ];
    for (filter, topic, expected) in cases {
        assert_eq!(
            topic_matches(filter, topic),
            expected,
            "{filter} vs {topic}"
        );
    }
}

/// Decoding arbitrary bytes never panics, and whatever decodes re-encodes into a
/// packet that decodes to the same value.
fn decode_reencode(bytes: &[u8]) {
    for v in [V3, V5] {
        if let Ok(Some((packet, used))) = decode(bytes, v) {
            assert!(used <= bytes.len());
            let v = match packet {
                Packet::Connect(c) => c.version,
                _ => v,
            };
            let mut out = std::vec![0u8; used + 16];
            let n = packet
                .encode(v, &mut out)
                .expect("a decoded packet re-encodes");
            let (again, m) = decode(&out[..n], v).unwrap().unwrap();
            assert_eq!((again, m), (packet, n));
        }
    }
}

mod props {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn level() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 _-]{0,6}"
    }

    /// Filter levels `f` against topic levels `t`, one level at a time: the
    /// model of section 4.7 that the matcher must agree with.
    fn levels_match(f: &[&str], t: &[&str]) -> bool {
        match (f.first(), t.first()) {
            (Some(&"#"), _) => true,
            (Some(&"+"), Some(_)) => levels_match(&f[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => levels_match(&f[1..], &t[1..]),
            (None, None) => true,
            _ => false,
        }
    }

    fn topic() -> impl Strategy<Value = String> {
        vec(level(), 1..5)
            .prop_map(|l| l.join("/"))
            .prop_filter("non-empty", |t| !t.is_empty())
    }

    fn filter() -> impl Strategy<Value = String> {
        (
            vec(prop_oneof![level(), Just(String::from("+"))], 1..4),
            any::<bool>(),
        )
            .prop_map(|(mut levels, hash)| {
                if hash {
                    levels.push(String::from("#"));
                }
                levels.join("/")
            })
            .prop_filter("valid", |f| validate_topic_filter(f).is_ok())
    }

    fn text() -> impl Strategy<Value = String> {
        "[^\u{0}]{0,12}"
    }

    #[derive(Debug, Clone)]
    enum OwnedProp {
        User(String, String),
        Content(String),
        Response(String),
        Correlation(Vec<u8>),
        Expiry(u32),
        Format(u8),
        SubId(u32),
        Alias(u16),
    }

    fn publish_props() -> impl Strategy<Value = Vec<OwnedProp>> {
        let one = prop_oneof![
            (text(), text()).prop_map(|(k, v)| OwnedProp::User(k, v)),
            text().prop_map(OwnedProp::Content),
            topic().prop_map(OwnedProp::Response),
            vec(any::<u8>(), 0..16).prop_map(OwnedProp::Correlation),
            any::<u32>().prop_map(OwnedProp::Expiry),
            (0u8..=1).prop_map(OwnedProp::Format),
            (1u32..=VARINT_MAX).prop_map(OwnedProp::SubId),
            (1u16..).prop_map(OwnedProp::Alias),
        ];
        vec(one, 0..6).prop_map(|mut v| {
            // Keep the single-instance properties single.
            let mut seen = std::collections::HashSet::new();
            v.retain(|p| {
                matches!(p, OwnedProp::User(..) | OwnedProp::SubId(_))
                    || seen.insert(std::mem::discriminant(p))
            });
            v
        })
    }

    fn borrow(p: &OwnedProp) -> Property<'_> {
        match p {
            OwnedProp::User(k, v) => Property::UserProperty(k, v),
            OwnedProp::Content(s) => Property::ContentType(s),
            OwnedProp::Response(s) => Property::ResponseTopic(s),
            OwnedProp::Correlation(b) => Property::CorrelationData(b),
            OwnedProp::Expiry(n) => Property::MessageExpiryInterval(*n),
            OwnedProp::Format(n) => Property::PayloadFormatIndicator(*n),
            OwnedProp::SubId(n) => Property::SubscriptionIdentifier(*n),
            OwnedProp::Alias(n) => Property::TopicAlias(*n),
        }
    }

    fn qos() -> impl Strategy<Value = QoS> {
        prop_oneof![
            Just(QoS::AtMostOnce),
            Just(QoS::AtLeastOnce),
            Just(QoS::ExactlyOnce)
        ]
    }

    proptest! {
        #[test]
        fn publish_round_trips(
            topic in topic(), qos in qos(), retain: bool, dup: bool, id in 1u16..,
            payload in vec(any::<u8>(), 0..300), props in publish_props(), v5: bool,
        ) {
            let props: Vec<Property<'_>> = if v5 { props.iter().map(borrow).collect() } else { Vec::new() };
            let p = Packet::Publish(Publish {
                dup: dup && qos != QoS::AtMostOnce,
                qos,
                retain,
                topic: &topic,
                packet_id: (qos != QoS::AtMostOnce).then_some(id),
                properties: Properties::new(&props),
                payload: &payload,
            });
            round_trip(&p, if v5 { V5 } else { V3 });
        }

        #[test]
        fn connect_round_trips(
            client_id in text(), keep_alive: u16, clean: bool, will in proptest::option::of((topic(), vec(any::<u8>(), 0..20), qos(), any::<bool>())),
            username in proptest::option::of(text()), password in proptest::option::of(vec(any::<u8>(), 0..10)),
            expiry in proptest::option::of(any::<u32>()), v5: bool,
        ) {
            let version = if v5 { V5 } else { V3 };
            let props: Vec<Property<'_>> = match expiry { Some(e) if v5 => std::vec![Property::SessionExpiryInterval(e)], _ => Vec::new() };
            let will = will.as_ref().map(|(t, p, q, r)| Will { topic: t, payload: p, qos: *q, retain: *r, properties: Properties::empty() });
            let password = if v5 || username.is_some() { password.as_deref() } else { None };
            let c = Packet::Connect(Connect {
                version, clean_start: clean, keep_alive, client_id: &client_id, will,
                username: username.as_deref(), password, properties: Properties::new(&props),
            });
            round_trip(&c, version);
        }

        #[test]
        fn subscribe_and_acks_round_trip(
            filters in vec((filter(), qos(), any::<bool>(), any::<bool>(), 0u8..3), 1..5),
            id in 1u16.., sub_id in proptest::option::of(1u32..=VARINT_MAX), v5: bool,
            codes in vec(prop_oneof![Just(0u8), Just(1), Just(2), Just(0x80)], 1..5),
            reason in prop_oneof![Just(0u8), Just(0x10), Just(0x80), Just(0x97)],
            reason_text in proptest::option::of(text()),
        ) {
            let v = if v5 { V5 } else { V3 };
            let subs: Vec<Subscription<'_>> = filters.iter().map(|(f, q, nl, rap, rh)| {
                let mut s = Subscription::new(f, *q);
                if v5 {
                    s.options.no_local = *nl;
                    s.options.retain_as_published = *rap;
                    s.options.retain_handling = [RetainHandling::SendAtSubscribe, RetainHandling::SendIfNew, RetainHandling::DoNotSend][usize::from(*rh)];
                }
                s
            }).collect();
            let sp: Vec<Property<'_>> = match sub_id { Some(s) if v5 => std::vec![Property::SubscriptionIdentifier(s)], _ => Vec::new() };
            round_trip(&Packet::Subscribe(Subscribe { packet_id: id, properties: Properties::new(&sp), subscriptions: List::new(&subs) }), v);
            let codes: Vec<ReasonCode> = codes.into_iter().map(ReasonCode).collect();
            round_trip(&Packet::SubAck(SubAck { packet_id: id, properties: Properties::empty(), reason_codes: List::new(&codes) }), v);
            let names: Vec<&str> = filters.iter().map(|f| f.0.as_str()).collect();
            round_trip(&Packet::Unsubscribe(Unsubscribe { packet_id: id, properties: Properties::empty(), filters: List::new(&names) }), v);
            let ucodes: Vec<ReasonCode> = if v5 { std::vec![ReasonCode::SUCCESS; names.len()] } else { Vec::new() };
            round_trip(&Packet::UnsubAck(UnsubAck { packet_id: id, properties: Properties::empty(), reason_codes: List::new(&ucodes) }), v);
            let rp: Vec<Property<'_>> = match &reason_text { Some(t) if v5 => std::vec![Property::ReasonString(t)], _ => Vec::new() };
            let resp = PubResp { packet_id: id, reason: if v5 { ReasonCode(reason) } else { ReasonCode::SUCCESS }, properties: Properties::new(&rp) };
            round_trip(&Packet::PubAck(resp), v);
            round_trip(&Packet::PubRec(resp), v);
            let rel = PubResp { reason: ReasonCode::SUCCESS, ..resp };
            round_trip(&Packet::PubRel(rel), v);
            round_trip(&Packet::PubComp(rel), v);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..64)) {
            decode_reencode(&bytes);
        }

        #[test]
        fn mutated_packets_never_panic(pos in 0usize..40, byte: u8, payload in vec(any::<u8>(), 0..8)) {
            let props = [Property::UserProperty("k", "v"), Property::TopicAlias(3)];
            let p = Packet::Publish(Publish { dup: false, qos: QoS::ExactlyOnce, retain: false, topic: "a/b",
                packet_id: Some(3), properties: Properties::new(&props), payload: &payload });
            let mut buf = std::vec![0u8; 64];
            let n = p.encode(V5, &mut buf).unwrap();
            buf.truncate(n);
            if pos < n { buf[pos] = byte; }
            decode_reencode(&buf);
        }

        #[test]
        fn a_checked_filter_matches_as_the_level_by_level_model(topic in topic(), filter in filter()) {
            let checked = TopicFilter::new(&filter).expect("the strategy makes valid filters");
            let f: Vec<&str> = filter.split('/').collect();
            let t: Vec<&str> = topic.split('/').collect();
            let model = !(topic.starts_with('$') && filter.starts_with(['+', '#']))
                && levels_match(&f, &t);
            prop_assert_eq!(checked.matches(&topic), model);
            prop_assert_eq!(topic_matches(&filter, &topic), model);
            let shared = std::format!("$share/group/{filter}");
            prop_assert_eq!(TopicFilter::new(&shared).map(|f| f.matches(&topic)), Ok(model));
        }

        #[test]
        fn topic_matching_agrees_with_a_naive_model(topic in topic(), filter in filter()) {
            // A filter without wildcards matches exactly itself.
            if !filter.contains(['+', '#']) {
                prop_assert_eq!(topic_matches(&filter, &topic), filter == topic);
            }
            prop_assert!(topic_matches("#", &topic));
            prop_assert!(topic_matches(&topic, &topic));
        }
    }
}

/// One value of every property kind, plus the values its rules refuse, so that
/// the exhaustive checks below reach every branch of both the encoder and the
/// decoder.
fn every_property() -> Vec<Property<'static>> {
    use Property as P;
    std::vec![
        P::PayloadFormatIndicator(1),
        P::PayloadFormatIndicator(2),
        P::MessageExpiryInterval(60),
        P::ContentType("text/plain"),
        P::ResponseTopic("re/ply"),
        P::CorrelationData(b"c"),
        P::SubscriptionIdentifier(7),
        P::SubscriptionIdentifier(0),
        P::SessionExpiryInterval(3600),
        P::AssignedClientIdentifier("id"),
        P::ServerKeepAlive(30),
        P::AuthenticationMethod("SCRAM"),
        P::AuthenticationData(b"d"),
        P::RequestProblemInformation(0),
        P::WillDelayInterval(5),
        P::RequestResponseInformation(1),
        P::ResponseInformation("info"),
        P::ServerReference("other:1883"),
        P::ReasonString("why"),
        P::ReceiveMaximum(10),
        P::ReceiveMaximum(0),
        P::TopicAliasMaximum(4),
        P::TopicAlias(1),
        P::TopicAlias(0),
        P::MaximumQoS(1),
        P::RetainAvailable(0),
        P::UserProperty("k", "v"),
        P::MaximumPacketSize(1024),
        P::MaximumPacketSize(0),
        P::WildcardSubscriptionAvailable(1),
        P::SubscriptionIdentifierAvailable(1),
        P::SharedSubscriptionAvailable(1),
    ]
}

const SUBSCRIPTIONS: &[Subscription<'static>] = &[Subscription::new("t/#", QoS::AtLeastOnce)];

/// A CONNECT with clean start, client id "c", keep alive 30 and nothing else
/// but `props`.
const fn plain_connect(version: Version, props: Properties<'_>) -> Connect<'_> {
    Connect {
        version,
        clean_start: true,
        keep_alive: 30,
        client_id: "c",
        will: None,
        username: None,
        password: None,
        properties: props,
    }
}

/// Every 5.0 packet that carries properties, with `props` as its properties (for
/// CONNECT twice: in the packet and in its will).
fn every_packet_with<'a>(props: Properties<'a>) -> Vec<Packet<'a>> {
    let resp = PubResp {
        packet_id: 3,
        reason: ReasonCode::SUCCESS,
        properties: props,
    };
    let connect = plain_connect(V5, props);
    std::vec![
        Packet::Connect(connect),
        Packet::Connect(Connect {
            properties: Properties::empty(),
            will: Some(Will {
                topic: "w",
                payload: b"gone",
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: props,
            }),
            ..connect
        }),
        Packet::ConnAck(ConnAck {
            session_present: false,
            reason: ReasonCode::SUCCESS,
            properties: props,
        }),
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "t",
            packet_id: Some(3),
            properties: props,
            payload: b"x",
        }),
        Packet::PubAck(resp),
        Packet::PubRec(resp),
        Packet::PubRel(resp),
        Packet::PubComp(resp),
        Packet::Subscribe(Subscribe {
            packet_id: 3,
            properties: props,
            subscriptions: List::new(SUBSCRIPTIONS),
        }),
        Packet::SubAck(SubAck {
            packet_id: 3,
            properties: props,
            reason_codes: List::new(&[ReasonCode::GRANTED_QOS_1]),
        }),
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 3,
            properties: props,
            filters: List::new(&["t/#"]),
        }),
        Packet::UnsubAck(UnsubAck {
            packet_id: 3,
            properties: props,
            reason_codes: List::new(&[ReasonCode::SUCCESS]),
        }),
        Packet::Disconnect(Disconnect {
            reason: ReasonCode::SUCCESS,
            properties: props,
        }),
        Packet::Auth(Auth {
            reason: ReasonCode::CONTINUE_AUTHENTICATION,
            properties: props,
        }),
    ]
}

/// Encodes `packet`; if the encoder accepts it, the decoder must accept it too
/// and give back the same packet (the client never sends what it refuses).
/// Returns whether it was encodable.
fn encodable_decodes(packet: &Packet<'_>) -> bool {
    let mut out = [0u8; 512];
    let Ok(n) = packet.encode(V5, &mut out) else {
        return false;
    };
    match decode(&out[..n], V5) {
        Ok(Some((decoded, used))) => {
            assert_eq!(used, n, "{packet:?}");
            assert_eq!(&decoded, packet, "decodes to what was encoded");
        }
        other => panic!(
            "encoded {packet:?} as {:02x?}, which decodes to {other:?}",
            &out[..n]
        ),
    }
    true
}

/// Exhaustive over property kinds: every packet with every single property and
/// every ordered pair of properties (so every property twice, beside itself and
/// beside every other). Every encodable packet decodes; a property given twice is
/// encodable only where it may repeat.
#[test]
fn every_encodable_packet_decodes_exhaustive_over_property_pairs() {
    let all = every_property();
    let (mut encodable, mut refused) = (0u32, 0u32);
    let mut count = |ok: bool| {
        if ok {
            encodable += 1;
        } else {
            refused += 1;
        }
    };
    for a in &all {
        for packet in every_packet_with(Properties::new(core::slice::from_ref(a))) {
            count(encodable_decodes(&packet));
        }
        for b in &all {
            let pair = [*a, *b];
            for packet in every_packet_with(Properties::new(&pair)) {
                let ok = encodable_decodes(&packet);
                count(ok);
                let repeatable = match a {
                    Property::UserProperty(..) => true,
                    Property::SubscriptionIdentifier(_) => matches!(packet, Packet::Publish(_)),
                    _ => false,
                };
                if a.id() == b.id() && !repeatable {
                    assert!(!ok, "{a:?} twice encoded in {packet:?}");
                }
            }
        }
    }
    // Both outcomes occur: the check is neither vacuous nor refusing everything.
    assert!(
        encodable > 500 && refused > 10_000,
        "{encodable} / {refused}"
    );
}

/// The bug of issue 20: a CONNECT with the session expiry interval twice and a
/// PUBLISH with the message expiry interval twice were encoded; now refused.
#[test]
fn encoder_refuses_single_valued_properties_twice() {
    let twice = [
        Property::SessionExpiryInterval(60),
        Property::SessionExpiryInterval(60),
    ];
    let connect = &every_packet_with(Properties::new(&twice))[0];
    let mut out = [0u8; 256];
    assert_eq!(
        connect.encode(V5, &mut out),
        Err(EncodeError::Invalid("property appears twice"))
    );
    let twice = [
        Property::MessageExpiryInterval(10),
        Property::MessageExpiryInterval(20),
    ];
    let publish = &every_packet_with(Properties::new(&twice))[3];
    assert_eq!(
        publish.encode(V5, &mut out),
        Err(EncodeError::Invalid("property appears twice"))
    );
    // Chained lists (the client's own plus the application's) are checked as one.
    let own = [Property::TopicAlias(1)];
    let app = [Property::UserProperty("a", "b"), Property::TopicAlias(2)];
    let publish = &every_packet_with(List::chain(&own, &app))[3];
    assert_eq!(
        publish.encode(V5, &mut out),
        Err(EncodeError::Invalid("property appears twice"))
    );
}

mod encodable_prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Lists of up to five properties of any kind, in any packet: whatever the
        /// encoder accepts, the decoder accepts and gives back unchanged.
        #[test]
        fn any_encodable_packet_decodes(picks in proptest::collection::vec(0usize..64, 0..5)) {
            let all = every_property();
            let props: Vec<Property<'static>> = picks.iter().map(|i| all[i % all.len()]).collect();
            for packet in every_packet_with(Properties::new(&props)) {
                encodable_decodes(&packet);
            }
        }
    }
}

/// Every single-valued property has a typed accessor that reads it from a
/// decoded packet, and returns `None` when the packet did not carry it.
#[test]
fn typed_property_accessors() {
    let props = [
        Property::PayloadFormatIndicator(1),
        Property::MessageExpiryInterval(30),
        Property::ContentType("text/plain"),
        Property::ResponseTopic("reply/1"),
        Property::CorrelationData(b"c-7"),
        Property::SubscriptionIdentifier(3),
        Property::SubscriptionIdentifier(9),
        Property::UserProperty("a", "1"),
        Property::UserProperty("a", "2"),
        Property::TopicAlias(4),
    ];
    let publish = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "t",
        packet_id: None,
        properties: Properties::new(&props),
        payload: b"x",
    });
    let bytes = round_trip(&publish, V5);
    let Some((Packet::Publish(p), _)) = decode(&bytes, V5).unwrap() else {
        panic!("a publish")
    };
    let got = p.properties;
    assert_eq!(got.payload_format_indicator(), Some(1));
    assert_eq!(got.message_expiry_interval(), Some(30));
    assert_eq!(got.content_type(), Some("text/plain"));
    assert_eq!(got.response_topic(), Some("reply/1"));
    assert_eq!(got.correlation_data(), Some(&b"c-7"[..]));
    assert_eq!(got.topic_alias(), Some(4));
    assert_eq!(got.subscription_identifiers().collect::<Vec<_>>(), [3, 9]);
    assert_eq!(
        got.user_properties().collect::<Vec<_>>(),
        [("a", "1"), ("a", "2")]
    );
    assert_eq!(got.reason_string(), None);
    assert_eq!(got.session_expiry_interval(), None);

    let connack_props = [
        Property::SessionExpiryInterval(60),
        Property::ReceiveMaximum(5),
        Property::MaximumQoS(1),
        Property::RetainAvailable(0),
        Property::MaximumPacketSize(1000),
        Property::AssignedClientIdentifier("auto-1"),
        Property::TopicAliasMaximum(3),
        Property::ReasonString("hi"),
        Property::WildcardSubscriptionAvailable(0),
        Property::SubscriptionIdentifierAvailable(1),
        Property::SharedSubscriptionAvailable(0),
        Property::ServerKeepAlive(20),
        Property::ResponseInformation("r/"),
        Property::ServerReference("other:1883"),
        Property::AuthenticationMethod("SCRAM"),
        Property::AuthenticationData(b"d"),
    ];
    let connack = Packet::ConnAck(ConnAck {
        session_present: false,
        reason: ReasonCode::SUCCESS,
        properties: Properties::new(&connack_props),
    });
    let bytes = round_trip(&connack, V5);
    let Some((Packet::ConnAck(a), _)) = decode(&bytes, V5).unwrap() else {
        panic!("a connack")
    };
    let got = a.properties;
    assert_eq!(got.session_expiry_interval(), Some(60));
    assert_eq!(got.receive_maximum(), Some(5));
    assert_eq!(got.maximum_qos(), Some(1));
    assert_eq!(got.retain_available(), Some(0));
    assert_eq!(got.maximum_packet_size(), Some(1000));
    assert_eq!(got.assigned_client_identifier(), Some("auto-1"));
    assert_eq!(got.topic_alias_maximum(), Some(3));
    assert_eq!(got.reason_string(), Some("hi"));
    assert_eq!(got.wildcard_subscription_available(), Some(0));
    assert_eq!(got.subscription_identifier_available(), Some(1));
    assert_eq!(got.shared_subscription_available(), Some(0));
    assert_eq!(got.server_keep_alive(), Some(20));
    assert_eq!(got.response_information(), Some("r/"));
    assert_eq!(got.server_reference(), Some("other:1883"));
    assert_eq!(got.authentication_method(), Some("SCRAM"));
    assert_eq!(got.authentication_data(), Some(&b"d"[..]));
    assert_eq!(got.content_type(), None);

    let will_props = [Property::WillDelayInterval(5), Property::ContentType("x")];
    let connect_props = [
        Property::RequestProblemInformation(0),
        Property::RequestResponseInformation(1),
    ];
    let connect = Packet::Connect(Connect {
        version: V5,
        clean_start: true,
        keep_alive: 0,
        client_id: "c",
        will: Some(
            Will::new("w", b"gone", QoS::AtLeastOnce)
                .retain(true)
                .properties(&will_props),
        ),
        username: None,
        password: None,
        properties: Properties::new(&connect_props),
    });
    let bytes = round_trip(&connect, V5);
    let Some((Packet::Connect(c), _)) = decode(&bytes, V5).unwrap() else {
        panic!("a connect")
    };
    assert_eq!(c.properties.request_problem_information(), Some(0));
    assert_eq!(c.properties.request_response_information(), Some(1));
    let will = c.will.expect("a will");
    assert!(will.retain);
    assert_eq!(will.qos, QoS::AtLeastOnce);
    assert_eq!(will.properties.will_delay_interval(), Some(5));
}

/// The subscription option builders set exactly the bits of MQTT 5.0 3.8.3.1.
#[test]
fn subscription_option_builders() {
    let plain = Subscription::new("a/#", QoS::AtLeastOnce);
    assert_eq!(plain.options, SubscriptionOptions::new(QoS::AtLeastOnce));
    assert_eq!(
        plain.options,
        SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            ..Default::default()
        }
    );
    let all = Subscription::new("a/#", QoS::ExactlyOnce)
        .no_local(true)
        .retain_as_published(true)
        .retain_handling(RetainHandling::DoNotSend);
    let same = Subscription::new("a/#", QoS::AtMostOnce).options(
        SubscriptionOptions::new(QoS::ExactlyOnce)
            .no_local(true)
            .retain_as_published(true)
            .retain_handling(RetainHandling::DoNotSend),
    );
    assert_eq!(all, same);
    let subs = [
        all,
        Subscription::new("b", QoS::AtMostOnce).retain_handling(RetainHandling::SendIfNew),
    ];
    let subscribe = Packet::Subscribe(Subscribe {
        packet_id: 1,
        properties: Properties::empty(),
        subscriptions: List::new(&subs),
    });
    let bytes = round_trip(&subscribe, V5);
    // ... "a/#" then options: QoS 2 | no local 0x04 | RAP 0x08 | RH 2 << 4.
    assert!(bytes.windows(4).any(|w| w == b"a/#\x2e"), "{bytes:x?}");
    assert!(bytes.ends_with(b"b\x10"), "{bytes:x?}");
}

/// `decode_from_server` decodes what a server sends exactly as `decode` does,
/// and refuses the four client-only packet types from the fixed header alone
/// (issue 20 §3: a client's firmware then has no decoder for them).
#[test]
fn decode_from_server_refuses_client_only_packets() {
    let subs = [Subscription::new("a/#", QoS::AtLeastOnce)];
    let connect = |version| plain_connect(version, Properties::empty());
    for v in [V3, V5] {
        let only_clients_send = [
            Packet::Connect(connect(v)),
            Packet::Subscribe(Subscribe {
                packet_id: 1,
                subscriptions: List::new(&subs),
                properties: Properties::empty(),
            }),
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 2,
                filters: List::new(&["a/#"]),
                properties: Properties::empty(),
            }),
            Packet::PingReq,
        ];
        for packet in &only_clients_send {
            let bytes = round_trip(packet, v);
            assert!(client_only(bytes[0] >> 4));
            let e = decode_from_server(&bytes, v).unwrap_err();
            assert_eq!(e.kind(), DecodeErrorKind::ProtocolError, "{packet:?}");
            // The header alone is enough to refuse.
            let e = decode_from_server(&bytes[..2], v).unwrap_err();
            assert_eq!(e.kind(), DecodeErrorKind::ProtocolError);
        }
        let from_server = [
            Packet::PingResp,
            Packet::PubAck(PubResp::new(7)),
            Packet::ConnAck(ConnAck {
                session_present: false,
                reason: ReasonCode::SUCCESS,
                properties: Properties::empty(),
            }),
        ];
        for packet in &from_server {
            let bytes = round_trip(packet, v);
            assert!(!client_only(bytes[0] >> 4));
            assert_eq!(decode_from_server(&bytes, v), decode(&bytes, v));
            assert_eq!(decode_from_server(&bytes[..1], v), Ok(None));
        }
    }
}
