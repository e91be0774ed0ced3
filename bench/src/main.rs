//! portnet's benchmarks. Every figure is measured in the same run as its peer, on
//! the same machine, repeated, and reported as the median with a ratio where > 1
//! means portnet is better.
//!
//! ```text
//! cargo run --release -p portnet-bench -- [--quick] [--json FILE] [--only SECTION]
//! ```
//! (`cargo xtask bench` runs it.)

mod broker;
mod growth;
mod lwip;
mod mqtt;
mod size;
mod stacks;
mod wake;

use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;
use core::time::Duration;
use std::io;
use std::time::Instant;

use portnet::{ReadExt, TcpConnect, TcpListen, TcpListener, WriteExt};
use portnet_tokio::Tokio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One result row, as printed and as written to JSON.
pub(crate) struct Row {
    name: &'static str,
    ours: f64,
    peer: f64,
    unit: &'static str,
    /// > 1 means portnet is better.
    ratio: f64,
}

struct Settings {
    bulk_bytes: usize,
    round_trips: usize,
    repeats: usize,
}

pub(crate) fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Runs each side `repeats` times (at least twice), taking turns at going
/// first (ABBA) so that machine noise hits both alike; their samples.
pub(crate) fn abba(
    repeats: usize,
    mut ours: impl FnMut() -> io::Result<f64>,
    mut peer: impl FnMut() -> io::Result<f64>,
) -> io::Result<(Vec<f64>, Vec<f64>)> {
    let (mut o, mut p) = (Vec::new(), Vec::new());
    for r in 0..repeats.max(2) {
        if r % 2 == 0 {
            o.push(ours()?);
            p.push(peer()?);
        } else {
            p.push(peer()?);
            o.push(ours()?);
        }
    }
    Ok((o, p))
}

const CHUNK: usize = 64 * 1024;
const LOCAL: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);

/// The portnet side of the bulk benchmark, written once against the traits: it
/// runs unchanged on every backend compared.
async fn bulk_portnet<S>(stack: &S, bytes: usize) -> io::Result<Duration>
where
    S: TcpConnect + TcpListen<Error = io::Error>,
{
    let listener = stack.listen(LOCAL).await?;
    let addr = listener.local_addr()?;
    let send = pin!(async {
        let mut conn = stack.connect(addr).await?;
        let buf = vec![0x5a; CHUNK];
        let mut sent = 0;
        while sent < bytes {
            let n = CHUNK.min(bytes - sent);
            conn.write_all(&buf[..n]).await.map_err(io::Error::other)?;
            sent += n;
        }
        conn.close().await
    });
    let receive = pin!(async {
        let (mut conn, _) = listener.accept().await?;
        let mut buf = vec![0; CHUNK];
        let mut received = 0;
        loop {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            received += n;
        }
        Ok::<_, io::Error>(received)
    });
    let start = Instant::now();
    let (sent, received) = portnet::future::join(send, receive).await;
    sent?;
    check_len(received?, bytes)?;
    Ok(start.elapsed())
}

async fn bulk_tokio(bytes: usize) -> io::Result<Duration> {
    let listener = tokio::net::TcpListener::bind(LOCAL).await?;
    let addr = listener.local_addr()?;
    let send = async {
        let mut conn = tokio::net::TcpStream::connect(addr).await?;
        let buf = vec![0x5a; CHUNK];
        let mut sent = 0;
        while sent < bytes {
            let n = CHUNK.min(bytes - sent);
            conn.write_all(&buf[..n]).await?;
            sent += n;
        }
        conn.shutdown().await
    };
    let receive = async {
        let (mut conn, _) = listener.accept().await?;
        let mut buf = vec![0; CHUNK];
        let mut received = 0;
        loop {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            received += n;
        }
        Ok::<_, io::Error>(received)
    };
    let start = Instant::now();
    let (sent, received) = tokio::join!(send, receive);
    sent?;
    check_len(received?, bytes)?;
    Ok(start.elapsed())
}

