//! Running a portnet future to completion from blocking code.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};

/// An executor that runs one future to completion, blocking the caller.
///
/// The blocking adapters ([`BlockingIo`](crate::BlockingIo) for `embedded-io`, and
/// the connect/listen/bind/close steps of [`NbNal`](crate::NbNal)) need one: a
/// portnet future makes progress only when whatever drives its stack runs (a tokio
/// or async-io reactor, an interface poller), and only the application knows what
/// that is. Implement it for a small newtype around your runtime, for example
/// around a tokio `Handle` (`handle.block_on(future)`, called from a thread that is
/// not a runtime worker) or around `async_io::block_on`.
///
/// Never call a blocking adapter from inside a task of the executor it blocks on:
/// the task would wait for itself.
pub trait BlockOn {
    /// Runs `future` until it completes and returns its output.
    fn block_on<F: Future>(&self, future: F) -> F::Output;
}

impl<B: BlockOn + ?Sized> BlockOn for &B {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        (**self).block_on(future)
    }
}

/// A [`BlockOn`] that busy-polls the future with a no-op waker until it is ready.
///
/// Right for a stack that makes progress on its own, outside the future: one driven
/// from interrupts or from another thread (async-io's fallback reactor thread,
/// a multi-threaded tokio runtime whose workers poll the I/O driver). It keeps a
/// core busy while it waits, as `nb::block!` does, and never returns if the stack
/// is driven by nothing else.
#[derive(Debug, Clone, Copy, Default)]
pub struct Spin;

impl BlockOn for Spin {
    fn block_on<F: Future>(&self, future: F) -> F::Output {
        let mut future = pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            core::hint::spin_loop();
        }
    }
}
