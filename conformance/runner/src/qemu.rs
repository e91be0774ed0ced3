//! The mps2-an385 row: the suite inside firmware on QEMU's `mps2-an385` board,
//! with the firmware's stack on a TAP device and the peer on the host.
//!
//! The runner creates a network namespace with a TAP device (`pnqemu0`,
//! [`tap_net`](portnet_conformance::remote::tap_net)'s host addresses), starts the agent (the
//! tokio backend as the peer, inside the namespace) on a Unix socket that QEMU
//! joins to the board's UART1, starts QEMU inside the namespace, and reads the
//! firmware's report lines ([`run_and_report`](portnet_conformance::remote::run_and_report))
//! from QEMU's output. QEMU's user networking would let the firmware reach the
//! host, but not the host reach listeners the firmware opens on ports chosen at
//! run time; a TAP device lets both sides reach each other as on a wire.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;
use std::io::{BufRead, BufReader};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use portnet_links::tap::NetNs;
use portnet_tokio::Tokio;

use portnet_conformance::remote::LINE_PREFIX;
use portnet_conformance::report::Row;
use portnet_conformance::{Capability, Detail, Outcome, cases, default_seed};

/// The environment variable naming the conformance firmware's ELF file; the
/// row runs when it is set (`cargo xtask conformance` sets it).
pub const FIRMWARE_ENV: &str = "PORTNET_FIRMWARE";

/// The row's name in the table.
pub const ROW_NAME: &str = "mps2-an385 (qemu)";

/// The environment variable naming the lwIP variant of the conformance
/// firmware (`examples/conformance_lwip.rs`): the row [`LWIP_ROW_NAME`] runs
/// when it is set (`cargo xtask conformance` sets it).
pub const LWIP_FIRMWARE_ENV: &str = "PORTNET_FIRMWARE_LWIP";

/// The lwIP firmware row's name in the table.
pub const LWIP_ROW_NAME: &str = "mps2-an385 lwip (qemu)";

const TAP_NAME: &str = "pnqemu0";

/// How long the firmware may go without printing a line.
const SILENCE_LIMIT: Duration = Duration::from_secs(300);

/// How long the whole run may take.
const RUN_LIMIT: Duration = Duration::from_secs(40 * 60);

/// The firmware named by [`FIRMWARE_ENV`], if set.
pub fn firmware() -> Option<PathBuf> {
    std::env::var_os(FIRMWARE_ENV).map(PathBuf::from)
}

/// The lwIP firmware named by [`LWIP_FIRMWARE_ENV`], if set.
pub fn lwip_firmware() -> Option<PathBuf> {
    std::env::var_os(LWIP_FIRMWARE_ENV).map(PathBuf::from)
}

/// The row's rows, for the runner: runs the firmware named by [`FIRMWARE_ENV`]
/// and keeps the cases whose id contains `filter`. A run that cannot start is
/// one failing row naming why.
pub fn rows(backend: &str, filter: &str) -> Vec<Row> {
    rows_of(firmware(), FIRMWARE_ENV, backend, filter)
}

/// As [`rows`], for the lwIP firmware named by [`LWIP_FIRMWARE_ENV`] (the same
/// network, agent and report; only the stack inside differs).
pub fn lwip_rows(backend: &str, filter: &str) -> Vec<Row> {
    rows_of(lwip_firmware(), LWIP_FIRMWARE_ENV, backend, filter)
}

fn rows_of(elf: Option<PathBuf>, env: &str, backend: &str, filter: &str) -> Vec<Row> {
    let result = match elf {
        Some(elf) => run(&elf),
        None => Err(format!("{env} is not set")),
    };
    rows_named(result, backend, filter)
}

/// A firmware run's rows named after `backend` (`backend`, `backend+chaos`),
/// keeping the cases whose id contains `filter`; a run that could not happen
/// is one failing row naming why.
pub(crate) fn rows_named(
    result: Result<Vec<Row>, String>,
    backend: &str,
    filter: &str,
) -> Vec<Row> {
    match result {
        Ok(rows) => rows
            .into_iter()
            .filter(|row| row.case.contains(filter))
            .map(|row| Row {
                backend: format!("{backend}{}", row.backend),
                ..row
            })
            .collect(),
        Err(reason) => alloc::vec![Row {
            backend: String::from(backend),
            case: "(firmware)",
            outcome: Outcome::Fail(Detail::from_args(format_args!("{reason}"))),
            seed: None,
        }],
    }
}

