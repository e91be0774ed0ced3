//! The peer of `examples/echo.rs` for the benchmarks: the same echo service
//! (port 7, `CONNECTIONS` connections one after the other, then exit through
//! semihosting) written on embassy-net 0.9 instead of portnet's smoltcp
//! backend, on the same board and the same LAN9118 driver, with the same 8 KiB
//! socket buffers and an address by DHCP. embassy-time runs on the board's
//! timer queue (`board::CLOCK`) through a small driver below.
//!
//! `cargo xtask bench` runs it beside `echo` in QEMU and compares the 1 MiB echo.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod firmware {
    use core::cell::RefCell;
    use core::future::poll_fn;
    use core::pin::pin;
    use core::task::{Poll, Waker};

    use cortex_m_semihosting::hprintln;
    use critical_section::Mutex;
    use embassy_net::tcp::TcpSocket;
    use embassy_net::{Config, StackResources};
    use embassy_time_queue_utils::Queue;
    use portnet::future::{Either, join, select};
    use portnet::{Clock as _, Instant};
    use portnet_board_mps2_an385::board::{self, CLOCK, EXECUTOR};
    use static_cell::ConstStaticCell;

    const CONNECTIONS: usize = 3;

    static RESOURCES: ConstStaticCell<StackResources<6>> =
        ConstStaticCell::new(StackResources::new());
    /// Receive and send buffers of the three sockets, 8 KiB each (as `echo`).
    static BUFFERS: ConstStaticCell<[[u8; 8192]; 6]> = ConstStaticCell::new([[0; 8192]; 6]);

    /// embassy-time's wakers, and the waker of the task that sleeps on the board
    /// clock until the earliest of them.
    struct BoardTime {
        queue: Mutex<RefCell<Queue>>,
        sleeper: Mutex<RefCell<Option<Waker>>>,
    }

    impl embassy_time_driver::Driver for BoardTime {
        fn now(&self) -> u64 {
            CLOCK.now().as_micros()
        }
        fn schedule_wake(&self, at: u64, waker: &Waker) {
            critical_section::with(|cs| {
                if self.queue.borrow(cs).borrow_mut().schedule_wake(at, waker)
                    && let Some(sleeper) = self.sleeper.borrow(cs).borrow_mut().take()
                {
                    sleeper.wake();
                }
            });
        }
    }

    embassy_time_driver::time_driver_impl!(static TIME: BoardTime = BoardTime {
        queue: Mutex::new(RefCell::new(Queue::new())),
        sleeper: Mutex::new(RefCell::new(None)),
    });

    /// Wakes embassy-time's expired timers, then sleeps on the board clock until
    /// the next one (or until an earlier one is scheduled).
    async fn time_task() -> ! {
        loop {
            let next = critical_section::with(|cs| {
                TIME.queue
                    .borrow(cs)
                    .borrow_mut()
                    .next_expiration(CLOCK.now().as_micros())
            });
            let mut first = true;
            let rescheduled = poll_fn(|cx| {
                critical_section::with(|cs| {
                    *TIME.sleeper.borrow(cs).borrow_mut() = Some(cx.waker().clone());
                });
                if core::mem::take(&mut first) {
                    Poll::<()>::Pending
                } else {
                    Poll::Ready(())
                }
            });
            if next == u64::MAX {
                rescheduled.await;
            } else {
                let _ = select(
                    pin!(CLOCK.sleep_until(Instant::from_micros(next))),
                    pin!(rescheduled),
                )
                .await;
            }
        }
    }

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let ethernet = board::init().unwrap_or_else(|e| board::fail("ethernet", e));
        let (stack, mut runner) = embassy_net::new(
            ethernet,
            Config::dhcpv4(Default::default()),
            RESOURCES.take(),
            0x5eed_0002,
        );
        let [b0, b1, b2, b3, b4, b5] = BUFFERS.take();
        let app = async {
            stack.wait_config_up().await;
            let address = stack.config_v4().map(|c| c.address.address());
            // One socket per connection, each listening before the previous
            // connection ends (embassy-net has no backlog: a connection that
            // finds no listening socket is reset).
            let mut s0 = TcpSocket::new(stack, b0, b1);
            let mut s1 = TcpSocket::new(stack, b2, b3);
            let mut s2 = TcpSocket::new(stack, b4, b5);
            let (accepted, ()) = join(
                pin!(s0.accept(7)),
                pin!(async {
                    if let Some(address) = address {
                        hprintln!("portnet-echo ready {}:7", address);
                    }
                }),
            )
            .await;
            accepted.unwrap_or_else(|_| board::fail("accept", "embassy-net"));
            let (n0, accepted) = join(pin!(serve(&mut s0)), pin!(s1.accept(7))).await;
            accepted.unwrap_or_else(|_| board::fail("accept", "embassy-net"));
            let (n1, accepted) = join(pin!(serve(&mut s1)), pin!(s2.accept(7))).await;
            accepted.unwrap_or_else(|_| board::fail("accept", "embassy-net"));
            let n2 = serve(&mut s2).await;
            n0 + n1 + n2
        };
        let executor = EXECUTOR
            .claim()
            .unwrap_or_else(|| board::fail("executor", "taken"));
        let served = executor.block_on(async {
            match select(
                pin!(app),
                pin!(join(pin!(runner_run(&mut runner)), pin!(time_task()))),
            )
            .await
            {
                Either::Left(total) => total,
                Either::Right(_) => unreachable!("the runners never return"),
            }
        });
        hprintln!(
            "portnet-echo served {} connections, {} bytes",
            CONNECTIONS,
            served
        );
        board::exit(true)
    }

    /// Echoes until EOF, then closes and waits until the FIN is sent; bytes echoed.
    async fn serve(socket: &mut TcpSocket<'_>) -> usize {
        let mut buf = [0u8; 2048];
        let mut total = 0;
        loop {
            match socket.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if socket.write_all_bytes(&buf[..n]).await.is_err() {
                        break;
                    }
                    total += n;
                }
            }
        }
        socket.close();
        let _ = socket.flush().await;
        total
    }

    async fn runner_run<D: embassy_net_driver::Driver>(
        runner: &mut embassy_net::Runner<'_, D>,
    ) -> ! {
        runner.run().await
    }

    /// `write_all` on embassy-net's socket.
    trait WriteAll {
        async fn write_all_bytes(&mut self, data: &[u8]) -> Result<(), embassy_net::tcp::Error>;
    }

    impl WriteAll for TcpSocket<'_> {
        async fn write_all_bytes(
            &mut self,
            mut data: &[u8],
        ) -> Result<(), embassy_net::tcp::Error> {
            while !data.is_empty() {
                let n = self.write(data).await?;
                data = &data[n..];
            }
            Ok(())
        }
    }

    #[panic_handler]
    fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
        board::fail("echo-embassy firmware panicked", info)
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this example is firmware: build it with --target thumbv7m-none-eabi");
}
