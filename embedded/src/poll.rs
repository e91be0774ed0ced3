//! Polling a future once, for the adapters that turn `async fn`s into poll methods.

#[cfg(any(feature = "embedded-io-async", feature = "embedded-nal"))]
use core::task::{Context, Poll};
#[cfg(any(feature = "embedded-io-async", feature = "embedded-nal"))]
use core::{future::Future, pin::pin};

/// How an adapter that turns a foreign `async fn` into a portnet `poll_*` method
/// makes sure the task is woken again.
///
/// Without an allocator the adapter cannot keep the foreign future between two
/// polls (it borrows the foreign object and the caller's buffer, and a future that
/// borrows its own neighbour cannot be stored without `unsafe` or a `Box`). So each
/// `poll_*` call creates the foreign future, polls it **once**, and drops it if it
/// is pending. Whether the task is then woken depends on where the foreign stack
/// keeps the waker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WakePolicy {
    /// Trust the foreign stack: a pending future has registered the waker with the
    /// socket, and the registration outlives the dropped future. True of stacks
    /// whose futures are thin `poll_fn`s over per-socket wakers (embassy-net's
    /// sockets, anything over `futures-io`'s `poll_read`/`poll_write`), and of
    /// std-embedded-nal-async's TCP connections. A stack whose futures remove their
    /// waker when dropped loses the wake-up, and the task hangs.
    #[default]
    Registered,
    /// Wake the task again at once after every pending poll, so it polls until the
    /// operation completes. Correct for any cancel-safe foreign future, at the price
    /// of a busy loop while the socket is idle (one core at 100%). Use it for stacks
    /// whose futures deregister their waker on drop (for example futures built on
    /// async-io's `readable()`/`writable()`, as std-embedded-nal-async's UDP sockets
    /// are).
    Rewake,
}

#[cfg(any(feature = "embedded-io-async", feature = "embedded-nal"))]
/// Polls `future` once with `cx`; on `Pending` applies `policy` and drops it.
pub(crate) fn poll_once<F: Future>(
    policy: WakePolicy,
    cx: &mut Context<'_>,
    future: F,
) -> Poll<F::Output> {
    let future = pin!(future);
    match future.poll(cx) {
        Poll::Ready(out) => Poll::Ready(out),
        Poll::Pending => {
            if policy == WakePolicy::Rewake {
                cx.waker().wake_by_ref();
            }
            Poll::Pending
        }
    }
}

/// Polls `future` once with a no-op waker: the `nb` mapping (`Pending` becomes
/// `WouldBlock`, and the caller retries when it likes).
#[cfg(feature = "embedded-nal")]
pub(crate) fn poll_noop<F: Future>(future: F) -> Poll<F::Output> {
    poll_once(
        WakePolicy::Registered,
        &mut Context::from_waker(core::task::Waker::noop()),
        future,
    )
}
