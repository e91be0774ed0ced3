//! A small DHCP server for stack `b` of the simulation (UDP port 67): leases
//! [`LEASED`] for [`LEASE_SECONDS`], with `b` as router and DNS server.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use portnet::{UdpBind, UdpSocketExt};
use portnet_smoltcp::sim::{B_V4, SimStack};

pub(crate) const LEASED: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 50);
pub(crate) const LEASE_SECONDS: u32 = 120;

pub(crate) const DISCOVER: u8 = 1;
pub(crate) const OFFER: u8 = 2;
pub(crate) const REQUEST: u8 = 3;
pub(crate) const ACK: u8 = 5;

/// The DHCP message type of a client message, its transaction id and hardware
/// address.
pub(crate) fn parse(message: &[u8]) -> Option<(u8, [u8; 4], [u8; 6])> {
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

/// A server reply (OFFER or ACK).
pub(crate) fn reply(kind: u8, xid: [u8; 4], chaddr: [u8; 6]) -> Vec<u8> {
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
pub(crate) struct Seen {
    pub(crate) discovers: Cell<u32>,
    pub(crate) requests: Cell<u32>,
}

/// Serves DHCP on `stack` forever, answering only while `answering` is set.
pub(crate) async fn serve(stack: &SimStack, answering: &Cell<bool>, seen: &Seen) {
    let server = stack
        .bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 67))
        .await
        .unwrap();
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
}
