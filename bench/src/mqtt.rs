//! MQTT: portnet-mqtt on portnet-tokio vs rumqttc on tokio, against the same
//! mosquitto in the same run, both speaking MQTT 3.1.1 with 100-byte payloads.

use core::net::SocketAddr;
use core::pin::pin;
use core::time::Duration;
use std::io;
use std::time::Instant;

use portnet::future::join;
use portnet_mqtt::codec::{QoS, ReasonCode, Subscription, Version};
use portnet_mqtt::{ConnectOptions, PublishOptions, Session, Storage};
use portnet_tokio::Tokio;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet};

use crate::broker::Mosquitto;
use crate::{Row, median};

/// Payload of every message.
const PAYLOAD: [u8; 100] = [0xa5; 100];
/// QoS 1 publishes in flight at once.
const IN_FLIGHT: usize = 100;
/// Bound on any one measured run.
const LIMIT: Duration = Duration::from_secs(120);

/// The client's memory: 4 KiB receive, 8 KiB transmit, `IN_FLIGHT` slots.
type Store = Storage<4096, 8192, IN_FLIGHT, 16, 0, 1>;

pub(crate) struct MqttSettings {
    pub(crate) qos0: usize,
    pub(crate) qos1: usize,
    pub(crate) latency_samples: usize,
    pub(crate) repeats: usize,
}

pub(crate) fn err(e: impl core::fmt::Debug) -> io::Error {
    io::Error::other(format!("{e:?}"))
}

fn unique(prefix: &str) -> String {
    use core::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!("{prefix}-{}", N.fetch_add(1, Ordering::Relaxed))
}

async fn bounded<T>(f: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    tokio::time::timeout(LIMIT, f)
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "MQTT run took over 120 s"))?
}

/// Connects a portnet-mqtt client and runs `$body` (with `$client` and `$rx` in
/// scope, returning `io::Result<Duration>`) beside its driver.
macro_rules! with_portnet {
    ($addr:expr, |$client:ident, $rx:ident| $body:expr) => {{
        let stack = Tokio::new();
        let mut storage = Box::new(Store::new());
        let mut session = Session::new(&mut storage);
        let (mut driver, client, rx) = session.split(stack, stack);
        let id = unique("portnet");
        let opts = ConnectOptions::new($addr, &id).version(Version::V3_1_1);
        let app = pin!(async {
            client
                .connected()
                .await
                .expect("the broker accepts the benchmark's client");
            #[allow(unused_mut, unused_variables)]
            let ($client, mut $rx) = (client, rx);
            let elapsed: io::Result<Duration> = $body.await;
            client.disconnect(ReasonCode::SUCCESS).await;
            elapsed
        });
        let run = pin!(driver.run(&opts));
        let (run, elapsed) = bounded(async { Ok(join(run, app).await) }).await?;
        run.map_err(err)?;
        elapsed
    }};
}

async fn qos0_portnet(addr: SocketAddr, n: usize) -> io::Result<Duration> {
    with_portnet!(addr, |client, rx| async {
        let start = Instant::now();
        for _ in 0..n {
            client
                .publish("bench/q0", &PAYLOAD, PublishOptions::qos(QoS::AtMostOnce))
                .await
                .map_err(err)?;
        }
        // A QoS 1 fence: its PUBACK means the broker has read everything before it.
        client
            .publish("bench/q0", &PAYLOAD, PublishOptions::qos(QoS::AtLeastOnce))
            .await
            .map_err(err)?;
        Ok(start.elapsed())
    })
}

async fn qos1_portnet(addr: SocketAddr, n: usize) -> io::Result<Duration> {
    with_portnet!(addr, |client, rx| async {
        let start = Instant::now();
        // IN_FLIGHT workers, each publishing its share one after the other.
        let workers = (0..IN_FLIGHT).map(|w| async move {
            for _ in (w..n).step_by(IN_FLIGHT) {
                let reason = client
                    .publish("bench/q1", &PAYLOAD, PublishOptions::qos(QoS::AtLeastOnce))
                    .await
                    .map_err(err)?;
                if !reason.is_success() {
                    return Err(err(reason));
                }
            }
            Ok::<_, io::Error>(())
        });
        for r in futures_util::future::join_all(workers).await {
            r?;
        }
        Ok(start.elapsed())
    })
}

