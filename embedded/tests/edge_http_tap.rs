//! edge-http's server, unmodified, over portnet's smoltcp backend: the server
//! gets the smoltcp stack as an edge-nal `TcpBind` through [`EdgeNal`], and a
//! real client (`curl`, Debian package `curl`) GETs a file from it, POSTs a body
//! that comes back byte for byte, and sends a bad request that is answered with
//! 400.
//!
//! The smoltcp stack (10.9.7.2) runs on a TAP device inside a network namespace
//! the test creates; curl runs in the same namespace (`ip netns exec`) on the
//! kernel's side of the TAP device (10.9.7.1), each run bounded by curl's own
//! `--max-time` and by the test's timeout. Nothing leaves the namespace. Where
//! namespaces or TAP devices cannot be made, the test prints `SKIPPED:` with the
//! reason and passes.
#![cfg(target_os = "linux")]
#![allow(clippy::std_instead_of_core)]

#[path = "support/host_time.rs"]
mod host_time;
mod support;

use core::fmt::{Debug, Display};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::pin::pin;
use std::time::Duration;

use edge_http::Method;
use edge_http::io::Error as HttpError;
use edge_http::io::server::{Connection, Handler, Server};
use embedded_io_async::{Read, Write};
use portnet::future::{Either, select};
use portnet_embedded::EdgeNal;
use portnet_links::tap::{NetNs, Tap};
use portnet_smoltcp::{Cidr, Config, Stack, StackResources, TcpPool};
use portnet_tokio::Tokio;

const KERNEL_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 7, 1);
const STACK_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 7, 2);
const TAP_NAME: &str = "pnhttp0";
const HTTP_PORT: u16 = 8080;
/// Many TCP windows (8 KiB buffers below) each way.
const GET_LEN: usize = 200 * 1024;
const POST_LEN: usize = 100 * 1024;
/// The largest body `/echo` takes; a longer one is refused with 413.
const ECHO_MAX: usize = 256 * 1024;

type TapStack = Stack<'static, Tap, Tokio>;

fn smoltcp_stack(tap: Tap) -> &'static TapStack {
    let config = Config::ipv4_static(Cidr::new(STACK_V4, 24), None);
    let resources: &'static mut StackResources<'static, 8> =
        Box::leak(Box::new(StackResources::new()));
    let tcp: &'static mut TcpPool<4, 8192, 8192> = Box::leak(Box::new(TcpPool::new()));
    let sockets = resources.sockets().tcp(tcp).expect("the pool fits");
    Box::leak(Box::new(
        Stack::new(tap, Tokio::new(), config, sockets).expect("a valid configuration"),
    ))
}

/// Bytes no other file has: a simple LCG, so a short or shifted body fails.
fn pseudo_random(len: usize, mut state: u32) -> Vec<u8> {
    (0..len)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect()
}

/// `GET /data`: the file; `POST /echo`: the body back; `POST /sum`: the sum of
/// the body's decimal numbers, or 400 when one is not a number; a wrong method
/// 405, anything else 404.
struct App {
    data: Vec<u8>,
}

impl App {
    async fn respond<T: Read + Write, const N: usize>(
        connection: &mut Connection<'_, T, N>,
        status: u16,
        reason: &str,
        body: &[u8],
    ) -> Result<(), HttpError<T::Error>> {
        let len = body.len().to_string();
        connection
            .initiate_response(
                status,
                Some(reason),
                &[
                    ("Content-Type", "application/octet-stream"),
                    ("Content-Length", &len),
                ],
            )
            .await?;
        connection.write_all(body).await?;
        Ok(())
    }
}

impl Handler for App {
    type Error<E>
        = HttpError<E>
    where
        E: Debug;

    async fn handle<T, const N: usize>(
        &self,
        _task_id: impl Display + Copy,
        connection: &mut Connection<'_, T, N>,
    ) -> Result<(), Self::Error<T::Error>>
    where
        T: Read + Write + edge_nal::TcpSplit,
    {
        let (method, path) = {
            let headers = connection.headers()?;
            (headers.method, headers.path.to_owned())
        };
        match (method, path.as_str()) {
            (Method::Get, "/data") => Self::respond(connection, 200, "OK", &self.data).await,
            (Method::Post, "/echo" | "/sum") => {
                let mut body = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = connection.read(&mut chunk).await?;
                    if n == 0 {
                        break;
                    }
                    if body.len() + n > ECHO_MAX {
                        return Self::respond(connection, 413, "Content Too Large", b"").await;
                    }
                    body.extend_from_slice(&chunk[..n]);
                }
                if path == "/echo" {
                    return Self::respond(connection, 200, "OK", &body).await;
                }
                let sum = std::str::from_utf8(&body).ok().and_then(|text| {
                    text.split_whitespace()
                        .map(|word| word.parse::<u64>().ok())
                        .try_fold(0u64, |sum, n| sum.checked_add(n?))
                });
                match sum {
                    Some(sum) => {
                        Self::respond(connection, 200, "OK", sum.to_string().as_bytes()).await
                    }
                    None => {
                        Self::respond(connection, 400, "Bad Request", b"not a list of numbers")
                            .await
                    }
                }
            }
            (_, "/data" | "/echo" | "/sum") => {
                Self::respond(connection, 405, "Method Not Allowed", b"").await
            }
            _ => Self::respond(connection, 404, "Not Found", b"").await,
        }
    }
}

