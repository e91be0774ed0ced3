//! The micro:bit row: the suite inside firmware on QEMU's `microbit` board, its
//! stack on SLIP over the board's one UART, the peer on the host end of the line.
//!
//! The micro:bit has one UART, and SLIP holds it, so the remote-peer link
//! travels over IP on that same line: the firmware connects from its own stack
//! to the agent, which listens on the host end of the line (the hosted SLIP
//! peer, [`SlipEnd`]: a smoltcp stack at 10.0.0.2), and the agent serves the
//! peer's sockets on that same host stack. No namespace or TAP device is
//! needed: the line is a loopback TCP connection to QEMU's serial port, and
//! everything on it is addressed inside 10.0.0.0/24.
//!
//! The suite does not fit the board's 256 KiB of flash in one image, so the
//! firmware is built once per part (`portnet_conformance::cases::part`); the
//! row runs the parts one after another (one QEMU at a time) and joins their
//! reports. [`FIRMWARE_ENV`] lists the parts' ELF files, in order.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;
use core::time::Duration;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use portnet::future::{Either, join, select};
use portnet::{ReadExt, TcpListen, TcpListener as _, TcpStream as _, WriteExt};
use portnet_conformance::report::Row;
use portnet_smoltcp::{Cidr, Config};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::qemu::{Qemu, machine_command, parse_report};
use crate::slip::{SlipEnd, SlipStack};

/// The environment variable listing the conformance firmware's parts (ELF
/// files, separated as `PATH` is); the row runs when it is set (`cargo xtask
/// qemu microbit-conformance` sets it).
pub const FIRMWARE_ENV: &str = "PORTNET_MICROBIT_FIRMWARE";

/// The row's name in the table.
pub const ROW_NAME: &str = "microbit (qemu)";

/// The host end of the line: the peer's address, where the agent listens.
pub const HOST_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The agent's port on [`HOST_V4`] (the firmware's `CONTROL`).
pub const AGENT_PORT: u16 = 7700;

/// How long a part's firmware may go without printing a line.
const SILENCE_LIMIT: Duration = Duration::from_secs(300);
/// How long one part may take.
const PART_LIMIT: Duration = Duration::from_secs(20 * 60);

/// The parts named by [`FIRMWARE_ENV`], if set.
pub fn firmware() -> Option<Vec<PathBuf>> {
    std::env::var_os(FIRMWARE_ENV).map(|list| std::env::split_paths(&list).collect())
}

/// The row's rows, for the runner: runs every part named by [`FIRMWARE_ENV`]
/// and keeps the cases whose id contains `filter`. A run that cannot start is
/// one failing row naming why; a case no part reported fails, saying how the
/// parts ended.
pub fn rows(backend: &str, filter: &str) -> Vec<Row> {
    let result = match firmware() {
        Some(parts) if !parts.is_empty() => run(&parts),
        _ => Err(format!("{FIRMWARE_ENV} is not set")),
    };
    crate::qemu::rows_named(result, backend, filter)
}

/// Runs each part in QEMU, one after another, against the agent, and returns
/// the rows of all their reports.
///
/// # Errors
///
/// A report line that names an unknown case or outcome.
pub fn run(parts: &[PathBuf]) -> Result<Vec<Row>, String> {
    let mut lines = Vec::new();
    let mut endings = Vec::new();
    for (i, elf) in parts.iter().enumerate() {
        let started = Instant::now();
        let ended = match run_part(elf, &mut lines) {
            Ok(ended) => ended,
            Err(e) => e,
        };
        std::eprintln!(
            "  microbit part {i}: {ended} after {:.0} s",
            started.elapsed().as_secs_f64()
        );
        endings.push(format!("part {i}: {ended}"));
    }
    let rows = parse_report(&lines, &endings.join("; "))?;
    // A case reported twice (two parts built with the same part number) is a
    // build error, not a result.
    for row in &rows {
        let count = rows
            .iter()
            .filter(|r| r.case == row.case && r.backend == row.backend)
            .count();
        if count > 1 {
            return Err(format!(
                "case {} was reported by more than one part",
                row.case
            ));
        }
    }
    Ok(rows)
}

