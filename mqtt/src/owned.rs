//! The client as one owned future: storage, session and handles inside it, so
//! that it can be a task of its own without leaking anything.

use core::borrow::BorrowMut;

use portnet::{Clock, TcpConnect};

use crate::{Client, Driver, Receiver, Session, Storage};

/// Runs `app` with the [`Driver`], [`Client`] and [`Receiver`] of a session that
/// this future owns, over `storage` (by value, boxed, or borrowed: anything that
/// lends a [`Storage`]), and returns what `app` returns.
///
/// [`Session::new`] borrows the storage and [`Session::split`] the session, so
/// a task that outlives the caller's stack frame used to need `Box::leak` of
/// both. Here both live inside the future: with a `'static` stack, clock and
/// storage (a `Box<Storage>` or a `Storage` by value), the future is `'static`
/// and can be spawned, for example with `tokio::task::spawn_local`, or be a
/// task of an executor's static pool. `app` decides how the driver runs (once,
/// or in a reconnect loop next to the application's own work); when it returns,
/// the driver is dropped and operations still waiting fail with
/// [`Error::Stopped`](crate::Error::Stopped).
///
/// The future is not `Send` (the session is shared through `RefCell`s, see
/// `docs/mqtt.md`): on tokio, spawn it on a `LocalSet` or a current-thread
/// runtime's `spawn_local`, not with `tokio::spawn`.
///
/// A `Storage` by value makes the future as large as the storage; box it for
/// large buffers.
pub async fn owned<
    B,
    S,
    C,
    T,
    const RX: usize,
    const TX: usize,
    const SLOTS: usize,
    const INBOUND: usize,
    const ALIASES: usize,
    const HOLD: usize,
    const OUT_ALIASES: usize,
>(
    mut storage: B,
    stack: S,
    clock: C,
    app: impl for<'r> AsyncFnOnce(Driver<'r, S, C>, Client<'r>, Receiver<'r>) -> T,
) -> T
where
    B: BorrowMut<Storage<RX, TX, SLOTS, INBOUND, ALIASES, HOLD, OUT_ALIASES>>,
    S: TcpConnect,
    C: Clock,
{
    let mut session = Session::new(storage.borrow_mut());
    let (driver, client, rx) = session.split(stack, clock);
    app(driver, client, rx).await
}
