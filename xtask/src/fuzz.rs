//! Bounded fuzz runs from the checked-in corpora.

use crate::run;

/// Fuzz targets CI runs for a bounded time: (fuzz project directory, target).
/// Each starts from its checked-in corpus, copied so the run leaves the tree clean.
const FUZZ_TARGETS: [(&str, &str); 8] = [
    ("core-net/fuzz", "parse_endpoint"),
    ("mqtt/fuzz", "decode"),
    ("mqtt/fuzz", "broker"),
    ("backends/smoltcp/fuzz", "frames"),
    ("backends/lwip/fuzz", "frames"),
    ("drivers/slip/fuzz", "slip_decode"),
    ("tls/fuzz", "records"),
    ("tls/fuzz", "records_embedded"),
];

/// Seconds each fuzz target runs in `cargo xtask ci`.
pub(crate) const FUZZ_SECONDS: u32 = 30;

/// Runs every fuzz target for `seconds`, from a copy of its checked-in corpus.
pub(crate) fn fuzz(seconds: u32) -> Result<(), String> {
    for (dir, target) in FUZZ_TARGETS {
        let corpus = std::env::temp_dir().join(format!("portnet-fuzz-{target}"));
        let _ = std::fs::remove_dir_all(&corpus);
        std::fs::create_dir_all(&corpus)
            .map_err(|e| format!("cannot create {}: {e}", corpus.display()))?;
        let seeds = std::path::Path::new(dir).join("corpus").join(target);
        for entry in std::fs::read_dir(&seeds)
            .map_err(|e| format!("cannot read {}: {e}", seeds.display()))?
        {
            let path = entry.map_err(|e| e.to_string())?.path();
            if let Some(name) = path.file_name() {
                std::fs::copy(&path, corpus.join(name)).map_err(|e| e.to_string())?;
            }
        }
        let corpus = corpus.to_string_lossy().into_owned();
        let time = format!("-max_total_time={seconds}");
        let manifest = format!("{dir}/Cargo.toml");
        run(
            "cargo",
            &[
                "+nightly",
                "fuzz",
                "run",
                "--fuzz-dir",
                dir,
                target,
                &corpus,
                "--",
                &time,
            ],
            &[],
        )
        .map_err(|e| format!("{e} (manifest {manifest})"))?;
        // On CI each fuzz project's build (hundreds of MB of instrumented code) is dropped
        // once its last target has run: nothing after this step reads it, and the
        // machine's disk is the limit a full run meets first.
        let last_of_dir = FUZZ_TARGETS
            .iter()
            .rposition(|(d, _)| *d == dir)
            .is_some_and(|i| FUZZ_TARGETS[i].1 == target);
        if last_of_dir && std::env::var_os("CI").is_some_and(|v| v == "true") {
            let _ = std::fs::remove_dir_all(std::path::Path::new(dir).join("target"));
        }
    }
    Ok(())
}
