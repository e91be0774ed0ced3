//! The suite on a foreign stack: edge-nal-std (edge-net's host implementation of
//! the edge-nal traits) through portnet-embedded's `PortnetEdge` adapter, with
//! the tokio backend as peer.
//!
//! As in `std_embedded_nal.rs`, this file pins the **exact** outcome of every
//! case in both modes: each case below must end as written (a failure for its
//! reason, a skip naming its capability), and every other case must pass. A
//! change in either direction fails the test, and the table and
//! `docs/conformance.md` are updated.

use portnet_conformance::report::run_backend;
use portnet_conformance::{Capability, Outcome, cases};
use portnet_conformance_runner::hosted::EdgeNalStdHarness;

/// What a case that does not pass ends as.
enum Expected {
    /// A failure whose reason contains the text.
    Fail(&'static str),
    /// A skip naming the capability.
    Skip(Capability),
    /// A pass, or a failure whose reason contains the text: the outcome depends
    /// on the machine, not on the stack.
    HostDependent(&'static str),
}

use Expected::{Fail, HostDependent, Skip};

/// Every case that does not pass, in both modes alike.
const NOT_PASSING: [(&str, Expected); 35] = [
    // edge-nal-std's `TcpShutdown::abort` does nothing: the drop closes
    // gracefully, and the peer reads EOF.
    ("tcp.reset.abort_sends_rst", Fail("got success (0)")),
    // edge-nal-std answers `localhost` from the system resolver alone
    // (`to_socket_addrs`, filtered by family). Where the hosts file has no
    // `::1 localhost` line (this CI's machines), it finds no IPv6 address; the
    // portnet OS backends answer `localhost` themselves, with both loopbacks.
    (
        "dns.resolve_all.order",
        HostDependent("failed with kind AddrNotAvailable"),
    ),
    // The adapter has no listening side.
    ("tcp.listen.ephemeral_port", Skip(Capability::TcpListen)),
    ("tcp.listen.addr_in_use", Skip(Capability::TcpListen)),
    ("tcp.listen.drop_frees_port", Skip(Capability::TcpListen)),
    ("tcp.accept.order_serial", Skip(Capability::TcpListen)),
    ("tcp.accept.order_backlog", Skip(Capability::TcpListen)),
    ("tcp.accept.pool", Skip(Capability::TcpListen)),
    ("tcp.addresses", Skip(Capability::TcpListen)),
    ("tcp.cancel.accept", Skip(Capability::TcpListen)),
    ("tcp.listen.backlog", Skip(Capability::TcpListen)),
    ("tcp.listen.addr_not_available", Skip(Capability::TcpListen)),
    ("tcp.accept.concurrent", Skip(Capability::TcpListen)),
    ("options.listener.read_back", Skip(Capability::TcpListen)),
    // Nor a UDP side.
    ("udp.bind.ephemeral_port", Skip(Capability::Udp)),
    ("udp.bind.addr_in_use", Skip(Capability::Udp)),
    ("udp.sender_address", Skip(Capability::Udp)),
    ("udp.boundaries", Skip(Capability::Udp)),
    ("udp.empty_datagram", Skip(Capability::Udp)),
    ("udp.truncate", Skip(Capability::Udp)),
    ("udp.connected_filter", Skip(Capability::Udp)),
    ("udp.unreachable_port", Skip(Capability::Udp)),
    ("udp.cancel.recv", Skip(Capability::Udp)),
    ("udp.connected.send_recv", Skip(Capability::Udp)),
    ("udp.connected.not_connected", Skip(Capability::Udp)),
    ("udp.connected.bind_connected", Skip(Capability::Udp)),
    ("udp.connected.refused_once", Skip(Capability::Udp)),
    ("udp.send.too_large", Skip(Capability::Udp)),
    ("udp.bind.drop_frees_port", Skip(Capability::Udp)),
    ("udp.bind.pool_exhausted", Skip(Capability::Udp)),
    ("options.udp.read_back", Skip(Capability::Udp)),
    ("options.set_only", Skip(Capability::Udp)),
    // The harness declares no fixed pool, and cannot play or silence the
    // system resolver's servers.
    ("tcp.connect.pool_exhausted", Skip(Capability::SocketPool)),
    ("dns.resolve.no_such_name", Skip(Capability::DnsServer)),
    ("dns.resolve.no_answer", Skip(Capability::DnsSilent)),
];

#[test]
fn every_case_ends_as_pinned_in_both_modes() {
    let ids: Vec<_> = cases::all::<EdgeNalStdHarness>()
        .into_iter()
        .map(|c| c.id)
        .collect();
    for (id, _) in &NOT_PASSING {
        assert!(ids.contains(id), "unknown case {id}");
    }
    let rows = run_backend::<EdgeNalStdHarness>("edge-nal-std", "");
    assert_eq!(rows.len(), 2 * cases::COUNT);
    let mut unexpected = Vec::new();
    for row in &rows {
        let expected = NOT_PASSING.iter().find(|(id, _)| *id == row.case);
        let as_pinned = match (expected, &row.outcome) {
            (Some((_, Fail(reason))), Outcome::Fail(detail)) => {
                format!("{detail}").contains(reason)
            }
            (Some((_, Skip(capability))), Outcome::Skip(c)) => c == capability,
            (Some((_, HostDependent(_))), Outcome::Pass) => true,
            (Some((_, HostDependent(reason))), Outcome::Fail(detail)) => {
                format!("{detail}").contains(reason)
            }
            (None, Outcome::Pass) => true,
            _ => false,
        };
        if !as_pinned {
            unexpected.push(format!("{} on {}: {}", row.case, row.backend, row.detail()));
        }
    }
    assert!(
        unexpected.is_empty(),
        "cases that no longer end as pinned: {unexpected:#?}"
    );
    let passing = ids.len() - NOT_PASSING.len();
    assert_eq!(passing, 39, "the passing count in docs/conformance.md");
}
