//! The HTTP client on host stacks against a real HTTP/1.1 server on loopback: a
//! small std::net server in this file (a thread per connection, answering by
//! path), so it does not depend on the runtime under test. On tokio's
//! multi-threaded runtime the requests are spawned from generic code through
//! `portnet::send`; on smol they run on `async_io::block_on`.

use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::thread::JoinHandle;

use portnet::ErrorKind;

const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
    7\r\nchunked\r\n6\r\n body!\r\n0\r\n\r\n";

/// The response for a request's path.
fn response(path: &str) -> Vec<u8> {
    match path {
        "/length" => b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nlength body!".to_vec(),
        "/chunked" => CHUNKED.to_vec(),
        "/close" => b"HTTP/1.0 200 OK\r\n\r\nuntil the close".to_vec(),
        "/big" => [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"[..],
            &[b'x'; 5000],
        ]
        .concat(),
        _ => b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found".to_vec(),
    }
}

/// Serves one connection: reads the request head, answers by path (`/stall`:
/// never answers, waits for the client to give up and close), closes.
fn serve_one(mut conn: TcpStream) -> String {
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(conn.read(&mut byte).unwrap(), 1, "a whole request head");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let path = head.split(' ').nth(1).unwrap().to_owned();
    if path == "/stall" {
        // The client's deadline passes; it drops the connection: EOF here.
        let mut rest = Vec::new();
        let _ = conn.read_to_end(&mut rest);
    } else {
        // A client may stop reading early (a body too big for it): not an error here.
        let _ = conn.write_all(&response(&path));
    }
    head
}

/// A server on loopback that serves `connections` connections, each on its own
/// thread, and returns their request heads.
fn server(connections: usize) -> (u16, JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let thread = std::thread::spawn(move || {
        let handlers: Vec<_> = (0..connections)
            .map(|_| {
                let (conn, _) = listener.accept().unwrap();
                std::thread::spawn(move || serve_one(conn))
            })
            .collect();
        handlers.into_iter().map(|h| h.join().unwrap()).collect()
    });
    (port, thread)
}

/// Fetches every URL on its own spawned task, from generic code: it compiles
/// because `portnet_http_client::send::get`'s future is `Send`.
async fn fan_out<S>(stack: S, urls: Vec<String>) -> Vec<Result<(u16, Vec<u8>), S::Error>>
where
    S: portnet::send::TcpConnect + portnet::send::Dns + portnet::send::Clock + Clone + 'static,
{
    let tasks: Vec<_> = urls
        .into_iter()
        .map(|url| {
            let stack = stack.clone();
            tokio::spawn(async move {
                let (mut work, mut body) = ([0u8; 1024], vec![0u8; 4096]);
                let deadline = stack.now() + Duration::from_secs(20);
                let page =
                    portnet_http_client::send::get(&stack, &url, deadline, &mut work, &mut body)
                        .await?;
                Ok((page.status, page.body.to_vec()))
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("a fetch task panicked"));
    }
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_multi_thread_gets_spawned_from_generic_code() {
    let (port, server) = server(4);
    let urls = vec![
        format!("http://localhost:{port}/length"), // by name, through the resolver
        format!("http://127.0.0.1:{port}/chunked"), // an IP literal, no query
        format!("http://127.0.0.1:{port}/close"),
        format!("http://127.0.0.1:{port}/missing"),
    ];
    let results = fan_out(portnet_tokio::Tokio::new(), urls).await;
    let results: Vec<_> = results.into_iter().map(Result::unwrap).collect();
    assert_eq!(results[0], (200, b"length body!".to_vec()));
    assert_eq!(results[1], (200, b"chunked body!".to_vec()));
    assert_eq!(results[2], (200, b"until the close".to_vec()));
    assert_eq!(
        results[3],
        (404, b"not found".to_vec()),
        "a 404 is a response"
    );
    let heads = server.join().unwrap();
    assert!(
        heads
            .iter()
            .any(|h| h.contains(&format!("Host: localhost:{port}\r\n")))
    );
}

#[tokio::test]
async fn tokio_the_deadline_bounds_a_server_that_never_answers() {
    let (port, server) = server(1);
    let stack = portnet_tokio::Tokio::new();
    let (mut work, mut body) = ([0u8; 1024], [0u8; 256]);
    let deadline = portnet::Clock::now(&stack) + Duration::from_millis(300);
    let url = format!("http://127.0.0.1:{port}/stall");
    let err = portnet_http_client::get(&stack, &url, deadline, &mut work, &mut body)
        .await
        .unwrap_err();
    assert_eq!(portnet::Error::kind(&err), ErrorKind::TimedOut);
    server.join().unwrap();
}

#[test]
fn smol_length_chunked_and_a_body_too_big() {
    let (port, server) = server(3);
    let stack = portnet_smol::Smol::new();
    async_io::block_on(async {
        let mut work = [0u8; 512];
        let mut body = [0u8; 1024];
        for (path, expected) in [
            ("/length", &b"length body!"[..]),
            ("/chunked", b"chunked body!"),
        ] {
            let deadline = portnet::Clock::now(&stack) + Duration::from_secs(20);
            let url = format!("http://127.0.0.1:{port}{path}");
            let page = portnet_http_client::get(&stack, &url, deadline, &mut work, &mut body)
                .await
                .unwrap();
            assert_eq!((page.status, page.body), (200, expected));
        }
        let deadline = portnet::Clock::now(&stack) + Duration::from_secs(20);
        let url = format!("http://127.0.0.1:{port}/big");
        let err = portnet_http_client::get(&stack, &url, deadline, &mut work, &mut body)
            .await
            .unwrap_err();
        assert_eq!(
            portnet::Error::kind(&err),
            ErrorKind::OutOfResources,
            "5000 bytes into 1024"
        );
    });
    server.join().unwrap();
}

#[test]
fn smol_a_refused_connection_and_a_bad_url() {
    // A port nothing listens on.
    let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let stack = portnet_smol::Smol::new();
    async_io::block_on(async {
        let (mut work, mut body) = ([0u8; 512], [0u8; 64]);
        let deadline = portnet::Clock::now(&stack) + Duration::from_secs(20);
        let url = format!("http://{}/", SocketAddr::from((Ipv4Addr::LOCALHOST, port)));
        let err = portnet_http_client::get(&stack, &url, deadline, &mut work, &mut body)
            .await
            .unwrap_err();
        assert_eq!(portnet::Error::kind(&err), ErrorKind::ConnectionRefused);
        let err = portnet_http_client::get(&stack, "ftp://x/", deadline, &mut work, &mut body)
            .await
            .unwrap_err();
        assert_eq!(portnet::Error::kind(&err), ErrorKind::Unsupported);
    });
}
