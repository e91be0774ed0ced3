//! The same client code, unchanged, on every backend: tokio, smol, async-std, and
//! the smoltcp and lwIP backends on a TAP device (user-space TCP/IP stacks talking
//! to the Linux kernel's), each against a real mosquitto. The suite is written once
//! against the portnet traits (`TcpConnect` + `Clock`): QoS 0, 1 and 2 both ways
//! on MQTT 3.1.1 and 5.0, many publishes in flight at once, a retained message
//! for a later subscriber, and 5.0 properties end to end. `broker.rs` has the
//! rest of the broker tests (restarts, wills, keep-alive, …) on tokio.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

mod common;
#[cfg(target_os = "linux")]
#[path = "../../embedded/tests/support/mod.rs"]
mod netns;

use core::future::Future;
use core::pin::pin;
use core::time::Duration;
use std::collections::HashMap;
use std::net::SocketAddr;

use common::Mosquitto;
use portnet::future::join;
use portnet::{Clock, TcpConnect};
use portnet_mqtt::codec::{Property, QoS, ReasonCode, Subscription, Version};
use portnet_mqtt::{Client, ConnectOptions, PublishOptions, Receiver, Session, Storage};

type Store = Storage<4096, 4096, 8, 16, 4>;

/// How long one session of the suite may take, on the stack's own clock.
const LIMIT: Duration = Duration::from_secs(30);

/// Runs `app` as one client session of `stack` against `broker` (connect
/// options `opts`), bounded by [`LIMIT`]; the driver's result must be `Ok`.
async fn session<S, F>(stack: S, opts: ConnectOptions<'_>, what: &str, app: F)
where
    S: TcpConnect + Clock + Copy,
    F: AsyncFnOnce(&Client<'_>, &mut Receiver<'_>),
{
    let mut storage = Store::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(stack, stack);
    let run = pin!(driver.run(&opts));
    let app = pin!(app(&client, &mut rx));
    let bounded = portnet::time::timeout(&stack, LIMIT, join(run, app)).await;
    let (run, ()) =
        bounded.unwrap_or_else(|_| panic!("{what}: no result within {} s", LIMIT.as_secs()));
    run.unwrap_or_else(|e| panic!("{what}: the session failed: {e:?}"));
}

/// Subscribes, publishes at QoS 0, 1 and 2 on both protocol versions, and
/// receives each message once.
async fn pubsub<S: TcpConnect + Clock + Copy>(stack: S, broker: SocketAddr, name: &str) {
    for version in [Version::V3_1_1, Version::V5] {
        let id = format!("{name}-{}", version as u8);
        let opts = ConnectOptions::new(broker, &id).version(version);
        session(stack, opts, &id, async |client, rx| {
            let info = client.connected().await.expect("connected");
            assert_eq!(info.version, version);
            client
                .subscribe(&[Subscription::new("b/#", QoS::ExactlyOnce)], &[])
                .await
                .unwrap();
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let topic = format!("b/{name}/{}", qos as u8);
                let reason = client
                    .publish(&topic, b"payload", PublishOptions::qos(qos))
                    .await
                    .unwrap();
                assert!(
                    reason.is_success(),
                    "{name}: publish at {qos:?} gave {reason:?}"
                );
                let message = rx.recv().await;
                assert_eq!(
                    (message.topic(), message.payload(), message.qos()),
                    (topic.as_str(), &b"payload"[..], qos)
                );
            }
            client.disconnect(ReasonCode::SUCCESS).await;
        })
        .await;
    }
}

/// Twenty QoS 1 and 2 publishes in flight at once, each completing with its
/// own acknowledgement while the messages come back, each exactly once.
async fn many_in_flight<S: TcpConnect + Clock + Copy>(stack: S, broker: SocketAddr, name: &str) {
    let id = format!("{name}-many");
    let prefix = format!("m/{name}");
    let opts = ConnectOptions::new(broker, &id);
    session(stack, opts, &id, async |client, rx| {
        client.connected().await.expect("connected");
        let filter = format!("{prefix}/#");
        client
            .subscribe(&[Subscription::new(&filter, QoS::ExactlyOnce)], &[])
            .await
            .unwrap();
        let topics: Vec<String> = (0..20).map(|i| format!("{prefix}/{i}")).collect();
        let publishes = pin!(async {
            let mut in_flight = Vec::new();
            for (i, topic) in topics.iter().enumerate() {
                let qos = [QoS::AtLeastOnce, QoS::ExactlyOnce][i % 2];
                in_flight.push(Box::pin(client.publish(
                    topic,
                    b"x",
                    PublishOptions::qos(qos),
                )));
            }
            for publish in in_flight {
                assert!(publish.await.unwrap().is_success());
            }
        });
        let receive = pin!(async {
            let mut seen = HashMap::new();
            while seen.len() < 20 {
                let message = rx.recv().await;
                *seen.entry(message.topic().to_owned()).or_insert(0) += 1;
            }
            seen
        });
        let ((), seen) = join(publishes, receive).await;
        assert!(seen.values().all(|&n| n == 1), "{name}: {seen:?}");
        client.disconnect(ReasonCode::SUCCESS).await;
    })
    .await;
}

