//! The micro:bit's LED matrix, as far as a row of LEDs goes: the first row's
//! LEDs, each an `embedded_hal` output pin where *high* means *lit*.
//!
//! An LED of the matrix lights when its row pin is high and its column pin
//! low. The row is driven high once ([`first_row`]); each LED is then its
//! column, inverted. The state reads back from the GPIO's `OUT` register
//! (QEMU models it), so what the firmware reports is what the pins show.

use core::convert::Infallible;

use crate::regs::Registers;

/// Register offsets (nRF51 Reference Manual, GPIO).
pub mod reg {
    /// The pins' output levels.
    pub const OUT: u32 = 0x504;
    /// Drive the pins of the mask high.
    pub const OUTSET: u32 = 0x508;
    /// Drive the pins of the mask low.
    pub const OUTCLR: u32 = 0x50c;
    /// Make the pins of the mask outputs.
    pub const DIRSET: u32 = 0x518;
}

/// Row 1 of the matrix (P0.13).
const ROW_1: u32 = 13;
/// Columns 1 to 3 (P0.4 to P0.6).
const COLUMNS: [u32; 3] = [4, 5, 6];

/// Drives row 1 high and the three columns high (every LED dark) on the GPIO
/// registers `regs`, and returns the row's LEDs.
pub fn first_row<R: Registers + Copy>(regs: R) -> [Led<R>; 3] {
    let columns = COLUMNS.iter().fold(0, |mask, pin| mask | 1 << pin);
    regs.write(reg::OUTSET, 1 << ROW_1 | columns);
    regs.write(reg::DIRSET, 1 << ROW_1 | columns);
    COLUMNS.map(|column| Led { regs, column })
}

/// One LED of row 1: high is lit.
#[derive(Debug)]
pub struct Led<R> {
    regs: R,
    column: u32,
}

impl<R> embedded_hal::digital::ErrorType for Led<R> {
    type Error = Infallible;
}

impl<R: Registers> embedded_hal::digital::OutputPin for Led<R> {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.regs.write(reg::OUTSET, 1 << self.column);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        self.regs.write(reg::OUTCLR, 1 << self.column);
        Ok(())
    }
}

impl<R: Registers> embedded_hal::digital::StatefulOutputPin for Led<R> {
    fn is_set_high(&mut self) -> Result<bool, Infallible> {
        Ok(self.regs.read(reg::OUT) & (1 << self.column) == 0)
    }

    fn is_set_low(&mut self) -> Result<bool, Infallible> {
        self.is_set_high().map(|lit| !lit)
    }
}
