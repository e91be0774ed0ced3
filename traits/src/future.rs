//! The few future combinators generic networking code needs, `no_std`,
//! allocation-free and without `unsafe`, so that a library over portnet needs no
//! executor crate. They take `Unpin` futures: pin others first with
//! [`core::pin::pin!`] (a `Pin<&mut F>` is `Unpin`).
//!
//! ```
//! use core::pin::pin;
//! use portnet::future::{join3, join_array, select_array};
//!
//! async fn worker(id: u32) -> u32 { id * 10 }
//!
//! # portnet::future::block_on_ready(async {
//! // Four workers of one `async fn` have one type: an array.
//! let (a, b, c, d) = (pin!(worker(1)), pin!(worker(2)), pin!(worker(3)), pin!(worker(4)));
//! assert_eq!(join_array([a, b, c, d]).await, [10, 20, 30, 40]);
//! // Futures of different types: the tuple forms.
//! let (x, y, z) = join3(pin!(worker(1)), pin!(async { "two" }), pin!(async { 3u8 })).await;
//! assert_eq!((x, y, z), (10, "two", 3));
//! // The first of several to finish, with its index.
//! let (index, out) = select_array([pin!(worker(5)), pin!(worker(6))]).await;
//! assert_eq!((index, out), (0, 50));
//! # });
//! ```

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

/// Polls every future of the array until all finish; resolves to their outputs in
/// the array's order. The futures are polled in index order on every wake.
pub fn join_array<F: Future + Unpin, const N: usize>(futures: [F; N]) -> JoinArray<F, N> {
    JoinArray {
        slots: futures.map(Slot::Running),
    }
}

/// Future of [`join_array`].
#[must_use = "futures do nothing unless polled"]
pub struct JoinArray<F: Future, const N: usize> {
    slots: [Slot<F>; N],
}

impl<F: Future + Unpin, const N: usize> Unpin for JoinArray<F, N> {}

impl<F: Future, const N: usize> core::fmt::Debug for JoinArray<F, N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let running = self
            .slots
            .iter()
            .filter(|slot| matches!(slot, Slot::Running(_)))
            .count();
        f.debug_struct("JoinArray")
            .field("futures", &N)
            .field("running", &running)
            .finish()
    }
}

impl<F: Future + Unpin, const N: usize> Future for JoinArray<F, N> {
    type Output = [F::Output; N];

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let mut all = true;
        for slot in &mut this.slots {
            all &= slot.poll_finished(cx);
        }
        if !all {
            return Poll::Pending;
        }
        Poll::Ready(core::array::from_fn(|i| match this.slots[i].take() {
            Some(out) => out,
            None => panic!("`JoinArray` polled after it completed"),
        }))
    }
}

/// Polls every future of the array and resolves to the index and output of the
/// first to finish; the others are dropped with the future. They are polled in
/// index order, so on a tie the lowest index wins.
pub fn select_array<F: Future + Unpin, const N: usize>(futures: [F; N]) -> SelectArray<F, N> {
    SelectArray { futures }
}

/// Future of [`select_array`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct SelectArray<F, const N: usize> {
    futures: [F; N],
}

impl<F: Future + Unpin, const N: usize> Future for SelectArray<F, N> {
    type Output = (usize, F::Output);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        for (index, future) in self.get_mut().futures.iter_mut().enumerate() {
            if let Poll::Ready(out) = Pin::new(future).poll(cx) {
                return Poll::Ready((index, out));
            }
        }
        Poll::Pending
    }
}

macro_rules! join_tuple {
    ($(#[$doc:meta])* $name:ident, $future:ident, $($f:ident: $t:ident),+) => {
        $(#[$doc])*
        pub fn $name<$($t: Future + Unpin),+>($($f: $t),+) -> $future<$($t),+> {
            $future { $($f: Slot::Running($f)),+ }
        }

        #[doc = concat!("Future of [`", stringify!($name), "`].")]
        #[must_use = "futures do nothing unless polled"]
        pub struct $future<$($t: Future),+> {
            $($f: Slot<$t>),+
        }

        impl<$($t: Future + Unpin),+> Unpin for $future<$($t),+> {}

        impl<$($t: Future),+> core::fmt::Debug for $future<$($t),+> {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                let running = [$(matches!(self.$f, Slot::Running(_))),+];
                f.debug_struct(stringify!($future))
                    .field("running", &running.iter().filter(|r| **r).count())
                    .finish()
            }
        }

        impl<$($t: Future + Unpin),+> Future for $future<$($t),+> {
            type Output = ($($t::Output),+);

            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                let this = self.get_mut();
                let mut all = true;
                $(all &= this.$f.poll_finished(cx);)+
                if !all {
                    return Poll::Pending;
                }
                match ($(this.$f.take()),+) {
                    ($(Some($f)),+) => Poll::Ready(($($f),+)),
                    _ => panic!(concat!("`", stringify!($future), "` polled after it completed")),
                }
            }
        }
    };
}

join_tuple!(
    /// Polls three futures until all finish, and returns the three outputs.
    join3, Join3, a: A, b: B, c: C
);
join_tuple!(
    /// Polls four futures until all finish, and returns the four outputs.
    join4, Join4, a: A, b: B, c: C, d: D
);
join_tuple!(
    /// Polls five futures until all finish, and returns the five outputs.
    join5, Join5, a: A, b: B, c: C, d: D, e: E
);

/// The output of [`select3`]: which of three futures finished first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Either3<A, B, C> {
    /// The first future finished first.
    First(A),
    /// The second future finished first.
    Second(B),
    /// The third future finished first.
    Third(C),
}

/// Polls three futures and returns the output of the first to finish; the others
/// are dropped with the future. They are polled in order on every wake.
pub fn select3<A, B, C>(a: A, b: B, c: C) -> Select3<A, B, C>
where
    A: Future + Unpin,
    B: Future + Unpin,
    C: Future + Unpin,
{
    Select3 { a, b, c }
}

/// Future of [`select3`].
#[must_use = "futures do nothing unless polled"]
#[derive(Debug)]
pub struct Select3<A, B, C> {
    a: A,
    b: B,
    c: C,
}

impl<A, B, C> Future for Select3<A, B, C>
where
    A: Future + Unpin,
    B: Future + Unpin,
    C: Future + Unpin,
{
    type Output = Either3<A::Output, B::Output, C::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if let Poll::Ready(out) = Pin::new(&mut this.a).poll(cx) {
            return Poll::Ready(Either3::First(out));
        }
        if let Poll::Ready(out) = Pin::new(&mut this.b).poll(cx) {
            return Poll::Ready(Either3::Second(out));
        }
        if let Poll::Ready(out) = Pin::new(&mut this.c).poll(cx) {
            return Poll::Ready(Either3::Third(out));
        }
        Poll::Pending
    }
}

/// Polls `future` once with a waker that does nothing and returns its output;
/// panics if it is not ready. For doc examples and tests of futures that never
/// wait (it is not an executor).
#[doc(hidden)]
pub fn block_on_ready<F: Future>(future: F) -> F::Output {
    let mut future = core::pin::pin!(future);
    let mut cx = Context::from_waker(core::task::Waker::noop());
    // Futures built from ready parts may take several polls to get through their
    // state machine, never an unbounded number.
    for _ in 0..1024 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("block_on_ready: the future is not ready");
}
