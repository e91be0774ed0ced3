//! Options of a connection and of the operations.

use core::net::SocketAddr;
use core::time::Duration;

use crate::codec::{Property, QoS, Version, Will};

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
            version: Version::V5,
            client_id,
            clean_start: true,
            keep_alive: 60,
            session_expiry: 0,
            will: None,
            username: None,
            password: None,
            properties: &[],
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
