#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod codec;
mod link;

pub use codec::{DecodeError, DecodeStats, Decoder, Encoder};
pub use link::{CHUNK, Device, RunError, Runner, RxToken, State, Stats, TxToken};
