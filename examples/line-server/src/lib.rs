//! A concurrent line-based TCP server written only against the portnet traits,
//! `no_std` and without allocation, in the two shapes a server library needs:
//!
//! - **No spawn** ([`serve`]): one accept-and-answer loop per connection slot,
//!   several slots joined on one task with [`portnet::future::join_array`]. This is
//!   how firmware serves `N` clients with a fixed pool and no allocator; the slots
//!   share one listener, on which several `accept` futures may be pending at once.
//! - **Spawn** ([`serve_spawning`]): accept, and hand each connection to a new task
//!   of a multi-threaded runtime, through the [`portnet::send`] traits and a
//!   spawner the application passes in ([`Spawn`]).
//!
//! Both run the same connection handler, [`handle`], whose idle timer is a
//! closure returning a sleep future: the root traits' `Clock::sleep` for the
//! first shape, `portnet::send::Clock::sleep` (a `Send` future) for the second.
//!
//! # The protocol
//!
//! One command per line (`\n` or `\r\n`), one reply line each:
//!
//! | line | reply |
//! |---|---|
//! | `PING` | `PONG` |
//! | `ECHO <text>` | `<text>` |
//! | `UPPER <text>` | `<text>` in ASCII upper case |
//! | `LEN <text>` | the byte length of `<text>` |
//! | `QUIT` | `BYE`, then the server closes |
//! | anything else | `ERR unknown command` |
//!
//! A line longer than [`MAX_LINE`] gets `ERR line too long`, and one idle for
//! longer than the idle time `ERR idle`; both then close the connection.
//!
//! # No spawn, on one task
//!
//! ```
//! use core::pin::pin;
//! use core::time::Duration;
//! use portnet::future::join_array;
//! use portnet::{Clock, ListenOptions, TcpListen};
//! use portnet_line_server::{Buffers, serve};
//!
//! /// Three connections at a time, two more waiting in the backlog: a smoltcp
//! /// stack needs 3 + 2 TCP sockets in its pool for the server.
//! async fn run<S: TcpListen + Clock>(stack: &S) -> S::Error {
//!     let options = ListenOptions::new().backlog(2);
//!     let listener = match stack.listen_with(([0, 0, 0, 0], 7).into(), options).await {
//!         Ok(listener) => listener,
//!         Err(e) => return e,
//!     };
//!     let idle = Duration::from_secs(60);
//!     let [a, b, c] = &mut [Buffers::new(), Buffers::new(), Buffers::new()];
//!     let [ea, _, _] = join_array([
//!         pin!(serve(&listener, stack, idle, a)),
//!         pin!(serve(&listener, stack, idle, b)),
//!         pin!(serve(&listener, stack, idle, c)),
//!     ])
//!     .await;
//!     ea
//! }
//! ```
#![no_std]
#![deny(missing_docs)]

use core::future::Future;
use core::pin::pin;
use core::time::Duration;

use portnet::buf::BufReader;
use portnet::future::{Either, select};
use portnet::{Clock, Error as _, ErrorKind, Read, TcpListener, Write, WriteExt};

/// The longest line the server takes, its `\n` included.
pub const MAX_LINE: usize = 128;

/// What one connection needs, lent by the caller: [`serve`] keeps one per slot;
/// [`serve_spawning`] puts one in each task.
#[derive(Debug)]
pub struct Buffers {
    read: [u8; 256],
    line: [u8; MAX_LINE],
    reply: [u8; MAX_LINE + 8],
}

impl Buffers {
    /// Zeroed buffers (about 520 bytes).
    pub const fn new() -> Self {
        Self {
            read: [0; 256],
            line: [0; MAX_LINE],
            reply: [0; MAX_LINE + 8],
        }
    }
}

impl Default for Buffers {
    fn default() -> Self {
        Self::new()
    }
}

/// The reply to one line: its bytes (with `\n`) in the reply buffer, and whether
/// the server closes after sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Length of the reply in the buffer.
    pub len: usize,
    /// The connection ends after this reply.
    pub close: bool,
}

