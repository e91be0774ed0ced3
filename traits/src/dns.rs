//! DNS capability: resolve a host name to an address.

use core::future::Future;
use core::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::{Error, ErrorKind, ErrorType};

/// Which address family a lookup asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AddrFamily {
    /// Only IPv4 (A records).
    Ipv4,
    /// Only IPv6 (AAAA records).
    Ipv6,
    /// Both; see [`Dns::resolve_all`] for the order.
    Any,
}

impl AddrFamily {
    /// Whether `addr` is of this family.
    pub fn matches(self, addr: IpAddr) -> bool {
        match self {
            Self::Ipv4 => addr.is_ipv4(),
            Self::Ipv6 => addr.is_ipv6(),
            Self::Any => true,
        }
    }
}

/// A stack that can resolve host names.
///
/// # Contract (both methods)
///
/// - A `host` that is an IP address literal must resolve to itself, without a query
///   (case `dns.resolve.literal`).
/// - An invalid name (RFC 1123: empty, a label longer than 63 bytes or empty, a
///   name longer than 253 bytes, a byte other than letters, digits, `-` and `.`)
///   must fail with `InvalidInput`, without a query (case `dns.resolve.invalid_name`).
/// - A name the servers answer has no address of that family ("no such name")
///   must fail with `NameNotResolved` (no case yet: the harness names no name that
///   has no address).
/// - No answer from any server within the stack's timeout must fail with
///   `TimedOut`: "no answer" and "no such name" are different kinds (case
///   `dns.resolve.no_answer`).
pub trait Dns: ErrorType {
    /// Resolves `host` to one address of `family`: the first that
    /// [`Dns::resolve_all`] would return.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future abandons the query.
    fn resolve(
        &self,
        host: &str,
        family: AddrFamily,
    ) -> impl Future<Output = Result<IpAddr, Self::Error>>;

    /// Resolves `host` to every address of `family` the answer holds, up to
    /// `out.len()`, into `out`; resolves to how many were written (at least 1).
    ///
    /// # Contract
    ///
    /// - With [`AddrFamily::Any`] the IPv4 addresses must come first, then the
    ///   IPv6 ones (every host that reaches IPv6 reaches IPv4 on the same host, not
    ///   the other way round); within a family, the resolver's order (RFC 6724 on
    ///   an operating system, the answer's order on a user-space stack). A stack
    ///   may leave out a family it has no local address of (case
    ///   `dns.resolve_all.order`).
    /// - [`connect_endpoint`] tries the addresses in that order.
    /// - An empty `out` must fail with `InvalidInput` (case `dns.resolve_all.empty_out`).
    ///
    /// The default asks [`Dns::resolve`] for one address; stacks that see the whole
    /// answer override it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future abandons the query; `out` may hold some
    /// addresses.
    fn resolve_all(
        &self,
        host: &str,
        family: AddrFamily,
        out: &mut [IpAddr],
    ) -> impl Future<Output = Result<usize, Self::Error>> {
        async move {
            let Some(first) = out.first_mut() else {
                return Err(ErrorKind::InvalidInput.into());
            };
            *first = self.resolve(host, family).await?;
            Ok(1)
        }
    }
}

impl<T: ?Sized + Dns> Dns for &T {
    fn resolve(
        &self,
        host: &str,
        family: AddrFamily,
    ) -> impl Future<Output = Result<IpAddr, Self::Error>> {
        (**self).resolve(host, family)
    }
    fn resolve_all(
        &self,
        host: &str,
        family: AddrFamily,
        out: &mut [IpAddr],
    ) -> impl Future<Output = Result<usize, Self::Error>> {
        (**self).resolve_all(host, family, out)
    }
}

/// How many addresses of a name [`connect_endpoint`] tries at most.
pub const MAX_ENDPOINT_ADDRS: usize = 8;

/// The socket address of an endpoint whose host is an IP literal: a numeric IPv6
/// zone becomes the scope id, a named zone is dropped (its index is the operating
/// system's to know). `None` for a name.
pub(crate) fn literal_addr(endpoint: &core_net::Endpoint<'_>) -> Option<SocketAddr> {
    match (endpoint.to_socket_addr(), endpoint.host()) {
        (Some(addr), _) => Some(addr),
        (None, core_net::Host::Name(_)) => None,
        (None, host) => {
            let ip = host.ip().unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
            Some(SocketAddr::new(ip, endpoint.port()))
        }
    }
}

