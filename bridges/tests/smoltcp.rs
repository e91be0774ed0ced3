//! A tokio-io library, unmodified, over portnet's smoltcp backend: hyper's HTTP/1.1
//! client and server (through `Compat` and hyper-util's `TokioIo`) on two smoltcp
//! stacks joined by the in-memory link of `portnet-links`, in virtual time, on a
//! clean and on a lossy link. No tokio runtime runs: the link's executor drives
//! everything, and hyper needs no timer for this exchange.

use core::net::{IpAddr, SocketAddr};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use portnet::future::join;
use portnet::{TcpConnect, TcpListen, TcpListener};
use portnet_bridge::Compat;
use portnet_links::Faults;
use portnet_smoltcp::sim::{B_V4, Pair};

/// Requests sent one after the other on one kept-alive connection.
const REQUESTS: usize = 3;
/// Bytes of each request body.
const BODY: usize = 200 * 1024;

fn body(request: usize) -> Vec<u8> {
    (0..BODY)
        .map(|i| ((i * 31 + request * 7) % 251) as u8)
        .collect()
}

/// A checksum both sides compute over a body.
fn sum(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .enumerate()
        .map(|(i, &b)| (i as u64 + 1) * u64::from(b))
        .sum()
}

/// Runs hyper's server on stack `b` and hyper's client on stack `a`; returns the
/// response bodies.
fn exchange(faults: Faults, seed: u64) -> Vec<String> {
    let pair = Pair::new(faults, seed);
    let (a, b) = (pair.a, pair.b);
    let work = async {
        let listener = b
            .listen(SocketAddr::new(IpAddr::V4(B_V4), 8080))
            .await
            .expect("listen on b");
        let server = Box::pin(async {
            let (conn, _) = listener.accept().await.expect("accept");
            let service = hyper::service::service_fn(
                |request: hyper::Request<hyper::body::Incoming>| async move {
                    let path = request.uri().path().to_owned();
                    let body = request.into_body().collect().await?.to_bytes();
                    let reply = format!("{path}: {} bytes, sum {}", body.len(), sum(&body));
                    Ok::<_, hyper::Error>(hyper::Response::new(Full::new(Bytes::from(reply))))
                },
            );
            hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(Compat::new(conn)), service)
                .await
                .expect("the server's connection");
        });
        let client = Box::pin(async {
            let conn = a
                .connect(SocketAddr::new(IpAddr::V4(B_V4), 8080))
                .await
                .expect("connect from a");
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(Compat::new(conn)))
                    .await
                    .expect("handshake");
            let requests = Box::pin(async move {
                let mut replies = Vec::new();
                for n in 0..REQUESTS {
                    let request = hyper::Request::post(format!("/upload/{n}"))
                        .header("host", "b.sim")
                        .body(Full::new(Bytes::from(body(n))))
                        .expect("a request");
                    let response = sender.send_request(request).await.expect("a response");
                    assert_eq!(response.status(), 200);
                    let bytes = response
                        .into_body()
                        .collect()
                        .await
                        .expect("the body")
                        .to_bytes();
                    replies.push(String::from_utf8(bytes.to_vec()).expect("UTF-8"));
                }
                // Dropping the sender ends the client's connection future.
                drop(sender);
                replies
            });
            let (driven, replies) = join(Box::pin(connection), requests).await;
            driven.expect("the client's connection");
            replies
        });
        let ((), replies) = join(server, client).await;
        replies
    };
    // Far more polls than the exchange needs: reaching the limit means a busy
    // loop (hyper flushes on every poll; a flush that woke the stack's runner,
    // polled in the same task, once made this spin).
    let limits = portnet_links::Limits {
        polls: 5_000_000,
        ..portnet_links::Limits::default()
    };
    pair.run_with(work, limits).unwrap_or_else(|stall| {
        panic!(
            "the simulation stalled: {stall} (seed {seed}, {:?})",
            pair.link.stats()
        )
    })
}

fn expected() -> Vec<String> {
    (0..REQUESTS)
        .map(|n| format!("/upload/{n}: {BODY} bytes, sum {}", sum(&body(n))))
        .collect()
}

#[test]
fn hyper_http1_over_smoltcp_on_a_clean_link() {
    assert_eq!(exchange(Faults::NONE, 1), expected());
}

#[test]
fn hyper_http1_over_smoltcp_on_a_lossy_link() {
    for seed in 1..=3 {
        assert_eq!(exchange(Faults::LOSSY, seed), expected(), "seed {seed}");
    }
}
