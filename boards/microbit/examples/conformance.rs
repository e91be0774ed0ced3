//! The conformance suite inside the micro:bit's firmware: the board's smoltcp
//! stack on SLIP over its one UART is the stack under test; its peer is the
//! hosted SLIP peer at the other end of the line (a smoltcp stack on the host,
//! 10.0.0.2), driven through the remote-peer link (`portnet_conformance::remote`).
//! Every case runs plainly and adversarially; each reports one line over
//! semihosting, and the exit status says whether any failed.
//!
//! The board has one UART and SLIP holds it, so the remote-peer link travels
//! over IP: before the suite starts the firmware opens one TCP connection from
//! its own stack to the agent on the host end of the line
//! (`CONTROL`, 10.0.0.2:7700), and the link's requests and replies ride on it.
//! That connection takes one socket of the pool for the whole run; the harness
//! counts the sockets in use without it.
//!
//! The runner's `microbit (qemu)` row starts all of it:
//! `cargo xtask qemu microbit-conformance`.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[allow(unsafe_code)] // the heap's initialisation
mod firmware {
    extern crate alloc;

    use alloc::boxed::Box;
    use core::future::Future;
    use core::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
    use core::pin::pin;

    use cortex_m_semihosting::hprintln;
    use embedded_alloc::LlffHeap as Heap;
    use portnet::future::{Either, select};
    use portnet::{TcpConnect, TcpStream};
    use portnet_board_microbit::board::{self, CLOCK, EXECUTOR, UART, net};
    use portnet_board_microbit::slip;
    use portnet_conformance::remote::{
        Addresses, BlockOn, RemoteHarness, RemotePeer, run_and_report_part,
    };
    use portnet_embedded::EmbeddedIo;
    use portnet_executor::{Runner, WfiPark};
    use portnet_smoltcp::{Cidr, Config, StackResources, TcpPool, UdpPool};
    use static_cell::ConstStaticCell;

    /// The largest IP packet on the line (IPv4's minimum reassembly size).
    const MTU: usize = 576;
    /// Frames queued each way between the line and the stack.
    const SLOTS: usize = 1;
    /// TCP sockets: the suite's most at once (three accepted connections and
    /// their listener, `tcp.accept.concurrent`) and the link's connection.
    const TCP_SOCKETS: usize = 5;
    /// Each TCP socket's buffers, each way.
    const TCP_BUFFER: usize = 256;
    /// UDP sockets: the suite's most at once.
    const UDP_SOCKETS: usize = 1;
    /// Each UDP socket's payload buffer and datagram slots.
    const UDP_BUFFER: usize = 576;
    const UDP_SLOTS: usize = 2;
    /// The heap: the boxed case futures, the peer's queues, the link's frames.
    const HEAP: usize = 3 * 1024;

    /// The suite does not fit the board's 256 KiB of flash: it runs as
    /// `PARTS` images, each holding every `PARTS`-th case
    /// (`portnet_conformance::cases::part`). This image's part is
    /// `PORTNET_CONFORMANCE_PART` of `PORTNET_CONFORMANCE_PARTS` at build
    /// time (0 of 6 if unset).
    const PARTS: usize = match option_env!("PORTNET_CONFORMANCE_PARTS") {
        Some(parts) => parse(parts),
        None => 6,
    };
    const PART: usize = match option_env!("PORTNET_CONFORMANCE_PART") {
        Some(part) => parse(part),
        None => 0,
    };
    const _: () = assert!(PART < PARTS, "PORTNET_CONFORMANCE_PART must be below PARTS");

    /// A decimal number, at compile time (a bad one fails the build).
    const fn parse(text: &str) -> usize {
        let bytes = text.as_bytes();
        assert!(!bytes.is_empty(), "PORTNET_CONFORMANCE_PART(S) is empty");
        let mut value = 0;
        let mut i = 0;
        while i < bytes.len() {
            assert!(
                bytes[i].is_ascii_digit(),
                "PORTNET_CONFORMANCE_PART(S) is not a number"
            );
            value = value * 10 + (bytes[i] - b'0') as usize;
            i += 1;
        }
        value
    }

