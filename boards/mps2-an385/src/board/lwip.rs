//! The board's TCP/IP stack on lwIP (feature `lwip`): the lwIP backend
//! (`portnet-lwip`, lwIP's C cross-compiled for the Cortex-M3) on any network
//! device, keeping time with the board's clock. The same shape as [`super::net`]
//! (`stack`, then `run`), so a firmware changes stacks by changing which of the
//! two modules it names and the [`Config`] it passes.
//!
//! lwIP's port here is IPv4 with a static address (no DHCP): under QEMU's user
//! networking that is `Config::ipv4_static(10.0.2.15, 24, Some(10.0.2.2))`,
//! the address QEMU's DHCP server would lease, with the host's loopback at
//! 10.0.2.2. lwIP keeps its state in globals: one stack per firmware.
//!
//! ```ignore
//! let ethernet = board::init()?;
//! let config = Config::ipv4_static(Ipv4Addr::new(10, 0, 2, 15), 24, Some(Ipv4Addr::new(10, 0, 2, 2)));
//! let stack = lwip::stack(ethernet, config)?;
//! let output = lwip::run(&stack, async { /* generic portnet code over &stack */ })?;
//! ```

use core::future::Future;
use core::pin::pin;

use portnet::future::{Either, select};
use portnet_lwip::Stack;
use portnet_lwip::driver::Driver;
/// The stack's configuration and error, re-exported so a firmware names
/// them without depending on `portnet-lwip` itself.
pub use portnet_lwip::{Config, Error};

use super::net::{ExecutorTaken, block_on};
use super::{CLOCK, Clock};

/// A portnet stack on the board: lwIP on device `D`, on the board's clock. It
/// implements `TcpConnect`, `TcpListen`, `UdpBind` and `portnet::Clock`.
pub type BoardStack<D> = Stack<D, &'static Clock>;

/// Builds the board's lwIP stack on `device`, addressed by `config`. lwIP's
/// pools are its own statics (`portnet-lwip`'s `lwipopts.h`): nothing to pass.
///
/// # Errors
///
/// As [`Stack::new`]: a second stack (`OutOfResources`), a device without a
/// unicast Ethernet address or a prefix longer than 32 (`InvalidInput`).
pub fn stack<D: Driver>(device: D, config: Config) -> Result<BoardStack<D>, Error> {
    Stack::new(device, &CLOCK, config)
}

/// Runs `app` next to `stack`'s runner until `app` completes, and returns its
/// output. The runner moves frames and runs lwIP's timers only while this
/// future is polled.
///
/// # Cancel safety
///
/// Cancel safe as far as the stack goes (dropping it pauses the runner); `app`
/// is dropped with it.
pub async fn serve<D: Driver, F: Future>(stack: &BoardStack<D>, app: F) -> F::Output {
    match select(pin!(app), pin!(stack.run())).await {
        Either::Left(output) => output,
        Either::Right(never) => match never {},
    }
}

/// Claims the board's executor and runs `app` on it next to `stack`'s runner
/// (see [`serve`]), sleeping with WFI whenever nothing is ready.
///
/// # Errors
///
/// [`ExecutorTaken`] if the board's executor was claimed before.
pub fn run<D: Driver, F: Future>(
    stack: &BoardStack<D>,
    app: F,
) -> Result<F::Output, ExecutorTaken> {
    block_on(serve(stack, app))
}
