//! A network namespace with a TAP device for a user-space stack, and a mosquitto
//! inside it, stopped by PID. Shared by the tests that run a broker next to the
//! smoltcp backend (`rust_mqtt.rs` here, `tls/tests/smoltcp_tap.rs`).
#![allow(dead_code, unreachable_pub, clippy::std_instead_of_core)]

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use portnet_links::tap::{Entered, NetNs, Tap};

/// A namespace `portnet-{label}-{pid}`, entered by this thread, with the TAP
/// device `tap_name` (MAC `mac`, for the stack) whose kernel side has
/// `kernel_cidr` (e.g. `10.9.1.1/24`) and is up; or why not.
pub fn namespace(
    label: &str,
    tap_name: &str,
    mac: [u8; 6],
    kernel_cidr: &str,
) -> Result<(NetNs, Entered, Tap), String> {
    let name = format!("portnet-{label}-{}", std::process::id());
    let netns = NetNs::create(&name).map_err(|e| format!("network namespace: {e}"))?;
    let entered = netns.enter().map_err(|e| format!("entering {name}: {e}"))?;
    let tap = Tap::open(tap_name, mac).map_err(|e| format!("TAP device: {e}"))?;
    for command in [
        &["ip", "addr", "add", kernel_cidr, "dev", tap_name][..],
        &["ip", "link", "set", tap_name, "up"],
    ] {
        netns
            .exec(command)
            .map_err(|e| format!("configuring {tap_name}: {e}"))?;
    }
    Ok((netns, entered, tap))
}

/// The first of `paths` that exists: a peer installed from the Debian package
/// `package` (by `cargo xtask setup`; not a user-level shim, as `ip netns exec`
/// runs as root with a plain environment).
fn installed(package: &str, paths: &[&str]) -> PathBuf {
    paths
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("{package} not found: run `cargo xtask setup` (Debian package `{package}`)")
        })
}

pub fn mosquitto_binary() -> PathBuf {
    installed(
        "mosquitto",
        &[
            "/usr/sbin/mosquitto",
            "/usr/local/sbin/mosquitto",
            "/usr/bin/mosquitto",
        ],
    )
}

/// A mosquitto in the namespace, stopped by PID when dropped.
pub struct Broker {
    child: Child,
    dir: PathBuf,
}

impl Broker {
    /// Starts mosquitto in `netns` with `listeners` (configuration lines: its
    /// listeners and their options), and waits until `probe` (a plain TCP
    /// listener among them) accepts a connection from this thread.
    pub fn start(netns: &NetNs, label: &str, listeners: &str, probe: SocketAddr) -> Self {
        let dir = std::env::temp_dir().join(format!("portnet-{label}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        // mosquitto started as root drops to its own user: let it write its log.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        let config = dir.join("mosquitto.conf");
        std::fs::write(
            &config,
            format!(
                "allow_anonymous true\npersistence false\nlog_dest file {}\nlog_type all\n{listeners}",
                dir.join("mosquitto.log").display()
            ),
        )
        .expect("write the broker's config");
        // `ip netns exec` enters the namespace and executes mosquitto in place:
        // the child's PID is mosquitto's.
        let child = Command::new("ip")
            .args(["netns", "exec", netns.name()])
            .arg(mosquitto_binary())
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mosquitto");
        let mut broker = Self { child, dir };
        broker.wait_ready(probe);
        broker
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }

    /// Waits until the broker accepts a connection from the kernel's side (this
    /// thread is in the namespace), or fails with its output.
    fn wait_ready(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    let _ = e.read_to_string(&mut err);
                }
                panic!("mosquitto exited with {status}: {err}\nlog: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not accept connections within 10 s; log: {}",
                self.log()
            );
            // Bounded poll between connection attempts while the broker starts.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A real HTTP server in the namespace (`python3 -m http.server`, Debian package
/// `python3`) serving a directory of files the test wrote, stopped by PID when
/// dropped.
pub struct Server {
    child: Child,
    dir: PathBuf,
}

impl Server {
    /// Writes `files` (name, content) into a fresh directory and serves it on
    /// `addr` from `netns`; returns once `addr` accepts a connection from this
    /// thread (which is in the namespace).
    pub fn http(netns: &NetNs, label: &str, files: &[(&str, &[u8])], addr: SocketAddr) -> Self {
        let dir = std::env::temp_dir().join(format!("portnet-http-{label}-{}", std::process::id()));
        let root = dir.join("root");
        std::fs::create_dir_all(&root).expect("temp dir");
        for (name, content) in files {
            std::fs::write(root.join(name), content).expect("write a served file");
        }
        let log = std::fs::File::create(dir.join("server.log")).expect("server log");
        // `ip netns exec` executes python3 in place: the child's PID is the server's.
        let child = Command::new("ip")
            .args(["netns", "exec", netns.name()])
            .arg(python3_binary())
            .args(["-m", "http.server", "--bind"])
            .arg(addr.ip().to_string())
            .arg("--directory")
            .arg(&root)
            .arg(addr.port().to_string())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("start python3 -m http.server");
        let mut server = Self { child, dir };
        server.wait_ready(addr);
        server
    }

    /// What the server wrote: its access log (one line per request, with the
    /// client's address).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the HTTP server exited with {status}: {}", self.log());
            }
            assert!(
                Instant::now() < deadline,
                "the HTTP server did not accept connections within 10 s: {}",
                self.log()
            );
            // Bounded poll between connection attempts while the server starts.
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Debian's python3.
pub fn python3_binary() -> PathBuf {
    installed("python3", &["/usr/bin/python3", "/usr/local/bin/python3"])
}

/// Debian's curl.
pub fn curl_binary() -> PathBuf {
    installed("curl", &["/usr/bin/curl", "/usr/local/bin/curl"])
}

/// Debian's busybox, for its DHCP client applet `udhcpc`.
pub fn busybox_binary() -> PathBuf {
    installed(
        "busybox",
        &["/usr/bin/busybox", "/bin/busybox", "/usr/local/bin/busybox"],
    )
}
