//! Plays the broker's side of one connection from the fuzzer's bytes (issue 25 §1).
//!
//! A fake portnet stack hands the client a connection whose reads come from a
//! script built from the input (well-formed packets, protocol violations, raw
//! bytes, pauses of virtual time), cut into chunks as the input says; the
//! client's writes are collected and decoded. The application side publishes at
//! QoS 0/1/2, subscribes, receives and finally disconnects. Checked: no panic;
//! everything completes within a bounded number of polls and of virtual time;
//! every message delivered was sent by the broker; the client writes only
//! well-formed packets; after a protocol violation the run fails, and a 5.0
//! client's last packet is a DISCONNECT with the specification's reason code.
#![no_main]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use portnet::future::{Either, join, join4, select};
use portnet::{ErrorKind, Instant};
use portnet_mqtt::codec::{Packet, QoS, ReasonCode, Subscription, Version, decode};
use portnet_mqtt::{ConnectOptions, Error, PublishOptions, Session, Storage};

const RX: usize = 256;
const INBOUND: usize = 4;
const ALIASES: usize = 2;
const MAX_POLLS: u32 = 20_000;
const MAX_VIRTUAL: Duration = Duration::from_secs(3600);

/// Input bytes, read front to back; zeros once exhausted.
struct Bytes(VecDeque<u8>);
impl Bytes {
    fn u8(&mut self) -> u8 {
        self.0.pop_front().unwrap_or(0)
    }
    fn take(&mut self, n: usize) -> Vec<u8> {
        let n = n.min(self.0.len());
        self.0.drain(..n).collect()
    }
}

#[derive(Default)]
struct World {
    /// Bytes the broker has queued for the client.
    to_client: VecDeque<u8>,
    /// Everything the broker sent (for the "nothing invented" check).
    sent: Vec<u8>,
    /// Bytes the client wrote.
    written: Vec<u8>,
    now: u64,
    read_until: u64,
    timers: Vec<(u64, Waker)>,
    reader: Option<Waker>,
    eof: bool,
    script_done: bool,
    chunk: usize,
    connects: u32,
    /// The first violation the broker committed: the reason a 5.0 client must
    /// disconnect with (`None`: any error will do, e.g. a truncated packet).
    violation: Option<Option<ReasonCode>>,
    run_done: bool,
    /// The script is over and everything is idle: the application disconnects.
    force_close: bool,
    wakers: Vec<Waker>,
}

type W = Rc<RefCell<World>>;

fn varint(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let b = (n % 128) as u8;
        n /= 128;
        out.push(if n > 0 { b | 0x80 } else { b });
        if n == 0 {
            break;
        }
    }
}

fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    varint(body.len(), &mut out);
    out.extend_from_slice(body);
    out
}

/// The broker: turns input into packets, one step at a time, reacting to what
/// the client wrote (subscribe identifiers, PINGREQ).
struct Broker {
    input: Bytes,
    v5: bool,
    steps: u32,
    inbound_q2: Vec<u16>,
    aliases: [bool; ALIASES + 1],
    seen_written: usize,
    pending_subs: Vec<(u16, usize)>,
    pings: usize,
}

impl Broker {
    /// Client packets decoded since the last look.
    fn scan(&mut self, w: &World) {
        let version = if self.v5 {
            Version::V5
        } else {
            Version::V3_1_1
        };
        for _ in 0..64 {
            let rest = &w.written[self.seen_written..];
            let Ok(Some((p, used))) = decode(rest, version) else {
                break;
            };
            match p {
                Packet::Subscribe(s) => self
                    .pending_subs
                    .push((s.packet_id, s.subscriptions.iter().count())),
                Packet::PingReq => self.pings += 1,
                _ => {}
            }
            self.seen_written += used;
        }
    }

    fn props(&self, body: &mut Vec<u8>, props: &[u8]) {
        if self.v5 {
            varint(props.len(), body);
            body.extend_from_slice(props);
        }
    }

