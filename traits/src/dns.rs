//! DNS capability: resolve a host name to an address.

use core::future::Future;
use core::net::IpAddr;

use crate::ErrorType;

/// Which address family a lookup asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum AddrFamily {
    /// Only IPv4 (A records).
    Ipv4,
    /// Only IPv6 (AAAA records).
    Ipv6,
    /// Either; the stack prefers what it can reach.
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
pub trait Dns: ErrorType {
    /// Resolves `host` to one address of `family`.
    ///
    /// # Contract
    ///
    /// - A name with no address of that family must fail with `NameNotResolved`.
    /// - A `host` that is an IP address literal must resolve to itself.
    /// - An invalid name (RFC 1123) must fail with `InvalidInput`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future abandons the query.
    fn resolve(
        &self,
        host: &str,
        family: AddrFamily,
    ) -> impl Future<Output = Result<IpAddr, Self::Error>>;
}

impl<T: ?Sized + Dns> Dns for &T {
    fn resolve(
        &self,
        host: &str,
        family: AddrFamily,
    ) -> impl Future<Output = Result<IpAddr, Self::Error>> {
        (**self).resolve(host, family)
    }
}

/// Connects to `endpoint`: resolves its host with `stack` when it is a name, then
/// connects. A numeric IPv6 zone becomes the scope id; a named zone is dropped (its
/// index is the operating system's to know).
///
/// # Cancel safety
///
/// Cancel safe, as [`Dns::resolve`] and [`crate::TcpConnect::connect`].
pub async fn connect_endpoint<'s, S>(
    stack: &'s S,
    endpoint: &core_net::Endpoint<'_>,
) -> Result<<S as crate::TcpConnect>::Connection<'s>, S::Error>
where
    S: crate::TcpConnect + Dns + ?Sized,
{
    let remote = match (endpoint.to_socket_addr(), endpoint.host()) {
        (Some(addr), _) => addr,
        (None, core_net::Host::Name(name)) => {
            let ip = stack.resolve(name.as_str(), AddrFamily::Any).await?;
            core::net::SocketAddr::new(ip, endpoint.port())
        }
        (None, host) => {
            // An IPv6 address with a named zone: connect without the zone.
            let ip = host
                .ip()
                .unwrap_or(IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED));
            core::net::SocketAddr::new(ip, endpoint.port())
        }
    };
    stack.connect(remote).await
}
