#![doc = include_str!("../README.md")]
#![deny(unsafe_code)]

extern crate alloc;

pub mod memory;
mod rng;
#[cfg(target_os = "linux")]
pub mod tap;
pub mod time;

pub use memory::{Faults, Link, LinkStats, Port};
pub use time::{HOLD_PATIENCE, Hold, Limits, Stall, VirtualClock};
