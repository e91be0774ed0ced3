//! The TCP client of `tcp_portnet`, on portnet's lwIP backend: the same
//! application code over the same stub Ethernet device; lwIP's C (raw API,
//! `NO_SYS`, the crate's `lwipopts.h`) compiled for the target by `cc`.
#![no_std]
#![no_main]

use core::net::Ipv4Addr;
use core::pin::pin;

use portnet::future::select;
use portnet_lwip::{Config, Stack};
use portnet_size_skeletons::{PortnetWire, StubDevice, block_on, tcp_client};

#[cortex_m_rt::entry]
fn main() -> ! {
    block_on(async {
        let config = Config::ipv4_static(Ipv4Addr::new(10, 0, 0, 2), 24, None);
        let Ok(stack) = Stack::new(StubDevice, PortnetWire, config) else {
            return;
        };
        let app = pin!(tcp_client(&stack));
        let _ = select(app, pin!(stack.run())).await;
    });
    loop {
        cortex_m::asm::wfi();
    }
}
