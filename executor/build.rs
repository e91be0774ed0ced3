//! Links the firmware half of the examples with `cortex-m-rt` for QEMU's
//! `mps2-an385` (the library is unaffected).

fn main() {
    portnet_build_support::link_firmware(
        &portnet_build_support::MPS2_AN385,
        portnet_build_support::Targets::Examples,
    );
}
