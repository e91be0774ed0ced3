//! The smallest useful UDP firmware: a UDP-only build of the smoltcp backend
//! (no TCP) with a static IPv4 address, the measure of what that feature set
//! costs (`cargo xtask qemu size` builds it with `--no-default-features
//! --features udp`, runs it, and prints its size).
//!
//! It reads the host's port from the console, sends a datagram to the host's
//! loopback through QEMU's user networking (10.0.2.2) and waits for the answer,
//! sending again after each second of silence (the first datagram may go
//! while the host's link address is still unknown), then prints the answer and
//! exits through semihosting.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod firmware {
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};
    use core::time::Duration;

    use cortex_m_semihosting::hprintln;
    use portnet::{UdpBind as _, UdpSocketExt as _};
    use portnet_board_mps2_an385::board::{self, CLOCK, net};
    use portnet_smoltcp::{Cidr, Config, StackResources, UdpPool};
    use static_cell::ConstStaticCell;

    /// What the firmware sends; the host answers with it in upper case.
    const GREETING: &[u8] = b"hello from a udp-only build";
    /// Datagrams sent before giving up.
    const ATTEMPTS: usize = 5;

    static RESOURCES: ConstStaticCell<StackResources<'static, 1>> =
        ConstStaticCell::new(StackResources::new());
    static UDP: ConstStaticCell<UdpPool<1, 256, 2>> = ConstStaticCell::new(UdpPool::new());

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let ethernet = board::init().unwrap_or_else(|e| board::fail("ethernet", e));
        let sockets = RESOURCES
            .take()
            .sockets()
            .udp(UDP.take())
            .unwrap_or_else(|e| board::fail("sockets", e));
        let mut config = Config::ipv4_static(
            Cidr::new(Ipv4Addr::new(10, 0, 2, 15), 24),
            Some(board::QEMU_HOST),
        );
        config.random_seed = 0x5eed_0007;
        let stack =
            net::stack(ethernet, config, sockets).unwrap_or_else(|e| board::fail("stack", e));
        let mut answer = [0u8; 64];
        let outcome = net::run(&stack, async {
            hprintln!("portnet-udp-client ready, port?");
            let port = board::read_port().await?;
            let host = SocketAddr::new(IpAddr::V4(board::QEMU_HOST), port);
            let any = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
            let socket = stack.bind(any).await.map_err(|_| "bind")?;
            for _ in 0..ATTEMPTS {
                socket.send_to(GREETING, host).await.map_err(|_| "send")?;
                let reply = portnet::time::timeout(
                    &CLOCK,
                    Duration::from_secs(1),
                    socket.recv_from(&mut answer),
                )
                .await;
                match reply {
                    Ok(Ok((len, from))) if from == host => return Ok(len.min(answer.len())),
                    Ok(Ok(_)) => return Err("an answer from someone else"),
                    Ok(Err(_)) => return Err("receive"),
                    Err(_elapsed) => {}
                }
            }
            Err("no answer")
        })
        .unwrap_or_else(|e| board::fail("executor", e));
        match outcome {
            Ok(len) => {
                let text = core::str::from_utf8(&answer[..len]).unwrap_or("(not UTF-8)");
                hprintln!("portnet-udp-client got: {}", text);
                board::exit(true)
            }
            Err(what) => board::fail("udp client", what),
        }
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        board::fail("udp client firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv7m-none-eabi");
}
