//! The capability traits whose futures are `Send`: for generic code that spawns.
//!
//! # For library authors
//!
//! A generic `async fn` over [`crate::TcpConnect`] is `Send` whenever the concrete
//! stack's futures are, so an application that names the stack can spawn it. What
//! generic code cannot do is spawn *inside itself*: stable Rust has no bound that
//! says "the future of `S::connect` is `Send`". This module is that bound. Its
//! traits have the same names and methods as the root ones, with `+ Send` on every
//! future; switching a library from one to the other is a change of `use` lines:
//!
//! ```
//! use portnet::send::{Clock, Dns, TcpConnect};
//! use portnet::{ErrorKind, ReadExt, WriteExt};
//! use core::time::Duration;
//! use std::{future::Future, pin::Pin};
//!
//! type Task = Pin<Box<dyn Future<Output = ()> + Send>>;
//!
//! /// Fetches every host's banner, one spawned task each (any spawner taking
//! /// `Send + 'static` futures: `tokio::spawn`, `smol::spawn`, …).
//! pub fn fan_out<S>(stack: S, hosts: &[&'static str], spawn: impl Fn(Task))
//! where
//!     S: TcpConnect + Dns + Clock + Clone + 'static,
//! {
//!     for &host in hosts {
//!         let stack = stack.clone();
//!         spawn(Box::pin(async move {
//!             let _ = fetch(&stack, host).await;
//!         }));
//!     }
//! }
//!
//! async fn fetch<S: TcpConnect + Dns + Clock>(stack: &S, host: &str) -> Result<usize, S::Error> {
//!     let endpoint = portnet::net::Endpoint::parse(host).map_err(|_| ErrorKind::InvalidInput)?;
//!     let connecting = portnet::send::connect_endpoint(stack, &endpoint);
//!     let mut conn = portnet::send::timeout(stack, Duration::from_secs(5), connecting)
//!         .await
//!         .map_err(ErrorKind::from)??;
//!     conn.write_all(b"HELLO\r\n").await?;
//!     let mut banner = [0u8; 64];
//!     conn.read(&mut banner).await
//! }
//! # fn main() {}
//! ```
//!
//! Code that must also run where futures are not `Send` (a `no_std` stack on a
//! single-threaded executor) stays on the root traits and takes a spawner from the
//! application instead: see the guide's library chapter.
//!
//! # For stack authors
//!
//! A stack whose futures are `Send` gets these traits with one line, for each type
//! and the traits it implements; the compiler checks, at that line, that the
//! futures really are `Send`:
//!
//! ```ignore
//! portnet::impl_send!(MyStack: TcpConnect, TcpListen, UdpBind, Dns, Clock);
//! portnet::impl_send!(MyListener: TcpListener);
//! ```
//!
//! A generic wrapper (TLS over any stack, say) implements them by hand, calling
//! the wrapped stack's `send` methods.

use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::time::Duration;

use crate::dns::{MAX_ENDPOINT_ADDRS, connect_each, literal_addr};
use crate::time::{Elapsed, Instant, race_sleep};
use crate::{AddrFamily, ErrorKind, ErrorType, ListenOptions};

/// [`crate::TcpConnect`] whose future is `Send`.
pub trait TcpConnect: ErrorType<Error: Send + Sync + 'static> + Send + Sync {
    /// An open connection.
    type Connection<'a>: crate::TcpStream<Error = Self::Error> + Send
    where
        Self: 'a;

    /// As [`crate::TcpConnect::connect`] (contract and cancel safety).
    fn connect(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Connection<'_>, Self::Error>> + Send;
}

/// [`crate::TcpListen`] whose futures are `Send`.
pub trait TcpListen: ErrorType<Error: Send + Sync + 'static> + Send + Sync {
    /// A connection accepted by a listener.
    type Connection<'a>: crate::TcpStream<Error = Self::Error> + Send
    where
        Self: 'a;

    /// A listening socket.
    type Listener<'a>: TcpListener<Error = Self::Error, Connection = Self::Connection<'a>>
    where
        Self: 'a;

    /// As [`crate::TcpListen::listen_with`] (contract and cancel safety).
    fn listen_with(
        &self,
        local: SocketAddr,
        options: ListenOptions,
    ) -> impl Future<Output = Result<Self::Listener<'_>, Self::Error>> + Send;

    /// As [`crate::TcpListen::listen`].
    fn listen(
        &self,
        local: SocketAddr,
    ) -> impl Future<Output = Result<Self::Listener<'_>, Self::Error>> + Send {
        self.listen_with(local, ListenOptions::default())
    }
}

