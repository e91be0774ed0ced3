//! Two smoltcp stacks on the in-memory link: echo, and patterned transfers
//! through a faulty link that must arrive intact.

use core::net::SocketAddr;

use portnet::future::join;
use portnet::{ReadExt, TcpConnect, TcpListen, TcpListener, WriteExt};
use portnet_links::Faults;
use portnet_smoltcp::sim::{A_V4, B_V4, Pair};

fn pattern(i: usize) -> u8 {
    let x = i as u64;
    ((x ^ (x >> 8) ^ (x >> 16)).wrapping_mul(167) as u8) ^ (x % 251) as u8
}

/// Sends `total` patterned bytes from `a` to `b` and checks every byte.
async fn transfer(pair: &Pair, total: usize) -> Result<usize, String> {
    let listener = pair
        .b
        .listen(SocketAddr::new(B_V4.into(), 7000))
        .await
        .map_err(|e| format!("listen: {e}"))?;
    let send = async {
        let mut conn = pair
            .a
            .connect(SocketAddr::new(B_V4.into(), 7000))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let mut chunk = [0u8; 3000];
        let mut sent = 0;
        while sent < total {
            let n = chunk.len().min(total - sent);
            for (i, b) in chunk[..n].iter_mut().enumerate() {
                *b = pattern(sent + i);
            }
            conn.write_all(&chunk[..n])
                .await
                .map_err(|e| format!("write at {sent}: {e}"))?;
            sent += n;
        }
        conn.close().await.map_err(|e| format!("close: {e}"))?;
        Ok::<_, String>(sent)
    };
    let receive = async {
        let (mut conn, from) = listener
            .accept()
            .await
            .map_err(|e| format!("accept: {e}"))?;
        if from.ip() != A_V4 {
            return Err(format!("accepted from {from}"));
        }
        let mut buf = [0u8; 4096];
        let mut received = 0;
        loop {
            let n = conn
                .read(&mut buf)
                .await
                .map_err(|e| format!("read at {received}: {e}"))?;
            if n == 0 {
                break;
            }
            if let Some(i) = (0..n).find(|&i| buf[i] != pattern(received + i)) {
                return Err(format!("byte {} corrupted", received + i));
            }
            received += n;
        }
        Ok::<_, String>(received)
    };
    let (sent, received) = join(Box::pin(send), Box::pin(receive)).await;
    let (sent, received) = (sent?, received?);
    if sent != received {
        return Err(format!("sent {sent}, received {received}"));
    }
    Ok(received)
}

#[test]
fn echo_over_a_clean_link() {
    let pair = Pair::new(Faults::NONE, 1);
    let got = pair
        .run(async {
            let listener = pair
                .b
                .listen(SocketAddr::new(B_V4.into(), 7))
                .await
                .unwrap();
            let server = async {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 64];
                let n = conn.read(&mut buf).await.unwrap();
                conn.write_all(&buf[..n]).await.unwrap();
                conn.close().await.unwrap();
            };
            let client = async {
                let mut conn = pair
                    .a
                    .connect(SocketAddr::new(B_V4.into(), 7))
                    .await
                    .unwrap();
                conn.write_all(b"hello, link").await.unwrap();
                let mut buf = [0u8; 64];
                let mut got = Vec::new();
                loop {
                    let n = conn.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break got;
                    }
                    got.extend_from_slice(&buf[..n]);
                }
            };
            join(Box::pin(server), Box::pin(client)).await.1
        })
        .unwrap();
    assert_eq!(got, b"hello, link");
}

#[test]
fn one_mebibyte_over_a_clean_link() {
    let pair = Pair::new(Faults::NONE, 2);
    let moved = pair.run(transfer(&pair, 1 << 20)).unwrap();
    assert_eq!(moved, Ok(1 << 20));
}

