//! The cases, each a function `async fn(&H) -> CaseResult` with its rule in its
//! doc comment, and [`all`], the table of every case with its stable id.
//!
//! Ids are stable: a case that changes its rule gets a new id.

use crate::run::{Mode, run_adversarial, run_plain};
use crate::{Case, Harness, Outcome};

pub mod clock;
pub mod dns;
pub mod options;
pub mod tcp;
pub mod udp;

macro_rules! case_table {
    ($d:tt $( $name:ident $id:literal $path:path => $rule:literal ; )*) => {
        /// How many cases the suite has.
        pub const COUNT: usize = [$( $id ),*].len();

        /// The rule of the case with id `id`.
        pub fn rule(id: &str) -> Option<&'static str> {
            match id {
                $( $id => Some($rule), )*
                _ => None,
            }
        }

        /// Every case, in the suite's order.
        pub fn all<H: Harness>() -> [Case<H>; COUNT] {
            // Part 0 of 1 holds every case.
            part::<H, 0, 1>().map(|case| case.unwrap_or_else(|| unreachable!("part 0 of 1 is whole")))
        }

        /// The ids of every case, in the suite's order.
        const IDS: [&str; COUNT] = [$( $id ),*];

        /// The cases of part `PART` of `PARTS` (every `PARTS`-th case of the
        /// suite's order, from the `PART`-th), each in its place; `None` for the
        /// others. Which cases a part holds is settled at compile time, so a
        /// program that runs one part links only that part's cases: firmware
        /// whose flash cannot hold the whole suite runs it as `PARTS` images
        /// (the micro:bit's row). A `PART` not below `PARTS` holds none.
        pub fn part<H: Harness, const PART: usize, const PARTS: usize>() -> [Option<Case<H>>; COUNT] {
            [$(
                if const { in_part($id, PART, PARTS) } {
                    Some(Case {
                        id: $id,
                        rule: $rule,
                        run: |h: &H, mode: Mode| -> Outcome {
                            match mode {
                                Mode::Plain => run_plain(h, $path(h)),
                                Mode::Adversarial { seed } => {
                                    let rng = crate::run::chaos_rng(seed);
                                    let chaos = crate::run::chaos_harness(h, &rng);
                                    run_adversarial(h, $path(&chaos))
                                }
                            }
                        },
                    })
                } else {
                    None
                },
            )*]
        }

        #[doc(hidden)]
        #[macro_export]
        macro_rules! __with_cases {
            ($d callback:path, $d harness:ty, $d make:expr) => {
                $d callback!($d harness, $d make; $( $name $id )*);
            };
        }
    };
}

