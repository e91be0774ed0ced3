//! portnet's developer tasks.
//!
//! ```text
//! cargo xtask setup            install what the tests need (Rust targets, toolchains, apt packages)
//! cargo xtask fmt              format the whole workspace (`cargo fmt --all`)
//! cargo xtask ci [--only STEP]… [--skip STEP]…
//!                              every check CI runs, in order, with a timing summary
//! cargo xtask conformance      the main job: the suite on every hosted backend, table + JSON
//! cargo xtask demo             the IoT sensor node in QEMU with mosquitto, every stage checked
//! cargo xtask bench [--quick] [--json FILE]
//! ```
// A std-only developer tool: the `core`/`alloc` lints guard the no_std crates.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

mod demo;
mod qemu;

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Rust targets every `no_std` crate is built for.
const THUMB_TARGETS: [&str; 2] = ["thumbv6m-none-eabi", "thumbv7m-none-eabi"];

/// The Cortex-M4F target of the benchmarks' code-size skeletons (`bench/size`).
const SIZE_TARGET: &str = "thumbv7em-none-eabihf";

/// Crates that must build `no_std` (no default features) for the thumb targets.
const NO_STD_CRATES: [&str; 10] = [
    "portnet-tls",
    "portnet-core-net",
    "portnet-executor",
    "portnet",
    "portnet-conformance",
    "portnet-echo",
    "portnet-mqtt",
    "portnet-embedded",
    "portnet-slip",
    "portnet-lan9118",
];

/// Features a `no_std` crate is also built with for the thumb targets (each crate
/// is built once without default features and, if listed here, once more with these).
const NO_STD_FEATURES: [(&str, &str); 4] = [
    (
        "portnet-embedded",
        "embedded-io,embedded-io-async,embedded-nal,embedded-nal-async",
    ),
    ("portnet-tls", "embedded-tls"),
    ("portnet-conformance", "remote"),
    ("portnet-slip", "portnet"),
];

/// `no_std` crates that need at least one feature, built for the thumb targets
/// with each of these feature sets: the smoltcp backend as an IPv4-only TCP
/// client, as UDP only, as a TCP client on a serial (medium-IP) link only, and
/// complete.
const NO_STD_FEATURE_SETS: [(&str, &str); 4] = [
    ("portnet-smoltcp", "tcp"),
    ("portnet-smoltcp", "udp"),
    ("portnet-smoltcp", "tcp,medium-ip"),
    ("portnet-smoltcp", "tcp,udp,dns,dhcpv4,proto-ipv6,medium-ip"),
];

/// The mdBook release that builds the guide (`docs/guide`).
const MDBOOK_VERSION: &str = "0.5.4";

/// The MSRV declared in the workspace, checked with its own toolchain.
const MSRV: &str = "1.91";

/// Library crates checked with the MSRV toolchain.
const MSRV_CRATES: [&str; 18] = [
    "portnet-tls",
    "portnet-async-std",
    "portnet-links",
    "portnet-smoltcp",
    "portnet-bridge",
    "portnet-executor",
    "portnet-os",
    "portnet-smol",
    "portnet-core-net",
    "portnet",
    "portnet-tokio",
    "portnet-conformance",
    "portnet-echo",
    "portnet-iot-sensor",
    "portnet-mqtt",
    "portnet-embedded",
    "portnet-slip",
    "portnet-lan9118",
];

/// Debian packages the tests need: the broker for MQTT tests, QEMU for firmware,
/// valgrind for the full benchmark's instruction counts.
const APT_PACKAGES: [(&str, &str); 3] = [
    ("mosquitto", "mosquitto"),
    ("qemu-system-arm", "qemu-system-arm"),
    ("valgrind", "valgrind"),
];

/// Nightly components for Miri.
const NIGHTLY_COMPONENTS: [&str; 2] = ["miri", "rust-src"];

/// Fuzz targets CI runs for a bounded time: (fuzz project directory, target).
/// Each starts from its checked-in corpus, copied so the run leaves the tree clean.
const FUZZ_TARGETS: [(&str, &str); 4] = [
    ("core-net/fuzz", "parse_endpoint"),
    ("mqtt/fuzz", "decode"),
    ("backends/smoltcp/fuzz", "frames"),
    ("drivers/slip/fuzz", "slip_decode"),
];

