//! The suite on a foreign stack: embassy-net, driven through its
//! embassy-net-driver on the in-memory link, with portnet's smoltcp backend as
//! peer, in virtual time (`portnet_conformance_runner::embassy`, over the
//! adapter crate `portnet-embassy-net`).
//!
//! embassy-net does not keep every contract (see `docs/backends/embassy-net.md`,
//! "Conformance"), so this file pins the **exact** outcome of every case in both
//! modes (the scaffolding is `pinned/mod.rs`): each case below must end as
//! written, and every other case must pass.

mod pinned;

use pinned::Expected::{self, Fail, Skip};
use portnet_conformance::Capability;
use portnet_conformance_runner::embassy::EmbassyNetHarness;

/// Every case that does not pass, in both modes alike.
const NOT_PASSING: [(&str, Expected); 16] = [
    // smoltcp lets any number of sockets listen on one port (that is how an
    // embassy-net server accepts several connections), and embassy-net keeps no
    // table of ports: a second listener on a port succeeds.
    ("tcp.listen.addr_in_use", Fail("got success")),
    // The same for UDP: a second socket binds a bound port.
    ("udp.bind.addr_in_use", Fail("got success")),
    // embassy-net reports an unspecified address or port 0 as `NoRoute`.
    ("tcp.connect.invalid_remote", Fail("Connect(NoRoute)")),
    // `TcpSocket::write(&[])` waits for buffer space that an empty write never
    // needs: it stays Pending (embedded-io-async asks for `Ok(0)` at once).
    (
        "tcp.stream.zero_length",
        Fail("write of an empty buffer gave Pending"),
    ),
    // embassy-net listens on any address it is given: smoltcp's listen endpoint
    // does not check that the address is the interface's.
    ("tcp.listen.addr_not_available", Fail("got success")),
    // Several sockets in `TcpSocket::accept` at once: a connection is woken on
    // the socket that took the SYN, and the adapter's accept futures lose track.
    ("tcp.accept.concurrent", Fail("no result within")),
    // A cancelled connect's socket lingers in the adapter's pool until smoltcp
    // has closed it (the adapter gives a socket back only when it is closed).
    ("tcp.cancel.connect", Fail("sockets open after")),
    // A write after `close` reports `ConnectionReset`, not `BrokenPipe`.
    (
        "tcp.close.write_after_close",
        Fail("got kind ConnectionReset"),
    ),
    // The adapter has no `Dns` and declares no fixed pool.
    ("tcp.connect.pool_exhausted", Skip(Capability::SocketPool)),
    ("udp.bind.pool_exhausted", Skip(Capability::SocketPool)),
    ("dns.resolve.literal", Skip(Capability::Dns)),
    ("dns.resolve.invalid_name", Skip(Capability::Dns)),
    ("dns.resolve.no_answer", Skip(Capability::Dns)),
    ("dns.resolve.no_such_name", Skip(Capability::Dns)),
    ("dns.resolve_all.order", Skip(Capability::Dns)),
    ("dns.resolve_all.empty_out", Skip(Capability::Dns)),
];

#[test]
fn every_case_ends_as_pinned_in_both_modes() {
    pinned::check::<EmbassyNetHarness>("embassy-net", &NOT_PASSING, 58);
}
