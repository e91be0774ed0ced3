//! Step `package`: every publishable crate packs as `cargo publish` would pack it.
//!
//! All of them in one `cargo package`, so that cargo orders them by their
//! dependencies and resolves each against the ones packed before it: none is on
//! crates.io yet. `--no-verify` leaves out building each package again (the other
//! steps build the same sources); `--allow-dirty` packs the tree as it is, which is
//! what the other steps checked.

use crate::{matrix, run};

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
    run("cargo", &args, &[])
}
