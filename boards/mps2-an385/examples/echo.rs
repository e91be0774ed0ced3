//! The generic echo server of `examples/echo`, unchanged, inside firmware: the
//! LAN9118 under the smoltcp backend, an address by DHCP, port 7. It serves
//! `CONNECTIONS` connections one after the other, then exits through
//! semihosting with success (QEMU's exit status).
//!
//! ```text
//! cargo build --release -p portnet-board-mps2-an385 --example echo --target thumbv7m-none-eabi
//! qemu-system-arm -M mps2-an385 -nographic -semihosting-config enable=on,target=native \
//!     -netdev user,id=n0,hostfwd=tcp:127.0.0.1:7007-:7 -net nic,netdev=n0,model=lan9118 \
//!     -kernel target/thumbv7m-none-eabi/release/examples/echo
//! ```
//!
//! `cargo xtask qemu echo` does this and checks the echoes from the host.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod firmware {
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};
    use core::task::{Context, Waker};
    use core::time::Duration;

    use cortex_m_semihosting::hprintln;
    use portnet::{Clock as _, TcpListen};
    use portnet_board_mps2_an385::board::{self, CLOCK, net};
    use portnet_smoltcp::driver::{Driver as _, LinkState};
    use portnet_smoltcp::{Config, StackResources, TcpPool, UdpPool};
    use static_cell::ConstStaticCell;

    /// How many connections the firmware serves before it exits.
    const CONNECTIONS: usize = 3;

    static RESOURCES: ConstStaticCell<StackResources<'static, 8>> =
        ConstStaticCell::new(StackResources::new());
    static TCP: ConstStaticCell<TcpPool<2, 8192, 8192>> = ConstStaticCell::new(TcpPool::new());
    static UDP: ConstStaticCell<UdpPool<1, 1024, 2>> = ConstStaticCell::new(UdpPool::new());

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let mut ethernet = board::init().unwrap_or_else(|e| board::fail("ethernet", e));
        // The PHY through the MAC's MII registers: QEMU's link is up.
        let mut cx = Context::from_waker(Waker::noop());
        if ethernet.link_state(&mut cx) != LinkState::Up {
            board::fail("ethernet", "the link is down");
        }
        let sockets = RESOURCES
            .take()
            .sockets()
            .tcp(TCP.take())
            .and_then(|s| s.udp(UDP.take()))
            .unwrap_or_else(|e| board::fail("sockets", e));
        let mut config = Config::dhcpv4();
        config.random_seed = 0x5eed_0001;
        let stack =
            net::stack(ethernet, config, sockets).unwrap_or_else(|e| board::fail("stack", e));
        let served = net::run(&stack, async {
            let address = stack.wait_ipv4().await;
            let listener = stack
                .listen(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 7))
                .await
                .unwrap_or_else(|e| board::fail("listen", e));
            hprintln!("portnet-echo ready {}:7", address);
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
        })
        .unwrap_or_else(|e| board::fail("executor", e));
        match served {
            Ok(bytes) => {
                hprintln!(
                    "portnet-echo served {} connections, {} bytes",
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
        board::fail("echo firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv7m-none-eabi");
}
