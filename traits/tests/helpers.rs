//! The `async` helpers and combinators of `portnet`, over an in-memory stream that
//! reads and writes at most a few bytes per call and says `Pending` every other poll.

use core::future::Future;
use core::pin::{Pin, pin};
use core::task::{Context, Poll, Waker};

use portnet::buf::BufReader;
use portnet::future::{Either, join, select};
use portnet::future::{Either3, join_array, join3, select_array, select3};
use portnet::{Error, ErrorKind, ErrorType, Read, ReadExt, ResultExt, Write, WriteExt, copy};

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
    assert_eq!(err, ErrorKind::UnexpectedEof);
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
    assert_eq!(err, ErrorKind::WriteZero);
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

fn trickle(input: &[u8], chunk: usize) -> Trickle {
    Trickle {
        input: input.to_vec(),
        chunk,
        ..Default::default()
    }
}

#[test]
fn read_to_end_reads_until_eof_in_small_pieces() {
    let mut stream = trickle(b"hello, world", 2);
    let mut buf = [0u8; 32];
    let n = block_on(stream.read_to_end(&mut buf)).unwrap();
    assert_eq!(&buf[..n], b"hello, world");
}

#[test]
fn read_to_end_accepts_a_body_that_fills_the_buffer_exactly() {
    let mut stream = trickle(b"12345678", 3);
    let mut buf = [0u8; 8];
    assert_eq!(block_on(stream.read_to_end(&mut buf)), Ok(8));
    assert_eq!(&buf, b"12345678");
}

#[test]
fn read_to_end_refuses_a_body_longer_than_the_buffer() {
    let mut stream = trickle(b"123456789", 4);
    let mut buf = [0u8; 8];
    let err = block_on(stream.read_to_end(&mut buf)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfResources);
    assert_eq!(&buf, b"12345678", "what fitted is kept");
}

#[test]
fn write_fmt_formats_then_writes_everything() {
    let mut stream = trickle(b"", 3);
    let mut scratch = [0u8; 64];
    let path = "/index.html";
    block_on(stream.write_fmt(&mut scratch, format_args!("GET {path} HTTP/1.1\r\n"))).unwrap();
    assert_eq!(stream.output, b"GET /index.html HTTP/1.1\r\n");
}

#[test]
fn write_fmt_that_does_not_fit_writes_nothing() {
    let mut stream = trickle(b"", 3);
    let mut scratch = [0u8; 8];
    let err = block_on(stream.write_fmt(&mut scratch, format_args!("{}", 123_456_789_012u64)))
        .unwrap_err();
    assert_eq!(err, ErrorKind::OutOfResources);
    assert!(stream.output.is_empty());
}

#[test]
fn copy_moves_every_byte_and_counts_them() {
    let data: Vec<u8> = (0..=255).cycle().take(1000).collect();
    let mut from = trickle(&data, 7);
    let mut to = trickle(b"", 5);
    let mut buf = [0u8; 16];
    let copied = block_on(copy(&mut from, &mut to, &mut buf)).unwrap();
    assert_eq!(copied, 1000);
    assert_eq!(to.output, data);
}

#[test]
fn copy_says_which_side_failed() {
    let mut from = trickle(b"abc", 2);
    let mut to = Trickle {
        accepts_nothing: true,
        ..Default::default()
    };
    let mut buf = [0u8; 4];
    let err = block_on(copy(&mut from, &mut to, &mut buf)).unwrap_err();
    assert_eq!(err, portnet::CopyError::Write(ErrorKind::WriteZero));
    assert_eq!(err.kind(), ErrorKind::WriteZero);
}

#[test]
fn read_line_splits_lines_across_small_reads_and_keeps_the_rest() {
    let mut storage = [0u8; 8];
    let mut reader = BufReader::new(trickle(b"first line\nsecond\nend", 3), &mut storage);
    let mut line = [0u8; 32];
    let n = block_on(reader.read_line(&mut line)).unwrap();
    assert_eq!(&line[..n], b"first line\n");
    let n = block_on(reader.read_line(&mut line)).unwrap();
    assert_eq!(&line[..n], b"second\n");
    let n = block_on(reader.read_line(&mut line)).unwrap();
    assert_eq!(&line[..n], b"end", "a last piece without the delimiter");
    assert_eq!(
        block_on(reader.read_line(&mut line)),
        Ok(0),
        "then end of stream"
    );
}

