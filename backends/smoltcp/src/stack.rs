//! The stack: the interface, its sockets, and the runner that drives them.

use core::cell::RefCell;
use core::convert::Infallible;
use core::fmt;
use core::future::poll_fn;
use core::net::IpAddr;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

use embassy_net_driver::{Driver, HardwareAddress};
use portnet::Clock;
use portnet::future::select;
use smoltcp::iface::{Interface, PollIngressSingleResult, SocketSet, SocketStorage};
use smoltcp::wire::{EthernetAddress, IpCidr};

use crate::config::{Config, Ipv4Config};
use crate::device::{Polled, capabilities, medium};
use crate::wakers::WakerSet;
use crate::{Error, time};

#[cfg(feature = "tcp")]
use crate::tcp::{TcpSlot, TcpState};
#[cfg(feature = "udp")]
use crate::udp::UdpSlot;
#[cfg(feature = "dns")]
use smoltcp::socket::dns::DnsQuery;

/// How many DNS queries may run at once.
#[cfg(feature = "dns")]
pub(crate) const DNS_QUERIES: usize = 2;

/// Tasks that may wait in `Stack::wait_ipv4` at once without re-polls.
const ADDRESS_WAITERS: usize = 2;

/// Incoming frames one runner poll handles before it yields to other tasks.
const INGRESS_BUDGET: usize = 64;
/// Outgoing rounds one runner poll makes (each can send from every socket).
const EGRESS_BUDGET: usize = 16;

/// Room for the stack's sockets: `SOCKETS` entries, one per TCP and UDP socket
/// in the pools plus one for DNS and one for DHCP when they are used.
///
/// Lives as long as the stack; on a microcontroller, in a `static`.
pub struct StackResources<'a, const SOCKETS: usize> {
    sockets: [SocketStorage<'a>; SOCKETS],
    #[cfg(feature = "dns")]
    dns_queries: [Option<DnsQuery>; DNS_QUERIES],
}

impl<const SOCKETS: usize> fmt::Debug for StackResources<'_, SOCKETS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StackResources")
            .field("sockets", &SOCKETS)
            .finish()
    }
}

impl<const SOCKETS: usize> Default for StackResources<'_, SOCKETS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, const SOCKETS: usize> StackResources<'a, SOCKETS> {
    /// Empty resources.
    pub const fn new() -> Self {
        Self {
            sockets: [SocketStorage::EMPTY; SOCKETS],
            #[cfg(feature = "dns")]
            dns_queries: [const { None }; DNS_QUERIES],
        }
    }

    /// Starts filling the resources with socket pools.
    pub fn sockets(&'a mut self) -> Sockets<'a> {
        Sockets {
            set: SocketSet::new(&mut self.sockets[..]),
            room: SOCKETS,
            #[cfg(feature = "tcp")]
            tcp: &mut [],
            #[cfg(feature = "udp")]
            udp: &mut [],
            #[cfg(feature = "dns")]
            dns_queries: &mut self.dns_queries,
        }
    }
}

/// The sockets a stack will have: [`StackResources`] plus the pools, built with
/// [`StackResources::sockets`], [`Sockets::tcp`] and [`Sockets::udp`].
pub struct Sockets<'a> {
    pub(crate) set: SocketSet<'a>,
    room: usize,
    #[cfg(feature = "tcp")]
    pub(crate) tcp: &'a mut [TcpSlot],
    #[cfg(feature = "udp")]
    pub(crate) udp: &'a mut [UdpSlot],
    #[cfg(feature = "dns")]
    dns_queries: &'a mut [Option<DnsQuery>],
}

impl fmt::Debug for Sockets<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sockets").field("room", &self.room).finish()
    }
}

impl<'a> Sockets<'a> {
    /// Reserves a place in the resources for one socket.
    pub(crate) fn reserve(&mut self, count: usize) -> Result<(), Error> {
        self.room = self.room.checked_sub(count).ok_or(Error::NoSocketStorage)?;
        Ok(())
    }
}

