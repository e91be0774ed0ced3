#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

/// Ends a frame (and may start one).
pub const END: u8 = 0xc0;
/// Starts an escape.
pub const ESC: u8 = 0xdb;
/// After `ESC`: a data byte `END`.
pub const ESC_END: u8 = 0xdc;
/// After `ESC`: a data byte `ESC`.
pub const ESC_ESC: u8 = 0xdd;

/// The length of `packet` once encoded by [`encode`].
pub fn encoded_len(packet: &[u8]) -> usize {
    2 + packet.len() + packet.iter().filter(|&&b| b == END || b == ESC).count()
}

/// Encodes `packet` as one frame, handing the bytes to `out` in order.
pub fn encode(packet: &[u8], mut out: impl FnMut(u8)) {
    out(END);
    for &byte in packet {
        match byte {
            END => {
                out(ESC);
                out(ESC_END);
            }
            ESC => {
                out(ESC);
                out(ESC_ESC);
            }
            other => out(other),
        }
    }
    out(END);
}

/// Encodes `packet` into `buf`; the encoded length, or `None` if `buf` is too
/// short (then `buf` holds a partial frame and must not be sent).
pub fn encode_into(packet: &[u8], buf: &mut [u8]) -> Option<usize> {
    let len = encoded_len(packet);
    let slots = buf.get_mut(..len)?;
    let mut at = 0;
    encode(packet, |b| {
        slots[at] = b;
        at += 1;
    });
    Some(len)
}

/// What went wrong with a dropped frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// More than the decoder's `N` bytes.
    TooLong,
    /// `ESC` followed by something other than `ESC_END` or `ESC_ESC`.
    BadEscape,
    /// `ESC` directly before `END`.
    CutEscape,
}

/// Counts of dropped frames by cause.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Errors {
    /// Frames longer than the decoder's capacity.
    pub too_long: u32,
    /// Frames with an invalid escape.
    pub bad_escape: u32,
    /// Frames that ended in the middle of an escape.
    pub cut_escape: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Collecting a frame.
    Data,
    /// The previous byte was `ESC`.
    Escape,
    /// The frame is bad; skip to the next `END`.
    Discard(FrameError),
}

/// A streaming SLIP decoder holding at most `N` bytes of one packet.
#[derive(Debug, Clone)]
pub struct Decoder<const N: usize> {
    buf: [u8; N],
    len: usize,
    state: State,
    errors: Errors,
}

/// What [`Decoder::push`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Event<'a> {
    /// A whole packet.
    Packet(&'a [u8]),
    /// A frame was dropped.
    Dropped(FrameError),
}