/// Runs the conformance firmware `elf` in QEMU against the agent and returns
/// its rows.
///
/// # Errors
///
/// Why the run could not happen: no namespace, no QEMU, no agent socket.
pub fn run(elf: &Path) -> Result<Vec<Row>, String> {
    let name = format!("portnet-qemu-{}", std::process::id());
    let netns = NetNs::create(&name).map_err(|e| format!("network namespace: {e}"))?;
    for command in [
        &["ip", "tuntap", "add", "dev", TAP_NAME, "mode", "tap"][..],
        &["ip", "addr", "add", "10.9.1.1/24", "dev", TAP_NAME],
        &[
            "ip",
            "-6",
            "addr",
            "add",
            "fd09:1::1/64",
            "dev",
            TAP_NAME,
            "nodad",
        ],
        &["ip", "link", "set", TAP_NAME, "up"],
    ] {
        netns
            .exec(command)
            .map_err(|e| format!("configuring {TAP_NAME}: {e}"))?;
    }
    let socket = std::env::temp_dir().join(format!("{name}.sock"));
    let _ = std::fs::remove_file(&socket);
    let listener = UnixListener::bind(&socket)
        .map_err(|e| format!("agent socket {}: {e}", socket.display()))?;
    let output = std::thread::scope(|scope| {
        let agent = scope.spawn(|| serve_agent(&netns, &listener));
        let output = run_qemu(&netns, elf, &socket);
        // Unblocks an agent still waiting for QEMU (which then never came).
        let _ = UnixStream::connect(&socket);
        if let Ok(Err(e)) = agent.join() {
            std::eprintln!("mps2-an385 row: agent: {e}");
        }
        output
    });
    let _ = std::fs::remove_file(&socket);
    let (lines, status) = output?;
    parse_report(&lines, &status)
}

/// Accepts QEMU's connection and serves it, inside the namespace.
fn serve_agent(netns: &NetNs, listener: &UnixListener) -> std::io::Result<()> {
    let _inside = netns.enter()?;
    let (stream, _) = listener.accept()?;
    let stack: &'static Tokio = alloc::boxed::Box::leak(alloc::boxed::Box::new(Tokio::new()));
    crate::agent::run_unix(stack, stream)
}

/// `qemu-system-arm` on the `mps2-an385` board with `elf` as its kernel,
/// semihosting on (the firmware's exit status becomes QEMU's), no display and
/// no monitor; inside `netns` if given. The caller adds the network and serial
/// arguments.
pub fn board_command(netns: Option<&NetNs>, elf: &Path) -> Command {
    machine_command("mps2-an385", netns, elf)
}

