//! reqwless, unmodified, over portnet's smoltcp backend: the HTTP client gets
//! the smoltcp stack as an `embedded_nal_async::TcpConnect` through
//! [`EmbeddedNal`], and GETs a file from a real HTTP server (Python's
//! `http.server`, Debian package `python3`).
//!
//! The smoltcp stack (10.9.2.2) runs on a TAP device inside a network namespace
//! the test creates; the server runs in the same namespace (`ip netns exec`) on
//! the kernel's side of the TAP device (10.9.2.1) and is stopped by PID. Nothing
//! leaves the namespace. Where namespaces or TAP devices cannot be made, the
//! test prints `SKIPPED:` with the reason and passes.
#![cfg(target_os = "linux")]
#![allow(clippy::std_instead_of_core)]

mod support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::pin;
use std::time::Duration;

use portnet::future::{Either, select};
use portnet_embedded::EmbeddedNal;
use portnet_links::tap::Tap;
use portnet_smoltcp::{Cidr, Config, Stack, StackResources, TcpPool};
use portnet_tokio::Tokio;
use reqwless::client::HttpClient;
use reqwless::request::Method;
use support::Server;

const KERNEL_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 2, 1);
const STACK_V4: Ipv4Addr = Ipv4Addr::new(10, 9, 2, 2);
const TAP_NAME: &str = "pnreqw0";
const HTTP_PORT: u16 = 8080;
/// Many times the TCP window (8 KiB buffers below): the body spans many
/// windows and segments.
const BODY_LEN: usize = 300 * 1024;

type TapStack = Stack<'static, Tap, Tokio>;

fn smoltcp_stack(tap: Tap) -> &'static TapStack {
    let config = Config::ipv4_static(Cidr::new(STACK_V4, 24), None);
    let resources: &'static mut StackResources<'static, 8> =
        Box::leak(Box::new(StackResources::new()));
    let tcp: &'static mut TcpPool<2, 8192, 8192> = Box::leak(Box::new(TcpPool::new()));
    let sockets = resources.sockets().tcp(tcp).expect("the pool fits");
    Box::leak(Box::new(
        Stack::new(tap, Tokio::new(), config, sockets).expect("a valid configuration"),
    ))
}

/// reqwless resolves every host through an `embedded_nal_async::Dns`; the
/// smoltcp stack here has no DNS, so this one only accepts IP literals (the
/// URL below is one) and refuses names.
struct LiteralDns;

/// Why [`LiteralDns`] cannot answer: a name, or a reverse query.
#[derive(Debug)]
#[allow(dead_code)]
enum NoDns {
    NotAnAddress(std::net::AddrParseError),
    NoReverseLookup,
}

impl embedded_nal_async::Dns for LiteralDns {
    type Error = NoDns;

    async fn get_host_by_name(
        &self,
        host: &str,
        _addr_type: embedded_nal_async::AddrType,
    ) -> Result<IpAddr, Self::Error> {
        host.parse().map_err(NoDns::NotAnAddress)
    }

    async fn get_host_by_address(
        &self,
        _addr: IpAddr,
        _result: &mut [u8],
    ) -> Result<usize, Self::Error> {
        Err(NoDns::NoReverseLookup)
    }
}

/// GETs `url` with reqwless over `stack`; the status and the whole body.
async fn get(stack: &TapStack, url: &str) -> Result<(u16, Vec<u8>), String> {
    let tcp = EmbeddedNal::new(stack);
    let mut client = HttpClient::new(&tcp, &LiteralDns);
    let mut rx = vec![0u8; 4096];
    let mut request = client
        .request(Method::GET, url)
        .await
        .map_err(|e| format!("reqwless connect: {e:?}"))?;
    let response = request
        .send(&mut rx)
        .await
        .map_err(|e| format!("reqwless send: {e:?}"))?;
    let status = response.status.0;
    let mut body = vec![0u8; BODY_LEN + 1024];
    let len = response
        .body()
        .reader()
        .read_to_end(&mut body)
        .await
        .map_err(|e| format!("reading the body: {e:?}"))?;
    body.truncate(len);
    Ok((status, body))
}

#[test]
fn reqwless_gets_a_file_from_a_real_http_server_over_smoltcp() {
    let (netns, entered, tap) = match support::namespace(
        "reqwless",
        TAP_NAME,
        [0x02, 0, 0, 0, 0x09, 0x22],
        "10.9.2.1/24",
    ) {
        Ok(parts) => parts,
        Err(reason) => {
            println!("SKIPPED: cannot create a network namespace with a TAP device: {reason}");
            return;
        }
    };
    // Content no other file has: a simple LCG, so a short or shifted body fails.
    let mut state = 0x2545_f491_u32;
    let content: Vec<u8> = (0..BODY_LEN)
        .map(|_| {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 24) as u8
        })
        .collect();
    let server = Server::http(
        &netns,
        "reqwless",
        &[("body.bin", &content)],
        SocketAddr::new(IpAddr::V4(KERNEL_V4), HTTP_PORT),
    );
    let stack = smoltcp_stack(tap);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let url = format!("http://{KERNEL_V4}:{HTTP_PORT}/body.bin");
    let outcome = runtime.block_on(async {
        let work = pin!(tokio::time::timeout(
            Duration::from_secs(30),
            get(stack, &url)
        ));
        match select(work, pin!(stack.run())).await {
            Either::Left(result) => result,
            Either::Right(never) => match never {},
        }
    });
    let (status, body) = match outcome {
        Ok(Ok(got)) => got,
        Ok(Err(error)) => panic!("{error}\nserver log:\n{}", server.log()),
        Err(_) => panic!("no response within 30 s\nserver log:\n{}", server.log()),
    };
    assert_eq!(status, 200, "server log:\n{}", server.log());
    assert_eq!(body.len(), content.len(), "body length");
    assert!(body == content, "the body differs from the file served");
    // The server saw the request from the smoltcp stack's address.
    let log = server.log();
    assert!(
        log.contains(&STACK_V4.to_string()) && log.contains("GET /body.bin"),
        "the server's log does not show the GET from {STACK_V4}:\n{log}"
    );
    drop(server);
    drop(entered);
    drop(netns);
}
