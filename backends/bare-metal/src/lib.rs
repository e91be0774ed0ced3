#![doc = include_str!("../README.md")]
#![no_std]
#![deny(unsafe_code)]

pub mod lan9118;

#[cfg(target_os = "none")]
pub mod board;