async fn latency_portnet(addr: SocketAddr, samples: usize, out: &mut Vec<f64>) -> io::Result<()> {
    let topic = unique("bench/lat");
    let mut got = Vec::with_capacity(samples);
    let got_ref = &mut got;
    let topic_ref = topic.as_str();
    with_portnet!(addr, |client, rx| async {
        client
            .subscribe(&[Subscription::new(topic_ref, QoS::AtMostOnce)], &[])
            .await
            .map_err(err)?;
        for _ in 0..samples {
            let start = Instant::now();
            client
                .publish(topic_ref, &PAYLOAD, PublishOptions::qos(QoS::AtMostOnce))
                .await
                .map_err(err)?;
            let message = rx.recv().await;
            if message.payload().len() != PAYLOAD.len() {
                return Err(err("wrong payload"));
            }
            drop(message);
            got_ref.push(start.elapsed().as_secs_f64());
        }
        Ok(Duration::ZERO)
    })?;
    out.extend(got);
    Ok(())
}

fn rumqttc_client(addr: SocketAddr) -> (AsyncClient, rumqttc::EventLoop) {
    let mut options = MqttOptions::new(unique("rumqttc"), addr.ip().to_string(), addr.port());
    options
        .set_keep_alive(Duration::from_secs(60))
        .set_inflight(IN_FLIGHT as u16);
    AsyncClient::new(options, 1000)
}

async fn rumqttc_connected(eventloop: &mut rumqttc::EventLoop) -> io::Result<()> {
    loop {
        if let Event::Incoming(Packet::ConnAck(_)) = eventloop.poll().await.map_err(err)? {
            return Ok(());
        }
    }
}

async fn qos0_rumqttc(addr: SocketAddr, n: usize) -> io::Result<Duration> {
    bounded(async {
        let (client, mut eventloop) = rumqttc_client(addr);
        rumqttc_connected(&mut eventloop).await?;
        let start = Instant::now();
        let publisher = client.clone();
        let task = tokio::spawn(async move {
            for _ in 0..n {
                publisher
                    .publish(
                        "bench/q0",
                        rumqttc::QoS::AtMostOnce,
                        false,
                        PAYLOAD.to_vec(),
                    )
                    .await?;
            }
            publisher
                .publish(
                    "bench/q0",
                    rumqttc::QoS::AtLeastOnce,
                    false,
                    PAYLOAD.to_vec(),
                )
                .await
        });
        loop {
            if let Event::Incoming(Packet::PubAck(_)) = eventloop.poll().await.map_err(err)? {
                break;
            }
        }
        let elapsed = start.elapsed();
        task.await.map_err(err)?.map_err(err)?;
        client.disconnect().await.map_err(err)?;
        Ok(elapsed)
    })
    .await
}

async fn qos1_rumqttc(addr: SocketAddr, n: usize) -> io::Result<Duration> {
    bounded(async {
        let (client, mut eventloop) = rumqttc_client(addr);
        rumqttc_connected(&mut eventloop).await?;
        let start = Instant::now();
        let publisher = client.clone();
        let task = tokio::spawn(async move {
            for _ in 0..n {
                publisher
                    .publish(
                        "bench/q1",
                        rumqttc::QoS::AtLeastOnce,
                        false,
                        PAYLOAD.to_vec(),
                    )
                    .await?;
            }
            Ok::<_, rumqttc::ClientError>(())
        });
        let mut acked = 0;
        while acked < n {
            if let Event::Incoming(Packet::PubAck(_)) = eventloop.poll().await.map_err(err)? {
                acked += 1;
            }
        }
        let elapsed = start.elapsed();
        task.await.map_err(err)?.map_err(err)?;
        client.disconnect().await.map_err(err)?;
        Ok(elapsed)
    })
    .await
}

async fn latency_rumqttc(addr: SocketAddr, samples: usize, out: &mut Vec<f64>) -> io::Result<()> {
    let topic = unique("bench/lat");
    bounded(async {
        let (client, mut eventloop) = rumqttc_client(addr);
        rumqttc_connected(&mut eventloop).await?;
        client
            .subscribe(topic.as_str(), rumqttc::QoS::AtMostOnce)
            .await
            .map_err(err)?;
        loop {
            if let Event::Incoming(Packet::SubAck(_)) = eventloop.poll().await.map_err(err)? {
                break;
            }
        }
        for _ in 0..samples {
            let start = Instant::now();
            client
                .publish(
                    topic.as_str(),
                    rumqttc::QoS::AtMostOnce,
                    false,
                    PAYLOAD.to_vec(),
                )
                .await
                .map_err(err)?;
            loop {
                if let Event::Incoming(Packet::Publish(p)) = eventloop.poll().await.map_err(err)? {
                    if p.payload.len() != PAYLOAD.len() {
                        return Err(err("wrong payload"));
                    }
                    break;
                }
            }
            out.push(start.elapsed().as_secs_f64());
        }
        client.disconnect().await.map_err(err)?;
        Ok(())
    })
    .await
}

