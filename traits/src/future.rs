//! The few future combinators generic networking code needs, `no_std`,
//! allocation-free and without `unsafe`, so that a library over portnet needs no
//! executor crate. They take `Unpin` futures: pin others first with
//! [`core::pin::pin!`].

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};

/// The output of [`select`]: which future finished first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Either<A, B> {
    /// The first future finished first.
    Left(A),
    /// The second future finished first.
    Right(B),
}

/// Polls both futures and returns the output of the first to finish; the other is
/// dropped with the `Select`. The first is polled first on every wake.
pub fn select<A: Future + Unpin, B: Future + Unpin>(a: A, b: B) -> Select<A, B> {
    Select { a, b }
}

/// Future of [`select`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Select<A, B> {
    a: A,
    b: B,
}

impl<A: Future + Unpin, B: Future + Unpin> Future for Select<A, B> {
    type Output = Either<A::Output, B::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(out) = Pin::new(&mut this.a).poll(cx) {
            return Poll::Ready(Either::Left(out));
        }
        if let Poll::Ready(out) = Pin::new(&mut this.b).poll(cx) {
            return Poll::Ready(Either::Right(out));
        }
        Poll::Pending
    }
}

/// Polls both futures until both finish, and returns both outputs.
pub fn join<A: Future + Unpin, B: Future + Unpin>(a: A, b: B) -> Join<A, B> {
    Join {
        a: Slot::Running(a),
        b: Slot::Running(b),
    }
}

enum Slot<F: Future> {
    Running(F),
    Done(F::Output),
    Taken,
}

impl<F: Future + Unpin> Slot<F> {
    /// Polls the future if it still runs; true once it has finished.
    fn poll_finished(&mut self, cx: &mut Context<'_>) -> bool {
        if let Self::Running(f) = self {
            match Pin::new(f).poll(cx) {
                Poll::Ready(out) => *self = Self::Done(out),
                Poll::Pending => return false,
            }
        }
        true
    }

    fn take(&mut self) -> Option<F::Output> {
        match core::mem::replace(self, Self::Taken) {
            Self::Done(out) => Some(out),
            _ => None,
        }
    }
}

/// Future of [`join`].
#[must_use = "futures do nothing unless polled"]
pub struct Join<A: Future, B: Future> {
    a: Slot<A>,
    b: Slot<B>,
}

// The outputs are only ever moved, never pinned, so `Join` is `Unpin` whenever the
// futures are.
impl<A: Future + Unpin, B: Future + Unpin> Unpin for Join<A, B> {}

impl<A: Future, B: Future> core::fmt::Debug for Join<A, B> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = |finished: bool| if finished { "finished" } else { "running" };
        f.debug_struct("Join")
            .field("a", &state(!matches!(self.a, Slot::Running(_))))
            .field("b", &state(!matches!(self.b, Slot::Running(_))))
            .finish()
    }
}

impl<A: Future + Unpin, B: Future + Unpin> Future for Join<A, B> {
    type Output = (A::Output, B::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let a_finished = this.a.poll_finished(cx);
        let b_finished = this.b.poll_finished(cx);
        if !(a_finished && b_finished) {
            return Poll::Pending;
        }
        match (this.a.take(), this.b.take()) {
            (Some(a), Some(b)) => Poll::Ready((a, b)),
            _ => panic!("`Join` polled after it completed"),
        }
    }
}
