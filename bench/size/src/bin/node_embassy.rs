//! The sensor node's logic of `portnet_iot_sensor::app::run` written for
//! embassy: embassy-net (IPv4, TCP) over the stub Ethernet device, rust-mqtt
//! (MQTT 5.0, persistent session, QoS 1 telemetry awaiting its PUBACK,
//! commands, keep-alive pings), embassy-time with its integrated timer queue,
//! two embassy-executor tasks (the stack's runner, the node). The application
//! parts that are not the stack, the MQTT client or the executor are the same
//! code as portnet's node: topics, the JSON payload, command parsing, backoff,
//! the SHT3x driver, the console lines. The peer of `node_portnet`.
#![no_std]
#![no_main]

#[path = "../queue_time_driver.rs"]
mod queue_time_driver;

use core::cell::RefCell;
use core::fmt::{Debug, Write as _};
use core::net::{Ipv4Addr, SocketAddr};
use core::num::NonZero;
use core::pin::pin;

use embassy_executor::Spawner;
use embassy_net::tcp::TcpSocket;
use embassy_net::{Ipv4Cidr, StackResources, StaticConfigV4};
use embassy_time::{Duration, Instant, Timer};
use portnet::future::{Either, select};
use portnet_iot_sensor::app::{self, Exit, Topics, telemetry_json};
use portnet_iot_sensor::backoff::Backoff;
use portnet_iot_sensor::command::{self, Command};
use portnet_iot_sensor::leds::Leds as _;
use portnet_iot_sensor::sensor::{DEFAULT_ADDRESS, Sht3x};
use portnet_iot_sensor::{Console as _, Line};
use portnet_size_skeletons::{BROKER, StubConsole, StubDelay, StubDevice, StubI2c, StubLeds};
use rust_mqtt::Bytes;
use rust_mqtt::buffer::BumpBuffer;
use rust_mqtt::client::Client;
use rust_mqtt::client::event::Event;
use rust_mqtt::client::options::{
    ConnectOptions, DisconnectOptions, PublicationOptions, SubscriptionOptions, TopicReference,
};
use rust_mqtt::config::{KeepAlive, SessionExpiryInterval};
use rust_mqtt::session::Session;
use rust_mqtt::types::{MqttString, TopicFilter, TopicName};
use static_cell::StaticCell;

/// rust-mqtt's session: 1 subscription, 4 publishes in flight each way, no
/// topic aliases (portnet's `NodeStorage` holds 4 operations, 4 inbound).
type NodeSession = Session<1, 4, 4, 0, 0>;

static RESOURCES: StaticCell<StackResources<1>> = StaticCell::new();

fn micros(d: core::time::Duration) -> Duration {
    Duration::from_micros(d.as_micros() as u64)
}

/// An error's text for the console.
fn why(e: impl Debug) -> Line<64> {
    let mut line = Line::new();
    let _ = write!(line, "{e:?}");
    line
}

/// What the node keeps across connections.
struct Node<'a> {
    config: app::Config<'a>,
    console: RefCell<StubConsole>,
    sensor: Sht3x<StubI2c, StubDelay>,
    leds: StubLeds,
    shown: u8,
    interval: core::time::Duration,
    next: Instant,
    seq: u32,
    started: Instant,
    payload: Line<256>,
}

