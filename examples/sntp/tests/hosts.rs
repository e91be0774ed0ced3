//! The SNTP client on host stacks, against a responder this test runs on
//! loopback UDP (a std thread, so it is independent of the runtime under test):
//! on tokio's multi-threaded runtime, spawned from generic code through
//! `portnet::send`, and on smol.

use core::net::{Ipv4Addr, SocketAddr};
use core::time::Duration;
use std::net::UdpSocket;
use std::thread::JoinHandle;

use portnet::{Error as _, ErrorKind};
use portnet_sntp::{KissCode, PACKET_LEN, SntpError};

/// 2026-01-01T00:00:00Z in NTP seconds, and as a duration since 1970.
const NTP_2026: u32 = 3_976_214_400;
const UNIX_2026: Duration = Duration::from_secs(1_767_225_600);

/// What the responder does with each request, in turn.
#[derive(Debug, Clone, Copy)]
enum Action {
    /// Answers with 2026-01-01.
    Answer,
    /// Drops the request, as a lossy network would.
    Ignore,
    /// Sends a reply to another request first, then the right one.
    JunkThenAnswer,
    /// Answers with a Kiss-o'-Death.
    Kiss(&'static [u8; 4]),
}

fn reply(request: &[u8], stratum: u8, kiss: &[u8; 4]) -> [u8; PACKET_LEN] {
    let mut reply = [0u8; PACKET_LEN];
    reply[0] = (4 << 3) | 4;
    reply[1] = stratum;
    reply[12..16].copy_from_slice(kiss);
    reply[24..32].copy_from_slice(&request[40..48]);
    reply[40..44].copy_from_slice(&NTP_2026.to_be_bytes());
    reply
}

/// A responder on loopback that plays `script`, one action per request, then
/// ends. Its reads time out, so a test that goes wrong cannot hang on it.
fn responder(script: Vec<Action>) -> (SocketAddr, JoinHandle<()>) {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let addr = socket.local_addr().unwrap();
    let thread = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        for action in script {
            let (n, from) = socket.recv_from(&mut buf).expect("a request");
            assert_eq!(n, PACKET_LEN, "a client request is 48 bytes");
            match action {
                Action::Answer => {
                    socket.send_to(&reply(&buf, 1, b"\0\0\0\0"), from).unwrap();
                }
                Action::Ignore => {}
                Action::JunkThenAnswer => {
                    let mut junk = reply(&buf, 1, b"\0\0\0\0");
                    junk[31] ^= 1; // answers another request
                    socket.send_to(&junk, from).unwrap();
                    socket.send_to(&[1, 2, 3], from).unwrap(); // too short
                    socket.send_to(&reply(&buf, 1, b"\0\0\0\0"), from).unwrap();
                }
                Action::Kiss(code) => {
                    socket.send_to(&reply(&buf, 0, code), from).unwrap();
                }
            }
        }
    });
    (addr, thread)
}

/// Generic code that spawns one query per server on the runtime it is given:
/// it compiles only because `portnet_sntp::send::query`'s future is `Send`.
fn spawn_queries<S>(
    stack: S,
    servers: &[SocketAddr],
) -> Vec<tokio::task::JoinHandle<Result<Duration, SntpError<S::Error>>>>
where
    S: portnet::send::UdpBind + portnet::send::Clock + Clone + 'static,
{
    servers
        .iter()
        .map(|&server| {
            let stack = stack.clone();
            tokio::spawn(async move {
                portnet_sntp::send::query(&stack, server, 3, Duration::from_secs(5)).await
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokio_multi_thread_queries_spawned_from_generic_code() {
    let (a, ta) = responder(vec![Action::Answer]);
    let (b, tb) = responder(vec![Action::JunkThenAnswer]);
    let (c, tc) = responder(vec![Action::Kiss(b"DENY")]);
    let tasks = spawn_queries(portnet_tokio::Tokio::new(), &[a, b, c]);
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap());
    }
    let kiss = results.pop().unwrap().unwrap_err();
    assert_eq!(
        results.pop().unwrap().unwrap(),
        UNIX_2026,
        "junk is skipped"
    );
    assert_eq!(results.pop().unwrap().unwrap(), UNIX_2026);
    assert!(matches!(kiss, SntpError::KissOfDeath(KissCode(code)) if &code == b"DENY"));
    assert_eq!(kiss.kind(), ErrorKind::ConnectionRefused);
    for thread in [ta, tb, tc] {
        thread.join().unwrap();
    }
}

#[tokio::test]
async fn tokio_a_lost_request_is_retried() {
    let (server, thread) = responder(vec![Action::Ignore, Action::Answer]);
    let stack = portnet_tokio::Tokio::new();
    // The first attempt waits its full (short) time for nothing, the second is answered.
    let time = portnet_sntp::query(&stack, server, 3, Duration::from_millis(200)).await;
    assert_eq!(time.unwrap(), UNIX_2026);
    thread.join().unwrap();
}

#[tokio::test]
async fn tokio_an_endpoint_literal_needs_no_resolver() {
    let (server, thread) = responder(vec![Action::Answer]);
    let stack = portnet::NoDns(portnet_tokio::Tokio::new());
    let text = server.to_string();
    let endpoint = portnet::net::Endpoint::parse(&text).unwrap();
    let time = portnet_sntp::query_endpoint(&stack, &endpoint, 3, Duration::from_secs(5)).await;
    assert_eq!(time.unwrap(), UNIX_2026);
    thread.join().unwrap();
    let name = portnet::net::Endpoint::parse("time.example:123").unwrap();
    let err = portnet_sntp::query_endpoint(&stack, &name, 1, Duration::from_secs(1))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn smol_answer_retry_and_kiss() {
    let stack = portnet_smol::Smol::new();
    async_io::block_on(async {
        let (server, thread) = responder(vec![Action::Ignore, Action::JunkThenAnswer]);
        let time = portnet_sntp::query(&stack, server, 3, Duration::from_millis(200)).await;
        assert_eq!(time.unwrap(), UNIX_2026);
        thread.join().unwrap();

        let (server, thread) = responder(vec![Action::Kiss(b"RATE")]);
        let err = portnet_sntp::query(&stack, server, 3, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(err, SntpError::KissOfDeath(code) if code.is_rate()));
        thread.join().unwrap();
    });
}
