//! Peer behaviours, written against the traits only, so that the other end of a
//! case can run anywhere: on the host kernel, on a second socket of the same stack,
//! or inside firmware serving a host-side case.

use core::pin::pin;

use portnet::{Read, ReadExt, TcpStream, Write, WriteExt};

use crate::support::{Check, both, check_pattern, fill_pattern};
use crate::{CaseResult, ensure};

/// Echo: writes back every byte it reads until EOF, then closes.
pub async fn serve_echo<C: TcpStream>(conn: &mut C) -> CaseResult {
    let mut buf = [0u8; 1024];
    loop {
        let n = conn.read(&mut buf).await.check("echo read")?;
        if n == 0 {
            return conn.close().await.check("echo close");
        }
        conn.write_all(&buf[..n]).await.check("echo write")?;
    }
}

/// Sends `len` pattern bytes in `chunk`-sized writes while reading them back, then
/// half-closes and expects EOF after exactly `len` bytes.
pub async fn echo_client<C: TcpStream>(conn: &mut C, len: usize, chunk: usize) -> CaseResult {
    let (mut reader, mut writer) = conn.split();
    let send = pin!(async {
        let mut buf = [0u8; 1024];
        let chunk = chunk.clamp(1, buf.len());
        let mut sent = 0;
        while sent < len {
            let n = chunk.min(len - sent);
            fill_pattern(&mut buf[..n], sent);
            writer
                .write_all(&buf[..n])
                .await
                .check("echo client write")?;
            sent += n;
        }
        writer.close().await.check("echo client close")
    });
    let receive = pin!(async {
        let mut buf = [0u8; 777];
        let mut received = 0;
        loop {
            let n = reader.read(&mut buf).await.check("echo client read")?;
            if n == 0 {
                break;
            }
            check_pattern(&buf[..n], received, "echoed data")?;
            received += n;
        }
        ensure!(received == len, "echo returned {received} bytes of {len}");
        Ok(())
    });
    both(send, receive).await
}

/// Write and read sizes the pattern behaviours cycle through.
const CHUNKS: [usize; 7] = [1, 7, 64, 333, 512, 1460, 2048];

/// Source: writes `len` bytes of the suite's pattern in varied chunk sizes, then flushes.
pub async fn send_pattern<W: Write + Unpin>(writer: &mut W, len: usize, what: &str) -> CaseResult {
    let mut buf = [0u8; 2048];
    let mut sent = 0;
    let mut round = 0;
    while sent < len {
        let n = CHUNKS[round % CHUNKS.len()].min(len - sent);
        round += 1;
        fill_pattern(&mut buf[..n], sent);
        writer.write_all(&buf[..n]).await.check(what)?;
        sent += n;
    }
    writer.flush().await.check(what)
}

/// Checked sink: reads exactly `len` bytes in varied read sizes and checks each
/// against the pattern (lost, duplicated or reordered bytes fail).
pub async fn receive_pattern<R: Read + Unpin>(
    reader: &mut R,
    len: usize,
    what: &str,
) -> CaseResult {
    let mut buf = [0u8; 1500];
    let mut received = 0;
    let mut round = 0;
    while received < len {
        let want = CHUNKS[round % CHUNKS.len()].min(buf.len());
        round += 1;
        let n = reader.read(&mut buf[..want]).await.check(what)?;
        ensure!(n != 0, "{what}: EOF after {received} of {len} bytes");
        ensure!(
            n <= want,
            "{what}: read claims {n} bytes into a {want}-byte buffer"
        );
        check_pattern(&buf[..n], received, what)?;
        received += n;
    }
    Ok(())
}
