//! The fault soak and the broker-chaos test.

use crate::run;

/// The fault soak over the in-memory link; `args` go to the soak binary.
pub(crate) fn soak(args: &[String]) -> Result<(), String> {
    let mut command = vec![
        "run",
        "-q",
        "--release",
        "-p",
        "portnet-reliability",
        "--bin",
        "soak",
        "--",
    ];
    command.extend(args.iter().map(String::as_str));
    run("cargo", &command, &[])
}

/// The broker-chaos test for `minutes` (outside CI; see docs/reliability.md).
pub(crate) fn chaos(minutes: u64) -> Result<(), String> {
    let seconds = (minutes * 60).to_string();
    run(
        "cargo",
        &[
            "test",
            "--release",
            "-p",
            "portnet-mqtt",
            "--test",
            "chaos",
            "--",
            "--ignored",
            "--nocapture",
        ],
        &[("PORTNET_CHAOS_SECONDS", &seconds)],
    )
}
