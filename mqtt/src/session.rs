//! The state a client keeps across connections, shared by the driver and the
//! handles through `RefCell`s that are never borrowed across an `.await`.

use core::cell::{Cell, RefCell};
use core::task::{Context, Waker};

use crate::Error;
use crate::codec::{List, Packet, Properties, Property, Publish, QoS, ReasonCode, Version};

/// Most reason codes a SUBACK or UNSUBACK can report to one call.
pub const MAX_FILTERS: usize = 16;
/// Longest topic a topic alias slot stores, in bytes.
pub const ALIAS_TOPIC_LEN: usize = 64;
/// Longest client identifier the broker may assign and the client keep, in bytes.
pub const ASSIGNED_ID_LEN: usize = 128;
/// Most messages an application can hold at once (the `HOLD` of [`Storage`]).
pub const MAX_HOLD: usize = 8;
/// Longest reason string, server reference or response information the client
/// keeps from the broker, in bytes (longer ones are cut at a character boundary).
pub const SERVER_TEXT_LEN: usize = 128;
/// Longest DISCONNECT the client sends with properties
/// ([`Client::disconnect_with`](crate::Client::disconnect_with)), in bytes.
pub const MAX_DISCONNECT_LEN: usize = 128;
const WAITERS: usize = 16;
const CTRL: usize = 16;

/// What an outgoing slot is used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Free,
    Publish(QoS),
    Subscribe,
    Unsubscribe,
}

/// Where an outgoing slot stands in its handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Has a packet identifier; its packet is not written yet.
    Reserved,
    /// Written; waits for PUBACK / PUBREC / SUBACK / UNSUBACK.
    Sent,
    /// Must be written again on the new connection by its future (DUP for PUBLISH).
    Resend,
    /// QoS 2: PUBREC received, PUBREL still to write.
    NeedRelease,
    /// QoS 2: PUBREL written, waits for PUBCOMP.
    Released,
    /// Finished; the result is in the slot.
    Done,
}

/// One outgoing packet identifier in use.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub(crate) kind: Kind,
    pub(crate) phase: Phase,
    pub(crate) id: u16,
    pub(crate) seq: u32,
    /// Its future was dropped: the driver finishes the handshake and frees it.
    pub(crate) abandoned: bool,
    pub(crate) reason: ReasonCode,
    pub(crate) codes: [ReasonCode; MAX_FILTERS],
    pub(crate) n_codes: u8,
}

impl Slot {
    /// An unused slot.
    pub(crate) const FREE: Self = Self {
        kind: Kind::Free,
        phase: Phase::Done,
        id: 0,
        seq: 0,
        abandoned: false,
        reason: ReasonCode::SUCCESS,
        codes: [ReasonCode::SUCCESS; MAX_FILTERS],
        n_codes: 0,
    };
}

/// A topic alias: one the broker set up for its PUBLISHes to us, or one the
/// client set up for its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AliasSlot {
    pub(crate) len: u8,
    pub(crate) topic: [u8; ALIAS_TOPIC_LEN],
    /// When it was last used (outgoing aliases: least recently used goes first).
    pub(crate) used: u32,
}

impl AliasSlot {
    /// An unset alias.
    pub(crate) const EMPTY: Self = Self {
        len: 0,
        topic: [0; ALIAS_TOPIC_LEN],
        used: 0,
    };

