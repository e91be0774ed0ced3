//! Hostile peers and exhaustion on the smoltcp backend, over the in-memory link in
//! virtual time: connection floods, a slow reader, a peer that vanishes, an RST
//! storm, a full socket pool, 10 000 connect/close cycles, and an MQTT broker that
//! never acknowledges. Each ends in correct service or a clear error kind, within
//! a bound of virtual time and of iterations; none may panic, hang or leak.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use core::net::SocketAddr;
use core::pin::pin;
use core::time::Duration;

use portnet::future::join;
use portnet::time::timeout;
use portnet::{
    Clock, Error as _, ErrorKind, ReadExt, SocketOption, SocketOptions, TcpConnect, TcpListen,
    TcpListener, TcpStream, WriteExt,
};
use portnet_links::Faults;
use portnet_smoltcp::sim::{B_V4, Pair, SimStack, TCP_BUFFER, TCP_SOCKETS, pattern};

/// A minute of virtual time: the bound of every single wait below.
const MINUTE: Duration = Duration::from_secs(60);

fn addr(port: u16) -> SocketAddr {
    SocketAddr::new(B_V4.into(), port)
}

/// Waits (bounded, in virtual time) until `stack` has `n` sockets in use: the
/// runner frees a closed socket on its own schedule (after TIME-WAIT), and there
/// is no event to wait for.
async fn sockets_settle(pair: &Pair, stack: &SimStack, n: usize) -> usize {
    for _ in 0..600 {
        if stack.sockets_in_use() == n {
            break;
        }
        pair.clock.sleep(Duration::from_secs(1)).await;
    }
    stack.sockets_in_use()
}

/// Two stacks like [`Pair::new`], except that `b` has only 4 TCP sockets, and
/// listeners a backlog of `backlog`.
fn pair_with_small_b(seed: u64, sockets_b: usize, backlog: usize) -> Pair {
    use portnet_links::{Link, VirtualClock};
    use portnet_smoltcp::sim::{A_V4, A_V6, B_V6, config, leak_stack};
    use portnet_smoltcp::{Stack, StackResources, TcpPool, UdpPool};
    assert_eq!(sockets_b, 4, "the small pool is 4 sockets");
    let clock = VirtualClock::new();
    let link: &'static Link<VirtualClock> =
        Box::leak(Box::new(Link::new(clock.clone(), Faults::NONE, seed)));
    let a = leak_stack(
        link.port(0, [0x02, 0, 0, 0, 0, 0x01]),
        clock.clone(),
        config(A_V4, A_V6, seed ^ 0xa, backlog),
    );
    let resources: &'static mut StackResources<'static, 8> =
        Box::leak(Box::new(StackResources::new()));
    let tcp: &'static mut TcpPool<4, 4096, 4096> = Box::leak(Box::new(TcpPool::new()));
    let udp: &'static mut UdpPool<1, 512, 2> = Box::leak(Box::new(UdpPool::new()));
    let sockets = resources
        .sockets()
        .tcp(tcp)
        .and_then(|s| s.udp(udp))
        .unwrap();
    let b: &'static SimStack = Box::leak(Box::new(
        Stack::new(
            link.port(1, [0x02, 0, 0, 0, 0, 0x02]),
            clock.clone(),
            config(B_V4, B_V6, seed ^ 0xb, backlog),
            sockets,
        )
        .unwrap(),
    ));
    Pair { clock, link, a, b }
}

