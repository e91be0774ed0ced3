//! portnet's developer tasks.
//!
//! ```text
//! cargo xtask setup            install what the tests need (Rust targets, toolchains, apt packages)
//! cargo xtask ci [--only STEP]… [--skip STEP]…
//!                              every check CI runs, in order, with a timing summary
//! cargo xtask conformance      the main job: the suite on every hosted backend, table + JSON
//! cargo xtask bench [--quick] [--json FILE]
//! ```
// A std-only developer tool: the `core`/`alloc` lints guard the no_std crates.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

/// Rust targets every `no_std` crate is built for.
const THUMB_TARGETS: [&str; 2] = ["thumbv6m-none-eabi", "thumbv7m-none-eabi"];

/// Crates that must build `no_std` (no default features) for the thumb targets.
const NO_STD_CRATES: [&str; 5] = [
    "portnet-core-net",
    "portnet",
    "portnet-conformance",
    "portnet-echo",
    "portnet-mqtt",
];

/// The MSRV declared in the workspace, checked with its own toolchain.
const MSRV: &str = "1.91";

/// Library crates checked with the MSRV toolchain.
const MSRV_CRATES: [&str; 10] = [
    "portnet-async-std",
    "portnet-bridge",
    "portnet-os",
    "portnet-smol",
    "portnet-core-net",
    "portnet",
    "portnet-tokio",
    "portnet-conformance",
    "portnet-echo",
    "portnet-mqtt",
];

/// Debian packages the tests need: the broker for MQTT tests, QEMU for firmware.
const APT_PACKAGES: [(&str, &str); 2] = [
    ("mosquitto", "mosquitto"),
    ("qemu-system-arm", "qemu-system-arm"),
];

/// Nightly components for Miri.
const NIGHTLY_COMPONENTS: [&str; 2] = ["miri", "rust-src"];

/// Fuzz targets CI runs for a bounded time: (fuzz project directory, target).
/// Each starts from its checked-in corpus, copied so the run leaves the tree clean.
const FUZZ_TARGETS: [(&str, &str); 2] =
    [("core-net/fuzz", "parse_endpoint"), ("mqtt/fuzz", "decode")];

