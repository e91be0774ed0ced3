//! The board's TCP/IP stack: the smoltcp backend on any network device, keeping
//! time with the board's clock.
//!
//! The device is any `embassy_net_driver::Driver`: the board's LAN9118
//! ([`super::init`]), or a serial link device over a UART. The addresses come
//! from the [`Config`]: `Config::dhcpv4()` (QEMU's user networking leases
//! 10.0.2.15, with the host's loopback at 10.0.2.2) or `Config::ipv4_static(…)`.
//!
//! ```ignore
//! static RESOURCES: ConstStaticCell<StackResources<'static, 8>> = ConstStaticCell::new(StackResources::new());
//! static TCP: ConstStaticCell<TcpPool<2, 8192, 8192>> = ConstStaticCell::new(TcpPool::new());
//!
//! let ethernet = board::init()?;
//! let sockets = RESOURCES.take().sockets().tcp(TCP.take())?;
//! let stack = net::stack(ethernet, Config::dhcpv4(), sockets)?;
//! let output = net::run(&stack, async { /* generic portnet code over &stack */ })?;
//! ```

use core::future::Future;
use core::pin::pin;

use portnet::future::{Either, select};
use portnet_smoltcp::driver::Driver;
use portnet_smoltcp::{Config, Error, Sockets, Stack};

use super::{CLOCK, Clock, EXECUTOR};

/// A portnet stack on the board: smoltcp on device `D`, on the board's clock.
/// It implements `TcpConnect`, `TcpListen`, `UdpBind` (and `Dns` with that
/// feature of `portnet-smoltcp`) and `portnet::Clock`.
pub type BoardStack<D> = Stack<'static, D, &'static Clock>;

/// Builds the board's stack on `device`, addressed by `config`, with the
/// socket pools of `sockets`.
///
/// # Errors
///
/// As [`Stack::new`]: an invalid configuration, a device without an Ethernet
/// address, or no room in the resources for the DHCP or DNS socket.
pub fn stack<D: Driver>(
    device: D,
    config: Config,
    sockets: Sockets<'static>,
) -> Result<BoardStack<D>, Error> {
    Stack::new(device, &CLOCK, config, sockets)
}

/// Runs `app` next to `stack`'s runner until `app` completes, and returns its
/// output. The runner moves frames and keeps the timers only while this
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

/// The board's executor was already claimed: [`run`] can be called once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExecutorTaken;

impl core::fmt::Display for ExecutorTaken {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the board's executor is already claimed")
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

/// Claims the board's executor and runs `future` on it to completion.
pub(super) fn block_on<F: Future>(future: F) -> Result<F::Output, ExecutorTaken> {
    let runner = EXECUTOR.claim().ok_or(ExecutorTaken)?;
    Ok(runner.block_on(future))
}
