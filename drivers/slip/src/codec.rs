//! SLIP framing (RFC 1055): an encoder that can stop and resume anywhere, and a
//! streaming decoder fed arbitrary chunks of bytes.
//!
//! A frame goes on the line as its bytes with two of them escaped, followed by
//! `END`:
//!
//! | in the frame | on the line |
//! |---|---|
//! | `END` (0xC0) | `ESC ESC_END` (0xDB 0xDC) |
//! | `ESC` (0xDB) | `ESC ESC_ESC` (0xDB 0xDD) |
//! | any other byte | itself |
//!
//! An `END` may also open a frame, to end whatever line noise came before it;
//! the decoder sees that as an empty frame and counts it.

use core::fmt;

/// Ends a frame.
pub const END: u8 = 0xC0;
/// Starts an escape.
pub const ESC: u8 = 0xDB;
/// After `ESC`: an `END` byte of the frame.
pub const ESC_END: u8 = 0xDC;
/// After `ESC`: an `ESC` byte of the frame.
pub const ESC_ESC: u8 = 0xDD;

/// How many bytes `frame` takes on the line: one `END` before and one after
/// it, and one more for each `END` or `ESC` in it.
pub fn encoded_len(frame: &[u8]) -> usize {
    2 + frame.len() + frame.iter().filter(|&&b| b == END || b == ESC).count()
}

/// The output buffer cannot hold the encoded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferTooSmall {
    /// How many bytes the encoding needs ([`encoded_len`]).
    pub needed: usize,
}

impl fmt::Display for BufferTooSmall {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the encoded SLIP frame needs {} bytes", self.needed)
    }
}

impl core::error::Error for BufferTooSmall {}

/// Encodes `frame` into `out` as `END`, the escaped frame, `END`; returns the
/// number of bytes written.
///
/// # Errors
///
/// [`BufferTooSmall`] when `out` is shorter than [`encoded_len`]`(frame)`;
/// `out` is then left with an unfinished encoding.
pub fn encode(frame: &[u8], out: &mut [u8]) -> Result<usize, BufferTooSmall> {
    let mut encoder = Encoder::new(true);
    let written = encoder.encode(frame, out);
    if encoder.is_done() {
        Ok(written)
    } else {
        Err(BufferTooSmall {
            needed: encoded_len(frame),
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing written yet; with or without a leading `END`.
    Start { leading_end: bool },
    /// Frame bytes from `pos` on are still to go.
    Body,
    /// The second byte of an escape is still to go.
    Escaped(u8),
    /// Everything but the closing `END` is written.
    Closing,
    /// The whole frame is on its way.
    Done,
}

/// A resumable encoder of one frame: it writes as much of the encoding as fits
/// in each output buffer it is given and continues where it stopped.
///
/// Give it the same frame on every call until [`Encoder::is_done`]: it keeps
/// only a position in the frame.
#[derive(Debug, Clone)]
pub struct Encoder {
    pos: usize,
    stage: Stage,
}

impl Encoder {
    /// An encoder at the start of a frame. `leading_end` puts an `END` before
    /// the frame, which ends any line noise the receiver has collected (worth
    /// it after the line was idle; between frames sent back to back, the
    /// previous frame's `END` does it).
    pub const fn new(leading_end: bool) -> Self {
        Self {
            pos: 0,
            stage: Stage::Start { leading_end },
        }
    }

    /// Whether the whole frame has been written out.
    pub const fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done)
    }

    /// Writes the next part of `frame`'s encoding into `out`; returns how many
    /// bytes it wrote (0 when `out` is empty or the frame is done).
    pub fn encode(&mut self, frame: &[u8], out: &mut [u8]) -> usize {
        let mut written = 0;
        while written < out.len() {
            match self.stage {
                Stage::Start { leading_end } => {
                    self.stage = Stage::Body;
                    if leading_end {
                        out[written] = END;
                        written += 1;
                    }
                }
                Stage::Body => {
                    let Some(&byte) = frame.get(self.pos) else {
                        self.stage = Stage::Closing;
                        continue;
                    };
                    self.pos += 1;
                    let escaped = match byte {
                        END => ESC_END,
                        ESC => ESC_ESC,
                        plain => {
                            out[written] = plain;
                            written += 1;
                            continue;
                        }
                    };
                    out[written] = ESC;
                    written += 1;
                    self.stage = Stage::Escaped(escaped);
                }
                Stage::Escaped(byte) => {
                    out[written] = byte;
                    written += 1;
                    self.stage = Stage::Body;
                }
                Stage::Closing => {
                    out[written] = END;
                    written += 1;
                    self.stage = Stage::Done;
                }
                Stage::Done => break,
            }
        }
        written
    }
}

/// Why a frame was dropped. The decoder drops the frame and starts the next
/// one after the `END` that closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// An `END` right after another (or at the very start): no frame. A
    /// sender's leading `END` gives one of these, by design.
    Empty,
    /// `ESC` followed by a byte other than `ESC_END` or `ESC_ESC` (an `END`
    /// included): the frame was corrupted on the line.
    BadEscape,
    /// The frame did not fit in the frame buffer (the MTU).
    Overlong,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "empty SLIP frame",
            Self::BadEscape => "SLIP frame with an invalid escape sequence",
            Self::Overlong => "SLIP frame longer than the frame buffer",
        })
    }
}

