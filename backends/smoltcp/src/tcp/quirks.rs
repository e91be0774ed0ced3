//! Workarounds for two smoltcp 0.14 stalls, applied to frames before smoltcp
//! sees them (see `docs/backends/smoltcp.md`, which also says what to report).
//!
//! Upstream: neither stall is reported on smoltcp-rs/smoltcp (issues and pull
//! requests searched 2026-12-04 and 2026-12-07; this session cannot post
//! there, so the report is still to be filed). The nearest threads:
//!
//! - duplicate SYN: <https://github.com/smoltcp-rs/smoltcp/issues/851> (open:
//!   a listening socket takes an RST meant for another socket of the port) and
//!   <https://github.com/smoltcp-rs/smoltcp/pull/1058> (merged 2025, in 0.14:
//!   listening sockets refuse RSTs). The same first-socket-wins dispatch still
//!   hands a SYN without ACK to any listening socket, ahead of its owner.
//! - FIN after duplicate ACKs: <https://github.com/smoltcp-rs/smoltcp/pull/233>
//!   (2018, closed: fast retransmit only "for data to send"), which is the
//!   path where 0.14 now drops the retransmission timer of a lone FIN.
//!
//! Canaries: `tests/quirks_canary.rs` reproduces each stall on plain smoltcp
//! (no filter) and fails once a smoltcp release fixes it; then remove that
//! filter here, with its canary.

use core::net::{IpAddr, SocketAddr};

use smoltcp::socket::tcp::State;

use super::pool::{Owner, TcpSlot};

/// The TCP header fields of a frame (Ethernet, or a bare IP packet on a
/// medium-IP link) that the filters below need.
struct Segment {
    src: SocketAddr,
    dst: SocketAddr,
    syn: bool,
    ack: bool,
    fin: bool,
    rst: bool,
    seq: u32,
    ack_number: u32,
    payload_len: usize,
}

/// The IP packet of a frame, and whether it is IPv6.
fn ip_packet(frame: &[u8], medium: smoltcp::phy::Medium) -> Option<(bool, &[u8])> {
    use smoltcp::wire::{EthernetFrame, EthernetProtocol};
    match medium {
        smoltcp::phy::Medium::Ethernet => {
            let ethernet = EthernetFrame::new_checked(frame).ok()?;
            let v6 = match ethernet.ethertype() {
                EthernetProtocol::Ipv4 => false,
                EthernetProtocol::Ipv6 => true,
                _ => return None,
            };
            Some((v6, frame.get(EthernetFrame::<&[u8]>::header_len()..)?))
        }
        #[cfg(feature = "medium-ip")]
        smoltcp::phy::Medium::Ip => match frame.first()? >> 4 {
            4 => Some((false, frame)),
            6 => Some((true, frame)),
            _ => None,
        },
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// TCP's flag bits in the header's 14th byte.
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const RST: u8 = 0x04;

/// Big-endian `N` bytes of `bytes` at `at`.
fn be<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at + N)?.try_into().ok()
}

/// A frame's TCP segment, found at fixed offsets with the length checks of
/// smoltcp's `new_checked` wire types but none of their other work: both
/// filters run on every frame each way, and most frames need only their flags.
struct Located<'f> {
    v6: bool,
    /// The IP packet.
    ip: &'f [u8],
    /// The TCP segment: at least its 20-byte header, its data offset checked.
    tcp: &'f [u8],
    /// The TCP header's length.
    header: usize,
}