/// Runs one part to its end, appending its output to `lines`; returns how it
/// ended.
fn run_part(elf: &Path, lines: &mut Vec<String>) -> Result<String, String> {
    let listener =
        TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| format!("a loopback port: {e}"))?;
    let port = listener
        .local_addr()
        .map_err(|e| format!("its address: {e}"))?
        .port();
    let mut command = machine_command("microbit", None, elf);
    command.args(["-serial", &format!("tcp:127.0.0.1:{port}")]);
    let qemu = Qemu::spawn(&mut command)?;
    let line = accept(listener, Duration::from_secs(30))?;
    // The host end runs on a thread of its own until the line closes (QEMU
    // exited or was stopped); this thread reads QEMU's output meanwhile.
    let host = std::thread::spawn(move || serve_line(line));
    let (output, ended) = qemu.report(SILENCE_LIMIT, PART_LIMIT)?;
    lines.extend(output);
    match host.join() {
        Ok(Err(e)) => std::eprintln!("  microbit row: host end: {e}"),
        Ok(Ok(())) => {}
        Err(_) => std::eprintln!("  microbit row: the host end panicked"),
    }
    Ok(ended)
}

/// QEMU's connection to the serial port's socket, waiting at most `limit`.
fn accept(listener: TcpListener, limit: Duration) -> Result<std::net::TcpStream, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(listener.accept().map(|(socket, _)| socket));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(socket)) => Ok(socket),
        Ok(Err(e)) => Err(format!("accepting QEMU's serial connection: {e}")),
        Err(_) => Err(String::from("QEMU did not connect its serial port")),
    }
}

/// Drives the host end of the line and serves the agent on its stack, until
/// the line closes.
fn serve_line(line: std::net::TcpStream) -> Result<(), String> {
    let mut end = SlipEnd::new(line, Config::ipv4_static(Cidr::new(HOST_V4, 24), None))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let stack = end.stack();
    local.block_on(&runtime, async move {
        let line = pin!(end.run());
        let agent = pin!(serve_agent(stack));
        match select(line, agent).await {
            // The line closes when QEMU ends: the normal end of a part, and
            // an early one if it happens first.
            Either::Left(closed) => {
                std::eprintln!("  microbit row: the line ended: {closed}");
                Ok(())
            }
            Either::Right(result) => result,
        }
    })
}

/// Accepts the firmware's link connection and serves the agent over it.
async fn serve_agent(stack: &'static SlipStack) -> Result<(), String> {
    let listener = stack
        .listen(SocketAddr::new(IpAddr::V4(HOST_V4), AGENT_PORT))
        .await
        .map_err(|e| format!("listening for the firmware: {e}"))?;
    let (mut connection, _) = listener
        .accept()
        .await
        .map_err(|e| format!("accepting the firmware's link: {e}"))?;
    drop(listener);
    // The agent reads and writes tokio streams: a pipe joins it to the
    // connection, copied both ways.
    let (agent_end, bridge_end) = tokio::io::duplex(16 * 1024);
    let (agent_rx, agent_tx) = tokio::io::split(agent_end);
    let (mut bridge_rx, mut bridge_tx) = tokio::io::split(bridge_end);
    let (mut rx, mut tx) = connection.split();
    let inbound = async {
        let mut buf = alloc::vec![0u8; 4096];
        loop {
            match rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if bridge_tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        let _ = bridge_tx.shutdown().await;
    };
    let outbound = async {
        let mut buf = alloc::vec![0u8; 4096];
        loop {
            match bridge_rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    let served = crate::agent::serve(stack, agent_rx, agent_tx);
    let inbound = pin!(inbound);
    let outbound = pin!(outbound);
    let bridged = join(inbound, outbound);
    match select(pin!(served), pin!(bridged)).await {
        Either::Left(result) => result.map_err(|e| format!("agent: {e}")),
        Either::Right(_) => Ok(()),
    }
}
