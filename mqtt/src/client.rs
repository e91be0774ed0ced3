//! The application's handles: [`Client`] (publish, subscribe, …) and [`Receiver`]
//! (incoming messages).

use core::future::poll_fn;
use core::task::{Context, Poll};

use crate::auth::ReAuth;
use crate::codec::{
    self, List, Packet, Properties, Property, Publish, QoS, ReasonCode, Subscribe, Subscription,
    Unsubscribe, Version,
};
use crate::session::{Conn, ConnectionInfo, Held, Kind, MAX_FILTERS, Phase, Push, Session, Slot};
use crate::{DisconnectOptions, Error, PublishOptions};

/// The handle an application publishes and subscribes with. It is `Copy`: every
/// task of the application may hold one; all of them share the session.
///
/// Operations wait while the client is not connected yet. When the driver's
/// `run` returns, operations under way fail with its error, unless the
/// application reconnects ([`ConnectOptions::wait_for_reconnect`](crate::ConnectOptions::wait_for_reconnect),
/// set by `persistent`): then they continue on the next connection the
/// [`Driver`](crate::Driver) makes. Dropping the driver fails them with
/// [`Error::Stopped`]. A future that fails this way leaves its message to the
/// driver as if it had been dropped (see the cancel safety of [`Client::publish`]).
#[derive(Debug, Clone, Copy)]
pub struct Client<'r> {
    session: &'r Session<'r>,
}

/// The reason codes of a SUBACK or UNSUBACK, one per filter. Its `Debug` shows
/// the codes received, not the unused slots, and two are equal when their
/// codes are (whatever an unused slot kept from an earlier acknowledgement).
#[derive(Clone, Copy, Eq)]
pub struct AckCodes {
    codes: [ReasonCode; MAX_FILTERS],
    len: u8,
}

impl PartialEq for AckCodes {
    fn eq(&self, other: &Self) -> bool {
        self.codes() == other.codes()
    }
}

impl core::fmt::Debug for AckCodes {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("AckCodes").field(&self.codes()).finish()
    }
}

impl AckCodes {
    /// The codes, in the order of the filters. For SUBACK, 0 to 2 is the granted QoS.
    pub fn codes(&self) -> &[ReasonCode] {
        self.codes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// Frees or hands over an outgoing slot when its future is dropped.
struct SlotGuard<'r> {
    session: &'r Session<'r>,
    slot: Option<usize>,
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        let Some(index) = self.slot.take() else {
            return;
        };
        let Ok(mut state) = self.session.state.try_borrow_mut() else {
            return;
        };
        if let Some(w) = state.slot_wakers.get_mut(index) {
            *w = None;
        }
        let Some(slot) = state.slots.get_mut(index) else {
            return;
        };
        match slot.phase {
            // Never written, or finished: the identifier is free again.
            Phase::Reserved | Phase::Done => *slot = Slot::FREE,
            // Not written on this connection and its data goes with the future:
            // QoS 1 is given up; QoS 2 is released with PUBREL so the identifier
            // does not stay in use at the broker.
            Phase::Resend => match slot.kind {
                Kind::Publish(QoS::ExactlyOnce) => {
                    slot.phase = Phase::NeedRelease;
                    slot.abandoned = true;
                }
                _ => *slot = Slot::FREE,
            },
            // Written: the driver completes the handshake and frees the slot.
            Phase::Sent | Phase::NeedRelease | Phase::Released => slot.abandoned = true,
        }
        drop(state);
        self.session.wake_waiters();
        self.session.wake_driver();
    }
}

impl<'r> Client<'r> {
    pub(crate) const fn new(session: &'r Session<'r>) -> Self {
        Self { session }
    }

