//! The network device: any `embassy_net_driver::Driver`, seen by smoltcp as a
//! `phy::Device` for the duration of one poll of the stack's runner.

use core::task::Context;

use embassy_net_driver::Driver;
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// A driver with the runner's context: frames it cannot give now wake the
/// runner later. Frames `discard` says yes to never reach smoltcp.
pub(crate) struct Polled<'d, 'c, 'w, D> {
    pub(crate) driver: &'d mut D,
    pub(crate) cx: &'c mut Context<'w>,
    pub(crate) discard: &'d dyn Fn(&[u8]) -> bool,
    pub(crate) sent: &'d dyn Fn(&[u8]),
    /// The driver's medium, from its hardware address.
    pub(crate) medium: Medium,
}

pub(crate) struct Rx<'f, T> {
    token: T,
    discard: &'f dyn Fn(&[u8]) -> bool,
}
pub(crate) struct Tx<'f, T> {
    token: T,
    sent: &'f dyn Fn(&[u8]),
}

impl<T: embassy_net_driver::RxToken> phy::RxToken for Rx<'_, T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        let discard = self.discard;
        // A discarded frame reaches smoltcp empty, which it drops as truncated.
        self.token
            .consume(|frame| if discard(frame) { f(&[]) } else { f(frame) })
    }
}

impl<T: embassy_net_driver::TxToken> phy::TxToken for Tx<'_, T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let sent = self.sent;
        self.token.consume(len, |frame| {
            let result = f(frame);
            sent(frame);
            result
        })
    }
}

impl<D: Driver> phy::Device for Polled<'_, '_, '_, D> {
    type RxToken<'a>
        = Rx<'a, D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a, D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        let (discard, sent) = (self.discard, self.sent);
        self.driver
            .receive(self.cx)
            .map(|(token, tx)| (Rx { token, discard }, Tx { token: tx, sent }))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        let sent = self.sent;
        self.driver
            .transmit(self.cx)
            .map(|token| Tx { token, sent })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities(&self.driver.capabilities(), self.medium)
    }
}

/// The smoltcp medium of a driver's hardware address, if this build has it.
pub(crate) fn medium(address: &embassy_net_driver::HardwareAddress) -> Option<Medium> {
    match address {
        embassy_net_driver::HardwareAddress::Ethernet(_) => Some(Medium::Ethernet),
        #[cfg(feature = "medium-ip")]
        embassy_net_driver::HardwareAddress::Ip => Some(Medium::Ip),
        _ => None,
    }
}

/// smoltcp's view of a driver's capabilities, on `medium`.
pub(crate) fn capabilities(
    caps: &embassy_net_driver::Capabilities,
    medium: Medium,
) -> DeviceCapabilities {
    let mut out = DeviceCapabilities::default();
    out.medium = medium;
    out.max_transmission_unit = caps.max_transmission_unit;
    out.max_burst_size = caps.max_burst_size;
    let mut checksum = ChecksumCapabilities::default();
    checksum.ipv4 = convert(caps.checksum.ipv4);
    checksum.udp = convert(caps.checksum.udp);
    checksum.tcp = convert(caps.checksum.tcp);
    checksum.icmpv4 = convert(caps.checksum.icmpv4);
    #[cfg(feature = "proto-ipv6")]
    {
        checksum.icmpv6 = convert(caps.checksum.icmpv6);
    }
    out.checksum = checksum;
    out
}

fn convert(checksum: embassy_net_driver::Checksum) -> Checksum {
    match checksum {
        embassy_net_driver::Checksum::Both => Checksum::Both,
        embassy_net_driver::Checksum::Rx => Checksum::Rx,
        embassy_net_driver::Checksum::Tx => Checksum::Tx,
        embassy_net_driver::Checksum::None => Checksum::None,
    }
}
