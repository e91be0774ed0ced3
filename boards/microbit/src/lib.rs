#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![deny(unsafe_code)]

pub mod delay;
pub mod leds;
pub mod regs;
pub mod timer;
pub mod uart;

/// The SLIP link (crate `portnet-slip`), re-exported: the board's network
/// path, over its one UART.
#[cfg(target_os = "none")]
pub use portnet_slip as slip;

#[cfg(target_os = "none")]
pub mod board;
