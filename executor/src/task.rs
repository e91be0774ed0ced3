//! Task headers, the static task pool and (with `alloc`) heap tasks.
//!
//! Every mutable field of a task header lives in one `Cell` behind a
//! `critical_section::Mutex`: it is read and written only inside a critical section,
//! so interrupt handlers and other threads (wakers) and the executor never race. The
//! future itself is touched only by the executor that polls the task (and by `spawn`,
//! before the task is published).
#![allow(unsafe_code)]

use core::cell::{Cell, UnsafeCell};
use core::future::Future;
use core::marker::PhantomData;
use core::mem::MaybeUninit;
use core::pin::Pin;
use core::ptr::NonNull;
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use critical_section::{CriticalSection, Mutex};

use crate::executor::Scheduler;

/// The task holds a live future.
pub(crate) const SPAWNED: u8 = 1;
/// The task is in its executor's run queue.
pub(crate) const QUEUED: u8 = 2;

/// Alignment of every slot of a [`TaskPool`]: a future with a larger alignment does
/// not fit ([`SpawnError::FutureTooLarge`](crate::SpawnError::FutureTooLarge)).
pub const TASK_ALIGN: usize = 8;

/// Type-erased operations on a task's future: one `static` table per future type,
/// shared by every task of that type, so a task stores one pointer to it. Both take
/// the task's header: the future sits at a fixed place after it
/// ([`future_offset`]), so a task keeps no pointer to its own future.
struct FutureVtable {
    poll: unsafe fn(TaskRef, &mut Context<'_>) -> Poll<()>,
    drop: unsafe fn(TaskRef),
}

/// The vtable of `F`, as an associated constant so that `&VtableOf::<F>::VTABLE`
/// is promoted to a `'static` table built at compile time.
struct VtableOf<F>(PhantomData<F>);

impl<F: Future<Output = ()>> VtableOf<F> {
    const VTABLE: FutureVtable = FutureVtable {
        poll: poll_future::<F>,
        drop: drop_future::<F>,
    };
}

/// Where a task's future of type `F` lives, in bytes after its header. A pool slot
/// ([`Slot`]) and a heap task ([`HeapTask`]) are both `repr(C)`, the header first,
/// then the future aligned to at least [`TASK_ALIGN`] (a pool takes no future
/// aligned to more).
const fn future_offset<F>() -> usize {
    let align = if align_of::<F>() > TASK_ALIGN {
        align_of::<F>()
    } else {
        TASK_ALIGN
    };
    size_of::<Header>().next_multiple_of(align)
}

/// # Safety
/// `task` is a pool slot or heap task holding an `F` (see [`future_offset`]), and
/// its pointer has the provenance of the whole slot or task.
unsafe fn future_of<F>(task: TaskRef) -> *mut F {
    // SAFETY: per this function's contract the future is inside the same allocation
    // as the header, `future_offset::<F>()` bytes after it.
    unsafe { task.0.as_ptr().byte_add(future_offset::<F>()) }.cast()
}

/// # Safety
/// `task` holds a live, pinned `F` that nothing else accesses meanwhile.
unsafe fn poll_future<F: Future<Output = ()>>(task: TaskRef, cx: &mut Context<'_>) -> Poll<()> {
    // SAFETY: per this function's contract; the future never moves (it lives in a
    // static slot or a heap task until dropped in place).
    unsafe { Pin::new_unchecked(&mut *future_of::<F>(task)) }.poll(cx)
}

/// # Safety
/// `task` holds a live `F` that is never used again.
unsafe fn drop_future<F>(task: TaskRef) {
    // SAFETY: per this function's contract.
    unsafe { future_of::<F>(task).drop_in_place() }
}

/// How to poll and drop a task's future.
#[derive(Clone, Copy)]
pub(crate) struct Job(&'static FutureVtable);

impl Job {
    fn of<F: Future<Output = ()>>() -> Self {
        Self(&VtableOf::<F>::VTABLE)
    }

    /// Polls the future of `task`; on `Ready` drops it in place.
    ///
    /// # Safety
    ///
    /// The caller is the executor that dequeued `task`, whose job this is, and the task
    /// is `SPAWNED`: the future is live and nothing else touches it during the call.
    pub(crate) unsafe fn poll(self, task: TaskRef, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: per this function's contract.
        let poll = unsafe { (self.0.poll)(task, cx) };
        if poll.is_ready() {
            // SAFETY: the future has completed and the caller marks the task finished
            // right after, so it is never polled again.
            unsafe { (self.0.drop)(task) };
        }
        poll
    }
}

/// The state of a task, read and written as a whole inside a critical section.
#[derive(Clone, Copy)]
struct State {
    flags: u8,
    next: Option<TaskRef>,
    scheduler: Option<Scheduler>,
    job: Option<Job>,
    /// Live wakers of a heap task (not counting the one lent to `poll`). Pool
    /// slots live forever and need no count: without `alloc` it is not kept.
    #[cfg(feature = "alloc")]
    wakers: usize,
}

impl State {
    const FREE: Self = Self {
        flags: 0,
        next: None,
        scheduler: None,
        job: None,
        #[cfg(feature = "alloc")]
        wakers: 0,
    };
}

/// The part of a task that the executor and its wakers share.
pub(crate) struct Header {
    state: Mutex<Cell<State>>,
    /// Frees a heap task (`None` for pool slots, which live forever).
    #[cfg(feature = "alloc")]
    free: Option<unsafe fn(TaskRef)>,
}

impl Header {
    /// The header of a pool slot.
    const fn pool() -> Self {
        Self {
            state: Mutex::new(Cell::new(State::FREE)),
            #[cfg(feature = "alloc")]
            free: None,
        }
    }

    fn update<R>(&self, cs: CriticalSection<'_>, f: impl FnOnce(&mut State) -> R) -> R {
        let cell = self.state.borrow(cs);
        let mut state = cell.get();
        let out = f(&mut state);
        cell.set(state);
        out
    }

    /// A heap task nobody refers to any more: not spawned, not queued, no waker.
    #[cfg(feature = "alloc")]
    fn is_dead(&self, state: &State) -> bool {
        self.free.is_some() && state.flags == 0 && state.wakers == 0
    }

    /// Without `alloc` every task is a pool slot, which is never freed.
    #[cfg(not(feature = "alloc"))]
    #[expect(clippy::unused_self, reason = "the same signature as with `alloc`")]
    fn is_dead(&self, _state: &State) -> bool {
        false
    }
}

/// A pointer to a task header; a task's identity in run queues and wakers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskRef(NonNull<Header>);

// SAFETY: a header is `Sync` (all its mutable state is behind a critical-section
// mutex) and stays valid while a `TaskRef` can be used: pool slots are `'static`, and a
// heap task is freed only once it is not spawned, not queued and has no waker (see
// `Header::is_dead`), which are exactly the places a `TaskRef` is kept.
unsafe impl Send for TaskRef {}

impl TaskRef {
    fn header(&self) -> &Header {
        // SAFETY: see the `Send` impl: the header is valid while this `TaskRef` is in
        // use, and it is only ever accessed through shared references.
        unsafe { self.0.as_ref() }
    }

    /// Marks the task woken: queues it on its executor unless it is already queued
    /// or not running. Returns the executor to notify.
    fn wake(self, cs: CriticalSection<'_>) -> Option<Scheduler> {
        let scheduler = self.header().update(cs, |s| {
            if s.flags & SPAWNED != 0 && s.flags & QUEUED == 0 {
                s.flags |= QUEUED;
                s.next = None;
                s.scheduler
            } else {
                None
            }
        })?;
        scheduler.push(cs, self);
        Some(scheduler)
    }

    /// Sets the link to the next task of a run queue.
    pub(crate) fn set_next(self, cs: CriticalSection<'_>, next: Option<TaskRef>) {
        self.header().update(cs, |s| s.next = next);
    }

    /// Takes the task out of a run queue: returns the next task of the queue, the
    /// task's job if it still runs, and whether it must be freed now.
    pub(crate) fn dequeue(self, cs: CriticalSection<'_>) -> (Option<TaskRef>, Option<Job>, bool) {
        let header = self.header();
        header.update(cs, |s| {
            let next = s.next.take();
            s.flags &= !QUEUED;
            let job = if s.flags & SPAWNED != 0 { s.job } else { None };
            (next, job, header.is_dead(s))
        })
    }

    /// Marks the task finished (its future has been dropped); true if it must be
    /// freed now.
    pub(crate) fn finish(self, cs: CriticalSection<'_>) -> bool {
        let header = self.header();
        header.update(cs, |s| {
            s.flags &= !SPAWNED;
            s.job = None;
            header.is_dead(s)
        })
    }

    /// Frees a dead heap task.
    ///
    /// # Safety
    ///
    /// The task was reported dead by `dequeue`, `finish` or a waker drop, and this is
    /// the only call for it.
    pub(crate) unsafe fn free(self) {
        #[cfg(feature = "alloc")]
        if let Some(free) = self.header().free {
            // SAFETY: per this function's contract nothing refers to the task any more.
            unsafe { free(self) }
        }
    }

    /// The waker lent to `poll`: it does not count as a live waker, so it must not be
    /// dropped (hence `ManuallyDrop`); clones of it count.
    pub(crate) fn borrowed_waker(self) -> core::mem::ManuallyDrop<Waker> {
        let raw = RawWaker::new(self.0.as_ptr().cast_const().cast(), &TASK_WAKER);
        // SAFETY: `TASK_WAKER`'s functions uphold the `RawWaker` contract for a
        // pointer to a task header (see each of them); the waker is never dropped, so
        // it takes no waker count.
        core::mem::ManuallyDrop::new(unsafe { Waker::from_raw(raw) })
    }
}

/// Waker functions of a task: the data pointer is the task's header.
static TASK_WAKER: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

/// # Safety
/// `ptr` comes from `borrowed_waker` or a clone: it points to a valid header.
unsafe fn task_of(ptr: *const ()) -> TaskRef {
    // SAFETY: per the contract the pointer is a non-null header pointer.
    TaskRef(unsafe { NonNull::new_unchecked(ptr.cast_mut().cast()) })
}

unsafe fn waker_clone(ptr: *const ()) -> RawWaker {
    // Only heap tasks count their wakers (a pool slot is never freed).
    #[cfg(feature = "alloc")]
    {
        // SAFETY: called by `Waker` on one of our task wakers.
        let task = unsafe { task_of(ptr) };
        critical_section::with(|cs| task.header().update(cs, |s| s.wakers += 1));
    }
    RawWaker::new(ptr, &TASK_WAKER)
}

unsafe fn waker_wake(ptr: *const ()) {
    // SAFETY: called by `Waker` on one of our task wakers, which it gives up.
    unsafe {
        waker_wake_by_ref(ptr);
        waker_drop(ptr);
    }
}

unsafe fn waker_wake_by_ref(ptr: *const ()) {
    // SAFETY: called by `Waker` on one of our task wakers.
    let task = unsafe { task_of(ptr) };
    if let Some(scheduler) = critical_section::with(|cs| task.wake(cs)) {
        scheduler.notify();
    }
}

#[cfg(not(feature = "alloc"))]
unsafe fn waker_drop(_ptr: *const ()) {}

#[cfg(feature = "alloc")]
unsafe fn waker_drop(ptr: *const ()) {
    // SAFETY: called by `Waker` on one of our task wakers, which it gives up.
    let task = unsafe { task_of(ptr) };
    let dead = critical_section::with(|cs| {
        let header = task.header();
        header.update(cs, |s| {
            s.wakers = s.wakers.saturating_sub(1);
            header.is_dead(s)
        })
    });
    if dead {
        // SAFETY: the last reference to a finished heap task was this waker.
        unsafe { task.free() }
    }
}

/// Storage for one future of at most `SIZE` bytes, aligned to [`TASK_ALIGN`].
#[repr(C, align(8))]
struct Storage<const SIZE: usize>([MaybeUninit<u8>; SIZE]);

/// A function that makes a task: an `async fn` (or any function returning a
/// `Future<Output = ()>`) taking `Args`, a tuple of up to eight arguments. It names
/// the type of the future, which stable Rust cannot write for an `async fn`, so that
/// [`task_size`] can size a [`TaskPool`] exactly.
pub trait TaskFn<Args> {
    /// The future a call returns.
    type Future: Future<Output = ()>;
}

macro_rules! task_fn {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg,)*> TaskFn<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> Fut,
            Fut: Future<Output = ()>,
        {
            type Future = Fut;
        }
    };
}

