//! Wakers the suite can watch: how often a stack woke them, and whether it woke
//! the latest one. Built on a fixed table of slots, so they need no allocator.

use core::cell::RefCell;
use core::task::{RawWaker, RawWakerVTable, Waker};

use critical_section::Mutex;

const SLOTS: usize = 16;
const GENERATION_BITS: u32 = 24;
const GENERATION_MASK: usize = (1 << GENERATION_BITS) - 1;

#[derive(Debug)]
struct Slot {
    in_use: bool,
    generation: usize,
    wakes: u32,
    forward: Option<Waker>,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Slot = Slot {
    in_use: false,
    generation: 0,
    wakes: 0,
    forward: None,
};

static TABLE: Mutex<RefCell<[Slot; SLOTS]>> = Mutex::new(RefCell::new([FREE; SLOTS]));

/// A waker whose wakes are counted, and optionally passed on to another waker.
///
/// A stack may keep a clone of the waker after the probe is dropped; waking it
/// then does nothing (each use of a slot has its own generation).
#[derive(Debug)]
pub struct WakeProbe {
    token: usize,
}

impl WakeProbe {
    /// Takes a free slot; `None` when all are in use.
    pub fn new() -> Option<Self> {
        critical_section::with(|cs| {
            let mut table = TABLE.borrow_ref_mut(cs);
            let (index, slot) = table
                .iter_mut()
                .enumerate()
                .find(|(_, slot)| !slot.in_use)?;
            slot.in_use = true;
            slot.generation = (slot.generation + 1) & GENERATION_MASK;
            slot.wakes = 0;
            slot.forward = None;
            Some(Self {
                token: (index << GENERATION_BITS) | slot.generation,
            })
        })
    }

    /// A waker that counts into this probe.
    pub fn waker(&self) -> Waker {
        let raw = RawWaker::new(core::ptr::without_provenance(self.token), &VTABLE);
        // SAFETY: the vtable's functions never dereference the data pointer: it is a
        // plain number (slot index and generation) that they look up in `TABLE`
        // under a critical section. They are thread-safe for the same reason, and
        // `clone` returns a `RawWaker` with the same data and vtable.
        #[allow(unsafe_code)]
        unsafe {
            Waker::from_raw(raw)
        }
    }

    /// How many times a waker of this probe was woken since it was made or reset.
    pub fn wakes(&self) -> u32 {
        with_slot(self.token, |slot| slot.wakes).unwrap_or(0)
    }

    /// Sets the count back to zero.
    pub fn reset(&self) {
        with_slot(self.token, |slot| slot.wakes = 0);
    }

    /// Passes every later wake on to `waker` (`None`: to no one).
    pub fn forward_to(&self, waker: Option<&Waker>) {
        with_slot(self.token, |slot| slot.forward = waker.cloned());
    }
}

impl Drop for WakeProbe {
    fn drop(&mut self) {
        let forward = with_slot(self.token, |slot| {
            slot.in_use = false;
            slot.forward.take()
        });
        drop(forward);
    }
}

fn with_slot<R>(token: usize, f: impl FnOnce(&mut Slot) -> R) -> Option<R> {
    let index = token >> GENERATION_BITS;
    let generation = token & GENERATION_MASK;
    critical_section::with(|cs| {
        let mut table = TABLE.borrow_ref_mut(cs);
        let slot = table.get_mut(index)?;
        (slot.in_use && slot.generation == generation).then(|| f(slot))
    })
}

fn wake(token: usize) {
    let forward = with_slot(token, |slot| {
        slot.wakes = slot.wakes.saturating_add(1);
        slot.forward.clone()
    });
    // Woken outside the critical section: the forwarded waker may take locks.
    if let Some(Some(waker)) = forward {
        waker.wake();
    }
}

fn vt_clone(data: *const ()) -> RawWaker {
    RawWaker::new(data, &VTABLE)
}

fn vt_wake(data: *const ()) {
    wake(data.addr());
}

fn vt_drop(_: *const ()) {}

static VTABLE: RawWakerVTable = RawWakerVTable::new(vt_clone, vt_wake, vt_wake, vt_drop);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_wakes_and_forwards() {
        let probe = WakeProbe::new().unwrap();
        let target = WakeProbe::new().unwrap();
        let waker = probe.waker();
        waker.wake_by_ref();
        assert_eq!(probe.wakes(), 1);
        probe.forward_to(Some(&target.waker()));
        waker.wake_by_ref();
        assert_eq!(probe.wakes(), 2);
        assert_eq!(target.wakes(), 1);
        probe.reset();
        assert_eq!(probe.wakes(), 0);
    }

    #[test]
    fn stale_waker_is_harmless() {
        let probe = WakeProbe::new().unwrap();
        let waker = probe.waker();
        drop(probe);
        let next = WakeProbe::new().unwrap();
        waker.wake();
        assert_eq!(
            next.wakes(),
            0,
            "a stale waker must not count for a new probe"
        );
    }
}
