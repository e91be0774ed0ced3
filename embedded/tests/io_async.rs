//! The embedded-io-async adapters over real loopback sockets, both directions.

#![cfg(feature = "embedded-nal-async")]

use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;

use embedded_io_async::{Read as _, Write as _};
use portnet::{Error as _, ErrorKind, ReadExt as _, TcpConnect as _, WriteExt as _};
use portnet_embedded::{EmbeddedIo, PortnetError, PortnetIo};
use portnet_tokio::Tokio;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const DEADLINE: Duration = Duration::from_secs(10);

/// A tokio echo server for one connection: echoes until EOF, then closes.
async fn echo_peer() -> (SocketAddr, tokio::task::JoinHandle<usize>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let mut total = 0;
        loop {
            let n = conn.read(&mut buf).await.unwrap();
            if n == 0 {
                conn.shutdown().await.unwrap();
                return total;
            }
            total += n;
            conn.write_all(&buf[..n]).await.unwrap();
        }
    });
    (addr, task)
}

/// A tokio peer that accepts one connection and resets it (linger 0, then drop)
/// once it has read one byte.
async fn resetting_peer() -> SocketAddr {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut byte = [0u8; 1];
        conn.read_exact(&mut byte).await.unwrap();
        socket2::SockRef::from(&conn)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(conn);
    });
    addr
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[tokio::test]
async fn portnet_stream_as_embedded_io_async_echoes() {
    tokio::time::timeout(DEADLINE, async {
        let (addr, peer) = echo_peer().await;
        let conn = Tokio::new().connect(addr).await.unwrap();
        let mut stream = EmbeddedIo::new(conn);
        let data = pattern(100_000);
        let mut back = vec![0u8; data.len()];
        // Write in chunks and read the echo back as we go, so neither side's
        // buffers fill up.
        for (chunk, out) in data.chunks(1000).zip(back.chunks_mut(1000)) {
            stream.write_all(chunk).await.unwrap();
            stream.flush().await.unwrap();
            stream.read_exact(out).await.unwrap();
        }
        assert_eq!(back, data);
        stream.close().await.unwrap();
        let mut rest = [0u8; 8];
        assert_eq!(stream.read(&mut rest).await.unwrap(), 0, "EOF after close");
        assert_eq!(peer.await.unwrap(), data.len());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn embedded_io_kind_after_reset() {
    tokio::time::timeout(DEADLINE, async {
        let addr = resetting_peer().await;
        let conn = Tokio::new().connect(addr).await.unwrap();
        let mut stream = EmbeddedIo::new(conn);
        stream.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 16];
        let err = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(
            embedded_io::Error::kind(&err),
            embedded_io::ErrorKind::ConnectionReset
        );
        assert_eq!(err.portnet_kind(), ErrorKind::ConnectionReset);
    })
    .await
    .unwrap();
}

/// An embedded-io-async stream from a foreign stack (std-embedded-nal-async).
async fn foreign_connection(
    addr: SocketAddr,
) -> impl embedded_io_async::Read<Error = std::io::Error>
+ embedded_io_async::Write<Error = std::io::Error> {
    use embedded_nal_async::TcpConnect as _;
    // The stack is a unit value; its connections do not borrow it.
    let stack = std_embedded_nal_async::Stack::default();
    stack.connect(addr).await.unwrap()
}

#[tokio::test]
async fn embedded_io_async_stream_as_portnet_echoes() {
    tokio::time::timeout(DEADLINE, async {
        let (addr, peer) = echo_peer().await;
        let mut stream = PortnetIo::new(foreign_connection(addr).await);
        let data = pattern(100_000);
        let mut back = vec![0u8; data.len()];
        for (chunk, out) in data.chunks(1000).zip(back.chunks_mut(1000)) {
            stream.write_all(chunk).await.unwrap();
            stream.flush().await.unwrap();
            stream.read_exact(out).await.unwrap();
        }
        assert_eq!(back, data);
        // embedded-io cannot half-close: close says so, after flushing.
        let err = stream.close().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(matches!(err, PortnetError::Adapter(ErrorKind::Unsupported)));
        // Dropping the stream closes it; the echo peer sees EOF and reports the total.
        drop(stream);
        assert_eq!(peer.await.unwrap(), data.len());
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn portnet_kind_of_a_foreign_reset() {
    tokio::time::timeout(DEADLINE, async {
        let addr = resetting_peer().await;
        let mut stream = PortnetIo::new(foreign_connection(addr).await);
        stream.write_all(b"x").await.unwrap();
        let mut buf = [0u8; 16];
        let err = stream.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err:?}");
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn empty_buffers_return_zero_at_once() {
    tokio::time::timeout(DEADLINE, async {
        let (addr, _peer) = echo_peer().await;
        let mut stream = PortnetIo::new(foreign_connection(addr).await);
        assert_eq!(stream.read(&mut []).await.unwrap(), 0);
        assert_eq!(stream.write(&[]).await.unwrap(), 0);
    })
    .await
    .unwrap();
}
