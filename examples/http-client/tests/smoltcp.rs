//! The HTTP client on the smoltcp backend: two stacks on the in-memory link, in
//! virtual time, clean and lossy. Stack `b` runs an HTTP server written against
//! the portnet traits; stack `a` is the client, built without DNS (`NoDns`, an
//! IP literal URL), as firmware would be.

use core::net::SocketAddr;
use core::pin::pin;
use core::time::Duration;

use portnet::buf::BufReader;
use portnet::future::{Either, join_array, select};
use portnet::{
    Clock as _, Error as _, ErrorKind, ReadExt as _, TcpListen, TcpListener, WriteExt as _,
};
use portnet_links::Faults;
use portnet_smoltcp::sim::{B_V4, Pair, SimStack};

/// A body long enough to span many segments and several chunks.
fn payload() -> Vec<u8> {
    (0..6000u32).map(|i| b'a' + (i % 26) as u8).collect()
}

/// Serves HTTP on `b` forever: `/chunked` in 1000-byte chunks, `/stall` never
/// answers, anything else with a Content-Length.
async fn serve(stack: &SimStack, addr: SocketAddr) {
    let listener = stack.listen(addr).await.unwrap();
    loop {
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut storage = [0u8; 512];
        let mut reader = BufReader::new(&mut conn, &mut storage);
        let mut line = [0u8; 256];
        let n = reader.read_line(&mut line).await.unwrap();
        let path = core::str::from_utf8(&line[..n])
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .to_owned();
        while reader.read_line(&mut line).await.unwrap() > 2 {} // the rest of the head
        let body = payload();
        let mut scratch = [0u8; 128];
        match path.as_str() {
            "/stall" => {
                let mut rest = [0u8; 64];
                let _ = reader.read_to_end(&mut rest).await; // until the client gives up
            }
            "/chunked" => {
                reader
                    .write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
                    .await
                    .unwrap();
                for chunk in body.chunks(1000) {
                    reader
                        .write_fmt(&mut scratch, format_args!("{:x}\r\n", chunk.len()))
                        .await
                        .unwrap();
                    reader.write_all(chunk).await.unwrap();
                    reader.write_all(b"\r\n").await.unwrap();
                }
                reader.write_all(b"0\r\n\r\n").await.unwrap();
            }
            _ => {
                let head =
                    format_args!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len());
                reader.write_fmt(&mut scratch, head).await.unwrap();
                reader.write_all(&body).await.unwrap();
            }
        }
        reader.close().await.unwrap();
    }
}

/// Runs `client` on `a` while `b` serves, over a link with `faults`.
fn with_server<T>(
    faults: Faults,
    seed: u64,
    client: impl AsyncFnOnce(&'static SimStack) -> T,
) -> T {
    let pair = Pair::new(faults, seed);
    pair.run(async {
        let client = pin!(client(pair.a));
        let server = pin!(serve(pair.b, SocketAddr::new(B_V4.into(), 80)));
        match select(client, server).await {
            Either::Left(out) => out,
            Either::Right(()) => unreachable!("the server never returns"),
        }
    })
    .expect("the simulation finished")
}

/// One GET from `stack`, without DNS, within a minute of virtual time.
async fn fetch(stack: &'static SimStack, path: &str) -> Result<(u16, Vec<u8>), ErrorKind> {
    let stack = portnet::NoDns(stack);
    let (mut work, mut body) = ([0u8; 512], vec![0u8; 8192]);
    let deadline = stack.now() + Duration::from_secs(60);
    let url = format!("http://10.0.0.2{path}");
    let page = portnet_http_client::get(&stack, &url, deadline, &mut work, &mut body)
        .await
        .map_err(|e| e.kind())?;
    Ok((page.status, page.body.to_vec()))
}

#[test]
fn smoltcp_content_length_and_chunked() {
    let (length, chunked) = with_server(Faults::NONE, 1, async |a| {
        (fetch(a, "/length").await, fetch(a, "/chunked").await)
    });
    assert_eq!(length, Ok((200, payload())));
    assert_eq!(chunked, Ok((200, payload())));
}

#[test]
fn smoltcp_lossy_link_three_concurrent_gets() {
    for seed in 0..4 {
        let results = with_server(Faults::LOSSY, seed, async |a| {
            join_array([
                pin!(fetch(a, "/chunked")),
                pin!(fetch(a, "/length")),
                pin!(fetch(a, "/x")),
            ])
            .await
        });
        for result in results {
            assert_eq!(result, Ok((200, payload())), "seed {seed}");
        }
    }
}

#[test]
fn smoltcp_deadline_in_virtual_time() {
    let err = with_server(Faults::NONE, 2, async |a| fetch(a, "/stall").await);
    assert_eq!(err, Err(ErrorKind::TimedOut));
}

#[test]
fn smoltcp_a_name_without_dns_is_unsupported() {
    let err = with_server(Faults::NONE, 3, async |a| {
        let stack = portnet::NoDns(a);
        let (mut work, mut body) = ([0u8; 512], [0u8; 64]);
        let deadline = stack.now() + Duration::from_secs(60);
        portnet_http_client::get(
            &stack,
            "http://server.local/",
            deadline,
            &mut work,
            &mut body,
        )
        .await
        .map(|_| ())
        .map_err(|e| e.kind())
    });
    assert_eq!(err, Err(ErrorKind::Unsupported));
}
