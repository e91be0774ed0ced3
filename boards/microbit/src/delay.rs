//! Delay arithmetic, kept apart from the board so the host tests it.

/// The microseconds a sleep on the board's clock must last so that at least
/// `nanos` nanoseconds pass: rounded up to whole microseconds, plus one,
/// because the clock reads whole microseconds (a deadline `n` microseconds
/// after a reading may be as little as `n - 1` microseconds and a fraction
/// away). Zero stays zero: no wait.
pub fn sleep_micros(nanos: u64) -> u64 {
    if nanos == 0 {
        0
    } else {
        nanos.div_ceil(1000).saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::sleep_micros;

    #[test]
    fn a_delay_never_ends_early_nor_much_late() {
        for nanos in [1, 999, 1000, 1001, 1500, 25_000, 4_294_967_295] {
            let micros = sleep_micros(nanos);
            // The worst case: read just before a tick, reached just at one.
            assert!((micros * 1000).saturating_sub(999) >= nanos, "{nanos} ns");
            assert!(micros * 1000 < nanos + 2000, "{nanos} ns");
        }
        assert_eq!(sleep_micros(0), 0);
    }
}
