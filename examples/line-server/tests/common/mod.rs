//! Clients of the line server, written once against the traits and run on
//! every backend.
#![allow(dead_code)] // each test file uses some of them

use core::net::SocketAddr;
use core::time::Duration;

use portnet::buf::BufReader;
use portnet::{Clock, Error, ReadExt, TcpConnect, WriteExt};

/// Sends each line, reads each reply; then half-closes and checks the server
/// closes too. Resolves to the replies, without their line breaks.
pub(crate) async fn session<S: TcpConnect>(
    stack: &S,
    server: SocketAddr,
    lines: &[&str],
) -> Result<Vec<String>, S::Error> {
    let mut conn = stack.connect(server).await?;
    let mut storage = [0u8; 256];
    let mut conn = BufReader::new(&mut conn, &mut storage);
    let mut replies = Vec::new();
    let mut reply = [0u8; 256];
    for line in lines {
        let mut scratch = [0u8; 256];
        // Bound first: `format_args!`'s temporaries are not `Send` and must not
        // live across the `.await` of a future that is spawned.
        let send = conn.write_fmt(&mut scratch, format_args!("{line}\r\n"));
        send.await?;
        let n = conn.read_line(&mut reply).await?;
        replies.push(String::from_utf8_lossy(&reply[..n]).trim_end().to_owned());
    }
    conn.close().await?;
    let mut rest = [0u8; 64];
    assert_eq!(
        conn.read_to_end(&mut rest).await?,
        0,
        "nothing after the replies"
    );
    Ok(replies)
}

/// The replies a session of `session_lines(i)` must get.
pub(crate) fn session_lines(i: usize) -> ([String; 3], [String; 3]) {
    let lines = [
        format!("ECHO client {i}"),
        format!("UPPER client {i}"),
        "PING".to_owned(),
    ];
    let replies = [
        format!("client {i}"),
        format!("CLIENT {i}"),
        "PONG".to_owned(),
    ];
    (lines, replies)
}

/// Runs session `i` and checks its replies.
pub(crate) async fn checked_session<S: TcpConnect>(
    stack: &S,
    server: SocketAddr,
    i: usize,
) -> Result<(), S::Error> {
    let (lines, expected) = session_lines(i);
    let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
    let replies = session(stack, server, &lines).await?;
    assert_eq!(replies, expected, "session {i}");
    Ok(())
}

/// Opens `k` connections one after another, each answered (`PING`) while all
/// the earlier ones stay open, then ends them all with `QUIT`. A server that
/// served one connection at a time would never answer the second: each step
/// has `limit` on `clock` to say so instead of hanging.
pub(crate) async fn hold_open<S: TcpConnect + Clock>(
    stack: &S,
    server: SocketAddr,
    k: usize,
    limit: Duration,
) -> Result<(), String> {
    let mut open = Vec::new();
    for i in 0..k {
        let step = async {
            let mut conn = stack.connect(server).await?;
            conn.write_all(b"PING\n").await?;
            let mut pong = [0u8; 5];
            conn.read_exact(&mut pong).await?;
            assert_eq!(&pong, b"PONG\n");
            Ok::<_, S::Error>(conn)
        };
        let conn = portnet::time::timeout(stack, limit, step)
            .await
            .map_err(|_| format!("connection {i} was not served while {i} others were open"))?
            .map_err(|e| format!("connection {i}: {e} ({:?})", e.kind()))?;
        open.push(conn);
    }
    for (i, conn) in open.iter_mut().enumerate() {
        conn.write_all(b"QUIT\n")
            .await
            .map_err(|e| format!("quit {i}: {e}"))?;
        let mut bye = [0u8; 16];
        let n = conn
            .read_to_end(&mut bye)
            .await
            .map_err(|e| format!("bye {i}: {e}"))?;
        assert_eq!(&bye[..n], b"BYE\n");
    }
    Ok(())
}
