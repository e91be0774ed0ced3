//! Clock cases.

use core::time::Duration;

use portnet::Clock;

use crate::support::{PROMPT, within};
use crate::{CaseResult, Harness, ensure};

/// Case `clock.sleep`: `sleep` lasts at least its duration on the clock, and the
/// clock never goes back.
pub async fn sleep<H: Harness>(h: &H) -> CaseResult {
    let clock = h.clock();
    let mut last = clock.now();
    for millis in [0u64, 1, 20, 50] {
        let start = clock.now();
        ensure!(
            start >= last,
            "the clock went back from {last:?} to {start:?}"
        );
        let duration = Duration::from_millis(millis);
        within(h, PROMPT + duration, "sleep", clock.sleep(duration)).await?;
        let end = clock.now();
        ensure!(
            end - start >= duration,
            "sleep({duration:?}) ended after {:?}",
            end - start
        );
        last = end;
    }
    Ok(())
}
