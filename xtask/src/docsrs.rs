//! Step `docs-rs`: each publishable crate's documentation built the way docs.rs builds
//! it (nightly, `--cfg docsrs`, its `[package.metadata.docs.rs]`), one crate at a time
//! as there, so a crate that only documents thanks to another's features fails here.

use crate::matrix;
use crate::run;

pub(crate) fn check() -> Result<(), String> {
    for package in matrix::packages()? {
        if !package.publishable || !package.lib {
            continue;
        }
        let Some(docs) = package.docs_rs else {
            return Err(format!(
                "{}: publishable, but without [package.metadata.docs.rs]",
                package.name
            ));
        };
        let mut args = vec!["+nightly", "doc", "-q", "--no-deps", "-p", &package.name];
        if docs.all_features {
            args.push("--all-features");
        }
        if docs.no_default_features {
            args.push("--no-default-features");
        }
        let features = docs.features.join(",");
        if !features.is_empty() {
            args.extend(["--features", &features]);
        }
        if let Some(target) = &docs.default_target {
            args.extend(["--target", target]);
        }
        // docs.rs adds `--cfg docsrs` itself; warnings (broken links) fail here.
        let mut flags: Vec<&str> = docs.rustdoc_args.iter().map(String::as_str).collect();
        if !flags.windows(2).any(|w| w == ["--cfg", "docsrs"]) {
            flags.extend(["--cfg", "docsrs"]);
        }
        flags.extend(["-D", "warnings"]);
        run("cargo", &args, &[("RUSTDOCFLAGS", &flags.join(" "))])?;
    }
    Ok(())
}
