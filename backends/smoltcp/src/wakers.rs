//! A bounded set of wakers: several tasks waiting for one event (a free socket,
//! the address), without allocation.
//!
//! One `Option<Waker>` shared by all waiters keeps only the last one
//! registered, and the others sleep forever (issue 21). The set keeps up to `N`
//! distinct wakers; registering into a full set wakes every stored one first,
//! so a waiter is always either in the set or already woken. More than `N`
//! tasks waiting at once costs them re-polls, never a lost wake-up.

use core::task::Waker;

pub(crate) struct WakerSet<const N: usize> {
    wakers: [Option<Waker>; N],
}

impl<const N: usize> WakerSet<N> {
    pub(crate) const fn new() -> Self {
        Self {
            wakers: [const { None }; N],
        }
    }

    /// Keeps `waker` until the next [`WakerSet::wake_all`].
    pub(crate) fn register(&mut self, waker: &Waker) {
        // A task that polls again while waiting must not take a second place.
        if self.wakers.iter().flatten().any(|w| w.will_wake(waker)) {
            return;
        }
        if let Some(free) = self.wakers.iter_mut().find(|w| w.is_none()) {
            *free = Some(waker.clone());
            return;
        }
        // Full: evicting one waiter silently would lose its wake-up. Waking all
        // lets each poll again and register afresh.
        self.wake_all();
        if let Some(first) = self.wakers.first_mut() {
            *first = Some(waker.clone());
        } else {
            // No room at all (N = 0): the waiter polls again at once.
            waker.wake_by_ref();
        }
    }

    /// Wakes and forgets every waiter.
    pub(crate) fn wake_all(&mut self) {
        for slot in &mut self.wakers {
            if let Some(waker) = slot.take() {
                waker.wake();
            }
        }
    }
}

/// An exhaustive interleaving test of the set, as the executor has for its
/// interrupt wake-ups: every sequence of task polls, waker changes and wake
/// events, checked against the invariant that no waiting task is forgotten.
#[cfg(test)]
mod tests {
    extern crate alloc;
    extern crate std;

    use super::WakerSet;
    use alloc::sync::Arc;
    use alloc::task::Wake;
    use alloc::vec::Vec;
    use core::sync::atomic::{AtomicBool, Ordering};
    use core::task::Waker;

