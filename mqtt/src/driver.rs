//! The driver: owns the TCP connection, reads and writes packets, runs keep-alive,
//! and reconnects on request.

use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use core::time::Duration;

use portnet::time::timeout;
use portnet::{Clock, Instant, Read, TcpConnect, Write};

use crate::auth::{Authenticator, ReAuth};
use crate::codec::{
    self, Auth, ConnAck, Connect, DecodeError, DecodeErrorKind, Disconnect, EncodeError, Packet,
    Properties, Property, PubResp, Publish, QoS, ReasonCode, Version,
};
use crate::session::{
    ASSIGNED_ID_LEN, AliasSlot, Conn, ConnectionInfo, Ctrl, Entry, Held, Kind, MAX_HOLD, Phase,
    Push, Rx, Session, State,
};
use crate::{ConnectOptions, Error};

/// Runs the client's connection. Drive [`Driver::run`] in the same task as the
/// application (with `portnet::future::join`/`select`, or an executor's own), or on
/// a task of a single-threaded executor next to the tasks that hold the
/// [`Client`](crate::Client) and [`Receiver`](crate::Receiver).
#[derive(Debug)]
pub struct Driver<'r, S, C> {
    session: &'r Session<'r>,
    stack: S,
    clock: C,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Timer,
    Recompute,
    Closed,
}

/// What handling one incoming packet did.
enum Handled {
    /// Done with it; the driver reads on.
    Consumed,
    /// It needs room in the acknowledgement queue first.
    Blocked,
}

/// Marks the session disconnected however `run` ends, even when it is dropped,
/// and tells the waiting handles why (`end`, [`Error::Stopped`] when cancelled).
struct Down<'r> {
    session: &'r Session<'r>,
    end: Error,
    wait: bool,
}

impl Drop for Down<'_> {
    fn drop(&mut self) {
        self.session.connection_ended(self.end, self.wait);
    }
}

/// Nothing can reconnect once the driver is gone: every waiting operation fails.
impl<S, C> Drop for Driver<'_, S, C> {
    fn drop(&mut self) {
        self.session.run_ended(Error::Stopped, false);
    }
}

/// A packet only clients send, from the broker (refused from its fixed
/// header: see [`codec::decode_from_server`]).
const CLIENT_ONLY: Error =
    Error::Protocol(ReasonCode::PROTOCOL_ERROR, "a packet only clients send");
/// Anything but CONNACK, AUTH or DISCONNECT first.
const NOT_CONNACK: Error = Error::Protocol(
    ReasonCode::PROTOCOL_ERROR,
    "first packet from the broker is not CONNACK",
);

fn protocol(what: &'static str) -> Error {
    Error::Protocol(ReasonCode::PROTOCOL_ERROR, what)
}

impl<'r, S: TcpConnect, C: Clock> Driver<'r, S, C> {
    pub(crate) const fn new(session: &'r Session<'r>, stack: S, clock: C) -> Self {
        Self {
            session,
            stack,
            clock,
        }
    }

    /// Connects to the broker, sends CONNECT, waits for CONNACK, then runs the
    /// connection until it ends: `Ok(())` after [`Client::disconnect`](crate::Client::disconnect),
    /// an error otherwise (network failure, keep-alive timeout, the broker's
    /// DISCONNECT, a malformed or out-of-protocol packet — for which a 5.0 client
    /// first sends DISCONNECT with the matching reason code).
    ///
    /// Call it again to reconnect: the session (messages in flight, QoS 2 state)
    /// carries over, and with a persistent session unacknowledged messages are sent
    /// again. Waiting between attempts is the caller's choice (`clock.sleep`).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe as far as the session goes: dropping the future drops the
    /// connection, and the next `run` resumes the session like after a network
    /// failure. Bytes in the transmit buffer that were not written are discarded
    /// and the packets they belong to are sent again as described above (QoS 0
    /// messages among them are lost).
    pub async fn run(&mut self, options: &ConnectOptions<'_>) -> Result<(), Error> {
        self.run_inner(options, None).await
    }

    /// [`Driver::run`] with 5.0 enhanced authentication: CONNECT carries `auth`'s
    /// method and data, the broker's AUTH challenges are answered through it, and
    /// [`Client::reauthenticate`](crate::Client::reauthenticate) works during this
    /// connection. See [`Authenticator`] for the exchange.
    ///
    /// # Cancel safety
    ///
    /// As [`Driver::run`]; an exchange cut short starts over on the next call.
    pub async fn run_with_auth(
        &mut self,
        options: &ConnectOptions<'_>,
        auth: &mut dyn Authenticator,
    ) -> Result<(), Error> {
        self.run_inner(options, Some(auth)).await
    }