    /// Waits until the client is connected, and returns what the broker granted.
    ///
    /// # Errors
    ///
    /// The error `run` ended with when a connection attempt (or the connection)
    /// ends first: [`Error::Refused`] with the broker's reason code for a refused
    /// CONNECT, a network error, a timeout, [`Error::Stopped`] for a driver that
    /// was dropped or whose `run` was cancelled. Called while the driver is
    /// stopped (see [`Client`]), it fails at once. In a reconnect loop, call it
    /// again to wait for the next attempt.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only observes.
    pub async fn connected(&self) -> Result<ConnectionInfo, Error> {
        let mut attempts = None;
        poll_fn(|cx| {
            if let Ok(state) = self.session.state.try_borrow() {
                if state.conn == Conn::Up {
                    return Poll::Ready(Ok(state.info));
                }
                let ended = *attempts.get_or_insert(state.runs_ended);
                if state.stopped || state.runs_ended != ended {
                    return Poll::Ready(Err(state.end_error));
                }
            }
            self.session.register_waiter(cx);
            Poll::Pending
        })
        .await
    }

    /// What the broker granted on the current connection, `None` while disconnected.
    pub fn connection_info(&self) -> Option<ConnectionInfo> {
        let state = self.session.state.try_borrow().ok()?;
        (state.conn == Conn::Up).then_some(state.info)
    }

    /// How many QoS 1/2 publishes were written and wait for their acknowledgement
    /// (including those to be sent again after a reconnect).
    pub fn unacknowledged(&self) -> usize {
        self.session.state.try_borrow().map_or(0, |state| {
            state
                .slots
                .iter()
                .filter(|s| {
                    matches!(s.kind, Kind::Publish(_))
                        && matches!(
                            s.phase,
                            Phase::Sent | Phase::Resend | Phase::NeedRelease | Phase::Released
                        )
                })
                .count()
        })
    }

    /// The reason code of the broker's last DISCONNECT (5.0), kept after the
    /// connection ended (also returned by `run` as
    /// [`Error::ServerDisconnect`]); cleared by the next CONNACK.
    pub fn server_disconnect(&self) -> Option<ReasonCode> {
        self.session.state.try_borrow().ok()?.server_said.disconnect
    }

