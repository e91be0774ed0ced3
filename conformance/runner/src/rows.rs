//! The runner's rows: every stack the table shows, in the order it shows them.

use alloc::vec::Vec;

use portnet_conformance::report::{Row, run_backend};

use crate::hosted::{
    AsyncStdHarness, EdgeNalStdHarness, SmolHarness, StdEmbeddedNalHarness, TokioHarness,
};

/// A row the runner knows: its name and how to run the suite on it.
#[derive(Debug, Clone, Copy)]
pub struct Backend {
    /// The name in the table and the report.
    pub name: &'static str,
    /// Runs the cases whose id contains `filter` (all for ""), plainly and
    /// adversarially, and returns one row per case and mode, named after the
    /// backend (`name`, `name+chaos`).
    pub run: fn(name: &str, filter: &str) -> Vec<Row>,
    /// A foreign stack, shown for information: its failures are findings about
    /// that stack (listed in `docs/conformance.md`) and do not make the runner
    /// exit with status 1.
    pub foreign: bool,
    /// What the machine needs for this row, checked before it runs: `Err` names
    /// why this machine cannot run it (the row is then left out, with that
    /// reason on stderr).
    pub available: fn() -> Result<(), alloc::string::String>,
}

fn always() -> Result<(), alloc::string::String> {
    Ok(())
}

/// A network namespace with a TAP device (the TAP and QEMU rows).
#[cfg(target_os = "linux")]
fn tap() -> Result<(), alloc::string::String> {
    crate::tap::TapHarness::available()
}

/// A network namespace with a TAP device, for lwIP (one stack per process:
/// the check makes and drops it like every case of the row).
#[cfg(target_os = "linux")]
fn lwip_tap() -> Result<(), alloc::string::String> {
    crate::lwip_tap::LwipTapHarness::available()
}

/// The conformance firmware, and a TAP device for its network.
#[cfg(target_os = "linux")]
fn firmware() -> Result<(), alloc::string::String> {
    match crate::qemu::firmware() {
        Some(_) => tap(),
        None => Err(alloc::format!(
            "no firmware: `cargo xtask conformance` builds it and sets {}",
            crate::qemu::FIRMWARE_ENV
        )),
    }
}

/// The lwIP conformance firmware, and a TAP device for its network.
#[cfg(target_os = "linux")]
fn lwip_firmware() -> Result<(), alloc::string::String> {
    match crate::qemu::lwip_firmware() {
        Some(_) => tap(),
        None => Err(alloc::format!(
            "no lwIP firmware: `cargo xtask conformance` builds it and sets {}",
            crate::qemu::LWIP_FIRMWARE_ENV
        )),
    }
}

/// The micro:bit's conformance firmware (its parts).
#[cfg(target_os = "linux")]
fn microbit_firmware() -> Result<(), alloc::string::String> {
    match crate::microbit::firmware() {
        Some(parts) if !parts.is_empty() => Ok(()),
        _ => Err(alloc::format!(
            "no micro:bit firmware: `cargo xtask qemu microbit-conformance` builds it and sets {}",
            crate::microbit::FIRMWARE_ENV
        )),
    }
}

const fn row(name: &'static str, run: fn(&str, &str) -> Vec<Row>) -> Backend {
    Backend {
        name,
        run,
        foreign: false,
        available: always,
    }
}

/// Every row, in table order: portnet's own stacks first, the foreign ones last.
pub const ROWS: &[Backend] = &[
    row("tokio", run_backend::<TokioHarness>),
    row("smol", run_backend::<SmolHarness>),
    row("async-std", run_backend::<AsyncStdHarness>),
    row(
        "smoltcp-memory",
        run_backend::<crate::smoltcp::MemoryHarness>,
    ),
    row("smoltcp-lossy", run_backend::<crate::smoltcp::LossyHarness>),
    row("lwip-memory", run_backend::<crate::lwip::MemoryHarness>),
    row("lwip-lossy", run_backend::<crate::lwip::LossyHarness>),
    #[cfg(target_os = "linux")]
    Backend {
        available: tap,
        ..row("smoltcp-tap", run_backend::<crate::tap::TapHarness>)
    },
    #[cfg(target_os = "linux")]
    Backend {
        available: lwip_tap,
        ..row("lwip-tap", run_backend::<crate::lwip_tap::LwipTapHarness>)
    },
    row("smoltcp-slip", run_backend::<crate::slip::SlipHarness>),
    row(
        "lwip-slip",
        run_backend::<crate::lwip_slip::LwipSlipHarness>,
    ),
    #[cfg(target_os = "linux")]
    Backend {
        available: firmware,
        ..row(crate::qemu::ROW_NAME, crate::qemu::rows)
    },
    #[cfg(target_os = "linux")]
    Backend {
        available: lwip_firmware,
        ..row(crate::qemu::LWIP_ROW_NAME, crate::qemu::lwip_rows)
    },
    #[cfg(target_os = "linux")]
    Backend {
        available: microbit_firmware,
        ..row(crate::microbit::ROW_NAME, crate::microbit::rows)
    },
    Backend {
        foreign: true,
        ..row("std-embedded-nal", run_backend::<StdEmbeddedNalHarness>)
    },
    Backend {
        foreign: true,
        ..row("edge-nal-std", run_backend::<EdgeNalStdHarness>)
    },
    Backend {
        foreign: true,
        ..row(
            "embassy-net",
            run_backend::<crate::embassy::EmbassyNetHarness>,
        )
    },
    Backend {
        foreign: true,
        ..row(
            "edge-nal-embassy",
            run_backend::<crate::edge_embassy::EdgeNalEmbassyHarness>,
        )
    },
];
