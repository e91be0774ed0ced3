//! The stub clock as an embassy-time driver with embassy's integrated timer
//! queue and a stub compare register served by the SysTick handler (as a
//! firmware's driver keeps its queue and arms a hardware alarm).

use core::cell::RefCell;
use core::task::Waker;

use critical_section::Mutex;
use embassy_time_queue_utils::Queue;
use portnet_size_skeletons::{now_micros, set_compare};

struct StubDriver {
    queue: Mutex<RefCell<Queue>>,
}

impl embassy_time_driver::Driver for StubDriver {
    fn now(&self) -> u64 {
        now_micros()
    }
    fn schedule_wake(&self, at: u64, waker: &Waker) {
        critical_section::with(|cs| {
            let mut queue = self.queue.borrow(cs).borrow_mut();
            if queue.schedule_wake(at, waker) {
                set_compare(queue.next_expiration(now_micros()));
            }
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: StubDriver = StubDriver {
    queue: Mutex::new(RefCell::new(Queue::new())),
});

#[cortex_m_rt::exception]
fn SysTick() {
    critical_section::with(|cs| {
        let next = DRIVER
            .queue
            .borrow(cs)
            .borrow_mut()
            .next_expiration(now_micros());
        set_compare(next);
    });
}