    /// The topic it stands for (empty if unset).
    pub(crate) fn topic(&self) -> &[u8] {
        self.topic.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// The memory of one client, sized at compile time; nothing is allocated.
///
/// - `RX`: receive buffer, the largest packet the client accepts (advertised as
///   5.0 maximum packet size, unless
///   [`ConnectOptions::maximum_packet_size`](crate::ConnectOptions::maximum_packet_size)
///   advertises less);
/// - `TX`: transmit buffer, at least the largest packet the client sends;
/// - `SLOTS`: publishes (QoS 1/2), subscribes and unsubscribes in flight at once;
/// - `INBOUND`: incoming QoS 2 messages awaiting PUBREL (advertised as 5.0 receive
///   maximum, unless
///   [`ConnectOptions::receive_maximum`](crate::ConnectOptions::receive_maximum)
///   advertises less);
/// - `ALIASES`: 5.0 topic aliases the broker may set for its messages to the
///   client, each storing a topic of up to [`ALIAS_TOPIC_LEN`] bytes; advertised
///   as the topic alias maximum (or less:
///   [`ConnectOptions::topic_alias_maximum`](crate::ConnectOptions::topic_alias_maximum));
/// - `HOLD`: incoming messages the application can hold at once (1 to
///   [`MAX_HOLD`]); each has a buffer of `RX` bytes. Messages are copied there
///   from the receive buffer, so the driver reads on while they are held;
/// - `OUT_ALIASES` (default: `ALIASES`): 5.0 topic aliases the client sets for its
///   own publishes, each storing a topic of up to [`ALIAS_TOPIC_LEN`] bytes; the
///   client uses up to the broker's topic alias maximum of them (least recently
///   used topic replaced first; see [`crate::Client::publish`]). Independent of
///   `ALIASES`: a device that publishes much and receives little sets
///   `ALIASES = 0` and a few `OUT_ALIASES`, or the other way round.
///
/// Its `Debug` shows the sizes only: the buffers hold what went over the wire,
/// the CONNECT with its password among it.
pub struct Storage<
    const RX: usize,
    const TX: usize,
    const SLOTS: usize = 8,
    const INBOUND: usize = 16,
    const ALIASES: usize = 0,
    const HOLD: usize = 1,
    const OUT_ALIASES: usize = ALIASES,
> {
    rx: [u8; RX],
    tx: [u8; TX],
    slots: [Slot; SLOTS],
    /// The waker of each slot's future: an acknowledgement wakes the one
    /// operation it completes, not every operation in flight.
    slot_wakers: [Option<Waker>; SLOTS],
    inbound: [u16; INBOUND],
    aliases: [AliasSlot; ALIASES],
    out_aliases: [AliasSlot; OUT_ALIASES],
    assigned_id: [u8; ASSIGNED_ID_LEN],
    held: [[u8; RX]; HOLD],
}

impl<
    const RX: usize,
    const TX: usize,
    const SLOTS: usize,
    const INBOUND: usize,
    const ALIASES: usize,
    const HOLD: usize,
    const OUT_ALIASES: usize,
> Storage<RX, TX, SLOTS, INBOUND, ALIASES, HOLD, OUT_ALIASES>
{
    /// Zeroed storage; `const`, so that firmware can place it in a `static`.
    pub const fn new() -> Self {
        Self {
            rx: [0; RX],
            tx: [0; TX],
            slots: [Slot::FREE; SLOTS],
            slot_wakers: [const { None }; SLOTS],
            inbound: [0; INBOUND],
            aliases: [AliasSlot::EMPTY; ALIASES],
            out_aliases: [AliasSlot::EMPTY; OUT_ALIASES],
            assigned_id: [0; ASSIGNED_ID_LEN],
            held: [[0; RX]; HOLD],
        }
    }
}

impl<
    const RX: usize,
    const TX: usize,
    const SLOTS: usize,
    const INBOUND: usize,
    const ALIASES: usize,
    const HOLD: usize,
    const OUT_ALIASES: usize,
> core::fmt::Debug for Storage<RX, TX, SLOTS, INBOUND, ALIASES, HOLD, OUT_ALIASES>
{
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Storage")
            .field("rx", &RX)
            .field("tx", &TX)
            .field("slots", &SLOTS)
            .field("inbound", &INBOUND)
            .field("aliases", &ALIASES)
            .field("hold", &HOLD)
            .field("out_aliases", &OUT_ALIASES)
            .finish_non_exhaustive()
    }
}

impl<
    const RX: usize,
    const TX: usize,
    const SLOTS: usize,
    const INBOUND: usize,
    const ALIASES: usize,
    const HOLD: usize,
    const OUT_ALIASES: usize,
> Default for Storage<RX, TX, SLOTS, INBOUND, ALIASES, HOLD, OUT_ALIASES>
{
    fn default() -> Self {
        Self::new()
    }
}

/// An acknowledgement the driver owes the broker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ctrl {
    pub(crate) packet_type: u8,
    pub(crate) id: u16,
    pub(crate) reason: ReasonCode,
}

/// What the broker granted at CONNACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// The protocol version in use.
    pub version: Version,
    /// The broker resumed a stored session.
    pub session_present: bool,
    /// How many QoS 1/2 publishes the broker accepts in flight (5.0; 65535 for 3.1.1).
    pub receive_maximum: u16,
    /// The highest QoS the broker supports.
    pub maximum_qos: QoS,
    /// The broker stores retained messages.
    pub retain_available: bool,
    /// The largest packet the broker accepts (`u32::MAX` if it did not say).
    pub maximum_packet_size: u32,
    /// How many topic aliases the broker accepts from the client.
    pub topic_alias_maximum: u16,
    /// The keep alive in force, in seconds (the server's if it imposed one).
    pub keep_alive: u16,
    /// The session expiry in force (the server's if it imposed one).
    pub session_expiry: u32,
    /// The broker assigned the client identifier (see [`crate::Client::assigned_client_id`]).
    pub client_id_assigned: bool,
    /// The broker supports wildcard subscriptions.
    pub wildcard_subscriptions: bool,
    /// The broker supports subscription identifiers.
    pub subscription_identifiers: bool,
    /// The broker supports shared subscriptions.
    pub shared_subscriptions: bool,
    /// What the CONNACK itself said: each limit or capability the broker sent,
    /// `None` for those it left out (the fields above then hold the protocol's
    /// default or the client's own request).
    pub server: ServerProperties,
}

/// The limits and capabilities a 5.0 CONNACK carried, each `None` when the
/// broker did not send it (always `None` for 3.1.1), so that an application can
/// tell "the broker said 65535" from "the broker said nothing".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerProperties {
    /// Receive maximum (0x21).
    pub receive_maximum: Option<u16>,
    /// Maximum QoS (0x24).
    pub maximum_qos: Option<QoS>,
    /// Retain available (0x25).
    pub retain_available: Option<bool>,
    /// Maximum packet size (0x27).
    pub maximum_packet_size: Option<u32>,
    /// Topic alias maximum (0x22).
    pub topic_alias_maximum: Option<u16>,
    /// Server keep alive (0x13).
    pub server_keep_alive: Option<u16>,
    /// Session expiry interval (0x11).
    pub session_expiry_interval: Option<u32>,
    /// Wildcard subscription available (0x28).
    pub wildcard_subscription_available: Option<bool>,
    /// Subscription identifiers available (0x29).
    pub subscription_identifier_available: Option<bool>,
    /// Shared subscription available (0x2A).
    pub shared_subscription_available: Option<bool>,
}

impl ServerProperties {
    /// Nothing sent.
    pub(crate) const NONE: Self = Self {
        receive_maximum: None,
        maximum_qos: None,
        retain_available: None,
        maximum_packet_size: None,
        topic_alias_maximum: None,
        server_keep_alive: None,
        session_expiry_interval: None,
        wildcard_subscription_available: None,
        subscription_identifier_available: None,
        shared_subscription_available: None,
    };