async fn bulk_async_net(bytes: usize) -> io::Result<Duration> {
    use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = async_net::TcpListener::bind(LOCAL).await?;
    let addr = listener.local_addr()?;
    let send = async {
        let mut conn = async_net::TcpStream::connect(addr).await?;
        let buf = vec![0x5a; CHUNK];
        let mut sent = 0;
        while sent < bytes {
            let n = CHUNK.min(bytes - sent);
            conn.write_all(&buf[..n]).await?;
            sent += n;
        }
        conn.close().await
    };
    let receive = async {
        let (mut conn, _) = listener.accept().await?;
        let mut buf = vec![0; CHUNK];
        let mut received = 0;
        loop {
            let n = conn.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            received += n;
        }
        Ok::<_, io::Error>(received)
    };
    let start = Instant::now();
    let (sent, received) = futures_lite::future::zip(send, receive).await;
    sent?;
    check_len(received?, bytes)?;
    Ok(start.elapsed())
}

pub(crate) fn check_len(received: usize, expected: usize) -> io::Result<()> {
    if received == expected {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "received {received} of {expected} bytes"
        )))
    }
}

const PING: usize = 64;

async fn ping_pong_portnet(round_trips: usize) -> io::Result<Duration> {
    let stack = Tokio::new();
    let listener = stack.listen(LOCAL).await?;
    let addr = listener.local_addr()?;
    let client = async {
        let mut conn = stack.connect(addr).await?;
        let mut buf = [7u8; PING];
        let start = Instant::now();
        for _ in 0..round_trips {
            conn.write_all(&buf).await.map_err(io::Error::other)?;
            conn.read_exact(&mut buf).await.map_err(io::Error::other)?;
        }
        let elapsed = start.elapsed();
        conn.close().await?;
        Ok::<_, io::Error>(elapsed)
    };
    let server = async {
        let (mut conn, _) = listener.accept().await?;
        conn.set_nodelay_for_bench()?;
        let mut buf = [0u8; PING];
        for _ in 0..round_trips {
            conn.read_exact(&mut buf).await.map_err(io::Error::other)?;
            conn.write_all(&buf).await.map_err(io::Error::other)?;
        }
        Ok::<_, io::Error>(())
    };
    let (elapsed, served) = tokio::join!(client, server);
    served?;
    elapsed
}

async fn ping_pong_tokio(round_trips: usize) -> io::Result<Duration> {
    let listener = tokio::net::TcpListener::bind(LOCAL).await?;
    let addr = listener.local_addr()?;
    let client = async {
        let mut conn = tokio::net::TcpStream::connect(addr).await?;
        conn.set_nodelay(true)?;
        let mut buf = [7u8; PING];
        let start = Instant::now();
        for _ in 0..round_trips {
            conn.write_all(&buf).await?;
            conn.read_exact(&mut buf).await?;
        }
        let elapsed = start.elapsed();
        conn.shutdown().await?;
        Ok::<_, io::Error>(elapsed)
    };
    let server = async {
        let (mut conn, _) = listener.accept().await?;
        conn.set_nodelay(true)?;
        let mut buf = [0u8; PING];
        for _ in 0..round_trips {
            conn.read_exact(&mut buf).await?;
            conn.write_all(&buf).await?;
        }
        Ok::<_, io::Error>(())
    };
    let (elapsed, served) = tokio::join!(client, server);
    served?;
    elapsed
}

/// Nagle off on both ends for a fair round-trip figure, through portnet's typed
/// options like a user would.
trait NoDelay {
    fn set_nodelay_for_bench(&self) -> io::Result<()>;
}

impl NoDelay for portnet_tokio::Connection {
    fn set_nodelay_for_bench(&self) -> io::Result<()> {
        use portnet::SocketOptions;
        self.set_option(portnet::SocketOption::NoDelay(true))
    }
}

