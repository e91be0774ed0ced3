//! Options of a connection and of the operations.

use core::net::SocketAddr;
use core::time::Duration;

use crate::codec::{Property, QoS, ReasonCode, Version, Will};

/// How to connect; given to every [`Driver::run`](crate::Driver::run), so that a
/// reconnect may change it. Its `Debug` shows the password as `<redacted>`, so
/// that logging the options on a failed connection leaks no secret.
#[derive(Clone, Copy)]
pub struct ConnectOptions<'a> {
    /// The broker's address (resolve names first, for example with `portnet::Dns`).
    pub broker: SocketAddr,
    /// MQTT 3.1.1 or 5.0.
    pub version: Version,
    /// Client identifier; empty asks the broker to assign one (5.0), which the
    /// client then reuses on reconnects.
    pub client_id: &'a str,
    /// Start without a stored session (clean start / clean session).
    pub clean_start: bool,
    /// Keep alive in seconds (0 = off); a 5.0 server may impose its own.
    pub keep_alive: u16,
    /// 5.0 session expiry interval in seconds (0 = the session ends with the
    /// connection; `u32::MAX` = never). For 3.1.1, a persistent session is
    /// `clean_start: false`.
    pub session_expiry: u32,
    /// The will message (its 5.0 properties carry the will delay interval).
    pub will: Option<Will<'a>>,
    /// User name.
    pub username: Option<&'a str>,
    /// Password.
    pub password: Option<&'a [u8]>,
    /// More 5.0 CONNECT properties: user properties, request response information,
    /// request problem information. The client adds receive maximum, maximum packet
    /// size, topic alias maximum and session expiry itself. A receive maximum,
    /// maximum packet size or topic alias maximum given here replaces the client's
    /// (and the client then holds the broker to it) if it is within the storage's
    /// `INBOUND`, `RX` and `ALIASES`; above them, and for the session expiry
    /// interval (use [`session_expiry`](Self::session_expiry)) or authentication
    /// properties (use [`Driver::run_with_auth`](crate::Driver::run_with_auth)),
    /// `run` fails with [`Error::InvalidInput`](crate::Error::InvalidInput) before
    /// connecting. A property given twice fails as [`Error::Encode`](crate::Error::Encode).
    pub properties: &'a [Property<'a>],
    /// 5.0 receive maximum to advertise: how many QoS 1/2 messages the broker
    /// may send before they are acknowledged. `None`: the storage's `INBOUND`
    /// (the QoS 2 identifiers it can store). Must be 1 to `INBOUND`, else `run`
    /// fails with [`Error::InvalidInput`](crate::Error::InvalidInput) before
    /// connecting. Ignored for 3.1.1, which has no such limit.
    pub receive_maximum: Option<u16>,
    /// 5.0 maximum packet size to advertise, in bytes; the client also refuses
    /// larger packets (0x95). `None`: the storage's `RX` (the receive buffer).
    /// Must be 1 to `RX`, else `run` fails with
    /// [`Error::InvalidInput`](crate::Error::InvalidInput). Ignored for 3.1.1.
    pub maximum_packet_size: Option<u32>,
    /// 5.0 topic alias maximum to advertise: how many aliases the broker may
    /// set for its messages to the client. `None`: the storage's `ALIASES`.
    /// Above `ALIASES`, `run` fails with
    /// [`Error::InvalidInput`](crate::Error::InvalidInput); 0 turns incoming
    /// aliases off. (Outgoing aliases are sized by the storage's `OUT_ALIASES`.)
    /// Ignored for 3.1.1.
    pub topic_alias_maximum: Option<u16>,
    /// Time allowed for the TCP connect and the CONNACK.
    pub connect_timeout: Duration,
    /// Time allowed for a PINGRESP.
    pub ping_timeout: Duration,
    /// What operations under way do when `run` returns. `false` (the default of
    /// [`new`](Self::new)): they fail with the error `run` returned
    /// ([`Error::Stopped`](crate::Error::Stopped) after a disconnect or a
    /// cancelled `run`), and so does every operation started before the next
    /// `run`, so that an application never waits for a connection nobody makes.
    /// `true` (set by [`persistent`](Self::persistent), whose sessions are made to
    /// be resumed): the application calls `run` again (a reconnect loop), and
    /// operations wait for the next connection, where unacknowledged messages are
    /// sent again. Dropping the [`Driver`](crate::Driver) fails them in either case.
    /// [`Client::connected`](crate::Client::connected) reports the end of every
    /// connection attempt either way.
    pub wait_for_reconnect: bool,
}

