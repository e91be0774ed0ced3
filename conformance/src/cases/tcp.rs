//! TCP cases: listen, connect, accept, streams, close, reset, resources,
//! cancellation and wake-ups.

use core::future::{Future, poll_fn};
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use portnet::future::join;
use portnet::{
    Clock, Error, ErrorKind, ListenOptions, Read, ReadExt, TcpConnect, TcpListen, TcpListener,
    TcpStream, Write, WriteExt,
};

use crate::peers::{echo_client, receive_pattern, send_pattern, serve_echo};
use crate::probe::WakeProbe;
use crate::support::{
    Check, PROMPT, both, connect_accept, expect_error, fill_pattern, ips, need, peer_listener,
    peer_to_stack, prompt, stack_listener, stack_to_peer, within,
};
use crate::{Capability, CaseResult, Detail, Family, Harness, Outcome, ensure, fail};

const V4: Family = Family::V4;

/// Most connections a pool case holds at once.
const MAX_POOL: usize = 8;

/// Case `tcp.listen.ephemeral_port`: listening on port 0 binds a free port, reports
/// it, and accepts on it.
pub async fn listen_ephemeral_port<H: Harness>(h: &H) -> CaseResult {
    let (conn, peer_conn, listener) = peer_to_stack(h, V4).await?;
    let local = listener.local_addr().check("listener address")?;
    ensure!(
        local.port() != 0,
        "listener reports port 0 after binding port 0"
    );
    let peer_side = peer_conn.peer_addr().check("peer's peer_addr")?;
    ensure!(
        peer_side.port() == local.port(),
        "peer reached port {} not {}",
        peer_side.port(),
        local.port()
    );
    drop(conn);
    Ok(())
}

/// Case `tcp.listen.addr_in_use`: listening on a port already listened on fails with
/// `AddrInUse`.
pub async fn listen_addr_in_use<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.listener(), Capability::TcpListen)?;
    let (_first, addr) = stack_listener(h, V4).await?;
    expect_error(
        stack.listen(addr).await.map(|_| ()),
        &[ErrorKind::AddrInUse],
        "second listen",
    )
}

/// Case `tcp.listen.drop_frees_port`: dropping a listener frees its port for a new
/// listener at once.
pub async fn listen_drop_frees_port<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.listener(), Capability::TcpListen)?;
    let (first, addr) = stack_listener(h, V4).await?;
    drop(first);
    let second = stack
        .listen(addr)
        .await
        .check("listen again on the freed port")?;
    connect_accept(h, h.peer(), &second, addr).await?;
    Ok(())
}

/// An address of the peer where nobody listens: a port the peer bound and freed.
async fn closed_peer_port<H: Harness>(h: &H, family: Family) -> Result<SocketAddr, Outcome> {
    let addr = peer_listener(h, family).await?.1;
    // A peer behind a link (the remote peer of firmware) drops a listener
    // asynchronously but serves requests in order: once a later request is
    // answered, the dropped listener is gone.
    peer_listener(h, family).await?;
    Ok(addr)
}

/// Case `tcp.connect.refused`: connecting to a port nobody listens on fails promptly
/// with `ConnectionRefused`.
pub async fn connect_refused<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.connector(), Capability::TcpConnect)?;
    let addr = closed_peer_port(h, V4).await?;
    let result = within(h, PROMPT, "connect to a closed port", stack.connect(addr)).await?;
    expect_error(
        result.map(|_| ()),
        &[ErrorKind::ConnectionRefused],
        "connect to a closed port",
    )
}

/// Case `tcp.connect.invalid_remote`: connecting to an unspecified address or to
/// port 0 fails with `InvalidInput`.
pub async fn connect_invalid_remote<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.connector(), Capability::TcpConnect)?;
    let (_, peer_ip) = ips(h, V4)?;
    let unspecified = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 80);
    let result = within(h, PROMPT, "connect to 0.0.0.0", stack.connect(unspecified)).await?;
    expect_error(
        result.map(|_| ()),
        &[ErrorKind::InvalidInput],
        "connect to 0.0.0.0:80",
    )?;
    let port_zero = SocketAddr::new(peer_ip, 0);
    let result = within(h, PROMPT, "connect to port 0", stack.connect(port_zero)).await?;
    expect_error(
        result.map(|_| ()),
        &[ErrorKind::InvalidInput],
        "connect to port 0",
    )
}

/// Case `tcp.connect.timeout`: a connect to a black hole stays pending (or fails
/// with `TimedOut`) and a clock timeout cuts it short.
pub async fn connect_timeout<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.connector(), Capability::TcpConnect)?;
    let black_hole = need(h.black_hole(), Capability::BlackHole)?;
    let limit = Duration::from_millis(500);
    let start = h.clock().now();
    match portnet::time::timeout(h.clock(), limit, stack.connect(black_hole)).await {
        Err(_elapsed) => {
            let waited = h.clock().now() - start;
            ensure!(
                waited >= limit,
                "the timeout fired after {waited:?}, before {limit:?}"
            );
            Ok(())
        }
        Ok(result) => expect_error(
            result.map(|_| ()),
            &[ErrorKind::TimedOut],
            "connect to a black hole",
        ),
    }
}

async fn write_byte<C: TcpStream>(conn: &mut C, byte: u8) -> CaseResult {
    conn.write_all(&[byte]).await.check("write")?;
    conn.flush().await.check("flush")
}

async fn read_byte<H: Harness, C: TcpStream>(h: &H, conn: &mut C) -> Result<u8, Outcome> {
    let mut byte = [0u8];
    prompt(h, "read a byte", conn.read_exact(&mut byte)).await?;
    Ok(byte[0])
}

/// Case `tcp.accept.order_serial`: connections accepted one at a time come in the
/// order they were made.
pub async fn accept_order_serial<H: Harness>(h: &H) -> CaseResult {
    let (listener, addr) = stack_listener(h, V4).await?;
    for i in 0..3u8 {
        let mut peer_conn = prompt(h, "peer connect", h.peer().connect(addr)).await?;
        write_byte(&mut peer_conn, i).await?;
        let (mut conn, _) = prompt(h, "accept", listener.accept()).await?;
        let got = read_byte(h, &mut conn).await?;
        ensure!(got == i, "accept number {i} gave connection number {got}");
    }
    Ok(())
}

