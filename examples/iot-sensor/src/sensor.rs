//! A driver for a Sensirion SHT3x-style temperature and humidity sensor, written
//! only against `embedded-hal-async`'s [`I2c`] and [`DelayNs`]: it runs on any
//! bus that implements them (a chip's I²C peripheral, or the simulated device of
//! [`crate::sim`]).
//!
//! The protocol (from the SHT3x datasheet): a single-shot measurement starts with
//! the two command bytes `0x24 0x00` (high repeatability, no clock stretching);
//! after at most 15.5 ms the chip returns six bytes: temperature (big-endian
//! 16 bits, then a CRC-8), humidity (the same). Until the measurement is ready the
//! chip does not acknowledge its address.

use embedded_hal_async::delay::DelayNs;
use embedded_hal_async::i2c::I2c;

/// The sensor's I²C address with its ADDR pin low.
pub const DEFAULT_ADDRESS: u8 = 0x44;
/// Single shot, high repeatability, no clock stretching.
pub const MEASURE: [u8; 2] = [0x24, 0x00];
/// Soft reset.
pub const SOFT_RESET: [u8; 2] = [0x30, 0xA2];
/// The longest a high-repeatability measurement takes, in microseconds.
pub const MEASUREMENT_MICROS: u32 = 15_500;
/// The longest a soft reset takes, in microseconds.
pub const RESET_MICROS: u32 = 1_500;

/// One measurement, in hundredths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Measurement {
    /// Temperature in hundredths of a degree Celsius.
    pub centi_celsius: i32,
    /// Relative humidity in hundredths of a percent.
    pub centi_percent: u32,
}

/// What went wrong talking to the sensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// The bus failed (no acknowledgement, arbitration lost, …).
    Bus(E),
    /// A word's CRC did not match: the bytes were damaged on the bus.
    Crc,
}

impl<E: core::fmt::Debug> core::fmt::Display for Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Bus(e) => write!(f, "i2c bus error: {e:?}"),
            Self::Crc => f.write_str("CRC mismatch in the sensor's reply"),
        }
    }
}

/// The driver: owns the bus (or a shared-bus handle) and a delay.
#[derive(Debug)]
pub struct Sht3x<I, D> {
    bus: I,
    delay: D,
    address: u8,
}

impl<I: I2c, D: DelayNs> Sht3x<I, D> {
    /// A driver for the sensor at `address` on `bus`.
    pub const fn new(bus: I, delay: D, address: u8) -> Self {
        Self {
            bus,
            delay,
            address,
        }
    }

    /// Gives the bus and the delay back.
    pub fn release(self) -> (I, D) {
        (self.bus, self.delay)
    }

    /// Resets the sensor and waits until it is ready again.
    ///
    /// # Errors
    ///
    /// [`Error::Bus`] if the sensor did not acknowledge.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the reset is idempotent.
    pub async fn reset(&mut self) -> Result<(), Error<I::Error>> {
        self.bus
            .write(self.address, &SOFT_RESET)
            .await
            .map_err(Error::Bus)?;
        self.delay.delay_us(RESET_MICROS).await;
        Ok(())
    }

    /// Starts a measurement, waits for it and reads it.
    ///
    /// # Errors
    ///
    /// [`Error::Bus`] if the bus failed, [`Error::Crc`] if a word was damaged.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a measurement dropped half-way is simply started again.
    pub async fn measure(&mut self) -> Result<Measurement, Error<I::Error>> {
        self.bus
            .write(self.address, &MEASURE)
            .await
            .map_err(Error::Bus)?;
        self.delay.delay_us(MEASUREMENT_MICROS).await;
        let mut reply = [0u8; 6];
        self.bus
            .read(self.address, &mut reply)
            .await
            .map_err(Error::Bus)?;
        let [t0, t1, t_crc, h0, h1, h_crc] = reply;
        if crc8(&[t0, t1]) != t_crc || crc8(&[h0, h1]) != h_crc {
            return Err(Error::Crc);
        }
        Ok(Measurement {
            centi_celsius: celsius_from_raw(u16::from_be_bytes([t0, t1])),
            centi_percent: humidity_from_raw(u16::from_be_bytes([h0, h1])),
        })
    }
}

/// The sensor's CRC-8: polynomial 0x31, initial value 0xFF, no reflection.
pub fn crc8(data: &[u8]) -> u8 {
    let mut crc = 0xFFu8;
    for &byte in data {
        crc ^= byte;
        for _ in 0..8 {
            crc = if crc & 0x80 != 0 {
                (crc << 1) ^ 0x31
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// Hundredths of a degree Celsius from a raw reading: −45 + 175 · raw / 65535.
pub fn celsius_from_raw(raw: u16) -> i32 {
    let scaled = i64::from(raw) * 17_500 / 65_535;
    // In −4500..=13000: fits.
    i32::try_from(scaled - 4_500).unwrap_or(i32::MAX)
}

/// Hundredths of a percent of relative humidity from a raw reading: 100 · raw / 65535.
pub fn humidity_from_raw(raw: u16) -> u32 {
    // At most 10 000: fits.
    u32::try_from(u64::from(raw) * 10_000 / 65_535).unwrap_or(u32::MAX)
}

/// The raw reading closest to (and not above) `centi_celsius`, clamped to the
/// sensor's range (−45 to 130 °C): the inverse of [`celsius_from_raw`].
pub fn raw_from_celsius(centi_celsius: i32) -> u16 {
    let offset = u64::try_from(i64::from(centi_celsius.clamp(-4_500, 13_000)) + 4_500).unwrap_or(0);
    // Rounded up so that converting back gives the same hundredths.
    u16::try_from((offset * 65_535).div_ceil(17_500)).unwrap_or(u16::MAX)
}

/// The raw reading for `centi_percent` (clamped to 0..=100 %): the inverse of
/// [`humidity_from_raw`].
pub fn raw_from_humidity(centi_percent: u32) -> u16 {
    let percent = u64::from(centi_percent.min(10_000));
    u16::try_from((percent * 65_535).div_ceil(10_000)).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_matches_the_datasheet_example() {
        // The datasheet's example: 0xBEEF has CRC 0x92.
        assert_eq!(crc8(&[0xBE, 0xEF]), 0x92);
    }

    #[test]
    fn conversions_round_trip() {
        for centi in [-4_500, -1, 0, 1, 2_153, 4_599, 13_000] {
            assert_eq!(celsius_from_raw(raw_from_celsius(centi)), centi, "{centi}");
        }
        for centi in [0, 1, 4_520, 9_999, 10_000] {
            assert_eq!(
                humidity_from_raw(raw_from_humidity(centi)),
                centi,
                "{centi}"
            );
        }
        assert_eq!(celsius_from_raw(0), -4_500);
        assert_eq!(celsius_from_raw(u16::MAX), 13_000);
        assert_eq!(raw_from_celsius(i32::MIN), 0);
        assert_eq!(raw_from_humidity(u32::MAX), u16::MAX);
    }
}
