//! Pool records that cost no flash.
//!
//! A pool is usually a `static`. When every byte of its initial value is zero
//! (or padding), the value goes to `.bss`, which start-up code zeroes; one
//! byte that is not puts the whole pool, buffers and all, into `.data`, whose
//! initial image is stored in flash and copied to RAM at start-up. `Option<T>`
//! of a type with a niche (`SocketAddr`, a field-less enum) spells `None` with
//! a non-zero byte, so pool records hold [`Unset`] instead.

/// `Option<T>` whose empty value is all zero bytes.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unset<T> {
    /// No value (discriminant zero; the rest of the value is padding).
    None = 0,
    /// A value.
    Some(T) = 1,
}

impl<T: Copy> Unset<T> {
    /// The value as an `Option`.
    pub(crate) const fn get(self) -> Option<T> {
        match self {
            Self::None => None,
            Self::Some(value) => Some(value),
        }
    }
}

impl<T> From<Option<T>> for Unset<T> {
    fn from(value: Option<T>) -> Self {
        match value {
            None => Self::None,
            Some(value) => Self::Some(value),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Unset;
    use core::net::{Ipv4Addr, SocketAddr};

    #[test]
    fn round_trips_through_option() {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 7));
        assert_eq!(Unset::from(Some(addr)).get(), Some(addr));
        assert_eq!(Unset::<SocketAddr>::from(None).get(), None);
        assert_eq!(Unset::<SocketAddr>::None, Unset::from(None));
    }
}
