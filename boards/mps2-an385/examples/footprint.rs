//! Prints the RAM the smoltcp backend needs per socket on this target (sizes of
//! the pool records and smoltcp's socket state, without buffers) over
//! semihosting, then exits. The figures in docs/backends/smoltcp.md come from it:
//!
//! ```text
//! cargo build --release -p portnet-board-mps2-an385 --example footprint --target thumbv7m-none-eabi
//! qemu-system-arm -M mps2-an385 -nographic -semihosting-config enable=on,target=native \
//!     -kernel target/thumbv7m-none-eabi/release/examples/footprint
//! ```
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod firmware {
    use core::mem::size_of;

    use cortex_m_semihosting::hprintln;
    use portnet_board_mps2_an385::board::{self, Clock, Ethernet};
    use portnet_smoltcp::{Stack, StackResources, TcpPool, UdpPool};

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let tcp = size_of::<TcpPool<2, 0, 0>>() - size_of::<TcpPool<1, 0, 0>>();
        let udp = size_of::<UdpPool<2, 0, 1>>() - size_of::<UdpPool<1, 0, 1>>();
        let storage =
            size_of::<StackResources<'static, 2>>() - size_of::<StackResources<'static, 1>>();
        hprintln!("tcp slot record: {} B", tcp);
        hprintln!("udp slot record (1 packet of metadata each way): {} B", udp);
        hprintln!("socket storage (smoltcp socket state): {} B", storage);
        hprintln!(
            "stack on the LAN9118 (interface, driver with its 2 frame buffers): {} B",
            size_of::<Stack<'static, Ethernet, &'static Clock>>()
        );
        board::exit(true)
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        board::fail("footprint firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv7m-none-eabi");
}
