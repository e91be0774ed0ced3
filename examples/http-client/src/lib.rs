//! An HTTP/1.1 GET client written only against the portnet traits: `no_std`, no
//! allocation, every buffer the caller's. It connects by name or IP literal
//! ([`portnet::connect_endpoint`]), reads `Content-Length`, chunked and
//! close-delimited bodies, and keeps one deadline from the stack's [`Clock`] for
//! the whole exchange.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use core::time::Duration;
//! use portnet::Clock as _;
//!
//! let stack = portnet_tokio::Tokio::new();
//! let (mut work, mut body) = ([0u8; 1024], [0u8; 4096]);
//! let deadline = stack.now() + Duration::from_secs(10);
//! let page = portnet_http_client::get(&stack, "http://example.com/", deadline, &mut work, &mut body)
//!     .await?;
//! println!("{} ({} bytes)", page.status, page.body.len());
//! # Ok(()) }
//! ```
//!
//! # Errors
//!
//! One error type, the stack's `S::Error`, so every call is a `?`; the client's own
//! failures are its kinds (the stack's errors convert from an [`ErrorKind`]):
//!
//! | kind | when |
//! |---|---|
//! | `InvalidInput` | the URL is not `http://host[:port][/path]` |
//! | `Unsupported` | `https://`, or a transfer coding other than `chunked` |
//! | `InvalidData` | the response breaks HTTP/1.1 (status line, header, chunk size, conflicting lengths) |
//! | `OutOfResources` | a line longer than half of `work`, too many headers, or a body longer than `body` |
//! | `UnexpectedEof` | the server closed before the response was complete |
//! | `TimedOut` | the deadline passed |
//!
//! A status such as 404 or 500 is a response, not an error: look at
//! [`Response::status`].
#![no_std]
#![deny(missing_docs)]

use core::str;

use portnet::buf::BufReader;
use portnet::net::Endpoint;
use portnet::{Clock, Dns, ErrorKind, Instant, Read, ReadExt, TcpConnect, Write, WriteExt};

/// At most this many header lines per response (trailers included): a server
/// cannot keep the client busy with an endless header within the deadline.
pub const MAX_HEADERS: usize = 64;

/// A response: its status and its body, in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response<'b> {
    /// The status code (200, 404, …).
    pub status: u16,
    /// The body, decoded from its transfer coding.
    pub body: &'b [u8],
}

/// An `http://` URL, split into what the request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Url<'a> {
    /// Where to connect: the host and the port (80 by default).
    pub endpoint: Endpoint<'a>,
    /// The authority as written, for the `Host` header.
    pub authority: &'a str,
    /// The path and query (`/` when empty; a bare `?query` is sent as `/?query`);
    /// the fragment is dropped.
    pub target: &'a str,
}

impl<'a> Url<'a> {
    /// Parses `http://host[:port][/path][?query][#fragment]`.
    ///
    /// # Errors
    ///
    /// `Unsupported` for another scheme (`https://` needs TLS around the stack);
    /// `InvalidInput` for anything else that is not such a URL, including user
    /// information (`user@host`) and spaces or control bytes in the target, which
    /// would change the request line.
    pub fn parse(url: &'a str) -> Result<Self, ErrorKind> {
        let Some(rest) = strip_prefix_ignore_case(url, "http://") else {
            return Err(match url.contains("://") {
                true => ErrorKind::Unsupported,
                false => ErrorKind::InvalidInput,
            });
        };
        let rest = rest.split('#').next().unwrap_or(rest);
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(split);
        let target = if target.is_empty() { "/" } else { target };
        if authority.contains('@') || target.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(ErrorKind::InvalidInput);
        }
        let endpoint = Endpoint::parse_with_default_port(authority, 80)
            .map_err(|_| ErrorKind::InvalidInput)?;
        Ok(Self {
            endpoint,
            authority,
            target,
        })
    }
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// Fetches `url` with a GET and reads the whole response before `deadline` (on
/// the stack's clock).
///
/// `work` holds the request, the read-ahead buffer and the longest line of the
/// response (status, header, chunk size): half of it each; 1 KiB suits most
/// servers. The body is decoded into `body`, which bounds it.
///
/// The connection is opened by [`portnet::connect_endpoint`]: an IP literal needs
/// no resolver (a stack without DNS passes [`portnet::NoDns`] around itself), a
/// name is resolved and its addresses tried in turn (IPv4 first). The request asks
/// the server to close the connection after the response.
///
/// # Errors
///
/// The stack's error, with the kinds of the [crate docs](crate#errors).
///
/// # Cancel safety
///
/// Cancel safe: dropping the future drops the connection; `body` may hold part of
/// the response.
pub async fn get<'b, S>(
    stack: &S,
    url: &str,
    deadline: Instant,
    work: &mut [u8],
    body: &'b mut [u8],
) -> Result<Response<'b>, S::Error>
where
    S: TcpConnect + Dns + Clock,
{
    let url = Url::parse(url)?;
    let fetch = async {
        let mut conn = portnet::connect_endpoint(stack, &url.endpoint).await?;
        exchange(&mut conn, &url, work, body).await
    };
    portnet::time::timeout_at(stack, deadline, fetch)
        .await
        .map_err(ErrorKind::from)?
}

