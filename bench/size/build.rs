//! Links the skeletons with `cortex-m-rt` (memory map of the QEMU mps2-an385 board).

fn main() {
    portnet_build_support::link_firmware(
        &portnet_build_support::MPS2_AN385,
        portnet_build_support::Targets::Binaries,
    );
}