task_fn!();
task_fn!(A);
task_fn!(A, B);
task_fn!(A, B, C);
task_fn!(A, B, C, D);
task_fn!(A, B, C, D, E);
task_fn!(A, B, C, D, E, G);
task_fn!(A, B, C, D, E, G, H);
task_fn!(A, B, C, D, E, G, H, I);

/// The slot size, in bytes, of the futures `task` returns: the `SIZE` of a
/// [`TaskPool`] that holds exactly those tasks, computed at compile time.
///
/// ```
/// use portnet_executor::{TaskPool, task_size};
///
/// async fn blink(times: u32) {
///     for _ in 0..times {
///         core::future::ready(()).await;
///     }
/// }
///
/// static BLINKERS: TaskPool<2, { task_size(&blink) }> = TaskPool::new();
/// assert!(TaskPool::<2, { task_size(&blink) }>::fits::<core::future::Ready<()>>());
/// # let _ = &BLINKERS;
/// ```
pub const fn task_size<F: TaskFn<Args>, Args>(_task: &F) -> usize {
    size_of::<F::Future>()
}

/// One slot of a [`TaskPool`]: `repr(C)`, the layout [`future_offset`] relies on.
#[repr(C)]
struct Slot<const SIZE: usize> {
    header: Header,
    future: UnsafeCell<Storage<SIZE>>,
}

