#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::fmt::Write as _;
use std::env;
use std::fs;
use std::path::PathBuf;

/// One board's memory map, as `cortex-m-rt`'s `memory.x` declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Memory {
    /// Where code and constants live (`FLASH`).
    pub flash_origin: u32,
    /// Its length in bytes.
    pub flash_length: u32,
    /// Where statics and the stack live (`RAM`).
    pub ram_origin: u32,
    /// Its length in bytes.
    pub ram_length: u32,
}

/// QEMU's `mps2-an385` (Cortex-M3): 4 MiB of SSRAM1 at 0 for code, 4 MiB of
/// SSRAM2/3 at 0x2000_0000 for data.
pub const MPS2_AN385: Memory = Memory {
    flash_origin: 0x0000_0000,
    flash_length: 4 << 20,
    ram_origin: 0x2000_0000,
    ram_length: 4 << 20,
};

/// The BBC micro:bit v1 (nRF51822 QFAA, Cortex-M0): 256 KiB of flash at 0 and
/// 16 KiB of RAM at 0x2000_0000. QEMU's `microbit` enforces both sizes, so a
/// firmware that fits here fits the real chip.
pub const MICROBIT: Memory = Memory {
    flash_origin: 0x0000_0000,
    flash_length: 256 << 10,
    ram_origin: 0x2000_0000,
    ram_length: 16 << 10,
};

/// ST's NUCLEO-F429ZI (STM32F429ZI, Cortex-M4F): 2 MiB of flash at
/// 0x0800_0000 and the 192 KiB of SRAM1–3 at 0x2000_0000, which the Ethernet
/// DMA reaches (the 64 KiB of CCM at 0x1000_0000, which it does not, are left
/// out).
pub const NUCLEO_F429ZI: Memory = Memory {
    flash_origin: 0x0800_0000,
    flash_length: 2 << 20,
    ram_origin: 0x2000_0000,
    ram_length: 192 << 10,
};

/// Which of the crate's targets are firmware (get `-Tlink.x`); the others,
/// the library above all, must not be linked with `cortex-m-rt`'s script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Targets {
    /// The crate's examples (a board crate's firmware).
    Examples,
    /// The crate's binaries (an application's firmware).
    Binaries,
}

impl Memory {
    /// The map as the text of `memory.x`.
    #[must_use]
    pub fn memory_x(&self) -> String {
        let mut text = String::from("MEMORY\n{\n");
        let _ = writeln!(
            text,
            "  FLASH : ORIGIN = {:#010x}, LENGTH = {}",
            self.flash_origin, self.flash_length
        );
        let _ = writeln!(
            text,
            "  RAM : ORIGIN = {:#010x}, LENGTH = {}",
            self.ram_origin, self.ram_length
        );
        text.push_str("}\n");
        text
    }
}

/// Call from `build.rs`: on a target with no OS, writes `memory`'s
/// `memory.x` into `OUT_DIR`, puts `OUT_DIR` on the linker's search path and
/// passes `-Tlink.x` to `targets` only. On any other target it does nothing,
/// so host builds and tests of the same crate are unaffected.
///
/// # Panics
///
/// Outside a build script (no `OUT_DIR`), or if `memory.x` cannot be written.
pub fn link_firmware(memory: &Memory, targets: Targets) {
    link_memory_x(&memory.memory_x(), targets);
}

/// The Raspberry Pi RP2040 (Pico W, W5500-EVB-Pico): 2 MiB of QSPI flash at
/// 0x1000_0000 whose first 256 bytes are the second-stage boot loader
/// (`BOOT2`, which `embassy-rp`'s `link-rp.x` fills), and 264 KiB of SRAM.
pub const RP2040_MEMORY_X: &str = "MEMORY\n{\n  \
    BOOT2 : ORIGIN = 0x10000000, LENGTH = 256\n  \
    FLASH : ORIGIN = 0x10000100, LENGTH = 2096896\n  \
    RAM : ORIGIN = 0x20000000, LENGTH = 270336\n}\n";

/// As [`link_firmware`], with the text of `memory.x` given whole: for chips
/// whose map has more than `FLASH` and `RAM` (the RP2040's `BOOT2`).
///
/// # Panics
///
/// Outside a build script (no `OUT_DIR`), or if `memory.x` cannot be written.
pub fn link_memory_x(memory_x: &str, targets: Targets) {
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), memory_x).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    let kind = match targets {
        Targets::Examples => "examples",
        Targets::Binaries => "bins",
    };
    println!("cargo:rustc-link-arg-{kind}=-Tlink.x");
}

/// Call from `build.rs` for a setting the firmware reads with `option_env!`:
/// rebuilds when `name` changes, and fails the build with a message naming
/// `name` and `what` it must be if its value is set and `valid` rejects it
/// (so a typo is a build error, not firmware that cannot start).
///
/// # Panics
///
/// With that message, when the value is set and not valid.
pub fn check_env(name: &str, what: &str, valid: impl Fn(&str) -> bool) {
    println!("cargo:rerun-if-env-changed={name}");
    if let Ok(value) = env::var(name)
        && !valid(&value)
    {
        panic!("{name}={value:?} is not {what}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_x_declares_both_regions_in_bytes() {
        assert_eq!(
            MICROBIT.memory_x(),
            "MEMORY\n{\n  FLASH : ORIGIN = 0x00000000, LENGTH = 262144\n  \
             RAM : ORIGIN = 0x20000000, LENGTH = 16384\n}\n"
        );
        assert!(MPS2_AN385.memory_x().contains("LENGTH = 4194304"));
    }

    #[test]
    fn the_rp2040_map_leaves_boot2_its_256_bytes() {
        assert!(RP2040_MEMORY_X.contains("BOOT2 : ORIGIN = 0x10000000, LENGTH = 256\n"));
        // 2 MiB of flash less BOOT2, 264 KiB of SRAM.
        assert!(RP2040_MEMORY_X.contains(&format!("LENGTH = {}\n", (2 << 20) - 256)));
        assert!(RP2040_MEMORY_X.contains(&format!("LENGTH = {}\n", 264 << 10)));
    }
}
