//! The MQTT 3.1.1 and 5.0 wire format: a pure, allocation-free encoder and decoder
//! for every control packet.
//!
//! - [`decode`] reads one packet from the start of a buffer. It borrows strings,
//!   binary data and payloads from the buffer (zero-copy), checks every bound and
//!   every rule of the format it can check on its own, never panics, and fails with
//!   a [`DecodeError`] whose [`kind`](DecodeError::kind) maps to the 5.0 reason code
//!   to disconnect with.
//! - [`Packet::encode`] writes a packet into a caller's buffer, checking the rules
//!   the sender must keep (valid topics, strings without U+0000, non-zero packet
//!   identifiers, fields the chosen version has, …).
//! - [`topic_matches`], [`TopicFilter`], [`validate_topic_name`] and [`validate_topic_filter`]
//!   implement the topic rules of section 4.7.
//!
//! ```
//! use portnet_mqtt::codec::{decode, Packet, Publish, QoS, Version, Properties};
//! let publish = Packet::Publish(Publish {
//!     dup: false, qos: QoS::AtLeastOnce, retain: false, topic: "a/b",
//!     packet_id: Some(7), properties: Properties::empty(), payload: b"hi",
//! });
//! let mut buf = [0u8; 32];
//! let n = publish.encode(Version::V5, &mut buf).unwrap();
//! let (decoded, used) = decode(&buf[..n], Version::V5).unwrap().unwrap();
//! assert_eq!((decoded, used), (publish, n));
//! ```

// `Item` is sealed: its supertrait mentions the crate-private reader and writer on
// purpose, so that no type outside the codec can claim to be a list item.
#![allow(private_interfaces)]

mod error;
mod list;
mod packet;
mod property;
mod reason;
mod topic;
mod wire;

pub use error::{DecodeError, DecodeErrorKind, EncodeError};
pub use list::{Item, List, ListIter};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, FixedHeader, Packet, PubResp, Publish, QoS, RetainHandling,
    SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Version, Will,
    client_only, decode, decode_from_server, decode_header, props,
};
pub use property::{Properties, Property};
pub use reason::ReasonCode;
pub use topic::{TopicFilter, topic_matches, validate_topic_filter, validate_topic_name};
pub use wire::{VARINT_MAX, check_string, decode_varint, encode_varint, varint_len};

#[cfg(test)]
mod tests;

/// Stands in for a secret in `Debug` output (a password, authentication data):
/// options and packets are what an application logs when a connection fails.
/// Not even the length is shown.
#[derive(Clone, Copy)]
pub(crate) struct Redacted;

impl core::fmt::Debug for Redacted {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("<redacted>")
    }
}
