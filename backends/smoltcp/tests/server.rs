//! A server on the smoltcp backend, as a server library uses it (issue 18 §5):
//! a burst of connections while accept workers wait, connections the
//! application dropped while they still close, and several accepts pending on
//! one listener in several tasks. Each runs on a multi-task executor (every
//! task its own waker) over the in-memory link, in virtual time.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::time::Duration;

use portnet::{ReadExt, TcpConnect, TcpListener, TcpStream, WriteExt};
use portnet_links::{Faults, Limits};
use portnet_smoltcp::sim::{A_V4, B_V4, Pair, pattern};

mod common;
use common::{Progress, Tasks};

const MINUTE: Duration = Duration::from_secs(60);

fn limits() -> Limits {
    Limits {
        time: Duration::from_secs(900),
        ..Limits::default()
    }
}

/// Backlog 4 and four accept workers waiting: a burst of six SYNs must all be
/// accepted. The listener keeps a listening socket for each pending accept
/// next to the backlog (it had only the backlog's four, and two of the six
/// were refused).
#[test]
fn a_burst_of_six_syns_against_backlog_four_with_four_accepts_waiting_is_accepted_whole() {
    let pair = Pair::with_backlog(Faults::NONE, 31, 4);
    let listener = pair
        .b
        .listen_with_backlog(SocketAddr::new(B_V4.into(), 80), 4)
        .unwrap();
    let accepted = Progress::default();
    let kept = RefCell::new(Vec::new());
    let results = RefCell::new(Vec::new());
    let mut tasks = Tasks::new();
    tasks.spawn_background(async {
        pair.a.run().await;
    });
    tasks.spawn_background(async {
        pair.b.run().await;
    });
    tasks.spawn_background(pair.link.run());
    for _ in 0..4 {
        let (listener, accepted, kept) = (&listener, &accepted, &kept);
        tasks.spawn_background(async move {
            // Bounded: six connections among four workers.
            for _ in 0..6 {
                let (conn, _) = listener.accept().await.unwrap();
                kept.borrow_mut().push(conn);
                accepted.step();
            }
        });
    }
    for _ in 0..6 {
        let results = &results;
        let a = pair.a;
        tasks.spawn(async move {
            let connect = a.connect(SocketAddr::new(B_V4.into(), 80));
            let result = portnet::time::timeout(a.clock(), MINUTE, connect).await;
            results.borrow_mut().push(result.map(|r| r.map(drop)));
        });
    }
    tasks.spawn(async {
        let _ = portnet::time::timeout(&pair.clock, MINUTE, accepted.until(6)).await;
    });
    pair.clock.run(tasks.run(), limits()).unwrap();
    let results = results.into_inner();
    assert_eq!(results.len(), 6);
    assert!(
        results.iter().all(|r| matches!(r, Ok(Ok(())))),
        "every connect of the burst succeeds: {results:?}"
    );
    assert_eq!(
        accepted.get(),
        6,
        "every connection of the burst is accepted"
    );
}

/// Stack `a` has four sockets for connections (a listener holds the other
/// four). Four connections each write 40 KiB and are dropped at once, with
/// data still in flight; four reconnects follow immediately. They must not
/// fail with `OutOfResources`: each waits for a dropped connection's socket
/// until the peer has acknowledged its data and FIN, then takes it. And the
/// dropped connections' data still all arrives, followed by EOF.
#[test]
fn connections_dropped_while_closing_do_not_fail_immediate_reconnects() {
    const BYTES: usize = 40 * 1024;
    const ROUNDS: usize = 4;
    let pair = Pair::with_backlog(Faults::NONE, 32, 4);
    let _hog = pair
        .a
        .listen_with_backlog(SocketAddr::new(A_V4.into(), 9), 4)
        .unwrap();
    let listener = pair
        .b
        .listen_with_backlog(SocketAddr::new(B_V4.into(), 80), 4)
        .unwrap();
    let received = RefCell::new(Vec::new());
    let reconnects = RefCell::new(Vec::new());
    let served = Progress::default();
    let mut tasks = Tasks::new();
    tasks.spawn_background(async {
        pair.a.run().await;
    });
    tasks.spawn_background(async {
        pair.b.run().await;
    });
    tasks.spawn_background(pair.link.run());
    for _ in 0..ROUNDS {
        let (listener, received, served) = (&listener, &received, &served);
        tasks.spawn_background(async move {
            // Bounded: each worker serves at most both rounds' connections.
            for _ in 0..2 * ROUNDS {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let mut total = 0;
                let mut intact = true;
                // Bounded by the bytes the client writes (then EOF).
                for _ in 0..=BYTES {
                    match conn.read(&mut buf).await {
                        Ok(0) => break,
                        Ok(n) => {
                            intact &= (0..n).all(|i| buf[i] == pattern(total + i));
                            total += n;
                        }
                        Err(e) => panic!("server read: {e:?}"),
                    }
                }
                received.borrow_mut().push((total, intact));
                served.step();
            }
        });
    }
    tasks.spawn(async {
        let server = SocketAddr::new(B_V4.into(), 80);
        let mut first = Vec::new();
        for _ in 0..ROUNDS {
            first.push(pair.a.connect(server).await.unwrap());
        }
        let mut chunk = vec![0u8; BYTES];
        for (i, b) in chunk.iter_mut().enumerate() {
            *b = pattern(i);
        }
        for conn in &mut first {
            conn.write_all(&chunk).await.unwrap();
        }
        assert_eq!(pair.a.sockets_in_use(), 8, "the pool is full");
        drop(first);
        // Every socket is closing in the background now.
        let mut second = Vec::new();
        for _ in 0..ROUNDS {
            let connect = portnet::time::timeout(&pair.clock, MINUTE, pair.a.connect(server));
            match connect.await {
                Ok(Ok(mut conn)) => {
                    conn.write_all(&[pattern(0)]).await.unwrap();
                    reconnects.borrow_mut().push(Ok(()));
                    second.push(conn);
                }
                Ok(Err(e)) => reconnects.borrow_mut().push(Err(format!("{e:?}"))),
                Err(_) => reconnects.borrow_mut().push(Err("hangs".into())),
            }
        }
        drop(second);
        let served = portnet::time::timeout(&pair.clock, MINUTE, served.until(2 * ROUNDS as u32));
        assert!(served.await.is_ok(), "the server saw every connection end");
    });
    pair.clock.run(tasks.run(), limits()).unwrap();
    let reconnects = reconnects.into_inner();
    assert!(
        reconnects.iter().all(Result::is_ok),
        "immediate reconnects: {reconnects:?}"
    );
    let mut received = received.into_inner();
    received.sort_unstable();
    assert_eq!(
        received,
        [[(1, true); ROUNDS], [(BYTES, true); ROUNDS]].concat(),
        "the dropped connections delivered every byte, then EOF"
    );
}

