//! Broker chaos: mosquitto with persistence is killed with SIGKILL and restarted on
//! the same port, again and again, while two publishers (5.0 and 3.1.1) send QoS 1
//! and QoS 2 messages and two persistent subscribers (5.0 and 3.1.1) receive them.
//! Every client reconnects on its own and resumes its session. At the end each
//! subscriber must have received every acknowledged message (nothing lost at QoS 1
//! and 2) and no QoS 2 message twice; QoS 1 duplicates are counted, as QoS 1 allows
//! them.
//!
//! Status: ignored by default; the assertions stay strict and fail against
//! mosquitto 2.0.11, whose persisted session state is older than what it has
//! told its clients, even on SIGTERM: it re-sends a QoS 2 PUBLISH (DUP) whose
//! PUBREL it had already sent, so the client rightly delivers it again. With
//! `PORTNET_CHAOS_SIGNAL=TERM` the restarts are clean (SIGTERM). Figures and the
//! broker-log evidence are in docs/reliability.md.
//! Run it with `cargo test -p portnet-mqtt --test chaos -- --ignored --nocapture`.
//!
//! Length: `PORTNET_CHAOS_ROUNDS` kills (default 5), or, when
//! `PORTNET_CHAOS_SECONDS` is set, kills until that many seconds have passed
//! (`cargo xtask chaos --minutes 10`).

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::Mosquitto;
use portnet_mqtt::codec::{QoS, ReasonCode, Subscription, Version};
use portnet_mqtt::{ConnectOptions, Driver, Error, PublishOptions, Session, Storage};
use portnet_tokio::Tokio;
use tokio::sync::Notify;

/// Receive maximum (`INBOUND`) 256: mosquitto 2.0.11 sends more unacknowledged
/// QoS 1/2 messages than a client's receive maximum (16 was exceeded at once:
/// the 5.0 subscriber rightly disconnected with 0x93; see docs/reliability.md),
/// and after a SIGKILL it forgets QoS 2 identifiers awaiting PUBREL, which then
/// occupy the table for good.
type Store = Storage<4096, 4096, 8, 256, 0, 2>;

const PUBLISHERS: [(&str, Version); 2] = [
    ("chaos-pub-5", Version::V5),
    ("chaos-pub-3", Version::V3_1_1),
];
const SUBSCRIBERS: [(&str, Version); 2] = [
    ("chaos-sub-5", Version::V5),
    ("chaos-sub-3", Version::V3_1_1),
];

/// How long the chaos lasts.
#[derive(Debug, Clone, Copy)]
enum Length {
    Rounds(u32),
    Seconds(u64),
}

impl Length {
    fn from_env() -> Self {
        let number = |name: &str| {
            std::env::var(name).ok().map(|v| {
                v.parse::<u64>()
                    .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}"))
            })
        };
        match (
            number("PORTNET_CHAOS_SECONDS"),
            number("PORTNET_CHAOS_ROUNDS"),
        ) {
            (Some(s), _) => Self::Seconds(s),
            (None, Some(r)) => Self::Rounds(u32::try_from(r).expect("rounds fit u32")),
            (None, None) => Self::Rounds(5),
        }
    }

    /// A bound for the whole test, so that a hang fails instead of waiting forever.
    fn bound(self) -> Duration {
        match self {
            Self::Rounds(r) => Duration::from_secs(60 + 20 * u64::from(r)),
            Self::Seconds(s) => Duration::from_secs(180 + s * 2),
        }
    }
}

/// What every client shares with the others (one thread, so `Cell`s).
#[derive(Default)]
struct Shared {
    /// The chaos is over: publishers stop after their current message.
    done: Cell<bool>,
    /// Publishers that have sent their last message.
    publishers_finished: Cell<usize>,
    /// Messages received by all subscribers together (drives the killer).
    received: Cell<u64>,
    progress: Notify,
    finished: Notify,
    /// (publisher, sequence number) → QoS of every acknowledged publish.
    sent: RefCell<HashMap<(usize, u64), QoS>>,
    /// Per subscriber: (publisher, sequence number) → how often delivered.
    delivered: RefCell<Vec<HashMap<(usize, u64), u32>>>,
    reconnects: Cell<u64>,
    /// Protocol violations by the broker that ended a connection.
    violations: RefCell<Vec<Error>>,
}

