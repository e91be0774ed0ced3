//! Firmware in QEMU's `mps2-an385`: build it, run it, talk to it from the host,
//! and stop QEMU (by PID) whatever happens.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::output;

/// The firmware target.
pub(crate) const TARGET: &str = "thumbv7m-none-eabi";

/// Builds a firmware example of `portnet-board-mps2-an385` in release mode and
/// returns the path of its ELF file.
pub(crate) fn build(example: &str) -> Result<String, String> {
    build_with(example, "release", &[])
}

/// Builds a firmware example of `portnet-board-mps2-an385` with cargo profile
/// `profile` and extra cargo arguments `features` (feature selection), and
/// returns the path of its ELF file.
fn build_with(example: &str, profile: &str, features: &[&str]) -> Result<String, String> {
    let mut args = vec![
        "build",
        "-q",
        "--profile",
        profile,
        "-p",
        "portnet-board-mps2-an385",
        "--example",
        example,
        "--target",
        TARGET,
    ];
    args.extend_from_slice(features);
    super::run("cargo", &args, &[])?;
    Ok(format!(
        "{}/{TARGET}/{profile}/examples/{example}",
        super::target_dir()
    ))
}

/// A QEMU process.
pub(crate) type Qemu = Watched;

/// A child process (QEMU, a helper), killed by PID when dropped if still
/// running, with its output lines and its exit status as events.
pub(crate) struct Watched {
    pub(crate) pid: u32,
    stdin: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Every line read so far.
    seen: Vec<String>,
    exit: mpsc::Receiver<Option<i32>>,
    exited: bool,
}

impl Watched {
    /// Starts `qemu-system-arm` on `elf` with `network` arguments.
    pub(crate) fn start(elf: &str, network: &[String]) -> Result<Self, String> {
        let mut command = Command::new("qemu-system-arm");
        command
            .args(["-M", "mps2-an385", "-nographic"])
            .args(["-semihosting-config", "enable=on,target=native"])
            .args(network)
            .args(["-kernel", elf]);
        Self::spawn(command, "qemu")
    }

    /// Starts `command` with piped standard streams; its output lines are
    /// echoed as `  LABEL| line`.
    pub(crate) fn spawn(mut command: Command, label: &'static str) -> Result<Self, String> {
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start {program}: {e}"))?;
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().ok_or("the child's stdout")?;
        let stderr = child.stderr.take().ok_or("the child's stderr")?;
        for stream in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
            let tx = tx.clone();
            thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("  {label:>7}| {line}");
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
            seen: Vec::new(),
            exit,
            exited: false,
        })
    }

    /// Waits for an output line starting with `prefix`, at most `limit`.
    pub(crate) fn wait_for(&mut self, prefix: &str, limit: Duration) -> Result<String, String> {
        self.wait_until(|line| line.starts_with(prefix), prefix, limit)
    }

    /// Waits for an output line that contains every one of `parts`, at most
    /// `limit`.
    pub(crate) fn wait_containing(
        &mut self,
        parts: &[&str],
        limit: Duration,
    ) -> Result<String, String> {
        self.wait_until(
            |line| parts.iter().all(|part| line.contains(part)),
            &parts.join(" … "),
            limit,
        )
    }

    /// Waits for an output line for which `wanted` holds, at most `limit`;
    /// `what` describes it for the error.
    pub(crate) fn wait_until(
        &mut self,
        wanted: impl Fn(&str) -> bool,
        what: &str,
        limit: Duration,
    ) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if wanted(&line) => {
                    self.seen.push(line.clone());
                    return Ok(line);
                }
                Ok(line) => self.seen.push(line),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(format!("no line {what:?} within {} s", limit.as_secs()));
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(format!("the process ended before printing {what:?}"));
                }
            }
        }
    }

    /// Every line read so far, in order.
    pub(crate) fn seen(&self) -> &[String] {
        &self.seen
    }

    /// Types `text` on the board's console (UART0), or the child's standard input.
    pub(crate) fn type_in(&mut self, text: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("qemu's stdin is closed")?;
        stdin
            .write_all(text.as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("writing to the child's input: {e}"))
    }

    /// The lines QEMU's LAN9118 model printed about accesses it does not
    /// implement (it stops the emulator for some, and only complains about
    /// others, such as unknown PHY registers). Call after QEMU has exited.
    pub(crate) fn lan9118_complaints(&mut self) -> Vec<String> {
        // The output ends (the channel disconnects) once QEMU has exited.
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line);
        }
        self.seen
            .iter()
            .filter(|line| line.contains("lan9118"))
            .cloned()
            .collect()
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