fn run(settings: &Settings) -> io::Result<Vec<Row>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut ours = Vec::new();
    let mut peer = Vec::new();
    // Alternate the two so that machine noise hits both alike.
    for r in 0..settings.repeats.max(2) {
        // Sides take turns at going first (ABBA).
        if r % 2 == 0 {
            ours.push(
                runtime
                    .block_on(bulk_portnet(&Tokio::new(), settings.bulk_bytes))?
                    .as_secs_f64(),
            );
            peer.push(
                runtime
                    .block_on(bulk_tokio(settings.bulk_bytes))?
                    .as_secs_f64(),
            );
        } else {
            peer.push(
                runtime
                    .block_on(bulk_tokio(settings.bulk_bytes))?
                    .as_secs_f64(),
            );
            ours.push(
                runtime
                    .block_on(bulk_portnet(&Tokio::new(), settings.bulk_bytes))?
                    .as_secs_f64(),
            );
        }
    }
    let mib = settings.bulk_bytes as f64 / f64::from(1 << 20);
    let (ours_rate, peer_rate) = (mib / median(ours), mib / median(peer));
    let mut rows = vec![Row {
        name: "tcp bulk loopback: portnet-tokio vs tokio TcpStream",
        ours: ours_rate,
        peer: peer_rate,
        unit: "MiB/s",
        ratio: ours_rate / peer_rate,
    }];
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for r in 0..settings.repeats.max(2) {
        // Sides take turns at going first (ABBA).
        if r % 2 == 0 {
            ours.push(
                async_io::block_on(bulk_portnet(
                    &portnet_smol::Smol::new(),
                    settings.bulk_bytes,
                ))?
                .as_secs_f64(),
            );
            peer.push(async_io::block_on(bulk_async_net(settings.bulk_bytes))?.as_secs_f64());
        } else {
            peer.push(async_io::block_on(bulk_async_net(settings.bulk_bytes))?.as_secs_f64());
            ours.push(
                async_io::block_on(bulk_portnet(
                    &portnet_smol::Smol::new(),
                    settings.bulk_bytes,
                ))?
                .as_secs_f64(),
            );
        }
    }
    let (ours_rate, peer_rate) = (mib / median(ours), mib / median(peer));
    rows.push(Row {
        name: "tcp bulk loopback: portnet-smol vs async-net TcpStream",
        ours: ours_rate,
        peer: peer_rate,
        unit: "MiB/s",
        ratio: ours_rate / peer_rate,
    });
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    let trips = settings.round_trips as f64;
    for r in 0..settings.repeats.max(2) {
        // Sides take turns at going first (ABBA).
        let ours_run = || -> io::Result<f64> {
            Ok(runtime
                .block_on(ping_pong_portnet(settings.round_trips))?
                .as_secs_f64()
                / trips)
        };
        let peer_run = || -> io::Result<f64> {
            Ok(runtime
                .block_on(ping_pong_tokio(settings.round_trips))?
                .as_secs_f64()
                / trips)
        };
        if r % 2 == 0 {
            ours.push(ours_run()?);
            peer.push(peer_run()?);
        } else {
            peer.push(peer_run()?);
            ours.push(ours_run()?);
        }
    }
    let (ours_rtt, peer_rtt) = (median(ours) * 1e6, median(peer) * 1e6);
    rows.push(Row {
        name: "tcp 64-byte ping-pong loopback: portnet-tokio vs tokio TcpStream",
        ours: ours_rtt,
        peer: peer_rtt,
        unit: "us/round trip",
        ratio: peer_rtt / ours_rtt,
    });
    Ok(rows)
}

/// User-space instructions (callgrind) of the trait-overhead workloads, each
/// run minus a run of the same workload with no data, per unit of work: what
/// the wrappers cost, free of the machine's noise (the kernel's work is not
/// counted, and is the same for both).
fn overhead_instructions() -> io::Result<Vec<Row>> {
    let per = |workload: &str, n: usize, unit: f64| -> io::Result<f64> {
        let full = mqtt::count(workload, "-", n)?;
        let base = mqtt::count(workload, "-", 0)?;
        Ok(full.saturating_sub(base) as f64 / unit)
    };
    let bytes = 64 << 20;
    let mib = f64::from(64);
    let (o, p) = (
        per("tcp-portnet", bytes, mib)?,
        per("tcp-tokio", bytes, mib)?,
    );
    let trips = 2_000;
    let (o2, p2) = (
        per("pp-portnet", trips, trips as f64)?,
        per("pp-tokio", trips, trips as f64)?,
    );
    Ok(vec![
        Row {
            name: "tcp bulk loopback instructions (callgrind): portnet-tokio vs tokio",
            ours: o,
            peer: p,
            unit: "instr/MiB",
            ratio: p / o,
        },
        Row {
            name: "tcp 64-byte ping-pong instructions (callgrind): portnet-tokio vs tokio",
            ours: o2,
            peer: p2,
            unit: "instr/round trip",
            ratio: p2 / o2,
        },
    ])
}

