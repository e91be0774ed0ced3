//! The suite on the lwIP backend against the Linux kernel over a TAP device,
//! in a network namespace the harness creates (the `lwip-tap` row). Where this
//! machine may not create one, the test says so and passes without running a
//! case. Every case must pass, but for those the port lacks a capability for:
//! IPv6 (`LWIP_IPV6 0`) and DNS (no resolver).

#[cfg(target_os = "linux")]
#[test]
fn the_suite_passes_on_lwip_against_the_linux_kernel_over_tap() {
    use portnet_conformance::Outcome;
    use portnet_conformance_runner::lwip_tap::LwipTapHarness;
    if let Err(reason) = LwipTapHarness::available() {
        eprintln!("SKIPPED: lwIP over TAP needs a network namespace: {reason}");
        return;
    }
    let rows = portnet_conformance::report::run_backend::<LwipTapHarness>("lwip-tap", "");
    let failures = portnet_conformance_runner::lwip::unexpected(&rows);
    assert_eq!(rows.len(), 2 * portnet_conformance::cases::COUNT);
    assert!(
        failures.is_empty(),
        "failed or skipped:\n{}",
        failures.join("\n")
    );
    // Every case that has what it needs ran, in both modes.
    let passed = rows.iter().filter(|r| r.outcome == Outcome::Pass).count();
    assert!(passed >= 2 * 60, "only {passed} passed");
}