/// Seconds each fuzz target runs in `cargo xtask ci`.
const FUZZ_SECONDS: u32 = 30;

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
        Ok(Task::Bench { quick, json }) => bench(quick, json.as_deref()),
        Ok(Task::QemuEcho) => qemu::echo(),
        Ok(Task::QemuMqtt) => qemu::mqtt(),
        Ok(Task::QemuSlip) => qemu::slip(),
        Ok(Task::QemuSize) => qemu::size(),
        Ok(Task::Demo) => setup().and_then(|()| demo::demo()),
        Ok(Task::Soak { args }) => {
            let mut command = vec![
                "run",
                "-q",
                "--release",
                "-p",
                "portnet-reliability",
                "--bin",
                "soak",
                "--",
            ];
            command.extend(args.iter().map(String::as_str));
            run("cargo", &command, &[])
        }
        Ok(Task::Chaos { minutes }) => chaos(minutes),
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
  qemu size                   minimal builds (TCP-only, UDP-only) run in QEMU, with their sizes
  qemu conformance            the same as `conformance`
  demo                        the IoT sensor node in QEMU with mosquitto: telemetry, commands,
                              a broker restart, a reboot; checks every stage, stops everything
  soak [ARGS]                 the fault soak over the in-memory link; ARGS go to the soak binary:
                              --seeds N (100), --first S (0), --minutes M, --bytes B, --cycles C,
                              --messages K (200 MQTT QoS 1/2 messages to mosquitto), --cuts X (3)
  chaos [--minutes M]         the MQTT broker-chaos test (mosquitto killed with SIGKILL and restarted
                              during QoS 1/2 traffic) for M minutes (default 10), with its counts
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
    QemuSize,
    Demo,
    Chaos {
        minutes: u64,
    },
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
                Some("size") => no_more(rest).map(|()| Self::QemuSize),
                Some("conformance") => no_more(rest).map(|()| Self::Conformance),
                other => Err(format!(
                    "qemu needs `echo`, `mqtt`, `slip`, `size` or `conformance`, not {other:?}"
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

/// The broker-chaos test for `minutes` (outside CI; see docs/reliability.md).
fn chaos(minutes: u64) -> Result<(), String> {
    let seconds = (minutes * 60).to_string();
    run(
        "cargo",
        &[
            "test",
            "--release",
            "-p",
            "portnet-mqtt",
            "--test",
            "chaos",
            "--",
            "--ignored",
            "--nocapture",
        ],
        &[("PORTNET_CHAOS_SECONDS", &seconds)],
    )
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

/// Installs what the checks need, skipping what is present; says what it found and did.
fn setup() -> Result<(), String> {
    eprintln!("== setup");
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    let targets: Vec<&str> = THUMB_TARGETS.iter().copied().chain([SIZE_TARGET]).collect();
    let missing: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        eprintln!("present: targets {}", targets.join(", "));
    } else {
        let mut args = vec!["target", "add"];
        args.extend(&missing);
        run("rustup", &args, &[])?;
    }
    let components = output("rustup", &["component", "list", "--installed"]).unwrap_or_default();
    for component in ["clippy", "rustfmt"] {
        if has_component(&components, component) {
            eprintln!("present: component {component}");
        } else {
            run("rustup", &["component", "add", component], &[])?;
        }
    }
    let toolchains = output("rustup", &["toolchain", "list"]).unwrap_or_default();
    for toolchain in [MSRV, "nightly"] {
        if has_toolchain(&toolchains, toolchain) {
            eprintln!("present: toolchain {toolchain}");
        } else {
            run(
                "rustup",
                &["toolchain", "install", toolchain, "--profile", "minimal"],
                &[],
            )?;
        }
    }
    let nightly = output(
        "rustup",
        &["component", "list", "--installed", "--toolchain", "nightly"],
    )
    .unwrap_or_default();
    for component in NIGHTLY_COMPONENTS {
        if has_component(&nightly, component) {
            eprintln!("present: nightly component {component}");
        } else {
            run(
                "rustup",
                &["component", "add", component, "--toolchain", "nightly"],
                &[],
            )?;
        }
    }
    if output("cargo", &["fuzz", "--version"]).is_some() {
        eprintln!("present: cargo-fuzz");
    } else {
        run("cargo", &["install", "cargo-fuzz", "--locked"], &[])?;
    }
    if output("mdbook", &["--version"]).is_some() {
        eprintln!("present: mdbook");
    } else {
        // The guide's builder; its search index and file watcher are not needed.
        run(
            "cargo",
            &[
                "install",
                "mdbook",
                "--locked",
                "--version",
                MDBOOK_VERSION,
                "--no-default-features",
            ],
            &[],
        )?;
    }
    apt_install()
}

/// Whether `rustup component list --installed` lists `component` (`clippy-x86_64-…`).
fn has_component(list: &str, component: &str) -> bool {
    list.lines().any(|line| {
        line.strip_prefix(component)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    })
}

/// Whether `rustup toolchain list` lists `toolchain` (`1.91-x86_64-…`, `nightly-… (default)`).
fn has_toolchain(list: &str, toolchain: &str) -> bool {
    list.lines().any(|line| {
        line.split_whitespace().next().is_some_and(|name| {
            name.strip_prefix(toolchain)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
    })
}

/// Whether an executable named `binary` is on `PATH`.
fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(binary).is_file()))
}

/// Whether dpkg knows `package` as installed.
fn dpkg_installed(package: &str) -> bool {
    output("dpkg-query", &["-W", "-f=${Status}", package])
        .is_some_and(|status| status.trim() == "install ok installed")
}

/// Installs the missing [`APT_PACKAGES`]: `apt-get update` once, then one `apt-get install`.
/// Outside CI a failure (no apt, no root and no sudo, no network) is a warning; with `CI=true`
/// it is an error.
fn apt_install() -> Result<(), String> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(package, binary)| !on_path(binary) && !dpkg_installed(package))
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        eprintln!(
            "present: apt packages {}",
            APT_PACKAGES.map(|(p, _)| p).join(", ")
        );
        return Ok(());
    }
    eprintln!("missing apt packages: {}", missing.join(" "));
    let root = output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0");
    let attempt = if !on_path("apt-get") {
        Err("apt-get is not available on this machine".to_owned())
    } else if !root && !on_path("sudo") {
        Err("not root and sudo is not available".to_owned())
    } else {
        let (program, prefix): (&str, &[&str]) = if root {
            ("apt-get", &[])
        } else {
            ("sudo", &["apt-get"])
        };
        let mut update = prefix.to_vec();
        update.extend(["update", "-q"]);
        run(program, &update, &[]).and_then(|()| {
            let mut install = prefix.to_vec();
            install.extend(["install", "-y", "-q", "--no-install-recommends"]);
            install.extend(&missing);
            run(program, &install, &[("DEBIAN_FRONTEND", "noninteractive")])
        })
    };
    match attempt {
        Ok(()) => Ok(()),
        Err(e) if !in_ci() => {
            eprintln!(
                "warning: could not install {} ({e}); install them by hand, or the tests \
                 that need them will fail",
                missing.join(" ")
            );
            Ok(())
        }
        Err(e) => Err(format!("could not install {}: {e}", missing.join(" "))),
    }
}

