//! Sequences of fields that are either borrowed from a decoded packet (already
//! validated) or given by the caller as a slice, for encoding.

use core::fmt;

use super::wire::{Reader, Writer};
use super::{DecodeError, EncodeError};

/// A field that can appear in a [`List`] (sealed: implemented by the codec's types).
pub trait Item<'a>: sealed::Codec<'a> + Copy {}

impl<'a, T: sealed::Codec<'a> + Copy> Item<'a> for T {}

pub(crate) mod sealed {
    use super::{DecodeError, EncodeError, Reader, Writer};

    pub trait Codec<'a>: Sized {
        /// Decodes one item; a list's bytes were validated when its packet was decoded.
        fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError>;
        /// Encodes the item.
        fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError>;
    }
}

/// A sequence of `T`: either a slice the caller gives for encoding, or the validated
/// bytes of a decoded packet (zero-copy). Both iterate the same way.
#[derive(Clone, Copy)]
pub struct List<'a, T> {
    repr: Repr<'a, T>,
}

#[derive(Clone, Copy)]
enum Repr<'a, T> {
    Items(&'a [T]),
    Chain(&'a [T], &'a [T]),
    Encoded(&'a [u8]),
}

impl<'a, T: Item<'a>> List<'a, T> {
    /// A list of the given items.
    pub const fn new(items: &'a [T]) -> Self {
        Self {
            repr: Repr::Items(items),
        }
    }

    /// The items of `first` followed by those of `second`.
    pub const fn chain(first: &'a [T], second: &'a [T]) -> Self {
        Self {
            repr: Repr::Chain(first, second),
        }
    }

    /// An empty list.
    pub const fn empty() -> Self {
        Self::new(&[])
    }

    /// A list over bytes that a decoder has validated item by item.
    pub(crate) const fn encoded(bytes: &'a [u8]) -> Self {
        Self {
            repr: Repr::Encoded(bytes),
        }
    }

    /// True when the list has no item.
    pub fn is_empty(&self) -> bool {
        match self.repr {
            Repr::Items(items) => items.is_empty(),
            Repr::Chain(a, b) => a.is_empty() && b.is_empty(),
            Repr::Encoded(bytes) => bytes.is_empty(),
        }
    }

    /// The number of items (counts by iterating for a decoded list).
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// The items, in order.
    pub fn iter(&self) -> ListIter<'a, T> {
        ListIter { repr: self.repr }
    }

    /// Encodes every item, one after the other.
    pub(crate) fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        match self.repr {
            Repr::Encoded(bytes) => w.bytes(bytes),
            Repr::Items(items) => items.iter().try_for_each(|item| item.write(w)),
            Repr::Chain(a, b) => a.iter().chain(b).try_for_each(|item| item.write(w)),
        }
    }

    /// The number of bytes the items take encoded.
    pub(crate) fn encoded_len(&self) -> Result<usize, EncodeError> {
        let mut w = Writer::counter();
        self.write(&mut w)?;
        Ok(w.len())
    }
}

impl<'a, T: Item<'a>> Default for List<'a, T> {
    fn default() -> Self {
        Self::empty()
    }
}

impl<'a, T: Item<'a> + PartialEq> PartialEq for List<'a, T> {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl<'a, T: Item<'a> + Eq> Eq for List<'a, T> {}

impl<'a, T: Item<'a> + fmt::Debug> fmt::Debug for List<'a, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a, T: Item<'a>> IntoIterator for List<'a, T> {
    type Item = T;
    type IntoIter = ListIter<'a, T>;
    fn into_iter(self) -> ListIter<'a, T> {
        self.iter()
    }
}

impl<'a, T: Item<'a>> From<&'a [T]> for List<'a, T> {
    fn from(items: &'a [T]) -> Self {
        Self::new(items)
    }
}

impl<'a, T: Item<'a>, const N: usize> From<&'a [T; N]> for List<'a, T> {
    fn from(items: &'a [T; N]) -> Self {
        Self::new(items)
    }
}

/// Iterator over a [`List`].
#[derive(Clone)]
pub struct ListIter<'a, T> {
    repr: Repr<'a, T>,
}

impl<T> fmt::Debug for ListIter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ListIter")
    }
}

impl<'a, T: Item<'a>> Iterator for ListIter<'a, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        match &mut self.repr {
            Repr::Items(items) => {
                let (first, rest) = items.split_first()?;
                *items = rest;
                Some(*first)
            }
            Repr::Chain(a, b) => {
                if a.is_empty() {
                    core::mem::swap(a, b);
                }
                let (first, rest) = a.split_first()?;
                *a = rest;
                Some(*first)
            }
            Repr::Encoded(bytes) => {
                if bytes.is_empty() {
                    return None;
                }
                let mut r = Reader::new(bytes);
                // The bytes were validated when the packet was decoded; should they
                // not decode anyway, the iteration just ends.
                match T::read(&mut r) {
                    Ok(item) => {
                        *bytes = r.rest();
                        Some(item)
                    }
                    Err(_) => {
                        *bytes = &[];
                        None
                    }
                }
            }
        }
    }
}

impl<'a> sealed::Codec<'a> for &'a str {
    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        r.string("topic filter")
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.string(self)
    }
}

impl<'a> sealed::Codec<'a> for super::ReasonCode {
    fn read(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        r.u8("reason code").map(Self)
    }
    fn write(&self, w: &mut Writer<'_>) -> Result<(), EncodeError> {
        w.u8(self.0)
    }
}
