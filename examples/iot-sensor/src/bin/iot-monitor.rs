//! The other end of the demo, with portnet's own MQTT client on tokio: prints
//! the telemetry of a node as a subscriber sees it, and publishes each line of
//! standard input as a command to the node (QoS 1).
//!
//! ```text
//! iot-monitor --broker 127.0.0.1:1883 --id board-1
//! ```
//!
//! Output lines start with `monitor: ` (`connected`, `telemetry <payload>`,
//! `sent <command>`, `disconnected …`); it reconnects with backoff, so it
//! follows the node across broker restarts.
#![allow(clippy::std_instead_of_core)]

use std::io::Write as _;
use std::net::SocketAddr;
use std::pin::pin;
use std::process::ExitCode;
use std::time::Duration;

use portnet::Clock as _;
use portnet::future::{Either, select};
use portnet_iot_sensor::app::{NodeStorage, Topics};
use portnet_iot_sensor::backoff::Backoff;
use portnet_mqtt::codec::{QoS, Subscription, Version};
use portnet_mqtt::{ConnectOptions, PublishOptions, Session};
use portnet_tokio::Tokio;
use tokio::io::AsyncBufReadExt as _;

fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "monitor: {line}");
    let _ = out.flush();
}

fn parse_args() -> Result<(SocketAddr, String), String> {
    let mut broker = None;
    let mut id = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--broker" => {
                broker = Some(
                    value
                        .parse()
                        .map_err(|e| format!("--broker {value}: {e}"))?,
                )
            }
            "--id" => id = Some(value),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok((
        broker.ok_or("--broker HOST:PORT is required")?,
        id.ok_or("--id DEVICE is required")?,
    ))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let (broker, id) = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("iot-monitor: {e}\nusage: iot-monitor --broker HOST:PORT --id DEVICE");
            return ExitCode::from(2);
        }
    };
    let Some(topics) = Topics::new(&id) else {
        eprintln!("iot-monitor: bad device id {id:?}");
        return ExitCode::from(2);
    };
    let stack = Tokio::new();
    let client_id = format!("monitor-{id}");
    let options = ConnectOptions::new(broker, &client_id)
        .version(Version::V5)
        .persistent(3600)
        .keep_alive(15);
    let mut storage = Box::new(NodeStorage::new());
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(stack, stack);

    let connection = async {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(2), 99);
        loop {
            let result = {
                let mut running = pin!(driver.run(&options));
                match select(running.as_mut(), pin!(client.connected())).await {
                    Either::Left(result) => result,
                    // The attempt failed (refused, unreachable): `run` says why.
                    Either::Right(Err(_)) => running.await,
                    Either::Right(Ok(info)) => {
                        backoff.reset();
                        let subscribe = pin!(async {
                            if !info.session_present {
                                let filter = [Subscription::new(
                                    topics.telemetry.as_str(),
                                    QoS::AtLeastOnce,
                                )];
                                if let Err(e) = client.subscribe(&filter, &[]).await {
                                    say(&format!("subscribe failed: {e}"));
                                }
                            }
                            say(&format!(
                                "connected to {broker}, watching {}",
                                topics.telemetry.as_str()
                            ));
                            std::future::pending::<core::convert::Infallible>().await
                        });
                        match select(running, subscribe).await {
                            Either::Left(result) => result,
                            Either::Right(never) => match never {},
                        }
                    }
                }
            };
            let delay = backoff.next_delay();
            match result {
                Ok(()) => say("disconnected"),
                Err(e) => say(&format!(
                    "disconnected ({e}); reconnecting in {} ms",
                    delay.as_millis()
                )),
            }
            stack.sleep(delay).await;
        }
    };

    let work = async {
        let mut stdin = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        let mut stdin_open = true;
        loop {
            let line = {
                let recv = pin!(rx.recv());
                let input = pin!(async {
                    if stdin_open {
                        stdin.next_line().await
                    } else {
                        std::future::pending().await
                    }
                });
                match select(recv, input).await {
                    Either::Left(message) => {
                        say(&format!(
                            "telemetry {}",
                            String::from_utf8_lossy(message.payload())
                        ));
                        Ok(None)
                    }
                    Either::Right(Ok(Some(line))) => Ok(Some(line)),
                    Either::Right(Ok(None) | Err(_)) => Err(()),
                }
            };
            // Standard input closed: keep printing telemetry.
            let line = line.unwrap_or_else(|()| {
                stdin_open = false;
                None
            });
            if let Some(command) = line {
                let command = command.trim();
                if command.is_empty() {
                    continue;
                }
                match client
                    .publish(
                        topics.command.as_str(),
                        command.as_bytes(),
                        PublishOptions::qos(QoS::AtLeastOnce),
                    )
                    .await
                {
                    Ok(_) => say(&format!("sent {command}")),
                    Err(e) => say(&format!("{command} not sent: {e}")),
                }
            }
        }
    };
    // Both loops run until the process is stopped.
    let _ = select(pin!(connection), pin!(work)).await;
    ExitCode::SUCCESS
}