/// One step of `cargo xtask ci`.
struct Step {
    name: &'static str,
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

/// Every step of `cargo xtask ci`, in order. To add a check, add a step here.
fn steps() -> Vec<Step> {
    let thumb_build = |krate: &str, target: &str, features: Option<&str>| {
        let mut args = vec![
            "build",
            "-q",
            "-p",
            krate,
            "--target",
            target,
            "--no-default-features",
        ];
        args.extend(
            features
                .iter()
                .flat_map(|features| ["--features", *features]),
        );
        cargo(&args)
    };
    let mut no_std = Vec::new();
    for krate in NO_STD_CRATES {
        for target in THUMB_TARGETS {
            no_std.push(thumb_build(krate, target, None));
            for (_, features) in NO_STD_FEATURES.iter().filter(|(name, _)| *name == krate) {
                no_std.push(thumb_build(krate, target, Some(features)));
            }
        }
    }
    for (krate, features) in NO_STD_FEATURE_SETS {
        for target in THUMB_TARGETS {
            no_std.push(thumb_build(krate, target, Some(features)));
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
        "portnet-bare-metal",
        "--examples",
        "--release",
        "--target",
        "thumbv7m-none-eabi",
        "--",
        "-D",
        "warnings",
    ]));
    // The IoT sensor node: its no_std library and its firmware binary, linted
    // for the board (the hosted binaries are linted by the `clippy` step).
    no_std.push(cargo(&[
        "clippy",
        "-q",
        "-p",
        "portnet-iot-sensor",
        "--lib",
        "--bin",
        "iot-sensor-firmware",
        "--release",
        "--target",
        "thumbv7m-none-eabi",
        "--",
        "-D",
        "warnings",
    ]));
    let mut msrv_args = vec![format!("+{MSRV}"), "check".into(), "-q".into()];
    for krate in MSRV_CRATES {
        msrv_args.extend(["-p".into(), krate.into()]);
    }
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
            action: Action::Commands(vec![cargo(&["test", "--workspace"])]),
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
            action: Action::Commands(no_std),
        },
        Step {
            name: "doc",
            action: Action::Commands(vec![Cmd {
                envs: vec![("RUSTDOCFLAGS", "-D warnings")],
                ..cargo(&["doc", "-q", "--workspace", "--no-deps", "--all-features"])
            }]),
        },
        Step {
            name: "msrv",
            action: Action::Commands(vec![
                Cmd {
                    program: "cargo",
                    args: msrv_args,
                    envs: Vec::new(),
                },
                // Its adapters are all behind features: check them all.
                cargo(&[
                    &format!("+{MSRV}"),
                    "check",
                    "-q",
                    "-p",
                    "portnet-embedded",
                    "--all-features",
                ]),
                // TLS lives behind features too.
                cargo(&[
                    &format!("+{MSRV}"),
                    "check",
                    "-q",
                    "-p",
                    "portnet-tls",
                    "--all-features",
                ]),
            ]),
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
                    .and_then(|()| qemu::size())
            }),
        },
        Step {
            name: "demo",
            action: Action::Call(demo::demo),
        },
        Step {
            name: "soak",
            // A short fixed set of seeds; `cargo xtask soak` runs the full one.
            action: Action::Commands(vec![cargo(&[
                "run",
                "-q",
                "--release",
                "-p",
                "portnet-reliability",
                "--bin",
                "soak",
                "--",
                "--seeds",
                "20",
                "--bytes",
                "2097152",
                "--cycles",
                "20",
                "--messages",
                "200",
            ])]),
        },
        Step {
            name: "fuzz",
            action: Action::Call(|| fuzz(FUZZ_SECONDS)),
        },
        Step {
            name: "bench",
            action: Action::Call(|| bench(true, None)),
        },
    ]
}

