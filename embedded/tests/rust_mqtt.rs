//! rust-mqtt, unmodified, over portnet's smoltcp backend: the client gets a
//! portnet connection of the smoltcp stack through [`EmbeddedIo`] (portnet →
//! `embedded_io_async`), and talks to a real mosquitto.
//!
//! The smoltcp stack (10.9.1.2) runs on a TAP device inside a network namespace
//! the test creates; the broker runs in the same namespace (`ip netns exec`) on
//! the kernel's side of the TAP device (10.9.1.1). Nothing leaves the namespace.
//! Where namespaces or TAP devices cannot be made (no `CAP_NET_ADMIN`, no
//! `/dev/net/tun`), the test prints `SKIPPED:` with the reason and passes.
#![cfg(target_os = "linux")]
#![allow(clippy::std_instead_of_core)]

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZero;
use std::pin::pin;
use std::time::Duration;

use portnet::TcpConnect as _;
use portnet::future::{Either, select};
use portnet_embedded::EmbeddedIo;
use portnet_links::tap::Tap;
use portnet_smoltcp::{Cidr, Config, Stack, StackResources, TcpPool};
use portnet_tokio::Tokio;
use rust_mqtt::Bytes;
use rust_mqtt::buffer::AllocBuffer;
use rust_mqtt::client::Client;
use rust_mqtt::client::event::Event;
use rust_mqtt::client::options::{
    ConnectOptions, DisconnectOptions, PublicationOptions, SubscriptionOptions, TopicReference,
};
use rust_mqtt::config::KeepAlive;
use rust_mqtt::types::{MqttString, TopicFilter, TopicName};
use support::Broker;

const KERNEL_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 1, 1);
const STACK_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 1, 2);
const TAP_NAME: &str = "pnmqtt0";
const BROKER_PORT: u16 = 1883;

type TapStack = Stack<'static, Tap, Tokio>;

fn smoltcp_stack(tap: Tap) -> &'static TapStack {
    let config = Config::ipv4_static(Cidr::new(STACK_V4, 24), None);
    let resources: &'static mut StackResources<'static, 8> =
        Box::leak(Box::new(StackResources::new()));
    let tcp: &'static mut TcpPool<2, 8192, 8192> = Box::leak(Box::new(TcpPool::new()));
    let sockets = resources.sockets().tcp(tcp).expect("the pool fits");
    Box::leak(Box::new(
        Stack::new(tap, Tokio::new(), config, sockets).expect("a valid configuration"),
    ))
}

/// What the client saw of its own QoS 1 publication, relayed by the broker.
#[derive(Debug, Default)]
struct Seen {
    suback: bool,
    puback: bool,
    received: Option<(String, Vec<u8>)>,
}

