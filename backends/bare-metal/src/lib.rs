#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)]

/// The LAN9118 Ethernet driver (crate `portnet-lan9118`), re-exported.
pub use portnet_lan9118 as lan9118;

#[cfg(target_os = "none")]
pub mod board;
