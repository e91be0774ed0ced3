//! `cargo xtask ci`: every check CI runs, in order, with a timing summary.

use std::time::{Duration, Instant};

use crate::matrix::{self, Msrv};
use crate::setup::{MSRV, THUMB_TARGETS, setup};
use crate::{
    asan, bench, demo, docsrs, features, fuzz, kits, publish, qemu, run, soak, target_dir,
};

/// One step of `cargo xtask ci`.
pub(crate) struct Step {
    pub(crate) name: &'static str,
    action: Action,
}

/// What a step does.
enum Action {
    /// Commands run in order; the first failure fails the step.
    Commands(Vec<Cmd>),
    /// A function of this program, for steps that are more than a command line.
    Call(fn() -> Result<(), String>),
}

struct Cmd {
    program: &'static str,
    args: Vec<String>,
    envs: Vec<(&'static str, &'static str)>,
}

impl Cmd {
    fn run(&self) -> Result<(), String> {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        run(self.program, &args, &self.envs)
    }
}

fn cargo(args: &[&str]) -> Cmd {
    Cmd {
        program: "cargo",
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        envs: Vec::new(),
    }
}

/// `cargo build` of `krate` for a thumb target without default features, plus `features`.
fn thumb_build(krate: &str, target: &str, features: &str) -> Cmd {
    let mut args = vec![
        "build",
        "-q",
        "-p",
        krate,
        "--target",
        target,
        "--no-default-features",
    ];
    if !features.is_empty() {
        args.extend(["--features", features]);
    }
    cargo(&args)
}

/// Step `no-std`: each crate's `no-std` feature sets (from its manifest) for the thumb
/// targets, then the firmware builds.
fn no_std() -> Result<(), String> {
    let mut no_std = Vec::new();
    for (krate, m) in matrix::matrices()? {
        for target in THUMB_TARGETS {
            for features in &m.no_std {
                no_std.push(thumb_build(&krate, target, features));
            }
        }
    }
    // The executor's firmware example, the figure its README quotes.
    for target in THUMB_TARGETS {
        no_std.push(cargo(&[
            "build",
            "-q",
            "--release",
            "-p",
            "portnet-executor",
            "--example",
            "block_on",
            "--target",
            target,
        ]));
    }
    // The board crate is Cortex-M3 only (thumbv7m): its lib and firmware
    // examples, linted for the target they run on.
    no_std.push(cargo(&[
        "clippy",
        "-q",
        "-p",
        "portnet-board-mps2-an385",
        "--examples",
        "--release",
        "--target",
        "thumbv7m-none-eabi",
        "--",
        "-D",
        "warnings",
    ]));
    // The sensor node's lwIP variant (the board's feature `lwip`).
    let lwip_sensor = "clippy -q -p portnet-board-mps2-an385 --example iot_sensor \
        --features lwip --release --target thumbv7m-none-eabi -- -D warnings";
    no_std.push(cargo(&lwip_sensor.split_whitespace().collect::<Vec<_>>()));
    // The micro:bit board is Cortex-M0 only (thumbv6m): its lib and firmware
    // examples, linted for the target they run on (its drivers' host tests run
    // in the `test` step).
    no_std.push(cargo(&[
        "clippy",
        "-q",
        "-p",
        "portnet-board-microbit",
        "--examples",
        "--release",
        "--target",
        "thumbv6m-none-eabi",
        "--",
        "-D",
        "warnings",
    ]));
    // The IoT sensor node's no_std library, linted for both thumb targets
    // (its entry points are the boards' examples above and the kits; the
    // hosted binaries are linted by the `clippy` step).
    for target in THUMB_TARGETS {
        no_std.push(cargo(&[
            "clippy",
            "-q",
            "-p",
            "portnet-iot-sensor",
            "--lib",
            "--release",
            "--target",
            target,
            "--",
            "-D",
            "warnings",
        ]));
    }
    no_std.iter().try_for_each(Cmd::run)
}