/// Case `tcp.accept.order_backlog`: connections completed before any accept are
/// accepted in the order they completed.
pub async fn accept_order_backlog<H: Harness>(h: &H) -> CaseResult {
    let (listener, addr) = stack_listener(h, V4).await?;
    let count = h.listen_pool().clamp(2, 3);
    let mut peers: [Option<<H::Peer as TcpConnect>::Connection<'_>>; 3] = [None, None, None];
    for (i, slot) in peers.iter_mut().enumerate().take(count) {
        let connect = h.peer().connect(addr);
        let mut peer_conn = prompt(h, "peer connect", connect).await?;
        write_byte(&mut peer_conn, i as u8).await?;
        *slot = Some(peer_conn);
    }
    for i in 0..count as u8 {
        let (mut conn, _) = prompt(h, "accept", listener.accept()).await?;
        let got = read_byte(h, &mut conn).await?;
        ensure!(got == i, "accept number {i} gave connection number {got}");
    }
    Ok(())
}

/// Case `tcp.accept.pool`: a listener holds its pool of N connections open at once,
/// all served, and keeps accepting once they close.
pub async fn accept_pool<H: Harness>(h: &H) -> CaseResult {
    let (listener, addr) = stack_listener(h, V4).await?;
    let n = h.listen_pool().clamp(1, MAX_POOL);
    let mut peers: [Option<<H::Peer as TcpConnect>::Connection<'_>>; MAX_POOL] = Default::default();
    let mut conns: [Option<<<H::Listen as TcpListen>::Listener<'_> as TcpListener>::Connection>;
        MAX_POOL] = Default::default();
    for i in 0..n {
        let (peer_conn, conn, _) = connect_accept(h, h.peer(), &listener, addr).await?;
        peers[i] = Some(peer_conn);
        conns[i] = Some(conn);
    }
    for i in 0..n {
        let (Some(peer_conn), Some(conn)) = (peers[i].as_mut(), conns[i].as_mut()) else {
            fail!("connection {i} missing");
        };
        write_byte(peer_conn, i as u8).await?;
        let got = read_byte(h, conn).await?;
        ensure!(
            got == i as u8,
            "connection {i} received {got}: streams mixed up"
        );
        write_byte(conn, 100 + i as u8).await?;
        let got = read_byte(h, peer_conn).await?;
        ensure!(
            got == 100 + i as u8,
            "connection {i} answered {got}: streams mixed up"
        );
    }
    for conn in conns.iter_mut().flatten() {
        prompt(h, "close", conn.close()).await?;
    }
    drop(conns);
    drop(peers);
    // The pool must refill: a new connection is accepted after the old ones closed.
    connect_accept(h, h.peer(), &listener, addr).await?;
    Ok(())
}

/// Case `tcp.addresses`: `local_addr` and `peer_addr` of both ends agree, and accept
/// reports the peer.
pub async fn addresses<H: Harness>(h: &H) -> CaseResult {
    let (listener, addr) = stack_listener(h, V4).await?;
    let (peer_conn, conn, reported) = connect_accept(h, h.peer(), &listener, addr).await?;
    let peer_local = peer_conn.local_addr().check("peer local_addr")?;
    ensure!(
        reported == peer_local,
        "accept reported {reported}, the peer is at {peer_local}"
    );
    let conn_peer = conn.peer_addr().check("peer_addr")?;
    ensure!(
        conn_peer == peer_local,
        "peer_addr says {conn_peer}, the peer is at {peer_local}"
    );
    let conn_local = conn.local_addr().check("local_addr")?;
    ensure!(
        conn_local == addr,
        "local_addr says {conn_local}, the listener is at {addr}"
    );
    if let Some(connector) = h.connector() {
        let (listener, peer_addr) = peer_listener(h, V4).await?;
        let (conn, _, seen) = connect_accept(h, connector, &listener, peer_addr).await?;
        ensure!(
            conn.peer_addr().check("peer_addr")? == peer_addr,
            "peer_addr differs from the address connected to"
        );
        let local = conn.local_addr().check("local_addr")?;
        ensure!(
            local == seen,
            "local_addr says {local}, the peer saw {seen}"
        );
        ensure!(local.port() != 0, "local_addr has port 0");
    }
    Ok(())
}

async fn echo<H: Harness>(h: &H, family: Family) -> CaseResult {
    let len = 64 * 1024;
    if h.listener().is_some() {
        let (mut conn, mut peer_conn, _listener) = peer_to_stack(h, family).await?;
        both(
            serve_echo(&mut conn),
            echo_client(&mut peer_conn, len, 1000),
        )
        .await
    } else {
        let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, family).await?;
        both(
            serve_echo(&mut peer_conn),
            echo_client(&mut conn, len, 1000),
        )
        .await
    }
}

/// Case `tcp.echo.ipv4`: bytes sent over IPv4 come back intact from an echo served
/// by the stack (or by the peer, for a stack that cannot listen).
pub async fn echo_ipv4<H: Harness>(h: &H) -> CaseResult {
    echo(h, Family::V4).await
}

/// Case `tcp.echo.ipv6`: as `tcp.echo.ipv4`, over IPv6.
pub async fn echo_ipv6<H: Harness>(h: &H) -> CaseResult {
    echo(h, Family::V6).await
}

/// Case `tcp.stream.bulk`: a large patterned transfer each way at once, in varied
/// chunk sizes, arrives with no byte lost, duplicated or reordered.
pub async fn stream_bulk<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let len = h.bulk_bytes();
    let (mut reader, mut writer) = conn.split();
    let (mut peer_reader, mut peer_writer) = peer_conn.split();
    let up = both(
        send_pattern(&mut writer, len, "stack send"),
        receive_pattern(&mut peer_reader, len, "peer receive"),
    );
    let down = both(
        send_pattern(&mut peer_writer, len, "peer send"),
        receive_pattern(&mut reader, len, "stack receive"),
    );
    both(up, down).await
}