/// Everything but the driver and the clock: what sockets borrow.
pub(crate) struct Core<'a> {
    pub(crate) iface: Interface,
    pub(crate) sockets: SocketSet<'a>,
    /// TCP's own state: the pool's slot records, listeners, waiting tasks.
    #[cfg(feature = "tcp")]
    pub(crate) tcp: TcpState<'a>,
    #[cfg(feature = "udp")]
    pub(crate) udp: &'a mut [UdpSlot],
    #[cfg(feature = "dns")]
    pub(crate) dns: Option<smoltcp::iface::SocketHandle>,
    #[cfg(feature = "dhcpv4")]
    dhcp: Option<smoltcp::iface::SocketHandle>,
    /// The runner's waker: socket operations that give it work wake it.
    runner: Option<Waker>,
    /// Tasks in `wait_ipv4`: only an address wakes them, not a free socket.
    address_waiters: WakerSet<ADDRESS_WAITERS>,
    /// The time of the runner's latest poll.
    pub(crate) now: smoltcp::time::Instant,
    /// The next ephemeral port to try.
    next_port: u16,
    /// Counts runner polls; a released socket is reused only after a poll, so
    /// its last segment (an RST) goes out first.
    pub(crate) epoch: u64,
    pub(crate) config: Config,
    /// The driver's medium: Ethernet, or IP (feature `medium-ip`).
    pub(crate) medium: smoltcp::phy::Medium,
}

/// The lowest ephemeral port (IANA dynamic range).
const EPHEMERAL_FIRST: u16 = 49152;
const EPHEMERAL_COUNT: u16 = 16384;

impl Core<'_> {
    /// Wakes the runner: a socket has something to send.
    pub(crate) fn wake_runner(&self) {
        if let Some(waker) = &self.runner {
            waker.wake_by_ref();
        }
    }

    /// A free ephemeral port: one `in_use` says no to.
    pub(crate) fn ephemeral_port(
        &mut self,
        in_use: impl Fn(&Self, u16) -> bool,
    ) -> Result<u16, Error> {
        for _ in 0..EPHEMERAL_COUNT {
            let port = self.next_port;
            self.next_port = if port == u16::MAX {
                EPHEMERAL_FIRST
            } else {
                port + 1
            };
            if !in_use(self, port) {
                return Ok(port);
            }
        }
        Err(Error::AddrInUse)
    }

    /// Whether `ip` is one of the interface's addresses.
    pub(crate) fn has_ip(&self, ip: IpAddr) -> bool {
        crate::addr::to_smoltcp(ip).is_some_and(|ip| {
            self.iface
                .ip_addrs()
                .iter()
                .any(|cidr| cidr.address() == ip)
        })
    }

    /// Whether some local address can reach `remote`.
    pub(crate) fn can_reach(&self, remote: IpAddr) -> bool {
        crate::addr::to_smoltcp(remote)
            .is_some_and(|remote| self.iface.get_source_address(&remote).is_some())
    }

    /// Sockets in use (open or closing), for leak checks.
    fn sockets_in_use(&self) -> usize {
        let mut count = 0;
        #[cfg(feature = "tcp")]
        {
            count += self.tcp.slots.iter().filter(|slot| slot.in_use()).count();
        }
        #[cfg(feature = "udp")]
        {
            count += self.udp.iter().filter(|slot| slot.in_use()).count();
        }
        count
    }
}

/// A smoltcp interface on a network driver, with socket pools: a portnet stack.
///
/// Create it with [`Stack::new`], then poll [`Stack::run`] alongside the code
/// that uses it (in a `join`, or as its own task): the runner moves frames
/// between the driver and the sockets and keeps the timers.
///
/// Not `Sync`: the stack, its runner and its sockets live on one executor (one
/// thread or one core), as on a microcontroller.
pub struct Stack<'a, D, C> {
    pub(crate) core: RefCell<Core<'a>>,
    driver: RefCell<D>,
    pub(crate) clock: C,
}

impl<D, C> fmt::Debug for Stack<'_, D, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = f.debug_struct("Stack");
        if let Ok(core) = self.core.try_borrow() {
            out.field("addresses", &core.iface.ip_addrs())
                .field("sockets_in_use", &core.sockets_in_use());
        }
        out.finish_non_exhaustive()
    }
}