    /// Copies the reason string of the broker's last CONNACK or DISCONNECT (5.0)
    /// into `buf`; returns it. At most
    /// [`SERVER_TEXT_LEN`](crate::SERVER_TEXT_LEN) bytes are kept.
    pub fn server_reason_string<'b>(&self, buf: &'b mut [u8]) -> Option<&'b str> {
        let state = self.session.state.try_borrow().ok()?;
        copy_text(state.server_said.reason_string.get()?, buf)
    }

    /// Copies the server reference of the broker's last CONNACK or DISCONNECT
    /// (5.0; with 0x9C "use another server" / 0x9D "server moved", where to
    /// connect instead) into `buf`; returns it.
    pub fn server_reference<'b>(&self, buf: &'b mut [u8]) -> Option<&'b str> {
        let state = self.session.state.try_borrow().ok()?;
        copy_text(state.server_said.server_reference.get()?, buf)
    }

    /// Copies the response information of the last CONNACK (5.0; sent when the
    /// CONNECT asked for it with `RequestResponseInformation(1)`) into `buf`.
    pub fn response_information<'b>(&self, buf: &'b mut [u8]) -> Option<&'b str> {
        let state = self.session.state.try_borrow().ok()?;
        copy_text(state.server_said.response_information.get()?, buf)
    }

    /// Copies the client identifier the broker assigned (5.0) into `buf`; returns it.
    pub fn assigned_client_id<'b>(&self, buf: &'b mut [u8]) -> Option<&'b str> {
        let state = self.session.state.try_borrow().ok()?;
        let id = state.assigned_client_id()?;
        let dst = buf.get_mut(..id.len())?;
        dst.copy_from_slice(id.as_bytes());
        core::str::from_utf8(dst).ok()
    }

    /// Publishes `payload` to `topic` and waits for the end of the QoS handshake.
    ///
    /// - QoS 0 completes when the packet is in the transmit buffer.
    /// - QoS 1 completes at PUBACK, QoS 2 at PUBCOMP (or at a PUBREC with a failure
    ///   code). Several publishes may be in flight at once, up to the broker's
    ///   receive maximum and the storage's `SLOTS`; more wait for a free slot.
    /// - If the connection drops before the handshake ends, the message is sent
    ///   again (DUP) on the next connection of a persistent session, in the
    ///   original order, and the future completes then.
    ///
    /// - 5.0 topic aliases are automatic: with `ALIASES > 0` in the
    ///   [`Storage`](crate::Storage) and a broker that accepts aliases (its topic
    ///   alias maximum), the client keeps up to `min(ALIASES, maximum)` topics of at
    ///   most [`ALIAS_TOPIC_LEN`](crate::ALIAS_TOPIC_LEN) bytes per connection. A
    ///   topic that has an alias is sent as an empty topic plus the alias; a new
    ///   topic takes a free alias, or else the least recently used one, and is sent
    ///   in full with it. Aliases start afresh on each connection.
    ///
    /// Returns the success reason code (0x00, or 0x10 "no matching subscribers");
    /// a failure code is `Err(Error::Rejected(code))`. When the driver stops
    /// first (see [`Client`]) it fails with the driver's error; the message may
    /// or may not have reached the broker.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future never corrupts the session. Dropped before the packet
    /// was written: nothing is sent. Dropped after: the driver finishes the
    /// handshake in the background (QoS 2 through PUBREL/PUBCOMP), but the message
    /// is not sent again after a reconnect, since its data went with the future.
    pub async fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        options: PublishOptions<'_>,
    ) -> Result<ReasonCode, Error> {
        codec::validate_topic_name(topic).map_err(Error::InvalidInput)?;
        if options
            .properties
            .iter()
            .any(|p| matches!(p, Property::TopicAlias(_)))
        {
            return Err(Error::InvalidInput(
                "topic aliases are managed by the client",
            ));
        }
        let stops = self.session.stops()?;
        let mut guard = SlotGuard {
            session: self.session,
            slot: None,
        };
        poll_fn(|cx| self.poll_publish(cx, &mut guard.slot, stops, topic, payload, &options)).await
    }

    fn poll_publish(
        &self,
        cx: &Context<'_>,
        slot: &mut Option<usize>,
        stops: u32,
        topic: &str,
        payload: &[u8],
        options: &PublishOptions<'_>,
    ) -> Poll<Result<ReasonCode, Error>> {
        let session = self.session;
        let Ok(mut state) = session.state.try_borrow_mut() else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        let state = &mut *state;
        if let Some(e) = failed(state, *slot, stops) {
            return Poll::Ready(Err(e));
        }
        let publish = |dup, packet_id| Publish {
            dup,
            qos: options.qos,
            retain: options.retain,
            topic,
            packet_id,
            properties: Properties::empty(),
            payload,
        };
        let index = match *slot {
            Some(index) => index,
            None => {
                if state.conn != Conn::Up {
                    session.register_waiter(cx);
                    return Poll::Pending;
                }
                if options.qos > state.info.maximum_qos {
                    return Poll::Ready(Err(Error::Unsupported("QoS above the broker's maximum")));
                }
                if options.retain && !state.info.retain_available {
                    return Poll::Ready(Err(Error::Unsupported(
                        "retained messages, by the broker",
                    )));
                }
                if options.qos == QoS::AtMostOnce {
                    return match state.push_publish(publish(false, None), options.properties) {
                        Ok(Push::Written) => {
                            session.wake_driver();
                            Poll::Ready(Ok(ReasonCode::SUCCESS))
                        }
                        Ok(Push::NoRoom) => {
                            session.register_waiter(cx);
                            Poll::Pending
                        }
                        Err(e) => Poll::Ready(Err(e)),
                    };
                }
                let limit = usize::from(state.info.receive_maximum);
                // Counting needs a scan; with no fewer slots than the broker
                // allows, a free slot is all it takes.
                let allocated = if limit >= state.slots.len() || state.publishes_in_flight() < limit
                {
                    state.allocate(Kind::Publish(options.qos))
                } else {
                    None
                };
                match allocated {
                    Some(index) => {
                        *slot = Some(index);
                        index
                    }
                    None => {
                        session.register_waiter(cx);
                        return Poll::Pending;
                    }
                }
            }
        };
        let Some(&current) = state.slots.get(index) else {
            return Poll::Ready(Err(Error::InvalidInput("slot lost")));
        };
        match current.phase {
            Phase::Reserved | Phase::Resend => {
                let resend = current.phase == Phase::Resend;
                if state.conn != Conn::Up || (resend && !state.first_to_resend(index)) {
                    state.register_slot(index, cx);
                    return Poll::Pending;
                }
                match state.push_publish(publish(resend, Some(current.id)), options.properties) {
                    Ok(Push::Written) => {
                        state.slots[index].phase = Phase::Sent;
                        session.wake_driver();
                        // The next re-send in the original order may go now.
                        state.wake_slots(|s| s.phase == Phase::Resend);
                        state.register_slot(index, cx);
                        Poll::Pending
                    }
                    Ok(Push::NoRoom) => {
                        state.room_wanted = true;
                        state.register_slot(index, cx);
                        Poll::Pending
                    }
                    Err(e) => {
                        state.free_slot(index);
                        *slot = None;
                        session.wake_waiters();
                        Poll::Ready(Err(e))
                    }
                }
            }
            Phase::Done => {
                state.free_slot(index);
                *slot = None;
                // A slot is free: operations waiting for one may go on.
                session.wake_waiters();
                if current.reason.is_error() {
                    Poll::Ready(Err(Error::Rejected(current.reason)))
                } else {
                    Poll::Ready(Ok(current.reason))
                }
            }
            Phase::Sent | Phase::NeedRelease | Phase::Released => {
                state.register_slot(index, cx);
                Poll::Pending
            }
        }
    }

    /// Subscribes to `subscriptions` (at most [`MAX_FILTERS`]) and waits for the
    /// SUBACK. `properties` may carry a 5.0 subscription identifier and user
    /// properties. Returns one code per subscription: the granted QoS (0x00 to 0x02)
    /// or a failure code; failures do not make it an `Err`.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future never corrupts the session; the SUBSCRIBE may or may not
    /// have reached the broker, and its SUBACK is then discarded.
    pub async fn subscribe(
        &self,
        subscriptions: &[Subscription<'_>],
        properties: &[Property<'_>],
    ) -> Result<AckCodes, Error> {
        if subscriptions.is_empty() || subscriptions.len() > MAX_FILTERS {
            return Err(Error::InvalidInput(
                "1 to MAX_FILTERS subscriptions per call",
            ));
        }
        for s in subscriptions {
            codec::validate_topic_filter(s.filter).map_err(Error::InvalidInput)?;
        }
        let stops = self.session.stops()?;
        let mut guard = SlotGuard {
            session: self.session,
            slot: None,
        };
        poll_fn(|cx| {
            self.poll_request(
                cx,
                &mut guard.slot,
                stops,
                Kind::Subscribe,
                |state_version, id| {
                    Packet::Subscribe(Subscribe {
                        packet_id: id,
                        properties: if state_version.is_v5() {
                            Properties::new(properties)
                        } else {
                            Properties::empty()
                        },
                        subscriptions: List::new(subscriptions),
                    })
                },
            )
        })
        .await
    }

    /// Unsubscribes from `filters` (at most [`MAX_FILTERS`]) and waits for the
    /// UNSUBACK. Returns the 5.0 reason codes (empty for 3.1.1).
    ///
    /// # Cancel safety
    ///
    /// As [`Client::subscribe`].
    pub async fn unsubscribe(
        &self,
        filters: &[&str],
        properties: &[Property<'_>],
    ) -> Result<AckCodes, Error> {
        if filters.is_empty() || filters.len() > MAX_FILTERS {
            return Err(Error::InvalidInput("1 to MAX_FILTERS filters per call"));
        }
        for f in filters {
            codec::validate_topic_filter(f).map_err(Error::InvalidInput)?;
        }
        let stops = self.session.stops()?;
        let mut guard = SlotGuard {
            session: self.session,
            slot: None,
        };
        poll_fn(|cx| {
            self.poll_request(
                cx,
                &mut guard.slot,
                stops,
                Kind::Unsubscribe,
                |version, id| {
                    Packet::Unsubscribe(Unsubscribe {
                        packet_id: id,
                        properties: if version.is_v5() {
                            Properties::new(properties)
                        } else {
                            Properties::empty()
                        },
                        filters: List::new(filters),
                    })
                },
            )
        })
        .await
    }

    fn poll_request<'p>(
        &self,
        cx: &Context<'_>,
        slot: &mut Option<usize>,
        stops: u32,
        kind: Kind,
        packet: impl Fn(Version, u16) -> Packet<'p>,
    ) -> Poll<Result<AckCodes, Error>> {
        let session = self.session;
        let Ok(mut state) = session.state.try_borrow_mut() else {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        if let Some(e) = failed(&state, *slot, stops) {
            return Poll::Ready(Err(e));
        }
        let index = match *slot {
            Some(i) => i,
            None => {
                let allocated = if state.conn == Conn::Up {
                    state.allocate(kind)
                } else {
                    None
                };
                match allocated {
                    Some(i) => {
                        *slot = Some(i);
                        i
                    }
                    None => {
                        session.register_waiter(cx);
                        return Poll::Pending;
                    }
                }
            }
        };
        let Some(&current) = state.slots.get(index) else {
            return Poll::Ready(Err(Error::InvalidInput("slot lost")));
        };
        match current.phase {
            Phase::Reserved | Phase::Resend => {
                if state.conn != Conn::Up {
                    state.register_slot(index, cx);
                    return Poll::Pending;
                }
                let version = state.info.version;
                let request = packet(version, current.id);
                // How many reason codes the acknowledgement must carry.
                let expected = match &request {
                    Packet::Subscribe(s) => s.subscriptions.len(),
                    Packet::Unsubscribe(u) => u.filters.len(),
                    _ => 0,
                };
                match state.push(&request) {
                    Ok(Push::Written) => {
                        state.slots[index].phase = Phase::Sent;
                        state.slots[index].n_codes = u8::try_from(expected).unwrap_or(u8::MAX);
                        session.wake_driver();
                    }
                    Ok(Push::NoRoom) => state.room_wanted = true,
                    Err(e) => {
                        state.free_slot(index);
                        *slot = None;
                        session.wake_waiters();
                        return Poll::Ready(Err(e));
                    }
                }
                state.register_slot(index, cx);
                Poll::Pending
            }
            Phase::Done => {
                state.free_slot(index);
                *slot = None;
                // A slot is free: operations waiting for one may go on.
                session.wake_waiters();
                Poll::Ready(Ok(AckCodes {
                    codes: current.codes,
                    len: current.n_codes,
                }))
            }
            _ => {
                state.register_slot(index, cx);
                Poll::Pending
            }
        }
    }

    /// Re-authenticates on the current connection (5.0 enhanced authentication):
    /// the driver sends AUTH 0x19 with the [`Authenticator`](crate::Authenticator)
    /// given to [`Driver::run_with_auth`](crate::Driver::run_with_auth), answers the
    /// broker's challenges, and this completes at the broker's AUTH success. A
    /// broker that rejects it disconnects: `Err(Error::ServerDisconnect(reason))`.
    ///
    /// # Errors
    ///
    /// Not connected with 5.0 ([`Error::Unsupported`]), no authenticator, the
    /// authenticator refused ([`Error::Auth`]), or the connection ended.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future does not stop an exchange under way; the driver
    /// finishes it and its result is discarded.
    pub async fn reauthenticate(&self) -> Result<(), Error> {
        {
            let mut state = self
                .session
                .state
                .try_borrow_mut()
                .map_err(|_| Error::InvalidInput("session busy"))?;
            if state.conn != Conn::Up || !state.info.version.is_v5() {
                return Err(Error::Unsupported(
                    "re-authentication needs a 5.0 connection",
                ));
            }
            if matches!(state.reauth, ReAuth::Requested | ReAuth::Sent) {
                return Err(Error::InvalidInput("a re-authentication is under way"));
            }
            state.reauth = ReAuth::Requested;
        }
        self.session.wake_driver();
        poll_fn(|cx| {
            if let Ok(mut state) = self.session.state.try_borrow_mut()
                && let ReAuth::Done(result) = state.reauth
            {
                state.reauth = ReAuth::Idle;
                return Poll::Ready(result);
            }
            self.session.register_waiter(cx);
            Poll::Pending
        })
        .await
    }

    /// Asks the driver to end the connection with DISCONNECT (`reason` in 5.0:
    /// 0x00 normal, 0x04 "with will message") and waits until it has. Returns at
    /// once if there is no connection. The driver's `run` then returns `Ok(())`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the request stays made; the driver disconnects anyway.
    pub async fn disconnect(&self, reason: ReasonCode) {
        if let Ok(mut state) = self.session.state.try_borrow_mut()
            && state.conn == Conn::Up
        {
            state.disconnect = Some(reason);
        }
        self.wait_disconnected().await;
    }

    /// As [`disconnect`](Self::disconnect), with the 5.0 properties of
    /// `options`: a session expiry interval (how long the broker keeps the
    /// session after this connection), a reason string, user properties.
    ///
    /// The DISCONNECT is encoded at once through the codec, with the checks its
    /// decoder makes (properties a DISCONNECT may carry, none repeated, valid
    /// values), and the driver writes it after the acknowledgements it still
    /// owes, as for `disconnect`.
    ///
    /// # Errors
    ///
    /// Before anything is sent, and the connection then stays up:
    /// [`Error::Unsupported`] for properties on a 3.1.1 connection;
    /// [`Error::InvalidInput`] for a non-zero session expiry after a CONNECT
    /// with 0 (a protocol error at the broker), or a server reference (the
    /// server's property); [`Error::Encode`] for properties the codec refuses
    /// (not allowed in a DISCONNECT, given twice, an invalid string);
    /// [`Error::TooLarge`] for a DISCONNECT longer than
    /// [`MAX_DISCONNECT_LEN`](crate::MAX_DISCONNECT_LEN) bytes. Without a
    /// connection it returns `Ok(())` at once.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: once it returned `Pending` the request stays made; the
    /// driver disconnects anyway.
    pub async fn disconnect_with(&self, options: &DisconnectOptions<'_>) -> Result<(), Error> {
        if let Ok(mut state) = self.session.state.try_borrow_mut()
            && state.conn == Conn::Up
        {
            let state = &mut *state;
            let v5 = state.info.version.is_v5();
            if options.has_properties() {
                if !v5 {
                    return Err(Error::Unsupported("DISCONNECT properties need MQTT 5.0"));
                }
                if options.session_expiry.is_some_and(|s| s > 0)
                    && state.connect_session_expiry == 0
                {
                    return Err(Error::InvalidInput(
                        "a DISCONNECT may not set a session expiry when the CONNECT's was 0",
                    ));
                }
                if options
                    .properties
                    .iter()
                    .any(|p| matches!(p, Property::ServerReference(_)))
                {
                    return Err(Error::InvalidInput(
                        "a server reference is the server's DISCONNECT property",
                    ));
                }
                let mut own = [Property::ReasonString(""); 2];
                let mut n = 0;
                if let Some(s) = options.session_expiry {
                    own[n] = Property::SessionExpiryInterval(s);
                    n += 1;
                }
                if let Some(r) = options.reason_string {
                    own[n] = Property::ReasonString(r);
                    n += 1;
                }
                let packet = Packet::Disconnect(codec::Disconnect {
                    reason: options.reason,
                    properties: List::chain(&own[..n], options.properties),
                });
                // Encoded aside first: a refused request leaves an earlier one whole.
                let mut bytes = [0u8; crate::MAX_DISCONNECT_LEN];
                let len = match packet.encode(Version::V5, &mut bytes) {
                    Ok(len) => len,
                    Err(codec::EncodeError::BufferTooSmall { .. }) => {
                        return Err(Error::TooLarge);
                    }
                    Err(e) => return Err(Error::Encode(e)),
                };
                // Refused here rather than by the driver, which would end the
                // connection with the error instead of disconnecting.
                if u32::try_from(len).map_or(true, |l| l > state.info.maximum_packet_size) {
                    return Err(Error::TooLarge);
                }
                state.disconnect_packet = bytes;
                state.disconnect_len = len;
            } else {
                state.disconnect_len = 0;
            }
            state.disconnect = Some(options.reason);
        }
        self.wait_disconnected().await;
        Ok(())
    }

    /// Wakes the driver (which writes the DISCONNECT asked for) and waits until
    /// the connection is down.
    async fn wait_disconnected(&self) {
        self.session.wake_driver();
        poll_fn(|cx| match self.session.state.try_borrow() {
            Ok(state) if state.conn == Conn::Down => Poll::Ready(()),
            _ => {
                self.session.register_waiter(cx);
                Poll::Pending
            }
        })
        .await;
    }
}

/// Where incoming messages arrive, in the order the broker sent them.
///
/// The driver copies each incoming message into one of the storage's `HOLD`
/// message buffers; a [`Message`] borrows its buffer (no further copy) until it is
/// dropped. The application may hold up to `HOLD` messages at once while the
/// driver goes on reading: acknowledgements of its own publishes, pings and
/// everything else keep flowing. When every buffer is in use, further messages
/// wait in the receive buffer, the driver handles the packets behind them while
/// there is room, and then stops reading the socket: that is the backpressure
/// towards the broker, bounded by `RX`, next to the receive maximum (`INBOUND`)
/// the broker keeps to.
///
/// A QoS 1/2 message is acknowledged (PUBACK / PUBREC) after it is dropped, in the
/// order messages arrived (as MQTT requires), so a message the application did not
/// finish with is sent again after a reconnect.
#[derive(Debug)]
pub struct Receiver<'r> {
    session: &'r Session<'r>,
}

impl<'r> Receiver<'r> {
    pub(crate) const fn new(session: &'r Session<'r>) -> Self {
        Self { session }
    }

    /// Waits for the next incoming message. A QoS 2 message is delivered once,
    /// even if the broker sends it again after a reconnect.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message not yet returned stays for the next call.
    pub async fn recv(&mut self) -> Message<'r> {
        poll_fn(|cx| match self.try_take() {
            Some(m) => Poll::Ready(m),
            None => {
                self.session.register_receiver(cx);
                Poll::Pending
            }
        })
        .await
    }

    /// The next message if one is waiting.
    pub fn try_recv(&mut self) -> Option<Message<'r>> {
        self.try_take()
    }

    /// How many messages wait in the message buffers for [`Receiver::recv`].
    pub fn ready(&self) -> usize {
        self.session.ready_messages()
    }

    fn try_take(&self) -> Option<Message<'r>> {
        let session = self.session;
        let index = session.oldest(&[Held::Ready], false)?;
        let entry_cell = session.inbox.get(index)?;
        let buf = session.bufs.get(index)?.take()?;
        let mut entry = entry_cell.get();
        entry.state = Held::Taken;
        entry_cell.set(entry);
        let version = session
            .state
            .try_borrow()
            .map(|s| s.info.version)
            .unwrap_or(Version::PREFERRED);
        // A freed place may let the driver move a waiting message in.
        session.wake_driver();
        Some(Message {
            session,
            buf,
            index,
            len: entry.len,
            version,
        })
    }
}

