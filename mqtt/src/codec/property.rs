//! MQTT 5.0 properties (section 2.2.2).

use super::list::{List, sealed::Codec};
use super::wire::{Reader, Writer};
use super::{DecodeError, EncodeError};

/// One MQTT 5.0 property. Strings and binary data borrow from the packet.
/// `Debug` shows authentication data as `<redacted>` (it may be a token or a
/// proof derived from a password).
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Property<'a> {
    /// 0x01: 0 = unspecified bytes, 1 = UTF-8 payload.
    PayloadFormatIndicator(u8),
    /// 0x02: lifetime of the message in seconds.
    MessageExpiryInterval(u32),
    /// 0x03: content type of the payload.
    ContentType(&'a str),
    /// 0x08: topic for a response (request/response).
    ResponseTopic(&'a str),
    /// 0x09: correlation data of a request/response.
    CorrelationData(&'a [u8]),
    /// 0x0B: subscription identifier, 1 to 268,435,455.
    SubscriptionIdentifier(u32),
    /// 0x11: session expiry interval in seconds.
    SessionExpiryInterval(u32),
    /// 0x12: client identifier assigned by the server.
    AssignedClientIdentifier(&'a str),
    /// 0x13: keep alive the server imposes, in seconds.
    ServerKeepAlive(u16),
    /// 0x15: authentication method.
    AuthenticationMethod(&'a str),
    /// 0x16: authentication data.
    AuthenticationData(&'a [u8]),
    /// 0x17: 0 or 1.
    RequestProblemInformation(u8),
    /// 0x18: will delay interval in seconds.
    WillDelayInterval(u32),
    /// 0x19: 0 or 1.
    RequestResponseInformation(u8),
    /// 0x1A: response information.
    ResponseInformation(&'a str),
    /// 0x1C: another server to use.
    ServerReference(&'a str),
    /// 0x1F: human-readable reason.
    ReasonString(&'a str),
    /// 0x21: receive maximum, non-zero.
    ReceiveMaximum(u16),
    /// 0x22: topic alias maximum.
    TopicAliasMaximum(u16),
    /// 0x23: topic alias, non-zero.
    TopicAlias(u16),
    /// 0x24: 0 or 1.
    MaximumQoS(u8),
    /// 0x25: 0 or 1.
    RetainAvailable(u8),
    /// 0x26: user property (name, value); may repeat.
    UserProperty(&'a str, &'a str),
    /// 0x27: maximum packet size, non-zero.
    MaximumPacketSize(u32),
    /// 0x28: 0 or 1.
    WildcardSubscriptionAvailable(u8),
    /// 0x29: 0 or 1.
    SubscriptionIdentifierAvailable(u8),
    /// 0x2A: 0 or 1.
    SharedSubscriptionAvailable(u8),
}

impl core::fmt::Debug for Property<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::PayloadFormatIndicator(v) => {
                f.debug_tuple("PayloadFormatIndicator").field(v).finish()
            }
            Self::MessageExpiryInterval(v) => {
                f.debug_tuple("MessageExpiryInterval").field(v).finish()
            }
            Self::ContentType(v) => f.debug_tuple("ContentType").field(v).finish(),
            Self::ResponseTopic(v) => f.debug_tuple("ResponseTopic").field(v).finish(),
            Self::CorrelationData(v) => f.debug_tuple("CorrelationData").field(v).finish(),
            Self::SubscriptionIdentifier(v) => {
                f.debug_tuple("SubscriptionIdentifier").field(v).finish()
            }
            Self::SessionExpiryInterval(v) => {
                f.debug_tuple("SessionExpiryInterval").field(v).finish()
            }
            Self::AssignedClientIdentifier(v) => {
                f.debug_tuple("AssignedClientIdentifier").field(v).finish()
            }
            Self::ServerKeepAlive(v) => f.debug_tuple("ServerKeepAlive").field(v).finish(),
            Self::AuthenticationMethod(v) => {
                f.debug_tuple("AuthenticationMethod").field(v).finish()
            }
            Self::AuthenticationData(_) => f
                .debug_tuple("AuthenticationData")
                .field(&super::Redacted)
                .finish(),
            Self::RequestProblemInformation(v) => {
                f.debug_tuple("RequestProblemInformation").field(v).finish()
            }
            Self::WillDelayInterval(v) => f.debug_tuple("WillDelayInterval").field(v).finish(),
            Self::RequestResponseInformation(v) => f
                .debug_tuple("RequestResponseInformation")
                .field(v)
                .finish(),
            Self::ResponseInformation(v) => f.debug_tuple("ResponseInformation").field(v).finish(),
            Self::ServerReference(v) => f.debug_tuple("ServerReference").field(v).finish(),
            Self::ReasonString(v) => f.debug_tuple("ReasonString").field(v).finish(),
            Self::ReceiveMaximum(v) => f.debug_tuple("ReceiveMaximum").field(v).finish(),
            Self::TopicAliasMaximum(v) => f.debug_tuple("TopicAliasMaximum").field(v).finish(),
            Self::TopicAlias(v) => f.debug_tuple("TopicAlias").field(v).finish(),
            Self::MaximumQoS(v) => f.debug_tuple("MaximumQoS").field(v).finish(),
            Self::RetainAvailable(v) => f.debug_tuple("RetainAvailable").field(v).finish(),
            Self::UserProperty(k, v) => f.debug_tuple("UserProperty").field(k).field(v).finish(),
            Self::MaximumPacketSize(v) => f.debug_tuple("MaximumPacketSize").field(v).finish(),
            Self::WildcardSubscriptionAvailable(v) => f
                .debug_tuple("WildcardSubscriptionAvailable")
                .field(v)
                .finish(),
            Self::SubscriptionIdentifierAvailable(v) => f
                .debug_tuple("SubscriptionIdentifierAvailable")
                .field(v)
                .finish(),
            Self::SharedSubscriptionAvailable(v) => f
                .debug_tuple("SharedSubscriptionAvailable")
                .field(v)
                .finish(),
        }
    }
}

/// The properties of a packet.
pub type Properties<'a> = List<'a, Property<'a>>;

impl Property<'_> {
    /// The property's identifier byte.
    pub const fn id(&self) -> u8 {
        match self {
            Self::PayloadFormatIndicator(_) => 0x01,
            Self::MessageExpiryInterval(_) => 0x02,
            Self::ContentType(_) => 0x03,
            Self::ResponseTopic(_) => 0x08,
            Self::CorrelationData(_) => 0x09,
            Self::SubscriptionIdentifier(_) => 0x0B,
            Self::SessionExpiryInterval(_) => 0x11,
            Self::AssignedClientIdentifier(_) => 0x12,
            Self::ServerKeepAlive(_) => 0x13,
            Self::AuthenticationMethod(_) => 0x15,
            Self::AuthenticationData(_) => 0x16,
            Self::RequestProblemInformation(_) => 0x17,
            Self::WillDelayInterval(_) => 0x18,
            Self::RequestResponseInformation(_) => 0x19,
            Self::ResponseInformation(_) => 0x1A,
            Self::ServerReference(_) => 0x1C,
            Self::ReasonString(_) => 0x1F,
            Self::ReceiveMaximum(_) => 0x21,
            Self::TopicAliasMaximum(_) => 0x22,
            Self::TopicAlias(_) => 0x23,
            Self::MaximumQoS(_) => 0x24,
            Self::RetainAvailable(_) => 0x25,
            Self::UserProperty(..) => 0x26,
            Self::MaximumPacketSize(_) => 0x27,
            Self::WildcardSubscriptionAvailable(_) => 0x28,
            Self::SubscriptionIdentifierAvailable(_) => 0x29,
            Self::SharedSubscriptionAvailable(_) => 0x2A,
        }
    }

    /// Checks the value rules of the property (a boolean byte is 0 or 1, a receive
    /// maximum is not zero, …).
    fn check_value(&self) -> Result<(), &'static str> {
        match *self {
            Self::PayloadFormatIndicator(v)
            | Self::RequestProblemInformation(v)
            | Self::RequestResponseInformation(v)
            | Self::MaximumQoS(v)
            | Self::RetainAvailable(v)
            | Self::WildcardSubscriptionAvailable(v)
            | Self::SubscriptionIdentifierAvailable(v)
            | Self::SharedSubscriptionAvailable(v)
                if v > 1 =>
            {
                Err("property value must be 0 or 1")
            }
            Self::SubscriptionIdentifier(0) => Err("subscription identifier of 0"),
            Self::SubscriptionIdentifier(v) if v > super::wire::VARINT_MAX => {
                Err("subscription identifier too large")
            }
            Self::ReceiveMaximum(0) => Err("receive maximum of 0"),
            Self::TopicAlias(0) => Err("topic alias of 0"),
            Self::MaximumPacketSize(0) => Err("maximum packet size of 0"),
            _ => Ok(()),
        }
    }
}

impl<'a> Codec<'a> for Property<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let id = r.varint("property identifier")?;
        let p = match id {
            0x01 => Self::PayloadFormatIndicator(r.u8("property value")?),
            0x02 => Self::MessageExpiryInterval(r.u32("property value")?),
            0x03 => Self::ContentType(r.string("property value")?),
            0x08 => Self::ResponseTopic(r.string("property value")?),
            0x09 => Self::CorrelationData(r.binary("property value")?),
            0x0B => Self::SubscriptionIdentifier(r.varint("property value")?),
            0x11 => Self::SessionExpiryInterval(r.u32("property value")?),
            0x12 => Self::AssignedClientIdentifier(r.string("property value")?),
            0x13 => Self::ServerKeepAlive(r.u16("property value")?),
            0x15 => Self::AuthenticationMethod(r.string("property value")?),
            0x16 => Self::AuthenticationData(r.binary("property value")?),
            0x17 => Self::RequestProblemInformation(r.u8("property value")?),
            0x18 => Self::WillDelayInterval(r.u32("property value")?),
            0x19 => Self::RequestResponseInformation(r.u8("property value")?),
            0x1A => Self::ResponseInformation(r.string("property value")?),
            0x1C => Self::ServerReference(r.string("property value")?),
            0x1F => Self::ReasonString(r.string("property value")?),
            0x21 => Self::ReceiveMaximum(r.u16("property value")?),
            0x22 => Self::TopicAliasMaximum(r.u16("property value")?),
            0x23 => Self::TopicAlias(r.u16("property value")?),
            0x24 => Self::MaximumQoS(r.u8("property value")?),
            0x25 => Self::RetainAvailable(r.u8("property value")?),
            0x26 => Self::UserProperty(r.string("property value")?, r.string("property value")?),
            0x27 => Self::MaximumPacketSize(r.u32("property value")?),
            0x28 => Self::WildcardSubscriptionAvailable(r.u8("property value")?),
            0x29 => Self::SubscriptionIdentifierAvailable(r.u8("property value")?),
            0x2A => Self::SharedSubscriptionAvailable(r.u8("property value")?),
            _ => return Err(DecodeError::malformed("unknown property identifier")),
        };
        Ok(p)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        self.check_value().map_err(EncodeError::Invalid)?;
        w.u8(self.id())?;
        match *self {
            Self::PayloadFormatIndicator(v)
            | Self::RequestProblemInformation(v)
            | Self::RequestResponseInformation(v)
            | Self::MaximumQoS(v)
            | Self::RetainAvailable(v)
            | Self::WildcardSubscriptionAvailable(v)
            | Self::SubscriptionIdentifierAvailable(v)
            | Self::SharedSubscriptionAvailable(v) => w.u8(v),
            Self::MessageExpiryInterval(v)
            | Self::SessionExpiryInterval(v)
            | Self::WillDelayInterval(v)
            | Self::MaximumPacketSize(v) => w.u32(v),
            Self::ServerKeepAlive(v)
            | Self::ReceiveMaximum(v)
            | Self::TopicAliasMaximum(v)
            | Self::TopicAlias(v) => w.u16(v),
            Self::SubscriptionIdentifier(v) => w.varint(v),
            Self::ContentType(s)
            | Self::ResponseTopic(s)
            | Self::AssignedClientIdentifier(s)
            | Self::AuthenticationMethod(s)
            | Self::ResponseInformation(s)
            | Self::ServerReference(s)
            | Self::ReasonString(s) => w.string(s),
            Self::CorrelationData(b) | Self::AuthenticationData(b) => w.binary(b),
            Self::UserProperty(k, v) => {
                w.string(k)?;
                w.string(v)
            }
        }
    }
}

/// Where a property list appears; each place admits its own set of properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum PropCtx {
    Connect = 0,
    ConnAck,
    Publish,
    Will,
    PubResp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

const fn bit(ctx: PropCtx) -> u16 {
    1 << ctx as u8
}

/// The places property `id` may appear (MQTT 5.0 table 2-4), as a bit set.
const fn allowed_in(id: u8) -> u16 {
    use PropCtx::*;
    let msg = bit(Publish) | bit(Will);
    match id {
        0x01 | 0x02 | 0x03 | 0x08 | 0x09 => msg,
        0x0B => bit(Publish) | bit(Subscribe),
        0x11 => bit(Connect) | bit(ConnAck) | bit(Disconnect),
        0x12 | 0x13 | 0x1A | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => bit(ConnAck),
        0x15 | 0x16 => bit(Connect) | bit(ConnAck) | bit(Auth),
        0x17 | 0x19 => bit(Connect),
        0x18 => bit(Will),
        0x1C => bit(ConnAck) | bit(Disconnect),
        0x1F => {
            bit(ConnAck) | bit(PubResp) | bit(SubAck) | bit(UnsubAck) | bit(Disconnect) | bit(Auth)
        }
        0x21 | 0x22 | 0x27 => bit(Connect) | bit(ConnAck),
        0x23 => bit(Publish),
        0x26 => u16::MAX,
        _ => 0,
    }
}

/// Reads a property length and list, checks every property (known, allowed here,
/// valid value, not repeated unless it may be) and returns the list.
pub(crate) fn read_properties<'a>(
    r: &mut Reader<'a>,
    ctx: PropCtx,
) -> Result<Properties<'a>, DecodeError> {
    let len = r.varint("property length")?;
    let len = usize::try_from(len).map_err(|_| DecodeError::malformed("property length"))?;
    let bytes = r.bytes(len, "property length exceeds packet")?;
    let mut pr = Reader::new(bytes);
    let mut seen: u64 = 0;
    while !pr.is_empty() {
        let p = Property::read(&mut pr)?;
        let id = p.id();
        if allowed_in(id) & bit(ctx) == 0 {
            return Err(DecodeError::protocol("property not allowed in this packet"));
        }
        p.check_value().map_err(DecodeError::protocol)?;
        if !first_or_repeatable(&mut seen, id, ctx) {
            return Err(DecodeError::protocol("property appears twice"));
        }
    }
    Ok(Properties::encoded(bytes))
}