impl Node<'_> {
    fn say(&self, args: core::fmt::Arguments<'_>) {
        let mut line = Line::<160>::new();
        // A line too long for the buffer is cut, never dropped.
        let _ = line.write_str("iot-sensor: ");
        let _ = line.write_fmt(args);
        if let Ok(mut console) = self.console.try_borrow_mut() {
            console.line(line.as_str());
        }
    }

    /// One connection: TCP, CONNECT, SUBSCRIBE if the broker has no session,
    /// then telemetry, commands and pings until an error or a reboot.
    async fn connection(
        &mut self,
        stack: embassy_net::Stack<'static>,
        topics: &Topics,
        session: &mut NodeSession,
        connects: &mut u32,
        backoff: &mut Backoff,
    ) -> Result<Exit, Line<64>> {
        let (mut rx, mut tx) = ([0u8; 1024], [0u8; 1024]);
        let mut socket = TcpSocket::new(stack, &mut rx, &mut tx);
        // The stack is IPv4 only, as portnet's node stack is.
        let SocketAddr::V4(broker) = self.config.broker else {
            return Ok(Exit::BadConfig);
        };
        socket.connect(broker).await.map_err(why)?;
        let mut memory = [0u8; 1024];
        let mut buffer = BumpBuffer::new(&mut memory);
        let mut client =
            Client::<'_, '_, _, _, 1, 4, 4, 1, 0, 0, 0>::with_session(session.clone(), &mut buffer);
        let keep_alive = NonZero::new(self.config.keep_alive).unwrap_or(NonZero::<u16>::MIN);
        let expiry = NonZero::new(self.config.session_expiry).unwrap_or(NonZero::<u32>::MIN);
        let options = ConnectOptions::new()
            .keep_alive(KeepAlive::Seconds(keep_alive))
            .session_expiry_interval(SessionExpiryInterval::Seconds(expiry));
        let id = MqttString::try_from(self.config.device_id).map_err(why)?;
        let info = client
            .connect(&mut socket, &options, Some(id))
            .await
            .map_err(why)?;
        *connects += 1;
        backoff.reset();
        self.say(format_args!(
            "connected to {} (connection {connects}, session present: {})",
            self.config.broker, info.session_present
        ));
        let session_present = info.session_present;
        drop(info);
        let (Ok(command_topic), Ok(telemetry_topic)) = (
            MqttString::try_from(topics.command.as_str()),
            MqttString::try_from(topics.telemetry.as_str()),
        ) else {
            return Ok(Exit::BadConfig);
        };
        let (Some(filter), Some(name)) = (
            TopicFilter::new(command_topic),
            TopicName::new(telemetry_topic),
        ) else {
            return Ok(Exit::BadConfig);
        };
        if !session_present {
            client
                .subscribe(filter, &SubscriptionOptions::new().at_least_once())
                .await
                .map_err(why)?;
        }
        let ping_every = Duration::from_secs(u64::from(keep_alive.get()) / 2 + 1);
        let mut ping_at = Instant::now() + ping_every;
        let outcome = loop {
            let (tick, ping) = (pin!(Timer::at(self.next)), pin!(Timer::at(ping_at)));
            let wake = match select(pin!(client.poll()), select(tick, ping)).await {
                Either::Left(Ok(event)) => self.event(topics, event),
                Either::Left(Err(e)) => break Err(why(e)),
                Either::Right(Either::Left(())) => Wake::Tick,
                Either::Right(Either::Right(())) => Wake::Ping,
            };
            // SAFETY: the event that borrowed the buffer has been dropped
            // (`Node::event` takes it by value and returns nothing of it).
            unsafe { client.buffer_mut().reset() };
            match wake {
                Wake::Nothing => {}
                Wake::Reboot => {
                    let _ = client.disconnect(&DisconnectOptions::new()).await;
                    Timer::after_secs(5).await;
                    break Ok(Exit::Reboot);
                }
                Wake::Ping => {
                    if let Err(e) = client.ping().await {
                        break Err(why(e));
                    }
                    ping_at = Instant::now() + ping_every;
                }
                Wake::Tick => {
                    self.measure().await;
                    let options =
                        PublicationOptions::new(TopicReference::Name(name.clone())).at_least_once();
                    let published = client
                        .publish(&options, Bytes::from(self.payload.as_bytes()))
                        .await;
                    if let Err(e) = published {
                        self.say(format_args!("telemetry {} not published: {e:?}", self.seq));
                    }
                    ping_at = Instant::now() + ping_every;
                    let now = Instant::now();
                    self.next += micros(self.interval);
                    if self.next < now {
                        self.next = now + micros(self.interval);
                    }
                }
            }
        };
        *session = client.session().clone();
        outcome
    }

    /// Acts on one MQTT event; a command is acknowledged (PUBACK) by the client.
    fn event<const S: usize, const P: usize>(
        &mut self,
        topics: &Topics,
        event: Event<'_, S, P>,
    ) -> Wake {
        match event {
            Event::Publish(message) => {
                let payload = message.message.as_ref();
                let parsed = command::parse(payload);
                let mut text = Line::<64>::new();
                let _ = text.write_str(core::str::from_utf8(payload).unwrap_or("(not UTF-8)"));
                match parsed {
                    Ok(Command::Interval(new)) => {
                        self.interval = new;
                        self.next = Instant::now() + micros(new);
                        self.say(format_args!(
                            "command {:?}: interval {} ms",
                            text.as_str(),
                            new.as_millis()
                        ));
                    }
                    Ok(Command::Leds(mask)) => {
                        self.shown = self.leds.show(mask);
                        self.say(format_args!(
                            "command {:?}: leds {:#04b}",
                            text.as_str(),
                            self.shown
                        ));
                    }
                    Ok(Command::Reboot) => {
                        self.say(format_args!("command {:?}: rebooting", text.as_str()));
                        return Wake::Reboot;
                    }
                    Err(e) => self.say(format_args!("command {:?} refused: {e}", text.as_str())),
                }
            }
            Event::Suback(_) => self.say(format_args!("subscribed to {}", topics.command.as_str())),
            Event::PublishAcknowledged(_) => {
                self.say(format_args!("telemetry {}", self.payload.as_str()));
            }
            Event::PublishRejected(_) => {
                self.say(format_args!("telemetry {} not published", self.seq));
            }
            _ => {}
        }
        Wake::Nothing
    }

    /// Measures and formats the next telemetry payload.
    async fn measure(&mut self) {
        self.seq = self.seq.wrapping_add(1);
        let reading = match self.sensor.measure().await {
            Ok(m) => Some(m),
            Err(e) => {
                self.say(format_args!("sensor: {e}"));
                None
            }
        };
        let uptime = core::time::Duration::from_micros(self.started.elapsed().as_micros());
        if telemetry_json(
            &mut self.payload,
            self.seq,
            reading,
            self.shown,
            self.interval,
            uptime,
        )
        .is_err()
        {
            self.say(format_args!(
                "telemetry {} does not fit its buffer",
                self.seq
            ));
        }
    }
}