impl Watched {
    /// Stops the process by PID (SIGKILL) if it is still running, and waits
    /// (at most 10 s) for it to exit.
    pub(crate) fn stop(&mut self) {
        if !self.exited {
            let _ = Command::new("kill")
                .args(["-KILL", &self.pid.to_string()])
                .status();
            let _ = self.exit.recv_timeout(Duration::from_secs(10));
            self.exited = true;
        }
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A free TCP port on the host's loopback (the kernel's pick, released at once).
pub(crate) fn free_port() -> Result<u16, String> {
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

/// CPU time (user + system) `pid` has used, from `/proc`; `None` off Linux.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let per_second: u64 = output("getconf", &["CLK_TCK"])?.trim().parse().ok()?;
    Some(Duration::from_millis(ticks * 1000 / per_second.max(1)))
}

/// How busy QEMU is while the firmware waits for a connection: its CPU time
/// over one second of wall time. A figure for the report, not a check (the
/// host's load moves it).
fn idle_load(pid: u32) -> Option<f64> {
    let before = cpu_time(pid)?;
    let started = Instant::now();
    thread::sleep(Duration::from_secs(1));
    let used = cpu_time(pid)?.saturating_sub(before);
    Some(used.as_secs_f64() / started.elapsed().as_secs_f64())
}

/// The exchanges `cargo xtask qemu echo` makes, in order: a short echo, a few
/// KiB of odd length, and 1 MiB. The firmware serves exactly this many
/// connections (`CONNECTIONS` in `examples/echo.rs`), then exits.
const ECHO_LENGTHS: [usize; 3] = [13, 4 * 1024 + 1, 1 << 20];

/// `cargo xtask qemu echo`: the generic echo server in firmware, over QEMU's user
/// networking (DHCP), checked from the host with a short echo, 4 KiB and 1 MiB
/// of patterned bytes.
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
    let idle = idle_load(qemu.pid);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut took = Vec::new();
    for len in ECHO_LENGTHS {
        took.push(echo_exchange(addr, len)?);
    }
    let status = qemu.wait_exit(Duration::from_secs(30))?;
    if status != 0 {
        return Err(format!("the echo firmware exited with status {status}"));
    }
    let complaints = qemu.lan9118_complaints();
    if !complaints.is_empty() {
        return Err(format!(
            "QEMU's LAN9118 model complained about the driver: {complaints:?}"
        ));
    }
    let bulk = took[2].as_secs_f64();
    eprintln!(
        "qemu echo: 13 bytes in {:.1} ms, 4097 bytes in {:.1} ms, 1 MiB in {bulk:.2} s \
         ({:.2} MiB/s), firmware exited 0",
        took[0].as_secs_f64() * 1e3,
        took[1].as_secs_f64() * 1e3,
        1.0 / bulk
    );
    match idle {
        Some(load) => eprintln!(
            "qemu echo: QEMU used {:.0} % of a core while the firmware waited",
            load * 100.0
        ),
        None => eprintln!("qemu echo: QEMU's CPU time is not readable here"),
    }
    let size = firmware_size(&elf)?;
    eprintln!(
        "qemu echo: firmware {elf}: flash {} B (text {} + rodata {} + data {}), RAM {} B (data {} + bss {})",
        size.text + size.rodata + size.data,
        size.text,
        size.rodata,
        size.data,
        size.data + size.bss,
        size.data,
        size.bss
    );
    Ok(())
}

/// The 1 MiB echo rate (MiB/s, measured from the host) of an echo firmware
/// already built at `elf`, after the same short and odd-length exchanges as
/// `cargo xtask qemu echo`; checks the echoes and the firmware's exit.
pub(crate) fn echo_rate(elf: &str) -> Result<f64, String> {
    let port = free_port()?;
    let network = vec![
        "-netdev".to_owned(),
        format!("user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:7"),
        "-net".to_owned(),
        "nic,netdev=n0,model=lan9118".to_owned(),
    ];
    let mut qemu = Qemu::start(elf, &network)?;
    qemu.wait_for("portnet-echo ready", Duration::from_secs(60))?;
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut took = Vec::new();
    for len in ECHO_LENGTHS {
        took.push(echo_exchange(addr, len)?);
    }
    let status = qemu.wait_exit(Duration::from_secs(30))?;
    if status != 0 {
        return Err(format!("{elf} exited with status {status}"));
    }
    Ok(1.0 / took[2].as_secs_f64())
}

/// A firmware's section sizes in bytes, read from its ELF file.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct FirmwareSize {
    /// Code, with the vector table (`.vector_table`, `.text`).
    pub(crate) text: u64,
    /// Constants (`.rodata`).
    pub(crate) rodata: u64,
    /// Initialised statics (`.data`): in flash and copied to RAM.
    pub(crate) data: u64,
    /// Zeroed statics (`.bss`, `.uninit`).
    pub(crate) bss: u64,
}

/// Reads the allocated sections of a 32-bit little-endian ELF file.
pub(crate) fn firmware_size(path: &str) -> Result<FirmwareSize, String> {
    let elf = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    elf_sections(&elf).ok_or_else(|| format!("{path} is not a 32-bit little-endian ELF file"))
}