impl<'a, D: Driver, C: Clock> Stack<'a, D, C> {
    /// A stack on `driver`, keeping time with `clock`, configured by `config`,
    /// with the sockets of `sockets`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] for a driver without an Ethernet unicast MAC
    /// address (or, with feature `medium-ip`, of medium IP:
    /// `HardwareAddress::Ip`), for DHCP on a medium-IP driver, or for an
    /// address whose prefix is too long;
    /// [`Error::NoSocketStorage`] when the resources have no room left for the
    /// DNS or DHCP socket.
    pub fn new(
        mut driver: D,
        clock: C,
        config: Config,
        #[allow(unused_mut)] mut sockets: Sockets<'a>,
    ) -> Result<Self, Error> {
        let address = driver.hardware_address();
        let medium = medium(&address).ok_or(Error::InvalidConfig)?;
        let hardware = match address {
            HardwareAddress::Ethernet(mac) => {
                let mac = EthernetAddress(mac);
                if !mac.is_unicast() {
                    return Err(Error::InvalidConfig);
                }
                smoltcp::wire::HardwareAddress::Ethernet(mac)
            }
            #[cfg(feature = "medium-ip")]
            HardwareAddress::Ip => {
                // DHCP needs a link with broadcast; a point-to-point IP link
                // has fixed addresses.
                #[cfg(feature = "dhcpv4")]
                if config.ipv4 == Ipv4Config::Dhcp {
                    return Err(Error::InvalidConfig);
                }
                smoltcp::wire::HardwareAddress::Ip
            }
            _ => return Err(Error::InvalidConfig),
        };
        if config.listen_backlog == 0 {
            return Err(Error::InvalidConfig);
        }
        let now = time::to_smoltcp(clock.now());
        let mut iface_config = smoltcp::iface::Config::new(hardware);
        iface_config.random_seed = config.random_seed;
        let mut device = Probe {
            caps: capabilities(&driver.capabilities(), medium),
        };
        let mut iface = Interface::new(iface_config, &mut device, now);
        let _ = &mut driver;

        let mut addresses_ok = true;
        iface.update_ip_addrs(|addrs| {
            if let Ipv4Config::Static { address, .. } = config.ipv4 {
                addresses_ok &= address.prefix <= 32
                    && addrs
                        .push(IpCidr::new(
                            smoltcp::wire::IpAddress::Ipv4(address.address),
                            address.prefix,
                        ))
                        .is_ok();
            }
            #[cfg(feature = "proto-ipv6")]
            if let crate::config::Ipv6Config::Static { address, .. } = config.ipv6 {
                addresses_ok &= address.prefix <= 128
                    && addrs
                        .push(IpCidr::new(
                            smoltcp::wire::IpAddress::Ipv6(address.address),
                            address.prefix,
                        ))
                        .is_ok();
            }
        });
        if !addresses_ok {
            return Err(Error::InvalidConfig);
        }
        if let Ipv4Config::Static {
            gateway: Some(gateway),
            ..
        } = config.ipv4
        {
            iface
                .routes_mut()
                .add_default_ipv4_route(gateway)
                .map_err(|_| Error::InvalidConfig)?;
        }
        #[cfg(feature = "proto-ipv6")]
        if let crate::config::Ipv6Config::Static {
            gateway: Some(gateway),
            ..
        } = config.ipv6
        {
            iface
                .routes_mut()
                .add_default_ipv6_route(gateway)
                .map_err(|_| Error::InvalidConfig)?;
        }

        #[cfg(feature = "dns")]
        let dns = {
            sockets.reserve(1)?;
            let servers = crate::dns::servers(&config.dns_servers);
            let queries = core::mem::take(&mut sockets.dns_queries);
            Some(
                sockets
                    .set
                    .add(smoltcp::socket::dns::Socket::new(&servers, queries)),
            )
        };
        #[cfg(feature = "dhcpv4")]
        let dhcp = if config.ipv4 == Ipv4Config::Dhcp {
            sockets.reserve(1)?;
            Some(sockets.set.add(smoltcp::socket::dhcpv4::Socket::new()))
        } else {
            None
        };

        let next_port = EPHEMERAL_FIRST + (config.random_seed % u64::from(EPHEMERAL_COUNT)) as u16;
        Ok(Self {
            core: RefCell::new(Core {
                iface,
                sockets: sockets.set,
                #[cfg(feature = "tcp")]
                tcp: TcpState::new(sockets.tcp),
                #[cfg(feature = "udp")]
                udp: sockets.udp,
                #[cfg(feature = "dns")]
                dns,
                #[cfg(feature = "dhcpv4")]
                dhcp,
                runner: None,
                address_waiters: WakerSet::new(),
                now,
                next_port,
                epoch: 0,
                config,
                medium,
            }),
            driver: RefCell::new(driver),
            clock,
        })
    }

