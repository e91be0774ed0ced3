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
    println!("cargo:rerun-if-changed=build.rs");
    if env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("none") {
        return;
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    fs::write(out.join("memory.x"), memory.memory_x()).expect("write memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    let kind = match targets {
        Targets::Examples => "examples",
        Targets::Binaries => "bins",
    };
    println!("cargo:rustc-link-arg-{kind}=-Tlink.x");
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
}
