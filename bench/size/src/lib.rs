//! What every skeleton shares, so that only the contender differs between them:
//! a stub transport (bytes come from a volatile read of a static, go out by
//! volatile writes), a stub clock (a volatile counter), `block_on` with a no-op
//! waker, and the panic handler. The stub is presented through each contender's
//! own transport trait: `embedded-io-async` for minimq and rust-mqtt, the portnet
//! traits for portnet-mqtt; each adapter is a few lines over the same functions.
#![no_std]

use core::future::Future;
use core::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use core::pin::{Pin, pin};
use core::ptr::{addr_of, addr_of_mut};
use core::task::{Context, Poll, Waker};

/// The broker's address in every skeleton.
pub const BROKER: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1883));

static mut RX_WIRE: [u8; 64] = [0; 64];
static mut TX_WIRE: u8 = 0;
static mut TICKS: u64 = 0;

/// Reads "received" bytes: a volatile read the compiler cannot predict.
pub fn wire_read(buf: &mut [u8]) -> usize {
    let n = buf.len().min(64);
    for (i, b) in buf[..n].iter_mut().enumerate() {
        // SAFETY: in-bounds read of a static; single-threaded firmware.
        *b = unsafe { core::ptr::read_volatile(addr_of!(RX_WIRE[i])) };
    }
    n
}

/// "Sends" bytes: volatile writes the compiler must keep.
pub fn wire_write(buf: &[u8]) -> usize {
    for b in buf {
        // SAFETY: write of a static; single-threaded firmware.
        unsafe { core::ptr::write_volatile(addr_of_mut!(TX_WIRE), *b) };
    }
    buf.len()
}

/// The stub clock, in microseconds.
pub fn now_micros() -> u64 {
    // SAFETY: read of a static; single-threaded firmware.
    unsafe { core::ptr::read_volatile(addr_of!(TICKS)) }
}

/// Polls `future` to completion with a no-op waker (busy loop).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// The stub as an `embedded-io-async` stream.
#[derive(Debug)]
pub struct EioWire;

impl embedded_io_async::ErrorType for EioWire {
    type Error = embedded_io_async::ErrorKind;
}

impl embedded_io_async::Read for EioWire {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(wire_read(buf))
    }
}

impl embedded_io_async::Write for EioWire {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(wire_write(buf))
    }
    async fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// The stub as a portnet stack (`TcpConnect` + `Clock`).
#[derive(Debug, Clone, Copy)]
pub struct PortnetWire;

/// The stub as a portnet connection.
#[derive(Debug)]
pub struct PortnetConn;

impl portnet::ErrorType for PortnetWire {
    type Error = portnet::ErrorKind;
}
impl portnet::ErrorType for PortnetConn {
    type Error = portnet::ErrorKind;
}

impl portnet::Read for PortnetConn {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, Self::Error>> {
        Poll::Ready(Ok(wire_read(buf)))
    }
}

impl portnet::Write for PortnetConn {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        Poll::Ready(Ok(wire_write(buf)))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

impl portnet::SocketOptions for PortnetConn {
    fn set_option(&self, _: portnet::SocketOption) -> Result<(), Self::Error> {
        Err(portnet::ErrorKind::Unsupported)
    }
    fn option(&self, _: portnet::SocketOptionName) -> Result<portnet::SocketOption, Self::Error> {
        Err(portnet::ErrorKind::Unsupported)
    }
}

impl portnet::TcpStream for PortnetConn {
    type ReadHalf<'a> = &'a mut Self;
    type WriteHalf<'a> = Sink;
    fn split(&mut self) -> (Self::ReadHalf<'_>, Self::WriteHalf<'_>) {
        (self, Sink)
    }
    fn local_addr(&self) -> Result<SocketAddr, Self::Error> {
        Ok(BROKER)
    }
    fn peer_addr(&self) -> Result<SocketAddr, Self::Error> {
        Ok(BROKER)
    }
    fn abort(self) {}
}

/// The write half of [`PortnetConn`].
#[derive(Debug)]
pub struct Sink;

impl portnet::ErrorType for Sink {
    type Error = portnet::ErrorKind;
}

impl portnet::Write for Sink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, Self::Error>> {
        Poll::Ready(Ok(wire_write(buf)))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }
}

impl portnet::TcpConnect for PortnetWire {
    type Connection<'a> = PortnetConn;
    async fn connect(&self, _remote: SocketAddr) -> Result<PortnetConn, portnet::ErrorKind> {
        Ok(PortnetConn)
    }
}

