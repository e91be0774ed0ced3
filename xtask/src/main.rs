//! portnet's developer tasks.
//!
//! ```text
//! cargo xtask setup            install what the tests need (Rust targets, toolchains, apt packages)
//! cargo xtask fmt              format the whole workspace (`cargo fmt --all`)
//! cargo xtask ci [--only STEP]… [--skip STEP]…
//!                              every check CI runs, in order, with a timing summary
//! cargo xtask conformance      the main job: the suite on every hosted backend, table + JSON
//! cargo xtask demo             the IoT sensor node in QEMU with mosquitto, every stage checked
//! cargo xtask kits             the kits' firmware (boards/kits): lint, build, flash/RAM figures
//! cargo xtask bench [--quick] [--json FILE]
//! cargo xtask asan             portnet-lwip's tests under AddressSanitizer (C included)
//! ```
//!
//! `ci` holds the steps; what a step checks per crate (no_std feature sets, MSRV,
//! minimal and impossible feature sets) comes from each crate's own manifest
//! (`matrix`), so a new crate cannot slip past them.
// A std-only developer tool: the `core`/`alloc` lints guard the no_std crates.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod asan;
mod bench;
mod ci;
mod demo;
mod docsrs;
mod features;
mod fuzz;
mod kits;
mod matrix;
mod publish;
mod qemu;
mod setup;
mod soak;

use std::process::{Command, ExitCode};