/// Polls all `futures` together until each is done; their outputs in order.
async fn join_all<F: core::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    core::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, out) in futures.iter_mut().zip(outputs.iter_mut()) {
            if out.is_none() {
                match f.as_mut().poll(cx) {
                    core::task::Poll::Ready(v) => *out = Some(v),
                    core::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            core::task::Poll::Pending
        } else {
            core::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(|o| o.expect("done")).collect()
}

/// A flood of connections at a listener on a stack with a 4-socket pool,
/// which keeps everything it accepts: once its pool is full, further connects
/// are refused (or time out) with that kind, never hang; once the accepted
/// connections close, the listener accepts again, wave after wave, and no
/// socket leaks.
#[test]
fn connection_flood_then_the_listener_accepts_again() {
    let pair = pair_with_small_b(1, 4, 4);
    let outcome = pair.run(async {
        let listener = pair.b.listen(addr(8000)).await.unwrap();
        let baseline_b = pair.b.sockets_in_use();
        let mut kinds = Vec::new();
        let mut waves = Vec::new();
        for wave in 0..5 {
            // Stack a's whole pool at once: twice what b can hold.
            let flood = join_all(
                (0..TCP_SOCKETS)
                    .map(|_| timeout(&pair.clock, MINUTE, pair.a.connect(addr(8000))))
                    .collect(),
            );
            let accept_all = async {
                let mut accepted = Vec::new();
                // b keeps what it accepts, so its pool runs out.
                for _ in 0..TCP_SOCKETS {
                    match timeout(&pair.clock, Duration::from_secs(10), listener.accept()).await {
                        Ok(Ok((conn, _))) => accepted.push(conn),
                        Ok(Err(e)) => panic!("accept failed: {e}"),
                        Err(_) => break,
                    }
                }
                accepted
            };
            let (results, accepted) = join(Box::pin(flood), Box::pin(accept_all)).await;
            let in_use_b = pair.b.sockets_in_use();
            let mut connected = Vec::new();
            for r in results {
                match r {
                    Ok(Ok(c)) => connected.push(c),
                    Ok(Err(e)) => kinds.push(e.kind()),
                    Err(_) => panic!("wave {wave}: a connect hangs past a minute"),
                }
            }
            assert!(!accepted.is_empty(), "wave {wave}: nothing accepted");
            assert!(
                accepted.len() <= 4,
                "wave {wave}: b holds more than its pool"
            );
            // While b holds its whole pool, one more connect: refused, not hung.
            let extra = timeout(&pair.clock, MINUTE, pair.a.connect(addr(8000)))
                .await
                .expect("a connect to a full listener hangs");
            if in_use_b == 4 {
                assert_eq!(
                    extra.as_ref().err().map(|e| e.kind()),
                    Some(ErrorKind::ConnectionRefused),
                    "wave {wave}: connect while b's pool is full"
                );
            }
            drop(extra);
            waves.push((connected.len(), accepted.len(), in_use_b));
            // Close everything: the pool frees, the next wave must be served.
            drop(connected);
            drop(accepted);
            let settled_a = sockets_settle(&pair, pair.a, 0).await;
            // The listener refills its backlog when it next accepts: at most the
            // baseline may be in use.
            let settled_b = sockets_settle(&pair, pair.b, 0).await;
            assert_eq!(settled_a, 0, "wave {wave}: stack a leaked sockets");
            assert!(
                settled_b <= baseline_b,
                "wave {wave}: stack b leaked sockets: {settled_b} in use, baseline {baseline_b}"
            );
        }
        // After the floods, one ordinary exchange.
        let (c, a) = join(
            Box::pin(pair.a.connect(addr(8000))),
            Box::pin(listener.accept()),
        )
        .await;
        let (mut c, (mut s, _)) = (c.unwrap(), a.unwrap());
        c.write_all(b"x").await.unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        (waves, kinds)
    });
    let (waves, kinds) = outcome.expect("the flood test stalled");
    for kind in &kinds {
        assert!(
            matches!(kind, ErrorKind::ConnectionRefused | ErrorKind::TimedOut),
            "a connect the full listener cannot take fails with {kind:?}"
        );
    }
    assert!(
        waves.iter().any(|&(_, _, in_use)| in_use == 4),
        "the flood filled b's pool at least once: {waves:?}"
    );
    eprintln!(
        "flood: per wave (connected, accepted, b's sockets in use) {waves:?}; {} connects refused: {:?}",
        kinds.len(),
        kinds.iter().collect::<std::collections::HashSet<_>>()
    );
}

/// A reader that stops reading: the writer is held back (its writes stop
/// completing once the buffers and the peer's window are full), loses nothing,
/// and completes once the reader resumes; the zero window is probed, not
/// mistaken for a dead peer.
#[test]
fn slow_reader_backpressure_then_everything_arrives() {
    let pair = Pair::new(Faults::NONE, 2);
    const TOTAL: usize = 1 << 20;
    let outcome = pair.run(async {
        let listener = pair.b.listen(addr(8001)).await.unwrap();
        let (c, a) = join(
            Box::pin(pair.a.connect(addr(8001))),
            Box::pin(listener.accept()),
        )
        .await;
        let (mut writer, (mut reader, _)) = (c.unwrap(), a.unwrap());
        let written = core::cell::Cell::new(0usize);
        let write = async {
            let mut chunk = [0u8; 1000];
            while written.get() < TOTAL {
                let n = chunk.len().min(TOTAL - written.get());
                for (i, b) in chunk[..n].iter_mut().enumerate() {
                    *b = pattern(written.get() + i);
                }
                writer.write_all(&chunk[..n]).await.unwrap();
                written.set(written.get() + n);
            }
            writer.close().await.unwrap();
        };
        let read = async {
            // Ten minutes of virtual time without reading.
            pair.clock.sleep(10 * MINUTE).await;
            let stalled_at = written.get();
            let mut buf = [0u8; 4096];
            let mut received = 0;
            loop {
                let n = timeout(&pair.clock, MINUTE, reader.read(&mut buf))
                    .await
                    .expect("the writer resumes")
                    .unwrap();
                if n == 0 {
                    break;
                }
                for (i, &b) in buf[..n].iter().enumerate() {
                    assert_eq!(b, pattern(received + i), "byte {}", received + i);
                }
                received += n;
            }
            (stalled_at, received)
        };
        let ((), (stalled_at, received)) = join(Box::pin(write), Box::pin(read)).await;
        (stalled_at, received)
    });
    let (stalled_at, received) = outcome.expect("the slow-reader test stalled");
    assert_eq!(
        received, TOTAL,
        "everything arrives once the reader resumes"
    );
    assert!(
        stalled_at <= 2 * TCP_BUFFER + 1000,
        "the writer was held back: {stalled_at} bytes accepted while the reader slept (buffers {TCP_BUFFER} each side)"
    );
    eprintln!(
        "slow reader: writer held at {stalled_at} bytes for 10 min, then {received} bytes intact"
    );
}

/// A peer that vanishes (the link drops every frame, no FIN, no RST): a reader
/// with keep-alive and a writer with a timeout each end with `TimedOut`.
#[test]
fn half_open_connections_end_with_timed_out() {
    let pair = Pair::new(Faults::NONE, 3);
    let outcome = pair.run(async {
        let listener = pair.b.listen(addr(8002)).await.unwrap();
        let mut ends = Vec::new();
        let mut peers = Vec::new();
        for idle_reader in [true, false] {
            pair.link.set_faults(Faults::NONE);
            let (c, a) = join(
                Box::pin(pair.a.connect(addr(8002))),
                Box::pin(listener.accept()),
            )
            .await;
            let (mut conn, (peer, _)) = (c.unwrap(), a.unwrap());
            conn.set_option(SocketOption::KeepAlive(Some(Duration::from_secs(5))))
                .unwrap();
            conn.set_option(SocketOption::Timeout(Some(Duration::from_secs(20))))
                .unwrap();
            // The peer vanishes: nothing passes any more, and it never answers.
            pair.link.set_faults(Faults {
                loss: 1.0,
                ..Faults::NONE
            });
            peers.push(peer);
            let started = pair.clock.now();
            let end = if idle_reader {
                let mut b = [0u8; 1];
                timeout(&pair.clock, 5 * MINUTE, conn.read(&mut b))
                    .await
                    .map(|r| r.map(|_| ()).map_err(|e| e.kind()))
            } else {
                timeout(&pair.clock, 5 * MINUTE, async {
                    // Unacknowledged data: the timeout applies.
                    let data = [7u8; 4096];
                    for _ in 0..1000 {
                        conn.write_all(&data).await.map_err(|e| e.kind())?;
                        conn.flush().await.map_err(|e| e.kind())?;
                    }
                    Ok(())
                })
                .await
            };
            let took = pair.clock.now() - started;
            ends.push((idle_reader, end, took));
        }
        ends
    });
    for (idle_reader, end, took) in outcome.expect("the half-open test stalled") {
        let who = if idle_reader { "idle reader" } else { "writer" };
        assert_eq!(
            end,
            Ok(Err(ErrorKind::TimedOut)),
            "{who}: a vanished peer ends the connection with TimedOut (after {took:?})"
        );
        eprintln!("half-open: {who} ended with TimedOut after {took:?} virtual");
    }
}

/// An RST storm: hundreds of connections reset by the client, right after the
/// handshake or after a byte, and connects to a closed port. The listener
/// survives, serves an ordinary exchange afterwards, and no socket leaks.
#[test]
fn rst_storm_leaves_the_listener_serving() {
    let pair = Pair::with_backlog(Faults::NONE, 4, 4);
    const STORM: u32 = 500;
    let outcome = pair.run(async {
        let listener = pair.b.listen(addr(8003)).await.unwrap();
        let baseline_b = pair.b.sockets_in_use();
        let mut refused = 0;
        let mut backlog_full = 0;
        let storm = async {
            for i in 0..STORM {
                match timeout(&pair.clock, MINUTE, pair.a.connect(addr(8003)))
                    .await
                    .expect("connect hangs")
                {
                    Ok(mut c) if i % 2 == 1 => {
                        c.write_all(&[1]).await.unwrap();
                        c.flush().await.unwrap();
                        c.abort();
                    }
                    Ok(c) => c.abort(),
                    // The acceptor lags and the backlog is full: refused, as it should be.
                    Err(e) if e.kind() == ErrorKind::ConnectionRefused => backlog_full += 1,
                    Err(e) => panic!("connect during the storm: {e}"),
                }
                // Every tenth round, a connect to a port nobody listens on.
                if i % 10 == 0 {
                    match timeout(&pair.clock, MINUTE, pair.a.connect(addr(9))).await {
                        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => refused += 1,
                        other => panic!(
                            "connect to a closed port: {:?}",
                            other.map(|r| r.map(|_| ()))
                        ),
                    }
                }
            }
        };
        // The acceptor: takes each connection and reads until the reset.
        let accepted = core::cell::Cell::new(0u32);
        let acceptor = async {
            for _ in 0..10 * STORM {
                let (mut s, _) = listener.accept().await.expect("accept during the storm");
                accepted.set(accepted.get() + 1);
                let mut b = [0u8; 1];
                for _ in 0..3 {
                    match timeout(&pair.clock, MINUTE, s.read(&mut b)).await {
                        Ok(Ok(1)) => continue,
                        Ok(Ok(_) | Err(_)) => break,
                        Err(_) => panic!("a reset connection neither ends nor errs"),
                    }
                }
            }
        };
        let _ = portnet::future::select(Box::pin(storm), Box::pin(acceptor)).await;
        // The listener still serves.
        let client = async {
            let mut c = timeout(&pair.clock, MINUTE, pair.a.connect(addr(8003)))
                .await
                .expect("connect after the storm hangs")
                .unwrap();
            c.write_all(b"end").await.unwrap();
            c
        };
        let server = async {
            // Skip connections of the storm that are still queued.
            for _ in 0..64 {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut b = [0u8; 3];
                let r = timeout(&pair.clock, MINUTE, s.read_exact(&mut b)).await;
                if matches!(r, Ok(Ok(()))) && &b == b"end" {
                    return s;
                }
            }
            panic!("the listener never offered the ordinary connection");
        };
        let (mut c, mut s) = join(Box::pin(client), Box::pin(server)).await;
        s.write_all(b"ok").await.unwrap();
        let mut b = [0u8; 2];
        c.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"ok");
        drop((c, s));
        let a_left = sockets_settle(&pair, pair.a, 0).await;
        let b_left = sockets_settle(&pair, pair.b, baseline_b).await;
        (
            refused,
            backlog_full,
            accepted.get(),
            a_left,
            b_left,
            baseline_b,
        )
    });
    let (refused, backlog_full, accepted, a_left, b_left, baseline_b) =
        outcome.expect("the RST storm stalled");
    assert_eq!(
        refused,
        STORM.div_ceil(10),
        "every connect to a closed port is refused"
    );
    assert_eq!(a_left, 0, "stack a's sockets back to baseline");
    assert!(
        b_left <= baseline_b,
        "stack b leaked sockets: {b_left}, baseline {baseline_b}"
    );
    eprintln!(
        "rst storm: {STORM} connections reset ({backlog_full} refused by a full backlog, {accepted} accepted), {refused} connects to a closed port refused; listener serving, sockets at baseline"
    );
}

/// A full pool: `connect` and `listen` fail with `OutOfResources` (not a hang,
/// not a panic), and work again as soon as a socket is freed.
#[test]
fn full_socket_pool_is_out_of_resources_then_recovers() {
    let pair = Pair::new(Faults::NONE, 5);
    let outcome = pair.run(async {
        // Listeners with backlogs take the whole pool of stack a.
        let half = TCP_SOCKETS / 2;
        let first = pair
            .a
            .listen_with_backlog(
                SocketAddr::new(portnet_smoltcp::sim::A_V4.into(), 7001),
                half,
            )
            .unwrap();
        let second = pair
            .a
            .listen_with_backlog(
                SocketAddr::new(portnet_smoltcp::sim::A_V4.into(), 7002),
                TCP_SOCKETS - half,
            )
            .unwrap();
        assert_eq!(pair.a.sockets_in_use(), TCP_SOCKETS);
        let listener = pair.b.listen(addr(8004)).await.unwrap();
        let connect = timeout(&pair.clock, MINUTE, pair.a.connect(addr(8004)))
            .await
            .expect("connect on a full pool hangs");
        let connect_kind = connect.err().map(|e| e.kind());
        let listen = pair
            .a
            .listen_with_backlog(SocketAddr::new(portnet_smoltcp::sim::A_V4.into(), 7003), 1);
        let listen_kind = listen.err().map(|e| e.kind());
        // Free half the pool: service resumes.
        drop(second);
        let (c, a) = join(
            Box::pin(pair.a.connect(addr(8004))),
            Box::pin(listener.accept()),
        )
        .await;
        let (mut c, (mut s, _)) = (c.expect("connect after the pool freed"), a.unwrap());
        c.write_all(b"y").await.unwrap();
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        drop((c, s, first, listener));
        let left = sockets_settle(&pair, pair.a, 0).await;
        (connect_kind, listen_kind, left)
    });
    let (connect_kind, listen_kind, left) = outcome.expect("the full-pool test stalled");
    assert_eq!(connect_kind, Some(ErrorKind::OutOfResources));
    assert_eq!(listen_kind, Some(ErrorKind::OutOfResources));
    assert_eq!(left, 0, "sockets back to baseline");
}

/// 10 000 connect / one byte each way / close cycles: every cycle checked, and
/// both stacks' socket counts back to baseline afterwards.
#[test]
fn ten_thousand_connect_close_cycles_leave_no_socket_behind() {
    let pair = Pair::new(Faults::NONE, 6);
    let before = (pair.a.sockets_in_use(), pair.b.sockets_in_use());
    let after = pair
        .run(async {
            portnet_smoltcp::sim::connect_close_cycles(&pair, 10_000)
                .await
                .unwrap();
            (
                sockets_settle(&pair, pair.a, before.0).await,
                sockets_settle(&pair, pair.b, before.1).await,
            )
        })
        .expect("the cycles stalled");
    assert_eq!(
        after, before,
        "socket counts back to baseline after 10 000 cycles"
    );
    eprintln!(
        "10 000 cycles: sockets in use before {before:?}, after {after:?}, {:?} virtual",
        pair.clock.now()
    );
}

/// An MQTT broker that accepts the connection and then never answers: the
/// client's publish stays unacknowledged (an application timeout around it
/// fires), and the driver ends with `Error::Timeout` when the PINGRESP does not
/// come: a clear error, no hang.
#[test]
fn broker_that_never_acks_times_out() {
    use portnet_mqtt::codec::{QoS, Version};
    use portnet_mqtt::{ConnectOptions, Error, PublishOptions, Session, Storage};

    let pair = Pair::new(Faults::NONE, 7);
    let mut store = Storage::<1024, 1024, 4, 4>::new();
    let mut session = Session::new(&mut store);
    let (mut driver, client, _rx) = session.split(pair.a, pair.clock.clone());
    let mut opts = ConnectOptions::new(addr(1883), "never-acked")
        .version(Version::V3_1_1)
        .keep_alive(5);
    opts.ping_timeout = Duration::from_secs(5);
    let outcome = pair.run(async {
        let listener = pair.b.listen(addr(1883)).await.unwrap();
        let broker = async {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 256];
            let n = s.read(&mut buf).await.unwrap();
            assert!(n > 0 && buf[0] == 0x10, "CONNECT first");
            s.write_all(&[0x20, 2, 0, 0]).await.unwrap(); // CONNACK, accepted
            // Then silence: read and discard everything, answer nothing.
            let mut received = 0usize;
            for _ in 0..10_000 {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => received += n,
                }
            }
            received
        };
        let app = async {
            client.connected().await.expect("connected");
            let publish = timeout(
                &pair.clock,
                Duration::from_secs(3),
                client.publish("t", b"never acked", PublishOptions::qos(QoS::AtLeastOnce)),
            )
            .await;
            (publish.is_err(), client.unacknowledged())
        };
        let started = pair.clock.now();
        let pin_driver = pin!(driver.run(&opts));
        let ((run, (publish_timed_out, unacked)), received) =
            join(Box::pin(join(pin_driver, Box::pin(app))), Box::pin(broker)).await;
        (
            run,
            publish_timed_out,
            unacked,
            received,
            pair.clock.now() - started,
        )
    });
    let (run, publish_timed_out, unacked, received, took) =
        outcome.expect("the never-ack test stalled");
    assert!(
        publish_timed_out,
        "the application's timeout around publish fires"
    );
    assert_eq!(unacked, 1, "the publish is still unacknowledged");
    assert_eq!(run, Err(Error::Timeout), "the driver ends with Timeout");
    assert!(received > 0, "the broker saw the PUBLISH and the PINGREQ");
    eprintln!("never-ack broker: driver ended with Timeout after {took:?} virtual");
}
