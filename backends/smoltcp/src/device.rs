//! The network device: any `embassy_net_driver::Driver`, seen by smoltcp as a
//! `phy::Device` for the duration of one poll of the stack's runner.

use core::task::Context;

use embassy_net_driver::Driver;
use smoltcp::phy::{self, Checksum, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// A driver with the runner's context: frames it cannot give now wake the
/// runner later.
pub(crate) struct Polled<'d, 'c, 'w, D> {
    pub(crate) driver: &'d mut D,
    pub(crate) cx: &'c mut Context<'w>,
}

pub(crate) struct Rx<T>(T);
pub(crate) struct Tx<T>(T);

impl<T: embassy_net_driver::RxToken> phy::RxToken for Rx<T> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        self.0.consume(|frame| f(frame))
    }
}

impl<T: embassy_net_driver::TxToken> phy::TxToken for Tx<T> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.consume(len, f)
    }
}

impl<D: Driver> phy::Device for Polled<'_, '_, '_, D> {
    type RxToken<'a>
        = Rx<D::RxToken<'a>>
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<D::TxToken<'a>>
    where
        Self: 'a;

    fn receive(&mut self, _now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        self.driver
            .receive(self.cx)
            .map(|(rx, tx)| (Rx(rx), Tx(tx)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Self::TxToken<'_>> {
        self.driver.transmit(self.cx).map(Tx)
    }

    fn capabilities(&self) -> DeviceCapabilities {
        capabilities(&self.driver.capabilities())
    }
}

/// smoltcp's view of a driver's capabilities (Ethernet medium).
pub(crate) fn capabilities(caps: &embassy_net_driver::Capabilities) -> DeviceCapabilities {
    let mut out = DeviceCapabilities::default();
    out.medium = Medium::Ethernet;
    out.max_transmission_unit = caps.max_transmission_unit;
    out.max_burst_size = caps.max_burst_size;
    let mut checksum = ChecksumCapabilities::default();
    checksum.ipv4 = convert(caps.checksum.ipv4);
    checksum.udp = convert(caps.checksum.udp);
    checksum.tcp = convert(caps.checksum.tcp);
    checksum.icmpv4 = convert(caps.checksum.icmpv4);
    checksum.icmpv6 = convert(caps.checksum.icmpv6);
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