/// Seconds each fuzz target runs in `cargo xtask ci`.
const FUZZ_SECONDS: u32 = 30;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match Task::parse(&args) {
        Ok(Task::Help) => {
            print!("{USAGE}");
            Ok(())
        }
        Ok(Task::Setup) => setup(),
        Ok(Task::Ci { only, skip }) => setup().and_then(|()| ci(&only, &skip)),
        Ok(Task::Conformance) => setup().and_then(|()| conformance()),
        Ok(Task::Bench { quick, json }) => bench(quick, json.as_deref()),
        Err(message) => {
            eprintln!("{message}\n\n{USAGE}");
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
  ci [--only S]… [--skip S]…  run every check CI runs (setup first); steps are listed below
  conformance                 the conformance suite on every hosted backend, table + target/conformance.json
  bench [--quick] [--json F]  benchmarks, each against its peer in the same run
  help                        this text
";

#[derive(Debug, PartialEq, Eq)]
enum Task {
    Help,
    Setup,
    Ci {
        only: Vec<String>,
        skip: Vec<String>,
    },
    Conformance,
    Bench {
        quick: bool,
        json: Option<String>,
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
            "conformance" => no_more(rest).map(|()| Self::Conformance),
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

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Runs a command, echoing it; an error names the command and its status.
fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Result<(), String> {
    eprintln!(
        "$ {}{program} {}",
        envs.iter()
            .map(|(k, v)| format!("{k}={v} "))
            .collect::<String>(),
        args.join(" ")
    );
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
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{program} {}` failed: {status}", args.join(" ")))
    }
}

/// A command's standard output, or `None` if it cannot run or fails.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn setup() -> Result<(), String> {
    eprintln!("== setup");
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    let missing: Vec<&str> = THUMB_TARGETS
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        eprintln!("targets present: {}", THUMB_TARGETS.join(", "));
    } else {
        let mut args = vec!["target", "add"];
        args.extend(&missing);
        run("rustup", &args, &[])?;
    }
    let components = output("rustup", &["component", "list", "--installed"]).unwrap_or_default();
    for component in ["clippy", "rustfmt"] {
        if !components.lines().any(|l| l.starts_with(component)) {
            run("rustup", &["component", "add", component], &[])?;
        }
    }
    let toolchains = output("rustup", &["toolchain", "list"]).unwrap_or_default();
    if !toolchains
        .lines()
        .any(|l| l.starts_with(&format!("{MSRV}-")))
    {
        run(
            "rustup",
            &["toolchain", "install", MSRV, "--profile", "minimal"],
            &[],
        )?;
    } else {
        eprintln!("toolchain {MSRV} present");
    }
    if !toolchains.lines().any(|l| l.starts_with("nightly-")) {
        run(
            "rustup",
            &["toolchain", "install", "nightly", "--profile", "minimal"],
            &[],
        )?;
    }
    let nightly = output(
        "rustup",
        &["component", "list", "--installed", "--toolchain", "nightly"],
    )
    .unwrap_or_default();
    for component in NIGHTLY_COMPONENTS {
        if !nightly.lines().any(|l| l.starts_with(component)) {
            run(
                "rustup",
                &["component", "add", component, "--toolchain", "nightly"],
                &[],
            )?;
        }
    }
    if output("cargo", &["fuzz", "--version"]).is_none() {
        run("cargo", &["install", "cargo-fuzz", "--locked"], &[])?;
    }
    apt_install()
}

fn apt_install() -> Result<(), String> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(_, binary)| output("sh", &["-c", &format!("command -v {binary}")]).is_none())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        eprintln!(
            "apt packages present: {}",
            APT_PACKAGES.map(|(p, _)| p).join(", ")
        );
        return Ok(());
    }
    let root = output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0");
    let (program, prefix): (&str, &[&str]) = if root {
        ("apt-get", &[])
    } else {
        ("sudo", &["apt-get"])
    };
    let attempt = (|| {
        let mut update = prefix.to_vec();
        update.extend(["update", "-q"]);
        run(program, &update, &[])?;
        let mut install = prefix.to_vec();
        install.extend(["install", "-y", "-q", "--no-install-recommends"]);
        install.extend(&missing);
        run(program, &install, &[("DEBIAN_FRONTEND", "noninteractive")])
    })();
    match attempt {
        Ok(()) => Ok(()),
        Err(e) if !in_ci() => {
            eprintln!(
                "warning: could not install {}: {e}; the tests that need them will fail",
                missing.join(" ")
            );
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// One step of `cargo xtask ci`.
struct Step {
    name: &'static str,
    commands: Vec<Cmd>,
}

struct Cmd {
    program: &'static str,
    args: Vec<String>,
    envs: Vec<(&'static str, &'static str)>,
}

fn cargo(args: &[&str]) -> Cmd {
    Cmd {
        program: "cargo",
        args: args.iter().map(|a| (*a).to_owned()).collect(),
        envs: Vec::new(),
    }
}

fn steps() -> Vec<Step> {
    let mut no_std = Vec::new();
    for krate in NO_STD_CRATES {
        for target in THUMB_TARGETS {
            no_std.push(cargo(&[
                "build",
                "-q",
                "-p",
                krate,
                "--target",
                target,
                "--no-default-features",
            ]));
        }
    }
    let mut msrv_args = vec![format!("+{MSRV}"), "check".into(), "-q".into()];
    for krate in MSRV_CRATES {
        msrv_args.extend(["-p".into(), krate.into()]);
    }
    vec![
        Step {
            name: "fmt",
            commands: vec![cargo(&["fmt", "--all", "--check"])],
        },
        Step {
            name: "clippy",
            commands: vec![cargo(&[
                "clippy",
                "-q",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ])],
        },
        Step {
            name: "test",
            commands: vec![cargo(&["test", "--workspace"])],
        },
        Step {
            name: "no-std",
            commands: no_std,
        },
        Step {
            name: "doc",
            commands: vec![Cmd {
                envs: vec![("RUSTDOCFLAGS", "-D warnings")],
                ..cargo(&["doc", "-q", "--workspace", "--no-deps"])
            }],
        },
        Step {
            name: "msrv",
            commands: vec![Cmd {
                program: "cargo",
                args: msrv_args,
                envs: Vec::new(),
            }],
        },
        Step {
            name: "miri",
            commands: vec![Cmd {
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
            }],
        },
        Step {
            name: "conformance",
            commands: vec![cargo(&[
                "run",
                "-q",
                "--release",
                "-p",
                "portnet-conformance",
                "--",
                "--json",
                "target/conformance.json",
            ])],
        },
        // Runs `fuzz()`: each target for FUZZ_SECONDS from its checked-in corpus.
        Step {
            name: "fuzz",
            commands: Vec::new(),
        },
        Step {
            name: "bench",
            commands: vec![cargo(&[
                "run",
                "-q",
                "--release",
                "-p",
                "portnet-bench",
                "--",
                "--quick",
            ])],
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

fn ci(only: &[String], skip: &[String]) -> Result<(), String> {
    let mut timings: Vec<(&str, Duration)> = Vec::new();
    let started = Instant::now();
    let mut failure = None;
    for step in steps() {
        let wanted = only.is_empty() || only.iter().any(|o| o == step.name);
        if !wanted || skip.iter().any(|s| s == step.name) {
            continue;
        }
        eprintln!("== ci step: {}", step.name);
        let start = Instant::now();
        let result = if step.name == "fuzz" {
            fuzz(FUZZ_SECONDS)
        } else {
            step.commands.iter().try_for_each(|cmd| {
                let args: Vec<&str> = cmd.args.iter().map(String::as_str).collect();
                run(cmd.program, &args, &cmd.envs)
            })
        };
        timings.push((step.name, start.elapsed()));
        if let Err(e) = result {
            failure = Some(format!("ci step `{}` failed: {e}", step.name));
            break;
        }
    }
    eprintln!("\n== ci summary");
    for (name, took) in &timings {
        eprintln!("{name:12} {:>7.1} s", took.as_secs_f64());
    }
    eprintln!("{:12} {:>7.1} s", "total", started.elapsed().as_secs_f64());
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
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

fn conformance() -> Result<(), String> {
    run(
        "cargo",
        &[
            "run",
            "--release",
            "-p",
            "portnet-conformance",
            "--",
            "--json",
            "target/conformance.json",
        ],
        &[],
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
    run("cargo", &args, &[])
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
        assert_eq!(parse(&["setup"]), Ok(Task::Setup));
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
    fn rejects_bad_arguments() {
        assert!(parse(&["frobnicate"]).is_err());
        assert!(parse(&["setup", "extra"]).is_err());
        assert!(parse(&["ci", "--only"]).is_err());
        assert!(parse(&["ci", "--only", "no-such-step"]).is_err());
        assert!(parse(&["bench", "--json"]).is_err());
    }
}
