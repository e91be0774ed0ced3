//! The same client code, unchanged, on every host backend: tokio, smol and
//! async-std, against a real mosquitto. The test body is written once against the
//! portnet traits (`TcpConnect` + `Clock`).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

mod common;

use core::pin::pin;
use core::time::Duration;

use common::Mosquitto;
use portnet::future::join;
use portnet::{Clock, TcpConnect};
use portnet_mqtt::codec::{QoS, ReasonCode, Subscription, Version};
use portnet_mqtt::{ConnectOptions, PublishOptions, Session, Storage};

type Store = Storage<4096, 4096, 8, 16, 4>;

/// Subscribes, publishes at QoS 0, 1 and 2 on both protocol versions, and receives
/// each message once; bounded by the stack's own clock.
async fn pubsub<S: TcpConnect + Clock + Copy>(stack: S, name: &str) {
    let broker = Mosquitto::start();
    for version in [Version::V3_1_1, Version::V5] {
        let mut storage = Store::new();
        let mut session = Session::new(&mut storage);
        let (mut driver, client, mut rx) = session.split(stack, stack);
        let id = format!("{name}-{}", version as u8);
        let opts = ConnectOptions::new(broker.addr(), &id).version(version);
        let app = pin!(async {
            client.connected().await;
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
        });
        let run = pin!(driver.run(&opts));
        let bounded = portnet::time::timeout(&stack, Duration::from_secs(30), join(run, app)).await;
        let (run, ()) =
            bounded.unwrap_or_else(|_| panic!("{name} on {version:?}: no result within 30 s"));
        run.unwrap();
    }
}

#[test]
fn on_tokio() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(pubsub(portnet_tokio::Tokio::new(), "tokio"));
}

#[test]
fn on_smol() {
    async_io::block_on(pubsub(portnet_smol::Smol::new(), "smol"));
}

#[test]
fn on_async_std() {
    async_std::task::block_on(pubsub(portnet_async_std::AsyncStd::new(), "async-std"));
}
