//! The link device and its runner over a real byte stream: a TCP connection
//! on loopback, seen through portnet-smol and portnet-embedded, as the host
//! end of an emulator's serial port would be.

use core::future::poll_fn;
use core::net::Ipv4Addr;
use core::pin::pin;
use core::task::Poll;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};

use async_io::Async;
use embassy_net_driver::{Driver, LinkState, RxToken as _, TxToken as _};
use portnet::future::{Either, select};
use portnet_slip::codec::{END, ESC, encode, encoded_len};
use portnet_slip::{RunError, State, Stats};

const MTU: usize = 1500;
type LinkState_ = State<MTU, 4>;

/// Two connected loopback TCP sockets.
fn socket_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let a = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (b, _) = listener.accept().unwrap();
    a.set_nodelay(true).unwrap();
    b.set_nodelay(true).unwrap();
    (a, b)
}

fn stream(socket: TcpStream) -> portnet_smol::Connection {
    portnet_smol::Connection::new(Async::new(socket).unwrap())
}

/// Sends `frame` through the device (waits for a transmit slot).
async fn send<D: Driver>(device: &mut D, frame: &[u8]) {
    poll_fn(|cx| match device.transmit(cx) {
        Some(token) => {
            token.consume(frame.len(), |buf| buf.copy_from_slice(frame));
            Poll::Ready(())
        }
        None => Poll::Pending,
    })
    .await
}

/// The next frame the device receives.
async fn receive<D: Driver>(device: &mut D) -> Vec<u8> {
    poll_fn(|cx| match device.receive(cx) {
        Some((token, _)) => Poll::Ready(token.consume(|buf| buf.to_vec())),
        None => Poll::Pending,
    })
    .await
}

/// Deterministic test frames: lengths 1..=MTU, rich in END and ESC.
fn frames(count: usize) -> Vec<Vec<u8>> {
    let mut x = 0x2545_f491_u32;
    (0..count)
        .map(|i| {
            let len = 1 + (i * 379) % MTU;
            (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    match x % 8 {
                        0 => END,
                        1 => ESC,
                        _ => x as u8,
                    }
                })
                .collect()
        })
        .collect()
}

#[test]
fn frames_cross_a_loopback_socket_intact_and_in_order_both_ways() {
    let (a, b) = socket_pair();
    let (mut a, mut b) = (stream(a), stream(b));
    let mut state_a = LinkState_::new();
    let mut state_b = LinkState_::new();
    let (mut dev_a, mut run_a) = state_a.split();
    let (mut dev_b, mut run_b) = state_b.split();
    let sent = frames(200);
    let got = async_io::block_on(async {
        let runners = pin!(async {
            let a = pin!(run_a.run_stream(&mut a));
            let b = pin!(run_b.run_stream(&mut b));
            select(a, b).await
        });
        let exchange = pin!(async {
            // Down until the runner starts; the change wakes us.
            poll_fn(|cx| match dev_a.link_state(cx) {
                LinkState::Up => Poll::Ready(()),
                LinkState::Down => Poll::Pending,
            })
            .await;
            let forward = pin!(async {
                for frame in &sent {
                    send(&mut dev_a, frame).await;
                }
                let mut back = Vec::new();
                for _ in 0..sent.len() {
                    back.push(receive(&mut dev_a).await);
                }
                back
            });
            let echo = pin!(async {
                let mut got = Vec::new();
                for _ in 0..sent.len() {
                    let frame = receive(&mut dev_b).await;
                    send(&mut dev_b, &frame).await;
                    got.push(frame);
                }
                got
            });
            portnet::future::join(forward, echo).await
        });
        match select(exchange, runners).await {
            Either::Left(got) => got,
            Either::Right(stopped) => panic!("a runner stopped: {stopped:?}"),
        }
    });
    assert_eq!(got.1, sent, "b received what a sent");
    assert_eq!(got.0, sent, "a received b's echo");
    let stats = dev_a.stats();
    assert_eq!((stats.tx_frames, stats.rx_frames), (200, 200));
    assert_eq!(
        (stats.rx_bad_escape, stats.rx_overlong, stats.tx_dropped),
        (0, 0, 0)
    );
    assert!(
        stats.rx_empty >= 1,
        "the first frame after idle opens with END"
    );
}

