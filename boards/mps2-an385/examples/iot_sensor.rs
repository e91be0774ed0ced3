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
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod firmware {
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};
    use core::time::Duration;

    use portnet_board_mps2_an385::board::{self, CLOCK, UART0, leds, net, timer::Delay};
    use portnet_iot_sensor::Console;
    use portnet_iot_sensor::app::{self, Exit, NodeStorage};
    use portnet_iot_sensor::sensor::{DEFAULT_ADDRESS, Sht3x};
    use portnet_iot_sensor::sim::SimulatedSht3x;
    use portnet_smoltcp::{Config, StackResources, TcpPool};
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

    static RESOURCES: ConstStaticCell<StackResources<'static, 8>> =
        ConstStaticCell::new(StackResources::new());
    // Three sockets: a reconnect may start before the last connection's socket
    // has finished closing.
    static TCP: ConstStaticCell<TcpPool<3, 2048, 2048>> = ConstStaticCell::new(TcpPool::new());
    static STORAGE: ConstStaticCell<NodeStorage> = ConstStaticCell::new(NodeStorage::new());

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let mut console = Uart0;
        let ethernet = board::init().unwrap_or_else(|e| board::fail("ethernet", e));
        console.line("iot-sensor: firmware starting on mps2-an385");
        let sockets = RESOURCES
            .take()
            .sockets()
            .tcp(TCP.take())
            .unwrap_or_else(|e| board::fail("sockets", e));
        let mut config = Config::dhcpv4();
        // Different at every boot (the timer has run for a while by now), so a
        // restarted node does not reuse its last connection's local port.
        config.random_seed = SEED as u64 ^ portnet::Clock::now(&&CLOCK).as_micros();
        let stack =
            net::stack(ethernet, config, sockets).unwrap_or_else(|e| board::fail("stack", e));
        let storage = STORAGE.take();
        let exit = net::run(&stack, async {
            let address = stack.wait_ipv4().await;
            let mut line = portnet_iot_sensor::Line::<64>::new();
            let _ = core::fmt::Write::write_fmt(
                &mut line,
                format_args!("iot-sensor: address {address} (DHCP), broker port?"),
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
