//! `cargo xtask setup`: what the checks need, installed if missing.

use crate::{in_ci, output, run};

/// Rust targets every `no_std` crate is built for.
pub(crate) const THUMB_TARGETS: [&str; 2] = ["thumbv6m-none-eabi", "thumbv7m-none-eabi"];

/// The Cortex-M4F target of the benchmarks' code-size skeletons (`bench/size`)
/// and of the NUCLEO-F429ZI kit (`boards/kits`); the other kits are thumbv6m.
const SIZE_TARGET: &str = "thumbv7em-none-eabihf";

/// The mdBook release that builds the guide (`docs/guide`).
const MDBOOK_VERSION: &str = "0.5.4";

/// The MSRV declared in the workspace, checked with its own toolchain.
pub(crate) const MSRV: &str = "1.91";

/// Debian packages the tests need: the broker for MQTT tests, python3's
/// `http.server` as the HTTP peer of `portnet-embedded`'s reqwless test, curl as
/// the HTTP client of its edge-http server test, busybox's udhcpc as the DHCP
/// client of its edge-dhcp server test, QEMU for firmware,
/// valgrind for the full benchmark's instruction counts.
/// The cross C compiler and its C library headers build lwIP for the thumb targets
/// (`portnet-lwip`).
const APT_PACKAGES: [(&str, &str); 8] = [
    ("mosquitto", "mosquitto"),
    ("python3", "python3"),
    ("curl", "curl"),
    ("busybox", "busybox"),
    ("qemu-system-arm", "qemu-system-arm"),
    ("valgrind", "valgrind"),
    ("gcc-arm-none-eabi", "arm-none-eabi-gcc"),
    ("libnewlib-arm-none-eabi", "libnewlib-arm-none-eabi"),
];

/// Nightly components for Miri.
const NIGHTLY_COMPONENTS: [&str; 2] = ["miri", "rust-src"];

/// Nightly targets: the boards', for the docs.rs-style builds of
/// `portnet-board-mps2-an385` and `portnet-board-microbit`, whose docs.rs targets
/// they are.
const NIGHTLY_TARGETS: [&str; 2] = ["thumbv7m-none-eabi", "thumbv6m-none-eabi"];

/// Installs what the checks need, skipping what is present; says what it found and did.
pub(crate) fn setup() -> Result<(), String> {
    eprintln!("== setup");
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    let targets: Vec<&str> = THUMB_TARGETS.iter().copied().chain([SIZE_TARGET]).collect();
    let missing: Vec<&str> = targets
        .iter()
        .copied()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        eprintln!("present: targets {}", targets.join(", "));
    } else {
        let mut args = vec!["target", "add"];
        args.extend(&missing);
        run("rustup", &args, &[])?;
    }
    let components = output("rustup", &["component", "list", "--installed"]).unwrap_or_default();
    for component in ["clippy", "rustfmt"] {
        if has_component(&components, component) {
            eprintln!("present: component {component}");
        } else {
            run("rustup", &["component", "add", component], &[])?;
        }
    }
    let toolchains = output("rustup", &["toolchain", "list"]).unwrap_or_default();
    for toolchain in [MSRV, "nightly"] {
        if has_toolchain(&toolchains, toolchain) {
            eprintln!("present: toolchain {toolchain}");
        } else {
            run(
                "rustup",
                &["toolchain", "install", toolchain, "--profile", "minimal"],
                &[],
            )?;
        }
    }
    let nightly = output(
        "rustup",
        &["component", "list", "--installed", "--toolchain", "nightly"],
    )
    .unwrap_or_default();
    for component in NIGHTLY_COMPONENTS {
        if has_component(&nightly, component) {
            eprintln!("present: nightly component {component}");
        } else {
            run(
                "rustup",
                &["component", "add", component, "--toolchain", "nightly"],
                &[],
            )?;
        }
    }
    let nightly_targets = output(
        "rustup",
        &["target", "list", "--installed", "--toolchain", "nightly"],
    )
    .unwrap_or_default();
    for target in NIGHTLY_TARGETS {
        if nightly_targets.lines().any(|l| l.trim() == target) {
            eprintln!("present: nightly target {target}");
        } else {
            run(
                "rustup",
                &["target", "add", target, "--toolchain", "nightly"],
                &[],
            )?;
        }
    }
    if output("cargo", &["fuzz", "--version"]).is_some() {
        eprintln!("present: cargo-fuzz");
    } else {
        run("cargo", &["install", "cargo-fuzz", "--locked"], &[])?;
    }
    if output("mdbook", &["--version"]).is_some() {
        eprintln!("present: mdbook");
    } else {
        // The guide's builder; its search index and file watcher are not needed.
        run(
            "cargo",
            &[
                "install",
                "mdbook",
                "--locked",
                "--version",
                MDBOOK_VERSION,
                "--no-default-features",
            ],
            &[],
        )?;
    }
    apt_install()?;
    lwip_source()
}

/// The crates.io package whose tarball carries lwIP's source tree (its `src/`:
/// lwIP 2.2.1 in development, see `src/include/lwip/init.h`). Only that tree is
/// used, never the crate's Rust code; `portnet-lwip` compiles it.
const LWIP_CRATE: &str = "lwip";
const LWIP_CRATE_VERSION: &str = "0.3.15";
/// SHA-256 of `lwip-0.3.15.crate` as crates.io serves it.
const LWIP_CRATE_SHA256: &str = "fb7051f756d2ad2ee15f003ce2178646908a9d50bc966bd37dcd1eea8ce2bb13";

