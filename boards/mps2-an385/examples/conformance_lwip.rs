//! The conformance suite inside firmware on the lwIP backend: the stack under
//! test is lwIP (`portnet-lwip`, its C source cross-compiled for the
//! Cortex-M3) on the board's LAN9118; everything else is `conformance.rs`'s:
//! the peer is the host, reached through the remote-peer link on UART1, every
//! case runs plainly and adversarially and reports one line over semihosting,
//! and the exit status says whether any failed.
//!
//! The network is the TAP device of the runner (`remote::tap_net`): the
//! firmware is 10.9.1.2 (IPv4 only: the port's `LWIP_IPV6 0`), the host
//! 10.9.1.1. The runner's `mps2-an385 lwip (qemu)` row starts all of it:
//! `cargo xtask conformance` (or `cargo xtask qemu conformance-lwip`).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[allow(unsafe_code)] // the heap's initialisation
mod firmware {
    use core::future::Future;
    use core::net::IpAddr;
    use core::pin::pin;

    use cortex_m_semihosting::hprintln;
    use embedded_alloc::LlffHeap as Heap;
    use portnet::future::{Either, select};
    use portnet_board_mps2_an385::board::{self, CLOCK, EXECUTOR, Ethernet, UART1};
    use portnet_conformance::remote::{
        Addresses, BlockOn, RemoteHarness, RemotePeer, run_and_report, tap_net,
    };
    use portnet_executor::{Runner, WfiPark};
    use portnet_lwip::{Config, Stack};
    use static_cell::{ConstStaticCell, StaticCell};

    type BoardStack = Stack<Ethernet, &'static board::Clock>;

    #[global_allocator]
    static HEAP: Heap = Heap::empty();
    static HEAP_MEMORY: ConstStaticCell<[u8; 1 << 20]> = ConstStaticCell::new([0; 1 << 20]);

    static STACK: StaticCell<BoardStack> = StaticCell::new();

    /// The executor as the harness's `BlockOn`.
    struct Executor(Runner<WfiPark>);

    impl BlockOn for Executor {
        fn block_on<F: Future>(&self, future: F) -> F::Output {
            self.0.block_on(future)
        }
    }

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let heap = HEAP_MEMORY.take();
        // SAFETY: called once, before any allocation, with memory only the heap
        // will ever use (taken from a `ConstStaticCell`, which hands it out once).
        unsafe { HEAP.init(heap.as_mut_ptr() as usize, heap.len()) };

        let ethernet = board::init().unwrap_or_else(|e| board::fail("ethernet", e));
        let mut config = Config::ipv4_static(tap_net::STACK_V4, 24, None);
        config.random_seed = 0x5eed_c0f0;
        let stack: &'static BoardStack = STACK
            .init(Stack::new(ethernet, &CLOCK, config).unwrap_or_else(|e| board::fail("stack", e)));

        let peer = RemotePeer::new();
        let link = peer.driver(&UART1, &UART1);
        let background = async move {
            match select(pin!(link), pin!(stack.run())).await {
                Either::Left(error) => error,
                Either::Right(never) => match never {},
            }
        };
        let Some(runner) = EXECUTOR.claim() else {
            board::fail("executor", "already claimed")
        };
        let addresses = Addresses {
            stack_v4: Some(IpAddr::V4(tap_net::STACK_V4)),
            peer_v4: Some(IpAddr::V4(tap_net::PEER_V4)),
            stack_v6: None,
            peer_v6: None,
        };
        let harness =
            RemoteHarness::new(stack, &CLOCK, peer, background, Executor(runner), addresses)
                .with_open_sockets(|stack| stack.sockets_in_use())
                .with_black_hole(tap_net::BLACK_HOLE)
                // An emulated CPU, and a peer whose data crosses a serial link.
                .with_patience(4)
                .with_bulk_bytes(256 * 1024);
        hprintln!("portnet-conformance firmware ready");
        let failures = run_and_report(&harness, "", |line| hprintln!("{}", line));
        board::exit(failures == 0)
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        board::fail("conformance lwIP firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv7m-none-eabi");
}
