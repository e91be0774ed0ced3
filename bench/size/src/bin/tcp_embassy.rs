//! A TCP client on embassy-net (IPv4, TCP only): connect, write, read, close,
//! beside its runner, over the stub Ethernet device; embassy-time through the
//! busy stub driver (like portnet's clock stub).
#![no_std]
#![no_main]

#[path = "../busy_time_driver.rs"]
mod busy_time_driver;

use core::net::Ipv4Addr;
use core::pin::pin;

use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Cidr, StackResources, StaticConfigV4};
use portnet::future::select;
use portnet_size_skeletons::{StubDevice, block_on, wire_write};

#[cortex_m_rt::entry]
fn main() -> ! {
    block_on(async {
        let mut resources = StackResources::<1>::new();
        let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
            address: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 2), 24),
            gateway: None,
            dns_servers: Default::default(),
        });
        let (stack, mut runner) = embassy_net::new(StubDevice, config, &mut resources, 1);
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
        let app = pin!(async {
            let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
            if socket
                .connect((Ipv4Addr::new(10, 0, 0, 1), 1883))
                .await
                .is_ok()
            {
                let _ = socket.write(b"hello").await;
                let mut buf = [0u8; 16];
                if let Ok(n) = socket.read(&mut buf).await {
                    wire_write(&buf[..n]);
                }
                socket.close();
                let _ = socket.flush().await;
            }
        });
        let _ = select(app, pin!(runner.run())).await;
    });
    loop {
        cortex_m::asm::wfi();
    }
}