    /// What the properties of a CONNACK say.
    pub(crate) fn of(p: &Properties<'_>) -> Self {
        Self {
            receive_maximum: p.receive_maximum(),
            maximum_qos: p.maximum_qos().and_then(QoS::from_bits),
            retain_available: p.retain_available().map(|b| b == 1),
            maximum_packet_size: p.maximum_packet_size(),
            topic_alias_maximum: p.topic_alias_maximum(),
            server_keep_alive: p.server_keep_alive(),
            session_expiry_interval: p.session_expiry_interval(),
            wildcard_subscription_available: p.wildcard_subscription_available().map(|b| b == 1),
            subscription_identifier_available: p
                .subscription_identifier_available()
                .map(|b| b == 1),
            shared_subscription_available: p.shared_subscription_available().map(|b| b == 1),
        }
    }
}

impl ConnectionInfo {
    pub(crate) const fn defaults(version: Version, keep_alive: u16, session_expiry: u32) -> Self {
        Self {
            version,
            session_present: false,
            receive_maximum: u16::MAX,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
            maximum_packet_size: u32::MAX,
            topic_alias_maximum: 0,
            keep_alive,
            session_expiry,
            client_id_assigned: false,
            wildcard_subscriptions: true,
            subscription_identifiers: true,
            shared_subscriptions: true,
            server: ServerProperties::NONE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Conn {
    Down,
    Up,
}

/// A short text the broker sent (a reason string, a server reference, …).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerText {
    len: u8,
    bytes: [u8; SERVER_TEXT_LEN],
}

impl ServerText {
    pub(crate) const EMPTY: Self = Self {
        len: 0,
        bytes: [0; SERVER_TEXT_LEN],
    };

    /// Keeps `text`, cut at a character boundary to fit.
    pub(crate) fn set(&mut self, text: &str) {
        let mut end = text.len().min(SERVER_TEXT_LEN);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        self.bytes[..end].copy_from_slice(&text.as_bytes()[..end]);
        self.len = u8::try_from(end).unwrap_or(0);
    }

    pub(crate) fn get(&self) -> Option<&str> {
        let bytes = self.bytes.get(..usize::from(self.len))?;
        core::str::from_utf8(bytes).ok().filter(|s| !s.is_empty())
    }
}

/// What the broker said beyond reason codes, kept for the application.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ServerSaid {
    /// The reason string of the last CONNACK or DISCONNECT from the broker.
    pub(crate) reason_string: ServerText,
    /// The server reference of the last CONNACK or DISCONNECT (0x9C/0x9D: where
    /// to connect instead).
    pub(crate) server_reference: ServerText,
    /// The response information of the last CONNACK.
    pub(crate) response_information: ServerText,
    /// The reason code of the broker's last DISCONNECT.
    pub(crate) disconnect: Option<ReasonCode>,
}

impl ServerSaid {
    pub(crate) const NOTHING: Self = Self {
        reason_string: ServerText::EMPTY,
        server_reference: ServerText::EMPTY,
        response_information: ServerText::EMPTY,
        disconnect: None,
    };

    /// Takes what a CONNACK or DISCONNECT carries.
    pub(crate) fn record(&mut self, properties: &Properties<'_>) {
        *self = Self::NOTHING;
        for p in properties.iter() {
            match p {
                Property::ReasonString(s) => self.reason_string.set(s),
                Property::ServerReference(s) => self.server_reference.set(s),
                Property::ResponseInformation(s) => self.response_information.set(s),
                _ => {}
            }
        }
    }
}

/// A deliberate flaw in waking, for the interleaving test's negative controls.
#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flaw {
    None,
    /// An acknowledgement completes its slot without waking the future.
    AckWakesNobody,
    /// A new connection (or the end of one) does not wake the slots' futures.
    ResetWakesNobody,
}

pub(crate) struct State<'r> {
    /// Injected by the interleaving test only.
    #[cfg(test)]
    pub(crate) flaw: Flaw,
    pub(crate) tx: &'r mut [u8],
    pub(crate) tx_start: usize,
    pub(crate) tx_end: usize,
    pub(crate) slots: &'r mut [Slot],
    pub(crate) slot_wakers: &'r mut [Option<Waker>],
    /// Where [`State::allocate`] looks first: the slot freed last.
    pub(crate) free_hint: usize,
    /// A slot's future waits for room in the transmit buffer.
    pub(crate) room_wanted: bool,
    pub(crate) inbound: &'r mut [u16],
    pub(crate) inbound_len: usize,
    /// The receive maximum advertised on this connection (at most `INBOUND`).
    pub(crate) inbound_limit: usize,
    pub(crate) ctrl: [Option<Ctrl>; CTRL],
    pub(crate) assigned_id: &'r mut [u8],
    pub(crate) assigned_len: usize,
    /// Outgoing topic aliases of the current connection.
    pub(crate) out_aliases: &'r mut [AliasSlot],
    pub(crate) alias_clock: u32,
    /// An answer to the broker's AUTH challenge waits to be queued.
    pub(crate) auth_reply_due: bool,
    pub(crate) server_said: ServerSaid,
    pub(crate) reauth: crate::auth::ReAuth,
    pub(crate) conn: Conn,
    pub(crate) info: ConnectionInfo,
    pub(crate) next_id: u16,
    pub(crate) next_seq: u32,
    pub(crate) ping_due: bool,
    pub(crate) ping_outstanding: bool,
    pub(crate) disconnect: Option<ReasonCode>,
    /// The application's DISCONNECT, encoded when it asked for it (properties
    /// borrowed from its call cannot wait for the driver); empty: the driver
    /// encodes one from `disconnect` alone.
    pub(crate) disconnect_packet: [u8; MAX_DISCONNECT_LEN],
    pub(crate) disconnect_len: usize,
    /// The session expiry interval of the last CONNECT: a DISCONNECT may not
    /// set a non-zero one if it was 0 (MQTT 5.0 3.14.2.2.2).
    pub(crate) connect_session_expiry: u32,
    pub(crate) disconnect_written: bool,
    pub(crate) had_session: bool,
    pub(crate) connections: u32,
    /// Counts the broker's sessions: a CONNACK without session present starts a
    /// new one, in which packet identifiers of the old one mean nothing.
    pub(crate) epoch: u32,
    /// Counts the ends of `run` (connection attempts included).
    pub(crate) runs_ended: u32,
    /// Counts the ends of `run` at which waiting operations fail.
    pub(crate) stops: u32,
    /// Between such an end and the next `run`: new operations fail at once.
    pub(crate) stopped: bool,
    /// Why the last `run` ended.
    pub(crate) end_error: Error,
    pub(crate) last_send: portnet::Instant,
    pub(crate) ping_sent: portnet::Instant,
}

