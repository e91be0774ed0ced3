//! The fault soak and the broker-chaos test.

use crate::run;

/// The fault soak over the in-memory link; `args` go to the soak binary.
/// Without `--stack` in them, it runs on each stack in turn (smoltcp, then
/// lwIP).
pub(crate) fn soak<A: AsRef<str>>(args: &[A]) -> Result<(), String> {
    let stacks: &[&str] = if args.iter().any(|a| a.as_ref() == "--stack") {
        &[]
    } else {
        &["smoltcp", "lwip"]
    };
    let run_on = |stack: Option<&str>| {
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
        if let Some(stack) = stack {
            command.extend(["--stack", stack]);
        }
        command.extend(args.iter().map(AsRef::as_ref));
        run("cargo", &command, &[])
    };
    if stacks.is_empty() {
        return run_on(None);
    }
    stacks.iter().try_for_each(|stack| run_on(Some(stack)))
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
