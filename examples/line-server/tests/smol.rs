//! The line server on smol: the no-spawn form on `async_io::block_on`, and the
//! accept-and-spawn form on an `async_executor::Executor`.

mod common;

use core::net::{Ipv4Addr, SocketAddr};
use core::pin::pin;
use core::time::Duration;
extern crate alloc;
use alloc::sync::Arc;

use async_executor::Executor;
use portnet::future::{Either, join_array, select};
use portnet::{TcpListen, TcpListener};
use portnet_line_server::{Buffers, Spawn, serve, serve_spawning};
use portnet_smol::Smol;

const LOOPBACK: SocketAddr = SocketAddr::new(core::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
const LIMIT: Duration = Duration::from_secs(20);

#[test]
fn smol_two_slots_on_one_task() {
    let stack = Smol::new();
    async_io::block_on(async {
        let listener = stack.listen(LOOPBACK).await.unwrap();
        let server = listener.local_addr().unwrap();
        let [a, b] = &mut [Buffers::new(), Buffers::new()];
        let (slot_0, slot_1) = (
            pin!(serve(&listener, &stack, LIMIT, a)),
            pin!(serve(&listener, &stack, LIMIT, b)),
        );
        let slots = join_array([slot_0, slot_1]);
        let clients = async {
            let sessions = join_array(
                [0, 1, 2, 3].map(|i| Box::pin(common::checked_session(&stack, server, i))),
            );
            for result in sessions.await {
                result.unwrap();
            }
            common::hold_open(&stack, server, 2, LIMIT).await
        };
        match select(pin!(clients), slots).await {
            Either::Left(held) => held.unwrap(),
            Either::Right(errors) => panic!("the slots ended: {errors:?}"),
        }
    });
}

/// The application's spawner: an executor shared by the threads that run it.
struct OnExecutor(Arc<Executor<'static>>);

impl Spawn for OnExecutor {
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.0.spawn(task).detach();
    }
}

/// Accept-and-spawn on an `async_executor::Executor`, whose `spawn` takes
/// `Send + 'static` futures as a multi-threaded runtime's does.
#[test]
fn smol_accept_and_spawn_on_an_executor() {
    let executor = Arc::new(Executor::new());
    let stack = Smol::new();
    async_io::block_on(executor.run(async {
        let listener = stack.listen(LOOPBACK).await.unwrap();
        let server = listener.local_addr().unwrap();
        let spawner = OnExecutor(Arc::clone(&executor));
        let accept_loop = executor
            .spawn(async move { serve_spawning(&listener, &Smol::new(), LIMIT, &spawner).await });
        let clients: Vec<_> = (0..6)
            .map(|i| {
                executor
                    .spawn(async move { common::checked_session(&Smol::new(), server, i).await })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        common::hold_open(&stack, server, 8, LIMIT).await.unwrap();
        drop(accept_loop); // cancels it
    }));
}