    /// Drives the stack: receives and sends frames, runs the timers, and sleeps
    /// until the driver has a frame, a socket has work, or smoltcp's next
    /// deadline. Never returns; poll it for as long as the stack is used.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it pauses the stack, and polling it again resumes.
    pub async fn run(&self) -> Infallible {
        loop {
            let deadline = poll_fn(|cx| Poll::Ready(self.poll_once(cx))).await;
            // Any wake after this poll (a frame, a socket operation, the
            // deadline) means another round.
            let mut waited = false;
            let woken = pin!(poll_fn(|_| {
                if core::mem::replace(&mut waited, true) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                }
            }));
            match deadline {
                Some(at) => {
                    let sleep = pin!(self.clock.sleep_until(at));
                    let _ = select(woken, sleep).await;
                }
                None => woken.await,
            }
        }
    }

    /// One round of the runner; returns when it wants to run again at the latest.
    fn poll_once(&self, cx: &mut Context<'_>) -> Option<portnet::Instant> {
        let now = time::to_smoltcp(self.clock.now());
        let mut core = self.core.borrow_mut();
        let mut driver = self.driver.borrow_mut();
        let core = &mut *core;
        core.now = now;
        match &mut core.runner {
            Some(waker) => waker.clone_from(cx.waker()),
            None => core.runner = Some(cx.waker().clone()),
        }
        core.iface.poll_maintenance(now);
        let mut budget_left = true;
        for round in 0..=INGRESS_BUDGET {
            if round == INGRESS_BUDGET {
                budget_left = false;
                break;
            }
            #[cfg(feature = "tcp")]
            let tcp_slots: &[crate::tcp::TcpSlot] = core.tcp.slots;
            let medium = core.medium;
            #[cfg(feature = "tcp")]
            let discard = |frame: &[u8]| crate::tcp::is_held_back(tcp_slots, frame, medium);
            #[cfg(feature = "tcp")]
            let sent = |frame: &[u8]| crate::tcp::note_sent(tcp_slots, frame, medium);
            #[cfg(not(feature = "tcp"))]
            let discard = |_: &[u8]| false;
            #[cfg(not(feature = "tcp"))]
            let sent = |_: &[u8]| {};
            let mut device = Polled {
                driver: &mut *driver,
                cx: &mut *cx,
                discard: &discard,
                sent: &sent,
                medium,
            };
            let result = core
                .iface
                .poll_ingress_single(now, &mut device, &mut core.sockets);
            if result == PollIngressSingleResult::None {
                break;
            }
            #[cfg(feature = "tcp")]
            crate::tcp::after_ingress(core);
        }
        #[cfg(feature = "tcp")]
        let tcp_slots: &[crate::tcp::TcpSlot] = core.tcp.slots;
        let medium = core.medium;
        #[cfg(feature = "tcp")]
        let sent = |frame: &[u8]| crate::tcp::note_sent(tcp_slots, frame, medium);
        #[cfg(not(feature = "tcp"))]
        let sent = |_: &[u8]| {};
        let mut device = Polled {
            driver: &mut *driver,
            cx: &mut *cx,
            discard: &|_| false,
            sent: &sent,
            medium,
        };
        for _ in 0..EGRESS_BUDGET {
            if core.iface.poll_egress(now, &mut device, &mut core.sockets)
                == smoltcp::iface::PollResult::None
            {
                break;
            }
        }
        #[cfg(feature = "tcp")]
        crate::tcp::after_egress(core);
        #[cfg(feature = "dhcpv4")]
        self.poll_dhcp(core);
        let mut deadline = core
            .iface
            .poll_at(now, &core.sockets)
            .map(time::from_smoltcp);
        #[cfg(feature = "tcp")]
        {
            deadline = earliest(deadline, crate::tcp::reclaim(core));
        }
        #[cfg(feature = "udp")]
        {
            deadline = earliest(deadline, crate::udp::reclaim(core));
        }
        core.epoch += 1;
        if !budget_left {
            // More frames wait: run again soon, after other tasks had a turn.
            cx.waker().wake_by_ref();
        }
        deadline
    }

    #[cfg(feature = "dhcpv4")]
    fn poll_dhcp(&self, core: &mut Core<'_>) {
        use smoltcp::socket::dhcpv4;
        let Some(handle) = core.dhcp else { return };
        let event = core.sockets.get_mut::<dhcpv4::Socket<'_>>(handle).poll();
        match event {
            None => {}
            Some(dhcpv4::Event::Configured(lease)) => {
                let address = lease.address;
                let router = lease.router;
                let mut servers = [None; 3];
                for (slot, server) in servers.iter_mut().zip(lease.dns_servers.iter()) {
                    *slot = Some(IpAddr::V4(*server));
                }
                core.iface.update_ip_addrs(|addrs| {
                    addrs.retain(|cidr| !matches!(cidr, IpCidr::Ipv4(_)));
                    let _ = addrs.push(IpCidr::Ipv4(address));
                });
                match router {
                    Some(router) => {
                        let _ = core.iface.routes_mut().add_default_ipv4_route(router);
                    }
                    None => {
                        core.iface.routes_mut().remove_default_ipv4_route();
                    }
                }
                #[cfg(feature = "dns")]
                if servers.iter().any(Option::is_some) {
                    core.config.dns_servers = servers;
                    if let Some(dns) = core.dns {
                        let list = crate::dns::servers(&servers);
                        core.sockets
                            .get_mut::<smoltcp::socket::dns::Socket<'_>>(dns)
                            .update_servers(&list);
                    }
                }
                let _ = servers;
                core.address_waiters.wake_all();
            }
            Some(dhcpv4::Event::Deconfigured) => {
                core.iface
                    .update_ip_addrs(|addrs| addrs.retain(|cidr| !matches!(cidr, IpCidr::Ipv4(_))));
                core.iface.routes_mut().remove_default_ipv4_route();
            }
        }
    }

    /// The interface's IPv4 address, once it has one (static, or leased by DHCP).
    pub fn ipv4_address(&self) -> Option<core::net::Ipv4Addr> {
        self.core.borrow().iface.ipv4_addr()
    }

    /// The interface's IPv4 address with its prefix length, once it has one.
    pub fn ipv4_cidr(&self) -> Option<crate::Cidr<core::net::Ipv4Addr>> {
        self.core
            .borrow()
            .iface
            .ip_addrs()
            .iter()
            .find_map(|cidr| match cidr {
                IpCidr::Ipv4(v4) => Some(crate::Cidr::new(v4.address(), v4.prefix_len())),
                #[allow(unreachable_patterns)]
                _ => None,
            })
    }

    /// The IPv4 default gateway, static or from the DHCP lease.
    pub fn ipv4_gateway(&self) -> Option<core::net::Ipv4Addr> {
        use smoltcp::wire::IpAddress;
        match self
            .core
            .borrow()
            .iface
            .routes()
            .get_default_ipv4_route()?
            .via_router
        {
            IpAddress::Ipv4(router) => Some(router),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }

    /// The DNS servers in use: configured, or from the DHCP lease.
    pub fn dns_servers(&self) -> [Option<IpAddr>; 3] {
        self.core.borrow().config.dns_servers
    }

    /// Waits until the interface has an IPv4 address (at once for a static one).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_ipv4(&self) -> core::net::Ipv4Addr {
        poll_fn(|cx| match self.ipv4_address() {
            Some(address) => Poll::Ready(address),
            None => {
                self.core.borrow_mut().address_waiters.register(cx.waker());
                Poll::Pending
            }
        })
        .await
    }

    /// How many TCP and UDP sockets are in use (open, or still closing).
    pub fn sockets_in_use(&self) -> usize {
        self.core.borrow().sockets_in_use()
    }

    /// The stack's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