fn percentile(mut samples: Vec<f64>, p: f64) -> f64 {
    samples.sort_by(f64::total_cmp);
    let index = ((samples.len() as f64 - 1.0) * p).round() as usize;
    samples[index]
}

/// Runs the MQTT comparisons against one mosquitto of its own.
pub(crate) fn run(settings: &MqttSettings) -> io::Result<Vec<Row>> {
    let broker = Mosquitto::start()?;
    let addr = broker.addr();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();

    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for r in 0..settings.repeats.max(2) {
        // Sides take turns at going first (ABBA).
        if r % 2 == 0 {
            ours.push(
                runtime
                    .block_on(qos0_portnet(addr, settings.qos0))?
                    .as_secs_f64(),
            );
            peer.push(
                runtime
                    .block_on(qos0_rumqttc(addr, settings.qos0))?
                    .as_secs_f64(),
            );
        } else {
            peer.push(
                runtime
                    .block_on(qos0_rumqttc(addr, settings.qos0))?
                    .as_secs_f64(),
            );
            ours.push(
                runtime
                    .block_on(qos0_portnet(addr, settings.qos0))?
                    .as_secs_f64(),
            );
        }
    }
    let n = settings.qos0 as f64;
    let (o, p) = (n / median(ours) / 1e3, n / median(peer) / 1e3);
    rows.push(Row {
        name: "mqtt QoS 0 publish rate, 100 B: portnet-mqtt vs rumqttc",
        ours: o,
        peer: p,
        unit: "k msg/s",
        ratio: o / p,
    });

    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for r in 0..settings.repeats.max(2) {
        // Sides take turns at going first (ABBA).
        if r % 2 == 0 {
            ours.push(
                runtime
                    .block_on(qos1_portnet(addr, settings.qos1))?
                    .as_secs_f64(),
            );
            peer.push(
                runtime
                    .block_on(qos1_rumqttc(addr, settings.qos1))?
                    .as_secs_f64(),
            );
        } else {
            peer.push(
                runtime
                    .block_on(qos1_rumqttc(addr, settings.qos1))?
                    .as_secs_f64(),
            );
            ours.push(
                runtime
                    .block_on(qos1_portnet(addr, settings.qos1))?
                    .as_secs_f64(),
            );
        }
    }
    let n = settings.qos1 as f64;
    let (o, p) = (n / median(ours) / 1e3, n / median(peer) / 1e3);
    rows.push(Row {
        name: "mqtt QoS 1 rate, 100 in flight: portnet-mqtt vs rumqttc",
        ours: o,
        peer: p,
        unit: "k msg/s",
        ratio: o / p,
    });

    let (mut ours, mut peer) = (Vec::new(), Vec::new());
    for r in 0..settings.repeats.max(2) {
        // Sides take turns at going first (ABBA).
        if r % 2 == 0 {
            runtime.block_on(latency_portnet(addr, settings.latency_samples, &mut ours))?;
            runtime.block_on(latency_rumqttc(addr, settings.latency_samples, &mut peer))?;
        } else {
            runtime.block_on(latency_rumqttc(addr, settings.latency_samples, &mut peer))?;
            runtime.block_on(latency_portnet(addr, settings.latency_samples, &mut ours))?;
        }
    }
    for (name, p) in [
        (
            "mqtt publish->receive latency p50: portnet-mqtt vs rumqttc",
            0.5,
        ),
        (
            "mqtt publish->receive latency p99: portnet-mqtt vs rumqttc",
            0.99,
        ),
    ] {
        let (o, q) = (
            percentile(ours.clone(), p) * 1e6,
            percentile(peer.clone(), p) * 1e6,
        );
        rows.push(Row {
            name,
            ours: o,
            peer: q,
            unit: "us",
            ratio: q / o,
        });
    }
    drop(broker);
    Ok(rows)
}

