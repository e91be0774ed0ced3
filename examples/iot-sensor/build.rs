//! Links the firmware binary with `cortex-m-rt` for QEMU's `mps2-an385`.

fn main() {
    portnet_build_support::link_firmware(
        &portnet_build_support::MPS2_AN385,
        portnet_build_support::Targets::Binaries,
    );
}