/// An incoming message in one of the storage's message buffers. Dropping it gives
/// the buffer back and has the driver acknowledge it.
pub struct Message<'r> {
    session: &'r Session<'r>,
    buf: &'r mut [u8],
    index: usize,
    len: usize,
    version: Version,
}

impl core::fmt::Debug for Message<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Message")
            .field("topic", &self.topic())
            .field("qos", &self.qos())
            .field("payload_len", &self.payload().len())
            .finish()
    }
}

impl Message<'_> {
    /// The PUBLISH packet as received, except that a topic the broker sent as a
    /// topic alias is filled in.
    pub fn packet(&self) -> Publish<'_> {
        let bytes = self.buf.get(..self.len).unwrap_or(&[]);
        match codec::decode_from_server(bytes, self.version) {
            Ok(Some((Packet::Publish(p), _))) => p,
            // Decoded by the driver before; unreachable in practice.
            _ => Publish {
                dup: false,
                qos: QoS::AtMostOnce,
                retain: false,
                topic: "",
                packet_id: None,
                properties: Properties::empty(),
                payload: &[],
            },
        }
    }

    /// The topic (a topic alias is already resolved).
    pub fn topic(&self) -> &str {
        self.packet().topic
    }
    /// The payload.
    pub fn payload(&self) -> &[u8] {
        self.packet().payload
    }

    /// The QoS it was delivered with.
    pub fn qos(&self) -> QoS {
        self.packet().qos
    }

    /// The retain flag.
    pub fn retain(&self) -> bool {
        self.packet().retain
    }

    /// The DUP flag (the broker may have sent it before).
    pub fn dup(&self) -> bool {
        self.packet().dup
    }

    /// The 5.0 properties: user properties, response topic, correlation data,
    /// subscription identifiers, content type, message expiry, …
    pub fn properties(&self) -> Properties<'_> {
        self.packet().properties
    }

    /// The 5.0 subscription identifiers of the subscriptions it matched.
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = u32> + '_ {
        self.properties().into_iter().filter_map(|p| match p {
            Property::SubscriptionIdentifier(id) => Some(id),
            _ => None,
        })
    }
}