/// A retained message reaches a subscriber that comes later, on both versions.
async fn retained<S: TcpConnect + Clock + Copy>(stack: S, broker: SocketAddr, name: &str) {
    for version in [Version::V3_1_1, Version::V5] {
        let topic = format!("retained/{name}/{}", version as u8);
        let id = format!("{name}-retainer-{}", version as u8);
        let opts = ConnectOptions::new(broker, &id).version(version);
        session(stack, opts, &id, async |client, _rx| {
            client.connected().await.expect("connected");
            client
                .publish(
                    &topic,
                    b"kept",
                    PublishOptions::qos(QoS::AtLeastOnce).retain(),
                )
                .await
                .unwrap();
            client.disconnect(ReasonCode::SUCCESS).await;
        })
        .await;
        let id = format!("{name}-late-{}", version as u8);
        let opts = ConnectOptions::new(broker, &id).version(version);
        session(stack, opts, &id, async |client, rx| {
            client.connected().await.expect("connected");
            client
                .subscribe(&[Subscription::new(&topic, QoS::AtLeastOnce)], &[])
                .await
                .unwrap();
            let message = rx.recv().await;
            assert_eq!(
                (message.topic(), message.payload(), message.retain()),
                (topic.as_str(), &b"kept"[..], true)
            );
            drop(message);
            client.disconnect(ReasonCode::SUCCESS).await;
        })
        .await;
    }
}

/// MQTT 5.0 properties travel end to end: an assigned client id, user
/// properties, response topic, correlation data, content type, subscription
/// identifiers.
async fn v5_properties<S: TcpConnect + Clock + Copy>(stack: S, broker: SocketAddr, name: &str) {
    let topic = format!("req/{name}");
    // An empty client id: the broker assigns one.
    let opts = ConnectOptions::new(broker, "");
    session(stack, opts, name, async |client, rx| {
        let info = client.connected().await.expect("connected");
        assert!(info.client_id_assigned);
        let mut buf = [0u8; 128];
        assert!(
            !client
                .assigned_client_id(&mut buf)
                .expect("an id")
                .is_empty()
        );
        client
            .subscribe(
                &[Subscription::new(&topic, QoS::AtLeastOnce)],
                &[Property::SubscriptionIdentifier(42)],
            )
            .await
            .unwrap();
        let props = [
            Property::UserProperty("trace", "abc"),
            Property::ResponseTopic("resp/1"),
            Property::CorrelationData(b"\x01\x02"),
            Property::ContentType("text/plain"),
        ];
        client
            .publish(
                &topic,
                b"hello",
                PublishOptions::qos(QoS::AtLeastOnce).properties(&props),
            )
            .await
            .unwrap();
        let message = rx.recv().await;
        let p = message.properties();
        assert_eq!(p.user_properties().collect::<Vec<_>>(), [("trace", "abc")]);
        assert_eq!(p.response_topic(), Some("resp/1"));
        assert_eq!(p.correlation_data(), Some(&b"\x01\x02"[..]));
        assert_eq!(p.content_type(), Some("text/plain"));
        assert_eq!(message.subscription_identifiers().collect::<Vec<_>>(), [42]);
        drop(message);
        client.disconnect(ReasonCode::SUCCESS).await;
    })
    .await;
}

/// The whole suite on `stack`, against the broker at `broker`.
async fn suite<S: TcpConnect + Clock + Copy>(stack: S, broker: SocketAddr, name: &str) {
    pubsub(stack, broker, name).await;
    many_in_flight(stack, broker, name).await;
    retained(stack, broker, name).await;
    v5_properties(stack, broker, name).await;
}

fn on_tokio_runtime<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn on_tokio() {
    let broker = Mosquitto::start();
    on_tokio_runtime(suite(portnet_tokio::Tokio::new(), broker.addr(), "tokio"));
}

#[test]
fn on_smol() {
    let broker = Mosquitto::start();
    async_io::block_on(suite(portnet_smol::Smol::new(), broker.addr(), "smol"));
}

#[test]
fn on_async_std() {
    let broker = Mosquitto::start();
    async_std::task::block_on(suite(
        portnet_async_std::AsyncStd::new(),
        broker.addr(),
        "async-std",
    ));
}

