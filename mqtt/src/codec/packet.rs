//! The fifteen control packets, their decoding from and encoding into byte slices.

use super::list::{List, sealed::Codec};
use super::property::{PropCtx, Properties, Property, read_properties, write_properties};
use super::reason::{ReasonCtx, allowed};
use super::topic::{validate_topic_filter, validate_topic_name};
use super::wire::{Reader, VARINT_MAX, Writer, decode_varint, varint_len};
use super::{DecodeError, DecodeErrorKind, EncodeError, ReasonCode};

/// The protocol version, chosen by the client at CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// MQTT 3.1.1 (protocol level 4).
    V3_1_1,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl Version {
    /// The version [`ConnectOptions`](crate::ConnectOptions) starts with: 5.0,
    /// or 3.1.1 in a build without the `v5` feature.
    pub const PREFERRED: Self = if cfg!(feature = "v5") {
        Self::V5
    } else {
        Self::V3_1_1
    };

    /// Whether this build speaks the version (features `v3` and `v5`, both by
    /// default). The codec refuses the others (`UnsupportedProtocolVersion`,
    /// [`EncodeError::Invalid`]) and so does `Driver::run` (`Unsupported`).
    pub const fn is_built(self) -> bool {
        match self {
            Self::V3_1_1 => cfg!(feature = "v3"),
            Self::V5 => cfg!(feature = "v5"),
        }
    }

    /// Whether to follow 5.0's rules. A constant in a one-version build, so the
    /// other version's code is not compiled in; a version not built in never
    /// gets this far ([`Version::is_built`]).
    pub(crate) const fn is_v5(self) -> bool {
        match (cfg!(feature = "v3"), cfg!(feature = "v5")) {
            (true, true) => matches!(self, Self::V5),
            (_, v5) => v5,
        }
    }

    /// The protocol level byte of CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            Self::V3_1_1 => 4,
            Self::V5 => 5,
        }
    }
}

/// Quality of service of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum QoS {
    /// QoS 0: at most once, no acknowledgement.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once, PUBACK.
    AtLeastOnce = 1,
    /// QoS 2: exactly once, PUBREC/PUBREL/PUBCOMP.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for bits `0..=2`, `None` for 3 and above.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        match bits {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }
}

/// The will message of a CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Will<'a> {
    /// Topic the will is published to.
    pub topic: &'a str,
    /// Its payload.
    pub payload: &'a [u8],
    /// Its QoS.
    pub qos: QoS,
    /// Whether it is retained.
    pub retain: bool,
    /// 5.0 will properties (will delay, message expiry, content type, …).
    pub properties: Properties<'a>,
}

impl<'a> Will<'a> {
    /// A will of `payload` to `topic` at QoS `qos`, not retained, without properties.
    pub const fn new(topic: &'a str, payload: &'a [u8], qos: QoS) -> Self {
        Self {
            topic,
            payload,
            qos,
            retain: false,
            properties: List::empty(),
        }
    }

    /// Sets whether the will is retained.
    #[must_use]
    pub const fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// Sets the 5.0 will properties (will delay interval, message expiry,
    /// content type, user properties, …); checked when the CONNECT is encoded.
    #[must_use]
    pub const fn properties(mut self, properties: &'a [Property<'a>]) -> Self {
        self.properties = List::new(properties);
        self
    }
}

/// CONNECT. Its `Debug` shows the password as `<redacted>`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    /// Protocol version asked for.
    pub version: Version,
    /// Clean start (5.0) / clean session (3.1.1).
    pub clean_start: bool,
    /// Keep alive in seconds, 0 = off.
    pub keep_alive: u16,
    /// Client identifier, may be empty.
    pub client_id: &'a str,
    /// The will message.
    pub will: Option<Will<'a>>,
    /// User name.
    pub username: Option<&'a str>,
    /// Password.
    pub password: Option<&'a [u8]>,
    /// 5.0 properties.
    pub properties: Properties<'a>,
}

impl core::fmt::Debug for Connect<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connect")
            .field("version", &self.version)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("client_id", &self.client_id)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.map(|_| super::Redacted))
            .field("properties", &self.properties)
            .finish()
    }
}

/// CONNACK. For 3.1.1, the return code is mapped onto the 5.0 reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAck<'a> {
    /// The server kept a session for this client.
    pub session_present: bool,
    /// The result.
    pub reason: ReasonCode,
    /// 5.0 properties.
    pub properties: Properties<'a>,
}

/// PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    /// Re-delivery of an earlier attempt.
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// Retained message.
    pub retain: bool,
    /// Topic name; empty in 5.0 when a topic alias stands for it.
    pub topic: &'a str,
    /// Packet identifier, present for QoS 1 and 2.
    pub packet_id: Option<u16>,
    /// 5.0 properties.
    pub properties: Properties<'a>,
    /// Application payload.
    pub payload: &'a [u8],
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PubResp<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// 5.0 reason code; always success in 3.1.1.
    pub reason: ReasonCode,
    /// 5.0 properties.
    pub properties: Properties<'a>,
}