/// [`crate::TcpListener`] whose future is `Send`.
pub trait TcpListener: crate::SocketOptions<Error: Send + Sync + 'static> + Send + Sync {
    /// The connections it accepts.
    type Connection: crate::TcpStream<Error = Self::Error> + Send + 'static;

    /// As [`crate::TcpListener::accept`] (contract and cancel safety).
    fn accept(
        &self,
    ) -> impl Future<Output = Result<(Self::Connection, SocketAddr), Self::Error>> + Send;

    /// As [`crate::TcpListener::local_addr`].
    fn local_addr(&self) -> Result<SocketAddr, Self::Error>;
}

/// [`crate::UdpBind`] whose futures are `Send`.
pub trait UdpBind: ErrorType<Error: Send + Sync + 'static> + Send + Sync {
    /// A bound UDP socket.
    type Socket<'a>: crate::UdpSocket<Error = Self::Error> + Send + Sync
    where
        Self: 'a;

    /// As [`crate::UdpBind::bind`].
    fn bind(
        &self,
        local: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>> + Send;

    /// As [`crate::UdpBind::bind_connected`].
    fn bind_connected(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>> + Send;
}

/// [`crate::Dns`] whose futures are `Send`.
pub trait Dns: ErrorType<Error: Send + Sync + 'static> + Send + Sync {
    /// As [`crate::Dns::resolve`] (contract and cancel safety).
    fn resolve(
        &self,
        host: &str,
        family: AddrFamily,
    ) -> impl Future<Output = Result<IpAddr, Self::Error>> + Send;

    /// As [`crate::Dns::resolve_all`] (contract and cancel safety).
    fn resolve_all(
        &self,
        host: &str,
        family: AddrFamily,
        out: &mut [IpAddr],
    ) -> impl Future<Output = Result<usize, Self::Error>> + Send;
}

/// [`crate::Clock`] whose timer future is `Send`.
pub trait Clock: Send + Sync {
    /// As [`crate::Clock::now`].
    fn now(&self) -> Instant;

    /// As [`crate::Clock::sleep_until`] (contract and cancel safety).
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send;

    /// As [`crate::Clock::sleep`].
    fn sleep(&self, duration: Duration) -> impl Future<Output = ()> + Send {
        self.sleep_until(self.now() + duration)
    }
}

impl<T: ?Sized + TcpConnect> TcpConnect for &T {
    type Connection<'a>
        = T::Connection<'a>
    where
        Self: 'a;
    fn connect(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Connection<'_>, Self::Error>> + Send {
        (**self).connect(remote)
    }
}

impl<T: ?Sized + TcpListen> TcpListen for &T {
    type Connection<'a>
        = T::Connection<'a>
    where
        Self: 'a;
    type Listener<'a>
        = T::Listener<'a>
    where
        Self: 'a;
    fn listen_with(
        &self,
        local: SocketAddr,
        options: ListenOptions,
    ) -> impl Future<Output = Result<Self::Listener<'_>, Self::Error>> + Send {
        (**self).listen_with(local, options)
    }
}

impl<T: ?Sized + UdpBind> UdpBind for &T {
    type Socket<'a>
        = T::Socket<'a>
    where
        Self: 'a;
    fn bind(
        &self,
        local: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>> + Send {
        (**self).bind(local)
    }
    fn bind_connected(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>> + Send {
        (**self).bind_connected(remote)
    }
}

impl<T: ?Sized + Dns> Dns for &T {
    fn resolve(
        &self,
        host: &str,
        family: AddrFamily,
    ) -> impl Future<Output = Result<IpAddr, Self::Error>> + Send {
        (**self).resolve(host, family)
    }
    fn resolve_all(
        &self,
        host: &str,
        family: AddrFamily,
        out: &mut [IpAddr],
    ) -> impl Future<Output = Result<usize, Self::Error>> + Send {
        (**self).resolve_all(host, family, out)
    }
}

impl<T: ?Sized + Clock> Clock for &T {
    fn now(&self) -> Instant {
        (**self).now()
    }
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        (**self).sleep_until(deadline)
    }
}

/// As [`crate::connect_endpoint`], over the `Send` traits: its future is `Send`.
///
/// # Cancel safety
///
/// Cancel safe, as [`Dns::resolve_all`] and [`TcpConnect::connect`].
pub async fn connect_endpoint<'s, S>(
    stack: &'s S,
    endpoint: &crate::net::Endpoint<'_>,
) -> Result<<S as TcpConnect>::Connection<'s>, S::Error>
where
    S: TcpConnect + Dns + ?Sized,
{
    if let Some(addr) = literal_addr(endpoint) {
        return stack.connect(addr).await;
    }
    let name = match endpoint.host() {
        crate::net::Host::Name(name) => name.as_str(),
        _ => return Err(ErrorKind::InvalidInput.into()),
    };
    let mut ips = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); MAX_ENDPOINT_ADDRS];
    let n = stack.resolve_all(name, AddrFamily::Any, &mut ips).await?;
    connect_each(&ips[..n.min(ips.len())], endpoint.port(), |addr| {
        stack.connect(addr)
    })
    .await
}