fn earliest(a: Option<portnet::Instant>, b: Option<portnet::Instant>) -> Option<portnet::Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// A device that only tells its capabilities: all `Interface::new` needs.
struct Probe {
    caps: smoltcp::phy::DeviceCapabilities,
}

impl smoltcp::phy::Device for Probe {
    type RxToken<'a> = Never;
    type TxToken<'a> = Never;
    fn receive(&mut self, _: smoltcp::time::Instant) -> Option<(Never, Never)> {
        None
    }
    fn transmit(&mut self, _: smoltcp::time::Instant) -> Option<Never> {
        None
    }
    fn capabilities(&self) -> smoltcp::phy::DeviceCapabilities {
        self.caps.clone()
    }
}

/// A token that cannot exist.
enum Never {}

impl smoltcp::phy::RxToken for Never {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, _: F) -> R {
        match self {}
    }
}

impl smoltcp::phy::TxToken for Never {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, _: usize, _: F) -> R {
        match self {}
    }
}

impl<D, C> portnet::ErrorType for Stack<'_, D, C> {
    type Error = Error;
}

impl<D, C: Clock> Clock for Stack<'_, D, C> {
    fn now(&self) -> portnet::Instant {
        self.clock.now()
    }
    fn sleep_until(&self, deadline: portnet::Instant) -> impl core::future::Future<Output = ()> {
        self.clock.sleep_until(deadline)
    }
}
