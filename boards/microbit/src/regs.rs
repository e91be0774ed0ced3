//! The seam between the drivers and the chip: 32-bit register reads and
//! writes at offsets inside one peripheral's window. On the board it is
//! [`Mmio`]; the host tests put a model of the peripheral behind it.

/// One peripheral's registers.
pub trait Registers {
    /// Reads the register at `offset`.
    fn read(&self, offset: u32) -> u32;
    /// Writes `value` to the register at `offset`.
    fn write(&self, offset: u32, value: u32);
}

impl<R: Registers + ?Sized> Registers for &R {
    fn read(&self, offset: u32) -> u32 {
        (**self).read(offset)
    }
    fn write(&self, offset: u32, value: u32) {
        (**self).write(offset, value);
    }
}

/// Every nRF51 peripheral has a 4 KiB register window.
const WINDOW_LAST_WORD: u32 = 0xffc;

/// A peripheral's registers in memory: volatile 32-bit accesses.
#[derive(Debug, Clone, Copy)]
pub struct Mmio {
    base: usize,
}

impl Mmio {
    /// The registers of the peripheral mapped at `base`.
    ///
    /// # Safety
    ///
    /// `base` must be the address of an nRF51 peripheral: 4 KiB of device
    /// memory, valid for volatile 32-bit reads and writes for as long as the
    /// value is used, and touched by nothing that does not go through its
    /// driver.
    #[allow(unsafe_code)]
    pub const unsafe fn new(base: usize) -> Self {
        Self { base }
    }

    fn address(&self, offset: u32) -> usize {
        // Word aligned and inside the window, whatever the caller passes.
        self.base + (offset & WINDOW_LAST_WORD) as usize
    }
}

impl Registers for Mmio {
    fn read(&self, offset: u32) -> u32 {
        // SAFETY: `Mmio::new`'s contract makes `base..base + 0x1000` the
        // peripheral's registers, and `address` keeps the access word aligned
        // inside them.
        #[allow(unsafe_code)]
        unsafe {
            core::ptr::read_volatile(self.address(offset) as *const u32)
        }
    }

    fn write(&self, offset: u32, value: u32) {
        // SAFETY: as in `read`.
        #[allow(unsafe_code)]
        unsafe {
            core::ptr::write_volatile(self.address(offset) as *mut u32, value);
        }
    }
}
