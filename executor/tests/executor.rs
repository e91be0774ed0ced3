//! Host tests of the executor: `block_on`, the task pool, heap tasks, wakes from other
//! threads (the host's stand-in for interrupt handlers) and the timer queue.
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)]

use std::future::poll_fn;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

use portnet::future::{Either, join, select};
use portnet::{Clock, Instant};
use portnet_executor::{
    Alarm, Executor, SpawnError, StdAlarm, TaskPool, ThreadPark, Timer, task_size,
};

/// Scales loop counts down under Miri, which is slow.
const fn scaled(n: usize) -> usize {
    if cfg!(miri) { n / 50 + 2 } else { n }
}

/// A fresh executor for one test (an executor runs one `block_on` at a time).
macro_rules! executor {
    () => {{
        static EXECUTOR: Executor<ThreadPark> = Executor::new(ThreadPark::new());
        EXECUTOR.claim().unwrap()
    }};
}

/// Returns `Pending` once, waking itself.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await;
}

/// A one-shot event that any thread may set; the waiter keeps its waker here.
#[derive(Default)]
struct Flag {
    set: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Flag {
    const fn new() -> Self {
        Self {
            set: AtomicBool::new(false),
            waker: Mutex::new(None),
        }
    }

    fn set(&self) {
        self.set.store(true, Ordering::SeqCst);
        let waker = self.waker.lock().unwrap().take();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    async fn wait(&self) {
        poll_fn(|cx| {
            if self.set.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.set.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
}

#[test]
fn block_on_returns_the_output() {
    assert_eq!(executor!().block_on(async { 40 + 2 }), 42);
}

#[test]
fn an_executor_has_one_runner() {
    static EXECUTOR: Executor<ThreadPark> = Executor::new(ThreadPark::new());
    let runner = EXECUTOR.claim().unwrap();
    assert!(EXECUTOR.claim().is_none());
    assert_eq!(runner.block_on(async { 1 }), 1);
    assert_eq!(runner.block_on(async { 2 }), 2);
}

#[test]
fn block_on_join_and_select() {
    let executor = executor!();
    let (a, b) = executor.block_on(async {
        let a = pin!(async {
            yield_now().await;
            yield_now().await;
            1
        });
        let b = pin!(async {
            yield_now().await;
            2
        });
        join(a, b).await
    });
    assert_eq!((a, b), (1, 2));

    let flag = Flag::new();
    let out = executor.block_on(async {
        let never = pin!(flag.wait());
        let soon = pin!(async {
            yield_now().await;
            "soon"
        });
        select(never, soon).await
    });
    assert!(matches!(out, Either::Right("soon")));
}

#[test]
fn many_tasks_in_the_pool() {
    const TASKS: usize = 16;
    static POOL: TaskPool<TASKS, 128> = TaskPool::new();
    static DONE: AtomicUsize = AtomicUsize::new(0);
    static ALL_DONE: Flag = Flag::new();
    let executor = executor!();
    executor.run(|spawner| async move {
        for i in 0..TASKS {
            spawner
                .spawn(&POOL, async move {
                    for _ in 0..i % 4 {
                        yield_now().await;
                    }
                    if DONE.fetch_add(1, Ordering::SeqCst) + 1 == TASKS {
                        ALL_DONE.set();
                    }
                })
                .unwrap();
        }
        assert_eq!(POOL.len(), TASKS);
        ALL_DONE.wait().await;
    });
    assert_eq!(DONE.load(Ordering::SeqCst), TASKS);
    // A task's slot is free once `poll` has returned `Ready` (the executor may still
    // be finishing the last task when the main future completes).
    executor.block_on(async {
        while !POOL.is_empty() {
            yield_now().await;
        }
    });
}

#[test]
fn a_full_pool_is_an_error_and_slots_are_reused() {
    static POOL: TaskPool<2, 64> = TaskPool::new();
    static RELEASE: Flag = Flag::new();
    let executor = executor!();
    executor.run(|spawner| async move {
        spawner.spawn(&POOL, RELEASE.wait()).unwrap();
        spawner.spawn(&POOL, RELEASE.wait()).unwrap();
        let err = spawner.spawn(&POOL, async {}).unwrap_err();
        assert_eq!(err, SpawnError::PoolFull);
        assert_eq!(
            portnet::Error::kind(&err),
            portnet::ErrorKind::OutOfResources
        );
        RELEASE.set();
        while !POOL.is_empty() {
            yield_now().await;
        }
        spawner.spawn(&POOL, async {}).unwrap();
    });
}

/// A task woken during its last poll stays in the run queue after it completes; its
/// slot is still free for the next spawn (found under Miri's thread interleavings).
#[test]
fn a_slot_woken_during_its_last_poll_is_reusable() {
    static POOL: TaskPool<1, 64> = TaskPool::new();
    static RAN: AtomicUsize = AtomicUsize::new(0);
    let executor = executor!();
    executor.run(|spawner| async move {
        for round in 1..=3 {
            spawner
                .spawn(
                    &POOL,
                    poll_fn(|cx| {
                        cx.waker().wake_by_ref();
                        RAN.fetch_add(1, Ordering::SeqCst);
                        Poll::Ready(())
                    }),
                )
                .unwrap();
            while RAN.load(Ordering::SeqCst) < round {
                yield_now().await;
            }
        }
    });
    assert_eq!(RAN.load(Ordering::SeqCst), 3);
}

#[test]
fn a_future_too_large_is_an_error() {
    static POOL: TaskPool<1, 16> = TaskPool::new();
    let executor = executor!();
    executor.run(|spawner| async move {
        let big = [0u8; 64];
        let err = spawner
            .spawn(&POOL, async move {
                core::hint::black_box(big);
            })
            .unwrap_err();
        assert!(matches!(err, SpawnError::FutureTooLarge { size, .. } if size >= 64));
        assert!(POOL.is_empty());
    });
}

/// A task that keeps `N` bytes across an await, and counts its runs.
async fn holds_bytes<const N: usize>(ran: &'static AtomicUsize) {
    let kept = [7u8; N];
    yield_now().await;
    core::hint::black_box(kept);
    ran.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn task_size_sizes_a_pool_exactly() {
    static RAN: AtomicUsize = AtomicUsize::new(0);
    const EXACT: usize = task_size(&holds_bytes::<100>);
    static POOL: TaskPool<1, EXACT> = TaskPool::new();
    static SHORT: TaskPool<1, { EXACT - 1 }> = TaskPool::new();
    const { assert!(EXACT >= 100, "the kept bytes are part of the future") };
    let executor = executor!();
    executor.run(|spawner| async move {
        let err = spawner.spawn(&SHORT, holds_bytes::<100>(&RAN)).unwrap_err();
        assert_eq!(
            err,
            SpawnError::FutureTooLarge {
                size: EXACT,
                align: align_of_val(&holds_bytes::<100>(&RAN)),
            }
        );
        spawner.spawn(&POOL, holds_bytes::<100>(&RAN)).unwrap();
        // The task needs two polls; the bound only keeps a broken pool from hanging.
        for _ in 0..100 {
            if RAN.load(Ordering::SeqCst) != 0 {
                break;
            }
            yield_now().await;
        }
    });
    assert_eq!(RAN.load(Ordering::SeqCst), 1);
    assert!(POOL.is_empty());
}

#[test]
fn a_task_waker_kept_after_completion_is_harmless() {
    static POOL: TaskPool<1, 64> = TaskPool::new();
    static KEPT: Mutex<Option<Waker>> = Mutex::new(None);
    let executor = executor!();
    executor.run(|spawner| async move {
        spawner
            .spawn(&POOL, async {
                poll_fn(|cx| {
                    *KEPT.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Ready(())
                })
                .await;
            })
            .unwrap();
        while KEPT.lock().unwrap().is_none() || !POOL.is_empty() {
            yield_now().await;
        }
        // The slot is free (or reused): a stale wake does nothing.
        KEPT.lock().unwrap().take().unwrap().wake();
        spawner.spawn(&POOL, yield_now()).unwrap();
    });
}

/// Bytes aligned to 64, more than a pool slot's alignment.
#[repr(align(64))]
struct OverAligned([u8; 64]);

#[test]
fn an_over_aligned_future_runs_on_the_heap_not_in_a_pool() {
    static POOL: TaskPool<1, 1024> = TaskPool::new();
    static SEEN: AtomicUsize = AtomicUsize::new(0);
    let task = || async {
        let kept = OverAligned([9; 64]);
        yield_now().await;
        // Where the task finds its future is right, or this reads other bytes.
        assert_eq!(core::ptr::from_ref(&kept).addr() % 64, 0);
        SEEN.fetch_add(
            kept.0.iter().map(|&b| usize::from(b)).sum(),
            Ordering::SeqCst,
        );
    };
    let executor = executor!();
    executor.run(|spawner| async move {
        let err = spawner.spawn(&POOL, task()).unwrap_err();
        assert!(matches!(err, SpawnError::FutureTooLarge { align: 64, .. }));
        spawner.spawn_boxed(task());
        for _ in 0..100 {
            if SEEN.load(Ordering::SeqCst) != 0 {
                break;
            }
            yield_now().await;
        }
    });
    assert_eq!(SEEN.load(Ordering::SeqCst), 9 * 64);
}

#[test]
fn boxed_tasks_run_and_are_freed() {
    static DONE: AtomicUsize = AtomicUsize::new(0);
    static ALL_DONE: Flag = Flag::new();
    static KEPT: Mutex<Vec<Waker>> = Mutex::new(Vec::new());
    let tasks = scaled(200);
    let executor = executor!();
    executor.run(|spawner| async move {
        for i in 0..tasks {
            spawner.spawn_boxed(async move {
                let payload = Box::new([i; 8]); // dropped with the task
                yield_now().await;
                if i % 3 == 0 {
                    // Keep a waker past the task's end: it frees the task when dropped.
                    poll_fn(|cx| {
                        KEPT.lock().unwrap().push(cx.waker().clone());
                        Poll::Ready(())
                    })
                    .await;
                }
                assert_eq!(payload.len(), 8);
                if DONE.fetch_add(1, Ordering::SeqCst) + 1 == tasks {
                    ALL_DONE.set();
                }
            });
        }
        ALL_DONE.wait().await;
        // Let the last task finish its poll.
        yield_now().await;
    });
    assert_eq!(DONE.load(Ordering::SeqCst), tasks);
    let kept = std::mem::take(&mut *KEPT.lock().unwrap());
    assert!(!kept.is_empty());
    for (i, waker) in kept.into_iter().enumerate() {
        if i % 2 == 0 {
            waker.wake();
        } else {
            drop(waker);
        }
    }
}

/// The lost wake-up race: another thread (an ISR's stand-in) sets a flag and wakes
/// while the executor is between its check and its sleep. A lost wake-up hangs.
#[test]
fn wakes_from_another_thread_are_never_lost() {
    let executor = executor!();
    for _ in 0..scaled(2000) {
        let flag = Arc::new(Flag::new());
        let setter = Arc::clone(&flag);
        std::thread::scope(|scope| {
            scope.spawn(move || setter.set());
            executor.block_on(flag.wait());
        });
    }
}

#[test]
fn task_wakes_from_another_thread_are_never_lost() {
    static POOL: TaskPool<1, 128> = TaskPool::new();
    let executor = executor!();
    for _ in 0..scaled(1000) {
        let flag = Arc::new(Flag::new());
        let done = Arc::new(Flag::new());
        let (setter, task_flag, task_done) =
            (Arc::clone(&flag), Arc::clone(&flag), Arc::clone(&done));
        std::thread::scope(|scope| {
            scope.spawn(move || setter.set());
            executor.run(|spawner| async move {
                spawner
                    .spawn(&POOL, async move {
                        task_flag.wait().await;
                        task_done.set();
                    })
                    .unwrap();
                done.wait().await;
                while !POOL.is_empty() {
                    yield_now().await;
                }
            });
        });
    }
}

#[test]
#[should_panic(expected = "already running")]
fn nested_block_on_panics() {
    let executor = executor!();
    executor.block_on(async {
        executor.block_on(async {});
    });
}

/// A virtual alarm: time moves only when the test says so.
struct ManualAlarm {
    now: AtomicU64,
    armed: AtomicU64,
}

impl ManualAlarm {
    const fn new() -> Self {
        Self {
            now: AtomicU64::new(0),
            armed: AtomicU64::new(u64::MAX),
        }
    }
}

impl Alarm for ManualAlarm {
    fn now(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
    fn set_alarm(&self, at: u64) -> bool {
        if at <= self.now() {
            return false;
        }
        self.armed.store(at, Ordering::SeqCst);
        true
    }
}

/// Sets the virtual time, then runs the "interrupt handler" if the alarm is due.
fn advance<const N: usize>(timer: &Timer<ManualAlarm, N>, to: u64) {
    timer.alarm().now.store(to, Ordering::SeqCst);
    if timer.alarm().armed.load(Ordering::SeqCst) <= to {
        timer.on_alarm();
    }
}

#[test]
fn timers_fire_in_deadline_order() {
    static TIMER: Timer<ManualAlarm, 4> = Timer::new(ManualAlarm::new());
    static POOL: TaskPool<3, 128> = TaskPool::new();
    static ORDER: Mutex<Vec<u64>> = Mutex::new(Vec::new());
    let executor = executor!();
    executor.run(|spawner| async move {
        for deadline in [30, 10, 20] {
            spawner
                .spawn(&POOL, async move {
                    TIMER.sleep_until(Instant::from_micros(deadline)).await;
                    assert!(TIMER.now_micros() >= deadline);
                    ORDER.lock().unwrap().push(deadline);
                })
                .unwrap();
        }
        while TIMER.len() < 3 {
            yield_now().await;
        }
        assert_eq!(TIMER.alarm().armed.load(Ordering::SeqCst), 10);
        for (now, fired) in [(5, 0), (10, 1), (25, 2), (29, 2), (100, 3)] {
            advance(&TIMER, now);
            for _ in 0..4 {
                yield_now().await;
            }
            assert_eq!(ORDER.lock().unwrap().len(), fired, "at {now}");
        }
    });
    assert_eq!(*ORDER.lock().unwrap(), [10, 20, 30]);
    assert!(TIMER.is_empty());
    assert_eq!(TIMER.overflows(), 0);
}

#[test]
fn a_full_timer_queue_falls_back_to_polling() {
    static TIMER: Timer<ManualAlarm, 2> = Timer::new(ManualAlarm::new());
    static POOL: TaskPool<4, 128> = TaskPool::new();
    static DONE: AtomicUsize = AtomicUsize::new(0);
    let executor = executor!();
    executor.run(|spawner| async move {
        for deadline in [10, 20, 30, 40] {
            spawner
                .spawn(&POOL, async move {
                    TIMER.sleep_until(Instant::from_micros(deadline)).await;
                    assert!(TIMER.now_micros() >= deadline);
                    DONE.fetch_add(1, Ordering::SeqCst);
                })
                .unwrap();
        }
        while TIMER.len() < 2 || TIMER.overflows() == 0 {
            yield_now().await;
        }
        // Nothing completes early, full queue or not.
        for _ in 0..8 {
            yield_now().await;
        }
        assert_eq!(DONE.load(Ordering::SeqCst), 0);
        advance(&TIMER, 100);
        while DONE.load(Ordering::SeqCst) < 4 {
            yield_now().await;
        }
    });
    assert!(TIMER.overflows() > 0);
    assert!(TIMER.is_empty());
}

#[test]
fn a_dropped_sleep_gives_its_place_back() {
    static TIMER: Timer<ManualAlarm, 1> = Timer::new(ManualAlarm::new());
    let executor = executor!();
    let out = executor.block_on(async {
        let sleep = pin!(TIMER.sleep_until(Instant::from_micros(50)));
        select(sleep, pin!(yield_now())).await
    });
    assert!(matches!(out, Either::Right(())));
    assert!(TIMER.is_empty());
    // The place is usable again; a past deadline completes at once.
    executor.block_on(TIMER.sleep_until(Instant::ZERO));
}

#[test]
fn the_std_alarm_drives_real_sleeps() {
    static TIMER: Timer<StdAlarm, 4> = Timer::new(StdAlarm::new());
    let alarm_thread = TIMER.start();
    let executor = executor!();
    let start = TIMER.now();
    let (short, long) = executor.block_on(async {
        let long = pin!(async {
            TIMER.sleep(Duration::from_millis(4)).await;
            TIMER.now()
        });
        let short = pin!(async {
            TIMER.sleep(Duration::from_millis(1)).await;
            TIMER.now()
        });
        join(short, long).await
    });
    // Never before the deadline. Their order is not asserted: on a loaded machine
    // both deadlines can pass before the executor runs again, and then both
    // complete in one poll, which is correct.
    assert!(short - start >= Duration::from_millis(1));
    assert!(long - start >= Duration::from_millis(4));
    // A timeout through the generic `portnet::time` helper.
    let flag = Flag::new();
    let result = executor.block_on(portnet::time::timeout(
        &TIMER,
        Duration::from_millis(2),
        flag.wait(),
    ));
    assert!(result.is_err());
    TIMER.stop();
    alarm_thread.join().unwrap();
}
