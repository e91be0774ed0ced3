//! The suite on a foreign stack: edge-nal-std (edge-net's host implementation of
//! the edge-nal traits) through portnet-embedded's `PortnetEdge` adapter, with
//! the tokio backend as peer.
//!
//! As the other foreign rows' tests do (on `pinned/mod.rs`), this file pins the **exact** outcome of every
//! case in both modes: each case below must end as written (a failure for its
//! reason, a skip naming its capability), and every other case must pass. A
//! change in either direction fails the test, and the table and
//! `docs/conformance.md` are updated.

mod pinned;

use pinned::Expected::{self, Fail, HostDependent, Skip};
use portnet_conformance::Capability;
use portnet_conformance_runner::hosted::EdgeNalStdHarness;

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
    pinned::check::<EdgeNalStdHarness>("edge-nal-std", &NOT_PASSING, 39);
}
