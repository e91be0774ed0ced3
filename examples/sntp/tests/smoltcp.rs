//! The SNTP client on the smoltcp backend: two stacks on the in-memory link, in
//! virtual time (a query that waits for silence takes no real time). Stack `b`
//! runs a responder written against the portnet traits; stack `a` asks.

use core::net::SocketAddr;
use core::pin::pin;
use core::time::Duration;

use portnet::future::{Either, select};
use portnet::{Error as _, ErrorKind, UdpBind, UdpSocketExt};
use portnet_links::Faults;
use portnet_smoltcp::sim::{B_V4, Pair, SimStack};
use portnet_sntp::{PACKET_LEN, SntpError};

const NTP_2026: u32 = 3_976_214_400;
const UNIX_2026: Duration = Duration::from_secs(1_767_225_600);

/// Answers every request on `addr` of stack `b` (with a kiss when `kiss`), forever.
async fn respond(stack: &SimStack, addr: SocketAddr, kiss: bool) {
    let socket = stack.bind(addr).await.unwrap();
    let mut buf = [0u8; 128];
    loop {
        let (n, from) = socket.recv_from(&mut buf).await.unwrap();
        if n < PACKET_LEN {
            continue;
        }
        let mut reply = [0u8; PACKET_LEN];
        reply[0] = (4 << 3) | 4;
        reply[1] = if kiss { 0 } else { 1 };
        reply[12..16].copy_from_slice(b"DENY");
        reply[24..32].copy_from_slice(&buf[40..48]);
        reply[40..44].copy_from_slice(&NTP_2026.to_be_bytes());
        socket.send_to(&reply, from).await.unwrap();
    }
}

/// Runs `query` on stack `a` against a responder on `b`, over a link with `faults`.
fn with_responder<T>(
    faults: Faults,
    seed: u64,
    kiss: bool,
    query: impl AsyncFnOnce(&'static SimStack, SocketAddr) -> T,
) -> T {
    let pair = Pair::new(faults, seed);
    let server = SocketAddr::new(B_V4.into(), portnet_sntp::PORT);
    pair.run(async {
        let ask = pin!(query(pair.a, server));
        let serve = pin!(respond(pair.b, server, kiss));
        match select(ask, serve).await {
            Either::Left(out) => out,
            Either::Right(()) => unreachable!("the responder never returns"),
        }
    })
    .expect("the simulation finished")
}

#[test]
fn smoltcp_answered() {
    let time = with_responder(Faults::NONE, 1, false, async |stack, server| {
        portnet_sntp::query(stack, server, 3, Duration::from_secs(1)).await
    });
    assert_eq!(time.unwrap(), UNIX_2026);
}

#[test]
fn smoltcp_lossy_link_retries_until_answered() {
    for seed in 0..8 {
        let time = with_responder(Faults::LOSSY, seed, false, async |stack, server| {
            portnet_sntp::query(stack, server, 20, Duration::from_secs(1)).await
        });
        assert_eq!(time.unwrap(), UNIX_2026, "seed {seed}");
    }
}

#[test]
fn smoltcp_kiss_of_death_stops_at_once() {
    let err = with_responder(Faults::NONE, 3, true, async |stack, server| {
        portnet_sntp::query(stack, server, 3, Duration::from_secs(1)).await
    })
    .unwrap_err();
    assert!(matches!(err, SntpError::KissOfDeath(code) if code.as_str() == Some("DENY")));
}

#[test]
fn smoltcp_silence_times_out_after_every_attempt_in_virtual_time() {
    let pair = Pair::new(Faults::NONE, 4);
    let silent = SocketAddr::new(B_V4.into(), 124);
    let started = portnet::Clock::now(&pair.clock);
    let err = pair
        .run(portnet_sntp::query(
            pair.a,
            silent,
            3,
            Duration::from_secs(1),
        ))
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    // Three attempts of one virtual second each.
    let waited = portnet::Clock::now(&pair.clock) - started;
    assert!(waited >= Duration::from_secs(3), "waited {waited:?}");
}

#[test]
fn smoltcp_endpoint_literal_through_no_dns() {
    let time = with_responder(Faults::NONE, 5, false, async |stack, server| {
        let stack = portnet::NoDns(stack);
        let text = server.to_string();
        let endpoint = portnet::net::Endpoint::parse(&text).unwrap();
        portnet_sntp::query_endpoint(&stack, &endpoint, 3, Duration::from_secs(1)).await
    });
    assert_eq!(time.unwrap(), UNIX_2026);
}
