//! Name resolution through smoltcp's DNS socket, against a small DNS server
//! written here on stack `b` of the simulation (UDP port 53).

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;

use portnet::future::{Either, select};
use portnet::{AddrFamily, Dns, UdpBind, UdpSocketExt};
use portnet_links::Faults;
use portnet_smoltcp::Error;
use portnet_smoltcp::sim::{B_V4, Pair};

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
    assert!(
        matches!(unknown, Error::DnsFailed | Error::NameNotResolved),
        "{unknown:?}"
    );
    assert_eq!(
        portnet::Error::kind(&unknown),
        portnet::ErrorKind::NameNotResolved
    );
    assert_eq!(literal, Ok(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))));
}