/// [`get`] over the [`portnet::send`] traits: its future is `Send`, for generic
/// code that spawns requests on a multi-threaded runtime.
pub mod send {
    use portnet::send::{Clock, Dns, TcpConnect};
    use portnet::{ErrorKind, Instant};

    use super::{Response, Url, exchange};

    /// As [`super::get`] (buffers, errors).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`super::get`].
    pub async fn get<'b, S>(
        stack: &S,
        url: &str,
        deadline: Instant,
        work: &mut [u8],
        body: &'b mut [u8],
    ) -> Result<Response<'b>, S::Error>
    where
        S: TcpConnect + Dns + Clock,
    {
        let url = Url::parse(url)?;
        let fetch = async {
            let mut conn = portnet::send::connect_endpoint(stack, &url.endpoint).await?;
            exchange(&mut conn, &url, work, body).await
        };
        portnet::send::timeout_at(stack, deadline, fetch)
            .await
            .map_err(ErrorKind::from)?
    }
}

/// Sends the GET for `url` on an open connection and reads the response; the
/// part of [`get`] that needs only a stream. A TLS stream, a test double or a
/// connection of any stack will do; its future is `Send` when `C` is, which is
/// why [`get`] and [`send::get`] can share it.
///
/// `work` and `body` as for [`get`].
///
/// # Errors
///
/// The stream's error, with the kinds of the [crate docs](crate#errors).
///
/// # Cancel safety
///
/// Not cancel safe: the request may be half written and the response half read.
pub async fn exchange<'b, C>(
    conn: &mut C,
    url: &Url<'_>,
    work: &mut [u8],
    body: &'b mut [u8],
) -> Result<Response<'b>, C::Error>
where
    C: Read + Write + Unpin,
{
    let (read_ahead, line) = work.split_at_mut(work.len() / 2);
    let slash = if url.target.starts_with('/') { "" } else { "/" };
    // The request is formatted into `line` and written in one piece. The future
    // is bound first so that the `format_args!` temporaries (not `Send`) are
    // dropped before the `.await`: `exchange` stays `Send` for spawned callers.
    let request = conn.write_fmt(
        line,
        format_args!(
            "GET {slash}{} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
             Accept-Encoding: identity\r\nUser-Agent: portnet-http-client\r\n\r\n",
            url.target, url.authority
        ),
    );
    request.await?;
    conn.flush().await?;
    let mut reader = BufReader::new(conn, read_ahead);
    // Interim responses (100 Continue, 103 Early Hints) come before the real one.
    let (status, framing) = loop {
        let status = read_status(&mut reader, line).await?;
        let framing = read_headers(&mut reader, line).await?;
        match status {
            101 => return Err(ErrorKind::InvalidData.into()), // we asked for no upgrade
            100..=199 => continue,
            _ => break (status, framing),
        }
    };
    let len = match framing {
        // RFC 9112 §6.3: these never have a body, whatever the headers say.
        _ if status == 204 || status == 304 => 0,
        Framing::Chunked => read_chunked(&mut reader, line, body).await?,
        Framing::Length(len) => {
            let into = body.get_mut(..len).ok_or(ErrorKind::OutOfResources)?;
            reader.read_exact(into).await?;
            len
        }
        Framing::UntilClose => reader.read_to_end(body).await?,
    };
    Ok(Response {
        status,
        body: &body[..len],
    })
}

/// How the body's end is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Chunked,
    Length(usize),
    UntilClose,
}

/// Reads one line into `line` and returns it without its `\r\n` (a bare `\n` is
/// accepted, as RFC 9112 §2.2 allows). The end of the stream first is
/// `UnexpectedEof`; a line longer than `line` is `OutOfResources` (from `read_line`).
async fn next_line<'l, R>(
    reader: &mut BufReader<'_, R>,
    line: &'l mut [u8],
) -> Result<&'l [u8], R::Error>
where
    R: Read + Unpin,
{
    let n = reader.read_line(line).await?;
    let Some(text) = line[..n].strip_suffix(b"\n") else {
        // `read_line` stops early only at the end of the stream.
        return Err(ErrorKind::UnexpectedEof.into());
    };
    Ok(text.strip_suffix(b"\r").unwrap_or(text))
}