/// Four `accept`s pending on one listener, each in its own task, and four
/// connections: each accept gets a connection of its own. A socket keeps one
/// waker, so with accepts registering there only the last task was woken.
#[test]
fn several_pending_accepts_in_several_tasks_each_get_a_distinct_connection() {
    const WORKERS: usize = 4;
    let pair = Pair::with_backlog(Faults::NONE, 33, 1);
    let listener = pair
        .b
        .listen_with_backlog(SocketAddr::new(B_V4.into(), 80), 1)
        .unwrap();
    let peers = RefCell::new(Vec::new());
    let got = Progress::default();
    let done = Cell::new(false);
    let mut tasks = Tasks::new();
    tasks.spawn_background(async {
        pair.a.run().await;
    });
    tasks.spawn_background(async {
        pair.b.run().await;
    });
    tasks.spawn_background(pair.link.run());
    for worker in 0..WORKERS {
        let (listener, peers, got) = (&listener, &peers, &got);
        tasks.spawn_background(async move {
            // One accept each: a worker that got its connection stays busy.
            let (conn, from) = listener.accept().await.unwrap();
            peers
                .borrow_mut()
                .push((worker, from, conn.peer_addr().unwrap()));
            got.step();
            core::future::pending::<()>().await;
        });
    }
    tasks.spawn(async {
        let mut conns = Vec::new();
        // One at a time: each must find a woken accept, not a backlog socket.
        for _ in 0..WORKERS {
            let connect = pair.a.connect(SocketAddr::new(B_V4.into(), 80));
            conns.push(portnet::time::timeout(&pair.clock, MINUTE, connect).await);
        }
        let _ = portnet::time::timeout(&pair.clock, MINUTE, got.until(WORKERS as u32)).await;
        assert!(conns.iter().all(|c| matches!(c, Ok(Ok(_)))), "{conns:?}");
        done.set(true);
    });
    pair.clock.run(tasks.run(), limits()).unwrap();
    assert!(done.get());
    let mut peers = peers.into_inner();
    assert_eq!(
        peers.len(),
        WORKERS,
        "every pending accept got a connection: {peers:?}"
    );
    peers.sort_by_key(|(_, from, _)| *from);
    peers.dedup_by_key(|(_, from, _)| *from);
    assert_eq!(peers.len(), WORKERS, "each a distinct one");
}

/// A pending accept holds a listening socket of its own next to the backlog;
/// it gives it back when cancelled, so an idle listener holds its backlog.
#[test]
fn a_cancelled_accept_gives_back_its_listening_socket() {
    use core::future::Future;
    use core::task::{Context, Waker};
    let pair = Pair::with_backlog(Faults::NONE, 34, 2);
    let listener = pair
        .b
        .listen_with_backlog(SocketAddr::new(B_V4.into(), 80), 2)
        .unwrap();
    let idle = pair.b.sockets_in_use();
    assert_eq!(idle, 2);
    let mut cx = Context::from_waker(Waker::noop());
    let mut first = Box::pin(listener.accept());
    let mut second = Box::pin(listener.accept());
    assert!(first.as_mut().poll(&mut cx).is_pending());
    assert!(second.as_mut().poll(&mut cx).is_pending());
    assert_eq!(
        pair.b.sockets_in_use(),
        idle + 2,
        "one more per pending accept"
    );
    drop(first);
    assert_eq!(pair.b.sockets_in_use(), idle + 1);
    drop(second);
    assert_eq!(
        pair.b.sockets_in_use(),
        idle,
        "an idle listener holds its backlog"
    );
}
