//! portnet-executor: two tasks spawned from static pools, each sleeping on the
//! executor's timer queue in a loop; the alarm is a stub compare register served
//! by the SysTick handler.
#![no_std]
#![no_main]

use portnet::Clock;
use portnet_executor::{Executor, TaskPool, Timer, WfiPark, task_size};
use portnet_size_skeletons::{StubAlarm, wire_write};

static EXECUTOR: Executor<WfiPark> = Executor::new(WfiPark::new());
static TIMER: Timer<StubAlarm, 2> = Timer::new(StubAlarm);
// Sized to the ticker's future, as embassy's `#[task]` sizes its pool.
static POOL_A: TaskPool<1, { task_size(&ticker) }> = TaskPool::new();
static POOL_B: TaskPool<1, { task_size(&ticker) }> = TaskPool::new();

async fn ticker(byte: u8, period: core::time::Duration) {
    loop {
        TIMER.sleep(period).await;
        wire_write(&[byte]);
    }
}

#[cortex_m_rt::exception]
fn SysTick() {
    TIMER.on_alarm();
}

#[cortex_m_rt::entry]
fn main() -> ! {
    if let Some(runner) = EXECUTOR.claim() {
        runner.run(|spawner| async move {
            let _ = spawner.spawn(&POOL_A, ticker(b'a', core::time::Duration::from_millis(10)));
            let _ = spawner.spawn(&POOL_B, ticker(b'b', core::time::Duration::from_millis(15)));
            core::future::pending::<()>().await;
        });
    }
    loop {
        cortex_m::asm::wfi();
    }
}
