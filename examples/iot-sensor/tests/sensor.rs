//! The SHT3x driver against the simulated device on the tokio clock: readings,
//! drift, determinism, and the bus errors a real chip gives.
#![allow(clippy::std_instead_of_core)]

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
use embedded_hal_async::i2c::I2c as _;
use portnet_iot_sensor::sensor::{DEFAULT_ADDRESS, Error, MEASURE, Sht3x};
use portnet_iot_sensor::sim::{ClockDelay, Nack, SimulatedSht3x};
use portnet_tokio::Tokio;

#[tokio::test]
async fn the_driver_reads_the_simulated_chip() {
    let clock = Tokio::new();
    let mut sensor = Sht3x::new(
        SimulatedSht3x::new(clock, 5),
        ClockDelay(clock),
        DEFAULT_ADDRESS,
    );
    sensor.reset().await.expect("reset");
    let first = sensor.measure().await.expect("measure");
    // Around 22 °C ± 3 and 45 % ± 10 (plus a little noise).
    assert!((1_895..=2_505).contains(&first.centi_celsius), "{first:?}");
    assert!((3_495..=5_505).contains(&first.centi_percent), "{first:?}");
    let second = sensor.measure().await.expect("measure");
    assert!(
        (first.centi_celsius - second.centi_celsius).abs() < 50,
        "{first:?} {second:?}"
    );
}

#[test]
fn readings_drift_with_time_and_are_deterministic() {
    let device = SimulatedSht3x::new(Tokio::new(), 5);
    let at = |ms, n| device.reading_at(ms, n);
    assert_eq!(at(0, 0), at(0, 0));
    assert_eq!(
        at(60_000, 7),
        at(0, 7),
        "the drift has a period of a minute"
    );
    let (cold, _) = at(0, 1);
    let (warm, _) = at(30_000, 1);
    assert!(
        warm - cold > 500,
        "{cold} → {warm}: the temperature rises over half a period"
    );
}

#[tokio::test]
async fn the_device_answers_as_the_chip_does() {
    let clock = Tokio::new();
    let mut bus = SimulatedSht3x::new(clock, 1);
    // Nobody at another address.
    let mut reply = [0u8; 6];
    assert_eq!(
        bus.read(0x45, &mut reply).await,
        Err(Nack(NoAcknowledgeSource::Address))
    );
    // No measurement started, or not ready yet: no acknowledgement.
    assert_eq!(
        bus.read(DEFAULT_ADDRESS, &mut reply).await,
        Err(Nack(NoAcknowledgeSource::Address))
    );
    bus.write(DEFAULT_ADDRESS, &MEASURE).await.unwrap();
    assert!(
        bus.read(DEFAULT_ADDRESS, &mut reply).await.is_err(),
        "read too early"
    );
    // An unknown command is not acknowledged.
    assert_eq!(
        bus.write(DEFAULT_ADDRESS, &[0x12, 0x34]).await,
        Err(Nack(NoAcknowledgeSource::Data))
    );
    assert_eq!(
        embedded_hal::i2c::Error::kind(&Nack(NoAcknowledgeSource::Data)),
        ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data)
    );
    // The driver reports the bus error with its kind.
    let mut wrong = Sht3x::new(bus, ClockDelay(clock), 0x45);
    assert_eq!(
        wrong.measure().await,
        Err(Error::Bus(Nack(NoAcknowledgeSource::Address)))
    );
}

/// A bus that damages one bit of every read: the driver must notice.
struct Noisy(SimulatedSht3x<Tokio>);

impl embedded_hal_async::i2c::ErrorType for Noisy {
    type Error = Nack;
}

impl embedded_hal_async::i2c::I2c for Noisy {
    async fn transaction(
        &mut self,
        address: u8,
        operations: &mut [embedded_hal::i2c::Operation<'_>],
    ) -> Result<(), Nack> {
        self.0.transaction(address, operations).await?;
        for operation in operations {
            if let embedded_hal::i2c::Operation::Read(buf) = operation
                && let Some(byte) = buf.get_mut(1)
            {
                *byte ^= 0x04;
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_damaged_reply_is_a_crc_error() {
    let clock = Tokio::new();
    let mut sensor = Sht3x::new(
        Noisy(SimulatedSht3x::new(clock, 3)),
        ClockDelay(clock),
        DEFAULT_ADDRESS,
    );
    assert_eq!(sensor.measure().await, Err(Error::Crc));
}