/// Connects rust-mqtt over `stack`, subscribes to a topic, publishes to it with
/// QoS 1, and collects the SUBACK, the PUBACK and the message as the broker
/// sends it back.
async fn round_trip(stack: &TapStack, payload: &[u8]) -> Result<Seen, String> {
    let broker = SocketAddr::new(IpAddr::V4(KERNEL_V4), BROKER_PORT);
    let connection = stack
        .connect(broker)
        .await
        .map_err(|e| format!("smoltcp connect to the broker: {e:?}"))?;
    let mut buffer = AllocBuffer;
    let mut client = Client::<'_, '_, _, _, 1, 1, 1, 1, 16, 0, 1>::new(&mut buffer);
    client
        .connect(
            EmbeddedIo::new(connection),
            &ConnectOptions::new()
                .clean_start()
                .keep_alive(KeepAlive::Seconds(NonZero::new(30).expect("non-zero"))),
            Some(MqttString::try_from("portnet-rust-mqtt").map_err(|e| format!("{e:?}"))?),
        )
        .await
        .map_err(|e| format!("MQTT connect: {e:?}"))?;

    let topic = MqttString::try_from("portnet/rust-mqtt").map_err(|e| format!("{e:?}"))?;
    let filter = TopicFilter::new(topic.as_borrowed()).ok_or("topic filter")?;
    let name = TopicName::new(topic.as_borrowed()).ok_or("topic name")?;
    client
        .subscribe(filter, &SubscriptionOptions::new().at_least_once())
        .await
        .map_err(|e| format!("subscribe: {e:?}"))?;
    let mut seen = Seen::default();
    match client.poll().await.map_err(|e| format!("poll: {e:?}"))? {
        Event::Suback(_) => seen.suback = true,
        other => return Err(format!("expected a SUBACK, got {other:?}")),
    }
    client
        .publish(
            &PublicationOptions::new(TopicReference::Name(name)).at_least_once(),
            Bytes::from(payload),
        )
        .await
        .map_err(|e| format!("publish: {e:?}"))?;
    // The PUBACK and the relayed PUBLISH, in either order; a handful of events
    // at most.
    for _ in 0..8 {
        match client.poll().await.map_err(|e| format!("poll: {e:?}"))? {
            Event::PublishAcknowledged(_) => seen.puback = true,
            Event::Publish(publish) => {
                let topic = match &publish.topic {
                    TopicReference::Name(name) | TopicReference::Mapping(name, _) => {
                        let name: &MqttString<'_> = name.as_ref();
                        name.as_str().to_string()
                    }
                    TopicReference::Alias(alias) => format!("alias {alias}"),
                };
                seen.received = Some((topic, publish.message.as_ref().to_vec()));
            }
            other => return Err(format!("unexpected event {other:?}")),
        }
        if seen.puback && seen.received.is_some() {
            break;
        }
    }
    client
        .disconnect(&DisconnectOptions::new())
        .await
        .map_err(|e| format!("disconnect: {e:?}"))?;
    Ok(seen)
}

#[test]
fn rust_mqtt_publishes_and_receives_through_mosquitto_over_smoltcp() {
    let (netns, entered, tap) =
        match support::namespace("mqtt", TAP_NAME, [0x02, 0, 0, 0, 0x09, 0x12], "10.9.1.1/24") {
            Ok(parts) => parts,
            Err(reason) => {
                println!("SKIPPED: cannot create a network namespace with a TAP device: {reason}");
                return;
            }
        };
    let broker_addr = SocketAddr::new(IpAddr::V4(KERNEL_V4), BROKER_PORT);
    let broker = Broker::start(
        &netns,
        "rust-mqtt",
        &format!("listener {BROKER_PORT} {KERNEL_V4}\n"),
        broker_addr,
    );
    let stack = smoltcp_stack(tap);
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let outcome = runtime.block_on(async {
        let work = pin!(tokio::time::timeout(
            Duration::from_secs(30),
            round_trip(stack, &payload)
        ));
        match select(work, pin!(stack.run())).await {
            Either::Left(result) => result,
            Either::Right(never) => match never {},
        }
    });
    let seen = match outcome {
        Ok(Ok(seen)) => seen,
        Ok(Err(error)) => panic!("{error}\nbroker log:\n{}", broker.log()),
        Err(_) => panic!("no result within 30 s\nbroker log:\n{}", broker.log()),
    };
    assert!(seen.suback, "no SUBACK");
    assert!(seen.puback, "no PUBACK for the QoS 1 publication");
    let (topic, message) = seen.received.expect("the broker relayed the message");
    assert_eq!(topic, "portnet/rust-mqtt");
    assert_eq!(message, payload, "the relayed payload differs");
    // The broker saw this client, from the smoltcp stack's address.
    let log = broker.log();
    assert!(
        log.contains("portnet-rust-mqtt") && log.contains(&STACK_V4.to_string()),
        "the broker's log does not show the client from {STACK_V4}:\n{log}"
    );
    drop(broker);
    drop(entered);
    drop(netns);
}
