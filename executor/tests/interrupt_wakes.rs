//! Wakers called from interrupts: an exhaustive interleaving test of the
//! executor's check-and-sleep.
//!
//! On a single-core microcontroller a waker runs in an interrupt handler, which
//! preempts the executor between any two of its instructions, except while
//! interrupts are masked: then the interrupt stays pending, ends a `WFI` at once,
//! and its handler runs when the mask is lifted. This test runs the real
//! [`Executor`] on a model of that core: a [`Park`] that behaves as
//! [`portnet_executor::WfiPark`] does (mask, check, `WFI`, unmask), with an
//! "interrupt" (a call of a real waker, the main future's or a task's) injected at
//! each point where one can land relative to the executor's idle path:
//!
//! - during the future's poll, right after it stored its waker;
//! - after the executor's poll round, before `wait_for_event` masks;
//! - masked, before the check (pending);
//! - masked, during the check (pending);
//! - masked, after the check, before `WFI` (pending: `WFI` returns at once);
//! - during `WFI` (it wakes the core).
//!
//! Every sequence of three wake-ups over these six points (6^3 = 216, for the main
//! future and for a spawned task) must end with the future complete. A `WFI` with
//! no interrupt pending and none to come is a lost wake-up: the model fails the
//! test instead of sleeping forever. A model `Park` that checks with interrupts
//! *enabled* (the classic bug) is shown to lose one, so the test can fail.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use portnet_executor::{Executor, Park};

/// Where an interrupt lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Point {
    InPoll,
    BeforeMask,
    MaskedBeforeCheck,
    InCheck,
    AfterCheck,
    DuringWfi,
}

const POINTS: [Point; 6] = [
    Point::InPoll,
    Point::BeforeMask,
    Point::MaskedBeforeCheck,
    Point::InCheck,
    Point::AfterCheck,
    Point::DuringWfi,
];

/// The model core: one per test thread.
#[derive(Default)]
struct Core {
    /// The interrupt scheduled next, if any: where it lands.
    scheduled: Cell<Option<Point>>,
    /// The waker the "interrupt handler" calls.
    waker: RefCell<Option<Waker>>,
    /// Interrupts masked (PRIMASK).
    masked: Cell<bool>,
    /// An interrupt is pending (arrived while masked).
    pending: Cell<bool>,
    /// The interrupt handler ran (the waker was called).
    fired: Cell<u32>,
    /// `WFI`s executed, and `wait_for_event` calls.
    wfis: Cell<u32>,
    waits: Cell<u32>,
    /// The model checks with interrupts enabled (the bug the real park avoids).
    check_unmasked: Cell<bool>,
}

thread_local! {
    static CORE: Core = Core::default();
}

/// The interrupt arrives: runs its handler now, or leaves it pending if masked.
fn interrupt(core: &Core) {
    core.scheduled.set(None);
    if core.masked.get() {
        core.pending.set(true);
    } else {
        handler(core);
    }
}

fn handler(core: &Core) {
    core.pending.set(false);
    core.fired.set(core.fired.get() + 1);
    let waker = core.waker.borrow().clone();
    if let Some(w) = waker {
        w.wake();
    }
}

/// Lands the scheduled interrupt if it is due at `point`.
fn at(core: &Core, point: Point) {
    if core.scheduled.get() == Some(point) {
        interrupt(core);
    }
}

fn unmask(core: &Core) {
    core.masked.set(false);
    if core.pending.get() {
        handler(core);
    }
}

/// A [`Park`] with `WfiPark`'s behaviour on the model core.
struct ModelPark;

impl Park for ModelPark {
    fn wait_for_event(&self, has_work: &dyn Fn() -> bool) {
        CORE.with(|core| {
            core.waits.set(core.waits.get() + 1);
            assert!(core.waits.get() < 1000, "the executor keeps waking without progress");
            at(core, Point::BeforeMask);
            let unmasked_check = core.check_unmasked.get();
            if !unmasked_check {
                core.masked.set(true);
            }
            at(core, Point::MaskedBeforeCheck);
            let work = has_work();
            if unmasked_check {
                // The bug: the interrupt runs between the check and the mask.
                at(core, Point::AfterCheck);
                core.masked.set(true);
            }
            if !work {
                if !unmasked_check {
                    at(core, Point::AfterCheck);
                }
                // WFI: returns at once on a pending interrupt (even masked), or
                // when the scheduled interrupt arrives; otherwise sleeps forever.
                core.wfis.set(core.wfis.get() + 1);
                if !core.pending.get() {
                    match core.scheduled.get() {
                        Some(Point::DuringWfi) => interrupt(core),
                        other => panic!(
                            "lost wake-up: WFI with nothing pending (next interrupt scheduled: {other:?}, handlers run: {})",
                            core.fired.get()
                        ),
                    }
                }
            }
            unmask(core);
        });
    }

    fn signal(&self) {
        // As WfiPark: the interrupt has woken the core already.
    }
}

/// A future that needs `wakes` wake-ups, each delivered by an interrupt at the
/// next point of `plan`.
struct NeedsWakes {
    plan: Vec<Point>,
    next: usize,
    woken: std::rc::Rc<Cell<u32>>,
}

