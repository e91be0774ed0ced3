//! Reconnect delays: exponential, bounded, with jitter from a deterministic
//! source (a seeded xorshift), so that a fleet of nodes that lost the broker
//! together does not come back in lock-step, and a test sees the same delays on
//! every run.

use core::time::Duration;

/// Exponential backoff with "equal jitter": the `n`-th delay in a row is drawn
/// from `[cap / 2, cap]` where `cap = min(max, min · 2ⁿ)`.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
    state: u32,
}

impl Backoff {
    /// Delays between `min` and `max`, jitter from `seed` (0 is replaced by a
    /// fixed non-zero value: xorshift needs one).
    pub fn new(min: Duration, max: Duration, seed: u32) -> Self {
        Self {
            min,
            max: max.max(min),
            attempt: 0,
            state: if seed == 0 { 0x2545_F491 } else { seed },
        }
    }

    /// The next delay; each call doubles the cap until `max`.
    pub fn next_delay(&mut self) -> Duration {
        let cap = self
            .min
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.max);
        self.attempt = self.attempt.saturating_add(1);
        let half = cap / 2;
        let span = u64::try_from((cap - half).as_micros()).unwrap_or(u64::MAX);
        let jitter = u64::from(self.random()) % span.saturating_add(1);
        half + Duration::from_micros(jitter)
    }

    /// Starts over at `min` (after a connection that worked).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    fn random(&mut self) -> u32 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn delays_grow_stay_bounded_and_reset() {
        let (min, max) = (Duration::from_millis(100), Duration::from_secs(2));
        let mut backoff = Backoff::new(min, max, 7);
        let mut caps = Vec::new();
        for n in 0..12 {
            let cap = (min * (1 << n)).min(max);
            let delay = backoff.next_delay();
            assert!(
                delay >= cap / 2 && delay <= cap,
                "{n}: {delay:?} vs {cap:?}"
            );
            caps.push(cap);
        }
        assert_eq!(caps.last(), Some(&max));
        backoff.reset();
        assert!(backoff.next_delay() <= min);
    }

    #[test]
    fn jitter_is_deterministic_per_seed_and_differs_between_seeds() {
        let run = |seed| {
            let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(5), seed);
            (0..8).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        assert_eq!(run(0), run(0), "seed 0 works too");
    }
}
