//! Test support shared by the integration tests: a multi-task executor inside
//! one future (so it runs under `VirtualClock::run`), a small DHCP server and
//! a one-shot signal between tasks.

#![allow(dead_code)] // each test file uses part of it
#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

pub(crate) mod dhcp;

use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

/// One task's waker: a flag, and the waker of the future that runs the tasks.
///
/// Every task has its own waker, as on a real multi-task executor, so a stack
/// that keeps one waker where it needs several loses a task's wake-up here;
/// `portnet::future::join` would hide that, since all its futures share one
/// waker.
struct TaskWake {
    woken: AtomicBool,
    outer: Mutex<Option<Waker>>,
}

impl Wake for TaskWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        if let Some(outer) = self.outer.lock().unwrap().as_ref() {
            outer.wake_by_ref();
        }
    }
}

struct Task<'f> {
    future: Option<Pin<Box<dyn Future<Output = ()> + 'f>>>,
    wake: Arc<TaskWake>,
    waker: Waker,
    /// The run ends when every foreground task has finished.
    foreground: bool,
}

/// Tasks polled one by one with their own wakers, each only when woken.
#[derive(Default)]
pub(crate) struct Tasks<'f> {
    tasks: Vec<Task<'f>>,
}

impl<'f> Tasks<'f> {
    pub(crate) fn new() -> Self {
        Self { tasks: Vec::new() }
    }

    /// A task the run waits for.
    pub(crate) fn spawn(&mut self, future: impl Future<Output = ()> + 'f) {
        self.push(Box::pin(future), true);
    }

    /// A task that runs as long as the foreground ones (runners, servers).
    pub(crate) fn spawn_background(&mut self, future: impl Future<Output = ()> + 'f) {
        self.push(Box::pin(future), false);
    }

    fn push(&mut self, future: Pin<Box<dyn Future<Output = ()> + 'f>>, foreground: bool) {
        let wake = Arc::new(TaskWake {
            woken: AtomicBool::new(true),
            outer: Mutex::new(None),
        });
        let waker = Waker::from(wake.clone());
        self.tasks.push(Task {
            future: Some(future),
            wake,
            waker,
            foreground,
        });
    }

    /// Runs the tasks until every foreground task has finished.
    pub(crate) async fn run(mut self) {
        poll_fn(move |cx| {
            // Bounded: each pass polls only woken tasks; a task that keeps waking
            // itself is left to the clock's poll limit, by yielding below.
            for _ in 0..10_000 {
                let mut polled = false;
                for task in &mut self.tasks {
                    {
                        let mut outer = task.wake.outer.lock().unwrap();
                        match outer.as_mut() {
                            Some(w) => w.clone_from(cx.waker()),
                            None => *outer = Some(cx.waker().clone()),
                        }
                    }
                    if task.future.is_none() || !task.wake.woken.swap(false, Ordering::AcqRel) {
                        continue;
                    }
                    polled = true;
                    let mut task_cx = Context::from_waker(&task.waker);
                    if let Some(future) = task.future.as_mut()
                        && future.as_mut().poll(&mut task_cx).is_ready()
                    {
                        task.future = None;
                    }
                }
                if self
                    .tasks
                    .iter()
                    .all(|task| !task.foreground || task.future.is_none())
                {
                    return Poll::Ready(());
                }
                if !polled {
                    return Poll::Pending;
                }
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }
}

/// A counter that tasks wait on: [`Progress::until`] returns once it reaches
/// a value. Keeps every waiting waker (a test fixture may, the stack may not
/// allocate).
#[derive(Default)]
pub(crate) struct Progress {
    count: Cell<u32>,
    waiters: RefCell<Vec<Waker>>,
}

impl Progress {
    pub(crate) fn step(&self) {
        self.count.set(self.count.get() + 1);
        for waker in self.waiters.borrow_mut().drain(..) {
            waker.wake();
        }
    }

    pub(crate) fn get(&self) -> u32 {
        self.count.get()
    }

    pub(crate) async fn until(&self, count: u32) {
        poll_fn(|cx| {
            if self.count.get() >= count {
                Poll::Ready(())
            } else {
                self.waiters.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}
