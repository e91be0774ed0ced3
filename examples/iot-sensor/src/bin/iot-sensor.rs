//! The sensor node, hosted: the same application code as the firmware, on tokio,
//! with the simulated sensor on a simulated I²C bus and LEDs in memory.
//!
//! ```text
//! iot-sensor --broker 127.0.0.1:1883 [--id host-1] [--interval-ms 2000] [--seed 1]
//! ```
//!
//! A `reboot` command restarts the application loop (a fresh MQTT client on the
//! same persistent session, LEDs dark), as a reset restarts the firmware.
#![allow(clippy::std_instead_of_core)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use portnet_iot_sensor::Console;
use portnet_iot_sensor::app::{self, Config, Exit, NodeStorage};
use portnet_iot_sensor::leds::MemoryLeds;
use portnet_iot_sensor::sensor::{DEFAULT_ADDRESS, Sht3x};
use portnet_iot_sensor::sim::{ClockDelay, SimulatedSht3x};
use portnet_tokio::Tokio;

/// The console: standard output, flushed at every line.
struct Stdout;

impl Console for Stdout {
    fn line(&mut self, line: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{line}");
        let _ = out.flush();
    }
}

struct Args {
    broker: SocketAddr,
    id: String,
    interval: Duration,
    seed: u32,
}

fn parse_args() -> Result<Args, String> {
    let mut broker = None;
    let mut id = "host-1".to_owned();
    let mut interval = Duration::from_secs(2);
    let mut seed = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--broker" => {
                let v = value()?;
                broker = Some(v.parse().map_err(|e| format!("--broker {v}: {e}"))?);
            }
            "--id" => id = value()?,
            "--interval-ms" => {
                let v = value()?;
                let ms: u64 = v.parse().map_err(|e| format!("--interval-ms {v}: {e}"))?;
                interval = Duration::from_millis(ms.max(100));
            }
            "--seed" => {
                let v = value()?;
                seed = v.parse().map_err(|e| format!("--seed {v}: {e}"))?;
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        broker: broker.ok_or("--broker HOST:PORT is required")?,
        id,
        interval,
        seed,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!(
                "iot-sensor: {e}\nusage: iot-sensor --broker HOST:PORT [--id ID] [--interval-ms MS] [--seed N]"
            );
            return ExitCode::from(2);
        }
    };
    let stack = Tokio::new();
    let mut config = Config::new(&args.id, args.broker);
    config.interval = args.interval;
    config.seed = args.seed;
    let mut storage = Box::new(NodeStorage::new());
    let mut boots: u32 = 0;
    loop {
        boots += 1;
        Stdout.line(&format!("iot-sensor: hosted node starting (boot {boots})"));
        // A restart starts from fresh memory, as a reset does.
        *storage = NodeStorage::new();
        let bus = SimulatedSht3x::new(stack, args.seed);
        let mut sensor = Sht3x::new(bus, ClockDelay(stack), DEFAULT_ADDRESS);
        let mut leds = MemoryLeds { count: 2, mask: 0 };
        match app::run(
            stack,
            stack,
            &mut sensor,
            &mut leds,
            &mut Stdout,
            &mut storage,
            &config,
        )
        .await
        {
            Exit::Reboot => continue,
            Exit::BadConfig => return ExitCode::FAILURE,
        }
    }
}