    /// A task's waker: a flag per waker identity.
    struct Flag(AtomicBool);

    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Relaxed);
        }
    }

    /// What the stack does with its waiters.
    trait Registry {
        fn register(&mut self, waker: &Waker);
        fn wake_all(&mut self);
    }

    impl<const N: usize> Registry for WakerSet<N> {
        fn register(&mut self, waker: &Waker) {
            WakerSet::register(self, waker);
        }
        fn wake_all(&mut self) {
            WakerSet::wake_all(self);
        }
    }

    /// The negative control: the single slot the stack had before (the last
    /// registration wins).
    struct OneSlot(Option<Waker>);

    impl Registry for OneSlot {
        fn register(&mut self, waker: &Waker) {
            self.0 = Some(waker.clone());
        }
        fn wake_all(&mut self) {
            if let Some(w) = self.0.take() {
                w.wake();
            }
        }
    }

    /// A second negative control: a bounded set that drops the newest waiter
    /// when full, which is also a lost wake-up.
    struct DropWhenFull<const N: usize>(WakerSet<N>);

    impl<const N: usize> Registry for DropWhenFull<N> {
        fn register(&mut self, waker: &Waker) {
            if self.0.wakers.iter().any(Option::is_none)
                || self.0.wakers.iter().flatten().any(|w| w.will_wake(waker))
            {
                self.0.register(waker);
            }
        }
        fn wake_all(&mut self) {
            self.0.wake_all();
        }
    }

    #[derive(Debug, Clone, Copy)]
    enum Step {
        /// The task is polled (woken, or spuriously): the event has not
        /// happened for it, so it registers its current waker and waits.
        Poll(usize),
        /// The task's executor gives it a new waker (it moved); it registers
        /// that one at its next poll.
        NewWaker(usize),
        /// The event (a socket frees, the address arrives): every waiter wakes.
        Event,
    }

    struct Task {
        flag: Arc<Flag>,
        waker: Waker,
        /// Registered and not woken since.
        waiting: bool,
    }

    impl Task {
        fn new() -> Self {
            let flag = Arc::new(Flag(AtomicBool::new(false)));
            Self {
                waker: Waker::from(flag.clone()),
                flag,
                waiting: false,
            }
        }
    }

    /// Runs `plan` on a fresh registry; the first waiting task left asleep by
    /// an event, if any.
    fn run(registry: &mut dyn Registry, tasks: usize, plan: &[Step]) -> Result<(), usize> {
        let mut tasks: Vec<Task> = (0..tasks).map(|_| Task::new()).collect();
        for step in plan {
            match *step {
                Step::Poll(t) => {
                    registry.register(&tasks[t].waker);
                    tasks[t].waiting = true;
                }
                Step::NewWaker(t) => {
                    // A waiting task keeps its old registration until it is
                    // polled again; the old waker still reaches it.
                    if !tasks[t].waiting {
                        tasks[t] = Task::new();
                    }
                }
                Step::Event => {
                    registry.wake_all();
                    for (index, task) in tasks.iter_mut().enumerate() {
                        if task.waiting && !task.flag.0.swap(false, Ordering::Relaxed) {
                            return Err(index);
                        }
                        task.waiting = false;
                    }
                }
            }
            // A wake from a full set's overflow means the task polls again:
            // it is no longer waiting on its registration.
            for task in &mut tasks {
                if task.flag.0.swap(false, Ordering::Relaxed) {
                    task.waiting = false;
                }
            }
        }
        // Whatever still waits is reached by the next event.
        registry.wake_all();
        match tasks
            .iter()
            .position(|t| t.waiting && !t.flag.0.load(Ordering::Relaxed))
        {
            Some(index) => Err(index),
            None => Ok(()),
        }
    }

    /// Every plan of `len` steps over `tasks` tasks: how many ran, and the
    /// first that lost a wake-up.
    fn exhaust(
        make: &dyn Fn() -> alloc::boxed::Box<dyn Registry>,
        tasks: usize,
        len: usize,
    ) -> (u64, Option<Vec<Step>>) {
        let alphabet: Vec<Step> = (0..tasks)
            .map(Step::Poll)
            .chain((0..tasks).map(Step::NewWaker))
            .chain([Step::Event])
            .collect();
        let mut plans = 0;
        let mut digits = alloc::vec![0usize; len];
        loop {
            let plan: Vec<Step> = digits.iter().map(|&d| alphabet[d]).collect();
            plans += 1;
            if run(&mut *make(), tasks, &plan).is_err() {
                return (plans, Some(plan));
            }
            // Next plan: count in base `alphabet.len()`; bounded by its length.
            let mut at = 0;
            loop {
                if at == len {
                    return (plans, None);
                }
                digits[at] += 1;
                if digits[at] < alphabet.len() {
                    break;
                }
                digits[at] = 0;
                at += 1;
            }
        }
    }

    #[test]
    fn no_waiter_is_lost_in_any_interleaving_even_past_capacity() {
        // Capacity 1 and 2 with one task more than fits (overflow), and the
        // stack's own capacities with more tasks than slots.
        let one = exhaust(&|| alloc::boxed::Box::new(WakerSet::<1>::new()), 2, 7);
        let two = exhaust(&|| alloc::boxed::Box::new(WakerSet::<2>::new()), 3, 7);
        let four = exhaust(&|| alloc::boxed::Box::new(WakerSet::<4>::new()), 5, 5);
        for (plans, lost) in [&one, &two, &four] {
            assert!(
                lost.is_none(),
                "lost a wake-up after {plans} plans: {lost:?}"
            );
        }
        // 5^7, 7^7 and 11^5 plans.
        assert_eq!((one.0, two.0, four.0), (78_125, 823_543, 161_051));
    }

    #[test]
    fn the_check_catches_a_lost_wake_up() {
        let (_, lost) = exhaust(&|| alloc::boxed::Box::new(OneSlot(None)), 2, 3);
        let plan = lost.expect("one slot loses the first of two waiters");
        std::eprintln!("one slot: lost by {plan:?}");
        let (_, lost) = exhaust(
            &|| alloc::boxed::Box::new(DropWhenFull(WakerSet::<2>::new())),
            3,
            4,
        );
        let plan = lost.expect("a set that drops a waiter when full loses it");
        std::eprintln!("drop when full: lost by {plan:?}");
    }
}