impl Drop for Message<'_> {
    fn drop(&mut self) {
        let session = self.session;
        if let (Some(cell), Some(entry_cell)) =
            (session.bufs.get(self.index), session.inbox.get(self.index))
        {
            cell.set(Some(core::mem::take(&mut self.buf)));
            let mut entry = entry_cell.get();
            entry.state = if entry.qos == QoS::AtMostOnce {
                Held::Free
            } else {
                Held::Dropped
            };
            entry_cell.set(entry);
        }
        session.wake_driver();
    }
}

/// The error an operation started at `stops` fails with, if the driver stopped
/// since. A handshake that finished first still reports its result.
fn failed(state: &crate::session::State<'_>, slot: Option<usize>, stops: u32) -> Option<Error> {
    let done = slot
        .and_then(|i| state.slots.get(i))
        .is_some_and(|s| s.phase == Phase::Done);
    if done {
        return None;
    }
    state.stopped_since(stops)
}

/// Copies `text` into `buf` if it fits.
fn copy_text<'b>(text: &str, buf: &'b mut [u8]) -> Option<&'b str> {
    let dst = buf.get_mut(..text.len())?;
    dst.copy_from_slice(text.as_bytes());
    core::str::from_utf8(dst).ok()
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::format;

    use super::*;

    /// `Debug` shows the codes received only; equality ignores what unused
    /// slots kept.
    #[test]
    fn ack_codes_debug_shows_used_slots_only() {
        let mut codes = [ReasonCode::SUCCESS; MAX_FILTERS];
        codes[0] = ReasonCode(1);
        codes[1] = ReasonCode(0x87);
        let two = AckCodes { codes, len: 2 };
        assert_eq!(
            format!("{two:?}"),
            "AckCodes([ReasonCode(0x01 Granted QoS 1), ReasonCode(0x87 Not authorized)])"
        );
        codes[5] = ReasonCode(2);
        assert_eq!(two, AckCodes { codes, len: 2 });
        let none = AckCodes { codes, len: 0 };
        assert_eq!(format!("{none:?}"), "AckCodes([])");
    }
}
