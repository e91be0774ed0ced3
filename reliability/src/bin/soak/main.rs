//! The fault soak: for each seed, a patterned TCP transfer, a run of
//! connect/close cycles and MQTT QoS 1/2 traffic to a real mosquitto (see
//! [`mqtt`]) between two smoltcp stacks over the in-memory link with that seed's
//! loss, duplication, reordering, corruption and delay, every byte and message
//! checked. Prints one line per seed and the totals; exits with status 1 on the
//! first failure, naming its seed and the command that replays it.
//!
//! ```text
//! cargo run --release -p portnet-reliability --bin soak -- [--seeds N] [--first S] [--minutes M] [--bytes B] [--cycles C] [--messages K] [--cuts X]
//! ```
//!
//! `--messages 0` leaves MQTT out (and needs no mosquitto); `--cuts X` (default
//! 3) is how many relayed MQTT connections are cut per seed.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // a host-only program

#[path = "../../../../mqtt/tests/common/mod.rs"]
mod broker;
mod mqtt;

use core::time::Duration;
use std::process::ExitCode;
use std::time::Instant;

use portnet::Clock;
use portnet_links::{Faults, LinkStats};
use portnet_smoltcp::sim::{Pair, connect_close_cycles, transfer};

#[derive(Debug)]
struct Args {
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
                    "usage: soak [--seeds N] [--first S] [--minutes M] [--bytes B] [--cycles C] [--messages K] [--cuts X]"
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

/// One seed: the transfer, then the cycles, each on a fresh pair of stacks.
fn soak_seed(
    seed: u64,
    args: &Args,
    broker: Option<core::net::SocketAddr>,
    totals: &mut Totals,
) -> Result<String, String> {
    let pair = Pair::new(Faults::LOSSY, seed);
    let moved = match pair.run(transfer(&pair, args.bytes)) {
        Ok(Ok(moved)) if moved == args.bytes => moved,
        Ok(Ok(moved)) => return Err(format!("transfer: {moved} of {} bytes", args.bytes)),
        Ok(Err(e)) => return Err(format!("transfer: {e}; link {:?}", pair.link.stats())),
        Err(stall) => return Err(format!("transfer: {stall}; link {:?}", pair.link.stats())),
    };
    let transfer_stats = pair.link.stats();
    let transfer_time = Duration::from_millis(pair.clock.now().as_millis());
    totals.add(&transfer_stats);

    let pair = Pair::new(Faults::LOSSY, seed);
    match pair.run(connect_close_cycles(&pair, args.cycles)) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(format!("cycles: {e}; link {:?}", pair.link.stats())),
        Err(stall) => return Err(format!("cycles: {stall}; link {:?}", pair.link.stats())),
    }
    let cycle_stats = pair.link.stats();
    totals.add(&cycle_stats);
    let cycles_time = Duration::from_millis(pair.clock.now().as_millis());

    let mut mqtt_line = String::new();
    let mut mqtt_stats = LinkStats::default();
    let mut mqtt_time = Duration::ZERO;
    let mut resumed_stats = LinkStats::default();
    if let Some(broker) = broker {
        let pair = Pair::new(Faults::LOSSY, seed);
        let counts = mqtt::run_seed(&pair, broker, seed, args.messages, args.cuts)
            .map_err(|e| format!("{e}; link {:?}", pair.link.stats()))?;
        mqtt_stats = pair.link.stats();
        totals.add(&mqtt_stats);
        mqtt_time = Duration::from_millis(pair.clock.now().as_millis());
        // The resumed-session QoS 1 case, on a fresh pair of its own.
        let pair = Pair::new(Faults::LOSSY, seed);
        let resumed = mqtt::run_resumed(&pair, broker, seed)
            .map_err(|e| format!("{e}; link {:?}", pair.link.stats()))?;
        resumed_stats = pair.link.stats();
        totals.add(&resumed_stats);
        mqtt_time += Duration::from_millis(pair.clock.now().as_millis());
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
        match soak_seed(seed, &args, broker_addr, &mut totals) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("seed {seed} FAILED: {e}");
                eprintln!(
                    "  replay: cargo run --release -p portnet-reliability --bin soak -- --first {seed} --seeds 1 --bytes {} --cycles {} --messages {} --cuts {}",
                    args.bytes, args.cycles, args.messages, args.cuts
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
        "soak: {} seeds, {} bytes intact, {} connect/close cycles, mqtt {} QoS 1 + {} QoS 2 messages acknowledged, {} received, 0 lost, {} QoS 1 duplicates, 0 QoS 2 duplicates, {} connections cut, {} reconnects, {} frames, {} faults injected, 0 failures; {:.0} s virtual in {:.1} s",
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