/// Runs `driver` until the application disconnects, reconnecting after every
/// failure the chaos causes (bounded in attempts; the test's bound limits time).
async fn run_reconnecting(
    driver: &mut Driver<'_, &Tokio, Tokio>,
    opts: &ConnectOptions<'_>,
    shared: &Shared,
) {
    for _ in 0..1_000_000 {
        match driver.run(opts).await {
            Ok(()) => return,
            Err(Error::Network(_) | Error::Closed | Error::Timeout) => {
                shared.reconnects.set(shared.reconnects.get() + 1);
                // Retry delay while the broker restarts (not a synchronisation).
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e @ Error::Protocol(..)) => {
                // The broker broke the protocol (a restarted mosquitto exceeds the
                // receive maximum with identifiers it forgot): counted, reported,
                // and the client reconnects so that the counts can be made.
                shared.violations.borrow_mut().push(e);
                shared.reconnects.set(shared.reconnects.get() + 1);
                // Retry delay while the broker restarts (not a synchronisation).
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("driver failed: {e}"),
        }
    }
    panic!("a client made a million connection attempts");
}

async fn publisher(index: usize, client: portnet_mqtt::Client<'_>, shared: &Shared) {
    for seq in 0..10_000_000u64 {
        if shared.done.get() {
            break;
        }
        let qos = if seq % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        let topic = format!("chaos/{index}/{}", qos as u8);
        let payload = format!("{index}:{seq}");
        let reason = client
            .publish(&topic, payload.as_bytes(), PublishOptions::qos(qos))
            .await
            .unwrap_or_else(|e| panic!("publish {payload}: {e}"));
        assert!(reason.is_success());
        shared.sent.borrow_mut().insert((index, seq), qos);
    }
    shared
        .publishers_finished
        .set(shared.publishers_finished.get() + 1);
    shared.finished.notify_waiters();
    client.disconnect(ReasonCode::SUCCESS).await;
}

async fn subscriber(
    index: usize,
    client: portnet_mqtt::Client<'_>,
    rx: &mut portnet_mqtt::Receiver<'_>,
    shared: &Shared,
) {
    // Attempts fail while the broker is down; each failure resolves `connected`.
    while client.connected().await.is_err() {}
    let sentinel = format!("chaos/end/{index}");
    let receive = async {
        for _ in 0..100_000_000u64 {
            let m = rx.recv().await;
            let topic = m.topic();
            if topic == sentinel {
                return;
            }
            if topic.starts_with("chaos/end/") {
                continue;
            }
            let text = std::str::from_utf8(m.payload()).expect("UTF-8 payload");
            let (p, s) = text.split_once(':').expect("publisher:sequence");
            let key = (p.parse().unwrap(), s.parse().unwrap());
            *shared.delivered.borrow_mut()[index].entry(key).or_default() += 1;
            drop(m);
            shared.received.set(shared.received.get() + 1);
            shared.progress.notify_waiters();
        }
        panic!("more than 10^8 messages");
    };
    let end = async {
        // When every publisher is through, a sentinel queues behind their messages.
        loop {
            let finished = shared.finished.notified();
            if shared.publishers_finished.get() == PUBLISHERS.len() {
                break;
            }
            finished.await;
        }
        client
            .publish(&sentinel, b"", PublishOptions::qos(QoS::ExactlyOnce))
            .await
            .unwrap();
    };
    tokio::join!(receive, end);
    client.disconnect(ReasonCode::SUCCESS).await;
}

/// Waits until the subscribers have received `n` more messages.
async fn traffic(shared: &Shared, n: u64) {
    let target = shared.received.get() + n;
    loop {
        let progress = shared.progress.notified();
        if shared.received.get() >= target {
            return;
        }
        progress.await;
    }
}

#[tokio::test]
#[ignore = "mosquitto loses acknowledged session state on SIGKILL; see docs/reliability.md"]
async fn broker_killed_and_restarted_during_qos1_qos2_traffic() {
    let length = Length::from_env();
    // PORTNET_CHAOS_SIGNAL=TERM: clean restarts (mosquitto saves first), to tell
    // the client's side from the broker's losses under SIGKILL.
    let clean = std::env::var("PORTNET_CHAOS_SIGNAL").is_ok_and(|s| s == "TERM");
    // Save the database after every change, so that what mosquitto acknowledged
    // survives SIGKILL as far as mosquitto allows.
    let broker = Mosquitto::start_persistent_with(
        "autosave_on_changes true\nautosave_interval 1\nmax_queued_messages 0\nmax_inflight_messages 0\nset_tcp_nodelay true\n",
    );
    let addr = broker.addr();
    let stack = Tokio::new();
    let shared = Shared {
        delivered: RefCell::new(vec![HashMap::new(); SUBSCRIBERS.len()]),
        ..Shared::default()
    };

    let opts = |(id, version): (&'static str, Version)| {
        ConnectOptions::new(addr, id)
            .version(version)
            .persistent(3600)
            .keep_alive(5)
    };
    let mut stores: Vec<Store> = (0..4).map(|_| Store::new()).collect();
    let mut sessions: Vec<Session<'_>> = stores.iter_mut().map(Session::new).collect();
    let mut parts: Vec<_> = sessions
        .iter_mut()
        .map(|s| s.split(&stack, stack))
        .collect();
    let (sub_parts, pub_parts) = parts.split_at_mut(2);

    // The subscribers make their persistent subscriptions first.
    for (i, (driver, client, _)) in sub_parts.iter_mut().enumerate() {
        let o = opts(SUBSCRIBERS[i]);
        let app = async {
            client.connected().await.expect("connected");
            let codes = client
                .subscribe(&[Subscription::new("chaos/#", QoS::ExactlyOnce)], &[])
                .await
                .unwrap();
            assert!(codes.codes()[0].is_success());
            client.disconnect(ReasonCode::SUCCESS).await;
        };
        let (r, ()) = tokio::join!(driver.run(&o), app);
        r.unwrap();
    }

    let started = Instant::now();
    let mut rounds = 0u32;
    let killer = async {
        let mut broker = broker;
        loop {
            let more = match length {
                Length::Rounds(r) => rounds < r,
                Length::Seconds(s) => started.elapsed() < Duration::from_secs(s),
            };
            if !more {
                break;
            }
            // Kill at varying points of the traffic.
            traffic(&shared, 40 + u64::from(rounds * 37 % 160)).await;
            broker = tokio::task::spawn_blocking(move || {
                if clean {
                    broker.restart();
                } else {
                    broker.kill_and_restart();
                }
                broker
            })
            .await
            .unwrap();
            rounds += 1;
        }
        // Some traffic after the last restart, then the publishers stop.
        traffic(&shared, 100).await;
        shared.done.set(true);
        broker
    };

    let sub_opts: Vec<_> = SUBSCRIBERS.iter().map(|&s| opts(s)).collect();
    let pub_opts: Vec<_> = PUBLISHERS.iter().map(|&p| opts(p)).collect();
    let shared_ref = &shared;
    let mut clients = Vec::new();
    for (i, (driver, client, rx)) in sub_parts.iter_mut().enumerate() {
        let o = &sub_opts[i];
        let client = *client;
        clients.push(Box::pin(async move {
            tokio::join!(
                run_reconnecting(driver, o, shared_ref),
                subscriber(i, client, rx, shared_ref)
            );
        })
            as std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>);
    }
    for (i, (driver, client, _)) in pub_parts.iter_mut().enumerate() {
        let o = &pub_opts[i];
        let client = *client;
        clients.push(Box::pin(async move {
            tokio::join!(
                run_reconnecting(driver, o, shared_ref),
                publisher(i, client, shared_ref)
            );
        }));
    }
    // All clients at once, on this thread (their handles are not `Send`).
    let all_clients = async {
        let mut pending: Vec<_> = clients.into_iter().map(Some).collect();
        std::future::poll_fn(|cx| {
            for slot in pending.iter_mut() {
                if let Some(f) = slot
                    && f.as_mut().poll(cx).is_ready()
                {
                    *slot = None;
                }
            }
            if pending.iter().all(Option::is_none) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await;
    };
    let run = async { tokio::join!(killer, all_clients) };
    let timed_out = tokio::time::timeout(length.bound(), run).await;
    let elapsed = started.elapsed();
    let (report, failures) = count(&shared, rounds, clean, elapsed);
    let broker = match timed_out {
        Ok((broker, ())) => broker,
        Err(_) => panic!(
            "chaos run exceeded {:?} (stalled); counts so far, messages still in flight count as lost:\n{report}",
            length.bound()
        ),
    };
    eprintln!("{report}");
    assert!(rounds > 0, "no restart happened");
    assert!(
        failures.is_empty(),
        "{report}\nfailed: {failures:?}\nbroker log tail:\n{}",
        broker
            .log()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Per subscriber: messages received, lost and duplicated at each QoS, against
/// what the publishers had acknowledged; the report and the failed subscribers.
fn count(
    shared: &Shared,
    rounds: u32,
    clean: bool,
    elapsed: Duration,
) -> (String, Vec<&'static str>) {
    let sent = shared.sent.borrow();
    let by_qos = |q: QoS| sent.values().filter(|&&x| x == q).count();
    let (sent1, sent2) = (by_qos(QoS::AtLeastOnce), by_qos(QoS::ExactlyOnce));
    let mut report = format!(
        "chaos: {rounds} {} restarts in {:.1} s, {} reconnects; sent QoS 1 {sent1}, QoS 2 {sent2}",
        if clean { "SIGTERM" } else { "SIGKILL" },
        elapsed.as_secs_f64(),
        shared.reconnects.get()
    );
    let violations = shared.violations.borrow();
    if !violations.is_empty() {
        report += &format!(
            "; {} connections ended by a broker protocol violation (first: {})",
            violations.len(),
            violations[0]
        );
    }
    let mut failures = Vec::new();
    for (s, delivered) in shared.delivered.borrow().iter().enumerate() {
        let (mut lost1, mut lost2, mut dup1, mut dup2, mut received) = (0, 0, 0, 0, 0);
        for (key, &qos) in sent.iter() {
            match (delivered.get(key).copied().unwrap_or(0), qos) {
                (0, QoS::AtLeastOnce) => lost1 += 1,
                (0, _) => lost2 += 1,
                (n, QoS::AtLeastOnce) => dup1 += n - 1,
                (n, _) => dup2 += n - 1,
            }
        }
        for n in delivered.values() {
            received += n;
        }
        let unknown = delivered.keys().filter(|k| !sent.contains_key(k)).count();
        report += &format!(
            "\n  {}: received {received}, lost QoS 1 {lost1}, lost QoS 2 {lost2}, duplicated QoS 1 {dup1}, duplicated QoS 2 {dup2}, never sent {unknown}",
            SUBSCRIBERS[s].0
        );
        if lost1 + lost2 + dup2 > 0 || unknown > 0 {
            failures.push(SUBSCRIBERS[s].0);
        }
    }
    (report, failures)
}
