//! The sensor node on a WIZnet W5500-EVB-Pico: only the board is set up here.
//! The RP2040 runs portnet's executor (`portnet-executor`, sleeping with WFI);
//! the W5500 on SPI0 (the board's wiring: MISO GP16, CS GP17, SCK GP18, MOSI
//! GP19, RST GP20, INT GP21) is driven by `embassy-net-wiznet` in MACRAW mode,
//! an `embassy-net-driver` device that carries portnet's smoltcp backend
//! (address by DHCP). The application is `portnet_kit_support::node`, that is
//! `portnet_iot_sensor::app::run`, the code every board runs; its LED is GP25.
//!
//! Settings at build time: `PORTNET_BROKER`, `PORTNET_DEVICE_ID` (see
//! `docs/boards/w5500-evb-pico.md`). The console is RTT.
#![no_std]
#![no_main]

use core::pin::pin;

use embassy_net_wiznet::chip::W5500;
use embassy_rp::flash::{Blocking, Flash};
use embassy_rp::gpio::{Input, Level, Output, Pull};
use embassy_rp::peripherals::{DMA_CH0, DMA_CH1};
use embassy_rp::spi::{self, Spi};
use embassy_rp::{Peripherals, bind_interrupts, dma};
use embedded_hal_bus::spi::ExclusiveDevice;
use portnet::future::{Either, select};
use portnet_executor::{Executor, WfiPark};
use portnet_iot_sensor::Console;
use portnet_iot_sensor::app::NodeStorage;
use portnet_kit_support::{EmbassyClock, Rtt, fail, mac_from_unique_id, node_on_dhcp};
use portnet_smoltcp::{Config, Stack, StackResources, TcpPool};
use static_cell::ConstStaticCell;

/// This node's identifier, `PORTNET_DEVICE_ID` at build time.
const DEVICE_ID: &str = match option_env!("PORTNET_DEVICE_ID") {
    Some(id) => id,
    None => "w5500-evb-pico-1",
};
/// The seed of the simulated sensor and of the reconnect jitter.
const SEED: u32 = 0x5eed_5500;
/// The SPI clock: the W5500 takes up to 80 MHz; 50 MHz leaves margin for
/// the board's traces.
const SPI_HZ: u32 = 50_000_000;

bind_interrupts!(struct Irqs {
    DMA_IRQ_0 => dma::InterruptHandler<DMA_CH0>, dma::InterruptHandler<DMA_CH1>;
});

static EXECUTOR: Executor<WfiPark> = Executor::new(WfiPark::new());
static WIZNET: ConstStaticCell<embassy_net_wiznet::State<4, 4>> =
    ConstStaticCell::new(embassy_net_wiznet::State::new());
static RESOURCES: ConstStaticCell<StackResources<'static, 8>> =
    ConstStaticCell::new(StackResources::new());
// Three sockets: a reconnect may start before the last connection's socket has
// finished closing.
static TCP: ConstStaticCell<TcpPool<3, 2048, 2048>> = ConstStaticCell::new(TcpPool::new());
static STORAGE: ConstStaticCell<NodeStorage> = ConstStaticCell::new(NodeStorage::new());

#[cortex_m_rt::entry]
fn main() -> ! {
    let mut console = Rtt::init();
    console.line("iot-sensor: firmware starting on W5500-EVB-Pico");
    let mut p = embassy_rp::init(Default::default());
    let mac = mac_address(&mut p);
    let Some(runner) = EXECUTOR.claim() else {
        fail("executor", "already claimed")
    };
    runner.block_on(run(p, mac, &mut console));
    console.line("iot-sensor: reset (SYSRESETREQ)");
    cortex_m::peripheral::SCB::sys_reset()
}

/// A locally administered unicast MAC address from the flash chip's unique
/// ID, so two boards on one network differ.
fn mac_address(p: &mut Peripherals) -> [u8; 6] {
    let mut flash = Flash::<_, Blocking, { 2 << 20 }>::new_blocking(p.FLASH.reborrow());
    let mut uid = [0u8; 8];
    flash
        .blocking_unique_id(&mut uid)
        .unwrap_or_else(|e| fail("flash unique id", e));
    mac_from_unique_id(&uid)
}

/// Brings up the W5500 and the stack, then runs the node until a `reboot`
/// command.
async fn run(p: Peripherals, mac: [u8; 6], console: &mut Rtt) {
    let mut config = spi::Config::default();
    config.frequency = SPI_HZ;
    let bus = Spi::new(
        p.SPI0, p.PIN_18, p.PIN_19, p.PIN_16, p.DMA_CH0, p.DMA_CH1, Irqs, config,
    );
    let cs = Output::new(p.PIN_17, Level::High);
    let spi = ExclusiveDevice::new(bus, cs, embassy_time::Delay).unwrap_or_else(|e| fail("spi", e));
    let int = Input::new(p.PIN_21, Pull::Up);
    let reset = Output::new(p.PIN_20, Level::High);
    let (device, wiznet) =
        embassy_net_wiznet::new::<4, 4, W5500, _, _, _>(mac, WIZNET.take(), spi, int, reset)
            .await
            .unwrap_or_else(|e| fail("w5500", e));
    let sockets = RESOURCES
        .take()
        .sockets()
        .tcp(TCP.take())
        .unwrap_or_else(|e| fail("sockets", e));
    let mut config = Config::dhcpv4();
    config.random_seed = u64::from(SEED)
        ^ u64::from_le_bytes([mac[0], mac[1], mac[2], mac[3], mac[4], mac[5], 0, 0]);
    let stack =
        Stack::new(device, EmbassyClock, config, sockets).unwrap_or_else(|e| fail("stack", e));
    let mut leds = [Output::new(p.PIN_25, Level::Low)];
    let node = node_on_dhcp(&stack, &mut leds, console, STORAGE.take(), DEVICE_ID, SEED);
    match select(pin!(node), pin!(wiznet.run())).await {
        Either::Left(done) => done.unwrap_or_else(|e| fail("iot-sensor", e)),
        Either::Right(never) => match never {},
    }
}