/// A fixed pool of `N` task slots of `SIZE` bytes each, declared by the application as
/// a `static`: the executor runs tasks in it and never allocates.
///
/// The slot size is in bytes rather than a future type so that the pool can hold the
/// unnameable futures of `async fn`s and `async` blocks on stable Rust. A future must
/// fit: `size_of::<F>() <= SIZE` and `align_of::<F>() <= TASK_ALIGN`; otherwise
/// [`Spawner::spawn`](crate::Spawner::spawn) returns
/// [`SpawnError::FutureTooLarge`](crate::SpawnError::FutureTooLarge) with the sizes, so
/// the first run tells how large to make `SIZE`. A slot is free again once its task has
/// completed; a full pool is [`SpawnError::PoolFull`](crate::SpawnError::PoolFull).
///
/// A pool can serve several executors (each task runs on the one that spawned it). A
/// task woken during its final poll stays in its executor's run queue until that
/// executor's next round; its slot is free at once for that executor, and for the
/// others after that round.
///
/// ```
/// use portnet_executor::TaskPool;
/// static POOL: TaskPool<4, 128> = TaskPool::new();
/// ```
pub struct TaskPool<const N: usize, const SIZE: usize> {
    slots: [Slot<SIZE>; N],
}

// SAFETY: the headers are `Sync` on their own. A slot's future storage is written only
// by `spawn` while the slot is claimed inside a critical section and not yet
// published, then accessed only by the one executor that polls the task, on the
// thread that spawned it (`Spawner` and `Runner` are neither `Send` nor `Sync`, and an
// executor has one `Runner`, so it is polled and spawned on from one thread), and
// dropped in place by that executor before the slot is released.
unsafe impl<const N: usize, const SIZE: usize> Sync for TaskPool<N, SIZE> {}