/// Where `lwip_source` unpacks lwIP: `<target>/lwip-src/lwip-<version>/src`, the
/// default place `backends/lwip/build.rs` looks (`PORTNET_LWIP_SRC` overrides it).
pub(crate) fn lwip_source_dir() -> String {
    format!(
        "{}/lwip-src/{LWIP_CRATE}-{LWIP_CRATE_VERSION}/src",
        crate::target_dir()
    )
}

/// Downloads the pinned lwIP tarball from crates.io, checks its hash, and unpacks
/// lwIP's `src/` for `portnet-lwip`; skipped when it is already unpacked.
fn lwip_source() -> Result<(), String> {
    let dir = lwip_source_dir();
    if std::path::Path::new(&dir)
        .join("include/lwip/init.h")
        .is_file()
    {
        eprintln!("present: lwIP source ({dir})");
        return Ok(());
    }
    let cache = format!("{}/lwip-src", crate::target_dir());
    std::fs::create_dir_all(&cache).map_err(|e| format!("cannot create {cache}: {e}"))?;
    let tarball = format!("{cache}/{LWIP_CRATE}-{LWIP_CRATE_VERSION}.crate");
    let url = format!(
        "https://static.crates.io/crates/{LWIP_CRATE}/{LWIP_CRATE}-{LWIP_CRATE_VERSION}.crate"
    );
    run(
        "curl",
        &["-sSfL", "--retry", "3", "-o", &tarball, &url],
        &[],
    )?;
    let sum = output("sha256sum", &[&tarball]).ok_or("sha256sum failed")?;
    let sum = sum.split_whitespace().next().unwrap_or_default();
    if sum != LWIP_CRATE_SHA256 {
        // A tarball that is not the pinned one must not be built, nor stay.
        let _ = std::fs::remove_file(&tarball);
        return Err(format!(
            "{url}: SHA-256 {sum}, expected {LWIP_CRATE_SHA256}; not unpacked"
        ));
    }
    run(
        "tar",
        &[
            "-xzf",
            &tarball,
            "-C",
            &cache,
            &format!("{LWIP_CRATE}-{LWIP_CRATE_VERSION}/src"),
        ],
        &[],
    )
}

/// Whether `rustup component list --installed` lists `component` (`clippy-x86_64-…`).
fn has_component(list: &str, component: &str) -> bool {
    list.lines().any(|line| {
        line.strip_prefix(component)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
    })
}

/// Whether `rustup toolchain list` lists `toolchain` (`1.91-x86_64-…`, `nightly-… (default)`).
fn has_toolchain(list: &str, toolchain: &str) -> bool {
    list.lines().any(|line| {
        line.split_whitespace().next().is_some_and(|name| {
            name.strip_prefix(toolchain)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('-'))
        })
    })
}

/// Whether an executable named `binary` is on `PATH`.
fn on_path(binary: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(binary).is_file()))
}

/// Whether dpkg knows `package` as installed.
fn dpkg_installed(package: &str) -> bool {
    output("dpkg-query", &["-W", "-f=${Status}", package])
        .is_some_and(|status| status.trim() == "install ok installed")
}

/// Installs the missing [`APT_PACKAGES`]: `apt-get update` once, then one `apt-get install`.
/// Outside CI a failure (no apt, no root and no sudo, no network) is a warning; with `CI=true`
/// it is an error.
fn apt_install() -> Result<(), String> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .filter(|(package, binary)| !on_path(binary) && !dpkg_installed(package))
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        eprintln!(
            "present: apt packages {}",
            APT_PACKAGES.map(|(p, _)| p).join(", ")
        );
        return Ok(());
    }
    eprintln!("missing apt packages: {}", missing.join(" "));
    let root = output("id", &["-u"]).is_some_and(|uid| uid.trim() == "0");
    let attempt = if !on_path("apt-get") {
        Err("apt-get is not available on this machine".to_owned())
    } else if !root && !on_path("sudo") {
        Err("not root and sudo is not available".to_owned())
    } else {
        let (program, prefix): (&str, &[&str]) = if root {
            ("apt-get", &[])
        } else {
            ("sudo", &["apt-get"])
        };
        let mut update = prefix.to_vec();
        update.extend(["update", "-q"]);
        run(program, &update, &[]).and_then(|()| {
            let mut install = prefix.to_vec();
            install.extend(["install", "-y", "-q", "--no-install-recommends"]);
            install.extend(&missing);
            run(program, &install, &[("DEBIAN_FRONTEND", "noninteractive")])
        })
    };
    match attempt {
        Ok(()) => Ok(()),
        Err(e) if !in_ci() => {
            eprintln!(
                "warning: could not install {} ({e}); install them by hand, or the tests \
                 that need them will fail",
                missing.join(" ")
            );
            Ok(())
        }
        Err(e) => Err(format!("could not install {}: {e}", missing.join(" "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_rustup_listings() {
        let components = "cargo-x86_64-unknown-linux-gnu\nclippy-x86_64-unknown-linux-gnu\n";
        assert!(has_component(components, "clippy"));
        assert!(has_component(components, "cargo"));
        assert!(!has_component(components, "rustfmt"));
        assert!(!has_component("clippy-preview-x\n", "clippy-pre"));
        let toolchains = "stable-x86_64-unknown-linux-gnu (default)\n\
                          1.91-x86_64-unknown-linux-gnu\n\
                          nightly-x86_64-unknown-linux-gnu\n";
        assert!(has_toolchain(toolchains, "1.91"));
        assert!(has_toolchain(toolchains, "nightly"));
        assert!(!has_toolchain(toolchains, "1.9"));
        assert!(!has_toolchain("1.91.1-x86_64-unknown-linux-gnu\n", "1.91"));
        assert!(!has_toolchain("no installed toolchains\n", "nightly"));
    }
}
