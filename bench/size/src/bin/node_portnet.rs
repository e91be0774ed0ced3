//! The whole sensor node on portnet: `portnet_iot_sensor::app::run` (MQTT 5.0
//! client of portnet-mqtt, persistent session, QoS 1 telemetry, commands, LEDs,
//! reconnect with backoff) on portnet's smoltcp backend (IPv4, TCP) over the
//! stub Ethernet device, in one task of portnet-executor next to the stack's
//! runner, with the executor's timer as the clock; the SHT3x driver over the
//! stub I²C bus. The peer is `node_embassy`.
#![no_std]
#![no_main]

use core::net::Ipv4Addr;
use core::pin::pin;

use portnet::future::{Either, select};
use portnet_executor::{Executor, TaskPool, Timer, WfiPark, task_size};
use portnet_iot_sensor::app;
use portnet_iot_sensor::sensor::{DEFAULT_ADDRESS, Sht3x};
use portnet_size_skeletons::{
    BROKER, StubAlarm, StubConsole, StubDelay, StubDevice, StubI2c, StubLeds,
};
use portnet_smoltcp::{Cidr, Config, Sockets, Stack, StackResources, TcpPool};
use static_cell::{ConstStaticCell, StaticCell};

type NodeStack = Stack<'static, StubDevice, &'static Timer<StubAlarm, 8>>;

static EXECUTOR: Executor<WfiPark> = Executor::new(WfiPark::new());
static TIMER: Timer<StubAlarm, 8> = Timer::new(StubAlarm);
static RESOURCES: ConstStaticCell<StackResources<'static, 1>> =
    ConstStaticCell::new(StackResources::new());
static TCP: ConstStaticCell<TcpPool<1, 1024, 1024>> = ConstStaticCell::new(TcpPool::new());
static STACK: StaticCell<NodeStack> = StaticCell::new();
/// `app::NodeStorage` with one held message instead of two: the node holds
/// one command at a time, and rust-mqtt's peer holds none (its message is
/// borrowed from its receive buffer until the next poll).
type NodeStorage = portnet_mqtt::Storage<1024, 1024, 4, 4, 0, 1>;

static NODE: TaskPool<1, { task_size(&node) }> = TaskPool::new();

#[cortex_m_rt::exception]
fn SysTick() {
    TIMER.on_alarm();
}

/// The node and the stack's runner, in one task.
async fn node(stack: &'static NodeStack) {
    let mut storage = NodeStorage::new();
    let mut sensor = Sht3x::new(StubI2c, StubDelay, DEFAULT_ADDRESS);
    let config = app::Config::new("size", BROKER);
    let (mut leds, mut console) = (StubLeds, StubConsole);
    let running = pin!(app::run(
        stack,
        &TIMER,
        &mut sensor,
        &mut leds,
        &mut console,
        &mut storage,
        &config,
    ));
    match select(running, pin!(stack.run())).await {
        Either::Left(_) => cortex_m::peripheral::SCB::sys_reset(),
        Either::Right(never) => match never {},
    }
}

fn stack(sockets: Sockets<'static>) -> Option<&'static NodeStack> {
    let config = Config::ipv4_static(Cidr::new(Ipv4Addr::new(10, 0, 0, 2), 24), None);
    let stack = Stack::new(StubDevice, &TIMER, config, sockets).ok()?;
    Some(STACK.init(stack))
}

#[cortex_m_rt::entry]
fn main() -> ! {
    if let Ok(sockets) = RESOURCES.take().sockets().tcp(TCP.take())
        && let Some(stack) = stack(sockets)
        && let Some(runner) = EXECUTOR.claim()
    {
        runner.run(|spawner| async move {
            let _ = spawner.spawn(&NODE, node(stack));
            core::future::pending::<()>().await;
        });
    }
    loop {
        cortex_m::asm::wfi();
    }
}
