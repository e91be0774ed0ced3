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
    pub(crate) pid: u32,
    stdin: Option<std::process::ChildStdin>,
    lines: mpsc::Receiver<String>,
    /// Every line read so far.
    seen: Vec<String>,
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
            seen: Vec::new(),
            exit,
            exited: false,
        })
    }

    /// Waits for an output line starting with `prefix`, at most `limit`.
    pub(crate) fn wait_for(&mut self, prefix: &str, limit: Duration) -> Result<String, String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => {
                    self.seen.push(line.clone());
                    return Ok(line);
                }
                Ok(line) => self.seen.push(line),
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