/// The workloads whose client-side instructions `instructions` counts.
const CPU_WORKLOADS: [&str; 4] = ["portnet-q0", "rumqttc-q0", "portnet-q1", "rumqttc-q1"];

/// Child mode (`--callgrind-child WORKLOAD ADDR N`): runs one client workload
/// against the broker at `ADDR`, under callgrind started by [`instructions`].
pub(crate) fn callgrind_child(workload: &str, addr: &str, n: &str) -> io::Result<()> {
    let n: usize = n.parse().map_err(err)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    // The trait-overhead workloads (no broker; `addr` is unused).
    match workload {
        "tcp-portnet" => {
            return runtime
                .block_on(crate::bulk_portnet(&Tokio::new(), n))
                .map(drop);
        }
        "tcp-tokio" => return runtime.block_on(crate::bulk_tokio(n)).map(drop),
        "pp-portnet" => return runtime.block_on(crate::ping_pong_portnet(n)).map(drop),
        "pp-tokio" => return runtime.block_on(crate::ping_pong_tokio(n)).map(drop),
        "wake-bulk" | "wake-idle" => return crate::wake::workload(workload, n).map(drop),
        "lwip-bulk" | "smoltcp-bulk" => return crate::lwip::workload(workload, n),
        "stack-portnet" | "stack-embassy" => return crate::stacks::workload(workload, n),
        _ => {}
    }
    let addr: SocketAddr = addr.parse().map_err(err)?;
    match workload {
        "portnet-q0" => runtime.block_on(qos0_portnet(addr, n)),
        "rumqttc-q0" => runtime.block_on(qos0_rumqttc(addr, n)),
        "portnet-q1" => runtime.block_on(qos1_portnet(addr, n)),
        "rumqttc-q1" => runtime.block_on(qos1_rumqttc(addr, n)),
        other => return Err(err(format!("unknown workload {other}"))),
    }
    .map(drop)
}

/// Instructions the client process executes for one workload of `n` messages
/// (callgrind's total for the whole process; mosquitto is not traced).
pub(crate) fn count(workload: &str, addr: &str, n: usize) -> io::Result<u64> {
    count_in(workload, addr, n, None)
}

/// [`count`], or with `only` (a callgrind function pattern) the instructions
/// executed inside the functions it names, their callees included.
pub(crate) fn count_in(
    workload: &str,
    addr: &str,
    n: usize,
    only: Option<&str>,
) -> io::Result<u64> {
    let out = std::env::temp_dir().join(format!(
        "portnet-bench-callgrind-{}-{workload}-{n}.out",
        std::process::id()
    ));
    let mut valgrind = std::process::Command::new("valgrind");
    valgrind.arg("--tool=callgrind");
    if let Some(pattern) = only {
        valgrind.arg(format!("--toggle-collect={pattern}"));
    }
    let status = valgrind
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(std::env::current_exe()?)
        .args(["--callgrind-child", workload, addr, &n.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("valgrind: {e} (cargo xtask setup installs it)"),
            )
        })?;
    let text = std::fs::read_to_string(&out);
    let _ = std::fs::remove_file(&out);
    if !status.success() {
        return Err(err(format!("callgrind run of {workload} failed: {status}")));
    }
    text?
        .lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .ok_or_else(|| err("no instruction total in callgrind's output"))
}

/// Client instructions per message (callgrind), portnet-mqtt vs rumqttc: the
/// total of a run of `n` messages minus that of a run of none, over `n`.
pub(crate) fn instructions(n: usize) -> io::Result<Vec<Row>> {
    let broker = Mosquitto::start()?;
    let addr = broker.addr();
    let mut per_message = Vec::new();
    for workload in CPU_WORKLOADS {
        let full = count(workload, &addr.to_string(), n)?;
        let base = count(workload, &addr.to_string(), 0)?;
        per_message.push(full.saturating_sub(base) as f64 / n as f64);
    }
    let row = |name, ours: f64, peer: f64| Row {
        name,
        ours,
        peer,
        unit: "instr/msg",
        ratio: peer / ours,
    };
    Ok(vec![
        row(
            "mqtt QoS 0 client instructions (callgrind): portnet-mqtt vs rumqttc",
            per_message[0],
            per_message[1],
        ),
        row(
            "mqtt QoS 1 client instructions (callgrind): portnet-mqtt vs rumqttc",
            per_message[2],
            per_message[3],
        ),
    ])
}