    fn publish(
        &mut self,
        qos: u8,
        alias: Option<u16>,
        topic: &str,
        id: u16,
        payload: &[u8],
    ) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
        body.extend_from_slice(topic.as_bytes());
        if qos > 0 {
            body.extend_from_slice(&id.to_be_bytes());
        }
        let mut props = Vec::new();
        if let Some(a) = alias {
            props.push(0x23);
            props.extend_from_slice(&a.to_be_bytes());
        }
        self.props(&mut body, &props);
        body.extend_from_slice(payload);
        packet(0x30 | (qos << 1), &body)
    }

    /// The next step of the script into `w`; false when the input is used up.
    fn step(&mut self, w: &mut World) -> bool {
        self.scan(w);
        if self.input.0.is_empty() || self.steps >= 64 || w.violation.is_some() {
            return false;
        }
        self.steps += 1;
        let op = self.input.u8();
        let a = self.input.u8();
        let v5 = self.v5;
        let id = u16::from(a % 5); // 0 is never used by the client
        let mut bad = None;
        let bytes = match op % 16 {
            0 | 1 => {
                let qos = a % 3;
                let mut qid = 1 + u16::from(a >> 4);
                let mut qos = qos;
                if qos == 2 {
                    if !self.inbound_q2.contains(&qid) {
                        if self.inbound_q2.len() >= INBOUND {
                            qos = 1;
                        } else {
                            self.inbound_q2.push(qid);
                        }
                    }
                } else if qos == 0 {
                    qid = 0;
                }
                let n = usize::from(self.input.u8() % 16);
                let payload = self.input.take(n);
                // 5.0: sometimes through a topic alias (set or used).
                let alias_op = if v5 { self.input.u8() % 4 } else { 0 };
                match alias_op {
                    1 => {
                        let al = 1 + u16::from(a & 1);
                        self.aliases[usize::from(al)] = true;
                        self.publish(qos, Some(al), "f/a", qid, &payload)
                    }
                    2 => {
                        let al = 1 + u16::from(a & 1);
                        if !self.aliases[usize::from(al)] {
                            bad = Some(Some(ReasonCode::TOPIC_ALIAS_INVALID));
                        }
                        self.publish(qos, Some(al), "", qid, &payload)
                    }
                    _ => self.publish(qos, None, "f/b", qid, &payload),
                }
            }
            2 => packet(0x40, &[0, id as u8]), // PUBACK, maybe for an unused id
            3 => packet(0x50, &[0, id as u8]), // PUBREC
            4 => {
                // PUBREL, with or without a PUBREC before it
                self.inbound_q2.retain(|&q| q != id);
                packet(0x62, &[0, id as u8])
            }
            5 => packet(0x70, &[0, id as u8]), // PUBCOMP
            6 => {
                // SUBACK for a real SUBSCRIBE (right count), or for an unknown id
                if let Some((sid, n)) = self.pending_subs.pop() {
                    let mut body = sid.to_be_bytes().to_vec();
                    self.props(&mut body, &[]);
                    body.extend(std::iter::repeat_n(a % 3, n));
                    packet(0x90, &body)
                } else {
                    let mut body = vec![0, id as u8];
                    self.props(&mut body, &[]);
                    body.push(0);
                    packet(0x90, &body)
                }
            }
            7 => {
                // PINGRESP for each PINGREQ seen
                let n = self.pings.max(1);
                self.pings = 0;
                (0..n).flat_map(|_| [0xd0, 0]).collect()
            }
            8 => {
                bad = Some(Some(ReasonCode::PROTOCOL_ERROR));
                if v5 {
                    packet(0x20, &[0, 0, 0])
                } else {
                    packet(0x20, &[0, 0])
                }
            }
            9 if v5 => {
                // Alias 0 the decoder rejects as a protocol error (0x82), an alias
                // above the maximum the driver as 0x94; the check accepts both.
                bad = Some(Some(ReasonCode::TOPIC_ALIAS_INVALID));
                let al = if a & 1 == 0 {
                    0
                } else {
                    ALIASES as u16 + 1 + u16::from(a >> 1)
                };
                self.publish(0, Some(al), "f/c", 0, b"x")
            }
            10 => {
                // larger than the client's maximum packet size
                bad = Some(Some(ReasonCode::PACKET_TOO_LARGE));
                let mut out = vec![0x30];
                varint(RX + usize::from(a) * 64, &mut out);
                out.extend_from_slice(&[0, 3, b'f', b'/', b'd']);
                out
            }
            11 => {
                // a broker stopping mid packet
                bad = Some(None);
                w.eof = true;
                let whole = self.publish(1, None, "f/e", 1, b"cut");
                whole[..1 + usize::from(a) % (whole.len() - 1)].to_vec()
            }
            12 => {
                bad = Some(Some(ReasonCode::PROTOCOL_ERROR));
                vec![0xc0, 0] // PINGREQ: only clients send it
            }
            13 => {
                // raw bytes: no oracle after them
                let n = usize::from(a % 32);
                self.steps = 64;
                self.input.take(n)
            }
            14 => {
                // a pause of virtual time before the next bytes
                w.read_until = w.now + u64::from(a) * 100_000;
                Vec::new()
            }
            _ => {
                w.chunk = 1 + usize::from(a % 64);
                Vec::new()
            }
        };
        if bad.is_some() && w.violation.is_none() {
            w.violation = bad;
        }
        w.sent.extend_from_slice(&bytes);
        w.to_client.extend(bytes);
        true
    }
}