pub(crate) struct Rx<'r> {
    pub(crate) buf: &'r mut [u8],
    pub(crate) start: usize,
    pub(crate) end: usize,
    /// Bytes at `start` that are whole packets waiting in their order of
    /// arrival: PUBLISHes waiting for a free message buffer (or, in 3.1.1, a free
    /// place for a QoS 2 identifier), and PUBRELs for a QoS 2 message among them.
    /// The driver handles the packets behind them.
    pub(crate) waiting: usize,
    pub(crate) aliases: &'r mut [AliasSlot],
    /// The maximum packet size advertised on this connection (at most `RX`).
    pub(crate) max_packet: usize,
    /// The topic alias maximum advertised on this connection (at most `ALIASES`).
    pub(crate) alias_max: usize,
}

impl Rx<'_> {
    /// Drops the first waiting packet, `len` bytes long.
    pub(crate) fn consume_waiting(&mut self, len: usize) {
        self.start += len;
        self.waiting -= len;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

/// Where one of the application's message buffers stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Held {
    /// Beyond the storage's `HOLD`: never used.
    Unused,
    /// Free for the next incoming message.
    Free,
    /// Holds a message `recv` has not returned yet.
    Ready,
    /// The application holds the message (and the buffer).
    Taken,
    /// Dropped by the application; its acknowledgement waits for its turn.
    Dropped,
}

/// One message buffer's bookkeeping.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub(crate) state: Held,
    /// Order of arrival: messages are delivered and acknowledged in it.
    pub(crate) seq: u64,
    pub(crate) len: usize,
    pub(crate) qos: QoS,
    pub(crate) id: u16,
    /// The connection it arrived on; acknowledgements never cross connections.
    pub(crate) connection: u32,
    /// The broker's session it arrived in (see [`State::epoch`]).
    pub(crate) epoch: u32,
}

impl Entry {
    /// Whether this is a QoS 1 message the application has dropped that arrived
    /// on an earlier connection of the broker's current session `epoch`: never
    /// acknowledged, so the broker must send it again on this connection.
    pub(crate) fn awaits_resend(&self, connection: u32, epoch: u32) -> bool {
        self.state == Held::Dropped
            && self.qos == QoS::AtLeastOnce
            && self.epoch == epoch
            && self.connection != connection
    }

    const UNUSED: Self = Self {
        state: Held::Unused,
        seq: 0,
        len: 0,
        qos: QoS::AtMostOnce,
        id: 0,
        connection: 0,
        epoch: 0,
    };
}

/// A fixed set of wakers; when full, all are woken and dropped so that none is lost.
pub(crate) struct Wakers {
    list: [Option<Waker>; WAITERS],
}

impl Wakers {
    const fn new() -> Self {
        Self {
            list: [const { None }; WAITERS],
        }
    }
}

/// The state of one client, shared by its [`Driver`](crate::Driver),
/// [`Client`](crate::Client) and [`Receiver`](crate::Receiver).
pub struct Session<'r> {
    pub(crate) state: RefCell<State<'r>>,
    pub(crate) rx: RefCell<Rx<'r>>,
    /// The message buffers (`Cell`s: a dropped message gives its buffer back
    /// without any borrow that could fail).
    pub(crate) inbox: [Cell<Entry>; MAX_HOLD],
    pub(crate) bufs: [Cell<Option<&'r mut [u8]>>; MAX_HOLD],
    pub(crate) next_message: Cell<u64>,
    waiters: RefCell<Wakers>,
    driver_waker: RefCell<Option<Waker>>,
    receiver_waker: RefCell<Option<Waker>>,
}

impl core::fmt::Debug for Session<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Session")
            .field("inbox", &self.inbox.each_ref().map(Cell::get))
            .finish_non_exhaustive()
    }
}

