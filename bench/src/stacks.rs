//! portnet's smoltcp backend vs embassy-net, on the same in-memory link of
//! `portnet-links`, through the conformance suite's harnesses: the stack under
//! test at 10.0.0.1 sends to portnet's smoltcp backend at 10.0.0.2 (the same
//! peer for both), in the link's virtual time. Wall time is the cost of the
//! whole simulation (sender, the shared receiver, the link), so the ratio
//! understates the difference between the senders.

use core::net::SocketAddr;
use core::pin::pin;
use core::time::Duration;
use std::io;
use std::time::Instant;

use portnet::future::join;
use portnet::{ReadExt, TcpConnect, TcpListen, TcpListener, WriteExt};
use portnet_conformance::{Family, Harness};
use portnet_conformance_runner::embassy::EmbassyNetHarness;
use portnet_conformance_runner::smoltcp::MemoryHarness;

use crate::{Row, median};

const PORT: u16 = 5001;
const CHUNK: usize = 16 * 1024;

fn err(e: impl core::fmt::Debug) -> io::Error {
    io::Error::other(format!("{e:?}"))
}

/// Sends `bytes` from the harness's stack to its peer; the wall time it took.
pub(crate) fn bulk<H: Harness>(harness: &H, bytes: usize) -> io::Result<Duration> {
    let stack = harness
        .connector()
        .ok_or_else(|| err("the harness cannot connect"))?;
    let peer = harness.peer();
    let ip = harness
        .peer_ip(Family::V4)
        .ok_or_else(|| err("no peer address"))?;
    let addr = SocketAddr::new(ip, PORT);
    let start = Instant::now();
    let received = harness.run(async {
        let listener = peer.listen(addr).await.map_err(err)?;
        let send = pin!(async {
            let mut conn = stack.connect(addr).await.map_err(err)?;
            let buf = vec![0x5a; CHUNK];
            let mut sent = 0;
            while sent < bytes {
                let n = CHUNK.min(bytes - sent);
                conn.write_all(&buf[..n]).await.map_err(err)?;
                sent += n;
            }
            conn.close().await.map_err(err)
        });
        let receive = pin!(async {
            let (mut conn, _) = listener.accept().await.map_err(err)?;
            let mut buf = vec![0; CHUNK];
            let mut received = 0;
            loop {
                let n = conn.read(&mut buf).await.map_err(err)?;
                if n == 0 {
                    break;
                }
                received += n;
            }
            Ok::<_, io::Error>(received)
        });
        let (sent, received) = join(send, receive).await;
        sent?;
        received
    })?;
    crate::check_len(received, bytes)?;
    Ok(start.elapsed())
}

/// Bytes of RAM one more TCP socket costs, without its buffers: portnet's
/// socket-set entry, pool slot and connection handle.
pub(crate) fn portnet_socket_ram() -> usize {
    use portnet_smoltcp::{StackResources, TcpConnection, TcpSlot};
    size_of::<StackResources<'static, 2>>() - size_of::<StackResources<'static, 1>>()
        + size_of::<TcpSlot>()
        + size_of::<TcpConnection<'static, 'static>>()
}

/// The same for embassy-net: its socket-set entry and the `TcpSocket`.
fn embassy_socket_ram() -> usize {
    size_of::<embassy_net::StackResources<2>>() - size_of::<embassy_net::StackResources<1>>()
        + size_of::<embassy_net::tcp::TcpSocket<'static>>()
}

pub(crate) fn run(bytes: usize, repeats: usize) -> io::Result<Vec<Row>> {
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for r in 0..repeats.max(2) {
        // Sides take turns at going first (ABBA).
        if r % 2 == 0 {
            ours.push(bulk(&MemoryHarness::default(), bytes)?.as_secs_f64());
            peer.push(bulk(&EmbassyNetHarness::default(), bytes)?.as_secs_f64());
        } else {
            peer.push(bulk(&EmbassyNetHarness::default(), bytes)?.as_secs_f64());
            ours.push(bulk(&MemoryHarness::default(), bytes)?.as_secs_f64());
        }
    }
    let mib = bytes as f64 / f64::from(1 << 20);
    let (o, p) = (mib / median(ours), mib / median(peer));
    let (ram_o, ram_p) = (portnet_socket_ram() as f64, embassy_socket_ram() as f64);
    Ok(vec![
        Row {
            name: "tcp bulk, in-memory link (wall): portnet-smoltcp vs embassy-net",
            ours: o,
            peer: p,
            unit: "MiB/s",
            ratio: o / p,
        },
        Row {
            name: "RAM per TCP socket without buffers (x86_64): portnet-smoltcp vs embassy-net",
            ours: ram_o,
            peer: ram_p,
            unit: "bytes",
            ratio: ram_p / ram_o,
        },
    ])
}

/// Bytes of the instruction rows' bulk transfer (a run of none is the baseline).
pub(crate) const CPU_BYTES: usize = 4 << 20;

/// Child mode: one bulk transfer of `n` bytes through `stack-portnet` or
/// `stack-embassy`, under callgrind started by [`instructions`].
pub(crate) fn workload(workload: &str, n: usize) -> io::Result<()> {
    match workload {
        "stack-portnet" => bulk(&MemoryHarness::default(), n).map(drop),
        "stack-embassy" => bulk(&EmbassyNetHarness::default(), n).map(drop),
        other => Err(err(format!("unknown workload {other}"))),
    }
}

/// Instructions per MiB of the bulk transfer on the in-memory link
/// (callgrind, exact): a run of `CPU_BYTES` minus a run of none, over the
/// whole process (sender, the shared portnet receiver, the link), as the wall
/// row measures.
pub(crate) fn instructions() -> io::Result<Vec<Row>> {
    let per_mib = |workload: &str| -> io::Result<f64> {
        let full = crate::mqtt::count(workload, "-", CPU_BYTES)?;
        let base = crate::mqtt::count(workload, "-", 0)?;
        Ok(full.saturating_sub(base) as f64 / (CPU_BYTES >> 20) as f64)
    };
    let (ours, peer) = (per_mib("stack-portnet")?, per_mib("stack-embassy")?);
    Ok(vec![Row {
        name: "tcp bulk, in-memory link instructions (callgrind): portnet-smoltcp vs embassy-net",
        ours,
        peer,
        unit: "instr/MiB",
        ratio: peer / ours,
    }])
}

#[cfg(test)]
mod tests {
    #[test]
    fn socket_ram_parts() {
        use portnet_smoltcp::{StackResources, TcpConnection, TcpSlot};
        let entry =
            size_of::<StackResources<'static, 2>>() - size_of::<StackResources<'static, 1>>();
        let e_entry = size_of::<embassy_net::StackResources<2>>()
            - size_of::<embassy_net::StackResources<1>>();
        println!(
            "portnet: entry {entry} slot {} conn {}; embassy: entry {e_entry} socket {}",
            size_of::<TcpSlot>(),
            size_of::<TcpConnection<'static, 'static>>(),
            size_of::<embassy_net::tcp::TcpSocket<'static>>()
        );
        assert!(super::portnet_socket_ram() > entry);
        assert!(super::embassy_socket_ram() > e_entry);
    }
}
