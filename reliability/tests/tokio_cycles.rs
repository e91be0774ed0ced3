//! 10 000 connect / one byte each way / close cycles on the tokio backend over
//! loopback: every cycle checked, and the process's open file descriptors
//! (`/proc/self/fd`) back to their number before. One test in its own process,
//! so that no other test opens descriptors meanwhile.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::net::SocketAddr;
use std::time::Duration;

use portnet::{ReadExt, TcpConnect, TcpListen, TcpListener, WriteExt};
use portnet_tokio::Tokio;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd (Linux)")
        .count()
}

#[tokio::test(flavor = "current_thread")]
async fn ten_thousand_connect_close_cycles_leave_no_descriptor_behind() {
    const CYCLES: u32 = 10_000;
    let stack = Tokio::new();
    // Warm up the runtime's own descriptors (the I/O driver) before counting.
    let listener = stack
        .listen(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let before = open_fds();
    let cycles = async {
        for cycle in 0..CYCLES {
            let (connected, accepted) = tokio::join!(stack.connect(addr), listener.accept());
            let mut conn = connected.unwrap_or_else(|e| panic!("cycle {cycle}: connect: {e}"));
            let (mut peer, _) = accepted.unwrap_or_else(|e| panic!("cycle {cycle}: accept: {e}"));
            conn.write_all(&[cycle as u8]).await.unwrap();
            let mut b = [0u8; 1];
            peer.read_exact(&mut b).await.unwrap();
            assert_eq!(b[0], cycle as u8);
            peer.write_all(&b).await.unwrap();
            conn.read_exact(&mut b).await.unwrap();
            peer.close().await.unwrap();
            assert_eq!(conn.read(&mut b).await.unwrap(), 0, "cycle {cycle}: EOF");
            conn.close().await.unwrap();
            assert_eq!(
                peer.read(&mut b).await.unwrap(),
                0,
                "cycle {cycle}: peer EOF"
            );
        }
    };
    tokio::time::timeout(Duration::from_secs(300), cycles)
        .await
        .expect("10 000 cycles within 5 minutes");
    let after = open_fds();
    assert_eq!(
        after, before,
        "open descriptors back to baseline after {CYCLES} cycles"
    );
    eprintln!("tokio: {CYCLES} cycles, open descriptors {before} before, {after} after");
    drop(listener);
}
