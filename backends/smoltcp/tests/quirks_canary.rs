//! Canaries for the two smoltcp 0.14 stalls that `src/tcp/quirks.rs` works
//! around. Each drives plain smoltcp (no portnet, no filter) through the
//! trigger by hand-made segments on a virtual clock and asserts that the stall
//! still happens. When a smoltcp upgrade fixes a stall, its canary fails: then
//! remove that filter from `tcp/quirks.rs` (and this canary). Each canary has a
//! control next to it, the same exchange without the trigger, so that a broken
//! harness cannot pass as "still stalls".

extern crate alloc;

use alloc::collections::VecDeque;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::socket::tcp::{self, State};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    HardwareAddress, IpAddress, IpCidr, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, TcpControl,
    TcpPacket, TcpRepr, TcpSeqNumber,
};

const LOCAL: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
const PEER: Ipv4Address = Ipv4Address::new(10, 0, 0, 2);
const PORT: u16 = 80;
const PEER_PORT: u16 = 40_000;
const PEER_ISN: u32 = 1_000;

/// A medium-IP device: what the test queues is received, what smoltcp sends
/// is kept for the test to read. No ARP, so every frame is the test's.
#[derive(Default)]
struct Wire {
    inbound: VecDeque<Vec<u8>>,
    outbound: Vec<Vec<u8>>,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut Vec<Vec<u8>>);

impl RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.push(frame);
        r
    }
}

impl Device for Wire {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let frame = self.inbound.pop_front()?;
        Some((Rx(frame), Tx(&mut self.outbound)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.outbound))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = 1500;
        caps
    }
}

/// One TCP segment as the peer would send it.
#[derive(Clone, Copy)]
struct Seg<'p> {
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
    payload: &'p [u8],
}

/// What the test reads back from one outgoing segment.
#[derive(Debug, Clone, Copy)]
struct Sent {
    syn: bool,
    fin: bool,
    seq: u32,
    len: usize,
}

/// smoltcp is built without `alloc` here; a test leaks its few buffers.
fn leak(len: usize) -> &'static mut [u8] {
    Box::leak(vec![0; len].into_boxed_slice())
}

struct Rig {
    wire: Wire,
    iface: Interface,
    sockets: SocketSet<'static>,
    now: Instant,
}

impl Rig {
    fn new() -> Self {
        let mut wire = Wire::default();
        let mut config = Config::new(HardwareAddress::Ip);
        config.random_seed = 7;
        let now = Instant::from_millis(0);
        let mut iface = Interface::new(config, &mut wire, now);
        iface.update_ip_addrs(|addrs| {
            addrs.push(IpCidr::new(IpAddress::Ipv4(LOCAL), 24)).unwrap();
        });
        Rig {
            wire,
            iface,
            sockets: SocketSet::new(Box::leak(Box::new([SocketStorage::EMPTY; 4])).as_mut_slice()),
            now,
        }
    }

    fn socket(&mut self) -> SocketHandle {
        let rx = tcp::SocketBuffer::new(leak(1024));
        let tx = tcp::SocketBuffer::new(leak(1024));
        self.sockets.add(tcp::Socket::new(rx, tx))
    }

    fn tcp(&mut self, handle: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket<'static>>(handle)
    }

    fn send(&mut self, seg: Seg<'_>) {
        let tcp = TcpRepr {
            src_port: PEER_PORT,
            dst_port: PORT,
            control: seg.control,
            seq_number: TcpSeqNumber(seg.seq as i32),
            ack_number: seg.ack.map(|a| TcpSeqNumber(a as i32)),
            window_len: 4096,
            window_scale: None,
            max_seg_size: (seg.control == TcpControl::Syn).then_some(1400),
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: seg.payload,
        };
        let ip = Ipv4Repr {
            src_addr: PEER,
            dst_addr: LOCAL,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
        };
        let mut frame = vec![0; ip.buffer_len() + tcp.buffer_len()];
        let caps = smoltcp::phy::ChecksumCapabilities::default();
        let mut packet = Ipv4Packet::new_unchecked(&mut frame[..]);
        ip.emit(&mut packet, &caps);
        let mut segment = TcpPacket::new_unchecked(packet.payload_mut());
        tcp.emit(
            &mut segment,
            &IpAddress::Ipv4(PEER),
            &IpAddress::Ipv4(LOCAL),
            &caps,
        );
        self.wire.inbound.push_back(frame);
        self.poll();
    }

    fn poll(&mut self) {
        // Bounded: smoltcp handles one frame per round, the test queues few.
        for _ in 0..16 {
            let _ = self.iface.poll(self.now, &mut self.wire, &mut self.sockets);
            if self.wire.inbound.is_empty() {
                break;
            }
        }
    }

    /// Moves the virtual clock by `total`, polling every 100 ms.
    fn run_for(&mut self, total: Duration) {
        let end = self.now + total;
        while self.now < end {
            self.now += Duration::from_millis(100);
            self.poll();
        }
    }

    /// The segments sent since the last call, parsed.
    fn take_sent(&mut self) -> Vec<Sent> {
        self.wire
            .outbound
            .drain(..)
            .map(|frame| {
                let ip = Ipv4Packet::new_checked(&frame[..]).expect("an IPv4 packet");
                let tcp = TcpPacket::new_checked(ip.payload()).expect("a TCP segment");
                Sent {
                    syn: tcp.syn(),
                    fin: tcp.fin(),
                    seq: tcp.seq_number().0 as u32,
                    len: tcp.payload().len(),
                }
            })
            .collect()
    }

