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

#[cfg(all(feature = "std", any(unix, windows)))]
pub mod host;
#[cfg(feature = "std")]
pub mod report;
#[cfg(feature = "std")]
#[doc(hidden)]
pub mod test_support;

pub use harness::{BlockOn, Family, Harness, Missing};
pub use outcome::{Capability, CaseResult, Detail, Outcome};
pub use run::{CASE_DEADLINE, Case, Mode, default_seed};

#[doc(hidden)]
pub mod __private {
    pub use crate::run::{chaos_harness, chaos_rng, run_adversarial, run_plain};
}

/// Expands to one `#[test]` per case for harness `$harness`, plus one per case
/// in adversarial mode (module `adversarial`). Needs the crate's `std` feature.
///
/// Each test makes a fresh harness: with `Default` when only the type is given,
/// or by calling the second argument, a `fn() -> $harness`, for a harness that
/// needs more than a default (addresses, a peer process, a link to set up).
/// Invoked inside a module, the tests are that module's, so one file can run the
/// suite on several harnesses.
///
/// ```ignore
/// portnet_conformance::conformance_tests!(MyHarness);
/// mod lossy {
///     portnet_conformance::conformance_tests!(my_stack::Harness, || my_stack::Harness::lossy(0.1));
/// }
/// ```
///
/// A failing case panics with its id, the rule it checks and what went wrong;
/// an adversarial failure also prints its seed and the command that replays it.
/// A skipped case writes `SKIPPED` and the capability it lacks to the test
/// process's stderr, where a plain `cargo test` run shows it.
#[macro_export]
macro_rules! conformance_tests {
    ($harness:ty) => {
        $crate::__with_cases!(
            $crate::__emit_tests,
            $harness,
            <$harness as ::core::default::Default>::default
        );
    };
    ($harness:ty, $make:expr) => {
        $crate::__with_cases!($crate::__emit_tests, $harness, $make);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __emit_tests {
    ($harness:ty, $make:expr; $( $name:ident $id:literal )*) => {
        $(
            #[test]
            fn $name() {
                $crate::test_support::run_test::<$harness>(
                    $make,
                    $id,
                    false,
                    ::core::env!("CARGO_PKG_NAME"),
                    ::core::module_path!(),
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
                        $make,
                        $id,
                        true,
                        ::core::env!("CARGO_PKG_NAME"),
                        ::core::module_path!(),
                        ::core::stringify!($name),
                    );
                }
            )*
        }
    };
}