impl<const N: usize, const SIZE: usize> TaskPool<N, SIZE> {
    /// An empty pool.
    pub const fn new() -> Self {
        Self {
            slots: [const {
                Slot {
                    header: Header::pool(),
                    future: UnsafeCell::new(Storage([MaybeUninit::uninit(); SIZE])),
                }
            }; N],
        }
    }

    /// The number of slots.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The number of tasks currently in the pool (spawned and not yet completed).
    pub fn len(&self) -> usize {
        critical_section::with(|cs| {
            self.slots
                .iter()
                .filter(|slot| slot.header.state.borrow(cs).get().flags & SPAWNED != 0)
                .count()
        })
    }

    /// Whether no task is in the pool.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `F` fits a slot.
    pub const fn fits<F>() -> bool {
        size_of::<F>() <= SIZE && align_of::<F>() <= TASK_ALIGN
    }

    /// Moves `future` into a free slot and queues it on `scheduler`. `Err` gives the
    /// future back when every slot is busy. The caller checked `Self::fits::<F>()`.
    pub(crate) fn spawn<F: Future<Output = ()> + 'static>(
        &'static self,
        cs: CriticalSection<'_>,
        scheduler: Scheduler,
        future: F,
    ) -> Result<(), F> {
        debug_assert!(Self::fits::<F>());
        // A slot is free when its task has completed. A completed task that was woken
        // during its last poll is still linked in its executor's run queue: the same
        // executor may reuse the slot in place (the queued entry then runs the new
        // task); another executor must not.
        let free = self.slots.iter().find_map(|slot| {
            let state = slot.header.state.borrow(cs).get();
            let reusable = match state.flags {
                0 => Some(false),
                QUEUED if state.scheduler.is_some_and(|s| s == scheduler) => Some(true),
                _ => None,
            };
            reusable.map(|queued| (slot, queued))
        });
        let Some((slot, queued)) = free else {
            return Err(future);
        };
        let ptr = slot.future.get().cast::<F>();
        // SAFETY: the slot holds no live future (not `SPAWNED`), so no executor touches
        // its storage: a queued entry only reads the header, inside a critical section,
        // and this one claims the slot; `F` fits the storage in size and alignment
        // (checked by the caller, `Storage` is aligned to `TASK_ALIGN`).
        unsafe { ptr.write(future) };
        // From the whole slot, not its header field: the job reaches the future
        // through this pointer (`future_of`).
        let task = TaskRef(NonNull::from(slot).cast::<Header>());
        debug_assert_eq!(
            ptr.addr(),
            task.0.as_ptr().addr() + future_offset::<F>(),
            "the future sits where `future_of` looks for it"
        );
        slot.header.update(cs, |s| {
            *s = State {
                flags: SPAWNED | QUEUED,
                next: s.next,
                scheduler: Some(scheduler),
                job: Some(Job::of::<F>()),
                #[cfg(feature = "alloc")]
                wakers: s.wakers,
            };
        });
        if queued {
            return Ok(());
        }
        scheduler.push(cs, task);
        Ok(())
    }
}