fn register(cell: &RefCell<Option<Waker>>, cx: &Context<'_>) {
    if let Ok(mut w) = cell.try_borrow_mut() {
        match &mut *w {
            Some(old) if old.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
    } else {
        cx.waker().wake_by_ref();
    }
}

fn wake(cell: &RefCell<Option<Waker>>) {
    let w = cell.try_borrow_mut().ok().and_then(|mut w| w.take());
    if let Some(w) = w {
        w.wake();
    }
}

impl<'r> Session<'r> {
    /// A session over `storage`, with nothing in flight.
    pub fn new<
        const RX: usize,
        const TX: usize,
        const SLOTS: usize,
        const INBOUND: usize,
        const ALIASES: usize,
        const HOLD: usize,
        const OUT_ALIASES: usize,
    >(
        storage: &'r mut Storage<RX, TX, SLOTS, INBOUND, ALIASES, HOLD, OUT_ALIASES>,
    ) -> Self {
        const {
            assert!(
                HOLD >= 1 && HOLD <= MAX_HOLD,
                "Storage: HOLD must be 1 to MAX_HOLD"
            );
        }
        let inbox = [const { Cell::new(Entry::UNUSED) }; MAX_HOLD];
        let bufs = [const { Cell::new(None) }; MAX_HOLD];
        for ((entry, cell), buf) in inbox.iter().zip(&bufs).zip(storage.held.iter_mut()) {
            entry.set(Entry {
                state: Held::Free,
                ..Entry::UNUSED
            });
            cell.set(Some(buf.as_mut_slice()));
        }
        Self {
            state: RefCell::new(State {
                #[cfg(test)]
                flaw: Flaw::None,
                tx: &mut storage.tx,
                tx_start: 0,
                tx_end: 0,
                slots: &mut storage.slots,
                slot_wakers: &mut storage.slot_wakers,
                free_hint: 0,
                room_wanted: false,
                inbound: &mut storage.inbound,
                inbound_len: 0,
                inbound_limit: INBOUND,
                ctrl: [None; CTRL],
                assigned_id: &mut storage.assigned_id,
                assigned_len: 0,
                out_aliases: &mut storage.out_aliases,
                alias_clock: 0,
                auth_reply_due: false,
                server_said: ServerSaid::NOTHING,
                reauth: crate::auth::ReAuth::Idle,
                conn: Conn::Down,
                info: ConnectionInfo::defaults(Version::PREFERRED, 0, 0),
                next_id: 1,
                next_seq: 0,
                ping_due: false,
                ping_outstanding: false,
                disconnect: None,
                disconnect_packet: [0; MAX_DISCONNECT_LEN],
                disconnect_len: 0,
                connect_session_expiry: 0,
                disconnect_written: false,
                had_session: false,
                connections: 0,
                epoch: 0,
                runs_ended: 0,
                stops: 0,
                stopped: false,
                end_error: Error::Stopped,
                last_send: portnet::Instant::ZERO,
                ping_sent: portnet::Instant::ZERO,
            }),
            rx: RefCell::new(Rx {
                buf: &mut storage.rx,
                start: 0,
                end: 0,
                waiting: 0,
                aliases: &mut storage.aliases,
                max_packet: RX,
                alias_max: ALIASES,
            }),
            inbox,
            bufs,
            next_message: Cell::new(0),
            waiters: RefCell::new(Wakers::new()),
            driver_waker: RefCell::new(None),
            receiver_waker: RefCell::new(None),
        }
    }

    /// Splits the session into the driver (owns the connections), a client handle
    /// (publish, subscribe, …; `Copy`) and the receiver of incoming messages. The
    /// session stays borrowed by them.
    pub fn split<S: portnet::TcpConnect, C: portnet::Clock>(
        &'r mut self,
        stack: S,
        clock: C,
    ) -> (
        crate::Driver<'r, S, C>,
        crate::Client<'r>,
        crate::Receiver<'r>,
    ) {
        let this: &'r Self = self;
        (
            crate::Driver::new(this, stack, clock),
            crate::Client::new(this),
            crate::Receiver::new(this),
        )
    }

    pub(crate) fn register_waiter(&self, cx: &Context<'_>) {
        let Ok(mut ws) = self.waiters.try_borrow_mut() else {
            cx.waker().wake_by_ref();
            return;
        };
        if ws.list.iter().flatten().any(|w| w.will_wake(cx.waker())) {
            return;
        }
        if let Some(free) = ws.list.iter_mut().find(|w| w.is_none()) {
            *free = Some(cx.waker().clone());
            return;
        }
        // Full: wake everyone (they register again) and keep the newcomer.
        let old = core::mem::replace(&mut ws.list, [const { None }; WAITERS]);
        ws.list[0] = Some(cx.waker().clone());
        drop(ws);
        old.into_iter().flatten().for_each(Waker::wake);
    }

    /// Wakes every waiting operation: the connection came up or went down, or
    /// the driver stopped.
    pub(crate) fn wake_all(&self) {
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.wake_slots(|_| true);
        }
        self.wake_waiters();
    }

    /// Wakes the operations that wait without a slot (for a connection, for a
    /// free slot, for room in the transmit buffer, for a disconnect, …).
    pub(crate) fn wake_waiters(&self) {
        let old = match self.waiters.try_borrow_mut() {
            // Nobody waits (the common case on every acknowledgement and write).
            Ok(ws) if ws.list.iter().all(Option::is_none) => return,
            Ok(mut ws) => core::mem::replace(&mut ws.list, [const { None }; WAITERS]),
            Err(_) => return,
        };
        old.into_iter().flatten().for_each(Waker::wake);
    }

    /// Where the driver's stops stand when an operation starts: `Err` with the
    /// reason if the driver is stopped, else the count to compare with later
    /// ([`State::stopped_since`]).
    pub(crate) fn stops(&self) -> Result<u32, Error> {
        match self.state.try_borrow() {
            Ok(s) if s.stopped => Err(s.end_error),
            Ok(s) => Ok(s.stops),
            // Never borrowed across an `.await`: not reached from a handle.
            Err(_) => Ok(0),
        }
    }

    /// The connection is gone (however `run` ended): see [`Session::run_ended`].
    pub(crate) fn connection_ended(&self, end: Error, wait: bool) {
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.conn = Conn::Down;
            state.disconnect = None;
            state.disconnect_len = 0;
            if matches!(
                state.reauth,
                crate::auth::ReAuth::Requested | crate::auth::ReAuth::Sent
            ) {
                state.reauth = crate::auth::ReAuth::Done(Err(Error::Closed));
            }
        }
        self.run_ended(end, wait);
    }

    /// A PUBACK: completes its publish and wakes that publish's future alone
    /// (and, if its future was gone, the operations waiting for a free slot).
    pub(crate) fn on_puback(&self, state: &mut State<'_>, id: u16, reason: ReasonCode) {
        let qos1 = |k| k == Kind::Publish(QoS::AtLeastOnce);
        if state.complete(id, qos1, Phase::Sent, reason) {
            self.wake_waiters();
        }
    }

    /// Records the end of a `run`: waiting operations fail with `end` unless
    /// the application reconnects (`wait`); `connected` waiters learn either way.
    pub(crate) fn run_ended(&self, end: Error, wait: bool) {
        if let Ok(mut state) = self.state.try_borrow_mut() {
            state.runs_ended = state.runs_ended.wrapping_add(1);
            state.end_error = end;
            if !wait {
                state.stopped = true;
                state.stops = state.stops.wrapping_add(1);
            }
        }
        self.wake_all();
    }

    pub(crate) fn register_driver(&self, cx: &Context<'_>) {
        register(&self.driver_waker, cx);
    }
    pub(crate) fn wake_driver(&self) {
        wake(&self.driver_waker);
    }
    pub(crate) fn register_receiver(&self, cx: &Context<'_>) {
        register(&self.receiver_waker, cx);
    }
    pub(crate) fn wake_receiver(&self) {
        wake(&self.receiver_waker);
    }
}