case_table! { $
    tcp_listen_ephemeral_port "tcp.listen.ephemeral_port" tcp::listen_ephemeral_port
        => "Listening on port 0 binds a free port, reports it, and accepts on it.";
    tcp_listen_addr_in_use "tcp.listen.addr_in_use" tcp::listen_addr_in_use
        => "Listening on a port already listened on fails with AddrInUse.";
    tcp_listen_drop_frees_port "tcp.listen.drop_frees_port" tcp::listen_drop_frees_port
        => "Dropping a listener frees its port for a new listener at once.";
    tcp_connect_refused "tcp.connect.refused" tcp::connect_refused
        => "Connecting to a port nobody listens on fails promptly with ConnectionRefused.";
    tcp_connect_invalid_remote "tcp.connect.invalid_remote" tcp::connect_invalid_remote
        => "Connecting to an unspecified address or to port 0 fails with InvalidInput.";
    tcp_connect_timeout "tcp.connect.timeout" tcp::connect_timeout
        => "A connect to a black hole stays pending (or fails with TimedOut) and can be cut short by a timeout.";
    tcp_accept_order_serial "tcp.accept.order_serial" tcp::accept_order_serial
        => "Connections accepted one at a time come in the order they were made.";
    tcp_accept_order_backlog "tcp.accept.order_backlog" tcp::accept_order_backlog
        => "Connections completed before any accept are accepted in the order they completed.";
    tcp_accept_pool "tcp.accept.pool" tcp::accept_pool
        => "A listener holds its pool of N connections open at once, all served.";
    tcp_addresses "tcp.addresses" tcp::addresses
        => "local_addr and peer_addr of both ends agree, and accept reports the peer.";
    tcp_echo_ipv4 "tcp.echo.ipv4" tcp::echo_ipv4
        => "Bytes sent over IPv4 come back intact from an echo served by the stack.";
    tcp_echo_ipv6 "tcp.echo.ipv6" tcp::echo_ipv6
        => "Bytes sent over IPv6 come back intact from an echo served by the stack.";
    tcp_stream_bulk "tcp.stream.bulk" tcp::stream_bulk
        => "A large patterned transfer each way in varied chunk sizes arrives with no byte lost, duplicated or reordered.";
    tcp_stream_partial_read "tcp.stream.partial_read" tcp::stream_partial_read
        => "A read returns as soon as some bytes are there, without waiting to fill the buffer.";
    tcp_stream_zero_length "tcp.stream.zero_length" tcp::stream_zero_length
        => "Reading into or writing from an empty buffer returns 0 at once and is not EOF.";
    tcp_stream_backpressure "tcp.stream.backpressure" tcp::stream_backpressure
        => "A writer whose peer does not read eventually gets Pending, and nothing is lost once the peer reads.";
    tcp_stream_eof_sticky "tcp.stream.eof_sticky" tcp::stream_eof_sticky
        => "After the peer's FIN every read returns 0.";
    tcp_close_half_close_local "tcp.close.half_close_local" tcp::close_half_close_local
        => "After the stack closes its write half it still reads what the peer sends.";
    tcp_close_half_close_remote "tcp.close.half_close_remote" tcp::close_half_close_remote
        => "After the peer closes its write half the stack sees EOF and can still send.";
    tcp_close_delivers_all_data "tcp.close.delivers_all_data" tcp::close_delivers_all_data
        => "Data written right before close and drop reaches the peer in full, then EOF.";
    tcp_close_simultaneous "tcp.close.simultaneous" tcp::close_simultaneous
        => "Both ends closing at the same time each see EOF, without errors.";
    tcp_reset_write_after_peer_reset "tcp.reset.write_after_peer_reset" tcp::reset_write_after_peer_reset
        => "Writing after the peer reset fails with ConnectionReset or BrokenPipe, never hangs.";
    tcp_reset_read_after_peer_reset "tcp.reset.read_after_peer_reset" tcp::reset_read_after_peer_reset
        => "Data sent before a reset is readable where TCP allows, then reads fail with ConnectionReset (or EOF).";
    tcp_reset_abort_sends_rst "tcp.reset.abort_sends_rst" tcp::reset_abort_sends_rst
        => "abort makes the peer's read fail with ConnectionReset.";
    tcp_resources_no_leak "tcp.resources.no_leak" tcp::resources_no_leak
        => "Many connect/exchange/close cycles leave no socket behind and the stack still connects.";
    tcp_cancel_read "tcp.cancel.read" tcp::cancel_read
        => "Dropping a pending read loses no data: the next read gets every byte.";
    tcp_cancel_accept "tcp.cancel.accept" tcp::cancel_accept
        => "Dropping a pending accept loses no connection: the next accept gets it.";
    tcp_wake_split_halves "tcp.wake.split_halves" tcp::wake_split_halves
        => "Split halves polled from two tasks each get their own wake-up; none is lost.";
    tcp_wake_latest_waker "tcp.wake.latest_waker" tcp::wake_latest_waker
        => "When a read is polled with a new waker, the new waker is the one woken.";
    tcp_wake_no_spurious "tcp.wake.no_spurious" tcp::wake_no_spurious
        => "An idle connection does not wake its reader (no busy loop).";
    tcp_wake_write_latest_waker "tcp.wake.write_latest_waker" tcp::wake_write_latest_waker
        => "When a pending write is polled with a new waker, the new waker is the one woken.";
    tcp_timeout_read "tcp.timeout.read" tcp::timeout_read
        => "A read on a quiet socket is cut by a clock timeout, and the connection stays usable.";
    tcp_listen_backlog "tcp.listen.backlog" tcp::listen_backlog
        => "A listener with a backlog of N queues N connections completed while no accept is pending, refusing none, in order.";
    tcp_listen_addr_not_available "tcp.listen.addr_not_available" tcp::listen_addr_not_available
        => "Listening on an address that is not the stack's fails with AddrNotAvailable.";
    tcp_accept_concurrent "tcp.accept.concurrent" tcp::accept_concurrent
        => "Several accepts pending at once on one listener each get exactly one connection, and none is lost while the others wait.";
    tcp_connect_pool_exhausted "tcp.connect.pool_exhausted" tcp::connect_pool_exhausted
        => "Connecting with every socket of the pool in use fails promptly with OutOfResources, and an aborted connection frees its socket.";
    tcp_cancel_connect "tcp.cancel.connect" tcp::cancel_connect
        => "Dropping a pending connect releases its socket.";
    tcp_close_write_after_close "tcp.close.write_after_close" tcp::close_write_after_close
        => "Writing after the local close fails with BrokenPipe or NotConnected.";
    tcp_close_idempotent "tcp.close.idempotent" tcp::close_idempotent
        => "Closing again after a successful close succeeds, before and after the peer's FIN.";
    tcp_cancel_write "tcp.cancel.write" tcp::cancel_write
        => "A poll_write that returned Pending took no byte.";
    tcp_close_split_write_half "tcp.close.split_write_half" tcp::close_split_write_half
        => "Closing the write half of a split connection sends the FIN after every byte written, and the read half keeps reading.";
    tcp_close_after_peer_reset "tcp.close.after_peer_reset" tcp::close_after_peer_reset
        => "Closing a connection the peer reset completes at once, with Ok or ConnectionReset, BrokenPipe or NotConnected.";
    udp_bind_ephemeral_port "udp.bind.ephemeral_port" udp::bind_ephemeral_port
        => "Binding UDP port 0 picks a free port and reports it.";
    udp_bind_addr_in_use "udp.bind.addr_in_use" udp::bind_addr_in_use
        => "Binding a UDP port already bound fails with AddrInUse.";
    udp_sender_address "udp.sender_address" udp::sender_address
        => "recv_from reports the sender's address and port.";
    udp_boundaries "udp.boundaries" udp::boundaries
        => "Each datagram is received whole and alone, whatever the sizes.";
    udp_empty_datagram "udp.empty_datagram" udp::empty_datagram
        => "An empty datagram is delivered as a datagram of length 0.";
    udp_truncate "udp.truncate" udp::truncate
        => "A datagram larger than the buffer fills it, reports its full length, and the rest is discarded.";
    udp_connected_filter "udp.connected_filter" udp::connected_filter
        => "A connected UDP socket receives only from its peer.";
    udp_unreachable_port "udp.unreachable_port" udp::unreachable_port
        => "Sending to a closed port never panics or hangs; a later receive fails with ConnectionRefused or stays quiet.";
    udp_cancel_recv "udp.cancel.recv" udp::cancel_recv
        => "Dropping a pending recv_from loses no datagram.";
    udp_connected_send_recv "udp.connected.send_recv" udp::connected_send_recv
        => "A connected socket's send reaches its peer and recv returns the peer's datagrams with their full length.";
    udp_connected_not_connected "udp.connected.not_connected" udp::connected_not_connected
        => "send and recv on a socket that is not connected fail at once with NotConnected.";
    udp_connected_bind_connected "udp.connected.bind_connected" udp::connected_bind_connected
        => "bind_connected gives a socket on an ephemeral port connected to the remote, that send and recv use.";
    udp_connected_refused_once "udp.connected.refused_once" udp::connected_refused_once
        => "A connected socket reports an ICMP port unreachable as ConnectionRefused once, or never.";
    udp_send_too_large "udp.send.too_large" udp::send_too_large
        => "Sending a datagram larger than the stack can send fails with InvalidInput, and the socket stays usable.";
    udp_bind_drop_frees_port "udp.bind.drop_frees_port" udp::bind_drop_frees_port
        => "Dropping a UDP socket frees its port for a new bind at once.";
    udp_bind_pool_exhausted "udp.bind.pool_exhausted" udp::bind_pool_exhausted
        => "Binding with every UDP socket of the pool in use fails with OutOfResources, and dropping one frees it.";
    dns_resolve_literal "dns.resolve.literal" dns::resolve_literal
        => "An IP address literal resolves to itself through resolve and resolve_all.";
    dns_resolve_invalid_name "dns.resolve.invalid_name" dns::resolve_invalid_name
        => "A name that breaks RFC 1123 fails with InvalidInput.";
    dns_resolve_no_such_name "dns.resolve.no_such_name" dns::resolve_no_such_name
        => "A name the servers answer without an address (NXDOMAIN, or no record of the family) fails with NameNotResolved.";
    dns_resolve_no_answer "dns.resolve.no_answer" dns::resolve_no_answer
        => "resolve_all of a name no server answers fails with TimedOut, not NameNotResolved, within 25 s.";
    dns_resolve_all_order "dns.resolve_all.order" dns::resolve_all_order
        => "resolve_all puts IPv4 before IPv6, keeps to the family asked, and resolve gives its first address.";
    dns_resolve_all_empty_out "dns.resolve_all.empty_out" dns::resolve_all_empty_out
        => "resolve_all into an empty buffer fails with InvalidInput.";
    options_tcp_read_back "options.tcp.read_back" options::tcp_read_back
        => "A connection's option that was set reads back as set, and one the stack lacks fails with Unsupported.";
    options_listener_read_back "options.listener.read_back" options::listener_read_back
        => "A listener's option that was set reads back as set, and one the stack lacks fails with Unsupported.";
    options_udp_read_back "options.udp.read_back" options::udp_read_back
        => "A UDP socket's option that was set reads back as set, and one the stack lacks fails with Unsupported.";
    options_invalid_value "options.invalid_value" options::invalid_value
        => "An option value out of range fails with InvalidInput (or Unsupported).";
    options_set_only "options.set_only" options::set_only
        => "Reading a set-only option fails with Unsupported.";
    options_wrong_kind "options.wrong_kind" options::wrong_kind
        => "An option of another kind of socket fails with Unsupported, to set and to read.";
    clock_sleep "clock.sleep" clock::sleep
        => "sleep lasts at least its duration on the clock, and the clock never goes back.";
    clock_no_early_wake "clock.no_early_wake" clock::no_early_wake
        => "A pending sleep does not wake its task before its deadline.";
    clock_past_deadline "clock.past_deadline" clock::past_deadline
        => "A sleep until a deadline already past completes on its first poll.";
    clock_monotonic "clock.monotonic" clock::monotonic
        => "now never goes back.";
}

/// Whether the case `id` is in part `part` of `parts` (see [`part`]).
const fn in_part(id: &str, part: usize, parts: usize) -> bool {
    if parts == 0 {
        return false;
    }
    let mut i = 0;
    while i < COUNT {
        if same(IDS[i].as_bytes(), id.as_bytes()) {
            return i % parts == part;
        }
        i += 1;
    }
    false
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}
