//! Hostile frames into a working lwIP stack through its netif: the input is a
//! sequence of Ethernet frames (`u16` big-endian length, then the bytes) handed
//! to a portnet-lwip stack at 10.0.0.1 that listens on TCP 80 (echoing), serves
//! UDP 53 (echoing) and connects out to 10.0.0.2:7; then virtual time runs on for
//! a minute, for lwIP's timers. Nothing may panic, trap (a failed lwIP
//! assertion), hang or leak a socket; lwIP's own checksums stay on, as in use.
#![no_main]

use core::cell::RefCell;
use core::net::{IpAddr, Ipv4Addr, SocketAddr};
use core::pin::pin;
use core::task::Context;
use core::time::Duration;
use std::collections::VecDeque;

use embassy_net_driver::{Capabilities, Driver, HardwareAddress, LinkState};
use libfuzzer_sys::fuzz_target;
use portnet::future::{Either, join, select};
use portnet::{
    Clock, ReadExt, TcpConnect, TcpListen, TcpListener, UdpBind, UdpSocketExt, WriteExt,
};
use portnet_links::{Limits, VirtualClock};
use portnet_lwip::{Config, Stack};

const MTU: usize = 1514;
const MAX_FRAMES: usize = 64;

/// Hands the fuzzer's frames to the stack, one per receive; keeps only the
/// last frame the stack sends.
struct Feed {
    frames: RefCell<VecDeque<Vec<u8>>>,
    sent: RefCell<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a RefCell<Vec<u8>>);

impl embassy_net_driver::RxToken for Rx {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(mut self, f: F) -> R {
        f(&mut self.0)
    }
}

impl embassy_net_driver::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut buf = self.0.borrow_mut();
        buf.clear();
        buf.resize(len, 0);
        f(&mut buf)
    }
}

impl Driver for &Feed {
    type RxToken<'a>
        = Rx
    where
        Self: 'a;
    type TxToken<'a>
        = Tx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _cx: &mut Context<'_>) -> Option<(Rx, Tx<'_>)> {
        let frame = self.frames.borrow_mut().pop_front()?;
        Some((Rx(frame), Tx(&self.sent)))
    }

    fn transmit(&mut self, _cx: &mut Context<'_>) -> Option<Tx<'_>> {
        Some(Tx(&self.sent))
    }

    fn link_state(&mut self, _cx: &mut Context<'_>) -> LinkState {
        LinkState::Up
    }

    fn capabilities(&self) -> Capabilities {
        let mut caps = Capabilities::default();
        caps.max_transmission_unit = MTU;
        caps
    }

    fn hardware_address(&self) -> HardwareAddress {
        HardwareAddress::Ethernet([0x02, 0, 0, 0, 0, 0x01])
    }
}

fn frames(mut data: &[u8]) -> VecDeque<Vec<u8>> {
    let mut frames = VecDeque::new();
    while data.len() >= 2 && frames.len() < MAX_FRAMES {
        let len = usize::from(u16::from_be_bytes([data[0], data[1]])).min(MTU);
        let end = (2 + len).min(data.len());
        frames.push_back(data[2..end].to_vec());
        data = &data[end..];
    }
    frames
}

fn run(data: &[u8]) {
    let feed = Feed {
        frames: RefCell::new(frames(data)),
        sent: RefCell::new(Vec::new()),
    };
    let clock = VirtualClock::new();
    let config = Config::ipv4_static(Ipv4Addr::new(10, 0, 0, 1), 24, None);
    // One lwIP stack per process: each input's stack is dropped before the next.
    let stack = Stack::new(&feed, clock.clone(), config).expect("no other stack lives");
    let app = async {
        let listener = stack.listen(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 80));
        let listener = listener.await.expect("listen");
        let udp = stack
            .bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 53))
            .await
            .expect("bind");
        let serve_tcp = pin!(async {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 256];
                while let Ok(n) = conn.read(&mut buf).await {
                    if n == 0 || conn.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        });
        let serve_udp = pin!(async {
            let mut buf = [0u8; 512];
            loop {
                if let Ok((n, from)) = udp.recv_from(&mut buf).await {
                    let _ = udp.send_to(&buf[..n.min(buf.len())], from).await;
                }
            }
        });
        let connect_out = pin!(async {
            let remote = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)), 7);
            if let Ok(mut conn) = stack.connect(remote).await {
                let _ = conn.write_all(b"hello").await;
                let mut buf = [0u8; 64];
                let _ = conn.read(&mut buf).await;
            }
        });
        let servers = pin!(join(serve_tcp, serve_udp));
        let minute = pin!(clock.sleep(Duration::from_secs(60)));
        let _ = select(minute, pin!(join(servers, connect_out))).await;
    };
    let runner = pin!(stack.run());
    let limits = Limits {
        time: Duration::from_secs(120),
        polls: 1_000_000,
    };
    match clock.run(select(pin!(app), runner), limits) {
        Ok(Either::Left(())) => {}
        Ok(Either::Right(never)) => match never {},
        Err(stall) => panic!("the stack stalled: {stall:?}"),
    }
    assert_eq!(
        stack.sockets_in_use(),
        0,
        "sockets left after every one was dropped"
    );
    assert_eq!(stack.diagnostics().0, 0, "a callback met a borrowed state");
}

fuzz_target!(|data: &[u8]| run(data));
