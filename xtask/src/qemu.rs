//! Firmware in QEMU's `mps2-an385`: build it, run it, talk to it from the host,
//! and stop QEMU (by PID) whatever happens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// The firmware target.
pub(crate) const TARGET: &str = "thumbv7m-none-eabi";

/// Builds a firmware example of `portnet-bare-metal` in release mode and
/// returns the path of its ELF file.
pub(crate) fn build(example: &str) -> Result<String, String> {
    super::run(
        "cargo",
        &[
            "build",
            "-q",
            "--release",
            "-p",
            "portnet-bare-metal",
            "--example",
            example,
            "--target",
            TARGET,
        ],
        &[],
    )?;
    Ok(format!("target/{TARGET}/release/examples/{example}"))
}

/// A QEMU process, killed by PID when dropped if still running, with its output
/// lines and its exit status as events.
pub(crate) struct Qemu {
    pid: u32,
    stdin: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<String>,
    exit: mpsc::Receiver<Option<i32>>,
    exited: bool,
}

impl Qemu {
    /// Starts `qemu-system-arm` on `elf` with `network` arguments.
    pub(crate) fn start(elf: &str, network: &[String]) -> Result<Self, String> {
        let mut child = Command::new("qemu-system-arm")
            .args(["-M", "mps2-an385", "-nographic"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .args(network)
            .args(["-kernel", elf])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start qemu-system-arm: {e}"))?;
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().ok_or("qemu's stdout")?;
        let stderr = child.stderr.take().ok_or("qemu's stderr")?;
        for stream in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("  qemu| {line}");
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let pid = child.id();
        let stdin = child.stdin.take();
        let (exit_tx, exit) = mpsc::channel();
        thread::spawn(move || {
            let code = child.wait().ok().and_then(|status| status.code());
            let _ = exit_tx.send(code);
        });
        Ok(Self {
            pid,
            stdin,
            lines,
            exit,
            exited: false,
        })
    }

    /// Waits for an output line starting with `prefix`, at most `limit`.
    pub(crate) fn wait_for(&self, prefix: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => {}
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("no line {prefix:?} within {} s", limit.as_secs()));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("qemu ended before printing {prefix:?}"));
                }
            }
        }
    }

    /// Types `text` on the board's console (UART0).
    pub(crate) fn type_in(&mut self, text: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("qemu's stdin is closed")?;
        stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("writing to qemu's console: {e}"))
    }

    /// Waits for QEMU to exit, at most `limit`; its exit code.
    pub(crate) fn wait_exit(&mut self, limit: Duration) -> Result<i32, String> {
        match self.exit.recv_timeout(limit) {
            Ok(code) => {
                self.exited = true;
                code.ok_or_else(|| "qemu ended by a signal".to_owned())
            }
            Err(_) => Err(format!("qemu still running after {} s", limit.as_secs())),
        }
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        if !self.exited {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
            let _ = self.exit.recv_timeout(Duration::from_secs(10));
        }
    }
}

/// A free TCP port on the host's loopback (the kernel's pick, released at once).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn pattern(i: usize) -> u8 {
    (i.wrapping_mul(7) ^ (i >> 9)) as u8
}

/// Sends `len` patterned bytes to the echo server at `addr`, half-closes, and
/// checks that exactly the same bytes come back.
fn echo_exchange(addr: SocketAddr, len: usize) -> Result<Duration, String> {
    let started = Instant::now();
    let mut conn = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| format!("connect to {addr}: {e}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    let mut reader = conn.try_clone().map_err(|e| e.to_string())?;
    let receiving = thread::spawn(move || {
        let mut got = Vec::with_capacity(len);
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return Ok(got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => return Err(format!("read after {} bytes: {e}", got.len())),
            }
        }
    });
    let data: Vec<u8> = (0..len).map(pattern).collect();
    conn.write_all(&data).map_err(|e| format!("write: {e}"))?;
    conn.shutdown(std::net::Shutdown::Write)
        .map_err(|e| format!("half-close: {e}"))?;
    let got = receiving
        .join()
        .map_err(|_| "the reading thread panicked".to_owned())??;
    if got != data {
        let at = got.iter().zip(&data).position(|(a, b)| a != b);
        return Err(format!(
            "echo differs: {} bytes back of {len}, first difference at {at:?}",
            got.len()
        ));
    }
    Ok(started.elapsed())
}

/// `cargo xtask qemu echo`: the generic echo server in firmware, over QEMU's user
/// networking (DHCP), checked from the host with a short echo and 1 MiB.
pub(crate) fn echo() -> Result<(), String> {
    let elf = build("echo")?;
    let port = free_port()?;
    let network = vec![
        "-netdev".to_owned(),
        format!("user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:7"),
        "-net".to_owned(),
        "nic,netdev=n0,model=lan9118".to_owned(),
    ];
    let mut qemu = Qemu::start(&elf, &network)?;
    let ready = qemu.wait_for("portnet-echo ready", Duration::from_secs(60))?;
    eprintln!("firmware: {ready}");
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let short = echo_exchange(addr, 13)?;
    let bulk = echo_exchange(addr, 1 << 20)?;
    let status = qemu.wait_exit(Duration::from_secs(30))?;
    if status != 0 {
        return Err(format!("the echo firmware exited with status {status}"));
    }
    eprintln!(
        "qemu echo: 13 bytes in {:.1} ms, 1 MiB in {:.2} s ({:.2} MiB/s), firmware exited 0",
        short.as_secs_f64() * 1e3,
        bulk.as_secs_f64(),
        1.0 / bulk.as_secs_f64()
    );
    Ok(())
}

/// A mosquitto broker on the host's loopback, started with a config written
/// here and stopped by PID when dropped.
struct Mosquitto {
    child: std::process::Child,
    port: u16,
    _dir: TempDir,
}

/// A directory removed when dropped.
struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Mosquitto {
    fn start() -> Result<Self, String> {
        let port = free_port()?;
        let dir =
            std::env::temp_dir().join(format!("portnet-xtask-mosquitto-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let dir = TempDir(dir);
        let config = dir.0.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
        )
        .map_err(|e| e.to_string())?;
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start mosquitto: {e}"))?;
        let broker = Self {
            child,
            port,
            _dir: dir,
        };
        // Ready when it accepts a connection: bounded connect probes.
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        for _ in 0..100 {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(broker);
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!("mosquitto did not listen on {addr}"))
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `cargo xtask qemu mqtt`: portnet's MQTT client in firmware against mosquitto
/// on the host: MQTT 3.1.1 and 5.0, publish and receive at QoS 0, 1 and 2.
pub(crate) fn mqtt() -> Result<(), String> {
    let elf = build("mqtt")?;
    let broker = Mosquitto::start()?;
    let network = vec![
        "-netdev".to_owned(),
        "user,id=n0".to_owned(),
        "-net".to_owned(),
        "nic,netdev=n0,model=lan9118".to_owned(),
    ];
    let mut qemu = Qemu::start(&elf, &network)?;
    qemu.wait_for("portnet-mqtt firmware at", Duration::from_secs(60))?;
    qemu.type_in(&format!("{}\n", broker.port))?;
    let status = qemu.wait_exit(Duration::from_secs(180))?;
    if status != 0 {
        return Err(format!("the MQTT firmware exited with status {status}"));
    }
    eprintln!("qemu mqtt: 3.1.1 and 5.0, QoS 0/1/2 published and received, firmware exited 0");
    Ok(())
}