fn elf_sections(elf: &[u8]) -> Option<FirmwareSize> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(elf.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?));
    // ELFCLASS32, ELFDATA2LSB.
    if elf.get(..6)? != b"\x7fELF\x01\x01" {
        return None;
    }
    let table = u32_at(0x20)? as usize;
    let entry_size = usize::from(u16_at(0x2e)?);
    let count = usize::from(u16_at(0x30)?);
    let names = usize::from(u16_at(0x32)?);
    if entry_size < 40 || count > 4096 {
        return None;
    }
    let header = |i: usize| table.checked_add(i.checked_mul(entry_size)?);
    let names_offset = u32_at(header(names)? + 0x10)? as usize;
    let mut size = FirmwareSize::default();
    for i in 0..count {
        let at = header(i)?;
        let flags = u32_at(at + 0x08)?;
        const SHF_ALLOC: u32 = 2;
        if flags & SHF_ALLOC == 0 {
            continue;
        }
        let name_at = names_offset.checked_add(u32_at(at)? as usize)?;
        let name_len = elf.get(name_at..)?.iter().position(|&b| b == 0)?;
        let name = std::str::from_utf8(elf.get(name_at..name_at + name_len)?).ok()?;
        let bytes = u64::from(u32_at(at + 0x14)?);
        match name {
            ".vector_table" | ".text" => size.text += bytes,
            ".rodata" => size.rodata += bytes,
            ".data" => size.data += bytes,
            ".bss" | ".uninit" => size.bss += bytes,
            _ => {}
        }
    }
    Some(size)
}

/// A mosquitto broker on the host's loopback, started with a config written
/// here and stopped by PID (SIGTERM, then SIGKILL if it lingers) when dropped.
pub(crate) struct Mosquitto {
    child: Option<std::process::Child>,
    pub(crate) port: u16,
    config: std::path::PathBuf,
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
    /// A broker without persistence.
    pub(crate) fn start() -> Result<Self, String> {
        Self::with_persistence(false)
    }

    /// A broker that saves its sessions (subscriptions, queued QoS 1/2
    /// messages) in its own directory when stopped, and reads them back on
    /// [`Mosquitto::restart`].
    pub(crate) fn start_persistent() -> Result<Self, String> {
        Self::with_persistence(true)
    }