impl core::error::Error for DecodeError {}

/// Frames and errors a [`Decoder`] has seen (each counter wraps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    /// Frames decoded.
    pub frames: u32,
    /// Empty frames ([`DecodeError::Empty`]).
    pub empty: u32,
    /// Frames dropped for a bad escape ([`DecodeError::BadEscape`]).
    pub bad_escape: u32,
    /// Frames dropped for their length ([`DecodeError::Overlong`]).
    pub overlong: u32,
}

impl DecodeStats {
    fn count(&mut self, outcome: &Result<usize, DecodeError>) {
        let counter = match outcome {
            Ok(_) => &mut self.frames,
            Err(DecodeError::Empty) => &mut self.empty,
            Err(DecodeError::BadEscape) => &mut self.bad_escape,
            Err(DecodeError::Overlong) => &mut self.overlong,
        };
        *counter = counter.wrapping_add(1);
    }
}

/// A streaming SLIP decoder: feed it the bytes from the line in chunks of any
/// size; it writes frame bytes into a frame buffer the caller owns, and
/// reports each `END` as a frame or an error.
///
/// Memory is the caller's: the frame buffer's length is the largest frame
/// accepted (the MTU). The decoder keeps only the frame's length so far and
/// whether an escape is open, so the caller must pass the same frame buffer
/// (with its content) until a frame ends. No input makes it panic.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    len: usize,
    escaped: bool,
    /// Why the current frame will be dropped, once its `END` arrives.
    error: Option<DecodeError>,
    stats: DecodeStats,
}

impl Decoder {
    /// A decoder at the start of a frame.
    pub const fn new() -> Self {
        Self {
            len: 0,
            escaped: false,
            error: None,
            stats: DecodeStats {
                frames: 0,
                empty: 0,
                bad_escape: 0,
                overlong: 0,
            },
        }
    }

    /// Decodes `input` into `frame` up to and including the first `END`, or to
    /// the end of `input`. Returns how many bytes of `input` it used and, if it
    /// used an `END`, the outcome of the frame that `END` closed: its length
    /// (the frame is `frame[..len]`) or why it was dropped.
    ///
    /// Call it again with the rest of `input` for the frames after it.
    pub fn decode(
        &mut self,
        input: &[u8],
        frame: &mut [u8],
    ) -> (usize, Option<Result<usize, DecodeError>>) {
        for (used, &byte) in input.iter().enumerate() {
            if byte == END {
                let outcome = self.finish();
                self.stats.count(&outcome);
                return (used + 1, Some(outcome));
            }
            if self.error.is_some() {
                continue;
            }
            let data = if self.escaped {
                self.escaped = false;
                match byte {
                    ESC_END => END,
                    ESC_ESC => ESC,
                    _ => {
                        self.error = Some(DecodeError::BadEscape);
                        continue;
                    }
                }
            } else if byte == ESC {
                self.escaped = true;
                continue;
            } else {
                byte
            };
            match frame.get_mut(self.len) {
                Some(slot) => {
                    *slot = data;
                    self.len += 1;
                }
                None => self.error = Some(DecodeError::Overlong),
            }
        }
        (input.len(), None)
    }

    /// The outcome of the frame an `END` closes; starts the next frame.
    fn finish(&mut self) -> Result<usize, DecodeError> {
        let len = core::mem::take(&mut self.len);
        let escaped = core::mem::take(&mut self.escaped);
        match self.error.take() {
            Some(error) => Err(error),
            // An `END` right after `ESC` cuts an escape in two.
            None if escaped => Err(DecodeError::BadEscape),
            None if len == 0 => Err(DecodeError::Empty),
            None => Ok(len),
        }
    }

