//! TLS in generic code that spawns: `TlsConnect<Tokio>` is a
//! `portnet::send::TcpConnect`, so a library generic over the `Send` traits
//! spawns its TLS sessions on the multi-threaded runtime. Against a mosquitto TLS
//! listener whose certificates the test makes.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

#[path = "../../mqtt/tests/common/mod.rs"]
mod mosquitto;
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use mosquitto::{Mosquitto, free_port};
use portnet::send::TcpConnect;
use portnet::{ReadExt as _, WriteExt as _};
use portnet_tls::TlsConnect;
use portnet_tokio::Tokio;
use support::Pki;

/// An MQTT 3.1.1 CONNECT over whatever `stack` is; resolves to the CONNACK.
async fn connack<S: TcpConnect>(stack: S, broker: SocketAddr) -> Result<[u8; 4], S::Error> {
    let mut conn = stack.connect(broker).await?;
    let connect = [
        0x10, 0x10, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 30, 0, 4, b's', b'p', b'w', b'n',
    ];
    conn.write_all(&connect).await?;
    conn.flush().await?;
    let mut connack = [0u8; 4];
    conn.read_exact(&mut connack).await?;
    Ok(connack)
}

/// Generic code that spawns: one task per session.
fn spawn_sessions<S>(
    stack: S,
    broker: SocketAddr,
    sessions: usize,
) -> Vec<tokio::task::JoinHandle<Result<[u8; 4], S::Error>>>
where
    S: TcpConnect + Clone + 'static,
{
    (0..sessions)
        .map(|_| tokio::spawn(connack(stack.clone(), broker)))
        .collect()
}

#[test]
fn tls_sessions_spawned_from_generic_code() {
    let pki = Pki::new("spawn");
    let port = free_port();
    let broker = Mosquitto::start_with(&pki.listener("127.0.0.1", port, "server"));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    support::wait_listening(&[addr]);
    let tls = TlsConnect::new(Tokio::new(), "localhost", pki.ca.roots()).expect("a valid name");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        for task in spawn_sessions(tls, addr, 3) {
            let connack = tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("a session ends within 10 s")
                .expect("the task did not panic");
            match connack {
                Ok(connack) => assert_eq!(connack, [0x20, 2, 0, 0]),
                Err(e) => panic!("{e}\nbroker log:\n{}", broker.log()),
            }
        }
    });
}