    async fn run_inner(
        &mut self,
        options: &ConnectOptions<'_>,
        auth: Option<&mut (dyn Authenticator + '_)>,
    ) -> Result<(), Error> {
        let session = self.session;
        let mut down = Down {
            session,
            end: Error::Stopped,
            wait: options.wait_for_reconnect,
        };
        if let Ok(mut state) = session.state.try_borrow_mut() {
            state.stopped = false;
        }
        let result = self.attempt(options, auth).await;
        if let Err(e) = result {
            down.end = e;
        }
        result
    }

    async fn attempt(
        &mut self,
        options: &ConnectOptions<'_>,
        mut auth: Option<&mut (dyn Authenticator + '_)>,
    ) -> Result<(), Error> {
        let session = self.session;
        if !options.version.is_built() {
            return Err(Error::Unsupported(
                "this protocol version is not built in (features `v3`, `v5`)",
            ));
        }
        check_connect_properties(session, options)?;
        let mut conn = match timeout(
            &self.clock,
            options.connect_timeout,
            self.stack.connect(options.broker),
        )
        .await
        {
            Err(_) => return Err(Error::Timeout),
            Ok(Err(e)) => return Err(Error::network(e)),
            Ok(Ok(conn)) => conn,
        };
        let result = self.session_on(&mut conn, options, &mut auth).await;
        if let Err(e) = &result {
            let reason = match e {
                Error::Malformed(d) => Some(d.reason_code()),
                Error::Protocol(code, _) => Some(*code),
                Error::Auth(_) => Some(ReasonCode::NOT_AUTHORIZED),
                _ => None,
            };
            let pushed = match (reason, session.state.try_borrow_mut()) {
                (Some(reason), Ok(mut state)) if state.info.version.is_v5() => {
                    let d = Packet::Disconnect(Disconnect {
                        reason,
                        properties: Properties::empty(),
                    });
                    state.push(&d).is_ok()
                }
                _ => false,
            };
            if pushed {
                let bound = Duration::from_secs(2);
                let _ = timeout(&self.clock, bound, self.write_out(&mut conn)).await;
            }
        }
        result
    }

    async fn session_on(
        &self,
        conn: &mut S::Connection<'_>,
        options: &ConnectOptions<'_>,
        auth: &mut Option<&mut (dyn Authenticator + '_)>,
    ) -> Result<(), Error> {
        let session = self.session;
        // The application may advertise tighter limits than the storage's
        // (checked by `check_connect_properties`); the client then enforces those.
        let own = |id: u8| options.advertised(id);
        // The application's value goes out in its `properties` (if it came
        // from there) or from the typed field (then the client writes it).
        let in_props =
            |id: u8| options.version.is_v5() && options.properties.iter().any(|p| p.id() == id);
        let (rx_len, alias_max) = {
            let mut rx = session.rx.try_borrow_mut().map_err(|_| protocol("busy"))?;
            rx.start = 0;
            rx.end = 0;
            rx.waiting = 0;
            rx.aliases.iter_mut().for_each(|a| a.len = 0);
            rx.max_packet = own(0x27).unwrap_or(rx.buf.len()).min(rx.buf.len());
            rx.alias_max = own(0x22).unwrap_or(rx.aliases.len()).min(rx.aliases.len());
            (rx.max_packet, rx.alias_max)
        };
        let version = options.version;
        {
            let mut state = session
                .state
                .try_borrow_mut()
                .map_err(|_| protocol("busy"))?;
            let state = &mut *state;
            state.tx_start = 0;
            state.tx_end = 0;
            state.ctrl = [None; 16];
            state.ping_due = false;
            state.ping_outstanding = false;
            state.disconnect = None;
            state.disconnect_len = 0;
            state.connect_session_expiry = options.session_expiry;
            state.disconnect_written = false;
            state.reset_out_aliases();
            // (A re-authentication cut off by the last connection's end was
            // settled by `Down`; its result waits for its future.)
            state.auth_reply_due = false;
            state.info =
                ConnectionInfo::defaults(version, options.keep_alive, options.session_expiry);
            state.inbound_limit = own(0x21)
                .unwrap_or(state.inbound.len())
                .min(state.inbound.len());
            let mut id_buf = [0u8; ASSIGNED_ID_LEN];
            let client_id = match (options.client_id, state.assigned_client_id()) {
                ("", Some(assigned)) => {
                    let dst = &mut id_buf[..assigned.len()];
                    dst.copy_from_slice(assigned.as_bytes());
                    core::str::from_utf8(dst).unwrap_or("")
                }
                (id, _) => id,
            };
            let sat16 = |n: usize| u16::try_from(n).unwrap_or(u16::MAX);
            if let Some(a) = auth.as_deref_mut() {
                if !version.is_v5() {
                    return Err(Error::InvalidInput(
                        "enhanced authentication needs MQTT 5.0",
                    ));
                }
                a.start(false).map_err(Error::Auth)?;
            }
            let mut auto = [Property::ReceiveMaximum(1); 6];
            let mut n = 0;
            if version.is_v5() {
                // Each property once (MQTT 5.0 2.2.2.2): where the application
                // gives a limit, its value goes out instead of the client's.
                if !in_props(0x21) {
                    let limit = own(0x21).unwrap_or(state.inbound.len());
                    auto[n] = Property::ReceiveMaximum(sat16(limit).max(1));
                    n += 1;
                }
                if !in_props(0x27) {
                    auto[n] =
                        Property::MaximumPacketSize(u32::try_from(rx_len).unwrap_or(u32::MAX));
                    n += 1;
                }
                if options.session_expiry > 0 {
                    auto[n] = Property::SessionExpiryInterval(options.session_expiry);
                    n += 1;
                }
                if alias_max > 0 && !in_props(0x22) {
                    auto[n] = Property::TopicAliasMaximum(sat16(alias_max));
                    n += 1;
                }
                if let Some(a) = auth.as_deref() {
                    auto[n] = Property::AuthenticationMethod(a.method());
                    n += 1;
                    if let Some(data) = a.data() {
                        auto[n] = Property::AuthenticationData(data);
                        n += 1;
                    }
                }
            }
            let connect = Packet::Connect(Connect {
                version,
                clean_start: options.clean_start,
                keep_alive: options.keep_alive,
                client_id,
                will: options.will,
                username: options.username,
                password: options.password,
                properties: codec::List::chain(&auto[..n], options.properties),
            });
            if state.push(&connect)? == Push::NoRoom {
                return Err(Error::TooLarge);
            }
        }
        let connack_deadline = self.clock.now() + options.connect_timeout;
        let handshake = async {
            self.write_out(conn).await?;
            // Bounded: a broker cannot keep the client in AUTH rounds forever
            // (the CONNACK deadline bounds it in time as well).
            for _ in 0..64 {
                if self
                    .read_connack(conn, options, auth.as_deref_mut())
                    .await?
                {
                    return Ok(());
                }
                self.write_out(conn).await?;
            }
            Err(protocol("too many AUTH rounds before CONNACK"))
        };
        match portnet::time::timeout_at(&self.clock, connack_deadline, handshake).await {
            Err(_) => return Err(Error::Timeout),
            Ok(r) => r?,
        }
        // A new connection: every slot may go on (re-sends, released QoS 2).
        session.wake_all();
        session.wake_receiver();
        self.main_loop(conn, options, auth).await
    }

    /// Writes the whole transmit buffer and flushes.
    async fn write_out(&self, conn: &mut S::Connection<'_>) -> Result<(), Error> {
        poll_fn(|cx| {
            loop {
                let Ok(mut state) = self.session.state.try_borrow_mut() else {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                };
                let pending = state.tx_pending();
                if pending.is_empty() {
                    drop(state);
                    return Pin::new(&mut *conn).poll_flush(cx).map_err(Error::network);
                }
                match Pin::new(&mut *conn).poll_write(cx, pending) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(Error::Network(portnet::ErrorKind::WriteZero)));
                    }
                    Poll::Ready(Ok(n)) => state.tx_advance(n),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::network(e))),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }

    /// Reads up to CONNACK (true) or an AUTH challenge, whose answer it queues
    /// (false).
    async fn read_connack(
        &self,
        conn: &mut S::Connection<'_>,
        options: &ConnectOptions<'_>,
        mut auth: Option<&mut (dyn Authenticator + '_)>,
    ) -> Result<bool, Error> {
        let session = self.session;
        poll_fn(|cx| {
            let Ok(mut rx) = session.rx.try_borrow_mut() else {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            };
            let rx = &mut *rx;
            loop {
                let data = rx.buf.get(rx.start..rx.end).unwrap_or(&[]);
                if let Ok(Some(h)) = codec::decode_header(data, options.version)
                    && codec::client_only(h.first_byte >> 4)
                {
                    return Poll::Ready(Err(NOT_CONNACK));
                }
                match codec::decode_from_server(data, options.version) {
                    Err(e) => return Poll::Ready(Err(Error::Malformed(e))),
                    Ok(Some((packet, len))) => {
                        let r = match packet {
                            Packet::ConnAck(a) => {
                                let verified = match auth.as_deref_mut() {
                                    Some(au) if a.reason.is_success() => {
                                        au.finish(auth_data(&a.properties)).map_err(Error::Auth)
                                    }
                                    _ => Ok(()),
                                };
                                verified
                                    .and_then(|()| self.on_connack(&a, options))
                                    .map(|()| true)
                            }
                            Packet::Auth(a) => {
                                self.on_auth(&a, auth.as_deref_mut()).and_then(|()| {
                                    let mut state = session
                                        .state
                                        .try_borrow_mut()
                                        .map_err(|_| protocol("busy"))?;
                                    match push_auth(
                                        &mut state,
                                        ReasonCode::CONTINUE_AUTHENTICATION,
                                        auth.as_deref(),
                                    )? {
                                        Push::Written => {
                                            state.auth_reply_due = false;
                                            Ok(false)
                                        }
                                        Push::NoRoom => Err(Error::TooLarge),
                                    }
                                })
                            }
                            Packet::Disconnect(d) => {
                                if let Ok(mut state) = session.state.try_borrow_mut() {
                                    state.server_said.record(&d.properties);
                                    state.server_said.disconnect = Some(d.reason);
                                }
                                Err(Error::ServerDisconnect(d.reason))
                            }
                            _ => Err(NOT_CONNACK),
                        };
                        rx.start += len;
                        return Poll::Ready(r);
                    }
                    Ok(None) => {}
                }
                if rx.end == rx.buf.len() {
                    return Poll::Ready(Err(Error::Malformed(DecodeError::new(
                        DecodeErrorKind::TooLarge,
                        "CONNACK larger than the receive buffer",
                    ))));
                }
                let end = rx.end;
                match Pin::new(&mut *conn).poll_read(cx, &mut rx.buf[end..]) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(Error::Closed)),
                    Poll::Ready(Ok(n)) => rx.end += n.min(rx.buf.len() - end),
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::network(e))),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }

    fn on_connack(&self, a: &ConnAck<'_>, options: &ConnectOptions<'_>) -> Result<(), Error> {
        let mut state = self
            .session
            .state
            .try_borrow_mut()
            .map_err(|_| protocol("busy"))?;
        let state = &mut *state;
        state.server_said.record(&a.properties);
        if a.reason.is_error() {
            return Err(Error::Refused(a.reason));
        }
        let info = &mut state.info;
        info.session_present = a.session_present;
        info.server = crate::session::ServerProperties::of(&a.properties);
        for p in a.properties.iter() {
            match p {
                Property::ReceiveMaximum(n) => info.receive_maximum = n,
                Property::MaximumQoS(q) => {
                    info.maximum_qos = QoS::from_bits(q).unwrap_or(QoS::AtLeastOnce)
                }
                Property::RetainAvailable(r) => info.retain_available = r == 1,
                Property::MaximumPacketSize(n) => info.maximum_packet_size = n,
                Property::TopicAliasMaximum(n) => info.topic_alias_maximum = n,
                Property::ServerKeepAlive(k) => info.keep_alive = k,
                Property::SessionExpiryInterval(s) => info.session_expiry = s,
                Property::WildcardSubscriptionAvailable(b) => info.wildcard_subscriptions = b == 1,
                Property::SubscriptionIdentifierAvailable(b) => {
                    info.subscription_identifiers = b == 1
                }
                Property::SharedSubscriptionAvailable(b) => info.shared_subscriptions = b == 1,
                Property::AssignedClientIdentifier(id) => {
                    if let Some(dst) = state.assigned_id.get_mut(..id.len()) {
                        dst.copy_from_slice(id.as_bytes());
                        state.assigned_len = id.len();
                        info.client_id_assigned = true;
                    }
                }
                _ => {}
            }
        }
        if !options.client_id.is_empty() && !info.client_id_assigned {
            state.assigned_len = 0;
        }
        let resumed = a.session_present;
        state.resume_slots(resumed);
        if !resumed {
            state.inbound_len = 0;
            state.epoch = state.epoch.wrapping_add(1);
        }
        state.had_session = resumed;
        state.conn = Conn::Up;
        state.connections = state.connections.wrapping_add(1);
        let now = self.clock.now();
        state.last_send = now;
        Ok(())
    }

    fn keep_alive_deadline(&self, options: &ConnectOptions<'_>) -> Instant {
        let Ok(state) = self.session.state.try_borrow() else {
            return self.clock.now();
        };
        if state.info.keep_alive == 0 {
            return Instant::NEVER;
        }
        if state.ping_outstanding {
            state.ping_sent + options.ping_timeout
        } else {
            state.last_send + Duration::from_secs(u64::from(state.info.keep_alive))
        }
    }

    async fn main_loop(
        &self,
        conn: &mut S::Connection<'_>,
        options: &ConnectOptions<'_>,
        auth: &mut Option<&mut (dyn Authenticator + '_)>,
    ) -> Result<(), Error> {
        loop {
            let deadline = self.keep_alive_deadline(options);
            let mut sleep = pin!(self.clock.sleep_until(deadline));
            let step = poll_fn(|cx| {
                if let Poll::Ready(r) = self.poll_io(cx, conn, auth.as_deref_mut()) {
                    return Poll::Ready(r);
                }
                if self.keep_alive_deadline(options) < deadline {
                    return Poll::Ready(Ok(Step::Recompute));
                }
                if sleep.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Ok(Step::Timer));
                }
                Poll::Pending
            })
            .await?;
            match step {
                Step::Closed => {
                    // The broker closes the connection once it has processed our
                    // DISCONNECT, so everything before it (acknowledgements
                    // included) has taken effect when `run` returns — a reconnect
                    // right after cannot overtake it. Bounded by the ping timeout.
                    let drain = poll_fn(|cx| {
                        let mut scratch = [0u8; 64];
                        for _ in 0..64 {
                            match Pin::new(&mut *conn).poll_read(cx, &mut scratch) {
                                Poll::Ready(Ok(0) | Err(_)) => return Poll::Ready(()),
                                Poll::Ready(Ok(_)) => {}
                                Poll::Pending => return Poll::Pending,
                            }
                        }
                        cx.waker().wake_by_ref();
                        Poll::Pending
                    });
                    let _ = timeout(&self.clock, options.ping_timeout, drain).await;
                    return Ok(());
                }
                Step::Recompute => {}
                Step::Timer => {
                    let now = self.clock.now();
                    if now >= self.keep_alive_deadline(options) {
                        let mut state = self
                            .session
                            .state
                            .try_borrow_mut()
                            .map_err(|_| protocol("busy"))?;
                        if state.ping_outstanding {
                            return Err(Error::Timeout);
                        }
                        state.ping_due = true;
                    }
                }
            }
        }
    }

    /// Moves bytes both ways until neither can progress.
    fn poll_io(
        &self,
        cx: &mut Context<'_>,
        conn: &mut S::Connection<'_>,
        mut auth: Option<&mut (dyn Authenticator + '_)>,
    ) -> Poll<Result<Step, Error>> {
        let session = self.session;
        for _ in 0..64 {
            let mut progress = false;
            {
                let Ok(mut state) = session.state.try_borrow_mut() else {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                };
                match self.fill(&mut state, auth.as_deref_mut()) {
                    Ok(p) => progress |= p,
                    Err(e) => return Poll::Ready(Err(e)),
                }
                let mut wrote = false;
                loop {
                    let pending = state.tx_pending();
                    if pending.is_empty() {
                        break;
                    }
                    match Pin::new(&mut *conn).poll_write(cx, pending) {
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(Err(Error::Network(portnet::ErrorKind::WriteZero)));
                        }
                        Poll::Ready(Ok(n)) => {
                            state.tx_advance(n);
                            wrote = true;
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(Error::network(e))),
                        Poll::Pending => break,
                    }
                }
                if wrote {
                    progress = true;
                    state.last_send = self.clock.now();
                    if let Poll::Ready(Err(e)) = Pin::new(&mut *conn).poll_flush(cx) {
                        return Poll::Ready(Err(Error::network(e)));
                    }
                    // Room in the transmit buffer: for the operations whose
                    // packet is still to be written, not those awaiting an
                    // acknowledgement.
                    session.wake_waiters();
                    if core::mem::take(&mut state.room_wanted) {
                        state.wake_slots(|s| matches!(s.phase, Phase::Reserved | Phase::Resend));
                    }
                }
                if state.disconnect_written && state.tx_pending().is_empty() {
                    drop(state);
                    return match Pin::new(&mut *conn).poll_close(cx) {
                        Poll::Ready(_) => Poll::Ready(Ok(Step::Closed)),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
            match self.read_side(cx, conn, auth.as_deref_mut()) {
                Ok(p) => progress |= p,
                Err(e) => return Poll::Ready(Err(e)),
            }
            if !progress {
                session.register_driver(cx);
                return Poll::Pending;
            }
        }
        // Plenty of traffic: let other tasks run, then go on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Puts the driver's own packets into the transmit buffer.
    fn fill(
        &self,
        state: &mut State<'_>,
        auth: Option<&mut (dyn Authenticator + '_)>,
    ) -> Result<bool, Error> {
        // Acknowledgements of dropped messages go out before a DISCONNECT.
        let mut progress = false;
        let v5 = state.info.version.is_v5();
        for _ in 0..=MAX_HOLD {
            let acknowledged = self.acknowledge(state);
            progress |= acknowledged;
            while let Some(c) = state.ctrl[0] {
                let resp = PubResp {
                    packet_id: c.id,
                    reason: if v5 { c.reason } else { ReasonCode::SUCCESS },
                    properties: Properties::empty(),
                };
                let packet = match c.packet_type {
                    4 => Packet::PubAck(resp),
                    5 => Packet::PubRec(resp),
                    6 => Packet::PubRel(resp),
                    _ => Packet::PubComp(resp),
                };
                if state.push(&packet)? == Push::NoRoom {
                    return Ok(progress);
                }
                state.ctrl.rotate_left(1);
                if let Some(last) = state.ctrl.last_mut() {
                    *last = None;
                }
                progress = true;
            }
            if !acknowledged {
                break;
            }
        }
        for i in 0..state.slots.len() {
            if state.slots[i].phase == Phase::NeedRelease && state.slots[i].kind != Kind::Free {
                let packet = Packet::PubRel(PubResp::new(state.slots[i].id));
                if state.push(&packet)? == Push::NoRoom {
                    return Ok(progress);
                }
                state.slots[i].phase = Phase::Released;
                progress = true;
            }
        }
        if let Some(done) = self.fill_auth(state, auth)? {
            if !done {
                return Ok(progress);
            }
            progress = true;
        }
        if state.ping_due && !state.ping_outstanding {
            if state.push(&Packet::PingReq)? == Push::NoRoom {
                return Ok(progress);
            }
            state.ping_due = false;
            state.ping_outstanding = true;
            state.ping_sent = self.clock.now();
            progress = true;
        }
        if let (Some(reason), false) = (state.disconnect, state.disconnect_written) {
            let pushed = if state.disconnect_len > 0 {
                // Copied out: the bytes live in the state `push_encoded` appends to.
                let mut packet = [0u8; crate::session::MAX_DISCONNECT_LEN];
                let len = state.disconnect_len.min(packet.len());
                packet[..len].copy_from_slice(&state.disconnect_packet[..len]);
                state.push_encoded(&packet[..len])?
            } else {
                state.push(&Packet::Disconnect(Disconnect {
                    reason: if v5 { reason } else { ReasonCode::SUCCESS },
                    properties: Properties::empty(),
                }))?
            };
            if pushed == Push::NoRoom {
                return Ok(progress);
            }
            state.disconnect_written = true;
            state.conn = Conn::Down;
            progress = true;
        }
        Ok(progress)
    }

    /// Acknowledges dropped messages, moves waiting messages into free message
    /// buffers, decodes and handles buffered packets, and reads more bytes; true if
    /// anything moved.
    fn read_side(
        &self,
        cx: &mut Context<'_>,
        conn: &mut S::Connection<'_>,
        mut auth: Option<&mut (dyn Authenticator + '_)>,
    ) -> Result<bool, Error> {
        let session = self.session;
        let mut progress = false;
        for _ in 0..64 {
            let Ok(mut rx) = session.rx.try_borrow_mut() else {
                return Ok(progress);
            };
            let rx = &mut *rx;
            let mut state = session
                .state
                .try_borrow_mut()
                .map_err(|_| protocol("busy"))?;
            progress |= self.acknowledge(&mut state);
            progress |= self.deliver(rx, &mut state)?;
            let version = state.info.version;
            // Waiting messages stay in place; the driver works on what follows
            // them, so that acknowledgements of the application's own publishes
            // are never stuck behind messages it has not asked for yet.
            let at = (rx.start + rx.waiting).min(rx.end);
            let data = rx.buf.get(at..rx.end).unwrap_or(&[]);
            if let Some(h) = codec::decode_header(data, version).map_err(Error::Malformed)? {
                if h.packet_len() > rx.max_packet {
                    return Err(Error::Malformed(DecodeError::new(
                        DecodeErrorKind::TooLarge,
                        "packet larger than the maximum packet size",
                    )));
                }
                if codec::client_only(h.first_byte >> 4) {
                    return Err(CLIENT_ONLY);
                }
            }
            match codec::decode_from_server(data, version).map_err(Error::Malformed)? {
                Some((Packet::Publish(p), len)) => {
                    check_publish(rx.alias_max, &p)?;
                    rx.waiting += len;
                    progress = true;
                }
                // A PUBREL must not overtake the QoS 2 message it releases: handled
                // first, it would find nothing to release, and the message would
                // then take its place for good (the fuzzed broker's finding). It
                // waits in line with the message; packets behind it go on.
                Some((Packet::PubRel(r), len)) if waiting_qos2(rx, version, r.packet_id) => {
                    rx.waiting += len;
                    progress = true;
                }
                Some((packet, len)) => {
                    match self.handle(&mut state, packet, auth.as_deref_mut())? {
                        Handled::Consumed => {
                            if rx.waiting > 0 {
                                rx.buf.copy_within(at + len..rx.end, at);
                                rx.end -= len;
                            } else {
                                rx.start += len;
                                if rx.start == rx.end {
                                    rx.start = 0;
                                    rx.end = 0;
                                }
                            }
                            progress = true;
                        }
                        Handled::Blocked => return Ok(progress),
                    }
                }
                None => {
                    drop(state);
                    if rx.start > 0 {
                        rx.buf.copy_within(rx.start..rx.end, 0);
                        rx.end -= rx.start;
                        rx.start = 0;
                    }
                    let end = rx.end;
                    // Full of waiting messages: stop reading (backpressure).
                    let Some(free) = rx.buf.get_mut(end..).filter(|f| !f.is_empty()) else {
                        return Ok(progress);
                    };
                    match Pin::new(&mut *conn).poll_read(cx, free) {
                        Poll::Ready(Ok(0)) => return Err(Error::Closed),
                        Poll::Ready(Ok(n)) => {
                            rx.end = (end + n).min(rx.buf.len());
                            progress = true;
                        }
                        Poll::Ready(Err(e)) => return Err(Error::network(e)),
                        Poll::Pending => return Ok(progress),
                    }
                }
            }
        }
        Ok(progress)
    }

    /// Queues the acknowledgements of dropped messages, oldest first, stopping at
    /// the first message still held (acknowledgements keep the order of arrival).
    fn acknowledge(&self, state: &mut State<'_>) -> bool {
        let session = self.session;
        let mut progress = false;
        let held = [Held::Ready, Held::Taken, Held::Dropped];
        while let Some(index) = session.oldest(&held, true) {
            let cell = &session.inbox[index];
            let mut entry = cell.get();
            if entry.state != Held::Dropped {
                break;
            }
            if entry.connection == state.connections {
                let c = Ctrl {
                    packet_type: if entry.qos == QoS::AtLeastOnce { 4 } else { 5 },
                    id: entry.id,
                    reason: ReasonCode::SUCCESS,
                };
                if !state.ctrl_push(c) {
                    break;
                }
            } else if entry.awaits_resend(state.connections, state.epoch) {
                // Dropped before the broker's resend arrived, which it owes on
                // a resumed session: kept, so that the resend is known by its
                // identifier and not delivered again. Its PUBACK goes out, in
                // this turn, once the resend is in.
                break;
            }
            entry.state = Held::Free;
            cell.set(entry);
            progress = true;
        }
        progress
    }

    /// Moves waiting messages from the receive buffer into free message buffers,
    /// resolving topic aliases in the order the messages arrived.
    fn deliver(&self, rx: &mut Rx<'_>, state: &mut State<'_>) -> Result<bool, Error> {
        let session = self.session;
        let version = state.info.version;
        let mut progress = false;
        while rx.waiting > 0 {
            let data = rx.buf.get(rx.start..rx.end).unwrap_or(&[]);
            let (p, len) = match codec::decode_from_server(data, version) {
                Ok(Some((Packet::Publish(p), len))) => (p, len),
                Ok(Some((Packet::PubRel(r), len))) => {
                    if !release(state, r.packet_id) {
                        return Ok(progress);
                    }
                    rx.consume_waiting(len);
                    progress = true;
                    continue;
                }
                _ => return Err(protocol("waiting message lost")),
            };
            let stale = match (p.qos, p.packet_id) {
                (QoS::AtLeastOnce, Some(id)) => {
                    session.stale_copy(id, state.connections, state.epoch)
                }
                _ => None,
            };
            if stale.is_some()
                || matches!((p.qos, p.packet_id), (QoS::ExactlyOnce, Some(id)) if state.inbound_contains(id))
            {
                // A resend is not delivered, but its topic alias counts in the
                // order of arrival: it may set one, and an alias it uses must be
                // set (the fuzzed broker's finding).
                note_alias(&p, rx.aliases)?;
            }
            if let Some(index) = stale {
                // The broker's resend of a message still in a buffer: the copy
                // there takes its place (and its turn in the order of
                // acknowledgements), so the application sees it once and its
                // PUBACK goes out on this connection when it is dropped.
                let mut entry = session.inbox[index].get();
                entry.connection = state.connections;
                session.inbox[index].set(entry);
            } else if let (QoS::ExactlyOnce, Some(id)) = (p.qos, p.packet_id)
                && state.inbound_contains(id)
            {
                // Sent again before our PUBREC arrived: acknowledge, never deliver twice.
                let c = Ctrl {
                    packet_type: 5,
                    id,
                    reason: ReasonCode::SUCCESS,
                };
                if !state.ctrl_push(c) {
                    return Ok(progress);
                }
            } else {
                if p.qos == QoS::ExactlyOnce && state.inbound_len >= state.inbound_limit {
                    if version.is_v5() {
                        return Err(Error::Protocol(
                            ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
                            "more QoS 2 messages in flight than the receive maximum",
                        ));
                    }
                    // 3.1.1 has no receive maximum: the message waits until a
                    // PUBREL behind it frees a place (backpressure).
                    return Ok(progress);
                }
                // A broker that does not resend what it owes would hold the
                // buffers kept for its resends for good: one is given up for a
                // new message (the resend, if it ever comes, is then delivered).
                let Some(index) = session
                    .free_entry()
                    .or_else(|| session.awaiting_resend(state.connections, state.epoch))
                else {
                    return Ok(progress);
                };
                let Some(buf) = session.bufs[index].take() else {
                    return Err(protocol("message buffer lost"));
                };
                let copied =
                    copy_message(&p, data.get(..len).unwrap_or(&[]), rx.aliases, version, buf);
                session.bufs[index].set(Some(buf));
                let len_held = copied?;
                let id = p.packet_id.unwrap_or(0);
                if p.qos == QoS::ExactlyOnce && !state.inbound_insert(id) {
                    return Err(Error::Protocol(
                        ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
                        "more QoS 2 messages in flight than the receive maximum",
                    ));
                }
                let seq = session.next_message.get();
                session.next_message.set(seq + 1);
                session.inbox[index].set(Entry {
                    state: Held::Ready,
                    seq,
                    len: len_held,
                    qos: p.qos,
                    id,
                    connection: state.connections,
                    epoch: state.epoch,
                });
                session.wake_receiver();
            }
            rx.consume_waiting(len);
            progress = true;
        }
        Ok(progress)
    }

    fn handle(
        &self,
        state: &mut State<'_>,
        packet: Packet<'_>,
        auth: Option<&mut (dyn Authenticator + '_)>,
    ) -> Result<Handled, Error> {
        let session = self.session;
        match packet {
            Packet::PubAck(r) => {
                session.on_puback(state, r.packet_id, r.reason);
                Ok(Handled::Consumed)
            }
            Packet::PubRec(r) => {
                let qos2 = |k| k == Kind::Publish(QoS::ExactlyOnce);
                let known = match state.find(r.packet_id, qos2) {
                    Some(slot) if slot.phase == Phase::Sent => {
                        if r.reason.is_error() {
                            if state.complete(r.packet_id, qos2, Phase::Sent, r.reason) {
                                session.wake_waiters();
                            }
                        } else {
                            // Its future waits for PUBCOMP: nothing to wake.
                            slot.phase = Phase::NeedRelease;
                        }
                        true
                    }
                    Some(_) => true,
                    None => false,
                };
                if !known && r.reason.is_success() {
                    let c = Ctrl {
                        packet_type: 6,
                        id: r.packet_id,
                        reason: ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
                    };
                    if !state.ctrl_push(c) {
                        return Ok(Handled::Blocked);
                    }
                }
                Ok(Handled::Consumed)
            }
            Packet::PubRel(r) => Ok(if release(state, r.packet_id) {
                Handled::Consumed
            } else {
                Handled::Blocked
            }),
            Packet::PubComp(r) => {
                let qos2 = |k| k == Kind::Publish(QoS::ExactlyOnce);
                if state.complete(r.packet_id, qos2, Phase::Released, r.reason) {
                    session.wake_waiters();
                }
                Ok(Handled::Consumed)
            }
            Packet::SubAck(a) => {
                self.acked(state, a.packet_id, Kind::Subscribe, a.reason_codes, true)?;
                Ok(Handled::Consumed)
            }
            Packet::UnsubAck(a) => {
                // A 3.1.1 UNSUBACK carries no reason codes.
                let counted = state.info.version.is_v5();
                self.acked(
                    state,
                    a.packet_id,
                    Kind::Unsubscribe,
                    a.reason_codes,
                    counted,
                )?;
                Ok(Handled::Consumed)
            }
            Packet::PingResp => {
                state.ping_outstanding = false;
                Ok(Handled::Consumed)
            }
            Packet::Disconnect(d) => {
                state.server_said.record(&d.properties);
                state.server_said.disconnect = Some(d.reason);
                if matches!(state.reauth, ReAuth::Requested | ReAuth::Sent) {
                    state.reauth = ReAuth::Done(Err(Error::ServerDisconnect(d.reason)));
                }
                Err(Error::ServerDisconnect(d.reason))
            }
            Packet::Auth(a) => {
                if state.auth_reply_due {
                    return Ok(Handled::Blocked);
                }
                if a.reason == ReasonCode::SUCCESS {
                    if state.reauth != ReAuth::Sent {
                        return Err(protocol("AUTH success without a re-authentication"));
                    }
                    check_method(&a, auth.as_deref())?;
                    let result = match auth {
                        Some(au) => au.finish(auth_data(&a.properties)).map_err(Error::Auth),
                        None => Err(protocol("AUTH without an authentication method")),
                    };
                    state.reauth = ReAuth::Done(result);
                    session.wake_waiters();
                    result?;
                } else {
                    self.on_auth(&a, auth)?;
                    state.auth_reply_due = true;
                }
                Ok(Handled::Consumed)
            }
            // Handled by `read_side` itself.
            Packet::Publish(_) => Ok(Handled::Consumed),
            Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq => Err(CLIENT_ONLY),
        }
    }

    /// Checks an AUTH "continue" from the broker and prepares the answer.
    fn on_auth(
        &self,
        a: &Auth<'_>,
        auth: Option<&mut (dyn Authenticator + '_)>,
    ) -> Result<(), Error> {
        check_method(a, auth.as_deref())?;
        let Some(au) = auth else {
            return Err(protocol("AUTH without an authentication method"));
        };
        if a.reason != ReasonCode::CONTINUE_AUTHENTICATION {
            return Err(protocol(
                "AUTH from the broker that is not continue or success",
            ));
        }
        au.respond(auth_data(&a.properties)).map_err(Error::Auth)
    }

    /// Queues the AUTH packets of an exchange: the answer to a challenge, or the
    /// start of a re-authentication. `None`: nothing to do; `Some(false)`: no room
    /// yet; `Some(true)`: queued.
    fn fill_auth(
        &self,
        state: &mut State<'_>,
        auth: Option<&mut (dyn Authenticator + '_)>,
    ) -> Result<Option<bool>, Error> {
        if state.auth_reply_due {
            if push_auth(state, ReasonCode::CONTINUE_AUTHENTICATION, auth.as_deref())?
                == Push::NoRoom
            {
                return Ok(Some(false));
            }
            state.auth_reply_due = false;
            return Ok(Some(true));
        }
        if state.reauth != ReAuth::Requested {
            return Ok(None);
        }
        let Some(au) = auth else {
            state.reauth = ReAuth::Done(Err(Error::Unsupported(
                "re-authentication without an authenticator (use run_with_auth)",
            )));
            self.session.wake_waiters();
            return Ok(Some(true));
        };
        if let Err(e) = au.start(true) {
            state.reauth = ReAuth::Done(Err(Error::Auth(e)));
            self.session.wake_waiters();
            return Ok(Some(true));
        }
        if push_auth(state, ReasonCode::RE_AUTHENTICATE, Some(au))? == Push::NoRoom {
            // Started again on the next try.
            return Ok(Some(false));
        }
        state.reauth = ReAuth::Sent;
        Ok(Some(true))
    }

    /// Completes the SUBSCRIBE or UNSUBSCRIBE `id` with its reason codes; one
    /// code per filter is the rule ("MUST contain a Reason Code for each Topic
    /// Filter"), checked where the packet has codes (`counted`).
    fn acked(
        &self,
        state: &mut State<'_>,
        id: u16,
        kind: Kind,
        codes: codec::List<'_, ReasonCode>,
        counted: bool,
    ) -> Result<(), Error> {
        if let Some(slot) = state.find(id, |k| k == kind)
            && slot.phase == Phase::Sent
        {
            if counted && codes.len() != usize::from(slot.n_codes) {
                return Err(Error::Protocol(
                    ReasonCode::PROTOCOL_ERROR,
                    "acknowledgement with a reason code count unlike its request's",
                ));
            }
            let mut n = 0;
            for (dst, code) in slot.codes.iter_mut().zip(codes.iter()) {
                *dst = code;
                n += 1;
            }
            slot.n_codes = n;
            if state.complete(id, |k| k == kind, Phase::Sent, ReasonCode::SUCCESS) {
                self.session.wake_waiters();
            }
        }
        Ok(())
    }
}

/// Refuses CONNECT properties that clash with what the client sets itself,
/// before anything is sent: each property may appear once in a CONNECT, and a
/// broker closes the connection on a repeated one. A receive maximum, maximum
/// packet size or topic alias maximum of the application's replaces the client's
/// own if the storage can honour it.
fn check_connect_properties(
    session: &Session<'_>,
    options: &ConnectOptions<'_>,
) -> Result<(), Error> {
    if options.properties.is_empty()
        && options.receive_maximum.is_none()
        && options.maximum_packet_size.is_none()
        && options.topic_alias_maximum.is_none()
    {
        return Ok(());
    }
    if !options.version.is_v5() && !options.properties.is_empty() {
        return Err(Error::InvalidInput("CONNECT properties need MQTT 5.0"));
    }
    let (rx_len, aliases) = session
        .rx
        .try_borrow()
        .map(|rx| (rx.buf.len(), rx.aliases.len()))
        .map_err(|_| protocol("busy"))?;
    let inbound = session
        .state
        .try_borrow()
        .map(|s| s.inbound.len())
        .map_err(|_| protocol("busy"))?;
    for p in options.properties {
        let typed = match p.id() {
            0x21 => options.receive_maximum.is_some(),
            0x22 => options.topic_alias_maximum.is_some(),
            0x27 => options.maximum_packet_size.is_some(),
            _ => false,
        };
        if typed {
            // Sent once only (MQTT 5.0 2.2.2.2), and two values would leave
            // the application unsure which one the client enforces.
            return Err(Error::InvalidInput(
                "CONNECT properties: a limit given both as a property and by its ConnectOptions field",
            ));
        }
        match *p {
            Property::SessionExpiryInterval(_) => {
                return Err(Error::InvalidInput(
                    "CONNECT properties: the session expiry interval is set with \
                     ConnectOptions::session_expiry",
                ));
            }
            Property::AuthenticationMethod(_) | Property::AuthenticationData(_) => {
                return Err(Error::InvalidInput(
                    "CONNECT properties: authentication goes through Driver::run_with_auth",
                ));
            }
            _ => {}
        }
    }
    // The limits, wherever they came from. Zero is refused by the codec's
    // value rules too, but as an encoding error after connecting; here it is
    // the application's input, refused before anything is sent.
    match options.advertised(0x21) {
        Some(0) => return Err(Error::InvalidInput("receive maximum of 0")),
        Some(n) if n > inbound.max(1) => {
            return Err(Error::InvalidInput(
                "receive maximum above the storage's INBOUND (the QoS 2 identifiers it stores)",
            ));
        }
        _ => {}
    }
    match options.advertised(0x27) {
        Some(0) => return Err(Error::InvalidInput("maximum packet size of 0")),
        Some(n) if n > rx_len => {
            return Err(Error::InvalidInput(
                "maximum packet size above the storage's RX (the receive buffer)",
            ));
        }
        _ => {}
    }
    if options.advertised(0x22).is_some_and(|n| n > aliases) {
        return Err(Error::InvalidInput(
            "topic alias maximum above the storage's ALIASES",
        ));
    }
    Ok(())
}

/// Checks what can be checked of an incoming PUBLISH when it arrives; the rest
/// (topic aliases, duplicates) is done in order of arrival when it is delivered.
/// Releases incoming QoS 2 message `id` (a PUBREL from the broker) and queues
/// its PUBCOMP; false, with nothing changed, while the control queue is full.
fn release(state: &mut State<'_>, id: u16) -> bool {
    if !state.ctrl_room() {
        return false;
    }
    let found = state.inbound_remove(id);
    // 3.1.1 has no reason codes: an identifier not in use is completed all the same.
    let reason = if found || !state.info.version.is_v5() {
        ReasonCode::SUCCESS
    } else {
        ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
    };
    state.ctrl_push(Ctrl {
        packet_type: 7,
        id,
        reason,
    })
}

/// Whether a QoS 2 PUBLISH with identifier `id` waits in `rx`.
fn waiting_qos2(rx: &Rx<'_>, version: Version, id: u16) -> bool {
    let mut at = rx.start;
    let end = (rx.start + rx.waiting).min(rx.end);
    // Every packet takes at least two bytes: the bound is never the limit.
    for _ in 0..rx.waiting {
        let Some(data) = rx.buf.get(at..end).filter(|d| !d.is_empty()) else {
            return false;
        };
        match codec::decode_from_server(data, version) {
            Ok(Some((Packet::Publish(p), _)))
                if p.qos == QoS::ExactlyOnce && p.packet_id == Some(id) =>
            {
                return true;
            }
            Ok(Some((_, len))) => at += len,
            _ => return false,
        }
    }
    false
}

fn check_publish(aliases: usize, p: &Publish<'_>) -> Result<(), Error> {
    if let Some(Property::TopicAlias(a)) = p.properties.find(0x23)
        && (a == 0 || usize::from(a) > aliases)
    {
        return Err(Error::Protocol(
            ReasonCode::TOPIC_ALIAS_INVALID,
            "topic alias above the maximum",
        ));
    }
    Ok(())
}

/// Records the topic alias a PUBLISH sets, or checks that the one it uses is set;
/// for a message that is not copied (a resend), in its order of arrival.
fn note_alias(p: &Publish<'_>, aliases: &mut [AliasSlot]) -> Result<(), Error> {
    let Some(Property::TopicAlias(a)) = p.properties.find(0x23) else {
        return Ok(());
    };
    let slot = usize::from(a)
        .checked_sub(1)
        .and_then(|i| aliases.get_mut(i))
        .ok_or(Error::Protocol(
            ReasonCode::TOPIC_ALIAS_INVALID,
            "topic alias above the maximum",
        ))?;
    if p.topic.is_empty() {
        if slot.len == 0 {
            return Err(protocol("topic alias that was never set"));
        }
        return Ok(());
    }
    let dst = slot.topic.get_mut(..p.topic.len()).ok_or(Error::Protocol(
        ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR,
        "aliased topic longer than ALIAS_TOPIC_LEN",
    ))?;
    dst.copy_from_slice(p.topic.as_bytes());
    slot.len = u8::try_from(p.topic.len()).unwrap_or(0);
    Ok(())
}

/// Copies the PUBLISH `raw` (decoded as `p`) into `buf`, with a topic given as a
/// topic alias filled in; records new aliases. Returns the bytes used.
fn copy_message(
    p: &Publish<'_>,
    raw: &[u8],
    aliases: &mut [AliasSlot],
    version: Version,
    buf: &mut [u8],
) -> Result<usize, Error> {
    let Some(Property::TopicAlias(a)) = p.properties.find(0x23) else {
        let dst = buf.get_mut(..raw.len()).ok_or(Error::TooLarge)?;
        dst.copy_from_slice(raw);
        return Ok(raw.len());
    };
    let slot = usize::from(a)
        .checked_sub(1)
        .and_then(|i| aliases.get_mut(i))
        .ok_or(Error::Protocol(
            ReasonCode::TOPIC_ALIAS_INVALID,
            "topic alias above the maximum",
        ))?;
    if !p.topic.is_empty() {
        let dst = slot.topic.get_mut(..p.topic.len()).ok_or(Error::Protocol(
            ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR,
            "aliased topic longer than ALIAS_TOPIC_LEN",
        ))?;
        dst.copy_from_slice(p.topic.as_bytes());
        slot.len = u8::try_from(p.topic.len()).unwrap_or(0);
        let dst = buf.get_mut(..raw.len()).ok_or(Error::TooLarge)?;
        dst.copy_from_slice(raw);
        return Ok(raw.len());
    }
    if slot.len == 0 {
        return Err(protocol("topic alias that was never set"));
    }
    let topic = core::str::from_utf8(slot.topic.get(..usize::from(slot.len)).unwrap_or(&[]))
        .map_err(|_| protocol("topic alias that was never set"))?;
    let filled = Packet::Publish(Publish { topic, ..*p });
    filled.encode(version, buf).map_err(|e| match e {
        EncodeError::BufferTooSmall { .. } => Error::Protocol(
            ReasonCode::PACKET_TOO_LARGE,
            "message with its aliased topic larger than RX",
        ),
        e => Error::Encode(e),
    })
}

/// The authentication data of an AUTH or CONNACK.
fn auth_data<'a>(properties: &Properties<'a>) -> Option<&'a [u8]> {
    match properties.find(0x16) {
        Some(Property::AuthenticationData(d)) => Some(d),
        _ => None,
    }
}

/// An AUTH must name the method of the exchange.
fn check_method(a: &Auth<'_>, auth: Option<&dyn Authenticator>) -> Result<(), Error> {
    let Some(au) = auth else {
        return Err(protocol("AUTH without an authentication method"));
    };
    match a.properties.find(0x15) {
        Some(Property::AuthenticationMethod(m)) if m == au.method() => Ok(()),
        _ => Err(protocol("AUTH with another authentication method")),
    }
}

/// Queues an AUTH with `reason` and the authenticator's method and current data.
fn push_auth(
    state: &mut State<'_>,
    reason: ReasonCode,
    auth: Option<&dyn Authenticator>,
) -> Result<Push, Error> {
    let Some(au) = auth else {
        return Err(protocol("AUTH without an authentication method"));
    };
    let props = [
        Property::AuthenticationMethod(au.method()),
        Property::AuthenticationData(au.data().unwrap_or(&[])),
    ];
    let n = if au.data().is_some() { 2 } else { 1 };
    state.push(&Packet::Auth(Auth {
        reason,
        properties: Properties::new(props.get(..n).unwrap_or(&[])),
    }))
}