/// Runs curl in `netns` with `args`, the body into `dir/name`, and a 20 s
/// limit of its own; its exit status must be 0, and its request must leave from
/// the kernel's address on the TAP device. Returns the HTTP status and the body.
async fn curl(
    netns: &NetNs,
    dir: &Path,
    name: &str,
    args: &[&str],
) -> Result<(u16, Vec<u8>), String> {
    let out = dir.join(name);
    let output = tokio::process::Command::new("ip")
        .args(["netns", "exec", netns.name()])
        .arg(support::curl_binary())
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(["--write-out", "%{http_code} %{local_ip}", "--output"])
        .arg(&out)
        .args(args)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("running curl: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "curl {args:?} exited with {}: {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let printed = String::from_utf8_lossy(&output.stdout);
    // The request left from the kernel's side of the TAP device: it crossed the
    // device to the smoltcp stack, not a loopback.
    let status = match printed.trim().split_once(' ') {
        Some((status, ip)) if ip == KERNEL_V4.to_string() => status.parse().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("curl {args:?} printed {printed:?}, not a status from {KERNEL_V4}"))?;
    let body = std::fs::read(&out).map_err(|e| format!("curl's output {}: {e}", out.display()))?;
    Ok((status, body))
}

/// The exchanges, in order: their statuses and bodies.
async fn exchanges(netns: &NetNs, dir: &Path) -> Result<Vec<(u16, Vec<u8>)>, String> {
    let base = format!("http://{STACK_V4}:{HTTP_PORT}");
    let upload = format!("@{}", dir.join("posted.bin").display());
    Ok(vec![
        curl(netns, dir, "get", &[&format!("{base}/data")]).await?,
        // `Expect:` off: edge-http 0.8 does not answer `Expect: 100-continue`,
        // and curl would wait a second before sending the body anyway.
        curl(
            netns,
            dir,
            "echo",
            &[
                "--header",
                "Expect:",
                "--data-binary",
                &upload,
                &format!("{base}/echo"),
            ],
        )
        .await?,
        curl(
            netns,
            dir,
            "sum",
            &["--data-binary", "1 2 39", &format!("{base}/sum")],
        )
        .await?,
        curl(
            netns,
            dir,
            "bad",
            &["--data-binary", "1 two 3", &format!("{base}/sum")],
        )
        .await?,
        curl(netns, dir, "method", &[&format!("{base}/echo")]).await?,
        curl(netns, dir, "missing", &[&format!("{base}/nothing")]).await?,
    ])
}

#[test]
fn curl_gets_and_posts_to_edge_http_on_a_smoltcp_listener() {
    let (netns, entered, tap) = match support::namespace(
        "edge-http",
        TAP_NAME,
        [0x02, 0, 0, 0, 0x09, 0x32],
        "10.9.7.1/24",
    ) {
        Ok(parts) => parts,
        Err(reason) => {
            println!("SKIPPED: cannot create a network namespace with a TAP device: {reason}");
            return;
        }
    };
    let dir = std::env::temp_dir().join(format!("portnet-edge-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let data = pseudo_random(GET_LEN, 0x2545_f491);
    let posted = pseudo_random(POST_LEN, 0x1234_5678);
    std::fs::write(dir.join("posted.bin"), &posted).expect("write the body to post");

    let stack = smoltcp_stack(tap);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let app = App { data: data.clone() };
    let outcome = runtime.block_on(async {
        let edge = EdgeNal::new(stack);
        let acceptor = edge_nal::TcpBind::bind(&edge, SocketAddr::new(STACK_V4.into(), HTTP_PORT))
            .await
            .expect("listen on the smoltcp stack");
        let mut server = Box::new(Server::<2, 4096, 16>::new());
        let serving = pin!(server.run(None, acceptor, app));
        let clients = pin!(tokio::time::timeout(
            Duration::from_secs(60),
            exchanges(&netns, &dir)
        ));
        let work = select(clients, serving);
        match select(pin!(work), pin!(stack.run())).await {
            Either::Left(Either::Left(result)) => result,
            Either::Left(Either::Right(stopped)) => {
                panic!("the server stopped: {stopped:?}")
            }
            Either::Right(never) => match never {},
        }
    });
    let _ = std::fs::remove_dir_all(&dir);
    let answers = match outcome {
        Ok(Ok(answers)) => answers,
        Ok(Err(error)) => panic!("{error}"),
        Err(_) => panic!("the exchanges did not end within 60 s"),
    };
    let [get, echo, sum, bad, method, missing] = &answers[..] else {
        panic!("six answers expected, got {}", answers.len());
    };
    assert_eq!(get.0, 200, "GET /data");
    assert_eq!(get.1.len(), data.len(), "GET /data: body length");
    assert!(
        get.1 == data,
        "GET /data: the body differs from the file served"
    );
    assert_eq!(echo.0, 200, "POST /echo");
    assert_eq!(echo.1.len(), posted.len(), "POST /echo: body length");
    assert!(echo.1 == posted, "POST /echo: the body came back changed");
    assert_eq!(
        (sum.0, &sum.1[..]),
        (200, &b"42"[..]),
        "POST /sum of 1 2 39"
    );
    assert_eq!(
        (bad.0, &bad.1[..]),
        (400, &b"not a list of numbers"[..]),
        "POST /sum of a word"
    );
    assert_eq!(method.0, 405, "GET /echo");
    assert_eq!(missing.0, 404, "GET /nothing");
    drop(entered);
    drop(netns);
}