impl Session<'_> {
    /// The buffer of the oldest entry in `states` (by arrival), if any;
    /// `qos_only` skips QoS 0 messages (they need no acknowledgement).
    pub(crate) fn oldest(&self, states: &[Held], qos_only: bool) -> Option<usize> {
        self.inbox
            .iter()
            .enumerate()
            .map(|(i, e)| (i, e.get()))
            .filter(|(_, e)| states.contains(&e.state) && !(qos_only && e.qos == QoS::AtMostOnce))
            .min_by_key(|(_, e)| e.seq)
            .map(|(i, _)| i)
    }

    /// A QoS 1 message with packet identifier `id` that arrived on an earlier
    /// connection of the broker's current session `epoch` and is still in a
    /// message buffer: not acknowledged (acknowledgements never cross
    /// connections), so the broker must send it again, and until it is
    /// acknowledged the broker cannot use `id` for another message.
    pub(crate) fn stale_copy(&self, id: u16, connection: u32, epoch: u32) -> Option<usize> {
        self.inbox.iter().position(|e| {
            let e = e.get();
            matches!(e.state, Held::Ready | Held::Taken | Held::Dropped)
                && e.qos == QoS::AtLeastOnce
                && e.id == id
                && e.epoch == epoch
                && e.connection != connection
        })
    }

    /// The oldest message buffer kept for a resend ([`Session::awaits_resend`]).
    pub(crate) fn awaiting_resend(&self, connection: u32, epoch: u32) -> Option<usize> {
        self.inbox
            .iter()
            .enumerate()
            .filter(|(_, e)| e.get().awaits_resend(connection, epoch))
            .min_by_key(|(_, e)| e.get().seq)
            .map(|(i, _)| i)
    }

    /// A free message buffer's index.
    pub(crate) fn free_entry(&self) -> Option<usize> {
        self.inbox.iter().position(|e| e.get().state == Held::Free)
    }

    /// Messages in the inbox that the application has not taken yet.
    pub(crate) fn ready_messages(&self) -> usize {
        self.inbox
            .iter()
            .filter(|e| e.get().state == Held::Ready)
            .count()
    }
}

/// Whether a packet fit into the transmit buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Push {
    Written,
    NoRoom,
}