    /// Bytes of the current, unfinished frame so far.
    pub const fn pending(&self) -> usize {
        self.len
    }

    /// Forgets the unfinished frame: the next byte starts a new one.
    pub fn reset(&mut self) {
        self.len = 0;
        self.escaped = false;
        self.error = None;
    }

    /// What the decoder has seen so far.
    pub const fn stats(&self) -> DecodeStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], mtu: usize) -> ([u8; 64], [Option<Result<usize, DecodeError>>; 8]) {
        let mut decoder = Decoder::new();
        let mut frame = [0u8; 64];
        let mut outcomes = [None; 8];
        let mut rest = input;
        let mut n = 0;
        while !rest.is_empty() {
            let (used, outcome) = decoder.decode(rest, &mut frame[..mtu]);
            rest = &rest[used..];
            if outcome.is_some() {
                outcomes[n] = outcome;
                n += 1;
            }
        }
        (frame, outcomes)
    }

    #[test]
    fn a_frame_with_both_special_bytes_round_trips() {
        let frame = [1, END, 2, ESC, 3];
        let mut out = [0u8; 16];
        let n = encode(&frame, &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[END, 1, ESC, ESC_END, 2, ESC, ESC_ESC, 3, END][..]
        );
        assert_eq!(n, encoded_len(&frame));
        let (decoded, outcomes) = decode_all(&out[..n], 64);
        assert_eq!(outcomes[0], Some(Err(DecodeError::Empty)));
        assert_eq!(outcomes[1], Some(Ok(5)));
        assert_eq!(&decoded[..5], &frame[..]);
    }

    #[test]
    fn encoding_into_a_short_buffer_says_how_much_is_needed() {
        let mut out = [0u8; 4];
        assert_eq!(
            encode(&[END, END], &mut out),
            Err(BufferTooSmall { needed: 6 })
        );
    }

    #[test]
    fn bad_escapes_overlong_and_empty_frames_are_dropped_and_counted() {
        let input = [
            1, ESC, 7, 2, END, // bad escape
            1, 2, 3, 4, 5, END, // overlong for an MTU of 4
            END, // empty
            9, ESC, END, // escape cut by END
            4, 3, END, // a good frame: the decoder resynchronised
        ];
        let mut decoder = Decoder::new();
        let mut frame = [0u8; 4];
        let mut outcomes = [None; 5];
        let mut rest = &input[..];
        for slot in &mut outcomes {
            let (used, outcome) = decoder.decode(rest, &mut frame);
            rest = &rest[used..];
            *slot = outcome;
        }
        assert!(rest.is_empty());
        assert_eq!(
            outcomes,
            [
                Some(Err(DecodeError::BadEscape)),
                Some(Err(DecodeError::Overlong)),
                Some(Err(DecodeError::Empty)),
                Some(Err(DecodeError::BadEscape)),
                Some(Ok(2)),
            ]
        );
        assert_eq!(&frame[..2], &[4, 3]);
        assert_eq!(
            decoder.stats(),
            DecodeStats {
                frames: 1,
                empty: 1,
                bad_escape: 2,
                overlong: 1
            }
        );
    }

    #[test]
    fn a_frame_exactly_the_buffer_size_fits() {
        let (decoded, outcomes) = decode_all(&[1, 2, 3, ESC, ESC_ESC, END], 4);
        assert_eq!(outcomes[0], Some(Ok(4)));
        assert_eq!(&decoded[..4], &[1, 2, 3, ESC]);
    }

    #[test]
    fn a_zero_length_buffer_drops_every_non_empty_frame() {
        let (_, outcomes) = decode_all(&[1, END, END], 0);
        assert_eq!(outcomes[0], Some(Err(DecodeError::Overlong)));
        assert_eq!(outcomes[1], Some(Err(DecodeError::Empty)));
    }

    #[test]
    fn the_encoder_resumes_in_the_middle_of_an_escape() {
        let frame = [END, ESC, 5];
        let mut encoder = Encoder::new(false);
        let mut line = [0u8; 16];
        let mut len = 0;
        for _ in 0..16 {
            if encoder.is_done() {
                break;
            }
            len += encoder.encode(&frame, &mut line[len..len + 1]);
        }
        assert!(encoder.is_done());
        assert_eq!(&line[..len], &[ESC, ESC_END, ESC, ESC_ESC, 5, END]);
        assert_eq!(encoder.encode(&frame, &mut line), 0);
    }
}
