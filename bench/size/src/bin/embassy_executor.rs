//! embassy-executor: two tasks spawned, each sleeping with `embassy_time::Timer`
//! in a loop; the time driver keeps embassy's integrated timer queue and a stub
//! compare register served by the SysTick handler.
#![no_std]
#![no_main]

#[path = "../queue_time_driver.rs"]
mod queue_time_driver;

use embassy_executor::Spawner;
use embassy_time::{Duration, Timer};
use portnet_size_skeletons::wire_write;

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
