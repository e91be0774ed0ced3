//! The hosted end of a firmware's SLIP line, as a process: a smoltcp stack
//! (10.0.0.2/24) on a SLIP link over the TCP connection QEMU makes for the
//! board's serial port, forwarding TCP port 1883 of that stack to a port on
//! the host's loopback (mosquitto), so that firmware behind a serial line
//! reaches the host's broker as the Ethernet board does through QEMU's user
//! networking.
//!
//! ```text
//! slip_peer BROKER_PORT
//! ```
//!
//! It prints `slip-peer: line on 127.0.0.1:PORT` (start QEMU with
//! `-serial tcp:127.0.0.1:PORT`), one line per forwarded connection, and ends
//! when the line closes (QEMU exited). `cargo xtask qemu microbit-sensor`
//! runs it.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::pin::pin;

use portnet::future::{Either, select};
use portnet::{
    ReadExt as _, TcpConnect as _, TcpListen as _, TcpListener as _, TcpStream as _, WriteExt as _,
};
use portnet_conformance::BlockOn as _;
use portnet_conformance_runner::hosted::TokioCurrentThread;
use portnet_conformance_runner::slip::SlipEnd;
use portnet_smoltcp::{Cidr, Config};
use portnet_tokio::Tokio;

/// This end's address on the line (the firmware is 10.0.0.1).
const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The port forwarded to the broker.
const MQTT: u16 = 1883;
/// Connections forwarded before the peer gives up: far more than a run's
/// reconnects.
const MAX_CONNECTIONS: usize = 1000;

/// Copies `from` to `to` until `from` ends; the error says which side failed.
async fn copy<R: portnet::Read + Unpin, W: portnet::Write + Unpin>(
    from: &mut R,
    to: &mut W,
) -> Result<(), String> {
    let mut buf = [0u8; 1024];
    loop {
        let n = from
            .read(&mut buf)
            .await
            .map_err(|e| format!("read: {e:?}"))?;
        if n == 0 {
            return Ok(());
        }
        to.write_all(&buf[..n])
            .await
            .map_err(|e| format!("write: {e:?}"))?;
    }
}

fn main() -> Result<(), String> {
    let broker_port: u16 = std::env::args()
        .nth(1)
        .and_then(|port| port.parse().ok())
        .ok_or("usage: slip_peer BROKER_PORT")?;
    let broker = SocketAddr::from((Ipv4Addr::LOCALHOST, broker_port));
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    println!("slip-peer: line on 127.0.0.1:{port}");
    let (line, _) = listener.accept().map_err(|e| format!("the line: {e}"))?;
    let mut end = SlipEnd::new(line, Config::ipv4_static(Cidr::new(HOST, 24), None))?;
    let stack = end.stack();
    let upstream = Tokio::new();
    TokioCurrentThread.block_on(async {
        let forward = pin!(async {
            let listener = stack
                .listen(SocketAddr::from((HOST, MQTT)))
                .await
                .map_err(|e| format!("listen: {e:?}"))?;
            println!("slip-peer: forwarding {HOST}:{MQTT} to {broker}");
            for _ in 0..MAX_CONNECTIONS {
                let (mut conn, from) = listener
                    .accept()
                    .await
                    .map_err(|e| format!("accept: {e:?}"))?;
                let mut up = match upstream.connect(broker).await {
                    Ok(up) => up,
                    Err(e) => {
                        // The broker is down (restarting): the firmware sees
                        // its connection close and tries again later.
                        println!("slip-peer: {from}: broker unreachable: {e:?}");
                        continue;
                    }
                };
                println!("slip-peer: {from} forwarded to {broker}");
                let (mut conn_read, mut conn_write) = conn.split();
                let (mut up_read, mut up_write) = up.split();
                let ended = match select(
                    pin!(copy(&mut conn_read, &mut up_write)),
                    pin!(copy(&mut up_read, &mut conn_write)),
                )
                .await
                {
                    Either::Left(result) => ("the firmware", result),
                    Either::Right(result) => ("the broker", result),
                };
                println!("slip-peer: {from}: {} ended it ({:?})", ended.0, ended.1);
            }
            Ok::<(), String>(())
        });
        let result = match select(forward, pin!(end.run())).await {
            Either::Left(result) => result,
            Either::Right(stopped) => {
                println!("slip-peer: {stopped}");
                Ok(())
            }
        };
        println!("slip-peer: link {:?}", end.link_stats());
        result
    })
}
