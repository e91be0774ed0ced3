//! Name resolution through smoltcp's DNS socket, against a small DNS server
//! written here on stack `b` of the simulation (UDP port 53).

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;
use core::time::Duration;

use portnet::future::{Either, select};
use portnet::{AddrFamily, Clock, Dns, UdpBind, UdpSocketExt};
use portnet_links::Faults;
use portnet_links::{Link, VirtualClock};
use portnet_smoltcp::Error;
use portnet_smoltcp::sim::{A_V4, A_V6, B_V4, B_V6, Pair, config, leak_stack};

const KNOWN: &str = "sensor.example";
const KNOWN_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 42);

/// The question's name as dotted text, and where the question ends.
fn question(query: &[u8]) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut at = 12;
    loop {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        if !name.is_empty() {
            name.push('.');
        }
        name.push_str(core::str::from_utf8(query.get(at..at + len)?).ok()?);
        at += len;
    }
    Some((name, at + 4))
}

/// Answers A queries for [`KNOWN`], NXDOMAIN for anything else.
fn answer(query: &[u8]) -> Option<Vec<u8>> {
    let (name, end) = question(query)?;
    let qtype = u16::from_be_bytes([query[end - 4], query[end - 3]]);
    let found = name == KNOWN && qtype == 1;
    let mut reply = query[..end].to_vec();
    reply[2] = 0x81; // response, recursion desired
    reply[3] = if found { 0x80 } else { 0x83 }; // recursion available; NXDOMAIN
    reply[6..8].copy_from_slice(&u16::from(found).to_be_bytes()); // answers
    reply[8..12].fill(0);
    if found {
        reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        reply.extend_from_slice(&KNOWN_ADDRESS.octets());
    }
    Some(reply)
}

#[test]
fn names_resolve_through_the_dns_socket_and_unknown_names_fail_with_their_kind() {
    let pair = Pair::new(Faults::NONE, 5);
    let (known, unknown, literal) = pair
        .run(async {
            let server = pair.b.bind(SocketAddr::new(B_V4.into(), 53)).await.unwrap();
            let serve = pin!(async {
                let mut buf = [0u8; 512];
                loop {
                    let (n, from) = server.recv_from(&mut buf).await.unwrap();
                    if let Some(reply) = answer(&buf[..n]) {
                        server.send_to(&reply, from).await.unwrap();
                    }
                }
            });
            let queries = pin!(async {
                let known = pair.a.resolve(KNOWN, AddrFamily::Ipv4).await;
                // An idle minute first: "no such name" is told from silence by
                // the query's own start, not by the runner's last poll.
                pair.clock.sleep(Duration::from_secs(60)).await;
                let unknown = pair.a.resolve("nowhere.example", AddrFamily::Ipv4).await;
                let literal = pair.a.resolve("192.0.2.7", AddrFamily::Any).await;
                (known, unknown, literal)
            });
            match select(queries, serve).await {
                Either::Left(results) => results,
                Either::Right(()) => unreachable!("the server never stops"),
            }
        })
        .unwrap();
    assert_eq!(known, Ok(IpAddr::V4(KNOWN_ADDRESS)));
    let unknown = unknown.unwrap_err();
    assert_eq!(unknown, Error::NameNotResolved);
    assert_eq!(
        portnet::Error::kind(&unknown),
        portnet::ErrorKind::NameNotResolved
    );
    assert_eq!(literal, Ok(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))));
}

#[test]
fn invalid_names_fail_with_invalid_input_before_any_query() {
    let long_label = "a".repeat(64);
    let long_name = ["abcdefghi"; 26].join(".");
    let invalid = [
        "",
        "bad name.example",
        "under_score.example",
        "-lead.example",
        "trail-.example",
        "a..b",
        ".",
        "example.123",
        long_label.as_str(),
        long_name.as_str(),
    ];
    let pair = Pair::new(Faults::NONE, 6);
    let (results, elapsed) = pair
        .run(async {
            let mut results = Vec::new();
            for name in invalid {
                results.push((name, pair.a.resolve(name, AddrFamily::Any).await));
            }
            (results, portnet::Clock::now(&pair.clock))
        })
        .unwrap();
    for (name, result) in results {
        let error = result.expect_err(name);
        assert_eq!(
            portnet::Error::kind(&error),
            portnet::ErrorKind::InvalidInput,
            "{name:?}: {error:?}"
        );
    }
    // No query went out: nothing waited for a server.
    assert_eq!(elapsed, portnet::Instant::ZERO);
}

