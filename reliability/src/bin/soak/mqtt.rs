//! MQTT QoS 1 and 2 traffic over the faulty in-memory link, to a real mosquitto.
//!
//! The portnet MQTT client runs on stack `a` (the stack under test, smoltcp or
//! lwIP: [`Rig`]); stack `b` (smoltcp) runs a relay that accepts
//! the client's connections on port 1883 and forwards each, byte for byte, to a
//! mosquitto on a loopback socket (a std `TcpStream`, read by a thread of its
//! own). The relay knows just enough MQTT to count the answers the broker owes
//! (CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, PINGRESP) and holds
//! the virtual clock ([`VirtualClock::hold`]) while any is owed, so that the
//! broker's real-time answer is not mistaken for a timeout in virtual time.
//!
//! Per seed: a subscriber makes a persistent QoS 2 subscription, then a publisher
//! sends alternating QoS 1 and QoS 2 messages, each awaited until acknowledged,
//! then a sentinel. The subscriber must receive every acknowledged message (none
//! lost at QoS 1 or 2) and each QoS 2 message once; QoS 1 duplicates are counted.
//! Both clients reconnect by themselves if the link breaks a connection.

use core::cell::{Cell, RefCell};
use core::future::{Future, poll_fn};
use core::net::SocketAddr;
use core::pin::Pin;
use core::task::{Poll, Waker};
use core::time::Duration;
use std::collections::{HashMap, VecDeque};
use std::io::{Read as _, Write as _};
use std::sync::{Arc, Mutex};

use portnet::future::{Either, join, select};
use portnet::{Clock, ReadExt, TcpConnect, TcpListen, TcpListener, TcpStream, WriteExt};
use portnet_links::{Hold, VirtualClock};
use portnet_mqtt::codec::{QoS, ReasonCode, Subscription, Version};
use portnet_mqtt::{ConnectOptions, Driver, Error, PublishOptions, Session, Storage};
use portnet_smoltcp::sim::{B_V4, SimStack};

use crate::Rig;

/// The publisher's memory.
type PubStore = Storage<4096, 4096, 8, 16, 0, 2>;
/// The subscriber's memory: a receive maximum (`INBOUND`) of 256, because
/// mosquitto 2.0.11 sends more unacknowledged QoS 1/2 messages than a client's
/// receive maximum after it resumes a session (docs/reliability.md); with 16, a
/// 5.0 subscriber rightly disconnects with 0x93 after a cut connection.
type SubStore = Storage<4096, 4096, 8, 256, 0, 2>;

/// The memory of the subscriber of the resumed-session case: room to hold
/// [`HELD`] messages the application has not taken.
type HeldStore = Storage<4096, 4096, 8, 256, 0, 3>;

/// Messages the resumed-session case leaves untaken across the cut.
const HELD: u64 = 3;

/// The port the relay listens on, on stack `b`.
const RELAY_PORT: u16 = 1883;

/// What one seed's MQTT run counted.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) sent_qos1: u64,
    pub(crate) sent_qos2: u64,
    pub(crate) received: u64,
    pub(crate) duplicated_qos1: u64,
    pub(crate) reconnects: u64,
    pub(crate) relayed_connections: u64,
    pub(crate) cuts: u64,
}

/// Bytes from the broker, filled by the relay's reader thread.
#[derive(Default)]
struct Inbox {
    data: VecDeque<u8>,
    eof: bool,
    waker: Option<Waker>,
}

/// Finds packet boundaries in one direction of an MQTT byte stream and reports
/// each packet's first byte.
#[derive(Default)]
struct Frames {
    /// The first byte of the packet whose length is being read.
    first: Option<u8>,
    length: usize,
    shift: u32,
    /// Body bytes still to skip.
    body: usize,
}

