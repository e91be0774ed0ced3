//! The `async` helpers and combinators of `portnet`, over an in-memory stream that
//! reads and writes at most a few bytes per call and says `Pending` every other poll.

use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};

use portnet::future::{Either, join, select};
use portnet::{
    Error, ErrorKind, ErrorType, Read, ReadExactError, ReadExt, Write, WriteAllError, WriteExt,
};

/// Polls `future` to completion with a no-op waker; every test future here makes
/// progress on each poll, so the loop is bounded.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..100_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("future did not complete");
}

#[derive(Debug, Default)]
struct Trickle {
    input: Vec<u8>,
    output: Vec<u8>,
    polls: usize,
    chunk: usize,
    accepts_nothing: bool,
}

impl ErrorType for Trickle {
    type Error = ErrorKind;
}

impl Trickle {
    fn pending_now(&mut self, cx: &mut Context<'_>) -> bool {
        self.polls += 1;
        if self.polls.is_multiple_of(2) {
            cx.waker().wake_by_ref();
            return true;
        }
        false
    }
}

impl Read for Trickle {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, ErrorKind>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.pending_now(cx) {
            return Poll::Pending;
        }
        let n = this.chunk.min(buf.len()).min(this.input.len());
        buf[..n].copy_from_slice(&this.input[..n]);
        this.input.drain(..n);
        Poll::Ready(Ok(n))
    }
}

impl Write for Trickle {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, ErrorKind>> {
        let this = self.get_mut();
        if this.pending_now(cx) {
            return Poll::Pending;
        }
        if this.accepts_nothing {
            return Poll::Ready(Ok(0));
        }
        let n = this.chunk.min(buf.len());
        this.output.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn read_exact_gathers_partial_reads() {
    let mut stream = Trickle {
        input: (0..100).collect(),
        chunk: 3,
        ..Default::default()
    };
    let mut buf = [0u8; 100];
    block_on(stream.read_exact(&mut buf)).unwrap();
    assert_eq!(buf.to_vec(), (0..100).collect::<Vec<u8>>());
}

#[test]
fn read_exact_reports_early_eof() {
    let mut stream = Trickle {
        input: vec![1, 2, 3],
        chunk: 2,
        ..Default::default()
    };
    let mut buf = [0u8; 4];
    let err = block_on(stream.read_exact(&mut buf)).unwrap_err();
    assert_eq!(err, ReadExactError::UnexpectedEof);
    assert_eq!(err.kind(), ErrorKind::UnexpectedEof);
}

#[test]
fn write_all_pushes_every_byte_through_short_writes() {
    let mut stream = Trickle {
        chunk: 7,
        ..Default::default()
    };
    let data: Vec<u8> = (0..=255).collect();
    block_on(stream.write_all(&data)).unwrap();
    assert_eq!(stream.output, data);
}

#[test]
fn write_all_fails_with_write_zero_instead_of_spinning() {
    let mut stream = Trickle {
        chunk: 7,
        accepts_nothing: true,
        ..Default::default()
    };
    let err = block_on(stream.write_all(b"abc")).unwrap_err();
    assert_eq!(err, WriteAllError::WriteZero);
    assert_eq!(err.kind(), ErrorKind::WriteZero);
}

#[test]
fn empty_buffers_complete_at_once() {
    let mut stream = Trickle {
        input: vec![1],
        chunk: 1,
        ..Default::default()
    };
    let mut cx = Context::from_waker(Waker::noop());
    assert_eq!(
        Pin::new(&mut stream.read(&mut [])).poll(&mut cx),
        Poll::Ready(Ok(0))
    );
    assert_eq!(stream.input, vec![1], "an empty read takes nothing");
}

#[test]
fn join_waits_for_both_and_select_for_the_first() {
    let a = pin!(async { 1 });
    let b = pin!(async { "two" });
    assert_eq!(block_on(join(a, b)), (1, "two"));
    let never = pin!(core::future::pending::<()>());
    let ready = pin!(async { 5 });
    assert_eq!(block_on(select(never, ready)), Either::Right(5));
}

#[test]
fn error_kinds_display_and_convert() {
    assert_eq!(
        ErrorKind::ConnectionRefused.to_string(),
        "connection refused"
    );
    assert_eq!(ErrorKind::TimedOut.kind(), ErrorKind::TimedOut);
}
