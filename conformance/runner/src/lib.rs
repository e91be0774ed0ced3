//! The conformance suite on every stack of this repository: the harnesses of the
//! rows (the hosted backends, smoltcp and lwIP on the in-memory link, SLIP, a TAP
//! device (smoltcp and lwIP), firmware in QEMU, and the foreign stacks
//! std-embedded-nal-async, edge-nal-std, embassy-net and edge-nal-embassy), the
//! agent that serves a remote peer, and the runner binary that prints the case ×
//! row table and writes the JSON report.
//!
//! Not published: a stack author depends on `portnet-conformance` alone and runs
//! `conformance_tests!` with a harness of their own. Each of this repository's
//! backends does the same from its `tests/conformance.rs`; the harnesses that need
//! more than the backend itself (a simulated link, a second stack as the peer)
//! come from here.

extern crate alloc;

pub mod agent;
pub mod edge_embassy;
pub mod embassy;
pub mod hosted;
pub mod lwip;
pub mod lwip_slip;
#[cfg(target_os = "linux")]
pub mod lwip_tap;
#[cfg(target_os = "linux")]
pub mod microbit;
#[cfg(target_os = "linux")]
pub mod qemu;
#[cfg(unix)]
pub mod remote_hosted;
pub mod rows;
pub mod slip;
pub mod smoltcp;
#[cfg(target_os = "linux")]
pub mod tap;