/// Case `tcp.stream.partial_read`: a read returns as soon as some bytes are there,
/// without waiting to fill the buffer.
pub async fn stream_partial_read<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    peer_conn
        .write_all(b"0123456789")
        .await
        .check("peer write")?;
    peer_conn.flush().await.check("peer flush")?;
    let mut buf = [0u8; 1000];
    let mut got = 0;
    while got < 10 {
        let n = prompt(h, "read", conn.read(&mut buf[got..])).await?;
        ensure!(n > 0, "EOF after {got} bytes on an open connection");
        got += n;
    }
    ensure!(&buf[..10] == b"0123456789", "read returned the wrong bytes");
    Ok(())
}

fn poll_once<F: Future + Unpin>(future: &mut F) -> Poll<F::Output> {
    Pin::new(future).poll(&mut Context::from_waker(Waker::noop()))
}

/// Case `tcp.stream.zero_length`: reading into or writing from an empty buffer
/// returns 0 at once and is not EOF.
pub async fn stream_zero_length<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    match poll_once(&mut conn.read(&mut [])) {
        Poll::Ready(Ok(0)) => {}
        other => fail!("read into an empty buffer gave {other:?}, expected Ready(Ok(0))"),
    }
    match poll_once(&mut conn.write(&[])) {
        Poll::Ready(Ok(0)) => {}
        other => fail!("write of an empty buffer gave {other:?}, expected Ready(Ok(0))"),
    }
    peer_conn.write_all(b"x").await.check("peer write")?;
    let got = read_byte(h, &mut conn).await?;
    ensure!(got == b'x', "the stream is not intact after empty I/O");
    write_byte(&mut conn, b'y').await?;
    ensure!(
        read_byte(h, &mut peer_conn).await? == b'y',
        "the peer did not get the byte after empty I/O"
    );
    Ok(())
}

/// Writes the pattern from offset `start` until `poll_write` says `Pending` with
/// `probe`'s waker registered (a `Pending` that woke the probe at once was injected
/// by an adversarial wrapper and does not count); returns the new offset, or fails
/// after `limit` bytes without `Pending`.
fn fill_until_pending<W: Write + Unpin>(
    writer: &mut W,
    probe: &WakeProbe,
    start: usize,
    limit: usize,
) -> Result<usize, Outcome> {
    let mut buf = [0u8; 4096];
    let mut written = start;
    let waker = probe.waker();
    let mut cx = Context::from_waker(&waker);
    while written < start + limit {
        fill_pattern(&mut buf, written);
        probe.reset();
        match Pin::new(&mut *writer).poll_write(&mut cx, &buf) {
            Poll::Ready(Ok(0)) => fail!("write accepted 0 bytes"),
            Poll::Ready(Ok(n)) => written += n,
            Poll::Ready(Err(e)) => {
                fail!(
                    "write failed with kind {:?} while filling buffers",
                    portnet::Error::kind(&e)
                )
            }
            Poll::Pending if probe.wakes() == 0 => return Ok(written),
            Poll::Pending => {}
        }
    }
    fail!(
        "wrote {limit} bytes to a peer that does not read without ever getting Pending: unbounded buffering"
    )
}

const BACKPRESSURE_LIMIT: usize = 64 << 20;

/// Case `tcp.stream.backpressure`: a writer whose peer does not read eventually gets
/// `Pending`, and nothing is lost once the peer reads.
pub async fn stream_backpressure<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let [writer_task] = probes::<1>()?;
    // Pending once, then again after the stack had time to move what it buffered:
    // a stack that only defers unbounded buffering would accept more.
    let mut written = fill_until_pending(&mut conn, &writer_task, 0, BACKPRESSURE_LIMIT)?;
    h.clock().sleep(Duration::from_millis(50)).await;
    written = fill_until_pending(&mut conn, &writer_task, written, BACKPRESSURE_LIMIT)?;
    let (closed, received) = join(
        pin!(async { conn.close().await.check("close after the peer drained") }),
        pin!(async {
            receive_pattern(&mut peer_conn, written, "peer drain").await?;
            let mut extra = [0u8; 16];
            let n = prompt(h, "read EOF", peer_conn.read(&mut extra)).await?;
            ensure!(n == 0, "{n} bytes more than were accepted arrived");
            Ok(())
        }),
    )
    .await;
    closed.and(received)
}

/// Case `tcp.stream.eof_sticky`: after the peer's FIN every read returns 0.
pub async fn stream_eof_sticky<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    peer_conn.write_all(b"bye").await.check("peer write")?;
    peer_conn.close().await.check("peer close")?;
    let mut buf = [0u8; 3];
    prompt(h, "read the last bytes", conn.read_exact(&mut buf)).await?;
    ensure!(&buf == b"bye", "wrong last bytes");
    for i in 0..3 {
        let n = prompt(h, "read at EOF", conn.read(&mut buf)).await?;
        ensure!(n == 0, "read number {i} after EOF returned {n} bytes");
    }
    Ok(())
}

async fn expect_eof<H: Harness, C: Read + Unpin>(h: &H, conn: &mut C, what: &str) -> CaseResult {
    let mut buf = [0u8; 8];
    let n = within(h, PROMPT, what, conn.read(&mut buf))
        .await?
        .check(what)?;
    ensure!(n == 0, "{what}: expected EOF, got {n} bytes");
    Ok(())
}

