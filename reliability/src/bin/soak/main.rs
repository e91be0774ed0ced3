//! The fault soak: for each seed, a patterned TCP transfer, a run of
//! connect/close cycles and MQTT QoS 1/2 traffic to a real mosquitto (see
//! [`mqtt`]) between two stacks over the in-memory link with that seed's
//! loss, duplication, reordering, corruption and delay, every byte and message
//! checked. Prints one line per seed and the totals; exits with status 1 on the
//! first failure, naming its seed and the command that replays it.
//!
//! ```text
//! cargo run --release -p portnet-reliability --bin soak -- [--stack smoltcp|lwip] [--seeds N] [--first S] [--minutes M] [--bytes B] [--cycles C] [--messages K] [--cuts X]
//! ```
//!
//! `--stack` is the stack under test, stack `a`: the sender of the transfer,
//! the connecting side of the cycles and the MQTT clients' stack. The peer,
//! stack `b` (listener, relay), is smoltcp in both cases. `smoltcp` (the
//! default) is two smoltcp stacks; `lwip` is `portnet-lwip`'s simulation.
//!
//! `--messages 0` leaves MQTT out (and needs no mosquitto); `--cuts X` (default
//! 3) is how many relayed MQTT connections are cut per seed.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // a host-only program

#[path = "../../../../mqtt/tests/common/mod.rs"]
mod broker;
mod mqtt;

use core::future::Future;
use core::time::Duration;
use std::process::ExitCode;
use std::time::Instant;

use portnet::{Clock, TcpConnect};
use portnet_links::{Faults, LinkStats, Stall, VirtualClock};
use portnet_smoltcp::sim::{SimStack, connect_close_cycles_from, transfer_from};

/// A soak's two stacks on one faulty in-memory link, in virtual time: `a`,
/// the stack under test, and `b`, the smoltcp peer.
pub(crate) trait Rig {
    type A: TcpConnect;
    /// The stack under test at 10.0.0.1.
    fn a(&self) -> &Self::A;
    /// The smoltcp peer at 10.0.0.2.
    fn b(&self) -> &'static SimStack;
    fn clock(&self) -> &VirtualClock;
    fn stats(&self) -> LinkStats;
    /// Runs `future` with both stacks and the link.
    fn run<F: Future>(&self, future: F) -> Result<F::Output, Stall>;
    /// What the stack under test says about itself after a phase whose
    /// connections are all dropped.
    fn check_idle(&self) -> Result<(), String> {
        Ok(())
    }
}

/// The parts of [`Rig`] both pairs have under the same names.
macro_rules! rig_common {
    () => {
        fn b(&self) -> &'static SimStack {
            self.b
        }
        fn clock(&self) -> &VirtualClock {
            &self.clock
        }
        fn stats(&self) -> LinkStats {
            self.link.stats()
        }
        fn run<F: Future>(&self, future: F) -> Result<F::Output, Stall> {
            Self::run(self, future)
        }
    };
}

impl Rig for portnet_smoltcp::sim::Pair {
    type A = SimStack;
    fn a(&self) -> &SimStack {
        self.a
    }
    rig_common!();
}

impl Rig for portnet_lwip::sim::Pair {
    type A = portnet_lwip::sim::SimStack;
    fn a(&self) -> &Self::A {
        &self.a
    }
    /// No event of lwIP's callbacks went unrecorded, and no socket is left
    /// once the connections closing in the background (the last FIN on a
    /// faulty link) have finished, within [`SETTLE`] of virtual time.
    fn check_idle(&self) -> Result<(), String> {
        let clock = self.clock();
        let deadline = clock.now() + SETTLE;
        self.run(async {
            while self.a.sockets_in_use() != 0 && clock.now() < deadline {
                clock.sleep(Duration::from_millis(100)).await;
            }
        })
        .map_err(|stall| format!("lwIP: settling after the phase: {stall:?}"))?;
        let (unrecorded, _) = self.a.diagnostics();
        let open = self.a.sockets_in_use();
        if unrecorded != 0 || open != 0 {
            return Err(format!(
                "lwIP: {unrecorded} callback events not recorded, {open} sockets left open"
            ));
        }
        Ok(())
    }
    rig_common!();
}

/// How long, in virtual time, a phase's closing connections may take to
/// finish before the sockets still open count as left behind: longer than
/// lwIP's retransmissions of a lost FIN on the soak's links.
const SETTLE: Duration = Duration::from_secs(120);

/// The stack under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stack {
    Smoltcp,
    Lwip,
}

impl Stack {
    fn name(self) -> &'static str {
        match self {
            Self::Smoltcp => "smoltcp",
            Self::Lwip => "lwip",
        }
    }
}

