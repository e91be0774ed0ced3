//! Primitive fields: integers, variable byte integers, binary data and UTF-8
//! strings, read from and written to byte slices with every bound checked.

use super::{DecodeError, EncodeError};

/// The largest value a variable byte integer can hold (four bytes).
pub const VARINT_MAX: u32 = 268_435_455;

/// Reads fields from a byte slice; every read checks the bound and fails with a
/// `Malformed` error instead of panicking.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) const fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(crate) const fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        core::mem::take(&mut self.buf)
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::malformed(what));
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        let (&b, tail) = self.buf.split_first().ok_or(DecodeError::malformed(what))?;
        self.buf = tail;
        Ok(b)
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn varint(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        match decode_varint(self.buf)? {
            Some((value, used)) => {
                self.buf = &self.buf[used..];
                Ok(value)
            }
            None => Err(DecodeError::malformed(what)),
        }
    }

    /// Two-byte length followed by that many bytes.
    pub(crate) fn binary(&mut self, what: &'static str) -> Result<&'a [u8], DecodeError> {
        let len = self.u16(what)?;
        self.bytes(usize::from(len), what)
    }

    /// A UTF-8 encoded string: valid UTF-8 without U+0000.
    pub(crate) fn string(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let raw = self.binary(what)?;
        let s = core::str::from_utf8(raw)
            .map_err(|_| DecodeError::malformed("string is not valid UTF-8"))?;
        if raw.contains(&0) {
            return Err(DecodeError::malformed("string contains U+0000"));
        }
        Ok(s)
    }
}

/// Decodes a variable byte integer at the start of `buf`: `Ok(None)` when `buf`
/// ends before the integer does, `Ok(Some((value, bytes used)))` otherwise.
///
/// # Errors
///
/// `Malformed` for a fifth continuation byte or a non-minimal encoding
/// (\[MQTT-1.5.5-1\]).
pub fn decode_varint(buf: &[u8]) -> Result<Option<(u32, usize)>, DecodeError> {
    let mut value: u32 = 0;
    for (i, &byte) in buf.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(DecodeError::malformed(
                    "variable byte integer not minimally encoded",
                ));
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= 4 {
        Err(DecodeError::malformed(
            "variable byte integer longer than 4 bytes",
        ))
    } else {
        Ok(None)
    }
}

/// How many bytes `value` takes as a variable byte integer (1 to 4).
pub const fn varint_len(value: u32) -> usize {
    if value < 128 {
        1
    } else if value < 16_384 {
        2
    } else if value < 2_097_152 {
        3
    } else {
        4
    }
}

/// Encodes `value` as a variable byte integer into `out`; returns the bytes used.
///
/// # Errors
///
/// `TooLong` above [`VARINT_MAX`], `BufferTooSmall` when `out` is too short.
pub fn encode_varint(value: u32, out: &mut [u8]) -> Result<usize, EncodeError> {
    let mut w = Writer::new(out);
    w.varint(value)?;
    w.finish()
}

/// Writes fields into a byte slice. It never writes out of bounds: on overflow it
/// keeps counting, so that [`Writer::finish`] can say how many bytes were needed.
/// A writer over an empty slice is a pure length counter.
#[derive(Debug)]
pub(crate) struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
    overflow: bool,
}

impl<'b> Writer<'b> {
    pub(crate) fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf,
            pos: 0,
            overflow: false,
        }
    }

    /// A writer that only counts.
    pub(crate) fn counter() -> Writer<'static> {
        Writer {
            buf: &mut [],
            pos: 0,
            overflow: true,
        }
    }

    pub(crate) const fn len(&self) -> usize {
        self.pos
    }

    /// The number of bytes written, or `BufferTooSmall` with the number needed.
    pub(crate) fn finish(self) -> Result<usize, EncodeError> {
        if self.overflow {
            Err(EncodeError::BufferTooSmall { needed: self.pos })
        } else {
            Ok(self.pos)
        }
    }

    pub(crate) fn bytes(&mut self, data: &[u8]) -> Result<(), EncodeError> {
        let end = self
            .pos
            .checked_add(data.len())
            .ok_or(EncodeError::TooLong)?;
        if !self.overflow {
            match self.buf.get_mut(self.pos..end) {
                Some(dst) => dst.copy_from_slice(data),
                None => self.overflow = true,
            }
        }
        self.pos = end;
        Ok(())
    }

    pub(crate) fn u8(&mut self, v: u8) -> Result<(), EncodeError> {
        self.bytes(&[v])
    }

    pub(crate) fn u16(&mut self, v: u16) -> Result<(), EncodeError> {
        self.bytes(&v.to_be_bytes())
    }

    pub(crate) fn u32(&mut self, v: u32) -> Result<(), EncodeError> {
        self.bytes(&v.to_be_bytes())
    }

    pub(crate) fn varint(&mut self, mut v: u32) -> Result<(), EncodeError> {
        if v > VARINT_MAX {
            return Err(EncodeError::TooLong);
        }
        loop {
            let mut byte = (v & 0x7f) as u8;
            v >>= 7;
            if v > 0 {
                byte |= 0x80;
            }
            self.u8(byte)?;
            if v == 0 {
                return Ok(());
            }
        }
    }

    pub(crate) fn binary(&mut self, data: &[u8]) -> Result<(), EncodeError> {
        let len = u16::try_from(data.len()).map_err(|_| EncodeError::TooLong)?;
        self.u16(len)?;
        self.bytes(data)
    }

    pub(crate) fn string(&mut self, s: &str) -> Result<(), EncodeError> {
        check_string(s).map_err(EncodeError::Invalid)?;
        self.binary(s.as_bytes())
    }
}

/// Checks the rules of an MQTT UTF-8 string that a `&str` can still break: at most
/// 65,535 bytes and no U+0000 (\[MQTT-1.5.4-2\]).
///
/// # Errors
///
/// A description of the rule broken.
pub fn check_string(s: &str) -> Result<(), &'static str> {
    if s.len() > usize::from(u16::MAX) {
        return Err("string longer than 65535 bytes");
    }
    if s.as_bytes().contains(&0) {
        return Err("string contains U+0000");
    }
    Ok(())
}
