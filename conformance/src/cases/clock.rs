//! Clock cases.

use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use core::time::Duration;

use portnet::{Clock, Instant};

use crate::probe::WakeProbe;
use crate::support::{PROMPT, within};
use crate::{CaseResult, Harness, ensure, fail};

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

/// Case `clock.no_early_wake`: a pending `sleep_until` does not wake its task
/// before the deadline (no busy loop): every wake it gives comes at or after it.
pub async fn no_early_wake<H: Harness>(h: &H) -> CaseResult {
    let clock = h.clock();
    let Some(task) = WakeProbe::new() else {
        fail!("the suite ran out of wake probes");
    };
    let waker = task.waker();
    let duration = Duration::from_millis(50);
    let deadline = clock.now() + duration;
    let mut sleep = pin!(clock.sleep_until(deadline));
    for _ in 0..1000 {
        task.reset();
        if sleep
            .as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_ready()
        {
            let now = clock.now();
            ensure!(
                now >= deadline,
                "sleep_until completed {:?} before its deadline",
                deadline - now
            );
            return Ok(());
        }
        within(h, PROMPT + duration, "the sleep's wake", woken(&task)).await?;
        let now = clock.now();
        ensure!(
            now >= deadline,
            "sleep_until woke its task {:?} before its deadline (a busy loop)",
            deadline - now
        );
    }
    fail!("sleep_until woke its task 1000 times at or after its deadline without completing")
}

/// Completes once `probe` has been woken.
async fn woken(probe: &WakeProbe) {
    poll_fn(|cx| {
        probe.forward_to(Some(cx.waker()));
        if probe.wakes() > 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await;
    probe.forward_to(None);
}

/// Case `clock.past_deadline`: `sleep_until` a deadline already past (the
/// epoch, or 2 ms ago) completes on its first poll. A `Pending` that woke the
/// task at once (a runtime's cooperative yield) is polled again, a few times;
/// one that waits for a wake fails.
pub async fn past_deadline<H: Harness>(h: &H) -> CaseResult {
    let clock = h.clock();
    let Some(task) = WakeProbe::new() else {
        fail!("the suite ran out of wake probes");
    };
    let waker = task.waker();
    let recent = Instant::from_micros(clock.now().as_micros().saturating_sub(2000));
    for (deadline, what) in [(Instant::ZERO, "the epoch"), (recent, "2 ms ago")] {
        let mut sleep = pin!(clock.sleep_until(deadline));
        let mut done = false;
        for _ in 0..8 {
            task.reset();
            if sleep
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
            {
                done = true;
                break;
            }
            ensure!(
                task.wakes() > 0,
                "sleep_until({what}) was pending on its first poll, waiting for a wake"
            );
            // A cooperative yield: let the task be polled afresh.
            YieldOnce(false).await;
        }
        ensure!(
            done,
            "sleep_until({what}) yielded 8 times without completing"
        );
    }
    Ok(())
}

struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Case `clock.monotonic`: `now` never goes back, across many reads with the
/// task yielding between them.
pub async fn monotonic<H: Harness>(h: &H) -> CaseResult {
    let clock = h.clock();
    let mut last = clock.now();
    for i in 0..500 {
        if i % 10 == 0 {
            YieldOnce(false).await;
        }
        let now = clock.now();
        ensure!(
            now >= last,
            "the clock went back from {last:?} to {now:?} (read {i})"
        );
        last = now;
    }
    Ok(())
}
