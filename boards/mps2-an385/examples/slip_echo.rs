//! The generic echo server of `examples/echo`, unchanged, over a serial line:
//! SLIP (`portnet-slip`) on UART1 under the smoltcp backend, the same code as
//! the Ethernet `echo` firmware with another device under the stack. The
//! address is static, 10.0.0.1/24 (the host end is 10.0.0.2); the firmware
//! serves `CONNECTIONS` connections on port 7, then exits through semihosting
//! with success.
//!
//! ```text
//! cargo build --release -p portnet-board-mps2-an385 --features slip --example slip_echo --target thumbv7m-none-eabi
//! qemu-system-arm -M mps2-an385 -display none -monitor none \
//!     -semihosting-config enable=on,target=native \
//!     -serial stdio -serial tcp:127.0.0.1:PORT \
//!     -kernel target/thumbv7m-none-eabi/release/examples/slip_echo
//! ```
//!
//! `cargo xtask qemu slip` does this, with the host end of the line (a hosted
//! smoltcp stack on SLIP, `portnet_conformance_runner::slip::SlipEnd`) listening on
//! `PORT`, and checks the echoes.
//!
//! With the feature `lwip` (`--features slip,lwip`) the stack on the line is
//! lwIP (`board::lwip`, an IP-medium netif without ARP) instead of smoltcp:
//! the "async TCP/IP over an async UART" of the vision on a C stack. Only the
//! two stack-building lines differ; `cargo xtask qemu slip-lwip` runs it.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod firmware {
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};
    use core::pin::pin;
    use core::time::Duration;

    use cortex_m_semihosting::hprintln;
    use portnet::future::{Either, select};
    use portnet::{Clock as _, TcpListen};
    #[cfg(feature = "lwip")]
    use portnet_board_mps2_an385::board::lwip as net;
    #[cfg(not(feature = "lwip"))]
    use portnet_board_mps2_an385::board::net;
    use portnet_board_mps2_an385::board::{self, CLOCK, UART1};
    use portnet_board_mps2_an385::slip;
    #[cfg(not(feature = "lwip"))]
    use portnet_smoltcp::{Cidr, Config, StackResources, TcpPool};
    use static_cell::ConstStaticCell;

    /// How many connections the firmware serves before it exits.
    const CONNECTIONS: usize = 3;
    /// The largest IP packet on the line: the host end's, so that both ends
    /// agree on the TCP segment size.
    const MTU: usize = 1500;
    /// Frames queued each way between the line and the stack.
    const SLOTS: usize = 4;
    const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);

    #[cfg(not(feature = "lwip"))]
    static RESOURCES: ConstStaticCell<StackResources<'static, 4>> =
        ConstStaticCell::new(StackResources::new());
    #[cfg(not(feature = "lwip"))]
    static TCP: ConstStaticCell<TcpPool<2, 8192, 8192>> = ConstStaticCell::new(TcpPool::new());
    static LINK: ConstStaticCell<slip::State<MTU, SLOTS>> =
        ConstStaticCell::new(slip::State::new());

    #[cortex_m_rt::entry]
    fn main() -> ! {
        // Starts the clock and the UARTs; the Ethernet controller stays unused.
        let _ethernet = board::init().unwrap_or_else(|e| board::fail("board", e));
        let (device, mut line) = LINK.take().split();
        #[cfg(not(feature = "lwip"))]
        let stack = {
            let sockets = RESOURCES
                .take()
                .sockets()
                .tcp(TCP.take())
                .unwrap_or_else(|e| board::fail("sockets", e));
            let mut config = Config::ipv4_static(Cidr::new(ADDRESS, 24), None);
            config.random_seed = 0x5eed_0005;
            net::stack(device, config, sockets)
        };
        // lwIP's pools are its own statics; the line is the netif's device.
        #[cfg(feature = "lwip")]
        let stack = {
            let mut config = net::Config::ipv4_static(ADDRESS, 24, None);
            config.random_seed = 0x5eed_0005;
            net::stack(device, config)
        };
        let stack = stack.unwrap_or_else(|e| board::fail("stack", e));
        let served = net::run(&stack, async {
            let serve = pin!(async {
                let listener = stack
                    .listen(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 7))
                    .await
                    .unwrap_or_else(|e| board::fail("listen", e));
                hprintln!("portnet-slip-echo ready {}:7", ADDRESS);
                let mut buf = [0u8; 2048];
                let served = portnet_echo::serve(&listener, CONNECTIONS, &mut buf).await;
                drop(listener);
                // Exiting stops QEMU at once: first let the last connection
                // deliver what it still has in flight and finish closing.
                let closed = async {
                    while stack.sockets_in_use() > 0 {
                        CLOCK.sleep(Duration::from_millis(10)).await;
                    }
                };
                let _ = portnet::time::timeout(&CLOCK, Duration::from_secs(10), closed).await;
                served
            });
            match select(serve, pin!(line.run(&UART1, &UART1))).await {
                Either::Left(served) => served,
                Either::Right(stopped) => board::fail("the SLIP line stopped", stopped),
            }
        })
        .unwrap_or_else(|e| board::fail("executor", e));
        match served {
            Ok(bytes) => {
                hprintln!(
                    "portnet-slip-echo served {} connections, {} bytes",
                    CONNECTIONS,
                    bytes
                );
                board::exit(true)
            }
            Err(e) => board::fail("serve", format_args!("{e:?}")),
        }
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        board::fail("SLIP echo firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv7m-none-eabi");
}
