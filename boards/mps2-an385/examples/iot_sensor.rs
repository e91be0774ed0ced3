//! The sensor node as firmware for QEMU's `mps2-an385` board: the same
//! application code as the hosted binary, on the board's executor, the smoltcp
//! stack on the LAN9118 (address by DHCP), the simulated SHT3x behind the real
//! driver with the board's `embedded-hal-async` delay, the FPGA's user LEDs, and
//! UART0 as the console.
//!
//! At start it asks for the broker's port on the console (`broker port?`); the
//! broker is the host's loopback, 10.0.2.2 under QEMU's user networking. A
//! `reboot` command resets the chip (SYSRESETREQ); QEMU restarts the firmware.
//!
//! `cargo xtask demo` builds and runs it; the application is the library of
//! `examples/iot-sensor`, as on every other board.
//!
//! With the board's feature `lwip` the same firmware runs on the lwIP backend
//! instead of smoltcp: only the stack's construction below differs (lwIP's
//! port has no DHCP, so the node takes 10.0.2.15, the address QEMU's DHCP
//! server leases). `cargo xtask qemu sensor-lwip` builds and runs that variant:
//!
//! ```text
//! cargo build --release -p portnet-board-mps2-an385 --example iot_sensor --features lwip --target thumbv7m-none-eabi
//! ```
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod firmware {
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};
    use core::time::Duration;

    #[cfg(feature = "lwip")]
    use portnet_board_mps2_an385::board::lwip as net;
    #[cfg(not(feature = "lwip"))]
    use portnet_board_mps2_an385::board::net;
    use portnet_board_mps2_an385::board::{self, CLOCK, UART0, leds, timer::Delay};
    use portnet_iot_sensor::Console;
    use portnet_iot_sensor::app::{self, Exit, NodeStorage};
    use portnet_iot_sensor::sensor::{DEFAULT_ADDRESS, Sht3x};
    use portnet_iot_sensor::sim::SimulatedSht3x;
    use static_cell::ConstStaticCell;

    /// The host's loopback, seen from QEMU's user networking.
    const HOST: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 2, 2));
    /// This node's identifier.
    const DEVICE_ID: &str = "board-1";
    /// The seed of the simulated sensor and of the reconnect jitter.
    const SEED: u32 = 0x5eed_1017;

    /// UART0, written synchronously: short lines, never from an interrupt.
    struct Uart0;

    impl Console for Uart0 {
        fn line(&mut self, line: &str) {
            UART0.write_blocking(line.as_bytes());
            UART0.write_blocking(b"\n");
        }
    }

    /// Reads a decimal port number ending in a newline from the console.
    async fn read_port() -> Result<u16, &'static str> {
        use embedded_io_async::Read as _;
        let mut console = &UART0;
        let mut port: u32 = 0;
        let mut digits = 0;
        loop {
            let mut byte = [0u8; 1];
            console.read(&mut byte).await.map_err(|e| match e {})?;
            match byte[0] {
                b'0'..=b'9' if digits < 5 => {
                    port = port * 10 + u32::from(byte[0] - b'0');
                    digits += 1;
                }
                b'\n' | b'\r' if digits > 0 => break,
                b'\n' | b'\r' => {}
                _ => return Err("the console sent something other than a port"),
            }
        }
        u16::try_from(port).map_err(|_| "port out of range")
    }

    static STORAGE: ConstStaticCell<NodeStorage> = ConstStaticCell::new(NodeStorage::new());

    /// The node's stack on smoltcp: socket pools of its own, address by DHCP.
    #[cfg(not(feature = "lwip"))]
    mod stack {
        use portnet_board_mps2_an385::board::{self, Ethernet, net};
        use portnet_smoltcp::{Config, StackResources, TcpPool};
        use static_cell::ConstStaticCell;

        static RESOURCES: ConstStaticCell<StackResources<'static, 8>> =
            ConstStaticCell::new(StackResources::new());
        // Three sockets: a reconnect may start before the last connection's
        // socket has finished closing.
        static TCP: ConstStaticCell<TcpPool<3, 2048, 2048>> = ConstStaticCell::new(TcpPool::new());

        pub(super) fn start(ethernet: Ethernet, seed: u64) -> net::BoardStack<Ethernet> {
            let sockets = RESOURCES
                .take()
                .sockets()
                .tcp(TCP.take())
                .unwrap_or_else(|e| board::fail("sockets", e));
            let mut config = Config::dhcpv4();
            config.random_seed = seed;
            net::stack(ethernet, config, sockets).unwrap_or_else(|e| board::fail("stack", e))
        }

        pub(super) async fn address(
            stack: &net::BoardStack<Ethernet>,
        ) -> (core::net::Ipv4Addr, &'static str) {
            (stack.wait_ipv4().await, "DHCP, smoltcp")
        }
    }

    /// The node's stack on lwIP: its pools are lwIP's own statics; the address
    /// is the one QEMU's user networking leases, set statically.
    #[cfg(feature = "lwip")]
    mod stack {
        use core::net::Ipv4Addr;

        use portnet_board_mps2_an385::board::lwip::{self as net, Config};
        use portnet_board_mps2_an385::board::{self, Ethernet};

        const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 15);
        const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);

        pub(super) fn start(ethernet: Ethernet, seed: u64) -> net::BoardStack<Ethernet> {
            let mut config = Config::ipv4_static(ADDRESS, 24, Some(GATEWAY));
            // lwIP's generator takes 32 bits; the low ones change at every boot.
            config.random_seed = seed as u32;
            net::stack(ethernet, config).unwrap_or_else(|e| board::fail("stack", e))
        }

        pub(super) async fn address(stack: &net::BoardStack<Ethernet>) -> (Ipv4Addr, &'static str) {
            (stack.ipv4_address(), "static, lwIP")
        }
    }

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let mut console = Uart0;
        let ethernet = board::init().unwrap_or_else(|e| board::fail("ethernet", e));
        console.line("iot-sensor: firmware starting on mps2-an385");
        // Different at every boot (the timer has run for a while by now), so a
        // restarted node does not reuse its last connection's local port.
        let seed = u64::from(SEED) ^ portnet::Clock::now(&&CLOCK).as_micros();
        let stack = stack::start(ethernet, seed);
        let storage = STORAGE.take();
        let exit = net::run(&stack, async {
            let (address, how) = stack::address(&stack).await;
            let mut line = portnet_iot_sensor::Line::<64>::new();
            let _ = core::fmt::Write::write_fmt(
                &mut line,
                format_args!("iot-sensor: address {address} ({how}), broker port?"),
            );
            console.line(line.as_str());
            let port = read_port()
                .await
                .unwrap_or_else(|e| board::fail("console", e));
            let mut node = app::Config::new(DEVICE_ID, SocketAddr::new(HOST, port));
            node.interval = Duration::from_secs(1);
            node.seed = SEED;
            let bus = SimulatedSht3x::new(&CLOCK, SEED);
            let mut sensor = Sht3x::new(bus, Delay, DEFAULT_ADDRESS);
            if let Err(e) = sensor.reset().await {
                board::fail("sensor", e);
            }
            let mut leds = leds::leds();
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
        })
        .unwrap_or_else(|e| board::fail("executor", e));
        match exit {
            Exit::Reboot => {
                Uart0.line("iot-sensor: reset (SYSRESETREQ)");
                cortex_m::peripheral::SCB::sys_reset()
            }
            Exit::BadConfig => board::fail("iot-sensor", "bad configuration"),
        }
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        board::fail("iot-sensor firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv7m-none-eabi");
}