/// Case `tcp.close.half_close_local`: after the stack closes its write half it still
/// reads what the peer sends.
pub async fn close_half_close_local<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    conn.close().await.check("close the write half")?;
    expect_eof(h, &mut peer_conn, "peer read after the stack's FIN").await?;
    peer_conn
        .write_all(b"reply")
        .await
        .check("peer write after FIN")?;
    peer_conn.close().await.check("peer close")?;
    let mut buf = [0u8; 5];
    prompt(
        h,
        "read after closing the write half",
        conn.read_exact(&mut buf),
    )
    .await?;
    ensure!(&buf == b"reply", "wrong data after half-close");
    expect_eof(h, &mut conn, "read at the end").await?;
    let again = conn.close().await;
    ensure!(again.is_ok(), "a second close failed: {:?}", again.err());
    Ok(())
}

/// Case `tcp.close.half_close_remote`: after the peer closes its write half the stack
/// sees EOF and can still send.
pub async fn close_half_close_remote<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    peer_conn.close().await.check("peer close")?;
    expect_eof(h, &mut conn, "read after the peer's FIN").await?;
    conn.write_all(b"after eof")
        .await
        .check("write after the peer's FIN")?;
    conn.close().await.check("close")?;
    let mut buf = [0u8; 9];
    prompt(h, "peer read", peer_conn.read_exact(&mut buf)).await?;
    ensure!(
        &buf == b"after eof",
        "wrong data after the peer's half-close"
    );
    expect_eof(h, &mut peer_conn, "peer read at the end").await
}

/// Case `tcp.close.delivers_all_data`: data written right before close and drop
/// reaches the peer in full, then EOF.
pub async fn close_delivers_all_data<H: Harness>(h: &H) -> CaseResult {
    let (conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let len = (h.bulk_bytes() / 4).max(4096);
    let (sent, received) = join(
        pin!(async move {
            let mut conn = conn;
            send_pattern(&mut conn, len, "write").await?;
            conn.close().await.check("close")?;
            drop(conn);
            Ok(())
        }),
        pin!(async {
            receive_pattern(&mut peer_conn, len, "peer read").await?;
            expect_eof(h, &mut peer_conn, "peer read after all data").await
        }),
    )
    .await;
    sent.and(received)
}

/// Case `tcp.close.simultaneous`: both ends closing at the same time each see EOF,
/// without errors.
pub async fn close_simultaneous<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let (a, b) = join(pin!(conn.close()), pin!(peer_conn.close())).await;
    a.check("close")?;
    b.check("peer close")?;
    expect_eof(h, &mut conn, "read after simultaneous close").await?;
    expect_eof(h, &mut peer_conn, "peer read after simultaneous close").await
}

/// Reads until the stream ends with EOF or an error; the bytes read must be a
/// prefix of `expected`. Returns the final result.
async fn read_to_end_or_error<H: Harness, C: Read + Unpin>(
    h: &H,
    conn: &mut C,
    expected: &[u8],
) -> Result<Result<(), C::Error>, Outcome> {
    let mut buf = [0u8; 64];
    let mut got = 0;
    loop {
        match within(h, PROMPT, "read until the reset shows", conn.read(&mut buf)).await? {
            Ok(0) => return Ok(Ok(())),
            Ok(n) => {
                ensure!(
                    expected.get(got..got + n) == Some(&buf[..n]),
                    "read bytes that were never sent (offset {got})"
                );
                got += n;
            }
            Err(e) => return Ok(Err(e)),
        }
    }
}

/// Case `tcp.reset.write_after_peer_reset`: writing after the peer reset fails with
/// `ConnectionReset` or `BrokenPipe`, never hangs.
pub async fn reset_write_after_peer_reset<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, peer_conn, _listener) = stack_to_peer(h, V4).await?;
    peer_conn.abort();
    // The read is the event that says the RST arrived.
    let _ = read_to_end_or_error(h, &mut conn, &[]).await?;
    let result = within(h, PROMPT, "write after the peer's reset", async {
        conn.write_all(&[0u8; 1024]).await?;
        conn.flush().await
    })
    .await?;
    let kinds = [ErrorKind::ConnectionReset, ErrorKind::BrokenPipe];
    expect_error(result, &kinds, "write after the peer's reset")
}

/// Case `tcp.reset.read_after_peer_reset`: data sent before a reset is readable where
/// TCP allows (a prefix of it, possibly empty, never other bytes), then reads fail
/// with `ConnectionReset` (or see EOF).
pub async fn reset_read_after_peer_reset<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let words = b"last words before the reset";
    peer_conn.write_all(words).await.check("peer write")?;
    peer_conn.flush().await.check("peer flush")?;
    peer_conn.abort();
    match read_to_end_or_error(h, &mut conn, words).await? {
        Ok(()) => Ok(()),
        Err(e) => expect_error(
            Err::<(), _>(e),
            &[ErrorKind::ConnectionReset],
            "read after the peer's reset",
        ),
    }
}

/// Case `tcp.reset.abort_sends_rst`: `abort` makes the peer's read fail with
/// `ConnectionReset`.
pub async fn reset_abort_sends_rst<H: Harness>(h: &H) -> CaseResult {
    let (conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    conn.abort();
    let mut buf = [0u8; 8];
    let result = within(h, PROMPT, "peer read after abort", peer_conn.read(&mut buf)).await?;
    expect_error(
        result,
        &[ErrorKind::ConnectionReset],
        "peer read after abort (an EOF means FIN, not RST)",
    )
}

const CYCLES: usize = 50;

/// Case `tcp.resources.no_leak`: many connect/exchange/close cycles leave no socket
/// behind, and the stack still connects afterwards. Skips, naming `socket-count`,
/// where the harness does not count sockets.
pub async fn resources_no_leak<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.connector(), Capability::TcpConnect)?;
    // Without a count, a leak would pass unseen: that is a skip, not a pass.
    need(h.open_sockets(), Capability::SocketCount)?;
    let (listener, addr) = peer_listener(h, V4).await?;
    let baseline = h.open_sockets();
    for cycle in 0..=CYCLES {
        let connect = pin!(stack.connect(addr));
        let accept = pin!(listener.accept());
        let (connected, accepted) = within(h, PROMPT, "connect", join(connect, accept)).await?;
        let mut conn = connected.map_err(|e| {
            Outcome::Fail(Detail::from_args(format_args!(
                "connect number {cycle} failed with kind {:?}: sockets leak",
                portnet::Error::kind(&e)
            )))
        })?;
        let (mut peer_conn, _) = accepted.check("peer accept")?;
        write_byte(&mut conn, cycle as u8).await?;
        ensure!(
            read_byte(h, &mut peer_conn).await? == cycle as u8,
            "cycle {cycle}: wrong byte"
        );
        // The peer closes first, so that the lingering TIME-WAIT state is the peer's.
        peer_conn.close().await.check("peer close")?;
        expect_eof(h, &mut conn, "read the peer's FIN").await?;
        conn.close().await.check("close")?;
        expect_eof(h, &mut peer_conn, "peer read the FIN").await?;
    }
    if let Some(before) = baseline {
        let deadline = h.clock().now() + PROMPT.saturating_mul(h.patience());
        loop {
            let now = h.open_sockets().unwrap_or(before);
            if now <= before {
                break;
            }
            ensure!(
                h.clock().now() < deadline,
                "{} sockets open after {CYCLES} closed cycles, {before} before",
                now
            );
            h.clock().sleep(Duration::from_millis(20)).await;
        }
    }
    Ok(())
}

