//! A TCP client on portnet's smoltcp backend (IPv4, TCP only): connect, write,
//! read, close, beside the stack's runner, over the stub Ethernet device.
#![no_std]
#![no_main]

use core::net::Ipv4Addr;
use core::pin::pin;

use portnet::future::select;
use portnet_size_skeletons::{PortnetWire, StubDevice, block_on, tcp_client};
use portnet_smoltcp::{Cidr, Config, Stack, StackResources, TcpPool};

#[cortex_m_rt::entry]
fn main() -> ! {
    block_on(async {
        let mut resources = StackResources::<1>::new();
        let mut tcp = TcpPool::<1, 1024, 1024>::new();
        let Ok(sockets) = resources.sockets().tcp(&mut tcp) else {
            return;
        };
        let config = Config::ipv4_static(Cidr::new(Ipv4Addr::new(10, 0, 0, 2), 24), None);
        let Ok(stack) = Stack::new(StubDevice, PortnetWire, config, sockets) else {
            return;
        };
        let app = pin!(tcp_client(&stack));
        let _ = select(app, pin!(stack.run())).await;
    });
    loop {
        cortex_m::asm::wfi();
    }
}
