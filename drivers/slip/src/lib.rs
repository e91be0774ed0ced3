#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;
mod link;

pub use codec::{DecodeError, DecodeStats, Decoder, Encoder};
pub use link::{CHUNK, Device, RunError, Runner, RxToken, State, Stats, TxToken};
