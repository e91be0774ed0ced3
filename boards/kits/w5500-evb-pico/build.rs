//! Links the firmware for the RP2040 and checks the build-time settings, so a
//! typo fails the build instead of giving firmware that cannot start.

fn main() {
    portnet_build_support::link_memory_x(
        portnet_build_support::RP2040_MEMORY_X,
        portnet_build_support::Targets::Binaries,
    );
    // embassy-rp's script places the boot loader in BOOT2.
    println!("cargo:rustc-link-arg-bins=-Tlink-rp.x");
    portnet_build_support::check_env("PORTNET_BROKER", "address:port", |v| {
        v.parse::<std::net::SocketAddr>().is_ok()
    });
    portnet_build_support::check_env("PORTNET_DEVICE_ID", "1 to 32 bytes without / + #", |v| {
        (1..=32).contains(&v.len()) && !v.contains(['/', '+', '#'])
    });
}