#[test]
fn garbage_on_the_line_is_dropped_counted_and_followed_by_good_frames() {
    let (raw, ours) = socket_pair();
    let mut ours = stream(ours);
    let mut state = LinkState_::new();
    let (mut device, mut runner) = state.split();
    let mut line = Vec::new();
    line.extend_from_slice(&[1, 2, ESC, 0x42, 3, END]); // bad escape
    line.extend(core::iter::repeat_n(7u8, MTU + 1)); // overlong
    line.push(END);
    line.extend_from_slice(&[END, END]); // empty
    line.extend_from_slice(&[9, ESC, END]); // escape cut by END
    let good = [0x45, END, ESC, 0, 1];
    let mut encoded = vec![0; encoded_len(&good)];
    encode(&good, &mut encoded).unwrap();
    line.extend_from_slice(&encoded);
    let mut raw_writer = raw.try_clone().unwrap();
    let writer = std::thread::spawn(move || raw_writer.write_all(&line));
    let frame = async_io::block_on(async {
        let run = pin!(runner.run_stream(&mut ours));
        match select(pin!(receive(&mut device)), run).await {
            Either::Left(frame) => frame,
            Either::Right(stopped) => panic!("the runner stopped: {stopped:?}"),
        }
    });
    writer.join().unwrap().unwrap();
    assert_eq!(frame, good);
    assert_eq!(
        device.stats(),
        Stats {
            rx_frames: 1,
            tx_frames: 0,
            // Two ENDs in a row, and the good frame's leading END.
            rx_empty: 3,
            rx_bad_escape: 2,
            rx_overlong: 1,
            tx_dropped: 0,
        }
    );
    drop(raw);
}

#[test]
fn the_runner_stops_with_eof_when_the_other_end_closes_and_the_link_goes_down() {
    let (mut raw, ours) = socket_pair();
    let mut ours = stream(ours);
    let mut state = LinkState_::new();
    let (mut device, mut runner) = state.split();
    let frame = [0x45u8, 1, 2, 3];
    let mut encoded = vec![0; encoded_len(&frame)];
    encode(&frame, &mut encoded).unwrap();
    raw.write_all(&encoded).unwrap();
    raw.shutdown(std::net::Shutdown::Write).unwrap();
    let stopped = async_io::block_on(runner.run_stream(&mut ours));
    assert!(matches!(stopped, RunError::Eof), "{stopped:?}");
    // The frame read before the end waits for the stack; the link is down.
    let waker = core::task::Waker::noop();
    let mut cx = core::task::Context::from_waker(waker);
    assert!(device.link_state(&mut cx) == LinkState::Down);
    let received = device
        .receive(&mut cx)
        .map(|(rx, _)| rx.consume(|b| b.to_vec()));
    assert_eq!(received.as_deref(), Some(&frame[..]));
    // Frames the stack sends now are queued; a runner started later sends them.
    let sent = [0x45u8, END, 9];
    device
        .transmit(&mut cx)
        .expect("a free slot")
        .consume(sent.len(), |buf| buf.copy_from_slice(&sent));
    let (mut raw2, ours2) = socket_pair();
    let mut ours2 = stream(ours2);
    // The other end reads the frame, then closes: the runner sees EOF.
    let reader = std::thread::spawn(move || {
        let mut line = [0u8; 6];
        raw2.read_exact(&mut line).map(|()| {
            let _ = raw2.shutdown(std::net::Shutdown::Write);
            line
        })
    });
    let stopped = async_io::block_on(runner.run_stream(&mut ours2));
    assert!(matches!(stopped, RunError::Eof), "{stopped:?}");
    let line = reader.join().unwrap().unwrap();
    assert_eq!(line, [END, 0x45, ESC, 0xDC, 9, END]);
    assert_eq!(device.stats().tx_frames, 1);
}

#[test]
fn the_device_is_an_ip_medium_driver_with_the_mtu() {
    let mut state = LinkState_::new();
    let (device, _runner) = state.split();
    assert_eq!(
        device.hardware_address(),
        embassy_net_driver::HardwareAddress::Ip
    );
    assert_eq!(device.capabilities().max_transmission_unit, MTU);
}