impl core::fmt::Debug for ConnectOptions<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("broker", &self.broker)
            .field("version", &self.version)
            .field("client_id", &self.client_id)
            .field("clean_start", &self.clean_start)
            .field("keep_alive", &self.keep_alive)
            .field("session_expiry", &self.session_expiry)
            .field("will", &self.will)
            .field("username", &self.username)
            .field("password", &self.password.map(|_| crate::codec::Redacted))
            .field("properties", &self.properties)
            .field("receive_maximum", &self.receive_maximum)
            .field("maximum_packet_size", &self.maximum_packet_size)
            .field("topic_alias_maximum", &self.topic_alias_maximum)
            .field("connect_timeout", &self.connect_timeout)
            .field("ping_timeout", &self.ping_timeout)
            .field("wait_for_reconnect", &self.wait_for_reconnect)
            .finish()
    }
}

impl<'a> ConnectOptions<'a> {
    /// Options for `broker` and `client_id`: MQTT 5.0, clean start, keep alive 60 s,
    /// no session expiry, 10 s connect and ping timeouts.
    pub const fn new(broker: SocketAddr, client_id: &'a str) -> Self {
        Self {
            broker,
            version: Version::PREFERRED,
            client_id,
            clean_start: true,
            keep_alive: 60,
            session_expiry: 0,
            will: None,
            username: None,
            password: None,
            properties: &[],
            receive_maximum: None,
            maximum_packet_size: None,
            topic_alias_maximum: None,
            connect_timeout: Duration::from_secs(10),
            ping_timeout: Duration::from_secs(10),
            wait_for_reconnect: false,
        }
    }

    /// Sets the protocol version.
    #[must_use]
    pub const fn version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// A persistent session: no clean start, (5.0) the given session expiry, and
    /// operations that wait for the next `run` when one returns
    /// ([`wait_for_reconnect`](Self::wait_for_reconnect)).
    #[must_use]
    pub const fn persistent(mut self, session_expiry: u32) -> Self {
        self.clean_start = false;
        self.session_expiry = session_expiry;
        self.wait_for_reconnect = true;
        self
    }

    /// Sets whether operations under way wait for the next `run` when one
    /// returns (`true`) or fail with its error (`false`); see the field.
    #[must_use]
    pub const fn wait_for_reconnect(mut self, wait: bool) -> Self {
        self.wait_for_reconnect = wait;
        self
    }

    /// Sets the keep alive in seconds.
    #[must_use]
    pub const fn keep_alive(mut self, seconds: u16) -> Self {
        self.keep_alive = seconds;
        self
    }

    /// Sets the will message.
    #[must_use]
    pub const fn will(mut self, will: Will<'a>) -> Self {
        self.will = Some(will);
        self
    }

    /// Sets user name and password.
    #[must_use]
    pub const fn credentials(mut self, username: &'a str, password: &'a [u8]) -> Self {
        self.username = Some(username);
        self.password = Some(password);
        self
    }

    /// Sets the user name alone (MQTT 5.0 also allows a password alone:
    /// [`password`](Self::password)).
    #[must_use]
    pub const fn username(mut self, username: &'a str) -> Self {
        self.username = Some(username);
        self
    }

    /// Sets the password alone (5.0; 3.1.1 refuses a password without a user
    /// name when the CONNECT is encoded).
    #[must_use]
    pub const fn password(mut self, password: &'a [u8]) -> Self {
        self.password = Some(password);
        self
    }

    /// Sets clean start (5.0) / clean session (3.1.1): `true` discards a session
    /// the broker kept, `false` resumes it.
    #[must_use]
    pub const fn clean_start(mut self, clean: bool) -> Self {
        self.clean_start = clean;
        self
    }

    /// Sets the 5.0 session expiry interval in seconds (0: the session ends with
    /// the connection; `u32::MAX`: never). Unlike [`persistent`](Self::persistent)
    /// it changes neither clean start nor
    /// [`wait_for_reconnect`](Self::wait_for_reconnect).
    #[must_use]
    pub const fn session_expiry(mut self, seconds: u32) -> Self {
        self.session_expiry = seconds;
        self
    }