/// Step `msrv`: the crates whose manifest says `msrv`, with the MSRV toolchain.
fn msrv() -> Result<(), String> {
    let mut msrv_args = vec![format!("+{MSRV}"), "check".into(), "-q".into()];
    let mut msrv = Vec::new();
    for (krate, m) in matrix::matrices()?
        .into_iter()
        .filter(|(_, m)| m.msrv != Msrv::No)
    {
        msrv_args.extend(["-p".into(), krate.clone()]);
        if m.msrv == Msrv::AllFeatures {
            msrv.push(cargo(&[
                &format!("+{MSRV}"),
                "check",
                "-q",
                "-p",
                &krate,
                "--all-features",
            ]));
        }
    }
    msrv.insert(
        0,
        Cmd {
            program: "cargo",
            args: msrv_args,
            envs: Vec::new(),
        },
    );
    msrv.iter().try_for_each(Cmd::run)
}

/// Every step of `cargo xtask ci`, in order. To add a check, add a step here.
pub(crate) fn steps() -> Vec<Step> {
    vec![
        Step {
            name: "fmt",
            action: Action::Commands(vec![cargo(&["fmt", "--all", "--check"])]),
        },
        Step {
            name: "clippy",
            action: Action::Commands(vec![cargo(&[
                "clippy",
                "-q",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])]),
        },
        Step {
            name: "clippy-all-features",
            action: Action::Commands(vec![cargo(&[
                "clippy",
                "-q",
                "--workspace",
                "--all-targets",
                "--all-features",
                "--",
                "-D",
                "warnings",
            ])]),
        },
        Step {
            name: "test",
            action: Action::Commands(vec![
                cargo(&["test", "--workspace"]),
                // A one-version MQTT client refuses the other version (the
                // test builds only without the default `v3` + `v5`).
                cargo(&[
                    "test",
                    "-q",
                    "-p",
                    "portnet-mqtt",
                    "--no-default-features",
                    "--features",
                    "v5",
                    "--test",
                    "one_version",
                ]),
                cargo(&[
                    "test",
                    "-q",
                    "-p",
                    "portnet-mqtt",
                    "--no-default-features",
                    "--features",
                    "v3",
                    "--test",
                    "one_version",
                ]),
            ]),
        },
        Step {
            // lwIP's C and the FFI layer under memcheck: the simulation's tests
            // against smoltcp, each byte of their transfers checked.
            name: "lwip-valgrind",
            action: Action::Commands(vec![Cmd {
                envs: vec![(
                    "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER",
                    "valgrind --error-exitcode=1 -q",
                )],
                ..cargo(&["test", "-q", "-p", "portnet-lwip", "--test", "sim"])
            }]),
        },
        Step {
            // The same tests under AddressSanitizer, lwIP's C instrumented too:
            // what memcheck cannot bound (overruns of static arrays, the stack).
            // `cargo xtask asan` adds the conformance suite.
            name: "lwip-asan",
            action: Action::Call(|| asan::asan(false)),
        },
        Step {
            name: "guide",
            // The snippets are doc tests of `portnet-guide` (step `test`); this
            // builds the book itself.
            action: Action::Commands(vec![Cmd {
                program: "mdbook",
                ..cargo(&["build", "docs/guide"])
            }]),
        },
        Step {
            name: "no-std",
            action: Action::Call(no_std),
        },
        Step {
            // The kits' firmware (boards/kits, a workspace of its own).
            name: "kits",
            action: Action::Call(kits::kits),
        },
        Step {
            // Minimal feature sets build; impossible ones fail with their message.
            name: "features",
            action: Action::Call(features::check),
        },
        Step {
            name: "doc",
            action: Action::Commands(vec![Cmd {
                envs: vec![("RUSTDOCFLAGS", "-D warnings")],
                ..cargo(&["doc", "-q", "--workspace", "--no-deps", "--all-features"])
            }]),
        },
        Step {
            name: "docs-rs",
            action: Action::Call(docsrs::check),
        },
        Step {
            name: "package",
            action: Action::Call(publish::package),
        },
        Step {
            name: "msrv",
            action: Action::Call(msrv),
        },
        Step {
            name: "miri",
            action: Action::Commands(vec![
                Cmd {
                    envs: vec![("MIRIFLAGS", "-Zmiri-strict-provenance")],
                    ..cargo(&[
                        "+nightly",
                        "miri",
                        "test",
                        "-q",
                        "-p",
                        "portnet-conformance",
                        "--no-default-features",
                        "--features",
                        "std",
                        "--lib",
                    ])
                },
                Cmd {
                    // The executor's unsafe parts: task storage, wakers, heap tasks.
                    envs: vec![("MIRIFLAGS", "-Zmiri-strict-provenance")],
                    ..cargo(&["+nightly", "miri", "test", "-q", "-p", "portnet-executor"])
                },
            ]),
        },
        Step {
            name: "conformance",
            action: Action::Call(conformance),
        },
        Step {
            name: "qemu",
            action: Action::Call(|| {
                qemu::echo()
                    .and_then(|()| qemu::mqtt())
                    .and_then(|()| qemu::slip())
                    .and_then(|()| qemu::slip_lwip())
                    .and_then(|()| qemu::microbit_slip())
                    .and_then(|()| qemu::microbit_sensor())
                    .and_then(|()| qemu::sensor_lwip())
                    .and_then(|()| qemu::size())
            }),
        },
        Step {
            name: "demo",
            action: Action::Call(demo::demo),
        },
        Step {
            name: "soak",
            // A short fixed set of seeds on each stack (smoltcp, then lwIP);
            // `cargo xtask soak` runs the full one.
            action: Action::Call(|| {
                soak::soak(&[
                    "--seeds",
                    "20",
                    "--bytes",
                    "2097152",
                    "--cycles",
                    "20",
                    "--messages",
                    "200",
                ])
            }),
        },
        Step {
            name: "fuzz",
            action: Action::Call(|| fuzz::fuzz(fuzz::FUZZ_SECONDS)),
        },
        Step {
            name: "bench",
            action: Action::Call(|| bench::bench(true, None)),
        },
    ]
}