/// What the node does after a wake.
enum Wake {
    Nothing,
    Tick,
    Ping,
    Reboot,
}

/// Runs the node until a `reboot` command, reconnecting with backoff.
async fn run(stack: embassy_net::Stack<'static>, config: app::Config<'static>) -> Exit {
    let Some(topics) = Topics::new(config.device_id) else {
        return Exit::BadConfig;
    };
    let mut node = Node {
        config,
        console: RefCell::new(StubConsole),
        sensor: Sht3x::new(StubI2c, StubDelay, DEFAULT_ADDRESS),
        leds: StubLeds,
        shown: 0,
        interval: config.interval,
        next: Instant::now(),
        seq: 0,
        started: Instant::now(),
        payload: Line::new(),
    };
    node.shown = node.leds.show(0);
    node.say(format_args!("leds {:#04b}", node.shown));
    node.say(format_args!(
        "node {} to broker {} (telemetry on {}, commands on {})",
        config.device_id,
        config.broker,
        topics.telemetry.as_str(),
        topics.command.as_str()
    ));
    let mut session = NodeSession::default();
    let mut backoff = Backoff::new(config.backoff_min, config.backoff_max, config.seed);
    let mut connects = 0;
    loop {
        let result = node
            .connection(stack, &topics, &mut session, &mut connects, &mut backoff)
            .await;
        let delay = backoff.next_delay();
        match result {
            Ok(exit) => return exit,
            Err(e) => node.say(format_args!(
                "disconnected ({}); reconnecting in {} ms",
                e.as_str(),
                delay.as_millis()
            )),
        }
        Timer::after(micros(delay)).await;
    }
}

#[embassy_executor::task]
async fn net(mut runner: embassy_net::Runner<'static, StubDevice>) -> ! {
    runner.run().await
}

#[embassy_executor::task]
async fn node(stack: embassy_net::Stack<'static>) {
    run(stack, app::Config::new("size", BROKER)).await;
    cortex_m::peripheral::SCB::sys_reset();
}

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let config = embassy_net::Config::ipv4_static(StaticConfigV4 {
        address: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 2), 24),
        gateway: None,
        dns_servers: Default::default(),
    });
    let resources = RESOURCES.init(StackResources::new());
    let (stack, runner) = embassy_net::new(StubDevice, config, resources, 1);
    if let Ok(token) = net(runner) {
        spawner.spawn(token);
    }
    if let Ok(token) = node(stack) {
        spawner.spawn(token);
    }
}
