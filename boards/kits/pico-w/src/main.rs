//! The sensor node on a Raspberry Pi Pico W: only the board is set up here.
//! The RP2040 runs portnet's executor (`portnet-executor`, sleeping with WFI),
//! the CYW43439 joins the Wi-Fi network through `cyw43` (on PIO0, the Pico W's
//! wiring: WL_ON GP23, CS GP25, DIO GP24, CLK GP29), and its `NetDriver`, an
//! `embassy-net-driver` device, carries portnet's smoltcp backend (address by
//! DHCP). The application is `portnet_kit_support::node`, that is
//! `portnet_iot_sensor::app::run`, the code every board runs.
//!
//! Settings at build time: `PORTNET_WIFI_SSID`, `PORTNET_WIFI_PASSWORD`,
//! `PORTNET_BROKER`, `PORTNET_DEVICE_ID`, `PORTNET_CYW43_NVRAM` (see
//! `docs/boards/pico-w.md`). The console is RTT.
#![no_std]
#![no_main]

use core::pin::pin;

use cyw43::{A4, Aligned, JoinOptions, PowerManagementMode};
use cyw43_pio::{DEFAULT_CLOCK_DIVIDER, PioSpi};
use embassy_rp::gpio::{Level, Output};
use embassy_rp::peripherals::{DMA_CH0, PIO0};
use embassy_rp::pio::Pio;
use embassy_rp::{Peripherals, bind_interrupts, dma, pio};
use portnet_executor::{Executor, WfiPark};
use portnet_iot_sensor::Console;
use portnet_iot_sensor::app::NodeStorage;
use portnet_iot_sensor::leds::MemoryLeds;
use portnet_kit_support::{EmbassyClock, Rtt, fail, node_on_dhcp};
use portnet_smoltcp::{Config, Stack, StackResources, TcpPool};
use static_cell::{ConstStaticCell, StaticCell};

/// The network to join, `PORTNET_WIFI_SSID` at build time.
const SSID: &str = match option_env!("PORTNET_WIFI_SSID") {
    Some(ssid) => ssid,
    None => "portnet",
};
/// Its WPA2 passphrase, `PORTNET_WIFI_PASSWORD`; empty (the default) joins
/// an open network.
const PASSWORD: &str = match option_env!("PORTNET_WIFI_PASSWORD") {
    Some(password) => password,
    None => "",
};
/// This node's identifier, `PORTNET_DEVICE_ID`.
const DEVICE_ID: &str = match option_env!("PORTNET_DEVICE_ID") {
    Some(id) => id,
    None => "pico-w-1",
};
/// The seed of the simulated sensor and of the reconnect jitter.
const SEED: u32 = 0x5eed_2040;
/// Joins tried before the firmware gives up and says why.
const JOIN_ATTEMPTS: u32 = 10;

bind_interrupts!(struct Irqs {
    PIO0_IRQ_0 => pio::InterruptHandler<PIO0>;
    DMA_IRQ_0 => dma::InterruptHandler<DMA_CH0>;
});

/// The CYW43439's firmware, word-aligned as the driver uploads it.
static FIRMWARE: Aligned<A4, [u8; cyw43_firmware::CYW43_43439A0.len()]> =
    Aligned(*cyw43_firmware::CYW43_43439A0);

/// The board's NVRAM (its radio calibration and board configuration): the
/// Pico W's, from the registry crate `cyw43-setup`, unless
/// `PORTNET_CYW43_NVRAM` names another file at build time (another board
/// revision, or a module on a custom board).
#[cfg(kit_nvram)]
fn nvram() -> &'static Aligned<A4, [u8]> {
    cyw43::aligned_bytes!(concat!(env!("OUT_DIR"), "/nvram.bin"))
}

/// The board's NVRAM: the Pico W's, from the registry crate `cyw43-setup`.
#[cfg(not(kit_nvram))]
fn nvram() -> &'static Aligned<A4, [u8]> {
    &cyw43_setup::NVRAM
}

