//! DHCPv4 through smoltcp's DHCP socket, against a small DHCP server written
//! here on stack `b` of the simulation (UDP port 67): the lease's address,
//! gateway and DNS server are applied, renewed, dropped when the lease runs out
//! unanswered, and taken again when the server returns.

use core::cell::Cell;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;
use core::time::Duration;

use portnet::future::{Either, join, select};
use portnet::{
    Clock, ReadExt, TcpConnect, TcpListen, TcpListener, UdpBind, UdpSocketExt, WriteExt,
};
use portnet_links::{Faults, Link, VirtualClock};
use portnet_smoltcp::Config;
use portnet_smoltcp::sim::{A_V6, B_V4, B_V6, Pair, config, leak_stack};

const LEASED: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);
const LEASE_SECONDS: u32 = 120;

const DISCOVER: u8 = 1;
const OFFER: u8 = 2;
const REQUEST: u8 = 3;
const ACK: u8 = 5;

/// The DHCP message type of a client message, its transaction id and hardware
/// address.
fn parse(message: &[u8]) -> Option<(u8, [u8; 4], [u8; 6])> {
    if message.len() < 240 || message[0] != 1 || message[236..240] != [99, 130, 83, 99] {
        return None;
    }
    let xid = message[4..8].try_into().ok()?;
    let chaddr = message[28..34].try_into().ok()?;
    let mut at = 240;
    while at + 1 < message.len() {
        match message[at] {
            0 => at += 1,
            255 => break,
            code => {
                let len = usize::from(message[at + 1]);
                let value = message.get(at + 2..at + 2 + len)?;
                if code == 53 && len == 1 {
                    return Some((value[0], xid, chaddr));
                }
                at += 2 + len;
            }
        }
    }
    None
}

/// A server reply (OFFER or ACK) leasing [`LEASED`] for [`LEASE_SECONDS`],
/// with `b` as router and DNS server.
fn reply(kind: u8, xid: [u8; 4], chaddr: [u8; 6]) -> Vec<u8> {
    let mut m = vec![0u8; 240];
    m[0] = 2; // BOOTREPLY
    m[1] = 1; // Ethernet
    m[2] = 6;
    m[4..8].copy_from_slice(&xid);
    m[16..20].copy_from_slice(&LEASED.octets()); // yiaddr
    m[20..24].copy_from_slice(&B_V4.octets()); // siaddr
    m[28..34].copy_from_slice(&chaddr);
    m[236..240].copy_from_slice(&[99, 130, 83, 99]);
    let options: [&[u8]; 6] = [
        &[53, 1, kind],
        &[54, 4, 10, 0, 0, 2],     // server identifier
        &[1, 4, 255, 255, 255, 0], // subnet mask
        &[3, 4, 10, 0, 0, 2],      // router
        &[6, 4, 10, 0, 0, 2],      // DNS server
        &[51, 4, 0, 0, 0, LEASE_SECONDS as u8],
    ];
    for option in options {
        m.extend_from_slice(option);
    }
    m.push(255);
    m
}

/// What the server saw.
#[derive(Default)]
struct Seen {
    discovers: Cell<u32>,
    requests: Cell<u32>,
}

#[test]
fn a_dhcp_lease_configures_renews_expires_and_returns() {
    let clock = VirtualClock::new();
    let link: &'static Link<VirtualClock> =
        Box::leak(Box::new(Link::new(clock.clone(), Faults::NONE, 3)));
    let mut dhcp = Config::dhcpv4();
    dhcp.random_seed = 0xa;
    let pair = Pair {
        a: leak_stack(link.port(0, [0x02, 0, 0, 0, 0, 0x01]), clock.clone(), dhcp),
        b: leak_stack(
            link.port(1, [0x02, 0, 0, 0, 0, 0x02]),
            clock.clone(),
            config(B_V4, B_V6, 0xb, 4),
        ),
        clock,
        link,
    };
    let _ = A_V6;
    let answering = Cell::new(true);
    let seen = Seen::default();
    pair.run(async {
        let server = pair
            .b
            .bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 67))
            .await
            .unwrap();
        let serve = pin!(async {
            let mut buf = [0u8; 1024];
            loop {
                let (n, _) = server.recv_from(&mut buf).await.unwrap();
                let Some((kind, xid, chaddr)) = parse(&buf[..n]) else {
                    continue;
                };
                let answer = match kind {
                    DISCOVER => {
                        seen.discovers.set(seen.discovers.get() + 1);
                        OFFER
                    }
                    REQUEST => {
                        seen.requests.set(seen.requests.get() + 1);
                        ACK
                    }
                    _ => continue,
                };
                if answering.get() {
                    let to = SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), 68);
                    server
                        .send_to(&reply(answer, xid, chaddr), to)
                        .await
                        .unwrap();
                }
            }
        });
        let client = pin!(async {
            // The lease arrives and is applied whole.
            assert_eq!(pair.a.wait_ipv4().await, LEASED);
            let cidr = pair.a.ipv4_cidr().unwrap();
            assert_eq!((cidr.address, cidr.prefix), (LEASED, 24));
            assert_eq!(pair.a.ipv4_gateway(), Some(B_V4));
            assert_eq!(pair.a.dns_servers()[0], Some(IpAddr::V4(B_V4)));
            assert_eq!(seen.discovers.get(), 1);
            assert_eq!(seen.requests.get(), 1);

            // The leased address carries TCP.
            let listener = pair
                .b
                .listen(SocketAddr::new(B_V4.into(), 7))
                .await
                .unwrap();
            let (mut conn, (mut accepted, from)) = {
                let connect = pin!(pair.a.connect(SocketAddr::new(B_V4.into(), 7)));
                let accept = pin!(listener.accept());
                let (c, a) = join(connect, accept).await;
                (c.unwrap(), a.unwrap())
            };
            assert_eq!(from.ip(), IpAddr::V4(LEASED));
            conn.write_all(b"leased").await.unwrap();
            let mut got = [0u8; 6];
            accepted.read_exact(&mut got).await.unwrap();
            assert_eq!(&got, b"leased");
            drop((conn, accepted, listener));

            // Renewals keep the lease through several lease times.
            pair.clock
                .sleep(Duration::from_secs(u64::from(LEASE_SECONDS) * 3))
                .await;
            assert_eq!(pair.a.ipv4_address(), Some(LEASED));
            assert!(seen.requests.get() >= 3, "{} requests", seen.requests.get());

            // Unanswered, the lease runs out and the address goes.
            answering.set(false);
            pair.clock
                .sleep(Duration::from_secs(u64::from(LEASE_SECONDS) * 2))
                .await;
            assert_eq!(pair.a.ipv4_address(), None);
            assert_eq!(pair.a.ipv4_gateway(), None);

            // The server returns: a new lease, found by discovery.
            let discovers = seen.discovers.get();
            answering.set(true);
            assert_eq!(pair.a.wait_ipv4().await, LEASED);
            assert!(seen.discovers.get() > discovers);
        });
        match select(client, serve).await {
            Either::Left(()) => {}
            Either::Right(()) => unreachable!("the server never stops"),
        }
    })
    .unwrap();
}