impl Frames {
    fn feed(&mut self, mut bytes: &[u8], mut packet: impl FnMut(u8)) {
        while !bytes.is_empty() {
            if self.body > 0 {
                let n = self.body.min(bytes.len());
                self.body -= n;
                bytes = &bytes[n..];
                continue;
            }
            let b = bytes[0];
            bytes = &bytes[1..];
            match self.first {
                None => {
                    self.first = Some(b);
                    self.length = 0;
                    self.shift = 0;
                }
                Some(first) => {
                    self.length |= usize::from(b & 0x7f) << self.shift;
                    self.shift += 7;
                    if b & 0x80 == 0 || self.shift >= 28 {
                        packet(first);
                        self.first = None;
                        self.body = self.length;
                    }
                }
            }
        }
    }
}

/// Does a packet the client sends (by its first byte) call for an answer?
fn owes_answer(first: u8) -> bool {
    match first >> 4 {
        3 => (first >> 1) & 3 != 0,      // PUBLISH at QoS 1 or 2
        1 | 5 | 6 | 8 | 10 | 12 => true, // CONNECT, PUBREC, PUBREL, SUBSCRIBE, UNSUBSCRIBE, PINGREQ
        _ => false,
    }
}

/// Is a packet the broker sends (by its first byte) an answer?
fn is_answer(first: u8) -> bool {
    matches!(first >> 4, 2 | 4 | 5 | 6 | 7 | 9 | 11 | 13)
}

/// Answers owed by the broker on one relayed connection, and the clock hold
/// that lives while any is.
struct Owed<'c> {
    clock: &'c VirtualClock,
    count: Cell<u32>,
    hold: RefCell<Option<Hold>>,
}

impl Owed<'_> {
    fn add(&self) {
        self.count.set(self.count.get() + 1);
        let mut hold = self.hold.borrow_mut();
        if hold.is_none() {
            *hold = Some(self.clock.hold());
        }
    }

    fn answered(&self) {
        self.count.set(self.count.get().saturating_sub(1));
        if self.count.get() == 0 {
            self.hold.borrow_mut().take();
        }
    }
}

/// What a run can ask of the relay and learn from it, beyond its seeded cuts.
#[derive(Default)]
struct Taps {
    /// Bumped to cut every connection open at that moment, as a broken path would.
    cut_all: Cell<u64>,
    /// PUBLISH packets the broker sent with the DUP flag: its resends.
    dup_publishes: Cell<u64>,
}

