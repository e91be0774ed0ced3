//! The suite on a foreign stack: std-embedded-nal-async (the host's sockets
//! behind the embedded-nal-async traits) through portnet-embedded's adapters,
//! with the tokio backend as peer.
//!
//! The stack does not keep every contract (see `docs/conformance.md`, "A foreign
//! stack"), so instead of `conformance_tests!` (one test per case, which would fail
//! for its known failures) this file pins the **exact** outcome of every case: the
//! passing cases must pass in both modes, each known failure must still fail, and
//! the listening cases must skip. A change in either direction — a regression, or a
//! fix upstream or in the adapter — fails a test, and the lists below are updated.

use std::sync::Mutex;

use portnet_conformance::{Capability, Mode, Outcome, cases, default_seed};
use portnet_conformance_runner::hosted::StdEmbeddedNalHarness;

/// Cases that fail, each with the reason (checked in plain mode only: the reason
/// does not depend on the mode).
const EXPECTED_FAILURES: [(&str, &str); 17] = [
    // embedded-io has no half-close: the adapter's `close` is `Unsupported`, and
    // the echo client's close fails (reported as it happens, not as the hang of
    // the echo peer that never sees EOF).
    (
        "tcp.echo.ipv4",
        "echo client close: error of kind Unsupported",
    ),
    (
        "tcp.echo.ipv6",
        "echo client close: error of kind Unsupported",
    ),
    ("tcp.stream.backpressure", "Unsupported"),
    ("tcp.close.half_close_local", "Unsupported"),
    ("tcp.close.half_close_remote", "Unsupported"),
    ("tcp.close.delivers_all_data", "Unsupported"),
    ("tcp.close.simultaneous", "Unsupported"),
    ("tcp.resources.no_leak", "Unsupported"),
    ("tcp.close.write_after_close", "Unsupported"),
    ("tcp.close.idempotent", "Unsupported"),
    ("tcp.cancel.write", "Unsupported"),
    ("tcp.close.split_write_half", "Unsupported"),
    ("tcp.close.after_peer_reset", "got kind Unsupported"),
    // embedded-nal-async has no abort: dropping the connection sends a FIN.
    ("tcp.reset.abort_sends_rst", "got success (0)"),
    // std-embedded-nal-async's uniquely bound sockets report the copied length of a
    // truncated datagram (a limit its documentation states).
    ("udp.truncate", "reported 10 bytes, expected 100"),
    ("udp.connected.send_recv", "reported 8, expected 40"),
    // The kernel's EMSGSIZE reaches portnet as an uncategorized error (`Other`):
    // the adapter has no errno to refine it by.
    ("udp.send.too_large", "got kind Other"),
];

/// Cases that skip: embedded-nal-async has no listening sockets.
const EXPECTED_SKIPS: [&str; 12] = [
    "tcp.listen.ephemeral_port",
    "tcp.listen.addr_in_use",
    "tcp.listen.drop_frees_port",
    "tcp.accept.order_serial",
    "tcp.accept.order_backlog",
    "tcp.accept.pool",
    "tcp.addresses",
    "tcp.cancel.accept",
    "tcp.listen.backlog",
    "tcp.listen.addr_not_available",
    "tcp.accept.concurrent",
    "options.listener.read_back",
];

/// Cases that skip for another capability: no `Dns` in the harness, no fixed pool.
const OTHER_SKIPS: [(&str, Capability); 8] = [
    ("tcp.connect.pool_exhausted", Capability::SocketPool),
    ("udp.bind.pool_exhausted", Capability::SocketPool),
    ("dns.resolve.literal", Capability::Dns),
    ("dns.resolve.invalid_name", Capability::Dns),
    ("dns.resolve.no_answer", Capability::Dns),
    ("dns.resolve.no_such_name", Capability::Dns),
    ("dns.resolve_all.order", Capability::Dns),
    ("dns.resolve_all.empty_out", Capability::Dns),
];

/// Cases share the process's sockets and wake probes: one runs at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn run(id: &str, mode: Mode) -> Outcome {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let case = cases::all::<StdEmbeddedNalHarness>()
        .into_iter()
        .find(|case| case.id == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    (case.run)(&StdEmbeddedNalHarness::default(), mode)
}

fn expected_passes() -> Vec<&'static str> {
    cases::all::<StdEmbeddedNalHarness>()
        .into_iter()
        .map(|case| case.id)
        .filter(|id| {
            !EXPECTED_FAILURES.iter().any(|(f, _)| f == id)
                && !EXPECTED_SKIPS.contains(id)
                && !OTHER_SKIPS.iter().any(|(s, _)| s == id)
        })
        .collect()
}

#[test]
fn the_lists_name_real_cases() {
    let ids: Vec<_> = cases::all::<StdEmbeddedNalHarness>()
        .into_iter()
        .map(|c| c.id)
        .collect();
    for (id, _) in EXPECTED_FAILURES {
        assert!(ids.contains(&id), "unknown case {id}");
    }
    for id in EXPECTED_SKIPS {
        assert!(ids.contains(&id), "unknown case {id}");
    }
    for (id, _) in OTHER_SKIPS {
        assert!(ids.contains(&id), "unknown case {id}");
    }
    assert_eq!(expected_passes().len(), 37);
}

#[test]
fn passing_cases_pass_plainly_and_adversarially() {
    let mut unexpected = Vec::new();
    for id in expected_passes() {
        for mode in [
            Mode::Plain,
            Mode::Adversarial {
                seed: default_seed(id),
            },
        ] {
            let outcome = run(id, mode);
            if !matches!(outcome, Outcome::Pass) {
                unexpected.push(format!("{id} ({mode:?}): {outcome:?}"));
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "cases that no longer pass: {unexpected:#?}"
    );
}

#[test]
fn known_failures_still_fail_for_their_reason() {
    let mut unexpected = Vec::new();
    for (id, reason) in EXPECTED_FAILURES {
        match run(id, Mode::Plain) {
            Outcome::Fail(detail) if format!("{detail}").contains(reason) => {}
            other => unexpected.push(format!(
                "{id}: expected a failure with {reason:?}, got {other:?}"
            )),
        }
    }
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}

#[test]
fn listening_cases_skip_for_tcp_listen() {
    for id in EXPECTED_SKIPS {
        match run(id, Mode::Plain) {
            Outcome::Skip(Capability::TcpListen) => {}
            other => panic!("{id}: expected a skip for tcp-listen, got {other:?}"),
        }
    }
}

#[test]
fn other_skips_name_their_capability() {
    for (id, capability) in OTHER_SKIPS {
        match run(id, Mode::Plain) {
            Outcome::Skip(c) if c == capability => {}
            other => panic!("{id}: expected a skip for {capability}, got {other:?}"),
        }
    }
}
