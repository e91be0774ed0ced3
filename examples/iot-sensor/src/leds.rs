//! Where the node shows its state: a row of LEDs, as a bit mask.

use embedded_hal::digital::StatefulOutputPin;

/// A row of LEDs. Bit `n` of a mask is LED `n`.
pub trait Leds {
    /// Lights the LEDs of `mask` and darkens the others; returns the mask the
    /// LEDs show afterwards (read back where the hardware allows; bits beyond the
    /// row are dropped).
    fn show(&mut self, mask: u8) -> u8;
}

/// Any array of `embedded-hal` output pins is a row of LEDs (lit = high).
impl<P: StatefulOutputPin, const N: usize> Leds for [P; N] {
    fn show(&mut self, mask: u8) -> u8 {
        let mut shown = 0;
        for (i, pin) in self.iter_mut().enumerate().take(8) {
            let lit = mask & (1 << i) != 0;
            let _ = if lit { pin.set_high() } else { pin.set_low() };
            if pin.is_set_high().unwrap_or(false) {
                shown |= 1 << i;
            }
        }
        shown
    }
}

/// LEDs that exist only in memory, `count` of them (for hosts and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLeds {
    /// How many LEDs (at most 8).
    pub count: u8,
    /// What they show.
    pub mask: u8,
}

impl Leds for MemoryLeds {
    fn show(&mut self, mask: u8) -> u8 {
        let row = u8::try_from((1u16 << self.count.min(8)) - 1).unwrap_or(u8::MAX);
        self.mask = mask & row;
        self.mask
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::convert::Infallible;

    #[derive(Default)]
    struct Pin(bool);
    impl embedded_hal::digital::ErrorType for Pin {
        type Error = Infallible;
    }
    impl embedded_hal::digital::OutputPin for Pin {
        fn set_low(&mut self) -> Result<(), Infallible> {
            self.0 = false;
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Infallible> {
            self.0 = true;
            Ok(())
        }
    }
    impl StatefulOutputPin for Pin {
        fn is_set_high(&mut self) -> Result<bool, Infallible> {
            Ok(self.0)
        }
        fn is_set_low(&mut self) -> Result<bool, Infallible> {
            Ok(!self.0)
        }
    }

    #[test]
    fn pins_show_the_mask_within_the_row() {
        let mut pins = [Pin::default(), Pin::default()];
        assert_eq!(pins.show(0b111), 0b11);
        assert!(pins[0].0 && pins[1].0);
        assert_eq!(pins.show(0b10), 0b10);
        assert!(!pins[0].0 && pins[1].0);
    }

    #[test]
    fn memory_leds_drop_bits_beyond_the_row() {
        let mut leds = MemoryLeds { count: 2, mask: 0 };
        assert_eq!(leds.show(0xFF), 0b11);
        let mut eight = MemoryLeds { count: 8, mask: 0 };
        assert_eq!(eight.show(0xA5), 0xA5);
    }
}