/// Records `id` in `seen`; false if it was there already and may not repeat in
/// `ctx` (MQTT 5.0 2.2.2.2: only user properties, and subscription identifiers of
/// a PUBLISH, may appear more than once). Shared by the decoder and the encoder so
/// that the client never sends what it would itself refuse.
fn first_or_repeatable(seen: &mut u64, id: u8, ctx: PropCtx) -> bool {
    let repeatable = id == 0x26 || (id == 0x0B && ctx as u8 == PropCtx::Publish as u8);
    let mask = 1u64 << (id & 63);
    let first = *seen & mask == 0;
    *seen |= mask;
    first || repeatable
}

/// Writes a property length and list, checking each against the same rules as
/// [`read_properties`]: allowed in `ctx`, a valid value, not repeated unless it may be.
pub(crate) fn write_properties(
    w: &mut Writer<'_>,
    props: &Properties<'_>,
    ctx: PropCtx,
) -> Result<(), EncodeError> {
    let mut seen: u64 = 0;
    for p in props.iter() {
        if allowed_in(p.id()) & bit(ctx) == 0 {
            return Err(EncodeError::Invalid("property not allowed in this packet"));
        }
        if !first_or_repeatable(&mut seen, p.id(), ctx) {
            return Err(EncodeError::Invalid("property appears twice"));
        }
    }
    let len = props.encoded_len()?;
    w.varint(u32::try_from(len).map_err(|_| EncodeError::TooLong)?)?;
    props.write(w)
}