    /// Completes the peer's handshake with `listener`; returns our ISN + 1.
    fn accept(&mut self, listener: SocketHandle) -> u32 {
        self.send(Seg {
            control: TcpControl::Syn,
            seq: PEER_ISN,
            ack: None,
            payload: &[],
        });
        let syn_ack = self.take_sent();
        assert!(
            matches!(syn_ack.as_slice(), [s] if s.syn),
            "a SYN-ACK: {syn_ack:?}"
        );
        let next = syn_ack[0].seq.wrapping_add(1);
        self.send(Seg {
            control: TcpControl::None,
            seq: PEER_ISN + 1,
            ack: Some(next),
            payload: &[],
        });
        assert_eq!(self.tcp(listener).state(), State::Established);
        next
    }
}

/// Our FIN sent and lost, the peer acknowledges the data before it, then
/// repeats that ACK `duplicates` times; returns the FIN-WAIT-1 socket's rig
/// and the FINs sent in the next two minutes.
fn fin_behind_duplicate_acks(duplicates: usize) -> (Rig, SocketHandle, Vec<Sent>) {
    let mut rig = Rig::new();
    let socket = rig.socket();
    rig.tcp(socket).listen(PORT).unwrap();
    let next = rig.accept(socket);

    rig.tcp(socket).send_slice(b"hello").unwrap();
    rig.poll();
    let data = rig.take_sent();
    assert!(
        matches!(data.as_slice(), [d] if d.len == 5 && !d.fin),
        "{data:?}"
    );
    rig.tcp(socket).close();
    rig.poll();
    let fin = rig.take_sent();
    assert!(matches!(fin.as_slice(), [f] if f.fin), "a FIN: {fin:?}");
    // The FIN is lost; the ACK for the data arrives, then its duplicates (the
    // peer answers later segments of its own window, or the link duplicates).
    let data_acked = next.wrapping_add(5);
    for _ in 0..=duplicates {
        rig.send(Seg {
            control: TcpControl::None,
            seq: PEER_ISN + 1,
            ack: Some(data_acked),
            payload: &[],
        });
    }
    assert_eq!(rig.tcp(socket).state(), State::FinWait1);
    rig.take_sent();
    rig.run_for(Duration::from_secs(120));
    let fins = rig.take_sent().into_iter().filter(|s| s.fin).collect();
    (rig, socket, fins)
}

#[test]
fn control_a_lost_fin_is_retransmitted_after_two_duplicate_acks() {
    let (mut rig, socket, fins) = fin_behind_duplicate_acks(2);
    assert!(!fins.is_empty(), "the FIN was never retransmitted");
    assert_eq!(rig.tcp(socket).state(), State::FinWait1);
}

/// Stall 2 of `tcp/quirks.rs` (`is_held_back`, the duplicate-ACK filter).
#[test]
fn canary_a_lost_fin_is_never_retransmitted_after_three_duplicate_acks() {
    let (mut rig, socket, fins) = fin_behind_duplicate_acks(3);
    assert!(
        fins.is_empty() && rig.tcp(socket).state() == State::FinWait1,
        "smoltcp no longer stalls here (the FIN was resent {} times after three \
         duplicate ACKs): remove the duplicate-ACK filter in tcp/quirks.rs",
        fins.len()
    );
}

/// The connection's socket (`owner`) comes after another socket in the set;
/// `second_listens` says whether that other socket listens on the same port
/// when the peer's SYN arrives again (a backlog refilled meanwhile).
fn duplicate_syn(second_listens: bool) -> (Rig, SocketHandle, SocketHandle, Vec<Sent>) {
    let mut rig = Rig::new();
    let first = rig.socket();
    let owner = rig.socket();
    rig.tcp(owner).listen(PORT).unwrap();
    let syn = Seg {
        control: TcpControl::Syn,
        seq: PEER_ISN,
        ack: None,
        payload: &[],
    };
    rig.send(syn);
    assert_eq!(rig.tcp(owner).state(), State::SynReceived);
    rig.take_sent();
    if second_listens {
        rig.tcp(first).listen(PORT).unwrap();
    }
    rig.send(syn);
    let answers = rig.take_sent();
    (rig, first, owner, answers)
}

#[test]
fn control_a_repeated_syn_stays_with_its_socket_without_a_second_listener() {
    let (mut rig, first, owner, answers) = duplicate_syn(false);
    assert_eq!(rig.tcp(owner).state(), State::SynReceived);
    assert_eq!(rig.tcp(first).state(), State::Closed);
    assert!(answers.iter().all(|s| !s.syn || s.len == 0), "{answers:?}");
}

/// Stall 1 of `tcp/quirks.rs` (`is_held_back`, the duplicate-SYN filter).
#[test]
fn canary_a_repeated_syn_is_taken_by_another_listening_socket() {
    let (mut rig, first, owner, answers) = duplicate_syn(true);
    assert_eq!(rig.tcp(owner).state(), State::SynReceived);
    let taken = rig.tcp(first).state() == State::SynReceived;
    assert!(
        taken && answers.iter().any(|s| s.syn),
        "smoltcp no longer stalls here (a repeated SYN no longer reaches a second \
         listening socket: its state is {}, answers {answers:?}): remove the \
         duplicate-SYN filter in tcp/quirks.rs",
        rig.tcp(first).state()
    );
}
