//! The smallest useful program: `block_on` of two joined futures.
//!
//! On a target with no OS (`target_os = "none"`) it is a Cortex-M firmware (linked with
//! `cortex-m-rt`, sleeping with `WfiPark`, exiting through semihosting) whose size the
//! README quotes:
//!
//! ```text
//! cargo build --release -p portnet-executor --example block_on --target thumbv6m-none-eabi
//! qemu-system-arm -M mps2-an385 -nographic -semihosting-config enable=on,target=native \
//!     -kernel target/thumbv6m-none-eabi/release/examples/block_on
//! ```
//!
//! On a host it runs the same future with `ThreadPark`.
#![cfg_attr(target_os = "none", no_std, no_main)]
#![allow(clippy::std_instead_of_core)]

use core::future::poll_fn;
use core::pin::pin;
use core::task::Poll;

use portnet::future::join;

/// Returns `Pending` once, waking itself: enough to make the executor loop and park.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// The program: two futures joined, one of which yields.
async fn app() -> u32 {
    let a = pin!(async {
        yield_now().await;
        40
    });
    let b = pin!(async { 2 });
    let (a, b) = join(a, b).await;
    a + b
}

#[cfg(target_os = "none")]
mod firmware {
    use cortex_m_semihosting::debug;
    use portnet_executor::{Executor, WfiPark};

    static EXECUTOR: Executor<WfiPark> = Executor::new(WfiPark::new());

    #[cortex_m_rt::entry]
    fn main() -> ! {
        let answer = EXECUTOR.claim().map(|runner| runner.block_on(super::app()));
        debug::exit(if answer == Some(42) {
            debug::EXIT_SUCCESS
        } else {
            debug::EXIT_FAILURE
        });
        loop {
            cortex_m::asm::wfi();
        }
    }

    #[panic_handler]
    fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
        debug::exit(debug::EXIT_FAILURE);
        loop {
            cortex_m::asm::wfi();
        }
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    use portnet_executor::{Executor, ThreadPark};
    static EXECUTOR: Executor<ThreadPark> = Executor::new(ThreadPark::new());
    assert_eq!(EXECUTOR.claim().unwrap().block_on(app()), 42);
    println!("42");
}