impl<const N: usize> Default for Decoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Decoder<N> {
    /// An empty decoder.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            state: State::Data,
            errors: Errors {
                too_long: 0,
                bad_escape: 0,
                cut_escape: 0,
            },
        }
    }

    /// The frames dropped so far, by cause.
    pub fn errors(&self) -> Errors {
        self.errors
    }

    fn drop_frame(&mut self, error: FrameError) {
        match error {
            FrameError::TooLong => self.errors.too_long = self.errors.too_long.wrapping_add(1),
            FrameError::BadEscape => {
                self.errors.bad_escape = self.errors.bad_escape.wrapping_add(1);
            }
            FrameError::CutEscape => {
                self.errors.cut_escape = self.errors.cut_escape.wrapping_add(1);
            }
        }
    }

    fn store(&mut self, byte: u8) {
        if self.len == N {
            self.state = State::Discard(FrameError::TooLong);
        } else {
            self.buf[self.len] = byte;
            self.len += 1;
        }
    }

    /// Feeds one byte; returns an event when the byte ends a frame.
    pub fn push(&mut self, byte: u8) -> Option<Event<'_>> {
        match (self.state, byte) {
            (State::Discard(error), END) => {
                self.state = State::Data;
                self.len = 0;
                self.drop_frame(error);
                Some(Event::Dropped(error))
            }
            (State::Discard(_), _) => None,
            (State::Escape, END) => {
                self.state = State::Data;
                self.len = 0;
                self.drop_frame(FrameError::CutEscape);
                Some(Event::Dropped(FrameError::CutEscape))
            }
            (State::Escape, ESC_END) => {
                self.state = State::Data;
                self.store(END);
                None
            }
            (State::Escape, ESC_ESC) => {
                self.state = State::Data;
                self.store(ESC);
                None
            }
            (State::Escape, _) => {
                self.state = State::Discard(FrameError::BadEscape);
                None
            }
            (State::Data, END) => {
                let len = core::mem::take(&mut self.len);
                // END END is an empty frame: line noise flushing, not a packet.
                (len > 0).then(|| Event::Packet(&self.buf[..len]))
            }
            (State::Data, ESC) => {
                self.state = State::Escape;
                None
            }
            (State::Data, other) => {
                self.store(other);
                None
            }
        }
    }

    /// Feeds `bytes`, calling `on_packet` for every whole packet; returns how
    /// many frames were dropped meanwhile.
    pub fn feed(&mut self, bytes: &[u8], mut on_packet: impl FnMut(&[u8])) -> u32 {
        let mut dropped = 0;
        for &byte in bytes {
            match self.push(byte) {
                Some(Event::Packet(packet)) => on_packet(packet),
                Some(Event::Dropped(_)) => dropped += 1,
                None => {}
            }
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;

    fn encoded(packet: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        encode(packet, |b| out.push(b));
        assert_eq!(out.len(), encoded_len(packet));
        out
    }

    fn decode_all<const N: usize>(decoder: &mut Decoder<N>, bytes: &[u8]) -> Vec<Vec<u8>> {
        let mut packets = Vec::new();
        decoder.feed(bytes, |p| packets.push(p.to_vec()));
        packets
    }

    /// SplitMix64, for reproducible packets.
    fn rng(seed: &mut u64) -> u64 {
        *seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = *seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    #[test]
    fn the_special_bytes_are_escaped() {
        assert_eq!(
            encoded(&[1, END, 2, ESC, 3]),
            vec![END, 1, ESC, ESC_END, 2, ESC, ESC_ESC, 3, END]
        );
    }

    #[test]
    fn random_packets_round_trip_split_at_every_boundary() {
        let mut seed = 7;
        for round in 0..200 {
            let len = (rng(&mut seed) % 300) as usize + 1;
            let packet: Vec<u8> = (0..len)
                .map(|_| match rng(&mut seed) % 4 {
                    0 => END,
                    1 => ESC,
                    _ => rng(&mut seed) as u8,
                })
                .collect();
            let wire = encoded(&packet);
            let cut = (round * 13) % wire.len();
            let mut decoder = Decoder::<512>::new();
            let mut got = decode_all(&mut decoder, &wire[..cut]);
            got.extend(decode_all(&mut decoder, &wire[cut..]));
            assert_eq!(got, vec![packet], "round {round}, cut at {cut}");
            assert_eq!(decoder.errors(), Errors::default());
        }
    }

    #[test]
    fn an_overlong_frame_is_dropped_and_the_next_one_comes_through() {
        let mut decoder = Decoder::<8>::new();
        let mut wire = encoded(&[9; 9]);
        wire.extend(encoded(&[1, 2, 3]));
        assert_eq!(decode_all(&mut decoder, &wire), vec![vec![1, 2, 3]]);
        assert_eq!(decoder.errors().too_long, 1);
        // Exactly N bytes fit.
        assert_eq!(
            decode_all(&mut decoder, &encoded(&[5; 8])),
            vec![vec![5; 8]]
        );
    }

    #[test]
    fn bad_and_cut_escapes_are_dropped_and_counted() {
        let mut decoder = Decoder::<64>::new();
        let wire = [END, 1, ESC, 0x42, 2, END, 3, ESC, END, 4, END];
        assert_eq!(decode_all(&mut decoder, &wire), vec![vec![4]]);
        assert_eq!(
            decoder.errors(),
            Errors {
                too_long: 0,
                bad_escape: 1,
                cut_escape: 1
            }
        );
    }

    #[test]
    fn empty_frames_and_leading_noise_flushed_by_end_are_ignored() {
        let mut decoder = Decoder::<64>::new();
        assert_eq!(
            decode_all(&mut decoder, &[END, END, END]),
            Vec::<Vec<u8>>::new()
        );
        assert_eq!(decoder.errors(), Errors::default());
    }

    #[test]
    fn encode_into_refuses_a_short_buffer() {
        let mut buf = [0u8; 4];
        assert_eq!(encode_into(&[END, END], &mut buf), None);
        let mut buf = [0u8; 6];
        assert_eq!(encode_into(&[END, END], &mut buf), Some(6));
    }
}