/// As [`board_command`], on QEMU machine `machine` (`mps2-an385`, `microbit`).
pub fn machine_command(machine: &str, netns: Option<&NetNs>, elf: &Path) -> Command {
    let mut command = match netns {
        Some(netns) => {
            let mut command = Command::new("ip");
            command.args(["netns", "exec", netns.name(), "qemu-system-arm"]);
            command
        }
        None => Command::new("qemu-system-arm"),
    };
    command
        .args(["-M", machine])
        .args(["-display", "none", "-monitor", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(elf);
    command
}

/// A running QEMU whose output (stdout and stderr) arrives as lines; killed by
/// PID when dropped while still running.
#[derive(Debug)]
pub struct Qemu {
    child: std::process::Child,
    lines: mpsc::Receiver<String>,
}

impl Qemu {
    /// Starts `command` (see [`board_command`]) with its output piped.
    ///
    /// # Errors
    ///
    /// QEMU could not be started.
    pub fn spawn(command: &mut Command) -> Result<Self, String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting qemu-system-arm: {e}"))?;
        let (tx, lines) = mpsc::channel::<String>();
        let stdout = child.stdout.take().ok_or("qemu's stdout")?;
        let stderr = child.stderr.take().ok_or("qemu's stderr")?;
        for stream in [
            alloc::boxed::Box::new(stdout) as alloc::boxed::Box<dyn std::io::Read + Send>,
            alloc::boxed::Box::new(stderr),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        Ok(Self { child, lines })
    }

    /// The next output line, waiting at most `limit`; `Ok(None)` once QEMU
    /// has closed its output (it is ending).
    ///
    /// # Errors
    ///
    /// No line within `limit`.
    pub fn next_line(&mut self, limit: Duration) -> Result<Option<String>, String> {
        match self.lines.recv_timeout(limit) {
            Ok(line) => Ok(Some(line)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Ok(None),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(format!("no output for {} s", limit.as_secs()))
            }
        }
    }

    /// Reads lines until one starts with `prefix` and returns it; waits at
    /// most `limit` in all.
    ///
    /// # Errors
    ///
    /// No such line within `limit`, or QEMU ended first; the error quotes
    /// the lines seen.
    pub fn wait_for(&mut self, prefix: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Ok(Some(line)) if line.starts_with(prefix) => return Ok(line),
                Ok(Some(line)) => seen.push(line),
                Ok(None) => {
                    return Err(format!("QEMU ended before {prefix:?}; it printed {seen:?}"));
                }
                Err(e) => {
                    return Err(format!(
                        "waiting for {prefix:?}: {e}; QEMU printed {seen:?}"
                    ));
                }
            }
        }
    }

    /// Waits for QEMU to end (its output closed, then the process), at most
    /// `limit`; kills it if it does not. Returns the lines it printed on the
    /// way and how it ended.
    ///
    /// # Errors
    ///
    /// QEMU could not be waited for.
    pub fn finish(
        mut self,
        limit: Duration,
    ) -> Result<(Vec<String>, std::process::ExitStatus), String> {
        let deadline = Instant::now() + limit;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Ok(Some(line)) => lines.push(line),
                Ok(None) => break,
                Err(_) => {
                    let _ = self.child.kill();
                    break;
                }
            }
        }
        let status = self
            .child
            .wait()
            .map_err(|e| format!("waiting for qemu: {e}"))?;
        Ok((lines, status))
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs QEMU to its end; returns its output lines and how it ended.
fn run_qemu(netns: &NetNs, elf: &Path, socket: &Path) -> Result<(Vec<String>, String), String> {
    let mut command = board_command(Some(netns), elf);
    command
        .args([
            "-netdev",
            &format!("tap,id=n0,ifname={TAP_NAME},script=no,downscript=no"),
        ])
        .args(["-net", "nic,netdev=n0,model=lan9118"])
        .args([
            "-chardev",
            &format!("socket,id=peer,path={}", socket.display()),
        ])
        .args(["-serial", "stdio", "-serial", "chardev:peer"]);
    Qemu::spawn(&mut command)?.report(SILENCE_LIMIT, RUN_LIMIT)
}