/// Answers one `line` (without its line break) into `out`; pure, so the
/// protocol is tested without a network.
pub fn answer(line: &[u8], out: &mut [u8; MAX_LINE + 8]) -> Reply {
    let (command, argument) = match line.iter().position(|&b| b == b' ') {
        Some(space) => (&line[..space], &line[space + 1..]),
        None => (line, &b""[..]),
    };
    let mut close = false;
    let mut cursor = Cursor { out, len: 0 };
    match command {
        b"PING" => cursor.put(b"PONG"),
        b"ECHO" => cursor.put(argument),
        b"UPPER" => {
            cursor.put(argument);
            cursor.out[..cursor.len].make_ascii_uppercase();
        }
        b"LEN" => {
            // At most MAX_LINE, so three digits.
            let n = argument.len();
            let digits = [
                b'0' + (n / 100 % 10) as u8,
                b'0' + (n / 10 % 10) as u8,
                b'0' + (n % 10) as u8,
            ];
            let first = digits.iter().position(|&d| d != b'0').unwrap_or(2);
            cursor.put(&digits[first..]);
        }
        b"QUIT" => {
            cursor.put(b"BYE");
            close = true;
        }
        _ => cursor.put(b"ERR unknown command"),
    }
    cursor.put(b"\n");
    Reply {
        len: cursor.len,
        close,
    }
}

/// Appends to the reply buffer. The reply can never outgrow it: its longest
/// text is an argument of a line of at most `MAX_LINE` bytes, plus `\n`.
struct Cursor<'a> {
    out: &'a mut [u8; MAX_LINE + 8],
    len: usize,
}

impl Cursor<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = (self.len + bytes.len()).min(self.out.len());
        let n = end - self.len;
        self.out[self.len..end].copy_from_slice(&bytes[..n]);
        self.len = end;
    }
}

// ANCHOR: handle
/// Serves one connection to its end: reads lines, answers each, and closes the
/// write half when the client ends its side, says `QUIT`, sends a line longer
/// than [`MAX_LINE`], or stays silent until `idle()` completes (`idle` is called
/// afresh for every line, so it is the longest silence allowed).
///
/// `idle` returns a sleep future (`|| clock.sleep(d)`) rather than the handler
/// taking a `Clock`: then this one body serves both the root traits and the
/// [`portnet::send`] ones, and its future is `Send` exactly when the stream and
/// the sleep future are.
///
/// Resolves to the number of lines answered.
///
/// # Errors
///
/// The stream's error; `OutOfResources` for a line too long, `TimedOut` for an
/// idle client (each after telling the client, then closing).
///
/// # Cancel safety
///
/// Not cancel safe: a reply may be half written. Dropping the future drops the
/// connection.
pub async fn handle<C, T, D>(conn: C, buffers: &mut Buffers, idle: T) -> Result<u64, C::Error>
where
    C: Read + Write + Unpin,
    T: Fn() -> D,
    D: Future<Output = ()>,
{
    let Buffers { read, line, reply } = buffers;
    let mut conn = BufReader::new(conn, read);
    let mut answered = 0;
    loop {
        // `read_line` is not cancel safe, but losing a partial line is fine here:
        // on the idle timeout the connection ends anyway.
        let outcome = select(pin!(conn.read_line(line)), pin!(idle())).await;
        let n = match outcome {
            Either::Left(Ok(0)) => break,
            Either::Left(Ok(n)) => n,
            Either::Left(Err(e)) if e.kind() == ErrorKind::OutOfResources => {
                return goodbye(&mut conn, b"ERR line too long\n", e).await;
            }
            Either::Left(Err(e)) => return Err(e),
            Either::Right(()) => {
                let e = ErrorKind::TimedOut.into();
                return goodbye(&mut conn, b"ERR idle\n", e).await;
            }
        };
        let text = &line[..n];
        let text = text.strip_suffix(b"\n").unwrap_or(text);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        let Reply { len, close } = answer(text, reply);
        conn.write_all(&reply[..len]).await?;
        answered += 1;
        if close {
            break;
        }
    }
    conn.close().await?;
    Ok(answered)
}
// ANCHOR_END: handle

/// Tells the client why, closes, and returns `why`'s error.
async fn goodbye<C: Write + Unpin>(
    conn: &mut C,
    message: &[u8],
    error: C::Error,
) -> Result<u64, C::Error> {
    conn.write_all(message).await?;
    conn.close().await?;
    Err(error)
}