/// Case `tcp.cancel.read`: dropping a pending read loses no data.
pub async fn cancel_read<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let mut buf = [0u8; 5];
    {
        let mut read = conn.read(&mut buf);
        if let Poll::Ready(result) = poll_once(&mut read) {
            fail!("read on a quiet connection completed: {result:?}");
        }
    }
    peer_conn.write_all(b"hello").await.check("peer write")?;
    prompt(h, "read after a cancelled read", conn.read_exact(&mut buf)).await?;
    ensure!(&buf == b"hello", "data lost or changed by a cancelled read");
    Ok(())
}

/// Case `tcp.cancel.accept`: dropping a pending accept loses no connection.
pub async fn cancel_accept<H: Harness>(h: &H) -> CaseResult {
    let (listener, addr) = stack_listener(h, V4).await?;
    {
        let mut accept = pin!(listener.accept());
        if let Poll::Ready(result) = accept
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            fail!(
                "accept with no client completed: {:?}",
                result.map(|(_, a)| a)
            );
        }
    }
    let mut peer_conn = prompt(h, "peer connect", h.peer().connect(addr)).await?;
    write_byte(&mut peer_conn, 42).await?;
    let (mut conn, _) = prompt(h, "accept after a cancelled accept", listener.accept()).await?;
    ensure!(
        read_byte(h, &mut conn).await? == 42,
        "wrong connection accepted"
    );
    Ok(())
}

/// Polls `poll` with the probe's waker until the inner stack has registered it:
/// the poll returned `Pending` without waking the probe at once (an adversarial
/// wrapper's injected `Pending` wakes at once, and does not count).
fn register<T>(
    probe: &WakeProbe,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>,
    what: &str,
) -> Result<(), Outcome> {
    let waker = probe.waker();
    for _ in 0..100 {
        probe.reset();
        if poll(&mut Context::from_waker(&waker)).is_ready() {
            fail!("{what}: completed when it should wait");
        }
        if probe.wakes() == 0 {
            return Ok(());
        }
    }
    fail!("{what}: woke itself on every poll (busy loop)")
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

fn probes<const N: usize>() -> Result<[WakeProbe; N], Outcome> {
    let mut out: [Option<WakeProbe>; N] = [const { None }; N];
    for slot in &mut out {
        *slot = Some(need(WakeProbe::new(), Capability::TcpConnect).map_err(|_| {
            Outcome::Fail(Detail::from_args(format_args!(
                "the suite ran out of wake probes"
            )))
        })?);
    }
    Ok(out.map(|p| p.expect("filled above")))
}

/// Case `tcp.wake.split_halves`: split halves polled from two tasks each get their
/// own wake-up; none is lost.
pub async fn wake_split_halves<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let [reader_task, writer_task] = probes::<2>()?;
    let (mut reader, mut writer) = conn.split();
    let mut byte = [0u8; 1];
    register(
        &reader_task,
        |cx| Pin::new(&mut reader).poll_read(cx, &mut byte),
        "read on the read half",
    )?;
    let written = fill_until_pending(&mut writer, &writer_task, 0, BACKPRESSURE_LIMIT)?;
    // A wake of the reader's task during the fill proves nothing (a stack that
    // keeps one waker for both halves may have woken it for the writer): only a
    // wake after the data below arrives counts.
    reader_task.reset();
    // Data for the reader: only the reader's task may need to wake.
    peer_conn.write_all(b"r").await.check("peer write")?;
    within(
        h,
        PROMPT,
        "wake of the read half's task",
        woken(&reader_task),
    )
    .await?;
    // Room for the writer: the peer drains what the write half sent.
    receive_pattern(&mut peer_conn, written, "peer drain").await?;
    within(
        h,
        PROMPT,
        "wake of the write half's task",
        woken(&writer_task),
    )
    .await?;
    let n = prompt(h, "read", reader.read(&mut byte)).await?;
    ensure!(n == 1 && byte[0] == b'r', "the read half lost its byte");
    Ok(())
}

/// Case `tcp.wake.latest_waker`: when a read is polled again with a new waker, the
/// new waker is woken.
pub async fn wake_latest_waker<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let [old, new] = probes::<2>()?;
    let mut byte = [0u8; 1];
    register(
        &old,
        |cx| Pin::new(&mut conn).poll_read(cx, &mut byte),
        "read with the first waker",
    )?;
    register(
        &new,
        |cx| Pin::new(&mut conn).poll_read(cx, &mut byte),
        "read with the second waker",
    )?;
    old.reset();
    peer_conn.write_all(b"w").await.check("peer write")?;
    if within(h, PROMPT, "wake of the latest waker", woken(&new))
        .await
        .is_err()
    {
        if old.wakes() > 0 {
            fail!("the stack woke the stale waker and not the latest one");
        }
        fail!("no waker was woken when data arrived");
    }
    let n = prompt(h, "read", conn.read(&mut byte)).await?;
    ensure!(n == 1 && byte[0] == b'w', "wrong data after the wake");
    Ok(())
}

