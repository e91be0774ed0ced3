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
const NOT_PASSING: [(&str, Expected); 10] = [
    // edge-nal-std's `TcpShutdown::abort` does nothing: the drop closes
    // gracefully, and the peer reads EOF.
    ("tcp.reset.abort_sends_rst", Fail("got success (0)")),
    // edge-nal has no way to ask a socket for its local address: the adapter
    // answers `Unsupported`.
    (
        "tcp.addresses",
        Fail("local_addr: error of kind Unsupported"),
    ),
    // edge-nal asks `UdpReceive::receive` for the full length of a truncated
    // datagram; edge-nal-std passes on what the host's `recv_from` returns, the
    // truncated length.
    (
        "udp.truncate",
        Fail("a 100-byte datagram into a 10-byte buffer reported 10 bytes, expected 100"),
    ),
    (
        "udp.connected.send_recv",
        Fail("recv of a 40-byte datagram into 8 bytes reported 8, expected 40"),
    ),
    // The host's EMSGSIZE has no `std::io::ErrorKind` of its own
    // (`Uncategorized`), so it reaches embedded-io, and portnet, as `Other`.
    (
        "udp.send.too_large",
        Fail("got kind Other (Stack(Os { code: 90"),
    ),
    // edge-nal-std answers `localhost` from the system resolver alone
    // (`to_socket_addrs`, filtered by family). Where the hosts file has no
    // `::1 localhost` line (this CI's machines), it finds no IPv6 address; the
    // portnet OS backends answer `localhost` themselves, with both loopbacks.
    (
        "dns.resolve_all.order",
        HostDependent("failed with kind AddrNotAvailable"),
    ),
    // The harness declares no fixed pools, and cannot play or silence the
    // system resolver's servers.
    ("tcp.connect.pool_exhausted", Skip(Capability::SocketPool)),
    ("udp.bind.pool_exhausted", Skip(Capability::SocketPool)),
    ("dns.resolve.no_such_name", Skip(Capability::DnsServer)),
    ("dns.resolve.no_answer", Skip(Capability::DnsSilent)),
];

#[test]
fn every_case_ends_as_pinned_in_both_modes() {
    pinned::check::<EdgeNalStdHarness>("edge-nal-std", &NOT_PASSING, 64);
}
