//! The executor: `block_on`/`run`, the run queue and the spawner.

use core::cell::Cell;
use core::fmt;
use core::future::Future;
use core::marker::PhantomData;
use core::pin::pin;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use critical_section::{CriticalSection, Mutex};

use crate::park::Park;
use crate::task::{TaskPool, TaskRef};

/// A single-threaded executor that sleeps through a [`Park`] when nothing is ready.
///
/// Declare it as a `static` (its wakers point to it, and a waker may outlive any
/// call). The thread (or, on bare metal, the thread-mode code) that will run it takes
/// its one [`Runner`] with [`Executor::claim`], then drives a main future with
/// [`Runner::block_on`] or [`Runner::run`]; the main future may spawn tasks into static
/// [`TaskPool`]s (or on the heap with the `alloc` feature) through the [`Spawner`] that
/// `run` hands it. The `Runner` is neither `Send` nor `Sync`, so every task is polled on
/// the thread that spawned it, and task futures need not be `Send`.
///
/// Wakers of the main future and of tasks may be used from interrupt handlers and
/// other threads: waking records the wake-up inside a critical section (a flag, or a
/// place in the intrusive run queue) and then calls [`Park::signal`].
///
/// ```
/// # #[cfg(feature = "std")] {
/// use portnet_executor::{Executor, ThreadPark};
/// static EXECUTOR: Executor<ThreadPark> = Executor::new(ThreadPark::new());
/// let runner = EXECUTOR.claim().expect("claimed once");
/// assert_eq!(runner.block_on(async { 1 + 1 }), 2);
/// # }
/// ```
// `repr(C)` with the run queue first: a `Scheduler` points to the whole executor
// and reads it as its `RunQueue` (see `Scheduler`).
#[repr(C)]
pub struct Executor<P> {
    queue: RunQueue,
    park: P,
    /// The main future was woken.
    main_woken: AtomicBool,
    /// A `run` is in progress.
    running: Mutex<Cell<bool>>,
    /// The runner has been handed out.
    claimed: Mutex<Cell<bool>>,
}

impl<P: Park> Executor<P> {
    /// An executor that idles through `park`.
    pub const fn new(park: P) -> Self {
        Self {
            queue: RunQueue {
                tasks: Mutex::new(Cell::new((None, None))),
                work: AtomicBool::new(false),
                signal: signal_park::<P>,
            },
            park,
            main_woken: AtomicBool::new(false),
            running: Mutex::new(Cell::new(false)),
            claimed: Mutex::new(Cell::new(false)),
        }
    }

    /// The idle hook.
    pub fn park(&self) -> &P {
        &self.park
    }
}

impl<P: Park + 'static> Executor<P> {
    /// The executor's [`Runner`]: `Some` the first time, `None` ever after. The runner
    /// stays on the thread that claimed it.
    pub fn claim(&'static self) -> Option<Runner<P>> {
        let taken = critical_section::with(|cs| self.claimed.borrow(cs).replace(true));
        (!taken).then_some(Runner {
            executor: self,
            _local: PhantomData,
        })
    }

    /// The thin pointer its tasks keep, with the provenance of the whole executor
    /// (`signal_park` reads the `Park` through it).
    fn scheduler(&'static self) -> Scheduler {
        Scheduler(NonNull::from(self).cast())
    }

    fn run<F: Future>(&'static self, main: impl FnOnce(Spawner) -> F) -> F::Output {
        let _guard = self.enter();
        let spawner = Spawner {
            scheduler: self.scheduler(),
            _not_send: PhantomData,
        };
        let mut future = pin!(main(spawner));
        let waker = self.main_waker();
        let mut cx = Context::from_waker(&waker);
        self.main_woken.store(true, Ordering::SeqCst);
        loop {
            // Clear first: a wake-up from here on sets it again and ends the next wait.
            self.queue.work.store(false, Ordering::SeqCst);
            if self.main_woken.load(Ordering::SeqCst) {
                self.main_woken.store(false, Ordering::SeqCst);
                if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                    return output;
                }
            }
            self.poll_tasks();
            self.park
                .wait_for_event(&|| self.queue.work.load(Ordering::SeqCst));
        }
    }

    /// Polls every task queued now, once; tasks woken meanwhile wait for the next round
    /// (so a task that always wakes itself cannot starve the others or the main future).
    fn poll_tasks(&self) {
        let mut batch = critical_section::with(|cs| {
            let (head, _) = self.queue.tasks.borrow(cs).replace((None, None));
            head
        });
        while let Some(task) = batch {
            let (next, job, dead) = critical_section::with(|cs| task.dequeue(cs));
            batch = next;
            let dead = match job {
                Some(job) => {
                    let waker = task.borrowed_waker();
                    let mut cx = Context::from_waker(&waker);
                    #[allow(unsafe_code)]
                    // SAFETY: this executor dequeued the task and it is spawned: the
                    // future is live; only the executor that spawned a task polls it,
                    // and this executor is not re-entered (`enter`).
                    let poll = unsafe { job.poll(task, &mut cx) };
                    poll.is_ready() && critical_section::with(|cs| task.finish(cs))
                }
                None => dead,
            };
            if dead {
                #[allow(unsafe_code)]
                // SAFETY: `dequeue`/`finish` reported the task dead, once.
                unsafe {
                    task.free();
                }
            }
        }
    }

    fn enter(&'static self) -> RunGuard<P> {
        let busy = critical_section::with(|cs| self.running.borrow(cs).replace(true));
        assert!(!busy, "portnet-executor: this executor is already running");
        RunGuard(self)
    }

    const MAIN_WAKER: RawWakerVTable = RawWakerVTable::new(
        Self::main_clone,
        Self::main_wake,
        Self::main_wake,
        Self::main_drop,
    );

    fn main_waker(&'static self) -> Waker {
        let raw = RawWaker::new(core::ptr::from_ref(self).cast(), &Self::MAIN_WAKER);
        #[allow(unsafe_code)]
        // SAFETY: the data pointer is a `&'static Executor<P>`, which the vtable's
        // functions only read through a shared reference; cloning and dropping own
        // nothing, and the executor is `Sync`, so the waker may be used anywhere.
        unsafe {
            Waker::from_raw(raw)
        }
    }

    fn main_clone(ptr: *const ()) -> RawWaker {
        RawWaker::new(ptr, &Self::MAIN_WAKER)
    }

    fn main_wake(ptr: *const ()) {
        #[allow(unsafe_code)]
        // SAFETY: `ptr` is the `&'static Executor<P>` of `main_waker`.
        let this = unsafe { &*ptr.cast::<Self>() };
        this.main_woken.store(true, Ordering::SeqCst);
        this.scheduler().notify();
    }

    fn main_drop(_: *const ()) {}
}

