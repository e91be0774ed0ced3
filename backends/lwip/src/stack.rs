//! The stack: lwIP's interface on a driver, the runner, and the one-stack rule.

use core::cell::RefCell;
use core::convert::Infallible;
use core::fmt;
use core::future::poll_fn;
use core::marker::PhantomData;
use core::net::Ipv4Addr;
use core::pin::pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll};

use embassy_net_driver::{Driver, HardwareAddress, RxToken, TxToken};
use portnet::future::select;
use portnet::{Clock, ErrorKind};

use crate::state::{FRAME, from_ip};
use crate::{Error, ffi};

/// Incoming frames one runner round hands to lwIP before it yields.
const INGRESS_BUDGET: usize = 64;

/// Whether a [`Stack`] exists in this process: lwIP's state is global, so
/// there is at most one.
static LIVE: AtomicBool = AtomicBool::new(false);

/// Takes the process's one lwIP stack; `false` if it is taken.
#[cfg(target_has_atomic = "8")]
fn claim() -> bool {
    LIVE.compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_ok()
}

/// Takes the process's one lwIP stack; `false` if it is taken. Targets without
/// compare-and-swap (thumbv6m) are single-core with no threads: only an
/// interrupt handler could race, and one creating a stack is not supported.
#[cfg(not(target_has_atomic = "8"))]
fn claim() -> bool {
    if LIVE.load(Ordering::Acquire) {
        return false;
    }
    LIVE.store(true, Ordering::Release);
    true
}

/// How the stack's interface is set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The interface's IPv4 address.
    pub address: Ipv4Addr,
    /// Its prefix length (24 for a /24).
    pub prefix: u8,
    /// The default gateway, if any.
    pub gateway: Option<Ipv4Addr>,
    /// Seeds lwIP's random numbers (initial sequence numbers, ephemeral ports).
    pub random_seed: u32,
}

impl Config {
    /// A static IPv4 address with `prefix`, and an optional gateway.
    pub const fn ipv4_static(address: Ipv4Addr, prefix: u8, gateway: Option<Ipv4Addr>) -> Self {
        Self {
            address,
            prefix,
            gateway,
            random_seed: 1,
        }
    }
}

/// lwIP on a network driver: a portnet stack (TCP and UDP over IPv4).
///
/// Create it with [`Stack::new`], then poll [`Stack::run`] alongside the code
/// that uses it: the runner moves frames between the driver and lwIP and runs
/// lwIP's timers from the stack's clock.
///
/// The driver is an Ethernet device (frames with an Ethernet header; lwIP
/// resolves next hops with ARP) or an IP-medium one, whose hardware address
/// is [`HardwareAddress::Ip`] (SLIP, `portnet-slip`: each frame is one IP
/// packet, sent to the link as it is, no ARP). [`Stack::new`] picks the
/// interface from the driver's address.
///
/// lwIP keeps its state in globals, so a process has **one** stack at a time:
/// a second [`Stack::new`] while one lives fails with `OutOfResources`.
/// Dropping the stack frees every socket lwIP still holds and allows the next.
/// Neither `Send` nor `Sync`: lwIP is not thread-safe.
pub struct Stack<D, C> {
    pub(crate) driver: RefCell<D>,
    pub(crate) clock: C,
    pub(crate) address: Ipv4Addr,
    /// Whether the driver's frames are Ethernet frames (else IP packets).
    ethernet: bool,
    /// The subnet mask (host order) and whether a gateway is configured.
    mask: u32,
    has_gateway: bool,
    /// lwIP's `sys_now` when the stack was made, and the clock then: lwIP's
    /// timer list outlives a stack, so its time must not restart with a new
    /// stack's clock (timers set by the last stack would then wait for the
    /// old time to come back, and retransmissions with them).
    time_base: u32,
    clock_epoch: portnet::Instant,
    _single_thread: PhantomData<*const ()>,
}

