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
    let src = match find_source() {
        Ok(src) => src,
        // docs.rs has no lwIP source and needs none: documentation links nothing.
        Err(_) if env::var_os("DOCS_RS").is_some() => return,
        Err(why) => {
            eprintln!(
                "error: portnet-lwip needs lwIP's source tree: {why}.\n\
                 Set PORTNET_LWIP_SRC to the `src` directory of an lwIP 2.x tree (the one \
                 holding core/ and include/), for example the pinned one:\n  \
                 curl -sSfL https://static.crates.io/crates/lwip/lwip-0.3.15.crate | tar -xzf - lwip-0.3.15/src\n  \
                 export PORTNET_LWIP_SRC=$PWD/lwip-0.3.15/src\n\
                 (a `[env]` entry in .cargo/config.toml keeps it for a project). In portnet's own \
                 repository `cargo xtask setup` unpacks it into target/{CACHE}."
            );
            std::process::exit(1);
        }
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
/// `OUT_DIR` (which lies inside the target directory, whatever it is called);
/// the error says why neither is an lwIP 2.x tree.
fn find_source() -> Result<PathBuf, String> {
    if let Some(dir) = env::var_os("PORTNET_LWIP_SRC") {
        let dir = PathBuf::from(dir);
        return check(&dir)
            .map(|()| dir.clone())
            .map_err(|e| format!("PORTNET_LWIP_SRC={}: {e}", dir.display()));
    }
    let out = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    // `a/target/…` finds the workspace's cache from a nested project's target
    // directory (the fuzz project's).
    out.ancestors()
        .flat_map(|a| [a.join(CACHE), a.join("target").join(CACHE)])
        .find(|candidate| check(candidate).is_ok())
        .ok_or_else(|| {
            format!("PORTNET_LWIP_SRC is not set, and no target/{CACHE} is above OUT_DIR")
        })
}

/// Whether `dir` is lwIP's `src` directory, of a major version this port's glue
/// and `lwipopts.h` are written for.
fn check(dir: &Path) -> Result<(), String> {
    if !dir.join("core/tcp.c").is_file() {
        return Err("no core/tcp.c there (not an lwIP `src` directory)".into());
    }
    let init = std::fs::read_to_string(dir.join("include/lwip/init.h"))
        .map_err(|e| format!("include/lwip/init.h: {e}"))?;
    let major = init
        .lines()
        .find_map(|l| l.trim().strip_prefix("#define LWIP_VERSION_MAJOR"))
        .map(|v| v.trim().trim_end_matches(['U', 'u']));
    match major {
        Some("2") => Ok(()),
        Some(other) => Err(format!("lwIP {other}.x; this port needs lwIP 2.x")),
        None => Err("include/lwip/init.h has no LWIP_VERSION_MAJOR".into()),
    }
}
