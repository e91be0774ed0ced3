//! An MQTT 3.1.1 and 5.0 client written only against the [`portnet`] traits: no
//! runtime, no TCP/IP stack and no allocator named anywhere, so the same client runs
//! on tokio, smol, smoltcp and microcontroller firmware.
//!
//! - [`codec`]: the pure packet encoder/decoder (zero-copy, never panics).
//! - [`Storage`] → [`Session`] → [`Session::split`] into a [`Driver`] (owns the
//!   connection: run it to connect, call it again to reconnect), a [`Client`]
//!   (publish, subscribe, unsubscribe, disconnect; `publish().await` completes at
//!   PUBACK/PUBCOMP) and a [`Receiver`] (incoming messages, with backpressure).
//!
//! See `docs/mqtt.md` for usage and the design.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

#[cfg(not(any(feature = "v3", feature = "v5")))]
compile_error!(
    "portnet-mqtt needs at least one protocol version: enable the feature `v3` (MQTT 3.1.1), `v5` (MQTT 5.0) or both (the default)"
);

mod auth;
mod client;
pub mod codec;
mod driver;
mod error;
mod options;
mod owned;
mod session;

pub use auth::Authenticator;
pub use client::{AckCodes, Client, Message, Receiver};
pub use driver::Driver;
pub use error::{Error, ErrorKind};
pub use options::{ConnectOptions, DisconnectOptions, PublishOptions};
pub use owned::owned;
pub use session::{
    ALIAS_TOPIC_LEN, ASSIGNED_ID_LEN, ConnectionInfo, MAX_DISCONNECT_LEN, MAX_FILTERS, MAX_HOLD,
    SERVER_TEXT_LEN, ServerProperties, Session, Storage,
};

// The examples of `docs/mqtt.md` that are not marked `ignore` compile as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../../docs/mqtt.md")]
struct MqttDocs;