impl portnet::Clock for PortnetWire {
    fn now(&self) -> portnet::time::Instant {
        portnet::time::Instant::from_micros(now_micros())
    }
    async fn sleep_until(&self, deadline: portnet::time::Instant) {
        core::future::poll_fn(|_| {
            if self.now() >= deadline {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        cortex_m::asm::wfi();
    }
}

/// The stub as an Ethernet device (`embassy-net-driver`), for the TCP-client
/// skeletons of both stacks: frames come from and go to the same stub wire.
#[derive(Debug)]
pub struct StubDevice;

/// A received frame of [`StubDevice`].
#[derive(Debug)]
pub struct StubRx;

/// A frame to send on [`StubDevice`].
#[derive(Debug)]
pub struct StubTx;

impl embassy_net_driver::RxToken for StubRx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, f: F) -> R {
        let mut frame = [0u8; 1514];
        let n = wire_read(&mut frame);
        f(&mut frame[..n])
    }
}

impl embassy_net_driver::TxToken for StubTx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = [0u8; 1514];
        let len = len.min(frame.len());
        let r = f(&mut frame[..len]);
        wire_write(&frame[..len]);
        r
    }
}

impl embassy_net_driver::Driver for StubDevice {
    type RxToken<'a> = StubRx;
    type TxToken<'a> = StubTx;
    fn receive(&mut self, _: &mut Context<'_>) -> Option<(StubRx, StubTx)> {
        let mut byte = [0u8; 1];
        (wire_read(&mut byte) == 1 && byte[0] != 0).then_some((StubRx, StubTx))
    }
    fn transmit(&mut self, _: &mut Context<'_>) -> Option<StubTx> {
        Some(StubTx)
    }
    fn link_state(&mut self, _: &mut Context<'_>) -> embassy_net_driver::LinkState {
        embassy_net_driver::LinkState::Up
    }
    fn capabilities(&self) -> embassy_net_driver::Capabilities {
        let mut caps = embassy_net_driver::Capabilities::default();
        caps.max_transmission_unit = 1514;
        caps
    }
    fn hardware_address(&self) -> embassy_net_driver::HardwareAddress {
        embassy_net_driver::HardwareAddress::Ethernet([0x02, 0, 0, 0, 0, 1])
    }
}

/// The TCP clients' application, one body for every portnet backend they
/// compare: connect to [`BROKER`], write, read, close.
pub async fn tcp_client<S: portnet::TcpConnect>(stack: &S) {
    use portnet::{ReadExt, WriteExt};
    if let Ok(mut conn) = stack.connect(BROKER).await {
        let _ = conn.write_all(b"hello").await;
        let mut buf = [0u8; 16];
        if let Ok(n) = conn.read(&mut buf).await {
            wire_write(&buf[..n]);
        }
        let _ = conn.close().await;
    }
}

/// The executor skeletons' alarm on portnet-executor: a stub compare register
/// (a volatile write), served by the SysTick handler.
#[derive(Debug)]
pub struct StubAlarm;

static mut COMPARE: u64 = 0;

/// Writes "the compare register".
pub fn set_compare(at: u64) {
    // SAFETY: write of a static; single-threaded firmware.
    unsafe { core::ptr::write_volatile(addr_of_mut!(COMPARE), at) };
}

impl portnet_executor::Alarm for StubAlarm {
    fn now(&self) -> u64 {
        now_micros()
    }
    fn set_alarm(&self, at: u64) -> bool {
        set_compare(at);
        at > now_micros()
    }
}

/// The sensor node's I²C bus (the SHT3x behind it) over the stub wire: writes
/// go out, reads come in, as in the MQTT skeletons.
#[derive(Debug)]
pub struct StubI2c;

impl embedded_hal_async::i2c::ErrorType for StubI2c {
    type Error = embedded_hal_async::i2c::ErrorKind;
}

impl embedded_hal_async::i2c::I2c for StubI2c {
    async fn transaction(
        &mut self,
        address: u8,
        operations: &mut [embedded_hal_async::i2c::Operation<'_>],
    ) -> Result<(), Self::Error> {
        use embedded_hal_async::i2c::Operation;
        wire_write(&[address]);
        for op in operations {
            match op {
                Operation::Read(buf) => {
                    wire_read(buf);
                }
                Operation::Write(buf) => {
                    wire_write(buf);
                }
            }
        }
        Ok(())
    }
}

/// The sensor's delay: returns at once (both node skeletons share it, so
/// neither executor's timer is in the sensor's path).
#[derive(Debug)]
pub struct StubDelay;

impl embedded_hal_async::delay::DelayNs for StubDelay {
    async fn delay_ns(&mut self, ns: u32) {
        wire_write(&ns.to_le_bytes()[..1]);
    }
}

/// The node's LEDs: the mask goes out on the wire and is shown as asked.
#[derive(Debug)]
pub struct StubLeds;

impl portnet_iot_sensor::leds::Leds for StubLeds {
    fn show(&mut self, mask: u8) -> u8 {
        wire_write(&[mask]);
        mask
    }
}

/// The node's console: lines go out on the wire.
#[derive(Debug)]
pub struct StubConsole;

impl portnet_iot_sensor::Console for StubConsole {
    fn line(&mut self, line: &str) {
        wire_write(line.as_bytes());
    }
}
