//! A TCP echo server and client written only against the portnet traits: no
//! runtime, no stack, no allocation. The same code runs on tokio, smol, the smoltcp
//! backend and inside firmware.
#![no_std]
#![forbid(unsafe_code)]

use core::net::SocketAddr;
use core::pin::pin;

use portnet::future::join;
use portnet::{Error, ErrorKind, ReadExt, TcpConnect, TcpListener, TcpStream, WriteExt};

/// What went wrong in an echo exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EchoError {
    /// The stack failed with this kind.
    Stack(ErrorKind),
    /// The echo differed from what was sent, first at this byte offset.
    Mismatch {
        /// Offset of the first wrong or missing byte.
        offset: usize,
    },
}

impl<E: Error> From<E> for EchoError {
    fn from(e: E) -> Self {
        Self::Stack(e.kind())
    }
}

/// Serves one connection: writes back every byte it reads until the peer
/// half-closes, then closes its own side. Returns the number of bytes echoed.
///
/// # Cancel safety
///
/// Not cancel safe: bytes read but not yet written back are lost with the future.
pub async fn serve_connection<C: TcpStream>(mut conn: C, buf: &mut [u8]) -> Result<u64, EchoError> {
    let mut echoed = 0u64;
    loop {
        let n = conn.read(buf).await?;
        if n == 0 {
            conn.close().await?;
            return Ok(echoed);
        }
        conn.write_all(&buf[..n]).await?;
        echoed += n as u64;
    }
}

/// Accepts `connections` connections one after the other and serves each.
/// Returns the total number of bytes echoed.
///
/// # Cancel safety
///
/// Not cancel safe, as [`serve_connection`].
pub async fn serve<L: TcpListener>(
    listener: &L,
    connections: usize,
    buf: &mut [u8],
) -> Result<u64, EchoError> {
    let mut total = 0;
    for _ in 0..connections {
        let (conn, _peer) = listener.accept().await?;
        total += serve_connection(conn, buf).await?;
    }
    Ok(total)
}

/// Sends `data` to the echo server at `server`, half-closes, and checks that exactly
/// `data` comes back before the server's EOF. Writing and reading run at the same
/// time on the connection's split halves, so `data` may be larger than every buffer
/// on the way.
///
/// # Cancel safety
///
/// Not cancel safe: the exchange is abandoned midway.
pub async fn exchange<S: TcpConnect>(
    stack: &S,
    server: SocketAddr,
    data: &[u8],
) -> Result<(), EchoError> {
    let mut conn = stack.connect(server).await?;
    let (mut reader, mut writer) = conn.split();
    let send = pin!(async {
        for chunk in data.chunks(1400) {
            writer.write_all(chunk).await?;
        }
        writer.close().await?;
        Ok::<(), EchoError>(())
    });
    let receive = pin!(async {
        let mut offset = 0;
        let mut buf = [0u8; 512];
        loop {
            let n = reader.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            match data.get(offset..offset + n) {
                Some(expected) if expected == &buf[..n] => offset += n,
                _ => {
                    let wrong = (0..n).find(|&i| data.get(offset + i) != Some(&buf[i]));
                    return Err(EchoError::Mismatch {
                        offset: offset + wrong.unwrap_or(0),
                    });
                }
            }
        }
        if offset == data.len() {
            Ok(())
        } else {
            Err(EchoError::Mismatch { offset })
        }
    });
    let (sent, received) = join(send, receive).await;
    sent?;
    received
}
