//! Links the board's firmware examples with `cortex-m-rt` (the library is unaffected).

fn main() {
    portnet_build_support::link_firmware(
        &portnet_build_support::MPS2_AN385,
        portnet_build_support::Targets::Examples,
    );
}