struct Stack {
    world: W,
    broker: Rc<RefCell<Broker>>,
}

impl portnet::ErrorType for Stack {
    type Error = ErrorKind;
}

impl portnet::TcpConnect for Stack {
    type Connection<'c>
        = Conn
    where
        Self: 'c;
    async fn connect(&self, _remote: SocketAddr) -> Result<Conn, ErrorKind> {
        let mut w = self.world.borrow_mut();
        w.connects += 1;
        if w.connects > 1 {
            return Err(ErrorKind::ConnectionRefused);
        }
        Ok(Conn {
            world: self.world.clone(),
            broker: self.broker.clone(),
        })
    }
}

#[derive(Clone)]
struct Conn {
    world: W,
    broker: Rc<RefCell<Broker>>,
}

impl portnet::ErrorType for Conn {
    type Error = ErrorKind;
}

impl portnet::Read for Conn {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, ErrorKind>> {
        let mut w = self.world.borrow_mut();
        let mut b = self.broker.borrow_mut();
        for _ in 0..8 {
            if !w.to_client.is_empty() || w.now < w.read_until || w.eof {
                break;
            }
            if !b.step(&mut w) {
                w.script_done = true;
                break;
            }
        }
        if w.now < w.read_until || (w.to_client.is_empty() && !w.eof) {
            w.reader = Some(cx.waker().clone());
            if w.to_client.is_empty() && !w.eof && w.now >= w.read_until && !w.script_done {
                // More script to come on the next poll.
                cx.waker().wake_by_ref();
            }
            return Poll::Pending;
        }
        let n = w.to_client.len().min(buf.len()).min(w.chunk.max(1));
        for (dst, src) in buf.iter_mut().zip(w.to_client.drain(..n)) {
            *dst = src;
        }
        Poll::Ready(Ok(n))
    }
}

impl portnet::Write for Conn {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, ErrorKind>> {
        self.world.borrow_mut().written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        Poll::Ready(Ok(()))
    }
}

impl portnet::SocketOptions for Conn {
    fn set_option(&self, _option: portnet::SocketOption) -> Result<(), ErrorKind> {
        Ok(())
    }
    fn option(&self, _name: portnet::SocketOptionName) -> Result<portnet::SocketOption, ErrorKind> {
        Err(ErrorKind::Unsupported)
    }
}

impl portnet::TcpStream for Conn {
    type ReadHalf<'a>
        = Conn
    where
        Self: 'a;
    type WriteHalf<'a>
        = Conn
    where
        Self: 'a;
    fn split(&mut self) -> (Conn, Conn) {
        (self.clone(), self.clone())
    }
    fn local_addr(&self) -> Result<SocketAddr, ErrorKind> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 50000)))
    }
    fn peer_addr(&self) -> Result<SocketAddr, ErrorKind> {
        Ok(SocketAddr::from(([127, 0, 0, 1], 1883)))
    }
    fn abort(self) {}
}

#[derive(Clone)]
struct Clock(W);

impl portnet::Clock for Clock {
    fn now(&self) -> Instant {
        Instant::from_micros(self.0.borrow().now)
    }
    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        let world = self.0.clone();
        std::future::poll_fn(move |cx| {
            let mut w = world.borrow_mut();
            if w.now >= deadline.as_micros() {
                return Poll::Ready(());
            }
            w.timers.push((deadline.as_micros(), cx.waker().clone()));
            Poll::Pending
        })
    }
}

