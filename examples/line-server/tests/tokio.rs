//! The line server on tokio: the accept-and-spawn form on the multi-threaded
//! runtime (the library spawns from generic code, through `portnet::send` and
//! the application's spawner), and the no-spawn form, three slots joined on one
//! task of a current-thread runtime.

mod common;

use core::net::{Ipv4Addr, SocketAddr};
use core::pin::pin;
use core::time::Duration;

use portnet::future::{Either, join_array, select};
use portnet::{ListenOptions, TcpListen, TcpListener};
use portnet_line_server::{Buffers, Spawn, serve, serve_spawning};
use portnet_tokio::Tokio;

/// The application's spawner: tokio's.
struct TokioSpawner;

impl Spawn for TokioSpawner {
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        tokio::spawn(task);
    }
}

const LOOPBACK: SocketAddr = SocketAddr::new(core::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
const LIMIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_multi_thread_accept_and_spawn() {
    let stack = Tokio::new();
    let listener = stack
        .listen_with(LOOPBACK, ListenOptions::new().backlog(16))
        .await
        .unwrap();
    let server = listener.local_addr().unwrap();
    let accept_loop = tokio::spawn(async move {
        let stack = Tokio::new();
        serve_spawning(&listener, &stack, LIMIT, &TokioSpawner).await
    });
    // Eight clients at once, each on its own task.
    let clients: Vec<_> = (0..8)
        .map(|i| {
            tokio::spawn(async move { common::checked_session(&Tokio::new(), server, i).await })
        })
        .collect();
    for client in clients {
        client.await.unwrap().unwrap();
    }
    // More connections open at once than any fixed number of slots would hold.
    common::hold_open(&stack, server, 12, LIMIT).await.unwrap();
    accept_loop.abort();
}

#[test]
fn tokio_three_slots_on_one_task() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stack = Tokio::new();
        let listener = stack.listen(LOOPBACK).await.unwrap();
        let server = listener.local_addr().unwrap();
        let [a, b, c] = &mut [Buffers::new(), Buffers::new(), Buffers::new()];
        let (slot_0, slot_1, slot_2) = (
            pin!(serve(&listener, &stack, LIMIT, a)),
            pin!(serve(&listener, &stack, LIMIT, b)),
            pin!(serve(&listener, &stack, LIMIT, c)),
        );
        let slots = join_array([slot_0, slot_1, slot_2]);
        let clients = async {
            // Six sessions for three slots: the others wait in the backlog.
            let sessions = join_array(
                [0, 1, 2, 3, 4, 5].map(|i| Box::pin(common::checked_session(&stack, server, i))),
            );
            for result in sessions.await {
                result.unwrap();
            }
            common::hold_open(&stack, server, 3, LIMIT).await
        };
        match select(pin!(clients), slots).await {
            Either::Left(held) => held.unwrap(),
            Either::Right(errors) => panic!("the slots ended: {errors:?}"),
        }
    });
}
