//! `cargo xtask demo`: the IoT sensor node (`examples/iot-sensor`) as firmware
//! in QEMU, a mosquitto broker on the host's loopback, and `iot-monitor` (the
//! project's own MQTT client) as the subscriber and commander. Every stage
//! waits, bounded, for the lines that prove it and fails otherwise, so the same
//! function is the CI step `demo`. Everything it starts is stopped by PID.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::qemu::{self, Mosquitto, Watched};

/// The node's identifier in the firmware (`DEVICE_ID`).
const DEVICE_ID: &str = "board-1";

/// Bounds of the waits for each event (they are reached only on failure).
const BOOT: Duration = Duration::from_secs(60);
const EVENT: Duration = Duration::from_secs(20);

fn stage(n: u32, text: &str) {
    eprintln!("\n==> [{n}/7] {text}");
}

fn done(text: &str) {
    eprintln!("    ok: {text}");
}

/// The number in `"key":N` of a JSON line, for the summary.
fn field(line: &str, key: &str) -> Option<u64> {
    let pattern = format!("\"{key}\":");
    let rest = &line[line.find(&pattern)? + pattern.len()..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Starts the node and gives it the broker's port when it asks.
fn boot(board: &mut Watched, port: u16) -> Result<(), String> {
    let address = board.wait_for("iot-sensor: address", BOOT)?;
    done(&format!(
        "firmware up: {}",
        address.trim_start_matches("iot-sensor: ")
    ));
    board.type_in(&format!("{port}\n"))
}

/// Runs the demo; an error names the stage and the line that did not come.
pub(crate) fn demo() -> Result<(), String> {
    let started = Instant::now();
    stage(
        1,
        "build the firmware (thumbv7m-none-eabi) and the monitor (host)",
    );
    let elf = qemu::build("iot_sensor")?;
    qemu::build_monitor()?;
    let size = qemu::firmware_size(&elf)?;
    done(&format!(
        "{elf}: flash {} B, RAM {} B",
        size.text + size.rodata + size.data,
        size.data + size.bss
    ));
    let demo_started = Instant::now();

    stage(
        2,
        "start mosquitto (persistent sessions) and the firmware in QEMU",
    );
    let mut broker = Mosquitto::start_persistent()?;
    done(&format!(
        "mosquitto on 127.0.0.1:{} (pid {})",
        broker.port,
        broker.pid()
    ));
    let network = qemu::user_network();
    let mut board = Watched::start(&elf, &network)?;
    done(&format!(
        "qemu-system-arm -M mps2-an385 (pid {})",
        board.pid
    ));
    boot(&mut board, broker.port)?;
    board.wait_for("iot-sensor: subscribed to portnet/board-1/command", EVENT)?;
    done("connected to the broker (10.0.2.2 through QEMU's user networking), subscribed");

    stage(3, "a subscriber sees the telemetry (QoS 1)");
    let mut command = Command::new(format!("{}/debug/iot-monitor", super::target_dir()));
    command.args([
        "--broker",
        &format!("127.0.0.1:{}", broker.port),
        "--id",
        DEVICE_ID,
    ]);
    let mut monitor = Watched::spawn(command, "monitor")?;
    monitor.wait_for("monitor: connected", EVENT)?;
    let first = monitor.wait_for("monitor: telemetry {", EVENT)?;
    let second = monitor.wait_for("monitor: telemetry {", EVENT)?;
    done(&format!(
        "telemetry received: seq {} then {}",
        field(&first, "seq").unwrap_or(0),
        field(&second, "seq").unwrap_or(0)
    ));

    stage(4, "send commands: `leds 2`, then `interval 250`");
    monitor.type_in("leds 2\n")?;
    let shown = board.wait_containing(&["command \"leds 2\"", "leds 0b10"], EVENT)?;
    done(&format!(
        "the board lit LED 1 (FPGAIO LED0 register read back): {}",
        shown.trim_start_matches("iot-sensor: ")
    ));
    monitor.wait_containing(&["monitor: telemetry", "\"leds\":2"], EVENT)?;
    done("the telemetry reports leds 2");
    monitor.type_in("interval 250\n")?;
    board.wait_containing(&["command \"interval 250\"", "interval 250 ms"], EVENT)?;
    let at = monitor.wait_containing(&["monitor: telemetry", "\"interval_ms\":250"], EVENT)?;
    let from = field(&at, "seq").unwrap_or(0);
    let quick = Instant::now();
    let mut last = from;
    for _ in 0..8 {
        last = field(&monitor.wait_for("monitor: telemetry {", EVENT)?, "seq").unwrap_or(last);
    }
    done(&format!(
        "telemetry every 250 ms now: seq {from} to {last} in {:.1} s",
        quick.elapsed().as_secs_f64()
    ));

    stage(
        5,
        "restart the broker: the node reconnects (backoff) and resumes its session",
    );
    let old_pid = broker.pid();
    broker.stop();
    done(&format!("mosquitto (pid {old_pid}) stopped with SIGTERM"));
    let lost = board.wait_for("iot-sensor: disconnected", EVENT)?;
    done(lost.trim_start_matches("iot-sensor: "));
    broker.restart()?;
    done(&format!("mosquitto restarted (pid {})", broker.pid()));
    let back = board.wait_containing(&["iot-sensor: connected", "session present: true"], EVENT)?;
    done(back.trim_start_matches("iot-sensor: "));
    monitor.wait_for("monitor: connected", EVENT)?;
    let after = monitor.wait_for("monitor: telemetry {", EVENT)?;
    done(&format!(
        "telemetry flows again: seq {}",
        field(&after, "seq").unwrap_or(0)
    ));

    stage(
        6,
        "`reboot` (SYSRESETREQ), and a command sent while the node is away",
    );
    monitor.type_in("reboot\n")?;
    board.wait_containing(&["command \"reboot\"", "rebooting"], EVENT)?;
    board.wait_for("iot-sensor: reset (SYSRESETREQ)", EVENT)?;
    done("the node acknowledged `reboot`, disconnected and reset the chip");
    monitor.type_in("leds 1\n")?;
    monitor.wait_for("monitor: sent leds 1", EVENT)?;
    done("`leds 1` published while the node is away (queued in its session)");
    board.wait_for("iot-sensor: firmware starting", BOOT)?;
    boot(&mut board, broker.port)?;
    let resumed =
        board.wait_containing(&["iot-sensor: connected", "session present: true"], EVENT)?;
    done(resumed.trim_start_matches("iot-sensor: "));
    let queued = board.wait_containing(&["command \"leds 1\"", "leds 0b01"], EVENT)?;
    done(&format!(
        "the queued command arrived after the reboot: {}",
        queued.trim_start_matches("iot-sensor: ")
    ));
    monitor.wait_containing(&["monitor: telemetry", "\"leds\":1"], EVENT)?;
    let resets = board
        .seen()
        .iter()
        .filter(|line| line.contains("reset (SYSRESETREQ)"))
        .count();
    if resets != 1 {
        return Err(format!("the node reset {resets} times, expected once"));
    }
    done("exactly one reset: the `reboot` command was not delivered twice");

    stage(7, "stop everything (by PID)");
    let (board_pid, monitor_pid, broker_pid) = (board.pid, monitor.pid, broker.pid());
    monitor.stop();
    board.stop();
    broker.stop();
    done(&format!(
        "monitor (pid {monitor_pid}), qemu (pid {board_pid}), mosquitto (pid {broker_pid}) stopped"
    ));
    let complaints = board.lan9118_complaints();
    if !complaints.is_empty() {
        return Err(format!(
            "QEMU's LAN9118 model complained about the driver: {complaints:?}"
        ));
    }
    eprintln!(
        "\ndemo: telemetry seen, commands acted on, reconnected after a broker restart, \
         rebooted with a queued command delivered: {:.1} s (with the build: {:.1} s)",
        demo_started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn reads_numbers_of_the_telemetry() {
        let line = r#"monitor: telemetry {"seq":12,"t":21.5,"leds":2,"interval_ms":250}"#;
        assert_eq!(field(line, "seq"), Some(12));
        assert_eq!(field(line, "interval_ms"), Some(250));
        assert_eq!(field(line, "missing"), None);
        assert_eq!(field("\"seq\":x", "seq"), None);
    }
}