    const STACK_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
    const PEER_V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
    /// The agent's port on the host end of the line.
    const CONTROL: SocketAddr = SocketAddr::V4(SocketAddrV4::new(PEER_V4, 7700));
    /// An address on the line's subnet that nobody answers: the host end is a
    /// point-to-point stack that drops what is not addressed to it.
    const BLACK_HOLE: SocketAddr =
        SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 99), 9));

    #[global_allocator]
    static ALLOCATOR: Heap = Heap::empty();
    static HEAP_MEMORY: ConstStaticCell<[u8; HEAP]> = ConstStaticCell::new([0; HEAP]);

    static RESOURCES: ConstStaticCell<StackResources<'static, { TCP_SOCKETS + UDP_SOCKETS }>> =
        ConstStaticCell::new(StackResources::new());
    static TCP: ConstStaticCell<TcpPool<TCP_SOCKETS, TCP_BUFFER, TCP_BUFFER>> =
        ConstStaticCell::new(TcpPool::new());
    static UDP: ConstStaticCell<UdpPool<UDP_SOCKETS, UDP_BUFFER, UDP_SLOTS>> =
        ConstStaticCell::new(UdpPool::new());
    static LINK: ConstStaticCell<slip::State<MTU, SLOTS>> =
        ConstStaticCell::new(slip::State::new());

    type Device = slip::Device<'static, MTU, SLOTS>;
    type Stack = net::BoardStack<Device>;

    /// The executor as the harness's `BlockOn`.
    struct Executor(Runner<WfiPark>);

    impl BlockOn for Executor {
        fn block_on<F: Future>(&self, future: F) -> F::Output {
            self.0.block_on(future)
        }
    }

    /// The sockets in use but the link's connection.
    fn open_sockets(stack: &Stack) -> usize {
        stack.sockets_in_use().saturating_sub(1)
    }

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let heap = HEAP_MEMORY.take();
        // SAFETY: called once, before any allocation, with memory only the heap
        // will ever use (taken from a `ConstStaticCell`, which hands it out once).
        unsafe { ALLOCATOR.init(heap.as_mut_ptr() as usize, heap.len()) };
        board::init();

        let (device, mut line) = LINK.take().split();
        let sockets = RESOURCES
            .take()
            .sockets()
            .tcp(TCP.take())
            .and_then(|s| s.udp(UDP.take()))
            .unwrap_or_else(|e| board::fail("sockets", e));
        let mut config = Config::ipv4_static(Cidr::new(STACK_V4, 24), None);
        config.random_seed = 0x5eed_0b17;
        config.listen_backlog = 3;
        let stack: &'static Stack = Box::leak(Box::new(
            net::stack(device, config, sockets).unwrap_or_else(|e| board::fail("stack", e)),
        ));
        let Some(runner) = EXECUTOR.claim() else {
            board::fail("executor", "already claimed")
        };
        let executor = Executor(runner);

        // The link's connection, made while the stack and the line run.
        let control = executor.block_on(async {
            let connecting = pin!(stack.connect(CONTROL));
            let runner = pin!(stack.run());
            let carrying = pin!(line.run(&UART, &UART));
            let running = pin!(select(runner, carrying));
            match select(connecting, running).await {
                Either::Left(connected) => connected,
                Either::Right(Either::Left(never)) => match never {},
                Either::Right(Either::Right(stopped)) => {
                    board::fail("the SLIP line stopped", stopped)
                }
            }
        });
        let control = Box::leak(Box::new(
            control.unwrap_or_else(|e| board::fail("connecting to the agent", e)),
        ));
        let (rx, tx) = control.split();

        let peer = RemotePeer::new().with_write_window(512).with_max_read(512);
        let link = peer.driver(EmbeddedIo::new(rx), EmbeddedIo::new(tx));
        let background = async move {
            let runner = pin!(stack.run());
            let carrying = pin!(line.run(&UART, &UART));
            let running = pin!(select(runner, carrying));
            match select(pin!(link), running).await {
                Either::Left(error) => error,
                Either::Right(Either::Left(never)) => match never {},
                Either::Right(Either::Right(stopped)) => {
                    board::fail("the SLIP line stopped", stopped)
                }
            }
        };
        let addresses = Addresses {
            stack_v4: Some(IpAddr::V4(STACK_V4)),
            peer_v4: Some(IpAddr::V4(PEER_V4)),
            stack_v6: None,
            peer_v6: None,
        };
        let harness = RemoteHarness::new(stack, &CLOCK, peer, background, executor, addresses)
            .with_open_sockets(open_sockets)
            .with_black_hole(BLACK_HOLE)
            .with_listen_pool(3)
            // An emulated CPU, and a peer whose data crosses a serial link.
            .with_patience(4)
            .with_bulk_bytes(16 * 1024);
        hprintln!("portnet-conformance firmware ready");
        let failures =
            run_and_report_part::<_, PART, PARTS>(&harness, "", |line| hprintln!("{}", line));
        board::exit(failures == 0)
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        board::fail("micro:bit conformance firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv6m-none-eabi");
}