use ci::{ci, conformance, step_names, steps};
use setup::setup;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match Task::parse(&args) {
        Ok(Task::Help) => {
            print!("{}", usage());
            Ok(())
        }
        Ok(Task::Setup) => setup(),
        Ok(Task::Fmt) => run("cargo", &["fmt", "--all"], &[]),
        Ok(Task::Ci { only, skip }) => ci(&only, &skip),
        Ok(Task::Conformance) => setup().and_then(|()| conformance()),
        Ok(Task::Bench { quick, json }) => bench::bench(quick, json.as_deref()),
        Ok(Task::QemuEcho) => qemu::echo(),
        Ok(Task::QemuMqtt) => qemu::mqtt(),
        Ok(Task::QemuSlip) => qemu::slip(),
        Ok(Task::QemuSlipLwip) => qemu::slip_lwip(),
        Ok(Task::QemuMicrobitSlip) => qemu::microbit_slip(),
        Ok(Task::QemuMicrobitSensor) => qemu::microbit_sensor(),
        Ok(Task::QemuSensorLwip) => qemu::sensor_lwip(),
        Ok(Task::QemuMicrobitConformance { quick }) => qemu::microbit_conformance(quick),
        Ok(Task::QemuSize) => qemu::size(),
        Ok(Task::QemuConformanceLwip) => setup().and_then(|()| ci::conformance_lwip()),
        Ok(Task::Demo) => setup().and_then(|()| demo::demo()),
        Ok(Task::Kits) => setup().and_then(|()| kits::kits()),
        Ok(Task::Soak { args }) => soak::soak(&args),
        Ok(Task::Chaos { minutes }) => soak::chaos(minutes),
        Ok(Task::Asan) => setup().and_then(|()| asan::asan(true)),
        Err(message) => {
            eprint!("xtask: {message}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

const USAGE: &str = "usage: cargo xtask <task>

tasks:
  setup                       install Rust targets, the MSRV and nightly toolchains, apt packages
  fmt                         format the whole workspace (cargo fmt --all)
  ci [--only S]… [--skip S]…  run every check CI runs (setup first), in order, stopping at the
                              first failure; --only/--skip take a step name and may repeat
  conformance                 the conformance suite on every backend (firmware in QEMU included),
                              table + target/conformance.json
  bench [--quick] [--json F]  benchmarks, each against its peer in the same run
  qemu echo                   the echo firmware in QEMU, checked from the host (1 MiB)
  qemu mqtt                   the MQTT client in firmware against mosquitto on the host
  qemu slip                   the echo firmware over SLIP on UART1, a hosted stack at the host end
  qemu slip-lwip              the same with lwIP as the firmware's stack on the line
  qemu microbit-slip          the same on the micro:bit (Cortex-M0, 16 KiB RAM), with its flash and RAM
  qemu microbit-sensor        the sensor node on the micro:bit, MQTT over SLIP to mosquitto on the host
  qemu sensor-lwip            the sensor node on mps2-an385 on lwIP (feature `lwip`) to mosquitto on the host
  qemu microbit-conformance [--quick]
                              the suite in the micro:bit's firmware (row `microbit (qemu)`), every
                              part; --quick: its first part only (CI)
  qemu size                   minimal builds (TCP-only, UDP-only) run in QEMU, with their sizes
  qemu conformance            the same as `conformance`
  qemu conformance-lwip       the suite in the lwIP firmware alone (row `mps2-an385 lwip (qemu)`)
  demo                        the IoT sensor node in QEMU with mosquitto: telemetry, commands,
                              a broker restart, a reboot; checks every stage, stops everything
  kits                        the kits' firmware (boards/kits: Pico W, W5500-EVB-Pico, NUCLEO-F429ZI):
                              fmt, clippy, release build per target, flash/RAM of each; not run
  soak [ARGS]                 the fault soak over the in-memory link; ARGS go to the soak binary:
                              --seeds N (100), --first S (0), --minutes M, --bytes B, --cycles C,
                              --messages K (200 MQTT QoS 1/2 messages to mosquitto), --cuts X (3),
                              --stack smoltcp|lwip (without it: smoltcp, then lwIP)
  chaos [--minutes M]         the MQTT broker-chaos test (mosquitto killed with SIGKILL and restarted
                              during QoS 1/2 traffic) for M minutes (default 10), with its counts
  asan                        portnet-lwip's tests (simulation, conformance) under AddressSanitizer,
                              lwIP's C included (nightly)
  help                        this text

With CI=true: colourless cargo output, and a failed apt install is an error, not a warning.

";

fn usage() -> String {
    format!("{USAGE}ci steps, in order: {}\n", step_names())
}

#[derive(Debug, PartialEq, Eq)]
enum Task {
    Help,
    Setup,
    Fmt,
    Ci {
        only: Vec<String>,
        skip: Vec<String>,
    },
    Conformance,
    Bench {
        quick: bool,
        json: Option<String>,
    },
    Soak {
        args: Vec<String>,
    },
    QemuEcho,
    QemuMqtt,
    QemuSlip,
    QemuSlipLwip,
    QemuMicrobitSlip,
    QemuMicrobitSensor,
    QemuSensorLwip,
    QemuMicrobitConformance {
        quick: bool,
    },
    QemuSize,
    QemuConformanceLwip,
    Demo,
    Kits,
    Chaos {
        minutes: u64,
    },
    Asan,
}

impl Task {
    fn parse(args: &[String]) -> Result<Self, String> {
        let Some((task, rest)) = args.split_first() else {
            return Ok(Self::Help);
        };
        let mut rest = rest.iter();
        match task.as_str() {
            "help" | "-h" | "--help" => Ok(Self::Help),
            "setup" => no_more(rest).map(|()| Self::Setup),
            "fmt" => no_more(rest).map(|()| Self::Fmt),
            "conformance" => no_more(rest).map(|()| Self::Conformance),
            "demo" => no_more(rest).map(|()| Self::Demo),
            "kits" => no_more(rest).map(|()| Self::Kits),
            "asan" => no_more(rest).map(|()| Self::Asan),
            "ci" => {
                let (mut only, mut skip) = (Vec::new(), Vec::new());
                while let Some(arg) = rest.next() {
                    let list = match arg.as_str() {
                        "--only" => &mut only,
                        "--skip" => &mut skip,
                        other => return Err(format!("unknown argument to ci: {other}")),
                    };
                    let step = rest
                        .next()
                        .ok_or_else(|| format!("{arg} needs a step name"))?;
                    if !steps().iter().any(|s| s.name == step.as_str()) {
                        return Err(format!("no ci step named {step}; steps: {}", step_names()));
                    }
                    list.push(step.clone());
                }
                Ok(Self::Ci { only, skip })
            }
            "bench" => {
                let (mut quick, mut json) = (false, None);
                while let Some(arg) = rest.next() {
                    match arg.as_str() {
                        "--quick" => quick = true,
                        "--json" => json = Some(rest.next().ok_or("--json needs a file")?.clone()),
                        other => return Err(format!("unknown argument to bench: {other}")),
                    }
                }
                Ok(Self::Bench { quick, json })
            }
            "qemu" => match rest.next().map(String::as_str) {
                Some("echo") => no_more(rest).map(|()| Self::QemuEcho),
                Some("mqtt") => no_more(rest).map(|()| Self::QemuMqtt),
                Some("slip") => no_more(rest).map(|()| Self::QemuSlip),
                Some("slip-lwip") => no_more(rest).map(|()| Self::QemuSlipLwip),
                Some("microbit-slip") => no_more(rest).map(|()| Self::QemuMicrobitSlip),
                Some("microbit-sensor") => no_more(rest).map(|()| Self::QemuMicrobitSensor),
                Some("sensor-lwip") => no_more(rest).map(|()| Self::QemuSensorLwip),
                Some("microbit-conformance") => match rest.next().map(String::as_str) {
                    None => Ok(Self::QemuMicrobitConformance { quick: false }),
                    Some("--quick") => {
                        no_more(rest).map(|()| Self::QemuMicrobitConformance { quick: true })
                    }
                    Some(other) => Err(format!(
                        "unknown argument to qemu microbit-conformance: {other}"
                    )),
                },
                Some("size") => no_more(rest).map(|()| Self::QemuSize),
                Some("conformance") => no_more(rest).map(|()| Self::Conformance),
                Some("conformance-lwip") => no_more(rest).map(|()| Self::QemuConformanceLwip),
                other => Err(format!(
                    "qemu needs `echo`, `mqtt`, `slip`, `slip-lwip`, `microbit-slip`, `microbit-sensor`, `sensor-lwip`, `microbit-conformance`, `size`, `conformance` or `conformance-lwip`, not {other:?}"
                )),
            },
            "soak" => Ok(Self::Soak {
                args: rest.cloned().collect(),
            }),
            "chaos" => {
                let mut minutes = 10;
                while let Some(arg) = rest.next() {
                    match arg.as_str() {
                        "--minutes" => {
                            let m = rest.next().ok_or("--minutes needs a number")?;
                            minutes = m
                                .parse()
                                .map_err(|_| format!("--minutes needs a number, got {m}"))?;
                        }
                        other => return Err(format!("unknown argument to chaos: {other}")),
                    }
                }
                Ok(Self::Chaos { minutes })
            }
            other => Err(format!("unknown task: {other}")),
        }
    }
}

fn no_more(mut rest: std::slice::Iter<'_, String>) -> Result<(), String> {
    match rest.next() {
        None => Ok(()),
        Some(arg) => Err(format!("unexpected argument: {arg}")),
    }
}

/// Cargo's target directory: `CARGO_TARGET_DIR` if set, else `target`.
fn target_dir() -> String {
    std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Runs a command, echoing it; an error names the command and its status.
fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    let line = command_line(program, args, envs);
    eprintln!("$ {line}");
    let mut command = Command::new(program);
    command.args(args);
    for (key, value) in envs {
        command.env(key, value);
    }
    if in_ci() {
        command.env("CARGO_TERM_COLOR", "never");
    }
    let status = command
        .status()
        .map_err(|e| format!("cannot run `{program}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{line}` failed: {status}"))
    }
}

/// A command as one would type it in a shell, for messages.
fn command_line(program: &str, args: &[&str], envs: &[(&str, &str)]) -> String {
    let quote = |word: &str| {
        if word.is_empty() || word.contains(|c: char| c.is_whitespace() || c == '\'') {
            format!("'{}'", word.replace('\'', r"'\''"))
        } else {
            word.to_owned()
        }
    };
    envs.iter()
        .map(|(key, value)| format!("{key}={}", quote(value)))
        .chain(core::iter::once(program.to_owned()))
        .chain(args.iter().map(|arg| quote(arg)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command's standard output, or `None` if it cannot run or fails.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn parse(args: &[&str]) -> Result<Task, String> {
        Task::parse(&args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_tasks() {
        assert_eq!(parse(&[]), Ok(Task::Help));
        assert_eq!(parse(&["help"]), Ok(Task::Help));
        assert_eq!(parse(&["--help"]), Ok(Task::Help));
        assert_eq!(parse(&["-h"]), Ok(Task::Help));
        assert_eq!(parse(&["setup"]), Ok(Task::Setup));
        assert_eq!(parse(&["fmt"]), Ok(Task::Fmt));
        assert_eq!(parse(&["conformance"]), Ok(Task::Conformance));
        assert_eq!(parse(&["demo"]), Ok(Task::Demo));
        assert_eq!(parse(&["kits"]), Ok(Task::Kits));
        assert_eq!(parse(&["asan"]), Ok(Task::Asan));
        assert!(parse(&["asan", "extra"]).is_err());
        assert_eq!(
            parse(&["qemu", "conformance-lwip"]),
            Ok(Task::QemuConformanceLwip)
        );
        assert_eq!(parse(&["qemu", "sensor-lwip"]), Ok(Task::QemuSensorLwip));
        assert_eq!(
            parse(&["soak", "--seeds", "3"]),
            Ok(Task::Soak {
                args: vec!["--seeds".into(), "3".into()]
            })
        );
        assert_eq!(
            parse(&["bench"]),
            Ok(Task::Bench {
                quick: false,
                json: None
            })
        );
        assert_eq!(
            parse(&["ci"]),
            Ok(Task::Ci {
                only: vec![],
                skip: vec![]
            })
        );
        assert_eq!(
            parse(&["ci", "--only", "fmt", "--skip", "miri"]),
            Ok(Task::Ci {
                only: vec!["fmt".into()],
                skip: vec!["miri".into()]
            })
        );
        assert_eq!(
            parse(&["bench", "--quick", "--json", "b.json"]),
            Ok(Task::Bench {
                quick: true,
                json: Some("b.json".into())
            })
        );
    }

    #[test]
    fn ci_flags_repeat_and_keep_their_order() {
        assert_eq!(
            parse(&["ci", "--skip", "miri", "--skip", "fuzz", "--only", "doc"]),
            Ok(Task::Ci {
                only: vec!["doc".into()],
                skip: vec!["miri".into(), "fuzz".into()]
            })
        );
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["Setup"]).is_err());
        assert!(parse(&["setup", "extra"]).is_err());
        assert!(parse(&["fmt", "--check"]).is_err());
        assert!(parse(&["help", "ci"]).is_ok(), "help ignores what follows");
        assert!(parse(&["ci", "--only"]).is_err());
        assert!(parse(&["ci", "--skip"]).is_err());
        assert!(parse(&["ci", "--only", "no-such-step"]).is_err());
        assert!(parse(&["ci", "fmt"]).is_err());
        assert!(parse(&["ci", "--quick"]).is_err());
        assert!(parse(&["bench", "--json"]).is_err());
        assert!(parse(&["bench", "--slow"]).is_err());
    }

    #[test]
    fn quotes_command_lines() {
        assert_eq!(
            command_line(
                "cargo",
                &["doc", "--no-deps"],
                &[("RUSTDOCFLAGS", "-D warnings")]
            ),
            "RUSTDOCFLAGS='-D warnings' cargo doc --no-deps"
        );
        assert_eq!(
            command_line("echo", &["", "it's"], &[]),
            r"echo '' 'it'\''s'"
        );
    }
}
