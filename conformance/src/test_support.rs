//! Support for [`crate::conformance_tests!`]: one case as one `#[test]`.

use std::io::Write as _;
use std::sync::Mutex;
use std::writeln;

use crate::{Harness, Mode, Outcome, cases, default_seed};

/// Cases share the process's sockets and wake probes; one runs at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The seed of an adversarial run: `PORTNET_SEED` if set, else the case's own.
pub fn seed_for(id: &str) -> u64 {
    std::env::var("PORTNET_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| default_seed(id))
}

/// Runs case `id` on a harness from `make`; panics with the reason (and for
/// adversarial runs the seed and the command that replays it) if it fails.
/// `module` is the test's `module_path!()` and `name` its function name: the
/// test's name for `cargo test --exact` is the path without the crate.
pub fn run_test<H: Harness>(
    make: impl FnOnce() -> H,
    id: &str,
    adversarial: bool,
    package: &str,
    module: &str,
    name: &str,
) {
    let test_name = match module.split_once("::") {
        Some((_crate, path)) => std::format!("{path}::{name}"),
        None => alloc::string::String::from(name),
    };
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let case = cases::all::<H>()
        .into_iter()
        .find(|case| case.id == id)
        .unwrap_or_else(|| panic!("no case with id {id}"));
    let seed = seed_for(id);
    let mode = if adversarial {
        Mode::Adversarial { seed }
    } else {
        Mode::Plain
    };
    let harness = make();
    match (case.run)(&harness, mode) {
        Outcome::Pass => {}
        Outcome::Skip(capability) => {
            // Straight to the process's stderr, not through `eprintln!`, which the
            // test harness captures for a passing test: a skip shows in a plain
            // `cargo test` run.
            let _ = writeln!(
                std::io::stderr(),
                "{id}: SKIPPED, the stack or harness lacks capability `{capability}`"
            );
        }
        Outcome::Fail(detail) if adversarial => panic!(
            "{id} failed under adversarial polling: {detail}\n  rule: {}\n  seed {seed}; replay with:\n  \
             PORTNET_SEED={seed} cargo test -p {package} -- {test_name} --exact",
            case.rule
        ),
        Outcome::Fail(detail) => panic!("{id} failed: {detail}\n  rule: {}", case.rule),
    }
}
