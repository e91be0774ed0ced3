//! What every kit's firmware shares, so that a kit's `main.rs` is only its
//! board setup: [`node`] runs the sensor node of `portnet-iot-sensor` (the same
//! `app::run` as on mps2-an385, the micro:bit and hosted) over any portnet
//! stack, with [`EmbassyClock`] as its clock and [`Rtt`] as its console.
//!
//! Configuration comes from the environment at build time (`option_env!`),
//! never from the repository: see [`BROKER`] and the kits' chapters of the
//! guide.
#![no_std]

use core::fmt::Write as _;
use core::net::SocketAddr;
use core::time::Duration;

use core::pin::pin;

use embassy_net_driver::Driver;
use portnet::future::{Either, select};
use portnet::{Instant, TcpConnect};
use portnet_iot_sensor::app::{self, Exit, NodeStorage};
use portnet_iot_sensor::leds::Leds;
use portnet_iot_sensor::sensor::{DEFAULT_ADDRESS, Sht3x};
use portnet_iot_sensor::sim::SimulatedSht3x;
use portnet_iot_sensor::{Console, Line};
use portnet_smoltcp::Stack;

/// The broker, `PORTNET_BROKER` at build time (`address:port`); the kits'
/// build scripts reject a value that does not parse.
pub const BROKER: &str = match option_env!("PORTNET_BROKER") {
    Some(broker) => broker,
    None => "192.168.1.2:1883",
};

/// The telemetry interval until a command changes it.
const INTERVAL: Duration = Duration::from_secs(2);

/// `portnet::Clock` on embassy-time, whose driver the kit's HAL provides
/// (embassy-rp's TIMER, embassy-stm32's TIM): the Wi-Fi and Ethernet drivers
/// keep their own timeouts on it, so the node and the stack share one time
/// base and one hardware alarm.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbassyClock;

impl portnet::Clock for EmbassyClock {
    fn now(&self) -> Instant {
        Instant::from_micros(embassy_time::Instant::now().as_micros())
    }

    async fn sleep_until(&self, deadline: Instant) {
        embassy_time::Timer::at(embassy_time::Instant::from_micros(deadline.as_micros())).await;
    }
}

/// The console: RTT channel 0, which `probe-rs run` prints. Lines are written
/// whole; with no probe attached they are dropped, never block.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rtt;

impl Rtt {
    /// Sets up the RTT control block. Call once, first thing in `main`.
    pub fn init() -> Self {
        rtt_target::rtt_init_print!();
        Self
    }

    /// Writes a formatted line.
    pub fn say(&mut self, args: core::fmt::Arguments<'_>) {
        let mut line = Line::<128>::new();
        // A line too long for the buffer is cut, not lost.
        let _ = line.write_fmt(args);
        self.line(line.as_str());
    }
}

impl Console for Rtt {
    fn line(&mut self, line: &str) {
        rtt_target::rprintln!("{}", line);
    }
}

/// Why the node could not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeError {
    /// `PORTNET_BROKER` is not `address:port` (the build script checks it, so
    /// only a build that bypassed it sees this).
    BadBroker,
    /// The simulated sensor did not answer its reset.
    Sensor,
    /// The configuration cannot work (a device id that does not fit the topics).
    BadConfig,
}

impl core::fmt::Display for NodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BadBroker => "PORTNET_BROKER is not address:port",
            Self::Sensor => "the sensor did not answer its reset",
            Self::BadConfig => "bad configuration (device id)",
        })
    }
}

/// Runs the sensor node on `stack` until a `reboot` command (`Ok`), with the
/// simulated SHT3x (the kits have no sensor on board; a real one on I²C would
/// take its place through the same `Sht3x` driver) and `leds`.
///
/// # Errors
///
/// [`NodeError`] if it cannot start or its configuration cannot work.
pub async fn node<S: TcpConnect, L: Leds>(
    stack: S,
    leds: &mut L,
    console: &mut Rtt,
    storage: &mut NodeStorage,
    device_id: &str,
    seed: u32,
) -> Result<(), NodeError> {
    let broker: SocketAddr = BROKER.parse().map_err(|_| NodeError::BadBroker)?;
    console.say(format_args!(
        "iot-sensor: broker {broker}, device {device_id}"
    ));
    let mut config = app::Config::new(device_id, broker);
    config.interval = INTERVAL;
    config.seed = seed;
    let bus = SimulatedSht3x::new(EmbassyClock, seed);
    let mut sensor = Sht3x::new(bus, embassy_time::Delay, DEFAULT_ADDRESS);
    sensor.reset().await.map_err(|_| NodeError::Sensor)?;
    match app::run(
        stack,
        EmbassyClock,
        &mut sensor,
        leds,
        console,
        storage,
        &config,
    )
    .await
    {
        Exit::Reboot => Ok(()),
        Exit::BadConfig => Err(NodeError::BadConfig),
    }
}

/// Waits for the DHCP lease, says the address, then runs [`node`] on `stack`
/// beside the stack's own runner: what every kit does once its network
/// device is up.
///
/// # Errors
///
/// As [`node`].
pub async fn node_on_dhcp<D: Driver, L: Leds>(
    stack: &Stack<'_, D, EmbassyClock>,
    leds: &mut L,
    console: &mut Rtt,
    storage: &mut NodeStorage,
    device_id: &str,
    seed: u32,
) -> Result<(), NodeError> {
    let node = async {
        let address = stack.wait_ipv4().await;
        console.say(format_args!("iot-sensor: address {address} (DHCP)"));
        node(stack, leds, console, storage, device_id, seed).await
    };
    match select(pin!(node), pin!(stack.run())).await {
        Either::Left(done) => done,
        Either::Right(never) => match never {},
    }
}

/// A locally administered unicast MAC address folded from a chip's unique ID,
/// so two boards on one network differ.
pub fn mac_from_unique_id(uid: &[u8]) -> [u8; 6] {
    let mut mac = [0x02, 0, 0, 0, 0, 0];
    for (i, byte) in uid.iter().enumerate() {
        mac[1 + i % 5] ^= byte;
    }
    mac
}

/// Says what failed on the console and sleeps: the node cannot go on.
pub fn fail(what: &str, error: impl core::fmt::Debug) -> ! {
    Rtt.say(format_args!("iot-sensor: {what}: {error:?}"));
    loop {
        cortex_m::asm::wfi();
    }
}

// Every kit's firmware links this crate, so its panics end on the console.
#[cfg(target_os = "none")]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    fail("panicked", info)
}
