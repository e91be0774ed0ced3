#![doc = include_str!("../README.md")]
#![no_std]
#![cfg_attr(not(feature = "embedded-tls"), forbid(unsafe_code))]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "rustls")]
extern crate alloc;

#[cfg(feature = "embedded-tls")]
pub mod embedded;
mod error;
#[cfg(feature = "rustls")]
mod rustls_impl;

pub use error::{Error, TlsError, TlsKind};

#[cfg(feature = "rustls")]
pub use rustls_impl::{TlsConnect, TlsReadHalf, TlsStream, TlsWriteHalf};

/// rustls, as this crate uses it (for `RootCertStore`, `ClientConfig`, `pki_types`).
#[cfg(feature = "rustls")]
pub use rustls;
