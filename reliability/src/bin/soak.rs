//! The fault soak: for each seed, a patterned TCP transfer and a run of
//! connect/close cycles between two smoltcp stacks over the in-memory link with
//! that seed's loss, duplication, reordering, corruption and delay, every byte
//! checked. Prints one line per seed and the totals; exits with status 1 on the
//! first failure, naming its seed and the command that replays it.
//!
//! ```text
//! cargo run --release -p portnet-reliability --bin soak -- [--seeds N] [--first S] [--minutes M] [--bytes B] [--cycles C]
//! ```

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
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        first: 0,
        seeds: 100,
        minutes: None,
        bytes: 4 << 20,
        cycles: 20,
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
            "-h" | "--help" => {
                return Err(
                    "usage: soak [--seeds N] [--first S] [--minutes M] [--bytes B] [--cycles C]"
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
}

impl Totals {
    fn add(&mut self, stats: &LinkStats) {
        self.frames += stats.sent;
        self.faults += stats.faults();
    }
}

/// One seed: the transfer, then the cycles, each on a fresh pair of stacks.
fn soak_seed(seed: u64, args: &Args, totals: &mut Totals) -> Result<String, String> {
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

    totals.seeds += 1;
    totals.bytes += moved as u64;
    totals.cycles += u64::from(args.cycles);
    totals.virtual_time += transfer_time + cycles_time;
    if transfer_stats.faults() == 0 {
        return Err(format!("no fault injected: {transfer_stats:?}"));
    }
    Ok(format!(
        "seed {seed}: {moved} bytes intact, {} cycles; {} frames, {} lost, {} duplicated, {} corrupted, {} reordered; {:.1} s virtual",
        args.cycles,
        transfer_stats.sent + cycle_stats.sent,
        transfer_stats.lost + cycle_stats.lost,
        transfer_stats.duplicated + cycle_stats.duplicated,
        transfer_stats.corrupted + cycle_stats.corrupted,
        transfer_stats.reordered + cycle_stats.reordered,
        (transfer_time + cycles_time).as_secs_f64(),
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
    for seed in args.first..args.first + args.seeds {
        if budget.is_some_and(|b| started.elapsed() >= b) {
            println!("time budget spent after {} seeds", totals.seeds);
            break;
        }
        match soak_seed(seed, &args, &mut totals) {
            Ok(line) => println!("{line}"),
            Err(e) => {
                eprintln!("seed {seed} FAILED: {e}");
                eprintln!(
                    "  replay: cargo run --release -p portnet-reliability --bin soak -- --first {seed} --seeds 1 --bytes {} --cycles {}",
                    args.bytes, args.cycles
                );
                return ExitCode::FAILURE;
            }
        }
    }
    println!(
        "soak: {} seeds, {} bytes intact, {} connect/close cycles, {} frames, {} faults injected, 0 failures; {:.0} s virtual in {:.1} s",
        totals.seeds,
        totals.bytes,
        totals.cycles,
        totals.frames,
        totals.faults,
        totals.virtual_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    ExitCode::SUCCESS
}