/// As [`crate::bind_endpoint`], over the `Send` traits: its future is `Send`.
///
/// # Cancel safety
///
/// Cancel safe, as [`Dns::resolve_all`] and [`UdpBind::bind_connected`].
pub async fn bind_endpoint<'s, S>(
    stack: &'s S,
    endpoint: &crate::net::Endpoint<'_>,
) -> Result<<S as UdpBind>::Socket<'s>, S::Error>
where
    S: UdpBind + Dns + ?Sized,
{
    if let Some(addr) = literal_addr(endpoint) {
        return stack.bind_connected(addr).await;
    }
    let name = match endpoint.host() {
        crate::net::Host::Name(name) => name.as_str(),
        _ => return Err(ErrorKind::InvalidInput.into()),
    };
    let mut ips = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); MAX_ENDPOINT_ADDRS];
    let n = stack.resolve_all(name, AddrFamily::Any, &mut ips).await?;
    connect_each(&ips[..n.min(ips.len())], endpoint.port(), |addr| {
        stack.bind_connected(addr)
    })
    .await
}

// `NoDns` around a stack whose futures are `Send` keeps them `Send`, so a
// library on these traits takes `NoDns<S>` as it takes `S`.
impl<S: TcpConnect> TcpConnect for crate::NoDns<S> {
    type Connection<'a>
        = S::Connection<'a>
    where
        Self: 'a;
    fn connect(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Connection<'_>, Self::Error>> + Send {
        self.0.connect(remote)
    }
}

impl<S: TcpListen> TcpListen for crate::NoDns<S> {
    type Connection<'a>
        = S::Connection<'a>
    where
        Self: 'a;
    type Listener<'a>
        = S::Listener<'a>
    where
        Self: 'a;
    fn listen_with(
        &self,
        local: SocketAddr,
        options: ListenOptions,
    ) -> impl Future<Output = Result<Self::Listener<'_>, Self::Error>> + Send {
        self.0.listen_with(local, options)
    }
}