fn to_json(rows: &[Row]) -> String {
    let items: Vec<String> = rows
        .iter()
        .map(|r| {
            format!(
                "  {{\"name\":\"{}\",\"ours\":{:.3},\"peer\":{:.3},\"unit\":\"{}\",\"ratio\":{:.4}}}",
                r.name, r.ours, r.peer, r.unit, r.ratio
            )
        })
        .collect();
    format!("[\n{}\n]\n", items.join(",\n"))
}

fn main() -> std::process::ExitCode {
    let mut quick = false;
    let mut json = None;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--json" => json = args.next(),
            "--only" => only = args.next(),
            "--callgrind-child" => {
                let parts: Vec<String> = args.by_ref().take(3).collect();
                return match parts.as_slice() {
                    [workload, addr, n] => match mqtt::callgrind_child(workload, addr, n) {
                        Ok(()) => std::process::ExitCode::SUCCESS,
                        Err(e) => {
                            eprintln!("{e}");
                            std::process::ExitCode::FAILURE
                        }
                    },
                    _ => std::process::ExitCode::from(2),
                };
            }
            other => {
                eprintln!(
                    "unknown argument {other:?}; usage: portnet-bench [--quick] [--json FILE] [--only SECTION]"
                );
                return std::process::ExitCode::from(2);
            }
        }
    }
    let settings = if quick {
        Settings {
            bulk_bytes: 64 << 20,
            round_trips: 2_000,
            repeats: 3,
        }
    } else {
        Settings {
            bulk_bytes: 1 << 30,
            round_trips: 50_000,
            repeats: 7,
        }
    };
    let mqtt_settings = if quick {
        mqtt::MqttSettings {
            qos0: 20_000,
            qos1: 10_000,
            latency_samples: 500,
            repeats: 3,
        }
    } else {
        mqtt::MqttSettings {
            qos0: 200_000,
            qos1: 50_000,
            latency_samples: 5_000,
            repeats: 5,
        }
    };
    let stack_bytes = if quick { 32 << 20 } else { 256 << 20 };
    let wanted = |section: &str| only.as_deref().is_none_or(|o| o == section);
    let rows = match (|| {
        let mut rows = Vec::new();
        if wanted("overhead") {
            rows.extend(run(&settings)?);
        }
        if wanted("mqtt") {
            rows.extend(mqtt::run(&mqtt_settings)?);
        }
        // Instruction counts take a minute under valgrind: full runs, or asked for.
        if (!quick && only.is_none()) || only.as_deref() == Some("cpu") {
            rows.extend(overhead_instructions()?);
            rows.extend(mqtt::instructions(if quick { 2_000 } else { 20_000 })?);
            rows.extend(wake::instructions()?);
            rows.extend(stacks::instructions()?);
        }
        // The detail behind docs/backends/smoltcp.md's wake figures; no rows.
        if only.as_deref() == Some("wake") {
            wake::report()?;
        }
        if wanted("stacks") {
            rows.extend(stacks::run(stack_bytes, settings.repeats)?);
        }
        if wanted("growth") {
            let (growth_rows, curves) = growth::run(settings.repeats, 1000)?;
            rows.extend(growth_rows);
            if !quick {
                let dir =
                    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/benchmarks");
                growth::plots(&dir, &curves)?;
                println!("plots written to {}", dir.display());
            }
        }
        if wanted("lwip") {
            rows.extend(lwip::run(stack_bytes, settings.repeats)?);
        }
        if wanted("size") {
            rows.extend(size::run()?);
        }
        Ok::<_, io::Error>(rows)
    })() {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("benchmark failed: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    println!(
        "{:66} {:>12} {:>12} {:>14} {:>7}",
        "benchmark", "portnet", "peer", "unit", "ratio"
    );
    for r in &rows {
        println!(
            "{:66} {:>12.2} {:>12.2} {:>14} {:>7.3}",
            r.name, r.ours, r.peer, r.unit, r.ratio
        );
    }
    if let Some(path) = json
        && let Err(e) = std::fs::write(&path, to_json(&rows))
    {
        eprintln!("cannot write {path}: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
