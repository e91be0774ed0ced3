//! Generic portnet code over a serial network path: two smoltcp stacks, each on
//! a SLIP link, the links joined by a loopback TCP connection (the host end
//! of an emulator's serial port is the same `SlipEnd`).
//!
//! The generic echo server and client of `examples/echo` run unchanged, and
//! a 1 MiB patterned transfer arrives intact. The transfer prints its
//! throughput (`--nocapture`); nothing asserts on time.

use core::net::{SocketAddr, SocketAddrV4};
use core::pin::pin;

use portnet::future::join;
use portnet::{Clock, ReadExt, TcpConnect, TcpListen, TcpListener, WriteExt};
use portnet_conformance::Harness;
use portnet_conformance_runner::slip::SlipHarness;
use portnet_smoltcp::sim::A_V4;

const BULK: usize = 1 << 20;

fn pattern(i: usize) -> u8 {
    // Not a multiple of any power of two, and rich in SLIP's END (0xC0) and
    // ESC (0xDB) bytes, which the link escapes.
    (i.wrapping_mul(7) % 251) as u8 ^ ((i >> 8) as u8 & 0xC0)
}

#[test]
fn the_generic_echo_server_serves_the_generic_client_over_slip() {
    let harness = SlipHarness::new().expect("loopback sockets");
    let (server_stack, client_stack) = (harness.a(), harness.b());
    let data: Vec<u8> = (0..200_000).map(pattern).collect();
    let (served, exchanged) = harness.run(async {
        let listener = server_stack
            .listen(SocketAddrV4::new(A_V4, 7).into())
            .await
            .expect("listen");
        let mut buf = [0u8; 1024];
        let serve = pin!(portnet_echo::serve(&listener, 2, &mut buf));
        let clients = pin!(async {
            let server: SocketAddr = SocketAddrV4::new(A_V4, 7).into();
            portnet_echo::exchange(client_stack, server, b"hello over a serial line").await?;
            portnet_echo::exchange(client_stack, server, &data).await
        });
        join(serve, clients).await
    });
    exchanged.expect("the echo came back intact");
    assert_eq!(served.expect("the server served"), 24 + 200_000);
    let (a, b) = harness.link_stats().expect("no case running");
    assert!(a.rx_frames > 0 && b.rx_frames > 0);
    assert_eq!((a.rx_bad_escape, a.rx_overlong, a.tx_dropped), (0, 0, 0));
    assert_eq!((b.rx_bad_escape, b.rx_overlong, b.tx_dropped), (0, 0, 0));
}

#[test]
fn a_one_mebibyte_transfer_arrives_intact_over_slip() {
    let harness = SlipHarness::new().expect("loopback sockets");
    let (receiver_stack, sender_stack) = (harness.a(), harness.b());
    let clock = receiver_stack.clock();
    let (received, elapsed) = harness.run(async {
        let addr: SocketAddr = SocketAddrV4::new(A_V4, 9000).into();
        let listener = receiver_stack.listen(addr).await.expect("listen");
        let started = clock.now();
        let receive = pin!(async {
            let (mut conn, _) = listener.accept().await.expect("accept");
            let mut buf = [0u8; 4096];
            let mut offset = 0usize;
            // Bounded: every read but the last (EOF) moves at least one byte.
            for _ in 0..=BULK {
                let n = conn.read(&mut buf).await.expect("read");
                if n == 0 {
                    break;
                }
                for (i, &byte) in buf[..n].iter().enumerate() {
                    assert_eq!(byte, pattern(offset + i), "byte {}", offset + i);
                }
                offset += n;
            }
            offset
        });
        let send = pin!(async {
            let mut conn = sender_stack.connect(addr).await.expect("connect");
            let mut chunk = [0u8; 1400];
            let mut sent = 0;
            while sent < BULK {
                let n = chunk.len().min(BULK - sent);
                for (i, byte) in chunk[..n].iter_mut().enumerate() {
                    *byte = pattern(sent + i);
                }
                conn.write_all(&chunk[..n]).await.expect("write");
                sent += n;
            }
            conn.close().await.expect("close");
        });
        let (received, ()) = join(receive, send).await;
        (received, clock.now().saturating_duration_since(started))
    });
    assert_eq!(received, BULK);
    let (a, b) = harness.link_stats().expect("no case running");
    assert_eq!((a.rx_bad_escape, a.rx_overlong, a.tx_dropped), (0, 0, 0));
    let secs = elapsed.as_secs_f64();
    eprintln!(
        "1 MiB over SLIP over loopback TCP: {:.3} s, {:.1} MiB/s ({} frames in, {} out at the receiver; {} frames out at the sender)",
        secs,
        1.0 / secs.max(1e-9),
        a.rx_frames,
        a.tx_frames,
        b.tx_frames,
    );
}
