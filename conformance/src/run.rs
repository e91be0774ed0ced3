//! Running one case: deadline, adversarial mode, outcome.

use core::future::Future;
use core::pin::pin;
use core::time::Duration;

use crate::chaos::{ChaosHarness, Hopping, Rng};
use crate::probe::WakeProbe;
use crate::{CaseResult, Detail, Harness, Outcome};

/// How long a whole case may take before it counts as hung.
pub const CASE_DEADLINE: Duration = Duration::from_secs(30);

/// How a case is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plainly, on the harness's executor.
    Plain,
    /// Through the adversarial poller and [`crate::chaos::Chaos`] wrappers, with
    /// this seed.
    Adversarial {
        /// The seed of every random choice; the same seed replays the same run.
        seed: u64,
    },
}

/// One case of the suite, ready to run against harness `H`.
#[derive(Debug)]
pub struct Case<H> {
    /// The stable dotted id, e.g. `tcp.close.delivers_all_data`.
    pub id: &'static str,
    /// The rule the case checks, one sentence.
    pub rule: &'static str,
    /// Runs the case.
    pub run: fn(&H, Mode) -> Outcome,
}

impl<H> Clone for Case<H> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<H> Copy for Case<H> {}

/// The default seed of a case's adversarial run: a hash of its id, so every case
/// has its own and a run is repeatable without saying a seed.
pub const fn default_seed(id: &str) -> u64 {
    // FNV-1a.
    let bytes = id.as_bytes();
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

fn conclude(result: Result<CaseResult, portnet::time::Elapsed>, limit: Duration) -> Outcome {
    match result {
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err(outcome)) => outcome,
        Err(_) => Outcome::Fail(Detail::from_args(format_args!(
            "the case did not finish within {} s (a hang or a lost wake-up)",
            limit.as_secs()
        ))),
    }
}

/// The whole case's deadline on this harness.
fn case_deadline<H: Harness>(harness: &H) -> Duration {
    CASE_DEADLINE.saturating_mul(harness.patience())
}

/// Runs a case future plainly with the suite's deadline.
#[doc(hidden)]
pub fn run_plain<H: Harness, F: Future<Output = CaseResult>>(harness: &H, case: F) -> Outcome {
    let limit = case_deadline(harness);
    harness.run(async {
        conclude(
            portnet::time::timeout(harness.clock(), limit, case).await,
            limit,
        )
    })
}

/// Runs a case future (built on `chaos`) through the hopping poller.
#[doc(hidden)]
pub fn run_adversarial<H: Harness, F: Future<Output = CaseResult>>(
    harness: &H,
    case: F,
) -> Outcome {
    let (Some(a), Some(b)) = (WakeProbe::new(), WakeProbe::new()) else {
        return Outcome::Fail(Detail::from_args(format_args!("out of wake probes")));
    };
    let limit = case_deadline(harness);
    harness.run(async {
        let timed = pin!(portnet::time::timeout(harness.clock(), limit, case));
        conclude(Hopping::new(timed, [&a, &b]).await, limit)
    })
}

/// The generator of an adversarial run.
#[doc(hidden)]
pub fn chaos_rng(seed: u64) -> Rng {
    Rng::new(seed)
}

/// The adversarial harness around `harness`.
#[doc(hidden)]
pub fn chaos_harness<'r, H: Harness>(harness: &'r H, rng: &'r Rng) -> ChaosHarness<'r, H> {
    ChaosHarness::new(harness, rng)
}
