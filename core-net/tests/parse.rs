//! Every form of host and endpoint text, every error with its kind and position,
//! and the round trip through `Display`.

use core::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use core_net::{DnsName, Endpoint, Host, ParseErrorKind as K, Zone};

#[track_caller]
fn round_trip(text: &str) -> Endpoint<'_> {
    let endpoint = Endpoint::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    assert_eq!(endpoint.to_string(), text);
    endpoint
}

#[track_caller]
fn fails(text: &str, kind: K, position: usize) {
    let err = Endpoint::parse(text).expect_err(text);
    assert_eq!(
        (err.kind(), err.position()),
        (kind, position),
        "{text}: {err}"
    );
}

#[test]
fn endpoints_of_every_form() {
    let e = round_trip("broker.local:1883");
    assert_eq!(e.host().name().unwrap().as_str(), "broker.local");
    assert_eq!(e.port(), 1883);
    let e = round_trip("192.0.2.1:80");
    assert_eq!(e.host(), Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1)));
    assert_eq!(e.to_socket_addr(), Some("192.0.2.1:80".parse().unwrap()));
    let e = round_trip("[::1]:80");
    assert_eq!(
        e.host(),
        Host::Ipv6 {
            addr: Ipv6Addr::LOCALHOST,
            zone: None
        }
    );
    let e = round_trip("[fe80::1%eth0]:80");
    assert_eq!(
        e.host(),
        Host::Ipv6 {
            addr: "fe80::1".parse().unwrap(),
            zone: Some(Zone::Name("eth0"))
        }
    );
    assert_eq!(e.to_socket_addr(), None, "a named zone needs the OS");
    let e = round_trip("[fe80::1%3]:80");
    let SocketAddr::V6(v6) = e.to_socket_addr().unwrap() else {
        panic!("not v6")
    };
    assert_eq!(v6.scope_id(), 3);
    round_trip("a-b.c-d.example.:0");
    round_trip("localhost:65535");
}

#[test]
fn default_ports() {
    let e = Endpoint::parse_with_default_port("broker.local", 1883).unwrap();
    assert_eq!(e.to_string(), "broker.local:1883");
    let e = Endpoint::parse_with_default_port("[::1]", 1883).unwrap();
    assert_eq!(e.to_string(), "[::1]:1883");
    let e = Endpoint::parse_with_default_port("fe80::2%eth1", 1883).unwrap();
    assert_eq!(e.to_string(), "[fe80::2%eth1]:1883");
    let e = Endpoint::parse_with_default_port("broker.local:8883", 1883).unwrap();
    assert_eq!(e.port(), 8883, "an explicit port wins");
}

#[test]
fn errors_have_a_kind_and_a_position() {
    fails("", K::Empty, 0);
    fails("example.com", K::MissingPort, 11);
    fails("example.com:", K::MissingPort, 12);
    fails("example.com:http", K::InvalidPort, 12);
    fails("example.com:8o", K::InvalidPort, 13);
    fails("example.com:99999", K::PortOutOfRange, 12);
    fails("example.com:-1", K::InvalidPort, 12);
    fails("[::1:80", K::UnclosedBracket, 0);
    fails("[::1]", K::MissingPort, 5);
    fails("[::1]x80", K::UnexpectedCharacter, 5);
    fails("[::g]:80", K::InvalidIpv6, 1);
    fails("::1:80", K::UnexpectedCharacter, 0);
    fails("1.2.3:80", K::InvalidIpv4, 0);
    fails("256.1.1.1:80", K::InvalidIpv4, 0);
    fails("1.2.3.4%eth0:80", K::ZoneNotAllowed, 7);
    fails("[fe80::1%]:80", K::InvalidZone, 9);
    fails("[fe80::1%eth 0]:80", K::InvalidZone, 12);
    fails("[fe80::1%abcdefghijklmnopq]:80", K::InvalidZone, 24);
    fails("[fe80::1%99999999999]:80", K::InvalidZone, 9);
    fails("a..b:80", K::EmptyLabel, 2);
    fails(".a:80", K::EmptyLabel, 0);
    fails("-a.b:80", K::HyphenAtLabelEdge, 0);
    fails("a.b-:80", K::HyphenAtLabelEdge, 3);
    fails("a_b.c:80", K::UnexpectedCharacter, 1);
    fails("x.123:80", K::InvalidIpv4, 0);
    let long_label = format!("{}.com:80", "a".repeat(64));
    fails(&long_label, K::LabelTooLong, 63);
    let long_name = format!("{}a:80", "a.".repeat(127));
    fails(&long_name, K::NameTooLong, 253);
}

#[test]
fn names_at_the_limits() {
    let label = "a".repeat(63);
    assert!(DnsName::parse(&label).is_ok());
    let name = format!("{}a", "a.".repeat(126));
    assert_eq!(name.len(), 253);
    assert!(DnsName::parse(&name).is_ok());
    let with_dot = format!("{name}.");
    assert!(
        DnsName::parse(&with_dot).is_ok(),
        "254 bytes with the trailing dot"
    );
    let a = DnsName::parse("Broker.Local.").unwrap();
    let b = DnsName::parse("broker.local").unwrap();
    assert!(a.eq_ignore_case(&b));
}

#[test]
fn hosts_without_ports() {
    assert_eq!(Host::parse("::1").unwrap().to_string(), "::1");
    assert_eq!(Host::parse("[::1]").unwrap().to_string(), "::1");
    assert_eq!(Host::parse("fe80::1%7").unwrap().to_string(), "fe80::1%7");
    assert_eq!(
        Host::parse("[::1]x").unwrap_err().kind(),
        K::TrailingCharacters
    );
    assert_eq!(
        Host::parse("10.0.0.1").unwrap().ip(),
        Some("10.0.0.1".parse().unwrap())
    );
    assert_eq!(
        Host::from(core::net::IpAddr::V6(Ipv6Addr::LOCALHOST)).to_string(),
        "::1"
    );
}

#[test]
fn socket_addresses_convert_both_ways() {
    for text in ["192.0.2.1:80", "[2001:db8::1]:443", "[fe80::1%4]:5683"] {
        let addr: SocketAddr = text.parse().unwrap();
        let endpoint = Endpoint::from(addr);
        assert_eq!(endpoint.to_string(), text);
        assert_eq!(endpoint.to_socket_addr(), Some(addr));
    }
}
