//! A mosquitto of the benchmark's own on a free loopback port, stopped by PID.

use core::net::SocketAddr;
use core::time::Duration;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

/// A running broker; SIGTERM to its PID (then a kill after 5 s) when dropped.
pub(crate) struct Mosquitto {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

fn binary() -> io::Result<PathBuf> {
    let fixed = ["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"];
    let on_path: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join("mosquitto"))
                .collect()
        })
        .unwrap_or_default();
    fixed
        .iter()
        .map(PathBuf::from)
        .chain(on_path)
        .find(|p| Path::new(p).exists())
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                "mosquitto not found (cargo xtask setup installs it)",
            )
        })
}

impl Mosquitto {
    pub(crate) fn start() -> io::Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let dir = std::env::temp_dir().join(format!("portnet-bench-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let config = dir.join("mosquitto.conf");
        // No logging of each message (it would be the bottleneck); no persistence;
        // queues deep enough that nothing is dropped during a rate run.
        std::fs::write(
            &config,
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n\
                 log_dest none\nmax_queued_messages 0\nmax_inflight_messages 0\n"
            ),
        )?;
        let child = Command::new(binary()?)
            .arg("-c")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        let mut broker = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if TcpStream::connect(broker.addr).is_ok() {
                return Ok(broker);
            }
            if let Some(status) = broker.child.try_wait()? {
                return Err(io::Error::other(format!("mosquitto exited with {status}")));
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "mosquitto did not listen within 10 s",
                ));
            }
            // Bounded poll while the broker starts: there is no event to wait on.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