/// The part of an executor that its tasks and wakers use, the same for every
/// [`Park`]: tasks keep a thin pointer to it ([`Scheduler`]) rather than a `&dyn`.
struct RunQueue {
    /// Head and tail of the run queue of tasks.
    tasks: Mutex<Cell<(Option<TaskRef>, Option<TaskRef>)>>,
    /// Something was woken since the executor last looked: what `has_work` reads.
    work: AtomicBool,
    /// Signals the executor's `Park` (`signal_park::<P>`).
    #[allow(unsafe_code)]
    signal: unsafe fn(Scheduler),
}

/// Calls `P::signal` on the executor behind `scheduler`.
///
/// # Safety
/// `scheduler` points to an `Executor<P>`.
#[allow(unsafe_code)]
unsafe fn signal_park<P: Park>(scheduler: Scheduler) {
    // SAFETY: per this function's contract; `Scheduler` pointers are made from a
    // `&'static Executor<P>` (`Executor::scheduler`), so they have its provenance.
    let executor = unsafe { scheduler.0.cast::<Executor<P>>().as_ref() };
    executor.park.signal();
}

/// Where a task is queued when woken, and whose `Park` is then signalled: a pointer
/// to a `static` executor (4 bytes on a 32-bit target, where a `&dyn` is 8), read as
/// its first field, the [`RunQueue`].
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scheduler(NonNull<RunQueue>);

// SAFETY: the executor behind the pointer is `'static`, and every field of its
// `RunQueue` that is written is an atomic or behind a critical-section mutex; the
// `signal` function only calls `Park::signal`, which the `Park` contract allows from
// any thread and interrupt handler.
#[allow(unsafe_code)]
unsafe impl Send for Scheduler {}
// SAFETY: as for `Send`.
#[allow(unsafe_code)]
unsafe impl Sync for Scheduler {}

impl Scheduler {
    #[allow(unsafe_code)]
    fn queue(&self) -> &RunQueue {
        // SAFETY: the pointer comes from a `&'static Executor<P>`, whose first field
        // is its `RunQueue` (`repr(C)`).
        unsafe { self.0.as_ref() }
    }

    /// Appends `task` to the run queue. Called inside a critical section, once per
    /// transition of the task to `QUEUED`.
    pub(crate) fn push(self, cs: CriticalSection<'_>, task: TaskRef) {
        let queue = self.queue().tasks.borrow(cs);
        let (head, tail) = queue.get();
        match tail {
            Some(tail) => {
                tail.set_next(cs, Some(task));
                queue.set((head, Some(task)));
            }
            None => queue.set((Some(task), Some(task))),
        }
    }

    /// Signals the executor's idle hook, outside the critical section.
    pub(crate) fn notify(self) {
        let queue = self.queue();
        queue.work.store(true, Ordering::SeqCst);
        // SAFETY: `signal` is `signal_park::<P>` of the executor this points to.
        #[allow(unsafe_code)]
        unsafe {
            (queue.signal)(self);
        }
    }
}

