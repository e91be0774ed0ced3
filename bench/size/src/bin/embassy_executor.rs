//! embassy-executor: two tasks spawned, each sleeping with `embassy_time::Timer`
//! in a loop; the time driver keeps embassy's integrated timer queue and a stub
//! compare register served by the SysTick handler.
#![no_std]
#![no_main]

use core::cell::RefCell;
use core::ptr::addr_of_mut;
use core::task::Waker;

use critical_section::Mutex;
use embassy_executor::Spawner;
use embassy_time::{Duration, Timer};
use embassy_time_queue_utils::Queue;
use portnet_size_skeletons::{now_micros, wire_write};

static mut COMPARE: u64 = 0;

fn set_alarm(at: u64) {
    // SAFETY: write of a static ("the compare register"); single core.
    unsafe { core::ptr::write_volatile(addr_of_mut!(COMPARE), at) };
}

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
                set_alarm(queue.next_expiration(now_micros()));
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
        set_alarm(next);
    });
}

#[embassy_executor::task(pool_size = 2)]
async fn ticker(byte: u8, period: Duration) {
    loop {
        Timer::after(period).await;
        wire_write(&[byte]);
    }
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    if let Ok(token) = ticker(b'a', Duration::from_millis(10)) {
        spawner.spawn(token);
    }
    if let Ok(token) = ticker(b'b', Duration::from_millis(15)) {
        spawner.spawn(token);
    }
}
