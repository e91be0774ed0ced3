//! A simulated SHT3x on a simulated I²C bus: [`SimulatedSht3x`] implements
//! `embedded_hal_async::i2c::I2c` and answers as the chip does (see
//! [`crate::sensor`]), so the real driver runs against it unchanged. On the board
//! it stands in for the chip; on a host it stands in for the board.
//!
//! Its readings are a function of the time on a [`portnet::Clock`] and of a seed:
//! the temperature drifts along a triangle wave of ±3 °C around 22 °C with a period
//! of a minute, the humidity the other way around 45 %, each with a little
//! deterministic noise. The same seed and the same instants give the same bytes.

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource, Operation, SevenBitAddress};
use embedded_hal_async::i2c::{ErrorType, I2c};
use portnet::{Clock, Instant};

use crate::sensor::{
    DEFAULT_ADDRESS, MEASURE, MEASUREMENT_MICROS, SOFT_RESET, crc8, raw_from_celsius,
    raw_from_humidity,
};

/// The simulated bus's errors: the device did not acknowledge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nack(pub NoAcknowledgeSource);

impl embedded_hal::i2c::Error for Nack {
    fn kind(&self) -> ErrorKind {
        ErrorKind::NoAcknowledge(self.0)
    }
}

/// The period of the drift, in milliseconds.
const PERIOD_MILLIS: u64 = 60_000;

/// A simulated SHT3x at [`DEFAULT_ADDRESS`] alone on its bus.
#[derive(Debug)]
pub struct SimulatedSht3x<C> {
    clock: C,
    epoch: Instant,
    seed: u32,
    /// When the measurement in progress is ready, if one was started.
    ready_at: Option<Instant>,
    /// Measurements taken, for the noise.
    count: u32,
}

impl<C: Clock> SimulatedSht3x<C> {
    /// A device whose readings start now on `clock` and are shaped by `seed`.
    pub fn new(clock: C, seed: u32) -> Self {
        let epoch = clock.now();
        Self {
            clock,
            epoch,
            seed,
            ready_at: None,
            count: 0,
        }
    }

    /// The reading at `elapsed_millis` after the device started, for the
    /// `count`-th measurement: hundredths of °C and of %.
    pub fn reading_at(&self, elapsed_millis: u64, count: u32) -> (i32, u32) {
        // A triangle wave in −1000..=1000 (thousandths).
        let phase = elapsed_millis % PERIOD_MILLIS;
        let half = PERIOD_MILLIS / 2;
        let rising = if phase < half {
            phase
        } else {
            PERIOD_MILLIS - phase
        };
        let wave = i32::try_from(rising * 2_000 / half).unwrap_or(2_000) - 1_000;
        let noise = noise(self.seed, count);
        let celsius = 2_200 + wave * 300 / 1_000 + noise;
        let humidity = 4_500 - wave * 1_000 / 1_000 - noise;
        (celsius, u32::try_from(humidity.max(0)).unwrap_or(0))
    }

    fn reply(&mut self) -> [u8; 6] {
        let elapsed = self.clock.now().saturating_duration_since(self.epoch);
        let millis = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        let (celsius, humidity) = self.reading_at(millis, self.count);
        self.count = self.count.wrapping_add(1);
        let t = raw_from_celsius(celsius).to_be_bytes();
        let h = raw_from_humidity(humidity).to_be_bytes();
        [t[0], t[1], crc8(&t), h[0], h[1], crc8(&h)]
    }
}

/// Noise in −5..=5 hundredths, from a hash of the seed and the count.
fn noise(seed: u32, count: u32) -> i32 {
    let mut x = seed ^ count.wrapping_mul(0x9E37_79B9);
    x ^= x >> 16;
    x = x.wrapping_mul(0x7FEB_352D);
    x ^= x >> 15;
    i32::try_from(x % 11).unwrap_or(0) - 5
}

impl<C> ErrorType for SimulatedSht3x<C> {
    type Error = Nack;
}

impl<C: Clock> I2c<SevenBitAddress> for SimulatedSht3x<C> {
    async fn transaction(
        &mut self,
        address: SevenBitAddress,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        if address != DEFAULT_ADDRESS {
            return Err(Nack(NoAcknowledgeSource::Address));
        }
        for operation in operations {
            match operation {
                Operation::Write(bytes) if *bytes == MEASURE => {
                    let ready = self
                        .clock
                        .now()
                        .saturating_add(core::time::Duration::from_micros(
                            MEASUREMENT_MICROS.into(),
                        ));
                    self.ready_at = Some(ready);
                }
                Operation::Write(bytes) if *bytes == SOFT_RESET => self.ready_at = None,
                Operation::Write(_) => return Err(Nack(NoAcknowledgeSource::Data)),
                Operation::Read(buf) => {
                    // As the chip: no acknowledgement while measuring or idle.
                    match self.ready_at {
                        Some(at) if self.clock.now() >= at => {}
                        _ => return Err(Nack(NoAcknowledgeSource::Address)),
                    }
                    self.ready_at = None;
                    let reply = self.reply();
                    let n = buf.len().min(reply.len());
                    buf[..n].copy_from_slice(&reply[..n]);
                    buf[n..].fill(0xFF);
                }
            }
        }
        Ok(())
    }
}

/// `embedded-hal-async`'s delay on any [`portnet::Clock`] (for hosts: on the
/// board, `portnet_board_mps2_an385::board::timer::Delay` is the same thing).
#[derive(Debug, Clone, Copy)]
pub struct ClockDelay<C>(pub C);

impl<C: Clock> embedded_hal_async::delay::DelayNs for ClockDelay<C> {
    /// # Cancel safety
    ///
    /// Cancel safe, as the clock's sleep.
    async fn delay_ns(&mut self, ns: u32) {
        // Rounded up to whole microseconds (the clock's resolution), plus one,
        // so the delay never ends early.
        let micros = u64::from(ns).div_ceil(1_000) + 1;
        self.0
            .sleep(core::time::Duration::from_micros(micros))
            .await;
    }
}