    fn with_persistence(persistent: bool) -> Result<Self, String> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static COUNT: AtomicU32 = AtomicU32::new(0);
        let port = free_port()?;
        let dir = std::env::temp_dir().join(format!(
            "portnet-xtask-mosquitto-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        // mosquitto started as root drops to its own user: let it write here.
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777))
                .map_err(|e| e.to_string())?;
        }
        let dir = TempDir(dir);
        let config = dir.0.join("mosquitto.conf");
        let persistence = if persistent {
            format!(
                "persistence true\npersistence_location {}/\n",
                dir.0.display()
            )
        } else {
            "persistence false\n".to_owned()
        };
        std::fs::write(
            &config,
            format!("listener {port} 127.0.0.1\nallow_anonymous true\n{persistence}"),
        )
        .map_err(|e| e.to_string())?;
        let mut broker = Self {
            child: None,
            port,
            config,
            _dir: dir,
        };
        broker.launch()?;
        Ok(broker)
    }

    /// The broker's process id (0 while stopped).
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, std::process::Child::id)
    }

    fn launch(&mut self) -> Result<(), String> {
        let child = Command::new("mosquitto")
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start mosquitto: {e} (run `cargo xtask setup`)"))?;
        self.child = Some(child);
        // Ready when it accepts a connection: bounded connect probes.
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        for _ in 0..100 {
            if TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(std::process::Child::try_wait) {
                return Err(format!("mosquitto exited at start: {status}"));
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!("mosquitto did not listen on {addr}"))
    }

    /// Stops the broker by PID with SIGTERM (it saves its sessions and closes
    /// its connections), SIGKILL if it has not exited within 10 s.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        // Bounded wait for the exit (a child's exit has no event to block on
        // with a timeout in std).
        for _ in 0..500 {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops the broker and starts it again on the same port and data.
    pub(crate) fn restart(&mut self) -> Result<(), String> {
        self.stop();
        self.launch()
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// QEMU's user networking on the board's LAN9118: the firmware gets
/// 10.0.2.15 by DHCP and reaches the host's loopback at 10.0.2.2.
pub(crate) fn user_network() -> Vec<String> {
    [
        "-netdev",
        "user,id=n0",
        "-net",
        "nic,netdev=n0,model=lan9118",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// `cargo xtask qemu mqtt`: portnet's MQTT client in firmware against mosquitto
/// on the host: MQTT 3.1.1 and 5.0, publish and receive at QoS 0, 1 and 2.
pub(crate) fn mqtt() -> Result<(), String> {
    let elf = build("mqtt")?;
    let broker = Mosquitto::start()?;
    let network = user_network();
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

/// `cargo xtask qemu slip`: the generic echo server in firmware over SLIP on
/// the board's UART1, served to the generic echo client on a hosted smoltcp
/// stack at the other end of the line (a test of `portnet-conformance-runner`,
/// which has the host end).
pub(crate) fn slip() -> Result<(), String> {
    slip_with("slip")
}

/// `cargo xtask qemu slip-lwip`: the same echo firmware with lwIP as the stack
/// on the line (feature `lwip`: an IP-medium netif over SLIP on UART1), the same
/// host end and checks.
pub(crate) fn slip_lwip() -> Result<(), String> {
    slip_with("slip,lwip")
}

/// Builds `slip_echo` with `features` and runs the `qemu_slip` test on it.
fn slip_with(features: &str) -> Result<(), String> {
    let elf = build_with("slip_echo", "release", &["--features", features])?;
    let elf = std::fs::canonicalize(&elf).map_err(|e| format!("{elf}: {e}"))?;
    let elf = elf.to_str().ok_or("the firmware's path is not UTF-8")?;
    super::run(
        "cargo",
        &[
            "test",
            "-q",
            "-p",
            "portnet-conformance-runner",
            "--test",
            "qemu_slip",
            "--",
            "--nocapture",
        ],
        &[("PORTNET_SLIP_FIRMWARE", elf)],
    )
}

/// The micro:bit's firmware target (Cortex-M0).
pub(crate) const MICROBIT_TARGET: &str = "thumbv6m-none-eabi";

/// Builds a firmware example of `portnet-board-microbit` in release mode with
/// extra cargo arguments `features`, and returns the path of its ELF file.
pub(crate) fn build_microbit(example: &str, features: &[&str]) -> Result<String, String> {
    let mut args = vec![
        "build",
        "-q",
        "--release",
        "-p",
        "portnet-board-microbit",
        "--example",
        example,
        "--target",
        MICROBIT_TARGET,
    ];
    args.extend_from_slice(features);
    super::run("cargo", &args, &[])?;
    Ok(format!(
        "{}/{MICROBIT_TARGET}/release/examples/{example}",
        super::target_dir()
    ))
}

/// Prints a firmware's flash and RAM as `size` does (text, data, bss), and
/// fails if its statics leave less than `stack_reserve` bytes of the board's
/// `ram` for the stack.
pub(crate) fn print_size(
    label: &str,
    elf: &str,
    ram: u64,
    stack_reserve: u64,
) -> Result<FirmwareSize, String> {
    let size = firmware_size(elf)?;
    let statics = size.data + size.bss;
    eprintln!(
        "{label}: {elf}: text {} data {} bss {} (flash {} B, static RAM {} B of {} B, {} B left for the stack)",
        size.text + size.rodata,
        size.data,
        size.bss,
        size.text + size.rodata + size.data,
        statics,
        ram,
        ram.saturating_sub(statics)
    );
    if statics + stack_reserve > ram {
        return Err(format!(
            "{label}: {statics} B of statics leave less than {stack_reserve} B of the {ram} B of RAM for the stack"
        ));
    }
    Ok(size)
}

/// The micro:bit's RAM (QEMU's model enforces it).
pub(crate) const MICROBIT_RAM: u64 = 16 * 1024;
/// The stack the micro:bit's firmware needs at least (smoltcp's poll is the
/// deepest path).
const MICROBIT_STACK: u64 = 4 * 1024;

/// `cargo xtask qemu microbit-slip`: the generic echo server in firmware on the
/// micro:bit, over SLIP on its one UART, served to the generic echo client on
/// a hosted smoltcp stack at the other end of the line.
pub(crate) fn microbit_slip() -> Result<(), String> {
    let elf = build_microbit("slip_echo", &[])?;
    print_size("qemu microbit-slip", &elf, MICROBIT_RAM, MICROBIT_STACK)?;
    let elf = std::fs::canonicalize(&elf).map_err(|e| format!("{elf}: {e}"))?;
    let elf = elf.to_str().ok_or("the firmware's path is not UTF-8")?;
    super::run(
        "cargo",
        &[
            "test",
            "-q",
            "-p",
            "portnet-conformance-runner",
            "--test",
            "qemu_slip",
            "--",
            "--nocapture",
        ],
        &[
            ("PORTNET_SLIP_FIRMWARE", elf),
            ("PORTNET_SLIP_MACHINE", "microbit"),
        ],
    )
}

/// Bounds of the sensor node tasks' waits: for the firmware to boot and
/// subscribe, and for each later event (reached only on failure).
const BOOT: Duration = Duration::from_secs(60);
const EVENT: Duration = Duration::from_secs(30);

/// The parts the micro:bit's conformance firmware is built as: the suite does
/// not fit 256 KiB of flash in one image (`boards/microbit/examples/conformance.rs`).
const MICROBIT_CONFORMANCE_PARTS: usize = 6;

/// The least stack the xtask lets the conformance firmware's statics leave
/// (the heap is one of them). Not what it needs: today's parts leave 4.1 KiB
/// and overflow it (docs/boards/microbit.md, "The conformance row").
const MICROBIT_CONFORMANCE_STACK: u64 = 4 * 1024;

/// `cargo xtask qemu microbit-conformance [--quick]`: the conformance suite in
/// the micro:bit's firmware, built once per part (`PORTNET_CONFORMANCE_PART`),
/// each part's flash and RAM printed, then the runner's row `microbit (qemu)`
/// on all of them (one QEMU at a time). `quick` builds and runs part 0 only:
/// the cases it does not hold are then reported as not run.
pub(crate) fn microbit_conformance(quick: bool) -> Result<(), String> {
    let parts = if quick { 1 } else { MICROBIT_CONFORMANCE_PARTS };
    let dir = format!("{}/microbit-conformance", super::target_dir());
    std::fs::create_dir_all(&dir).map_err(|e| format!("{dir}: {e}"))?;
    let mut elves = Vec::new();
    for part in 0..parts {
        let part_env = part.to_string();
        let parts_env = MICROBIT_CONFORMANCE_PARTS.to_string();
        super::run(
            "cargo",
            &[
                "build",
                "-q",
                "--profile",
                "firmware-small",
                "-p",
                "portnet-board-microbit",
                "--example",
                "conformance",
                "--features",
                "udp",
                "--target",
                MICROBIT_TARGET,
            ],
            &[
                ("PORTNET_CONFORMANCE_PART", part_env.as_str()),
                ("PORTNET_CONFORMANCE_PARTS", parts_env.as_str()),
            ],
        )?;
        let built = format!(
            "{}/{MICROBIT_TARGET}/firmware-small/examples/conformance",
            super::target_dir()
        );
        let elf = format!("{dir}/part-{part}");
        std::fs::copy(&built, &elf).map_err(|e| format!("{built} -> {elf}: {e}"))?;
        print_size(
            &format!("qemu microbit-conformance part {part}/{MICROBIT_CONFORMANCE_PARTS}"),
            &elf,
            MICROBIT_RAM,
            MICROBIT_CONFORMANCE_STACK,
        )?;
        let elf = std::fs::canonicalize(&elf).map_err(|e| format!("{elf}: {e}"))?;
        elves.push(elf);
    }
    let list = std::env::join_paths(&elves).map_err(|e| format!("the parts' paths: {e}"))?;
    let list = list.to_str().ok_or("the parts' paths are not UTF-8")?;
    let mut args = vec![
        "run",
        "-q",
        "--release",
        "-p",
        "portnet-conformance-runner",
        "--",
        "--backend",
        "microbit (qemu)",
    ];
    let report = format!("{}/conformance-microbit.json", super::target_dir());
    args.extend(["--json", report.as_str()]);
    let result = super::run("cargo", &args, &[("PORTNET_MICROBIT_FIRMWARE", list)]);
    if quick {
        // Part 0 alone leaves the other parts' cases unreported, which the
        // runner counts as failures: the quick form checks part 0's cases.
        return check_part_report(&report);
    }
    result
}

/// Fails if any case that was reported (by the parts that ran) failed.
fn check_part_report(report: &str) -> Result<(), String> {
    let json = std::fs::read_to_string(report).map_err(|e| format!("{report}: {e}"))?;
    let failed: Vec<&str> = json
        .split("{\"backend\"")
        .filter(|row| row.contains("\"outcome\":\"fail\"") && !row.contains("not reported"))
        .collect();
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "qemu microbit-conformance --quick: {} failing rows in {report}",
            failed.len()
        ))
    }
}

/// The stack the sensor node needs on the micro:bit: its measured peak
/// (`board::stack_use`, printed by the firmware) is 7.9 KiB.
const MICROBIT_SENSOR_STACK: u64 = 8 * 1024;

/// `cargo xtask qemu microbit-sensor`: the sensor node (`examples/iot-sensor`'s
/// application, the micro:bit's entry point) in QEMU's `microbit`, over SLIP
/// to the hosted SLIP peer (`portnet-conformance-runner`'s `slip_peer`), which
/// forwards its MQTT connection to mosquitto on the host; `iot-monitor` sees
/// its QoS 1 telemetry and sends it a command, whose effect the telemetry
/// then reports.
pub(crate) fn microbit_sensor() -> Result<(), String> {
    const DEVICE_ID: &str = "microbit-1";
    let started = Instant::now();
    let elf = build_microbit("iot_sensor", &[])?;
    print_size(
        "qemu microbit-sensor",
        &elf,
        MICROBIT_RAM,
        MICROBIT_SENSOR_STACK,
    )?;
    for args in [
        &[
            "build",
            "-q",
            "-p",
            "portnet-conformance-runner",
            "--example",
            "slip_peer",
        ][..],
        &[
            "build",
            "-q",
            "-p",
            "portnet-iot-sensor",
            "--bin",
            "iot-monitor",
        ],
    ] {
        super::run("cargo", args, &[])?;
    }
    let broker = Mosquitto::start()?;
    let mut peer_command =
        Command::new(format!("{}/debug/examples/slip_peer", super::target_dir()));
    peer_command.arg(broker.port.to_string());
    let mut peer = Watched::spawn(peer_command, "peer")?;
    let line = peer.wait_for("slip-peer: line on 127.0.0.1:", Duration::from_secs(10))?;
    let line_port = line
        .rsplit(':')
        .next()
        .and_then(|port| port.trim().parse::<u16>().ok())
        .ok_or_else(|| format!("no port in {line:?}"))?;
    let mut qemu_command = Command::new("qemu-system-arm");
    qemu_command
        .args(["-M", "microbit", "-display", "none", "-monitor", "none"])
        .args(["-semihosting-config", "enable=on,target=native"])
        .args(["-serial", &format!("tcp:127.0.0.1:{line_port}")])
        .args(["-kernel", &elf]);
    let mut board = Watched::spawn(qemu_command, "qemu")?;
    let booted = Instant::now();
    board.wait_for(
        &format!("iot-sensor: subscribed to portnet/{DEVICE_ID}/command"),
        BOOT,
    )?;
    let subscribed = booted.elapsed();
    telemetry_and_command(&mut board, broker.port, DEVICE_ID, EVENT)?;
    board.stop();
    peer.stop();
    let peak = board
        .seen()
        .iter()
        .rev()
        .find(|line| line.contains("stack peak"))
        .cloned()
        .unwrap_or_default();
    eprintln!(
        "qemu microbit-sensor: subscribed {:.1} s after boot; QoS 1 telemetry seen by the monitor, \
         `leds 2` lit LED 2 of the matrix (GPIO OUT read back) and the telemetry reported it; {:.0} s in all",
        subscribed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    eprintln!(
        "qemu microbit-sensor: {}",
        peak.trim_start_matches("iot-sensor: ")
    );
    Ok(())
}

/// Builds `iot-monitor`, the sensor node's MQTT subscriber and commander
/// (host, debug).
pub(crate) fn build_monitor() -> Result<(), String> {
    super::run(
        "cargo",
        &[
            "build",
            "-q",
            "-p",
            "portnet-iot-sensor",
            "--bin",
            "iot-monitor",
        ],
        &[],
    )
}

/// The sensor node's round trip, once `board` has subscribed: `iot-monitor`
/// on the broker at loopback port `broker` sees two QoS 1 telemetry messages
/// from `device`, sends `leds 2`, the board reports the command and the LED
/// read back, and the next telemetry says so. Each event within `limit`.
fn telemetry_and_command(
    board: &mut Watched,
    broker: u16,
    device: &str,
    limit: Duration,
) -> Result<(), String> {
    let mut command = Command::new(format!("{}/debug/iot-monitor", super::target_dir()));
    command.args(["--broker", &format!("127.0.0.1:{broker}"), "--id", device]);
    let mut monitor = Watched::spawn(command, "monitor")?;
    monitor.wait_for("monitor: connected", limit)?;
    monitor.wait_for("monitor: telemetry {", limit)?;
    monitor.wait_for("monitor: telemetry {", limit)?;
    monitor.type_in("leds 2\n")?;
    board.wait_containing(&["command \"leds 2\"", "leds 0b10"], limit)?;
    monitor.wait_containing(&["monitor: telemetry", "\"leds\":2"], limit)?;
    monitor.stop();
    Ok(())
}

/// The most `.data` the lwIP sensor node may have (4.3 KB of it is the
/// application's `NodeStorage`).
const LWIP_SENSOR_DATA: u64 = 16 * 1024;

/// `cargo xtask qemu sensor-lwip`: the sensor node on mps2-an385 with the
/// board's feature `lwip` (the same `examples/iot_sensor.rs` and application,
/// lwIP instead of smoltcp) in QEMU with user networking, against mosquitto on
/// the host: the firmware must say it runs lwIP, `iot-monitor` sees its QoS 1
/// telemetry and sends it a command, whose effect the telemetry then reports.
/// Prints both variants' flash and RAM.
pub(crate) fn sensor_lwip() -> Result<(), String> {
    const DEVICE_ID: &str = "board-1";
    let started = Instant::now();
    // The smoltcp variant first: both builds land on the same ELF path.
    let smoltcp = firmware_size(&build("iot_sensor")?)?;
    let elf = build_with("iot_sensor", "release", &["--features", "lwip"])?;
    let lwip = firmware_size(&elf)?;
    // lwIP's pools and portnet-lwip's state are zero-initialised: a non-zero
    // initialiser would move them (tens of KB) into `.data`, so into flash too.
    if lwip.data > LWIP_SENSOR_DATA {
        return Err(format!(
            "the lwIP sensor node has {} B of .data (at most {LWIP_SENSOR_DATA}): a large static of lwIP's or portnet-lwip's has a non-zero initialiser",
            lwip.data
        ));
    }
    for (stack, size) in [("smoltcp", &smoltcp), ("lwIP", &lwip)] {
        eprintln!(
            "qemu sensor-lwip: iot_sensor on {stack:7}: text {} data {} bss {} (flash {} B, static RAM {} B)",
            size.text + size.rodata,
            size.data,
            size.bss,
            size.text + size.rodata + size.data,
            size.data + size.bss
        );
    }
    build_monitor()?;
    let broker = Mosquitto::start()?;
    let network = user_network();
    let mut board = Qemu::start(&elf, &network)?;
    let booted = Instant::now();
    let address = board.wait_for("iot-sensor: address", BOOT)?;
    if !address.contains("lwIP") {
        return Err(format!(
            "the firmware built with feature `lwip` does not run lwIP: {address:?}"
        ));
    }
    board.type_in(&format!("{}\n", broker.port))?;
    board.wait_for(
        &format!("iot-sensor: subscribed to portnet/{DEVICE_ID}/command"),
        EVENT,
    )?;
    let subscribed = booted.elapsed();
    telemetry_and_command(&mut board, broker.port, DEVICE_ID, EVENT)?;
    board.stop();
    let complaints = board.lan9118_complaints();
    if !complaints.is_empty() {
        return Err(format!(
            "QEMU's LAN9118 model complained about the driver: {complaints:?}"
        ));
    }
    eprintln!(
        "qemu sensor-lwip: the sensor node on lwIP subscribed {:.1} s after boot; QoS 1 telemetry seen by the monitor, \
         `leds 2` lit LED 2 (FPGAIO read back) and the telemetry reported it; {:.0} s in all",
        subscribed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// One firmware build measured by [`size`].
struct SizeBuild {
    example: &'static str,
    what: &'static str,
    features: &'static [&'static str],
    /// Run in QEMU against a host peer: the first line the firmware prints
    /// with the answer, and the peer.
    check: Option<(&'static str, StartPeer)>,
}

type PeerThread = thread::JoinHandle<Result<(), String>>;

/// Starts a host peer on a loopback port.
type StartPeer = fn(u16) -> Result<PeerThread, String>;

const SIZE_BUILDS: [SizeBuild; 4] = [
    SizeBuild {
        example: "tcp_client",
        what: "TCP client, IPv4 only, static address",
        features: &["--no-default-features", "--features", "tcp"],
        check: Some(("portnet-tcp-client got", tcp_upper_case_peer)),
    },
    SizeBuild {
        example: "udp_client",
        what: "UDP only, IPv4, static address",
        features: &["--no-default-features", "--features", "udp"],
        check: Some(("portnet-udp-client got", udp_upper_case_peer)),
    },
    SizeBuild {
        example: "tcp_client",
        what: "the same TCP client, default features",
        features: &[],
        check: Some(("portnet-tcp-client got", tcp_upper_case_peer)),
    },
    SizeBuild {
        example: "echo",
        what: "echo server with DHCP, default features",
        features: &[],
        check: None,
    },
];

/// A TCP peer on loopback port `port` for the `tcp_client` firmware: reads
/// to the end, answers in upper case, closes.
fn tcp_upper_case_peer(port: u16) -> Result<PeerThread, String> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .map_err(|e| format!("TCP peer on port {port}: {e}"))?;
    Ok(thread::spawn(move || {
        let (mut conn, _) = listener.accept().map_err(|e| e.to_string())?;
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        let mut line = Vec::new();
        conn.read_to_end(&mut line)
            .map_err(|e| format!("reading the firmware's line: {e}"))?;
        conn.write_all(&line.to_ascii_uppercase())
            .map_err(|e| format!("answering: {e}"))
    }))
}

/// A UDP peer on loopback port `port` for the `udp_client` firmware: answers
/// every datagram in upper case, until nothing comes for 5 s.
fn udp_upper_case_peer(port: u16) -> Result<PeerThread, String> {
    let socket = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, port))
        .map_err(|e| format!("UDP peer on port {port}: {e}"))?;
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    Ok(thread::spawn(move || {
        let mut answered = 0;
        let mut buf = [0u8; 512];
        // Bounded: the firmware sends at most a handful of datagrams.
        for _ in 0..32 {
            match socket.recv_from(&mut buf) {
                Ok((len, from)) => {
                    socket
                        .send_to(&buf[..len].to_ascii_uppercase(), from)
                        .map_err(|e| format!("answering: {e}"))?;
                    answered += 1;
                }
                Err(_) if answered > 0 => return Ok(()),
                Err(e) => return Err(format!("no datagram from the firmware: {e}")),
            }
        }
        Ok(())
    }))
}

/// `cargo xtask qemu size`: code and RAM of minimal builds of the smoltcp
/// backend on the board, each run in QEMU against a host peer where it has
/// one, with the `firmware` profile (opt-level "s", LTO, one codegen unit).
pub(crate) fn size() -> Result<(), String> {
    let mut rows = Vec::new();
    for build in &SIZE_BUILDS {
        let elf = build_with(build.example, "firmware", build.features)?;
        let size = firmware_size(&elf)?;
        if let Some((answer, peer)) = build.check {
            let port = free_port()?;
            let peer = peer(port)?;
            let network = vec![
                "-netdev".to_owned(),
                "user,id=n0".to_owned(),
                "-net".to_owned(),
                "nic,netdev=n0,model=lan9118".to_owned(),
            ];
            let mut qemu = Qemu::start(&elf, &network)?;
            qemu.wait_for("portnet-", Duration::from_secs(30))?;
            qemu.type_in(&format!("{port}\n"))?;
            let line = qemu.wait_for(answer, Duration::from_secs(60))?;
            if !line.contains("HELLO FROM A") {
                return Err(format!("{}: unexpected answer: {line}", build.example));
            }
            let status = qemu.wait_exit(Duration::from_secs(30))?;
            if status != 0 {
                return Err(format!("{} exited with status {status}", build.example));
            }
            peer.join()
                .map_err(|_| "the host peer panicked".to_owned())??;
            eprintln!("qemu size: {} ({}) ran: {line}", build.example, build.what);
        }
        rows.push((build, size));
    }
    eprintln!(
        "qemu size: thumbv7m-none-eabi, profile `firmware` (opt-level \"s\", LTO, 1 codegen unit), bytes"
    );
    eprintln!("| firmware | features | text | rodata | data | bss | flash | RAM |");
    eprintln!("|---|---|---:|---:|---:|---:|---:|---:|");
    for (build, size) in rows {
        let features = if build.features.is_empty() {
            "default".to_owned()
        } else {
            build.features.join(" ")
        };
        eprintln!(
            "| `{}`: {} | `{features}` | {} | {} | {} | {} | {} | {} |",
            build.example,
            build.what,
            size.text,
            size.rodata,
            size.data,
            size.bss,
            size.text + size.rodata + size.data,
            size.data + size.bss
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 32-bit little-endian ELF file with the sections `(name, flags, size)`
    /// and a section-name table.
    fn elf(sections: &[(&str, u32, u32)]) -> Vec<u8> {
        let mut names = vec![0u8];
        let mut name_offsets = Vec::new();
        for (name, _, _) in sections.iter().chain([&(".shstrtab", 0, 0)]) {
            name_offsets.push(names.len() as u32);
            names.extend_from_slice(name.as_bytes());
            names.push(0);
        }
        let names_at = 52u32;
        let table_at = (names_at + names.len() as u32).next_multiple_of(4);
        let count = sections.len() as u16 + 2; // the null section, then ours, then .shstrtab
        let mut out = vec![0u8; 52];
        out[..6].copy_from_slice(b"\x7fELF\x01\x01");
        out[0x20..0x24].copy_from_slice(&table_at.to_le_bytes());
        out[0x2e..0x30].copy_from_slice(&40u16.to_le_bytes());
        out[0x30..0x32].copy_from_slice(&count.to_le_bytes());
        out[0x32..0x34].copy_from_slice(&(count - 1).to_le_bytes());
        out.extend_from_slice(&names);
        out.resize(table_at as usize, 0);
        let mut header = |name: u32, flags: u32, offset: u32, size: u32| {
            let mut h = [0u8; 40];
            h[0..4].copy_from_slice(&name.to_le_bytes());
            h[8..12].copy_from_slice(&flags.to_le_bytes());
            h[0x10..0x14].copy_from_slice(&offset.to_le_bytes());
            h[0x14..0x18].copy_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&h);
        };
        header(0, 0, 0, 0);
        for (i, (_, flags, size)) in sections.iter().enumerate() {
            header(name_offsets[i], *flags, 0, *size);
        }
        header(
            name_offsets[sections.len()],
            0,
            names_at,
            names.len() as u32,
        );
        out
    }

    #[test]
    fn reads_the_allocated_sections_of_a_firmware() {
        const ALLOC: u32 = 2;
        let file = elf(&[
            (".vector_table", ALLOC, 1024),
            (".text", ALLOC | 4, 100_000),
            (".rodata", ALLOC, 12_000),
            (".data", ALLOC | 1, 4_000),
            (".bss", ALLOC | 1, 400),
            (".uninit", ALLOC | 1, 8),
            (".debug_info", 0, 999_999),
            (".ARM.attributes", 0, 50),
        ]);
        assert_eq!(
            elf_sections(&file),
            Some(FirmwareSize {
                text: 101_024,
                rodata: 12_000,
                data: 4_000,
                bss: 408,
            })
        );
    }

    #[test]
    fn a_file_that_is_not_a_32_bit_elf_is_an_error_not_a_panic() {
        assert_eq!(elf_sections(b""), None);
        assert_eq!(elf_sections(b"\x7fELF\x02\x01"), None, "64-bit");
        let mut file = elf(&[(".text", 2, 10)]);
        file.truncate(file.len() - 30); // the name table's header cut short
        assert_eq!(elf_sections(&file), None);
        let mut file = elf(&[(".text", 2, 10)]);
        file[0x20..0x24].copy_from_slice(&u32::MAX.to_le_bytes()); // table past the end
        assert_eq!(elf_sections(&file), None);
    }
}