#[derive(Debug)]
struct Args {
    stack: Stack,
    first: u64,
    seeds: u64,
    minutes: Option<u64>,
    bytes: usize,
    cycles: u32,
    messages: u64,
    cuts: u32,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        stack: Stack::Smoltcp,
        first: 0,
        seeds: 100,
        minutes: None,
        bytes: 4 << 20,
        cycles: 20,
        messages: 200,
        cuts: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let value = it.next().ok_or_else(|| format!("{name} needs a value"))?;
            value
                .parse()
                .map_err(|_| format!("{name}: {value:?} is not a number"))
        };
        match arg.as_str() {
            "--stack" => {
                args.stack = match it.next().as_deref() {
                    Some("smoltcp") => Stack::Smoltcp,
                    Some("lwip") => Stack::Lwip,
                    Some(other) => {
                        return Err(format!("--stack is `smoltcp` or `lwip`, not {other:?}"));
                    }
                    None => return Err("--stack needs `smoltcp` or `lwip`".into()),
                };
            }
            "--first" => args.first = number("--first")?,
            "--seeds" => args.seeds = number("--seeds")?,
            "--minutes" => args.minutes = Some(number("--minutes")?),
            "--bytes" => {
                args.bytes = usize::try_from(number("--bytes")?).map_err(|e| e.to_string())?;
            }
            "--cycles" => {
                args.cycles = u32::try_from(number("--cycles")?).map_err(|e| e.to_string())?;
            }
            "--messages" => args.messages = number("--messages")?,
            "--cuts" => {
                args.cuts = u32::try_from(number("--cuts")?).map_err(|e| e.to_string())?;
            }
            "-h" | "--help" => {
                return Err(
                    "usage: soak [--stack smoltcp|lwip] [--seeds N] [--first S] [--minutes M] [--bytes B] [--cycles C] [--messages K] [--cuts X]"
                        .into(),
                );
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok(args)
}

#[derive(Debug, Default)]
struct Totals {
    seeds: u64,
    bytes: u64,
    cycles: u64,
    frames: u64,
    faults: u64,
    virtual_time: Duration,
    mqtt: mqtt::Counts,
    resumed: mqtt::Resumed,
}

impl Totals {
    fn add(&mut self, stats: &LinkStats) {
        self.frames += stats.sent;
        self.faults += stats.faults();
    }
}

/// One seed: the transfer, then the cycles, then MQTT, each on a fresh pair
/// of stacks made by `new`.
fn soak_seed<R: Rig>(
    new: fn(Faults, u64) -> R,
    seed: u64,
    args: &Args,
    broker: Option<core::net::SocketAddr>,
    totals: &mut Totals,
) -> Result<String, String> {
    let pair = new(Faults::LOSSY, seed);
    let moved = match pair.run(transfer_from(pair.a(), pair.b(), args.bytes)) {
        Ok(Ok(moved)) if moved == args.bytes => moved,
        Ok(Ok(moved)) => return Err(format!("transfer: {moved} of {} bytes", args.bytes)),
        Ok(Err(e)) => return Err(format!("transfer: {e}; link {:?}", pair.stats())),
        Err(stall) => return Err(format!("transfer: {stall}; link {:?}", pair.stats())),
    };
    pair.check_idle()
        .map_err(|e| format!("after the transfer: {e}"))?;
    let transfer_stats = pair.stats();
    let transfer_time = Duration::from_millis(pair.clock().now().as_millis());
    totals.add(&transfer_stats);
    // lwIP is one per process: the last pair goes before the next is made.
    drop(pair);

    let pair = new(Faults::LOSSY, seed);
    match pair.run(connect_close_cycles_from(
        pair.a(),
        pair.b(),
        pair.clock(),
        args.cycles,
    )) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("cycles: {e}; link {:?}", pair.stats())),
        Err(stall) => return Err(format!("cycles: {stall}; link {:?}", pair.stats())),
    }
    pair.check_idle()
        .map_err(|e| format!("after the cycles: {e}"))?;
    let cycle_stats = pair.stats();
    totals.add(&cycle_stats);
    let cycles_time = Duration::from_millis(pair.clock().now().as_millis());
    drop(pair);

    let mut mqtt_line = String::new();
    let mut mqtt_stats = LinkStats::default();
    let mut mqtt_time = Duration::ZERO;
    let mut resumed_stats = LinkStats::default();
    if let Some(broker) = broker {
        let pair = new(Faults::LOSSY, seed);
        let counts = mqtt::run_seed(&pair, broker, seed, args.messages, args.cuts)
            .map_err(|e| format!("{e}; link {:?}", pair.stats()))?;
        pair.check_idle().map_err(|e| format!("after MQTT: {e}"))?;
        mqtt_stats = pair.stats();
        totals.add(&mqtt_stats);
        mqtt_time = Duration::from_millis(pair.clock().now().as_millis());
        drop(pair);
        // The resumed-session QoS 1 case, on a fresh pair of its own.
        let pair = new(Faults::LOSSY, seed);
        let resumed = mqtt::run_resumed(&pair, broker, seed)
            .map_err(|e| format!("{e}; link {:?}", pair.stats()))?;
        pair.check_idle()
            .map_err(|e| format!("after the resumed session: {e}"))?;
        resumed_stats = pair.stats();
        totals.add(&resumed_stats);
        mqtt_time += Duration::from_millis(pair.clock().now().as_millis());
        totals.resumed.add(&resumed);
        totals.mqtt.add(&counts);
        mqtt_line = format!(
            "; mqtt: {} QoS 1 + {} QoS 2 acknowledged, {} received, 0 lost, {} QoS 1 duplicates, 0 QoS 2 duplicates, {} connections cut, {} reconnects",
            counts.sent_qos1,
            counts.sent_qos2,
            counts.received,
            counts.duplicated_qos1,
            counts.cuts,
            counts.reconnects
        );
        mqtt_line += &format!(
            "; resumed session: {} QoS 1 held across a cut, {} resent with DUP, {} received, 0 avoidable duplicates, {} unavoidable",
            resumed.held, resumed.resent, resumed.received, resumed.unavoidable
        );
    }

    totals.seeds += 1;
    totals.bytes += moved as u64;
    totals.cycles += u64::from(args.cycles);
    totals.virtual_time += transfer_time + cycles_time + mqtt_time;
    let all = [transfer_stats, cycle_stats, mqtt_stats, resumed_stats];
    if all.iter().all(|s| s.faults() == 0) {
        return Err(format!("no fault injected: {all:?}"));
    }
    let sum = |f: fn(&LinkStats) -> u64| all.iter().map(f).sum::<u64>();
    Ok(format!(
        "seed {seed}: {moved} bytes intact, {} cycles{mqtt_line}; {} frames, {} lost, {} duplicated, {} corrupted, {} reordered; {:.1} s virtual",
        args.cycles,
        sum(|s| s.sent),
        sum(|s| s.lost),
        sum(|s| s.duplicated),
        sum(|s| s.corrupted),
        sum(|s| s.reordered),
        (transfer_time + cycles_time + mqtt_time).as_secs_f64(),
    ))
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let started = Instant::now();
    let budget = args.minutes.map(|m| Duration::from_secs(m * 60));
    let mut totals = Totals::default();
    // A real broker on loopback for the MQTT part, stopped by PID when dropped.
    // TCP_NODELAY: without it Nagle's algorithm and delayed ACKs on loopback
    // hold small MQTT packets for tens of milliseconds (a 5x slower soak).
    let mosquitto =
        (args.messages > 0).then(|| broker::Mosquitto::start_with("set_tcp_nodelay true\n"));
    let broker_addr = mosquitto.as_ref().map(broker::Mosquitto::addr);
    if let Some(m) = &mosquitto {
        println!("mosquitto pid {} on {}", m.pid(), m.addr());
    }
    for seed in args.first..args.first + args.seeds {
        if budget.is_some_and(|b| started.elapsed() >= b) {
            println!("time budget spent after {} seeds", totals.seeds);
            break;
        }
        let outcome = match args.stack {
            Stack::Smoltcp => soak_seed(
                portnet_smoltcp::sim::Pair::new,
                seed,
                &args,
                broker_addr,
                &mut totals,
            ),
            Stack::Lwip => soak_seed(
                portnet_lwip::sim::Pair::new,
                seed,
                &args,
                broker_addr,
                &mut totals,
            ),
        };
        match outcome {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("seed {seed} FAILED: {e}");
                eprintln!(
                    "  replay: cargo run --release -p portnet-reliability --bin soak -- --stack {} --first {seed} --seeds 1 --bytes {} --cycles {} --messages {} --cuts {}",
                    args.stack.name(),
                    args.bytes,
                    args.cycles,
                    args.messages,
                    args.cuts
                );
                return ExitCode::FAILURE;
            }
        }
    }
    let r = &totals.resumed;
    if r.held > 0 {
        println!(
            "resumed sessions: {} QoS 1 messages held across a cut, {} resent with DUP, {} received, 0 avoidable duplicates, {} unavoidable ({} connections cut by the link)",
            r.held, r.resent, r.received, r.unavoidable, r.reconnects
        );
    }
    let m = &totals.mqtt;
    println!(
        "soak on {}: {} seeds, {} bytes intact, {} connect/close cycles, mqtt {} QoS 1 + {} QoS 2 messages acknowledged, {} received, 0 lost, {} QoS 1 duplicates, 0 QoS 2 duplicates, {} connections cut, {} reconnects, {} frames, {} faults injected, 0 failures; {:.0} s virtual in {:.1} s",
        args.stack.name(),
        totals.seeds,
        totals.bytes,
        totals.cycles,
        m.sent_qos1,
        m.sent_qos2,
        m.received,
        m.duplicated_qos1,
        m.cuts,
        m.reconnects,
        totals.frames,
        totals.faults,
        totals.virtual_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
