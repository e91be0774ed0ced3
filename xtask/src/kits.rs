//! `cargo xtask kits` (CI step `kits`): the firmware of the kits people can buy
//! (`boards/kits`, a workspace of its own), formatted, linted and built in
//! release for each kit's target from the committed `Cargo.lock`, with each
//! firmware's flash and static RAM. Nothing here runs them: there is no
//! hardware on this machine.

use crate::{qemu, run};

/// The kits' workspace.
const MANIFEST: &str = "boards/kits/Cargo.toml";

/// One kit's firmware.
struct Kit {
    package: &'static str,
    target: &'static str,
    board: &'static str,
}

const KITS: [Kit; 3] = [
    Kit {
        package: "portnet-kit-pico-w",
        target: "thumbv6m-none-eabi",
        board: "Raspberry Pi Pico W (RP2040, cyw43 Wi-Fi)",
    },
    Kit {
        package: "portnet-kit-w5500-evb-pico",
        target: "thumbv6m-none-eabi",
        board: "WIZnet W5500-EVB-Pico (RP2040, W5500 Ethernet)",
    },
    Kit {
        package: "portnet-kit-nucleo-f429zi",
        target: "thumbv7em-none-eabihf",
        board: "ST NUCLEO-F429ZI (STM32F429, Ethernet)",
    },
];

/// The kits' target directory: `CARGO_TARGET_DIR` if set, else the
/// workspace's own.
fn target_dir() -> String {
    std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "boards/kits/target".to_owned())
}

pub(crate) fn kits() -> Result<(), String> {
    run(
        "cargo",
        &["fmt", "--all", "--check", "--manifest-path", MANIFEST],
        &[],
    )?;
    let mut rows = Vec::new();
    for kit in &KITS {
        let common = [
            "--manifest-path",
            MANIFEST,
            "--locked",
            "--release",
            "-p",
            kit.package,
            "--target",
            kit.target,
        ];
        let mut clippy = vec!["clippy", "-q"];
        clippy.extend(common);
        clippy.extend(["--", "-D", "warnings"]);
        run("cargo", &clippy, &[])?;
        let mut build = vec!["build", "-q"];
        build.extend(common);
        run("cargo", &build, &[])?;
        let elf = format!("{}/{}/release/{}", target_dir(), kit.target, kit.package);
        rows.push((kit, qemu::firmware_size(&elf)?));
    }
    // The support crate has no target of its own: linted for the smaller one.
    run(
        "cargo",
        &[
            "clippy",
            "-q",
            "--manifest-path",
            MANIFEST,
            "--locked",
            "--release",
            "-p",
            "portnet-kit-support",
            "--target",
            "thumbv6m-none-eabi",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    println!(
        "kit firmware (release, opt-level s, LTO; default settings; not run on hardware here)"
    );
    println!("{:48} {:>10} {:>10}", "board", "flash B", "RAM B");
    for (kit, size) in rows {
        println!(
            "{:48} {:>10} {:>10}",
            kit.board,
            size.text + size.rodata + size.data,
            size.data + size.bss
        );
    }
    Ok(())
}
