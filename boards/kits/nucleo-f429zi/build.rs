//! Links the firmware for the STM32F429ZI and checks the build-time settings,
//! so a typo fails the build instead of giving firmware that cannot start.

fn main() {
    portnet_build_support::link_firmware(
        &portnet_build_support::NUCLEO_F429ZI,
        portnet_build_support::Targets::Binaries,
    );
    portnet_build_support::check_env("PORTNET_BROKER", "address:port", |v| {
        v.parse::<std::net::SocketAddr>().is_ok()
    });
    portnet_build_support::check_env("PORTNET_DEVICE_ID", "1 to 32 bytes without / + #", |v| {
        (1..=32).contains(&v.len()) && !v.contains(['/', '+', '#'])
    });
}