/// The smoltcp backend (10.9.3.2) on a TAP device in a network namespace the
/// test creates, the broker in the same namespace on the kernel's side
/// (10.9.3.1). Where namespaces or TAP devices cannot be made, it prints
/// `SKIPPED:` with the reason and passes.
#[cfg(target_os = "linux")]
#[test]
fn on_smoltcp_over_tap() {
    use std::net::{IpAddr, Ipv4Addr};

    use portnet::future::{Either, select};
    use portnet_links::tap::Tap;
    use portnet_smoltcp::{Cidr, Config, Stack, StackResources, TcpPool};
    use portnet_tokio::Tokio;

    const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 9, 3, 1);
    const STACK: Ipv4Addr = Ipv4Addr::new(10, 9, 3, 2);
    const PORT: u16 = 1883;

    let (netns, _entered, tap) = match netns::namespace(
        "mqtt",
        "pnmqtt0",
        [0x02, 0, 0, 0, 0x09, 0x32],
        "10.9.3.1/24",
    ) {
        Ok(parts) => parts,
        Err(reason) => {
            println!("SKIPPED: cannot create a network namespace with a TAP device: {reason}");
            return;
        }
    };
    let addr = SocketAddr::new(IpAddr::V4(KERNEL), PORT);
    let broker = netns::Broker::start(
        &netns,
        "mqtt-suite",
        &format!("listener {PORT} {KERNEL}\n"),
        addr,
    );
    let resources: &'static mut StackResources<'static, 4> =
        Box::leak(Box::new(StackResources::new()));
    let tcp: &'static mut TcpPool<2, 8192, 8192> = Box::leak(Box::new(TcpPool::new()));
    let sockets = resources.sockets().tcp(tcp).expect("the pool fits");
    let config = Config::ipv4_static(Cidr::new(STACK, 24), None);
    let stack: &'static Stack<'static, Tap, Tokio> = Box::leak(Box::new(
        Stack::new(tap, Tokio::new(), config, sockets).expect("a valid configuration"),
    ));
    on_tokio_runtime(async {
        match select(pin!(suite(stack, addr, "smoltcp-tap")), pin!(stack.run())).await {
            Either::Left(()) => {}
            Either::Right(never) => match never {},
        }
    });
    // The broker saw the clients, from the smoltcp stack's address.
    let log = broker.log();
    assert!(
        log.contains("as smoltcp-tap-many") && log.contains(&format!("from {STACK}:")),
        "{log}"
    );
}

/// The lwIP backend (10.9.5.2) on a TAP device in a network namespace the test
/// creates, the broker in the same namespace on the kernel's side (10.9.5.1):
/// the suite unchanged on a C stack. Where namespaces or TAP devices cannot be
/// made, it prints `SKIPPED:` with the reason and passes.
#[cfg(target_os = "linux")]
#[test]
fn on_lwip_over_tap() {
    use std::net::{IpAddr, Ipv4Addr};

    use portnet::future::{Either, select};
    use portnet_lwip::{Config, Stack};
    use portnet_tokio::Tokio;

    const KERNEL: Ipv4Addr = Ipv4Addr::new(10, 9, 5, 1);
    const STACK: Ipv4Addr = Ipv4Addr::new(10, 9, 5, 2);
    const PORT: u16 = 1883;

    let (netns, _entered, tap) = match netns::namespace(
        "mqtt-lwip",
        "pnmqttl0",
        [0x02, 0, 0, 0, 0x09, 0x52],
        "10.9.5.1/24",
    ) {
        Ok(parts) => parts,
        Err(reason) => {
            println!("SKIPPED: cannot create a network namespace with a TAP device: {reason}");
            return;
        }
    };
    let addr = SocketAddr::new(IpAddr::V4(KERNEL), PORT);
    let broker = netns::Broker::start(
        &netns,
        "mqtt-suite-lwip",
        &format!("listener {PORT} {KERNEL}\n"),
        addr,
    );
    let stack = Stack::new(tap, Tokio::new(), Config::ipv4_static(STACK, 24, None))
        .expect("the only lwIP stack of this test binary");
    let stack = &stack;
    on_tokio_runtime(async {
        match select(pin!(suite(stack, addr, "lwip-tap")), pin!(stack.run())).await {
            Either::Left(()) => {}
            Either::Right(never) => match never {},
        }
    });
    // The broker saw the clients, from the lwIP stack's address.
    let log = broker.log();
    assert!(
        log.contains("as lwip-tap-many") && log.contains(&format!("from {STACK}:")),
        "{log}"
    );
}
