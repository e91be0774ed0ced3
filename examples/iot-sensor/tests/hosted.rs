//! The hosted entry point (`iot-sensor` on tokio) against a real mosquitto, with
//! `iot-monitor` (portnet's MQTT client) as the subscriber and commander: every
//! stage waits, bounded, for the output lines that prove it.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

#[path = "../../../mqtt/tests/common/mod.rs"]
mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Mosquitto;

/// How long any one event may take before the test fails (reached only on failure).
const EVENT: Duration = Duration::from_secs(20);

/// A child process with its standard output as a stream of lines; killed by
/// PID when dropped.
struct Proc {
    name: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn start(name: &'static str, program: &str, args: &[&str]) -> Self {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {program}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                eprintln!("  {name}| {line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            name,
            child,
            stdin,
            lines,
        }
    }

    /// The next line containing every one of `parts`, within [`EVENT`].
    fn wait(&mut self, parts: &[&str]) -> String {
        let deadline = Instant::now() + EVENT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if parts.iter().all(|p| line.contains(p)) => return line,
                Ok(_) => {}
                Err(e) => panic!(
                    "{}: no line with {parts:?} within {EVENT:?} ({e})",
                    self.name
                ),
            }
        }
    }

    fn type_in(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        stdin.write_all(text.as_bytes()).expect("write stdin");
        stdin.flush().expect("flush stdin");
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sensor(broker: &str) -> Proc {
    Proc::start(
        "sensor",
        env!("CARGO_BIN_EXE_iot-sensor"),
        &[
            "--broker",
            broker,
            "--id",
            "host-test",
            "--interval-ms",
            "200",
            "--seed",
            "5",
        ],
    )
}

#[test]
fn hosted_node_publishes_obeys_reconnects_reboots_and_gets_queued_commands() {
    let mut broker = Mosquitto::start_persistent();
    let addr = broker.addr().to_string();

    let mut node = sensor(&addr);
    node.wait(&["subscribed to portnet/host-test/command"]);
    let mut monitor = Proc::start(
        "monitor",
        env!("CARGO_BIN_EXE_iot-monitor"),
        &["--broker", &addr, "--id", "host-test"],
    );
    monitor.wait(&["monitor: connected"]);
    monitor.wait(&["monitor: telemetry {\"seq\":", "\"t\":", "\"rh\":"]);

    // Commands are acted on, and the telemetry shows it.
    monitor.type_in("leds 3\n");
    node.wait(&["command \"leds 3\"", "leds 0b11"]);
    monitor.wait(&["monitor: telemetry", "\"leds\":3"]);
    monitor.type_in("interval 300\n");
    node.wait(&["interval 300 ms"]);
    monitor.wait(&["monitor: telemetry", "\"interval_ms\":300"]);
    monitor.type_in("explode\n");
    node.wait(&["command \"explode\" refused"]);

    // A broker restart: the node reconnects and resumes its session.
    broker.restart();
    node.wait(&["disconnected"]);
    node.wait(&["connected", "session present: true"]);
    monitor.wait(&["monitor: telemetry"]);

    // `reboot` restarts the application loop on the same session.
    monitor.type_in("reboot\n");
    node.wait(&["rebooting"]);
    node.wait(&["hosted node starting (boot 2)"]);
    node.wait(&["connected", "session present: true"]);

    // A command published while the node is away arrives when it is back.
    drop(node);
    monitor.type_in("leds 2\n");
    monitor.wait(&["monitor: sent leds 2"]);
    let mut node = sensor(&addr);
    node.wait(&["connected", "session present: true"]);
    node.wait(&["command \"leds 2\"", "leds 0b10"]);
    monitor.wait(&["monitor: telemetry", "\"leds\":2"]);
}
