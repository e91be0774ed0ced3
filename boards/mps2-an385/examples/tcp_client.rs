//! The smallest useful TCP firmware: an IPv4-only TCP client with a static
//! address, the measure of what a minimal build of the smoltcp backend costs
//! (`cargo xtask qemu size` builds it with `--no-default-features --features
//! tcp` and with the default features, runs both, and prints their sizes).
//!
//! It reads the host's port from the console, connects to the host's loopback
//! through QEMU's user networking (10.0.2.2), sends a line, half-closes, reads
//! the answer to its end and prints it, then exits through semihosting.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod firmware {
    use core::net::{IpAddr, Ipv4Addr, SocketAddr};

    use cortex_m_semihosting::hprintln;
    use portnet::{ReadExt as _, TcpConnect as _, WriteExt as _};
    use portnet_board_mps2_an385::board::{self, net};
    use portnet_smoltcp::{Cidr, Config, StackResources, TcpPool};
    use static_cell::ConstStaticCell;

    /// What the firmware sends; the host answers with it in upper case.
    const GREETING: &[u8] = b"hello from a tcp-only build\n";

    static RESOURCES: ConstStaticCell<StackResources<'static, 1>> =
        ConstStaticCell::new(StackResources::new());
    static TCP: ConstStaticCell<TcpPool<1, 1024, 1024>> = ConstStaticCell::new(TcpPool::new());

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let ethernet = board::init().unwrap_or_else(|e| board::fail("ethernet", e));
        let sockets = RESOURCES
            .take()
            .sockets()
            .tcp(TCP.take())
            .unwrap_or_else(|e| board::fail("sockets", e));
        let mut config = Config::ipv4_static(
            Cidr::new(Ipv4Addr::new(10, 0, 2, 15), 24),
            Some(board::QEMU_HOST),
        );
        config.random_seed = 0x5eed_0006;
        let stack =
            net::stack(ethernet, config, sockets).unwrap_or_else(|e| board::fail("stack", e));
        let mut answer = [0u8; 64];
        let outcome = net::run(&stack, async {
            hprintln!("portnet-tcp-client ready, port?");
            let port = board::read_port().await?;
            let host = SocketAddr::new(IpAddr::V4(board::QEMU_HOST), port);
            let mut conn = stack.connect(host).await.map_err(|_| "connect")?;
            conn.write_all(GREETING).await.map_err(|_| "write")?;
            conn.close().await.map_err(|_| "close")?;
            let mut len = 0;
            // Bounded: every read but the last (EOF) fills at least one byte.
            for _ in 0..=answer.len() {
                match conn.read(&mut answer[len..]).await.map_err(|_| "read")? {
                    0 => return Ok(len),
                    n => len += n,
                }
            }
            Err("the answer is longer than expected")
        })
        .unwrap_or_else(|e| board::fail("executor", e));
        match outcome {
            Ok(len) => {
                let text = core::str::from_utf8(&answer[..len]).unwrap_or("(not UTF-8)");
                hprintln!("portnet-tcp-client got: {}", text.trim_end());
                board::exit(true)
            }
            Err(what) => board::fail("tcp client", what),
        }
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        board::fail("tcp client firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv7m-none-eabi");
}
