//! The stub clock as an embassy-time driver for a client run by `block_on`: like
//! the portnet clock stub, a pending timer is polled again at once (no queue).

use core::task::Waker;

struct BusyDriver;

impl embassy_time_driver::Driver for BusyDriver {
    fn now(&self) -> u64 {
        portnet_size_skeletons::now_micros()
    }
    fn schedule_wake(&self, _at: u64, waker: &Waker) {
        waker.wake_by_ref();
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: BusyDriver = BusyDriver);