static EXECUTOR: Executor<WfiPark> = Executor::new(WfiPark::new());
static WIFI: StaticCell<cyw43::State> = StaticCell::new();
static RESOURCES: ConstStaticCell<StackResources<'static, 8>> =
    ConstStaticCell::new(StackResources::new());
// Three sockets: a reconnect may start before the last connection's socket has
// finished closing.
static TCP: ConstStaticCell<TcpPool<3, 2048, 2048>> = ConstStaticCell::new(TcpPool::new());
static STORAGE: ConstStaticCell<NodeStorage> = ConstStaticCell::new(NodeStorage::new());

#[cortex_m_rt::entry]
fn main() -> ! {
    let mut console = Rtt::init();
    console.line("iot-sensor: firmware starting on Raspberry Pi Pico W");
    let p = embassy_rp::init(Default::default());
    let Some(runner) = EXECUTOR.claim() else {
        fail("executor", "already claimed")
    };
    runner.block_on(run(p, &mut console));
    console.line("iot-sensor: reset (SYSRESETREQ)");
    cortex_m::peripheral::SCB::sys_reset()
}

/// Brings up Wi-Fi and the stack, then runs the node until a `reboot` command.
async fn run(p: Peripherals, console: &mut Rtt) {
    let nvram = nvram();
    let power = Output::new(p.PIN_23, Level::Low);
    let cs = Output::new(p.PIN_25, Level::High);
    let mut pio = Pio::new(p.PIO0, Irqs);
    let spi = PioSpi::new(
        &mut pio.common,
        pio.sm0,
        DEFAULT_CLOCK_DIVIDER,
        pio.irq0,
        cs,
        p.PIN_24,
        p.PIN_29,
        dma::Channel::new(p.DMA_CH0, Irqs),
    );
    let (device, mut control, wifi) =
        cyw43::new(WIFI.init(cyw43::State::new()), power, spi, &FIRMWARE, nvram).await;
    let app = async {
        control.init(cyw43_firmware::CYW43_43439A0_CLM).await;
        control
            .set_power_management(PowerManagementMode::PowerSave)
            .await;
        join(&mut control, console).await;
        let sockets = RESOURCES
            .take()
            .sockets()
            .tcp(TCP.take())
            .unwrap_or_else(|e| fail("sockets", e));
        let mut config = Config::dhcpv4();
        // The join took a while that differs at every boot, so a restarted
        // node does not reuse its last connection's local port.
        config.random_seed = u64::from(SEED) ^ embassy_time::Instant::now().as_ticks();
        let stack =
            Stack::new(device, EmbassyClock, config, sockets).unwrap_or_else(|e| fail("stack", e));
        // The Pico W's LED hangs off the Wi-Fi chip, reached only by an
        // async call: the node's LED state is reported in its telemetry.
        let mut leds = MemoryLeds { count: 1, mask: 0 };
        node_on_dhcp(&stack, &mut leds, console, STORAGE.take(), DEVICE_ID, SEED).await
    };
    match portnet::future::select(pin!(app), pin!(wifi.run())).await {
        portnet::future::Either::Left(done) => done.unwrap_or_else(|e| fail("iot-sensor", e)),
        portnet::future::Either::Right(never) => match never {},
    }
}

/// Joins [`SSID`], trying [`JOIN_ATTEMPTS`] times, 3 s apart.
async fn join(control: &mut cyw43::Control<'_>, console: &mut Rtt) {
    for attempt in 1..=JOIN_ATTEMPTS {
        let options = if PASSWORD.is_empty() {
            JoinOptions::new_open()
        } else {
            JoinOptions::new(PASSWORD.as_bytes())
        };
        match control.join(SSID, options).await {
            Ok(()) => {
                console.say(format_args!("iot-sensor: joined Wi-Fi {SSID:?}"));
                return;
            }
            Err(e) => {
                console.say(format_args!(
                    "iot-sensor: Wi-Fi {SSID:?}: join {attempt}/{JOIN_ATTEMPTS} failed: {e:?}"
                ));
                embassy_time::Timer::after_secs(3).await;
            }
        }
    }
    fail(
        "wifi",
        "could not join (check PORTNET_WIFI_SSID and PORTNET_WIFI_PASSWORD)",
    )
}