/// Relays one accepted connection to the broker until either side closes, or,
/// with `cut_after`, until the client has sent that many packets, or until
/// `taps.cut_all` changes: then the relay cuts both sides mid-stream (bytes in
/// flight either way are dropped), as a broken network path would.
async fn pump<S: TcpStream>(
    mut conn: S,
    broker: SocketAddr,
    clock: &VirtualClock,
    cut_after: Option<u32>,
    cuts: &Cell<u64>,
    taps: &Taps,
) {
    let Ok(stream) = std::net::TcpStream::connect(broker) else {
        let _ = conn.close().await;
        return;
    };
    let _ = stream.set_nodelay(true);
    let inbox = Arc::new(Mutex::new(Inbox::default()));
    let reader = {
        let inbox = inbox.clone();
        let mut stream = stream.try_clone().expect("clone a loopback socket");
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            loop {
                let n = stream.read(&mut buf).unwrap_or(0);
                let mut inbox = inbox.lock().expect("inbox lock");
                if n == 0 {
                    inbox.eof = true;
                } else {
                    inbox.data.extend(&buf[..n]);
                }
                if let Some(waker) = inbox.waker.take() {
                    waker.wake();
                }
                if n == 0 {
                    return;
                }
            }
        })
    };
    let owed = Owed {
        clock,
        count: Cell::new(0),
        hold: RefCell::new(None),
    };
    let closing: RefCell<Option<Hold>> = RefCell::new(None);
    let (mut rx, mut tx) = conn.split();
    let up = async {
        let mut frames = Frames::default();
        let mut buf = [0u8; 4096];
        let mut packets = 0u32;
        loop {
            let n = match rx.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            frames.feed(&buf[..n], |first| {
                packets += 1;
                if owes_answer(first) {
                    owed.add();
                }
            });
            if cut_after.is_some_and(|cut| packets >= cut) {
                cuts.set(cuts.get() + 1);
                break;
            }
            // A loopback socket with room: the write does not block for long.
            if (&stream).write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = stream.shutdown(std::net::Shutdown::Both);
        // The reader thread's EOF is sure to come: wait for it in real time.
        *closing.borrow_mut() = Some(clock.hold());
    };
    let down = async {
        let mut frames = Frames::default();
        loop {
            let chunk: Option<Vec<u8>> = poll_fn(|cx| {
                let mut inbox = inbox.lock().expect("inbox lock");
                if !inbox.data.is_empty() {
                    return Poll::Ready(Some(inbox.data.drain(..).collect()));
                }
                if inbox.eof {
                    return Poll::Ready(None);
                }
                inbox.waker = Some(cx.waker().clone());
                Poll::Pending
            })
            .await;
            let Some(chunk) = chunk else { break };
            frames.feed(&chunk, |first| {
                if is_answer(first) {
                    owed.answered();
                }
                if first >> 4 == 3 && first & 0x08 != 0 {
                    taps.dup_publishes.set(taps.dup_publishes.get() + 1);
                }
            });
            if tx.write_all(&chunk).await.is_err() {
                break;
            }
        }
        owed.hold.borrow_mut().take();
        closing.borrow_mut().take();
        let _ = tx.close().await;
    };
    let generation = taps.cut_all.get();
    // Every future of the run shares one waker (see `run_seed`), so this is
    // polled right after the application bumps `cut_all`.
    let cut_now = poll_fn(|_| {
        if taps.cut_all.get() == generation {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    });
    let relayed = select(
        Box::pin(join(Box::pin(up), Box::pin(down))),
        Box::pin(cut_now),
    )
    .await;
    let was_cut = matches!(relayed, Either::Right(()));
    // Whatever the relay waited for is moot once it stops.
    owed.hold.borrow_mut().take();
    closing.borrow_mut().take();
    drop((rx, tx));
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = reader.join();
    if was_cut {
        cuts.set(cuts.get() + 1);
        let _ = conn.close().await;
    }
}

/// Accepts connections on stack `b` and relays each to `broker`; never returns
/// unless accepting fails.
async fn relay(
    stack: &'static SimStack,
    clock: &VirtualClock,
    broker: SocketAddr,
    connections: &Cell<u64>,
    cut: &Cell<u64>,
    taps: &Taps,
    mut cuts: impl FnMut() -> Option<u32>,
) -> String {
    let listener = match stack.listen(SocketAddr::new(B_V4.into(), RELAY_PORT)).await {
        Ok(l) => l,
        Err(e) => return format!("relay listen: {e}"),
    };
    let mut accept = Box::pin(listener.accept());
    let mut pumps: Vec<Pin<Box<dyn Future<Output = ()> + '_>>> = Vec::new();
    poll_fn(|cx| {
        while let Poll::Ready(accepted) = accept.as_mut().poll(cx) {
            match accepted {
                Ok((conn, _)) => {
                    connections.set(connections.get() + 1);
                    pumps.push(Box::pin(pump(conn, broker, clock, cuts(), cut, taps)));
                    accept = Box::pin(listener.accept());
                }
                Err(e) => return Poll::Ready(format!("relay accept: {e}")),
            }
        }
        pumps.retain_mut(|p| p.as_mut().poll(cx).is_pending());
        Poll::Pending
    })
    .await
}

/// Runs `driver` until the application disconnects, reconnecting after the
/// failures a faulty link causes (bounded in attempts; the run's virtual time
/// limit bounds the rest).
async fn run_reconnecting<S: TcpConnect>(
    driver: &mut Driver<'_, S, VirtualClock>,
    opts: &ConnectOptions<'_>,
    clock: &VirtualClock,
    reconnects: &Cell<u64>,
    failed: &RefCell<Option<String>>,
) -> Result<(), String> {
    let result = async {
        for _ in 0..10_000 {
            match driver.run(opts).await {
                Ok(()) => return Ok(()),
                Err(Error::Network(_) | Error::Closed | Error::Timeout) => {
                    reconnects.set(reconnects.get() + 1);
                    clock.sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(format!("driver {}: {e}", opts.client_id)),
            }
        }
        Err(format!("{}: 10 000 reconnects", opts.client_id))
    }
    .await;
    if let Err(e) = &result {
        // Ends the whole run: the application would wait for this client forever.
        failed.borrow_mut().get_or_insert_with(|| e.clone());
    }
    result
}

/// One seed's MQTT run on `pair`: `messages` publishes through the relay to the
/// mosquitto at `broker`, every one checked at the subscriber; the relay cuts
/// the first `cuts` connections after a seeded number of packets (5 to 64), so
/// that both clients resume their sessions mid-traffic.
pub(crate) fn run_seed<R: Rig>(
    pair: &R,
    broker: SocketAddr,
    seed: u64,
    messages: u64,
    cuts: u32,
) -> Result<Counts, String> {
    let version = if seed.is_multiple_of(2) {
        Version::V5
    } else {
        Version::V3_1_1
    };
    let relay_addr = SocketAddr::new(B_V4.into(), RELAY_PORT);
    let tag = format!("{}-{seed}", std::process::id());
    let sub_id = format!("soak-sub-{tag}");
    let pub_id = format!("soak-pub-{tag}");
    fn opts(relay_addr: SocketAddr, id: &str, version: Version) -> ConnectOptions<'_> {
        ConnectOptions::new(relay_addr, id)
            .version(version)
            .persistent(3600)
            .keep_alive(30)
    }
    let sub_opts = opts(relay_addr, &sub_id, version);
    let pub_opts = opts(relay_addr, &pub_id, version);
    let prefix = format!("soak/{tag}");
    let sentinel = format!("{prefix}/end");

    let mut sub_store = Box::new(SubStore::new());
    let mut pub_store = Box::new(PubStore::new());
    let mut sub_session = Session::new(&mut *sub_store);
    let mut pub_session = Session::new(&mut *pub_store);
    let (mut sub_driver, sub, mut rx) = sub_session.split(pair.a(), pair.clock().clone());
    let (mut pub_driver, publisher, _) = pub_session.split(pair.a(), pair.clock().clone());

    let reconnects = Cell::new(0u64);
    let connections = Cell::new(0u64);
    let sent: RefCell<HashMap<u64, QoS>> = RefCell::new(HashMap::new());
    let delivered: RefCell<HashMap<u64, u32>> = RefCell::new(HashMap::new());
    let publishing_done = Cell::new(false);
    let failed: RefCell<Option<String>> = RefCell::new(None);
    let clock = pair.clock();

    let work = async {
        // The persistent subscription first.
        let subscribe = async {
            // Attempts fail while faults cut the connection; each resolves `connected`.
            while sub.connected().await.is_err() {}
            let codes = sub
                .subscribe(
                    &[Subscription::new(&format!("{prefix}/#"), QoS::ExactlyOnce)],
                    &[],
                )
                .await
                .map_err(|e| format!("subscribe: {e}"))?;
            if !codes.codes()[0].is_success() {
                return Err(format!("subscribe refused: {:?}", codes.codes()));
            }
            Ok::<_, String>(())
        };
        let (ran, subscribed) = join(
            Box::pin(run_reconnecting(
                &mut sub_driver,
                &sub_opts,
                clock,
                &reconnects,
                &failed,
            )),
            Box::pin(async {
                let r = subscribe.await;
                sub.disconnect(ReasonCode::SUCCESS).await;
                r
            }),
        )
        .await;
        ran?;
        subscribed?;

        let publish = async {
            for seq in 0..messages {
                let qos = if seq.is_multiple_of(2) {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                };
                let topic = format!("{prefix}/{}", qos as u8);
                let reason = publisher
                    .publish(&topic, seq.to_string().as_bytes(), PublishOptions::qos(qos))
                    .await
                    .map_err(|e| format!("publish {seq}: {e}"))?;
                if !reason.is_success() {
                    return Err(format!("publish {seq}: {reason:?}"));
                }
                sent.borrow_mut().insert(seq, qos);
            }
            publishing_done.set(true);
            publisher
                .publish(&sentinel, b"", PublishOptions::qos(QoS::ExactlyOnce))
                .await
                .map_err(|e| format!("sentinel: {e}"))?;
            Ok::<_, String>(())
        };
        let receive = async {
            let mut sentinel_seen = false;
            for _ in 0..100_000_000u64 {
                if sentinel_seen
                    && publishing_done.get()
                    && sent
                        .borrow()
                        .keys()
                        .all(|k| delivered.borrow().contains_key(k))
                {
                    return Ok(());
                }
                let m = rx.recv().await;
                if m.topic() == sentinel {
                    sentinel_seen = true;
                    continue;
                }
                let seq: u64 = core::str::from_utf8(m.payload())
                    .ok()
                    .and_then(|t| t.parse().ok())
                    .ok_or_else(|| format!("unexpected payload {:?}", m.payload()))?;
                *delivered.borrow_mut().entry(seq).or_default() += 1;
            }
            Err("more than 10^8 messages".to_string())
        };
        let (sub_ran, (pub_ran, (published, received))) = join(
            Box::pin(run_reconnecting(
                &mut sub_driver,
                &sub_opts,
                clock,
                &reconnects,
                &failed,
            )),
            Box::pin(join(
                Box::pin(run_reconnecting(
                    &mut pub_driver,
                    &pub_opts,
                    clock,
                    &reconnects,
                    &failed,
                )),
                Box::pin(join(
                    Box::pin(async {
                        let r = publish.await;
                        publisher.disconnect(ReasonCode::SUCCESS).await;
                        r
                    }),
                    Box::pin(async {
                        let r = receive.await;
                        sub.disconnect(ReasonCode::SUCCESS).await;
                        r
                    }),
                )),
            )),
        )
        .await;
        sub_ran?;
        pub_ran?;
        published?;
        received
    };
    let assigned = Cell::new(0u32);
    let cut = Cell::new(0u64);
    let next_cut = || {
        let k = assigned.get();
        assigned.set(k + 1);
        // A small seeded hash: the packet count after which connection k is cut.
        let h = (seed ^ (u64::from(k) << 32)).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 58;
        (k < cuts).then_some(5 + h as u32)
    };
    let taps = Taps::default();
    let relay = relay(pair.b(), clock, broker, &connections, &cut, &taps, next_cut);
    // Every future of the run shares one waker, so this is polled whenever
    // anything happened.
    let failure = poll_fn(|_| match failed.borrow_mut().take() {
        Some(e) => Poll::Ready(e),
        None => Poll::Pending,
    });
    let outcome = pair
        .run(select(
            Box::pin(work),
            Box::pin(select(Box::pin(relay), Box::pin(failure))),
        ))
        .map_err(|stall| format!("mqtt: {stall}"))?;
    match outcome {
        Either::Left(result) => result?,
        Either::Right(Either::Left(e) | Either::Right(e)) => return Err(e),
    }

    let sent = sent.into_inner();
    let delivered = delivered.into_inner();
    let mut counts = Counts {
        reconnects: reconnects.get(),
        relayed_connections: connections.get(),
        cuts: cut.get(),
        ..Counts::default()
    };
    let mut problems = Vec::new();
    for (seq, qos) in &sent {
        let n = delivered.get(seq).copied().unwrap_or(0);
        match qos {
            QoS::AtLeastOnce => {
                counts.sent_qos1 += 1;
                counts.duplicated_qos1 += u64::from(n.saturating_sub(1));
            }
            _ => {
                counts.sent_qos2 += 1;
                if n > 1 {
                    problems.push(format!("QoS 2 message {seq} delivered {n} times"));
                }
            }
        }
        if n == 0 {
            problems.push(format!("{qos:?} message {seq} lost"));
        }
    }
    for (seq, n) in &delivered {
        counts.received += u64::from(*n);
        if !sent.contains_key(seq) {
            problems.push(format!("message {seq} delivered but never acknowledged"));
        }
    }
    if problems.is_empty() {
        Ok(counts)
    } else {
        problems.sort();
        Err(format!(
            "{} problems: {}; {counts:?}",
            problems.len(),
            problems.join(", ")
        ))
    }
}

impl Counts {
    pub(crate) fn add(&mut self, other: &Self) {
        self.sent_qos1 += other.sent_qos1;
        self.sent_qos2 += other.sent_qos2;
        self.received += other.received;
        self.duplicated_qos1 += other.duplicated_qos1;
        self.reconnects += other.reconnects;
        self.relayed_connections += other.relayed_connections;
        self.cuts += other.cuts;
    }
}

/// What one seed's resumed-session run counted.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Resumed {
    /// Messages in the subscriber's buffers, not taken, when the relay cut its
    /// connection.
    pub(crate) held: u64,
    /// PUBLISH packets the broker sent again with DUP after the cut (at least
    /// `held`).
    pub(crate) resent: u64,
    /// Messages the application received (the sentinel not counted).
    pub(crate) received: u64,
    /// Copies received again on a later connection than the earlier copy: its
    /// acknowledgement was lost with a connection, so the broker had to resend
    /// and the client cannot tell (legal at QoS 1, counted, not a failure).
    pub(crate) unavoidable: u64,
    /// Connections the faulty link broke on its own, besides the deliberate cut.
    pub(crate) reconnects: u64,
}

