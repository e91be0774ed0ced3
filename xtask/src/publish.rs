//! Step `package`: every publishable crate packs as `cargo publish` would pack it.
//!
//! All of them in one `cargo package`, so that cargo orders them by their
//! dependencies and resolves each against the ones packed before it: none is on
//! crates.io yet. `--no-verify` leaves out building each package again (the other
//! steps build the same sources); `--allow-dirty` packs the tree as it is, which is
//! what the other steps checked.

use crate::{matrix, output, run};

pub(crate) fn package() -> Result<(), String> {
    let packages = matrix::packages()?;
    let gaps = matrix::gaps(&packages);
    if !gaps.is_empty() {
        return Err(gaps.join("\n"));
    }
    let mut args = vec!["package", "-q", "--no-verify", "--allow-dirty"];
    for p in packages.iter().filter(|p| p.publishable && p.lib) {
        args.extend(["-p", p.name.as_str()]);
    }
    run("cargo", &args, &[])?;
    lwip_package_is_the_port_only()
}

/// What `portnet-lwip`'s package must and must not hold: lwIP's source comes
/// from the user (`PORTNET_LWIP_SRC`, docs/backends/lwip.md), never from the
/// package, while the port's own C must be there for the build script.
const LWIP_PORT_FILES: [&str; 4] = ["build.rs", "c/lwipopts.h", "c/arch/cc.h", "c/glue.c"];
const LWIP_OWN_FILES: [&str; 2] = ["core/tcp.c", "include/lwip/init.h"];

fn lwip_package_is_the_port_only() -> Result<(), String> {
    let dir = format!("{}/package", crate::target_dir());
    let version = output("cargo", &["pkgid", "-p", "portnet-lwip"])
        .and_then(|id| id.trim().rsplit(['@', '#']).next().map(str::to_owned))
        .ok_or("cannot read portnet-lwip's version (cargo pkgid)")?;
    let krate = format!("{dir}/portnet-lwip-{version}.crate");
    let list = output("tar", &["-tzf", &krate]).ok_or_else(|| format!("cannot list {krate}"))?;
    check_lwip_listing(&list).map_err(|e| format!("{krate}: {e}"))
}

fn check_lwip_listing(list: &str) -> Result<(), String> {
    let files: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_once('/').map(|(_, path)| path))
        .collect();
    if let Some(missing) = LWIP_PORT_FILES.iter().find(|f| !files.contains(f)) {
        return Err(format!("the port's {missing} is missing"));
    }
    if let Some(lwip) = files
        .iter()
        .find(|f| LWIP_OWN_FILES.iter().any(|own| f.ends_with(own)))
    {
        return Err(format!("holds lwIP's own source ({lwip})"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_lwip_listing;

    #[test]
    fn the_lwip_package_check_tells_port_from_lwip() {
        let port =
            "p-0.1.0/build.rs\np-0.1.0/c/lwipopts.h\np-0.1.0/c/arch/cc.h\np-0.1.0/c/glue.c\n";
        assert_eq!(check_lwip_listing(port), Ok(()));
        let with_lwip = format!("{port}p-0.1.0/lwip/src/core/tcp.c\n");
        assert!(
            check_lwip_listing(&with_lwip)
                .unwrap_err()
                .contains("core/tcp.c")
        );
        assert!(
            check_lwip_listing("p-0.1.0/build.rs\n")
                .unwrap_err()
                .contains("missing")
        );
    }
}
