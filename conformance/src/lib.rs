#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![deny(missing_docs)]
// A failure carries its reason inline (no allocator), which makes `Outcome` large;
// failures are the cold path of a test suite, so the size does not matter.
#![allow(clippy::result_large_err, clippy::large_enum_variant)]

#[cfg(any(feature = "std", feature = "remote"))]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod cases;
pub mod chaos;
mod harness;
mod missing;
mod outcome;
pub mod peers;
pub mod probe;
#[cfg(feature = "remote")]
pub mod remote;
mod run;
mod support;

#[cfg(feature = "runner")]
pub mod embassy;
#[cfg(all(feature = "std", any(unix, windows)))]
pub mod host;
#[cfg(feature = "runner")]
pub mod hosted;
#[cfg(feature = "runner")]
pub mod lwip;
#[cfg(all(feature = "runner", target_os = "linux"))]
pub mod qemu;
#[cfg(feature = "std")]
pub mod report;
#[cfg(feature = "runner")]
pub mod slip;
#[cfg(feature = "runner")]
pub mod smoltcp;
#[cfg(all(feature = "runner", target_os = "linux"))]
pub mod tap;
#[cfg(feature = "std")]
#[doc(hidden)]
pub mod test_support;

pub use harness::{Family, Harness, Missing};
pub use outcome::{Capability, CaseResult, Detail, Outcome};
pub use run::{CASE_DEADLINE, Case, Mode, default_seed};

#[doc(hidden)]
pub mod __private {
    pub use crate::run::{chaos_harness, chaos_rng, run_adversarial, run_plain};
}

/// Expands to one `#[test]` per case for harness `$harness` (which must implement
/// [`Harness`] and `Default`), plus one per case in adversarial mode (module
/// `adversarial`). Needs the crate's `std` feature.
///
/// ```ignore
/// portnet_conformance::conformance_tests!(MyHarness);
/// ```
///
/// A failing case panics with its id and the reason; an adversarial failure also
/// prints its seed and the command that replays it. A skipped case prints the
/// capability it lacks and passes.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:ty) => {
        $crate::__with_cases!($crate::__emit_tests, $harness);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __emit_tests {
    ($harness:ty; $( $name:ident $id:literal )*) => {
        $(
            #[test]
            fn $name() {
                $crate::test_support::run_test::<$harness>(
                    $id,
                    false,
                    ::core::env!("CARGO_PKG_NAME"),
                    ::core::stringify!($name),
                );
            }
        )*
        mod adversarial {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    $crate::test_support::run_test::<$harness>(
                        $id,
                        true,
                        ::core::env!("CARGO_PKG_NAME"),
                        ::core::concat!("adversarial::", ::core::stringify!($name)),
                    );
                }
            )*
        }
    };
}