/// Tries `connect` on each address in turn; the first success wins.
///
/// `OutOfResources` stops at once (no other address would fare better); otherwise
/// the error of the last address is returned.
pub(crate) async fn connect_each<C, E, F, Fut>(
    ips: &[IpAddr],
    port: u16,
    mut connect: F,
) -> Result<C, E>
where
    E: Error + From<ErrorKind>,
    F: FnMut(SocketAddr) -> Fut,
    Fut: Future<Output = Result<C, E>>,
{
    let mut last = E::from(ErrorKind::NameNotResolved);
    for ip in ips {
        match connect(SocketAddr::new(*ip, port)).await {
            Ok(conn) => return Ok(conn),
            Err(e) if e.kind() == ErrorKind::OutOfResources => return Err(e),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Connects to `endpoint` (`"broker.local:1883"`, `"10.0.2.2:8080"`,
/// `"[fe80::1%2]:80"`).
///
/// An IP literal is connected at once, without a query. A name is resolved with
/// [`Dns::resolve_all`] ([`AddrFamily::Any`], up to [`MAX_ENDPOINT_ADDRS`]
/// addresses) and each address is tried in the order it returned until one
/// connects: a refused, unreachable or timed-out address is not the end.
/// `OutOfResources` stops at once; otherwise the last address's error is returned.
/// A stack without DNS passes [`NoDns`] around itself.
///
/// # Cancel safety
///
/// Cancel safe, as [`Dns::resolve_all`] and [`crate::TcpConnect::connect`].
pub async fn connect_endpoint<'s, S>(
    stack: &'s S,
    endpoint: &core_net::Endpoint<'_>,
) -> Result<<S as crate::TcpConnect>::Connection<'s>, S::Error>
where
    S: crate::TcpConnect + Dns + ?Sized,
{
    if let Some(addr) = literal_addr(endpoint) {
        return stack.connect(addr).await;
    }
    let mut ips = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); MAX_ENDPOINT_ADDRS];
    let name = match endpoint.host() {
        core_net::Host::Name(name) => name.as_str(),
        _ => return Err(ErrorKind::InvalidInput.into()),
    };
    let n = stack.resolve_all(name, AddrFamily::Any, &mut ips).await?;
    connect_each(&ips[..n.min(ips.len())], endpoint.port(), |addr| {
        stack.connect(addr)
    })
    .await
}

/// Binds a UDP socket connected to `endpoint` (`"pool.ntp.org:123"`,
/// `"10.0.2.2:5683"`): the UDP counterpart of [`connect_endpoint`], for a client
/// that talks to one server.
///
/// An IP literal is used at once, without a query. A name is resolved as for
/// [`connect_endpoint`], and [`crate::UdpBind::bind_connected`] is tried on each
/// address in that order until one binds (a family the stack has no address of
/// is not the end). UDP has no handshake: the socket is connected to the first
/// address that binds, whether or not a server answers there.
/// `OutOfResources` stops at once; otherwise the last address's error is returned.
/// A stack without DNS passes [`NoDns`] around itself.
///
/// # Cancel safety
///
/// Cancel safe, as [`Dns::resolve_all`] and [`crate::UdpBind::bind_connected`].
pub async fn bind_endpoint<'s, S>(
    stack: &'s S,
    endpoint: &core_net::Endpoint<'_>,
) -> Result<<S as crate::UdpBind>::Socket<'s>, S::Error>
where
    S: crate::UdpBind + Dns + ?Sized,
{
    if let Some(addr) = literal_addr(endpoint) {
        return stack.bind_connected(addr).await;
    }
    let mut ips = [IpAddr::V4(Ipv4Addr::UNSPECIFIED); MAX_ENDPOINT_ADDRS];
    let name = match endpoint.host() {
        core_net::Host::Name(name) => name.as_str(),
        _ => return Err(ErrorKind::InvalidInput.into()),
    };
    let n = stack.resolve_all(name, AddrFamily::Any, &mut ips).await?;
    connect_each(&ips[..n.min(ips.len())], endpoint.port(), |addr| {
        stack.bind_connected(addr)
    })
    .await
}

/// A stack without a resolver, made a [`Dns`]: IP literals resolve to themselves,
/// names fail with `Unsupported`. It passes every other capability of the stack
/// through, so firmware built without DNS can still use [`connect_endpoint`] and
/// the libraries that take `S: TcpConnect + Dns` with `http://10.0.2.2:8080/`.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoDns<S>(pub S);

impl<S: ErrorType> ErrorType for NoDns<S> {
    type Error = S::Error;
}

impl<S: ErrorType> Dns for NoDns<S> {
    fn resolve(
        &self,
        host: &str,
        family: AddrFamily,
    ) -> impl Future<Output = Result<IpAddr, Self::Error>> {
        let result = match host.parse::<IpAddr>() {
            Ok(ip) if family.matches(ip) => Ok(ip),
            Ok(_) => Err(ErrorKind::NameNotResolved.into()),
            Err(_) => Err(ErrorKind::Unsupported.into()),
        };
        core::future::ready(result)
    }
}

impl<S: crate::TcpConnect> crate::TcpConnect for NoDns<S> {
    type Connection<'a>
        = S::Connection<'a>
    where
        Self: 'a;

    fn connect(
        &self,
        remote: SocketAddr,
    ) -> impl Future<Output = Result<Self::Connection<'_>, Self::Error>> {
        self.0.connect(remote)
    }
}

impl<S: crate::TcpListen> crate::TcpListen for NoDns<S> {
    type Connection<'a>
        = <S as crate::TcpListen>::Connection<'a>
    where
        Self: 'a;
    type Listener<'a>
        = S::Listener<'a>
    where
        Self: 'a;

    fn listen_with(
        &self,
        local: SocketAddr,
        options: crate::ListenOptions,
    ) -> impl Future<Output = Result<Self::Listener<'_>, Self::Error>> {
        self.0.listen_with(local, options)
    }
}

impl<S: crate::UdpBind> crate::UdpBind for NoDns<S> {
    type Socket<'a>
        = S::Socket<'a>
    where
        Self: 'a;

    fn bind(
        &self,
        local: SocketAddr,
    ) -> impl Future<Output = Result<Self::Socket<'_>, Self::Error>> {
        self.0.bind(local)
    }
}

impl<S: crate::Clock> crate::Clock for NoDns<S> {
    fn now(&self) -> crate::Instant {
        self.0.now()
    }
    fn sleep_until(&self, deadline: crate::Instant) -> impl Future<Output = ()> {
        self.0.sleep_until(deadline)
    }
}