/// `HTTP/1.x SSS reason` → `SSS`.
async fn read_status<R: Read + Unpin>(
    reader: &mut BufReader<'_, R>,
    line: &mut [u8],
) -> Result<u16, R::Error> {
    let text = next_line(reader, line).await?;
    parse_status(text).ok_or_else(|| ErrorKind::InvalidData.into())
}

fn parse_status(line: &[u8]) -> Option<u16> {
    let rest = line.strip_prefix(b"HTTP/1.")?;
    let (&minor, rest) = rest.split_first()?;
    let rest = rest.strip_prefix(b" ")?;
    let code = rest.get(..3)?;
    // After the code: nothing, or a space and the reason phrase.
    if !(minor.is_ascii_digit() && code.iter().all(u8::is_ascii_digit)) {
        return None;
    }
    if !(rest.len() == 3 || rest[3] == b' ') {
        return None;
    }
    let code = str::from_utf8(code).ok()?.parse().ok()?;
    (100..=999).contains(&code).then_some(code)
}

/// Reads header lines up to the empty one, keeping only what frames the body.
async fn read_headers<R: Read + Unpin>(
    reader: &mut BufReader<'_, R>,
    line: &mut [u8],
) -> Result<Framing, R::Error> {
    let mut length = None;
    let mut chunked = false;
    for _ in 0..MAX_HEADERS {
        let text = next_line(reader, line).await?;
        if text.is_empty() {
            // RFC 9112 §6.3: Transfer-Encoding overrides Content-Length.
            return Ok(match (chunked, length) {
                (true, _) => Framing::Chunked,
                (false, Some(len)) => Framing::Length(len),
                (false, None) => Framing::UntilClose,
            });
        }
        let (name, value) = parse_header(text).ok_or(ErrorKind::InvalidData)?;
        if name.eq_ignore_ascii_case(b"content-length") {
            let len = parse_decimal(value).ok_or(ErrorKind::InvalidData)?;
            // Two different lengths: which one frames the body is anyone's guess.
            if length.is_some_and(|earlier| earlier != len) {
                return Err(ErrorKind::InvalidData.into());
            }
            length = Some(len);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            if !value.eq_ignore_ascii_case(b"chunked") {
                // gzip and the like: we asked for identity and cannot decode them.
                return Err(ErrorKind::Unsupported.into());
            }
            chunked = true;
        }
    }
    Err(ErrorKind::OutOfResources.into())
}

/// `Name: value` → (name, value without surrounding spaces).
fn parse_header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    // An empty name, a space before the colon or a folded line (leading space)
    // are how responses are smuggled past a proxy: refuse them (RFC 9112 §5).
    if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
        return None;
    }
    Some((name, value.trim_ascii()))
}

fn is_token(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Decimal digits only (no sign, no spaces), without overflow.
fn parse_decimal(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        let digit = (d as char).to_digit(10)?;
        n.checked_mul(10)?.checked_add(digit as usize)
    })
}

/// A chunk-size line: hex digits, then optional `;extensions`.
fn parse_chunk_size(line: &[u8]) -> Option<usize> {
    let end = line.iter().position(|&b| b == b';').unwrap_or(line.len());
    let digits = line[..end].trim_ascii();
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0usize, |n, &d| {
        let digit = (d as char).to_digit(16)?;
        n.checked_mul(16)?.checked_add(digit as usize)
    })
}

/// Decodes a chunked body into `body`; returns its length. Trailers are read
/// and dropped.
async fn read_chunked<R: Read + Unpin>(
    reader: &mut BufReader<'_, R>,
    line: &mut [u8],
    body: &mut [u8],
) -> Result<usize, R::Error> {
    let mut filled = 0usize;
    loop {
        let size =
            parse_chunk_size(next_line(reader, line).await?).ok_or(ErrorKind::InvalidData)?;
        if size == 0 {
            break;
        }
        let end = filled
            .checked_add(size)
            .filter(|&end| end <= body.len())
            .ok_or(ErrorKind::OutOfResources)?;
        reader.read_exact(&mut body[filled..end]).await?;
        filled = end;
        // Every chunk's data ends with a line break of its own.
        if !next_line(reader, line).await?.is_empty() {
            return Err(ErrorKind::InvalidData.into());
        }
    }
    for _ in 0..MAX_HEADERS {
        let trailer = next_line(reader, line).await?;
        if trailer.is_empty() {
            return Ok(filled);
        }
        parse_header(trailer).ok_or(ErrorKind::InvalidData)?;
    }
    Err(ErrorKind::OutOfResources.into())
}

#[cfg(test)]
mod tests;