impl<P: fmt::Debug> fmt::Debug for Executor<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Executor")
            .field("park", &self.park)
            .finish_non_exhaustive()
    }
}

/// Clears the running flag when `run` ends, also by unwinding.
struct RunGuard<P: Park + 'static>(&'static Executor<P>);

impl<P: Park + 'static> Drop for RunGuard<P> {
    fn drop(&mut self) {
        critical_section::with(|cs| self.0.running.borrow(cs).set(false));
    }
}

/// The right to run an [`Executor`], from [`Executor::claim`]; it stays on the thread
/// that claimed it (neither `Send` nor `Sync`).
pub struct Runner<P: Park + 'static> {
    executor: &'static Executor<P>,
    _local: PhantomData<*const ()>,
}

impl<P: Park + 'static> Runner<P> {
    /// Runs `future` to completion, together with any tasks it spawns, and returns its
    /// output. Concurrency inside the future comes from `join`/`select`
    /// ([`portnet::future`]) or from spawned tasks.
    ///
    /// When nothing is ready the executor calls [`Park::wait_for_event`]. Tasks still
    /// pending when `future` completes stay in their pool and run again on the next
    /// `block_on`/`run`.
    ///
    /// # Panics
    ///
    /// When called from inside a running `block_on`/`run` of the same executor (from
    /// the future or a task): that is a programming error.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.executor.run(|_| future)
    }

    /// As [`Runner::block_on`], with a [`Spawner`] for the main future: `main` receives
    /// it and returns the future to run.
    ///
    /// # Panics
    ///
    /// As [`Runner::block_on`].
    pub fn run<F: Future>(&self, main: impl FnOnce(Spawner) -> F) -> F::Output {
        self.executor.run(main)
    }

    /// The executor.
    pub fn executor(&self) -> &'static Executor<P> {
        self.executor
    }
}

impl<P: Park + fmt::Debug + 'static> fmt::Debug for Runner<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runner")
            .field("executor", self.executor)
            .finish()
    }
}

/// Spawns tasks on the executor that handed it out (see [`Runner::run`]).
///
/// `Copy`, so tasks can carry one. It is neither `Send` nor `Sync`: tasks are spawned
/// on the executor's own thread and polled there, which is why their futures need not
/// be `Send`.
#[derive(Clone, Copy)]
pub struct Spawner {
    scheduler: Scheduler,
    _not_send: PhantomData<*const ()>,
}

impl Spawner {
    /// Spawns `future` as a task in a free slot of `pool`.
    ///
    /// # Errors
    ///
    /// [`SpawnError::PoolFull`] when every slot of `pool` holds a running task;
    /// [`SpawnError::FutureTooLarge`] when the future does not fit a slot. `future` is
    /// dropped in both cases.
    pub fn spawn<F, const N: usize, const SIZE: usize>(
        &self,
        pool: &'static TaskPool<N, SIZE>,
        future: F,
    ) -> Result<(), SpawnError>
    where
        F: Future<Output = ()> + 'static,
    {
        if !TaskPool::<N, SIZE>::fits::<F>() {
            return Err(SpawnError::FutureTooLarge {
                size: size_of::<F>(),
                align: align_of::<F>(),
            });
        }
        critical_section::with(|cs| pool.spawn(cs, self.scheduler, future))
            .map_err(|_| SpawnError::PoolFull)?;
        self.scheduler.notify();
        Ok(())
    }

    /// Spawns `future` as a task on the heap. Its memory is freed once it has completed
    /// and its last waker is dropped.
    #[cfg(feature = "alloc")]
    pub fn spawn_boxed<F: Future<Output = ()> + 'static>(&self, future: F) {
        critical_section::with(|cs| crate::task::spawn_boxed(cs, self.scheduler, future));
        self.scheduler.notify();
    }
}

impl fmt::Debug for Spawner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spawner").finish_non_exhaustive()
    }
}

/// Why a task could not be spawned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SpawnError {
    /// Every slot of the pool holds a running task.
    PoolFull,
    /// The future does not fit a slot of the pool: it needs `size` bytes aligned to
    /// `align`; slots have the pool's `SIZE` bytes aligned to
    /// [`TASK_ALIGN`](crate::TASK_ALIGN).
    FutureTooLarge {
        /// `size_of` the future.
        size: usize,
        /// `align_of` the future.
        align: usize,
    },
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::PoolFull => f.write_str("task pool full"),
            Self::FutureTooLarge { size, align } => write!(
                f,
                "future of {size} bytes (alignment {align}) does not fit a task pool slot"
            ),
        }
    }
}

impl core::error::Error for SpawnError {}

impl portnet::Error for SpawnError {
    fn kind(&self) -> portnet::ErrorKind {
        match self {
            Self::PoolFull => portnet::ErrorKind::OutOfResources,
            Self::FutureTooLarge { .. } => portnet::ErrorKind::InvalidInput,
        }
    }
}
