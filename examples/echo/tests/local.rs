//! The traits ask nothing of `Send`: a stack whose futures are not `Send` (as on a
//! single-threaded `no_std` executor, where stacks use `RefCell`) runs the same
//! generic echo, driven by a single-threaded executor.

use core::cell::Cell;
use core::net::{Ipv4Addr, SocketAddr};
use std::io;
extern crate alloc;
use alloc::rc::Rc;

use portnet::{ErrorType, TcpConnect, TcpListen, TcpListener};
use portnet_echo::{exchange, serve};
use portnet_tokio::Tokio;

/// The tokio stack behind an `Rc` counter: neither it nor its futures are `Send`.
#[derive(Debug, Default)]
struct LocalStack {
    inner: Tokio,
    connects: Rc<Cell<usize>>,
}

impl ErrorType for LocalStack {
    type Error = io::Error;
}

impl TcpConnect for LocalStack {
    type Connection<'a> = portnet_tokio::Connection;
    async fn connect(&self, remote: SocketAddr) -> io::Result<Self::Connection<'_>> {
        let counter = Rc::clone(&self.connects);
        let conn = self.inner.connect(remote).await?;
        counter.set(counter.get() + 1);
        Ok(conn)
    }
}

impl TcpListen for LocalStack {
    type Connection<'a> = portnet_tokio::Connection;
    type Listener<'a> = portnet_tokio::Listener;
    async fn listen_with(
        &self,
        local: SocketAddr,
        options: portnet::ListenOptions,
    ) -> io::Result<Self::Listener<'_>> {
        self.inner.listen_with(local, options).await
    }
}

#[test]
fn a_stack_that_is_not_send_runs_on_a_single_threaded_executor() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let stack = LocalStack::default();
        let listener = stack.listen((Ipv4Addr::LOCALHOST, 0).into()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        let mut buf = [0u8; 512];
        let (served, exchanged) =
            tokio::join!(serve(&listener, 1, &mut buf), exchange(&stack, addr, &data));
        exchanged.unwrap();
        assert_eq!(served.unwrap(), 50_000);
        assert_eq!(stack.connects.get(), 1);
    });
}
