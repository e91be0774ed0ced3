//! Name resolution through smoltcp's DNS socket.

use core::future::poll_fn;
use core::net::IpAddr;
use core::task::Poll;

use portnet::AddrFamily;
use smoltcp::socket::dns::{self, GetQueryResultError, QueryHandle, StartQueryError};
use smoltcp::wire::DnsQueryType;

use crate::Error;
use crate::stack::{Core, Stack};

/// The configured servers in smoltcp's form, as many as smoltcp's DNS socket
/// keeps (`smoltcp::config::DNS_MAX_SERVER_COUNT`: 1 unless the application
/// enables one of smoltcp's `dns-max-server-count-*` features).
pub(crate) fn servers(configured: &[Option<IpAddr>; 3]) -> heapless_servers::Servers {
    let mut servers = heapless_servers::Servers::new();
    let kept = configured
        .iter()
        .flatten()
        .take(smoltcp::config::DNS_MAX_SERVER_COUNT);
    for server in kept {
        if let Some(server) = crate::addr::to_smoltcp(*server) {
            servers.push(server);
        }
    }
    servers
}

/// A fixed list of up to three servers, without a heapless dependency.
pub(crate) mod heapless_servers {
    use smoltcp::wire::IpAddress;

    /// Up to three DNS servers.
    pub(crate) struct Servers {
        list: [IpAddress; 3],
        len: usize,
    }

    impl Servers {
        pub(crate) fn new() -> Self {
            Self {
                list: [IpAddress::Ipv4(core::net::Ipv4Addr::UNSPECIFIED); 3],
                len: 0,
            }
        }
        pub(crate) fn push(&mut self, server: IpAddress) {
            if let Some(slot) = self.list.get_mut(self.len) {
                *slot = server;
                self.len += 1;
            }
        }
    }

    impl core::ops::Deref for Servers {
        type Target = [IpAddress];
        fn deref(&self) -> &[IpAddress] {
            &self.list[..self.len]
        }
    }
}

/// A query in flight; dropping it cancels the query.
struct Query<'s, 'a> {
    core: &'s core::cell::RefCell<Core<'a>>,
    handle: Option<QueryHandle>,
    /// A failure from this time on means no server answered.
    silent_after: smoltcp::time::Instant,
}

/// How long smoltcp 0.14's DNS socket waits for one server before it tries the
/// next (`RETRANSMIT_TIMEOUT` in `smoltcp::socket::dns`, not public).
const SERVER_TIMEOUT: smoltcp::time::Duration = smoltcp::time::Duration::from_secs(10);

impl Drop for Query<'_, '_> {
    fn drop(&mut self) {
        if let (Some(handle), Ok(mut core)) = (self.handle.take(), self.core.try_borrow_mut())
            && let Some(dns) = core.dns
        {
            core.sockets
                .get_mut::<dns::Socket<'_>>(dns)
                .cancel_query(handle);
        }
    }
}

impl<'s, 'a> Query<'s, 'a> {
    fn start(
        core_cell: &'s core::cell::RefCell<Core<'a>>,
        name: &str,
        kind: DnsQueryType,
        now: smoltcp::time::Instant,
    ) -> Result<Self, Error> {
        let mut core = core_cell.borrow_mut();
        let core = &mut *core;
        let servers = servers(&core.config.dns_servers);
        if servers.is_empty() {
            return Err(Error::DnsFailed);
        }
        // smoltcp fails a query at once when no server has a source address;
        // that is a routing problem, not a name that does not resolve.
        if !servers
            .iter()
            .any(|server| core.iface.get_source_address(server).is_some())
        {
            return Err(Error::NoRoute);
        }
        let dns = core.dns.ok_or(Error::Unsupported)?;
        let handle = core
            .sockets
            .get_mut::<dns::Socket<'_>>(dns)
            .start_query(core.iface.context(), name, kind)
            .map_err(|e| match e {
                StartQueryError::NoFreeSlot => Error::NoSocket,
                StartQueryError::InvalidName | StartQueryError::NameTooLong => Error::InvalidName,
            })?;
        core.wake_runner();
        // smoltcp gives each server one retransmission timeout in turn and then
        // fails the query, the same way as for an answer without an address:
        // a failure at or after the last server's timeout is the silence of
        // every server.
        // `now` from the clock: the runner's last poll may be long ago on an
        // idle stack.
        let silent_after = now + SERVER_TIMEOUT * servers.len() as u32;
        Ok(Self {
            core: core_cell,
            handle: Some(handle),
            silent_after,
        })
    }

    async fn result(mut self, family: AddrFamily) -> Result<IpAddr, Error> {
        poll_fn(|cx| {
            let Some(handle) = self.handle else {
                return Poll::Ready(Err(Error::DnsFailed));
            };
            let mut core = self.core.borrow_mut();
            let core = &mut *core;
            let dns = core.dns.ok_or(Error::Unsupported)?;
            let socket = core.sockets.get_mut::<dns::Socket<'_>>(dns);
            match socket.get_query_result(handle) {
                Ok(addresses) => {
                    self.handle = None;
                    Poll::Ready(
                        addresses
                            .iter()
                            .map(|a| crate::addr::from_smoltcp(*a))
                            .find(|a| family.matches(*a))
                            .ok_or(Error::NameNotResolved),
                    )
                }
                Err(GetQueryResultError::Pending) => {
                    socket.register_query_waker(handle, cx.waker());
                    Poll::Pending
                }
                Err(GetQueryResultError::Failed) => {
                    self.handle = None;
                    // `now` is the runner poll that failed the query, or later.
                    Poll::Ready(Err(if core.now >= self.silent_after {
                        Error::DnsTimedOut
                    } else {
                        Error::NameNotResolved
                    }))
                }
            }
        })
        .await
    }
}

impl<D, C: portnet::Clock> portnet::Dns for Stack<'_, D, C> {
    /// Resolves `host`: an IP address literal at once, a name by a DNS query
    /// (A, then AAAA where IPv6 is asked for and A gave nothing).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] (`InvalidInput`) for a name that is not a host
    /// name by RFC 1123, before any query; [`Error::NameNotResolved`] when a
    /// server answered without an address of `family` (no such name
    /// included); [`Error::DnsTimedOut`] (`TimedOut`) when no server answered:
    /// smoltcp gives each configured server 10 s, noticed at its next
    /// retransmission (queries go out at 0, 1, 3, 7 and 15 s), so about 15 s per
    /// server, once for A and AAAA together.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future cancels the query.
    async fn resolve(&self, host: &str, family: AddrFamily) -> Result<IpAddr, Error> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return if family.matches(ip) {
                Ok(ip)
            } else {
                Err(Error::NameNotResolved)
            };
        }
        // smoltcp checks only label lengths; a name no server can hold must
        // not cost a query and its timeouts.
        if portnet::net::DnsName::parse(host).is_err() {
            return Err(Error::InvalidName);
        }
        let kinds: &[DnsQueryType] = match family {
            AddrFamily::Ipv6 => &[DnsQueryType::Aaaa],
            AddrFamily::Ipv4 => &[DnsQueryType::A],
            _ => &[DnsQueryType::A, DnsQueryType::Aaaa],
        };
        let mut last = Error::NameNotResolved;
        for kind in kinds {
            let now = crate::time::to_smoltcp(self.clock.now());
            match Query::start(&self.core, host, *kind, now)?
                .result(family)
                .await
            {
                Ok(ip) => return Ok(ip),
                // Servers that did not answer for A will not for AAAA either.
                Err(Error::DnsTimedOut) => return Err(Error::DnsTimedOut),
                Err(e) => last = e,
            }
        }
        Err(last)
    }
}