impl Resumed {
    pub(crate) fn add(&mut self, other: &Self) {
        self.held += other.held;
        self.resent += other.resent;
        self.received += other.received;
        self.unavoidable += other.unavoidable;
        self.reconnects += other.reconnects;
    }
}

/// Resolves once `ready` says so. Every future of a run shares one waker (see
/// `run_seed`), so the check is made whenever anything happened.
async fn until(mut ready: impl FnMut() -> bool) {
    poll_fn(|_| {
        if ready() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
}

/// The resumed-session QoS 1 case (issue 20 §1.1 and §4): a persistent
/// subscriber holds [`HELD`] QoS 1 messages it has not taken when the relay
/// cuts its connection; it resumes the session, the broker resends them with
/// DUP (it must: CONNACK says session present), the application takes them,
/// and a sentinel published after the resume proves the resends have been
/// processed. Checked: every message arrives, and no message is delivered twice
/// on one subscriber connection. A resend on the connection where the
/// application took the copy it already had is the avoidable duplicate: the
/// client holds the stale copy and must let it take the resend's place by
/// packet identifier.
pub(crate) fn run_resumed<R: Rig>(
    pair: &R,
    broker: SocketAddr,
    seed: u64,
) -> Result<Resumed, String> {
    let version = if seed.is_multiple_of(2) {
        Version::V5
    } else {
        Version::V3_1_1
    };
    let relay_addr = SocketAddr::new(B_V4.into(), RELAY_PORT);
    let tag = format!("{}-{seed}", std::process::id());
    let sub_id = format!("soak-held-sub-{tag}");
    let pub_id = format!("soak-held-pub-{tag}");
    let opts = |id| {
        ConnectOptions::new(relay_addr, id)
            .version(version)
            .persistent(3600)
            .keep_alive(30)
    };
    let sub_opts = opts(&sub_id);
    let pub_opts = opts(&pub_id);
    let prefix = format!("soak/held/{tag}");
    let topic = format!("{prefix}/m");
    let sentinel = format!("{prefix}/end");

    let mut sub_store = Box::new(HeldStore::new());
    let mut pub_store = Box::new(PubStore::new());
    let mut sub_session = Session::new(&mut *sub_store);
    let mut pub_session = Session::new(&mut *pub_store);
    let (mut sub_driver, sub, mut rx) = sub_session.split(pair.a(), pair.clock().clone());
    let (mut pub_driver, publisher, _) = pub_session.split(pair.a(), pair.clock().clone());

    let taps = Taps::default();
    // Connections of the subscriber that ended so far: which connection a copy
    // arrived on.
    let sub_ends = Cell::new(0u64);
    let pub_ends = Cell::new(0u64);
    let failed: RefCell<Option<String>> = RefCell::new(None);
    let clock = pair.clock();
    let held_at_cut = Cell::new(0u64);
    let resent_before_cut = Cell::new(0u64);
    let resumed = Cell::new(false);
    // Per message, the subscriber connection of each copy the application got.
    let delivered: RefCell<HashMap<u64, Vec<u64>>> = RefCell::new(HashMap::new());

    // Not `connected()` in a loop: between attempts the driver is stopped, and
    // it then fails at once.
    let connected_after = |ends: u64| {
        let (sub, sub_ends) = (&sub, &sub_ends);
        until(move || sub_ends.get() >= ends && sub.connection_info().is_some())
    };
    let publish = |seqs: core::ops::Range<u64>, then_sentinel: bool| {
        let (publisher, topic, sentinel) = (&publisher, &topic, &sentinel);
        async move {
            for seq in seqs {
                let payload = seq.to_string();
                let reason = publisher
                    .publish(
                        topic,
                        payload.as_bytes(),
                        PublishOptions::qos(QoS::AtLeastOnce),
                    )
                    .await
                    .map_err(|e| format!("publish {seq}: {e}"))?;
                if !reason.is_success() {
                    return Err(format!("publish {seq}: {reason:?}"));
                }
            }
            if then_sentinel {
                publisher
                    .publish(sentinel, b"", PublishOptions::qos(QoS::AtLeastOnce))
                    .await
                    .map_err(|e| format!("sentinel: {e}"))?;
            }
            publisher.disconnect(ReasonCode::SUCCESS).await;
            Ok::<_, String>(())
        }
    };
    let mut pub_run = async |seqs, then_sentinel| {
        let (ran, published) = join(
            Box::pin(run_reconnecting(
                &mut pub_driver,
                &pub_opts,
                clock,
                &pub_ends,
                &failed,
            )),
            Box::pin(publish(seqs, then_sentinel)),
        )
        .await;
        ran.and(published)
    };

    let control = async {
        connected_after(0).await;
        let codes = sub
            .subscribe(
                &[Subscription::new(&format!("{prefix}/#"), QoS::AtLeastOnce)],
                &[],
            )
            .await
            .map_err(|e| format!("subscribe: {e}"))?;
        if !codes.codes()[0].is_success() {
            return Err(format!("subscribe refused: {:?}", codes.codes()));
        }
        pub_run(0..HELD, false).await?;
        // The receiving side says when the client holds them all.
        until(|| held_at_cut.get() > 0).await;
        resent_before_cut.set(taps.dup_publishes.get());
        let ends = sub_ends.get();
        taps.cut_all.set(taps.cut_all.get() + 1);
        connected_after(ends + 1).await;
        resumed.set(true);
        // The sentinel goes behind the broker's resends.
        pub_run(HELD..HELD, true).await
    };
    let receive = async {
        // The driver is polled before this future: this sees every delivery.
        until(|| rx.ready() as u64 >= HELD).await;
        held_at_cut.set(rx.ready() as u64);
        // Nothing is taken until the held messages have crossed the cut.
        until(|| resumed.get()).await;
        let mut sentinel_seen = false;
        // Bounded: HELD messages, their possible resends, and the sentinel.
        for _ in 0..10_000u32 {
            if sentinel_seen && (0..HELD).all(|seq| delivered.borrow().contains_key(&seq)) {
                sub.disconnect(ReasonCode::SUCCESS).await;
                return Ok(());
            }
            let m = rx.recv().await;
            let on = sub_ends.get();
            if m.topic() == sentinel {
                sentinel_seen = true;
                continue;
            }
            let seq: u64 = core::str::from_utf8(m.payload())
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| format!("unexpected payload {:?}", m.payload()))?;
            delivered.borrow_mut().entry(seq).or_default().push(on);
        }
        Err("more than 10 000 messages".to_string())
    };
    let work = async {
        let (ran, (controlled, received)) = join(
            Box::pin(run_reconnecting(
                &mut sub_driver,
                &sub_opts,
                clock,
                &sub_ends,
                &failed,
            )),
            Box::pin(join(Box::pin(control), Box::pin(receive))),
        )
        .await;
        ran.and(controlled).and(received)
    };
    let connections = Cell::new(0u64);
    let cut = Cell::new(0u64);
    let relay = relay(pair.b(), clock, broker, &connections, &cut, &taps, || None);
    let failure = until(|| failed.borrow().is_some());
    let outcome = pair
        .run(select(
            Box::pin(work),
            Box::pin(select(Box::pin(relay), Box::pin(failure))),
        ))
        .map_err(|stall| format!("mqtt resumed session: {stall}"))?;
    match outcome {
        Either::Left(result) => result?,
        Either::Right(Either::Left(e)) => return Err(e),
        Either::Right(Either::Right(())) => return Err(failed.take().unwrap_or_default()),
    }

    let delivered = delivered.into_inner();
    let mut counts = Resumed {
        held: held_at_cut.get(),
        resent: taps.dup_publishes.get() - resent_before_cut.get(),
        // The deliberate cut is not the link's.
        reconnects: sub_ends.get().saturating_sub(1) + pub_ends.get(),
        ..Resumed::default()
    };
    let mut problems = Vec::new();
    if counts.held < HELD {
        problems.push(format!(
            "{} of {HELD} messages held at the cut",
            counts.held
        ));
    }
    if counts.resent < counts.held {
        problems.push(format!(
            "the broker resent {} of {} held messages",
            counts.resent, counts.held
        ));
    }
    for seq in 0..HELD {
        let Some(on) = delivered.get(&seq) else {
            problems.push(format!("message {seq} lost"));
            continue;
        };
        counts.received += on.len() as u64;
        counts.unavoidable += on.len() as u64 - 1;
        if let Some(w) = on.windows(2).find(|w| w[0] == w[1]) {
            problems.push(format!(
                "message {seq} delivered twice on subscriber connection {} (copies on {on:?}): the stale copy did not take the resend's place",
                w[0]
            ));
        }
    }
    for seq in delivered.keys().filter(|seq| **seq >= HELD) {
        problems.push(format!("message {seq} delivered but never sent"));
    }
    if problems.is_empty() {
        Ok(counts)
    } else {
        Err(format!(
            "resumed session: {} problems: {}; {counts:?}",
            problems.len(),
            problems.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere() {
        // CONNECT (len 2), PUBLISH QoS 1 with a two-byte length (200), PINGREQ.
        let mut stream = vec![0x10, 2, 0, 0, 0x32, 0xc8, 0x01];
        stream.extend([0u8; 200]);
        stream.extend([0xc0, 0]);
        for split in 0..stream.len() {
            let mut frames = Frames::default();
            let mut seen = Vec::new();
            frames.feed(&stream[..split], |f| seen.push(f));
            frames.feed(&stream[split..], |f| seen.push(f));
            assert_eq!(seen, [0x10, 0x32, 0xc0], "split at {split}");
        }
        assert!(owes_answer(0x32) && owes_answer(0xc0) && !owes_answer(0x30));
        assert!(is_answer(0x40) && !is_answer(0x30));
    }
}
