//! What a wake costs on the smoltcp backend's one-task model: under
//! `sim::Pair::run` (as in a firmware's single `join`) the application, both
//! stacks' runners and the link share one task, so every internal wake (a frame,
//! a socket operation, a timer) re-polls all of them. Counted with callgrind as
//! the other instruction rows are: a run of `n` minus a run of none.

use core::cell::Cell;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;

use portnet_links::Faults;
use portnet_smoltcp::sim::{Pair, transfer};

use crate::{Row, mqtt};

/// The link's seed; with no faults it only feeds the stacks' random seeds.
const SEED: u64 = 1;
/// Bytes of the bulk workload (a run of none is the baseline).
pub(crate) const BULK_BYTES: usize = 1 << 20;
/// Self-wakes of the idle workload.
pub(crate) const IDLE_WAKES: usize = 20_000;

/// Counts the polls of the future it wraps: under `Pair::run` that future is
/// polled on every poll of the one task.
struct Counted<'c, F> {
    future: Pin<Box<F>>,
    polls: &'c Cell<u64>,
}

impl<F: Future> Future for Counted<'_, F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.polls.set(self.polls.get() + 1);
        self.future.as_mut().poll(cx)
    }
}

/// Returns `Pending` once after waking its own task: one whole-task re-poll
/// with nothing for the stacks to do.
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

/// What one run did: frames the link delivered and polls of the task.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tally {
    pub(crate) frames: u64,
    pub(crate) polls: u64,
}

/// Runs `workload` (`wake-bulk` bytes or `wake-idle` wakes) with size `n`.
pub(crate) fn workload(workload: &str, n: usize) -> io::Result<Tally> {
    let pair = Pair::new(Faults::NONE, SEED);
    let polls = Cell::new(0);
    match workload {
        "wake-bulk" => {
            let future = Counted {
                future: Box::pin(transfer(&pair, n)),
                polls: &polls,
            };
            let received = pair.run(future).map_err(mqtt::err)?.map_err(mqtt::err)?;
            if received != n {
                return Err(mqtt::err(format!("{received} of {n} bytes arrived")));
            }
        }
        "wake-idle" => {
            let future = Counted {
                future: Box::pin(async {
                    for _ in 0..n {
                        YieldOnce(false).await;
                    }
                }),
                polls: &polls,
            };
            pair.run(future).map_err(mqtt::err)?;
        }
        other => return Err(mqtt::err(format!("unknown workload {other}"))),
    }
    Ok(Tally {
        frames: pair.link.stats().delivered,
        polls: polls.get(),
    })
}

/// Instructions of `workload` per unit, `n` minus none, over the whole process
/// or (with `only`) inside the functions it names.
fn per(workload: &str, n: usize, only: Option<&str>, units: f64) -> io::Result<f64> {
    let full = mqtt::count_in(workload, "-", n, only)?;
    let base = mqtt::count_in(workload, "-", 0, only)?;
    Ok(full.saturating_sub(base) as f64 / units)
}

/// The runner's round (both stacks' `Stack::poll_once`, smoltcp's work
/// included).
pub(crate) const RUNNER: &str = "*Stack*poll_once*";

/// The frame filters of `tcp/quirks.rs`, run on every frame each way.
pub(crate) const QUIRKS: &str = "*tcp::quirks::*";

/// Instructions per frame of a bulk transfer, and per whole-task wake when
/// nothing is to be done, on the smoltcp backend in one task. No peer: the row's
/// peer column repeats the figure and its ratio is 1.
pub(crate) fn instructions() -> io::Result<Vec<Row>> {
    let bulk = workload("wake-bulk", BULK_BYTES)?;
    let bulk0 = workload("wake-bulk", 0)?;
    let frames = (bulk.frames - bulk0.frames) as f64;
    let per_frame = per("wake-bulk", BULK_BYTES, None, frames)?;
    let idle = workload("wake-idle", IDLE_WAKES)?;
    let idle0 = workload("wake-idle", 0)?;
    let wakes = (idle.polls - idle0.polls) as f64;
    let per_wake = per("wake-idle", IDLE_WAKES, None, wakes)?;
    let row = |name, value: f64, unit| Row {
        name,
        ours: value,
        peer: value,
        unit,
        ratio: 1.0,
    };
    Ok(vec![
        row(
            "smoltcp one-task bulk, instructions per frame (callgrind)",
            per_frame,
            "instr/frame",
        ),
        row(
            "smoltcp one-task idle wake, instructions per re-poll (callgrind)",
            per_wake,
            "instr/wake",
        ),
    ])
}

/// The figures of docs/backends/smoltcp.md, printed in detail
/// (`--only wake`).
pub(crate) fn report() -> io::Result<()> {
    let bulk = workload("wake-bulk", BULK_BYTES)?;
    let bulk0 = workload("wake-bulk", 0)?;
    let frames = (bulk.frames - bulk0.frames) as f64;
    let polls = (bulk.polls - bulk0.polls) as f64;
    let total = per("wake-bulk", BULK_BYTES, None, 1.0)?;
    let runner = per("wake-bulk", BULK_BYTES, Some(RUNNER), 1.0)?;
    println!(
        "bulk {BULK_BYTES} B: {frames} frames, {polls} task polls ({:.2} per frame)",
        polls / frames
    );
    println!(
        "  whole process {:.0} instr/frame, runners' poll_once {:.0} instr/frame, {:.0} instr/task poll",
        total / frames,
        runner / frames,
        total / polls
    );
    let quirks = per("wake-bulk", BULK_BYTES, Some(QUIRKS), frames)?;
    println!("  the quirks filters (note_sent, is_held_back) {quirks:.0} instr/frame");
    let idle = workload("wake-idle", IDLE_WAKES)?;
    let idle0 = workload("wake-idle", 0)?;
    let wakes = (idle.polls - idle0.polls) as f64;
    let total = per("wake-idle", IDLE_WAKES, None, wakes)?;
    let runner = per("wake-idle", IDLE_WAKES, Some(RUNNER), wakes)?;
    println!(
        "idle {IDLE_WAKES} self-wakes: {wakes} task polls, {} frames",
        idle.frames - idle0.frames
    );
    println!("  whole process {total:.0} instr/wake, runners' poll_once {runner:.0} instr/wake");
    Ok(())
}
