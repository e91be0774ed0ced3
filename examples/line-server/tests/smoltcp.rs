//! The line server on the smoltcp backend, as firmware would run it: slots
//! joined on one task (no spawn, no allocation in the server), a listen backlog
//! sized against the socket pool, over the in-memory link in virtual time, clean
//! and lossy. Stack `b` serves, stack `a` runs the clients.

mod common;

use core::net::SocketAddr;
use core::pin::pin;
use core::time::Duration;

use portnet::buf::BufReader;
use portnet::future::{Either, join_array, select};
use portnet::{ListenOptions, ReadExt, TcpConnect, TcpListen, WriteExt};
use portnet_line_server::{Buffers, MAX_LINE, serve};
use portnet_links::Faults;
use portnet_smoltcp::sim::{B_V4, Pair, SimStack, TCP_SOCKETS};

const IDLE: Duration = Duration::from_secs(30);
const LIMIT: Duration = Duration::from_secs(120);

/// Runs `clients` on `a` while three slots serve on `b`, from a listener with
/// `backlog`. The server needs `3 + backlog` sockets of `b`'s pool, plus one
/// for each connection still closing in the background.
fn with_server<T>(
    faults: Faults,
    seed: u64,
    backlog: usize,
    clients: impl AsyncFnOnce(&'static SimStack, SocketAddr) -> T,
) -> T {
    assert!(
        3 + backlog <= TCP_SOCKETS,
        "the pool holds the slots and the backlog"
    );
    let pair = Pair::new(faults, seed);
    let addr = SocketAddr::new(B_V4.into(), 7);
    pair.run(async {
        let listener = pair
            .b
            .listen_with(addr, ListenOptions::new().backlog(backlog))
            .await
            .expect("the pool holds the backlog");
        let [x, y, z] = &mut [Buffers::new(), Buffers::new(), Buffers::new()];
        let (slot_0, slot_1, slot_2) = (
            pin!(serve(&listener, pair.b, IDLE, x)),
            pin!(serve(&listener, pair.b, IDLE, y)),
            pin!(serve(&listener, pair.b, IDLE, z)),
        );
        let slots = join_array([slot_0, slot_1, slot_2]);
        match select(pin!(clients(pair.a, addr)), slots).await {
            Either::Left(out) => out,
            Either::Right(errors) => panic!("the slots ended: {errors:?}"),
        }
    })
    .expect("the simulation finished")
}

/// The contract of `listen_with`: a backlog of 2 queues two handshakes *besides*
/// those handed to the three pending `accept`s, so a burst of five is served.
#[test]
fn smoltcp_five_at_once_three_served_two_in_the_backlog() {
    with_server(Faults::NONE, 1, 2, async |a, server| {
        let sessions =
            join_array([0, 1, 2, 3, 4].map(|i| Box::pin(common::checked_session(a, server, i))));
        for result in sessions.await {
            result.unwrap();
        }
        common::hold_open(a, server, 3, LIMIT).await.unwrap();
    });
}

/// Five at once against a backlog of five: what the smoltcp backend on main
/// needs for a burst (listening sockets for the whole burst).
#[test]
fn smoltcp_five_at_once_against_a_backlog_of_five() {
    with_server(Faults::NONE, 1, 5, async |a, server| {
        let sessions =
            join_array([0, 1, 2, 3, 4].map(|i| Box::pin(common::checked_session(a, server, i))));
        for result in sessions.await {
            result.unwrap();
        }
        common::hold_open(a, server, 3, LIMIT).await.unwrap();
    });
}

#[test]
fn smoltcp_lossy_link_sessions_and_reconnects() {
    for seed in 0..4 {
        with_server(Faults::LOSSY, seed, 3, async |a, server| {
            // Rounds of immediate reconnects: closed connections must give their
            // sockets back to the pool and the listener its backlog.
            for round in 0..3 {
                let sessions = join_array(
                    [0, 1, 2].map(|i| Box::pin(common::checked_session(a, server, round * 3 + i))),
                );
                for result in sessions.await {
                    result.unwrap_or_else(|e| panic!("seed {seed} round {round}: {e}"));
                }
            }
            common::hold_open(a, server, 3, LIMIT).await.unwrap();
        });
    }
}

#[test]
fn smoltcp_idle_and_too_long_lines_end_the_connection_politely() {
    with_server(Faults::NONE, 2, 2, async |a, server| {
        // Silent: after IDLE of virtual time, a reason and the close.
        let mut conn = a.connect(server).await.unwrap();
        let mut answer = [0u8; 64];
        let n = conn.read_to_end(&mut answer).await.unwrap();
        assert_eq!(&answer[..n], b"ERR idle\n");

        let mut conn = a.connect(server).await.unwrap();
        conn.write_all(&[b'x'; MAX_LINE + 1]).await.unwrap();
        let n = conn.read_to_end(&mut answer).await.unwrap();
        assert_eq!(&answer[..n], b"ERR line too long\n");

        // A well-behaved client after them is served as usual.
        let mut conn = a.connect(server).await.unwrap();
        let mut storage = [0u8; 64];
        let mut lines = BufReader::new(&mut conn, &mut storage);
        lines.write_all(b"LEN four\nQUIT\n").await.unwrap();
        let mut line = [0u8; 16];
        let n = lines.read_line(&mut line).await.unwrap();
        assert_eq!(&line[..n], b"4\n");
        let n = lines.read_to_end(&mut answer).await.unwrap();
        assert_eq!(&answer[..n], b"BYE\n");
    });
}