/// Case `tcp.wake.no_spurious`: an idle connection does not wake its reader.
pub async fn wake_no_spurious<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let [reader] = probes::<1>()?;
    let mut byte = [0u8; 1];
    register(
        &reader,
        |cx| Pin::new(&mut conn).poll_read(cx, &mut byte),
        "read on an idle connection",
    )?;
    h.clock().sleep(Duration::from_millis(200)).await;
    let wakes = reader.wakes();
    ensure!(
        wakes == 0,
        "an idle connection woke its reader {wakes} times in 200 ms"
    );
    peer_conn.write_all(b"s").await.check("peer write")?;
    within(h, PROMPT, "wake when data arrives", woken(&reader)).await?;
    Ok(())
}

/// Case `tcp.timeout.read`: a read on a quiet socket is cut by a clock timeout, and
/// the connection stays usable.
pub async fn timeout_read<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let mut buf = [0u8; 2];
    let limit = Duration::from_millis(200);
    if let Ok(result) = portnet::time::timeout(h.clock(), limit, conn.read(&mut buf)).await {
        fail!("a read on a quiet connection returned {result:?}");
    }
    peer_conn.write_all(b"ok").await.check("peer write")?;
    prompt(h, "read after a timed-out read", conn.read_exact(&mut buf)).await?;
    ensure!(&buf == b"ok", "data lost after a timed-out read");
    Ok(())
}

/// Case `tcp.listen.backlog`: a listener made with `listen_with` and a backlog of
/// N queues N connections whose handshakes completed while no `accept` was
/// pending (none refused), and hands them out in order.
pub async fn listen_backlog<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.listener(), Capability::TcpListen)?;
    let (ip, _) = ips(h, V4)?;
    let n = h.listen_pool().clamp(1, MAX_POOL);
    let listener = stack
        .listen_with(SocketAddr::new(ip, 0), ListenOptions::new().backlog(n))
        .await
        .check("listen_with a backlog")?;
    let addr = listener.local_addr().check("listener address")?;
    let mut peers: [Option<<H::Peer as TcpConnect>::Connection<'_>>; MAX_POOL] = Default::default();
    for (i, slot) in peers.iter_mut().enumerate().take(n) {
        let connect = h.peer().connect(addr);
        let what = "peer connect while no accept is pending";
        let mut peer_conn = match within(h, PROMPT, what, connect).await? {
            Ok(conn) => conn,
            Err(e) => fail!(
                "connection {i} of a backlog of {n} failed with kind {:?} while no accept was pending",
                e.kind()
            ),
        };
        write_byte(&mut peer_conn, i as u8).await?;
        *slot = Some(peer_conn);
    }
    for i in 0..n as u8 {
        let (mut conn, _) = prompt(h, "accept from the backlog", listener.accept()).await?;
        let got = read_byte(h, &mut conn).await?;
        ensure!(got == i, "accept number {i} gave connection number {got}");
    }
    Ok(())
}

/// An address no stack under test has: TEST-NET-1 (RFC 5737).
const FOREIGN: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));

/// Case `tcp.listen.addr_not_available`: listening on an address that is not the
/// stack's fails with `AddrNotAvailable`.
pub async fn listen_addr_not_available<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.listener(), Capability::TcpListen)?;
    let (ip, peer_ip) = ips(h, V4)?;
    ensure!(
        ip != FOREIGN && peer_ip != FOREIGN,
        "the harness uses {FOREIGN}, the address this case needs to be foreign"
    );
    let result = within(
        h,
        PROMPT,
        "listen on a foreign address",
        stack.listen(SocketAddr::new(FOREIGN, 0)),
    )
    .await?;
    expect_error(
        result.map(|_| ()),
        &[ErrorKind::AddrNotAvailable],
        "listen on 192.0.2.1 (not the stack's)",
    )
}

/// Completes with the first of `probes` (those whose `open` flag is set) that
/// was woken, forwarding their wakes to the task meanwhile.
async fn any_woken<const N: usize>(probes: &[WakeProbe; N], open: &[bool; N]) -> usize {
    let index = poll_fn(|cx| {
        for (probe, _) in probes.iter().zip(open).filter(|(_, open)| **open) {
            probe.forward_to(Some(cx.waker()));
        }
        match (0..N).find(|&i| open[i] && probes[i].wakes() > 0) {
            Some(i) => Poll::Ready(i),
            None => Poll::Pending,
        }
    })
    .await;
    for probe in probes {
        probe.forward_to(None);
    }
    index
}

/// How many `accept` futures `tcp.accept.concurrent` keeps pending at once.
const CONCURRENT_ACCEPTS: usize = 3;

