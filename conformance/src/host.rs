//! Helpers for the harness of a stack on an operating system (for stack
//! authors): a black hole on loopback for `Harness::black_hole`, and the count
//! of the process's sockets for `Harness::open_sockets`.
//!
//! ```no_run
//! use portnet_conformance::host::{BlackHole, open_socket_fds};
//!
//! let hole = BlackHole::new().expect("loopback");
//! // In the harness: `fn black_hole(&self) -> Option<SocketAddr> { Some(self.hole.addr()) }`
//! // and `fn open_sockets(&self) -> Option<usize> { open_socket_fds() }`.
//! let _ = (hole.addr(), open_socket_fds());
//! ```

use alloc::vec::Vec;
use core::net::{Ipv4Addr, SocketAddr};

/// A loopback listener whose accept queue is full, so the kernel drops new SYNs:
/// connecting to it neither succeeds nor fails, as with a host that is gone. It
/// sends nothing off the machine.
#[derive(Debug)]
pub struct BlackHole {
    _listener: socket2::Socket,
    _queued: Vec<std::net::TcpStream>,
    addr: SocketAddr,
}

impl BlackHole {
    /// Creates the listener and fills its accept queue.
    ///
    /// # Errors
    ///
    /// The operating system's error when loopback cannot be bound or listened on.
    pub fn new() -> std::io::Result<Self> {
        use socket2::{Domain, Socket, Type};
        let listener = Socket::new(Domain::IPV4, Type::STREAM, None)?;
        listener.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
        // Backlog 0: the kernel queues one connection, then drops SYNs.
        listener.listen(0)?;
        let addr = listener
            .local_addr()?
            .as_socket()
            .ok_or_else(|| std::io::Error::other("listener has no IP address"))?;
        let mut queued = Vec::new();
        for _ in 0..2 {
            if let Ok(stream) =
                std::net::TcpStream::connect_timeout(&addr, core::time::Duration::from_millis(300))
            {
                queued.push(stream);
            }
        }
        Ok(Self {
            _listener: listener,
            _queued: queued,
            addr,
        })
    }

    /// Where connection attempts go unanswered: the value for
    /// [`crate::Harness::black_hole`].
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// Open socket descriptors of this process, from `/proc/self/fd` (Linux).
pub fn open_socket_fds() -> Option<usize> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(
        entries
            .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count(),
    )
}
