//! Links the board's firmware examples with `cortex-m-rt` (the library is unaffected).

fn main() {
    portnet_build_support::link_firmware(
        &portnet_build_support::MICROBIT,
        portnet_build_support::Targets::Examples,
    );
}
