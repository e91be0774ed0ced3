//! The response parser against a scripted stream in memory: every framing, and
//! hostile responses, which must fail with their kind and never panic.

extern crate alloc;
extern crate std;

use alloc::string::String;
use alloc::vec::Vec;
use core::pin::Pin;
use core::task::{Context, Poll};

use portnet::future::block_on_ready;
use portnet::{ErrorKind, ErrorType, Read, Write};

use super::*;

/// A stream that answers with `response`, `step` bytes per read, and records
/// what was written.
struct Scripted<'a> {
    response: &'a [u8],
    step: usize,
    written: Vec<u8>,
}

impl ErrorType for Scripted<'_> {
    type Error = ErrorKind;
}

impl Read for Scripted<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<usize, ErrorKind>> {
        let n = self.step.min(buf.len()).min(self.response.len());
        buf[..n].copy_from_slice(&self.response[..n]);
        self.response = &self.response[n..];
        Poll::Ready(Ok(n))
    }
}

impl Write for Scripted<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, ErrorKind>> {
        self.written.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        Poll::Ready(Ok(()))
    }
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), ErrorKind>> {
        Poll::Ready(Ok(()))
    }
}

/// A status and body, or the error's kind.
type Outcome = Result<(u16, Vec<u8>), ErrorKind>;

/// Runs one exchange against `response` read `step` bytes at a time; returns
/// the status and body, and the request that was sent.
fn run(response: &[u8], step: usize) -> (Outcome, Vec<u8>) {
    let url = Url::parse("http://example.com:8080/a?b=c#frag").unwrap();
    let mut conn = Scripted {
        response,
        step,
        written: Vec::new(),
    };
    let mut work = [0u8; 256];
    let mut body = [0u8; 64];
    let result = block_on_ready(exchange(&mut conn, &url, &mut work, &mut body))
        .map(|r| (r.status, r.body.to_vec()));
    (result, conn.written)
}

fn body_of(response: &[u8]) -> Outcome {
    // Byte by byte and all at once must agree: buffer boundaries change nothing.
    let (whole, _) = run(response, usize::MAX);
    let (by_byte, _) = run(response, 1);
    assert_eq!(whole, by_byte, "{}", String::from_utf8_lossy(response));
    whole
}

#[test]
fn the_request_line_and_host_header() {
    let (_, request) = run(b"HTTP/1.1 204 No Content\r\n\r\n", usize::MAX);
    let request = String::from_utf8(request).unwrap();
    assert!(request.starts_with("GET /a?b=c HTTP/1.1\r\nHost: example.com:8080\r\n"));
    assert!(request.contains("Connection: close\r\n"));
    assert!(request.ends_with("\r\n\r\n"));
}

#[test]
fn urls() {
    let url = Url::parse("http://10.0.2.2:8080/").unwrap();
    assert_eq!(
        url.endpoint.to_socket_addr(),
        Some(([10, 0, 2, 2], 8080).into())
    );
    let url = Url::parse("HTTP://[::1]?x").unwrap();
    assert_eq!(
        (url.authority, url.target, url.endpoint.port()),
        ("[::1]", "?x", 80)
    );
    assert_eq!(Url::parse("http://host").unwrap().target, "/");
    assert_eq!(Url::parse("https://host/"), Err(ErrorKind::Unsupported));
    for bad in [
        "host/",
        "http://",
        "http://a b/",
        "http://h/a b",
        "http://u@h/",
        "http://h:x/",
    ] {
        assert_eq!(Url::parse(bad), Err(ErrorKind::InvalidInput), "{bad}");
    }
}

#[test]
fn content_length_body() {
    let got = body_of(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhello");
    assert_eq!(got, Ok((200, b"hello".to_vec())));
}

#[test]
fn chunked_body_with_extensions_and_trailers() {
    let got = body_of(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n\
          5;name=value\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nExpires: never\r\n\r\n",
    );
    assert_eq!(got, Ok((200, b"hello 0123456789".to_vec())));
}

#[test]
fn close_delimited_body_and_bare_line_feeds() {
    let got = body_of(b"HTTP/1.0 404 Not Found\nServer: x\n\nnot here");
    assert_eq!(got, Ok((404, b"not here".to_vec())));
}

#[test]
fn interim_responses_are_skipped_and_204_has_no_body() {
    let got = body_of(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n",
    );
    assert_eq!(got, Ok((204, Vec::new())));
}

#[test]
fn too_long_is_out_of_resources() {
    let mut long_header = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    long_header.extend([b'a'; 200]);
    long_header.extend(b"\r\n\r\n");
    let many_headers = [
        &b"HTTP/1.1 200 OK\r\n"[..],
        &b"A: b\r\n".repeat(MAX_HEADERS + 1),
    ]
    .concat();
    for response in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n",
        &[&b"HTTP/1.1 200 OK\r\n\r\n"[..], &[b'x'; 65]].concat(),
        &long_header,
        &many_headers,
    ] {
        assert_eq!(body_of(response), Err(ErrorKind::OutOfResources));
    }
}

#[test]
fn broken_responses_are_invalid_data() {
    for response in [
        &b"HTTP/2 200 OK\r\n\r\n"[..],
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/1.1 099 Low\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
        b"HTTP/1.1 101 Switching\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n folded\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
    ] {
        assert_eq!(
            body_of(response),
            Err(ErrorKind::InvalidData),
            "{}",
            String::from_utf8_lossy(response)
        );
    }
    let gzip = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    assert_eq!(body_of(gzip), Err(ErrorKind::Unsupported));
}

#[test]
fn every_truncation_fails_cleanly() {
    let full = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    for end in 0..full.len() {
        let got = body_of(&full[..end]);
        assert_eq!(got, Err(ErrorKind::UnexpectedEof), "cut at {end}");
    }
    let full = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
    for end in 0..full.len() {
        assert_eq!(
            body_of(&full[..end]),
            Err(ErrorKind::UnexpectedEof),
            "cut at {end}"
        );
    }
}

#[test]
fn arbitrary_bytes_never_panic() {
    // A cheap deterministic sweep (xorshift) over response-like noise.
    let alphabet =
        b"HTP/1. 0123456789abcdefABCDEF:;\r\n\t -xContent-LengthTransfer-Encodingchunked";
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..3000 {
        let mut response = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..(state % 120) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            response.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        let _ = run(&response, 1 + (state % 7) as usize);
    }
}