impl<D, C> fmt::Debug for Stack<D, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl<D: Driver, C: Clock> Stack<D, C> {
    /// lwIP on `driver`, keeping time with `clock`, configured by `config`.
    ///
    /// # Errors
    ///
    /// `OutOfResources` while another stack lives in the process;
    /// `InvalidInput` for a driver whose hardware address is neither a
    /// unicast Ethernet address nor [`HardwareAddress::Ip`] (an IP-medium
    /// link such as SLIP: no link header, no ARP), or a prefix longer than 32.
    pub fn new(driver: D, clock: C, config: Config) -> Result<Self, Error> {
        let mac = match driver.hardware_address() {
            HardwareAddress::Ethernet(mac) if mac[0] & 1 == 0 => Some(mac),
            HardwareAddress::Ip => None,
            _ => return Err(ErrorKind::InvalidInput.into()),
        };
        if config.prefix > 32 {
            return Err(ErrorKind::InvalidInput.into());
        }
        if !claim() {
            return Err(ErrorKind::OutOfResources.into());
        }
        let mtu = driver.capabilities().max_transmission_unit;
        // An Ethernet driver's MTU counts the Ethernet header; lwIP's is the
        // IP packet's, which is all an IP-medium driver's frame holds.
        let header = if mac.is_some() { 14 } else { 0 };
        let mtu = mtu.saturating_sub(header).clamp(576, FRAME - 14) as u16;
        let mask = if config.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(config.prefix))
        };
        ffi::init(config.random_seed);
        // A little past the last stack's time, so no timer of lwIP's is due
        // twice and none waits for a time already gone.
        let time_base = ffi::now().wrapping_add(1);
        let clock_epoch = clock.now();
        ffi::set_now(time_base);
        if let Ok(mut st) = ffi::state().try_borrow_mut() {
            st.reset();
        }
        let err = ffi::netif_add(
            mac,
            from_ip(config.address),
            mask.to_be(),
            from_ip(config.gateway.unwrap_or(Ipv4Addr::UNSPECIFIED)),
            mtu,
        );
        if err != ffi::ERR_OK {
            ffi::teardown();
            LIVE.store(false, Ordering::Release);
            return Err(Error::lwip(err));
        }
        Ok(Self {
            driver: RefCell::new(driver),
            clock,
            address: config.address,
            ethernet: mac.is_some(),
            mask,
            has_gateway: config.gateway.is_some(),
            time_base,
            clock_epoch,
            _single_thread: PhantomData,
        })
    }

    /// Drives the stack: moves frames, runs lwIP's timers, and sleeps until the
    /// driver has a frame, a socket has work, or lwIP's next timer. Never
    /// returns; poll it as long as the stack is used.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping it pauses the stack, polling it again resumes.
    pub async fn run(&self) -> Infallible {
        loop {
            let deadline = poll_fn(|cx| Poll::Ready(self.poll_once(cx))).await;
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

    /// One round: frames in, timers, frames out; returns when to run again.
    fn poll_once(&self, cx: &mut Context<'_>) -> Option<portnet::Instant> {
        let now = self.clock.now();
        self.tick_at(now);
        if let Ok(mut st) = ffi::state().try_borrow_mut() {
            match &mut st.runner {
                Some(w) => w.clone_from(cx.waker()),
                None => st.runner = Some(cx.waker().clone()),
            }
        }
        let Ok(mut driver) = self.driver.try_borrow_mut() else {
            cx.waker().wake_by_ref();
            return None;
        };
        let mut budget_left = true;
        for round in 0..=INGRESS_BUDGET {
            if round == INGRESS_BUDGET {
                budget_left = false;
                break;
            }
            self.flush(&mut driver, cx);
            let Some((rx, _tx)) = driver.receive(cx) else {
                break;
            };
            // A frame lwIP has no pbuf for is dropped, as a full NIC would.
            rx.consume(|frame| {
                if !self.ethernet || arp_is_consistent(frame) {
                    let _ = ffi::netif_input(frame);
                }
            });
        }
        let sleep_ms = ffi::check_timeouts();
        self.flush(&mut driver, cx);
        if !budget_left {
            cx.waker().wake_by_ref();
        }
        (sleep_ms != u32::MAX).then(|| now + core::time::Duration::from_millis(sleep_ms.into()))
    }

    /// Hands queued frames to the driver while it takes them.
    fn flush(&self, driver: &mut D, cx: &mut Context<'_>) {
        loop {
            let Ok(mut st) = ffi::state().try_borrow_mut() else {
                return;
            };
            let Some(frame) = st.tx.front() else {
                return;
            };
            let Some(token) = driver.transmit(cx) else {
                return;
            };
            token.consume(frame.len(), |buf| buf.copy_from_slice(frame));
            st.tx.pop();
        }
    }

    /// How many TCP connections, listeners and UDP sockets are open, counting
    /// the connections whose handle is dropped but which lwIP still sends or
    /// closes in the background: a firmware that waits for 0 before it stops
    /// loses no data in flight.
    pub fn sockets_in_use(&self) -> usize {
        let handles = ffi::state().try_borrow().map_or(0, |st| {
            st.tcp.iter().filter(|s| s.used).count()
                + st.listeners.iter().filter(|s| s.used).count()
                + st.udp.iter().filter(|s| s.used).count()
        });
        handles + ffi::tcp_closing_in_background()
    }

    /// Events lwIP's callbacks could not record, and frames dropped for a full
    /// transmit queue: both 0 in a healthy run (the tests check the first).
    pub fn diagnostics(&self) -> (u32, u32) {
        ffi::state()
            .try_borrow()
            .map_or((u32::MAX, 0), |st| (st.conflicts, st.tx_dropped))
    }

    /// The interface's IPv4 address.
    pub fn ipv4_address(&self) -> Ipv4Addr {
        self.address
    }

    /// The stack's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }
}

/// Whether a frame that is not ARP, or an ARP packet whose sender hardware
/// address is the frame's source address.
///
/// ARP has no checksum, and lwIP believes an ARP packet's sender address
/// until the entry ages out (minutes): one flipped bit there (a link without
/// a frame check sequence, such as the lossy in-memory link) sends every
/// later frame for that peer to a station that does not exist, and its
/// connections time out. A flip in one of the two copies shows; the frame is
/// dropped and ARP asks again.
fn arp_is_consistent(frame: &[u8]) -> bool {
    const ETHERTYPE_ARP: [u8; 2] = [0x08, 0x06];
    if frame.get(12..14) != Some(&ETHERTYPE_ARP[..]) {
        return true;
    }
    let Some(arp) = frame.get(14..42) else {
        return false;
    };
    // Ethernet/IPv4 ARP: hardware type 1, protocol 0x0800, lengths 6 and 4.
    arp[..6] == [0, 1, 8, 0, 6, 4] && arp[8..14] == frame[6..12]
}

impl<D, C> Stack<D, C> {
    /// Whether `remote` has a route: on the interface's subnet, or through the
    /// gateway. lwIP's one netif takes every destination and only its ARP layer
    /// finds out there is no route, which a connection then waits out as a
    /// timeout; the answer is known here, at once.
    pub(crate) fn routes_to(&self, remote: Ipv4Addr) -> bool {
        self.has_gateway
            || remote.is_broadcast()
            || (u32::from(remote) & self.mask) == (u32::from(self.address) & self.mask)
    }
}

impl<D, C: Clock> Stack<D, C> {
    /// Brings lwIP's `sys_now` to the clock before a call into lwIP.
    pub(crate) fn tick(&self) {
        self.tick_at(self.clock.now());
    }

    fn tick_at(&self, now: portnet::Instant) {
        let elapsed = now.saturating_duration_since(self.clock_epoch).as_millis() as u32;
        ffi::set_now(self.time_base.wrapping_add(elapsed));
    }
}

impl<D, C> Drop for Stack<D, C> {
    fn drop(&mut self) {
        // Connections and listeners borrow the stack, so none is left; what
        // lwIP still holds is its own (closing connections, TIME_WAIT).
        if let Ok(mut st) = ffi::state().try_borrow_mut() {
            st.reset();
        }
        ffi::teardown();
        if let Ok(mut st) = ffi::state().try_borrow_mut() {
            st.reset();
        }
        LIVE.store(false, Ordering::Release);
    }
}

impl<D, C> portnet::ErrorType for Stack<D, C> {
    type Error = Error;
}

impl<D, C: Clock> Clock for Stack<D, C> {
    fn now(&self) -> portnet::Instant {
        self.clock.now()
    }
    fn sleep_until(&self, deadline: portnet::Instant) -> impl core::future::Future<Output = ()> {
        self.clock.sleep_until(deadline)
    }
}
