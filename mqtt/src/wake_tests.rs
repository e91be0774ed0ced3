//! Exhaustive interleavings of the per-slot wakers (issue 25 §4).
//!
//! Real `Client::publish` futures against a session whose driver side is played
//! by the test, through the same functions the driver calls: a PUBACK
//! ([`Session::on_puback`]), the end of a connection
//! ([`Session::connection_ended`]) and a new one that resumes the session
//! ([`State::resume_slots`], [`Session::wake_all`]). The executor is modelled:
//! a future is polled only once it was woken (or never polled yet). Every order
//! of the enabled steps is explored; at the end of each plan every publish must
//! have completed. A plan that ends with a publish pending and not woken is a
//! lost wake-up. The negative controls inject one (an acknowledgement or a new
//! connection that wakes nobody) and require the explorer to find it.

#![allow(clippy::std_instead_of_core, clippy::std_instead_of_alloc)] // host-only test code

extern crate std;

use core::future::Future;
use core::pin::Pin;
use core::sync::atomic::{AtomicBool, Ordering};
use core::task::{Context, Poll, Waker};
use std::boxed::Box;
use std::sync::Arc;
use std::task::Wake;
use std::vec::Vec;

use super::{Conn, Flaw, Kind, Phase, Session, Storage};
use crate::codec::{QoS, ReasonCode};
use crate::{Client, Error, PublishOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The executor polls publish `j` (woken, or never polled).
    Poll(usize),
    /// The broker's PUBACK for the publish in slot `i`.
    Ack(usize),
    /// The connection ends (`run` returns; the application reconnects).
    Down,
    /// A new connection resumes the session.
    Up,
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

type Publish<'a> = Pin<Box<dyn Future<Output = Result<ReasonCode, Error>> + 'a>>;

#[derive(Debug, Default)]
struct Stats {
    plans: u64,
    lost: u64,
    first_lost: Option<Vec<Step>>,
}

struct Scenario {
    publishes: usize,
    /// How many connection drops (each followed by a resuming connection).
    drops: usize,
    flaw: Flaw,
}

/// Builds the world, replays `prefix`, and returns the steps enabled after it,
/// or `None` with the plan's verdict (true: every publish completed) when none is.
fn replay(sc: &Scenario, prefix: &[Step]) -> Result<Vec<Step>, bool> {
    let mut storage = Storage::<64, 1024, 2, 1, 0, 1>::new();
    let session = Session::new(&mut storage);
    {
        let mut state = session.state.borrow_mut();
        state.conn = Conn::Up;
        state.flaw = sc.flaw;
    }
    let client = Client::new(&session);
    let mut futures: Vec<Publish<'_>> = (0..sc.publishes)
        .map(|_| {
            Box::pin(client.publish("t", b"x", PublishOptions::qos(QoS::AtLeastOnce)))
                as Publish<'_>
        })
        .collect();
    let flags: Vec<Arc<Flag>> = (0..sc.publishes)
        .map(|_| Arc::new(Flag(AtomicBool::new(false))))
        .collect();
    let wakers: Vec<Waker> = flags.iter().map(|f| Waker::from(f.clone())).collect();
    let mut polled = std::vec![false; sc.publishes];
    let mut done: Vec<Option<Result<ReasonCode, Error>>> = std::vec![None; sc.publishes];
    let mut drops = 0;

    for &step in prefix {
        match step {
            Step::Poll(j) => {
                flags[j].0.store(false, Ordering::SeqCst);
                polled[j] = true;
                let mut cx = Context::from_waker(&wakers[j]);
                if let Poll::Ready(r) = futures[j].as_mut().poll(&mut cx) {
                    done[j] = Some(r);
                }
            }
            Step::Ack(i) => {
                let mut state = session.state.borrow_mut();
                let id = state.slots[i].id;
                session.on_puback(&mut state, id, ReasonCode::SUCCESS);
            }
            Step::Down => {
                drops += 1;
                session.connection_ended(Error::Closed, true);
            }
            Step::Up => {
                {
                    let mut state = session.state.borrow_mut();
                    state.resume_slots(true);
                    state.conn = Conn::Up;
                }
                session.wake_all();
            }
        }
    }

    let mut enabled = Vec::new();
    for j in 0..sc.publishes {
        if done[j].is_none() && (!polled[j] || flags[j].0.load(Ordering::SeqCst)) {
            enabled.push(Step::Poll(j));
        }
    }
    let state = session.state.borrow();
    if state.conn == Conn::Up {
        for (i, slot) in state.slots.iter().enumerate() {
            if slot.kind == Kind::Publish(QoS::AtLeastOnce) && slot.phase == Phase::Sent {
                enabled.push(Step::Ack(i));
            }
        }
        let in_flight = state.slots.iter().any(|s| s.phase == Phase::Sent);
        if drops < sc.drops && in_flight {
            enabled.push(Step::Down);
        }
    } else {
        enabled.push(Step::Up);
    }
    drop(state);
    if enabled.is_empty() {
        return Err(done.iter().all(|r| *r == Some(Ok(ReasonCode::SUCCESS))));
    }
    Ok(enabled)
}

fn explore(sc: &Scenario, prefix: &mut Vec<Step>, stats: &mut Stats) {
    match replay(sc, prefix) {
        Err(all_completed) => {
            stats.plans += 1;
            if !all_completed {
                stats.lost += 1;
                stats.first_lost.get_or_insert_with(|| prefix.clone());
            }
        }
        Ok(steps) => {
            for step in steps {
                prefix.push(step);
                explore(sc, prefix, stats);
                prefix.pop();
            }
        }
    }
}

fn run(publishes: usize, drops: usize, flaw: Flaw) -> Stats {
    let sc = Scenario {
        publishes,
        drops,
        flaw,
    };
    let mut stats = Stats::default();
    explore(&sc, &mut Vec::new(), &mut stats);
    stats
}

/// Three QoS 1 publishes over two slots (the third waits for a free slot):
/// every order of polls and acknowledgements completes all three.
#[test]
fn acknowledgements_wake_their_publish_in_every_interleaving() {
    let stats = run(3, 0, Flaw::None);
    std::eprintln!("3 publishes, 2 slots: {stats:?}");
    assert_eq!(stats.lost, 0, "lost wake-up in {:?}", stats.first_lost);
    assert!(stats.plans > 100, "{stats:?}");
}

/// Two publishes in flight, a connection drop and a resuming connection at any
/// point: every publish is sent again and completes.
#[test]
fn a_new_connection_wakes_every_slot_in_every_interleaving() {
    let stats = run(2, 1, Flaw::None);
    std::eprintln!("2 publishes, 1 drop: {stats:?}");
    assert_eq!(stats.lost, 0, "lost wake-up in {:?}", stats.first_lost);
    assert!(stats.plans > 100, "{stats:?}");
}

/// Negative control: an acknowledgement that completes its slot without waking
/// the future is found (in every plan, as every publish is acknowledged).
#[test]
fn negative_control_ack_without_wake_is_caught() {
    let stats = run(3, 0, Flaw::AckWakesNobody);
    std::eprintln!("flaw: ack wakes nobody: {stats:?}");
    assert!(
        stats.lost > 0,
        "the explorer missed a lost wake-up: {stats:?}"
    );
}

/// Negative control: a new connection that does not wake the slots' futures is
/// found, though only in the plans where the drop comes while a publish waits
/// for its acknowledgement; the other plans complete.
#[test]
fn negative_control_reset_without_wake_is_caught() {
    let stats = run(2, 1, Flaw::ResetWakesNobody);
    std::eprintln!("flaw: reset wakes nobody: {stats:?}");
    assert!(
        stats.lost > 0,
        "the explorer missed a lost wake-up: {stats:?}"
    );
    assert!(
        stats.lost < stats.plans,
        "only some orders lose it: {stats:?}"
    );
}

/// O(1) per acknowledgement: a PUBACK wakes the publish it completes and no
/// other (before, every PUBACK woke every publish in flight).
#[test]
fn a_puback_wakes_only_its_publish() {
    let mut storage = Storage::<64, 1024, 4, 1, 0, 1>::new();
    let session = Session::new(&mut storage);
    session.state.borrow_mut().conn = Conn::Up;
    let client = Client::new(&session);
    let mut futures: Vec<Publish<'_>> = (0..4)
        .map(|_| {
            Box::pin(client.publish("t", b"x", PublishOptions::qos(QoS::AtLeastOnce)))
                as Publish<'_>
        })
        .collect();
    let flags: Vec<Arc<Flag>> = (0..4)
        .map(|_| Arc::new(Flag(AtomicBool::new(false))))
        .collect();
    for (f, flag) in futures.iter_mut().zip(&flags) {
        let waker = Waker::from(flag.clone());
        assert!(
            f.as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
    }
    for flag in &flags {
        flag.0.store(false, Ordering::SeqCst);
    }
    let (index, id) = {
        let state = session.state.borrow();
        assert!(state.slots.iter().all(|s| s.phase == Phase::Sent));
        (2, state.slots[2].id)
    };
    session.on_puback(&mut session.state.borrow_mut(), id, ReasonCode::SUCCESS);
    let woken: Vec<bool> = flags.iter().map(|f| f.0.load(Ordering::SeqCst)).collect();
    let mut expected = [false; 4];
    expected[index] = true;
    assert_eq!(woken, expected);
}

/// Packet identifiers chosen by slot: never shared by two slots in use, never 0,
/// found by [`State::slot_of`] at once, never the same twice in a row for a
/// slot, and going round the whole range (with a slot count that does not
/// divide 65535, across the wrap-around).
#[test]
fn packet_ids_are_unique_and_found_without_a_scan() {
    for slots in [1usize, 2, 7, 100] {
        let mut slot_array = std::vec![super::Slot::FREE; slots];
        let mut wakers: Vec<Option<Waker>> = (0..slots).map(|_| None).collect();
        let mut storage = Storage::<8, 8, 1, 1, 0, 1>::new();
        let session = Session::new(&mut storage);
        let mut state = session.state.borrow_mut();
        state.slots = &mut slot_array;
        state.slot_wakers = &mut wakers;
        let mut seen = std::collections::BTreeSet::new();
        let mut last = std::vec![0u16; slots];
        let mut wrapped = false;
        let mut x: u32 = 12345;
        for _ in 0..200_000 {
            // A pseudo-random slot in use is freed now and then.
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            if let Some(index) = state.allocate(Kind::Publish(QoS::AtLeastOnce)) {
                let id = state.slots[index].id;
                assert_ne!(id, 0);
                assert_eq!(state.slot_of(id), Some(index));
                let users = state
                    .slots
                    .iter()
                    .filter(|s| s.kind != Kind::Free && s.id == id);
                assert_eq!(users.count(), 1, "id {id} shared");
                assert_ne!(last[index], id, "slot {index} reused {id} at once");
                wrapped |= id < last[index];
                last[index] = id;
                seen.insert(id);
            }
            let victim = (x >> 8) as usize % slots;
            if state.slots[victim].kind != Kind::Free && x.is_multiple_of(3) {
                state.free_slot(victim);
            }
        }
        assert!(
            seen.len() > 40_000,
            "{slots} slots: {} identifiers",
            seen.len()
        );
        assert!(wrapped, "{slots} slots: identifiers wrap around");
    }
}