/// Case `tcp.accept.concurrent`: several `accept` futures pending at once on one
/// listener, each polled as from its own task: each connection goes to exactly
/// one of them, the one that takes it is woken, and none is lost while the
/// others wait.
pub async fn accept_concurrent<H: Harness>(h: &H) -> CaseResult {
    const N: usize = CONCURRENT_ACCEPTS;
    let (listener, addr) = stack_listener(h, V4).await?;
    let tasks = probes::<N>()?;
    let a = pin!(listener.accept());
    let b = pin!(listener.accept());
    let c = pin!(listener.accept());
    let mut accepts = [a, b, c];
    for (accept, task) in accepts.iter_mut().zip(&tasks) {
        register(task, |cx| accept.as_mut().poll(cx), "a pending accept")?;
    }
    let mut open = [true; N];
    let mut accepted: [Option<(_, SocketAddr)>; N] = [const { None }; N];
    let mut peers: [Option<<H::Peer as TcpConnect>::Connection<'_>>; N] = Default::default();
    for (k, slot) in peers.iter_mut().enumerate() {
        let mut peer_conn = prompt(h, "peer connect", h.peer().connect(addr)).await?;
        write_byte(&mut peer_conn, k as u8).await?;
        *slot = Some(peer_conn);
        // Poll the woken accepts (as their tasks would) until one takes it.
        let mut taken = None;
        for _ in 0..1000 {
            let what = "a wake of a pending accept after a connection arrived";
            let i = within(h, PROMPT, what, any_woken(&tasks, &open)).await?;
            tasks[i].reset();
            let waker = tasks[i].waker();
            if let Poll::Ready(result) = accepts[i].as_mut().poll(&mut Context::from_waker(&waker))
            {
                taken = Some((i, result.check("accept")?));
                break;
            }
        }
        let Some((i, conn)) = taken else {
            fail!("the pending accepts kept waking without taking connection {k}");
        };
        open[i] = false;
        accepted[i] = Some(conn);
    }
    let mut seen = [None; N];
    for (i, slot) in accepted.iter_mut().enumerate() {
        let Some((conn, from)) = slot.as_mut() else {
            fail!("accept {i} got no connection");
        };
        let got = read_byte(h, conn).await?;
        let Some(Some(peer_conn)) = peers.get(got as usize) else {
            fail!("accept {i} got a connection that sent {got}");
        };
        let peer_local = peer_conn.local_addr().check("peer local_addr")?;
        ensure!(
            *from == peer_local,
            "accept {i} reported {from} for the connection from {peer_local}"
        );
        ensure!(
            !seen.contains(&Some(got)),
            "two accepts got the connection from {peer_local}"
        );
        seen[i] = Some(got);
    }
    Ok(())
}

/// Most sockets a full-pool case fills.
const MAX_FILL: usize = 16;

/// Case `tcp.connect.pool_exhausted`: with every TCP socket of the stack's pool
/// in use, `connect` fails promptly with `OutOfResources` (not a panic, not a
/// hang); once a connection is aborted, its socket serves a new connect within
/// PROMPT.
pub async fn connect_pool_exhausted<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.connector(), Capability::TcpConnect)?;
    let pool = need(h.tcp_pool(), Capability::SocketPool)?;
    let n = need((pool <= MAX_FILL).then_some(pool), Capability::SocketPool)?;
    let (listener, addr) = peer_listener(h, V4).await?;
    let mut conns: [Option<<H::Connect as TcpConnect>::Connection<'_>>; MAX_FILL] =
        Default::default();
    let mut peers: [Option<<<H::Peer as TcpListen>::Listener<'_> as TcpListener>::Connection>;
        MAX_FILL] = Default::default();
    for i in 0..n {
        let (conn, peer_conn, _) = connect_accept(h, stack, &listener, addr).await?;
        conns[i] = Some(conn);
        peers[i] = Some(peer_conn);
    }
    let result = within(h, PROMPT, "connect on a full pool", stack.connect(addr)).await?;
    expect_error(
        result.map(|_| ()),
        &[ErrorKind::OutOfResources],
        "connect with every socket of the pool in use",
    )?;
    if let Some(conn) = conns[0].take() {
        conn.abort();
    }
    drop(peers[0].take());
    // Any outcome but `OutOfResources` shows the aborted socket was free again
    // (the peer may refuse, having no listening socket left). A stack may free
    // it asynchronously (its runner sends the RST), so it has PROMPT to do so.
    let limit = Duration::from_millis(100).saturating_mul(h.patience());
    let deadline = h.clock().now() + PROMPT.saturating_mul(h.patience());
    loop {
        match portnet::time::timeout(h.clock(), limit, stack.connect(addr)).await {
            Ok(Err(e)) if e.kind() == ErrorKind::OutOfResources => {}
            _ => return Ok(()),
        }
        ensure!(
            h.clock().now() < deadline,
            "connect still fails with OutOfResources after a connection of the full pool was aborted"
        );
        h.clock().sleep(Duration::from_millis(10)).await;
    }
}

/// Case `tcp.cancel.connect`: dropping a pending `connect` releases its socket:
/// after more cancelled connects than the pool has sockets, the socket count is
/// back where it was and the stack still connects.
pub async fn cancel_connect<H: Harness>(h: &H) -> CaseResult {
    let stack = need(h.connector(), Capability::TcpConnect)?;
    let (listener, addr) = peer_listener(h, V4).await?;
    let target = h.black_hole().unwrap_or(addr);
    let rounds = h.tcp_pool().map_or(4, |pool| pool + 1).min(4 * MAX_FILL);
    let baseline = h.open_sockets();
    for _ in 0..rounds {
        let mut connect = pin!(stack.connect(target));
        for _ in 0..3 {
            // The connect has started (and holds its socket) when it first says Pending.
            if let Poll::Ready(result) = connect
                .as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
            {
                drop(result);
                break;
            }
        }
    }
    if let Some(before) = baseline {
        let deadline = h.clock().now() + PROMPT.saturating_mul(h.patience());
        loop {
            let now = h.open_sockets().unwrap_or(before);
            if now <= before {
                break;
            }
            ensure!(
                h.clock().now() < deadline,
                "{now} sockets open after {rounds} cancelled connects, {before} before"
            );
            h.clock().sleep(Duration::from_millis(20)).await;
        }
    }
    let (connected, accepted) = {
        let connect = pin!(stack.connect(addr));
        let accept = pin!(listener.accept());
        within(
            h,
            PROMPT,
            "connect after cancelled connects",
            join(connect, accept),
        )
        .await?
    };
    if let Err(e) = connected {
        fail!(
            "connect after {rounds} cancelled connects failed with kind {:?}: cancelled connects keep their sockets",
            e.kind()
        );
    }
    accepted.check("peer accept")?;
    Ok(())
}

/// Case `tcp.close.write_after_close`: writing after the stack closed its write
/// half fails with `BrokenPipe` or `NotConnected`, never succeeds or hangs.
pub async fn close_write_after_close<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, _peer_conn, _listener) = stack_to_peer(h, V4).await?;
    conn.close().await.check("close the write half")?;
    let result = within(h, PROMPT, "write after close", conn.write(b"late")).await?;
    expect_error(
        result,
        &[ErrorKind::BrokenPipe, ErrorKind::NotConnected],
        "write after the local close",
    )
}

