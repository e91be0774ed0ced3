//! Between portnet's clock and smoltcp's time.

use core::time::Duration;

/// A portnet instant as smoltcp's.
pub(crate) fn to_smoltcp(instant: portnet::Instant) -> smoltcp::time::Instant {
    smoltcp::time::Instant::from_micros(i64::try_from(instant.as_micros()).unwrap_or(i64::MAX))
}

/// A smoltcp instant as portnet's (times before zero are zero).
pub(crate) fn from_smoltcp(instant: smoltcp::time::Instant) -> portnet::Instant {
    portnet::Instant::from_micros(u64::try_from(instant.total_micros()).unwrap_or(0))
}

/// A duration as smoltcp's (millisecond-precise, saturating).
pub(crate) fn duration_to_smoltcp(duration: Duration) -> smoltcp::time::Duration {
    smoltcp::time::Duration::from_micros(u64::try_from(duration.as_micros()).unwrap_or(u64::MAX))
}

/// A smoltcp duration as core's.
#[cfg_attr(not(feature = "tcp"), allow(dead_code))]
pub(crate) fn duration_from_smoltcp(duration: smoltcp::time::Duration) -> Duration {
    Duration::from_micros(duration.total_micros())
}
