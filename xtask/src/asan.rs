//! `cargo xtask asan`: portnet-lwip's FFI layer and lwIP's C under
//! AddressSanitizer. Rust is instrumented by nightly's `-Zsanitizer=address`,
//! the C by `-fsanitize=address` through the `cc` build (`CFLAGS_<target>`, so
//! build scripts and proc macros, built for the host without `--target`, stay
//! uninstrumented). Its own target directory: the flags change every artifact.

use crate::run;

const TARGET: &str = "x86_64-unknown-linux-gnu";

/// The simulation's tests (CI, step `lwip-asan`); with `full`, the whole
/// conformance suite on lwIP too, plain and adversarial, on both links.
pub(crate) fn asan(full: bool) -> Result<(), String> {
    let target_dir = format!("{}/asan", crate::target_dir());
    let mut args = vec![
        "+nightly",
        "test",
        "-q",
        "-p",
        "portnet-lwip",
        "--test",
        "sim",
        "--target",
        TARGET,
        "--target-dir",
        &target_dir,
    ];
    if full {
        args.extend(["--test", "conformance"]);
    }
    let envs = [
        ("RUSTFLAGS", "-Zsanitizer=address"),
        (
            "CFLAGS_x86_64_unknown_linux_gnu",
            "-fsanitize=address -fno-omit-frame-pointer",
        ),
        // The simulation leaks its link and its peer stack on purpose (they
        // live as long as the process); lwIP itself allocates nothing.
        ("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1"),
    ];
    args.push("--no-run");
    run("cargo", &args, &envs)?;
    c_is_instrumented(&target_dir)?;
    args.pop();
    run("cargo", &args, &envs)
}

/// Fails unless the lwIP library the tests link calls ASan's checks: a `cc`
/// that ignored the flags would otherwise pass with only the Rust side checked.
fn c_is_instrumented(target_dir: &str) -> Result<(), String> {
    let build = format!("{target_dir}/{TARGET}/debug/build");
    let entries = std::fs::read_dir(&build).map_err(|e| format!("{build}: {e}"))?;
    let mut libraries = 0;
    for entry in entries.flatten() {
        let lib = entry.path().join("out/libportnet_lwip.a");
        let Ok(bytes) = std::fs::read(&lib) else {
            continue;
        };
        libraries += 1;
        if !bytes
            .windows(b"__asan_report_".len())
            .any(|w| w == b"__asan_report_")
        {
            return Err(format!(
                "{}: lwIP's C is not instrumented (no __asan_report_* call)",
                lib.display()
            ));
        }
    }
    if libraries == 0 {
        return Err(format!("{build}: no libportnet_lwip.a"));
    }
    eprintln!("lwIP's C is instrumented ({libraries} build(s) checked)");
    Ok(())
}