impl<const N: usize, const SIZE: usize> Default for TaskPool<N, SIZE> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize, const SIZE: usize> core::fmt::Debug for TaskPool<N, SIZE> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TaskPool")
            .field("capacity", &N)
            .field("slot_size", &SIZE)
            .field("len", &self.len())
            .finish()
    }
}

/// A task on the heap: the header first, so a header pointer is a task pointer.
#[cfg(feature = "alloc")]
#[repr(C)]
struct HeapTask<F> {
    header: Header,
    future: UnsafeCell<HeapFuture<F>>,
}

/// A heap task's future, aligned to at least [`TASK_ALIGN`] like a pool slot's, so
/// that [`future_offset`] finds it in both.
#[cfg(feature = "alloc")]
#[repr(C, align(8))]
struct HeapFuture<F>(MaybeUninit<F>);

/// Allocates a task for `future` and queues it on `scheduler`.
#[cfg(feature = "alloc")]
pub(crate) fn spawn_boxed<F: Future<Output = ()> + 'static>(
    cs: CriticalSection<'_>,
    scheduler: Scheduler,
    future: F,
) {
    /// # Safety
    /// `task` is a dead `HeapTask<F>` made by `spawn_boxed::<F>`.
    unsafe fn free<F>(task: TaskRef) {
        // SAFETY: the pointer came from `Box::leak` of a `Box<HeapTask<F>>` (with the
        // provenance of the whole allocation); the header is its first field
        // (`repr(C)`), and the future was already dropped in place (`MaybeUninit`
        // does not drop it again).
        drop(unsafe { alloc::boxed::Box::from_raw(task.0.cast::<HeapTask<F>>().as_ptr()) });
    }
    let boxed = alloc::boxed::Box::new(HeapTask {
        header: Header {
            state: Mutex::new(Cell::new(State::FREE)),
            free: Some(free::<F>),
        },
        future: UnsafeCell::new(HeapFuture(MaybeUninit::new(future))),
    });
    let raw = NonNull::from(alloc::boxed::Box::leak(boxed));
    // SAFETY: `raw` points to the live allocation just made; taking a field's address
    // creates no reference.
    let future = unsafe { &raw mut (*raw.as_ptr()).future };
    let task = TaskRef(raw.cast::<Header>());
    debug_assert_eq!(
        future.addr(),
        task.0.as_ptr().addr() + future_offset::<F>(),
        "the future sits where `future_of` looks for it"
    );
    task.header().update(cs, |s| {
        *s = State {
            flags: SPAWNED | QUEUED,
            next: None,
            scheduler: Some(scheduler),
            job: Some(Job::of::<F>()),
            wakers: 0,
        };
    });
    scheduler.push(cs, task);
}