pub(crate) fn step_names() -> String {
    steps()
        .iter()
        .map(|s| s.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// What happened to a step in one `ci` run.
enum Outcome {
    Passed(Duration),
    Failed(Duration),
    /// Left out by `--only`/`--skip`.
    Skipped,
    /// After a failed step.
    NotRun,
}

/// Whether `--only`/`--skip` select the step `name`.
pub(crate) fn selected(name: &str, only: &[String], skip: &[String]) -> bool {
    (only.is_empty() || only.iter().any(|o| o == name)) && !skip.iter().any(|s| s == name)
}

/// Runs `setup`, then the selected steps in order, stopping at the first failure, and prints
/// a table of steps, outcomes and wall times.
pub(crate) fn ci(only: &[String], skip: &[String]) -> Result<(), String> {
    let started = Instant::now();
    let mut outcomes: Vec<(&str, Outcome)> = Vec::new();
    let mut failure = None;
    match setup() {
        Ok(()) => outcomes.push(("setup", Outcome::Passed(started.elapsed()))),
        Err(e) => {
            outcomes.push(("setup", Outcome::Failed(started.elapsed())));
            failure = Some(format!("ci step `setup` failed: {e}"));
        }
    }
    for step in steps() {
        if !selected(step.name, only, skip) {
            outcomes.push((step.name, Outcome::Skipped));
            continue;
        }
        if failure.is_some() {
            outcomes.push((step.name, Outcome::NotRun));
            continue;
        }
        eprintln!("\n== ci step `{}`", step.name);
        let start = Instant::now();
        let result = match &step.action {
            Action::Commands(commands) => commands.iter().try_for_each(Cmd::run),
            Action::Call(function) => function(),
        };
        let took = start.elapsed();
        if let Some(free) = free_disk() {
            eprintln!("== disk: {free} free after step `{}`", step.name);
        }
        match result {
            Ok(()) => {
                eprintln!("== ci step `{}` passed in {:.1} s", step.name, secs(took));
                outcomes.push((step.name, Outcome::Passed(took)));
            }
            Err(e) => {
                eprintln!(
                    "== ci step `{}` FAILED after {:.1} s",
                    step.name,
                    secs(took)
                );
                outcomes.push((step.name, Outcome::Failed(took)));
                failure = Some(format!(
                    "ci step `{name}` failed: {e}\n\
                     (rerun only this step with `cargo xtask ci --only {name}`)",
                    name = step.name
                ));
            }
        }
    }
    eprintln!("\n== ci summary");
    eprintln!("{:20} {:8} {:>9}", "step", "result", "time");
    for (name, outcome) in &outcomes {
        match outcome {
            Outcome::Passed(took) => eprintln!("{name:20} {:8} {:>7.1} s", "ok", secs(*took)),
            Outcome::Failed(took) => eprintln!("{name:20} {:8} {:>7.1} s", "FAILED", secs(*took)),
            Outcome::Skipped => eprintln!("{name:20} skipped"),
            Outcome::NotRun => eprintln!("{name:20} not run"),
        }
    }
    eprintln!("{:20} {:8} {:>7.1} s", "total", "", secs(started.elapsed()));
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Free space on the file system of the working directory, as `df -h` prints it. A CI
/// machine's disk is finite and the target directory is the largest thing a run makes; the
/// figure after each step shows which step to slim when a run ends with "No space left on
/// device". `None` where `df` is missing.
fn free_disk() -> Option<String> {
    let out = std::process::Command::new("df")
        .args(["-Ph", "."])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    // POSIX output: a header line, then "filesystem size used available capacity mount".
    text.lines()
        .nth(1)?
        .split_whitespace()
        .nth(3)
        .map(str::to_owned)
}

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// The conformance runner on every backend, the board rows included: builds
/// the conformance firmware first and names it to the runner.
/// The lwIP variant of the firmware (`examples/conformance_lwip.rs`, row
/// `mps2-an385 lwip (qemu)`) is one more QEMU run after the first, never beside
/// it: about 40 s on 2 cores, so CI runs it whole.
pub(crate) fn conformance() -> Result<(), String> {
    let firmware = qemu::build("conformance")?;
    let lwip = qemu::build("conformance_lwip")?;
    let report = format!("{}/conformance.json", target_dir());
    run_runner(
        &["--json", &report],
        &[
            ("PORTNET_FIRMWARE", firmware.as_str()),
            ("PORTNET_FIRMWARE_LWIP", lwip.as_str()),
        ],
    )
}

/// The lwIP firmware's row alone (`cargo xtask qemu conformance-lwip`).
pub(crate) fn conformance_lwip() -> Result<(), String> {
    let lwip = qemu::build("conformance_lwip")?;
    run_runner(
        &["--backend", "mps2-an385 lwip (qemu)"],
        &[("PORTNET_FIRMWARE_LWIP", lwip.as_str())],
    )
}

/// The conformance runner, built in release, with `args`; `envs` name the
/// firmware of the board rows.
fn run_runner(args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    let mut all = vec![
        "run",
        "-q",
        "--release",
        "-p",
        "portnet-conformance-runner",
        "--",
    ];
    all.extend_from_slice(args);
    run("cargo", &all, envs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::parse;

    #[test]
    fn every_step_name_is_unique_and_accepted() {
        let names: Vec<&str> = steps().iter().map(|s| s.name).collect();
        for (i, name) in names.iter().enumerate() {
            assert!(!names[..i].contains(name), "duplicate step {name}");
            assert!(parse(&["ci", "--only", name]).is_ok());
        }
    }

    #[test]
    fn only_and_skip_select_steps() {
        let none: &[String] = &[];
        let fmt = ["fmt".to_owned()];
        assert!(selected("test", none, none));
        assert!(selected("fmt", &fmt, none));
        assert!(!selected("test", &fmt, none));
        assert!(!selected("fmt", none, &fmt));
        assert!(!selected("fmt", &fmt, &fmt), "skip wins over only");
    }
}