#[test]
fn read_until_refuses_a_piece_longer_than_the_output() {
    let mut storage = [0u8; 4];
    let mut reader = BufReader::new(trickle(b"0123456789;rest", 4), &mut storage);
    let mut piece = [0u8; 6];
    let err = block_on(reader.read_until(b';', &mut piece)).unwrap_err();
    assert_eq!(err, ErrorKind::OutOfResources);
}

#[test]
fn buf_reader_reads_buffered_bytes_first_and_passes_writes_through() {
    let mut storage = [0u8; 16];
    let mut reader = BufReader::new(trickle(b"line\nbody bytes", 16), &mut storage);
    let mut line = [0u8; 8];
    let n = block_on(reader.read_line(&mut line)).unwrap();
    assert_eq!(&line[..n], b"line\n");
    let mut rest = [0u8; 32];
    let n = block_on(reader.read_to_end(&mut rest)).unwrap();
    assert_eq!(&rest[..n], b"body bytes");
    block_on(reader.write_all(b"reply")).unwrap();
    assert_eq!(reader.get_ref().output, b"reply");
}

#[test]
fn fill_buf_and_consume() {
    let mut storage = [0u8; 4];
    let mut reader = BufReader::new(trickle(b"abcdef", 4), &mut storage);
    let got = block_on(reader.fill_buf()).unwrap().to_vec();
    assert_eq!(got, b"abcd");
    reader.consume(3);
    assert_eq!(reader.buffer(), b"d");
    reader.consume(10);
    let got = block_on(reader.fill_buf()).unwrap().to_vec();
    assert_eq!(got, b"ef");
}

#[test]
fn buf_reader_with_an_empty_buffer_says_invalid_input() {
    let mut storage = [0u8; 0];
    let mut reader = BufReader::new(trickle(b"abc", 4), &mut storage);
    assert_eq!(
        block_on(reader.fill_buf()).unwrap_err(),
        ErrorKind::InvalidInput
    );
}

#[test]
fn result_ext_keeps_the_kind() {
    let failed: Result<(), std::io::Error> = Err(std::io::ErrorKind::ConnectionReset.into());
    assert_eq!(failed.kind(), Err(ErrorKind::ConnectionReset));
}

/// Ready after `polls` polls, waking itself in between.
struct ReadyAfter {
    polls: u32,
    value: u32,
}

impl Future for ReadyAfter {
    type Output = u32;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        if self.polls == 0 {
            return Poll::Ready(self.value);
        }
        self.polls -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

fn after(polls: u32, value: u32) -> ReadyAfter {
    ReadyAfter { polls, value }
}

#[test]
fn join_array_waits_for_all_and_keeps_the_order() {
    let out = block_on(join_array([
        after(3, 1),
        after(0, 2),
        after(7, 3),
        after(1, 4),
    ]));
    assert_eq!(out, [1, 2, 3, 4]);
}

#[test]
fn join_array_takes_pinned_futures_of_one_async_fn() {
    async fn worker(id: u32) -> u32 {
        after(id, id).await * 2
    }
    let (a, b, c) = (pin!(worker(1)), pin!(worker(2)), pin!(worker(3)));
    assert_eq!(block_on(join_array([a, b, c])), [2, 4, 6]);
}

#[test]
fn select_array_returns_the_first_to_finish_with_its_index() {
    let out = block_on(select_array([after(5, 10), after(2, 20), after(3, 30)]));
    assert_eq!(out, (1, 20));
}

#[test]
fn join3_and_select3_over_different_types() {
    let (a, b, c) = block_on(join3(
        after(2, 1),
        pin!(async { "two" }),
        pin!(async { 3u8 }),
    ));
    assert_eq!((a, b, c), (1, "two", 3));
    let first = block_on(select3(after(4, 1), after(1, 2), after(2, 3)));
    assert_eq!(first, Either3::Second(2));
}