impl PubResp<'_> {
    /// A successful response without properties.
    pub const fn new(packet_id: u16) -> Self {
        Self {
            packet_id,
            reason: ReasonCode::SUCCESS,
            properties: List::empty(),
        }
    }
}

/// How retained messages are sent when a subscription is made (5.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// Send retained messages at subscribe time.
    #[default]
    SendAtSubscribe = 0,
    /// Send them only if the subscription did not exist.
    SendIfNew = 1,
    /// Never send them.
    DoNotSend = 2,
}

/// The options of one subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// 5.0: do not receive one's own publications.
    pub no_local: bool,
    /// 5.0: keep the retain flag as published.
    pub retain_as_published: bool,
    /// 5.0: when to send retained messages.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Maximum QoS `qos`; local messages received, retain flag cleared, retained
    /// messages sent at subscribe time (the protocol's defaults).
    pub const fn new(qos: QoS) -> Self {
        Self {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }

    /// 5.0: do not receive the messages this client publishes itself.
    #[must_use]
    pub const fn no_local(mut self, no_local: bool) -> Self {
        self.no_local = no_local;
        self
    }

    /// 5.0: keep the retain flag messages were published with (bridges need it).
    #[must_use]
    pub const fn retain_as_published(mut self, keep: bool) -> Self {
        self.retain_as_published = keep;
        self
    }

    /// 5.0: when the broker sends retained messages for this subscription.
    #[must_use]
    pub const fn retain_handling(mut self, handling: RetainHandling) -> Self {
        self.retain_handling = handling;
        self
    }

    fn to_byte(self) -> u8 {
        self.qos as u8
            | u8::from(self.no_local) << 2
            | u8::from(self.retain_as_published) << 3
            | (self.retain_handling as u8) << 4
    }

    fn from_byte(b: u8) -> Result<Self, DecodeError> {
        if b & 0xC0 != 0 {
            return Err(DecodeError::malformed(
                "reserved subscription option bits set",
            ));
        }
        let qos = QoS::from_bits(b & 3).ok_or(DecodeError::malformed("subscription QoS 3"))?;
        let retain_handling = match (b >> 4) & 3 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(DecodeError::malformed("retain handling 3")),
        };
        Ok(Self {
            qos,
            no_local: b & 4 != 0,
            retain_as_published: b & 8 != 0,
            retain_handling,
        })
    }
}

/// One topic filter of a SUBSCRIBE with its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscription<'a> {
    /// The topic filter.
    pub filter: &'a str,
    /// Its options.
    pub options: SubscriptionOptions,
}

impl<'a> Subscription<'a> {
    /// A subscription to `filter` at maximum QoS `qos`, other options default.
    pub const fn new(filter: &'a str, qos: QoS) -> Self {
        Self {
            filter,
            options: SubscriptionOptions::new(qos),
        }
    }

    /// Replaces the options (see [`SubscriptionOptions`]'s builder methods).
    #[must_use]
    pub const fn options(mut self, options: SubscriptionOptions) -> Self {
        self.options = options;
        self
    }

    /// 5.0: do not receive the messages this client publishes itself.
    #[must_use]
    pub const fn no_local(mut self, no_local: bool) -> Self {
        self.options = self.options.no_local(no_local);
        self
    }

    /// 5.0: keep the retain flag messages were published with.
    #[must_use]
    pub const fn retain_as_published(mut self, keep: bool) -> Self {
        self.options = self.options.retain_as_published(keep);
        self
    }

    /// 5.0: when the broker sends retained messages for this subscription.
    #[must_use]
    pub const fn retain_handling(mut self, handling: RetainHandling) -> Self {
        self.options = self.options.retain_handling(handling);
        self
    }
}

impl<'a> Codec<'a> for Subscription<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let filter = r.string("topic filter")?;
        let options = SubscriptionOptions::from_byte(r.u8("subscription options")?)?;
        Ok(Self { filter, options })
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        validate_topic_filter(self.filter).map_err(EncodeError::Invalid)?;
        w.string(self.filter)?;
        w.u8(self.options.to_byte())
    }
}

/// SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscribe<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// 5.0 properties (subscription identifier, user properties).
    pub properties: Properties<'a>,
    /// The subscriptions, at least one.
    pub subscriptions: List<'a, Subscription<'a>>,
}

/// SUBACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubAck<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties<'a>,
    /// One code per subscription: the granted QoS (0, 1, 2) or an error.
    pub reason_codes: List<'a, ReasonCode>,
}

/// UNSUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties<'a>,
    /// The topic filters, at least one.
    pub filters: List<'a, &'a str>,
}

/// UNSUBACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubAck<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// 5.0 properties.
    pub properties: Properties<'a>,
    /// 5.0: one code per filter; empty in 3.1.1.
    pub reason_codes: List<'a, ReasonCode>,
}

/// DISCONNECT (5.0: from either side, with a reason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Disconnect<'a> {
    /// Reason; always success in 3.1.1.
    pub reason: ReasonCode,
    /// 5.0 properties.
    pub properties: Properties<'a>,
}

/// AUTH (5.0 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Auth<'a> {
    /// Reason.
    pub reason: ReasonCode,
    /// Properties (authentication method and data).
    pub properties: Properties<'a>,
}

/// Any MQTT control packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Packet<'a> {
    Connect(Connect<'a>),
    ConnAck(ConnAck<'a>),
    Publish(Publish<'a>),
    PubAck(PubResp<'a>),
    PubRec(PubResp<'a>),
    PubRel(PubResp<'a>),
    PubComp(PubResp<'a>),
    Subscribe(Subscribe<'a>),
    SubAck(SubAck<'a>),
    Unsubscribe(Unsubscribe<'a>),
    UnsubAck(UnsubAck<'a>),
    PingReq,
    PingResp,
    Disconnect(Disconnect<'a>),
    Auth(Auth<'a>),
}

/// The fixed header of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// Packet type (high nibble) and flags (low nibble).
    pub first_byte: u8,
    /// Length of the variable header and payload.
    pub remaining_len: u32,
    /// Length of the fixed header itself (2 to 5).
    pub header_len: usize,
}

impl FixedHeader {
    /// The packet type, 0 to 15.
    pub const fn packet_type(&self) -> u8 {
        self.first_byte >> 4
    }
    /// The whole packet's length.
    pub const fn packet_len(&self) -> usize {
        self.header_len + self.remaining_len as usize
    }
}

/// Decodes the fixed header at the start of `buf`; `Ok(None)` when more bytes are
/// needed to know it. Checks the packet type and the fixed flags, so a stream of
/// garbage fails on its first byte instead of waiting for a bogus length.
///
/// # Errors
///
/// `Malformed` for a reserved packet type, wrong fixed flags or a bad length.
pub fn decode_header(buf: &[u8], version: Version) -> Result<Option<FixedHeader>, DecodeError> {
    if !version.is_built() {
        return Err(NOT_BUILT);
    }
    let Some((&first_byte, rest)) = buf.split_first() else {
        return Ok(None);
    };
    check_type_and_flags(first_byte, version)?;
    Ok(
        decode_varint(rest)?.map(|(remaining_len, used)| FixedHeader {
            first_byte,
            remaining_len,
            header_len: 1 + used,
        }),
    )
}

/// A version this build leaves out (features `v3`, `v5`).
const NOT_BUILT: DecodeError = DecodeError::new(
    DecodeErrorKind::UnsupportedProtocolVersion,
    "protocol version not built in (features `v3`, `v5`)",
);

fn check_type_and_flags(first: u8, version: Version) -> Result<(), DecodeError> {
    let flags = first & 0x0F;
    match first >> 4 {
        0 => Err(DecodeError::malformed("reserved packet type 0")),
        15 if !version.is_v5() => Err(DecodeError::malformed(
            "reserved packet type 15 in MQTT 3.1.1",
        )),
        3 => {
            if flags & 0x06 == 0x06 {
                Err(DecodeError::malformed("PUBLISH with QoS 3"))
            } else if flags & 0x08 != 0 && flags & 0x06 == 0 {
                Err(DecodeError::malformed("PUBLISH QoS 0 with DUP set"))
            } else {
                Ok(())
            }
        }
        6 | 8 | 10 if flags != 0x02 => {
            Err(DecodeError::malformed("fixed header flags must be 0010"))
        }
        6 | 8 | 10 => Ok(()),
        _ if flags != 0 => Err(DecodeError::malformed("fixed header flags must be 0000")),
        _ => Ok(()),
    }
}

/// Decodes the packet at the start of `buf`. `Ok(None)` means `buf` holds only a
/// prefix of it; `Ok(Some((packet, len)))` gives the packet and its length in bytes,
/// the rest of `buf` being untouched. Strings, binary data and payloads borrow from
/// `buf`. A CONNECT is decoded whatever `version` says (it carries its own).
///
/// # Errors
///
/// A [`DecodeError`] whose kind says which reason code to disconnect with.
pub fn decode(buf: &[u8], version: Version) -> Result<Option<(Packet<'_>, usize)>, DecodeError> {
    decode_as::<false>(buf, version)
}

/// [`decode`] for a client: the packets a server sends. CONNECT, SUBSCRIBE,
/// UNSUBSCRIBE and PINGREQ (only clients send them) are a `ProtocolError`
/// once their fixed header is in, so a client that decodes with this alone
/// leaves their decoders out of its firmware.
///
/// # Errors
///
/// As [`decode`].
pub fn decode_from_server(
    buf: &[u8],
    version: Version,
) -> Result<Option<(Packet<'_>, usize)>, DecodeError> {
    decode_as::<true>(buf, version)
}

/// Whether only a client sends packets of this type (the fixed header's high
/// nibble): CONNECT, SUBSCRIBE, UNSUBSCRIBE, PINGREQ.
pub const fn client_only(packet_type: u8) -> bool {
    matches!(packet_type, 1 | 8 | 10 | 12)
}

fn decode_as<const FROM_SERVER: bool>(
    buf: &[u8],
    version: Version,
) -> Result<Option<(Packet<'_>, usize)>, DecodeError> {
    let Some(header) = decode_header(buf, version)? else {
        return Ok(None);
    };
    if FROM_SERVER && client_only(header.first_byte >> 4) {
        return Err(DecodeError::protocol("a packet only clients send"));
    }
    let total = header.packet_len();
    let Some(body) = buf.get(header.header_len..total) else {
        return Ok(None);
    };
    let packet = decode_body::<FROM_SERVER>(header.first_byte, body, version)?;
    Ok(Some((packet, total)))
}

fn packet_id(r: &mut Reader<'_>) -> Result<u16, DecodeError> {
    match r.u16("packet identifier")? {
        0 => Err(DecodeError::protocol("packet identifier 0")),
        id => Ok(id),
    }
}

fn end(r: &Reader<'_>) -> Result<(), DecodeError> {
    if r.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::malformed("bytes after the end of the packet"))
    }
}

fn reason(r: &mut Reader<'_>, ctx: ReasonCtx) -> Result<ReasonCode, DecodeError> {
    let code = r.u8("reason code")?;
    if allowed(ctx, code) {
        Ok(ReasonCode(code))
    } else {
        Err(DecodeError::protocol(
            "reason code not allowed in this packet",
        ))
    }
}

/// Validates every item of a list and returns it; at least one item is required.
fn read_list<'a, T: Codec<'a> + Copy>(
    r: &mut Reader<'a>,
    empty: &'static str,
    mut check: impl FnMut(&T) -> Result<(), DecodeError>,
) -> Result<List<'a, T>, DecodeError> {
    let bytes = r.rest();
    if bytes.is_empty() {
        return Err(DecodeError::protocol(empty));
    }
    let mut items = Reader::new(bytes);
    while !items.is_empty() {
        check(&T::read(&mut items)?)?;
    }
    Ok(List::encoded(bytes))
}

fn decode_body<const FROM_SERVER: bool>(
    first: u8,
    body: &[u8],
    v: Version,
) -> Result<Packet<'_>, DecodeError> {
    // Checked by the caller; repeated so the compiler drops those decoders.
    if FROM_SERVER && client_only(first >> 4) {
        return Err(DecodeError::protocol("a packet only clients send"));
    }
    let v5 = v.is_v5();
    let mut r = Reader::new(body);
    let r = &mut r;
    let no_props = Properties::empty();
    let packet = match first >> 4 {
        1 => Packet::Connect(decode_connect(r)?),
        2 => {
            let flags = r.u8("CONNACK flags")?;
            if flags & 0xFE != 0 {
                return Err(DecodeError::malformed("reserved CONNACK flag bits set"));
            }
            let code = if v5 {
                reason(r, ReasonCtx::ConnAck)?
            } else {
                ReasonCode::from_v3_connack(r.u8("return code")?)
                    .ok_or(DecodeError::protocol("reserved CONNACK return code"))?
            };
            let session_present = flags & 1 != 0;
            if session_present && code.is_error() {
                return Err(DecodeError::protocol("session present with a failure code"));
            }
            let properties = if v5 {
                read_properties(r, PropCtx::ConnAck)?
            } else {
                no_props
            };
            Packet::ConnAck(ConnAck {
                session_present,
                reason: code,
                properties,
            })
        }
        3 => {
            let qos = QoS::from_bits((first >> 1) & 3)
                .ok_or(DecodeError::malformed("PUBLISH with QoS 3"))?;
            let topic = r.string("topic name")?;
            let packet_id = if qos == QoS::AtMostOnce {
                None
            } else {
                Some(packet_id(r)?)
            };
            let properties = if v5 {
                read_properties(r, PropCtx::Publish)?
            } else {
                no_props
            };
            if topic.is_empty() {
                if properties.find(0x23).is_none() {
                    return Err(DecodeError::new(
                        DecodeErrorKind::TopicNameInvalid,
                        "empty topic name without topic alias",
                    ));
                }
            } else if topic.contains(['+', '#']) {
                return Err(DecodeError::new(
                    DecodeErrorKind::TopicNameInvalid,
                    "wildcard in topic name",
                ));
            }
            Packet::Publish(Publish {
                dup: first & 0x08 != 0,
                qos,
                retain: first & 0x01 != 0,
                topic,
                packet_id,
                properties,
                payload: r.rest(),
            })
        }
        t @ 4..=7 => {
            let packet_id = packet_id(r)?;
            let ctx = if t <= 5 {
                ReasonCtx::PubAckRec
            } else {
                ReasonCtx::PubRelComp
            };
            let mut resp = PubResp::new(packet_id);
            if v5 && !r.is_empty() {
                resp.reason = reason(r, ctx)?;
                if !r.is_empty() {
                    resp.properties = read_properties(r, PropCtx::PubResp)?;
                }
            }
            end(r)?;
            match t {
                4 => Packet::PubAck(resp),
                5 => Packet::PubRec(resp),
                6 => Packet::PubRel(resp),
                _ => Packet::PubComp(resp),
            }
        }
        8 => {
            let packet_id = packet_id(r)?;
            let properties = if v5 {
                read_properties(r, PropCtx::Subscribe)?
            } else {
                no_props
            };
            let subscriptions = read_list(
                r,
                "SUBSCRIBE without subscription",
                |s: &Subscription<'_>| {
                    validate_topic_filter(s.filter).map_err(DecodeError::protocol)?;
                    let o = s.options;
                    if !v5
                        && (o.no_local
                            || o.retain_as_published
                            || o.retain_handling != RetainHandling::SendAtSubscribe)
                    {
                        return Err(DecodeError::malformed(
                            "reserved subscription option bits set",
                        ));
                    }
                    if o.no_local && s.filter.starts_with("$share/") {
                        return Err(DecodeError::protocol("no local on a shared subscription"));
                    }
                    Ok(())
                },
            )?;
            Packet::Subscribe(Subscribe {
                packet_id,
                properties,
                subscriptions,
            })
        }
        9 => {
            let packet_id = packet_id(r)?;
            let properties = if v5 {
                read_properties(r, PropCtx::SubAck)?
            } else {
                no_props
            };
            let reason_codes = read_list(r, "SUBACK without reason code", |c: &ReasonCode| {
                let ok = if v5 {
                    allowed(ReasonCtx::SubAck, c.0)
                } else {
                    matches!(c.0, 0..=2 | 0x80)
                };
                if ok {
                    Ok(())
                } else {
                    Err(DecodeError::protocol("invalid SUBACK reason code"))
                }
            })?;
            Packet::SubAck(SubAck {
                packet_id,
                properties,
                reason_codes,
            })
        }
        10 => {
            let packet_id = packet_id(r)?;
            let properties = if v5 {
                read_properties(r, PropCtx::Unsubscribe)?
            } else {
                no_props
            };
            let filters = read_list(r, "UNSUBSCRIBE without topic filter", |f: &&str| {
                validate_topic_filter(f).map_err(DecodeError::protocol)
            })?;
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                properties,
                filters,
            })
        }
        11 => {
            let packet_id = packet_id(r)?;
            let (properties, reason_codes) = if v5 {
                let properties = read_properties(r, PropCtx::UnsubAck)?;
                let codes = read_list(r, "UNSUBACK without reason code", |c: &ReasonCode| {
                    if allowed(ReasonCtx::UnsubAck, c.0) {
                        Ok(())
                    } else {
                        Err(DecodeError::protocol("invalid UNSUBACK reason code"))
                    }
                })?;
                (properties, codes)
            } else {
                (no_props, List::empty())
            };
            end(r)?;
            Packet::UnsubAck(UnsubAck {
                packet_id,
                properties,
                reason_codes,
            })
        }
        12 => {
            end(r)?;
            Packet::PingReq
        }
        13 => {
            end(r)?;
            Packet::PingResp
        }
        14 => {
            let mut d = Disconnect {
                reason: ReasonCode::SUCCESS,
                properties: no_props,
            };
            if v5 && !r.is_empty() {
                d.reason = reason(r, ReasonCtx::Disconnect)?;
                if !r.is_empty() {
                    d.properties = read_properties(r, PropCtx::Disconnect)?;
                }
            }
            end(r)?;
            Packet::Disconnect(d)
        }
        15 if v5 => {
            let mut a = Auth {
                reason: ReasonCode::SUCCESS,
                properties: no_props,
            };
            if !r.is_empty() {
                a.reason = reason(r, ReasonCtx::Auth)?;
                if !r.is_empty() {
                    a.properties = read_properties(r, PropCtx::Auth)?;
                }
            }
            end(r)?;
            Packet::Auth(a)
        }
        _ => return Err(DecodeError::malformed("reserved packet type")),
    };
    Ok(packet)
}

fn decode_connect<'a>(r: &mut Reader<'a>) -> Result<Connect<'a>, DecodeError> {
    let unsupported =
        |detail| DecodeError::new(DecodeErrorKind::UnsupportedProtocolVersion, detail);
    if r.string("protocol name")? != "MQTT" {
        return Err(unsupported("protocol name is not \"MQTT\""));
    }
    let version = match r.u8("protocol level")? {
        4 => Version::V3_1_1,
        5 => Version::V5,
        _ => return Err(unsupported("protocol level is neither 4 nor 5")),
    };
    if !version.is_built() {
        return Err(NOT_BUILT);
    }
    let v5 = version.is_v5();
    let flags = r.u8("connect flags")?;
    if flags & 0x01 != 0 {
        return Err(DecodeError::malformed("reserved connect flag set"));
    }
    let will_flag = flags & 0x04 != 0;
    let will_qos = QoS::from_bits((flags >> 3) & 3).ok_or(DecodeError::malformed("will QoS 3"))?;
    let will_retain = flags & 0x20 != 0;
    if !will_flag && (will_qos != QoS::AtMostOnce || will_retain) {
        return Err(DecodeError::malformed(
            "will QoS or retain without will flag",
        ));
    }
    let has_password = flags & 0x40 != 0;
    let has_username = flags & 0x80 != 0;
    if !v5 && has_password && !has_username {
        return Err(DecodeError::malformed(
            "password flag without user name flag",
        ));
    }
    let keep_alive = r.u16("keep alive")?;
    let properties = if v5 {
        read_properties(r, PropCtx::Connect)?
    } else {
        Properties::empty()
    };
    let client_id = r.string("client identifier")?;
    let will = if will_flag {
        let properties = if v5 {
            read_properties(r, PropCtx::Will)?
        } else {
            Properties::empty()
        };
        let topic = r.string("will topic")?;
        validate_topic_name(topic)
            .map_err(|d| DecodeError::new(DecodeErrorKind::TopicNameInvalid, d))?;
        let payload = r.binary("will payload")?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(r.string("user name")?)
    } else {
        None
    };
    let password = if has_password {
        Some(r.binary("password")?)
    } else {
        None
    };
    end(r)?;
    Ok(Connect {
        version,
        clean_start: flags & 0x02 != 0,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    })
}

fn need_v5(props: &Properties<'_>, v: Version) -> Result<(), EncodeError> {
    if !v.is_v5() && !props.is_empty() {
        Err(EncodeError::Invalid("properties need MQTT 5.0"))
    } else {
        Ok(())
    }
}

fn nonzero(id: u16) -> Result<u16, EncodeError> {
    if id == 0 {
        Err(EncodeError::Invalid("packet identifier 0"))
    } else {
        Ok(id)
    }
}

fn check_reason(ctx: ReasonCtx, code: ReasonCode) -> Result<(), EncodeError> {
    if allowed(ctx, code.0) {
        Ok(())
    } else {
        Err(EncodeError::Invalid(
            "reason code not allowed in this packet",
        ))
    }
}

/// Writes the optional reason code and properties of a 5.0 acknowledgement-like
/// packet in its shortest form.
fn write_reason_and_props(
    w: &mut Writer<'_>,
    v: Version,
    reason: ReasonCode,
    props: &Properties<'_>,
    rctx: ReasonCtx,
    pctx: PropCtx,
) -> Result<(), EncodeError> {
    if !v.is_v5() {
        if reason != ReasonCode::SUCCESS {
            return Err(EncodeError::Invalid("reason codes need MQTT 5.0"));
        }
        return need_v5(props, v);
    }
    check_reason(rctx, reason)?;
    if reason == ReasonCode::SUCCESS && props.is_empty() {
        return Ok(());
    }
    w.u8(reason.0)?;
    if !props.is_empty() {
        write_properties(w, props, pctx)?;
    }
    Ok(())
}

impl Packet<'_> {
    /// The packet type number (1 to 15).
    pub const fn packet_type(&self) -> u8 {
        match self {
            Self::Connect(_) => 1,
            Self::ConnAck(_) => 2,
            Self::Publish(_) => 3,
            Self::PubAck(_) => 4,
            Self::PubRec(_) => 5,
            Self::PubRel(_) => 6,
            Self::PubComp(_) => 7,
            Self::Subscribe(_) => 8,
            Self::SubAck(_) => 9,
            Self::Unsubscribe(_) => 10,
            Self::UnsubAck(_) => 11,
            Self::PingReq => 12,
            Self::PingResp => 13,
            Self::Disconnect(_) => 14,
            Self::Auth(_) => 15,
        }
    }

    fn first_byte(&self) -> u8 {
        let flags = match self {
            Self::Publish(p) => u8::from(p.dup) << 3 | (p.qos as u8) << 1 | u8::from(p.retain),
            Self::PubRel(_) | Self::Subscribe(_) | Self::Unsubscribe(_) => 0x02,
            _ => 0,
        };
        self.packet_type() << 4 | flags
    }

    /// Encodes the packet into `buf`; returns its length.
    ///
    /// # Errors
    ///
    /// `BufferTooSmall` with the length needed, `TooLong`, or `Invalid` for a packet
    /// that breaks a rule of the protocol or of `version`.
    pub fn encode(&self, version: Version, buf: &mut [u8]) -> Result<usize, EncodeError> {
        let remaining = self.remaining_len(version)?;
        self.encode_with_remaining(version, remaining, buf)
    }

    /// The remaining length of the fixed header: the body's size, from a
    /// counting walk.
    pub(crate) fn remaining_len(&self, version: Version) -> Result<u32, EncodeError> {
        let mut counter = Writer::counter();
        self.write_body(version, &mut counter)?;
        match u32::try_from(counter.len()) {
            Ok(remaining) if remaining <= VARINT_MAX => Ok(remaining),
            _ => Err(EncodeError::TooLong),
        }
    }

    /// [`Packet::encode`] with the [`Packet::remaining_len`] already found: one
    /// walk, for a caller that needed the length first anyway (the client
    /// checks it against its buffer and the broker's maximum).
    pub(crate) fn encode_with_remaining(
        &self,
        version: Version,
        remaining: u32,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let mut w = Writer::new(buf);
        w.u8(self.first_byte())?;
        w.varint(remaining)?;
        self.write_body(version, &mut w)?;
        w.finish()
    }

    /// The packet's encoded length.
    ///
    /// # Errors
    ///
    /// As [`Packet::encode`], except `BufferTooSmall`.
    pub fn encoded_len(&self, version: Version) -> Result<usize, EncodeError> {
        // One counting walk, not an `encode` into an empty buffer (two).
        let remaining = self.remaining_len(version)?;
        Ok(1 + varint_len(remaining) + remaining as usize)
    }

    fn write_body(&self, v: Version, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        if !v.is_built() {
            return Err(EncodeError::Invalid(
                "protocol version not built in (features `v3`, `v5`)",
            ));
        }
        let v5 = v.is_v5();
        match self {
            Self::Connect(c) => {
                if c.version != v {
                    return Err(EncodeError::Invalid(
                        "CONNECT version differs from the codec's",
                    ));
                }
                w.string("MQTT")?;
                w.u8(v.level())?;
                let mut flags = u8::from(c.clean_start) << 1;
                if let Some(will) = &c.will {
                    flags |= 0x04 | (will.qos as u8) << 3 | u8::from(will.retain) << 5;
                }
                if c.password.is_some() {
                    if !v5 && c.username.is_none() {
                        return Err(EncodeError::Invalid("password without user name in 3.1.1"));
                    }
                    flags |= 0x40;
                }
                if c.username.is_some() {
                    flags |= 0x80;
                }
                w.u8(flags)?;
                w.u16(c.keep_alive)?;
                need_v5(&c.properties, v)?;
                if v5 {
                    write_properties(w, &c.properties, PropCtx::Connect)?;
                }
                w.string(c.client_id)?;
                if let Some(will) = &c.will {
                    need_v5(&will.properties, v)?;
                    if v5 {
                        write_properties(w, &will.properties, PropCtx::Will)?;
                    }
                    validate_topic_name(will.topic).map_err(EncodeError::Invalid)?;
                    w.string(will.topic)?;
                    w.binary(will.payload)?;
                }
                if let Some(u) = c.username {
                    w.string(u)?;
                }
                if let Some(p) = c.password {
                    w.binary(p)?;
                }
            }
            Self::ConnAck(c) => {
                if c.session_present && c.reason.is_error() {
                    return Err(EncodeError::Invalid("session present with a failure code"));
                }
                w.u8(u8::from(c.session_present))?;
                if v5 {
                    check_reason(ReasonCtx::ConnAck, c.reason)?;
                    w.u8(c.reason.0)?;
                    write_properties(w, &c.properties, PropCtx::ConnAck)?;
                } else {
                    need_v5(&c.properties, v)?;
                    let code = c.reason.to_v3_connack();
                    w.u8(code.ok_or(EncodeError::Invalid("no 3.1.1 return code for this reason"))?)?;
                }
            }
            Self::Publish(p) => {
                if p.topic.is_empty() && !(v5 && p.properties.find(0x23).is_some()) {
                    return Err(EncodeError::Invalid("empty topic name without topic alias"));
                }
                if !p.topic.is_empty() {
                    validate_topic_name(p.topic).map_err(EncodeError::Invalid)?;
                }
                if p.dup && p.qos == QoS::AtMostOnce {
                    return Err(EncodeError::Invalid("DUP set on a QoS 0 message"));
                }
                w.string(p.topic)?;
                match (p.qos, p.packet_id) {
                    (QoS::AtMostOnce, None) => {}
                    (QoS::AtMostOnce, Some(_)) => {
                        return Err(EncodeError::Invalid("packet identifier on a QoS 0 message"));
                    }
                    (_, Some(id)) => w.u16(nonzero(id)?)?,
                    (_, None) => {
                        return Err(EncodeError::Invalid("QoS 1/2 without packet identifier"));
                    }
                }
                need_v5(&p.properties, v)?;
                if v5 {
                    write_properties(w, &p.properties, PropCtx::Publish)?;
                }
                w.bytes(p.payload)?;
            }
            Self::PubAck(r) | Self::PubRec(r) | Self::PubRel(r) | Self::PubComp(r) => {
                let ctx = match self {
                    Self::PubAck(_) | Self::PubRec(_) => ReasonCtx::PubAckRec,
                    _ => ReasonCtx::PubRelComp,
                };
                w.u16(nonzero(r.packet_id)?)?;
                write_reason_and_props(w, v, r.reason, &r.properties, ctx, PropCtx::PubResp)?;
            }
            Self::Subscribe(s) => {
                w.u16(nonzero(s.packet_id)?)?;
                need_v5(&s.properties, v)?;
                if v5 {
                    write_properties(w, &s.properties, PropCtx::Subscribe)?;
                }
                if s.subscriptions.is_empty() {
                    return Err(EncodeError::Invalid("SUBSCRIBE without subscription"));
                }
                for sub in s.subscriptions.iter() {
                    let o = sub.options;
                    if !v5
                        && (o.no_local
                            || o.retain_as_published
                            || o.retain_handling != RetainHandling::SendAtSubscribe)
                    {
                        return Err(EncodeError::Invalid("subscription options need MQTT 5.0"));
                    }
                }
                s.subscriptions.write(w)?;
            }
            Self::SubAck(s) => {
                w.u16(nonzero(s.packet_id)?)?;
                need_v5(&s.properties, v)?;
                if v5 {
                    write_properties(w, &s.properties, PropCtx::SubAck)?;
                }
                if s.reason_codes.is_empty() {
                    return Err(EncodeError::Invalid("SUBACK without reason code"));
                }
                for c in s.reason_codes.iter() {
                    let ok = if v5 {
                        allowed(ReasonCtx::SubAck, c.0)
                    } else {
                        matches!(c.0, 0..=2 | 0x80)
                    };
                    if !ok {
                        return Err(EncodeError::Invalid("invalid SUBACK reason code"));
                    }
                }
                s.reason_codes.write(w)?;
            }
            Self::Unsubscribe(u) => {
                w.u16(nonzero(u.packet_id)?)?;
                need_v5(&u.properties, v)?;
                if v5 {
                    write_properties(w, &u.properties, PropCtx::Unsubscribe)?;
                }
                if u.filters.is_empty() {
                    return Err(EncodeError::Invalid("UNSUBSCRIBE without topic filter"));
                }
                for f in u.filters.iter() {
                    validate_topic_filter(f).map_err(EncodeError::Invalid)?;
                }
                u.filters.write(w)?;
            }
            Self::UnsubAck(u) => {
                w.u16(nonzero(u.packet_id)?)?;
                if v5 {
                    write_properties(w, &u.properties, PropCtx::UnsubAck)?;
                    if u.reason_codes.is_empty() {
                        return Err(EncodeError::Invalid("UNSUBACK without reason code"));
                    }
                    for c in u.reason_codes.iter() {
                        check_reason(ReasonCtx::UnsubAck, c)?;
                    }
                    u.reason_codes.write(w)?;
                } else {
                    need_v5(&u.properties, v)?;
                    if !u.reason_codes.is_empty() {
                        return Err(EncodeError::Invalid("UNSUBACK reason codes need MQTT 5.0"));
                    }
                }
            }
            Self::PingReq | Self::PingResp => {}
            Self::Disconnect(d) => write_reason_and_props(
                w,
                v,
                d.reason,
                &d.properties,
                ReasonCtx::Disconnect,
                PropCtx::Disconnect,
            )?,
            Self::Auth(a) => {
                if !v5 {
                    return Err(EncodeError::Invalid("AUTH needs MQTT 5.0"));
                }
                write_reason_and_props(
                    w,
                    v,
                    a.reason,
                    &a.properties,
                    ReasonCtx::Auth,
                    PropCtx::Auth,
                )?;
            }
        }
        Ok(())
    }
}

/// Shorthand for a property list of the given properties.
pub const fn props<'a>(items: &'a [Property<'a>]) -> Properties<'a> {
    List::new(items)
}