impl Located<'_> {
    fn find(frame: &[u8], medium: smoltcp::phy::Medium) -> Option<Located<'_>> {
        let (v6, ip) = ip_packet(frame, medium)?;
        let tcp = if !v6 {
            let header = usize::from(ip.first()? & 0x0f) * 4;
            let total = usize::from(u16::from_be_bytes(be(ip, 2)?));
            if header < 20 || total < header || *ip.get(9)? != 6 {
                return None;
            }
            ip.get(header..total)?
        } else {
            #[cfg(not(feature = "proto-ipv6"))]
            return None;
            #[cfg(feature = "proto-ipv6")]
            {
                let len = usize::from(u16::from_be_bytes(be(ip, 4)?));
                if *ip.get(6)? != 6 {
                    return None;
                }
                ip.get(40..40 + len)?
            }
        };
        let header = usize::from(tcp.get(12)? >> 4) * 4;
        if header < 20 || header > tcp.len() {
            return None;
        }
        Some(Located {
            v6,
            ip,
            tcp,
            header,
        })
    }

    fn flags(&self) -> u8 {
        self.tcp[13]
    }

    fn segment(&self) -> Option<Segment> {
        // `find` finds no IPv6 segment without the feature.
        let (src, dst) = match self.v6 {
            #[cfg(feature = "proto-ipv6")]
            true => (
                IpAddr::from(be::<16>(self.ip, 8)?),
                IpAddr::from(be::<16>(self.ip, 24)?),
            ),
            _ => (
                IpAddr::from(be::<4>(self.ip, 12)?),
                IpAddr::from(be::<4>(self.ip, 16)?),
            ),
        };
        let (tcp, flags) = (self.tcp, self.flags());
        Some(Segment {
            src: SocketAddr::new(src, u16::from_be_bytes(be(tcp, 0)?)),
            dst: SocketAddr::new(dst, u16::from_be_bytes(be(tcp, 2)?)),
            syn: flags & SYN != 0,
            ack: flags & ACK != 0,
            fin: flags & FIN != 0,
            rst: flags & RST != 0,
            seq: u32::from_be_bytes(be(tcp, 4)?),
            ack_number: u32::from_be_bytes(be(tcp, 8)?),
            payload_len: tcp.len() - self.header,
        })
    }
}

#[cfg(test)]
fn parse_segment(frame: &[u8], medium: smoltcp::phy::Medium) -> Option<Segment> {
    Located::find(frame, medium)?.segment()
}

/// The slot of the connection a segment from the peer belongs to.
fn slot_for<'s>(slots: &'s [TcpSlot], segment: &Segment) -> Option<&'s TcpSlot> {
    slots.iter().find(|slot| {
        slot.owner != Owner::Free
            && !matches!(slot.last_state, State::Listen | State::Closed)
            && slot.local.get() == Some(segment.dst)
            && slot.remote.get() == Some(segment.src)
    })
}

/// Whether an incoming frame must not reach smoltcp. Two kinds are held back,
/// each the trigger of a stall in smoltcp 0.14:
///
/// - a repeated SYN of a connection the stack already has. smoltcp hands a SYN
///   to the first socket that accepts it, in socket order; with several
///   sockets listening on a port (a backlog), a duplicated or retransmitted SYN
///   can reach a second listening socket before the connection's own, which
///   then answers with a conflicting SYN-ACK, and the peer resets the
///   connection. The owner retransmits its SYN-ACK on its own timer anyway.
/// - the third and later duplicate ACKs that acknowledge all our data but not
///   our FIN. smoltcp answers three duplicates with a fast retransmit, which
///   has no data to resend, stops the retransmission timer, and never resends
///   the FIN: the connection hangs in FIN-WAIT-1 or LAST-ACK. Without the
///   duplicates, the timer resends the FIN.
pub(crate) fn is_held_back(slots: &[TcpSlot], frame: &[u8], medium: smoltcp::phy::Medium) -> bool {
    let Some(found) = Located::find(frame, medium) else {
        return false;
    };
    // Only a SYN without ACK, or an ACK while a FIN of ours is unacknowledged,
    // can be held back: anything else passes on its flags alone.
    let syn_only = found.flags() & (SYN | ACK) == SYN;
    if !syn_only && slots.iter().all(|slot| slot.fin_ack.get().is_none()) {
        return false;
    }
    let Some(segment) = found.segment() else {
        return false;
    };
    let Some(slot) = slot_for(slots, &segment) else {
        return false;
    };
    if syn_only {
        return true;
    }
    let pure_ack =
        segment.ack && !segment.syn && !segment.fin && !segment.rst && segment.payload_len == 0;
    match slot.fin_ack.get() {
        Some(fin_ack) if pure_ack && segment.ack_number == fin_ack.wrapping_sub(1) => {
            let seen = slot.acks_before_fin.get().saturating_add(1);
            slot.acks_before_fin.set(seen);
            seen > 2
        }
        _ => false,
    }
}