/// Typed access to the properties a packet carries, so that an application reads
/// `props.message_expiry_interval()` rather than matching `find(0x02)`. Each
/// single-valued accessor returns the property's value if the packet carried it
/// (a decoded packet carries each at most once: the decoder refuses repeats), and
/// `None` if not, so "absent" is never confused with a default value.
impl<'a> Properties<'a> {
    /// The first property with identifier `id`.
    pub fn find(&self, id: u8) -> Option<Property<'a>> {
        self.iter().find(|p| p.id() == id)
    }

    /// The user properties (name, value), in order.
    pub fn user_properties(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        self.iter().filter_map(|p| match p {
            Property::UserProperty(k, v) => Some((k, v)),
            _ => None,
        })
    }

    /// The subscription identifiers (a PUBLISH carries one per matching
    /// subscription that had one), in order.
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = u32> + use<'a> {
        self.iter().filter_map(|p| match p {
            Property::SubscriptionIdentifier(id) => Some(id),
            _ => None,
        })
    }
}

/// Generates one accessor per single-valued property: a `find` by identifier and
/// a match on the variant, written once here instead of by every caller.
macro_rules! accessors {
    ($($(#[$doc:meta])* $name:ident: $variant:ident = $id:literal -> $ty:ty;)*) => {
        impl<'a> Properties<'a> {
            $(
                $(#[$doc])*
                pub fn $name(&self) -> Option<$ty> {
                    match self.find($id) {
                        Some(Property::$variant(v)) => Some(v),
                        _ => None,
                    }
                }
            )*
        }
    };
}

accessors! {
    /// 0x01: the payload format indicator (0 unspecified bytes, 1 UTF-8).
    payload_format_indicator: PayloadFormatIndicator = 0x01 -> u8;
    /// 0x02: the message expiry interval in seconds.
    message_expiry_interval: MessageExpiryInterval = 0x02 -> u32;
    /// 0x03: the content type of the payload.
    content_type: ContentType = 0x03 -> &'a str;
    /// 0x08: the response topic of a request.
    response_topic: ResponseTopic = 0x08 -> &'a str;
    /// 0x09: the correlation data of a request or response.
    correlation_data: CorrelationData = 0x09 -> &'a [u8];
    /// 0x11: the session expiry interval in seconds.
    session_expiry_interval: SessionExpiryInterval = 0x11 -> u32;
    /// 0x12: the client identifier the server assigned.
    assigned_client_identifier: AssignedClientIdentifier = 0x12 -> &'a str;
    /// 0x13: the keep alive the server imposes, in seconds.
    server_keep_alive: ServerKeepAlive = 0x13 -> u16;
    /// 0x15: the authentication method.
    authentication_method: AuthenticationMethod = 0x15 -> &'a str;
    /// 0x16: the authentication data.
    authentication_data: AuthenticationData = 0x16 -> &'a [u8];
    /// 0x17: request problem information (0 or 1).
    request_problem_information: RequestProblemInformation = 0x17 -> u8;
    /// 0x18: the will delay interval in seconds.
    will_delay_interval: WillDelayInterval = 0x18 -> u32;
    /// 0x19: request response information (0 or 1).
    request_response_information: RequestResponseInformation = 0x19 -> u8;
    /// 0x1A: the response information.
    response_information: ResponseInformation = 0x1A -> &'a str;
    /// 0x1C: another server to use.
    server_reference: ServerReference = 0x1C -> &'a str;
    /// 0x1F: the human-readable reason string.
    reason_string: ReasonString = 0x1F -> &'a str;
    /// 0x21: the receive maximum.
    receive_maximum: ReceiveMaximum = 0x21 -> u16;
    /// 0x22: the topic alias maximum.
    topic_alias_maximum: TopicAliasMaximum = 0x22 -> u16;
    /// 0x23: the topic alias.
    topic_alias: TopicAlias = 0x23 -> u16;
    /// 0x24: the maximum QoS (0 or 1; absent means 2).
    maximum_qos: MaximumQoS = 0x24 -> u8;
    /// 0x25: retain available (0 or 1).
    retain_available: RetainAvailable = 0x25 -> u8;
    /// 0x27: the maximum packet size.
    maximum_packet_size: MaximumPacketSize = 0x27 -> u32;
    /// 0x28: wildcard subscription available (0 or 1).
    wildcard_subscription_available: WildcardSubscriptionAvailable = 0x28 -> u8;
    /// 0x29: subscription identifiers available (0 or 1).
    subscription_identifier_available: SubscriptionIdentifierAvailable = 0x29 -> u8;
    /// 0x2A: shared subscription available (0 or 1).
    shared_subscription_available: SharedSubscriptionAvailable = 0x2A -> u8;
}
