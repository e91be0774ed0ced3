//! The client against a real mosquitto 2 on the tokio backend.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::Mosquitto;
use portnet_mqtt::codec::{Properties, Property, QoS, ReasonCode, Subscription, Version, Will};
use portnet_mqtt::{ConnectOptions, DisconnectOptions, Error, PublishOptions, Session, Storage};
use portnet_tokio::Tokio;

const LIMIT: Duration = Duration::from_secs(30);

type Store = Storage<4096, 4096, 8, 16, 4>;

async fn bounded<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("test took longer than its bound")
}

/// Publishes at QoS 0, 1 and 2 to its own subscription and receives each once.
async fn pubsub_all_qos(version: Version) {
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    let mut storage = Store::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(broker.addr(), "pubsub").version(version);
    let app = async {
        let info = client.connected().await.expect("connected");
        assert_eq!(info.version, version);
        assert!(!info.session_present);
        let codes = client
            .subscribe(&[Subscription::new("t/#", QoS::ExactlyOnce)], &[])
            .await
            .unwrap();
        assert_eq!(codes.codes(), [ReasonCode::GRANTED_QOS_2]);
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let topic = format!("t/{}", qos as u8);
            eprintln!("publish {topic}");
            let reason = client
                .publish(&topic, topic.as_bytes(), PublishOptions::qos(qos))
                .await
                .unwrap();
            assert!(reason.is_success());
            eprintln!("published {topic}");
            let m = rx.recv().await;
            eprintln!("received {topic}");
            assert_eq!(m.topic(), topic);
            assert_eq!(m.payload(), topic.as_bytes());
            assert_eq!(m.qos(), qos);
            assert!(!m.retain());
        }
        let codes = client.unsubscribe(&["t/#"], &[]).await.unwrap();
        if version == Version::V5 {
            assert_eq!(codes.codes(), [ReasonCode::SUCCESS]);
        }
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let (run, ()) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
    run.unwrap();
}

#[tokio::test]
async fn pubsub_qos_0_1_2_v3() {
    pubsub_all_qos(Version::V3_1_1).await;
}

#[tokio::test]
async fn pubsub_qos_0_1_2_v5() {
    pubsub_all_qos(Version::V5).await;
}