/// Completes once the driver's run has returned.
fn run_done(world: &W) -> impl Future<Output = ()> + Unpin + '_ {
    std::future::poll_fn(move |cx| {
        let mut w = world.borrow_mut();
        if w.run_done {
            return Poll::Ready(());
        }
        w.wakers.push(cx.waker().clone());
        Poll::Pending
    })
}

struct Flag(AtomicBool);
impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes(data.iter().copied().collect());
    let head = input.u8();
    let v5 = head & 1 == 1;
    let version = if v5 { Version::V5 } else { Version::V3_1_1 };
    let keep_alive = u16::from(head >> 4) * 4; // 0 (off) to 60 s
    let ops = input.take(6);
    // CONNACK: session present, 5.0 properties (server keep-alive possibly 0,
    // maximum packet size, topic alias maximum, receive maximum).
    let flags = input.u8();
    let mut connack_body = vec![flags & 1, 0];
    if v5 {
        let mut props = Vec::new();
        if flags & 2 != 0 {
            props.extend_from_slice(&[0x13, 0, input.u8() % 4]);
        }
        if flags & 4 != 0 {
            props.extend_from_slice(&[0x27, 0, 0, 0, 16 + input.u8() % 128]);
        }
        if flags & 8 != 0 {
            props.extend_from_slice(&[0x22, 0, input.u8() % 3]);
        }
        if flags & 16 != 0 {
            props.extend_from_slice(&[0x21, 0, 1 + input.u8() % 3]);
        }
        varint(props.len(), &mut connack_body);
        connack_body.extend_from_slice(&props);
    }
    let connack = packet(0x20, &connack_body);

    let world: W = Rc::new(RefCell::new(World {
        chunk: 1 + usize::from(flags >> 5) * 8,
        ..World::default()
    }));
    {
        let mut w = world.borrow_mut();
        w.sent.extend_from_slice(&connack);
        w.to_client.extend(connack);
    }
    let broker = Rc::new(RefCell::new(Broker {
        input,
        v5,
        steps: 0,
        inbound_q2: Vec::new(),
        aliases: [false; ALIASES + 1],
        seen_written: 0,
        pending_subs: Vec::new(),
        pings: 0,
    }));
    let stack = Stack {
        world: world.clone(),
        broker: broker.clone(),
    };
    let clock = Clock(world.clone());
    let mut storage = Storage::<RX, 512, 4, INBOUND, ALIASES, 1>::new();
    let mut session = Session::new(&mut storage);
    let (mut driver, client, mut rx) = session.split(&stack, clock);
    let addr = SocketAddr::from(([127, 0, 0, 1], 1883));
    let opts = ConnectOptions::new(addr, "fuzz")
        .version(version)
        .keep_alive(keep_alive)
        .wait_for_reconnect(false);
    let delivered: RefCell<Vec<(String, Vec<u8>)>> = RefCell::new(Vec::new());

    let run = async {
        let r = driver.run(&opts).await;
        let mut w = world.borrow_mut();
        w.run_done = true;
        for waker in w.wakers.drain(..) {
            waker.wake();
        }
        r
    };
    let app_op = |op: u8| {
        let client = client;
        async move {
            let qos = match op % 3 {
                0 => QoS::AtMostOnce,
                1 => QoS::AtLeastOnce,
                _ => QoS::ExactlyOnce,
            };
            if op & 0x10 != 0 {
                let subs = [Subscription::new("f/#", qos), Subscription::new("g/+", qos)];
                let _ = client
                    .subscribe(&subs[..1 + usize::from(op & 0x20 != 0)], &[])
                    .await;
            } else {
                let _ = client
                    .publish("c/t", b"payload", PublishOptions::qos(qos))
                    .await;
            }
        }
    };
    let apps = async {
        let mut a = pin!(app_op(ops.first().copied().unwrap_or(0)));
        let mut b = pin!(app_op(ops.get(1).copied().unwrap_or(1)));
        let mut c = pin!(app_op(ops.get(2).copied().unwrap_or(2)));
        let mut d = pin!(async {
            for &op in ops.iter().skip(3) {
                app_op(op).await;
            }
        });
        join4(a.as_mut(), b.as_mut(), c.as_mut(), d.as_mut()).await;
    };
    let receive = async {
        for _ in 0..256 {
            let recv = pin!(rx.recv());
            match select(recv, run_done(&world)).await {
                Either::Left(m) => delivered
                    .borrow_mut()
                    .push((m.topic().to_owned(), m.payload().to_vec())),
                Either::Right(()) => break,
            }
        }
    };
    let disconnect = std::future::poll_fn(|cx| {
        let mut w = world.borrow_mut();
        if w.force_close || w.run_done {
            return Poll::Ready(());
        }
        w.wakers.push(cx.waker().clone());
        Poll::Pending
    });
    let closer = async {
        disconnect.await;
        client.disconnect(ReasonCode::SUCCESS).await;
    };
    let mut all = Box::pin(join(
        Box::pin(run),
        Box::pin(join(
            Box::pin(apps),
            Box::pin(join(Box::pin(receive), Box::pin(closer))),
        )),
    ));

    let flag = Arc::new(Flag(AtomicBool::new(true)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let mut result = None;
    for polls in 0.. {
        assert!(
            polls < MAX_POLLS,
            "hang: {MAX_POLLS} polls without completing"
        );
        if flag.0.swap(false, Ordering::SeqCst) {
            if let Poll::Ready((r, _)) = all.as_mut().poll(&mut cx) {
                result = Some(r);
                break;
            }
            continue;
        }
        // Idle: wake the closer when the script is over, else advance virtual time.
        let mut w = world.borrow_mut();
        if w.script_done && !w.force_close {
            w.force_close = true;
            let wakers: Vec<Waker> = w.wakers.drain(..).collect();
            drop(w);
            wakers.into_iter().for_each(Waker::wake);
            continue;
        }
        let next = w
            .timers
            .iter()
            .map(|t| t.0)
            .chain((w.read_until > w.now).then_some(w.read_until))
            .min();
        let Some(next) = next else {
            panic!(
                "stall: nothing woken, no timer, script done = {}",
                w.script_done
            );
        };
        assert!(
            next <= MAX_VIRTUAL.as_micros() as u64,
            "hang: virtual time beyond {MAX_VIRTUAL:?}"
        );
        w.now = next;
        let (due, later): (Vec<_>, Vec<_>) = w.timers.drain(..).partition(|t| t.0 <= next);
        w.timers = later;
        let reader = w.reader.take();
        drop(w);
        due.into_iter().for_each(|t| t.1.wake());
        if let Some(r) = reader {
            r.wake();
        }
    }
    let result = result.expect("completed");
    drop(all);
    let w = world.borrow();

    // Nothing delivered that the broker did not send.
    for (topic, payload) in delivered.borrow().iter() {
        let sent = &w.sent;
        assert!(
            payload.is_empty() || sent.windows(payload.len()).any(|s| s == payload.as_slice()),
            "invented payload"
        );
        assert!(
            sent.windows(topic.len()).any(|s| s == topic.as_bytes()),
            "invented topic {topic}"
        );
    }
    // The client writes only well-formed packets.
    let mut rest = &w.written[..];
    for _ in 0..10_000 {
        if rest.is_empty() {
            break;
        }
        let v = if rest.len() == w.written.len() {
            Version::V5
        } else {
            version
        };
        let (_, used) = decode(rest, v)
            .expect("client wrote a malformed packet")
            .expect("client wrote a truncated packet");
        rest = &rest[used..];
    }
    // A violation the client read ends the run with an error, and a 5.0 client says why.
    if let Some(expected) = w.violation {
        let e = result.expect_err("protocol violation accepted");
        if let Some(code) = expected {
            if !matches!(e, Error::Timeout) {
                if v5 {
                    let got = e.reason_code().expect("a reason code");
                    let alias_zero = code == ReasonCode::TOPIC_ALIAS_INVALID
                        && got == ReasonCode::PROTOCOL_ERROR;
                    assert!(got == code || alias_zero, "expected {code:?}: {e}");
                    let tail = [0xe0, 1, got.0];
                    assert!(w.written.ends_with(&tail), "no DISCONNECT {code:?} for {e}");
                }
            }
        }
    }
    let _ = (Error::Closed, keep_alive);
});
