//! The sensor node on ST's NUCLEO-F429ZI: only the board is set up here. The
//! STM32F429 runs portnet's executor (`portnet-executor`, sleeping with WFI)
//! at 180 MHz from the ST-LINK's 8 MHz clock; embassy-stm32's Ethernet driver
//! (RMII to the board's LAN8742A, the NUCLEO-144 wiring) is an
//! `embassy-net-driver` device that carries portnet's smoltcp backend (address
//! by DHCP). The application is `portnet_kit_support::node`, that is
//! `portnet_iot_sensor::app::run`, the code every board runs; its LEDs are
//! LD1–LD3.
//!
//! Settings at build time: `PORTNET_BROKER`, `PORTNET_DEVICE_ID` (see
//! `docs/boards/nucleo-f429zi.md`). The console is RTT.
#![no_std]
#![no_main]

use embassy_stm32::eth::{self, Ethernet, PacketQueue};
use embassy_stm32::gpio::{Level, Output, Speed};
use embassy_stm32::time::Hertz;
use embassy_stm32::{Peripherals, bind_interrupts, rcc};
use portnet_executor::{Executor, WfiPark};
use portnet_iot_sensor::Console;
use portnet_iot_sensor::app::NodeStorage;
use portnet_kit_support::{EmbassyClock, Rtt, fail, mac_from_unique_id, node_on_dhcp};
use portnet_smoltcp::{Config, Stack, StackResources, TcpPool};
use static_cell::ConstStaticCell;

/// This node's identifier, `PORTNET_DEVICE_ID` at build time.
const DEVICE_ID: &str = match option_env!("PORTNET_DEVICE_ID") {
    Some(id) => id,
    None => "nucleo-f429zi-1",
};
/// The seed of the simulated sensor and of the reconnect jitter.
const SEED: u32 = 0x5eed_f429;

bind_interrupts!(struct Irqs {
    ETH => eth::InterruptHandler;
});

static EXECUTOR: Executor<WfiPark> = Executor::new(WfiPark::new());
static PACKETS: ConstStaticCell<PacketQueue<4, 4>> = ConstStaticCell::new(PacketQueue::new());
static RESOURCES: ConstStaticCell<StackResources<'static, 8>> =
    ConstStaticCell::new(StackResources::new());
// Three sockets: a reconnect may start before the last connection's socket has
// finished closing.
static TCP: ConstStaticCell<TcpPool<3, 2048, 2048>> = ConstStaticCell::new(TcpPool::new());
static STORAGE: ConstStaticCell<NodeStorage> = ConstStaticCell::new(NodeStorage::new());

#[cortex_m_rt::entry]
fn main() -> ! {
    let mut console = Rtt::init();
    console.line("iot-sensor: firmware starting on NUCLEO-F429ZI");
    let p = embassy_stm32::init(clocks());
    let Some(runner) = EXECUTOR.claim() else {
        fail("executor", "already claimed")
    };
    runner.block_on(run(p, &mut console));
    console.line("iot-sensor: reset (SYSRESETREQ)");
    cortex_m::peripheral::SCB::sys_reset()
}

/// 180 MHz from the ST-LINK's 8 MHz (HSE bypass): 8 / 4 × 180 / 2.
fn clocks() -> embassy_stm32::Config {
    let mut config = embassy_stm32::Config::default();
    config.rcc.hse = Some(rcc::Hse {
        freq: Hertz(8_000_000),
        mode: rcc::HseMode::Bypass,
    });
    config.rcc.pll_src = rcc::PllSource::HSE;
    config.rcc.pll = Some(rcc::Pll {
        prediv: rcc::PllPreDiv::DIV4,
        mul: rcc::PllMul::MUL180,
        divp: Some(rcc::PllPDiv::DIV2),
        divq: None,
        divr: None,
    });
    config.rcc.ahb_pre = rcc::AHBPrescaler::DIV1;
    config.rcc.apb1_pre = rcc::APBPrescaler::DIV4;
    config.rcc.apb2_pre = rcc::APBPrescaler::DIV2;
    config.rcc.sys = rcc::Sysclk::PLL1_P;
    config
}

/// Brings up Ethernet and the stack, then runs the node until a `reboot`
/// command.
async fn run(p: Peripherals, console: &mut Rtt) {
    let device = Ethernet::new(
        PACKETS.take(),
        p.ETH,
        Irqs,
        p.PA1,
        p.PA7,
        p.PC4,
        p.PC5,
        p.PG13,
        p.PB13,
        p.PG11,
        mac_from_unique_id(&embassy_stm32::uid::uid()),
        p.ETH_SMA,
        p.PA2,
        p.PC1,
    );
    let sockets = RESOURCES
        .take()
        .sockets()
        .tcp(TCP.take())
        .unwrap_or_else(|e| fail("sockets", e));
    let mut config = Config::dhcpv4();
    config.random_seed = u64::from(SEED)
        ^ u64::from_le_bytes(
            embassy_stm32::uid::uid()[..8]
                .try_into()
                .unwrap_or_default(),
        );
    let stack =
        Stack::new(device, EmbassyClock, config, sockets).unwrap_or_else(|e| fail("stack", e));
    let mut leds = [
        Output::new(p.PB0, Level::Low, Speed::Low),
        Output::new(p.PB7, Level::Low, Speed::Low),
        Output::new(p.PB14, Level::Low, Speed::Low),
    ];
    node_on_dhcp(&stack, &mut leds, console, STORAGE.take(), DEVICE_ID, SEED)
        .await
        .unwrap_or_else(|e| fail("iot-sensor", e));
}
