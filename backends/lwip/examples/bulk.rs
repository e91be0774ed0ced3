//! Wall time of a bulk transfer on the in-memory link, in virtual time: lwIP
//! sending to smoltcp, next to smoltcp sending to smoltcp, with the same code on
//! both (the figures of docs/backends/lwip.md).
//! `cargo run --release -p portnet-lwip --example bulk`
//!
//! The link is clean and virtual time costs nothing, so the wall time is the
//! stacks' own CPU time (both ends, plus the link's copies).

use core::net::SocketAddr;
use core::time::Duration;
use std::time::Instant;

use portnet::{ReadExt, TcpConnect, TcpListen, TcpListener, WriteExt};
use portnet_links::Faults;

const TOTAL: usize = 16 << 20;

/// Moves `TOTAL` bytes from `from` to a listener of `to` at `at`; returns the
/// count received.
async fn bulk<A: TcpConnect, B: TcpListen>(from: &A, to: &B, at: SocketAddr) -> usize {
    let listener = to.listen(at).await.expect("listen");
    let send = async {
        let mut conn = from.connect(at).await.expect("connect");
        let chunk = [0x5au8; 4096];
        let mut sent = 0;
        while sent < TOTAL {
            conn.write_all(&chunk).await.expect("write");
            sent += chunk.len();
        }
        conn.close().await.expect("close");
    };
    let receive = async {
        let (mut conn, _) = listener.accept().await.expect("accept");
        let mut buf = [0u8; 4096];
        let mut received = 0;
        loop {
            match conn.read(&mut buf).await {
                Ok(0) => break received,
                Ok(n) => received += n,
                Err(_) => panic!("read"),
            }
        }
    };
    portnet::future::join(Box::pin(send), Box::pin(receive))
        .await
        .1
}

fn report(what: &str, took: Duration) {
    let mib = TOTAL as f64 / f64::from(1 << 20);
    println!(
        "{what}: {mib} MiB in {:.3} s ({:.0} MiB/s)",
        took.as_secs_f64(),
        mib / took.as_secs_f64()
    );
}

fn main() {
    let pair = portnet_lwip::sim::Pair::new(Faults::NONE, 1);
    let at = SocketAddr::new(portnet_lwip::sim::B_V4.into(), 7000);
    let started = Instant::now();
    let received = pair.run(bulk(&pair.a, pair.b, at)).unwrap();
    let lwip = started.elapsed();
    assert_eq!(received, TOTAL);
    drop(pair);

    let pair = portnet_smoltcp::sim::Pair::new(Faults::NONE, 1);
    let at = SocketAddr::new(portnet_smoltcp::sim::B_V4.into(), 7000);
    let started = Instant::now();
    let received = pair.run(bulk(pair.a, pair.b, at)).unwrap();
    let smoltcp = started.elapsed();
    assert_eq!(received, TOTAL);

    report("lwIP -> smoltcp   ", lwip);
    report("smoltcp -> smoltcp", smoltcp);
}
