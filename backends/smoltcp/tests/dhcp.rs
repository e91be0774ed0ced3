//! DHCPv4 through smoltcp's DHCP socket, against a small DHCP server written
//! here on stack `b` of the simulation (UDP port 67): the lease's address,
//! gateway and DNS server are applied, renewed, dropped when the lease runs out
//! unanswered, and taken again when the server returns.

use core::cell::Cell;
use core::net::{IpAddr, SocketAddr};
use core::pin::pin;
use core::time::Duration;

use portnet::future::{Either, join, select};
use portnet::{Clock, ReadExt, TcpConnect, TcpListen, TcpListener, WriteExt};
use portnet_links::{Faults, Link, VirtualClock};
use portnet_smoltcp::Config;
use portnet_smoltcp::sim::{A_V6, B_V4, B_V6, Pair, config, leak_stack};

mod common;
use common::dhcp::{LEASE_SECONDS, LEASED, Seen};

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
        let serve = pin!(common::dhcp::serve(pair.b, &answering, &seen));
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