    /// Sets more 5.0 CONNECT properties (user properties, request response or
    /// problem information); see the field for what the client refuses here.
    #[must_use]
    pub const fn properties(mut self, properties: &'a [Property<'a>]) -> Self {
        self.properties = properties;
        self
    }

    /// Sets the 5.0 receive maximum to advertise (see the field: 1 to `INBOUND`).
    #[must_use]
    pub const fn receive_maximum(mut self, maximum: u16) -> Self {
        self.receive_maximum = Some(maximum);
        self
    }

    /// Sets the 5.0 maximum packet size to advertise and enforce (see the
    /// field: 1 to `RX`).
    #[must_use]
    pub const fn maximum_packet_size(mut self, bytes: u32) -> Self {
        self.maximum_packet_size = Some(bytes);
        self
    }

    /// Sets the 5.0 topic alias maximum to advertise for incoming messages (see
    /// the field: 0 to `ALIASES`).
    #[must_use]
    pub const fn topic_alias_maximum(mut self, maximum: u16) -> Self {
        self.topic_alias_maximum = Some(maximum);
        self
    }

    /// Sets the time allowed for the TCP connect and the CONNACK.
    #[must_use]
    pub const fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets the time allowed for a PINGRESP.
    #[must_use]
    pub const fn ping_timeout(mut self, timeout: Duration) -> Self {
        self.ping_timeout = timeout;
        self
    }

    /// The limit the application advertises for property `id` (0x21 receive
    /// maximum, 0x22 topic alias maximum, 0x27 maximum packet size), from the
    /// typed field or else from [`properties`](Self::properties); `None` for
    /// 3.1.1, which advertises none of them.
    pub(crate) fn advertised(&self, id: u8) -> Option<usize> {
        if !self.version.is_v5() {
            return None;
        }
        let field = match id {
            0x21 => self.receive_maximum.map(usize::from),
            0x22 => self.topic_alias_maximum.map(usize::from),
            0x27 => self
                .maximum_packet_size
                .and_then(|n| usize::try_from(n).ok()),
            _ => None,
        };
        field.or_else(|| {
            self.properties.iter().find_map(|p| match *p {
                Property::ReceiveMaximum(n) if id == 0x21 => Some(usize::from(n)),
                Property::TopicAliasMaximum(n) if id == 0x22 => Some(usize::from(n)),
                Property::MaximumPacketSize(n) if id == 0x27 => usize::try_from(n).ok(),
                _ => None,
            })
        })
    }
}

/// Options of one publication.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublishOptions<'a> {
    /// QoS.
    pub qos: QoS,
    /// Retained message.
    pub retain: bool,
    /// 5.0 properties: user properties, response topic, correlation data, content
    /// type, message expiry, payload format. (Topic aliases are the client's.)
    pub properties: &'a [Property<'a>],
}

impl<'a> PublishOptions<'a> {
    /// QoS `qos`, not retained, no properties.
    pub const fn qos(qos: QoS) -> Self {
        Self {
            qos,
            retain: false,
            properties: &[],
        }
    }

    /// Marks the message retained.
    #[must_use]
    pub const fn retain(mut self) -> Self {
        self.retain = true;
        self
    }

    /// Sets the 5.0 properties.
    #[must_use]
    pub const fn properties(mut self, properties: &'a [Property<'a>]) -> Self {
        self.properties = properties;
        self
    }
}

/// The client's DISCONNECT ([`Client::disconnect_with`](crate::Client::disconnect_with)):
/// a reason code and, in 5.0, a session expiry interval, a reason string and
/// user properties.
#[derive(Debug, Clone, Copy)]
pub struct DisconnectOptions<'a> {
    /// The reason (0x00 normal, 0x04 "with will message", …; 3.1.1 sends none).
    pub reason: ReasonCode,
    /// 5.0: a new session expiry interval, in seconds. Refused if the CONNECT's
    /// was 0 (MQTT 5.0 3.14.2.2.2: the broker treats it as a protocol error).
    pub session_expiry: Option<u32>,
    /// 5.0: a human-readable reason for the broker's log.
    pub reason_string: Option<&'a str>,
    /// 5.0: more DISCONNECT properties, user properties in practice; the codec
    /// refuses those a DISCONNECT may not carry and repeats of the two above.
    pub properties: &'a [Property<'a>],
}

impl<'a> DisconnectOptions<'a> {
    /// A DISCONNECT with `reason` and no properties.
    pub const fn new(reason: ReasonCode) -> Self {
        Self {
            reason,
            session_expiry: None,
            reason_string: None,
            properties: &[],
        }
    }

    /// Sets the session expiry interval the session keeps after this connection.
    #[must_use]
    pub const fn session_expiry(mut self, seconds: u32) -> Self {
        self.session_expiry = Some(seconds);
        self
    }

    /// Sets the reason string.
    #[must_use]
    pub const fn reason_string(mut self, reason: &'a str) -> Self {
        self.reason_string = Some(reason);
        self
    }

    /// Sets more properties (user properties).
    #[must_use]
    pub const fn properties(mut self, properties: &'a [Property<'a>]) -> Self {
        self.properties = properties;
        self
    }

    /// True when there is a 5.0 property to send.
    pub(crate) const fn has_properties(&self) -> bool {
        self.session_expiry.is_some() || self.reason_string.is_some() || !self.properties.is_empty()
    }
}