/// Seeds for the faulty transfers; `PORTNET_LINK_SEEDS=a..b` to choose others.
fn seeds() -> core::ops::Range<u64> {
    std::env::var("PORTNET_LINK_SEEDS")
        .ok()
        .and_then(|s| {
            let (a, b) = s.split_once("..")?;
            Some(a.parse().ok()?..b.parse().ok()?)
        })
        .unwrap_or(0..20)
}

#[test]
fn ten_mebibytes_through_a_faulty_link_arrive_intact_for_every_seed() {
    let total = std::env::var("PORTNET_LINK_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10 << 20);
    for seed in seeds() {
        let pair = Pair::new(Faults::LOSSY, seed);
        let outcome = pair.run(transfer(&pair, total));
        let stats = pair.link.stats();
        match outcome {
            Ok(Ok(moved)) => {
                assert_eq!(moved, total);
                eprintln!(
                    "seed {seed}: {moved} bytes intact in {} ms virtual; {stats:?}",
                    portnet::Clock::now(&pair.clock).as_millis()
                );
            }
            Ok(Err(e)) => panic!(
                "seed {seed}: {e}; link {stats:?}\n  replay: PORTNET_LINK_SEEDS={seed}..{} cargo test -p portnet-smoltcp --test memory",
                seed + 1
            ),
            Err(stall) => panic!("seed {seed}: {stall}; link {stats:?}"),
        }
        assert!(
            stats.faults() > 0,
            "seed {seed}: no fault injected: {stats:?}"
        );
    }
}

/// Regression: with a listen backlog, a duplicated SYN reached a second
/// listening socket and the connection was reset; a FIN lost behind duplicate
/// ACKs was never resent. Fifty connect/exchange/close cycles per seed over a
/// lossy link must all complete.
#[test]
fn connect_close_cycles_survive_a_lossy_link() {
    use core::pin::pin;
    use core::time::Duration;
    for seed in seeds() {
        let pair = Pair::new(Faults::LOSSY, seed);
        let outcome = pair.run(async {
            let listener = pair
                .b
                .listen(SocketAddr::new(B_V4.into(), 0))
                .await
                .unwrap();
            let addr = listener.local_addr().unwrap();
            for cycle in 0..50u8 {
                let connect = pin!(pair.a.connect(addr));
                let accept = pin!(listener.accept());
                let both = join(connect, accept);
                let (connected, accepted) =
                    portnet::time::timeout(&pair.clock, Duration::from_secs(120), both)
                        .await
                        .map_err(|_| format!("cycle {cycle}: connect hangs"))?;
                let mut conn = connected.map_err(|e| format!("cycle {cycle}: connect: {e}"))?;
                let (mut peer, _) = accepted.map_err(|e| format!("cycle {cycle}: accept: {e}"))?;
                conn.write_all(&[cycle])
                    .await
                    .map_err(|e| format!("cycle {cycle}: write: {e}"))?;
                let mut byte = [0u8; 1];
                peer.read_exact(&mut byte)
                    .await
                    .map_err(|e| format!("cycle {cycle}: read: {e:?}"))?;
                peer.close()
                    .await
                    .map_err(|e| format!("cycle {cycle}: close: {e}"))?;
                let eof = portnet::time::timeout(
                    &pair.clock,
                    Duration::from_secs(120),
                    conn.read(&mut byte),
                )
                .await;
                if !matches!(eof, Ok(Ok(0))) {
                    return Err(format!(
                        "cycle {cycle}: no EOF after the peer's FIN: {eof:?}"
                    ));
                }
                conn.close()
                    .await
                    .map_err(|e| format!("cycle {cycle}: close: {e}"))?;
                let eof = portnet::time::timeout(
                    &pair.clock,
                    Duration::from_secs(120),
                    peer.read(&mut byte),
                )
                .await;
                if !matches!(eof, Ok(Ok(0))) {
                    return Err(format!("cycle {cycle}: peer got no EOF: {eof:?}"));
                }
            }
            Ok::<_, String>(())
        });
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("seed {seed}: {e}; link {:?}", pair.link.stats()),
            Err(stall) => panic!("seed {seed}: {stall}"),
        }
    }
}
