//! The two user LEDs of the mps2-an385, in the FPGA's I/O block (FPGAIO at
//! 0x4002_8000; register `LED0` at offset 0, bit `n` lights LED `n`). QEMU's model
//! keeps the register and reads it back.
//!
//! Each LED is an `embedded-hal` [`StatefulOutputPin`], so drivers and
//! applications written against the HAL drive them unchanged.

use core::convert::Infallible;

use embedded_hal::digital::{ErrorType, OutputPin, StatefulOutputPin};

/// The FPGA I/O block's base address.
pub const FPGAIO_BASE: usize = 0x4002_8000;
/// How many user LEDs the board has.
pub const COUNT: u8 = 2;

const LED0: *mut u32 = FPGAIO_BASE as *mut u32;

/// The mask the LEDs show (bit `n` = LED `n`).
pub fn read() -> u8 {
    // SAFETY: LED0 is a 32-bit read/write register of the FPGAIO block, mapped at
    // this address on the mps2-an385; reading it has no side effect.
    let value = unsafe { LED0.read_volatile() };
    (value & ((1 << COUNT) - 1)) as u8
}

/// Lights the LEDs of `mask` and darkens the others (bits beyond [`COUNT`] are
/// ignored).
pub fn write(mask: u8) {
    let value = u32::from(mask) & ((1 << COUNT) - 1);
    // SAFETY: as in `read`; the register holds only the LED bits, so writing it
    // affects nothing else.
    unsafe { LED0.write_volatile(value) };
}

/// One LED as an output pin.
#[derive(Debug)]
pub struct Led {
    bit: u8,
}

/// The board's LEDs, LED0 first.
pub fn leds() -> [Led; COUNT as usize] {
    [Led { bit: 0 }, Led { bit: 1 }]
}

impl Led {
    fn set(&mut self, lit: bool) {
        // Read-modify-write of a register the two pins share.
        critical_section::with(|_| {
            let mask = read();
            write(if lit {
                mask | (1 << self.bit)
            } else {
                mask & !(1 << self.bit)
            });
        });
    }
}

impl ErrorType for Led {
    type Error = Infallible;
}

impl OutputPin for Led {
    fn set_low(&mut self) -> Result<(), Infallible> {
        self.set(false);
        Ok(())
    }

    fn set_high(&mut self) -> Result<(), Infallible> {
        self.set(true);
        Ok(())
    }
}

impl StatefulOutputPin for Led {
    fn is_set_high(&mut self) -> Result<bool, Infallible> {
        Ok(read() & (1 << self.bit) != 0)
    }

    fn is_set_low(&mut self) -> Result<bool, Infallible> {
        Ok(read() & (1 << self.bit) == 0)
    }
}
