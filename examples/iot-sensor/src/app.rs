//! The node itself: sensor → telemetry at QoS 1, commands → LEDs, interval,
//! reboot; reconnects with backoff on a persistent MQTT session. Generic over
//! the portnet stack and clock, the `embedded-hal-async` bus and delay of the
//! sensor, the LEDs and the console.

use core::cell::{Cell, RefCell};
use core::fmt::Write as _;
use core::net::SocketAddr;
use core::pin::pin;
use core::time::Duration;

use embedded_hal_async::delay::DelayNs;
use embedded_hal_async::i2c::I2c;
use portnet::future::{Either, select};
use portnet::{Clock, TcpConnect};
use portnet_mqtt::codec::{QoS, ReasonCode, Subscription, Version};
use portnet_mqtt::{ConnectOptions, PublishOptions, Session, Storage};

use crate::backoff::Backoff;
use crate::command::{self, Command};
use crate::leds::Leds;
use crate::sensor::{Measurement, Sht3x};
use crate::{Console, Line};

/// The MQTT client's memory for one node: 1 KiB each way, 4 operations in
/// flight, 4 inbound QoS 2 messages, no topic aliases, 2 messages held.
/// [`run`] takes any `Storage`: a board short of RAM passes a smaller one
/// (the node's packets are under 256 bytes).
pub type NodeStorage = Storage<1024, 1024, 4, 4, 0, 2>;

/// How the node runs.
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    /// The device identifier: the MQTT client identifier and the topics'
    /// middle part (`portnet/<device_id>/telemetry`, `…/command`). At most 32
    /// bytes, no `/`, `+` or `#`.
    pub device_id: &'a str,
    /// The broker.
    pub broker: SocketAddr,
    /// The telemetry interval until a command changes it.
    pub interval: Duration,
    /// The shortest reconnect delay.
    pub backoff_min: Duration,
    /// The longest reconnect delay.
    pub backoff_max: Duration,
    /// The seed of the reconnect jitter.
    pub seed: u32,
    /// MQTT keep alive in seconds.
    pub keep_alive: u16,
    /// The MQTT 5.0 session expiry: how long the broker keeps the node's
    /// subscription and queued commands while it is away.
    pub session_expiry: u32,
}

impl<'a> Config<'a> {
    /// Defaults: telemetry every 2 s, reconnects after 250 ms to 8 s, keep alive
    /// 15 s, session kept an hour.
    pub const fn new(device_id: &'a str, broker: SocketAddr) -> Self {
        Self {
            device_id,
            broker,
            interval: Duration::from_secs(2),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(8),
            seed: 1,
            keep_alive: 15,
            session_expiry: 3600,
        }
    }
}

/// Why [`run`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// A `reboot` command: restart the node (the firmware resets the chip, the
    /// hosted binary runs [`run`] again).
    Reboot,
    /// The configuration cannot work (a device id that does not fit the topics).
    BadConfig,
}

/// The topics of `device_id`.
#[derive(Debug)]
pub struct Topics {
    /// `portnet/<device_id>/telemetry`.
    pub telemetry: Line<64>,
    /// `portnet/<device_id>/command`.
    pub command: Line<64>,
}

impl Topics {
    /// The topics, or `None` if `device_id` is empty, longer than 32 bytes or
    /// holds a topic wildcard or level separator.
    pub fn new(device_id: &str) -> Option<Self> {
        if device_id.is_empty() || device_id.len() > 32 || device_id.contains(['/', '+', '#', '\0'])
        {
            return None;
        }
        let mut telemetry = Line::new();
        let mut command = Line::new();
        write!(telemetry, "portnet/{device_id}/telemetry").ok()?;
        write!(command, "portnet/{device_id}/command").ok()?;
        Some(Self { telemetry, command })
    }
}

/// Formats one telemetry payload (JSON).
pub fn telemetry_json(
    out: &mut Line<256>,
    seq: u32,
    reading: Option<Measurement>,
    leds: u8,
    interval: Duration,
    uptime: Duration,
) -> core::fmt::Result {
    out.clear();
    write!(out, "{{\"seq\":{seq},")?;
    match reading {
        Some(m) => {
            let sign = if m.centi_celsius < 0 { "-" } else { "" };
            let t = m.centi_celsius.unsigned_abs();
            write!(
                out,
                "\"t\":{sign}{}.{:02},\"rh\":{}.{:02},",
                t / 100,
                t % 100,
                m.centi_percent / 100,
                m.centi_percent % 100
            )?;
        }
        None => out.write_str("\"t\":null,\"rh\":null,")?,
    }
    write!(
        out,
        "\"leds\":{leds},\"interval_ms\":{},\"uptime_s\":{}}}",
        interval.as_millis(),
        uptime.as_secs()
    )
}