/// Whether an `accept` error concerns only the connection it was about (the
/// client gave up before it was accepted): the listener goes on.
fn only_that_connection(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::Interrupted
    )
}

// ANCHOR: serve
/// One connection slot: accepts a connection, serves it with [`handle`], and
/// accepts the next, forever. Join several on one task for as many concurrent
/// connections (see the [crate docs](crate)); they share `listener`.
///
/// An error of one connection ends only that connection; the slot returns only
/// when `accept` fails for the listener as a whole, with that error.
///
/// # Cancel safety
///
/// Cancel safe between connections (as `accept`); a connection being served is
/// dropped.
pub async fn serve<L, C>(listener: &L, clock: &C, idle: Duration, buffers: &mut Buffers) -> L::Error
where
    L: TcpListener,
    C: Clock,
{
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                let _ = handle(conn, buffers, || clock.sleep(idle)).await;
            }
            Err(e) if only_that_connection(e.kind()) => {}
            Err(e) => return e,
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: spawn
/// A spawner of `Send` tasks, implemented by the application for its runtime
/// (`tokio::spawn`, `smol::spawn`, an `async_executor::Executor`). The library
/// names no runtime, and allocates nothing itself: the runtime does, for the task.
pub trait Spawn {
    /// Runs `task` to completion on its own task, detached.
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static;
}

impl<S: Spawn + ?Sized> Spawn for &S {
    fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        (**self).spawn(task);
    }
}

/// Accepts connections forever and spawns a task for each, which serves it with
/// [`handle`] (its buffers live in the task). For multi-threaded runtimes: the
/// [`portnet::send`] bounds are what make the task `Send`.
///
/// Returns only when `accept` fails for the listener as a whole, with that error.
///
/// # Cancel safety
///
/// Cancel safe (as `accept`); the spawned tasks go on.
pub async fn serve_spawning<L, C, P>(
    listener: &L,
    clock: &C,
    idle: Duration,
    spawner: &P,
) -> L::Error
where
    L: portnet::send::TcpListener,
    C: portnet::send::Clock + Clone + 'static,
    P: Spawn + ?Sized,
{
    loop {
        match listener.accept().await {
            Ok((conn, _peer)) => {
                let clock = clock.clone();
                spawner.spawn(async move {
                    let mut buffers = Buffers::new();
                    let _ = handle(conn, &mut buffers, || clock.sleep(idle)).await;
                });
            }
            Err(e) if only_that_connection(e.kind()) => {}
            Err(e) => return e,
        }
    }
}
// ANCHOR_END: spawn

#[cfg(test)]
mod tests {
    extern crate alloc;
    use super::*;
    use alloc::vec::Vec;

    fn reply_to(line: &[u8]) -> ([u8; MAX_LINE + 8], Reply) {
        let mut out = [0u8; MAX_LINE + 8];
        let reply = answer(line, &mut out);
        (out, reply)
    }

    #[test]
    fn every_command() {
        for (line, expected, close) in [
            (&b"PING"[..], &b"PONG\n"[..], false),
            (b"ECHO hello there", b"hello there\n", false),
            (b"UPPER mixed Case 1", b"MIXED CASE 1\n", false),
            (b"LEN abc", b"3\n", false),
            (b"LEN ", b"0\n", false),
            (b"QUIT", b"BYE\n", true),
            (b"ping", b"ERR unknown command\n", false),
            (b"", b"ERR unknown command\n", false),
        ] {
            let (out, reply) = reply_to(line);
            assert_eq!(&out[..reply.len], expected);
            assert_eq!(reply.close, close);
        }
        let long = [b'x'; MAX_LINE + 8];
        let line: Vec<u8> = [&b"ECHO "[..], &long].concat();
        let (out, reply) = reply_to(&line);
        assert_eq!(reply.len, out.len(), "clamped, not a panic");
        let line: Vec<u8> = [&b"LEN "[..], &[b'y'; 123]].concat();
        let (out, reply) = reply_to(&line);
        assert_eq!(&out[..reply.len], b"123\n");
    }
}
