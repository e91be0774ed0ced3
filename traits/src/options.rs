//! Typed socket options: a value enum, never a stringly API.
//!
//! Both enums are `#[non_exhaustive]`, so new options do not break stacks: a stack
//! answers `Unsupported` for every option it does not know.

use core::net::IpAddr;
use core::time::Duration;

use crate::ErrorType;

/// A socket option with its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SocketOption {
    /// TCP: send segments at once instead of coalescing small writes (Nagle off).
    NoDelay(bool),
    /// TCP: probe an idle connection after this long; `None` turns keep-alive off.
    KeepAlive(Option<Duration>),
    /// TCP: give up on a connection whose data stays unacknowledged this long.
    Timeout(Option<Duration>),
    /// On `abort`/drop, how long to wait to deliver unsent data; `Some(ZERO)` resets.
    Linger(Option<Duration>),
    /// IPv4 TTL / IPv6 hop limit of outgoing unicast packets.
    Ttl(u8),
    /// Receive buffer size in bytes (a hint where the stack rounds it).
    RecvBufferSize(usize),
    /// Send buffer size in bytes (a hint where the stack rounds it).
    SendBufferSize(usize),
    /// UDP: allow sending to broadcast addresses.
    Broadcast(bool),
    /// UDP: TTL / hop limit of outgoing multicast packets.
    MulticastTtl(u8),
    /// UDP: deliver this host's own multicast packets back to it.
    MulticastLoop(bool),
    /// UDP: join a multicast group (set only).
    JoinMulticast(IpAddr),
    /// UDP: leave a multicast group (set only).
    LeaveMulticast(IpAddr),
}

/// The name of a [`SocketOption`], used to read one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SocketOptionName {
    /// [`SocketOption::NoDelay`].
    NoDelay,
    /// [`SocketOption::KeepAlive`].
    KeepAlive,
    /// [`SocketOption::Timeout`].
    Timeout,
    /// [`SocketOption::Linger`].
    Linger,
    /// [`SocketOption::Ttl`].
    Ttl,
    /// [`SocketOption::RecvBufferSize`].
    RecvBufferSize,
    /// [`SocketOption::SendBufferSize`].
    SendBufferSize,
    /// [`SocketOption::Broadcast`].
    Broadcast,
    /// [`SocketOption::MulticastTtl`].
    MulticastTtl,
    /// [`SocketOption::MulticastLoop`].
    MulticastLoop,
    /// [`SocketOption::JoinMulticast`] (cannot be read).
    JoinMulticast,
    /// [`SocketOption::LeaveMulticast`] (cannot be read).
    LeaveMulticast,
}

impl SocketOption {
    /// The option's name.
    pub const fn name(&self) -> SocketOptionName {
        match self {
            Self::NoDelay(_) => SocketOptionName::NoDelay,
            Self::KeepAlive(_) => SocketOptionName::KeepAlive,
            Self::Timeout(_) => SocketOptionName::Timeout,
            Self::Linger(_) => SocketOptionName::Linger,
            Self::Ttl(_) => SocketOptionName::Ttl,
            Self::RecvBufferSize(_) => SocketOptionName::RecvBufferSize,
            Self::SendBufferSize(_) => SocketOptionName::SendBufferSize,
            Self::Broadcast(_) => SocketOptionName::Broadcast,
            Self::MulticastTtl(_) => SocketOptionName::MulticastTtl,
            Self::MulticastLoop(_) => SocketOptionName::MulticastLoop,
            Self::JoinMulticast(_) => SocketOptionName::JoinMulticast,
            Self::LeaveMulticast(_) => SocketOptionName::LeaveMulticast,
        }
    }
}

/// A socket whose options can be read and set.
///
/// # Contract
///
/// An option the stack does not have (or that does not apply to this kind of
/// socket) must fail with `Unsupported`; a value out of range with `InvalidInput`.
/// Reading a set-only option fails with `Unsupported`. After a successful
/// `set_option`, `option` returns the value the stack actually uses (it may round
/// buffer sizes) (cases `options.tcp.read_back`, `options.listener.read_back`,
/// `options.udp.read_back`, `options.invalid_value`, `options.set_only`,
/// `options.wrong_kind`).
pub trait SocketOptions: ErrorType {
    /// Sets an option.
    fn set_option(&self, option: SocketOption) -> Result<(), Self::Error>;
    /// Reads an option's current value.
    fn option(&self, name: SocketOptionName) -> Result<SocketOption, Self::Error>;
}
