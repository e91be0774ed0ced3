//! The embassy-time driver edge-http's keep-alive timer links against, for the
//! test binaries that run edge-http's server (`edge_nal.rs`, `edge_http_tap.rs`).
#![allow(clippy::std_instead_of_core)]

/// The embassy-time driver edge-http's keep-alive timer links against: host time,
/// each wake-up on a thread of its own (the tests run with no keep-alive timeout,
/// so none is expected; if one comes, it is served correctly, not ignored).
struct HostTime;

static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

impl embassy_time_driver::Driver for HostTime {
    fn now(&self) -> u64 {
        let epoch = *EPOCH.get_or_init(std::time::Instant::now);
        let ticks =
            epoch.elapsed().as_nanos() * u128::from(embassy_time_driver::TICK_HZ) / 1_000_000_000;
        u64::try_from(ticks).unwrap_or(u64::MAX)
    }
    fn schedule_wake(&self, at: u64, waker: &core::task::Waker) {
        let waker = waker.clone();
        let ticks = at.saturating_sub(self.now());
        let wait = std::time::Duration::from_nanos(
            u64::try_from(
                u128::from(ticks) * 1_000_000_000 / u128::from(embassy_time_driver::TICK_HZ),
            )
            .unwrap_or(u64::MAX),
        );
        std::thread::spawn(move || {
            std::thread::sleep(wait);
            waker.wake();
        });
    }
}

embassy_time_driver::time_driver_impl!(static DRIVER: HostTime = HostTime);
