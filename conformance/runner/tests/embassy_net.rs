//! The suite on a foreign stack: embassy-net, driven through its
//! embassy-net-driver on the in-memory link, with portnet's smoltcp backend as
//! peer, in virtual time (`portnet_conformance_runner::embassy`, over the adapter crate `portnet-embassy-net`).
//!
//! embassy-net does not keep every contract (see `docs/backends/embassy-net.md`,
//! "Conformance"), so this file pins the **exact** outcome of every case, as
//! `std_embedded_nal.rs` does: the passing cases must pass in both modes, and
//! each known failure must still fail, for its reason, in both modes. A change in
//! either direction fails a test, and the lists below are updated.

use std::sync::Mutex;

use portnet_conformance::{Capability, Mode, Outcome, cases, default_seed};
use portnet_conformance_runner::embassy::EmbassyNetHarness;

/// Cases that fail, each with the reason.
const EXPECTED_FAILURES: [(&str, &str); 8] = [
    // smoltcp lets any number of sockets listen on one port (that is how an
    // embassy-net server accepts several connections), and embassy-net keeps no
    // table of ports: a second listener on a port succeeds.
    ("tcp.listen.addr_in_use", "got success"),
    // The same for UDP: a second socket binds a bound port.
    ("udp.bind.addr_in_use", "got success"),
    // embassy-net reports an unspecified address or port 0 as `NoRoute`.
    ("tcp.connect.invalid_remote", "Connect(NoRoute)"),
    // `TcpSocket::write(&[])` waits for buffer space that an empty write never
    // needs: it stays Pending (embedded-io-async asks for `Ok(0)` at once).
    (
        "tcp.stream.zero_length",
        "write of an empty buffer gave Pending",
    ),
    // embassy-net listens on any address it is given: smoltcp's listen endpoint
    // does not check that the address is the interface's.
    ("tcp.listen.addr_not_available", "got success"),
    // Several sockets in `TcpSocket::accept` at once: a connection is woken on
    // the socket that took the SYN, and the adapter's accept futures lose track.
    ("tcp.accept.concurrent", "no result within"),
    // A cancelled connect's socket lingers in the adapter's pool until smoltcp
    // has closed it (the adapter gives a socket back only when it is closed).
    ("tcp.cancel.connect", "sockets open after"),
    // A write after `close` reports `ConnectionReset`, not `BrokenPipe`.
    ("tcp.close.write_after_close", "got kind ConnectionReset"),
];

/// Cases that skip, with the capability: the adapter has no `Dns` and declares
/// no fixed pool.
const EXPECTED_SKIPS: [(&str, Capability); 8] = [
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
    let case = cases::all::<EmbassyNetHarness>()
        .into_iter()
        .find(|case| case.id == id)
        .unwrap_or_else(|| panic!("no case {id}"));
    (case.run)(&EmbassyNetHarness::default(), mode)
}

fn modes(id: &str) -> [Mode; 2] {
    [
        Mode::Plain,
        Mode::Adversarial {
            seed: default_seed(id),
        },
    ]
}

fn expected_passes() -> Vec<&'static str> {
    cases::all::<EmbassyNetHarness>()
        .into_iter()
        .map(|case| case.id)
        .filter(|id| !EXPECTED_FAILURES.iter().any(|(f, _)| f == id))
        .filter(|id| !EXPECTED_SKIPS.iter().any(|(s, _)| s == id))
        .collect()
}

#[test]
fn the_lists_name_real_cases() {
    let ids: Vec<_> = cases::all::<EmbassyNetHarness>()
        .into_iter()
        .map(|c| c.id)
        .collect();
    for (id, _) in EXPECTED_FAILURES {
        assert!(ids.contains(&id), "unknown case {id}");
    }
    for (id, _) in EXPECTED_SKIPS {
        assert!(ids.contains(&id), "unknown case {id}");
    }
    assert_eq!(expected_passes().len(), 58);
}

#[test]
fn skips_name_their_capability() {
    let mut unexpected = Vec::new();
    for (id, capability) in EXPECTED_SKIPS {
        for mode in modes(id) {
            match run(id, mode) {
                Outcome::Skip(c) if c == capability => {}
                other => unexpected.push(format!("{id} ({mode:?}): {other:?}")),
            }
        }
    }
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}

#[test]
fn passing_cases_pass_plainly_and_adversarially() {
    let mut unexpected = Vec::new();
    for id in expected_passes() {
        for mode in modes(id) {
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
        for mode in modes(id) {
            match run(id, mode) {
                Outcome::Fail(detail) if format!("{detail}").contains(reason) => {}
                other => unexpected.push(format!(
                    "{id} ({mode:?}): expected a failure with {reason:?}, got {other:?}"
                )),
            }
        }
    }
    assert!(unexpected.is_empty(), "{unexpected:#?}");
}
