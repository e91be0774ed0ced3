//! The serial network path into firmware: the `slip_echo` firmware (the generic
//! echo server of `examples/echo`, unchanged, on the smoltcp backend over SLIP
//! on the board's UART1) in QEMU's `mps2-an385`, and the generic echo client
//! on a hosted smoltcp stack at the other end of the line (`SlipEnd` on the
//! TCP socket behind QEMU's serial port).
//!
//! Runs when `PORTNET_SLIP_FIRMWARE` names the firmware's ELF file (`cargo
//! xtask qemu slip` builds it and sets it); otherwise it says so and passes.
//! `PORTNET_SLIP_MACHINE=microbit` runs the micro:bit's `slip_echo` instead
//! (`cargo xtask qemu microbit-slip`): its one UART is the line, and its
//! messages come through semihosting.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::pin::pin;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use portnet::future::{Either, select};
use portnet_conformance::BlockOn as _;
use portnet_conformance_runner::hosted::TokioCurrentThread;
use portnet_conformance_runner::qemu::{Qemu, machine_command};
use portnet_conformance_runner::slip::SlipEnd;
use portnet_smoltcp::{Cidr, Config};

/// The firmware's address on the line, and this end's.
const FIRMWARE: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const HOST: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// Echo lengths: a line, a few segments, and bulk (one connection each; the
/// firmware serves three, then exits).
const LENGTHS: [usize; 3] = [13, 4097, 256 * 1024];

fn pattern(i: usize) -> u8 {
    // Rich in SLIP's END (0xC0) and ESC (0xDB) bytes, which the line escapes.
    (i.wrapping_mul(7) % 251) as u8 ^ ((i >> 8) as u8 & 0xC0)
}

/// QEMU's connection to the serial port's socket, waiting at most `limit`.
fn accept_line(listener: TcpListener, limit: Duration) -> Result<TcpStream, String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(listener.accept().map(|(socket, _)| socket));
    });
    match rx.recv_timeout(limit) {
        Ok(Ok(socket)) => Ok(socket),
        Ok(Err(e)) => Err(format!("accepting QEMU's serial connection: {e}")),
        Err(_) => Err("QEMU did not connect its serial port".to_owned()),
    }
}

#[test]
fn the_generic_echo_server_in_firmware_serves_a_host_client_over_slip() {
    let Some(elf) = std::env::var_os("PORTNET_SLIP_FIRMWARE").map(PathBuf::from) else {
        eprintln!("skipped: PORTNET_SLIP_FIRMWARE is not set (`cargo xtask qemu slip` sets it)");
        return;
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a loopback port");
    let port = listener.local_addr().expect("its address").port();
    let machine = std::env::var("PORTNET_SLIP_MACHINE").unwrap_or_else(|_| "mps2-an385".into());
    let mut command = machine_command(&machine, None, &elf);
    let line_arg = format!("tcp:127.0.0.1:{port}");
    // The mps2-an385 carries the line on its UART1 (UART0 is the console);
    // the micro:bit has only the one UART.
    let serial: &[&str] = match machine.as_str() {
        "microbit" => &["-serial", &line_arg],
        _ => &["-serial", "stdio", "-serial", &line_arg],
    };
    command.args(serial);
    let mut qemu = Qemu::spawn(&mut command).expect("QEMU starts");
    let line = accept_line(listener, Duration::from_secs(30)).expect("the serial line");
    let ready = qemu
        .wait_for("portnet-slip-echo ready", Duration::from_secs(60))
        .expect("the firmware listens");
    eprintln!("firmware: {ready}");

    // The micro:bit's socket buffers are 1 KiB: a shorter bulk keeps its run
    // in CI's budget.
    let mut lengths = LENGTHS;
    if machine == "microbit" {
        lengths[2] = 64 * 1024;
    }
    let end = SlipEnd::new(line, Config::ipv4_static(Cidr::new(HOST, 24), None))
        .expect("the host end of the line");
    let stack = end.stack();
    let mut end = end;
    let server = SocketAddr::from((FIRMWARE, 7));
    let took = TokioCurrentThread.block_on(async {
        let clients = pin!(async {
            let mut took = Vec::new();
            for len in lengths {
                let data: Vec<u8> = (0..len).map(pattern).collect();
                let started = Instant::now();
                portnet_echo::exchange(stack, server, &data)
                    .await
                    .map_err(|e| format!("echo of {len} bytes: {e:?}"))?;
                took.push(started.elapsed());
            }
            Ok::<_, String>(took)
        });
        match select(clients, pin!(end.run())).await {
            Either::Left(result) => result,
            Either::Right(stopped) => Err(stopped),
        }
    });
    let took = match took {
        Ok(took) => took,
        // What the firmware said is the first clue (a `board::fail` line).
        Err(e) => match qemu.finish(Duration::from_secs(10)) {
            Ok((lines, status)) => {
                panic!("the echoes failed: {e}; the firmware ({status}) printed {lines:?}")
            }
            Err(finish) => panic!("the echoes failed: {e}; QEMU: {finish}"),
        },
    };
    let (lines, status) = qemu.finish(Duration::from_secs(30)).expect("QEMU ends");
    assert!(
        status.success(),
        "the firmware exited with {status}; it printed {lines:?}"
    );
    let stats = end.link_stats();
    assert_eq!(
        (stats.rx_bad_escape, stats.rx_overlong, stats.tx_dropped),
        (0, 0, 0),
        "{stats:?}"
    );
    let bulk = took[2].as_secs_f64();
    eprintln!(
        "qemu slip ({machine}): echoes of 13 B in {:.1} ms, 4097 B in {:.1} ms, {} KiB in {bulk:.2} s \
         ({:.0} KiB/s each way); {} frames in, {} out",
        took[0].as_secs_f64() * 1e3,
        took[1].as_secs_f64() * 1e3,
        lengths[2] / 1024,
        (lengths[2] / 1024) as f64 / bulk,
        stats.rx_frames,
        stats.tx_frames,
    );
}
