//! The board's TCP/IP stack: the smoltcp backend on a SLIP link over the
//! UART, keeping time with the board's clock.
//!
//! ```ignore
//! static LINK: ConstStaticCell<slip::State<296, 2>> = ConstStaticCell::new(slip::State::new());
//! let (device, mut line) = LINK.take().split();
//! let stack = net::stack(device, config, sockets)?;
//! let output = net::run(&stack, async {
//!     select(pin!(app), pin!(line.run(&UART, &UART))).await
//! })?;
//! ```

use core::future::Future;
use core::pin::pin;

use portnet::future::{Either, select};
use portnet_smoltcp::driver::Driver;
use portnet_smoltcp::{Config, Error, Sockets, Stack};

use super::{CLOCK, Clock, EXECUTOR};

/// A portnet stack on the board: smoltcp on device `D`, on the board's clock.
pub type BoardStack<D> = Stack<'static, D, &'static Clock>;

/// Builds the board's stack on `device`, addressed by `config`, with the
/// socket pools of `sockets`.
///
/// # Errors
///
/// As [`Stack::new`].
pub fn stack<D: Driver>(
    device: D,
    config: Config,
    sockets: Sockets<'static>,
) -> Result<BoardStack<D>, Error> {
    Stack::new(device, &CLOCK, config, sockets)
}

/// The board's executor was already claimed: [`run`] can be called once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorTaken;

impl core::fmt::Display for ExecutorTaken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the board's executor is already claimed")
    }
}

/// Claims the board's executor and runs `app` on it next to `stack`'s runner,
/// sleeping with WFI whenever nothing is ready.
///
/// # Errors
///
/// [`ExecutorTaken`] if the board's executor was claimed before.
pub fn run<D: Driver, F: Future>(
    stack: &BoardStack<D>,
    app: F,
) -> Result<F::Output, ExecutorTaken> {
    let runner = EXECUTOR.claim().ok_or(ExecutorTaken)?;
    Ok(runner.block_on(async {
        match select(pin!(app), pin!(stack.run())).await {
            Either::Left(output) => output,
            Either::Right(never) => match never {},
        }
    }))
}
