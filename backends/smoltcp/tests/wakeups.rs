//! Wake-ups of tasks that wait on the stack, on a multi-task executor where
//! every task has its own waker: several tasks waiting for a free socket of a
//! full pool, or for the address, must each be woken (issue 21: one waker
//! slot shared by all of them woke only the last one registered).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::time::Duration;

use portnet::{TcpConnect, TcpListener};
use portnet_links::{Faults, Limits, Link, VirtualClock};
use portnet_smoltcp::Ipv4Config;
use portnet_smoltcp::sim::{A_V4, A_V6, B_V4, B_V6, TCP_SOCKETS, config, leak_stack};

mod common;
use common::dhcp::{LEASED, Seen};
use common::{Progress, Tasks};

/// Stack `a` leases its IPv4 address by DHCP from `b` (and has its static IPv6
/// address from the start, so `b` can reach its listeners before the lease).
/// Its pool of [`TCP_SOCKETS`] is filled by a hog listener, two listeners of
/// backlog 1 whose sockets have each been taken by an accepted connection, and
/// those connections. So both listeners wait for the pool, in their own tasks,
/// while a third task waits in `wait_ipv4`. Then the hog goes (six sockets
/// free) and the DHCP server starts answering: both listeners must listen
/// again and accept a second connection, and the address waiter must return.
#[test]
fn two_listeners_on_a_full_pool_and_an_address_waiter_each_make_progress() {
    let clock = VirtualClock::new();
    let link: &'static Link<VirtualClock> =
        Box::leak(Box::new(Link::new(clock.clone(), Faults::NONE, 21)));
    let mut a_config = config(A_V4, A_V6, 0xa, 1);
    a_config.ipv4 = Ipv4Config::Dhcp;
    let a = leak_stack(
        link.port(0, [0x02, 0, 0, 0, 0, 0x01]),
        clock.clone(),
        a_config,
    );
    let b = leak_stack(
        link.port(1, [0x02, 0, 0, 0, 0, 0x02]),
        clock.clone(),
        config(B_V4, B_V6, 0xb, 4),
    );

    let answering = Cell::new(false);
    let seen = Seen::default();
    let hog = RefCell::new(Some(
        a.listen_with_backlog(SocketAddr::new(A_V6.into(), 100), TCP_SOCKETS - 2)
            .unwrap(),
    ));
    let first = a
        .listen_with_backlog(SocketAddr::new(A_V6.into(), 101), 1)
        .unwrap();
    let second = a
        .listen_with_backlog(SocketAddr::new(A_V6.into(), 102), 1)
        .unwrap();
    assert_eq!(a.sockets_in_use(), TCP_SOCKETS, "the pool is full");

    let accepted = [Progress::default(), Progress::default()];
    let address = Cell::new(None);
    let kept = RefCell::new(Vec::new());
    let outcome = RefCell::new(Vec::<String>::new());

    let mut tasks = Tasks::new();
    tasks.spawn_background(async {
        a.run().await;
    });
    tasks.spawn_background(async {
        b.run().await;
    });
    tasks.spawn_background(link.run());
    tasks.spawn_background(common::dhcp::serve(b, &answering, &seen));
    for (listener, progress) in [(&first, &accepted[0]), (&second, &accepted[1])] {
        let kept = &kept;
        tasks.spawn_background(async move {
            for _ in 0..2 {
                let (conn, _) = listener.accept().await.unwrap();
                kept.borrow_mut().push(conn);
                progress.step();
            }
        });
    }
    tasks.spawn_background(async {
        address.set(Some(a.wait_ipv4().await));
    });
    tasks.spawn(async {
        let timeout = Duration::from_secs(60);
        let mut peers = Vec::new();
        // Round one: each listener's only socket becomes a connection, so
        // each listener now waits for the pool.
        for port in [101, 102] {
            peers.push(b.connect(SocketAddr::new(A_V6.into(), port)).await.unwrap());
        }
        for progress in &accepted {
            progress.until(1).await;
        }
        assert_eq!(a.sockets_in_use(), TCP_SOCKETS);
        assert_eq!(address.get(), None);
        // Six sockets free at once, and the lease arrives.
        drop(hog.borrow_mut().take());
        answering.set(true);
        let mut out = Vec::new();
        match portnet::time::timeout(&a.clock().clone(), timeout, a.wait_ipv4()).await {
            Ok(ip) => assert_eq!(ip, LEASED),
            Err(_) => out.push("no lease within a minute".into()),
        }
        // Round two: both listeners listen again.
        for (index, port) in [101, 102].into_iter().enumerate() {
            let connect = b.connect(SocketAddr::new(A_V6.into(), port));
            match portnet::time::timeout(b.clock(), timeout, connect).await {
                Ok(Ok(conn)) => peers.push(conn),
                Ok(Err(e)) => out.push(format!("listener {index}: second connect: {e:?}")),
                Err(_) => out.push(format!("listener {index}: second connect hangs")),
            }
            let accept = accepted[index].until(2);
            if portnet::time::timeout(b.clock(), timeout, accept)
                .await
                .is_err()
            {
                out.push(format!(
                    "listener {index}: the second accept never returned"
                ));
            }
        }
        // The task in `wait_ipv4` was woken too, not only the ones above that
        // polled after the lease arrived.
        let woken = portnet::time::timeout(b.clock(), timeout, async {
            // Bounded: the address task sets it when it is polled.
            for _ in 0..1000 {
                if address.get().is_some() {
                    return;
                }
                yield_once().await;
            }
        })
        .await;
        if woken.is_err() || address.get() != Some(LEASED) {
            out.push(format!(
                "the wait_ipv4 task was not woken: {:?}",
                address.get()
            ));
        }
        outcome.replace(out);
    });
    let limits = Limits {
        time: Duration::from_secs(600),
        ..Limits::default()
    };
    clock.run(tasks.run(), limits).unwrap();
    let outcome = outcome.into_inner();
    assert!(outcome.is_empty(), "{outcome:#?}");
}

/// Returns `Pending` once after waking itself: lets the other tasks run.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if std::mem::replace(&mut yielded, true) {
            std::task::Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await
}
