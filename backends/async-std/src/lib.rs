#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use core::future::Future;
use core::net::{IpAddr, SocketAddr};
use core::time::Duration;
use std::io;
use std::time::Instant as StdInstant;

use async_std::net::{TcpListener as AsyncListener, TcpStream as AsyncStream, ToSocketAddrs};
use portnet::{
    AddrFamily, Clock, Dns, ErrorKind, ErrorType, Instant, ListenOptions, SocketOption,
    SocketOptionName, SocketOptions, TcpConnect, TcpListen, TcpListener, UdpBind,
};
use portnet_os::{Kind, check_remote, error};
use socket2::SockRef;

/// The async-std stack. Cheap to create; each value has its own clock epoch.
#[derive(Debug, Clone, Copy)]
pub struct AsyncStd {
    epoch: StdInstant,
}

impl AsyncStd {
    /// A stack whose clock starts now.
    pub fn new() -> Self {
        Self {
            epoch: StdInstant::now(),
        }
    }
}

impl Default for AsyncStd {
    fn default() -> Self {
        Self::new()
    }
}

impl ErrorType for AsyncStd {
    type Error = io::Error;
}

impl TcpConnect for AsyncStd {
    type Connection<'a> = Connection;

    async fn connect(&self, remote: SocketAddr) -> io::Result<Connection> {
        check_remote(remote)?;
        Ok(Connection::new(AsyncStream::connect(remote).await?))
    }
}

impl TcpListen for AsyncStd {
    type Connection<'a> = Connection;
    type Listener<'a> = Listener;

    async fn listen_with(&self, local: SocketAddr, options: ListenOptions) -> io::Result<Listener> {
        Ok(Listener {
            inner: AsyncListener::from(portnet_os::listener(local, options)?),
        })
    }
}

/// A TCP connection of this stack: the shared futures-io connection of
/// `portnet-os` over the runtime's socket handle.
pub type Connection = portnet_os::Stream<AsyncStream>;

/// A TCP listener of the [`AsyncStd`] stack.
#[derive(Debug)]
pub struct Listener {
    inner: AsyncListener,
}

impl ErrorType for Listener {
    type Error = io::Error;
}

impl TcpListener for Listener {
    type Connection = Connection;

    async fn accept(&self) -> io::Result<(Connection, SocketAddr)> {
        let (stream, peer) = self.inner.accept().await?;
        Ok((Connection::new(stream), peer))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

impl UdpBind for AsyncStd {
    type Socket<'a> = Datagram;

    async fn bind(&self, local: SocketAddr) -> io::Result<Datagram> {
        Datagram::bind(local)
    }
}

/// A UDP socket of the [`AsyncStd`] stack (on async-io, async-std's reactor).
pub type Datagram = portnet_os::AsyncIoDatagram;

impl Dns for AsyncStd {
    async fn resolve(&self, host: &str, family: AddrFamily) -> io::Result<IpAddr> {
        if let Some(ip) = portnet_os::resolve_locally(host, family)? {
            return Ok(ip);
        }
        let addrs = (host, 0)
            .to_socket_addrs()
            .await
            .map_err(|_| error(ErrorKind::NameNotResolved))?;
        portnet_os::pick_address(addrs.map(|a| a.ip()), family)
    }

    async fn resolve_all(
        &self,
        host: &str,
        family: AddrFamily,
        out: &mut [IpAddr],
    ) -> io::Result<usize> {
        if let Some(ip) = portnet_os::resolve_locally(host, family)? {
            return portnet_os::fill_addresses([ip], family, out);
        }
        let addrs = (host, 0)
            .to_socket_addrs()
            .await
            .map_err(|_| error(ErrorKind::NameNotResolved))?;
        portnet_os::fill_addresses(addrs.map(|a| a.ip()), family, out)
    }
}

impl Clock for AsyncStd {
    fn now(&self) -> Instant {
        Instant::from_micros(u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX))
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        let wait =
            Duration::from_micros(deadline.as_micros().saturating_sub(self.now().as_micros()));
        async_std::task::sleep(wait)
    }
}

impl SocketOptions for Listener {
    fn set_option(&self, option: SocketOption) -> io::Result<()> {
        portnet_os::set_option(SockRef::from(&self.inner), Kind::Tcp, option)
    }

    fn option(&self, name: SocketOptionName) -> io::Result<SocketOption> {
        portnet_os::get_option(SockRef::from(&self.inner), Kind::Tcp, name)
    }
}

portnet::impl_send!(AsyncStd: TcpConnect, TcpListen, UdpBind, Dns, Clock);
portnet::impl_send!(Listener: TcpListener);
