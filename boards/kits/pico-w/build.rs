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
    portnet_build_support::check_env("PORTNET_WIFI_SSID", "1 to 32 bytes", |v| {
        (1..=32).contains(&v.len())
    });
    portnet_build_support::check_env(
        "PORTNET_WIFI_PASSWORD",
        "empty (an open network) or 8 to 63 bytes (WPA2)",
        |v| v.is_empty() || (8..=63).contains(&v.len()),
    );
    portnet_build_support::check_env("PORTNET_DEVICE_ID", "1 to 32 bytes without / + #", |v| {
        (1..=32).contains(&v.len()) && !v.contains(['/', '+', '#'])
    });
    portnet_build_support::check_env(
        "PORTNET_CYW43_NVRAM",
        "a readable file (a CYW43439 NVRAM, to replace the Pico W's)",
        |v| std::path::Path::new(v).is_file(),
    );
    // The NVRAM comes from the registry crate `cyw43-setup` (the Pico W's);
    // a path given at build time replaces it, for another board or module.
    println!("cargo::rustc-check-cfg=cfg(kit_nvram)");
    if let Ok(path) = std::env::var("PORTNET_CYW43_NVRAM") {
        let out =
            std::path::PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
        std::fs::copy(&path, out.join("nvram.bin"))
            .unwrap_or_else(|e| panic!("PORTNET_CYW43_NVRAM={path}: {e}"));
        println!("cargo:rerun-if-changed={path}");
        println!("cargo:rustc-cfg=kit_nvram");
    }
}