/// Several QoS 1 and 2 publishes in flight at once from one task, each completing
/// with its own acknowledgement, while messages come in.
#[tokio::test]
async fn concurrent_publishes_complete_independently() {
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    let mut storage = Store::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(broker.addr(), "many");
    let app = async {
        client.connected().await.expect("connected");
        client
            .subscribe(&[Subscription::new("m/#", QoS::AtLeastOnce)], &[])
            .await
            .unwrap();
        let topics: Vec<String> = (0..20).map(|i| format!("m/{i}")).collect();
        let publishes = async {
            let mut futs = Vec::new();
            for (i, t) in topics.iter().enumerate() {
                let qos = if i % 2 == 0 {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                };
                futs.push(client.publish(t, b"x", PublishOptions::qos(qos)));
            }
            for r in futures_join_all(futs).await {
                assert!(r.unwrap().is_success());
            }
        };
        let receive = async {
            let mut seen = HashMap::new();
            while seen.len() < 20 {
                let m = rx.recv().await;
                *seen.entry(m.topic().to_owned()).or_insert(0) += 1;
            }
            seen
        };
        let ((), seen) = tokio::join!(publishes, receive);
        assert!(seen.values().all(|&n| n == 1), "{seen:?}");
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let (run, ()) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
    run.unwrap();
}

/// Joins futures without an executor crate: polls them all in turn.
async fn futures_join_all<F: std::future::Future>(futs: Vec<F>) -> Vec<F::Output> {
    let mut futs: Vec<_> = futs.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, o) in futs.iter_mut().zip(out.iter_mut()) {
            if o.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *o = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(Option::unwrap).collect()
}

#[tokio::test]
async fn retained_message_reaches_a_later_subscriber() {
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    for version in [Version::V3_1_1, Version::V5] {
        let topic = format!("retained/{version:?}");
        // Publisher.
        {
            let mut storage = Store::new();
            let mut session = Session::new(&mut storage);
            let (mut driver, client, _rx) = session.split(&stack, stack);
            let opts = ConnectOptions::new(broker.addr(), "retainer").version(version);
            let app = async {
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
            };
            let (run, ()) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
            run.unwrap();
        }
        // Later subscriber.
        let mut storage = Store::new();
        let mut session = Session::new(&mut storage);
        let (mut driver, client, mut rx) = session.split(&stack, stack);
        let opts = ConnectOptions::new(broker.addr(), "late").version(version);
        let app = async {
            client.connected().await.expect("connected");
            client
                .subscribe(&[Subscription::new(&topic, QoS::AtLeastOnce)], &[])
                .await
                .unwrap();
            let m = rx.recv().await;
            assert_eq!(
                (m.topic(), m.payload(), m.retain()),
                (topic.as_str(), &b"kept"[..], true)
            );
            drop(m);
            client.disconnect(ReasonCode::SUCCESS).await;
        };
        let (run, ()) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
        run.unwrap();
    }
}

/// A client that loses its connection without DISCONNECT has its will published;
/// one that disconnects normally does not.
#[tokio::test]
async fn will_is_published_on_connection_loss() {
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    for version in [Version::V3_1_1, Version::V5] {
        let will_topic = format!("will/{version:?}");
        let mut w_storage = Store::new();
        let mut w_session = Session::new(&mut w_storage);
        let (mut watcher, watch, mut watch_rx) = w_session.split(&stack, stack);
        let w_opts = ConnectOptions::new(broker.addr(), "watcher").version(version);

        let mut storage = Store::new();
        let mut session = Session::new(&mut storage);
        let (mut driver, client, _rx) = session.split(&stack, stack);
        let delay = [Property::WillDelayInterval(0)];
        let will = Will {
            topic: &will_topic,
            payload: b"gone",
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: if version == Version::V5 {
                Properties::new(&delay)
            } else {
                Properties::empty()
            },
        };
        let opts = ConnectOptions::new(broker.addr(), "mortal")
            .version(version)
            .will(will);

        let test = async {
            watch.connected().await.expect("connected");
            watch
                .subscribe(&[Subscription::new(&will_topic, QoS::AtLeastOnce)], &[])
                .await
                .unwrap();
            // The mortal client connects, then its driver is dropped: the TCP
            // connection closes without DISCONNECT.
            let mut run = Box::pin(driver.run(&opts));
            tokio::select! {
                r = &mut run => panic!("run ended early: {r:?}"),
                c = client.connected() => { c.expect("connected"); }
            }
            drop(run);
            let m = match tokio::time::timeout(Duration::from_secs(5), watch_rx.recv()).await {
                Ok(m) => m,
                Err(_) => panic!("no will message; broker log:\n{}", broker.log()),
            };
            assert_eq!(
                (m.topic(), m.payload()),
                (will_topic.as_str(), &b"gone"[..])
            );
            drop(m);
            watch.disconnect(ReasonCode::SUCCESS).await;
        };
        let (run, ()) = bounded(async { tokio::join!(watcher.run(&w_opts), test) }).await;
        run.unwrap();
    }
}

#[tokio::test]
async fn v5_properties_travel_end_to_end() {
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    let mut storage = Store::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, stack);
    // Empty client id: the broker assigns one.
    let opts = ConnectOptions::new(broker.addr(), "");
    let app = async {
        let info = client.connected().await.expect("connected");
        assert!(info.client_id_assigned);
        let mut buf = [0u8; 128];
        let id = client.assigned_client_id(&mut buf).expect("assigned id");
        assert!(!id.is_empty());
        let sub_id = [Property::SubscriptionIdentifier(42)];
        client
            .subscribe(&[Subscription::new("req/#", QoS::AtLeastOnce)], &sub_id)
            .await
            .unwrap();
        let props = [
            Property::UserProperty("trace", "abc"),
            Property::ResponseTopic("resp/1"),
            Property::CorrelationData(b"\x01\x02"),
            Property::ContentType("text/plain"),
            Property::PayloadFormatIndicator(1),
        ];
        client
            .publish(
                "req/x",
                b"hello",
                PublishOptions::qos(QoS::AtLeastOnce).properties(&props),
            )
            .await
            .unwrap();
        let m = rx.recv().await;
        let p = m.properties();
        assert_eq!(p.user_properties().collect::<Vec<_>>(), [("trace", "abc")]);
        assert_eq!(p.response_topic(), Some("resp/1"));
        assert_eq!(p.correlation_data(), Some(&b"\x01\x02"[..]));
        assert_eq!(p.content_type(), Some("text/plain"));
        assert_eq!(m.subscription_identifiers().collect::<Vec<_>>(), [42]);
        drop(m);
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let (run, ()) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
    run.unwrap();
}

/// With keep alive 1 s, an idle client stays connected through its pings.
#[tokio::test]
async fn keep_alive_pings_keep_an_idle_connection() {
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    let mut storage = Store::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(broker.addr(), "idle").keep_alive(1);
    let app = async {
        client.connected().await.expect("connected");
        // Idle for 2.5 keep-alive periods (mosquitto drops a client after 1.5).
        tokio::time::sleep(Duration::from_millis(2500)).await;
        client
            .publish("idle/ok", b"", PublishOptions::qos(QoS::AtLeastOnce))
            .await
            .unwrap();
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let (run, ()) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
    run.unwrap();
}

/// Reconnects `driver` until the application disconnects, bounded.
macro_rules! run_reconnecting {
    ($driver:expr, $opts:expr) => {
        async {
            for _ in 0..200 {
                match $driver.run($opts).await {
                    Ok(()) => return,
                    Err(Error::Network(_) | Error::Closed | Error::Timeout) => {
                        tokio::time::sleep(Duration::from_millis(25)).await
                    }
                    Err(e) => panic!("driver failed: {e}"),
                }
            }
            panic!("no successful connection in 200 attempts");
        }
    };
}

/// A broker restart with persistence in the middle of QoS 1 and QoS 2 traffic:
/// the publisher's messages are in flight (written, unacknowledged) when the broker
/// stops; after the restart they are sent again and a persistent subscriber gets
/// every message exactly once.
async fn restart_mid_traffic(version: Version) {
    let mut broker = Mosquitto::start_persistent();
    let stack = Tokio::new();
    let sub_opts = ConnectOptions::new(broker.addr(), "restart-sub")
        .version(version)
        .persistent(3600);
    let pub_opts = ConnectOptions::new(broker.addr(), "restart-pub")
        .version(version)
        .persistent(3600);
    let topics: Vec<String> = (0..8).map(|i| format!("r/{i}")).collect();

    // The subscriber makes its persistent subscription, then goes away.
    let mut s_storage = Store::new();
    let mut s_session = Session::new(&mut s_storage);
    let (mut s_driver, sub, mut s_rx) = s_session.split(&stack, stack);
    let app = async {
        sub.connected().await.expect("connected");
        sub.subscribe(&[Subscription::new("r/#", QoS::ExactlyOnce)], &[])
            .await
            .unwrap();
        sub.disconnect(ReasonCode::SUCCESS).await;
    };
    let (r, ()) = bounded(async { tokio::join!(s_driver.run(&sub_opts), app) }).await;
    r.unwrap();

    // The publisher puts 8 messages in flight against a frozen broker, which is
    // then restarted.
    let mut p_storage = Store::new();
    let mut p_session = Session::new(&mut p_storage);
    let (mut p_driver, publisher, _p_rx) = p_session.split(&stack, stack);
    let broker_ref = &mut broker;
    let app = async {
        publisher.connected().await.expect("connected");
        broker_ref.freeze();
        let publishes = async {
            let futs = topics
                .iter()
                .enumerate()
                .map(|(i, t)| {
                    let qos = if i % 2 == 0 {
                        QoS::AtLeastOnce
                    } else {
                        QoS::ExactlyOnce
                    };
                    publisher.publish(t, t.as_bytes(), PublishOptions::qos(qos))
                })
                .collect();
            for r in futures_join_all(futs).await {
                assert!(r.unwrap().is_success());
            }
        };
        let restart = async {
            // Wait (bounded) until all 8 are written and unacknowledged.
            for _ in 0..100_000 {
                if publisher.unacknowledged() == 8 {
                    break;
                }
                tokio::task::yield_now().await;
            }
            assert_eq!(publisher.unacknowledged(), 8, "messages in flight");
            broker_ref.restart();
        };
        tokio::join!(publishes, restart);
        let resumed = publisher
            .connection_info()
            .expect("reconnected")
            .session_present;
        assert!(
            resumed,
            "publisher session not resumed; log:\n{}",
            broker_ref.log()
        );
        publisher.disconnect(ReasonCode::SUCCESS).await;
    };
    bounded(async { tokio::join!(run_reconnecting!(p_driver, &pub_opts), app) }).await;

    // The subscriber comes back: every message exactly once, then its own sentinel.
    let app = async {
        let info = sub.connected().await.expect("connected");
        assert!(
            info.session_present,
            "subscriber session lost; log:\n{}",
            broker.log()
        );
        let mut seen: HashMap<String, u32> = HashMap::new();
        let receive = async {
            loop {
                let m = s_rx.recv().await;
                if m.topic() == "r/end" {
                    break;
                }
                *seen.entry(m.topic().to_owned()).or_default() += 1;
            }
        };
        let send_end = async {
            // Published after the reconnect: it queues behind the stored messages.
            sub.publish("r/end", b"", PublishOptions::qos(QoS::ExactlyOnce))
                .await
                .unwrap();
        };
        tokio::join!(receive, send_end);
        let expected: HashMap<String, u32> = topics.iter().map(|t| (t.clone(), 1)).collect();
        assert_eq!(seen, expected, "nothing lost, nothing duplicated");
        sub.disconnect(ReasonCode::SUCCESS).await;
    };
    let (r, ()) = bounded(async { tokio::join!(s_driver.run(&sub_opts), app) }).await;
    r.unwrap();
}

#[tokio::test]
async fn broker_restart_mid_qos1_qos2_traffic_v3() {
    restart_mid_traffic(Version::V3_1_1).await;
}

#[tokio::test]
async fn broker_restart_mid_qos1_qos2_traffic_v5() {
    restart_mid_traffic(Version::V5).await;
}

/// The application holds `HOLD` messages while it goes on publishing at QoS 1 and 2
/// to its own subscription: every publish completes (its acknowledgement is read
/// past the echoes waiting behind the held messages), then the held messages are
/// released out of order and the rest arrive in order. The acknowledgements were
/// sent: after a reconnect of the persistent session nothing is delivered again.
#[tokio::test]
async fn held_messages_do_not_block_publishes() {
    const HOLD: usize = 4;
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    let mut storage = Storage::<4096, 4096, 8, 16, 4, HOLD>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(broker.addr(), "holder").persistent(3600);
    let app = async {
        client.connected().await.expect("connected");
        client
            .subscribe(&[Subscription::new("h/#", QoS::ExactlyOnce)], &[])
            .await
            .unwrap();
        let mut held = Vec::new();
        for i in 0..HOLD {
            let topic = format!("h/{i}");
            client
                .publish(&topic, b"held", PublishOptions::qos(QoS::AtLeastOnce))
                .await
                .unwrap();
            held.push(rx.recv().await);
        }
        let topics: Vec<String> = held.iter().map(|m| m.topic().to_owned()).collect();
        assert_eq!(topics, ["h/0", "h/1", "h/2", "h/3"]);
        // All message buffers are taken; publishing still completes.
        for i in HOLD..HOLD + 12 {
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            let reason = client
                .publish(&format!("h/{i}"), b"later", PublishOptions::qos(qos))
                .await
                .unwrap();
            assert!(reason.is_success());
        }
        assert!(rx.try_recv().is_none(), "every message buffer is held");
        // Release out of order, then receive the rest in order.
        for i in [2, 0, 3, 1] {
            drop(
                held.remove(
                    held.iter()
                        .position(|m| m.topic() == format!("h/{i}"))
                        .unwrap(),
                ),
            );
        }
        for i in HOLD..HOLD + 12 {
            let m = rx.recv().await;
            assert_eq!(m.topic(), format!("h/{i}"));
            assert_eq!(m.payload(), b"later");
        }
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let (run, ()) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
    run.unwrap();
    // Reconnect: a sentinel published now is the first message, so no earlier one
    // was left unacknowledged at the broker.
    let app = async {
        let info = client.connected().await.expect("connected");
        assert!(info.session_present);
        client
            .publish("h/end", b"", PublishOptions::qos(QoS::AtLeastOnce))
            .await
            .unwrap();
        let m = rx.recv().await;
        assert_eq!(
            m.topic(),
            "h/end",
            "a message was delivered again; log:\n{}",
            broker.log()
        );
        drop(m);
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let (run, ()) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
    run.unwrap();
}

/// Outgoing topic aliases against mosquitto (which accepts 10 by default): a
/// publisher with 2 alias slots rotates through 3 topics, so aliases are set,
/// reused with an empty topic and replaced; a subscriber gets every message under
/// its full topic.
#[tokio::test]
async fn outgoing_topic_aliases_against_mosquitto() {
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    let mut s_storage = Store::new();
    let mut s_session = Session::new(&mut s_storage);
    let (mut s_driver, sub, mut s_rx) = s_session.split(&stack, stack);
    let s_opts = ConnectOptions::new(broker.addr(), "alias-sub");
    let mut p_storage = Storage::<1024, 1024, 8, 16, 2, 1>::new();
    let mut p_session = Session::new(&mut p_storage);
    let (mut p_driver, publisher, _p_rx) = p_session.split(&stack, stack);
    let p_opts = ConnectOptions::new(broker.addr(), "alias-pub");
    let sequence: Vec<String> = [0, 0, 1, 0, 2, 2, 1, 0, 1, 2]
        .iter()
        .map(|i| format!("alias/topic-number-{i}"))
        .collect();
    let app = async {
        sub.connected().await.expect("connected");
        sub.subscribe(&[Subscription::new("alias/#", QoS::AtLeastOnce)], &[])
            .await
            .unwrap();
        let info = publisher.connected().await.expect("connected");
        assert!(info.topic_alias_maximum >= 2, "{info:?}");
        let publish = async {
            for (i, t) in sequence.iter().enumerate() {
                let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][i % 3];
                publisher
                    .publish(t, i.to_string().as_bytes(), PublishOptions::qos(qos))
                    .await
                    .unwrap();
            }
        };
        let receive = async {
            let mut got = Vec::new();
            for _ in 0..sequence.len() {
                let m = s_rx.recv().await;
                got.push((m.topic().to_owned(), m.payload().to_vec()));
            }
            got
        };
        let ((), mut got) = tokio::join!(publish, receive);
        // Each payload names its publish; mosquitto may reorder across QoS levels.
        got.sort_by_key(|(_, p)| {
            String::from_utf8(p.clone())
                .unwrap()
                .parse::<usize>()
                .unwrap()
        });
        let expected: Vec<(String, Vec<u8>)> = sequence
            .iter()
            .enumerate()
            .map(|(i, t)| (t.clone(), i.to_string().into_bytes()))
            .collect();
        assert_eq!(got, expected);
        publisher.disconnect(ReasonCode::SUCCESS).await;
        sub.disconnect(ReasonCode::SUCCESS).await;
    };
    let (p, s, ()) =
        bounded(async { tokio::join!(p_driver.run(&p_opts), s_driver.run(&s_opts), app) }).await;
    p.unwrap();
    s.unwrap();
}

/// What mosquitto 2.0 says when it ends a connection: a second client with the
/// same identifier takes the session over and the first connection is closed (this
/// mosquitto closes without a DISCONNECT: `run` reports `Closed`, and no reason
/// code is recorded); the server keep alive it imposes (`max_keepalive`) is in
/// force; a broker shutting down (SIGTERM) ends the connection with the reason the
/// broker gives, if any, and `server_disconnect` agrees with `run`'s error.
#[tokio::test]
async fn broker_disconnects_and_server_keep_alive() {
    let mut broker = Mosquitto::start_with("max_keepalive 20\n");
    let stack = Tokio::new();
    let mut a_storage = Store::new();
    let mut a_session = Session::new(&mut a_storage);
    let (mut a_driver, first, _a_rx) = a_session.split(&stack, stack);
    let mut b_storage = Store::new();
    let mut b_session = Session::new(&mut b_storage);
    let (mut b_driver, second, _b_rx) = b_session.split(&stack, stack);
    let opts = ConnectOptions::new(broker.addr(), "twin").keep_alive(60);
    let (a_result, b_result) = bounded(async {
        let b_run = b_driver.run(&opts);
        tokio::pin!(b_run);
        let (a_result, ()) = tokio::join!(a_driver.run(&opts), async {
            let info = first.connected().await.expect("connected");
            assert_eq!(info.keep_alive, 20, "the server keep alive is in force");
            // Only now the second client connects.
            tokio::select! {
                r = &mut b_run => panic!("second run ended: {r:?}"),
                c = second.connected() => { c.expect("connected"); }
            }
        });
        // The first connection is gone; the second is up. Now the broker stops.
        let broker_ref = &mut broker;
        let (b_result, ()) = tokio::join!(b_run, async { broker_ref.stop() });
        (a_result, b_result)
    })
    .await;
    match a_result {
        Err(Error::ServerDisconnect(code)) => {
            assert_eq!(code, ReasonCode::SESSION_TAKEN_OVER);
            assert_eq!(first.server_disconnect(), Some(code));
        }
        Err(Error::Closed | Error::Network(_)) => assert_eq!(first.server_disconnect(), None),
        other => panic!("first connection: {other:?}"),
    }
    eprintln!("first: {a_result:?}, second at shutdown: {b_result:?}");
    match b_result {
        Err(Error::ServerDisconnect(code)) => {
            assert_eq!(second.server_disconnect(), Some(code));
        }
        Err(Error::Closed | Error::Network(_)) => assert_eq!(second.server_disconnect(), None),
        other => panic!("second connection: {other:?}"),
    }
}

/// Issue 20 §1.2: application properties that the client also sets were sent
/// twice, and mosquitto closed the connection. Now a maximum packet size of the
/// application's replaces the client's (one property on the wire, and mosquitto
/// accepts the CONNECT), a publish with a property twice fails at once without
/// ending the connection, and a session expiry in the properties is refused
/// before connecting.
#[tokio::test]
async fn application_properties_are_never_sent_twice() {
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    let mut storage = Store::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, stack);

    let clash = [Property::SessionExpiryInterval(60)];
    let mut opts = ConnectOptions::new(broker.addr(), "props-twice").persistent(60);
    opts.properties = &clash;
    let refused = bounded(driver.run(&opts)).await;
    assert!(
        matches!(refused, Err(Error::InvalidInput(what)) if what.contains("session_expiry")),
        "{refused:?}"
    );

    let own = [
        Property::MaximumPacketSize(2048),
        Property::UserProperty("site", "lab"),
    ];
    opts.properties = &own;
    let app = async {
        client.connected().await.expect("connected");
        client
            .subscribe(&[Subscription::new("twice/#", QoS::AtLeastOnce)], &[])
            .await
            .unwrap();
        let twice = [
            Property::MessageExpiryInterval(10),
            Property::MessageExpiryInterval(20),
        ];
        let e = client
            .publish(
                "twice/a",
                b"x",
                PublishOptions::qos(QoS::AtLeastOnce).properties(&twice),
            )
            .await
            .expect_err("a property twice is refused");
        assert_eq!(
            e,
            Error::Encode(portnet_mqtt::codec::EncodeError::Invalid(
                "property appears twice"
            ))
        );
        assert_eq!(client.unacknowledged(), 0, "nothing left in flight");
        let once = [Property::MessageExpiryInterval(20)];
        client
            .publish(
                "twice/b",
                b"y",
                PublishOptions::qos(QoS::AtLeastOnce).properties(&once),
            )
            .await
            .expect("the connection is still up");
        let m = rx.recv().await;
        assert_eq!((m.topic(), m.payload()), ("twice/b", &b"y"[..]));
        drop(m);
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let (run, ()) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
    run.unwrap();
    let log = broker.log();
    assert!(!log.contains("Protocol error"), "{log}");
}

/// Issue 20 §1.3 against mosquitto: a broker that refuses anonymous clients
/// refuses the CONNECT, and `connected()` says so with the broker's reason
/// (before, it never resolved and the reason was only `run`'s return value).
#[tokio::test]
async fn refused_connect_is_seen_by_connected() {
    let broker = Mosquitto::start_with("allow_anonymous false\n");
    let stack = Tokio::new();
    let mut storage = Store::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    for version in [Version::V5, Version::V3_1_1] {
        let opts = ConnectOptions::new(broker.addr(), "anonymous").version(version);
        let (run, connected) =
            bounded(async { tokio::join!(driver.run(&opts), client.connected()) }).await;
        let Err(Error::Refused(reason)) = run else {
            panic!("{version:?}: {run:?}");
        };
        assert!(reason.is_error(), "{reason:?}");
        assert_eq!(
            connected.map(|_| ()),
            Err(Error::Refused(reason)),
            "{version:?}"
        );
    }
}

/// Issue 20 §1.4 against mosquitto: a second client with the same identifier
/// takes the connection over, mosquitto closes the first one, and the first
/// client's operations fail instead of waiting for a connection nobody makes.
#[tokio::test]
async fn operations_fail_once_mosquitto_closed_the_connection() {
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    let (mut first_store, mut second_store) = (Store::new(), Store::new());
    let mut first_session = Session::new(&mut first_store);
    let mut second_session = Session::new(&mut second_store);
    let (mut a_driver, a, _a_rx) = first_session.split(&stack, stack);
    let (mut b_driver, b, _b_rx) = second_session.split(&stack, stack);
    let opts = ConnectOptions::new(broker.addr(), "taken-over");
    let (a_run, b_run) = bounded(async {
        let b_run = b_driver.run(&opts);
        tokio::pin!(b_run);
        let (a_run, ()) = tokio::join!(a_driver.run(&opts), async {
            a.connected().await.expect("first connected");
            tokio::select! {
                r = &mut b_run => panic!("second run ended: {r:?}"),
                c = b.connected() => { c.expect("second connected"); }
            }
            // Under way as the connection closes, or started after it closed:
            // either way it ends.
            let e = a
                .publish("t", b"x", PublishOptions::qos(QoS::AtLeastOnce))
                .await
                .expect_err("no connection to publish on");
            assert!(
                matches!(
                    e,
                    Error::Closed | Error::Network(_) | Error::ServerDisconnect(_)
                ),
                "{e:?}"
            );
            assert!(a.connected().await.is_err(), "no reconnect is coming");
        });
        let (b_run, ()) = tokio::join!(b_run, b.disconnect(ReasonCode::SUCCESS));
        (a_run, b_run)
    })
    .await;
    assert!(a_run.is_err(), "{a_run:?}");
    b_run.unwrap();
}

/// Issue 20 §1.5: the owned form is a `'static` task of its own — spawned on a
/// `LocalSet`, with no `Box::leak` of storage or session — and runs a whole
/// client against mosquitto.
#[test]
fn owned_client_runs_as_a_spawned_task() {
    let broker = Mosquitto::start();
    let addr = broker.addr();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let task = portnet_mqtt::owned(
        Box::new(Store::new()),
        Tokio::new(),
        Tokio::new(),
        async move |mut driver, client, mut rx| {
            let opts = ConnectOptions::new(addr, "owned");
            let app = async {
                client.connected().await.expect("connected");
                client
                    .subscribe(&[Subscription::new("owned/#", QoS::AtLeastOnce)], &[])
                    .await
                    .unwrap();
                client
                    .publish("owned/t", b"spawned", PublishOptions::qos(QoS::AtLeastOnce))
                    .await
                    .unwrap();
                let m = rx.recv().await;
                let got = (m.topic().to_owned(), m.payload().to_vec());
                drop(m);
                client.disconnect(ReasonCode::SUCCESS).await;
                got
            };
            let (run, got) = tokio::join!(driver.run(&opts), app);
            run.map(|()| got)
        },
    );
    fn is_static<T: 'static>(t: T) -> T {
        t
    }
    let handle = local.spawn_local(is_static(task));
    let got = local
        .block_on(&runtime, async {
            tokio::time::timeout(LIMIT, handle).await
        })
        .expect("bounded")
        .expect("the task ran to its end")
        .expect("run");
    assert_eq!(got, ("owned/t".to_owned(), b"spawned".to_vec()));
}

/// A DISCONNECT's session expiry replaces the CONNECT's at mosquitto: a
/// session made to last an hour, ended with `session_expiry(0)`, is gone at the
/// next connect (no session present), while one ended with a plain DISCONNECT
/// is resumed.
#[tokio::test]
async fn disconnect_session_expiry_ends_the_session_at_mosquitto() {
    let broker = Mosquitto::start();
    let stack = Tokio::new();
    let mut storage = Store::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, _rx) = session.split(&stack, stack);
    let opts = ConnectOptions::new(broker.addr(), "expiry-by-disconnect")
        .clean_start(false)
        .session_expiry(3600);
    let user = [Property::UserProperty("why", "test")];
    for (end_now, resumed_next) in [(false, true), (true, false)] {
        let app = async {
            let info = client.connected().await.expect("connected");
            let d = DisconnectOptions::new(ReasonCode::SUCCESS)
                .reason_string("done")
                .properties(&user);
            let d = if end_now { d.session_expiry(0) } else { d };
            client.disconnect_with(&d).await.expect("disconnected");
            info
        };
        let (run, _) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
        run.expect("a clean end");
        let app = async {
            let info = client.connected().await.expect("connected");
            client.disconnect(ReasonCode::SUCCESS).await;
            info
        };
        let (run, info) = bounded(async { tokio::join!(driver.run(&opts), app) }).await;
        run.expect("a clean end");
        assert_eq!(
            info.session_present, resumed_next,
            "session_expiry(0): {end_now}"
        );
    }
}