/// Notes the FIN of an outgoing frame, for [`is_held_back`].
pub(crate) fn note_sent(slots: &[TcpSlot], frame: &[u8], medium: smoltcp::phy::Medium) {
    let Some(found) = Located::find(frame, medium).filter(|f| f.flags() & FIN != 0) else {
        return;
    };
    let Some(segment) = found.segment() else {
        return;
    };
    let mine = slots.iter().find(|slot| {
        slot.owner != Owner::Free
            && slot.local.get() == Some(segment.src)
            && slot.remote.get() == Some(segment.dst)
    });
    if let Some(slot) = mine {
        let end = segment
            .seq
            .wrapping_add(segment.payload_len as u32)
            .wrapping_add(u32::from(segment.syn))
            .wrapping_add(1);
        slot.fin_ack.set(Some(end));
    }
}

#[cfg(test)]
mod tests {
    use super::parse_segment;
    use core::net::{Ipv4Addr, SocketAddr};
    use smoltcp::phy::Medium;

    /// An IPv4 packet with a TCP header (FIN + ACK, seq 7, ack 9, no payload)
    /// from 10.0.0.2:1234 to 10.0.0.1:80; checksums are not checked by the parse.
    fn ipv4_tcp_fin() -> [u8; 40] {
        let mut p = [0u8; 40];
        p[0] = 0x45; // IPv4, 5-word header
        p[2..4].copy_from_slice(&40u16.to_be_bytes());
        p[8] = 64; // TTL
        p[9] = 6; // TCP
        p[12..16].copy_from_slice(&[10, 0, 0, 2]);
        p[16..20].copy_from_slice(&[10, 0, 0, 1]);
        let t = &mut p[20..];
        t[0..2].copy_from_slice(&1234u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[4..8].copy_from_slice(&7u32.to_be_bytes());
        t[8..12].copy_from_slice(&9u32.to_be_bytes());
        t[12] = 5 << 4; // 5-word header
        t[13] = 0x11; // FIN + ACK
        p
    }

    fn check(frame: &[u8], medium: Medium) {
        let segment = parse_segment(frame, medium).expect("a TCP segment");
        assert_eq!(
            segment.src,
            SocketAddr::from((Ipv4Addr::new(10, 0, 0, 2), 1234))
        );
        assert_eq!(
            segment.dst,
            SocketAddr::from((Ipv4Addr::new(10, 0, 0, 1), 80))
        );
        assert!(segment.fin && segment.ack && !segment.syn && !segment.rst);
        assert_eq!((segment.seq, segment.ack_number), (7, 9));
        assert_eq!(segment.payload_len, 0);
    }

    #[test]
    fn segments_are_found_in_ethernet_frames() {
        let mut frame = [0u8; 54];
        frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        frame[14..].copy_from_slice(&ipv4_tcp_fin());
        check(&frame, Medium::Ethernet);
        // Without the Ethernet header it is no Ethernet frame of IPv4.
        assert!(parse_segment(&ipv4_tcp_fin(), Medium::Ethernet).is_none());
    }

    #[test]
    fn truncated_or_foreign_frames_are_no_segment() {
        let mut frame = [0u8; 54];
        frame[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
        frame[14..].copy_from_slice(&ipv4_tcp_fin());
        assert!(parse_segment(&frame, Medium::Ethernet).is_some());
        for len in 0..frame.len() {
            assert!(
                parse_segment(&frame[..len], Medium::Ethernet).is_none(),
                "{len}"
            );
        }
        let mut udp = frame;
        udp[14 + 9] = 17;
        assert!(parse_segment(&udp, Medium::Ethernet).is_none());
        // A TCP data offset past the segment's end.
        let mut long = frame;
        long[14 + 20 + 12] = 15 << 4;
        assert!(parse_segment(&long, Medium::Ethernet).is_none());
        // An IP total length shorter than the IP header.
        let mut short = frame;
        short[14 + 2..14 + 4].copy_from_slice(&10u16.to_be_bytes());
        assert!(parse_segment(&short, Medium::Ethernet).is_none());
    }

    #[cfg(feature = "medium-ip")]
    #[test]
    fn segments_are_found_in_bare_ip_packets_on_a_medium_ip_link() {
        check(&ipv4_tcp_fin(), Medium::Ip);
        assert!(parse_segment(&[], Medium::Ip).is_none());
        assert!(parse_segment(&[0x15; 40], Medium::Ip).is_none());
    }
}
