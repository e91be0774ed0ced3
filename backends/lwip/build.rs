//! Compiles lwIP from its source tree, which `cargo xtask setup` unpacks from the
//! pinned crates.io package (nothing of lwIP is in this repository), with this
//! crate's `c/lwipopts.h`, `c/arch/cc.h` and FFI glue.

use std::env;
use std::path::{Path, PathBuf};

/// Where `cargo xtask setup` unpacks lwIP, below the target directory.
const CACHE: &str = "lwip-src/lwip-0.3.15/src";

fn main() {
    println!("cargo:rerun-if-env-changed=PORTNET_LWIP_SRC");
    println!("cargo:rerun-if-changed=c");
    println!("cargo:rerun-if-env-changed=DOCS_RS");
    let Some(src) = find_source() else {
        // docs.rs has no lwIP source and needs none: documentation links nothing.
        if env::var_os("DOCS_RS").is_some() {
            return;
        }
        eprintln!(
            "error: portnet-lwip needs lwIP's source tree and cannot find it.\n\
             Run `cargo xtask setup` (it downloads the pinned lwIP from crates.io into \
             target/{CACHE}), or set PORTNET_LWIP_SRC to an lwIP `src` directory \
             (the one holding core/ and include/)."
        );
        std::process::exit(1);
    };
    println!("cargo:rerun-if-changed={}", src.display());
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let mut build = cc::Build::new();
    build
        .include(manifest.join("c"))
        .include(src.join("include"))
        .file(manifest.join("c/glue.c"))
        .warnings(false)
        // lwIP compares a u16 with a constant that may be larger on some settings.
        .flag_if_supported("-Wno-type-limits");
    let mut files = 0;
    for dir in ["core", "core/ipv4", "netif"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(src.join(dir))
            .unwrap_or_else(|e| panic!("{}: {e}", src.join(dir).display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "c"))
            .collect();
        entries.sort();
        for file in entries {
            let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
            // netif/ holds the link layers: only Ethernet is used; the rest
            // (PPP, 6LoWPAN, SLIP, bridges) need options this port leaves off.
            if dir == "netif" && name != "ethernet.c" {
                continue;
            }
            // altcp is the TLS abstraction layer, unused by the raw-API port.
            if name.starts_with("altcp") {
                continue;
            }
            build.file(&file);
            files += 1;
        }
    }
    assert!(
        files > 20,
        "{}: too few lwIP sources ({files})",
        src.display()
    );
    build.compile("portnet_lwip");
}

/// `PORTNET_LWIP_SRC`, else `<target dir>/lwip-src/…`, found by walking up from
/// `OUT_DIR` (which lies inside the target directory, whatever it is called).
fn find_source() -> Option<PathBuf> {
    let valid =
        |p: &Path| p.join("include/lwip/init.h").is_file() && p.join("core/tcp.c").is_file();
    if let Some(dir) = env::var_os("PORTNET_LWIP_SRC") {
        let dir = PathBuf::from(dir);
        return valid(&dir).then_some(dir);
    }
    let out = PathBuf::from(env::var_os("OUT_DIR")?);
    // `a/target/…` finds the workspace's cache from a nested project's target
    // directory (the fuzz project's).
    out.ancestors()
        .flat_map(|a| [a.join(CACHE), a.join("target").join(CACHE)])
        .find(|candidate| valid(candidate))
}
