//! The sensor node on the micro:bit: the same application code
//! (`portnet_iot_sensor::app::run`) as on mps2-an385 and hosted, on the board's
//! executor, the smoltcp stack over SLIP on the UART (static 10.0.0.1/24), the
//! simulated SHT3x behind the real driver with the board's delay, the first
//! row of the LED matrix, and semihosting as the console (the UART carries the
//! network).
//!
//! The broker is 10.0.0.2:1883, the host end of the line, which forwards the
//! connection to mosquitto on the host (`cargo xtask qemu microbit-sensor`
//! runs all of it). Its sizes are this file's constants: the smallest that
//! run, measured in `docs/boards/microbit.md`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod firmware {
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};
    use core::pin::pin;
    use core::time::Duration;

    use cortex_m_semihosting::hprintln;
    use portnet::future::{Either, select};
    use portnet_board_microbit::board::{self, CLOCK, Delay, UART, net};
    use portnet_board_microbit::slip;
    use portnet_iot_sensor::Console;
    use portnet_iot_sensor::app::{self, Exit};
    use portnet_iot_sensor::sensor::{DEFAULT_ADDRESS, Sht3x};
    use portnet_iot_sensor::sim::SimulatedSht3x;
    use portnet_mqtt::Storage;
    use portnet_smoltcp::{Cidr, Config, StackResources, TcpPool};
    use static_cell::ConstStaticCell;

    const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    /// The host end of the line, which forwards port 1883 to the broker.
    const BROKER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 1883);
    /// This node's identifier.
    const DEVICE_ID: &str = "microbit-1";
    /// The seed of the simulated sensor and of the reconnect jitter.
    const SEED: u32 = 0x5eed_1018;
    /// The largest IP packet on the line (the stack announces a segment size
    /// that fits).
    const MTU: usize = 296;
    /// Frames queued each way between the line and the stack.
    const SLOTS: usize = 2;
    /// Each TCP socket's buffers each way: an MQTT packet of the node is
    /// under 200 bytes. 1 KiB (and an MTU of 576) would leave the stack too
    /// little of the 16 KiB (see `docs/boards/microbit.md`).
    const TCP_BUFFER: usize = 512;

    /// Semihosting, a line at a time.
    struct Semihosting;

    impl Console for Semihosting {
        fn line(&mut self, line: &str) {
            hprintln!("{}", line);
            // Where the RAM goes, as the node runs (each line is an event).
            hprintln!(
                "iot-sensor: RAM: statics {} B, stack peak {} B",
                board::stack_use::statics(),
                board::stack_use::peak()
            );
        }
    }

    static RESOURCES: ConstStaticCell<StackResources<'static, 2>> =
        ConstStaticCell::new(StackResources::new());
    // Two sockets: a reconnect may start before the last connection's socket
    // has finished closing.
    static TCP: ConstStaticCell<TcpPool<2, TCP_BUFFER, TCP_BUFFER>> =
        ConstStaticCell::new(TcpPool::new());
    static LINK: ConstStaticCell<slip::State<MTU, SLOTS>> =
        ConstStaticCell::new(slip::State::new());
    /// The MQTT client's memory: the application's `NodeStorage` with 256
    /// bytes each way instead of 1 KiB (its packets are under 200 bytes).
    type MicrobitStorage = Storage<MQTT_BUFFER, MQTT_BUFFER, 4, 4, 0, 2>;
    const MQTT_BUFFER: usize = 256;
    static STORAGE: ConstStaticCell<MicrobitStorage> = ConstStaticCell::new(MicrobitStorage::new());

    #[cortex_m_rt::entry]
    fn main() -> ! {
        board::stack_use::paint();
        let mut console = Semihosting;
        board::init();
        console.line("iot-sensor: firmware starting on microbit");
        let (device, mut line) = LINK.take().split();
        let sockets = RESOURCES
            .take()
            .sockets()
            .tcp(TCP.take())
            .unwrap_or_else(|e| board::fail("sockets", e));
        let mut config = Config::ipv4_static(Cidr::new(ADDRESS, 24), None);
        config.random_seed = u64::from(SEED);
        let stack = net::stack(device, config, sockets).unwrap_or_else(|e| board::fail("stack", e));
        let storage = STORAGE.take();
        let app = async {
            let node_task = pin!(async {
                console.line("iot-sensor: address 10.0.0.1 (static, SLIP)");
                let mut node = app::Config::new(DEVICE_ID, BROKER);
                node.interval = Duration::from_secs(1);
                node.seed = SEED;
                let bus = SimulatedSht3x::new(&CLOCK, SEED);
                let mut sensor = Sht3x::new(bus, Delay, DEFAULT_ADDRESS);
                if let Err(e) = sensor.reset().await {
                    board::fail("sensor", e);
                }
                let mut leds = board::leds();
                app::run(
                    &stack,
                    &CLOCK,
                    &mut sensor,
                    &mut leds,
                    &mut console,
                    storage,
                    &node,
                )
                .await
            });
            match select(node_task, pin!(line.run(&UART, &UART))).await {
                Either::Left(exit) => exit,
                Either::Right(stopped) => board::fail("the SLIP line stopped", stopped),
            }
        };
        // Where the RAM goes: these two live in `main`'s frame.
        hprintln!(
            "iot-sensor: RAM: app future {} B, smoltcp stack {} B",
            core::mem::size_of_val(&app),
            core::mem::size_of_val(&stack)
        );
        // Pinned here, once: the executor and the stack's runner then hold a
        // reference to it, not copies of its 3 KiB each as they nest.
        let app = pin!(app);
        let exit = net::run(&stack, app).unwrap_or_else(|e| board::fail("executor", e));
        match exit {
            Exit::Reboot => {
                hprintln!("iot-sensor: reset (SYSRESETREQ)");
                cortex_m::peripheral::SCB::sys_reset()
            }
            Exit::BadConfig => board::fail("iot-sensor", "bad configuration"),
        }
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        board::fail("micro:bit iot-sensor firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv6m-none-eabi");
}
