#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![no_std]
#![deny(unsafe_code)]

/// The LAN9118 Ethernet driver (crate `portnet-lan9118`), re-exported.
pub use portnet_lan9118 as lan9118;

/// The SLIP link (crate `portnet-slip`), re-exported with feature `slip`: a
/// serial network path over one of the board's UARTs.
#[cfg(all(feature = "slip", target_os = "none"))]
pub use portnet_slip as slip;

#[cfg(target_os = "none")]
pub mod board;

/// Delay arithmetic, kept apart from the board so the host tests it.
#[cfg_attr(not(target_os = "none"), allow(dead_code))]
mod delay {
    /// The microseconds a sleep on the board's clock must last so that at least
    /// `nanos` nanoseconds pass: rounded up to whole microseconds, plus one,
    /// because the clock reads whole microseconds (a deadline `n` microseconds
    /// after a reading may be as little as `n - 1` microseconds and a fraction
    /// away). Zero stays zero: no wait.
    pub(crate) fn sleep_micros(nanos: u64) -> u64 {
        if nanos == 0 {
            0
        } else {
            nanos.div_ceil(1000).saturating_add(1)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::sleep_micros;

        /// The worst case for a sleep of `micros` from a clock that truncates:
        /// read just before a tick, deadline reached just at a later tick.
        fn shortest_wait_nanos(micros: u64) -> u64 {
            (micros * 1000).saturating_sub(999)
        }

        #[test]
        fn a_delay_never_ends_early() {
            for nanos in [1, 999, 1000, 1001, 1500, 25_000, 999_999, 4_294_967_295] {
                let micros = sleep_micros(nanos);
                assert!(
                    shortest_wait_nanos(micros) >= nanos,
                    "{nanos} ns as {micros} us"
                );
                // And not more than a microsecond and a rounding too long.
                assert!(micros * 1000 < nanos + 2000, "{nanos} ns as {micros} us");
            }
        }

        #[test]
        fn no_delay_is_no_wait() {
            assert_eq!(sleep_micros(0), 0);
        }
    }
}