/// Runs the node until a `reboot` command.
///
/// - Connects to `config.broker` (MQTT 5.0, persistent session, client id =
///   device id), subscribes to the command topic at QoS 1 whenever the broker
///   has no session for it, and on every connection failure waits a backoff
///   delay (exponential, bounded, jittered) and connects again.
/// - Every interval: measures through `sensor` and publishes a JSON payload at
///   QoS 1 on the telemetry topic, waiting for its PUBACK (while disconnected
///   the publish waits and is sent on the next connection).
/// - Commands: `interval <ms>`, `leds <mask>`, `reboot` (see [`crate::command`]);
///   a command is acknowledged once acted on.
/// - Reports every event as a line on `console`, starting with `iot-sensor: `.
///
/// # Cancel safety
///
/// Dropping the future drops the connection; the broker keeps the session.
#[allow(clippy::too_many_arguments)]
pub async fn run<
    S,
    C,
    I,
    D,
    L,
    W,
    const RX: usize,
    const TX: usize,
    const SLOTS: usize,
    const INBOUND: usize,
    const ALIASES: usize,
    const HOLD: usize,
>(
    stack: S,
    clock: C,
    sensor: &mut Sht3x<I, D>,
    leds: &mut L,
    console: &mut W,
    storage: &mut Storage<RX, TX, SLOTS, INBOUND, ALIASES, HOLD>,
    config: &Config<'_>,
) -> Exit
where
    S: TcpConnect,
    C: Clock,
    I: I2c,
    D: DelayNs,
    L: Leds,
    W: Console,
{
    let console = RefCell::new(console);
    let say = |args: core::fmt::Arguments<'_>| {
        let mut line = Line::<160>::new();
        // A line too long for the buffer is cut, never dropped.
        let _ = line.write_str("iot-sensor: ");
        let _ = line.write_fmt(args);
        if let Ok(mut console) = console.try_borrow_mut() {
            console.line(line.as_str());
        }
    };
    let Some(topics) = Topics::new(config.device_id) else {
        say(format_args!("bad device id {:?}", config.device_id));
        return Exit::BadConfig;
    };
    let started = clock.now();
    let options = ConnectOptions::new(config.broker, config.device_id)
        .version(Version::V5)
        .persistent(config.session_expiry)
        .keep_alive(config.keep_alive);
    let mut session = Session::new(storage);
    let (mut driver, client, mut rx) = session.split(stack, &clock);
    let stopping = Cell::new(false);

    say(format_args!(
        "node {} to broker {} (telemetry on {}, commands on {})",
        config.device_id,
        config.broker,
        topics.telemetry.as_str(),
        topics.command.as_str()
    ));

    let connection = async {
        let mut backoff = Backoff::new(config.backoff_min, config.backoff_max, config.seed);
        let mut connects: u32 = 0;
        loop {
            let result = {
                let mut running = pin!(driver.run(&options));
                match select(running.as_mut(), pin!(client.connected())).await {
                    Either::Left(result) => result,
                    // The attempt failed (refused, unreachable): `run` says why.
                    Either::Right(Err(_)) => running.await,
                    Either::Right(Ok(info)) => {
                        connects += 1;
                        backoff.reset();
                        say(format_args!(
                            "connected to {} (connection {connects}, session present: {})",
                            config.broker, info.session_present
                        ));
                        let subscribe = pin!(async {
                            if !info.session_present {
                                let filter =
                                    [Subscription::new(topics.command.as_str(), QoS::AtLeastOnce)];
                                match client.subscribe(&filter, &[]).await {
                                    Ok(_) => say(format_args!(
                                        "subscribed to {}",
                                        topics.command.as_str()
                                    )),
                                    Err(e) => say(format_args!("subscribe failed: {e}")),
                                }
                            }
                            core::future::pending::<core::convert::Infallible>().await
                        });
                        match select(running, subscribe).await {
                            Either::Left(result) => result,
                            Either::Right(never) => match never {},
                        }
                    }
                }
            };
            if stopping.get() {
                return Exit::Reboot;
            }
            let delay = backoff.next_delay();
            match result {
                Ok(()) => say(format_args!(
                    "disconnected; reconnecting in {} ms",
                    delay.as_millis()
                )),
                Err(e) => say(format_args!(
                    "disconnected ({e}); reconnecting in {} ms",
                    delay.as_millis()
                )),
            }
            clock.sleep(delay).await;
        }
    };

    let work = async {
        let mut interval = config.interval;
        let mut next = clock.now();
        let mut seq: u32 = 0;
        let mut shown = leds.show(0);
        say(format_args!("leds {shown:#04b}"));
        let mut payload = Line::<256>::new();
        loop {
            let event = {
                let recv = pin!(rx.recv());
                let tick = pin!(clock.sleep_until(next));
                match select(recv, tick).await {
                    Either::Left(message) => {
                        let parsed = command::parse(message.payload());
                        let mut text = Line::<64>::new();
                        let _ = text.write_str(
                            core::str::from_utf8(message.payload()).unwrap_or("(not UTF-8)"),
                        );
                        // Dropping the message acknowledges it (PUBACK).
                        drop(message);
                        Some((parsed, text))
                    }
                    Either::Right(()) => None,
                }
            };
            match event {
                Some((Ok(Command::Interval(new)), text)) => {
                    interval = new;
                    next = clock.now() + interval;
                    say(format_args!(
                        "command {:?}: interval {} ms",
                        text.as_str(),
                        interval.as_millis()
                    ));
                }
                Some((Ok(Command::Leds(mask)), text)) => {
                    shown = leds.show(mask);
                    say(format_args!(
                        "command {:?}: leds {shown:#04b}",
                        text.as_str()
                    ));
                }
                Some((Ok(Command::Reboot), text)) => {
                    say(format_args!("command {:?}: rebooting", text.as_str()));
                    stopping.set(true);
                    // The DISCONNECT follows the command's PUBACK: once the
                    // broker closes the connection it has both, so the command
                    // is not delivered again after the restart. Bounded, should
                    // the broker be away.
                    client.disconnect(ReasonCode::SUCCESS).await;
                    clock.sleep(Duration::from_secs(5)).await;
                    return Exit::Reboot;
                }
                Some((Err(e), text)) => {
                    say(format_args!("command {:?} refused: {e}", text.as_str()));
                }
                None => {
                    seq = seq.wrapping_add(1);
                    let reading = match sensor.measure().await {
                        Ok(m) => Some(m),
                        Err(e) => {
                            say(format_args!("sensor: {e}"));
                            None
                        }
                    };
                    let uptime = clock.now().saturating_duration_since(started);
                    if telemetry_json(&mut payload, seq, reading, shown, interval, uptime).is_err()
                    {
                        say(format_args!("telemetry {seq} does not fit its buffer"));
                    }
                    let published = client
                        .publish(
                            topics.telemetry.as_str(),
                            payload.as_bytes(),
                            PublishOptions::qos(QoS::AtLeastOnce),
                        )
                        .await;
                    match published {
                        Ok(_) => say(format_args!("telemetry {}", payload.as_str())),
                        Err(e) => say(format_args!("telemetry {seq} not published: {e}")),
                    }
                    let now = clock.now();
                    next = next + interval;
                    if next < now {
                        next = now + interval;
                    }
                }
            }
        }
    };

    match select(pin!(connection), pin!(work)).await {
        Either::Left(exit) | Either::Right(exit) => exit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_refuse_ids_that_break_them() {
        let topics = Topics::new("board-1").unwrap();
        assert_eq!(topics.telemetry.as_str(), "portnet/board-1/telemetry");
        assert_eq!(topics.command.as_str(), "portnet/board-1/command");
        for bad in ["", "a/b", "a+", "#", &"x".repeat(33)] {
            assert!(Topics::new(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn telemetry_is_json() {
        let mut out = Line::new();
        let m = Measurement {
            centi_celsius: -105,
            centi_percent: 4_507,
        };
        telemetry_json(
            &mut out,
            3,
            Some(m),
            2,
            Duration::from_millis(500),
            Duration::from_secs(9),
        )
        .unwrap();
        assert_eq!(
            out.as_str(),
            r#"{"seq":3,"t":-1.05,"rh":45.07,"leds":2,"interval_ms":500,"uptime_s":9}"#
        );
        telemetry_json(&mut out, 4, None, 0, Duration::from_secs(1), Duration::ZERO).unwrap();
        assert_eq!(
            out.as_str(),
            r#"{"seq":4,"t":null,"rh":null,"leds":0,"interval_ms":1000,"uptime_s":0}"#
        );
    }
}