impl State<'_> {
    /// Appends `packet` to the transmit buffer if it fits now.
    /// Appends a packet encoded before (the application's DISCONNECT).
    pub(crate) fn push_encoded(&mut self, bytes: &[u8]) -> Result<Push, Error> {
        let len = bytes.len();
        if len > self.tx.len()
            || u32::try_from(len).map_or(true, |l| l > self.info.maximum_packet_size)
        {
            return Err(Error::TooLarge);
        }
        if self.tx.len() - self.tx_end < len && self.tx_start > 0 {
            self.tx.copy_within(self.tx_start..self.tx_end, 0);
            self.tx_end -= self.tx_start;
            self.tx_start = 0;
        }
        let Some(dst) = self.tx.get_mut(self.tx_end..self.tx_end + len) else {
            return Ok(Push::NoRoom);
        };
        dst.copy_from_slice(bytes);
        self.tx_end += len;
        Ok(Push::Written)
    }

    pub(crate) fn push(&mut self, packet: &Packet<'_>) -> Result<Push, Error> {
        let version = self.info.version;
        let remaining = packet.remaining_len(version)?;
        let len = 1 + crate::codec::varint_len(remaining) + remaining as usize;
        if len > self.tx.len()
            || u32::try_from(len).map_or(true, |l| l > self.info.maximum_packet_size)
        {
            return Err(Error::TooLarge);
        }
        if self.tx.len() - self.tx_end < len && self.tx_start > 0 {
            self.tx.copy_within(self.tx_start..self.tx_end, 0);
            self.tx_end -= self.tx_start;
            self.tx_start = 0;
        }
        let Some(dst) = self.tx.get_mut(self.tx_end..self.tx_end + len) else {
            return Ok(Push::NoRoom);
        };
        let n = packet.encode_with_remaining(version, remaining, dst)?;
        self.tx_end += n;
        Ok(Push::Written)
    }

    /// Appends a PUBLISH with `properties` (5.0), using a topic alias where the
    /// broker allows: a topic with an alias on this connection is sent as an empty
    /// topic plus the alias; a new topic takes a free alias or the least recently
    /// used one and is sent in full with it, which sets the alias at the broker.
    pub(crate) fn push_publish(
        &mut self,
        publish: Publish<'_>,
        properties: &[Property<'_>],
    ) -> Result<Push, Error> {
        let v5 = self.info.version.is_v5();
        let limit = usize::from(self.info.topic_alias_maximum).min(self.out_aliases.len());
        if !v5 || limit == 0 || publish.topic.len() > ALIAS_TOPIC_LEN {
            let properties = if v5 {
                Properties::new(properties)
            } else {
                Properties::empty()
            };
            return self.push(&Packet::Publish(Publish {
                properties,
                ..publish
            }));
        }
        let table = self.out_aliases.get(..limit).unwrap_or(&[]);
        let topic = publish.topic.as_bytes();
        let known = table.iter().position(|a| a.len > 0 && a.topic() == topic);
        let index = known.unwrap_or_else(|| {
            table
                .iter()
                .enumerate()
                .min_by_key(|(_, a)| (a.len > 0, a.used))
                .map_or(0, |(i, _)| i)
        });
        let alias = [Property::TopicAlias(u16::try_from(index + 1).unwrap_or(1))];
        let packet = Packet::Publish(Publish {
            topic: if known.is_some() { "" } else { publish.topic },
            properties: List::chain(&alias, properties),
            ..publish
        });
        let pushed = self.push(&packet)?;
        if pushed == Push::Written {
            self.alias_clock = self.alias_clock.wrapping_add(1);
            let clock = self.alias_clock;
            if let Some(slot) = self.out_aliases.get_mut(index) {
                if let Some(dst) = slot.topic.get_mut(..topic.len()) {
                    dst.copy_from_slice(topic);
                    slot.len = u8::try_from(topic.len()).unwrap_or(0);
                }
                slot.used = clock;
            }
        }
        Ok(pushed)
    }

    /// Forgets the outgoing topic aliases (they live as long as a connection).
    pub(crate) fn reset_out_aliases(&mut self) {
        self.out_aliases
            .iter_mut()
            .for_each(|a| *a = AliasSlot::EMPTY);
        self.alias_clock = 0;
    }

    pub(crate) fn tx_pending(&self) -> &[u8] {
        self.tx.get(self.tx_start..self.tx_end).unwrap_or(&[])
    }

    pub(crate) fn tx_advance(&mut self, n: usize) {
        self.tx_start = (self.tx_start + n).min(self.tx_end);
        if self.tx_start == self.tx_end {
            self.tx_start = 0;
            self.tx_end = 0;
        }
    }

    pub(crate) fn ctrl_push(&mut self, c: Ctrl) -> bool {
        match self.ctrl.iter_mut().find(|s| s.is_none()) {
            Some(slot) => {
                *slot = Some(c);
                true
            }
            None => false,
        }
    }

    pub(crate) fn ctrl_room(&self) -> bool {
        self.ctrl.iter().any(Option::is_none)
    }

    /// Registers the waker of slot `index`'s future.
    pub(crate) fn register_slot(&mut self, index: usize, cx: &Context<'_>) {
        if let Some(w) = self.slot_wakers.get_mut(index) {
            match w {
                Some(old) if old.will_wake(cx.waker()) => {}
                w => *w = Some(cx.waker().clone()),
            }
        }
    }

    /// Wakes the future of slot `index`, if it waits.
    pub(crate) fn wake_slot(&mut self, index: usize) {
        #[cfg(test)]
        if self.flaw == Flaw::AckWakesNobody {
            return;
        }
        if let Some(w) = self.slot_wakers.get_mut(index).and_then(Option::take) {
            w.wake();
        }
    }

    /// Wakes the futures of the slots that `which` selects.
    pub(crate) fn wake_slots(&mut self, which: impl Fn(&Slot) -> bool) {
        #[cfg(test)]
        if self.flaw == Flaw::ResetWakesNobody {
            return;
        }
        for (slot, w) in self.slots.iter().zip(self.slot_wakers.iter_mut()) {
            if which(slot)
                && let Some(w) = w.take()
            {
                w.wake();
            }
        }
    }

    /// Frees slot `index` (its future is done with it).
    pub(crate) fn free_slot(&mut self, index: usize) {
        if let Some(slot) = self.slots.get_mut(index) {
            *slot = Slot::FREE;
            self.free_hint = index;
        }
        if let Some(w) = self.slot_wakers.get_mut(index) {
            *w = None;
        }
    }

    /// Ends the handshake of the slot with packet identifier `id` whose kind
    /// `kind_ok` accepts and whose phase is `phase`, and wakes its future alone.
    /// True if the slot was freed (its future was gone), which may let an
    /// operation waiting for a slot go on.
    pub(crate) fn complete(
        &mut self,
        id: u16,
        kind_ok: impl Fn(Kind) -> bool,
        phase: Phase,
        reason: ReasonCode,
    ) -> bool {
        let Some(index) = self.slot_of(id).filter(|&i| kind_ok(self.slots[i].kind)) else {
            return false;
        };
        if self.slots[index].phase != phase {
            return false;
        }
        if self.slots[index].abandoned {
            self.free_slot(index);
            return true;
        }
        self.slots[index].phase = Phase::Done;
        self.slots[index].reason = reason;
        self.wake_slot(index);
        false
    }

    /// Where each slot stands on a new connection: with the session `resumed`,
    /// written packets go again (DUP) and QoS 2 releases are repeated; without,
    /// the broker forgot them. Futures learn through [`Session::wake_all`].
    pub(crate) fn resume_slots(&mut self, resumed: bool) {
        for slot in self.slots.iter_mut() {
            let abandoned = slot.abandoned;
            match (slot.kind, slot.phase) {
                (Kind::Free, _) | (_, Phase::Reserved | Phase::Done | Phase::Resend) => {}
                _ if abandoned && !resumed => *slot = Slot::FREE,
                (Kind::Publish(QoS::ExactlyOnce), Phase::Sent) if abandoned => {
                    slot.phase = Phase::NeedRelease
                }
                (_, Phase::Sent) if abandoned => *slot = Slot::FREE,
                (_, Phase::Sent) => slot.phase = Phase::Resend,
                (_, Phase::NeedRelease | Phase::Released) if resumed => {
                    slot.phase = Phase::NeedRelease
                }
                (_, Phase::NeedRelease | Phase::Released) => {
                    // The broker had the message (it sent PUBREC) and forgot the
                    // session: nothing is left to do.
                    slot.phase = Phase::Done;
                    slot.reason = ReasonCode::SUCCESS;
                }
            }
        }
    }

    /// Publishes with QoS 1/2 whose handshake with the broker is under way.
    pub(crate) fn publishes_in_flight(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| matches!(s.kind, Kind::Publish(_)) && s.phase != Phase::Done)
            .count()
    }

    /// Finds a free slot and a packet identifier not in use.
    pub(crate) fn allocate(&mut self, kind: Kind) -> Option<usize> {
        // The slot just freed is the likely one: no scan in steady traffic.
        let index = match self.slots.get(self.free_hint) {
            Some(s) if s.kind == Kind::Free => self.free_hint,
            _ => self.slots.iter().position(|s| s.kind == Kind::Free)?,
        };
        let id = match self.id_for(index) {
            Some(id) => id,
            None => self.unused_id(),
        };
        self.next_id = id.wrapping_add(1).max(1);
        let seq = self.next_seq;
        self.next_seq = seq.wrapping_add(1);
        self.slots[index] = Slot {
            kind,
            phase: Phase::Reserved,
            id,
            seq,
            ..Slot::FREE
        };
        Some(index)
    }

    /// The packet identifier for slot `index`: the first from `next_id` on that
    /// is congruent to `index + 1` modulo the number of slots. Slots thus never
    /// share an identifier (no search for a free one), an acknowledgement finds
    /// its slot without a scan ([`State::slot_of`]), and identifiers still go
    /// round all of 1 to 65535 before one comes back. `None` with more slots
    /// than identifiers.
    fn id_for(&self, index: usize) -> Option<u16> {
        let n = self.slots.len();
        if n == 0 || n > usize::from(u16::MAX) {
            return None;
        }
        let residue = (index + 1) % n;
        let start = usize::from(self.next_id.max(1));
        let id = start + (residue + n - start % n) % n;
        let id = if id > usize::from(u16::MAX) {
            if residue == 0 { n } else { residue }
        } else {
            id
        };
        u16::try_from(id).ok()
    }

    /// The slot that packet identifier `id` belongs to, if one does.
    pub(crate) fn slot_of(&self, id: u16) -> Option<usize> {
        let n = self.slots.len();
        let guess = (usize::from(id) + n.saturating_sub(1)).checked_rem(n)?;
        if self
            .slots
            .get(guess)
            .is_some_and(|s| s.kind != Kind::Free && s.id == id)
        {
            return Some(guess);
        }
        self.slots
            .iter()
            .position(|s| s.kind != Kind::Free && s.id == id)
    }

    /// An identifier no slot uses (the general case of [`State::id_for`]).
    fn unused_id(&self) -> u16 {
        let mut id = self.next_id;
        for _ in 0..=u16::MAX {
            if id != 0
                && !self
                    .slots
                    .iter()
                    .any(|s| s.kind != Kind::Free && s.id == id)
            {
                break;
            }
            id = id.wrapping_add(1);
        }
        id
    }

    /// True when slot `index` is the oldest that must be sent again, so that
    /// re-sent packets keep their original order.
    pub(crate) fn first_to_resend(&self, index: usize) -> bool {
        let Some(me) = self.slots.get(index) else {
            return false;
        };
        !self.slots.iter().any(|s| {
            s.phase == Phase::Resend
                && s.kind != Kind::Free
                && s.seq.wrapping_sub(me.seq) > u32::MAX / 2
        })
    }

    pub(crate) fn find(&mut self, id: u16, kind_ok: impl Fn(Kind) -> bool) -> Option<&mut Slot> {
        let index = self.slot_of(id)?;
        self.slots.get_mut(index).filter(|s| kind_ok(s.kind))
    }

    pub(crate) fn inbound_contains(&self, id: u16) -> bool {
        self.inbound
            .get(..self.inbound_len)
            .is_some_and(|l| l.contains(&id))
    }

    pub(crate) fn inbound_insert(&mut self, id: u16) -> bool {
        if self.inbound_contains(id) {
            return true;
        }
        match self.inbound.get_mut(self.inbound_len) {
            Some(slot) => {
                *slot = id;
                self.inbound_len += 1;
                true
            }
            None => false,
        }
    }

    pub(crate) fn inbound_remove(&mut self, id: u16) -> bool {
        let len = self.inbound_len;
        match self
            .inbound
            .get(..len)
            .and_then(|l| l.iter().position(|&x| x == id))
        {
            Some(i) => {
                self.inbound.copy_within(i + 1..len, i);
                self.inbound_len -= 1;
                true
            }
            None => false,
        }
    }

    /// The driver stopped since an operation started with `stops`: the error it
    /// fails with.
    pub(crate) fn stopped_since(&self, stops: u32) -> Option<Error> {
        (self.stops != stops).then_some(self.end_error)
    }

    pub(crate) fn assigned_client_id(&self) -> Option<&str> {
        let bytes = self.assigned_id.get(..self.assigned_len)?;
        core::str::from_utf8(bytes).ok().filter(|s| !s.is_empty())
    }
}

#[cfg(test)]
#[path = "wake_tests.rs"]
mod wake_tests;
