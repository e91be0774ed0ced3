//! A Linux TAP device as a network device, and the network namespace it lives in.
//!
//! A user-space stack on a [`Tap`] exchanges Ethernet frames with the Linux
//! kernel: the kernel sees an interface, gives it an address, and its own
//! sockets (through any OS backend) talk to the user-space stack. Tests keep
//! this traffic off the host's networks by putting the interface in a
//! [`NetNs`] of their own, entered by the thread that runs them.

use core::fmt;
use core::task::Context;
use std::fs::{File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::process::Command;

use async_io::Async;
use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};

use crate::memory::MAX_FRAME;

/// A network namespace made with `ip netns add`, deleted on drop.
#[derive(Debug)]
pub struct NetNs {
    name: String,
}

impl NetNs {
    /// Creates the namespace `name` (replacing a stale one of that name) and
    /// brings its loopback up.
    ///
    /// Fails where the process may not create namespaces (no `CAP_SYS_ADMIN`,
    /// no `ip` command); callers skip, saying so.
    pub fn create(name: &str) -> io::Result<Self> {
        let _ = Command::new("ip")
            .args(["netns", "del", name])
            .stderr(std::process::Stdio::null())
            .status();
        ip(&["netns", "add", name])?;
        let ns = Self {
            name: name.to_owned(),
        };
        ns.exec(&["ip", "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Moves the calling thread into the namespace until the guard is dropped:
    /// sockets and TAP devices it creates meanwhile belong there (and stay
    /// there).
    pub fn enter(&self) -> io::Result<Entered> {
        let previous = File::open("/proc/thread-self/ns/net")?;
        let file = File::open(format!("/var/run/netns/{}", self.name))?;
        move_to(&file)?;
        Ok(Entered { previous })
    }

    /// Runs a command inside the namespace (`ip netns exec`).
    pub fn exec(&self, command: &[&str]) -> io::Result<()> {
        let mut args = vec!["netns", "exec", self.name.as_str()];
        args.extend_from_slice(command);
        ip(&args)
    }
}

/// The calling thread is in a [`NetNs`]; dropping this takes it back.
#[derive(Debug)]
pub struct Entered {
    previous: File,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let _ = move_to(&self.previous);
    }
}

fn move_to(namespace: &File) -> io::Result<()> {
    rustix::thread::move_into_link_name_space(
        std::os::fd::AsFd::as_fd(namespace),
        Some(rustix::thread::LinkNameSpaceType::Network),
    )?;
    Ok(())
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = ip(&["netns", "del", &self.name]);
    }
}

/// Runs `ip` with `args`; a failure is an error carrying its stderr.
fn ip(args: &[&str]) -> io::Result<()> {
    let output = Command::new("ip").args(args).output()?;
    if output.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// A TAP device: Ethernet frames between this process and the kernel.
pub struct Tap {
    file: Async<File>,
    name: String,
    mac: [u8; 6],
    /// Frames the kernel would not take (its queue was full): dropped, as by a
    /// real link.
    dropped: u64,
}

impl fmt::Debug for Tap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tap")
            .field("name", &self.name)
            .field("mac", &self.mac)
            .field("dropped", &self.dropped)
            .finish()
    }
}

/// `struct ifreq` as TUNSETIFF reads it: a name and the flags.
#[repr(C)]
struct IfReq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

impl Tap {
    /// Creates (or attaches to) the TAP interface `name` in the calling thread's
    /// network namespace. The user-space stack uses `mac`; the kernel side has
    /// its own.
    pub fn open(name: &str, mac: [u8; 6]) -> io::Result<Self> {
        if name.is_empty() || name.len() >= libc::IFNAMSIZ || !name.is_ascii() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an interface name is 1 to 15 ASCII bytes",
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/net/tun")?;
        let mut request = IfReq {
            name: [0; libc::IFNAMSIZ],
            flags: (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short,
            _pad: [0; 22],
        };
        for (slot, byte) in request.name.iter_mut().zip(name.bytes()) {
            *slot = byte as libc::c_char;
        }
        // SAFETY: TUNSETIFF reads a `struct ifreq` (name, then flags) from the
        // pointer; `IfReq` has that layout, is at least as large as `ifreq` (40
        // bytes), and lives across the call. The descriptor is open.
        #[allow(unsafe_code)]
        let result = unsafe {
            libc::ioctl(
                file.as_raw_fd(),
                libc::TUNSETIFF as _,
                &mut request as *mut IfReq,
            )
        };
        if result < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            file: Async::new(file)?,
            name: name.to_owned(),
            mac,
            dropped: 0,
        })
    }

    /// The interface's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Frames dropped because the kernel's queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

/// A frame read from the TAP device.
#[derive(Debug)]
pub struct TapRxToken {
    frame: Vec<u8>,
}

impl embassy_net_driver::RxToken for TapRxToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.frame)
    }
}

/// Room for a frame to write to the TAP device.
#[derive(Debug)]
pub struct TapTxToken<'a> {
    tap: &'a mut Tap,
}

impl embassy_net_driver::TxToken for TapTxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let result = f(&mut frame);
        // A TAP write takes the whole frame or fails; a full queue loses it.
        if self.tap.file.get_ref().write(&frame).is_err() {
            self.tap.dropped += 1;
        }
        result
    }
}

impl Driver for Tap {
    type RxToken<'a>
        = TapRxToken
    where
        Self: 'a;
    type TxToken<'a>
        = TapTxToken<'a>
    where
        Self: 'a;

    fn receive(&mut self, cx: &mut Context<'_>) -> Option<(TapRxToken, TapTxToken<'_>)> {
        // Two rounds at most: a read that would block arms readiness; if the
        // frame arrived in between, the second read gets it.
        for _ in 0..2 {
            let mut frame = vec![0; MAX_FRAME + 4];
            match self.file.get_ref().read(&mut frame) {
                Ok(len) if len > 0 => {
                    frame.truncate(len);
                    return Some((TapRxToken { frame }, TapTxToken { tap: self }));
                }
                Ok(_) => return None,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if self.file.poll_readable(cx).is_pending() {
                        return None;
                    }
                }
                // The interface went away or failed: nothing to receive.
                Err(_) => return None,
            }
        }
        cx.waker().wake_by_ref();
        None
    }

    fn transmit(&mut self, _cx: &mut Context<'_>) -> Option<TapTxToken<'_>> {
        Some(TapTxToken { tap: self })
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut capabilities = Capabilities::default();
        capabilities.max_transmission_unit = MAX_FRAME;
        capabilities
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet(self.mac)
    }
}