impl<S: UdpBind> UdpBind for crate::NoDns<S> {
    type Socket<'a>
        = S::Socket<'a>
    where
        Self: 'a;
    fn bind(
        &self,
        local: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>> + Send {
        self.0.bind(local)
    }
    fn bind_connected(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>> + Send {
        self.0.bind_connected(remote)
    }
}

impl<S> Dns for crate::NoDns<S>
where
    S: ErrorType<Error: Send + Sync + 'static> + Send + Sync,
{
    fn resolve(
        &self,
        host: &str,
        family: AddrFamily,
    ) -> impl Future<Output = Result<IpAddr, Self::Error>> + Send {
        crate::Dns::resolve(self, host, family)
    }
    fn resolve_all(
        &self,
        host: &str,
        family: AddrFamily,
        out: &mut [IpAddr],
    ) -> impl Future<Output = Result<usize, Self::Error>> + Send {
        crate::Dns::resolve_all(self, host, family, out)
    }
}

impl<S: Clock> Clock for crate::NoDns<S> {
    fn now(&self) -> Instant {
        self.0.now()
    }
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> + Send {
        self.0.sleep_until(deadline)
    }
}

/// As [`crate::time::timeout`], over a `Send` [`Clock`]: its future is `Send`
/// when `future` is.
///
/// # Cancel safety
///
/// As cancel safe as `future`: on timeout, `future` is dropped.
pub async fn timeout<C, F>(clock: &C, duration: Duration, future: F) -> Result<F::Output, Elapsed>
where
    C: Clock + ?Sized,
    F: Future,
{
    race_sleep(clock.sleep(duration), future).await
}

/// As [`crate::time::timeout_at`], over a `Send` [`Clock`].
///
/// # Cancel safety
///
/// As cancel safe as `future`: on timeout, `future` is dropped.
pub async fn timeout_at<C, F>(clock: &C, deadline: Instant, future: F) -> Result<F::Output, Elapsed>
where
    C: Clock + ?Sized,
    F: Future,
{
    race_sleep(clock.sleep_until(deadline), future).await
}

/// Implements the [`crate::send`] traits for a type whose root-trait futures are
/// `Send`, by forwarding; the compiler checks at this line that they are.
///
/// ```ignore
/// portnet::impl_send!(Tokio: TcpConnect, TcpListen, UdpBind, Dns, Clock);
/// portnet::impl_send!(Listener: TcpListener);
/// ```
#[macro_export]
macro_rules! impl_send {
    ($ty:ty: $($capability:ident),+ $(,)?) => {
        $($crate::impl_send!(@one $ty, $capability);)+
    };
    (@one $ty:ty, TcpConnect) => {
        impl $crate::send::TcpConnect for $ty {
            type Connection<'a>
                = <$ty as $crate::TcpConnect>::Connection<'a>
            where
                Self: 'a;
            fn connect(
                &self,
                remote: $crate::net::SocketAddr,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<Self::Connection<'_>, Self::Error>,
            > + Send {
                <$ty as $crate::TcpConnect>::connect(self, remote)
            }
        }
    };
    (@one $ty:ty, TcpListen) => {
        impl $crate::send::TcpListen for $ty {
            type Connection<'a>
                = <$ty as $crate::TcpListen>::Connection<'a>
            where
                Self: 'a;
            type Listener<'a>
                = <$ty as $crate::TcpListen>::Listener<'a>
            where
                Self: 'a;
            fn listen_with(
                &self,
                local: $crate::net::SocketAddr,
                options: $crate::ListenOptions,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<Self::Listener<'_>, Self::Error>,
            > + Send {
                <$ty as $crate::TcpListen>::listen_with(self, local, options)
            }
        }
    };
    (@one $ty:ty, TcpListener) => {
        impl $crate::send::TcpListener for $ty {
            type Connection = <$ty as $crate::TcpListener>::Connection;
            fn accept(
                &self,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<
                    (Self::Connection, $crate::net::SocketAddr),
                    Self::Error,
                >,
            > + Send {
                <$ty as $crate::TcpListener>::accept(self)
            }
            fn local_addr(&self) -> ::core::result::Result<$crate::net::SocketAddr, Self::Error> {
                <$ty as $crate::TcpListener>::local_addr(self)
            }
        }
    };
    (@one $ty:ty, UdpBind) => {
        impl $crate::send::UdpBind for $ty {
            type Socket<'a>
                = <$ty as $crate::UdpBind>::Socket<'a>
            where
                Self: 'a;
            fn bind(
                &self,
                local: $crate::net::SocketAddr,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<Self::Socket<'_>, Self::Error>,
            > + Send {
                <$ty as $crate::UdpBind>::bind(self, local)
            }
            fn bind_connected(
                &self,
                remote: $crate::net::SocketAddr,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<Self::Socket<'_>, Self::Error>,
            > + Send {
                <$ty as $crate::UdpBind>::bind_connected(self, remote)
            }
        }
    };
    (@one $ty:ty, Dns) => {
        impl $crate::send::Dns for $ty {
            fn resolve(
                &self,
                host: &str,
                family: $crate::AddrFamily,
            ) -> impl ::core::future::Future<
                Output = ::core::result::Result<$crate::net::IpAddr, Self::Error>,
            > + Send {
                <$ty as $crate::Dns>::resolve(self, host, family)
            }
            fn resolve_all(
                &self,
                host: &str,
                family: $crate::AddrFamily,
                out: &mut [$crate::net::IpAddr],
            ) -> impl ::core::future::Future<Output = ::core::result::Result<usize, Self::Error>>
            + Send {
                <$ty as $crate::Dns>::resolve_all(self, host, family, out)
            }
        }
    };
    (@one $ty:ty, Clock) => {
        impl $crate::send::Clock for $ty {
            fn now(&self) -> $crate::Instant {
                <$ty as $crate::Clock>::now(self)
            }
            fn sleep_until(
                &self,
                deadline: $crate::Instant,
            ) -> impl ::core::future::Future<Output = ()> + Send {
                <$ty as $crate::Clock>::sleep_until(self, deadline)
            }
        }
    };
}
