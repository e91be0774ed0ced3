//! Test harness: a real mosquitto on a free loopback port, and small helpers.
#![allow(dead_code, unreachable_pub, clippy::std_instead_of_core)]

use std::io::Read as _;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Finds the mosquitto binary, or fails the test with what to do.
pub fn mosquitto_binary() -> PathBuf {
    for candidate in [
        "/usr/sbin/mosquitto",
        "/usr/local/sbin/mosquitto",
        "/usr/bin/mosquitto",
    ] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("mosquitto");
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "mosquitto not found: the MQTT tests need a real broker. Run `cargo xtask setup` \
         (it installs the Debian package `mosquitto`; CI installs it too)."
    );
}

pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().unwrap().port()
}

fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "portnet-mqtt-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // mosquitto started as root drops to its own user: let it write its log and
    // its persistence file here.
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod temp dir");
    dir
}

/// A mosquitto broker of the test's own, stopped by PID when dropped.
pub struct Mosquitto {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    persistent: bool,
    extra: String,
}

impl Mosquitto {
    /// A broker without persistence.
    pub fn start() -> Self {
        Self::launch(free_port(), temp_dir(), false, "")
    }

    /// A broker without persistence, with more lines of configuration.
    pub fn start_with(extra: &str) -> Self {
        Self::launch(free_port(), temp_dir(), false, extra)
    }

    /// A broker that saves its sessions in its own directory.
    pub fn start_persistent() -> Self {
        Self::launch(free_port(), temp_dir(), true, "")
    }

    /// A broker with persistence and more lines of configuration.
    pub fn start_persistent_with(extra: &str) -> Self {
        Self::launch(free_port(), temp_dir(), true, extra)
    }

    fn launch(port: u16, dir: PathBuf, persistent: bool, extra: &str) -> Self {
        let binary = mosquitto_binary();
        let config = dir.join("mosquitto.conf");
        let mut text = format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest file {}\nlog_type all\n",
            dir.join("mosquitto.log").display()
        );
        if persistent {
            text += &format!(
                "persistence true\npersistence_location {}/\n",
                dir.display()
            );
        } else {
            text += "persistence false\n";
        }
        text += extra;
        std::fs::write(&config, text).expect("write config");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start mosquitto");
        let mut broker = Self {
            child: Some(child),
            port,
            dir,
            persistent,
            extra: extra.to_owned(),
        };
        broker.wait_ready();
        broker
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(self.addr()).is_ok() {
                return;
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                {
                    let mut err = String::new();
                    if let Some(mut e) = child.stderr.take() {
                        let _ = e.read_to_string(&mut err);
                    }
                    panic!("mosquitto exited with {status}: {err}\nlog: {}", self.log());
                }
            }
            assert!(
                Instant::now() < deadline,
                "mosquitto did not accept connections within 10 s"
            );
            // Bounded poll between connection attempts while the broker starts.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("mosquitto.log")).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(sig)
            .arg(self.pid().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill {sig} failed");
    }

    /// Freezes the broker (SIGSTOP): it accepts no more bytes, answers nothing.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Stops the broker cleanly (SIGTERM, after SIGCONT should it be frozen), so
    /// that it saves its sessions, and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            self.signal_child(&child, "-TERM");
            self.signal_child(&child, "-CONT");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if child.try_wait().expect("wait").is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    fn signal_child(&self, child: &Child, sig: &str) {
        let _ = Command::new("kill")
            .arg(sig)
            .arg(child.id().to_string())
            .status();
    }

    /// Kills the broker with SIGKILL (no chance to save anything), waits for it to
    /// exit, and starts it again on the same port and data; returns when the new
    /// broker accepts connections (connect probe, bounded).
    pub fn kill_and_restart(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL mosquitto");
            child.wait().expect("reap mosquitto");
        }
        let next = Self::launch(self.port, self.dir.clone(), self.persistent, &self.extra);
        let mut next = std::mem::ManuallyDrop::new(next);
        self.child = next.child.take();
    }

    /// Stops the broker cleanly and starts it again on the same port and data.
    pub fn restart(&mut self) {
        self.stop();
        let next = Self::launch(self.port, self.dir.clone(), self.persistent, &self.extra);
        let mut next = std::mem::ManuallyDrop::new(next);
        self.child = next.child.take();
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // PORTNET_KEEP_BROKER_DIR=1 keeps the log and database for a post-mortem.
        if std::env::var_os("PORTNET_KEEP_BROKER_DIR").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("broker directory kept: {}", self.dir.display());
        }
    }
}