fn step_names() -> String {
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
fn selected(name: &str, only: &[String], skip: &[String]) -> bool {
    (only.is_empty() || only.iter().any(|o| o == name)) && !skip.iter().any(|s| s == name)
}

/// Runs `setup`, then the selected steps in order, stopping at the first failure, and prints
/// a table of steps, outcomes and wall times.
fn ci(only: &[String], skip: &[String]) -> Result<(), String> {
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

fn secs(duration: Duration) -> f64 {
    duration.as_secs_f64()
}

/// Runs every fuzz target for `seconds`, from a copy of its checked-in corpus.
fn fuzz(seconds: u32) -> Result<(), String> {
    for (dir, target) in FUZZ_TARGETS {
        let corpus = std::env::temp_dir().join(format!("portnet-fuzz-{target}"));
        let _ = std::fs::remove_dir_all(&corpus);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
        let seeds = std::path::Path::new(dir).join("corpus").join(target);
        for entry in std::fs::read_dir(&seeds)
            .map_err(|e| format!("cannot read {}: {e}", seeds.display()))?
        {
            let path = entry.map_err(|e| e.to_string())?.path();
            if let Some(name) = path.file_name() {
                std::fs::copy(&path, corpus.join(name)).map_err(|e| e.to_string())?;
            }
        }
        let corpus = corpus.to_string_lossy().into_owned();
        let time = format!("-max_total_time={seconds}");
        let manifest = format!("{dir}/Cargo.toml");
        run(
            "cargo",
            &[
                "+nightly",
                "fuzz",
                "run",
                "--fuzz-dir",
                dir,
                target,
                &corpus,
                "--",
                &time,
            ],
            &[],
        )
        .map_err(|e| format!("{e} (manifest {manifest})"))?;
    }
    Ok(())
}

/// The conformance runner on every backend, the bare-metal row included: builds
/// the conformance firmware first and names it to the runner.
fn conformance() -> Result<(), String> {
    let firmware = qemu::build("conformance")?;
    let report = format!("{}/conformance.json", target_dir());
    run(
        "cargo",
        &[
            "run",
            "-q",
            "--release",
            "-p",
            "portnet-conformance",
            "--",
            "--json",
            &report,
        ],
        &[("PORTNET_FIRMWARE", firmware.as_str())],
    )
}

fn bench(quick: bool, json: Option<&str>) -> Result<(), String> {
    let mut args = vec!["run", "--release", "-p", "portnet-bench", "--"];
    if quick {
        args.push("--quick");
    }
    if let Some(file) = json {
        args.extend(["--json", file]);
    }
    run("cargo", &args, &[])?;
    bench_bare_metal(if quick { 2 } else { 6 }, json)
}

/// Bare metal: the 1 MiB echo in QEMU (mps2-an385, LAN9118), portnet's smoltcp
/// backend (`examples/echo.rs`) vs embassy-net (`examples/echo_embassy.rs`) on
/// the same board and driver, taking turns; prints the row and appends it to
/// the JSON file of `portnet-bench`.
fn bench_bare_metal(repeats: usize, json: Option<&str>) -> Result<(), String> {
    let ours_elf = qemu::build("echo")?;
    let peer_elf = qemu::build("echo_embassy")?;
    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for r in 0..repeats {
        if r % 2 == 0 {
            ours.push(qemu::echo_rate(&ours_elf)?);
            peer.push(qemu::echo_rate(&peer_elf)?);
        } else {
            peer.push(qemu::echo_rate(&peer_elf)?);
            ours.push(qemu::echo_rate(&ours_elf)?);
        }
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (o, p) = (median(ours), median(peer));
    let name = "bare metal: 1 MiB echo in QEMU mps2-an385: portnet-smoltcp vs embassy-net";
    println!(
        "{name:66} {o:>12.2} {p:>12.2} {:>14} {:>7.3}",
        "MiB/s",
        o / p
    );
    if let Some(file) = json {
        let text = std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?;
        let body = text
            .trim_end()
            .strip_suffix(']')
            .ok_or_else(|| format!("{file}: not a JSON array"))?
            .trim_end();
        let row = format!(
            "{{\"name\":\"{name}\",\"ours\":{o:.3},\"peer\":{p:.3},\"unit\":\"MiB/s\",\"ratio\":{:.4}}}",
            o / p
        );
        let sep = if body.ends_with('[') { "\n  " } else { ",\n  " };
        std::fs::write(file, format!("{body}{sep}{row}\n]\n"))
            .map_err(|e| format!("{file}: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Task, String> {
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

    #[test]
    fn reads_rustup_listings() {
        let components = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\n";
        assert!(has_component(components, "clippy"));
        assert!(has_component(components, "cargo"));
        assert!(!has_component(components, "rustfmt"));
        assert!(!has_component("clippy-preview-x\n", "clippy-pre"));
        let toolchains = "stable-x86_64-unknown-linux-gnu (default)\n\
                          1.91-x86_64-unknown-linux-gnu\n\
                          nightly-x86_64-unknown-linux-gnu\n";
        assert!(has_toolchain(toolchains, "1.91"));
        assert!(has_toolchain(toolchains, "nightly"));
        assert!(!has_toolchain(toolchains, "1.9"));
        assert!(!has_toolchain("1.91.1-x86_64-unknown-linux-gnu\n", "1.91"));
        assert!(!has_toolchain("no installed toolchains\n", "nightly"));
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