/// No server answers (nothing listens on port 53 of `b`): the kind is
/// `TimedOut`, distinct from "no such name", and it comes after one server's
/// turn (smoltcp waits 10 s, noticed at its next retransmission, at 15 s), not
/// after an A and an AAAA query each timing out.
#[test]
fn no_answer_from_any_server_fails_with_timed_out() {
    let pair = Pair::new(Faults::NONE, 7);
    let outcomes = pair
        .run(async {
            let mut outcomes = Vec::new();
            for family in [AddrFamily::Ipv4, AddrFamily::Ipv6, AddrFamily::Any] {
                let start = portnet::Clock::now(&pair.clock);
                let result = pair.a.resolve(KNOWN, family).await;
                let took = portnet::Clock::now(&pair.clock).saturating_duration_since(start);
                outcomes.push((family, result, took));
            }
            outcomes
        })
        .unwrap();
    for (family, result, took) in outcomes {
        let error = result.unwrap_err();
        assert_eq!(error, Error::DnsTimedOut, "{family:?}");
        assert_eq!(
            portnet::Error::kind(&error),
            portnet::ErrorKind::TimedOut,
            "{family:?}"
        );
        eprintln!(
            "{family:?}: {error} after {} ms (virtual)",
            took.as_millis()
        );
        assert!(took <= Duration::from_secs(15), "{family:?}: {took:?}");
    }
}

/// The first server is silent (no host at its address), the second answers.
/// smoltcp's DNS socket keeps `DNS_MAX_SERVER_COUNT` servers (1 unless the
/// build raises it): with one, the second is never asked and the silence is
/// `TimedOut`; with more, the second's "no such name" stays `NameNotResolved`
/// although it comes after the first server's timeout, and a known name
/// resolves through it.
#[test]
fn a_silent_first_server_is_a_timeout_only_if_no_other_server_answers() {
    let clock = VirtualClock::new();
    let link: &'static Link<VirtualClock> =
        Box::leak(Box::new(Link::new(clock.clone(), Faults::NONE, 8)));
    let mut a_config = config(A_V4, A_V6, 0xa, 4);
    a_config.dns_servers = [
        Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 3))),
        Some(IpAddr::V4(B_V4)),
        None,
    ];
    let pair = Pair {
        a: leak_stack(
            link.port(0, [0x02, 0, 0, 0, 0, 0x01]),
            clock.clone(),
            a_config,
        ),
        b: leak_stack(
            link.port(1, [0x02, 0, 0, 0, 0, 0x02]),
            clock.clone(),
            config(B_V4, B_V6, 0xb, 4),
        ),
        clock,
        link,
    };
    let (unknown, known, took) = pair
        .run(async {
            let server = pair.b.bind(SocketAddr::new(B_V4.into(), 53)).await.unwrap();
            let serve = pin!(async {
                let mut buf = [0u8; 512];
                loop {
                    let (n, from) = server.recv_from(&mut buf).await.unwrap();
                    if let Some(reply) = answer(&buf[..n]) {
                        server.send_to(&reply, from).await.unwrap();
                    }
                }
            });
            let queries = pin!(async {
                let unknown = pair.a.resolve("nowhere.example", AddrFamily::Ipv4).await;
                let took = portnet::Clock::now(&pair.clock);
                let known = pair.a.resolve(KNOWN, AddrFamily::Ipv4).await;
                (unknown, known, took)
            });
            match select(queries, serve).await {
                Either::Left(results) => results,
                Either::Right(()) => unreachable!("the server never stops"),
            }
        })
        .unwrap();
    eprintln!("first answer after {} ms: {unknown:?}", took.as_millis());
    assert!(
        took.as_millis() >= 10_000,
        "the first server was tried first"
    );
    if smoltcp::config::DNS_MAX_SERVER_COUNT >= 2 {
        assert_eq!(unknown, Err(Error::NameNotResolved));
        assert_eq!(known, Ok(IpAddr::V4(KNOWN_ADDRESS)));
    } else {
        assert_eq!(unknown, Err(Error::DnsTimedOut));
        assert_eq!(known, Err(Error::DnsTimedOut));
    }
}