impl Future for NeedsWakes {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        CORE.with(|core| {
            if self.next == self.plan.len() {
                return Poll::Ready(core.fired.get());
            }
            // Arm the next interrupt, with the current waker, then maybe take it now.
            *core.waker.borrow_mut() = Some(cx.waker().clone());
            let point = self.plan[self.next];
            self.next += 1;
            self.woken.set(self.woken.get() + 1);
            core.scheduled.set(Some(point));
            at(core, Point::InPoll);
            Poll::Pending
        })
    }
}

/// `has_work` is called inside `wait_for_event`; the `InCheck` point is modelled
/// by landing the interrupt when the executor reads its flag. The executor's
/// closure is opaque, so the model lands `InCheck` right before calling it, with
/// interrupts masked: the same pending-interrupt case.
fn land_in_check() {
    CORE.with(|core| at(core, Point::InCheck));
}

fn reset(check_unmasked: bool) {
    CORE.with(|core| {
        core.scheduled.set(None);
        *core.waker.borrow_mut() = None;
        core.masked.set(false);
        core.pending.set(false);
        core.fired.set(0);
        core.wfis.set(0);
        core.waits.set(0);
        core.check_unmasked.set(check_unmasked);
    });
}

/// A park that lands `InCheck` and then behaves as [`ModelPark`].
struct Model;

impl Park for Model {
    fn wait_for_event(&self, has_work: &dyn Fn() -> bool) {
        let check = || {
            land_in_check();
            has_work()
        };
        ModelPark.wait_for_event(&check);
    }
    fn signal(&self) {
        ModelPark.signal();
    }
}

/// A fresh executor for one test; its runner serves every plan in turn.
macro_rules! runner {
    () => {{
        static EXECUTOR: Executor<Model> = Executor::new(Model);
        EXECUTOR.claim().unwrap()
    }};
}

/// Every plan of `len` points.
fn plans(len: u32) -> Vec<Vec<Point>> {
    let mut all = vec![Vec::new()];
    for _ in 0..len {
        all = all
            .into_iter()
            .flat_map(|p| {
                POINTS.iter().map(move |&x| {
                    let mut q = p.clone();
                    q.push(x);
                    q
                })
            })
            .collect();
    }
    all
}

/// Three wake-ups in every order of landing points (fewer under Miri).
fn depth() -> u32 {
    if cfg!(miri) { 1 } else { 3 }
}

#[test]
fn main_future_woken_from_interrupts_at_every_point() {
    let mut runs = 0;
    let runner = runner!();
    for plan in plans(depth()) {
        reset(false);
        let woken = std::rc::Rc::new(Cell::new(0));
        let fired = runner.block_on(NeedsWakes {
            plan: plan.clone(),
            next: 0,
            woken: woken.clone(),
        });
        assert_eq!(
            fired as usize,
            plan.len(),
            "plan {plan:?}: every interrupt ran"
        );
        let wfis = CORE.with(|core| core.wfis.get());
        if plan.contains(&Point::DuringWfi) {
            assert!(wfis > 0, "plan {plan:?}: the core slept");
        }
        runs += 1;
    }
    eprintln!("main future: {runs} interrupt plans, no wake-up lost");
}

#[test]
fn spawned_task_woken_from_interrupts_at_every_point() {
    let mut runs = 0;
    let runner = runner!();
    for plan in plans(depth()) {
        reset(false);
        let done = std::rc::Rc::new(Cell::new(false));
        let done2 = done.clone();
        let plan2 = plan.clone();
        let main_waker: std::rc::Rc<RefCell<Option<Waker>>> = std::rc::Rc::default();
        let main_waker2 = main_waker.clone();
        let finished = done.clone();
        runner.run(|spawner| async move {
            let woken = std::rc::Rc::new(Cell::new(0));
            spawner.spawn_boxed(async move {
                NeedsWakes {
                    plan: plan2,
                    next: 0,
                    woken,
                }
                .await;
                done2.set(true);
                if let Some(w) = main_waker2.borrow_mut().take() {
                    w.wake();
                }
            });
            // The main future sleeps until the task, done, wakes it.
            std::future::poll_fn(|cx| {
                if done.get() {
                    Poll::Ready(())
                } else {
                    *main_waker.borrow_mut() = Some(cx.waker().clone());
                    Poll::Pending
                }
            })
            .await;
        });
        assert!(finished.get(), "plan {plan:?}: the task finished");
        runs += 1;
    }
    eprintln!("spawned task: {runs} interrupt plans, no wake-up lost");
}

#[test]
fn checking_with_interrupts_enabled_loses_a_wake_up() {
    // The model can fail: with the check unmasked, an interrupt between the check
    // and WFI is lost.
    reset(true);
    let runner = runner!();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runner.block_on(NeedsWakes {
            plan: vec![Point::AfterCheck],
            next: 0,
            woken: std::rc::Rc::new(Cell::new(0)),
        })
    }));
    let message = result
        .err()
        .and_then(|e| e.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(message.contains("lost wake-up"), "got {message:?}");
}