/// Case `tcp.close.idempotent`: closing again after a close succeeded succeeds,
/// before and after the peer's FIN, and the peer sees one clean EOF.
pub async fn close_idempotent<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    write_byte(&mut conn, 7).await?;
    prompt(h, "close", conn.close()).await?;
    prompt(h, "a second close at once", conn.close()).await?;
    ensure!(
        read_byte(h, &mut peer_conn).await? == 7,
        "the byte written before close did not arrive"
    );
    expect_eof(h, &mut peer_conn, "peer read after the FIN").await?;
    prompt(h, "peer close", peer_conn.close()).await?;
    expect_eof(h, &mut conn, "read the peer's FIN").await?;
    prompt(h, "a third close after both FINs", conn.close()).await?;
    Ok(())
}

/// Case `tcp.close.split_write_half`: closing the write half of a split
/// connection sends the FIN after every byte written through it, and the read
/// half keeps reading what the peer sends afterwards.
pub async fn close_split_write_half<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let (mut reader, mut writer) = conn.split();
    writer
        .write_all(b"before")
        .await
        .check("write through the write half")?;
    prompt(h, "close the write half", writer.close()).await?;
    let mut buf = [0u8; 6];
    prompt(h, "peer read", peer_conn.read_exact(&mut buf)).await?;
    ensure!(
        &buf == b"before",
        "the bytes written before the write half's close did not arrive intact"
    );
    expect_eof(h, &mut peer_conn, "peer read after the write half's close").await?;
    peer_conn.write_all(b"reply").await.check("peer write")?;
    peer_conn.close().await.check("peer close")?;
    let mut buf = [0u8; 5];
    prompt(
        h,
        "read through the read half after the write half's close",
        reader.read_exact(&mut buf),
    )
    .await?;
    ensure!(&buf == b"reply", "wrong data on the read half");
    expect_eof(h, &mut reader, "read half at the end").await
}

/// Case `tcp.close.after_peer_reset`: closing a connection the peer reset
/// completes at once, with `Ok` or an error of kind `ConnectionReset`,
/// `BrokenPipe` or `NotConnected`; it never hangs.
pub async fn close_after_peer_reset<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, peer_conn, _listener) = stack_to_peer(h, V4).await?;
    peer_conn.abort();
    // The read is the event that says the RST arrived.
    let _ = read_to_end_or_error(h, &mut conn, &[]).await?;
    match within(h, PROMPT, "close after the peer's reset", conn.close()).await? {
        Ok(()) => Ok(()),
        Err(e) => expect_error(
            Err::<(), _>(e),
            &[
                ErrorKind::ConnectionReset,
                ErrorKind::BrokenPipe,
                ErrorKind::NotConnected,
            ],
            "close after the peer's reset",
        ),
    }
}

/// Case `tcp.cancel.write`: a `poll_write` that returned `Pending` took no byte:
/// the stream goes on from the last accepted byte, and the peer receives
/// exactly what the writes that returned `Ready` accepted.
pub async fn cancel_write<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let [writer_task] = probes::<1>()?;
    let written = fill_until_pending(&mut conn, &writer_task, 0, BACKPRESSURE_LIMIT)?;
    // The write that said Pending is abandoned: carry on from `written`. Had it
    // taken its bytes after all, they would arrive twice and break the pattern.
    let tail = 3000;
    let (sent, received) = join(
        pin!(async {
            let mut buf = [0u8; 1000];
            let mut offset = written;
            while offset < written + tail {
                fill_pattern(&mut buf, offset);
                conn.write_all(&buf)
                    .await
                    .check("write after a Pending write")?;
                offset += buf.len();
            }
            conn.close().await.check("close")
        }),
        pin!(async {
            receive_pattern(&mut peer_conn, written + tail, "peer drain").await?;
            let mut extra = [0u8; 16];
            let n = prompt(h, "read EOF", peer_conn.read(&mut extra)).await?;
            ensure!(
                n == 0,
                "{n} bytes more than the writes accepted arrived: a Pending write took bytes"
            );
            Ok(())
        }),
    )
    .await;
    sent.and(received)
}

/// Case `tcp.wake.write_latest_waker`: when a write that got `Pending` is polled
/// again with a new waker, the new waker is the one woken when room frees up.
pub async fn wake_write_latest_waker<H: Harness>(h: &H) -> CaseResult {
    let (mut conn, mut peer_conn, _listener) = stack_to_peer(h, V4).await?;
    let [old, new] = probes::<2>()?;
    let mut written = fill_until_pending(&mut conn, &old, 0, BACKPRESSURE_LIMIT)?;
    // The same write again, with the new waker, until it says Pending and keeps it.
    let mut buf = [0u8; 4096];
    let waker = new.waker();
    let mut registered = false;
    for _ in 0..1000 {
        fill_pattern(&mut buf, written);
        new.reset();
        match Pin::new(&mut conn).poll_write(&mut Context::from_waker(&waker), &buf) {
            Poll::Ready(Ok(n)) => written += n,
            Poll::Ready(Err(e)) => fail!("write failed with kind {:?}", e.kind()),
            Poll::Pending if new.wakes() == 0 => {
                registered = true;
                break;
            }
            Poll::Pending => {}
        }
    }
    ensure!(registered, "the write with the second waker never waited");
    old.reset();
    let (drained, woke) = join(
        pin!(receive_pattern(&mut peer_conn, written, "peer drain")),
        pin!(within(
            h,
            PROMPT,
            "wake of the latest writer's waker",
            woken(&new)
        )),
    )
    .await;
    drained?;
    if woke.is_err() {
        if old.wakes() > 0 {
            fail!("the stack woke the stale write waker and not the latest one");
        }
        fail!("no write waker was woken when room freed up");
    }
    Ok(())
}