impl Qemu {
    /// Reads the firmware's output until QEMU ends, echoing its report lines
    /// to stderr; stops it (by dropping it) after `silence` without a line or
    /// `limit` in all. Returns the lines and how it ended.
    ///
    /// # Errors
    ///
    /// QEMU could not be waited for.
    pub fn report(
        mut self,
        silence: Duration,
        limit: Duration,
    ) -> Result<(Vec<String>, String), String> {
        let started = Instant::now();
        let mut lines = Vec::new();
        let mut stopped = None;
        loop {
            match self.next_line(silence) {
                Ok(Some(line)) => {
                    if line.starts_with(LINE_PREFIX) {
                        std::eprintln!("  {line}");
                    }
                    lines.push(line);
                    if started.elapsed() > limit {
                        stopped = Some(format!("stopped after {} s", limit.as_secs()));
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    stopped = Some(format!("stopped: {e}"));
                    break;
                }
            }
        }
        if let Some(why) = stopped {
            // Dropping kills it.
            return Ok((lines, why));
        }
        let (rest, status) = self.finish(Duration::from_secs(10))?;
        lines.extend(rest);
        Ok((lines, format!("qemu exited with {status}")))
    }
}

/// Turns the firmware's report lines into rows; every case the report lacks is
/// a failure naming how the firmware ended (`ended`) and its last lines.
///
/// # Errors
///
/// A line that names an unknown case or outcome.
pub fn parse_report(lines: &[String], ended: &str) -> Result<Vec<Row>, String> {
    let known = cases::all::<crate::hosted::TokioHarness>();
    let mut rows: Vec<Row> = Vec::new();
    for line in lines {
        let Some(rest) = line.strip_prefix(LINE_PREFIX) else {
            continue;
        };
        let mut words = rest.trim_start().splitn(5, ' ');
        if words.next() != Some("case") {
            continue;
        }
        let (Some(mode), Some(id), Some(outcome)) = (words.next(), words.next(), words.next())
        else {
            return Err(format!("a report line without its fields: {line:?}"));
        };
        let detail = words.next().unwrap_or("");
        let case = known
            .iter()
            .find(|c| c.id == id)
            .ok_or_else(|| format!("the firmware reports an unknown case {id:?}"))?;
        let (backend, seed) = match mode {
            "plain" => ("", None),
            "chaos" => ("+chaos", Some(default_seed(case.id))),
            other => return Err(format!("unknown mode {other:?} in {line:?}")),
        };
        let outcome = match outcome {
            "pass" => Outcome::Pass,
            "fail" => Outcome::Fail(Detail::from_args(format_args!("{detail}"))),
            "skip" => Outcome::Skip(
                Capability::from_name(detail)
                    .ok_or_else(|| format!("unknown capability {detail:?} in {line:?}"))?,
            ),
            other => return Err(format!("unknown outcome {other:?} in {line:?}")),
        };
        rows.push(Row {
            backend: backend.to_string(),
            case: case.id,
            outcome,
            seed,
        });
    }
    let tail: Vec<&str> = lines
        .iter()
        .rev()
        .filter(|l| !l.trim().is_empty())
        .take(3)
        .map(String::as_str)
        .collect();
    for case in &known {
        for (backend, seed) in [("", None), ("+chaos", Some(default_seed(case.id)))] {
            if !rows
                .iter()
                .any(|r| r.case == case.id && r.backend == backend)
            {
                rows.push(Row {
                    backend: backend.to_string(),
                    case: case.id,
                    outcome: Outcome::Fail(Detail::from_args(format_args!(
                        "not reported: the firmware {ended}; last output: {}",
                        tail.iter().rev().copied().collect::<Vec<_>>().join(" | ")
                    ))),
                    seed,
                });
            }
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_becomes_rows_and_missing_cases_fail() {
        let lines: Vec<String> = [
            "boot",
            "portnet-conformance begin 2",
            "portnet-conformance case plain tcp.echo.ipv4 pass",
            "portnet-conformance case chaos tcp.echo.ipv4 fail lost 3 bytes at 17",
            "portnet-conformance case plain tcp.echo.ipv6 skip ipv6",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let rows = parse_report(&lines, "exited with status 1").unwrap();
        let find = |case: &str, backend: &str| {
            rows.iter()
                .find(|r| r.case == case && r.backend == backend)
                .unwrap()
        };
        assert_eq!(find("tcp.echo.ipv4", "").outcome, Outcome::Pass);
        assert_eq!(
            find("tcp.echo.ipv4", "+chaos").outcome,
            Outcome::Fail(Detail::from_args(format_args!("lost 3 bytes at 17")))
        );
        assert_eq!(
            find("tcp.echo.ipv6", "").outcome,
            Outcome::Skip(Capability::Ipv6)
        );
        let missing = find("clock.sleep", "");
        assert!(missing.outcome.is_fail());
        assert!(
            missing.detail().contains("exited with status 1"),
            "{}",
            missing.detail()
        );
        assert_eq!(rows.len(), 2 * cases::COUNT);
    }

    #[test]
    fn unknown_cases_and_outcomes_are_errors() {
        for line in [
            "portnet-conformance case plain no.such.case pass",
            "portnet-conformance case plain tcp.echo.ipv4 maybe",
            "portnet-conformance case sideways tcp.echo.ipv4 pass",
            "portnet-conformance case plain tcp.echo.ipv4 skip warp-drive",
            "portnet-conformance case plain",
        ] {
            assert!(parse_report(&[line.to_string()], "").is_err(), "{line}");
        }
    }
}
